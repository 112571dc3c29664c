//! A real environment for the lag engine's tests: a SQLite store seeded through the store API
//! with the series and documents the kafka source writes (see the kafka contract), shaped after
//! Burrow 1.2's captured responses (tests/fixtures/burrow-v3), and the real server on
//! 127.0.0.1:0.

#![allow(dead_code)]

use kafkascope::config::Config;
use kafkascope::model::{Labels, MetricKind, Sample, SeriesKey, Timestamp};
use kafkascope::store::{Store, StoreConfig};
use kafkascope::targets::{TargetRegistry, TargetStatus};
use kafkascope::web::{AppState, serve};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::oneshot;

pub const CLUSTER: &str = "tansu";
pub const BROKERS: &str = "127.0.0.1:21093";
/// The Burrow lab polled (and the consumers committed) every 5 s.
pub const POLL_MS: i64 = 5_000;

/// The body of a captured response (after the blank line of its HTTP headers).
pub fn fixture(name: &str) -> (u16, Value) {
    let path = format!(
        "{}/tests/fixtures/burrow-v3/{name}.http.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .map(|(_, b)| b.trim())
        .expect("body");
    (
        status,
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}")),
    )
}

/// One committed offset of a fixture window: (timestamp, offset, lag).
pub type Commit = (i64, i64, u64);

/// The windows of a captured consumer detail: topic → partitions → commits, and current lag.
pub fn fixture_windows(group: &str) -> Vec<(String, i32, Vec<Commit>, u64)> {
    let (_, v) = fixture(&format!("v3_kafka_tansu_consumer_{group}"));
    let mut out = Vec::new();
    for (topic, parts) in v["topics"].as_object().expect("topics") {
        for (p, part) in parts.as_array().expect("partitions").iter().enumerate() {
            let commits = part["offsets"]
                .as_array()
                .expect("offsets")
                .iter()
                .filter(|o| !o.is_null())
                .map(|o| {
                    (
                        o["timestamp"].as_i64().expect("timestamp"),
                        o["offset"].as_i64().expect("offset"),
                        o["lag"].as_u64().expect("lag"),
                    )
                })
                .collect();
            out.push((
                topic.clone(),
                p as i32,
                commits,
                part["current-lag"].as_u64().expect("current-lag"),
            ));
        }
    }
    out
}

/// The newest commit timestamp of the captured groups (Burrow evaluated just after it).
pub const FIXTURE_GROUPS: [&str; 4] = [
    "lab-group-a",
    "lab-group-b",
    "lab-group-live",
    "lab-java-group",
];

pub fn fixture_end() -> i64 {
    FIXTURE_GROUPS
        .iter()
        .flat_map(|g| fixture_windows(g))
        .flat_map(|(_, _, c, _)| c.into_iter().map(|x| x.0))
        .max()
        .expect("commits")
}

fn key(metric: &str, labels: &[(&str, &str)]) -> SeriesKey {
    let mut all = vec![("cluster", CLUSTER)];
    all.extend_from_slice(labels);
    SeriesKey::new(metric, Labels::from_pairs(all))
}

pub fn gauge(metric: &str, labels: &[(&str, &str)], ts: Timestamp, value: f64) -> Sample {
    Sample {
        key: key(metric, labels),
        kind: MetricKind::Gauge,
        ts,
        value,
    }
}

/// The samples the kafka source would have written for one committed offset of a group's
/// partition: committed offset, lag and the partition's log end at that poll.
pub fn commit_samples(group: &str, topic: &str, partition: i32, c: Commit) -> Vec<Sample> {
    let p = partition.to_string();
    let gl = [
        ("consumergroup", group),
        ("topic", topic),
        ("partition", p.as_str()),
    ];
    let tl = [("topic", topic), ("partition", p.as_str())];
    vec![
        gauge("kafka_consumergroup_current_offset", &gl, c.0, c.1 as f64),
        gauge("kafka_consumergroup_lag", &gl, c.0, c.2 as f64),
        gauge(
            "kafka_topic_partition_current_offset",
            &tl,
            c.0,
            (c.1 + c.2 as i64) as f64,
        ),
    ]
}

/// The per-topic lag sum of a group at one poll.
pub fn lag_sum(group: &str, topic: &str, ts: Timestamp, sum: u64) -> Sample {
    gauge(
        "kafka_consumergroup_lag_sum",
        &[("consumergroup", group), ("topic", topic)],
        ts,
        sum as f64,
    )
}

/// A `kafka_group` document as the contract describes it.
pub fn group_doc(
    group: &str,
    state: &str,
    commits: &str,
    members: &[(&str, &str, &[i32])],
) -> String {
    let members: Vec<Value> = members
        .iter()
        .enumerate()
        .map(|(i, (client, topic, parts))| {
            serde_json::json!({
                "member_id": format!("{client}-{i}"),
                "client_id": client,
                "client_host": format!("/10.0.0.{}", i + 1),
                "assignments": [{"topic": topic, "partitions": parts}],
            })
        })
        .collect();
    serde_json::json!({
        "group": group, "state": state, "protocol_type": "consumer", "protocol": "range",
        "generation": 3, "members": members, "commits_source": commits, "polled_at_ms": 0,
    })
    .to_string()
}

pub fn kafka_target(now: Timestamp) -> TargetStatus {
    TargetStatus {
        cluster: CLUSTER.into(),
        source: "kafka",
        target: BROKERS.into(),
        identity: Labels::new(),
        interval_ms: POLL_MS,
        timeout_ms: 10_000,
        up: Some(true),
        last_scrape: Some(now - 1_000),
        last_success: Some(now - 1_000),
        last_error: None,
        warnings: vec![],
        last_duration_ms: Some(3.0),
        last_samples: 100,
        consecutive_failures: 0,
        next_scrape: Some(now + 4_000),
        scrapes_total: 10,
        failures_total: 0,
    }
}

pub struct Env {
    pub base: String,
    pub store: Store,
    pub client: reqwest::Client,
    /// Where the fixtures' newest commit was moved to.
    pub end: Timestamp,
    /// Added to a fixture timestamp to get the stored one.
    pub shift: i64,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Env {
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    pub async fn json(&self, path: &str) -> (u16, Value) {
        let (status, body) = self.get(path).await;
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

/// Starts the server over a store holding the captured Burrow groups (moved to end just before
/// now), plus two scripted groups: `steady` (60 s behind a producer of 10 messages a second)
/// and `stopped` (its last commit 20 minutes ago).
pub async fn start() -> Env {
    start_with("", |_| (Vec::new(), Vec::new())).await
}

/// Samples and `(group, kafka_group document)` pairs a test adds to the seed, given `end`.
pub type Extra = (Vec<Sample>, Vec<(String, String)>);

/// [`start`] with more config text after the cluster (`[lag]`, say) and more seeded groups.
pub async fn start_with(config_extra: &str, extra: impl FnOnce(Timestamp) -> Extra) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreConfig::new(dir.path().join("lag.db")))
        .await
        .expect("open store");
    let now = kafkascope::model::now_ms();
    let end = now - 2_000;
    let shift = end - fixture_end();

    let mut samples = Vec::new();
    for g in FIXTURE_GROUPS {
        let mut sums: std::collections::BTreeMap<(String, usize), (i64, u64)> = Default::default();
        for (topic, p, commits, _) in fixture_windows(g) {
            for (i, (ts, o, l)) in commits.into_iter().enumerate() {
                samples.extend(commit_samples(g, &topic, p, (ts + shift, o, l)));
                let e = sums.entry((topic.clone(), i)).or_insert((ts + shift, 0));
                e.1 += l;
            }
        }
        for ((topic, _), (ts, sum)) in sums {
            samples.push(lag_sum(g, &topic, ts, sum));
        }
    }
    // __consumer_offsets: only its log ends, as Burrow lists it among the topics.
    for (p, v) in [288, 96, 192, 78].iter().enumerate() {
        let ps = p.to_string();
        samples.push(gauge(
            "kafka_topic_partition_current_offset",
            &[("topic", "__consumer_offsets"), ("partition", ps.as_str())],
            end,
            *v as f64,
        ));
    }
    // steady: the producer writes 10/s from 0; polled every 5 s for 10 min; the group stays
    // 600 messages (60 s) behind.
    let start = end - 600_000;
    let mut ts = start;
    while ts <= end {
        let log_end = (ts - start) / 100;
        let committed = (log_end - 600).max(0);
        samples.extend(commit_samples(
            "steady",
            "steady-topic",
            0,
            (ts, committed, (log_end - committed) as u64),
        ));
        samples.push(lag_sum(
            "steady",
            "steady-topic",
            ts,
            (log_end - committed) as u64,
        ));
        ts += POLL_MS;
    }
    // stopped: ten commits 5 s apart ending 20 min ago, then no commit; its topic keeps growing.
    let last = end - 1_200_000;
    for i in 0..10 {
        let ts = last - (9 - i) * POLL_MS;
        samples.extend(commit_samples(
            "stopped",
            "stopped-topic",
            0,
            (ts, 100 + i * 10, 50),
        ));
    }
    let mut ts = last + POLL_MS;
    while ts <= end {
        samples.push(gauge(
            "kafka_topic_partition_current_offset",
            &[("topic", "stopped-topic"), ("partition", "0")],
            ts,
            (240 + (ts - last) / 1000) as f64,
        ));
        ts += POLL_MS;
    }
    // Members and states as the source writes them.
    for (g, members, state) in [
        ("lab-group-a", 1, "Stable"),
        ("lab-group-b", 1, "Stable"),
        ("lab-group-live", 1, "Stable"),
        ("lab-java-group", 1, "Stable"),
        ("steady", 1, "Stable"),
        ("stopped", 0, "Empty"),
    ] {
        samples.push(gauge(
            "kafka_consumergroup_members",
            &[("consumergroup", g)],
            end,
            members as f64,
        ));
        samples.push(gauge(
            "kafka_consumergroup_state",
            &[("consumergroup", g), ("state", state)],
            end,
            1.0,
        ));
    }
    let (more, more_docs) = extra(end);
    samples.extend(more);
    samples.sort_by_key(|s| s.ts);
    let r = store.write(&samples, &[]).await.expect("write samples");
    assert_eq!(r.rejected, 0, "the store refused samples");

    let docs = [
        (
            "lab-group-a",
            group_doc(
                "lab-group-a",
                "Stable",
                "offsets-topic",
                &[("burrow-lab-a", "lab-orders", &[0, 1, 2, 3, 4, 5])],
            ),
        ),
        (
            "lab-group-b",
            group_doc(
                "lab-group-b",
                "Stable",
                "admin-api",
                &[("lab-b", "lab-events", &[0, 1, 2])],
            ),
        ),
        (
            "lab-group-live",
            group_doc(
                "lab-group-live",
                "Stable",
                "admin-api",
                &[("lab-live", "lab-events", &[0, 1, 2])],
            ),
        ),
        (
            "lab-java-group",
            group_doc(
                "lab-java-group",
                "Stable",
                "offsets-topic",
                &[("java", "lab-java", &[0, 1, 2])],
            ),
        ),
        (
            "steady",
            group_doc(
                "steady",
                "Stable",
                "admin-api",
                &[("steady-1", "steady-topic", &[0])],
            ),
        ),
        ("stopped", group_doc("stopped", "Empty", "admin-api", &[])),
    ];
    let docs = docs
        .into_iter()
        .map(|(g, b)| (g.to_string(), b))
        .chain(more_docs);
    for (g, body) in docs {
        store
            .put_document(CLUSTER, &g, "kafka_group", end, &body)
            .await
            .expect("document");
    }
    store
        .append(
            &[],
            &[kafkascope::model::Event {
                ts: end - 60_000,
                kind: "kafka_group_rebalance".into(),
                severity: kafkascope::model::Severity::Info,
                cluster: CLUSTER.into(),
                subject: "lab-group-live".into(),
                message: "generation 2 → 3 <b>".into(),
            }],
        )
        .await
        .expect("event");

    let targets = TargetRegistry::default();
    targets.register(kafka_target(now));
    let config = Config::parse(
        &format!("[[clusters]]\nname = \"{CLUSTER}\"\n{config_extra}"),
        "test.toml",
    )
    .expect("test config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let state = AppState {
        store: store.clone(),
        targets,
        config: Arc::new(config),
        catalogue: kafkascope::sources::catalogue(),
    };
    let server = tokio::spawn(serve(listener, state, async move {
        let _ = rx.await;
    }));
    Env {
        base: format!("http://{addr}"),
        store,
        client: kafkascope::sources::http_client_builder()
            .build()
            .expect("HTTP client"),
        end,
        shift,
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

/// Whether two JSON values have the same shape: the same keys in objects (recursively), arrays
/// whose elements have the shape of the first expected element, and the same kinds of scalars
/// (a number is a number, whether integral or not). `null` matches only `null`, except where
/// `nullable` names the key.
pub fn same_shape(path: &str, got: &Value, want: &Value) -> Result<(), String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let gk: Vec<&String> = g.keys().collect();
            let wk: Vec<&String> = w.keys().collect();
            if gk != wk {
                return Err(format!("{path}: keys {gk:?}, Burrow has {wk:?}"));
            }
            for (k, wv) in w {
                same_shape(&format!("{path}.{k}"), &g[k], wv)?;
            }
            Ok(())
        }
        (Value::Array(g), Value::Array(w)) => {
            if let (Some(w0), false) = (w.iter().find(|x| !x.is_null()), g.is_empty()) {
                for (i, gv) in g.iter().enumerate().filter(|(_, x)| !x.is_null()) {
                    same_shape(&format!("{path}[{i}]"), gv, w0)?;
                }
            }
            Ok(())
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => Ok(()),
        _ => Err(format!("{path}: {got} where Burrow has {want}")),
    }
}

/// One request an HTTP [`receiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Every header, by lower-case name (the last value of a repeated one).
    pub headers: std::collections::BTreeMap<String, String>,
    /// The body as JSON; `null` when it is not JSON.
    pub body: Value,
}

impl Received {
    /// A header's value, "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }
}

/// An HTTP receiver on loopback, on its own runtime thread (so sync and async tests alike can
/// use it), recording every request and answering `status`.
pub fn receiver(status: u16) -> (String, Arc<std::sync::Mutex<Vec<Received>>>) {
    let got: Arc<std::sync::Mutex<Vec<Received>>> = Default::default();
    let seen = got.clone();
    let status = axum::http::StatusCode::from_u16(status).expect("an HTTP status code");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = axum::Router::new().fallback(
                move |method: axum::http::Method,
                      uri: axum::http::Uri,
                      headers: axum::http::HeaderMap,
                      body: axum::body::Bytes| {
                    let seen = seen.clone();
                    async move {
                        let headers = headers
                            .iter()
                            .filter_map(|(k, v)| {
                                Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))
                            })
                            .collect();
                        seen.lock().unwrap().push(Received {
                            method: method.to_string(),
                            path: uri.path().to_string(),
                            headers,
                            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        });
                        status
                    }
                },
            );
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the receiver");
            tx.send(l.local_addr().expect("receiver address"))
                .expect("send the address");
            axum::serve(l, app).await.expect("receiver");
        });
    });
    let addr = rx.recv().expect("receiver address");
    (format!("http://{addr}"), got)
}
