//! `server.base_path`: serving under a prefix behind a reverse proxy (`/kafkascope/…`).
//!
//! Pages write their links root-relative (`href="/zookeeper/lab?range=6h"`). With a base path,
//! the router serves every route under the prefix and without it (a proxy may forward either
//! way; see `routes`), and [`prefix_html`] prefixes every root-relative `href`, `src` and `action`
//! of an HTML response. Templates escape every quote in data, so those attribute openings only
//! ever come from our own templates.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Largest HTML page rewritten; bigger bodies pass unchanged (none of ours comes close).
const MAX_HTML: usize = 64 << 20;

pub async fn prefix_html(State(base): State<String>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if base.is_empty() {
        return resp;
    }
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_HTML).await else {
        return Response::from_parts(parts, Body::from("page too large to rewrite"));
    };
    let out = prefix_links(&String::from_utf8_lossy(&bytes), &base);
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Ok(v) = HeaderValue::from_str(&out.len().to_string()) {
        parts.headers.insert(header::CONTENT_LENGTH, v);
    }
    Response::from_parts(parts, Body::from(out))
}

/// Prefixes every root-relative `href`, `src` and `action` attribute with `base`
/// (`href="/x"` → `href="/kafkascope/x"`; `href="//host"` is left alone).
pub fn prefix_links(html: &str, base: &str) -> String {
    let mut out = String::with_capacity(html.len() + 1024);
    let mut rest = html;
    while let Some(i) = next_attr(rest) {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let eq = tail.find("=\"").map(|e| e + 2).unwrap_or(0);
        out.push_str(&tail[..eq]);
        let value = &tail[eq..];
        if value.starts_with('/') && !value.starts_with("//") {
            out.push_str(base);
        }
        rest = value;
    }
    out.push_str(rest);
    out
}

/// The position of the next ` href="`, ` src="` or ` action="`.
fn next_attr(s: &str) -> Option<usize> {
    [" href=\"", " src=\"", " action=\""]
        .iter()
        .filter_map(|a| s.find(a))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_relative_links_get_the_prefix_and_nothing_else_does() {
        let html = r##"<a href="/zookeeper?range=6h">z</a><a href="#x">a</a><script src="/static/app.js"></script><form action="/metric"><a href="//cdn.example/x">c</a><a href="https://e.com/">e</a><p>href="/not-an-attribute"</p>"##;
        assert_eq!(
            prefix_links(html, "/ks"),
            r##"<a href="/ks/zookeeper?range=6h">z</a><a href="#x">a</a><script src="/ks/static/app.js"></script><form action="/ks/metric"><a href="//cdn.example/x">c</a><a href="https://e.com/">e</a><p>href="/not-an-attribute"</p>"##
        );
    }
}
