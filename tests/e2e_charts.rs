//! A real headless Chromium (Debian's `chromium-driver`) on the charts of the in-process server
//! over a seeded store (tests/web_support): hovering one chart moves the crosshair of every chart
//! of the page to the same time; dragging over a chart opens `/investigate` on the dragged window
//! with the page's cluster; "copy link" gives the page at absolute times; with JavaScript off the
//! charts still draw and carry their native `<title>` tooltips; no page logs a console error
//! (the check is proven to fire first). Screenshots land in `target/screenshots/e2e_charts/`.

mod support;
mod web_support;

use serde_json::{Value, json};
use std::time::Duration;
use support::browser::{Browser, screenshot_dir};
use web_support::*;

/// Geometry of the `index`-th chart's plot, scrolled into view: viewport box, viewBox width,
/// plot offset and width in viewBox units, and its time range.
fn plot(b: &Browser, index: usize) -> Value {
    b.js(
        "const fig = document.querySelectorAll('figure.chart')[arguments[0]]; \
         const svg = fig.querySelector('svg.ch'); \
         svg.scrollIntoView({block: 'center'}); \
         const r = svg.getBoundingClientRect(); \
         return {left: r.left, top: r.top, width: r.width, height: r.height, \
                 vbw: svg.viewBox.baseVal.width, px: Number(svg.dataset.px), \
                 pw: Number(svg.dataset.pw), from: Number(fig.dataset.from), \
                 to: Number(fig.dataset.to)};",
        vec![json!(index)],
    )
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("no `{k}` in {v}"))
}

/// The viewport x of a fraction of the plot's width.
fn client_x(p: &Value, frac: f64) -> f64 {
    let scale = f(p, "width") / f(p, "vbw");
    f(p, "left") + (f(p, "px") + frac * f(p, "pw")) * scale
}

/// Each chart's crosshair: whether it is shown, and the time it stands at.
fn crosshairs(b: &Browser) -> Vec<(bool, f64)> {
    let v = b.js(
        "return Array.from(document.querySelectorAll('figure.chart')).map(fig => { \
           const svg = fig.querySelector('svg.ch'), xh = svg.querySelector('line.xh'); \
           const x = Number(xh.getAttribute('x1')), px = Number(svg.dataset.px), \
                 pw = Number(svg.dataset.pw), from = Number(fig.dataset.from), \
                 to = Number(fig.dataset.to); \
           return [xh.classList.contains('on'), from + (x - px) / pw * (to - from)]; });",
        vec![],
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_bool().unwrap(), c[1].as_f64().unwrap_or(f64::NAN)))
        .collect()
}

/// Reads an RFC 3339 time of a URL parameter back to unix ms.
fn param_ms(url: &str, name: &str) -> i64 {
    let v = url
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{url} has no {name}="));
    let text = v.replace("%3A", ":");
    let ts: jiff::Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
    ts.as_millisecond()
}

#[test]
fn charts_share_a_crosshair_select_a_window_and_work_without_javascript() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let env = rt.block_on(start_with(true, 2));
    let b = Browser::start();
    let shots = screenshot_dir("e2e_charts");

    // The console check fires: a thrown error and a console.error are reported.
    b.goto(&format!("{}/events", env.base));
    b.console_errors();
    b.js(
        "console.error('probe-console'); setTimeout(() => { throw new Error('probe-throw'); });",
        vec![],
    );
    std::thread::sleep(Duration::from_millis(300));
    let seen: Vec<String> = b
        .console_errors()
        .iter()
        .map(|e| e.message.clone())
        .collect();
    assert!(
        seen.iter().any(|m| m.contains("probe-console"))
            && seen.iter().any(|m| m.contains("probe-throw")),
        "the console check missed the probes: {seen:?}"
    );

    // A page with several charts over one range: the ZooKeeper server's.
    let page = format!(
        "{}/zookeeper/{CLUSTER}/{}?range=2h&compare=1w",
        env.base,
        enc(SERVERS[0].0)
    );
    b.goto(&page);
    let before = crosshairs(&b);
    assert!(before.len() >= 4, "{} charts", before.len());
    assert!(
        before.iter().all(|(on, _)| !on),
        "no crosshair before any hover"
    );
    let p = plot(&b, 1);
    let y = f(&p, "top") + f(&p, "height") / 2.0;
    b.move_pointer(client_x(&p, 0.5), y);
    let after = crosshairs(&b);
    let on: Vec<f64> = after.iter().filter(|c| c.0).map(|c| c.1).collect();
    assert_eq!(
        on.len(),
        after.len(),
        "every chart shows the crosshair: {after:?}"
    );
    let pixel_ms = (f(&p, "to") - f(&p, "from")) / f(&p, "width");
    let want = f(&p, "from") + 0.5 * (f(&p, "to") - f(&p, "from"));
    for t in &on {
        assert!(
            (t - want).abs() <= 2.0 * pixel_ms,
            "a crosshair at {t}, the pointer at {want} (±{pixel_ms} ms a pixel)"
        );
    }
    let readouts = b.js(
        "return Array.from(document.querySelectorAll('output.readout')).filter(o => o.textContent).length;",
        vec![],
    );
    assert!(
        readouts.as_u64().unwrap() >= 2,
        "values are read out: {readouts}"
    );
    b.shoot(&shots, "zk-server-crosshair-compare", &[1400]);
    b.assert_no_console_errors(&page);

    // Copy link: the page at absolute times, compare kept.
    let copy = b.find("button.copylink");
    b.click(&copy);
    let copied = b.js(
        "return document.querySelector('button.copylink').dataset.copied || '';",
        vec![],
    );
    let copied = copied.as_str().unwrap().to_string();
    assert!(copied.starts_with(&env.base), "absolute: {copied}");
    assert!(
        copied.contains("from=") && copied.contains("to=") && copied.contains("compare=1w"),
        "{copied}"
    );
    assert!(!copied.contains("range="), "{copied}");
    b.goto(&copied);
    assert_eq!(
        crosshairs(&b).len(),
        before.len(),
        "the copied link shows the page"
    );

    // Drag over a chart: /investigate on the dragged window, in this cluster.
    let p = plot(&b, 0);
    let y = f(&p, "top") + f(&p, "height") / 2.0;
    let (x0, x1) = (client_x(&p, 0.25), client_x(&p, 0.75));
    b.drag_pointer((x0, y), (x1, y));
    b.wait_for_url("/investigate", Duration::from_secs(30), |u| {
        u.contains("/investigate")
    });
    let url = b.current_url();
    assert!(url.contains(&format!("cluster={CLUSTER}")), "{url}");
    let span = f(&p, "to") - f(&p, "from");
    let ms_per_px = span / f(&p, "width");
    let t = |x: f64| {
        let frac = ((x.round() - f(&p, "left")) / f(&p, "width") * f(&p, "vbw") - f(&p, "px"))
            / f(&p, "pw");
        f(&p, "from") + frac * span
    };
    let (from, to) = (param_ms(&url, "from"), param_ms(&url, "to"));
    assert!(
        (from as f64 - t(x0)).abs() <= ms_per_px + 1000.0,
        "from {from}, dragged from {}",
        t(x0)
    );
    assert!(
        (to as f64 - t(x1)).abs() <= ms_per_px + 1000.0,
        "to {to}, dragged to {}",
        t(x1)
    );
    b.shoot(&shots, "investigate-from-drag", &[1400]);
    b.assert_no_console_errors(&url);

    // Positive control for the drag: a click (no movement) stays on the page.
    b.goto(&page);
    let p = plot(&b, 0);
    let y = f(&p, "top") + f(&p, "height") / 2.0;
    b.drag_pointer((client_x(&p, 0.5), y), (client_x(&p, 0.5), y));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        b.current_url().contains("/zookeeper/"),
        "{}",
        b.current_url()
    );

    // Without JavaScript: the charts draw, with a native tooltip per bucket column, and the
    // copy-link button (which needs the script) stays hidden.
    let shown = b.js(
        "return !document.querySelector('button.copylink').hidden;",
        vec![],
    );
    assert_eq!(shown, json!(true), "with JavaScript the button shows");
    b.set_javascript(false);
    b.goto(&page);
    let v = b.js(
        "return {charts: document.querySelectorAll('figure.chart svg.ch path.line').length, \
                 titles: document.querySelectorAll('figure.chart .cols rect > title').length, \
                 ghosts: document.querySelectorAll('figure.chart path.ghost').length, \
                 hidden: document.querySelector('button.copylink').hidden, \
                 exports: document.querySelectorAll('figure.chart a.export').length};",
        vec![],
    );
    assert!(v["charts"].as_u64().unwrap() >= 4, "{v}");
    assert!(v["titles"].as_u64().unwrap() >= 40, "{v}");
    assert!(v["ghosts"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["exports"].as_u64().unwrap() >= 8, "{v}");
    assert_eq!(v["hidden"], json!(true), "the script did not run: {v}");
    b.shoot(&shots, "zk-server-no-javascript", &[1400]);
    b.set_javascript(true);
    b.assert_no_console_errors("pages without JavaScript");
    b.close();
    rt.block_on(env.stop());
}
