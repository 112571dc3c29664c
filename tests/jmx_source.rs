//! The JMX source end to end, config file → source → store → API and pages, against real JVMs:
//! a broker's beans (the lab's FakeKafkaBroker: the canonical ObjectNames and Yammer/KafkaMetrics
//! shapes, values on a known schedule), real kafka-clients 3.9.1 producer and consumer talking to
//! Tansu, and ZooKeeper's own JMX. Bad targets (closed port, not JMX, wrong password, a JVM that
//! accepts and never answers) are down with their reason while a healthy one keeps scraping.

mod support;

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;
use support::jvm::{JmxOpts, JvmPeer, schedule};
use support::kafka::Tansu;
use support::server::{Server, get, query, urlencode, wait_for};
use support::zookeeper::{ZkOptions, ZkServer};

const WAIT: Duration = Duration::from_secs(90);

fn config(jmx: &str) -> String {
    format!(
        "[server]\nwrite_token = \"t0ken-for-jmx-tests-only\"\n\n[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\n[clusters.jmx]\n{jmx}"
    )
}

fn one(server: &Server, q: &str) -> Option<f64> {
    let r = query(&server.base, q);
    (r.len() == 1).then(|| r[0].1)
}

fn events(server: &Server, kind: &str) -> Vec<(String, String)> {
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
            (s("subject"), s("message"))
        })
        .collect()
}

fn wait_event(server: &Server, kind: &str) -> Vec<(String, String)> {
    wait_for(kind, WAIT, || {
        let e = events(server, kind);
        (!e.is_empty()).then_some(e)
    })
}

/// POSTs a form without following the redirect; the status.
fn post_form(url: &str, fields: &[(&str, &str)]) -> u16 {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        kafkascope::sources::http_client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client")
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"))
            .status()
            .as_u16()
    })
}

#[test]
fn broker_beans_become_jmx_exporter_series_pages_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = JvmPeer::start("FakeKafkaBroker", &["--controller"], JmxOpts::default());
    let addr = broker.jmx_address();
    let server = Server::start(dir.path(), &config(&format!("brokers = [\"{addr}\"]\n")));
    let sel = format!("instance=\"{addr}\"");

    // Gauges and percentiles, with the jmx_exporter example names and the target's labels.
    let active = wait_for("the active controller gauge", WAIT, || {
        one(
            &server,
            &format!(
                "kafka_controller_kafkacontroller_activecontrollercount{{{sel},job=\"kafka-broker\"}}"
            ),
        )
    });
    assert_eq!(active, 1.0);
    let p99 = schedule::request_time("TotalTimeMs", "Produce")
        .expect("schedule")
        .p99;
    let got = one(
        &server,
        &format!(
            "kafka_network_requestmetrics_totaltimems{{{sel},request=\"Produce\",quantile=\"0.99\"}}"
        ),
    );
    assert_eq!(got, Some(p99));
    assert_eq!(
        one(
            &server,
            &format!("kafka_server_replicamanager_underreplicatedpartitions{{{sel}}}")
        ),
        Some(0.0)
    );
    // JVM series under the jmx_exporter Java agent's names.
    let heap = one(
        &server,
        &format!("jvm_memory_bytes_used{{{sel},area=\"heap\"}}"),
    );
    assert!(heap.is_some_and(|h| h > 1e6), "{heap:?}");

    // Meters are counters: their stored rate is the schedule's (the all-topics bean has no topic).
    // Read once the window is full of samples: rate() extrapolates less at a series' start.
    wait_for("8 s of bytes-in samples", WAIT, || {
        one(
            &server,
            &format!("count_over_time(kafka_server_brokertopicmetrics_bytesin_total{{{sel},topic=\"\"}}[8s])"),
        )
        .filter(|n| *n >= 7.0)
    });
    let rate = wait_for("a bytes-in rate", WAIT, || {
        one(
            &server,
            &format!("rate(kafka_server_brokertopicmetrics_bytesin_total{{{sel},topic=\"\"}}[8s])"),
        )
        .filter(|r| r.is_finite() && *r > 0.0)
    });
    assert!(
        (rate - schedule::BYTES_IN_PER_SEC).abs() < 0.25 * schedule::BYTES_IN_PER_SEC,
        "bytes in rate {rate}"
    );
    // A jmx_exporter-based dashboard's query runs unchanged through query_range.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let dash = "sum without(instance) (rate(kafka_server_brokertopicmetrics_bytesin_total[5m]))";
    let (status, body) = get(&server.url(&format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=2",
        urlencode(dash),
        now - 20,
        now
    )));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let topics: Vec<String> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metric"]["topic"].as_str().unwrap_or("").to_string())
        .collect();
    for (t, _) in schedule::TOPICS {
        assert!(
            topics.contains(&t.to_string()),
            "{t} missing from {topics:?}"
        );
    }

    // The pages.
    let (status, page) = get(&server.url("/brokers?range=15m"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&addr), "{addr} not on /brokers");
    // Every panel of the broker page reads a series the broker preset really writes (the panel
    // catalogue and the preset agree): none stays empty against a broker with every canonical
    // bean. Rates need two samples inside their window, so the page is read again until they
    // have them (or a minute passes). Errors by type leaves out error=NONE, the only error code
    // a healthy broker reports.
    let broker_page = format!("/brokers/lab/{}?range=15m", urlencode(&addr));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (page, empty) = loop {
        let (status, page) = get(&server.url(&broker_page));
        assert_eq!(status, 200, "{page}");
        let empty: Vec<String> = page
            .split("<figure")
            .filter(|f| f.contains("class=\"nodata\"") && !f.contains(">Errors by type<"))
            .map(|f| {
                let caption = f.split("</figcaption>").next().unwrap_or(f);
                caption.rsplit("\">").nth(1).unwrap_or(caption).to_string()
            })
            .collect();
        if empty.is_empty() || std::time::Instant::now() > deadline {
            break (page, empty);
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(page.matches("<figure").count() >= 20, "too few charts");
    assert!(empty.is_empty(), "panels without data: {empty:#?}");

    // Events from the beans: URP, unclean election, controller resigning, a JVM restart.
    broker.command("urp 3");
    let e = wait_event(&server, "jmx_urp_start");
    assert!(
        e[0].0 == addr && e[0].1.contains("3 under-replicated"),
        "{e:?}"
    );
    broker.command("unclean");
    wait_event(&server, "jmx_unclean_election");
    // Positive control for "nothing else fired": no offline partitions were reported yet.
    assert!(events(&server, "jmx_offline_partitions").is_empty());
    broker.command("offline 2");
    wait_event(&server, "jmx_offline_partitions");
    // Only the active controller reports offline partitions: resigning clears them too.
    broker.command("controller off");
    wait_event(&server, "jmx_controller_resigned");
    wait_event(&server, "jmx_offline_partitions_clear");
    broker.restart();
    let e = wait_event(&server, "jmx_jvm_restart");
    assert_eq!(e[0].0, addr);
}

#[test]
fn bad_beans_are_warnings_and_the_rest_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let broker = JvmPeer::start("FakeKafkaBroker", &[], JmxOpts::default());
    let addr = broker.jmx_address();
    // A team's own jmx_exporter config that reads the test's bad beans and one real bean.
    let rules = dir.path().join("team.yml");
    std::fs::write(
        &rules,
        "lowercaseOutputName: true\nincludeObjectNames: [\"kafkascope.test:type=Bad,*\", \"kafka.server:type=ReplicaManager,name=PartitionCount\"]\nrules:\n  - pattern: 'kafka.server<type=(.+), name=(.+)><>Value'\n    name: kafka_server_$1_$2\n  - pattern: 'kafkascope.test<type=Bad, name=(\\w+)><>(\\w+)'\n    name: bad_$1_$2\n",
    )
    .unwrap();
    let server = Server::start(
        dir.path(),
        &config(&format!(
            "brokers = [{{ address = \"{addr}\", rules_file = {:?} }}]\n",
            rules.display().to_string()
        )),
    );
    let n = wait_for("the partition count", WAIT, || {
        one(&server, "kafka_server_replicamanager_partitioncount")
    });
    assert!(n > 0.0);
    let (_, page) = get(&server.url("/targets"));
    assert!(
        page.contains("Throwing"),
        "the throwing attribute is not named on /targets"
    );
    // The target is up: one bad attribute is not a failed scrape.
    assert_eq!(one(&server, &format!("up{{target=\"{addr}\"}}")), Some(1.0));
}

/// Answers anything with an HTTP response and closes: a port that is not JMX.
fn http_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 512];
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\nhello");
        }
    });
    port
}

/// Accepts connections and never answers.
fn black_hole() -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    (port, h)
}

#[test]
fn dead_wrong_and_silent_targets_are_down_with_their_reason_while_a_healthy_one_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = JvmPeer::start("FakeKafkaBroker", &[], JmxOpts::default());
    let locked = JvmPeer::start(
        "FakeKafkaBroker",
        &[],
        JmxOpts::with_auth("monitor", "right-pass"),
    );
    let closed = support::kafka::closed_port();
    let http = http_port();
    let (silent, _hole) = black_hole();
    let pass = dir.path().join("jmx.pass");
    std::fs::write(&pass, "wrong-pass-x9\n").unwrap();
    let server = Server::start(
        dir.path(),
        &config(&format!(
            "timeout = \"800ms\"\nbrokers = [\"{}\", \"127.0.0.1:{closed}\", \"127.0.0.1:{http}\", \"127.0.0.1:{silent}\", {{ address = \"{}\", username = \"monitor\", password_file = {:?} }}]\n",
            healthy.jmx_address(),
            locked.jmx_address(),
            pass.display().to_string()
        )),
    );
    let beans = |s: &Server| {
        one(
            s,
            &format!(
                "count_over_time(kafkascope_jmx_beans{{instance=\"{}\"}}[1m])",
                healthy.jmx_address()
            ),
        )
        .unwrap_or(0.0)
    };
    // The healthy target keeps its interval while the silent one times out every scrape.
    wait_for("ten scrapes of the healthy target", WAIT, || {
        (beans(&server) >= 10.0).then_some(())
    });
    let (_, page) = get(&server.url("/targets"));
    let row = |target: &str| {
        let at = page
            .find(&format!(">{target}<"))
            .unwrap_or_else(|| panic!("{target} not on /targets"));
        page[at..at + page[at..].find("</tbody>").unwrap_or(page.len() - at)]
            .split("<tr>")
            .take(3)
            .collect::<String>()
            .to_lowercase()
    };
    assert!(
        row(&format!("127.0.0.1:{closed}")).contains("refused"),
        "closed port"
    );
    let h = row(&format!("127.0.0.1:{http}"));
    assert!(h.contains("not") && h.contains("jmx"), "http port: {h}");
    let s = row(&format!("127.0.0.1:{silent}"));
    assert!(
        s.contains("timed out") || s.contains("still waiting") || s.contains("no answer"),
        "silent: {s}"
    );
    let l = row(&locked.jmx_address());
    assert!(
        l.contains("auth") || l.contains("credentials"),
        "wrong password: {l}"
    );
    assert!(
        !page.contains("wrong-pass-x9"),
        "the password is on /targets"
    );
    for t in [
        format!("127.0.0.1:{closed}"),
        format!("127.0.0.1:{http}"),
        format!("127.0.0.1:{silent}"),
        locked.jmx_address(),
    ] {
        assert_eq!(
            one(&server, &format!("up{{target=\"{t}\"}}")),
            Some(0.0),
            "{t}"
        );
    }
    assert_eq!(
        one(
            &server,
            &format!("up{{target=\"{}\"}}", healthy.jmx_address())
        ),
        Some(1.0)
    );
    assert!(
        !server.log().contains("wrong-pass-x9"),
        "the password is in the log"
    );
}

#[test]
fn real_producer_and_consumer_metrics_are_collected_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let k = Tansu::start(dir.path());
    k.tool("create-topic", &["orders", "1"]);
    let mut producer = JvmPeer::start(
        "KsProducer",
        &[
            "--bootstrap",
            &k.addr,
            "--topic",
            "orders",
            "--count",
            "7",
            "--client-id",
            "orders-app",
        ],
        JmxOpts::default(),
    );
    let consumer = JvmPeer::start(
        "KsConsumer",
        &[
            "--bootstrap",
            &k.addr,
            "--topic",
            "orders",
            "--group",
            "billing",
            "--client-id",
            "billing-app",
        ],
        JmxOpts::default(),
    );
    let server = Server::start(
        dir.path(),
        &config(&format!(
            "[[clusters.jmx.clients]]\nname = \"orders-producer\"\njmx = \"{}\"\nkind = \"producer\"\n[[clusters.jmx.clients]]\nname = \"billing-consumer\"\njmx = \"{}\"\nkind = \"consumer\"\n",
            producer.jmx_address(),
            consumer.jmx_address()
        )),
    );
    let sent = |s: &Server| {
        one(
            s,
            "kafka_producer_producer_metrics_record_send_total{client=\"orders-producer\",client_id=\"orders-app\"}",
        )
    };
    wait_for("7 records sent", WAIT, || {
        (sent(&server) == Some(7.0)).then_some(())
    });
    producer.command("send 5");
    wait_for("12 records sent", WAIT, || {
        (sent(&server) == Some(12.0)).then_some(())
    });
    wait_for("12 records consumed", WAIT, || {
        (one(
            &server,
            "kafka_consumer_consumer_fetch_manager_metrics_records_consumed_total{client=\"billing-consumer\",client_id=\"billing-app\"}",
        ) == Some(12.0))
        .then_some(())
    });
    let lag = one(
        &server,
        "kafka_consumer_consumer_fetch_manager_metrics_records_lag_max{client=\"billing-consumer\",client_id=\"billing-app\"}",
    );
    assert!(lag.is_some(), "records-lag-max is not collected");
    let (status, page) = get(&server.url("/clients?range=15m"));
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("orders-app") && page.contains("billing-app"),
        "clients not listed"
    );
}

#[test]
fn zookeeper_jmx_equals_mntr() {
    let dir = tempfile::tempdir().unwrap();
    let zk = ZkServer::start_standalone(&ZkOptions::default().with_jmx());
    let jmx = zk.jmx_address().expect("ZooKeeper with JMX");
    let server = Server::start(dir.path(), &config(&format!("zookeeper = [\"{jmx}\"]\n")));
    let nodes = wait_for("the znode count over JMX", WAIT, || {
        one(&server, "zookeeper_NodeCount{job=\"zookeeper\"}")
    });
    let mntr = zk.four_letter("mntr");
    let want: f64 = mntr
        .lines()
        .find_map(|l| l.strip_prefix("zk_znode_count"))
        .and_then(|v| v.trim().parse().ok())
        .expect("zk_znode_count in mntr");
    assert_eq!(nodes, want, "JMX NodeCount vs mntr zk_znode_count");
}

#[test]
fn the_explorer_shows_beans_and_tracks_an_attribute_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let broker = JvmPeer::start("FakeKafkaBroker", &[], JmxOpts::default());
    let addr = broker.jmx_address();
    let text = config(&format!("brokers = [\"{addr}\"]\n"));
    let mut server = Server::start(dir.path(), &text);
    let base = format!("/explore/{}?cluster=lab", urlencode(&addr));
    let (status, page) = get(&server.url(&base));
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("kafka.server") && page.contains("java.lang"),
        "domains"
    );
    let bean = "java.lang:type=Threading";
    let (status, page) = get(&server.url(&format!("{base}&bean={}", urlencode(bean))));
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("PeakThreadCount") && page.contains("dumpAllThreads"),
        "attributes and operations"
    );
    let post = |token: &str| {
        post_form(
            &server.url(&format!("/explore/{}/track", urlencode(&addr))),
            &[
                ("cluster", "lab"),
                ("bean", bean),
                ("attribute", "PeakThreadCount"),
                ("action", "track"),
                ("token", token),
            ],
        )
    };
    assert_eq!(post("wrong"), 403);
    assert_eq!(post("t0ken-for-jmx-tests-only"), 303);
    let q = format!("java_lang_Threading_PeakThreadCount{{instance=\"{addr}\"}}");
    let v = wait_for("the tracked attribute", WAIT, || one(&server, &q));
    assert!(v >= 1.0);
    // The tracked list survives a restart of the server.
    server.kill9();
    let server = Server::start(dir.path(), &text);
    let (_, page) = get(&server.url(&base));
    assert!(
        page.contains("PeakThreadCount"),
        "tracked list lost on restart"
    );
}
