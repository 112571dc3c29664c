//! The kafka source end to end against a real Kafka-protocol broker (Tansu, started here on a free
//! loopback port) driven by confluent-kafka: `kafkascope serve` with a `[clusters.kafka]` config,
//! read back through `/api/v1/query`, `/api/v1/events` and `/targets`.
//!
//! - lag, committed and latest offsets equal what confluent-kafka's AdminClient
//!   (list_consumer_group_offsets + watermarks) reports, before and after more records arrive;
//!   a commit past the log end is flagged with lag 0;
//! - requests per poll stay at 6 for one broker (Metadata, ListOffsets ×2, ListGroups,
//!   DescribeGroups, OffsetFetch), whatever the number of partitions;
//! - a cluster whose only broker is down is a down target with the connection error, next to the
//!   good one;
//! - a topic created and a group deleted between polls become events, and the other groups keep
//!   their series.
//!
//! - TLS: the source reads a broker behind a real TLS endpoint (socat with a test CA) when the
//!   config trusts that CA, and fails with the certificate error when it trusts another one or
//!   speaks plain TCP to it.
//!
//! Tansu cannot add partitions to a topic (no CreatePartitions), so `kafka_partitions_added` is
//! covered by the unit tests of `events.rs` only.

mod support;

use kafkascope::config::Config;
use kafkascope::sources::{Source, build_all};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use support::kafka::{Tansu, TlsFront, closed_port, free_loopback_port, tool_tls};
use support::server::{Server, get, query, wait_for};

type Key = (String, String, String);

/// (group, topic, partition) → value of a metric in the `lab` cluster.
fn series(server: &Server, metric: &str) -> BTreeMap<Key, f64> {
    query(&server.base, &format!("{metric}{{cluster=\"lab\"}}"))
        .into_iter()
        .map(|(l, v)| {
            let s = |k: &str| l.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            ((s("consumergroup"), s("topic"), s("partition")), v)
        })
        .collect()
}

/// The AdminClient's view: per (group, topic, partition) the committed offset, high watermark
/// and lag.
fn truth(k: &Tansu, groups: &[&str]) -> Vec<(Key, f64, f64, f64)> {
    let v: Value = serde_json::from_str(&k.tool("lag", groups)).expect("lag JSON");
    let mut out = Vec::new();
    for g in groups {
        for row in v[*g].as_array().cloned().unwrap_or_default() {
            let key = (
                g.to_string(),
                row["topic"].as_str().unwrap_or("").to_string(),
                row["partition"].to_string(),
            );
            let f = |k: &str| row[k].as_f64().unwrap_or(f64::NAN);
            out.push((key, f("committed"), f("high"), f("lag")));
        }
    }
    out
}

fn events(server: &Server, kind: &str) -> Vec<(String, String, String)> {
    let (status, body) = get(&server.url(&format!(
        "/api/v1/events?start=0&end=9999999999&kind={kind}"
    )));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("events JSON");
    v["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (s("cluster"), s("subject"), s("message"))
        })
        .collect()
}

#[test]
fn lag_matches_confluent_kafka_and_changes_become_events() {
    let dir = tempfile::tempdir().unwrap();
    let k = Tansu::start(dir.path());
    k.tool("create-topic", &["orders", "3"]);
    for (p, n) in [("0", "10"), ("1", "7"), ("2", "5")] {
        k.tool("produce", &["orders", p, n]);
    }
    // A subscribed consumer that commits what it reads, a group committing two partitions,
    // and a commit past the log end.
    k.tool("consume", &["billing", "orders", "12"]);
    k.tool("commit", &["audit", "orders", "0=2", "2=5"]);
    k.tool("commit", &["ahead", "orders", "1=9"]);
    let groups = ["billing", "audit", "ahead"];
    let before = truth(&k, &groups);
    // billing's 12 records come from whichever partitions the consumer fetched first.
    let billed: f64 = before
        .iter()
        .filter(|r| r.0.0 == "billing")
        .map(|r| r.1)
        .sum();
    assert_eq!(billed, 12.0, "{before:?}");
    assert_eq!(
        before.iter().filter(|r| r.0.0 != "billing").count(),
        3,
        "{before:?}"
    );

    let down = format!("127.0.0.1:{}", closed_port());
    let config = format!(
        "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\n[clusters.kafka]\nbrokers = [\"{}\"]\ncommits = \"admin-api\"\n\n[[clusters]]\nname = \"gone\"\n[clusters.kafka]\nbrokers = [\"{down}\"]\ncommits = \"admin-api\"\n",
        k.addr
    );
    let server = Server::start(dir.path(), &config);

    let check = |truth: &[(Key, f64, f64, f64)], what: &str| {
        let lag = wait_for(what, Duration::from_secs(60), || {
            let lag = series(&server, "kafka_consumergroup_lag");
            let want: BTreeMap<Key, f64> =
                truth.iter().map(|(k, _, _, l)| (k.clone(), *l)).collect();
            (lag == want).then_some(lag)
        });
        let committed = series(&server, "kafka_consumergroup_current_offset");
        for (key, c, high, _) in truth {
            assert_eq!(committed.get(key), Some(c), "committed offset of {key:?}");
            let latest = series(&server, "kafka_topic_partition_current_offset");
            let pkey = (String::new(), key.1.clone(), key.2.clone());
            assert_eq!(
                latest.get(&pkey),
                Some(high),
                "latest offset of {key:?}: {latest:?}"
            );
        }
        lag
    };
    let lag = check(&before, "kafkascope's lag to equal the AdminClient's");
    assert!(
        lag.values().any(|v| *v > 0.0),
        "a test with no lag proves little: {lag:?}"
    );
    let ahead = series(&server, "kafka_consumergroup_commit_ahead");
    let k_ahead = ("ahead".to_string(), "orders".to_string(), "1".to_string());
    assert_eq!(ahead.get(&k_ahead), Some(&1.0), "{ahead:?}");
    assert_eq!(
        ahead.values().filter(|v| **v == 1.0).count(),
        1,
        "only the commit past the end is flagged: {ahead:?}"
    );

    // More records: both views move together.
    k.tool("produce", &["orders", "0", "4"]);
    let after = truth(&k, &groups);
    assert_ne!(after, before);
    check(&after, "kafkascope's lag to follow the new records");

    // One broker, three partitions, three groups: 6 requests per poll, none per partition.
    let requests = wait_for(
        "a steady poll's request count",
        Duration::from_secs(30),
        || {
            query(&server.base, "kafka_scrape_requests{cluster=\"lab\"}")
                .first()
                .map(|(_, v)| *v)
                .filter(|v| *v == 6.0)
        },
    );
    assert_eq!(requests, 6.0);
    let members = query(&server.base, "kafka_consumergroup_members{cluster=\"lab\"}");
    assert_eq!(members.len(), 3, "{members:?}");
    let states = query(
        &server.base,
        "kafka_consumergroup_state{cluster=\"lab\"} == 1",
    );
    assert_eq!(states.len(), 3, "one current state per group: {states:?}");

    // The cluster whose broker is down is a down target with the error; the lab is up.
    let up = wait_for("up of both clusters", Duration::from_secs(30), || {
        let r = query(&server.base, "up{source=\"kafka\"}");
        (r.len() == 2).then_some(r)
    });
    let by_cluster: BTreeMap<String, f64> = up
        .iter()
        .map(|(l, v)| (l["cluster"].as_str().unwrap_or("").to_string(), *v))
        .collect();
    assert_eq!(by_cluster.get("lab"), Some(&1.0), "{by_cluster:?}");
    assert_eq!(by_cluster.get("gone"), Some(&0.0), "{by_cluster:?}");
    let (status, page) = get(&server.url("/targets"));
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("{down}: cannot connect")) && page.contains("Connection refused"),
        "the down broker's error is not on /targets"
    );

    // A topic created and a group deleted between polls.
    k.tool("create-topic", &["shipments", "2"]);
    k.tool("delete-group", &["audit"]);
    let created = wait_for("kafka_topic_created", Duration::from_secs(30), || {
        let e = events(&server, "kafka_topic_created");
        (!e.is_empty()).then_some(e)
    });
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(
        (created[0].0.as_str(), created[0].1.as_str()),
        ("lab", "shipments")
    );
    assert!(created[0].2.contains("2 partitions"), "{created:?}");
    let deleted = wait_for("kafka_group_deleted", Duration::from_secs(30), || {
        let e = events(&server, "kafka_group_deleted");
        (!e.is_empty()).then_some(e)
    });
    assert_eq!(deleted.len(), 1, "only the deleted group: {deleted:?}");
    assert_eq!(deleted[0].1, "audit");
    // The other groups keep being read: their committed offsets still come with every poll.
    let newest = |g: &str| {
        query(
            &server.base,
            &format!(
                "timestamp(kafka_consumergroup_members{{cluster=\"lab\",consumergroup=\"{g}\"}})"
            ),
        )
        .first()
        .map(|(_, v)| *v)
        .unwrap_or(0.0)
    };
    let (b0, a0) = (newest("billing"), newest("ahead"));
    wait_for(
        "new polls of the remaining groups",
        Duration::from_secs(30),
        || (newest("billing") > b0 && newest("ahead") > a0).then_some(()),
    );
    assert!(events(&server, "kafka_topic_deleted").is_empty());
}

/// One scrape of a `[clusters.kafka]` section built from config text, as the collector runs it.
fn scrape_once(section: &str) -> Result<kafkascope::sources::ScrapeOutput, String> {
    let config = Config::parse(
        &format!(
            "[[clusters]]\nname = \"lab\"\n[clusters.kafka]\ncommits = \"admin-api\"\n{section}"
        ),
        "t.toml",
    )
    .map_err(|e| e.to_string())?;
    let mut plan = build_all(&config).map_err(|e| e.to_string())?;
    let mut source = plan.targets.remove(0).source;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(source.scrape(Duration::from_secs(10)))
        .map_err(|e| e.to_string())
}

#[test]
fn tls_to_a_broker_behind_a_real_tls_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    support::tls::make_certificates(dir.path());
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    support::tls::make_certificates(&other);
    let pem = |p: &std::path::Path, f: &str| std::fs::read_to_string(p.join(f)).unwrap();
    let combined = dir.path().join("combined.pem");
    std::fs::write(
        &combined,
        pem(dir.path(), "cert.pem") + &pem(dir.path(), "key.pem"),
    )
    .unwrap();
    // Clients learn the TLS port from metadata, so every connection goes through the front.
    let (inner, outer) = (free_loopback_port(), free_loopback_port());
    let k = Tansu::start_advertising(dir.path(), inner, outer);
    let front = TlsFront::start(outer, &combined, &k.addr);
    let our_ca = dir.path().join("ca.pem");
    let tls_tool = |cmd: &str, args: &[&str]| tool_tls(cmd, &front.addr, Some(&our_ca), args);
    tls_tool("create-topic", &["secure", "2"]);
    tls_tool("produce", &["secure", "1", "3"]);
    tls_tool("commit", &["reader", "secure", "1=1"]);

    let ca = |d: &std::path::Path| d.join("ca.pem").display().to_string();
    let out = scrape_once(&format!(
        "brokers = [\"{}\"]\ntls = {{ ca_file = {:?} }}\n",
        front.addr,
        ca(dir.path())
    ))
    .expect("a TLS poll with the right CA");
    let value = |metric: &str, labels: &[(&str, &str)]| {
        out.readings
            .iter()
            .find(|r| r.metric == metric && labels.iter().all(|(k, v)| r.labels.get(k) == Some(*v)))
            .map(|r| r.value)
    };
    assert_eq!(value("kafka_brokers", &[]), Some(1.0));
    assert_eq!(
        value(
            "kafka_topic_partition_current_offset",
            &[("topic", "secure"), ("partition", "1")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            "kafka_consumergroup_lag",
            &[("consumergroup", "reader"), ("partition", "1")]
        ),
        Some(2.0)
    );
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);

    // Another CA: the certificate is refused, in words.
    let e = scrape_once(&format!(
        "brokers = [\"{}\"]\ntls = {{ ca_file = {:?} }}\n",
        front.addr,
        ca(&other)
    ))
    .unwrap_err();
    // (The other CA has the same name, so rustls finds it and the signature fails.)
    assert!(
        e.contains(&format!(
            "{}: cannot connect: TLS: invalid peer certificate: BadSignature",
            front.addr
        )),
        "{e}"
    );
    // Plain TCP to the TLS port is no Kafka conversation.
    let e = scrape_once(&format!("brokers = [\"{}\"]\n", front.addr)).unwrap_err();
    assert!(
        e.starts_with(&format!("{}: ApiVersions", front.addr)),
        "{e}"
    );
}
