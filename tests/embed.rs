//! The portal embeds over a real store and server: `/embed.svg` draws a query's latest value and
//! sparkline as a self-contained, cacheable SVG; `/embed/status/{cluster}` is the cluster's card;
//! every page answers `If-None-Match` with 304 when nothing changed.

mod web_support;

use web_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_image_is_self_contained_cacheable_and_escaped() {
    let env = start().await;
    let q = enc("zk_znode_count{server=\"zk1:2181\"}");
    let res = env
        .get(&format!(
            "/embed.svg?query={q}&range=1h&title=Znodes%20%3Cscript%3E"
        ))
        .await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/svg+xml; charset=utf-8");
    assert_eq!(h["cache-control"], "public, max-age=60");
    let etag = h["etag"].to_str().unwrap().to_string();
    let body = res.text().await.unwrap();
    assert!(
        body.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{body}"
    );
    assert!(
        body.contains("Znodes &#60;script&#62;") || body.contains("Znodes &lt;script&gt;"),
        "{body}"
    );
    assert!(!body.contains("<script"), "escaped title");
    assert!(body.contains("<path d=\"M"), "a sparkline: {body}");
    assert!(!body.contains("href=\"/static"), "nothing to load: {body}");
    // The latest znode count is what the API says.
    let (_, v) = env
        .json(&format!("/api/v1/query?query={q}&time={}", env.end / 1000))
        .await;
    let latest = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        body.contains(&format!(">{latest}<")),
        "value {latest}: {body}"
    );

    // The same request with its ETag: 304, no body.
    let again = env
        .client
        .get(format!(
            "{}/embed.svg?query={q}&range=1h&title=Znodes%20%3Cscript%3E",
            env.base
        ))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.text().await.unwrap().is_empty());
    // Positive control: another ETag does not match.
    let other = env
        .client
        .get(format!(
            "{}/embed.svg?query={q}&range=1h&title=Znodes%20%3Cscript%3E",
            env.base
        ))
        .header("if-none-match", "W/\"0-00000000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);

    // A window that has ended may be kept a day.
    let (from, to) = (env.end - 3_600_000, env.end - 1_800_000);
    let res = env
        .get(&format!("/embed.svg?query={q}&from={from}&to={to}"))
        .await;
    assert_eq!(res.headers()["cache-control"], "public, max-age=86400");

    // Bad input names the parameter.
    for (path, param) in [
        ("/embed.svg".to_string(), "query"),
        (format!("/embed.svg?query={q}&w=5"), "w"),
        (format!("/embed.svg?query={q}&h=big"), "h"),
        ("/embed.svg?query=rate(".to_string(), "query"),
    ] {
        let (status, text) = env.text(&path).await;
        assert_eq!(status, 400, "{path}");
        assert!(text.contains(param), "{path}: {text}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_card_says_the_clusters_health_as_html_or_svg() {
    let env = start().await;
    let (status, html) = env.text("/embed/status/lab?range=1h").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.starts_with("<div class=\"kafkascope-status\""),
        "a fragment: {html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("<link"),
        "self-contained"
    );
    assert!(
        html.contains(">lab</b>") && html.contains("ZooKeeper"),
        "{html}"
    );
    // The down server of the seeded cluster is a reason, and the link is absolute (the card is
    // shown on another site).
    assert!(html.contains("1 of 3 servers down"), "{html}");
    assert!(
        html.contains(&format!("href=\"{}/?range=1h\"", env.base)),
        "{html}"
    );
    let res = env.get("/embed/status/lab?range=1h&format=svg").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "image/svg+xml; charset=utf-8"
    );
    let svg = res.text().await.unwrap();
    assert!(svg.contains(">lab</text>"), "{svg}");
    let (status, _) = env.text("/embed/status/nope").await;
    assert_eq!(status, 404);
    let (status, text) = env.text("/embed/status/lab?format=png").await;
    assert!(status == 400 && text.contains("format"), "{text}");
    // Pages get validators too.
    let res = env.get("/zookeeper?range=1h").await;
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(res.headers().contains_key("etag"));
    env.stop().await;
}
