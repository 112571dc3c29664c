//! The Prometheus-shaped JSON API, annotations, /healthz and /metrics, over HTTP against the real
//! server and a real store.

mod web_support;

use serde_json::Value;
use web_support::*;

fn secs(ms: i64) -> String {
    format!("{}", ms / 1000)
}

fn values(series: &Value) -> Vec<(f64, f64)> {
    series["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|p| {
            (
                p[0].as_f64().unwrap(),
                p[1].as_str().unwrap().parse::<f64>().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn instant_query_returns_the_newest_sample_at_the_time() {
    let env = start().await;
    let q = enc(r#"zk_znode_count{cluster="lab",server="zk1:2181"}"#);
    let (status, v) = env
        .json(&format!("/api/v1/query?query={q}&time={}", secs(env.end)))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "vector");
    let r = &v["data"]["result"][0];
    assert_eq!(r["metric"]["__name__"], "zk_znode_count");
    assert_eq!(r["metric"]["server"], "zk1:2181");
    assert_eq!(r["value"][1], "1480", "1000 + 480 scrapes in two hours");
    // One minute earlier: four scrapes fewer.
    let (_, v) = env
        .json(&format!(
            "/api/v1/query?query={q}&time={}",
            secs(env.end - 60_000)
        ))
        .await;
    assert_eq!(v["data"]["result"][0]["value"][1], "1476");
    // Grafana's health check.
    let (status, v) = env
        .json(&format!(
            "/api/v1/query?query={}&time=1700000000",
            enc("1+1")
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["data"]["resultType"], "scalar");
    assert_eq!(v["data"]["result"], serde_json::json!([1700000000, "2"]));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn range_query_matches_what_was_written() {
    let env = start().await;
    let q = enc(r#"zk_znode_count{server="zk2:2182"}"#);
    // An hour ending at the last scrape, step 60 s, start aligned to the step as Grafana does.
    let end = env.end - env.end % 60_000;
    let start = end - 3_600_000;
    let (status, v) = env
        .json(&format!(
            "/api/v1/query_range?query={q}&start={}&end={}&step=60",
            secs(start),
            secs(end)
        ))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["resultType"], "matrix");
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1);
    let pts = values(&result[0]);
    assert_eq!(pts.len(), 61);
    for (t, val) in pts {
        // The value at t is the newest sample at or before t, as in Prometheus: the scrape at t.
        let i = (t as i64 * 1000 - env.start) / 15_000;
        assert_eq!(val, 1000.0 + i as f64, "at {t}");
    }

    let rate = enc("rate(zk_packets_received[5m])");
    let (status, v) = env
        .json(&format!(
            "/api/v1/query_range?query={rate}&start={}&end={}&step=15s",
            secs(start),
            secs(end)
        ))
        .await;
    assert_eq!(status, 200, "{v}");
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2, "one per server");
    assert!(
        result[0]["metric"].get("__name__").is_none(),
        "rate drops the metric name"
    );
    for s in result {
        let pts = values(s);
        assert_eq!(pts.len(), 241);
        assert!(
            pts.iter().all(|(_, v)| (v - 1.0).abs() < 1e-9),
            "15 per 15 s is 1/s: {pts:?}"
        );
    }

    let sum = enc("sum by (cluster) (zk_outstanding_requests) * 2");
    let (_, v) = env
        .json(&format!(
            "/api/v1/query_range?query={sum}&start={}&end={}&step=60",
            secs(start),
            secs(end)
        ))
        .await;
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["metric"], serde_json::json!({"cluster": "lab"}));
    for (t, val) in values(&result[0]) {
        let i = (t as i64 * 1000 - env.start) / 15_000;
        assert_eq!(
            val,
            ((i % 4) * 2 * 2) as f64,
            "both servers' (i mod 4), doubled, at {t}"
        );
    }

    // POST with a form body, like Grafana's default.
    let r = env
        .client
        .post(format!("{}/api/v1/query_range", env.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "query={}&start={}&end={}&step=60",
            enc(r#"zk_znode_count{server="zk2:2182"}"#),
            secs(start),
            secs(end)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["data"]["result"][0]["values"].as_array().unwrap().len(),
        61
    );
    env.stop().await;
}

/// `[[ts, "v"], …]` of a matrix series, as (unix ms, value text).
fn raw_points(series: &Value) -> Vec<(i64, String)> {
    series["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|p| {
            (
                (p[0].as_f64().unwrap() * 1000.0).round() as i64,
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_range_selector_returns_exactly_the_raw_samples_written() {
    use kafkascope::model::{Labels, MetricKind, Sample, SeriesKey};
    let env = start().await;
    // Irregular timestamps (to the millisecond) and values that must come back bit for bit.
    let key = SeriesKey::new(
        "kafkascope_test_raw",
        Labels::from_pairs([("cluster", CLUSTER), ("probe", "raw")]),
    );
    let at = env.end;
    let written: Vec<(i64, f64)> = vec![
        (at - 300_001, 98.0), // before the window
        (at - 300_000, 99.0), // exactly at the window's start: inside (closed, as Prometheus 2.x)
        (at - 299_999, 0.1),
        (at - 123_457, 2.5),
        (at - 61_001, -3.0),
        (at - 1_234, 1e-9),
        (at, 12_345_678.9), // exactly at the evaluation time: inside
        (at + 1, 7.0),      // after it: outside
    ];
    let samples: Vec<Sample> = written
        .iter()
        .map(|&(ts, value)| Sample {
            key: key.clone(),
            kind: MetricKind::Gauge,
            ts,
            value,
        })
        .collect();
    let r = env.store.write(&samples, &[]).await.expect("write");
    assert_eq!(r.rejected, 0);
    let q = enc(r#"kafkascope_test_raw{probe="raw"}[5m]"#);
    let t = format!("{}.{:03}", at / 1000, at % 1000);
    let (status, v) = env.json(&format!("/api/v1/query?query={q}&time={t}")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["resultType"], "matrix", "{v}");
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{v}");
    assert_eq!(result[0]["metric"]["__name__"], "kafkascope_test_raw");
    assert_eq!(result[0]["metric"]["probe"], "raw");
    let expected: Vec<(i64, String)> = written[1..7]
        .iter()
        .map(|&(ts, v)| (ts, format!("{v}")))
        .collect();
    assert_eq!(raw_points(&result[0]), expected);
    // `offset` moves the window, not the timestamps.
    let q = enc(r#"kafkascope_test_raw{probe="raw"}[1m] offset 1m"#);
    let (_, v) = env.json(&format!("/api/v1/query?query={q}&time={t}")).await;
    assert_eq!(
        raw_points(&v["data"]["result"][0]),
        vec![(at - 61_001, "-3".to_string())]
    );

    // Two hours of scrapes of two servers (in compacted chunks as well as in memory): every
    // sample of the window, per series in label order.
    let q = enc(r#"zk_znode_count{cluster="lab"}[2h]"#);
    let (status, v) = env
        .json(&format!("/api/v1/query?query={q}&time={}", secs(env.end)))
        .await;
    assert_eq!(status, 200, "{v}");
    let result = v["data"]["result"].as_array().unwrap();
    let servers: Vec<&str> = result
        .iter()
        .map(|r| r["metric"]["server"].as_str().unwrap())
        .collect();
    assert_eq!(servers, vec!["zk1:2181", "zk2:2182"]);
    for r in result {
        let pts = raw_points(r);
        assert_eq!(pts.len(), 481, "2 h of 15 s scrapes, both ends included");
        for (i, (ts, v)) in pts.iter().enumerate() {
            let n = i as i64;
            assert_eq!(*ts, env.start + n * SCRAPE_MS);
            assert_eq!(*v, format!("{}", 1000 + n));
        }
    }

    // Dense samples (one per millisecond) come back whole: as in Prometheus, only the sample
    // budget (--query.max-samples) limits a matrix, not a per-series count.
    let dense: Vec<Sample> = (0..11_001)
        .map(|i| Sample {
            key: SeriesKey::new(
                "kafkascope_test_dense",
                Labels::from_pairs([("cluster", CLUSTER)]),
            ),
            kind: MetricKind::Gauge,
            ts: at - 11_001 + i,
            value: i as f64,
        })
        .collect();
    env.store.write(&dense, &[]).await.expect("write dense");
    let q = enc("kafkascope_test_dense[1m]");
    let (status, v) = env.json(&format!("/api/v1/query?query={q}&time={t}")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(raw_points(&v["data"]["result"][0]).len(), 11_001);
    let q = enc("kafkascope_test_dense[11000ms]");
    let (status, v) = env.json(&format!("/api/v1/query?query={q}&time={t}")).await;
    assert_eq!(status, 200, "{v}");
    let pts = raw_points(&v["data"]["result"][0]);
    assert_eq!(pts.len(), 11_000, "the sample 11 001 ms back is outside");
    assert_eq!(pts[0], (at - 11_000, "1".to_string()));

    // A range selector is not a range query's expression.
    let (status, v) = env
        .json(&format!(
            "/api/v1/query_range?query={}&start=0&end=60&step=15",
            enc("up[5m]")
        ))
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("range vector"), "{v}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn series_and_labels_list_what_was_written() {
    let env = start().await;
    let m = enc(r#"{__name__=~"zk_(avg|max)_latency", server="zk1:2181"}"#);
    let (status, v) = env.json(&format!("/api/v1/series?match[]={m}")).await;
    assert_eq!(status, 200, "{v}");
    let names: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["__name__"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["zk_avg_latency", "zk_max_latency"]);
    assert_eq!(
        v["data"][0],
        serde_json::json!({"__name__": "zk_avg_latency", "cluster": "lab", "server": "zk1:2181"})
    );

    let (_, v) = env.json("/api/v1/labels").await;
    let labels: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for l in [
        "__name__", "cluster", "server", "state", "target", "version",
    ] {
        assert!(labels.contains(&l), "{l} in {labels:?}");
    }
    let (_, v) = env.json("/api/v1/label/server/values").await;
    assert_eq!(
        v["data"],
        serde_json::json!(["zk1:2181", "zk2:2182"]),
        "zk3 never reported"
    );
    let (_, v) = env
        .json(&format!(
            "/api/v1/label/state/values?match[]={}",
            enc(r#"zk_server_state{server="zk1:2181"}"#)
        ))
        .await;
    assert_eq!(
        v["data"],
        serde_json::json!(["follower", "leader", "looking"])
    );
    let (_, v) = env.json("/api/v1/label/__name__/values").await;
    assert!(
        v["data"].as_array().unwrap().len() > 300,
        "hundreds of mntr metrics"
    );
    let (_, v) = env
        .json("/api/v1/metadata?metric=zk_packets_received")
        .await;
    assert_eq!(v["data"]["zk_packets_received"][0]["type"], "counter");
    assert_eq!(
        v["data"]["zk_packets_received"][0]["help"], "Packets received from clients",
        "help from the ZooKeeper source's catalogue"
    );
    let (_, v) = env.json("/api/v1/metadata?metric=zk_p99_readlatency").await;
    assert_eq!(
        (
            &v["data"]["zk_p99_readlatency"][0]["type"],
            &v["data"]["zk_p99_readlatency"][0]["unit"]
        ),
        (
            &serde_json::json!("summary"),
            &serde_json::json!("milliseconds")
        ),
        "a family member described by the source's naming rule"
    );
    let (status, v) = env.json("/api/v1/status/buildinfo").await;
    assert_eq!(status, 200);
    assert!(v["data"]["version"].as_str().unwrap().starts_with("2."));
    let (status, v) = env.json("/api/v1/rules").await;
    assert_eq!(
        (status, &v["data"]["groups"]),
        (200, &serde_json::json!([]))
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_queries_are_400_bad_data_like_prometheus() {
    let env = start().await;
    let cases = [
        format!("/api/v1/query?query={}", enc("rate(up[5m]")),
        format!("/api/v1/query?query={}", enc("up{a=~\"(\"}")),
        "/api/v1/query".to_string(),
        "/api/v1/query_range?query=up&start=10&end=5&step=1".to_string(),
        "/api/v1/query_range?query=up&start=0&end=100000&step=1".to_string(),
        "/api/v1/query_range?query=up&start=0&end=10&step=0".to_string(),
        "/api/v1/query_range?query=up&start=yesterday&end=10&step=1".to_string(),
        "/api/v1/series".to_string(),
        format!("/api/v1/series?match[]={}", enc("rate(up[5m])")),
        "/api/v1/label/bad-name/values".to_string(),
    ];
    for path in &cases {
        let (status, v) = env.json(path).await;
        assert_eq!(status, 400, "{path}: {v}");
        assert_eq!(v["status"], "error", "{path}");
        assert_eq!(v["errorType"], "bad_data", "{path}");
        assert!(!v["error"].as_str().unwrap().is_empty());
    }
    let (_, v) = env.json(&cases[0]).await;
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("parse error at char 5: unclosed left parenthesis"),
        "{v}"
    );
    let (_, v) = env.json(&cases[4]).await;
    assert!(
        v["error"].as_str().unwrap().contains("11,000 points"),
        "{v}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn annotations_need_the_token_and_never_echo_it() {
    let env = start().await;
    let url = format!("{}/api/v1/annotations", env.base);
    let body = serde_json::json!({"text": "deploy zookeeper 3.8.4", "cluster": "lab", "subject": "zk1:2181"});
    let r = env.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let wrong = env
        .client
        .post(&url)
        .bearer_auth("not-the-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    let text = wrong.text().await.unwrap();
    assert!(
        !text.contains(TOKEN) && !text.contains("not-the-token"),
        "{text}"
    );

    let ok = env
        .client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let text = ok.text().await.unwrap();
    assert!(!text.contains(TOKEN), "{text}");
    let bad = env
        .client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"text": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    let (_, v) = env.json("/api/v1/events?cluster=lab&kind=annotation").await;
    let msgs: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(msgs.contains(&"deploy zookeeper 3.8.4"), "{msgs:?}");
    let (_, html) = env.text("/events").await;
    assert!(html.contains("deploy zookeeper 3.8.4"));
    for page in ["/", "/events", "/targets", "/metrics", "/api/v1/events"] {
        let (_, body) = env.text(page).await;
        assert!(!body.contains(TOKEN), "{page} shows the token");
    }
    env.stop().await;

    let env = start_with(false, 1).await;
    let r = env
        .client
        .post(format!("{}/api/v1/annotations", env.base))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        404,
        "disabled without a configured token"
    );
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("disabled"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_healthz_describe_the_server_itself() {
    let env = start().await;
    let _ = env.text("/zookeeper").await;
    let _ = env.text("/zookeeper/lab").await;
    let (status, v) = env.json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "ok");
    let r = env.get("/metrics").await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
    };
    assert!(value("kafkascope_samples_ingested_total") > 300_000.0);
    assert!(value("kafkascope_series_active") > 800.0);
    assert!(value("kafkascope_store_bytes") > 0.0);
    assert_eq!(value("kafkascope_targets{state=\"up\"}"), 2.0);
    assert_eq!(value("kafkascope_targets{state=\"down\"}"), 1.0);
    assert!(text.contains(
        "kafkascope_scrapes_total{cluster=\"lab\",source=\"zookeeper\",target=\"zk3:2183\"} 480"
    ));
    assert!(text.contains("kafkascope_http_requests_total{route=\"/zookeeper/{cluster}\",method=\"GET\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("kafkascope_http_request_duration_seconds_bucket{route=\"/zookeeper\",method=\"GET\",le=\"+Inf\"} 1"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn promql_endpoints_and_errors_answer_like_prometheus() {
    let env = start().await;
    // format_query pretty-prints.
    let (status, v) = env
        .json(&format!(
            "/api/v1/format_query?query={}",
            enc("sum by(server)(rate(zk_packets_received{cluster=\"lab\"}[5m]))")
        ))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["data"],
        "sum by (server) (rate(zk_packets_received{cluster=\"lab\"}[5m]))"
    );
    // Unknown API paths: JSON 404, not the HTML page.
    let (status, v) = env.json("/api/v1/no_such_endpoint").await;
    assert_eq!(status, 404);
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "not_found");
    let (status, v) = env.json("/api/v1/query_exemplars?query=up").await;
    assert_eq!((status, &v["data"]), (200, &serde_json::json!([])));
    // Loading more than --query.max-samples (50 M) points: 422 with Prometheus' message.
    let (status, v) = env
        .json(&format!(
            "/api/v1/query?query={}",
            enc("max_over_time(vector(1)[1000d:1s])")
        ))
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["errorType"], "execution");
    assert_eq!(
        v["error"],
        "query processing would load too many samples into memory in query execution"
    );
    // Matching errors are execution errors, as in Prometheus.
    let (status, v) = env
        .json(&format!(
            "/api/v1/query?query={}",
            enc("zk_znode_count + on(cluster) zk_znode_count")
        ))
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("many-to-many"), "{v}");
    // Constructs newer than Prometheus 2.42 that are not evaluated say so with a 400.
    let (status, v) = env
        .json(&format!("/api/v1/query?query={}", enc("limitk(1, up)")))
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("not supported"),
        "{v}"
    );
    // Strings, scalars and functions that were missing before.
    let (_, v) = env
        .json(&format!(
            "/api/v1/query?query={}&time=100",
            enc("\"hello\"")
        ))
        .await;
    assert_eq!(
        v["data"],
        serde_json::json!({"resultType": "string", "result": [100, "hello"]})
    );
    let q = enc(r#"topk(1, zk_znode_count{cluster="lab"})"#);
    let (status, v) = env
        .json(&format!("/api/v1/query?query={q}&time={}", secs(env.end)))
        .await;
    assert_eq!(status, 200, "{v}");
    let r = v["data"]["result"].as_array().unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["value"][1], "1480");
    env.stop().await;
}
