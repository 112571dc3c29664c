//! Runs the real `kafkascope` binary for end-to-end tests: a temp directory with a config and a
//! database, `serve --listen 127.0.0.1:0`, the bound address read from its stdout, and a kill on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub database: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts `kafkascope serve` with `config_text` (written to `dir/kafkascope.toml`) and the
    /// database `dir/kafkascope.db`.
    pub fn start(dir: &Path, config_text: &str) -> Server {
        let config = dir.join("kafkascope.toml");
        std::fs::write(&config, config_text).expect("write test config");
        Self::start_with(dir, &config)
    }

    /// Starts (or restarts) the server on an existing config and database.
    pub fn start_with(dir: &Path, config: &Path) -> Server {
        let database = dir.join("kafkascope.db");
        let log = dir.join(format!("server-{}.log", std::process::id()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open server log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_kafkascope"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--database")
            .arg(&database)
            .env("RUST_LOG", "info,kafkascope=debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("start kafkascope serve");
        let stdout = child.stdout.take().expect("stdout of kafkascope");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("kafkascope listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "kafkascope did not start within 60 s; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        Server {
            child: Some(child),
            base,
            dir: dir.to_path_buf(),
            config: config.to_path_buf(),
            database,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown hook runs, like a crash or the OOM killer.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        c.wait().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Polls `f` until it returns Some or the deadline passes; panics with `what` on timeout.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// GET returning (status, body) with a blocking client; panics only on transport errors.
pub fn get(url: &str) -> (u16, String) {
    let (status, _, body) = get_full(url);
    (status, body)
}

/// GET returning (status, headers, body).
pub fn get_full(url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let r = kafkascope::sources::http_client_builder()
            .build()
            .expect("HTTP client")
            .get(url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap_or_default())
    })
}

/// The value of a Prometheus API instant query, one per result series: (labels, value).
pub fn query(base: &str, q: &str) -> Vec<(serde_json::Map<String, serde_json::Value>, f64)> {
    let url = format!("{base}/api/v1/query?query={}", urlencode(q));
    let (status, body) = get(&url);
    assert_eq!(status, 200, "GET {url}: {body}");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {body}"));
    let mut out = Vec::new();
    for r in v["data"]["result"].as_array().cloned().unwrap_or_default() {
        let labels = r["metric"].as_object().cloned().unwrap_or_default();
        let value: f64 = r["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN);
        out.push((labels, value));
    }
    out
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
