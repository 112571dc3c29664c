//! Against a real 3-node ZooKeeper ensemble: kill its leader, then its quorum, then bring it back,
//! and check that every page says what was true — a dead server is not shown as leader, a lost
//! quorum is an event with its time, a return is dated from the server's own uptime, and a
//! permalink to a fixed window shows the same table whenever it is opened.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::server::{Server, get, urlencode, wait_for};
use support::zookeeper::{ZkEnsemble, ZkOptions};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// (kind, subject, ts) of every stored event of the cluster.
fn events(server: &Server) -> Vec<(String, String, i64)> {
    let (status, body) = get(&server.url("/api/v1/events?start=0&end=9999999999"));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("events JSON");
    v["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("").to_string(),
                e["subject"].as_str().unwrap_or("").to_string(),
                e["ts"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

/// The ensemble table of a `/zookeeper/...` page.
fn ensemble_table(html: &str) -> String {
    let start = html
        .find("<table class=\"wide ensemble\">")
        .unwrap_or_else(|| panic!("no ensemble table:\n{html}"));
    let end = html[start..].find("</table>").expect("table end") + start;
    html[start..end].to_string()
}

/// The row of one server in the ensemble table.
fn row<'a>(table: &'a str, server: &str) -> &'a str {
    let at = table
        .find(&format!(">{server}</a>"))
        .unwrap_or_else(|| panic!("no row for {server}:\n{table}"));
    let end = table[at..]
        .find("</tr>")
        .map(|e| e + at)
        .unwrap_or(table.len());
    &table[at..end]
}

#[test]
fn killing_the_leader_and_the_quorum_is_told_truthfully_and_dated() {
    let mut ens = ZkEnsemble::start(3, &ZkOptions::default().without_admin());
    let addrs = ens.client_addrs();
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"ens\"\n[clusters.zookeeper]\nservers = {addrs:?}\n"
    );
    let server = Server::start(dir.path(), &cfg);
    let page = |path: &str| {
        let (status, html) = get(&server.url(path));
        assert_eq!(status, 200, "{path}: {html}");
        html
    };

    let leader = ens.leader_index().expect("a leader");
    let old_leader = addrs[leader].clone();
    wait_for(
        "the leader on the ensemble page",
        Duration::from_secs(60),
        || {
            let t = ensemble_table(&page("/zookeeper/ens?range=1h"));
            row(&t, &old_leader)
                .contains("<span class=\"badge leader\">leader</span>")
                .then_some(())
        },
    );
    // A stable stretch for the permalink window below.
    std::thread::sleep(Duration::from_secs(3));

    // 1. Kill the leader: a new one is elected; the dead one is down with unknown state.
    let killed_at = now_ms();
    ens.servers[leader].stop();
    let new_leader = addrs[ens.wait_for_new_leader(Some(leader), Duration::from_secs(60))].clone();
    let table = wait_for(
        "the new leader and the dead one",
        Duration::from_secs(60),
        || {
            let t = ensemble_table(&page("/zookeeper/ens?range=1h"));
            (row(&t, &new_leader).contains("badge leader\">leader")
                && row(&t, &old_leader).contains("badge down\">down"))
            .then_some(t)
        },
    );
    let dead = row(&table, &old_leader);
    assert!(
        !dead.contains("badge leader\">leader") && dead.contains("badge unknown\">unknown"),
        "a dead server's mode is unknown, not its last one: {dead}"
    );
    assert!(
        dead.contains("unknown since ") && dead.contains("last known leader"),
        "its last known state is labelled as such: {dead}"
    );
    let overview = page("/?range=1h");
    assert!(
        overview.contains(&format!("<dt>Leader</dt><dd>{new_leader}</dd>")),
        "the overview names only the live leader"
    );
    assert!(overview.contains("<dt>Servers up</dt><dd>2 / 3</dd>"));
    let server_page = page(&format!(
        "/zookeeper/ens/{}?range=1h",
        urlencode(&old_leader)
    ));
    assert!(
        !server_page.contains("badge leader\">leader</span></dd>"),
        "the dead leader's page does not say leader"
    );
    let ev = wait_for("a leader change event", Duration::from_secs(30), || {
        events(&server)
            .into_iter()
            .find(|(k, s, _)| k == "zk_leader_change" && *s == new_leader)
    });
    assert!(
        ev.2 >= killed_at - 2_000 && ev.2 <= now_ms(),
        "the leader change is dated from the new leader's uptime, after the kill: {ev:?} (killed at {killed_at})"
    );

    // A permalink to a window that has ended reads the same table now and a few seconds later,
    // although scrapes keep arriving.
    let window = format!(
        "/zookeeper/ens?from={}&to={}",
        urlencode(&(killed_at - 60_000).to_string()),
        urlencode(&(killed_at - 1_000).to_string())
    );
    let first = ensemble_table(&page(&window));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        first,
        ensemble_table(&page(&window)),
        "a fixed window's table does not change"
    );
    assert!(
        row(&first, &old_leader).contains("badge leader\">leader"),
        "the window before the kill shows the old leader: {first}"
    );

    // 2. Kill one more: the quorum is lost — one event, and the pages say so.
    let second = (0..3)
        .find(|i| *i != leader && addrs[*i] != new_leader)
        .unwrap();
    let lost_at = now_ms();
    ens.servers[second].stop();
    let lost = wait_for("a quorum-lost event", Duration::from_secs(60), || {
        events(&server)
            .into_iter()
            .find(|(k, _, t)| k == "zk_quorum_lost" && *t >= lost_at - 1_000)
    });
    assert!(lost.2 <= now_ms());
    wait_for("no quorum on the overview", Duration::from_secs(30), || {
        let o = page("/?range=1h");
        (o.contains("no quorum") && !o.contains(&format!("<dt>Leader</dt><dd>{new_leader}</dd>")))
            .then_some(())
    });

    // 3. Bring both back: the quorum returns, and the returns are dated from the servers' own
    // start (their uptime), not from a later retry.
    let restarted_at = now_ms();
    ens.servers[leader].start();
    ens.servers[second].start();
    ens.wait_for_new_leader(None, Duration::from_secs(90));
    let regained = wait_for("a quorum-regained event", Duration::from_secs(60), || {
        events(&server)
            .into_iter()
            .find(|(k, _, t)| k == "zk_quorum_regained" && *t >= restarted_at - 1_000)
    });
    assert!(regained.2 <= now_ms());
    let back = wait_for(
        "target_up of the restarted servers",
        Duration::from_secs(60),
        || {
            let e = events(&server);
            let ups: Vec<_> = e
                .iter()
                .filter(|(k, s, t)| {
                    k == "target_up"
                        && (*s == old_leader || *s == addrs[second])
                        && *t >= restarted_at - 2_000
                })
                .cloned()
                .collect();
            (ups.len() == 2).then_some(ups)
        },
    );
    for (_, s, t) in &back {
        assert!(
            *t <= restarted_at + 20_000,
            "{s} is dated when it started ({t}), close to the restart at {restarted_at}"
        );
    }
    let kinds: Vec<String> = events(&server).into_iter().map(|e| e.0).collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "zk_quorum_lost").count(),
        1,
        "the quorum was lost once: {kinds:?}"
    );
}
