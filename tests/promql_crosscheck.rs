//! Cross-checks the PromQL evaluator against Debian's real Prometheus (2.42) on the same samples.
//!
//! Deterministic samples (counters with resets and a late start, gauges with a gap, histogram
//! `_bucket{le=…}` series, several label sets, jittered millisecond timestamps) are written as an
//! OpenMetrics file, backfilled into a TSDB with `promtool tsdb create-blocks-from openmetrics`,
//! and served by `prometheus` on a free loopback port; the same samples go into a kafkascope
//! store served by the real router. Every query below is asked of both through
//! `/api/v1/query_range` and `/api/v1/query` and compared series by series, point by point, with
//! a relative tolerance of 1e-9. A deliberately perturbed answer must be detected.

mod web_support;

use kafkascope::model::{Labels, MetricKind, Sample, SeriesKey, now_ms};
use kafkascope::store::{Store, StoreConfig};
use kafkascope::targets::TargetRegistry;
use kafkascope::web::{AppState, serve};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOLERANCE: f64 = 1e-9;
const SCRAPE: i64 = 15_000;
const SAMPLES: i64 = 720; // 3 h

struct Series {
    name: &'static str,
    labels: Vec<(&'static str, String)>,
    kind: MetricKind,
    points: Vec<(i64, f64)>,
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn generate(t0: i64) -> Vec<Series> {
    let mut rng = Rng(42);
    let mut out = Vec::new();
    let ts = |rng: &mut Rng, i: i64| t0 + i * SCRAPE + rng.below(3_000) as i64;
    for inst in ["a", "b", "c"] {
        for code in ["200", "500"] {
            let mut v = if inst == "c" { 0.0 } else { 1_000.0 };
            let mut points = Vec::new();
            // Instance c starts late; b resets twice.
            let first = if inst == "c" { 400 } else { 0 };
            for i in first..SAMPLES {
                let t = ts(&mut rng, i);
                v += (rng.below(40) + if code == "200" { 20 } else { 0 }) as f64;
                if inst == "b" && (i == 300 || i == 555) {
                    v = rng.below(10) as f64;
                }
                points.push((t, v));
            }
            out.push(Series {
                name: "req_total",
                labels: vec![
                    ("code", code.to_string()),
                    ("instance", inst.to_string()),
                    ("job", "api".to_string()),
                ],
                kind: MetricKind::Counter,
                points,
            });
        }
        let mut points = Vec::new();
        for i in 0..SAMPLES {
            let t = ts(&mut rng, i);
            // A 12.5 min gap for instance c (longer than the 5 min lookback).
            if inst == "c" && (200..250).contains(&i) {
                continue;
            }
            let phase = match inst {
                "a" => 0.0,
                "b" => 1.0,
                _ => 2.0,
            };
            let v = 20.0 * ((i as f64) / 40.0 + phase).sin() + (rng.unit() - 0.5) * 4.0;
            points.push((t, (v * 1000.0).round() / 1000.0));
        }
        out.push(Series {
            name: "temp",
            labels: vec![("instance", inst.to_string())],
            kind: MetricKind::Gauge,
            points,
        });
        out.push(Series {
            name: "up",
            labels: vec![("instance", inst.to_string()), ("job", "api".to_string())],
            kind: MetricKind::Gauge,
            points: (0..SAMPLES)
                .map(|i| {
                    let t = ts(&mut rng, i);
                    (
                        t,
                        if inst == "b" && (100..130).contains(&i) {
                            0.0
                        } else {
                            1.0
                        },
                    )
                })
                .collect(),
        });
    }
    // Histograms: cumulative bucket counters, plus _sum and _count.
    let bounds = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    for inst in ["a", "b"] {
        let mut counts = [0.0f64; 7];
        let mut sum = 0.0;
        let mut series: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 9];
        for i in 0..SAMPLES {
            let t = ts(&mut rng, i);
            for _ in 0..(rng.below(30) + 5) {
                let x = rng.unit() * rng.unit() * 3.0;
                sum += x;
                for (k, b) in bounds.iter().enumerate() {
                    let le: f64 = if *b == "+Inf" {
                        f64::INFINITY
                    } else {
                        b.parse().unwrap()
                    };
                    if x <= le {
                        counts[k] += 1.0;
                    }
                }
            }
            for k in 0..7 {
                series[k].push((t, counts[k]));
            }
            series[7].push((t, (sum * 1000.0).round() / 1000.0));
            series[8].push((t, counts[6]));
        }
        for (k, points) in series.into_iter().enumerate() {
            let (name, mut labels) = match k {
                0..=6 => ("lat_bucket", vec![("le", bounds[k].to_string())]),
                7 => ("lat_sum", vec![]),
                _ => ("lat_count", vec![]),
            };
            labels.push(("instance", inst.to_string()));
            labels.sort();
            out.push(Series {
                name,
                labels,
                kind: MetricKind::Counter,
                points,
            });
        }
    }
    out.sort_by(|a, b| (a.name, &a.labels).cmp(&(b.name, &b.labels)));
    out
}

fn openmetrics(series: &[Series]) -> String {
    let mut s = String::new();
    for x in series {
        let labels: Vec<String> = x
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        for (t, v) in &x.points {
            s.push_str(&format!(
                "{}{{{}}} {v} {}.{:03}\n",
                x.name,
                labels.join(","),
                t.div_euclid(1000),
                t.rem_euclid(1000)
            ));
        }
    }
    s.push_str("# EOF\n");
    s
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free loopback port")
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_prometheus(dir: &std::path::Path, series: &[Series]) -> (Prometheus, String) {
    let om = dir.join("samples.om");
    std::fs::write(&om, openmetrics(series)).expect("write OpenMetrics file");
    let data = dir.join("tsdb");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&data)
        .output()
        .expect("run promtool (scripts/install-peers installs Debian's prometheus)");
    assert!(
        out.status.success(),
        "promtool failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  evaluation_interval: 1m\n").expect("write config");
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start prometheus");
    (Prometheus(child), format!("http://127.0.0.1:{port}"))
}

/// Labels → points (time ms, value) of one answer.
type Answer = BTreeMap<String, Vec<(i64, f64)>>;

#[derive(Debug)]
enum Outcome {
    Ok(String, Answer),
    Error(u16, String),
}

fn parse_value(v: &Value) -> f64 {
    match v.as_str() {
        Some("NaN") => f64::NAN,
        Some("+Inf") => f64::INFINITY,
        Some("-Inf") => f64::NEG_INFINITY,
        Some(s) => s.parse().unwrap_or_else(|_| panic!("value {s:?}")),
        None => panic!("value {v} is not a string"),
    }
}

fn point(p: &Value) -> (i64, f64) {
    let t = (p[0].as_f64().expect("timestamp") * 1000.0).round() as i64;
    (t, parse_value(&p[1]))
}

fn outcome(status: u16, body: &str) -> Outcome {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    if v["status"] != "success" {
        return Outcome::Error(status, v["error"].as_str().unwrap_or("").to_string());
    }
    let kind = v["data"]["resultType"].as_str().unwrap_or("").to_string();
    let mut out = Answer::new();
    match kind.as_str() {
        "scalar" | "string" => {
            out.insert(String::new(), vec![point(&v["data"]["result"])]);
        }
        _ => {
            for r in v["data"]["result"].as_array().expect("result") {
                let key = r["metric"].to_string();
                let pts: Vec<(i64, f64)> = if let Some(vals) = r["values"].as_array() {
                    vals.iter().map(point).collect()
                } else {
                    vec![point(&r["value"])]
                };
                assert!(
                    out.insert(key.clone(), pts).is_none(),
                    "duplicate series {key}"
                );
            }
        }
    }
    Outcome::Ok(kind, out)
}

fn rel_diff(a: f64, b: f64) -> f64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0.0;
    }
    if !a.is_finite() || !b.is_finite() {
        return f64::INFINITY;
    }
    (a - b).abs() / a.abs().max(b.abs())
}

/// The largest relative difference, or a description of a structural mismatch.
fn compare(reference: &Outcome, ours: &Outcome) -> Result<f64, String> {
    match (reference, ours) {
        (Outcome::Error(s1, e1), Outcome::Error(s2, e2)) => {
            if s1 / 100 == s2 / 100 {
                Ok(0.0)
            } else {
                Err(format!(
                    "both failed with different statuses: {s1} {e1} vs {s2} {e2}"
                ))
            }
        }
        (Outcome::Ok(k1, a), Outcome::Ok(k2, b)) => {
            if k1 != k2 {
                return Err(format!("result type {k1} vs {k2}"));
            }
            let ka: Vec<&String> = a.keys().collect();
            let kb: Vec<&String> = b.keys().collect();
            if ka != kb {
                return Err(format!(
                    "series differ:\n  prometheus {ka:?}\n  kafkascope {kb:?}"
                ));
            }
            let mut worst = 0.0f64;
            for (k, pa) in a {
                let pb = &b[k];
                let ta: Vec<i64> = pa.iter().map(|p| p.0).collect();
                let tb: Vec<i64> = pb.iter().map(|p| p.0).collect();
                if ta != tb {
                    return Err(format!(
                        "{k}: timestamps differ ({} vs {} points; first differing: {:?})",
                        ta.len(),
                        tb.len(),
                        ta.iter().zip(&tb).find(|(x, y)| x != y)
                    ));
                }
                for (x, y) in pa.iter().zip(pb) {
                    let d = rel_diff(x.1, y.1);
                    if d > TOLERANCE {
                        return Err(format!(
                            "{k} at {}: prometheus {} vs kafkascope {} (relative difference {d:e})",
                            x.0, x.1, y.1
                        ));
                    }
                    worst = worst.max(d);
                }
            }
            Ok(worst)
        }
        (r, o) => Err(format!("prometheus {r:?}\nkafkascope {o:?}")),
    }
}

async fn ask(client: &reqwest::Client, base: &str, path: &str) -> Outcome {
    let r = client
        .get(format!("{base}{path}"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {base}{path}: {e}"));
    let status = r.status().as_u16();
    outcome(status, &r.text().await.expect("body"))
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluator_matches_prometheus_on_the_same_samples() {
    let now = now_ms();
    let t_end = now - now.rem_euclid(60_000) - 60_000;
    let t0 = t_end - SAMPLES * SCRAPE;
    let series = generate(t0);
    let dir = tempfile::tempdir().expect("temp dir");

    // kafkascope: the same samples, written in time order, served by the real router.
    let store = Store::open(StoreConfig::new(dir.path().join("k.db")))
        .await
        .expect("open store");
    let mut all: Vec<Sample> = series
        .iter()
        .flat_map(|s| {
            let key = SeriesKey::new(
                s.name,
                Labels::from_pairs(s.labels.iter().map(|(k, v)| (*k, v.as_str()))),
            );
            s.points.iter().map(move |&(ts, value)| Sample {
                key: key.clone(),
                kind: s.kind,
                ts,
                value,
            })
        })
        .collect();
    all.sort_by_key(|s| s.ts);
    for chunk in all.chunks(5_000) {
        let r = store.write(chunk, &[]).await.expect("write samples");
        assert_eq!(r.rejected, 0, "the store refused samples");
    }
    // Rollups exist for all sealed blocks, as on a server that has run for a while: the
    // evaluator must still read raw samples (and not fill gaps from rollups).
    store.compact_now().await.expect("compact");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ours = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        AppState {
            store: store.clone(),
            targets: TargetRegistry::default(),
            config: Arc::new(web_support::config(false)),
            catalogue: kafkascope::sources::catalogue(),
        },
        async move {
            let _ = stop_rx.await;
        },
    ));

    let (_prom, prom) = start_prometheus(dir.path(), &series);
    let client = kafkascope::sources::http_client_builder()
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ready = client
            .get(format!("{prom}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not become ready: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Both hold the data (so that "both empty" cannot pass for agreement).
    let probe = format!("/api/v1/query?query=count(req_total)&time={}", secs(t_end));
    for base in [&prom, &ours] {
        match ask(&client, base, &probe).await {
            Outcome::Ok(_, a) => assert_eq!(
                a.values().next().map(|p| p[0].1),
                Some(6.0),
                "{base}: six req_total series: {a:?}"
            ),
            Outcome::Error(s, e) => panic!("{base}: {s} {e}"),
        }
    }

    let at = secs(t0 + 90 * 60_000);
    let queries: Vec<String> = [
        "req_total",
        "temp",
        "up",
        "-temp",
        "rate(req_total[5m])",
        "irate(req_total[5m])",
        "increase(req_total[10m])",
        "delta(temp[10m])",
        "idelta(temp[5m])",
        "deriv(temp[10m])",
        "predict_linear(temp[15m], 600)",
        "rate(lat_bucket[5m])",
        "histogram_quantile(0.99, sum by (le) (rate(lat_bucket[5m])))",
        "histogram_quantile(0.5, rate(lat_bucket[10m]))",
        "histogram_quantile(0.9, sum by (le, instance) (increase(lat_bucket[15m])))",
        "rate(lat_sum[5m]) / rate(lat_count[5m])",
        "label_replace(temp, \"host\", \"h-$1\", \"instance\", \"(.*)\")",
        "label_replace(req_total, \"c\", \"$1x\", \"code\", \"(5)00\")",
        "label_join(req_total, \"both\", \"/\", \"instance\", \"code\")",
        "abs(temp)",
        "ceil(temp)",
        "floor(temp)",
        "round(temp)",
        "round(temp, 0.5)",
        "exp(temp / 10)",
        "ln(req_total)",
        "log2(req_total)",
        "log10(req_total)",
        "sqrt(req_total)",
        "clamp(temp, -5, 5)",
        "clamp_min(temp, 0)",
        "clamp_max(temp, 3)",
        "sgn(temp)",
        "time()",
        "timestamp(temp)",
        "vector(1)",
        "vector(time())",
        "scalar(sum(up))",
        "absent(nonexistent{job=\"x\"})",
        "absent(temp)",
        "absent_over_time(nonexistent{a=\"b\"}[5m])",
        "absent_over_time(temp[1m])",
        "changes(up[30m])",
        "resets(req_total[30m])",
        "avg_over_time(temp[10m])",
        "min_over_time(temp[10m])",
        "max_over_time(temp[10m])",
        "sum_over_time(temp[10m])",
        "count_over_time(temp[10m])",
        "last_over_time(temp[10m])",
        "present_over_time(temp[10m])",
        "quantile_over_time(0.9, temp[10m])",
        "stddev_over_time(temp[10m])",
        "stdvar_over_time(temp[10m])",
        "day_of_week()",
        "day_of_month()",
        "day_of_year()",
        "days_in_month()",
        "hour()",
        "minute()",
        "month()",
        "year()",
        "hour(timestamp(temp))",
        "sin(temp)",
        "cos(temp)",
        "tan(temp)",
        "asin(temp / 30)",
        "acos(temp / 30)",
        "atan(temp)",
        "sinh(temp / 10)",
        "cosh(temp / 10)",
        "tanh(temp)",
        "asinh(temp)",
        "acosh(req_total)",
        "atanh(temp / 30)",
        "deg(temp)",
        "rad(temp)",
        "pi()",
        "sum(rate(req_total[5m]))",
        "sum by (instance) (rate(req_total[5m]))",
        "avg without (code) (rate(req_total[5m]))",
        "min(temp)",
        "max by (job) (req_total)",
        "count(temp)",
        "group by (code) (req_total)",
        "stddev(temp)",
        "stdvar(temp)",
        "topk(2, temp)",
        "bottomk(1, temp)",
        "topk(1, rate(req_total[5m])) by (code)",
        "quantile(0.75, temp)",
        "count_values(\"value\", up)",
        "sum(up) by (job)",
        "temp + 1",
        "2 * temp",
        "temp ^ 2",
        "temp % 3",
        "temp atan2 2",
        "1 - temp",
        "temp > 0",
        "temp > bool 0",
        "0 < temp",
        "up == 1",
        "up != bool 1",
        "temp <= 3",
        "temp >= -3",
        "temp * temp",
        "temp - temp offset 5m",
        "rate(req_total[5m]) / on(instance) group_left temp",
        "temp * on(instance) group_right rate(req_total[5m])",
        "sum by (instance) (rate(req_total[5m])) / on(instance) temp",
        "req_total{code=\"200\"} - ignoring(code) req_total{code=\"500\"}",
        "rate(req_total[5m]) > bool on(instance) group_left up",
        "req_total + on(instance) temp",
        "req_total + on(job) group_left up",
        "temp and on(instance) up == 1",
        "temp or vector(5)",
        "temp unless on(instance) up == 0",
        "up and temp > 0",
        "temp or label_replace(temp, \"x\", \"y\", \"\", \"\")",
        "2 > bool 1",
        "2 ^ 3 % 5",
        "rate(req_total[5m] offset 10m)",
        "temp offset -2m",
        "temp offset 1h",
        &format!("temp @ {at}"),
        &format!("rate(req_total[5m] @ {at})"),
        "temp @ start()",
        "temp @ end()",
        "sum(temp @ end()) - sum(temp)",
        "max_over_time(rate(req_total[5m])[30m:1m])",
        "avg_over_time(temp[20m:])",
        "rate(req_total[10m:30s])",
        "deriv(sum(temp)[15m:2m])",
        "min_over_time(temp[10m:1m] offset 5m)",
        "max_over_time((temp > 0)[15m:45s])",
        "sum(rate(req_total[5m])) by (job) / sum(rate(req_total[5m] offset 1h)) by (job)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    let ranges = [
        (t0 + 20 * 60_000 + 7_500, t_end + 8 * 60_000, 45_000),
        (t0 + 30 * 60_000, t_end, 60_000),
    ];
    let instants = [
        t0 + 3_600_000 + 3_250,
        t0 + 150 * 60_000,
        t_end + 2 * 60_000,
        t_end + 7 * 60_000,
    ];
    let mut failures = Vec::new();
    let mut report = Vec::new();
    let mut overall = 0.0f64;
    for q in &queries {
        let mut worst = 0.0f64;
        let mut paths = Vec::new();
        for (s, e, step) in ranges {
            paths.push(format!(
                "/api/v1/query_range?query={}&start={}&end={}&step={}",
                web_support::enc(q),
                secs(s),
                secs(e),
                step as f64 / 1000.0
            ));
        }
        for t in instants {
            paths.push(format!(
                "/api/v1/query?query={}&time={}",
                web_support::enc(q),
                secs(t)
            ));
        }
        for path in &paths {
            let reference = ask(&client, &prom, path).await;
            let mine = ask(&client, &ours, path).await;
            match compare(&reference, &mine) {
                Ok(d) => worst = worst.max(d),
                Err(e) => failures.push(format!("{q}\n  {path}\n  {e}")),
            }
        }
        overall = overall.max(worst);
        report.push(format!("{worst:>10.3e}  {q}"));
    }
    println!("largest relative difference per query (prometheus 2.42 vs kafkascope):");
    for line in &report {
        println!("{line}");
    }
    println!(
        "overall largest relative difference: {overall:e} over {} queries",
        queries.len()
    );

    // Positive control: a perturbation of one value by 1e-6 must be reported.
    let path = format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=60",
        web_support::enc("rate(req_total[5m])"),
        secs(ranges[1].0),
        secs(ranges[1].1)
    );
    let reference = ask(&client, &prom, &path).await;
    let Outcome::Ok(kind, mut perturbed) = ask(&client, &ours, &path).await else {
        panic!("rate query failed on kafkascope");
    };
    assert!(compare(&reference, &Outcome::Ok(kind.clone(), perturbed.clone())).is_ok());
    let first = perturbed.values_mut().next().expect("a series");
    first[10].1 *= 1.0 + 1e-6;
    assert!(
        compare(&reference, &Outcome::Ok(kind, perturbed)).is_err(),
        "the comparison must notice a 1e-6 relative difference"
    );

    let _ = stop_tx.send(());
    server.await.expect("server task").expect("server");
    store.close().await.expect("close");
    assert!(
        failures.is_empty(),
        "{} of {} comparisons differ:\n{}",
        failures.len(),
        queries.len() * (ranges.len() + instants.len()),
        failures.join("\n")
    );
}
