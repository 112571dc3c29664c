//! `[clusters.kafka] commits = "offsets-topic"` and `"auto"` end to end: `kafkascope serve` against
//! a real Kafka-protocol broker (Tansu) with real confluent-kafka consumers.
//!
//! Tansu takes commits but never writes them to `__consumer_offsets` (it auto-creates the topic
//! with 4 partitions and leaves it empty). So `offsets_tool.py`, after each real commit, produces
//! the record an Apache Kafka coordinator would have appended: OffsetCommit (key v1, value v3 with
//! the commit time) and GroupMetadata (v3, this member and its assignment), to partition
//! abs(String.hashCode(group)) % 4, one record per batch.
//!
//! - committed offsets and lag equal the AdminClient's; commit counters count the commits;
//! - a consumer committing the same offset with lag is STALL with its member as owner; one that
//!   stops committing is STOP, from real commit times: the group page does not say "inferred";
//! - a tombstone removes a group (kafka_group_deleted), a garbage value is a counted decode
//!   error and the other groups stand;
//! - `auto` next to it uses the topic (it holds commits); `auto` on a Tansu whose topic holds no
//!   records falls back to the Admin API and says why on /targets and on the group page.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::kafka::{Tansu, python};
use support::server::{Server, get, query, wait_for};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/kafka/offsets_tool.py")
}

/// `offsets_tool.py COMMAND BROKER ARGS...` in the background (killed on drop).
struct Bg(Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(k: &Tansu, args: &[&str]) -> Bg {
    let mut cmd = Command::new(python());
    cmd.arg(script()).arg(args[0]).arg(&k.addr).args(&args[1..]);
    Bg(cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run offsets_tool.py"))
}

fn run(k: &Tansu, args: &[&str]) {
    let mut b = spawn(k, args);
    let status = b.0.wait().expect("offsets_tool.py");
    assert!(status.success(), "offsets_tool.py {args:?} failed");
}

/// One value of `metric{cluster, consumergroup}` (None when absent).
fn value(server: &Server, metric: &str, cluster: &str, group: &str) -> Option<f64> {
    query(
        &server.base,
        &format!("{metric}{{cluster=\"{cluster}\",consumergroup=\"{group}\"}}"),
    )
    .first()
    .map(|r| r.1)
}

/// (committed, lag) of a group's only partition as the AdminClient sees it.
fn truth(k: &Tansu, group: &str) -> (f64, f64) {
    let v: Value = serde_json::from_str(&k.tool("lag", &[group])).expect("lag JSON");
    let row = &v[group][0];
    (
        row["committed"].as_f64().unwrap_or(f64::NAN),
        row["lag"].as_f64().unwrap_or(f64::NAN),
    )
}

/// The Burrow-style `/lag` answer for a group: (group status, first partition).
fn burrow(server: &Server, cluster: &str, group: &str) -> Option<(String, Value)> {
    let (code, body) = get(&server.url(&format!("/v3/kafka/{cluster}/consumer/{group}/lag")));
    if code != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    let st = v["status"]["status"].as_str()?.to_string();
    Some((st, v["status"]["partitions"][0].clone()))
}

#[test]
fn commits_from_the_offsets_topic_give_real_commit_times() {
    let dir = tempfile::tempdir().unwrap();
    let k = Tansu::start(dir.path());
    for t in ["stall-t", "stop-t", "gone-t"] {
        k.tool("create-topic", &[t, "1"]);
        k.tool("produce", &[t, "0", "10"]);
    }
    // Consumers run concurrently (each join takes Tansu many seconds):
    // - stall: reads 3 records, then commits offset 3 again every second (lag 7 throughout);
    // - stop: commits 2, 4, 6 a second apart, then leaves (lag 4);
    // - gone: commits 1 and leaves; later tombstoned.
    let stall_plan = format!("c=3{}", ",s=1,r".repeat(240));
    let _stall = spawn(&k, &["run", "stall", "stall-t", &stall_plan]);
    let stop = spawn(&k, &["run", "stop", "stop-t", "c=2,s=1,c=2,s=1,c=2"]);
    let gone = spawn(&k, &["run", "gone", "gone-t", "c=1"]);
    for mut b in [stop, gone] {
        assert!(b.0.wait().expect("offsets_tool.py").success());
    }
    // A record whose value decodes as nothing, next to the real ones.
    run(&k, &["garbage", "bad", "stop-t", "0"]);

    let config = format!(
        "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\n[clusters.kafka]\nbrokers = [\"{a}\"]\ncommits = \"offsets-topic\"\n\n[[clusters]]\nname = \"labauto\"\n[clusters.kafka]\nbrokers = [\"{a}\"]\ncommits = \"auto\"\n",
        a = k.addr
    );
    let server = Server::start(dir.path(), &config);

    // Committed offsets and lag equal the AdminClient's.
    for g in ["stop", "gone"] {
        let (committed, lag) = truth(&k, g);
        wait_for(
            &format!("{g}'s committed offset and lag to equal the AdminClient's"),
            Duration::from_secs(60),
            || {
                (value(&server, "kafka_consumergroup_current_offset", "lab", g) == Some(committed)
                    && value(&server, "kafka_consumergroup_lag", "lab", g) == Some(lag))
                .then_some(())
            },
        );
        assert!(lag > 0.0, "{g}: a test without lag proves little");
    }
    assert_eq!(truth(&k, "stop"), (6.0, 4.0));
    assert_eq!(
        value(&server, "kafka_consumergroup_commits_total", "lab", "stop"),
        Some(3.0),
        "three commit records of stop"
    );

    // STALL: the same offset committed again and again, with lag, by a member that owns the
    // partition (from its GroupMetadata record).
    let (_, p) = wait_for("stall to be STALL", Duration::from_secs(90), || {
        burrow(&server, "lab", "stall").filter(|(_, p)| p["status"] == "STALL")
    });
    assert_eq!(p["client_id"], "offsets-tool", "{p}");
    assert_eq!(p["owner"], "/127.0.0.1", "{p}");
    assert_eq!(p["current_lag"], 7, "{p}");
    // Commits made while kafkascope runs are read too (the reader follows the log end).
    let seen = value(&server, "kafka_consumergroup_commits_total", "lab", "stall").unwrap_or(0.0);
    wait_for(
        "stall's later commits to be read",
        Duration::from_secs(60),
        || {
            (value(&server, "kafka_consumergroup_commits_total", "lab", "stall")? >= seen + 3.0)
                .then_some(())
        },
    );
    let (code, html) = get(&server.url("/consumers/lab/stall?range=1h"));
    assert_eq!(code, 200);
    assert!(html.contains("was committed"), "real commits: {html}");
    assert!(
        !html.contains("Status inferred from polled offsets"),
        "{html}"
    );

    // STOP: no commit for longer than the window of real commit times spans.
    let (status, p) = wait_for("stop to be STOP", Duration::from_secs(60), || {
        burrow(&server, "lab", "stop").filter(|(_, p)| p["status"] == "STOP")
    });
    assert_eq!(status, "ERR");
    let (first, last) = (
        p["start"]["timestamp"].as_i64().unwrap_or(0),
        p["end"]["timestamp"].as_i64().unwrap_or(0),
    );
    // Commit times, not poll times: the three commits were a second apart (two seconds in all,
    // plus the consumer's own pace), long before the server started polling.
    assert_eq!(p["start"]["offset"], 2, "{p}");
    assert_eq!(p["end"]["offset"], 6, "{p}");
    assert!(last - first >= 2_000, "{p}");
    let (_, html) = get(&server.url("/consumers/lab/stop?range=1h"));
    assert!(
        !html.contains("Status inferred from polled offsets"),
        "{html}"
    );
    assert!(!html.contains("inferred:"), "{html}");

    // The garbage record: counted, shown, and nothing else disturbed.
    let errors = query(
        &server.base,
        "kafkascope_offsets_topic_decode_errors_total{cluster=\"lab\"}",
    );
    assert_eq!(errors.first().map(|r| r.1), Some(1.0), "{errors:?}");
    let (_, targets) = get(&server.url("/targets"));
    assert!(targets.contains("not decodable"), "{targets}");
    assert!(value(&server, "kafka_consumergroup_lag", "lab", "bad").is_none());
    let behind = query(
        &server.base,
        "kafkascope_offsets_topic_behind_records{cluster=\"lab\"}",
    );
    assert_eq!(behind.len(), 4, "one per partition: {behind:?}");
    assert!(behind.iter().all(|r| r.1 == 0.0), "caught up: {behind:?}");

    // auto on the same broker: the topic holds commits, so it is used.
    wait_for("auto to read the topic", Duration::from_secs(60), || {
        burrow(&server, "labauto", "stop").filter(|(_, p)| p["status"] == "STOP")
    });
    let (_, html) = get(&server.url("/consumers/labauto/stop?range=1h"));
    assert!(
        !html.contains("Status inferred from polled offsets"),
        "{html}"
    );

    // A tombstone removes the group.
    run(&k, &["tombstone", "gone", "gone-t", "0"]);
    wait_for("gone to be deleted", Duration::from_secs(60), || {
        let (_, body) =
            get(&server.url("/api/v1/events?start=0&end=9999999999&kind=kafka_group_deleted"));
        let v: Value = serde_json::from_str(&body).ok()?;
        v["data"]
            .as_array()?
            .iter()
            .any(|e| e["cluster"] == "lab" && e["subject"] == "gone")
            .then_some(())
    });
    // Negative control's positive: stall and stop were not deleted.
    let (_, body) =
        get(&server.url("/api/v1/events?start=0&end=9999999999&kind=kafka_group_deleted"));
    assert!(
        !body.contains("\"stall\"") && !body.contains("\"stop\""),
        "{body}"
    );
}

#[test]
fn auto_falls_back_to_the_admin_api_when_the_topic_holds_no_commits() {
    let dir = tempfile::tempdir().unwrap();
    let k = Tansu::start(dir.path());
    k.tool("create-topic", &["orders", "1"]);
    k.tool("produce", &["orders", "0", "5"]);
    // A real commit, but nothing written to __consumer_offsets (plain Tansu).
    k.tool("commit", &["plain", "orders", "0=2"]);
    let config = format!(
        "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\n[clusters.kafka]\nbrokers = [\"{}\"]\ncommits = \"auto\"\n",
        k.addr
    );
    let server = Server::start(dir.path(), &config);
    wait_for("the Admin API's lag", Duration::from_secs(60), || {
        (value(&server, "kafka_consumergroup_lag", "lab", "plain") == Some(3.0)).then_some(())
    });
    assert_eq!(
        value(
            &server,
            "kafka_consumergroup_current_offset",
            "lab",
            "plain"
        ),
        Some(2.0)
    );
    let (_, targets) = get(&server.url("/targets"));
    assert!(
        targets.contains("committed offsets come from the Admin API"),
        "{targets}"
    );
    assert!(
        targets.contains("holds no commit records")
            || targets.contains("no __consumer_offsets topic"),
        "the reason: {targets}"
    );
    let (code, html) = get(&server.url("/consumers/lab/plain?range=1h"));
    assert_eq!(code, 200, "{html}");
    assert!(
        html.contains("Status inferred from polled offsets"),
        "the fallback is inferred: {html}"
    );
}
