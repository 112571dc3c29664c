//! The lag engine against Burrow 1.2's captured responses: the evaluator reproduces Burrow's
//! statuses on Burrow's own windows, and the `/v3/kafka` API — through the real server over a
//! real SQLite store seeded with the kafka source's series — answers in Burrow's shapes, messages
//! and HTTP codes. The cluster module's client profile comes from a real poll: `kafkascope serve`
//! polling a real Tansu.

mod lag_support;
mod support;

use kafkascope::lag::evaluator::{EvalConfig, Inference, evaluate_group};
use kafkascope::lag::{ConsumerOffset, PartitionWindow};
use lag_support::*;
use serde_json::Value;

/// Burrow evaluated the captured groups with `intervals = 15` (the lab's storage config), just
/// after their newest commit (the responses' `Date` header, 17:20:41 GMT).
const BURROW_NOW: i64 = 1_795_627_241_000;

fn windows_of(group: &str) -> Vec<PartitionWindow> {
    fixture_windows(group)
        .into_iter()
        .map(|(topic, partition, commits, current_lag)| PartitionWindow {
            topic,
            partition,
            owner: String::new(),
            client_id: String::new(),
            offsets: commits
                .into_iter()
                .map(|(timestamp, offset, lag)| ConsumerOffset {
                    offset,
                    timestamp,
                    lag: Some(lag),
                })
                .collect(),
            broker_offsets: vec![],
            current_lag,
            log_start: None,
            log_end: None,
        })
        .collect()
}

#[test]
fn the_evaluator_gives_burrows_status_on_burrows_windows() {
    let cfg = EvalConfig {
        intervals: 15,
        ..EvalConfig::default()
    };
    for group in FIXTURE_GROUPS {
        let ours = evaluate_group(
            CLUSTER,
            group,
            &windows_of(group),
            BURROW_NOW,
            &cfg,
            Inference::OBSERVED,
        );
        let ours = serde_json::to_value(&ours).expect("serialises");
        let (_, burrow) = fixture(&format!("v3_kafka_tansu_consumer_{group}_lag"));
        assert_eq!(
            ours, burrow["status"],
            "{group}: our evaluation differs from Burrow's"
        );
        // And /status keeps only the partitions that are not OK.
        let (_, status) = fixture(&format!("v3_kafka_tansu_consumer_{group}_status"));
        let only: Vec<&Value> = burrow["status"]["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["status"] != "OK")
            .collect();
        assert_eq!(
            status["status"]["partitions"].as_array().unwrap().len(),
            only.len()
        );
    }
}

#[test]
fn with_our_default_window_of_ten_a_stalled_partition_is_stall() {
    // lab-java-group's partition 0 committed 326 for its last 11 commits: Burrow's 15-slot ring
    // still held the earlier progress (OK); a window of Burrow's default 10 holds only 326.
    let ours = evaluate_group(
        CLUSTER,
        "lab-java-group",
        &windows_of("lab-java-group"),
        BURROW_NOW,
        &EvalConfig::default(),
        Inference::OBSERVED,
    );
    assert_eq!(ours.partitions[0].status.as_str(), "STALL");
    assert_eq!(ours.status.as_str(), "ERR");
    assert_eq!(
        ours.partitions[1].status.as_str(),
        "OK",
        "{}",
        ours.partitions[1].reason
    );
}

/// Checks a served status against Burrow's captured one: the same shape, and the same values
/// where they do not depend on when and how long the window is (our window holds 10 commits,
/// Burrow's lab held 15; our timestamps are the captured ones moved to now).
fn check_status(env: &Env, group: &str, ours: &Value, burrow: &Value) {
    same_shape("status", ours, burrow).unwrap_or_else(|e| panic!("{group}: {e}"));
    for k in [
        "cluster",
        "group",
        "status",
        "complete",
        "partition_count",
        "totallag",
    ] {
        assert_eq!(ours[k], burrow[k], "{group}: {k}");
    }
    let theirs = burrow["partitions"].as_array().unwrap();
    let mine = ours["partitions"].as_array().unwrap();
    assert_eq!(mine.len(), theirs.len(), "{group}: partitions");
    let detail = fixture_windows(group);
    for (m, t) in mine.iter().zip(theirs) {
        for k in ["topic", "partition", "status", "current_lag", "complete"] {
            assert_eq!(m[k], t[k], "{group} {}: {k}", t["partition"]);
        }
        assert_eq!(m["end"]["offset"], t["end"]["offset"]);
        assert_eq!(m["end"]["lag"], t["end"]["lag"]);
        assert_eq!(
            m["end"]["timestamp"].as_i64().unwrap(),
            t["end"]["timestamp"].as_i64().unwrap() + env.shift
        );
        // Our start is the tenth commit from the end of Burrow's ring.
        let p = t["partition"].as_i64().unwrap() as i32;
        let (_, _, commits, _) = detail
            .iter()
            .find(|(topic, part, _, _)| *topic == t["topic"] && *part == p)
            .unwrap();
        let tenth = commits[commits.len() - 10];
        assert_eq!(m["start"]["offset"].as_i64(), Some(tenth.1));
        assert_eq!(m["start"]["timestamp"].as_i64(), Some(tenth.0 + env.shift));
    }
    assert_eq!(ours["maxlag"]["partition"], burrow["maxlag"]["partition"]);
    assert_eq!(
        ours["maxlag"]["current_lag"],
        burrow["maxlag"]["current_lag"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_v3_api_answers_in_burrows_shapes() {
    let env = start().await;
    let host_of = |v: &Value| v["request"]["host"].as_str().unwrap_or("").to_string();

    // Cluster list and module.
    let (code, ours) = env.json("/v3/kafka").await;
    let (bcode, burrow) = fixture("v3_kafka");
    assert_eq!(code, bcode);
    same_shape("", &ours, &burrow).unwrap();
    assert_eq!(ours["clusters"], serde_json::json!([CLUSTER]));
    assert_eq!(ours["message"], burrow["message"]);
    assert_eq!(ours["request"]["url"], "/v3/kafka");
    assert!(!host_of(&ours).is_empty(), "the host names this machine");

    let (code, ours) = env.json("/v3/kafka/tansu").await;
    let (_, burrow) = fixture("v3_kafka_tansu");
    assert_eq!(code, 200);
    same_shape("", &ours, &burrow).unwrap();
    assert_eq!(ours["module"]["servers"], burrow["module"]["servers"]);
    assert_eq!(ours["module"]["class-name"], "kafka");
    assert_eq!(ours["module"]["offset-refresh"], 5);

    // Topics.
    let (code, ours) = env.json("/v3/kafka/tansu/topic").await;
    let (_, burrow) = fixture("v3_kafka_tansu_topic");
    assert_eq!(code, 200);
    same_shape("", &ours, &burrow).unwrap();
    let mut theirs: Vec<&str> = burrow["topics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    theirs.extend(["steady-topic", "stopped-topic"]);
    theirs.sort();
    let mine: Vec<&str> = ours["topics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(mine, theirs);
    for topic in ["lab-orders", "lab-events", "lab-java", "__consumer_offsets"] {
        let (code, ours) = env.json(&format!("/v3/kafka/tansu/topic/{topic}")).await;
        let (_, burrow) = fixture(&format!("v3_kafka_tansu_topic_{topic}"));
        assert_eq!(code, 200, "{topic}");
        same_shape("", &ours, &burrow).unwrap();
        assert_eq!(ours["offsets"], burrow["offsets"], "{topic}: log ends");
        assert_eq!(ours["message"], burrow["message"]);
    }
    let (code, ours) = env.json("/v3/kafka/tansu/topic/lab-events/consumers").await;
    assert_eq!(code, 200);
    assert_eq!(ours["message"], "consumers of topic returned");
    assert_eq!(
        ours["consumers"],
        serde_json::json!(["lab-group-b", "lab-group-live"])
    );

    // Consumers.
    let (code, ours) = env.json("/v3/kafka/tansu/consumer").await;
    let (_, burrow) = fixture("v3_kafka_tansu_consumer");
    assert_eq!(code, 200);
    same_shape("", &ours, &burrow).unwrap();
    let mut theirs: Vec<&str> = burrow["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    theirs.extend(["steady", "stopped"]);
    theirs.sort();
    assert_eq!(ours["consumers"], serde_json::json!(theirs));

    for group in ["lab-group-a", "lab-group-b", "lab-group-live"] {
        // The detail: a ring of 10 slots per partition, the newest commit last.
        let (code, ours) = env.json(&format!("/v3/kafka/tansu/consumer/{group}")).await;
        let (_, burrow) = fixture(&format!("v3_kafka_tansu_consumer_{group}"));
        assert_eq!(code, 200, "{group}");
        same_shape("", &ours, &burrow).unwrap_or_else(|e| panic!("{group}: {e}"));
        for (topic, parts) in burrow["topics"].as_object().unwrap() {
            for (i, t) in parts.as_array().unwrap().iter().enumerate() {
                let m = &ours["topics"][topic][i];
                assert_eq!(m["current-lag"], t["current-lag"], "{group} {topic} {i}");
                let ring = m["offsets"].as_array().unwrap();
                assert_eq!(ring.len(), 10);
                let (last_m, last_t) = (
                    ring.last().unwrap(),
                    t["offsets"].as_array().unwrap().last().unwrap(),
                );
                assert_eq!(last_m["offset"], last_t["offset"]);
                assert_eq!(last_m["lag"], last_t["lag"]);
            }
        }
        // Status and lag, field by field.
        for (suffix, all) in [("status", false), ("lag", true)] {
            let (code, ours) = env
                .json(&format!("/v3/kafka/tansu/consumer/{group}/{suffix}"))
                .await;
            let (bcode, burrow) = fixture(&format!("v3_kafka_tansu_consumer_{group}_{suffix}"));
            assert_eq!(code, bcode, "{group}/{suffix}");
            same_shape("", &ours, &burrow).unwrap_or_else(|e| panic!("{group}/{suffix}: {e}"));
            assert_eq!(ours["message"], burrow["message"]);
            assert_eq!(ours["error"], false);
            check_status(&env, group, &ours["status"], &burrow["status"]);
            if !all {
                assert!(
                    ours["status"]["partitions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|p| p["status"] != "OK"),
                    "/status lists only partitions that are not OK"
                );
            }
        }
    }

    // The owner and client id come from the group document.
    let (_, ours) = env.json("/v3/kafka/tansu/consumer/lab-group-a/lag").await;
    assert_eq!(ours["status"]["partitions"][3]["owner"], "/10.0.0.1");
    assert_eq!(ours["status"]["partitions"][3]["client_id"], "burrow-lab-a");

    // A consumer that stopped committing 20 minutes ago: STOP, the group ERR.
    let (code, ours) = env.json("/v3/kafka/tansu/consumer/stopped/lag").await;
    assert_eq!(code, 200);
    assert_eq!(ours["status"]["status"], "ERR");
    assert_eq!(ours["status"]["partitions"][0]["status"], "STOP");
    assert_eq!(ours["status"]["partitions"][0]["end"]["offset"], 190);
    assert_eq!(ours["status"]["partitions"][0]["current_lag"], 1250);
    // A consumer that stays 600 messages behind its producer: its lag never decreases, which
    // Burrow calls WARN.
    let (_, ours) = env.json("/v3/kafka/tansu/consumer/steady/status").await;
    assert_eq!(ours["status"]["status"], "WARN", "{ours}");

    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_clusters_groups_and_paths_get_burrows_404s() {
    let env = start().await;
    for (path, fixture_name) in [
        (
            "/v3/kafka/tansu/consumer/no-such-group",
            "v3_kafka_tansu_consumer_no-such-group",
        ),
        (
            "/v3/kafka/tansu/consumer/no-such-group/status",
            "v3_kafka_tansu_consumer_no-such-group_status",
        ),
        (
            "/v3/kafka/tansu/consumer/no-such-group/lag",
            "v3_kafka_tansu_consumer_no-such-group_lag",
        ),
    ] {
        let (code, mut ours) = env.json(path).await;
        let (bcode, mut burrow) = fixture(fixture_name);
        assert_eq!(code, bcode, "{path}");
        assert_eq!(ours["request"]["url"], path);
        // Everything but the host is Burrow's answer, byte for byte.
        ours["request"]["host"] = Value::Null;
        burrow["request"]["host"] = Value::Null;
        assert_eq!(ours, burrow, "{path}");
    }
    // Unknown cluster: the messages Burrow gives per endpoint.
    for (path, message) in [
        ("/v3/kafka/nope", "cluster module not found"),
        ("/v3/kafka/nope/topic", "cluster not found"),
        ("/v3/kafka/nope/consumer", "cluster not found"),
        ("/v3/kafka/nope/topic/t/consumers", "cluster not found"),
        (
            "/v3/kafka/nope/topic/lab-orders",
            "cluster or topic not found",
        ),
        (
            "/v3/kafka/tansu/topic/no-such-topic",
            "cluster or topic not found",
        ),
        ("/v3/kafka/nope/consumer/g", "cluster or consumer not found"),
    ] {
        let (code, ours) = env.json(path).await;
        assert_eq!((code, ours["error"].as_bool()), (404, Some(true)), "{path}");
        assert_eq!(ours["message"], message, "{path}");
    }
    let (code, ours) = env.json("/v3/kafka/nope/consumer/g/status").await;
    assert_eq!(code, 404);
    assert_eq!(ours["status"]["status"], "NOTFOUND");
    assert_eq!(ours["status"]["cluster"], "nope");
    // Positive control: the same path on the known cluster and group is found.
    let (code, _) = env
        .json("/v3/kafka/tansu/consumer/lab-group-b/status")
        .await;
    assert_eq!(code, 200);
    // Burrow's catch-all.
    let (code, body) = env.get("/v3/kafka/tansu/consumer/g/nothing/here").await;
    assert_eq!(code, 404);
    assert_eq!(
        body.trim(),
        r#"{"error":true,"message":"invalid request type","result":{}}"#
    );
    env.stop().await;
}

/// The client profile is what the kafka source uses, published by its polls of a real Tansu
/// through `kafkascope serve`: the configured client id (or the default), named after the
/// cluster, no TLS and no SASL when none is configured.
#[test]
fn the_cluster_module_shows_the_client_profile_the_source_uses() {
    use support::kafka::Tansu;
    use support::server::{Server, get, wait_for};
    let dir = tempfile::tempdir().expect("temp dir");
    let tansu = Tansu::start(dir.path());
    let server = Server::start(
        dir.path(),
        &format!(
            "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\n[clusters.kafka]\nbrokers = [\"{0}\"]\ncommits = \"admin-api\"\nclient_id = \"scope-burrow-7\"\n\n[[clusters]]\nname = \"plain\"\n[clusters.kafka]\nbrokers = [\"{0}\"]\ncommits = \"admin-api\"\n",
            tansu.addr
        ),
    );
    let module = |cluster: &str| {
        let (code, body) = get(&server.url(&format!("/v3/kafka/{cluster}")));
        assert_eq!(code, 200, "{body}");
        serde_json::from_str::<Value>(&body).expect("JSON")
    };
    // A configured client id is never empty: an empty one means "not polled yet".
    let published = |cluster: &str| {
        let v = module(cluster);
        (v["module"]["client-profile"]["client-id"] != "").then_some(v)
    };
    let lab = wait_for(
        "lab's client profile",
        std::time::Duration::from_secs(60),
        || published("lab"),
    );
    let (_, burrow) = fixture("v3_kafka_tansu");
    same_shape("", &lab, &burrow).unwrap();
    let profile = &lab["module"]["client-profile"];
    assert_eq!(
        profile,
        &serde_json::json!({"name": "lab", "client-id": "scope-burrow-7", "kafka-version": "",
            "tls": null, "sasl": null})
    );
    assert_eq!(lab["module"]["servers"], serde_json::json!([tansu.addr]));
    // Without client_id: the source's default.
    let plain = wait_for(
        "plain's client profile",
        std::time::Duration::from_secs(60),
        || published("plain"),
    );
    assert_eq!(plain["module"]["client-profile"]["client-id"], "kafkascope");
    assert_eq!(plain["module"]["client-profile"]["name"], "plain");
}
