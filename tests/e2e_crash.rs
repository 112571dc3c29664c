//! `kill -9` of the real server mid-ingest: every scrape it committed before dying is still there,
//! once, after a restart on the same database.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;
use support::server::{Server, get, urlencode, wait_for};
use support::zookeeper::{ZkOptions, ZkServer};

/// Every (series, timestamp, value) of the matrix answer, as exact strings.
fn points(base: &str, q: &str, start: i64, end: i64) -> BTreeSet<(String, i64, String)> {
    let url = format!(
        "{base}/api/v1/query_range?query={}&start={start}&end={end}&step=1",
        urlencode(q)
    );
    let (status, body) = get(&url);
    assert_eq!(status, 200, "{url}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let mut out = BTreeSet::new();
    for r in v["data"]["result"].as_array().cloned().unwrap_or_default() {
        let key = r["metric"].to_string();
        for p in r["values"].as_array().cloned().unwrap_or_default() {
            let ts = p[0].as_f64().unwrap_or_default() as i64;
            out.insert((
                key.clone(),
                ts,
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

    // Let it ingest for a while, then read what it has committed (the store publishes a scrape
    // to readers only after its transaction commits).
    let before = wait_for("a few committed scrapes", Duration::from_secs(60), || {
        let end = start + 3600;
        let p: BTreeSet<_> = queries
            .iter()
            .flat_map(|q| points(&server.base, q, start, end))
            .collect();
        let scrapes = p
            .iter()
            .filter(|(k, _, _)| k.contains("\"up\"") || k.contains("__name__\":\"up"))
            .count();
        (scrapes >= 5).then_some(p)
    });
    server.kill9();

    // Restart on the same database; everything seen before is there, exactly once.
    let server = Server::start_with(dir.path(), &server.config.clone());
    let end = start + 3600;
    let after: BTreeSet<_> = queries
        .iter()
        .flat_map(|q| points(&server.base, q, start, end))
        .collect();
    let missing: Vec<_> = before.difference(&after).collect();
    assert!(missing.is_empty(), "lost after kill -9: {missing:?}");
    // No duplicates: one point per (series, timestamp).
    let mut seen = BTreeSet::new();
    for (k, ts, _) in &after {
        assert!(
            seen.insert((k.clone(), *ts)),
            "duplicate point for {k} at {ts}"
        );
    }
    // And it keeps collecting after the restart.
    wait_for(
        "new scrapes after the restart",
        Duration::from_secs(60),
        || {
            let now = points(&server.base, "up", start, end);
            (now.len() > before.iter().filter(|(k, _, _)| k.contains("up")).count()).then_some(())
        },
    );
}
