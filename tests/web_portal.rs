//! For the internal portal and for links: the real binary behind a base path, framed by a named
//! portal, live pages that reload themselves, permalinks with absolute times, the printed time
//! format read back, and bad query strings answered with the app's error page. Each from a config
//! file, through HTTP, as a user (or a reverse proxy) reaches it.

mod support;

use std::collections::BTreeSet;
use support::server::{Server, get, get_full as fetch, urlencode};

/// Every distinct `href`/`src`/`action` of a page that stays on this server.
fn local_links(html: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for attr in [" href=\"", " src=\"", " action=\""] {
        for (i, _) in html.match_indices(attr) {
            let v = &html[i + attr.len()..];
            let v = &v[..v.find('"').unwrap_or(v.len())];
            if v.starts_with('/') && !v.starts_with("//") {
                out.insert(v.replace("&#38;", "&").replace("&amp;", "&"));
            }
        }
    }
    out
}

#[test]
fn behind_a_base_path_every_link_of_every_page_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        "[server]\nbase_path = \"/kafkascope\"\nframe_ancestors = [\"'self'\", \"https://portal.example.com\"]\n\n[[clusters]]\nname = \"lab\"\n[clusters.zookeeper]\nservers = [\"127.0.0.1:1\"]\n",
    );
    let host = server.base.clone();
    let mut seen = BTreeSet::new();
    let mut queue: Vec<String> = vec![
        "/kafkascope/".into(),
        "/kafkascope/zookeeper".into(),
        "/kafkascope/targets".into(),
        "/kafkascope/events".into(),
        "/kafkascope/metric".into(),
    ];
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) || seen.len() > 80 {
            continue;
        }
        let (status, headers, body) = fetch(&format!("{host}{path}"));
        assert!(
            status == 200,
            "{path} answered {status} behind the base path:\n{body}"
        );
        let html = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if html {
            let csp = headers
                .get("content-security-policy")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(
                csp.contains("frame-ancestors 'self' https://portal.example.com"),
                "{csp}"
            );
            assert!(
                headers.get("x-frame-options").is_none(),
                "X-Frame-Options would forbid the portal's frame"
            );
            for link in local_links(&body) {
                assert!(
                    link.starts_with("/kafkascope/"),
                    "{path} links to {link} outside the base path"
                );
                // Follow pages and assets, not the API or exports.
                if !link.contains("/api/") && !link.contains("format=") {
                    queue.push(link);
                }
            }
        }
    }
    assert!(seen.len() >= 10, "the crawl reached the pages: {seen:?}");
    // A proxy that strips the prefix reaches the same pages.
    assert_eq!(get(&format!("{host}/zookeeper")).0, 200);
}

#[test]
fn without_a_portal_no_page_may_be_framed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "[[clusters]]\nname = \"lab\"\n");
    let (status, headers, _) = fetch(&server.url("/"));
    assert_eq!(status, 200);
    assert_eq!(headers.get("x-frame-options").unwrap(), "DENY");
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[test]
fn live_pages_reload_themselves_and_permalinks_fix_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "[[clusters]]\nname = \"lab\"\n");

    let (status, live) = get(&server.url("/?range=6h&refresh=30s"));
    assert_eq!(status, 200, "{live}");
    assert!(
        live.contains("<meta http-equiv=\"refresh\" content=\"30\">"),
        "a live page reloads itself without JavaScript"
    );
    assert!(
        live.contains("range=1h&#38;refresh=30s"),
        "the presets keep the refresh"
    );
    let (_, still) = get(&server.url("/?range=6h"));
    assert!(
        !still.contains("http-equiv=\"refresh\""),
        "no refresh unless asked"
    );

    // The range caption links to the same window with absolute times.
    let caption = &live[live.find("<p class=\"range\">").expect("caption")..];
    let href = caption
        .split("href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the caption is a link")
        .replace("&#38;", "&");
    assert!(
        href.starts_with("/?from=") && href.contains("&to="),
        "{href}"
    );
    let (status, fixed) = get(&server.url(&href));
    assert_eq!(status, 200, "{fixed}");
    let label = |html: &str| {
        let c = &html[html.find("<p class=\"range\">").unwrap()..];
        let c = &c[c.find("\">").unwrap() + 2..];
        c[c.find('>').unwrap() + 1..c.find("</a>").unwrap()].to_string()
    };
    assert!(
        label(&live).contains(&label(&fixed)),
        "the permalink shows the window the live page showed: {} vs {}",
        label(&live),
        label(&fixed)
    );

    // A refresh on a fixed window is refused with the app's error page.
    let (status, page) = get(&server.url(&format!("{href}&refresh=30s")));
    assert_eq!(status, 400);
    assert!(page.contains("refresh") && page.contains("<html"), "{page}");

    // The time the pages print is accepted back in from= and to=.
    let (status, page) = get(&server.url(&format!(
        "/events?from={}&to={}",
        urlencode("2026-11-30 07:41:58 UTC"),
        urlencode("2026-12-01 07:41 UTC")
    )));
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("2026-11-30 07:41 UTC → 2026-12-01 07:41 UTC"),
        "{page}"
    );
}

#[test]
fn a_repeated_parameter_gets_the_app_error_page_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "[[clusters]]\nname = \"lab\"\n");
    for path in [
        "/?range=1h&range=6h",
        "/zookeeper?from=now-1h&from=now-2h",
        "/events?kind=a&kind=b",
    ] {
        let (status, headers, body) = fetch(&server.url(path));
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html")),
            "{path}: an HTML error page, not plain text"
        );
        assert!(body.contains("more than once"), "{path}: {body}");
    }
    // Positive control: one value each is fine.
    assert_eq!(get(&server.url("/?range=1h")).0, 200);
}
