//! Burrow's statuses from real consumers: `kafkascope serve` (commits read from
//! `__consumer_offsets`, so with real commit times) against a real Kafka-protocol broker (Tansu)
//! while confluent-kafka consumers, scripted with `offsets_tool.py`, keep up (OK), fall behind a
//! live producer while committing (WARN), commit an offset lower than the one before (REWIND) and
//! reset to the earliest offset (a replay: REWIND, the whole log as lag). STALL and STOP from
//! real consumers are in `kafka_offsets_topic.rs`.
//!
//! Lag in seconds is checked against the produce times this test records: the falling-behind
//! group's and the replayed group's largest lag in seconds (`/consumers` export) is the time since
//! the log end stood at the committed offset, within the poll interval and the time one produce
//! call takes.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::kafka::{Tansu, python, tool};
use support::server::{Server, get, query, wait_for};

/// `offsets_tool.py run BROKER GROUP TOPIC PLAN` in the background (killed on drop).
struct Consumer(Child);

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn consume(k: &Tansu, group: &str, topic: &str, plan: &str) -> Consumer {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/kafka/offsets_tool.py");
    Consumer(
        Command::new(python())
            .arg(script)
            .args(["run", &k.addr, group, topic, plan])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run offsets_tool.py"),
    )
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What a produce call wrote: offsets `first..=last`, between `before` and `after` (seconds).
#[derive(Clone, Copy, Debug)]
struct Produced {
    first: i64,
    last: i64,
    before: f64,
    after: f64,
}

/// Produces `n` records to partition 0 of `topic`, recording when.
fn produce(broker: &str, topic: &str, n: i64, log: &Mutex<Vec<Produced>>) {
    let first = log.lock().unwrap().last().map_or(0, |p| p.last + 1);
    let before = now_s();
    tool("produce", broker, &[topic, "0", &n.to_string()]);
    log.lock().unwrap().push(Produced {
        first,
        last: first + n - 1,
        before,
        after: now_s(),
    });
}

/// The window of times at which the log end stood at `committed`: after the record before it
/// was written (or, for offset 0, a poll interval before the first record was), until the record
/// at it was (None: that record is not written yet).
fn log_end_was(log: &[Produced], committed: i64) -> (f64, Option<f64>) {
    let batch = |o: i64| log.iter().find(|p| (p.first..=p.last).contains(&o));
    let since = match batch(committed - 1) {
        Some(p) => p.before,
        None => batch(committed).map_or(0.0, |p| p.before - 1.0),
    };
    (since, batch(committed).map(|p| p.after))
}

/// Burrow's `/lag` for a group: (group status, first partition).
fn burrow(server: &Server, group: &str) -> Option<(String, Value)> {
    let (code, body) = get(&server.url(&format!("/v3/kafka/lab/consumer/{group}/lag")));
    if code != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    Some((
        v["status"]["status"].as_str()?.to_string(),
        v["status"]["partitions"][0].clone(),
    ))
}

/// The `/consumers` export's row of a group.
fn row(server: &Server, group: &str) -> Option<Value> {
    let (code, body) =
        get(&server.url("/consumers?range=15m&format=json&table=consumers&per=5000"));
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).ok()?;
    v["rows"]
        .as_array()?
        .iter()
        .find(|r| r["group"] == group)
        .cloned()
}

/// Waits until `group`'s first partition has `status` and returns it.
fn wait_status(server: &Server, group: &str, status: &str) -> Value {
    wait_for(
        &format!("{group}'s partition to be {status}"),
        Duration::from_secs(90),
        || {
            burrow(server, group)
                .filter(|(_, p)| p["status"] == status)
                .map(|(_, p)| p)
        },
    )
}

/// The lag in seconds `/consumers` gives `group` against the produce log, checked as of one
/// moment: the committed offset from Burrow's API just before and just after the export.
fn check_seconds(server: &Server, group: &str, log: &Mutex<Vec<Produced>>) -> f64 {
    // The source polls every second; a poll between the reads shows as two different commits.
    wait_for(
        &format!("{group}'s lag in seconds to match the produce times"),
        Duration::from_secs(30),
        || {
            let (_, p) = burrow(server, group)?;
            let committed = p["end"]["offset"].as_i64()?;
            let asked = now_s();
            let seconds = row(server, group)?["max_lag_seconds"].as_f64()?;
            let (_, again) = burrow(server, group)?;
            if again["end"]["offset"].as_i64()? != committed || seconds < 0.0 {
                return None;
            }
            let (since, until) = log_end_was(&log.lock().unwrap(), committed);
            // As of the newest poll (at most one interval, 1 s, before the request), the time
            // since the log end stood at the commit, interpolated between polls a second apart.
            let longest = asked - since + 1.0;
            let shortest = until.map_or(0.0, |u| asked - u - 2.0);
            assert!(
                (shortest..=longest).contains(&seconds),
                "{group}: committed {committed}, lag {seconds} s, expected {shortest:.1}..{longest:.1} s"
            );
            Some(seconds)
        },
    )
}

#[test]
fn real_consumers_reach_every_burrow_status_with_lag_seconds_from_produce_times() {
    let dir = tempfile::tempdir().unwrap();
    let k = Tansu::start(dir.path());
    let topics = ["ok-t", "warn-t", "rewind-t", "replay-t"];
    for t in topics {
        k.tool("create-topic", &[t, "1"]);
    }
    // commits = offsets-topic: every commit with its commit time, as Burrow reads them.
    let server = Server::start(
        dir.path(),
        &format!(
            "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\n[clusters.kafka]\nbrokers = [\"{}\"]\ncommits = \"offsets-topic\"\n",
            k.addr
        ),
    );
    // The log-end history starts at 0 for every topic, so the replay's lag in seconds is known.
    wait_for("the empty topics polled", Duration::from_secs(60), || {
        let seen = query(
            &server.base,
            "kafka_topic_partition_current_offset{cluster=\"lab\"} == 0",
        );
        (seen.len() >= topics.len()).then_some(())
    });

    let logs: Vec<Arc<Mutex<Vec<Produced>>>> = topics
        .iter()
        .map(|_| Arc::new(Mutex::new(Vec::new())))
        .collect();
    let [ok_log, warn_log, rewind_log, replay_log] = [0, 1, 2, 3].map(|i| logs[i].clone());
    produce(&k.addr, "ok-t", 10, &ok_log);
    produce(&k.addr, "rewind-t", 20, &rewind_log);
    produce(&k.addr, "replay-t", 10, &replay_log);
    produce(&k.addr, "warn-t", 5, &warn_log);

    // warn-t's producer writes about 4 records a second while its consumer reads 1.
    let producing = Arc::new(AtomicBool::new(true));
    let producer = {
        let (addr, log, on) = (k.addr.clone(), warn_log.clone(), producing.clone());
        std::thread::spawn(move || {
            while on.load(Ordering::Relaxed) {
                produce(&addr, "warn-t", 4, &log);
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    let repeat = |step: &str, n: usize| vec![step; n].join(",");
    // Reads everything, then commits the same offset every second with no lag.
    let _ok = consume(&k, "ok", "ok-t", &format!("c=10,{}", repeat("s=1,r", 200)));
    // One record and a commit a second: its lag grows at every commit.
    let _warn = consume(&k, "warn", "warn-t", &repeat("c=1,s=1", 200));
    // Commits 8, 10, then 4 (six records back), then 4 again every 3 s, lag never 0.
    let _rewind = consume(
        &k,
        "rewind",
        "rewind-t",
        &format!("c=8,s=2,c=2,s=2,b=6,{}", repeat("s=3,r", 60)),
    );
    // Commits 5, 8, then the earliest offset (0): the whole log to read again.
    let _replay = consume(
        &k,
        "replay",
        "replay-t",
        &format!("c=5,s=2,c=3,s=2,e,{}", repeat("s=3,r", 60)),
    );

    // The group page shows the evaluated window and the rule that decided (read while the
    // rewind is still in the window of ten commits).
    let page_says = |group: &str, why: &str| {
        let (code, page) = get(&server.url(&format!("/consumers/lab/{group}?range=15m")));
        assert_eq!(code, 200, "{page}");
        assert!(page.contains(why), "{group}: {why:?} not on its page");
        assert!(!page.contains("inferred"), "{group}: real commit times");
    };
    let p = wait_status(&server, "rewind", "REWIND");
    page_says("rewind", "went back from 10 to 4");
    assert_eq!(p["end"]["offset"], 4, "{p}");
    assert_eq!(p["end"]["lag"], 16, "{p}");
    let p = wait_status(&server, "replay", "REWIND");
    page_says("replay", "went back from 8 to 0");
    assert_eq!(p["end"]["offset"], 0, "{p}");
    assert_eq!(p["end"]["lag"], 10, "the whole log is lag again: {p}");
    // Replayed from 0: behind by the time since the first record was written.
    check_seconds(&server, "replay", &replay_log);

    let p = wait_status(&server, "ok", "OK");
    assert_eq!(p["current_lag"], 0, "{p}");
    assert_eq!(p["end"]["offset"], 10, "{p}");
    let (status, _) = burrow(&server, "ok").unwrap();
    assert_eq!(status, "OK");

    // WARN needs a full window of ten commits whose lag never went down.
    let p = wait_status(&server, "warn", "WARN");
    let window = p["start"]["lag"].as_i64().zip(p["end"]["lag"].as_i64());
    assert!(
        window.is_some_and(|(a, b)| b > a),
        "lag grew over the window: {p}"
    );
    let (status, _) = burrow(&server, "warn").unwrap();
    assert_eq!(status, "WARN");
    let seconds = check_seconds(&server, "warn", &warn_log);
    assert!(
        seconds > 1.0,
        "a growing backlog is seconds behind: {seconds}"
    );

    producing.store(false, Ordering::Relaxed);
    producer.join().expect("producer thread");
}
