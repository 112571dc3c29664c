//! A real environment for web tests: a store on a temp SQLite file filled through the store API
//! with ZooKeeper series shaped like a real `mntr` (tests/fixtures/zookeeper), the real server on
//! 127.0.0.1:0, and an HTTP client.

#![allow(dead_code)]

use kafkascope::config::Config;
use kafkascope::model::{Event, Labels, MetricKind, SeriesKey, Severity, Timestamp, now_ms};
use kafkascope::store::{SeriesId, Store, StoreConfig};
use kafkascope::targets::{TargetRegistry, TargetStatus};
use kafkascope::web::{AppState, serve};
use std::sync::Arc;
use tokio::sync::oneshot;

pub const TOKEN: &str = "web-test-token-5f2b9e71c4";
pub const CLUSTER: &str = "lab";
/// (server, mode): zk3 is configured but never reached.
pub const SERVERS: [(&str, &str); 2] = [("zk1:2181", "leader"), ("zk2:2182", "follower")];
pub const DOWN_SERVER: &str = "zk3:2183";
pub const DOWN_ERROR: &str = "connect to zk3:2183: Connection refused (os error 111)";
pub const SCRIPT: &str = "<script>alert(1)</script>";
pub const SCRAPE_MS: i64 = 15_000;

pub const MNTR: &str = include_str!("../fixtures/zookeeper/leader_mntr.txt");
pub const CONF: &str = include_str!("../fixtures/zookeeper/leader_conf.txt");
pub const ENVI: &str = include_str!("../fixtures/zookeeper/leader_envi.txt");

pub struct Env {
    pub base: String,
    pub store: Store,
    pub targets: TargetRegistry,
    pub client: reqwest::Client,
    /// End of the written data (a 15 s multiple shortly before the wall clock).
    pub end: Timestamp,
    /// Start of the written data.
    pub start: Timestamp,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Env {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// GET and return (status, body).
    pub async fn text(&self, path: &str) -> (u16, String) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    pub async fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        let body = r.text().await.expect("body");
        let v = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"));
        (status, v)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.expect("server task").expect("server result");
        }
        self.store.close().await.expect("close store");
    }
}

pub fn config(with_token: bool) -> Config {
    let token = if with_token {
        format!("write_token = \"{TOKEN}\"\n")
    } else {
        String::new()
    };
    let text = format!(
        "[server]\n{token}\n[[clusters]]\nname = \"{CLUSTER}\"\nzookeeper = [\"{}\", \"{}\", \"{DOWN_SERVER}\"]\n",
        SERVERS[0].0, SERVERS[1].0
    );
    Config::parse(&text, "test.toml").expect("test config")
}

/// The numeric `mntr` lines of the fixture: (metric, value, kind).
pub fn mntr_template() -> Vec<(String, f64, MetricKind)> {
    MNTR.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('\t')?;
            let v: f64 = v.trim().parse().ok()?;
            let counter = k.starts_with("zk_cnt_")
                || k.starts_with("zk_sum_")
                || matches!(k, "zk_packets_received" | "zk_packets_sent");
            Some((
                k.to_string(),
                v,
                if counter {
                    MetricKind::Counter
                } else {
                    MetricKind::Gauge
                },
            ))
        })
        .collect()
}

fn key(metric: &str, labels: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(metric, Labels::from_pairs(labels.iter().copied()))
}

/// The series one ZooKeeper server reports, and how each value evolves with the scrape index `i`.
/// Scrape indexes added to counters so they stay positive back to the week-ago hour.
const COUNTER_BASE: i64 = 100_000;

/// Values tests check exactly: `zk_znode_count = 1000 + i`, `zk_packets_received = 15·i` (1/s),
/// `zk_avg_latency = i mod 7` (i is negative before the start, for the week-ago hour). Series
/// that are 0 in the captured `mntr` stay 0 (as on the real server); the others move.
pub struct ZkSeries {
    pub keys: Vec<(SeriesKey, MetricKind)>,
    template: Vec<(String, f64, MetricKind)>,
    mode: &'static str,
}

impl ZkSeries {
    pub fn new(server: &str, mode: &'static str) -> ZkSeries {
        let labels = [("cluster", CLUSTER), ("server", server)];
        let template: Vec<_> = mntr_template()
            .into_iter()
            .filter(|(k, _, _)| {
                k != "zk_server_state"
                    && (mode == "leader"
                        || !matches!(
                            k.as_str(),
                            "zk_learners" | "zk_synced_followers" | "zk_pending_syncs"
                        ))
            })
            .collect();
        let mut keys: Vec<(SeriesKey, MetricKind)> = template
            .iter()
            .map(|(m, _, kind)| (key(m, &labels), *kind))
            .collect();
        for state in ["leader", "follower", "looking"] {
            keys.push((
                key(
                    "zk_server_state",
                    &[("cluster", CLUSTER), ("server", server), ("state", state)],
                ),
                MetricKind::Gauge,
            ));
        }
        keys.push((key("zk_zxid_epoch", &labels), MetricKind::Gauge));
        keys.push((key("zk_zxid_counter", &labels), MetricKind::Gauge));
        keys.push((
            key(
                "zk_version_info",
                &[
                    ("cluster", CLUSTER),
                    ("server", server),
                    ("version", "3.8.0"),
                ],
            ),
            MetricKind::Gauge,
        ));
        let up = [
            ("cluster", CLUSTER),
            ("source", "zookeeper"),
            ("target", server),
        ];
        keys.push((key("up", &up), MetricKind::Gauge));
        keys.push((key("scrape_duration_seconds", &up), MetricKind::Gauge));
        ZkSeries {
            keys,
            template,
            mode,
        }
    }

    /// Values for scrape `i`, in `keys` order.
    pub fn values(&self, i: i64) -> Vec<f64> {
        let mut out: Vec<f64> = self
            .template
            .iter()
            .map(|(m, v, kind)| match m.as_str() {
                "zk_znode_count" => 1000.0 + i as f64,
                // Counters stay positive and increasing even for the week-ago hour (negative i).
                "zk_packets_received" => 15.0 * (i + COUNTER_BASE) as f64,
                "zk_packets_sent" => 10.0 * (i + COUNTER_BASE) as f64,
                "zk_avg_latency" => i.rem_euclid(7) as f64,
                "zk_max_latency" => i.rem_euclid(7) as f64 * 3.0,
                "zk_outstanding_requests" => i.rem_euclid(4) as f64,
                // What is zero on a real server (most counters and gauges of an idle feature)
                // stays zero, as it does there.
                _ if *v == 0.0 => 0.0,
                _ if *kind == MetricKind::Counter => v + (i + COUNTER_BASE) as f64,
                _ => v + i.rem_euclid(5) as f64,
            })
            .collect();
        for state in ["leader", "follower", "looking"] {
            out.push(if state == self.mode { 1.0 } else { 0.0 });
        }
        out.push(2.0);
        out.push(7.0 + i as f64);
        out.push(1.0);
        out.push(1.0);
        out.push(0.004 + i.rem_euclid(3) as f64 * 0.001);
        out
    }
}

/// Writes scrapes `from..=to` (every 15 s) for the servers, ascending, in batches.
pub async fn write_scrapes(
    store: &Store,
    servers: &[(ZkSeries, Vec<SeriesId>)],
    start: Timestamp,
    from: Timestamp,
    to: Timestamp,
) {
    let mut batch: Vec<(SeriesId, Timestamp, f64)> = Vec::new();
    let mut ts = from;
    while ts <= to {
        let i = (ts - start) / SCRAPE_MS;
        for (s, ids) in servers {
            for (id, v) in ids.iter().zip(s.values(i)) {
                batch.push((*id, ts, v));
            }
        }
        if batch.len() > 20_000 {
            let r = store.append(&batch, &[]).await.expect("append");
            assert_eq!(r.rejected, 0, "the store refused samples");
            batch.clear();
        }
        ts += SCRAPE_MS;
    }
    if !batch.is_empty() {
        let r = store.append(&batch, &[]).await.expect("append");
        assert_eq!(r.rejected, 0, "the store refused samples");
    }
}

pub fn status(server: &str, up: Option<bool>, error: Option<&str>, now: Timestamp) -> TargetStatus {
    TargetStatus {
        cluster: CLUSTER.into(),
        source: "zookeeper",
        target: server.into(),
        identity: Labels::from_pairs([("server", server)]),
        interval_ms: SCRAPE_MS,
        timeout_ms: 10_000,
        up,
        last_scrape: Some(now - 3_000),
        last_success: if up == Some(true) {
            Some(now - 3_000)
        } else {
            None
        },
        last_error: error.map(str::to_string),
        warnings: vec![],
        last_duration_ms: Some(4.2),
        last_samples: 430,
        consecutive_failures: if up == Some(false) { 12 } else { 0 },
        next_scrape: Some(now + 12_000),
        scrapes_total: 480,
        failures_total: if up == Some(false) { 480 } else { 0 },
    }
}

/// Starts a server over a store holding `hours` of scrapes for two ZooKeeper servers ending now,
/// one hour of zk1 latency a week ago, events, documents and an escaping probe.
pub async fn start_with(with_token: bool, hours: i64) -> Env {
    start_span(with_token, hours * 3_600_000).await
}

/// [`start_with`] with the history's length in milliseconds (ten minutes, say, as a server that
/// just started has).
pub async fn start_span(with_token: bool, span_ms: i64) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreConfig::new(dir.path().join("web.db")))
        .await
        .expect("open store");
    let now = now_ms();
    let end = now - now.rem_euclid(SCRAPE_MS) - SCRAPE_MS;
    let start = end - span_ms;

    let mut servers = Vec::new();
    for (server, mode) in SERVERS {
        let s = ZkSeries::new(server, mode);
        let ids = store.resolve(&s.keys).await.expect("resolve");
        servers.push((s, ids));
    }
    // A week ago: one hour of zk1 only (for compare=1w).
    let week = 7 * 86_400_000;
    write_scrapes(
        &store,
        &servers[..1],
        start,
        end - week - 3_600_000,
        end - week,
    )
    .await;
    write_scrapes(&store, &servers, start, start, end).await;
    // The never-reached server: its failed scrapes write up=0, as the collector does.
    let down_up = store
        .resolve(&[(
            key(
                "up",
                &[
                    ("cluster", CLUSTER),
                    ("source", "zookeeper"),
                    ("target", DOWN_SERVER),
                ],
            ),
            MetricKind::Gauge,
        )])
        .await
        .expect("resolve")[0];
    let failed: Vec<(SeriesId, Timestamp, f64)> = (0..)
        .map(|i| start + 60_000.min(span_ms) + i * SCRAPE_MS)
        .take_while(|ts| *ts <= end)
        .map(|ts| (down_up, ts, 0.0))
        .collect();
    store.append(&failed, &[]).await.expect("append up=0");

    let probe = key(
        "kafkascope_test_escape",
        &[("cluster", CLUSTER), ("note", SCRIPT)],
    );
    let pid = store
        .resolve(&[(probe, MetricKind::Gauge)])
        .await
        .expect("resolve")[0];
    let events = [
        Event {
            // Half an hour in, or at the end of a shorter history (never in the future).
            ts: (start + 1_800_000).min(end),
            kind: "zk_leader_change".into(),
            severity: Severity::Warning,
            cluster: CLUSTER.into(),
            subject: SERVERS[0].0.into(),
            message: format!("{} became leader", SERVERS[0].0),
        },
        Event {
            ts: start + 60_000.min(span_ms),
            kind: "target_down".into(),
            severity: Severity::Critical,
            cluster: CLUSTER.into(),
            subject: DOWN_SERVER.into(),
            message: DOWN_ERROR.into(),
        },
        Event {
            ts: end - 600_000,
            kind: "annotation".into(),
            severity: Severity::Info,
            cluster: CLUSTER.into(),
            subject: String::new(),
            message: format!("deploy {SCRIPT}"),
        },
    ];
    store
        .append(&[(pid, end, 1.0)], &events)
        .await
        .expect("append events");
    store
        .put_document(CLUSTER, SERVERS[0].0, "conf", end, CONF)
        .await
        .expect("conf");
    store
        .put_document(CLUSTER, SERVERS[0].0, "envi", end, ENVI)
        .await
        .expect("envi");

    let targets = TargetRegistry::default();
    targets.register(status(SERVERS[0].0, Some(true), None, now));
    targets.register(status(SERVERS[1].0, Some(true), None, now));
    targets.register(status(DOWN_SERVER, Some(false), Some(DOWN_ERROR), now));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let state = AppState {
        store: store.clone(),
        targets: targets.clone(),
        config: Arc::new(config(with_token)),
        catalogue: kafkascope::sources::catalogue(),
    };
    let server = tokio::spawn(serve(listener, state, async move {
        let _ = rx.await;
    }));
    Env {
        base: format!("http://{addr}"),
        store,
        targets,
        client: kafkascope::sources::http_client_builder()
            .build()
            .expect("HTTP client"),
        end,
        start,
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

pub async fn start() -> Env {
    start_with(true, 2).await
}

/// Percent-encodes a query parameter.
pub fn enc(s: &str) -> String {
    kafkascope::web::format::urlencode(s)
}
