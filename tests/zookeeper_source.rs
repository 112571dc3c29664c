//! The ZooKeeper sources against real ZooKeeper 3.8 servers (Debian package, JVMs started by
//! tests/support/zookeeper.rs on free loopback ports), and against a closed port and servers that
//! speak garbage.

mod support;

use kafkascope::sources::zookeeper::parse::{self, ParseError};
use kafkascope::sources::zookeeper::{
    EnsembleTracker, LEADER_CHANGE, MODE_CHANGE, ZkAdminSource, ZkFourLetterSource, ZkTarget,
    build_sources, metrics,
};
use kafkascope::sources::{ScrapeOutput, Source, SourceError, SourceEvent};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use support::zookeeper::{ZkEnsemble, ZkOptions, ZkServer, four_letter};

const BUDGET: Duration = Duration::from_secs(10);

fn value(out: &ScrapeOutput, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    out.readings
        .iter()
        .find(|r| r.metric == metric && labels.iter().all(|(k, v)| r.labels.get(k) == Some(*v)))
        .map(|r| r.value)
}

/// Series identities (`metric{labels}`) of a scrape.
fn series(out: &ScrapeOutput) -> BTreeSet<String> {
    out.readings
        .iter()
        .map(|r| format!("{}{{{}}}", r.metric, r.labels.canonical()))
        .collect()
}

async fn scrape_all(sources: &mut [ZkTarget]) -> Vec<Result<ScrapeOutput, SourceError>> {
    let mut outs = Vec::new();
    for s in sources.iter_mut() {
        outs.push(s.scrape(BUDGET).await);
    }
    outs
}

fn events_of(outs: &[Result<ScrapeOutput, SourceError>]) -> Vec<SourceEvent> {
    outs.iter()
        .filter_map(|o| o.as_ref().ok())
        .flat_map(|o| o.events.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_readings_equal_a_raw_mntr_and_the_admin_server_gives_the_same_series() {
    let zk = ZkServer::start_standalone(&ZkOptions::default());
    zk.cli(&["create", "/lab", "x"]);
    zk.cli(&["create", "/lab/app", "y"]);
    zk.cli(&["get", "/lab/app"]);
    let server = zk.client_addr();
    let tracker = EnsembleTracker::new("lab");
    let mut fourlw = ZkFourLetterSource::new(&server, tracker.clone());

    let out = fourlw
        .scrape(BUDGET)
        .await
        .expect("four-letter-word scrape");
    let raw = parse::parse_mntr(&zk.four_letter("mntr")).expect("raw mntr");
    let raw_srvr = parse::parse_srvr("srvr", &zk.four_letter("srvr")).expect("raw srvr");

    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(
        out.events.is_empty(),
        "the first observation is not an event"
    );
    let at = [("server", server.as_str())];
    // Values that do not move between two reads equal what mntr says.
    for key in [
        "zk_znode_count",
        "zk_ephemerals_count",
        "zk_approximate_data_size",
        "zk_watch_count",
        "zk_max_file_descriptor_count",
    ] {
        assert_eq!(value(&out, key, &at), raw.value(key), "{key}");
    }
    assert_eq!(value(&out, "zk_znode_count", &at), raw_srvr.node_count);
    // Every mntr series is there, under the same name and labels plus `server`.
    let got = series(&out);
    for r in metrics::mntr_readings(&raw) {
        let key = format!(
            "{}{{{}}}",
            r.metric,
            r.labels.clone().with("server", server.as_str()).canonical()
        );
        assert!(got.contains(&key), "missing {key}");
    }
    assert!(
        value(&out, "zk_avg_read_per_namespace", &[("namespace", "lab")]).is_some(),
        "per-namespace keys become a label"
    );
    assert_eq!(
        value(&out, "zk_server_state", &[("state", "standalone")]),
        Some(1.0)
    );
    assert!(value(&out, "zk_version_info", &[]).is_some());
    assert_eq!(value(&out, "zk_ruok", &at), Some(1.0));
    assert_eq!(value(&out, "zk_read_only", &at), Some(0.0));
    let (epoch, counter) = raw_srvr.zxid_parts().expect("zxid");
    assert_eq!(value(&out, "zk_zxid_epoch", &at), Some(f64::from(epoch)));
    assert_eq!(
        value(&out, "zk_zxid_counter", &at),
        Some(f64::from(counter))
    );
    assert!(value(&out, "zk_cons_connections", &at).is_some_and(|n| n >= 1.0));
    assert!(value(&out, "zk_watch_total", &at).is_some());
    let docs: BTreeSet<&str> = out.documents.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(docs, BTreeSet::from(["conf", "cons", "envi"]));
    let conf = out.documents.iter().find(|d| d.name == "conf").unwrap();
    assert!(
        conf.body
            .contains(&format!("clientPort={}", zk.client_port))
    );
    assert_eq!(out.identity.get("server"), Some(server.as_str()));
    assert_eq!(out.identity.get("mode"), Some("standalone"));

    // The AdminServer path: the same series (plus the voting view only it has), same server label.
    let mut admin = ZkAdminSource::new(zk.admin_url().expect("admin enabled"), tracker.clone());
    let a = admin.scrape(BUDGET).await.expect("AdminServer scrape");
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    assert_eq!(a.identity.get("server"), Some(server.as_str()));
    let mut admin_series = series(&a);
    admin_series.retain(|s| !s.starts_with("zk_voting_members{"));
    assert_eq!(
        admin_series.symmetric_difference(&got).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "AdminServer and four-letter words land in the same series"
    );
    assert_eq!(
        value(&a, "zk_znode_count", &at),
        value(&out, "zk_znode_count", &at)
    );
    let docs: BTreeSet<&str> = a.documents.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(docs, BTreeSet::from(["conf", "cons", "envi"]));
    assert!(a.events.is_empty());

    // A znode more shows on the next scrape of both paths; conf/envi are not read again.
    zk.cli(&["create", "/lab/more", "z"]);
    let before = value(&out, "zk_znode_count", &at).unwrap();
    let out2 = fourlw.scrape(BUDGET).await.unwrap();
    let a2 = admin.scrape(BUDGET).await.unwrap();
    assert_eq!(value(&out2, "zk_znode_count", &at), Some(before + 1.0));
    assert_eq!(value(&a2, "zk_znode_count", &at), Some(before + 1.0));
    assert!(out2.documents.iter().all(|d| d.name == "cons"));
    assert!(a2.documents.iter().all(|d| d.name == "cons"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensemble_leader_reports_synced_followers_and_a_killed_leader_is_one_leader_change() {
    let mut ens = ZkEnsemble::start(3, &ZkOptions::default());
    let addrs = ens.client_addrs();
    let urls = ens.admin_urls();
    let mut sources = build_sources("lab", &addrs, &urls);
    assert_eq!(sources.len(), 6);

    let outs = scrape_all(&mut sources).await;
    for (i, o) in outs.iter().enumerate() {
        let o = o
            .as_ref()
            .unwrap_or_else(|e| panic!("source {i}: {e}\n{}", ens.logs()));
        assert!(o.warnings.is_empty(), "source {i}: {:?}", o.warnings);
    }
    assert!(
        events_of(&outs).is_empty(),
        "first observations are not events"
    );
    let leader = ens.leader_index().expect("a leader");
    let leader_addr = addrs[leader].clone();
    let lo = outs[leader].as_ref().unwrap();
    let at = [("server", leader_addr.as_str())];
    assert_eq!(value(lo, "zk_synced_followers", &at), Some(2.0));
    assert_eq!(value(lo, "zk_learners", &at), Some(2.0));
    assert_eq!(value(lo, "zk_pending_syncs", &at), Some(0.0));
    let raw = parse::parse_mntr(&four_letter(&leader_addr, "mntr")).unwrap();
    assert_eq!(raw.value("zk_synced_followers"), Some(2.0));
    // Exactly one server says leader, in both protocols; each AdminServer names its own client
    // port and sees the same leader.
    for range in [0..3, 3..6] {
        let leaders: Vec<&str> = outs[range]
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .filter(|o| value(o, "zk_server_state", &[("state", "leader")]) == Some(1.0))
            .filter_map(|o| o.identity.get("server"))
            .collect();
        assert_eq!(leaders, vec![leader_addr.as_str()]);
    }
    for (i, o) in outs[3..6].iter().enumerate() {
        let o = o.as_ref().unwrap();
        assert_eq!(o.identity.get("server"), Some(addrs[i].as_str()));
        assert_eq!(
            value(o, "zk_leader_id", &[]),
            Some(f64::from(ens.servers[leader].sid))
        );
        assert_eq!(
            value(o, "zk_voting_members", &[("learner_type", "participant")]),
            Some(3.0)
        );
        let four = outs[i].as_ref().unwrap();
        assert_eq!(
            value(o, "zk_zxid_epoch", &[]),
            value(four, "zk_zxid_epoch", &[])
        );
    }

    // The leader dies; another one is elected.
    ens.servers[leader].stop();
    let new_leader = ens.wait_for_new_leader(Some(leader), Duration::from_secs(90));
    let new_addr = addrs[new_leader].clone();
    let outs = scrape_all(&mut sources).await;
    for (i, o) in outs.iter().enumerate() {
        if i % 3 == leader {
            let e = o.as_ref().expect_err("the dead server is down");
            assert!(
                e.0.contains("refused") || e.0.contains("connect"),
                "source {i}: {e}"
            );
        } else {
            assert!(
                o.is_ok(),
                "source {i} keeps updating: {:?}",
                o.as_ref().err()
            );
        }
    }
    let events = events_of(&outs);
    let moves: Vec<&SourceEvent> = events.iter().filter(|e| e.kind == LEADER_CHANGE).collect();
    assert_eq!(moves.len(), 1, "{events:?}");
    assert_eq!(moves[0].subject, new_addr);
    assert!(
        moves[0]
            .message
            .contains(&format!("from {leader_addr} to {new_addr}")),
        "{}",
        moves[0].message
    );
    let mode_changes: Vec<&SourceEvent> = events.iter().filter(|e| e.kind == MODE_CHANGE).collect();
    assert_eq!(mode_changes.len(), 1, "{events:?}");
    assert_eq!(mode_changes[0].subject, new_addr);
    let no = outs[new_leader].as_ref().unwrap();
    assert_eq!(
        value(no, "zk_server_state", &[("state", "leader")]),
        Some(1.0)
    );
    assert_eq!(
        value(no, "zk_server_state", &[("state", "follower")]),
        Some(0.0),
        "the earlier state is kept at 0"
    );

    // Only one server left: it loses its quorum and says so; the scrape fails with its words.
    ens.servers[new_leader].stop();
    let last = (0..3).find(|i| *i != leader && *i != new_leader).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !four_letter(&addrs[last], "mntr").contains("not currently serving") {
        assert!(
            Instant::now() < deadline,
            "the last server kept serving:\n{}",
            ens.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let e = sources[last].scrape(BUDGET).await.expect_err("no quorum");
    assert!(e.0.contains("not currently serving requests"), "{e}");
    assert!(e.0.starts_with(&addrs[last]), "{e}");
    // The AdminServer answers with an HTTP 500 (a NullPointerException); it reads the same.
    let e = sources[3 + last]
        .scrape(BUDGET)
        .await
        .expect_err("no quorum, AdminServer");
    assert!(
        e.0.contains("monitor: the server is not currently serving requests"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whitelist_limits_are_warnings_or_a_clear_error_never_zeros() {
    let srvr_only =
        ZkServer::start_standalone(&ZkOptions::default().whitelist("srvr").without_admin());
    // The server's own sentence, recognised as such.
    let reply = srvr_only.four_letter("mntr");
    assert!(
        matches!(
            parse::parse_mntr(&reply),
            Err(ParseError::NotWhitelisted { .. })
        ),
        "{reply:?}"
    );
    let server = srvr_only.client_addr();
    let mut source = ZkFourLetterSource::new(&server, EnsembleTracker::new("lab"));
    let out = source.scrape(BUDGET).await.expect("srvr is enough");
    assert!(
        out.warnings
            .iter()
            .any(|w| w.starts_with("mntr: not allowed by the server's 4lw.commands.whitelist")),
        "{:?}",
        out.warnings
    );
    for cmd in ["ruok", "isro", "wchs", "cons", "conf", "envi"] {
        assert!(
            out.warnings
                .iter()
                .any(|w| w.starts_with(&format!("{cmd}: "))),
            "{cmd}: {:?}",
            out.warnings
        );
    }
    let at = [("server", server.as_str())];
    assert!(value(&out, "zk_znode_count", &at).is_some_and(|n| n > 0.0));
    assert!(value(&out, "zk_zxid_counter", &at).is_some());
    assert_eq!(
        value(&out, "zk_server_state", &[("state", "standalone")]),
        Some(1.0)
    );
    for absent in [
        "zk_ruok",
        "zk_read_only",
        "zk_watch_total",
        "zk_cons_connections",
    ] {
        assert_eq!(
            value(&out, absent, &[]),
            None,
            "{absent} must be absent, not 0"
        );
    }

    // ZooKeeper keeps `srvr` readable whatever the whitelist says (zkServer.sh status needs it),
    // so a server that allows only `ruok` is still read, from `srvr`, with `mntr` as a warning.
    let ruok_only =
        ZkServer::start_standalone(&ZkOptions::default().whitelist("ruok").without_admin());
    let server = ruok_only.client_addr();
    let mut source = ZkFourLetterSource::new(&server, EnsembleTracker::new("lab"));
    let out = source.scrape(BUDGET).await.expect("srvr is always allowed");
    let at = [("server", server.as_str())];
    assert_eq!(value(&out, "zk_ruok", &at), Some(1.0));
    assert!(value(&out, "zk_znode_count", &at).is_some());
    assert!(
        out.warnings
            .iter()
            .any(|w| w.starts_with("mntr: not allowed by the server's 4lw.commands.whitelist")),
        "{:?}",
        out.warnings
    );
}

/// A loopback server that answers every connection with `reply` (after reading the request when
/// `read_first`), for a bounded number of connections.
fn fake_server(reply: &'static [u8], read_first: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            if read_first {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(4).any(|w| w == b"\r\n\r\n")
                        || (seen.len() >= 4 && !seen.starts_with(b"GET"))
                    {
                        break;
                    }
                }
            }
            let _ = stream.write_all(reply);
        }
    });
    addr
}

/// A loopback server that accepts and then says nothing, keeping connections open.
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(64) {
            held.push(stream);
        }
    });
    addr
}

/// A loopback port nothing listens on. Port 1 (tcpmux) rather than a released ephemeral port,
/// which a ZooKeeper of a test running in parallel may take in the meantime.
fn closed_port() -> String {
    "127.0.0.1:1".to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_ports_and_garbage_speakers_are_down_with_their_error() {
    let tracker = EnsembleTracker::new("lab");

    let closed = closed_port();
    let e = ZkFourLetterSource::new(&closed, tracker.clone())
        .scrape(BUDGET)
        .await
        .expect_err("closed port");
    assert!(e.0.starts_with(&closed), "{e}");
    assert!(
        e.0.contains("cannot connect") && e.0.contains("refused"),
        "{e}"
    );
    assert_eq!(
        e.0.matches("cannot connect").count(),
        1,
        "one connection error is said once: {e}"
    );

    let junk = fake_server(b"\x00\x01\xffgarbage\x13\x10 zk?\n", true);
    let e = ZkFourLetterSource::new(&junk, tracker.clone())
        .scrape(BUDGET)
        .await
        .expect_err("garbage");
    assert!(e.0.contains("mntr: unexpected reply (binary data"), "{e}");
    assert!(
        e.0.contains("\\0\\u{1}\\u{fffd}garbage"),
        "escaped excerpt: {e}"
    );

    // A server that refuses every command (before 3.5.3's always-allowed srvr, or a proxy with
    // its own list): down, with the server's own words.
    let refusing = fake_server(
        b"mntr is not executed because it is not in the whitelist.\n",
        true,
    );
    let e = ZkFourLetterSource::new(&refusing, tracker.clone())
        .scrape(BUDGET)
        .await
        .expect_err("nothing allowed");
    assert!(
        e.0.contains("mntr: not allowed by the server's 4lw.commands.whitelist (it answered \"mntr is not executed because it is not in the whitelist.\")"),
        "{e}"
    );
    assert!(e.0.contains("srvr: not allowed"), "{e}");

    let http = fake_server(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        true,
    );
    let e = ZkFourLetterSource::new(&http, tracker.clone())
        .scrape(BUDGET)
        .await
        .expect_err("an HTTP server");
    assert!(
        e.0.contains("an HTTP server answered on the four-letter-word port"),
        "{e}"
    );

    let silent = silent_server();
    let e = ZkFourLetterSource::new(&silent, tracker.clone())
        .scrape(Duration::from_millis(800))
        .await
        .expect_err("no reply");
    assert!(e.0.contains("mntr: no complete reply within"), "{e}");

    let e = ZkAdminSource::new(format!("http://{}", closed_port()), tracker.clone())
        .scrape(BUDGET)
        .await
        .expect_err("closed AdminServer port");
    assert!(
        e.0.contains("configuration") && e.0.contains("refused"),
        "{e}"
    );

    let html = fake_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 21\r\nConnection: close\r\n\r\n<html>not zk</html>\r\n",
        true,
    );
    let e = ZkAdminSource::new(format!("http://{html}/"), tracker.clone())
        .scrape(BUDGET)
        .await
        .expect_err("not an AdminServer");
    assert!(e.0.contains("not JSON"), "{e}");
    assert!(e.0.contains("<html>not zk</html>"), "{e}");

    let not_found = fake_server(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nno such\r\n",
        true,
    );
    let e = ZkAdminSource::new(format!("http://{not_found}/commands"), tracker)
        .scrape(BUDGET)
        .await
        .expect_err("404");
    assert!(e.0.contains("HTTP 404"), "{e}");
}

/// A loopback four-letter-word server that answers each word from `replies` (closing the
/// connection without a word for any other, as servers older than a command do).
fn fake_4lw_server(replies: &'static [(&'static str, &'static str)]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut word = [0u8; 4];
            if stream.read_exact(&mut word).is_err() {
                continue;
            }
            if let Some((_, reply)) = replies.iter().find(|(w, _)| w.as_bytes() == word) {
                let _ = stream.write_all(reply.as_bytes());
            }
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3_2_server_without_mntr_and_srvr_is_read_from_stat() {
    static REPLIES: &[(&str, &str)] = &[
        (
            "stat",
            include_str!("fixtures/zookeeper/older/3.2.2_stat.txt"),
        ),
        ("ruok", "imok"),
    ];
    let addr = fake_4lw_server(REPLIES);
    let out = ZkFourLetterSource::new(&addr, EnsembleTracker::new("lab"))
        .scrape(BUDGET)
        .await
        .expect("stat is enough");
    let at = [("server", addr.as_str())];
    assert_eq!(value(&out, "zk_znode_count", &at), Some(487.0));
    assert_eq!(value(&out, "zk_num_alive_connections", &at), Some(6.0));
    assert_eq!(value(&out, "zk_min_latency", &at), Some(-10.0));
    assert_eq!(value(&out, "zk_zxid_epoch", &at), Some(1.0));
    assert_eq!(value(&out, "zk_ruok", &at), Some(1.0));
    assert_eq!(
        value(&out, "zk_server_state", &[("state", "leader")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &out,
            "zk_version_info",
            &[("version", "3.2.2--1, built on 03/16/2010 07:31 GMT")]
        ),
        Some(1.0)
    );
    assert!(
        out.warnings
            .iter()
            .any(|w| w == "mntr: empty reply (using srvr/stat instead)"),
        "{:?}",
        out.warnings
    );
}
