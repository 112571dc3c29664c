//! Headless Chromium driven through WebDriver for end-to-end page tests: Debian's `chromium` and
//! `chromium-driver` (`scripts/install-peers` installs both), one `chromedriver` on a free loopback
//! port per [`Browser`], one session with a fresh profile, the browser's console log, pointer and
//! keyboard actions, and full-page PNG screenshots at a chosen viewport width.
//!
//! ```ignore
//! let b = Browser::start();
//! b.goto(&server.url("/zookeeper"));
//! assert!(b.console_errors().is_empty());
//! let shots = b.shoot(&screenshot_dir("my_test"), "zookeeper", &[1400, 800]);
//! ```
//!
//! The facade is synchronous (each call runs on the browser's own tokio runtime), so tests can mix
//! it with the blocking helpers of `support::server`. chromedriver speaks plain http on loopback,
//! so the WebDriver client needs no TLS.
//!
//! Console capture uses chromedriver's `goog:loggingPrefs` (`browser: ALL`) and its log endpoint
//! (`POST /session/{id}/se/log`): it reports `console.error` calls, uncaught exceptions and
//! unhandled rejections (source `javascript`), and failed resource loads (source `network`) of
//! every page since the previous read, including those before any script of ours could run.

#![allow(dead_code)]

use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Headless as root without touching the network: without the networking flags Chromium floods
/// the closed network with refused connections (reference/peers-lab.md).
pub const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// How long chromedriver, a session, a page load or a wait may take on a loaded 2-core machine.
const DRIVER_START: Duration = Duration::from_secs(60);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// Screenshots taller than this are cut (a page this long is a finding of its own).
const MAX_SCREENSHOT_HEIGHT: u32 = 16_000;

/// One entry of the browser's log, as chromedriver reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    /// `console-api`, `javascript` (uncaught exceptions), `network`, `security`, ...
    pub source: String,
    pub message: String,
}

impl LogEntry {
    /// Chromium asks every site for `/favicon.ico` on its own; kafkascope serves none, so each
    /// page load logs a 404 for it that no page caused. Only that exact entry is excused.
    pub fn is_favicon_miss(&self) -> bool {
        self.source == "network"
            && self
                .message
                .contains("/favicon.ico - Failed to load resource")
    }
}

impl std::fmt::Display for LogEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{} {}] {}", self.level, self.source, self.message)
    }
}

/// One saved screenshot and what the page measured at that width.
#[derive(Clone, Debug)]
pub struct Shot {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    /// `document.documentElement.scrollWidth`: wider than `width` means a horizontal scrollbar.
    pub scroll_width: u64,
    /// Elements that reach past the right edge of the viewport: `tag.class right=N`.
    pub overflow: Vec<String>,
}

pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Option<Child>,
    /// `http://127.0.0.1:<port>` of this browser's chromedriver.
    pub driver_url: String,
    session: String,
    /// The Chromium process chromedriver started (`goog:processID`), killed on drop if the
    /// session could not be closed.
    browser_pid: Option<u32>,
    http: reqwest::Client,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session at a 1400×900 window.
    pub fn start() -> Browser {
        check_installation();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime for the WebDriver client");
        let profile = tempfile::Builder::new()
            .prefix("kafkascope-chromium-")
            .tempdir()
            .expect("temp dir for the Chromium profile");
        let http = kafkascope::sources::http_client_builder()
            .build()
            .expect("HTTP client for chromedriver");
        let log = profile.path().join("chromedriver.log");
        let (driver, driver_url) = start_driver(&rt, &http, &log);

        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ));
        args.push("--window-size=1400,900".into());
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        caps.insert(
            "timeouts".into(),
            json!({ "pageLoad": COMMAND_TIMEOUT.as_millis() as u64, "script": 30_000 }),
        );
        let connected = rt.block_on(async {
            tokio::time::timeout(
                COMMAND_TIMEOUT,
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&driver_url),
            )
            .await
        });
        let client = match connected {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => panic!(
                "chromedriver at {driver_url} could not start Chromium: {e}; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
            Err(_) => panic!("no Chromium session from {driver_url} within {COMMAND_TIMEOUT:?}"),
        };
        let browser_pid = client
            .capabilities()
            .and_then(|c| c.get("goog:processID"))
            .and_then(Value::as_u64)
            .map(|p| p as u32);
        let session = rt
            .block_on(client.session_id())
            .ok()
            .flatten()
            .expect("chromedriver returned no session id");
        Browser {
            rt,
            client: Some(client),
            driver: Some(driver),
            driver_url,
            session,
            browser_pid,
            http,
            profile,
        }
    }

    /// Runs a future (e.g. a fantoccini call on [`Browser::client`]) on the browser's runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Navigates and waits for the load event.
    pub fn goto(&self, url: &str) {
        self.run(&format!("load {url}"), self.client().goto(url));
    }

    pub fn current_url(&self) -> String {
        self.run("read the URL", self.client().current_url())
            .to_string()
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page and returns its value.
    pub fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.run(
            &format!("run script {script}"),
            self.client().execute(script, args),
        )
    }

    pub fn find(&self, css: &str) -> Element {
        self.run(
            &format!("find {css} on {}", self.current_url()),
            self.client().find(Locator::Css(css)),
        )
    }

    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.run(
            &format!("find all {css}"),
            self.client().find_all(Locator::Css(css)),
        )
    }

    /// An element as a script argument.
    pub fn arg(e: &Element) -> Value {
        serde_json::to_value(e).expect("element reference as JSON")
    }

    /// Moves the mouse to viewport coordinates (CSS pixels, rounded as WebDriver wants integers).
    pub fn move_pointer(&self, x: f64, y: f64) {
        let moves = MouseActions::new("mouse".into()).then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(0)),
            x: x.round(),
            y: y.round(),
        });
        self.run(
            &format!("move the pointer to ({x}, {y})"),
            self.client().perform_actions(moves),
        );
    }

    /// Presses the left button at one viewport point, moves to another in a few steps and
    /// releases it there (a drag, as a user selects a window on a chart).
    pub fn drag_pointer(&self, (x0, y0): (f64, f64), (x1, y1): (f64, f64)) {
        let mut drag = MouseActions::new("mouse".into())
            .then(PointerAction::MoveTo {
                duration: Some(Duration::from_millis(0)),
                x: x0.round(),
                y: y0.round(),
            })
            .then(PointerAction::Down {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            });
        for i in 1..=4 {
            let f = f64::from(i) / 4.0;
            drag = drag.then(PointerAction::MoveTo {
                duration: Some(Duration::from_millis(20)),
                x: (x0 + (x1 - x0) * f).round(),
                y: (y0 + (y1 - y0) * f).round(),
            });
        }
        let drag = drag.then(PointerAction::Up {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        });
        self.run(
            &format!("drag the pointer from ({x0}, {y0}) to ({x1}, {y1})"),
            self.client().perform_actions(drag),
        );
    }

    pub fn click(&self, e: &Element) {
        self.run("click", e.click());
    }

    /// Focuses `e` and presses Enter, as a keyboard user activates a link or a button.
    pub fn press_enter(&self, e: &Element) {
        self.js("arguments[0].focus();", vec![Self::arg(e)]);
        self.run("press Enter", e.send_keys("\u{e007}"));
    }

    /// Polls the URL until `pred` holds; panics with the last URL after `timeout`.
    pub fn wait_for_url(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let url = self.current_url();
            if pred(&url) {
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting for {what}; the URL is {url}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`).
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.driver_post("goog/cdp/execute", json!({ "cmd": cmd, "params": params }))
    }

    /// Turns script execution off or on for this tab (DevTools' "Disable JavaScript"); it stays
    /// so across navigations. WebDriver's own scripts keep working.
    pub fn set_javascript(&self, enabled: bool) {
        self.cdp(
            "Emulation.setScriptExecutionDisabled",
            json!({ "value": !enabled }),
        );
    }

    /// Every browser log entry since the previous call (the log is drained).
    pub fn console_log(&self) -> Vec<LogEntry> {
        let v = self.driver_post("se/log", json!({ "type": "browser" }));
        v.as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| LogEntry {
                level: e["level"].as_str().unwrap_or_default().to_string(),
                source: e["source"].as_str().unwrap_or_default().to_string(),
                message: e["message"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }

    /// The errors (`SEVERE` entries) logged since the previous read: `console.error`, uncaught
    /// exceptions and rejections, failed loads; the favicon miss no page caused is left out.
    pub fn console_errors(&self) -> Vec<LogEntry> {
        self.console_log()
            .into_iter()
            .filter(|e| e.level == "SEVERE" && !e.is_favicon_miss())
            .collect()
    }

    /// Panics, naming `context` and every entry, if anything logged an error since the last read.
    pub fn assert_no_console_errors(&self, context: &str) {
        let errors = self.console_errors();
        assert!(
            errors.is_empty(),
            "console errors on {context}:\n{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// A PNG of the whole current page laid out at a `width` px wide viewport (as a window that
    /// wide shows it, including any horizontal cut), and what overflowed the viewport.
    pub fn screenshot(&self, width: u32) -> (Vec<u8>, u32, u64, Vec<String>) {
        // The viewport as tall as the page: WebDriver's screenshot then holds all of it.
        // Scrollbars are hidden (overlaid, as on phones and macOS): a page as tall as the
        // viewport would otherwise flip between a layout with a vertical scrollbar and a wider
        // one without, and the page is laid out at exactly `width`. Charts scale with the width,
        // so the height is measured again until it holds.
        self.cdp("Emulation.setScrollbarsHidden", json!({ "hidden": true }));
        self.set_viewport(width, 900);
        let mut height = self.page_height();
        for _ in 0..4 {
            self.set_viewport(width, height);
            let h = self.page_height();
            if h == height {
                break;
            }
            height = h;
        }
        self.set_viewport(width, height);
        let m = self.js(
            "const d = document.documentElement; \
             const out = []; \
             for (const e of document.querySelectorAll('body *')) { \
               const r = e.getBoundingClientRect(); \
               const p = e.parentElement && e.parentElement.getBoundingClientRect(); \
               if (r.width > 0 && r.right > innerWidth + 1 && !(p && p.right > innerWidth + 1)) { \
                 const c = (e.getAttribute('class') || '').trim(); \
                 out.push(e.tagName.toLowerCase() + (c ? '.' + c.split(/\\s+/).join('.') : '') + ' right=' + Math.round(r.right)); \
               } \
             } \
             return [d.scrollWidth, out];",
            vec![],
        );
        let scroll_width = m[0].as_u64().unwrap_or_default();
        let overflow: Vec<String> = m[1]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let png = self.run("take a screenshot", self.client().screenshot());
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}));
        self.cdp("Emulation.setScrollbarsHidden", json!({ "hidden": false }));
        (png, height, scroll_width, overflow)
    }

    /// Lays the page out at `width` px (until [`reset_viewport`](Self::reset_viewport)).
    pub fn set_width(&self, width: u32) {
        self.set_viewport(width, 900);
    }

    pub fn reset_viewport(&self) {
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}));
    }

    fn set_viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
    }

    /// The viewport height that shows the whole page (never below the viewport's own, so this
    /// holds still once the viewport is tall enough).
    fn page_height(&self) -> u32 {
        let h = self.js("return document.documentElement.scrollHeight;", vec![]);
        (h.as_u64().unwrap_or(900) as u32).clamp(1, MAX_SCREENSHOT_HEIGHT)
    }

    /// Saves `dir/<name>-<width>.png` for each width, checks each is a PNG of that width, and
    /// prints the paths with what overflowed.
    pub fn shoot(&self, dir: &Path, name: &str, widths: &[u32]) -> Vec<Shot> {
        let url = self.current_url();
        widths
            .iter()
            .map(|&width| {
                let (png, height, scroll_width, overflow) = self.screenshot(width);
                let (w, h) = png_size(&png).unwrap_or_else(|| {
                    panic!("the screenshot of {url} at {width} px is not a PNG")
                });
                assert_eq!(
                    (w, h),
                    (width, height),
                    "the screenshot of {url} at {width} px has the wrong size"
                );
                let path = dir.join(format!("{name}-{width}.png"));
                std::fs::write(&path, &png)
                    .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
                println!(
                    "screenshot {} ({url}, {width}×{height}, page width {scroll_width}{})",
                    path.display(),
                    if overflow.is_empty() {
                        String::new()
                    } else {
                        format!(", past the right edge: {}", overflow.join(", "))
                    }
                );
                Shot {
                    path,
                    width,
                    height,
                    scroll_width,
                    overflow,
                }
            })
            .collect()
    }

    /// Closes the session (Chromium quits) and stops chromedriver.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(20), c.close()).await });
        }
        if let Some(mut d) = self.driver.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        // Only if the session did not end it, and only the process chromedriver reported.
        if let Some(pid) = self.browser_pid.take() {
            let alive = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.contains("chrom"))
                .unwrap_or(false);
            if alive {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
        }
    }

    fn driver_post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.driver_url, self.session);
        let (status, text) = self.rt.block_on(async {
            let r = self
                .http
                .post(&url)
                .json(&body)
                .timeout(COMMAND_TIMEOUT)
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {url}: {e}"));
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        });
        assert_eq!(status, 200, "POST {url} {body}: {text}");
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("POST {url}: not JSON ({e}): {text}"));
        v["value"].clone()
    }

    fn run<T, E: std::fmt::Display>(&self, what: &str, f: impl Future<Output = Result<T, E>>) -> T {
        match self
            .rt
            .block_on(async { tokio::time::timeout(COMMAND_TIMEOUT, f).await })
        {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => panic!("WebDriver: {what}: {e}"),
            Err(_) => panic!("WebDriver: {what}: no answer within {COMMAND_TIMEOUT:?}"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `<target dir>/screenshots/<test>`, emptied, so each run's pictures stand alone; the path is
/// stable across runs (next to the `tmp` dir cargo gives integration tests).
pub fn screenshot_dir(test: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target dir");
    let dir = target.join("screenshots").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// (width, height) from a PNG's IHDR chunk.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || !png.starts_with(SIGNATURE) || &png[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(png[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(png[20..24].try_into().ok()?);
    Some((w, h))
}

fn check_installation() {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: run scripts/install-peers (Debian package {package})"
        );
    }
}

/// chromedriver on a free loopback port, ready; retried with a fresh port if another process took
/// the probed one first.
fn start_driver(
    rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    log: &Path,
) -> (Child, String) {
    let mut failures = Vec::new();
    for _ in 0..4 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("probe a free loopback port")
            .port();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + DRIVER_START;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                failures.push(format!("port {port}: chromedriver exited with {status}"));
                break;
            }
            let ready = rt.block_on(async {
                let r = http
                    .get(format!("{url}/status"))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .ok()?;
                let v: Value = r.json().await.ok()?;
                v["value"]["ready"].as_bool()
            });
            if ready == Some(true) {
                return (child, url);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                failures.push(format!("port {port}: not ready within {DRIVER_START:?}"));
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!(
        "chromedriver did not start: {}; its log:\n{}",
        failures.join("; "),
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
