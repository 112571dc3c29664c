//! The ZooKeeper parsers on real captures: 3.8.0 standalone and ensemble (every four-letter word
//! and AdminServer command), and outputs of 3.2.2 to 3.9.3 found in other monitoring projects'
//! test data and issue threads (tests/fixtures/zookeeper/README.md says where each comes from).

use kafkascope::model::{Labels, MetricKind, Reading};
use kafkascope::sources::zookeeper::metrics::{self, mntr_readings};
use kafkascope::sources::zookeeper::parse::{self, Mntr, MntrMetric, ParseError};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

macro_rules! fixture {
    ($($path:tt)+) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/zookeeper/",
            $($path)+
        ))
    };
}

/// The JSON body of a captured HTTP response (headers included in the capture).
fn http_body(capture: &str) -> &str {
    capture
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .expect("capture has headers and a body")
}

fn admin(command: &str, capture: &str) -> serde_json::Map<String, serde_json::Value> {
    parse::parse_admin(command, http_body(capture).as_bytes()).expect("admin reply parses")
}

fn find<'a>(readings: &'a [Reading], metric: &str, labels: &[(&str, &str)]) -> &'a Reading {
    let want = Labels::from_pairs(labels.iter().copied());
    readings
        .iter()
        .find(|r| r.metric == metric && r.labels == want)
        .unwrap_or_else(|| panic!("no {metric}{{{}}} in the readings", want.canonical()))
}

fn lines_of(text: &str) -> usize {
    text.lines().filter(|l| !l.trim().is_empty()).count()
}

// ---------------------------------------------------------------------------------------------
// mntr, every version
// ---------------------------------------------------------------------------------------------

#[test]
fn every_mntr_capture_parses_every_line() {
    let captures = [
        ("3.4.0 follower", fixture!("found/3.4.0-follower_mntr.txt")),
        ("3.5.3 leader", fixture!("older/3.5.3-leader_mntr.txt")),
        ("3.5.5 leader", fixture!("found/3.5.5-leader_mntr.txt")),
        (
            "3.5.5 standalone",
            fixture!("found/3.5.5-standalone_mntr.txt"),
        ),
        (
            "3.6.0 leader",
            fixture!("found/3.6.0-leader_mntr.excerpt.txt"),
        ),
        (
            "3.6.1 leader (spaces)",
            fixture!("found/3.6.1-leader_mntr.spaces.excerpt.txt"),
        ),
        ("3.7.0 leader", fixture!("found/3.7.0-leader_mntr.txt")),
        ("3.7.0 follower", fixture!("found/3.7.0-follower_mntr.txt")),
        (
            "3.8.0 standalone",
            fixture!("3.8.0-standalone/standalone_4lw_mntr.txt"),
        ),
        (
            "3.8.0 n1 follower",
            fixture!("3.8.0-ensemble/ensemble_n1_follower_4lw_mntr.txt"),
        ),
        (
            "3.8.0 n2 leader",
            fixture!("3.8.0-ensemble/ensemble_n2_leader_4lw_mntr.txt"),
        ),
        (
            "3.8.0 n3 follower",
            fixture!("3.8.0-ensemble/ensemble_n3_follower_4lw_mntr.txt"),
        ),
        (
            "3.8.0 prometheus provider",
            fixture!("found/3.8.0-prometheus-provider_mntr.excerpt.txt"),
        ),
        (
            "3.9.3 standalone",
            fixture!("found/3.9.3-standalone_mntr.excerpt.txt"),
        ),
    ];
    for (name, text) in captures {
        let m = parse::parse_mntr(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            m.metrics.len() + m.texts.len(),
            lines_of(text),
            "{name}: every line is a metric or a text"
        );
        assert!(m.version().is_some(), "{name}: version kept");
        let state = m
            .server_state()
            .unwrap_or_else(|| panic!("{name}: no server state"));
        assert!(
            ["leader", "follower", "standalone"].contains(&state.as_str()),
            "{name}: {state}"
        );
        let readings = mntr_readings(&m);
        assert!(!readings.is_empty(), "{name}");
        for r in &readings {
            assert!(r.value.is_finite(), "{name}: {} is {}", r.metric, r.value);
            assert!(
                r.metric
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{name}: bad metric name {}",
                r.metric
            );
        }
    }
}

#[test]
fn mntr_3_8_standalone_keeps_decimals_and_version() {
    let m = parse::parse_mntr(fixture!("3.8.0-standalone/standalone_4lw_mntr.txt")).unwrap();
    assert_eq!(
        m.version(),
        Some("3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC")
    );
    assert_eq!(m.server_state().as_deref(), Some("standalone"));
    let r = mntr_readings(&m);
    assert_eq!(find(&r, "zk_avg_latency", &[]).value, 1.1818);
    assert_eq!(find(&r, "zk_znode_count", &[]).value, 11.0);
    assert_eq!(find(&r, "zk_max_file_descriptor_count", &[]).value, 20000.0);
    assert_eq!(find(&r, "zk_open_file_descriptor_count", &[]).value, 48.0);
    assert_eq!(find(&r, "zk_ephemerals_count", &[]).kind, MetricKind::Gauge);
    let received = find(&r, "zk_packets_received", &[]);
    assert_eq!((received.value, received.kind), (90.0, MetricKind::Counter));
}

#[test]
fn mntr_3_8_leader_normalises_dynamic_keys_into_labels() {
    let m = parse::parse_mntr(fixture!("3.8.0-ensemble/ensemble_n2_leader_4lw_mntr.txt")).unwrap();
    let r = mntr_readings(&m);
    assert_eq!(find(&r, "zk_synced_followers", &[]).value, 2.0);
    assert_eq!(find(&r, "zk_learners", &[]).value, 2.0);
    assert_eq!(find(&r, "zk_pending_syncs", &[]).value, 0.0);
    let avg = find(&r, "zk_avg_write_per_namespace", &[("namespace", "lab")]);
    assert_eq!((avg.value, avg.kind), (16.8333, MetricKind::Gauge));
    let cnt = find(&r, "zk_cnt_write_per_namespace", &[("namespace", "lab")]);
    assert_eq!((cnt.value, cnt.kind), (6.0, MetricKind::Counter));
    let sum = find(
        &r,
        "zk_sum_write_per_namespace",
        &[("namespace", "zookeeper")],
    );
    assert_eq!((sum.value, sum.kind), (155.0, MetricKind::Counter));
    assert_eq!(
        find(&r, "zk_avg_learner_handler_qp_size", &[("sid", "1")]).value,
        0.0526
    );
    assert_eq!(
        find(&r, "zk_p99_learner_handler_qp_time_ms", &[("sid", "3")]).value,
        0.0
    );
    // No metric name carries a namespace or a server id.
    for x in r.iter().map(|r| r.metric.as_str()) {
        assert!(
            !x.contains("_lab_") && !x.contains("_1_") && !x.contains("_3_"),
            "{x}"
        );
    }
    // A summary family with its nine members, cnt and sum as counters.
    for (prefix, kind) in [
        ("avg", MetricKind::Gauge),
        ("min", MetricKind::Gauge),
        ("max", MetricKind::Gauge),
        ("cnt", MetricKind::Counter),
        ("sum", MetricKind::Counter),
        ("p50", MetricKind::Gauge),
        ("p95", MetricKind::Gauge),
        ("p99", MetricKind::Gauge),
        ("p999", MetricKind::Gauge),
    ] {
        let name = format!("zk_{prefix}_learner_handler_qp_time_ms");
        assert_eq!(find(&r, &name, &[("sid", "1")]).kind, kind, "{name}");
    }
}

#[test]
fn mntr_3_7_captures_give_sid_and_namespace_labels_and_exact_big_numbers() {
    let leader =
        mntr_readings(&parse::parse_mntr(fixture!("found/3.7.0-leader_mntr.txt")).unwrap());
    assert_eq!(
        find(&leader, "zk_avg_learner_handler_qp_size", &[("sid", "10")]).value,
        0.1429
    );
    assert_eq!(
        find(&leader, "zk_max_read_per_namespace", &[("namespace", "v1")]).value,
        9951.0
    );
    assert_eq!(
        find(&leader, "zk_avg_quorum_ack_latency", &[]).value,
        4.0,
        "a plain summary whose name ends like a sid-keyed set stays a plain summary"
    );
    // The follower capture has no trailing newline, a negative minimum and values above 2^32.
    let text = fixture!("found/3.7.0-follower_mntr.txt");
    assert!(!text.ends_with('\n'));
    let follower = mntr_readings(&parse::parse_mntr(text).unwrap());
    assert_eq!(
        find(
            &follower,
            "zk_sum_read_per_namespace",
            &[("namespace", "clickhouse")]
        )
        .value,
        157_116_771_486.0
    );
    assert_eq!(
        find(&follower, "zk_min_read_commit_proc_req_queued", &[]).value,
        -1.0
    );
    assert_eq!(
        find(&follower, "zk_response_bytes", &[]).kind,
        MetricKind::Counter
    );
    assert_eq!(find(&follower, "zk_avg_latency", &[]).value, 1.6691);
}

#[test]
fn mntr_with_spaces_instead_of_tabs_reads_the_same() {
    let text = fixture!("found/3.6.1-leader_mntr.spaces.excerpt.txt");
    assert!(!text.contains('\t'));
    let m = parse::parse_mntr(text).unwrap();
    assert_eq!(m.text("zk_peer_state"), Some("leading - broadcast"));
    assert_eq!(
        m.version(),
        Some("3.6.1--104dcb3e3fb464b30c5186d229e00af9f332524b, built on 04/21/2020 15:01 GMT")
    );
    let r = mntr_readings(&m);
    assert_eq!(find(&r, "zk_avg_latency", &[]).value, 0.3918);
    assert_eq!(find(&r, "zk_synced_followers", &[]).value, 1.0);
    // The same text with tabs gives the same metrics.
    let tabbed: String = text
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            format!("{k}\t{}\n", v.trim_start())
        })
        .collect();
    assert_eq!(parse::parse_mntr(&tabbed).unwrap(), m);
}

#[test]
fn mntr_of_the_prometheus_provider_keeps_labels_skips_nan_and_counts_count_and_sum() {
    let m =
        parse::parse_mntr(fixture!("found/3.8.0-prometheus-provider_mntr.excerpt.txt")).unwrap();
    let tagged: Vec<&MntrMetric> = m.metrics.iter().filter(|x| !x.labels.is_empty()).collect();
    assert_eq!(tagged.len(), 7);
    assert!(
        tagged.iter().all(|x| x.value.is_nan()),
        "all quantiles are NaN here"
    );
    let r = mntr_readings(&m);
    assert!(
        r.iter().all(|x| x.labels.get("quantile").is_none()),
        "NaN quantiles are skipped"
    );
    assert_eq!(find(&r, "zk_uptime", &[]).value, 11438.0);
    let count = find(&r, "zk_om_proposal_process_time_ms_count", &[]);
    assert_eq!((count.value, count.kind), (0.0, MetricKind::Counter));
    let sum = find(&r, "zk_pending_session_queue_size_sum", &[]);
    assert_eq!(sum.kind, MetricKind::Counter);
    // With a finite value the quantile label is kept as the server printed it.
    let text = "zk_readlatency{quantile=\"0.99\"}\t7.0\nzk_readlatency_count\t3.0\n";
    let r = mntr_readings(&parse::parse_mntr(text).unwrap());
    assert_eq!(
        find(&r, "zk_readlatency", &[("quantile", "0.99")]).value,
        7.0
    );
    assert_eq!(
        find(&r, "zk_readlatency_count", &[]).kind,
        MetricKind::Counter
    );
}

#[test]
fn mntr_3_4_and_3_5_leaders_report_followers() {
    let r = mntr_readings(&parse::parse_mntr(fixture!("older/3.5.3-leader_mntr.txt")).unwrap());
    assert_eq!(find(&r, "zk_followers", &[]).value, 1.0);
    assert_eq!(find(&r, "zk_synced_followers", &[]).value, 1.0);
    assert_eq!(find(&r, "zk_approximate_data_size", &[]).value, 706_622.0);
    let r = mntr_readings(&parse::parse_mntr(fixture!("found/3.5.5-leader_mntr.txt")).unwrap());
    assert_eq!(find(&r, "zk_last_proposal_size", &[]).value, -1.0);
    let m = parse::parse_mntr(fixture!("found/3.4.0-follower_mntr.txt")).unwrap();
    assert_eq!(m.version(), Some("3.4.0--1, built on 06/19/2010 15:07 GMT"));
    assert_eq!(m.value("zk_max_latency"), Some(132.0));
}

// ---------------------------------------------------------------------------------------------
// srvr / stat
// ---------------------------------------------------------------------------------------------

#[test]
fn srvr_3_8_gives_latency_zxid_and_mode() {
    let s =
        parse::parse_srvr("srvr", fixture!("3.8.0-standalone/standalone_4lw_srvr.txt")).unwrap();
    assert_eq!(
        (s.latency_min, s.latency_avg, s.latency_max),
        (Some(0.0), Some(1.2703), Some(14.0))
    );
    assert_eq!((s.received, s.sent), (Some(71.0), Some(97.0)));
    assert_eq!((s.connections, s.outstanding), (Some(2.0), Some(0.0)));
    assert_eq!(s.zxid_parts(), Some((0, 7)));
    assert_eq!(s.mode.as_deref(), Some("standalone"));
    assert_eq!(s.node_count, Some(11.0));
    assert!(s.clients.is_empty());

    let leader = parse::parse_srvr(
        "srvr",
        fixture!("3.8.0-ensemble/ensemble_n2_leader_4lw_srvr.txt"),
    )
    .unwrap();
    assert_eq!(leader.zxid_parts(), Some((1, 7)));
    assert_eq!(leader.mode.as_deref(), Some("leader"));
    assert_eq!(leader.proposal_sizes, Some([110.0, 48.0, 110.0]));
    let r = metrics::srvr_readings(&leader);
    assert_eq!(find(&r, "zk_last_proposal_size", &[]).value, 110.0);
}

#[test]
fn stat_lists_clients_in_every_version() {
    let s =
        parse::parse_srvr("stat", fixture!("3.8.0-standalone/standalone_4lw_stat.txt")).unwrap();
    assert_eq!(s.clients.len(), 2);
    assert_eq!(s.connections, Some(2.0));
    let n1 = parse::parse_srvr(
        "stat",
        fixture!("3.8.0-ensemble/ensemble_n1_follower_4lw_stat.txt"),
    )
    .unwrap();
    assert_eq!(
        (n1.clients.len(), n1.mode.as_deref()),
        (2, Some("follower"))
    );
    // 3.3.0: an IPv6 client, no Connections line.
    let s = parse::parse_srvr("stat", fixture!("found/3.3.0-follower_stat.txt")).unwrap();
    assert_eq!(
        s.clients,
        vec!["/0:0:0:0:0:0:0:1:34564[0](queued=0,recved=1,sent=0)"]
    );
    assert_eq!(s.connections, None);
    assert_eq!(s.zxid_parts(), Some((7, 3)));
}

#[test]
fn stat_3_2_has_an_indented_header_negative_min_latency_and_no_connections_line() {
    let s = parse::parse_srvr("stat", fixture!("older/3.2.2_stat.txt")).unwrap();
    assert_eq!(s.version, "3.2.2--1, built on 03/16/2010 07:31 GMT");
    assert_eq!(s.clients.len(), 6);
    assert_eq!(
        (s.latency_min, s.latency_avg, s.latency_max),
        (Some(-10.0), Some(0.0), Some(20007.0))
    );
    assert_eq!(s.connections, None);
    assert_eq!(s.received, Some(101_032_173.0));
    assert_eq!(s.zxid, Some(0x1034799c7));
    assert_eq!(s.zxid_parts(), Some((1, 0x034799c7)));
    assert_eq!(s.mode.as_deref(), Some("leader"));
    assert_eq!(s.node_count, Some(487.0));
    let r = metrics::srvr_readings(&s);
    assert_eq!(
        find(&r, "zk_num_alive_connections", &[]).value,
        6.0,
        "counted from the client list"
    );
    assert_eq!(find(&r, "zk_min_latency", &[]).value, -10.0);
    assert_eq!(
        find(&r, "zk_packets_received", &[]).kind,
        MetricKind::Counter
    );
    let z = metrics::zxid_readings(s.zxid.unwrap());
    assert_eq!((z[0].metric.as_str(), z[0].value), ("zk_zxid_epoch", 1.0));
    assert_eq!(
        (z[1].metric.as_str(), z[1].value),
        ("zk_zxid_counter", f64::from(0x034799c7_u32))
    );
}

// ---------------------------------------------------------------------------------------------
// cons, wchs, conf, envi, ruok, isro
// ---------------------------------------------------------------------------------------------

#[test]
fn cons_gives_connections_with_their_stats() {
    let c = parse::parse_cons(fixture!("3.8.0-standalone/standalone_4lw_cons.txt")).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].remote, "127.0.0.1:51248");
    assert_eq!(c[0].session_id.as_deref(), Some("0x1000008bb760000"));
    assert_eq!(c[0].last_operation.as_deref(), Some("PING"));
    assert_eq!((c[0].received, c[0].max_latency), (Some(14.0), Some(3.0)));
    assert_eq!((c[1].queued, c[1].max_latency), (Some(0.0), None));
    let r = metrics::connection_readings(&c);
    assert_eq!(find(&r, "zk_cons_connections", &[]).value, 2.0);
    assert_eq!(find(&r, "zk_cons_max_latency", &[]).value, 3.0);
    for f in [
        fixture!("3.8.0-ensemble/ensemble_n1_follower_4lw_cons.txt"),
        fixture!("3.8.0-ensemble/ensemble_n2_leader_4lw_cons.txt"),
    ] {
        assert!(!parse::parse_cons(f).unwrap().is_empty());
    }
}

#[test]
fn wchs_conf_envi_ruok_isro_parse() {
    let w = parse::parse_wchs(fixture!("3.8.0-standalone/standalone_4lw_wchs.txt")).unwrap();
    assert_eq!((w.connections, w.paths, w.watches), (1.0, 2.0, 2.0));
    let w = parse::parse_wchs(fixture!("3.8.0-ensemble/ensemble_n2_leader_4lw_wchs.txt")).unwrap();
    assert_eq!(w.watches, 0.0);

    let conf = parse::parse_key_values(
        "conf",
        fixture!("3.8.0-ensemble/ensemble_n1_follower_4lw_conf.txt"),
    )
    .unwrap();
    assert_eq!(conf.get("clientPort"), Some("21181"));
    assert_eq!(conf.get("serverId"), Some("1"));
    assert_eq!(
        conf.get("server.3"),
        Some("127.0.0.1:21283:21383:participant")
    );
    assert_eq!(conf.get("version"), Some("0"));
    let conf =
        parse::parse_key_values("conf", fixture!("3.8.0-standalone/standalone_4lw_conf.txt"))
            .unwrap();
    assert_eq!(conf.0.len(), 12);

    let envi =
        parse::parse_key_values("envi", fixture!("3.8.0-standalone/standalone_4lw_envi.txt"))
            .unwrap();
    assert_eq!(envi.get("java.version"), Some("17.0.15"));
    assert_eq!(
        envi.get("zookeeper.version"),
        Some("3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC")
    );

    assert_eq!(
        parse::parse_ruok(fixture!("3.8.0-standalone/standalone_4lw_ruok.txt")),
        Ok(true)
    );
    assert_eq!(
        parse::parse_isro(fixture!("3.8.0-standalone/standalone_4lw_isro.txt")),
        Ok(false)
    );
    assert_eq!(parse::parse_isro("ro\n"), Ok(true));
}

/// Every four-letter-word and AdminServer capture of one 3.8 server, in one place.
struct Node {
    name: &'static str,
    mode: &'static str,
    client_port: u16,
    fourlw: [(&'static str, &'static str); 8],
    admin: [(&'static str, &'static str); 9],
}

macro_rules! node {
    ($name:literal, $mode:literal, $port:literal, $p:literal) => {
        Node {
            name: $name,
            mode: $mode,
            client_port: $port,
            fourlw: [
                ("mntr", fixture!(concat!($p, "_4lw_mntr.txt"))),
                ("srvr", fixture!(concat!($p, "_4lw_srvr.txt"))),
                ("stat", fixture!(concat!($p, "_4lw_stat.txt"))),
                ("cons", fixture!(concat!($p, "_4lw_cons.txt"))),
                ("wchs", fixture!(concat!($p, "_4lw_wchs.txt"))),
                ("conf", fixture!(concat!($p, "_4lw_conf.txt"))),
                ("envi", fixture!(concat!($p, "_4lw_envi.txt"))),
                ("ruok", fixture!(concat!($p, "_4lw_ruok.txt"))),
            ],
            admin: [
                ("monitor", fixture!(concat!($p, "_admin_monitor.http.txt"))),
                ("stats", fixture!(concat!($p, "_admin_stats.http.txt"))),
                (
                    "server_stats",
                    fixture!(concat!($p, "_admin_server_stats.http.txt")),
                ),
                ("leader", fixture!(concat!($p, "_admin_leader.http.txt"))),
                (
                    "voting_view",
                    fixture!(concat!($p, "_admin_voting_view.http.txt")),
                ),
                (
                    "connections",
                    fixture!(concat!($p, "_admin_connections.http.txt")),
                ),
                (
                    "watch_summary",
                    fixture!(concat!($p, "_admin_watch_summary.http.txt")),
                ),
                (
                    "configuration",
                    fixture!(concat!($p, "_admin_configuration.http.txt")),
                ),
                (
                    "is_read_only",
                    fixture!(concat!($p, "_admin_is_read_only.http.txt")),
                ),
            ],
        }
    };
}

#[test]
fn every_capture_of_every_3_8_server_parses_and_agrees_across_protocols() {
    let nodes = [
        node!(
            "n1",
            "follower",
            21181,
            "3.8.0-ensemble/ensemble_n1_follower"
        ),
        node!("n2", "leader", 21182, "3.8.0-ensemble/ensemble_n2_leader"),
        node!(
            "n3",
            "follower",
            21183,
            "3.8.0-ensemble/ensemble_n3_follower"
        ),
    ];
    for n in &nodes {
        let name = n.name;
        for (cmd, text) in n.fourlw {
            let ok = match cmd {
                "mntr" => parse::parse_mntr(text).map(drop),
                "srvr" | "stat" => parse::parse_srvr(cmd, text).map(|s| {
                    assert_eq!(s.mode.as_deref(), Some(n.mode), "{name} {cmd}");
                    assert_eq!(s.zxid_parts(), Some((1, 7)), "{name} {cmd}");
                }),
                "cons" => parse::parse_cons(text).map(drop),
                "wchs" => parse::parse_wchs(text).map(drop),
                "conf" => parse::parse_key_values(cmd, text).map(|kv| {
                    assert_eq!(
                        kv.get("clientPort"),
                        Some(n.client_port.to_string().as_str())
                    );
                }),
                "envi" => parse::parse_key_values(cmd, text).map(drop),
                "ruok" => parse::parse_ruok(text).map(|ok| assert!(ok)),
                other => panic!("no parser for {other}"),
            };
            ok.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for (cmd, capture) in n.admin {
            let body = admin(cmd, capture);
            let ok = match cmd {
                "monitor" => parse::monitor_from_admin(&body)
                    .map(|m| assert_eq!(m.server_state().as_deref(), Some(n.mode))),
                "stats" | "server_stats" => {
                    parse::zxid_from_admin_stats(&body).map(|z| assert_eq!(z, 0x1_0000_0007))
                }
                "leader" => parse::leader_from_admin(&body).map(|l| {
                    assert_eq!(l.is_leader, n.mode == "leader");
                    assert_eq!(l.leader_id, Some(2));
                }),
                "voting_view" => {
                    parse::voting_view_from_admin(&body).map(|v| assert_eq!(v.len(), 3))
                }
                "connections" => parse::connections_from_admin(&body).map(drop),
                "watch_summary" => parse::watch_summary_from_admin(&body).map(|w| {
                    let wchs = n.fourlw.iter().find(|(c, _)| *c == "wchs").unwrap().1;
                    assert_eq!(w, parse::parse_wchs(wchs).unwrap(), "{name}");
                }),
                "configuration" => {
                    parse::client_port_from_admin(&body).map(|p| assert_eq!(p, n.client_port))
                }
                "is_read_only" => parse::read_only_from_admin(&body).map(|ro| assert!(!ro)),
                other => panic!("no parser for {other}"),
            };
            ok.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    // The standalone server's AdminServer ruok, stats and server_stats.
    let ruok = admin(
        "ruok",
        fixture!("3.8.0-standalone/standalone_admin_ruok.http.txt"),
    );
    assert_eq!(ruok.get("command").and_then(|v| v.as_str()), Some("ruok"));
    for capture in [
        fixture!("3.8.0-standalone/standalone_admin_stats.http.txt"),
        fixture!("3.8.0-standalone/standalone_admin_server_stats.http.txt"),
    ] {
        assert_eq!(
            parse::zxid_from_admin_stats(&admin("stats", capture)),
            Ok(7)
        );
    }
    let conns = parse::connections_from_admin(&admin(
        "connections",
        fixture!("3.8.0-standalone/standalone_admin_connections.http.txt"),
    ))
    .unwrap();
    assert_eq!(conns.len(), 1);
    let conf = admin(
        "configuration",
        fixture!("3.8.0-standalone/standalone_admin_configuration.http.txt"),
    );
    assert_eq!(parse::client_port_from_admin(&conf), Ok(21181));
}

// ---------------------------------------------------------------------------------------------
// AdminServer
// ---------------------------------------------------------------------------------------------

/// Series identities (metric and labels) of readings.
fn series(r: &[Reading]) -> BTreeSet<String> {
    r.iter()
        .map(|r| format!("{}{{{}}}", r.metric, r.labels.canonical()))
        .collect()
}

#[test]
fn admin_monitor_lands_in_the_same_series_as_mntr() {
    let pairs = [
        (
            fixture!("3.8.0-standalone/standalone_admin_monitor.http.txt"),
            fixture!("3.8.0-standalone/standalone_4lw_mntr.txt"),
        ),
        (
            fixture!("3.8.0-ensemble/ensemble_n2_leader_admin_monitor.http.txt"),
            fixture!("3.8.0-ensemble/ensemble_n2_leader_4lw_mntr.txt"),
        ),
        (
            fixture!("3.8.0-ensemble/ensemble_n1_follower_admin_monitor.http.txt"),
            fixture!("3.8.0-ensemble/ensemble_n1_follower_4lw_mntr.txt"),
        ),
    ];
    for (json, text) in pairs {
        let from_admin = parse::monitor_from_admin(&admin("monitor", json)).unwrap();
        let from_4lw = parse::parse_mntr(text).unwrap();
        let a = mntr_readings(&from_admin);
        let b = mntr_readings(&from_4lw);
        assert_eq!(series(&a), series(&b));
        let kinds = |r: &[Reading]| -> BTreeMap<String, MetricKind> {
            r.iter()
                .map(|r| (format!("{}{{{}}}", r.metric, r.labels.canonical()), r.kind))
                .collect()
        };
        assert_eq!(kinds(&a), kinds(&b));
        assert_eq!(from_admin.server_state(), from_4lw.server_state());
        assert_eq!(from_admin.version(), from_4lw.version());
    }
    // The body-only capture equals the HTTP one.
    let body = fixture!("3.8.0-standalone/standalone_admin_monitor.json");
    let m = parse::monitor_from_admin(&parse::parse_admin("monitor", body.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(m.value("zk_znode_count"), Some(11.0));
}

#[test]
fn admin_small_commands_parse() {
    let leader = parse::leader_from_admin(&admin(
        "leader",
        fixture!("3.8.0-ensemble/ensemble_n1_follower_admin_leader.http.txt"),
    ))
    .unwrap();
    assert_eq!(
        (
            leader.is_leader,
            leader.leader_id,
            leader.leader_ip.as_deref()
        ),
        (false, Some(2), Some("127.0.0.1"))
    );
    let voting = parse::voting_view_from_admin(&admin(
        "voting_view",
        fixture!("3.8.0-ensemble/ensemble_n2_leader_admin_voting_view.http.txt"),
    ))
    .unwrap();
    assert_eq!(
        voting.iter().map(|m| m.sid).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(voting[1].client_address, "127.0.0.1:21182");
    assert!(voting.iter().all(|m| m.learner_type == "participant"));
    let standalone_voting = parse::voting_view_from_admin(&admin(
        "voting_view",
        fixture!("3.8.0-standalone/standalone_admin_voting_view.http.txt"),
    ))
    .unwrap();
    assert!(standalone_voting.is_empty());

    let conns = parse::connections_from_admin(&admin(
        "connections",
        fixture!("3.8.0-ensemble/ensemble_n1_follower_admin_connections.http.txt"),
    ))
    .unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].remote, "127.0.0.1:42354");
    assert_eq!(
        (conns[0].queued, conns[0].max_latency),
        (Some(0.0), Some(14.0))
    );

    let w = parse::watch_summary_from_admin(&admin(
        "watch_summary",
        fixture!("3.8.0-standalone/standalone_admin_watch_summary.http.txt"),
    ))
    .unwrap();
    assert_eq!(
        w,
        parse::parse_wchs(fixture!("3.8.0-standalone/standalone_4lw_wchs.txt")).unwrap()
    );

    let conf = admin(
        "configuration",
        fixture!("3.8.0-ensemble/ensemble_n2_leader_admin_configuration.http.txt"),
    );
    assert_eq!(parse::client_port_from_admin(&conf), Ok(21182));
    assert_eq!(
        parse::key_values_from_admin(&conf).get("server_id"),
        Some("2")
    );

    let stats = admin(
        "stats",
        fixture!("3.8.0-ensemble/ensemble_n2_leader_admin_stats.http.txt"),
    );
    assert_eq!(parse::zxid_from_admin_stats(&stats), Ok(0x1_0000_0007));
    let env = parse::key_values_from_admin(&admin(
        "environment",
        fixture!("3.8.0-standalone/standalone_admin_environment.http.txt"),
    ));
    assert_eq!(env.get("java.version"), Some("17.0.15"));
    let ro = admin(
        "is_read_only",
        fixture!("3.8.0-standalone/standalone_admin_is_read_only.http.txt"),
    );
    assert_eq!(parse::read_only_from_admin(&ro), Ok(false));
}

#[test]
fn admin_errors_are_named() {
    let e = parse::parse_admin(
        "leader",
        http_body(fixture!(
            "3.8.0-standalone/standalone_admin_leader.http.txt"
        ))
        .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "leader: the server answered with an error: server is not initialized"
    );
    let e = parse::parse_admin(
        "nosuchcmd",
        http_body(fixture!(
            "3.8.0-standalone/standalone_admin_nosuchcmd.http.txt"
        ))
        .as_bytes(),
    )
    .unwrap_err();
    assert!(
        matches!(e, ParseError::Server { ref message, .. } if message == "Unknown command: nosuchcmd")
    );
    // The command list is HTML, not JSON.
    let e = parse::parse_admin(
        "commands",
        http_body(fixture!("3.8.0-standalone/standalone_admin_commands.txt")).as_bytes(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not JSON"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Replies that are not data
// ---------------------------------------------------------------------------------------------

#[test]
fn whitelist_and_not_serving_replies_are_errors_for_every_command() {
    type P = fn(&str) -> Result<(), ParseError>;
    let parsers: [(&str, P); 8] = [
        ("mntr", |t| parse::parse_mntr(t).map(drop)),
        ("srvr", |t| parse::parse_srvr("srvr", t).map(drop)),
        ("cons", |t| parse::parse_cons(t).map(drop)),
        ("wchs", |t| parse::parse_wchs(t).map(drop)),
        ("conf", |t| parse::parse_key_values("conf", t).map(drop)),
        ("envi", |t| parse::parse_key_values("envi", t).map(drop)),
        ("ruok", |t| parse::parse_ruok(t).map(drop)),
        ("isro", |t| parse::parse_isro(t).map(drop)),
    ];
    for (cmd, p) in parsers {
        let reply = format!("{cmd} is not executed because it is not in the whitelist.\n");
        assert!(
            matches!(p(&reply), Err(ParseError::NotWhitelisted { .. })),
            "{cmd}"
        );
        let reply = "This ZooKeeper instance is not currently serving requests\n";
        assert!(
            matches!(p(reply), Err(ParseError::NotServing { .. })),
            "{cmd}"
        );
        assert!(matches!(p(""), Err(ParseError::Empty { .. })), "{cmd}");
        let e = p("GET / HTTP/1.1\r\n\x01\x02").unwrap_err();
        assert_eq!(e.command(), cmd);
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn no_parser_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse::parse_mntr(&text);
        let _ = parse::parse_srvr("srvr", &text);
        let _ = parse::parse_cons(&text);
        let _ = parse::parse_wchs(&text);
        let _ = parse::parse_key_values("conf", &text);
        let _ = parse::parse_ruok(&text);
        let _ = parse::parse_isro(&text);
        if let Ok(map) = parse::parse_admin("monitor", &bytes) {
            let _ = parse::monitor_from_admin(&map);
            let _ = parse::connections_from_admin(&map);
            let _ = parse::voting_view_from_admin(&map);
            let _ = parse::leader_from_admin(&map);
        }
    }

    #[test]
    fn no_parser_panics_on_mangled_real_output(
        cut in 0usize..17000,
        junk in "[ -~\t\n{}\"=,/:]{0,40}",
    ) {
        for text in [
            fixture!("3.8.0-ensemble/ensemble_n2_leader_4lw_mntr.txt"),
            fixture!("older/3.2.2_stat.txt"),
            fixture!("3.8.0-standalone/standalone_4lw_cons.txt"),
        ] {
            let mut at = cut.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mangled = format!("{}{junk}", &text[..at]);
            let _ = parse::parse_mntr(&mangled);
            let _ = parse::parse_srvr("stat", &mangled);
            let _ = parse::parse_cons(&mangled);
        }
    }

    #[test]
    fn generated_mntr_round_trips(
        entries in proptest::collection::vec(
            (
                "zk_[a-z][a-z0-9_]{0,20}",
                proptest::collection::vec(("[a-z_][a-z0-9_]{0,6}", "[ -~]{0,10}"), 0..3),
                prop_oneof![
                    any::<i64>().prop_map(|v| v as f64),
                    (-1.0e12f64..1.0e12),
                    Just(0.0),
                ],
            ),
            1..30,
        ),
        version in "[0-9]\\.[0-9]\\.[0-9]-[a-z0-9${}.]{0,12}, built on 20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{5} UTC",
    ) {
        let mntr = Mntr {
            metrics: entries
                .into_iter()
                .map(|(key, labels, value)| MntrMetric { key, labels, value })
                .collect(),
            texts: vec![("zk_version".to_string(), version)],
        };
        let text = parse::render_mntr(&mntr);
        let parsed = parse::parse_mntr(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parsed, mntr);
    }
}

/// Any JSON value, keys drawn mostly from the AdminServer's own vocabulary so that the readers
/// get past their first lookups.
fn arb_admin_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let key = prop_oneof![
        4 => prop::sample::select(vec![
            "command", "error", "server_stats", "connections", "secure_connections", "watch_summary",
            "num_connections", "num_paths", "num_total_watches", "paths", "client_port",
            "current_config", "server_addresses", "leader_id", "leader_ip", "is_leader",
            "last_processed_zxid", "read_only", "avg_latency", "min_latency", "max_latency",
            "packets_received", "packets_sent", "outstanding_requests", "remote_socket_address",
            "session_id", "queued", "recved", "sent", "lop", "avglat", "minlat", "maxlat",
            "voting_view", "learner_type", "sid", "znode_count", "server_state", "version",
        ])
        .prop_map(str::to_string),
        1 => "[a-z_]{1,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~]{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Whatever JSON an AdminServer (or something pretending to be one) sends, every reader
    /// answers with a value or an error, never a panic.
    #[test]
    fn no_admin_reader_panics_on_arbitrary_json(value in arb_admin_json()) {
        let map = match value {
            serde_json::Value::Object(m) => m,
            other => {
                let mut m = serde_json::Map::new();
                m.insert("server_stats".to_string(), other);
                m
            }
        };
        let _ = parse::monitor_from_admin(&map);
        let _ = parse::connections_from_admin(&map);
        let _ = parse::watch_summary_from_admin(&map);
        let _ = parse::key_values_from_admin(&map);
        let _ = parse::leader_from_admin(&map);
        let _ = parse::voting_view_from_admin(&map);
        let _ = parse::client_port_from_admin(&map);
        let _ = parse::zxid_from_admin_stats(&map);
        let _ = parse::read_only_from_admin(&map);
        // And through the byte-level entry point, as the source calls it.
        let bytes = serde_json::to_vec(&serde_json::Value::Object(map)).unwrap_or_default();
        if let Ok(m) = parse::parse_admin("monitor", &bytes) {
            let _ = parse::monitor_from_admin(&m);
        }
    }
}
