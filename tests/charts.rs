//! Every chart's page-level comparison (`compare=1w`) and the chart and table export
//! (`&format=csv|json&chart=ID` / `&table=ID` on any page), over HTTP against the real server
//! and a real store (tests/web_support: two ZooKeeper servers, two hours up to now, and one hour
//! of zk1 a week ago). Also the HTML size of the largest pages and of a 40-chart page.

mod web_support;

use kafkascope::model::{Matcher, Timestamp};
use kafkascope::web::format::rfc3339;
use serde_json::Value;
use web_support::*;

const WEEK: i64 = 7 * 86_400_000;
const HOUR: i64 = 3_600_000;

/// The ids of the page's charts, in page order (`<figure class="chart" id="…"`).
fn chart_ids(html: &str) -> Vec<String> {
    html.split("<figure class=\"chart\" id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// A CSV file as rows of fields (RFC 4180 quoting).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

fn window(from: Timestamp, to: Timestamp) -> String {
    format!("from={}&to={}", enc(&rfc3339(from)), enc(&rfc3339(to)))
}

/// The markup of the page's chart (`<figure>`) whose text holds `needle`.
fn figure_with<'a>(html: &'a str, needle: &str) -> &'a str {
    html.split("<figure class=\"chart\"")
        .skip(1)
        .map(|f| &f[..f.find("</figure>").unwrap_or(f.len())])
        .find(|f| f.contains(needle))
        .unwrap_or_else(|| panic!("no chart with {needle:?}: {html}"))
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_draws_last_weeks_data_as_a_ghost_on_every_chart_and_exports_it() {
    let env = start().await;
    let (from, to) = (env.end - HOUR, env.end);
    let q = enc(r#"zk_znode_count{server="zk1:2181"}"#);
    let page = format!("/metric?query={q}&{}", window(from, to));

    // Positive control: without compare= there is no ghost.
    let (status, html) = env.text(&page).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        !html.contains("class=\"ghost\""),
        "no ghost without compare="
    );

    let (status, html) = env.text(&format!("{page}&compare=1w")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("<path class=\"ghost\""),
        "ghost line of last week"
    );
    assert!(html.contains("1w earlier"));
    // The page-level control keeps the comparison in the permalink and the time picker.
    assert!(html.contains("<a class=\"cmp active\" href=\"/metric?"));
    assert!(
        html.contains("&#38;compare=1w\" title=\"this window with fixed times"),
        "the permalink keeps compare=: {html}"
    );

    // The chart's export holds the ghost at last week's own times with last week's values:
    // zk_znode_count was 1000 + i at scrape i (i counted from the data's start).
    let ids = chart_ids(&html);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let (status, j) = env
        .json(&format!("{page}&compare=1w&format=json&chart={}", ids[0]))
        .await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["compare"], "1w");
    let ghost = &j["ghosts"][0];
    assert_eq!(ghost["shift_ms"], WEEK);
    let ts: Vec<i64> = ghost["timestamps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect();
    assert!(ts.len() > 3, "{ghost}");
    let step = ghost["step_ms"].as_i64().unwrap();
    let (avg, min, max) = (
        nums(&ghost["avg"]),
        nums(&ghost["min"]),
        nums(&ghost["max"]),
    );
    // The week-ago hour holds the scrapes from end − 1 w − 1 h to end − 1 w.
    let written = |t: Timestamp| t >= env.end - WEEK - HOUR && t <= env.end - WEEK;
    for (k, b) in ts.iter().enumerate() {
        assert!(
            *b >= from - WEEK - step && *b <= to - WEEK,
            "ghost bucket {b} is not in last week's window"
        );
        let is: Vec<f64> = (0..=HOUR / SCRAPE_MS)
            .map(|n| env.end - WEEK - HOUR + n * SCRAPE_MS)
            .filter(|t| written(*t) && *t >= *b && *t < b + step)
            .map(|t| 1000.0 + ((t - env.start) / SCRAPE_MS) as f64)
            .collect();
        assert!(!is.is_empty(), "bucket {b} has no written sample");
        let want = is.iter().sum::<f64>() / is.len() as f64;
        assert!(
            (avg[k] - want).abs() < 1e-6,
            "bucket {b}: avg {} ≠ {want}",
            avg[k]
        );
        assert_eq!(min[k], is[0], "bucket {b}: min");
        assert_eq!(max[k], is[is.len() - 1], "bucket {b}: max");
    }

    // Every chart of an entity page (the planner's small charts) gets its ghost too.
    let server = format!(
        "/zookeeper/{CLUSTER}/{}?{}",
        enc(SERVERS[0].0),
        window(from, to)
    );
    let (_, plain) = env.text(&server).await;
    let (status, html) = env.text(&format!("{server}&compare=1w")).await;
    assert_eq!(status, 200);
    assert!(!plain.contains("class=\"ghost\""));
    let charts = chart_ids(&html).len();
    assert!(charts >= 4, "{charts} charts");
    let ghosts = html.matches("<path class=\"ghost\"").count();
    assert!(
        ghosts >= charts / 2,
        "{ghosts} ghost lines on {charts} charts"
    );

    // The ranked small multiples of /investigate too (zk1's series have last week's hour).
    let inv = format!(
        "/investigate?cluster={CLUSTER}&{}&top=12&method=volume",
        window(env.end - 20 * 60_000, env.end)
    );
    let (_, plain) = env.text(&inv).await;
    assert!(!plain.contains("class=\"ghost\""));
    let (status, html_inv) = env.text(&format!("{inv}&compare=1w")).await;
    assert_eq!(status, 200, "{html_inv}");
    assert!(
        html_inv.contains("<path class=\"ghost\""),
        "investigate ghosts"
    );
    // The pair chart (query= with with=) draws both series' earlier span, on this span's scale.
    let pair = format!(
        "{inv}&query={}&with={}",
        enc(r#"zk_znode_count{server="zk1:2181"}"#),
        enc(r#"zk_avg_latency{server="zk1:2181"}"#)
    );
    let (status, plain) = env.text(&pair).await;
    assert_eq!(status, 200, "{plain}");
    assert_eq!(
        figure_with(&plain, "both normalised")
            .matches("class=\"ghost\"")
            .count(),
        0
    );
    let (status, html_pair) = env.text(&format!("{pair}&compare=1w")).await;
    assert_eq!(status, 200, "{html_pair}");
    assert_eq!(
        figure_with(&html_pair, "both normalised")
            .matches("<path class=\"ghost\"")
            .count(),
        2,
        "a ghost for each series of the pair"
    );

    // 1d and 4w are offered; a bad value is a 400 that names the parameter.
    for c in ["1d", "4w"] {
        assert!(html.contains(&format!("&#38;compare={c}\">{c}</a>")), "{c}");
        assert_eq!(env.text(&format!("{page}&compare={c}")).await.0, 200);
    }
    let (status, body) = env.text(&format!("{page}&compare=bogus")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("compare"), "{body}");
    let (status, body) = env.text(&format!("{server}&compare=0s")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("compare"), "{body}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_events_timeline_counts_events_per_bucket_and_compares_with_last_week() {
    let env = start().await;
    // Four events in last week's hour (the seed has one, the annotation, in this hour).
    let week_ago: Vec<kafkascope::model::Event> = (0..4)
        .map(|i| kafkascope::model::Event {
            ts: env.end - WEEK - 30 * 60_000 + i * 60_000,
            kind: "annotation".into(),
            severity: kafkascope::model::Severity::Info,
            cluster: CLUSTER.into(),
            subject: String::new(),
            message: format!("week-ago note {i}"),
        })
        .collect();
    env.store
        .append(&[], &week_ago)
        .await
        .expect("append events");
    let page = format!("/events?{}", window(env.end - HOUR, env.end));
    let sum = |v: &Value| nums(v).iter().sum::<f64>();

    // Control: without compare= the timeline has its count line and no ghost.
    let (status, plain) = env.text(&page).await;
    assert_eq!(status, 200, "{plain}");
    assert!(
        !plain.contains("class=\"ghost\""),
        "no ghost without compare="
    );
    let ids = chart_ids(&plain);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let (_, j) = env
        .json(&format!("{page}&format=json&chart={}", ids[0]))
        .await;
    assert_eq!(j["series"][0]["label"], "events per bucket", "{j}");
    assert_eq!(
        sum(&j["series"][0]["avg"]),
        1.0,
        "this hour's one event: {j}"
    );

    let (status, html) = env.text(&format!("{page}&compare=1w")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<path class=\"ghost\""), "last week's counts");
    let (_, j) = env
        .json(&format!("{page}&compare=1w&format=json&chart={}", ids[0]))
        .await;
    let ghost = &j["ghosts"][0];
    assert_eq!(ghost["shift_ms"], WEEK, "{j}");
    assert_eq!(sum(&ghost["avg"]), 4.0, "last week's four events: {j}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_charts_csv_and_json_hold_exactly_the_buckets_it_draws() {
    let env = start().await;
    let (from, to) = (env.end - 2 * HOUR + 60_000, env.end);
    let q = enc(r#"zk_avg_latency{server="zk1:2181"}"#);
    let page = format!("/metric?query={q}&{}", window(from, to));
    let (_, html) = env.text(&page).await;
    let ids = chart_ids(&html);
    assert_eq!(ids.len(), 1);
    // The links on the page are the ones fetched here.
    assert!(html.contains(&format!("&format=csv&chart={}\"", ids[0])));

    let (status, j) = env
        .json(&format!("{page}&format=json&chart={}", ids[0]))
        .await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["unit"], "milliseconds");
    let s = &j["series"][0];
    let step = s["step_ms"].as_i64().unwrap();
    let ts: Vec<i64> = s["timestamps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect();
    let (avg, min, max) = (nums(&s["avg"]), nums(&s["min"]), nums(&s["max"]));

    // The store's own buckets at that step.
    let info = env
        .store
        .select(
            Some("zk_avg_latency"),
            &[Matcher::eq("server", SERVERS[0].0)],
        )
        .remove(0);
    let r = env
        .store
        .query_range_step(&[info.id], from, to, step, None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(s["tier"], r.tier.as_str());
    assert_eq!(ts.len(), r.buckets.len());
    for (k, b) in r.buckets.iter().enumerate() {
        assert_eq!(ts[k], b.ts);
        assert_eq!(avg[k], b.sum / f64::from(b.count), "avg of bucket {}", b.ts);
        assert_eq!((min[k], max[k]), (b.min, b.max));
    }

    // The CSV says the same, row for row.
    let r = env
        .get(&format!("{page}&format=csv&chart={}", ids[0]))
        .await;
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let rows = parse_csv(&r.text().await.unwrap());
    assert_eq!(
        rows[0].join(","),
        "series,time,timestamp_ms,avg,min,max,last,values,unit,tier"
    );
    assert_eq!(rows.len() - 1, ts.len());
    for (k, row) in rows[1..].iter().enumerate() {
        assert_eq!(row[2].parse::<i64>().unwrap(), ts[k]);
        assert_eq!(row[3].parse::<f64>().unwrap(), avg[k]);
        assert_eq!(row[8], "milliseconds");
    }

    // Every chart of an entity page exports, under the id its links carry.
    let server = format!("/zookeeper/{CLUSTER}/{}?range=2h", enc(SERVERS[0].0));
    let (_, html) = env.text(&server).await;
    let ids = chart_ids(&html);
    assert!(ids.len() >= 4);
    for id in &ids {
        let (status, j) = env.json(&format!("{server}&format=json&chart={id}")).await;
        assert_eq!(status, 200, "{id}: {j}");
        assert_eq!(j["chart"], id.as_str());
    }

    // Negative checks, each next to the positive one above.
    let (status, body) = env.text(&format!("{page}&format=json&chart=nope")).await;
    assert_eq!(status, 404);
    assert!(body.contains("chart"), "{body}");
    let (status, body) = env
        .text(&format!("{page}&format=xml&chart={}", ids[0]))
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("format"), "{body}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_export_as_csv_and_json_that_agree() {
    let env = start().await;
    let page = format!("/events?{}", window(env.start - HOUR, env.end + 1000));
    let (status, html) = env.text(&page).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("&#38;format=csv&#38;table=events"),
        "the page links its export"
    );
    let (status, j) = env.json(&format!("{page}&format=json&table=events")).await;
    assert_eq!(status, 200, "{j}");
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{j}");
    let csv = env.text(&format!("{page}&format=csv&table=events")).await.1;
    let csv = parse_csv(&csv);
    let columns: Vec<&str> = j["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(csv[0], columns);
    assert_eq!(csv.len(), rows.len() + 1);
    // The round trip: every CSV cell is the JSON row's value, text exact (the probe's markup
    // and all), numbers equal.
    for (line, row) in csv[1..].iter().zip(rows) {
        for (name, cell) in columns.iter().zip(line) {
            match &row[*name] {
                Value::String(s) => assert_eq!(cell, s, "{name}"),
                Value::Number(n) => {
                    assert_eq!(cell.parse::<f64>().unwrap(), n.as_f64().unwrap(), "{name}")
                }
                Value::Null => assert_eq!(cell, "", "{name}"),
                other => panic!("{name}: {other}"),
            }
        }
    }
    assert!(
        rows.iter()
            .any(|r| r["message"] == format!("deploy {SCRIPT}"))
    );
    assert!(
        rows.iter()
            .any(|r| r["kind"] == "zk_leader_change" && r["severity"] == "warning")
    );

    // Every list page offers its table (empty here where the source has no data).
    for (path, id) in [
        ("/topics", "topics"),
        ("/brokers", "brokers"),
        ("/hosts", "hosts"),
        ("/consumers", "consumers"),
        ("/trends", "trends"),
    ] {
        let (status, html) = env.text(&format!("{path}?range=2h")).await;
        assert_eq!(status, 200, "{path}");
        let (status, j) = env
            .json(&format!("{path}?range=2h&format=json&table={id}"))
            .await;
        assert_eq!(status, 200, "{path}: {j}");
        assert_eq!(j["table"], id);
        let _ = html;
    }
    let (status, body) = env.text(&format!("{page}&format=csv&table=nope")).await;
    assert_eq!(status, 404);
    assert!(body.contains("table"), "{body}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forty_chart_page_stays_within_300_kb_of_html() {
    let env = start().await;
    let range = window(env.end - HOUR, env.end);
    let mut sizes = Vec::new();
    for path in [
        "/".to_string(),
        format!("/zookeeper/{CLUSTER}?{range}"),
        format!(
            "/zookeeper/{CLUSTER}/{}?{range}&open=all",
            enc(SERVERS[0].0)
        ),
        format!(
            "/zookeeper/{CLUSTER}/{}?{range}&open=all&compare=1w",
            enc(SERVERS[0].0)
        ),
        format!(
            "/investigate?cluster={CLUSTER}&{}&top=40&method=volume",
            window(env.end - 20 * 60_000, env.end)
        ),
    ] {
        let (status, html) = env.text(&path).await;
        assert_eq!(status, 200, "{path}");
        let charts = chart_ids(&html).len();
        eprintln!("{path}: {} bytes of HTML, {charts} charts", html.len());
        if let Ok(dir) = std::env::var("CHARTS_DUMP") {
            let name = path.replace(['/', '?', '&', '%', '='], "_");
            let _ = std::fs::write(format!("{dir}/{name}.html"), &html);
        }
        sizes.push((path, html.len(), charts));
    }
    let (path, bytes, charts) = &sizes[4];
    assert!(*charts >= 40, "{path}: only {charts} charts");
    // 300 kB (decimal). The seeded series change at every scrape (sawteeth inside every bucket:
    // full min–max bands, no flat stretches to skip), so this is the heavy case.
    assert!(
        *bytes <= 300_000,
        "{path}: {bytes} bytes for {charts} charts"
    );
    env.stop().await;
}
