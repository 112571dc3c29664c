//! `/investigate` through the real server over a real SQLite store seeded with scripted samples:
//! cluster `lab` holds ~50 gauges of the same noise plus planted changes in the last hour, cluster
//! `pair` two series where one is a shifted copy of the other, cluster `empty` nothing.

use kafkascope::config::Config;
use kafkascope::model::{Event, Labels, MetricKind, SeriesKey, Severity, Timestamp, now_ms};
use kafkascope::store::{SeriesId, Store, StoreConfig};
use kafkascope::targets::TargetRegistry;
use kafkascope::web::format::urlencode;
use kafkascope::web::{AppState, serve};
use std::sync::Arc;
use tokio::sync::oneshot;

const SCRAPE_MS: i64 = 15_000;
const HOUR: i64 = 3_600_000;
const NOISE_SERIES: usize = 46;
/// The pair's planted lag: 4 minutes (8 steps of 30 s on a 1 h window).
const PAIR_LAG_SCRAPES: i64 = 16;

/// Deterministic noise in [-1, 1) for (series, scrape index).
fn noise(series: u64, i: i64) -> f64 {
    let mut s = series
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    s ^= s >> 31;
    s = s.wrapping_mul(0x94D0_49BB_1331_11EB);
    s ^= s >> 29;
    ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

fn key(metric: &str, labels: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(metric, Labels::from_pairs(labels.iter().copied()))
}

/// A series and its value at scrape `i` (the window is `i >= window_i`).
struct Planted {
    key: SeriesKey,
    kind: MetricKind,
    value: Box<dyn Fn(i64, bool) -> f64 + Send + Sync>,
}

fn lab_series() -> Vec<Planted> {
    let lab = |m: &str, n: &str| key(m, &[("cluster", "lab"), ("broker", n)]);
    let mut out: Vec<Planted> = (0..NOISE_SERIES)
        .map(|k| Planted {
            key: lab("kafka_test_gauge", &format!("b{k:02}")),
            kind: MetricKind::Gauge,
            value: Box::new(move |i, _| 50.0 + noise(k as u64, i)),
        })
        .collect();
    // A level step of +30 in the window: volume's case.
    out.push(Planted {
        key: lab("kafka_planted_step", "b1"),
        kind: MetricKind::Gauge,
        value: Box::new(|i, w| 50.0 + noise(900, i) + if w { 30.0 } else { 0.0 }),
    });
    // The same mean, swinging six times wider in the window: KS's case.
    out.push(Planted {
        key: lab("kafka_planted_swing", "b1"),
        kind: MetricKind::Gauge,
        value: Box::new(|i, w| 50.0 + noise(901, i) * if w { 6.0 } else { 1.0 }),
    });
    // A counter at a steady 4/s: its rate never changes, so it must not rank.
    out.push(Planted {
        key: lab("kafka_test_messages_total", "b1"),
        kind: MetricKind::Counter,
        value: Box::new(|i, _| 1_000_000.0 + 60.0 * i as f64),
    });
    // The collector's own bookkeeping jumps wildly: left out of the candidates.
    out.push(Planted {
        key: key(
            "scrape_duration_seconds",
            &[("cluster", "lab"), ("target", "b1")],
        ),
        kind: MetricKind::Gauge,
        value: Box::new(|i, w| 0.01 + noise(902, i).abs() * if w { 500.0 } else { 0.001 }),
    });
    out
}

/// A random walk (scrape i) and its copy 4 minutes later, doubled and offset.
fn pair_series() -> Vec<Planted> {
    let walk = |i: i64| -> f64 { (-400..=i).map(|j| noise(77, j)).sum::<f64>() + 100.0 };
    vec![
        Planted {
            key: key("kafka_pair_leader", &[("cluster", "pair")]),
            kind: MetricKind::Gauge,
            value: Box::new(move |i, _| walk(i)),
        },
        Planted {
            key: key("kafka_pair_follower", &[("cluster", "pair")]),
            kind: MetricKind::Gauge,
            value: Box::new(move |i, _| 2.0 * walk(i - PAIR_LAG_SCRAPES) + 10.0),
        },
    ]
}

struct Env {
    base: String,
    client: reqwest::Client,
    store: Store,
    /// The window under investigation: the last hour of data.
    from: Timestamp,
    to: Timestamp,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn text(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    fn window(&self) -> String {
        format!(
            "from={}&to={}",
            self.from.div_euclid(1000),
            self.to.div_euclid(1000)
        )
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.expect("server task").expect("server result");
        }
        self.store.close().await.expect("close store");
    }
}

async fn start() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreConfig::new(dir.path().join("inv.db")))
        .await
        .expect("open store");
    let now = now_ms();
    // Whole minutes, so the window is aligned to the 30 s step.
    let end = now - now.rem_euclid(60_000) - 60_000;
    let start = end - 5 * HOUR;
    let window_from = end - HOUR;
    let mut planted = lab_series();
    planted.extend(pair_series());
    let keys: Vec<(SeriesKey, MetricKind)> =
        planted.iter().map(|p| (p.key.clone(), p.kind)).collect();
    let ids = store.resolve(&keys).await.expect("resolve");
    let mut batch: Vec<(SeriesId, Timestamp, f64)> = Vec::new();
    let mut ts = start;
    while ts <= end {
        let i = (ts - start) / SCRAPE_MS;
        for (p, id) in planted.iter().zip(&ids) {
            batch.push((*id, ts, (p.value)(i, ts >= window_from)));
        }
        if batch.len() > 20_000 {
            assert_eq!(store.append(&batch, &[]).await.expect("append").rejected, 0);
            batch.clear();
        }
        ts += SCRAPE_MS;
    }
    let events = [
        Event {
            ts: window_from + 5 * 60_000,
            kind: "annotation".into(),
            severity: Severity::Info,
            cluster: "lab".into(),
            subject: String::new(),
            message: "deploy of the planted step".into(),
        },
        Event {
            ts: start + 60_000,
            kind: "annotation".into(),
            severity: Severity::Info,
            cluster: "lab".into(),
            subject: String::new(),
            message: "an old event in the baseline".into(),
        },
    ];
    assert_eq!(
        store
            .append(&batch, &events)
            .await
            .expect("append")
            .rejected,
        0
    );

    let config = Config::parse(
        "[[clusters]]\nname = \"lab\"\nzookeeper = [\"zk1:2181\"]\n\n\
         [[clusters]]\nname = \"pair\"\nzookeeper = [\"zk2:2181\"]\n\n\
         [[clusters]]\nname = \"empty\"\nzookeeper = [\"zk3:2181\"]\n",
        "investigate.toml",
    )
    .expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let state = AppState {
        store: store.clone(),
        targets: TargetRegistry::default(),
        config: Arc::new(config),
        catalogue: kafkascope::sources::catalogue(),
    };
    let server = tokio::spawn(serve(listener, state, async move {
        let _ = rx.await;
    }));
    Env {
        base: format!("http://{addr}"),
        client: kafkascope::sources::http_client_builder()
            .build()
            .expect("HTTP client"),
        store,
        from: window_from,
        to: end,
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

/// The series names of the ranking table, in order.
fn ranking(html: &str) -> Vec<String> {
    let table = html
        .split("<table class=\"wide ranking\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no ranking table: {html}"));
    let re = regex::Regex::new(r#"<td class="mono"><a href="[^"]*">([^<]*)</a></td>"#).unwrap();
    re.captures_iter(table)
        .map(|c| c[1].replace("&#34;", "\""))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn planted_changes_rank_first_and_pairs_show_their_lag() {
    let env = start().await;

    // Volume: the level step is first.
    let (status, html) = env
        .text(&format!(
            "/investigate?cluster=lab&method=volume&{}",
            env.window()
        ))
        .await;
    assert_eq!(status, 200, "{html}");
    let order = ranking(&html);
    assert!(
        order[0].starts_with("kafka_planted_step{"),
        "volume: {order:?}"
    );
    assert!(
        html.contains("49 series of the cluster considered"),
        "{html}"
    );
    assert_eq!(
        html.matches("<svg class=\"ch\"").count(),
        12,
        "the top 12 as small multiples"
    );
    assert!(html.contains("baseline (4× the window)"), "baseline shaded");
    assert!(
        html.contains("at a step of 30s"),
        "~100 points per window: {html}"
    );
    assert!(
        html.contains("deploy of the planted step</td>"),
        "the window's event is listed"
    );
    assert!(
        !html.contains("an old event in the baseline</td>"),
        "events before the window are not listed (only ticked)"
    );

    // KS on differences: the series that swings wider is first, the level step is not.
    let (status, html) = env
        .text(&format!(
            "/investigate?cluster=lab&method=ks&top=50&{}",
            env.window()
        ))
        .await;
    assert_eq!(status, 200, "{html}");
    let order = ranking(&html);
    assert!(
        order[0].starts_with("kafka_planted_swing{"),
        "ks: {order:?}"
    );
    assert!(
        order.len() > 10,
        "the noise series are ranked too (positive control of the filters): {order:?}"
    );
    assert!(
        !order.iter().any(|s| s.starts_with("scrape_")),
        "the collector's own series are left out: {order:?}"
    );
    assert!(
        !order
            .iter()
            .any(|s| s.starts_with("kafka_test_messages_total")),
        "a counter at a steady rate did not change: {order:?}"
    );

    // The pair: r ≈ 1 at the planted lag of +4m (8 steps).
    let leader = r#"kafka_pair_leader{cluster="pair"}"#;
    let follower = r#"kafka_pair_follower{cluster="pair"}"#;
    let (status, html) = env
        .text(&format!(
            "/investigate?cluster=pair&{}&query={}&with={}",
            env.window(),
            urlencode(leader),
            urlencode(follower)
        ))
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("best lag <b>+4m (8 steps)</b> with r <b class=\"mono\">+1.000</b>"),
        "{html}"
    );
    assert!(
        html.contains("both normalised"),
        "the two series overlaid on one chart"
    );
    // Without with=: the table of every other top series against the query names the lag too.
    let (status, html) = env
        .text(&format!(
            "/investigate?cluster=pair&{}&query={}",
            env.window(),
            urlencode(leader)
        ))
        .await;
    assert_eq!(status, 200, "{html}");
    let row = html
        .split("<table class=\"wide corr\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no correlation table: {html}"));
    assert!(
        row.contains("kafka_pair_follower") && row.contains("+4m (8 steps)"),
        "{row}"
    );
    assert!(
        !html.contains("both normalised"),
        "no overlay without with="
    );
    // And the reverse: the leader comes 4 minutes before the follower.
    let (status, html) = env
        .text(&format!(
            "/investigate?cluster=pair&{}&query={}&with={}",
            env.window(),
            urlencode(follower),
            urlencode(leader)
        ))
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("best lag <b>-4m (8 steps)</b>"), "{html}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parameters_are_named_and_an_empty_cluster_has_nothing_to_rank() {
    let env = start().await;
    for (param, value) in [
        ("method", "pearson"),
        ("baseline", "0x"),
        ("top", "none"),
        ("query", "kafka_nothing_like_this"),
        ("query", "kafka_test_gauge"),
    ] {
        let (status, html) = env
            .text(&format!(
                "/investigate?cluster=lab&{}&{param}={}",
                env.window(),
                urlencode(value)
            ))
            .await;
        assert_eq!(status, 400, "{param}={value}: {html}");
        assert!(
            html.contains(&format!("{param}: ")),
            "{param}={value}: {html}"
        );
    }
    // Positive control: the same page with good parameters.
    let (status, _) = env
        .text(&format!(
            "/investigate?cluster=lab&{}&method=volume&baseline=2x&top=3",
            env.window()
        ))
        .await;
    assert_eq!(status, 200);

    let (status, html) = env
        .text(&format!("/investigate?cluster=empty&{}", env.window()))
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("has no stored series: there is nothing to rank"),
        "{html}"
    );
    assert!(!html.contains("<table class=\"wide ranking\">"));

    // The events page links each event to /investigate around it.
    let (status, html) = env.text("/events?range=24h&cluster=lab").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("href=\"/investigate?cluster=lab&#38;from="),
        "{html}"
    );
    env.stop().await;
}
