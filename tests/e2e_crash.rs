//! `kill -9` of the real server mid-ingest: every scrape it committed before dying is still there,
//! once, after a restart on the same database.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;
use support::server::{Server, get, urlencode, wait_for};
use support::zookeeper::{ZkOptions, ZkServer};

/// Every raw sample (series, timestamp, value) of the range selector `q[range]` evaluated at
/// `time`, as exact strings and in answer order, so a duplicate shows up as a repeated entry.
fn raw_points(base: &str, q: &str, range: &str, time: i64) -> Vec<(String, String, String)> {
    let url = format!(
        "{base}/api/v1/query?query={}&time={time}",
        urlencode(&format!("{q}[{range}]"))
    );
    let (status, body) = get(&url);
    assert_eq!(status, 200, "{url}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["data"]["resultType"], "matrix", "{body}");
    let mut out = Vec::new();
    for r in v["data"]["result"].as_array().cloned().unwrap_or_default() {
        let key = r["metric"].to_string();
        for p in r["values"].as_array().cloned().unwrap_or_default() {
            out.push((
                key.clone(),
                p[0].to_string(),
                p[1].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

#[test]
fn kill_9_mid_ingest_loses_no_committed_scrape() {
    let zk = ZkServer::start_standalone(&ZkOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\nzookeeper = [{:?}]\n",
        zk.client_addr()
    );
    let mut server = Server::start(dir.path(), &cfg);
    let start = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64)
        - 5;
    let queries = ["up", "zk_znode_count", "zk_packets_received"];
    let time = start + 3600;
    let read = |base: &str| -> Vec<(String, String, String)> {
        queries
            .iter()
            .flat_map(|q| raw_points(base, q, "1h", time))
            .collect()
    };

    // Let it ingest for a while, then read what it has committed (the store publishes a scrape
    // to readers only after its transaction commits).
    let before = wait_for("a few committed scrapes", Duration::from_secs(60), || {
        let p = read(&server.base);
        let scrapes = p
            .iter()
            .filter(|(k, _, _)| k.contains("\"__name__\":\"up\""))
            .count();
        (scrapes >= 5).then_some(p)
    });
    server.kill9();

    // Restart on the same database: every raw sample seen before is there, with the same value.
    let server = Server::start_with(dir.path(), &server.config.clone());
    let after = read(&server.base);
    let after_set: BTreeSet<_> = after.iter().cloned().collect();
    let missing: Vec<_> = before.iter().filter(|p| !after_set.contains(*p)).collect();
    assert!(missing.is_empty(), "lost after kill -9: {missing:?}");
    // No duplicates: one sample per (series, timestamp).
    let mut seen = BTreeSet::new();
    for (k, ts, _) in &after {
        assert!(
            seen.insert((k.clone(), ts.clone())),
            "duplicate sample for {k} at {ts}"
        );
    }
    // And it keeps collecting after the restart.
    let ups_before = before
        .iter()
        .filter(|(k, _, _)| k.contains("\"__name__\":\"up\""))
        .count();
    wait_for(
        "new scrapes after the restart",
        Duration::from_secs(60),
        || (raw_points(&server.base, "up", "1h", time).len() > ups_before).then_some(()),
    );
}
