//! The `prometheus` source against real exporters on loopback: Debian's node_exporter and
//! Prometheus (its own `/metrics`: histograms and summaries), kafkascope's own `/metrics`, and an
//! OpenMetrics endpoint served by the real Python client library (every OpenMetrics type,
//! `_created`, `# UNIT`, an exemplar). Values are compared with a direct scrape made just before
//! and just after ours, read with a separate line splitter, for every series that did not move
//! between the two.
//!
//! Bad endpoints (an endless body, a gzip bomb, HTML, 404, a redirect loop, a target that never
//! answers, too many series, wrong credentials, TLS with an untrusted certificate) run through
//! the real collector and store next to good targets on the same server: each shows `up` = 0 and
//! its error, the good ones keep being scraped. And once the user's way: a config file with
//! `[[clusters.prometheus]]`, `kafkascope check-config`, `kafkascope serve`, the API and `/targets`.

mod support;

use kafkascope::catalogue::{MetricType, Unit};
use kafkascope::collector::Collector;
use kafkascope::config::Config;
use kafkascope::model::{Matcher, MetricKind};
use kafkascope::sources::prometheus::scrape::ACCEPT;
use kafkascope::sources::{BoxedSource, ScrapeOutput, Source, build_all};
use kafkascope::store::{Store, StoreConfig};
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::server::{Server, get, query, urlencode, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------------
// Peers

/// A process we started; killed and reaped on drop.
struct Peer {
    child: Child,
    port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn wait_listening(what: &str, port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start(what: &str, mut cmd: Command, port: u16, log: &Path) -> Peer {
    let log = std::fs::File::create(log).expect("peer log");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| panic!("start {what} (scripts/install-peers installs it): {e}"));
    wait_listening(what, port, &mut child);
    Peer { child, port }
}

/// Debian's prometheus-node-exporter (no D-Bus here: without the systemd collector).
fn node_exporter(dir: &Path) -> Peer {
    let port = free_port();
    let mut cmd = Command::new("prometheus-node-exporter");
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--no-collector.systemd");
    start("node_exporter", cmd, port, &dir.join("node_exporter.log"))
}

/// Debian's Prometheus 2.42, scraping nothing but itself.
fn prometheus(dir: &Path) -> Peer {
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prom-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    start("prometheus", cmd, port, &dir.join("prometheus.log"))
}

/// The Prometheus Python client (Debian's python3-prometheus-client) serving every OpenMetrics
/// type with fixed values.
const OPENMETRICS_PEER: &str = r#"
import sys, time
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, Info, Enum, start_http_server
from prometheus_client.core import GaugeHistogramMetricFamily

r = CollectorRegistry()
c = Counter("kq_requests", "Requests \"served\".\nSecond line.", ["path"], registry=r)
c.labels("/a").inc(7)
c.labels('/b "quoted" \\ back').inc(2, exemplar={"trace_id": "abc123"})
Counter("kq_sent", "Bytes sent.", unit="bytes", registry=r).inc(1536)
Gauge("kq_temperature", "A gauge.", registry=r).set(float("-inf"))
Gauge("kq_nan", "Not a number.", registry=r).set(float("nan"))
h = Histogram("kq_latency_seconds", "Latency.", buckets=[0.1, 0.5, 1.0], registry=r)
for v in [0.05, 0.2, 0.3, 0.7, 3.0]:
    h.observe(v)
s = Summary("kq_size_bytes", "Sizes.", registry=r)
s.observe(100)
s.observe(300)
Info("kq_build", "Build.", registry=r).info({"version": "1.2.3", "branch": "main"})
Enum("kq_state", "State.", states=["starting", "running", "stopped"], registry=r).state("running")
class GaugeHistogram:
    def collect(self):
        yield GaugeHistogramMetricFamily("kq_queue_wait_seconds", "Queue waits.", buckets=[("1.0", 4), ("+Inf", 6)], gsum_value=7.5)
r.register(GaugeHistogram())
start_http_server(int(sys.argv[1]), addr="127.0.0.1", registry=r)
while True:
    time.sleep(3600)
"#;

fn openmetrics_peer(dir: &Path) -> Peer {
    let port = free_port();
    let script = dir.join("openmetrics_peer.py");
    std::fs::write(&script, OPENMETRICS_PEER).unwrap();
    // Debian's interpreter, which has Debian's python3-prometheus-client.
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(&script).arg(port.to_string());
    start(
        "python3 prometheus_client",
        cmd,
        port,
        &dir.join("openmetrics.log"),
    )
}

// ---------------------------------------------------------------------------------------------
// Reading expositions without our parser, to compare against

/// A GET as Prometheus makes it; (Content-Type, body).
async fn direct(url: &str) -> (String, String) {
    let r = kafkascope::sources::http_client_builder()
        .build()
        .unwrap()
        .get(url)
        .header("Accept", ACCEPT)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (ct, r.text().await.unwrap())
}

/// `name{a="1",b="2"}` (labels sorted) → value, from sample lines split by hand. Label values
/// are matched with a regex over the `{…}` part, exemplars cut at ` # {`.
fn naive(body: &str) -> BTreeMap<String, f64> {
    let label = regex::Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)""#).unwrap();
    let mut out = BTreeMap::new();
    for line in body.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let line = line.split(" # {").next().unwrap();
        let (series, rest) = match line.find('}') {
            Some(i) => (&line[..=i], line[i + 1..].trim()),
            None => line.split_once(' ').expect("a sample line"),
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut pairs: Vec<(String, String)> = label
            .captures_iter(labels)
            .map(|c| {
                let v = c[2]
                    .replace("\\n", "\n")
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\");
                (c[1].to_string(), v)
            })
            // An empty label value is an absent label, as in Prometheus.
            .filter(|(_, v)| !v.is_empty())
            .collect();
        pairs.sort();
        let value: f64 = rest.split(' ').next().unwrap().parse().unwrap();
        out.insert(key(name, &pairs), value);
    }
    out
}

fn key(name: &str, labels: &[(String, String)]) -> String {
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", l.join(","))
}

/// Our readings by the same key, without the target's `job` and `instance`.
fn ours(out: &ScrapeOutput) -> BTreeMap<String, (f64, MetricKind)> {
    out.readings
        .iter()
        .map(|r| {
            let pairs: Vec<(String, String)> = r
                .labels
                .iter()
                .filter(|(k, _)| *k != "job" && *k != "instance")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (key(&r.metric, &pairs), (r.value, r.kind))
        })
        .collect()
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// One source built from a config text, the way `serve` builds them.
fn source(config: &str) -> BoxedSource {
    let c = Config::parse(config, "test.toml").unwrap();
    let mut targets = build_all(&c).unwrap().targets;
    assert_eq!(targets.len(), 1);
    targets.remove(0).source
}

/// Gauges that count the observer itself (a scrape in progress is a running process, a busy
/// goroutine, an open socket and file), or small host-wide counts that any other process moves by
/// one and back: they can read one off during our scrape and equal in the direct ones around it
/// (seen in CI: `node_filefd_allocated` 750, 749, 750 while other tests opened files).
const OBSERVER_DEPENDENT: &[&str] = &[
    "node_procs_running{",
    "node_procs_blocked{",
    "go_goroutines{",
    "go_threads{",
    "process_open_fds{",
    "node_filefd_allocated{",
    "node_sockstat_",
    "node_netstat_Tcp_CurrEstab{",
];

/// Scrapes `url` directly, then through the source, then directly again; checks every series
/// that did not change between the two direct scrapes has our value, and returns our output and
/// the number of series compared.
async fn compare_with_direct(name: &str, url: &str) -> (ScrapeOutput, usize, String) {
    let mut src = source(&format!(
        "[[clusters]]\nname = \"lab\"\n[[clusters.prometheus]]\nname = \"{name}\"\nurl = \"{url}\"\n"
    ));
    let (content_type, first) = direct(url).await;
    let out = src
        .scrape(Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("scrape {url}: {e}"));
    let (_, second) = direct(url).await;
    let (before, after) = (naive(&first), naive(&second));
    let got = ours(&out);
    let mut compared = 0;
    for (k, v) in &before {
        let Some(v2) = after.get(k) else { continue };
        if !same(*v, *v2)
            || k.contains("_created{")
            || OBSERVER_DEPENDENT.iter().any(|m| k.starts_with(m))
        {
            continue;
        }
        let (o, _) = got
            .get(k)
            .unwrap_or_else(|| panic!("{name}: {k} = {v} is missing from our scrape"));
        assert!(same(*o, *v), "{name}: {k}: ours {o}, direct {v}");
        compared += 1;
    }
    let instance = url.trim_start_matches("http://").split('/').next().unwrap();
    for r in &out.readings {
        assert_eq!(r.labels.get("job"), Some(name), "{r:?}");
        assert_eq!(r.labels.get("instance"), Some(instance), "{r:?}");
    }
    (out, compared, content_type)
}

fn reading<'a>(
    out: &'a ScrapeOutput,
    metric: &str,
    label: Option<(&str, &str)>,
) -> &'a kafkascope::model::Reading {
    out.readings
        .iter()
        .find(|r| r.metric == metric && label.is_none_or(|(k, v)| r.labels.get(k) == Some(v)))
        .unwrap_or_else(|| panic!("no {metric} {label:?}"))
}

fn meta<'a>(out: &'a ScrapeOutput, name: &str) -> &'a kafkascope::catalogue::MetricMeta {
    out.metadata
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metadata for {name}"))
}

/// Every histogram's `_count` equals its `+Inf` bucket, for each label set; returns how many
/// histograms were checked.
fn histograms_are_whole(out: &ScrapeOutput) -> usize {
    let mut inf: HashMap<String, (f64, MetricKind)> = HashMap::new();
    for r in &out.readings {
        if let Some(base) = r.metric.strip_suffix("_bucket")
            && r.labels.get("le") == Some("+Inf")
        {
            let rest: Vec<String> = r
                .labels
                .iter()
                .filter(|(k, _)| *k != "le")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            inf.insert(format!("{base}|{}", rest.join(",")), (r.value, r.kind));
        }
    }
    let mut checked = 0;
    for r in &out.readings {
        if let Some(base) = r.metric.strip_suffix("_count") {
            let rest: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if let Some((v, kind)) = inf.get(&format!("{base}|{}", rest.join(","))) {
                assert_eq!(r.value, *v, "{base}: _count vs +Inf bucket");
                assert_eq!(r.kind, MetricKind::Counter, "{base}_count");
                assert_eq!(*kind, MetricKind::Counter, "{base}_bucket");
                checked += 1;
            }
        }
    }
    checked
}

// ---------------------------------------------------------------------------------------------
// Real peers, value by value

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_exporter_values_equal_a_direct_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let ne = node_exporter(dir.path());
    let url = format!("http://127.0.0.1:{}/metrics", ne.port);
    let (out, compared, content_type) = compare_with_direct("node", &url).await;
    eprintln!(
        "node_exporter: {} series, {compared} stable ones compared ({content_type})",
        out.readings.len()
    );
    assert!(compared > 300, "only {compared} stable series compared");
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    // Named stable series are among them.
    let (_, body) = direct(&url).await;
    let direct_values = naive(&body);
    let mem = reading(&out, "node_memory_MemTotal_bytes", None);
    assert_eq!(
        Some(&mem.value),
        direct_values.get("node_memory_MemTotal_bytes{}")
    );
    assert_eq!(mem.kind, MetricKind::Gauge);
    let fs = reading(
        &out,
        "node_filesystem_size_bytes",
        Some(("mountpoint", "/")),
    );
    assert!(fs.value > 0.0);
    let build = reading(&out, "node_exporter_build_info", None);
    assert_eq!(build.value, 1.0);
    assert!(build.labels.get("version").is_some());
    // Counters are counters, units come from the names.
    assert_eq!(
        reading(&out, "node_cpu_seconds_total", Some(("mode", "idle"))).kind,
        MetricKind::Counter
    );
    let m = meta(&out, "node_cpu_seconds_total");
    assert_eq!((m.kind, m.unit), (MetricType::Counter, Unit::Seconds));
    assert!(!m.help.is_empty());
    assert_eq!(meta(&out, "node_memory_MemTotal_bytes").unit, Unit::Bytes);
    assert_eq!(
        meta(&out, "go_gc_duration_seconds").kind,
        MetricType::Summary
    );
    assert_eq!(
        reading(&out, "go_gc_duration_seconds", Some(("quantile", "0.5"))).kind,
        MetricKind::Gauge
    );
    // The identity the targets page shows.
    assert_eq!(out.identity.get("job"), Some("node"));
    assert_eq!(
        out.identity.get("instance"),
        Some(format!("127.0.0.1:{}", ne.port).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_own_metrics_histograms_and_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let p = prometheus(dir.path());
    let url = format!("http://127.0.0.1:{}/metrics", p.port);
    // Wait until it has scraped itself a few times, so its histograms have observations.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = direct(&url).await;
        let scraped = body.lines().any(|l| {
            l.starts_with("prometheus_target_interval_length_seconds_count") && !l.ends_with(" 0")
        });
        if scraped {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not scrape itself"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (out, compared, content_type) = compare_with_direct("prometheus", &url).await;
    eprintln!(
        "prometheus: {} series, {compared} stable ones compared ({content_type})",
        out.readings.len()
    );
    assert!(compared > 200, "only {compared} stable series compared");
    let histograms = histograms_are_whole(&out);
    assert!(histograms >= 5, "{histograms} histograms checked");
    let b = reading(
        &out,
        "prometheus_http_request_duration_seconds_bucket",
        Some(("handler", "/metrics")),
    );
    assert_eq!(b.kind, MetricKind::Counter);
    assert!(b.labels.get("le").is_some());
    let m = meta(&out, "prometheus_http_request_duration_seconds");
    assert_eq!((m.kind, m.unit), (MetricType::Histogram, Unit::Seconds));
    assert_eq!(
        meta(&out, "prometheus_http_request_duration_seconds_bucket").unit,
        Unit::None,
        "a bucket counts observations"
    );
    // A summary: quantiles are gauges with the family's unit, _sum/_count counters.
    let q = reading(
        &out,
        "prometheus_target_interval_length_seconds",
        Some(("quantile", "0.99")),
    );
    assert_eq!(q.kind, MetricKind::Gauge);
    assert_eq!(
        reading(
            &out,
            "prometheus_target_interval_length_seconds_count",
            None
        )
        .kind,
        MetricKind::Counter
    );
    let m = meta(&out, "prometheus_target_interval_length_seconds");
    assert_eq!((m.kind, m.unit), (MetricType::Summary, Unit::Seconds));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkascope_own_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "[server]\n");
    // Some traffic, so its request histogram has observations.
    for _ in 0..3 {
        direct(&server.url("/healthz")).await;
    }
    let url = server.url("/metrics");
    let (out, compared, _) = compare_with_direct("kafkascope", &url).await;
    eprintln!(
        "kafkascope: {} series, {compared} stable ones compared",
        out.readings.len()
    );
    assert!(compared > 10, "only {compared} stable series compared");
    assert!(histograms_are_whole(&out) >= 1);
    let b = reading(
        &out,
        "kafkascope_http_request_duration_seconds_bucket",
        Some(("route", "/healthz")),
    );
    assert_eq!(b.kind, MetricKind::Counter);
    assert_eq!(
        reading(
            &out,
            "kafkascope_http_requests_total",
            Some(("route", "/healthz"))
        )
        .kind,
        MetricKind::Counter
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openmetrics_from_the_python_client() {
    let dir = tempfile::tempdir().unwrap();
    let peer = openmetrics_peer(dir.path());
    let url = format!("http://127.0.0.1:{}/metrics", peer.port);
    let (out, compared, content_type) = compare_with_direct("py", &url).await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let (_, body) = direct(&url).await;
    assert!(body.contains(" # {trace_id=\"abc123\"}"), "{body}");
    assert!(body.ends_with("# EOF\n"));
    let created = body
        .lines()
        .filter(|l| l.contains("_created") && !l.starts_with('#'))
        .count();
    assert!(created >= 4);
    let all = naive(&body).len();
    assert_eq!(
        out.readings.len(),
        all - created,
        "every series but _created"
    );
    assert_eq!(compared, all - created);
    let r = reading(
        &out,
        "kq_requests_total",
        Some(("path", "/b \"quoted\" \\ back")),
    );
    assert_eq!((r.value, r.kind), (2.0, MetricKind::Counter));
    assert_eq!(
        reading(&out, "kq_temperature", None).value,
        f64::NEG_INFINITY
    );
    assert!(reading(&out, "kq_nan", None).value.is_nan());
    assert_eq!(
        reading(&out, "kq_latency_seconds_bucket", Some(("le", "0.5"))).value,
        3.0
    );
    assert_eq!(histograms_are_whole(&out), 1);
    assert_eq!(
        reading(&out, "kq_queue_wait_seconds_bucket", Some(("le", "+Inf"))).kind,
        MetricKind::Gauge,
        "a gauge histogram's buckets go up and down"
    );
    assert_eq!(
        reading(&out, "kq_state", Some(("kq_state", "running"))).value,
        1.0
    );
    assert_eq!(
        reading(&out, "kq_build_info", Some(("version", "1.2.3"))).value,
        1.0
    );
    let m = meta(&out, "kq_requests");
    assert_eq!(m.help, "Requests \"served\".\nSecond line.");
    assert_eq!(m.kind, MetricType::Counter);
    assert_eq!(meta(&out, "kq_sent_bytes").unit, Unit::Bytes);
    assert_eq!(meta(&out, "kq_sent_bytes_total").unit, Unit::Bytes);
    assert_eq!(meta(&out, "kq_state").kind, MetricType::State);
    assert_eq!(meta(&out, "kq_build").kind, MetricType::Info);
    assert_eq!(
        meta(&out, "kq_queue_wait_seconds").kind,
        MetricType::Histogram
    );
}

// ---------------------------------------------------------------------------------------------
// Bad endpoints through the collector

/// A small HTTP/1.1 server with one route per kind of trouble. It records the `Accept` and
/// `Accept-Encoding` headers of `/good` requests.
struct BadServer {
    port: u16,
    /// Accept, Accept-Encoding and X-Prometheus-Scrape-Timeout-Seconds of each `/good` request.
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
}

const GOOD: &str =
    "# HELP good_total Things done.\n# TYPE good_total counter\ngood_total{n=\"1\"} 42\n";
const USER: &str = "scraper";
const PASSWORD: &str = "pa55-w0rd-never-shown-7781";
const TOKEN: &str = "t0ken-never-shown-5512";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

async fn bad_server() -> BadServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    // 64 MiB of valid exposition lines, gzipped to a few hundred KiB.
    let bomb = Arc::new(gzip(&b"bomb_metric 1\n".repeat(64 << 20 >> 4)));
    let many: Arc<String> = Arc::new(
        (0..60)
            .map(|i| format!("many{{i=\"{i}\"}} {i}\n"))
            .collect(),
    );
    let om_gzip = Arc::new(gzip(
        b"# TYPE om_things counter\nom_things_total 5\nom_things_created 1.7e9\n# EOF\n",
    ));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let (seen, bomb, many, om_gzip) =
                (seen2.clone(), bomb.clone(), many.clone(), om_gzip.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let target = head.split(' ').nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/").to_string();
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                        })
                        .unwrap_or_default()
                };
                let reply = |status: &str, ctype: &str, extra: &str, body: &[u8]| {
                    let mut r = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                };
                let text = "text/plain; version=0.0.4; charset=utf-8";
                let out = match path.as_str() {
                    "/good" => {
                        seen.lock().unwrap().push((
                            header("accept"),
                            header("accept-encoding"),
                            header("x-prometheus-scrape-timeout-seconds"),
                        ));
                        reply("200 OK", text, "", GOOD.as_bytes())
                    }
                    "/om-gzip" => reply(
                        "200 OK",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        "Content-Encoding: gzip\r\n",
                        &om_gzip,
                    ),
                    "/auth" if header("authorization") == basic(USER, PASSWORD) => {
                        reply("200 OK", text, "", b"authed 1\n")
                    }
                    "/auth" => reply("401 Unauthorized", "text/plain", "", b"who are you?\n"),
                    "/bearer" if header("authorization") == format!("Bearer {TOKEN}") => {
                        reply("200 OK", text, "", b"bearer_ok 1\n")
                    }
                    "/bearer" => reply("401 Unauthorized", "text/plain", "", b"no\n"),
                    "/html" => reply(
                        "200 OK",
                        "text/html; charset=utf-8",
                        "",
                        b"<!DOCTYPE html>\n<html><body>Login</body></html>\n",
                    ),
                    "/loop" => reply("302 Found", "text/plain", "Location: /loop\r\n", b""),
                    "/many" => reply("200 OK", text, "", many.as_bytes()),
                    "/bomb" => reply("200 OK", text, "Content-Encoding: gzip\r\n", &bomb),
                    "/hang" => {
                        // Accept, read the request, never answer.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    "/endless" | "/trickle" => {
                        let _ = s
                            .write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: {text}\r\nConnection: close\r\n\r\n").as_bytes())
                            .await;
                        let chunk = b"endless_metric 1\n".repeat(512);
                        loop {
                            if s.write_all(&chunk).await.is_err() {
                                return;
                            }
                            if path == "/trickle" {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                    _ => reply("404 Not Found", "text/plain", "", b"404 page not found\n"),
                };
                let _ = s.write_all(&out).await;
                let _ = s.shutdown().await;
            });
        }
    });
    BadServer { port, seen }
}

/// `openssl s_server -www` with a certificate for 127.0.0.1 signed by a CA made here.
fn tls_server(dir: &Path) -> Peer {
    support::tls::make_certificates(dir);
    let port = free_port();
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_server", "-quiet", "-www", "-cert", "cert.pem", "-key", "key.pem",
    ])
    .args(["-accept", &format!("127.0.0.1:{port}")])
    .current_dir(dir);
    start("openssl s_server", cmd, port, &dir.join("s_server.log"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_endpoints_fail_alone_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = bad_server().await;
    let tls = tls_server(dir.path());
    let pw = dir.path().join("password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let wrong = dir.path().join("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let base = format!("http://127.0.0.1:{}", server.port);
    let ca = dir.path().join("ca.pem");
    let targets: Vec<(&str, String, String)> = vec![
        ("good", format!("{base}/good"), String::new()),
        ("om-gzip", format!("{base}/om-gzip"), String::new()),
        (
            "auth",
            format!("{base}/auth"),
            format!(
                "username = \"{USER}\"\npassword_file = {:?}\n",
                pw.display().to_string()
            ),
        ),
        (
            "bearer",
            format!("{base}/bearer"),
            format!("bearer_token_file = {:?}\n", token.display().to_string()),
        ),
        (
            "wrong-password",
            format!("{base}/auth?wrong"),
            format!(
                "username = \"{USER}\"\npassword_file = {:?}\n",
                wrong.display().to_string()
            ),
        ),
        (
            "no-password-file",
            format!("{base}/auth?absent"),
            format!(
                "username = \"{USER}\"\npassword_file = {:?}\n",
                dir.path().join("absent").display().to_string()
            ),
        ),
        ("html", format!("{base}/html"), String::new()),
        ("missing", format!("{base}/missing"), String::new()),
        ("loop", format!("{base}/loop"), String::new()),
        ("hang", format!("{base}/hang"), String::new()),
        (
            "endless",
            format!("{base}/endless"),
            "body_limit = \"256KiB\"\n".into(),
        ),
        ("trickle", format!("{base}/trickle"), String::new()),
        ("bomb", format!("{base}/bomb"), String::new()),
        ("many", format!("{base}/many"), "series_limit = 50\n".into()),
        (
            "tls-untrusted",
            format!("https://127.0.0.1:{}/metrics", tls.port),
            String::new(),
        ),
        (
            "tls-trusted",
            format!("https://127.0.0.1:{}/trusted", tls.port),
            format!("tls_ca_file = {:?}\n", ca.display().to_string()),
        ),
    ];
    let mut config = String::from("[[clusters]]\nname = \"lab\"\ninterval = \"2s\"\n");
    for (name, url, extra) in &targets {
        config.push_str(&format!(
            "[[clusters.prometheus]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}"
        ));
    }
    let config = Config::parse(&config, "bad.toml").unwrap();
    let plan = build_all(&config).unwrap();
    let debug: Vec<String> = plan
        .targets
        .iter()
        .map(|t| format!("{:?}", t.source.target_info()))
        .collect();
    let store = Store::open(StoreConfig::new(dir.path().join("bad.db")))
        .await
        .unwrap();
    let catalogue = kafkascope::sources::catalogue();
    let mut collector = Collector::new(store.clone(), catalogue.clone(), Duration::from_secs(2));
    let registry = collector.registry();
    for t in plan.targets {
        collector.spawn_planned(t);
    }
    // Every target scraped at least once and the good one three times.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let snap = registry.snapshot();
        let done = snap.iter().all(|s| s.scrapes_total >= 1)
            && snap
                .iter()
                .any(|s| s.identity.get("job") == Some("good") && s.scrapes_total >= 3);
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "targets not scraped: {snap:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let snap = registry.snapshot();
    let status = |name: &str| {
        let (_, url, _) = targets.iter().find(|t| t.0 == name).unwrap();
        snap.iter()
            .find(|s| &s.target == url)
            .unwrap_or_else(|| panic!("no status for {name}: {snap:#?}"))
            .clone()
    };
    for good in ["good", "om-gzip", "auth", "bearer"] {
        let s = status(good);
        assert_eq!(s.up, Some(true), "{good}: {:?}", s.last_error);
        assert_eq!(s.identity.get("job"), Some(good));
    }
    assert!(status("good").scrapes_total >= 3 && status("good").failures_total == 0);
    let expect: &[(&str, &[&str])] = &[
        ("wrong-password", &["HTTP 401 Unauthorized from"]),
        ("no-password-file", &["cannot read password_file", "absent"]),
        (
            "html",
            &[
                "not a Prometheus exposition (text 0.0.4): line 1: expected a metric name, found '<'",
                "text/html",
            ],
        ),
        ("missing", &["HTTP 404 Not Found from http://127.0.0.1:"]),
        ("loop", &["too many redirects"]),
        ("hang", &["no HTTP response within"]),
        ("endless", &["body larger than 256 KiB"]),
        ("trickle", &["body not complete within"]),
        (
            "bomb",
            &["body larger than 16 MiB", "after gzip decompression"],
        ),
        ("many", &["60 series, more than series_limit 50"]),
        (
            "tls-untrusted",
            &["invalid peer certificate: UnknownIssuer"],
        ),
        ("tls-trusted", &["not a Prometheus exposition"]),
    ];
    for (name, needles) in expect {
        let s = status(name);
        assert_eq!(s.up, Some(false), "{name}: {s:?}");
        let e = s.last_error.as_deref().unwrap_or("");
        assert!(e.starts_with(s.target.as_str()), "{name}: {e}");
        for n in *needles {
            assert!(e.contains(n), "{name}: {n:?} not in {e:?}");
        }
        eprintln!("{name}: {e}");
    }
    // The Accept header is Prometheus' and gzip is offered.
    let seen = server.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for (accept, encoding, timeout) in &seen {
        assert_eq!(accept, ACCEPT);
        assert!(encoding.contains("gzip"), "{encoding}");
        // The cluster's 2 s interval gives a 1.6 s timeout, less our 10% margin.
        assert_eq!(timeout, "1.440");
    }
    // The store agrees: up is 1 for the good targets and 0 for the rest, and the good series are
    // there with their kind and the target's labels.
    let up = store.select(Some("up"), &[Matcher::eq("source", "prometheus")]);
    assert_eq!(up.len(), targets.len(), "one up series per target: {up:?}");
    let latest = store.latest(&up.iter().map(|s| s.id).collect::<Vec<_>>());
    let ups: Vec<f64> = latest.iter().map(|l| l.unwrap().1).collect();
    assert_eq!(
        ups.iter().filter(|v| **v == 1.0).count(),
        4,
        "{up:?} {ups:?}"
    );
    let good = store.select(Some("good_total"), &[Matcher::eq("job", "good")]);
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].kind, MetricKind::Counter);
    assert_eq!(good[0].key.labels.get("cluster"), Some("lab"));
    assert_eq!(
        good[0].key.labels.get("instance"),
        Some(format!("127.0.0.1:{}", server.port).as_str())
    );
    assert_eq!(store.latest(&[good[0].id])[0].unwrap().1, 42.0);
    let om = store.select(Some("om_things_total"), &[Matcher::eq("job", "om-gzip")]);
    assert_eq!((om.len(), om[0].kind), (1, MetricKind::Counter));
    assert!(store.select(Some("om_things_created"), &[]).is_empty());
    assert!(store.select(Some("bomb_metric"), &[]).is_empty());
    assert!(
        store.select(Some("many"), &[]).is_empty(),
        "nothing of a target over its limit"
    );
    assert_eq!(catalogue.get("good_total").unwrap().help, "Things done.");
    // Secrets appear nowhere: not in statuses, errors, or Debug output.
    let everything = format!("{snap:?}{debug:?}");
    assert!(!everything.contains(PASSWORD) && !everything.contains(TOKEN));
    collector.shutdown().await;
    store.close().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// The user's path

#[test]
fn from_a_config_file_to_the_api_and_the_targets_page() {
    let dir = tempfile::tempdir().unwrap();
    let ne = node_exporter(dir.path());
    let url = format!("http://127.0.0.1:{}/metrics", ne.port);
    let secret = "correct-horse-battery-staple-9931";
    let pw = dir.path().join("node.password");
    std::fs::write(&pw, format!("{secret}\n")).unwrap();
    let config = format!(
        r#"[collector]
interval = "1s"

[[clusters]]
name = "lab"

[[clusters.prometheus]]
name = "node"
url = "{url}"
labels = {{ host = "lab-host" }}
username = "kafkascope"
password_file = {pw:?}
metric_deny = ["go_.*"]

[[clusters.prometheus]]
name = "nothing-here"
url = "http://127.0.0.1:{closed}/metrics"
"#,
        pw = pw.display().to_string(),
        closed = free_port(),
    );
    let file = dir.path().join("kafkascope.toml");
    std::fs::write(&file, &config).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_kafkascope"))
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("2 targets"));

    let server = Server::start_with(dir.path(), &file);
    let selector = "node_memory_MemTotal_bytes{job=\"node\"}";
    let result = wait_for(
        "node_exporter's series in the API",
        Duration::from_secs(60),
        || {
            let r = query(&server.base, selector);
            (!r.is_empty()).then_some(r)
        },
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_, body) = rt.block_on(direct(&url));
    let direct_value = naive(&body)["node_memory_MemTotal_bytes{}"];
    assert_eq!(result.len(), 1);
    let (labels, value) = &result[0];
    assert_eq!(*value, direct_value);
    for (k, v) in [
        ("cluster", "lab".to_string()),
        ("job", "node".to_string()),
        ("instance", format!("127.0.0.1:{}", ne.port)),
        ("host", "lab-host".to_string()),
    ] {
        assert_eq!(
            labels.get(k).and_then(|v| v.as_str()),
            Some(v.as_str()),
            "{labels:?}"
        );
    }
    // metric_deny kept go_* out; counters are counters (rate works on them).
    assert!(query(&server.base, "go_goroutines").is_empty());
    let rate = wait_for(
        "a rate over node_cpu_seconds_total",
        Duration::from_secs(30),
        || {
            let r = query(
                &server.base,
                "sum(rate(node_cpu_seconds_total{job=\"node\"}[10s]))",
            );
            r.first().filter(|(_, v)| v.is_finite()).map(|(_, v)| *v)
        },
    );
    assert!(rate >= 0.0);
    // up for both targets: node up, the closed port down.
    let up = wait_for("up of both targets", Duration::from_secs(30), || {
        let r = query(&server.base, "up{source=\"prometheus\"}");
        (r.len() == 2).then_some(r)
    });
    let by_target: BTreeMap<String, f64> = up
        .iter()
        .map(|(l, v)| (l["target"].as_str().unwrap().to_string(), *v))
        .collect();
    assert_eq!(by_target.get(&url), Some(&1.0), "{by_target:?}");
    assert_eq!(by_target.values().filter(|v| **v == 0.0).count(), 1);
    // Metadata learned from the exposition answers /api/v1/metadata.
    let (status, meta) = get(&server.url(&format!(
        "/api/v1/metadata?metric={}",
        urlencode("node_memory_MemTotal_bytes")
    )));
    assert_eq!(status, 200);
    assert!(meta.contains("gauge") && meta.contains("bytes"), "{meta}");
    // The targets page lists both, with the identity and the error.
    let (status, page) = get(&server.url("/targets"));
    assert_eq!(status, 200);
    assert!(page.contains(&url), "node target missing from /targets");
    assert!(
        page.contains("lab-host"),
        "identity labels missing from /targets"
    );
    assert!(page.contains("Connection refused"), "no error on /targets");
    // The password is nowhere: pages, API answers, the log.
    let (_, series) = get(&server.url("/api/v1/series?match[]=up"));
    for (what, text) in [
        ("/targets", page.as_str()),
        ("/api/v1/series", series.as_str()),
        ("the log", server.log().as_str()),
        ("the config check", &String::from_utf8_lossy(&check.stdout)),
    ] {
        assert!(!text.contains(secret), "the password shows in {what}");
    }
    // Positive control: the log does carry this server's scrape activity.
    assert!(server.log().contains("Scrape failed"), "{}", server.log());
}

/// The user's path to the endpoint pages: a config naming Debian's Prometheus (histograms and
/// summaries in its own `/metrics`) and a closed port; the overview tile, `/prometheus` and the
/// endpoint's page show them.
#[test]
fn endpoint_pages_lay_out_every_series_with_histograms_as_quantiles() {
    let dir = tempfile::tempdir().unwrap();
    let prom = prometheus(dir.path());
    let url = format!("http://127.0.0.1:{}/metrics", prom.port);
    let config = format!(
        // Port 1: nothing listens there (a port picked free now could be taken by the server).
        "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\n\n[[clusters.prometheus]]\nname = \"prom\"\nurl = \"{url}\"\n\n[[clusters.prometheus]]\nname = \"gone\"\nurl = \"http://127.0.0.1:1/metrics\"\n"
    );
    let server = Server::start(dir.path(), &config);
    // A few scrapes, so that histogram buckets have increases to draw.
    wait_for(
        "requests counted by Prometheus",
        Duration::from_secs(60),
        || {
            let r = query(
                &server.base,
                "sum(increase(prometheus_http_request_duration_seconds_count{job=\"prom\"}[1m]))",
            );
            r.first().filter(|(_, v)| *v > 0.0).map(|_| ())
        },
    );
    std::thread::sleep(Duration::from_secs(3));

    let (status, overview) = get(&server.url("/?range=1h"));
    assert_eq!(status, 200);
    assert!(
        overview.contains(">Prometheus endpoints</a>") && overview.contains("1 down: gone"),
        "the overview tile names the down endpoint: {overview}"
    );
    assert!(overview.contains(">Endpoints</a>"), "a navigation entry");

    let (status, list) = get(&server.url("/prometheus?range=1h"));
    assert_eq!(status, 200, "{list}");
    assert!(list.contains(">prom</a>") && list.contains(">gone</a>"));
    assert!(
        list.contains("Connection refused"),
        "the down endpoint's error"
    );

    let (status, page) = get(&server.url("/prometheus/lab/prom?range=1h&open=all"));
    assert_eq!(status, 200, "{page}");
    for group in [
        "<h2>Scrape</h2>",
        "<h2>prometheus_http</h2>",
        "<h2>go_gc</h2>",
    ] {
        assert!(page.contains(group), "group {group} on the endpoint page");
    }
    // The request-duration histogram is one chart with quantile lines, not a line per bucket.
    let chart_of = |title: &str| -> String {
        let at = page
            .find(&format!(">{title}"))
            .unwrap_or_else(|| panic!("no chart titled {title}"));
        let end = page[at..].find("</figure>").map_or(page.len(), |e| at + e);
        page[at..end].to_string()
    };
    let hist = chart_of("prometheus_http_request_duration_seconds {");
    assert!(
        hist.contains("p50") && hist.contains("p99"),
        "histogram quantile lines: {hist}"
    );
    assert!(!hist.contains("le=&#34;0.1&#34;"), "no line per bucket");
    assert!(page.contains("Scrape up"), "the scrape state strip");
    assert_eq!(get(&server.url("/prometheus/lab/nothing")).0, 404);
}
