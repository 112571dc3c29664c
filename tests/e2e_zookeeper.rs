//! End to end, the way users run it: the real `kafkascope serve` binary against real ZooKeeper 3.8
//! servers (a standalone one and a 3-node ensemble), read back through the Prometheus-shaped API
//! and the pages, compared with what the servers say over four-letter words at the same time.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;
use support::server::{Server, get, query, urlencode, wait_for};
use support::zookeeper::{ZkEnsemble, ZkOptions, ZkServer, four_letter};

/// `key value` lines of a mntr reply.
fn mntr(addr: &str) -> BTreeMap<String, String> {
    four_letter(addr, "mntr")
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .collect()
}

/// Values of `metric{cluster=..}` by server label.
fn by_server(base: &str, selector: &str) -> BTreeMap<String, f64> {
    query(base, selector)
        .into_iter()
        .filter_map(|(labels, v)| Some((labels.get("server")?.as_str()?.to_string(), v)))
        .collect()
}

/// The mode each server of a cluster has according to `zk_server_state{state=..} == 1`.
fn modes(base: &str, cluster: &str) -> BTreeMap<String, String> {
    query(base, &format!("zk_server_state{{cluster=\"{cluster}\"}}"))
        .into_iter()
        .filter(|(_, v)| *v == 1.0)
        .filter_map(|(l, _)| {
            Some((
                l.get("server")?.as_str()?.to_string(),
                l.get("state")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Waits until the API's value for each server equals mntr's (read right after), proving both
/// agree at the same moment; returns the agreed values.
fn agree_with_mntr(
    base: &str,
    cluster: &str,
    metric: &str,
    addrs: &[String],
) -> BTreeMap<String, f64> {
    wait_for(
        &format!("{metric} of {cluster} to equal mntr"),
        Duration::from_secs(60),
        || {
            let api = by_server(base, &format!("{metric}{{cluster=\"{cluster}\"}}"));
            let mut want = BTreeMap::new();
            for a in addrs {
                if let Some(v) = mntr(a).get(metric).and_then(|v| v.parse::<f64>().ok()) {
                    want.insert(a.clone(), v);
                }
            }
            (!want.is_empty() && api == want).then_some(api)
        },
    )
}

fn config(clusters: &[(&str, &[String], &[String])]) -> String {
    let mut s = String::from("[collector]\ninterval = \"1s\"\nmax_backoff = \"2s\"\n");
    for (name, zk, admin) in clusters {
        s.push_str(&format!(
            "\n[[clusters]]\nname = \"{name}\"\nzookeeper = {zk:?}\nzookeeper_admin = {admin:?}\n"
        ));
    }
    s
}

#[test]
fn readings_through_the_api_equal_what_mntr_says_for_standalone_and_ensemble() {
    let solo = ZkServer::start_standalone(&ZkOptions::default());
    solo.cli(&["create", "/kafkascope-e2e", "x"]);
    solo.cli(&["create", "/kafkascope-e2e/child", "y"]);
    let ens = ZkEnsemble::start(3, &ZkOptions::default());
    let ens_addrs = ens.client_addrs();
    let ens_admin = ens.admin_urls();
    let solo_addr = vec![solo.client_addr()];
    let solo_admin = vec![solo.admin_url().expect("admin enabled")];

    let dir = tempfile::tempdir().unwrap();
    // The same servers twice: once over four-letter words, once over the AdminServer only, in
    // separate clusters so each path's series can be checked on its own.
    let server = Server::start(
        dir.path(),
        &config(&[
            ("solo", &solo_addr, &[]),
            ("ens", &ens_addrs, &[]),
            ("solo_admin", &[], &solo_admin),
            ("ens_admin", &[], &ens_admin),
        ]),
    );
    let base = &server.base;

    // Standalone: znode count (with the znodes created above) agrees over both paths.
    let znodes = agree_with_mntr(base, "solo", "zk_znode_count", &solo_addr);
    assert!(
        znodes[&solo_addr[0]] >= 6.0,
        "two created znodes on top of the defaults: {znodes:?}"
    );
    let admin_znodes = wait_for("admin znode count", Duration::from_secs(60), || {
        let v = by_server(base, "zk_znode_count{cluster=\"solo_admin\"}");
        (v.get(&solo_addr[0]).copied()
            == mntr(&solo_addr[0])
                .get("zk_znode_count")
                .and_then(|v| v.parse().ok()))
        .then_some(v)
    });
    assert_eq!(
        admin_znodes, znodes,
        "the AdminServer path lands in the same series shape"
    );
    assert_eq!(
        modes(base, "solo").get(&solo_addr[0]).map(String::as_str),
        Some("standalone")
    );

    // Ensemble: every server's mode, the znode count, and the leader's synced followers.
    for cluster in ["ens", "ens_admin"] {
        let want: BTreeMap<String, String> = ens_addrs
            .iter()
            .filter_map(|a| Some((a.clone(), mntr(a).get("zk_server_state")?.clone())))
            .collect();
        assert_eq!(want.len(), 3, "all three servers answer mntr");
        let got = wait_for(
            &format!("modes of {cluster}"),
            Duration::from_secs(60),
            || {
                let m = modes(base, cluster);
                (m == want).then_some(m)
            },
        );
        assert_eq!(
            got.values().filter(|m| *m == "leader").count(),
            1,
            "{got:?}"
        );

        let leader = ens_addrs[ens.leader_index().expect("a leader")].clone();
        let synced = wait_for(
            &format!("synced followers of {cluster}"),
            Duration::from_secs(60),
            || {
                let v = by_server(
                    base,
                    &format!("zk_synced_followers{{cluster=\"{cluster}\"}}"),
                );
                let m = mntr(&leader)
                    .get("zk_synced_followers")
                    .and_then(|v| v.parse::<f64>().ok());
                (m.is_some() && v.get(&leader).copied() == m).then_some(v)
            },
        );
        assert_eq!(synced.get(&leader).copied(), Some(2.0), "{synced:?}");
        assert_eq!(
            synced.len(),
            1,
            "only the leader reports synced followers: {synced:?}"
        );
    }
    agree_with_mntr(base, "ens", "zk_znode_count", &ens_addrs);
    agree_with_mntr(base, "ens", "zk_approximate_data_size", &ens_addrs);

    // Every target is up.
    let up = query(base, "up");
    assert_eq!(
        up.len(),
        8,
        "1 + 3 + 1 + 3 four-letter-word and admin targets: {up:?}"
    );
    assert!(up.iter().all(|(_, v)| *v == 1.0), "{up:?}");
}

/// A TCP server that answers every connection with junk bytes and closes.
fn garbage_speaker() -> (String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = [0u8; 64];
            let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"\x00\x01\xffGARBAGE<html>\x1b[31m not zookeeper\r\n");
        }
    });
    (addr, h)
}

/// A TCP server that accepts and never answers.
fn silent_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            held.push(c);
        }
    });
    addr
}

fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
    // dropped: nothing listens there any more
}

#[test]
fn dead_garbage_and_silent_targets_show_as_down_while_the_others_keep_updating() {
    let zk = ZkServer::start_standalone(&ZkOptions::default());
    let dead = closed_port();
    let (garbage, _g) = garbage_speaker();
    let silent = silent_server();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&[(
        "lab",
        &[
            zk.client_addr(),
            dead.clone(),
            garbage.clone(),
            silent.clone(),
        ],
        &[],
    )]);
    cfg = cfg.replace(
        "interval = \"1s\"\n",
        "interval = \"2s\"\ntimeout = \"1s\"\n",
    );
    let server = Server::start(dir.path(), &cfg);
    let base = &server.base;

    let up = |target: &str| -> Option<f64> {
        query(base, &format!("up{{target=\"{target}\"}}"))
            .first()
            .map(|(_, v)| *v)
    };
    wait_for("all four targets scraped", Duration::from_secs(60), || {
        [
            zk.client_addr(),
            dead.clone(),
            garbage.clone(),
            silent.clone(),
        ]
        .iter()
        .all(|t| up(t).is_some())
        .then_some(())
    });
    assert_eq!(up(&zk.client_addr()), Some(1.0));
    assert_eq!(up(&dead), Some(0.0));
    assert_eq!(up(&garbage), Some(0.0));
    assert_eq!(up(&silent), Some(0.0));

    // The targets page names each failure in words.
    let (status, page) = get(&server.url("/targets"));
    assert_eq!(status, 200);
    assert!(
        page.contains(&dead) && page.to_lowercase().contains("refused"),
        "closed port error text:\n{page}"
    );
    assert!(page.contains(&garbage), "{page}");
    assert!(
        page.contains("GARBAGE") || page.to_lowercase().contains("unexpected"),
        "garbage error text:\n{page}"
    );
    assert!(
        page.contains(&format!("{silent}: mntr: no complete reply within")),
        "silent server error text:\n{page}"
    );
    assert!(
        !page.contains("\x1b"),
        "control bytes from the junk reply are not echoed raw"
    );

    // The healthy server keeps updating: its znode count follows a change made now.
    zk.cli(&["create", "/after-failures", "z"]);
    agree_with_mntr(base, "lab", "zk_znode_count", &[zk.client_addr()]);

    // Pages keep working.
    for path in ["/", "/zookeeper", "/targets"] {
        assert_eq!(get(&server.url(path)).0, 200, "{path}");
    }
    // The down events were recorded, with the error text.
    let (_, events) = get(&server.url(&format!(
        "/api/v1/events?start=0&end=9999999999&cluster={}",
        urlencode("lab")
    )));
    assert!(events.contains("target_down"), "{events}");
}
