//! A real headless Chromium, driven through WebDriver (Debian's `chromium-driver`), uses the pages:
//! the real binary fed by a real ZooKeeper (every page loads without console errors, a hovered
//! chart's crosshair readout is the value stored at that time, range presets work by mouse and
//! keyboard, and the pages work with JavaScript off), and the in-process server over seeded
//! histories of ten minutes and of days. Screenshots at 1400 and 800 px of `/`, `/zookeeper`, a
//! server page and `/metric` for each data set land in `target/screenshots/<set>/`.
//!
//! The console check is proven by a control: pages served by the test itself that log an error,
//! throw, reject a promise, throw after loading, or miss a script, each of which must be reported.

mod support;
mod web_support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::browser::{Browser, LogEntry, screenshot_dir};
use support::server::{Server, get, query, urlencode, wait_for};
use support::zookeeper::{ZkOptions, ZkServer};

const WIDTHS: [u32; 2] = [1400, 800];

/// The query `/metric` is shown with in the screenshots: issue 8's mixed-unit example.
const MIXED_UNITS: &str =
    "{__name__=~\"zk_max_latency|zk_outstanding_requests|zk_znode_count\",cluster=\"lab\"}";

// ---------------------------------------------------------------------------------------------
// The console check's control.

fn control_page(script: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>probe</title></head>\
         <body><p>probe</p>{script}</body></html>"
    )
}

/// Serves the control pages on a loopback port of `rt`; returns the base URL.
fn serve_control_pages(rt: &tokio::runtime::Runtime) -> String {
    use axum::response::Html;
    use axum::routing::get;
    let page = |script: &'static str| {
        let html = control_page(script);
        get(move || async move { Html(html) })
    };
    let app = axum::Router::new()
        .route(
            "/clean",
            page("<script>console.log('probe-info'); console.warn('probe-warning');</script>"),
        )
        .route(
            "/console-error",
            page("<script>console.error('probe-console-error');</script>"),
        )
        .route(
            "/uncaught",
            page("<script>throw new Error('probe-uncaught');</script>"),
        )
        .route(
            "/rejection",
            page("<script>Promise.reject(new Error('probe-rejection'));</script>"),
        )
        .route(
            "/late",
            page(
                "<script>setTimeout(function () { throw new Error('probe-late'); }, 500);</script>",
            ),
        )
        .route(
            "/missing-script",
            page("<script src=\"/static/probe-missing.js\"></script>"),
        );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind the control pages' port");
    let addr = listener.local_addr().expect("control pages' address");
    rt.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Reads the console until an error containing `needle` appears (errors that come after the load
/// event included); returns every error read.
fn errors_until(b: &Browser, needle: &str) -> Vec<LogEntry> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        seen.extend(b.console_errors());
        if seen.iter().any(|e| e.message.contains(needle)) || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_console_check_reports_errors_exceptions_rejections_and_failed_loads() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let base = serve_control_pages(&rt);
    let b = Browser::start();

    // A clean page: the log is read (its console.log arrives), it holds no error, and the one
    // entry the check excuses (Chromium's own /favicon.ico request, 404 here too) really occurs
    // in exactly the shape the filter matches.
    b.goto(&format!("{base}/clean"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = Vec::new();
    while Instant::now() < deadline
        && !(log
            .iter()
            .any(|e: &LogEntry| e.message.contains("probe-info"))
            && log.iter().any(LogEntry::is_favicon_miss))
    {
        log.extend(b.console_log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        log.iter()
            .any(|e| e.source == "console-api" && e.message.contains("probe-info")),
        "the console log of the clean page was not captured: {log:?}"
    );
    assert!(
        log.iter()
            .any(|e| e.level == "SEVERE" && e.is_favicon_miss()),
        "the favicon miss the check excuses did not show up as expected: {log:?}"
    );
    let errors: Vec<&LogEntry> = log
        .iter()
        .filter(|e| e.level == "SEVERE" && !e.is_favicon_miss())
        .collect();
    assert!(
        errors.is_empty(),
        "the clean page logged errors: {errors:?}"
    );

    for (path, needle, source) in [
        ("/console-error", "probe-console-error", "console-api"),
        ("/uncaught", "Uncaught Error: probe-uncaught", "javascript"),
        ("/rejection", "probe-rejection", "javascript"),
        ("/late", "Uncaught Error: probe-late", "javascript"),
        ("/missing-script", "/static/probe-missing.js", "network"),
    ] {
        b.goto(&format!("{base}{path}"));
        let errors = errors_until(&b, needle);
        assert!(
            errors
                .iter()
                .any(|e| e.source == source && e.message.contains(needle)),
            "{path}: the console check missed `{needle}` (source {source}); it read {errors:?}"
        );
    }
    // The log is drained by each read: errors are attributed to the page that caused them.
    b.goto(&format!("{base}/clean"));
    std::thread::sleep(Duration::from_millis(300));
    b.assert_no_console_errors("the clean page after the failing ones");
    b.close();
}

// ---------------------------------------------------------------------------------------------
// Reading pages.

/// What a user sees of the current page: rendered text, links, and counts of what it drew.
fn summary(b: &Browser) -> Value {
    b.js(
        "const q = s => document.querySelectorAll(s); \
         const main = document.querySelector('main'); \
         return { \
           title: document.title, \
           h1: (document.querySelector('h1') || {}).innerText || '', \
           text: main ? main.innerText : '', \
           links: Array.from(q('main a')).map(a => [(a.innerText ?? a.textContent).trim(), a.getAttribute('href')]), \
           charts: q('figure.chart').length, \
           lines: q('figure.chart path.line').length, \
           sparks: q('main a.spark').length, \
           rows: q('main table tbody tr').length, \
           caption: (document.querySelector('p.range') || {}).innerText || '', \
           active: Array.from(q('a.preset.active')).map(a => a.innerText.trim()) \
         };",
        vec![],
    )
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_default()
}

fn has_link(v: &Value, link_text: &str, href_prefix: &str) -> bool {
    v["links"].as_array().into_iter().flatten().any(|l| {
        l[0].as_str() == Some(link_text)
            && l[1].as_str().is_some_and(|h| h.starts_with(href_prefix))
    })
}

/// Loads `url`, checks the console stayed clean, and returns the page's summary.
fn load(b: &Browser, url: &str) -> Value {
    b.goto(url);
    let s = summary(b);
    assert!(
        text(&s, "title").ends_with("· kafkascope"),
        "{url} did not render a kafkascope page: {s}"
    );
    b.assert_no_console_errors(url);
    s
}

/// `2024-05-01 10:00` (UTC) as Unix milliseconds.
fn utc_minute_ms(s: &str) -> i64 {
    let iso = format!("{}:00Z", s.trim().replacen(' ', "T", 1));
    iso.parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("`{s}` is not a UTC minute: {e}"))
        .as_millisecond()
}

/// The two times of the range caption (`last 6h (2024-05-01 04:00 UTC → 2024-05-01 10:00 UTC)`).
fn caption_span_ms(caption: &str) -> i64 {
    let re =
        regex::Regex::new(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC → (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")
            .expect("caption regex");
    let c = re
        .captures(caption)
        .unwrap_or_else(|| panic!("the range caption names no from → to: {caption}"));
    utc_minute_ms(&c[2]) - utc_minute_ms(&c[1])
}

/// A hover column's time line: `2024-05-01 10:00 UTC`, `2024-05-01 10:00 – 10:05 UTC`, or
/// `2024-05-01 23:50 – 2024-05-02 00:10 UTC`, as (first minute, last minute) in Unix ms.
fn column_minutes(line: &str) -> (i64, i64) {
    let line = line.trim().trim_end_matches("UTC").trim();
    match line.split_once(" – ") {
        None => {
            let t = utc_minute_ms(line);
            (t, t)
        }
        Some((a, b)) => {
            let first = utc_minute_ms(a);
            let last = if b.len() == 5 {
                utc_minute_ms(&format!("{} {b}", &a[..10]))
            } else {
                utc_minute_ms(b)
            };
            (first, last)
        }
    }
}

/// A displayed count (`1030`, `18.3k`, `2.5M`) as (value, half a unit of its last digit).
fn displayed_number(s: &str) -> (f64, f64) {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(end);
    let v: f64 = num
        .parse()
        .unwrap_or_else(|e| panic!("`{s}` does not start with a number: {e}"));
    let factor = match suffix.trim() {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        other => panic!("`{s}`: unexpected suffix `{other}` for a count"),
    };
    let decimals = num.split_once('.').map(|(_, d)| d.len()).unwrap_or(0) as i32;
    (v * factor, 0.5 * 10f64.powi(-decimals) * factor)
}

/// An instant query at `time_s`, one value per series.
fn query_at(base: &str, q: &str, time_s: f64) -> Vec<f64> {
    let url = format!(
        "{base}/api/v1/query?query={}&time={time_s:.3}",
        urlencode(q)
    );
    let (status, body) = get(&url);
    assert_eq!(status, 200, "GET {url}: {body}");
    let v: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {body}"));
    v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["value"][1].as_str()?.parse().ok())
        .collect()
}

/// What hovering a chart did.
struct Hover {
    /// The text the page's readout shows.
    readout: String,
    /// The native `<title>` of the column under the pointer, found from the SVG's geometry.
    title: String,
    /// The time under the pointer, from the chart's `data-from`/`data-to` and the plot's extent.
    at_ms: f64,
    /// The time one column and one CSS pixel span, for tolerances.
    column_ms: f64,
    pixel_ms: f64,
    /// Crosshairs shown, and charts showing the same range (all of them must show one).
    crosshairs_on: u64,
    same_range: u64,
    /// The hovered chart's crosshair position and the pointer's, in viewBox units.
    crosshair_x: f64,
    pointer_x: f64,
}

/// Hovers the middle data column of the `index`-th chart on the page, as a mouse does.
fn hover_chart(b: &Browser, index: usize) -> Hover {
    let g = b.js(
        "const fig = document.querySelectorAll('figure.chart')[arguments[0]]; \
         const svg = fig.querySelector('svg.ch'); \
         svg.scrollIntoView({block: 'center'}); \
         const r = svg.getBoundingClientRect(); \
         return { \
           left: r.left, top: r.top, width: r.width, height: r.height, \
           vbw: svg.viewBox.baseVal.width, px: Number(svg.dataset.px), pw: Number(svg.dataset.pw), \
           from: Number(fig.dataset.from), to: Number(fig.dataset.to), \
           cols: Array.from(svg.querySelectorAll('.cols rect')).map(c => [ \
             Number(c.getAttribute('x')), Number(c.getAttribute('width')), \
             (c.querySelector('title') || {}).textContent || '']) \
         };",
        vec![json!(index)],
    );
    let f = |k: &str| {
        g[k].as_f64()
            .unwrap_or_else(|| panic!("chart {index}: no `{k}` in {g}"))
    };
    let (left, top, width, height, vbw) = (f("left"), f("top"), f("width"), f("height"), f("vbw"));
    let (px, pw, from, to) = (f("px"), f("pw"), f("from"), f("to"));
    let cols: Vec<(f64, f64, String)> = g["cols"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c[0].as_f64().unwrap_or_default(),
                c[1].as_f64().unwrap_or_default(),
                c[2].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let scale = width / vbw; // CSS px per viewBox unit
    // WebDriver moves the pointer to whole CSS pixels: the columns a whole pixel falls in, and
    // of those the one nearest the middle of the data.
    let hittable: Vec<(f64, &(f64, f64, String))> = cols
        .iter()
        .filter_map(|c| {
            let x = (left + c.0 * scale + 0.05).ceil();
            (x < left + (c.0 + c.1) * scale - 0.05).then_some((x, c))
        })
        .collect();
    assert!(
        !hittable.is_empty(),
        "chart {index} on {} has no hover column a pointer can reach: {cols:?}",
        b.current_url()
    );
    let (client_x, _) = hittable[hittable.len() / 2];
    let client_y = (top + height / 2.0).round();
    b.move_pointer(client_x, client_y);

    // What the pointer's position means, computed here as app.js should.
    let pointer_x = (client_x - left) / width * vbw;
    let target = cols
        .iter()
        .find(|c| pointer_x >= c.0 && pointer_x < c.0 + c.1)
        .unwrap_or_else(|| panic!("no column under x={pointer_x} in {cols:?}"));
    let title = target.2.clone();
    let at_ms = from + (pointer_x - px) / pw * (to - from);

    let seen = b.js(
        "const figs = Array.from(document.querySelectorAll('figure.chart')); \
         const me = figs[arguments[0]]; \
         const same = figs.filter(f => f.dataset.from === me.dataset.from && f.dataset.to === me.dataset.to); \
         return { \
           readout: (me.querySelector('output.readout') || {}).textContent || '', \
           x1: Number((me.querySelector('line.xh') || {getAttribute: () => NaN}).getAttribute('x1')), \
           same: same.length, \
           on: same.filter(f => f.querySelector('line.xh.on')).length \
         };",
        vec![json!(index)],
    );
    Hover {
        readout: seen["readout"].as_str().unwrap_or_default().to_string(),
        title,
        at_ms,
        column_ms: target.1 / pw * (to - from),
        pixel_ms: (to - from) / pw / scale,
        crosshairs_on: seen["on"].as_u64().unwrap_or_default(),
        same_range: seen["same"].as_u64().unwrap_or_default(),
        crosshair_x: seen["x1"].as_f64().unwrap_or(f64::NAN),
        pointer_x,
    }
}

/// Checks a hover over a single-series chart of `q` (a gauge counted in plain units): the readout
/// is the hovered column's tooltip, the crosshair is at the pointer, the column covers the time
/// under the pointer, and its value lies within what the API says was stored in that column.
fn check_hover_value(b: &Browser, base: &str, q: &str) {
    let h = hover_chart(b, 0);
    let url = b.current_url();
    assert!(
        !h.readout.is_empty(),
        "{url}: hovering the chart shows no value"
    );
    assert_eq!(
        h.readout, h.title,
        "{url}: the readout is not the tooltip of the column under the pointer"
    );
    assert!(
        (h.crosshair_x - h.pointer_x).abs() < 1.0,
        "{url}: the crosshair is at x={} but the pointer at x={}",
        h.crosshair_x,
        h.pointer_x
    );
    let mut lines = h.readout.lines();
    let (first, last) = column_minutes(lines.next().unwrap_or_default());
    let slack = 60_000.0 + 2.0 * h.pixel_ms;
    assert!(
        h.at_ms >= first as f64 - slack && h.at_ms <= last as f64 + h.column_ms + slack,
        "{url}: the pointer is at {} ms but the column under it says `{}`",
        h.at_ms,
        h.readout
    );
    let value_line = lines
        .next()
        .unwrap_or_else(|| panic!("{url}: the readout has no value: {}", h.readout));
    let (shown, tol) = displayed_number(value_line.split(" (").next().unwrap_or_default());

    // Everything stored from the column's first minute to the end of its last one.
    let lo_ms = first as f64 - slack;
    let hi_ms = last as f64 + h.column_ms + slack;
    let window_s = ((hi_ms - lo_ms) / 1000.0).ceil() as i64;
    let at_s = hi_ms / 1000.0;
    let min = query_at(base, &format!("min_over_time({q}[{window_s}s])"), at_s);
    let max = query_at(base, &format!("max_over_time({q}[{window_s}s])"), at_s);
    assert!(
        min.len() == 1 && max.len() == 1,
        "{url}: the API has no single series for {q} around {at_s}: {min:?} {max:?}"
    );
    assert!(
        shown >= min[0] - tol && shown <= max[0] + tol,
        "{url}: the readout says {shown} (±{tol}) at `{}` but {q} held {}..{} then",
        h.readout,
        min[0],
        max[0]
    );
    println!(
        "hover {url}: `{}` (stored {}..{})",
        h.readout.replace('\n', " | "),
        min[0],
        max[0]
    );
}

/// The index of the first chart of the page that has hover columns (a chart with no data in its
/// range has none).
fn first_chart_with_columns(b: &Browser) -> usize {
    let i = b.js(
        "return Array.from(document.querySelectorAll('figure.chart')) \
           .findIndex(f => f.querySelectorAll('svg.ch .cols rect').length > 0);",
        vec![],
    );
    i.as_u64()
        .unwrap_or_else(|| panic!("no chart with data on {}: {i}", b.current_url())) as usize
}

/// Checks that hovering the first chart of a page with several draws the crosshair on every chart
/// of the same range, and that leaving the chart clears them.
fn check_hover_sync(b: &Browser) {
    let url = b.current_url();
    let h = hover_chart(b, first_chart_with_columns(b));
    assert!(h.same_range > 1, "{url}: expected several charts");
    assert_eq!(
        h.crosshairs_on, h.same_range,
        "{url}: hovering one chart shows the crosshair on {} of {} charts of the range",
        h.crosshairs_on, h.same_range
    );
    assert_eq!(
        h.readout, h.title,
        "{url}: the readout is not the tooltip of the column under the pointer"
    );
    b.move_pointer(1.0, 1.0);
    let left = b.js(
        "return [document.querySelectorAll('line.xh.on').length, \
         Array.from(document.querySelectorAll('output.readout')).map(o => o.textContent).join('')];",
        vec![],
    );
    assert_eq!(
        left,
        json!([0, ""]),
        "{url}: leaving the chart left crosshairs or readouts"
    );
}

/// Clicks (or, with `keyboard`, focuses and presses Enter on) the range preset `label` and checks
/// that the URL, the highlighted preset and the caption follow.
fn use_preset(b: &Browser, label: &str, keyboard: bool) {
    let before = summary(b);
    let link = b
        .find_all("a.preset")
        .into_iter()
        .find(|a| b.block_on(a.text()).ok().as_deref() == Some(label))
        .unwrap_or_else(|| panic!("no range preset `{label}` on {}", b.current_url()));
    if keyboard {
        b.press_enter(&link);
    } else {
        b.click(&link);
    }
    let want = format!("range={label}");
    b.wait_for_url(
        &format!("the {label} preset"),
        Duration::from_secs(30),
        |u| u.contains(&want),
    );
    let after = summary(b);
    b.assert_no_console_errors(&b.current_url());
    assert_eq!(
        after["active"],
        json!([label]),
        "highlighted preset: {after}"
    );
    assert_ne!(
        text(&before, "caption"),
        text(&after, "caption"),
        "the range caption did not change"
    );
    let hours: i64 = match label {
        "1h" => 1,
        "6h" => 6,
        "24h" => 24,
        "7d" => 168,
        other => panic!("no span known for preset {other}"),
    };
    assert_eq!(
        caption_span_ms(&text(&after, "caption")),
        hours * 3_600_000,
        "the caption's from → to after choosing {label}: {}",
        text(&after, "caption")
    );
}

/// The size chart text is drawn at, in CSS px, as (smallest, largest) over every visible label
/// of every chart: its font size times how much its SVG is scaled.
fn chart_text_px(b: &Browser) -> (f64, f64) {
    let sizes = b.js(
        "const out = []; \
         for (const t of document.querySelectorAll('figure.chart svg text')) { \
           const r = t.getBoundingClientRect(); \
           const bb = t.getBBox(); \
           if (!r.height || !bb.height) continue; \
           out.push(parseFloat(getComputedStyle(t).fontSize) * r.height / bb.height); \
         } \
         return out;",
        vec![],
    );
    let sizes: Vec<f64> = sizes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        !sizes.is_empty(),
        "{}: no chart text to measure",
        b.current_url()
    );
    let lo = sizes.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = sizes.iter().copied().fold(0.0, f64::max);
    (lo, hi)
}

/// Chart text is a readable constant size at every window width: it used to scale with the
/// chart (8 px on a 1400 px window's three-column grid, larger than body text at 800 px).
fn check_chart_text_size(b: &Browser) {
    let url = b.current_url();
    let mut seen = Vec::new();
    for width in WIDTHS {
        b.set_width(width);
        let (lo, hi) = chart_text_px(b);
        assert!(
            (10.0..=13.0).contains(&lo) && (10.0..=13.0).contains(&hi),
            "{url} at {width} px: chart text from {lo:.1} to {hi:.1} px"
        );
        seen.push(format!("{width} px: {lo:.1}–{hi:.1} px"));
    }
    b.reset_viewport();
    println!("chart text {url}: {}", seen.join(", "));
}

/// The four pages issue 8 wants pictures of, at the default range (what a user sees first), each
/// at both widths, into `target/screenshots/<set>/`.
fn screenshots(b: &Browser, base: &str, set: &str, server_page: &str) {
    let dir = screenshot_dir(set);
    for (name, path) in [
        ("overview", "/".to_string()),
        ("zookeeper", "/zookeeper".to_string()),
        ("hosts", "/hosts".to_string()),
        ("server", server_page.to_string()),
        (
            "metric",
            format!("/metric?query={}", urlencode(MIXED_UNITS)),
        ),
    ] {
        let url = format!("{base}{path}");
        b.goto(&url);
        b.assert_no_console_errors(&url);
        if name != "zookeeper" && name != "hosts" {
            check_chart_text_size(b);
        }
        b.shoot(&dir, name, &WIDTHS);
    }
}

// ---------------------------------------------------------------------------------------------
// The real binary and a real ZooKeeper.

#[test]
fn chromium_uses_every_page_of_the_real_server_fed_by_a_real_zookeeper() {
    let zk = ZkServer::start_standalone(&ZkOptions::default());
    let addr = zk.client_addr();
    let dir = tempfile::tempdir().expect("temp dir");
    // A broker's JMX (the lab's FakeKafkaBroker) for the broker, client and MBean pages.
    let broker = support::jvm::JvmPeer::start(
        "FakeKafkaBroker",
        &["--controller"],
        support::jvm::JmxOpts::default(),
    );
    let jmx = broker.jmx_address();
    let cfg = format!(
        "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\nzookeeper = [{addr:?}]\n[clusters.host]\nlog_dirs = [\"/tmp\"]\n[clusters.jmx]\ninterval = \"2s\"\nbrokers = [{jmx:?}]\n"
    );
    let server = Server::start(dir.path(), &cfg);
    let b = Browser::start();
    let znodes = "zk_znode_count{cluster=\"lab\"}";
    let first = wait_for("a first ZooKeeper scrape", Duration::from_secs(60), || {
        query(&server.base, znodes).first().map(|s| s.1)
    });
    let collecting = Instant::now();
    let url = |path: &str| format!("{}{path}", server.base);
    let server_page = format!("/zookeeper/lab/{}", urlencode(&addr));

    std::thread::scope(|scope| {
        // Znodes created while the test runs make the charts' values move, so a readout taken
        // from the wrong time shows the wrong number.
        let zk = &zk;
        scope.spawn(move || {
            for i in 0..4 {
                zk.cli(&["create", &format!("/kafkascope-e2e-{i}"), "x"]);
                std::thread::sleep(Duration::from_secs(8));
            }
        });

        // Every page loads, shows what ZooKeeper reported, and logs no error.
        let s = load(&b, &url("/"));
        assert_eq!(text(&s, "h1"), "Overview");
        assert!(
            has_link(&s, "ZooKeeper", "/zookeeper/lab"),
            "the cluster's ZooKeeper link: {s}"
        );
        assert!(text(&s, "text").contains("standalone"), "mode: {s}");
        assert!(
            count(&s, "charts") >= 1 && count(&s, "lines") >= 1,
            "charts: {s}"
        );

        let s = load(&b, &url("/zookeeper"));
        assert_eq!(text(&s, "h1"), "ZooKeeper");
        assert!(has_link(&s, &addr, &server_page), "server row: {s}");
        assert!(text(&s, "text").contains("standalone"), "mode: {s}");
        assert!(count(&s, "sparks") >= 1, "sparklines: {s}");

        let s = load(&b, &url("/zookeeper/lab"));
        assert!(has_link(&s, &addr, &server_page), "server row: {s}");
        assert!(text(&s, "text").contains("standalone"), "mode: {s}");

        let s = load(&b, &url(&server_page));
        assert!(
            text(&s, "h1").starts_with(&addr),
            "server page heading: {s}"
        );
        assert!(
            count(&s, "charts") >= 1 && count(&s, "lines") >= 1,
            "charts: {s}"
        );

        let s = load(
            &b,
            &url(&format!("/metric?query={}&range=1h", urlencode(znodes))),
        );
        assert_eq!(text(&s, "h1"), "Metric");
        assert_eq!((count(&s, "charts"), count(&s, "lines")), (1, 1), "{s}");
        assert!(text(&s, "text").contains("zk_znode_count"), "{s}");

        let s = load(&b, &url("/targets"));
        assert_eq!(text(&s, "h1"), "Targets");
        assert!(text(&s, "text").contains(&addr), "target row: {s}");
        let up = b.js(
            "return Array.from(document.querySelectorAll('table.targets tbody tr')) \
               .filter(r => r.innerText.includes(arguments[0])) \
               .map(r => (r.querySelector('.badge') || {}).innerText);",
            vec![json!(addr)],
        );
        assert_eq!(up, json!(["up"]), "the target's state");

        let s = load(&b, &url("/events"));
        assert_eq!(text(&s, "h1"), "Events");

        // The host pages: this machine, read by the server's own host reader.
        let s = load(&b, &url("/hosts?range=1h"));
        assert_eq!(text(&s, "h1"), "Hosts");
        let host_page = s["links"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l[1].as_str())
            .find(|h| h.starts_with("/hosts/lab/"))
            .unwrap_or_else(|| panic!("no host row: {s}"))
            .to_string();
        let s = load(&b, &url(&host_page));
        assert!(
            count(&s, "charts") >= 12 && count(&s, "lines") >= 1,
            "host panels: {s}"
        );
        assert!(text(&s, "text").contains("Page cache: cachestat"), "{s}");

        // The JMX pages: brokers, one broker, clients, and the MBean explorer on a bean.
        wait_for("a first JMX scrape", Duration::from_secs(90), || {
            query(
                &server.base,
                "kafka_controller_kafkacontroller_activecontrollercount",
            )
            .first()
            .map(|s| s.1)
        });
        let s = load(&b, &url("/brokers?range=15m"));
        assert_eq!(text(&s, "h1"), "Brokers");
        assert!(text(&s, "text").contains(&jmx), "{s}");
        let s = load(
            &b,
            &url(&format!("/brokers/lab/{}?range=15m", urlencode(&jmx))),
        );
        assert!(count(&s, "charts") >= 20, "broker panels: {s}");
        load(&b, &url("/clients"));
        let explore = format!(
            "/explore/{}?cluster=lab&bean={}",
            urlencode(&jmx),
            urlencode("java.lang:type=Memory")
        );
        let s = load(&b, &url(&explore));
        assert!(text(&s, "text").contains("HeapMemoryUsage"), "{s}");

        // Range presets: by mouse, then by keyboard.
        load(&b, &url("/zookeeper/lab"));
        use_preset(&b, "6h", false);
        use_preset(&b, "7d", true);

        // Without JavaScript: the same tables and charts, links and forms work, hovering does
        // nothing (while with JavaScript it writes the readout: see below), and each chart
        // column keeps its native tooltip.
        b.set_javascript(false);
        let s = load(&b, &url("/zookeeper"));
        assert!(has_link(&s, &addr, &server_page), "no-JS server row: {s}");
        load(
            &b,
            &url(&format!("/metric?query={}&range=1h", urlencode(znodes))),
        );
        let h = hover_chart(&b, 0);
        assert!(
            h.readout.is_empty() && h.crosshairs_on == 0,
            "JavaScript is off, yet hovering wrote `{}`",
            h.readout
        );
        assert!(
            !h.title.is_empty(),
            "columns carry a native tooltip without JS"
        );
        use_preset(&b, "6h", false);
        load(&b, &url("/events"));
        let form = b.find("form.filters");
        b.block_on(async {
            form.find(fantoccini::Locator::Css("select[name=cluster]"))
                .await?
                .select_by_value("lab")
                .await?;
            form.find(fantoccini::Locator::Css("button[type=submit]"))
                .await?
                .click()
                .await
        })
        .expect("submit the events filter");
        b.wait_for_url("the filtered events page", Duration::from_secs(30), |u| {
            u.contains("cluster=lab")
        });
        b.assert_no_console_errors("/events?cluster=lab without JS");
        b.set_javascript(true);

        // A minute of live data, then the crosshair readouts and the screenshots.
        if let Some(rest) = Duration::from_secs(65).checked_sub(collecting.elapsed()) {
            std::thread::sleep(rest);
        }
        load(&b, &url("/?range=1h"));
        check_hover_sync(&b);
        load(
            &b,
            &url(&format!("/metric?query={}&range=1h", urlencode(znodes))),
        );
        check_hover_value(&b, &server.base, znodes);
        screenshots(&b, &server.base, "live-1m", &server_page);
        b.goto(&url(&host_page));
        b.assert_no_console_errors(&host_page);
        check_chart_text_size(&b);
        b.shoot(&screenshot_dir("live-1m"), "host", &WIDTHS);
    });
    let last = query(&server.base, znodes)
        .first()
        .map(|s| s.1)
        .unwrap_or_default();
    assert!(
        last >= first + 4.0,
        "the znodes the test created were counted: {first} → {last}"
    );
    b.close();
}

// ---------------------------------------------------------------------------------------------
// Seeded histories: ten minutes, and days.

#[test]
fn chromium_shows_ten_minutes_and_days_of_history() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let b = Browser::start();
    let server_page = format!("/zookeeper/lab/{}", urlencode(web_support::SERVERS[0].0));
    // zk_znode_count = 1000 + scrape index: every column of the chart holds other values.
    let znodes = format!("zk_znode_count{{server=\"{}\"}}", web_support::SERVERS[0].0);

    for (set, span_ms, range) in [
        ("history-10m", 10 * 60_000, "1h"),
        ("history-3d", 3 * 86_400_000, "7d"),
    ] {
        let started = Instant::now();
        let env = rt.block_on(web_support::start_span(false, span_ms));
        println!("{set}: seeded in {:.1} s", started.elapsed().as_secs_f64());
        let base = env.base.clone();
        let go = |path: &str| b.goto(&format!("{base}{path}"));

        go(&format!(
            "/metric?query={}&range={range}",
            urlencode(&znodes)
        ));
        b.assert_no_console_errors(&b.current_url());
        check_hover_value(&b, &base, &znodes);
        go(&format!("/?range={range}"));
        b.assert_no_console_errors(&b.current_url());
        check_hover_sync(&b);

        // Without a range in the URL: ten minutes of data get the 1 h preset and say since
        // when; days of data keep the default 24 h.
        go("/");
        let s = summary(&b);
        let caption = text(&s, "caption");
        if span_ms < 3_600_000 {
            assert!(
                caption.contains("last 1h (") && caption.contains("Collecting since "),
                "{set}: {caption}"
            );
            assert_eq!(s["active"], json!(["1h"]), "{set}: {s}");
        } else {
            assert!(
                caption.contains("last 24h (") && !caption.contains("Collecting"),
                "{set}: {caption}"
            );
        }

        screenshots(&b, &base, set, &server_page);
        rt.block_on(env.stop());
    }
    b.close();
}
