//! The pages, over HTTP against the real server and a real store.

mod web_support;

use web_support::*;

/// Text as askama writes it into HTML (numeric entities).
fn esc(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn overview_shows_ensemble_health_charts_and_latest_events() {
    let env = start().await;
    let (status, html) = env.text("/").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<table class=\"wide clusters\">"), "{html}");
    assert!(html.contains(">lab</a>"));
    assert!(
        html.contains("<dt>Servers up</dt><dd>2 / 3</dd>"),
        "two of three servers up"
    );
    assert!(
        html.contains("<dt>Leader</dt><dd>zk1:2181</dd>"),
        "the leader is named"
    );
    assert!(
        html.contains("ZooKeeper: 1 of 3 servers down"),
        "the cluster's health names the source of each reason"
    );
    assert!(
        html.contains("1 follower · 1 leader · 1 unknown"),
        "mode counts"
    );
    assert!(html.contains("ZooKeeper request latency (read and update average)"));
    assert!(
        count(&html, "<svg class=\"ch\"") >= 2,
        "charts are inline SVG"
    );
    assert!(html.contains("zk1:2181 became leader"), "latest events");
    assert!(html.contains("All times are UTC"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ensemble_page_has_one_row_per_configured_server_with_sparklines() {
    let env = start().await;
    let (status, html) = env.text("/zookeeper?range=6h").await;
    assert_eq!(status, 200, "{html}");
    for server in ["zk1:2181", "zk2:2182", DOWN_SERVER] {
        assert!(html.contains(&format!(">{server}</a>")), "row for {server}");
    }
    assert!(
        html.contains(DOWN_ERROR),
        "the never-reached server shows the registry's error"
    );
    assert!(html.contains("<span class=\"badge leader\">leader</span>"));
    assert!(html.contains("<span class=\"badge follower\">follower</span>"));
    assert!(html.contains("0x200000"), "zxid in hex: {html}");
    assert!(
        count(&html, "<a class=\"spark\"") > 2 * 7,
        "sparklines in every cell: seven per server, and the leader's followers"
    );
    let followers = regex::Regex::new(r#"<span class="val">\d+ / \d+ / \d+</span>"#).unwrap();
    assert_eq!(
        followers.find_iter(&html).count(),
        1,
        "the leader's followers / synced / pending syncs in one cell: {html}"
    );
    assert!(
        html.contains("reported by the leader\">—</td>"),
        "the followers cell is a dash on followers"
    );
    assert!(
        html.contains("1 of 3 servers down"),
        "the health reasons are named"
    );
    assert!(
        html.contains("<div class=\"scroll\">\n<table class=\"wide ensemble\">"),
        "a narrow window scrolls the table instead of cutting it"
    );
    assert!(
        html.contains("unknown since ") && html.contains(DOWN_ERROR),
        "the down server's state is unknown since its failure, with the failure's text"
    );
    let (status, one) = env.text("/zookeeper/lab").await;
    assert_eq!(status, 200);
    assert!(
        one.contains("2 of 3 servers up at the end of the range · leader: zk1:2181"),
        "{one}"
    );
    let (status, html) = env.text("/zookeeper/nowhere").await;
    assert_eq!(status, 404);
    assert!(html.contains("no cluster named"), "{html}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_page_charts_every_series_grouped_with_conf_and_envi() {
    let env = start().await;
    let (status, html) = env
        .text(&format!("/zookeeper/lab/{}?range=6h", enc("zk1:2181")))
        .await;
    assert_eq!(status, 200, "{html}");
    for group in [
        "Key metrics",
        "Quorum & replication",
        "Summary families",
        "Connections & packets",
        "Data tree",
        "Server",
        "Scrape",
    ] {
        assert!(
            html.contains(&format!("<h2>{}</h2>", esc(group))),
            "group {group}"
        );
    }
    // Key metrics come first and open; the other groups are collapsed.
    let key = html.find("<h2>Key metrics</h2>").unwrap();
    assert!(key < html.find("<h2>Quorum &#38; replication</h2>").unwrap());
    assert_eq!(
        count(&html, "<details class=\"group\" id="),
        7,
        "groups without series are left out"
    );
    assert_eq!(
        count(&html, "<details class=\"group\" id=\"key-metrics\" open>"),
        1
    );
    assert_eq!(
        count(&html, " open><summary><h2>"),
        1,
        "only key metrics are open"
    );
    for title in [
        "Request latency p99 (read / update, recent window)",
        "Request latency since start or reset (avg / min / max)",
        "Outstanding requests",
        "Alive connections",
        "Packets received / sent per second",
        "Znodes",
        "Watches",
        "Ephemeral nodes",
        "Approximate data size",
        "File descriptors open / max",
        "Followers: learners / synced / pending syncs",
    ] {
        assert!(
            html.contains(&format!(">{}</a>", esc(title))),
            "key chart {title}"
        );
    }
    // A summary family is one chart: the average with its min–max band and the quantiles.
    assert!(
        html.contains(">fsynctime</a>"),
        "summary families are charted by name"
    );
    assert!(html.contains("avg, min–max band"));
    // State-like series are strips with the current state, not line charts.
    assert!(html.contains("<svg class=\"strips\""), "{html}");
    assert!(
        html.contains("<rect class=\"s-leader\""),
        "the leader's mode strip"
    );
    assert!(
        !html.contains(">zk_server_state</a>"),
        "no line chart of the mode"
    );
    assert!(
        !html.contains(">zk_version_info</a>"),
        "no line chart of the version"
    );
    // Series that did not change are rows of a compact table, not charts.
    assert!(html.contains("<h3>Unchanged in this range</h3>"), "{html}");
    assert!(
        html.contains(">zk_auth_failed_count</a></td><td class=\"num\">0</td>"),
        "a series that stayed 0 is a row with its value"
    );
    assert!(
        !html.contains(">zk_auth_failed_count</a> <output"),
        "and not a chart"
    );
    assert!(html.contains("clientPort=21182"), "conf read-out");
    assert!(html.contains("java.version=17.0.15"), "envi read-out");
    assert!(
        html.contains("tier: 1m · step 2m"),
        "6 h over 177 points: 2-minute steps from the 1-minute tier"
    );
    assert!(
        !html.contains("no data in this range"),
        "every chart and row has data"
    );
    assert!(
        html.contains("became leader"),
        "event ticks carry the message"
    );
    let (_, all) = env
        .text(&format!(
            "/zookeeper/lab/{}?range=6h&open=all",
            enc("zk1:2181")
        ))
        .await;
    assert_eq!(
        count(&all, " open><summary><h2>"),
        7,
        "open=all expands every group"
    );
    let (status, _) = env.text("/zookeeper/lab/zk9:2181").await;
    assert_eq!(status, 404);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_election_shows_as_a_change_on_the_mode_strip() {
    use kafkascope::model::{Labels, MetricKind, Sample, SeriesKey};
    let env = start().await;
    // zk9 was a follower for the first hour of the range and is the leader since.
    let server = "zk9:2189";
    let change = env.end - 3_600_000;
    let mut samples = Vec::new();
    let mut ts = env.end - 7_200_000;
    while ts <= env.end {
        for (state, on) in [("follower", ts < change), ("leader", ts >= change)] {
            samples.push(Sample {
                key: SeriesKey::new(
                    "zk_server_state",
                    Labels::from_pairs([
                        ("cluster", CLUSTER),
                        ("server", server),
                        ("state", state),
                    ]),
                ),
                kind: MetricKind::Gauge,
                ts,
                value: if on { 1.0 } else { 0.0 },
            });
        }
        ts += SCRAPE_MS;
    }
    env.store.write(&samples, &[]).await.expect("write");
    let (status, html) = env
        .text(&format!("/zookeeper/lab/{}?range=2h", enc(server)))
        .await;
    assert_eq!(status, 200, "{html}");
    let strip = &html[html.find("<svg class=\"strips\"").expect("state strips")..];
    let strip = &strip[..strip.find("</svg>").unwrap()];
    assert!(strip.contains(">Mode</text>"), "{strip}");
    assert!(
        strip.contains(">leader · 1×</text>"),
        "current state and one change: {strip}"
    );
    let follower = strip
        .find("<rect class=\"s-follower\"")
        .expect("a follower segment");
    let leader = strip
        .find("<rect class=\"s-leader\"")
        .expect("a leader segment");
    assert!(follower < leader, "follower first, then leader: {strip}");
    assert!(
        strip.contains("<title>follower · "),
        "segments say their state and time"
    );
    assert!(
        !html.contains(">zk_server_state</a>"),
        "no line chart of the mode"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metric_page_charts_tabulates_compares_and_exports_csv() {
    let env = start().await;
    let q = enc(r#"zk_znode_count{cluster="lab"}"#);
    let (status, html) = env.text(&format!("/metric?query={q}&range=6h")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<svg class=\"ch\""));
    assert!(
        html.contains("tier: 1m · step 1m"),
        "6 h on 1000 px: one-minute steps"
    );
    assert!(html.contains("<table class=\"wide stats\">"));
    assert!(
        html.contains(&esc(r#"zk_znode_count{cluster="lab",server="zk1:2181"}"#)),
        "{html}"
    );
    // The newest value written is 1000 + 480 scrapes = 1480.
    assert!(html.contains("1480"), "last value in the table");
    assert!(html.contains("Compare with last week"));

    let lat = enc(r#"zk_avg_latency{server="zk1:2181"}"#);
    let (status, html) = env
        .text(&format!("/metric?query={lat}&range=6h&compare=1w"))
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<path class=\"ghost\""),
        "ghost line of last week"
    );
    assert!(html.contains("1w earlier"));

    let r = env
        .get(&format!("/metric?query={q}&range=6h&format=csv"))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("series,time,timestamp_ms,avg,min,max,last,values,unit,tier")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() > 100, "{} rows", rows.len());
    assert!(
        rows.iter().any(|r| r.ends_with(",1480,value,,1m")),
        "the last written value is exported, as a value without unit"
    );

    let rate = enc("sum by (server) (rate(zk_packets_received[5m]))");
    let (status, html) = env.text(&format!("/metric?query={rate}&range=1h")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&esc(r#"{server="zk1:2181"}"#)), "{html}");
    assert!(
        html.contains(">1/s<"),
        "a counter's rate of 15 per 15 s: {html}"
    );

    let (status, html) = env.text("/metric").await;
    assert_eq!(status, 200);
    assert!(html.contains("zk_znode_count"), "metric names are listed");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn units_follow_each_series_and_the_metric_list_filters_by_family() {
    let env = start().await;
    let q = enc(
        r#"{__name__=~"zk_max_latency|zk_outstanding_requests|zk_znode_count", cluster="lab"}"#,
    );
    let (status, html) = env.text(&format!("/metric?query={q}&range=1h")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("2 different units: one chart each"),
        "milliseconds and plain counts get a chart each: {html}"
    );
    let znode_row = html
        .split("<tr>")
        .find(|r| r.contains("zk_znode_count") && r.contains("class=\"num\""))
        .expect("a znode count row");
    assert!(
        !znode_row.contains(" ms<"),
        "a count is not in milliseconds: {znode_row}"
    );
    let latency_row = html
        .split("<tr>")
        .find(|r| r.contains("zk_max_latency") && r.contains("class=\"num\""))
        .expect("a latency row");
    assert!(
        latency_row.contains(" ms<") || latency_row.contains(" s<"),
        "{latency_row}"
    );
    // `up` is a 0/1 gauge, never seconds, even next to a series in seconds.
    let (_, html) = env
        .text(&format!(
            "/metric?query={}&range=1h",
            enc(r#"{__name__=~"up|scrape_duration_seconds", cluster="lab"}"#)
        ))
        .await;
    let up_row = html
        .split("<tr>")
        .find(|r| r.contains(">up{") || r.contains("up{cluster"))
        .unwrap_or_default();
    assert!(!up_row.contains(" s<"), "up is not in seconds: {up_row}");
    assert!(up_row.contains(">1<"), "{up_row}");

    // The list page: a family's members together, filtered without JavaScript.
    let (_, all) = env.text("/metric").await;
    let (status, some) = env.text("/metric?filter=readlatency").await;
    assert_eq!(status, 200);
    assert!(some.contains("zk_p99_readlatency") && some.contains("zk_cnt_readlatency"));
    assert!(!some.contains(">zk_znode_count<"), "filtered out");
    assert!(
        all.contains(">zk_znode_count<"),
        "positive control: listed without a filter"
    );
    assert!(
        some.contains("<span class=\"mono fam\">zk_readlatency</span>"),
        "the statistics are grouped under their family"
    );
    let (_, by_help) = env.text("/metric?filter=packets%20received").await;
    assert!(
        by_help.contains(">zk_packets_received<"),
        "the filter reads help text too"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn targets_and_events_pages_list_what_happened() {
    let env = start().await;
    let (status, html) = env.text("/targets").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(count(&html, "<span class=\"mono\">zk"), 3, "{html}");
    assert!(
        html.contains("<tr class=\"errrow\">"),
        "errors on a row of their own"
    );
    assert!(
        html.contains("version=<b>3.8.0</b>") || !html.contains("version="),
        "short versions"
    );
    assert!(html.contains(DOWN_ERROR));
    assert!(html.contains("2 up"));
    assert!(html.contains("4.2 ms"));
    assert!(
        html.contains("<a class=\"spark\""),
        "scrape duration over the range"
    );

    let (status, html) = env.text("/events?range=6h").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("became leader"));
    assert!(html.contains(DOWN_ERROR));
    assert!(
        html.contains("/zookeeper/lab/zk1%3A2181?from="),
        "events link to their page around their time"
    );
    assert!(
        html.contains("class=\"ev warning\""),
        "events on the timeline"
    );
    let (status, html) = env.text("/events?range=6h&kind=target_down").await;
    assert_eq!(status, 200);
    assert!(!html.contains("became leader"), "filtered by kind");
    assert!(html.contains(DOWN_ERROR));
    // The filter offers every kind the configured sources declare, before any occurred.
    for kind in [
        "zk_quorum_lost",
        "zk_quorum_regained",
        "zk_no_leader",
        "target_up",
    ] {
        assert!(html.contains(&format!(">{kind}<")), "kind {kind} offered");
    }
    let (status, html) = env.text("/events?cluster=nope").await;
    assert_eq!(
        status, 404,
        "an unknown cluster is not an empty list: {html}"
    );
    assert_eq!(env.text("/events?cluster=lab").await.0, 200);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parameters_get_a_400_page_that_says_what_was_wrong() {
    let env = start().await;
    let (status, html) = env.text("/zookeeper?from=yesterday").await;
    assert_eq!(status, 400);
    assert!(
        html.contains(&esc(r#"from: cannot read "yesterday""#)),
        "{html}"
    );
    let (status, html) = env
        .text(&format!("/metric?query={}", enc("rate(up)")))
        .await;
    assert_eq!(status, 400);
    assert!(
        html.contains("query: parse error: expected type matrix in call to function"),
        "{html}"
    );
    let (status, html) = env.text("/events?range=24h&from=now-1h").await;
    assert_eq!(status, 400);
    assert!(html.contains("not both"), "{html}");
    let (status, html) = env.text("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(html.contains("There is no page at /no/such/page"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn label_values_and_messages_are_escaped_everywhere() {
    let env = start().await;
    let pages = [
        format!(
            "/metric?query={}",
            enc(r#"kafkascope_test_escape{cluster="lab"}"#)
        ),
        "/events".to_string(),
        "/".to_string(),
        format!(
            "/metric?query={}",
            enc(r#"{note="<script>alert(1)</script>"}"#)
        ),
        format!("/zookeeper/{}", enc(SCRIPT)),
    ];
    for p in &pages {
        let (_, html) = env.text(p).await;
        assert!(!html.contains(SCRIPT), "{p} contains the raw script tag");
        assert!(!html.contains("<script>"), "{p} has an inline script");
    }
    let (_, html) = env.text(&pages[0]).await;
    assert!(
        html.contains(&esc(SCRIPT)),
        "the value is shown, escaped: {html}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn static_files_are_embedded_cached_and_headers_are_safe() {
    let env = start().await;
    let r = env.get("/static/app.css").await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = env
        .client
        .get(format!("{}/static/app.js", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = env
        .client
        .get(format!("{}/static/app.css", env.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);
    let r = env.get("/").await;
    let h = r.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(env.text("/static/nope.js").await.0, 404);
    // Pages are compressed for clients that accept it. (A client that does not decompress by
    // itself, so the header is still there to see.)
    let r = reqwest::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
        .get(format!("{}/zookeeper", env.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    // Oversized bodies are refused before a handler sees them.
    let big = "query=".to_string() + &"x".repeat(300 * 1024);
    let r = env
        .client
        .post(format!("{}/api/v1/query", env.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_range_without_data_shows_no_current_state() {
    let env = start().await;
    let (status, html) = env
        .text("/?from=1900-01-01T00:00:00Z&to=1900-01-02T00:00:00Z")
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("<dt>Servers up</dt><dd>0 / 3</dd>")
            && html.contains("<dt>Leader</dt><dd>–</dd>"),
        "nothing was known in 1900: {html}"
    );
    assert!(!html.contains("badge leader"), "no leader in 1900");
    // The same page now does show the leader (positive control).
    let (_, now) = env.text("/?range=1h").await;
    assert!(now.contains("<dt>Leader</dt><dd>zk1:2181</dd>"));
    let (_, zk) = env
        .text("/zookeeper/lab?from=1900-01-01T00:00:00Z&to=1900-01-02T00:00:00Z")
        .await;
    assert!(
        zk.contains("0 of 3 servers up at the end of the range"),
        "{zk}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fixed_window_shows_the_same_tables_after_new_data_arrives() {
    let env = start().await;
    // A window that ended ten minutes before the newest data.
    let to = env.end - 600_000;
    let path = format!("/zookeeper/lab?from={}&to={}", to - 3_600_000, to);
    let table = |html: &str| {
        let a = html.find("<table class=\"wide ensemble\">").expect("table");
        let b = html[a..].find("</table>").unwrap() + a;
        html[a..b].to_string()
    };
    let (_, before) = env.text(&path).await;
    // New scrapes after the window, with different values: the live page changes, the window not.
    let later = format!(
        "/zookeeper/lab?from={}&to={}",
        env.end - 3_600_000,
        env.end + 4 * SCRAPE_MS
    );
    let (_, live_before) = env.text(&later).await;
    let servers: Vec<_> = {
        let mut v = Vec::new();
        for (server, mode) in SERVERS {
            let s = ZkSeries::new(server, mode);
            let ids = env.store.resolve(&s.keys).await.expect("resolve");
            v.push((s, ids));
        }
        v
    };
    write_scrapes(
        &env.store,
        &servers,
        env.start - 7_777 * SCRAPE_MS,
        env.end + SCRAPE_MS,
        env.end + 4 * SCRAPE_MS,
    )
    .await;
    let (_, after) = env.text(&path).await;
    assert_eq!(
        table(&before),
        table(&after),
        "the permalink's table is unchanged"
    );
    let (_, live_after) = env.text(&later).await;
    assert_ne!(
        table(&live_before),
        table(&live_after),
        "positive control: a window that covers the new scrapes did change"
    );
    env.stop().await;
}

/// The figure of the overview chart titled `title`: from its title link to `</figure>`.
fn figure<'a>(html: &'a str, title: &str) -> &'a str {
    let a = html
        .find(&format!(">{}</a>", esc(title)))
        .unwrap_or_else(|| panic!("no chart titled {title}: {html}"));
    let b = html[a..].find("</figure>").expect("figure end") + a;
    &html[a..b]
}

/// The legend values of a multi-series chart, as (series, value).
fn legend(fig: &str) -> Vec<(String, String)> {
    let re = regex::Regex::new(
        r#"<li>.*?>([^<>]+)</a>(?: <span class="same"[^>]*>[^<]*</span>)? <span class="v">([^<]*)</span></li>"#,
    )
    .unwrap();
    re.captures_iter(fig)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect()
}

/// The native tooltips of a chart's hover columns.
fn column_titles(fig: &str) -> Vec<String> {
    let cols = &fig[fig.find("<g class=\"cols\">").expect("hover columns")..];
    let cols = &cols[..cols.find("</g>").unwrap()];
    let re = regex::Regex::new(r"<title>([^<]*)</title>").unwrap();
    re.captures_iter(cols).map(|c| c[1].to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_counters_newest_rate_is_the_same_at_every_preset_even_with_minutes_of_data() {
    // Twelve minutes of data, as a server that just started has; zk1 also has an hour a week
    // ago (a seven-day gap before the recent data). Packets grow by 15 per 15 s scrape: 1/s.
    for span_ms in [12 * 60_000, 3 * 86_400_000] {
        let env = start_span(false, span_ms).await;
        for preset in ["1h", "6h", "24h", "7d", "30d"] {
            let (status, html) = env.text(&format!("/?range={preset}")).await;
            assert_eq!(status, 200, "{html}");
            let fig = figure(&html, "ZooKeeper packets received per second");
            let values = legend(fig);
            assert_eq!(values.len(), 2, "{preset}: {fig}");
            for (server, v) in &values {
                assert_eq!(
                    v, "1/s",
                    "{span_ms} ms of data, {preset}: {server}'s newest rate"
                );
            }
            // Every point of the chart is the true rate: no false 0 where collection starts,
            // no spike where it resumes after the gap.
            let titles = column_titles(fig);
            assert!(!titles.is_empty(), "{preset}: {fig}");
            for t in &titles {
                for line in t.lines().skip(1) {
                    assert!(
                        line.ends_with(": 1/s"),
                        "{span_ms} ms of data, {preset}: a point that is not 1/s: {t}"
                    );
                }
            }
        }
        env.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chart_of_a_past_window_shows_nothing_from_after_its_end() {
    let env = start().await;
    // zk_znode_count = 1000 + scrape index: the legend's newest value names the newest sample.
    let value_at = |t: i64| {
        let last = t - (t - env.start).rem_euclid(SCRAPE_MS);
        (1000 + (last - env.start) / SCRAPE_MS).to_string()
    };
    let back = env.end - 1_800_000;
    // A 1 h window (30 s buckets of raw samples) ending 5 s into a bucket, and a 6 h window
    // (5 min buckets, from 1 min rollups where the data is compacted) ending at a whole minute
    // inside a bucket: the store's last bucket used to run on to the next step boundary.
    for (span, to) in [
        (3_600_000, back - back.rem_euclid(30_000) + 5_000),
        (6 * 3_600_000, back - back.rem_euclid(300_000) + 120_000 - 1),
    ] {
        let (status, html) = env.text(&format!("/?from={}&to={to}", to - span)).await;
        assert_eq!(status, 200, "{html}");
        let values = legend(figure(&html, "ZooKeeper znodes"));
        assert_eq!(values.len(), 2, "{html}");
        for (server, v) in values {
            assert_eq!(
                v,
                value_at(to),
                "{server}: the newest value of a window ending at {to} ({span} ms)"
            );
        }
    }
    // Positive control: the window that ends with the data shows its newest value.
    let (_, html) = env
        .text(&format!("/?from={}&to={}", env.end - 3_600_000, env.end))
        .await;
    for (_, v) in legend(figure(&html, "ZooKeeper znodes")) {
        assert_eq!(v, value_at(env.end));
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_minutes_of_data_the_default_range_fits_them_and_charts_say_where_data_starts() {
    let env = start_span(false, 10 * 60_000).await;
    // No range in the URL: the smallest preset that holds the ten minutes, and why.
    let (status, html) = env.text("/").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(">last 1h ("), "{html}");
    assert!(
        html.contains("Collecting since ") && html.contains("the default range (24h) is shortened"),
        "{html}"
    );
    assert!(html.contains("<a class=\"preset active\" href=\"/?range=1h\">1h</a>"));
    // Links from it carry no range: they too show the default as it fits.
    assert!(html.contains("href=\"/zookeeper/lab?\""), "{html}");
    // Charts shade the part of the range before their data, with its time.
    let fig = figure(&html, "ZooKeeper znodes");
    assert!(fig.contains("<rect class=\"before\""), "{fig}");
    assert!(fig.contains(">no data before "), "{fig}");
    // A URL that names a range is never changed (positive control for the fitting).
    let (_, day) = env.text("/?range=24h").await;
    assert!(day.contains(">last 24h ("), "{day}");
    assert!(day.contains("Collecting since ") && !day.contains("is shortened"));
    let fixed = format!("/?from={}&to={}", env.end - 86_400_000, env.end);
    let (_, fixed) = env.text(&fixed).await;
    assert!(!fixed.contains(">last 24h ("), "a fixed window stays fixed");
    env.stop().await;
    // Days of data: the default stays 24h, with nothing to say.
    let env = start_span(false, 3 * 86_400_000).await;
    let (_, html) = env.text("/").await;
    assert!(html.contains(">last 24h ("), "{html}");
    assert!(!html.contains("Collecting since"), "{html}");
    assert!(!figure(&html, "ZooKeeper znodes").contains("class=\"before\""));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn charts_keep_text_out_of_the_stretched_plot_and_mark_events_overlaps_and_spread() {
    let env = start().await;
    let (status, html) = env.text("/?range=1h").await;
    assert_eq!(status, 200, "{html}");
    // The plot stretches with the window; its text would grow and shrink with it. All chart
    // text is in the unstretched SVGs beside and over it.
    let plots: Vec<&str> = html
        .split("<svg class=\"ch\"")
        .skip(1)
        .map(|p| &p[..p.find("</svg>").unwrap()])
        .collect();
    assert_eq!(plots.len(), 4, "{html}");
    for p in &plots {
        assert!(p.contains("preserveAspectRatio=\"none\""), "{p}");
        assert!(!p.contains("<text"), "text inside the stretched plot: {p}");
    }
    assert!(html.contains("<svg class=\"yax\""), "y-axis labels");
    assert!(
        html.split("<text x=\"")
            .skip(1)
            .any(|r| r.split('"').next().is_some_and(|x| x.ends_with('%'))),
        "x-axis labels placed by percentage"
    );
    // Events: a short tick on the axis and a marker shaped by severity with the event's text,
    // never a line through the data.
    let fig = figure(&html, "ZooKeeper znodes");
    assert!(!fig.contains("<line class=\"ev "), "{fig}");
    assert!(
        fig.contains("<use class=\"ev info\" href=\"#ev-info\" x=\"") && fig.contains("deploy "),
        "{fig}"
    );
    assert!(
        html.contains("<path id=\"ev-info\" d=\"M0 -8V0M"),
        "the shapes are defined once per page: a tick up into the plot, then the marker"
    );
    // zk1 and zk2 write the same values: the second line is dashed and the legend says so.
    let packets = figure(&html, "ZooKeeper packets received per second");
    assert!(packets.contains("class=\"line same\""), "{packets}");
    assert!(packets.contains("<span class=\"same\""), "{packets}");
    assert!(packets.contains(">= zk1:2181</span>"), "{packets}");
    // Outstanding requests cycle 0…3 at every scrape: in 10-minute buckets a min–max band
    // would be a solid block; its edges are drawn instead (the unit tests of `web::chart` show
    // a narrower band staying a band).
    let (_, day) = env.text("/?range=24h").await;
    let outstanding = figure(&day, "ZooKeeper outstanding requests");
    assert!(outstanding.contains("class=\"envelope\""), "{outstanding}");
    assert!(!outstanding.contains("class=\"band\""), "{outstanding}");
    // A day on a small chart has more than two time labels (four 6-hourly ticks, of which the
    // newest is dropped when it falls at the right edge — at some times of day).
    let fig = figure(&day, "ZooKeeper znodes");
    assert!(
        count(
            &fig[fig.find("<svg class=\"ov\"").unwrap_or(0)..],
            "<text x=\""
        ) >= 3,
        "x labels on a 24 h chart: {fig}"
    );
    // One event is "1 latest event".
    let one = format!(
        "/zookeeper/lab?from={}&to={}",
        env.end - 700_000,
        env.end - 500_000
    );
    let (_, zk) = env.text(&one).await;
    assert!(zk.contains(">1 latest event of lab<"), "{zk}");
    let (_, zk) = env.text("/zookeeper/lab?range=6h").await;
    assert!(zk.contains(">3 latest events of lab<"), "{zk}");
    env.stop().await;
}
