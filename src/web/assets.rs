//! The stylesheet and script, embedded in the binary so the server runs from any directory.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

const FILES: [(&str, &str, &str); 2] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    ),
];

fn etag(i: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        FILES
            .iter()
            .map(|(_, _, body)| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                body.hash(&mut h);
                format!("\"{:016x}\"", h.finish())
            })
            .collect()
    });
    &tags[i]
}

/// The URL of an embedded file with its content hash as a query (`/static/app.css?v=…`), so a
/// new build's stylesheet is fetched at once instead of after the cached copy expires.
pub fn href(name: &str) -> String {
    match FILES.iter().position(|(n, _, _)| *n == name) {
        Some(i) => format!("/static/{name}?v={}", etag(i).trim_matches('"')),
        None => format!("/static/{name}"),
    }
}

/// `GET /static/{file}`: the embedded file with an ETag; `304` when the client has it already.
pub async fn static_file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such static file").into_response();
    };
    let (_, mime, body) = FILES[i];
    let tag = etag(i);
    let cache = HeaderValue::from_static("public, max-age=300");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag))
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag.to_string())]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (header::CACHE_CONTROL, cache),
            (
                header::ETAG,
                HeaderValue::from_str(tag).unwrap_or(HeaderValue::from_static("\"0\"")),
            ),
        ],
        body,
    )
        .into_response()
}
