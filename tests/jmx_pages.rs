//! The broker and client pages over a real store seeded with JMX series named as the JMX source
//! writes them (notes/jmx-contract: jmx_exporter's Kafka names with `cluster`, `instance`,
//! `job`; clients with `client` and `client_id`), served by the real server: rows, skew and
//! stale marking, the active-controller check, the KRaft quorum, the broker page's panels with
//! their units, the client tables and the 404s.

mod web_support;

use kafkascope::catalogue::Unit;
use kafkascope::model::{Event, Labels, MetricKind, SeriesKey, Severity};
use kafkascope::web::format::ValueFormat;
use web_support::*;

fn key(metric: &str, labels: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(metric, Labels::from_pairs(labels.iter().copied()))
}

/// Writes `f(i)` every 15 s (the JMX source's default interval) from `from` to `to` for one
/// series.
async fn write(
    env: &Env,
    k: SeriesKey,
    kind: MetricKind,
    from: i64,
    to: i64,
    f: impl Fn(i64) -> f64,
) {
    let id = env.store.resolve(&[(k, kind)]).await.expect("resolve")[0];
    let batch: Vec<_> = (0..)
        .map(|i| (i, from + i * 15_000))
        .take_while(|(_, ts)| *ts <= to)
        .map(|(i, ts)| (id, ts, f(i)))
        .collect();
    let r = env.store.append(&batch, &[]).await.expect("append");
    assert_eq!(r.rejected, 0);
}

/// One broker's load: bytes in per second, active controller count.
struct Broker {
    cluster: &'static str,
    instance: &'static str,
    bytes_in: f64,
    controller: f64,
    /// Stops reporting this long before the end.
    stops_ms: i64,
}

const HOUR: i64 = 3_600_000;

/// A gauge's name, its labels besides the broker's, and its constant value.
type Gauge = (&'static str, Vec<(&'static str, &'static str)>, f64);

async fn seed_broker(env: &Env, b: &Broker) {
    let (from, to) = (env.end - 2 * HOUR, env.end - b.stops_ms);
    let l = |extra: &[(&'static str, &'static str)]| {
        let mut v = vec![
            ("cluster", b.cluster),
            ("job", "kafka-broker"),
            ("instance", b.instance),
        ];
        v.extend_from_slice(extra);
        v
    };
    let counter = |m: &str, extra: &[(&'static str, &'static str)]| key(m, &l(extra));
    let bytes_in = b.bytes_in;
    // The all-topics meter and one per-topic meter with the same value: totals must not add them.
    for extra in [&[][..], &[("topic", "orders")][..]] {
        write(
            env,
            counter("kafka_server_brokertopicmetrics_bytesin_total", extra),
            MetricKind::Counter,
            from,
            to,
            |i| i as f64 * 15.0 * bytes_in,
        )
        .await;
        write(
            env,
            counter("kafka_server_brokertopicmetrics_bytesout_total", extra),
            MetricKind::Counter,
            from,
            to,
            |i| i as f64 * 15.0 * 2e6,
        )
        .await;
    }
    write(
        env,
        counter("kafka_server_brokertopicmetrics_messagesin_total", &[]),
        MetricKind::Counter,
        from,
        to,
        |i| i as f64 * 15.0 * 1000.0,
    )
    .await;
    write(
        env,
        counter(
            "jvm_gc_collection_seconds_sum",
            &[("gc", "G1 Young Generation")],
        ),
        MetricKind::Counter,
        from,
        to,
        |i| i as f64 * 15.0 * 0.01,
    )
    .await;
    write(
        env,
        counter(
            "kafka_network_requestmetrics_requests_total",
            &[("request", "Produce"), ("version", "9")],
        ),
        MetricKind::Counter,
        from,
        to,
        |i| i as f64 * 15.0 * 50.0,
    )
    .await;
    let controller = b.controller;
    let gauges: Vec<Gauge> = vec![
        (
            "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
            vec![],
            0.8,
        ),
        (
            "kafka_network_socketserver_networkprocessoravgidlepercent",
            vec![],
            0.9,
        ),
        (
            "kafka_server_replicamanager_underreplicatedpartitions",
            vec![],
            0.0,
        ),
        (
            "kafka_controller_kafkacontroller_offlinepartitionscount",
            vec![],
            0.0,
        ),
        ("kafka_server_replicamanager_partitioncount", vec![], 120.0),
        ("kafka_server_replicamanager_leadercount", vec![], 40.0),
        (
            "kafka_controller_kafkacontroller_activecontrollercount",
            vec![],
            controller,
        ),
        ("jvm_memory_bytes_used", vec![("area", "heap")], 512e6),
        ("kafka_server_kafkaserver_brokerstate", vec![], 3.0),
        (
            "kafka_network_requestmetrics_totaltimems",
            vec![("request", "Produce"), ("quantile", "0.99")],
            12.0,
        ),
        (
            "kafka_network_requestmetrics_totaltimems",
            vec![("request", "Produce"), ("quantile", "0.50")],
            3.0,
        ),
        (
            "kafka_network_requestmetrics_localtimems",
            vec![("request", "Produce"), ("quantile", "0.99")],
            4.0,
        ),
        (
            "kafka_network_requestmetrics_remotetimems",
            vec![("request", "Produce"), ("quantile", "0.99")],
            7.0,
        ),
        (
            "kafka_server_socket_server_metrics_connection_count",
            vec![("listener", "PLAINTEXT"), ("networkProcessor", "0")],
            33.0,
        ),
    ];
    for (m, extra, v) in gauges {
        write(env, key(m, &l(&extra)), MetricKind::Gauge, from, to, |_| v).await;
    }
}

/// (client, client_id, job, stops_ms before the end, extra labels)
async fn seed_clients(env: &Env) {
    let (end, from) = (env.end, env.end - 2 * HOUR);
    let producer = [
        ("cluster", CLUSTER),
        ("job", "kafka-producer"),
        ("instance", "app-1:9010"),
        ("client", "orders-producer"),
        ("client_id", "orders-1"),
    ];
    write(
        env,
        key(
            "kafka_producer_producer_metrics_record_send_total",
            &producer,
        ),
        MetricKind::Counter,
        from,
        end,
        |i| i as f64 * 15.0 * 100.0,
    )
    .await;
    for (m, v) in [
        ("kafka_producer_producer_metrics_record_error_rate", 0.5),
        ("kafka_producer_producer_metrics_request_latency_avg", 12.0),
        (
            "kafka_producer_producer_metrics_buffer_available_bytes",
            33_554_432.0,
        ),
        ("kafka_producer_producer_metrics_compression_rate_avg", 0.4),
    ] {
        write(env, key(m, &producer), MetricKind::Gauge, from, end, |_| v).await;
    }
    for (client, id, stops, group) in [
        ("billing-consumer", "billing-1", 0, None),
        ("old-consumer", "old-1", HOUR, None),
        ("grouped-consumer", "grouped-1", 0, Some("billing")),
    ] {
        let mut l = vec![
            ("cluster", CLUSTER),
            ("job", "kafka-consumer"),
            ("instance", "app-2:9011"),
            ("client", client),
            ("client_id", id),
        ];
        let to = end - stops;
        // The client-wide bean and a per-topic one with the same count: 80/s, not 160/s.
        for extra in [None, Some(("topic", "payments"))] {
            let mut l = l.clone();
            l.extend(extra);
            write(
                env,
                key(
                    "kafka_consumer_consumer_fetch_manager_metrics_records_consumed_total",
                    &l,
                ),
                MetricKind::Counter,
                from,
                to,
                |i| i as f64 * 15.0 * 80.0,
            )
            .await;
        }
        write(
            env,
            key(
                "kafka_consumer_consumer_fetch_manager_metrics_records_lag_max",
                &l,
            ),
            MetricKind::Gauge,
            from,
            to,
            |_| 42.0,
        )
        .await;
        write(
            env,
            key(
                "kafka_consumer_consumer_coordinator_metrics_rebalance_rate_per_hour",
                &l,
            ),
            MetricKind::Gauge,
            from,
            to,
            |_| 2.0,
        )
        .await;
        if let Some(g) = group {
            l.push(("group_id", g));
        }
        write(
            env,
            key(
                "kafka_consumer_consumer_coordinator_metrics_commit_rate",
                &l,
            ),
            MetricKind::Gauge,
            from,
            to,
            |_| 0.2,
        )
        .await;
    }
}

/// The text of the table row (or section) that contains `cell`.
fn row(page: &str, cell: &str) -> String {
    let at = page
        .find(cell)
        .unwrap_or_else(|| panic!("{cell} not on the page"));
    let start = page[..at].rfind("<tr").unwrap_or(0);
    page[start..at + page[at..].find("</tr>").unwrap()].to_string()
}

/// The values of a row's number cells, without their sparklines.
fn cells(row: &str) -> Vec<String> {
    row.split("<td class=\"num")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').unwrap() + 1..];
            c[..c.find(['<']).unwrap()].to_string()
        })
        .collect()
}

fn section<'a>(page: &'a str, cluster: &str) -> &'a str {
    let start = page
        .find(&format!("<h2>{cluster} <span"))
        .unwrap_or_else(|| panic!("no section for {cluster}"));
    let rest = &page[start..];
    &rest[..rest.find("</section>").unwrap()]
}

/// The figure of the chart titled `title`.
fn chart<'a>(page: &'a str, title: &str) -> &'a str {
    let at = page
        .find(&format!(">{title}</a>"))
        .unwrap_or_else(|| panic!("no chart {title}"));
    let rest = &page[at..];
    &rest[..rest.find("</figure>").unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_and_client_pages_show_what_the_jmx_series_hold() {
    let env = start().await;
    let brokers = [
        Broker {
            cluster: CLUSTER,
            instance: "broker-1:9999",
            bytes_in: 1e6,
            controller: 1.0,
            stops_ms: 0,
        },
        // The outlier: five times broker-1's bytes in, and a second active controller.
        Broker {
            cluster: CLUSTER,
            instance: "broker-2:9999",
            bytes_in: 5e6,
            controller: 1.0,
            stops_ms: 0,
        },
        // Stopped reporting an hour ago.
        Broker {
            cluster: CLUSTER,
            instance: "broker-3:9999",
            bytes_in: 9e6,
            controller: 0.0,
            stops_ms: HOUR,
        },
        // A healthy second cluster: exactly one active controller.
        Broker {
            cluster: "lab2",
            instance: "k1:9999",
            bytes_in: 1e6,
            controller: 1.0,
            stops_ms: 0,
        },
        Broker {
            cluster: "lab2",
            instance: "k2:9999",
            bytes_in: 1e6,
            controller: 0.0,
            stops_ms: 0,
        },
    ];
    for b in &brokers {
        seed_broker(&env, b).await;
    }
    // lab2 runs KRaft: one controller leads the quorum, one follows it.
    for (instance, state_now, leader) in [
        ("ctl-1:9998", "leader", 1.0),
        ("ctl-2:9998", "follower", 1.0),
    ] {
        for state in ["leader", "follower"] {
            write(
                &env,
                key(
                    "kafka_server_raft_metrics_current_state_info",
                    &[
                        ("cluster", "lab2"),
                        ("job", "kafka-controller"),
                        ("instance", instance),
                        ("state", state),
                    ],
                ),
                MetricKind::Gauge,
                env.end - 2 * HOUR,
                env.end,
                |_| if state == state_now { 1.0 } else { 0.0 },
            )
            .await;
        }
        for (m, v) in [
            ("kafka_server_raft_metrics_current_leader", leader),
            ("kafka_server_raft_metrics_current_epoch", 7.0),
        ] {
            write(
                &env,
                key(
                    m,
                    &[
                        ("cluster", "lab2"),
                        ("job", "kafka-controller"),
                        ("instance", instance),
                    ],
                ),
                MetricKind::Gauge,
                env.end - 2 * HOUR,
                env.end,
                |_| v,
            )
            .await;
        }
    }
    // broker-1's host, read by an agent on port 9100, for the cold-reads overlay.
    let host = [
        ("cluster", CLUSTER),
        ("job", "agents"),
        ("instance", "broker-1:9100"),
    ];
    write(
        &env,
        key("node_memory_MemTotal_bytes", &host),
        MetricKind::Gauge,
        env.end - 2 * HOUR,
        env.end,
        |_| 8e9,
    )
    .await;
    write(
        &env,
        key(
            "node_disk_read_bytes_total",
            &[
                ("cluster", CLUSTER),
                ("job", "agents"),
                ("instance", "broker-1:9100"),
                ("device", "vda"),
            ],
        ),
        MetricKind::Counter,
        env.end - 2 * HOUR,
        env.end,
        |i| i as f64 * 15.0 * 3e6,
    )
    .await;
    let moved = Event {
        ts: env.end - 20 * 60_000,
        kind: "jmx_controller_moved".into(),
        severity: Severity::Warning,
        cluster: CLUSTER.into(),
        subject: "broker-1:9999".into(),
        message: format!("controller moved to broker-1 {SCRIPT}"),
    };
    env.store.append(&[], &[moved]).await.expect("event");
    seed_clients(&env).await;

    let bytes = ValueFormat {
        unit: Unit::Bytes,
        per_second: true,
    };

    // The list.
    let (status, list) = env.text("/brokers?range=1h").await;
    assert_eq!(status, 200, "{list}");
    let lab = section(&list, CLUSTER);
    let b1 = row(lab, ">broker-1:9999</a>");
    let b2 = row(lab, ">broker-2:9999</a>");
    let b3 = row(lab, ">broker-3:9999</a>");
    // Bytes in from the all-topics meter only (the per-topic one would double it).
    // (The cell is a 5-minute rate at the range's end, a little under the written rate as
    // Prometheus extrapolates it past the last sample; the sparkline's last point is exact.)
    assert!(cells(&b1)[0].ends_with(" KiB/s"), "{b1}");
    assert!(
        b1.contains(&format!("aria-label=\"last {}", bytes.format(1e6))),
        "{b1}"
    );
    assert!(
        b2.contains(&format!("aria-label=\"last {}", bytes.format(5e6))),
        "{b2}"
    );
    assert!(cells(&b1)[1].ends_with(" MiB/s"), "bytes out: {b1}");
    assert!(b1.contains(">balanced</td>"), "{b1}");
    // Outlier: broker-2 is 5/3 of the average of the two brokers reporting.
    assert!(b2.contains("outlier"), "{b2}");
    assert!(b2.contains("Bytes in 1.7× avg"), "{b2}");
    assert!(!b1.contains("outlier"), "{b1}");
    // Sparklines in the rows.
    assert!(b1.contains("<svg"), "no sparkline: {b1}");
    // The stale broker: marked, its cells empty rather than zero, and out of the skew.
    assert!(b3.contains("stale-badge"), "{b3}");
    assert!(cells(&b3).iter().all(|c| c == "–"), "{b3}");
    assert!(!b1.contains("stale-badge") && !b2.contains("stale-badge"));
    assert!(
        !b3.contains(&bytes.format(0.0)),
        "zeros for a stale broker: {b3}"
    );
    assert!(!b3.contains("outlier"), "{b3}");
    // Two active controllers in lab: the warning; exactly one in lab2: none.
    assert!(lab.contains("controller-warning"), "{lab}");
    assert!(
        lab.contains("2 active controllers (must be exactly 1)"),
        "{lab}"
    );
    assert!(lab.contains("stale: broker-3:9999"), "{lab}");
    let lab2 = section(&list, "lab2");
    assert!(!lab2.contains("controller-warning"), "{lab2}");
    assert!(lab2.contains("badge ok"), "{lab2}");
    // The KRaft quorum of lab2.
    assert!(
        lab2.contains("ctl-1:9998") && lab2.contains("ctl-2:9998"),
        "{lab2}"
    );
    assert!(lab2.contains("follower, leader node 1, epoch 7"), "{lab2}");
    assert!(lab2.contains("leader, epoch 7"), "{lab2}");
    // Links to the broker pages keep the range.
    assert!(list.contains("href=\"/brokers/lab/broker-1%3A9999?range=1h\""));

    // Sorting: by broker name by default, by bytes in (most first) on request.
    let (_, by_name) = env.text("/brokers?range=1h").await;
    assert!(by_name.find(">broker-1:9999<") < by_name.find(">broker-2:9999<"));
    let (status, by_bytes) = env.text("/brokers?range=1h&sort=bytes_in").await;
    assert_eq!(status, 200);
    assert!(by_bytes.find(">broker-2:9999<") < by_bytes.find(">broker-1:9999<"));
    let (status, _) = env.text("/brokers?range=1h&sort=nonsense").await;
    assert_eq!(status, 400);
    let (status, only) = env.text("/brokers?range=1h&cluster=lab2").await;
    assert_eq!(status, 200);
    assert!(only.contains("k1:9999") && !only.contains("broker-1:9999"));

    // ETag and Cache-Control from the shared layer (the body carries its generation time, so
    // only a different tag is checked here: it gets the page).
    let r = env.get("/brokers?range=1h").await;
    let tag = r
        .headers()
        .get("etag")
        .expect("etag")
        .to_str()
        .unwrap()
        .to_string();
    assert!(tag.starts_with("W/\""), "{tag}");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let other_tag = env
        .client
        .get(format!("{}/brokers?range=1h", env.base))
        .header("if-none-match", "W/\"0-00000000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other_tag.status().as_u16(), 200);

    // The broker page: every panel, each in its unit.
    let (status, page) = env.text("/brokers/lab/broker-1%3A9999?range=1h").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.len() < 300 * 1024, "{} bytes", page.len());
    for title in [
        "Bytes in and out",
        "Messages in",
        "Requests by type",
        "Errors by type",
        "Produce total time, p50 and p99",
        "Produce time by phase, p99",
        "Consumer fetch time by phase, p99",
        "Follower fetch time by phase, p99",
        "Thread idle",
        "Request and response queues",
        "ISR shrinks and expands",
        "Partitions and leaders",
        "Connections by listener",
        "Purgatory size",
        "Log flush rate",
        "Log flush time, p99",
        "JVM heap",
        "GC time",
        "Open file descriptors",
        "Disk reads and writes (KIP-551)",
        "Broker bytes out vs disk reads and cache misses",
    ] {
        chart(&page, title);
    }
    let io = chart(&page, "Bytes in and out");
    assert!(io.contains(&bytes.format(1e6)), "{io}");
    assert!(io.contains("/s"), "{io}");
    let produce = chart(&page, "Produce total time, p50 and p99");
    assert!(
        produce.contains("12 ms") && produce.contains("3 ms"),
        "{produce}"
    );
    let phases = chart(&page, "Produce time by phase, p99");
    for phase in ["local", "remote"] {
        assert!(
            phases.contains(&format!(">{phase}</a>")),
            "{phase}: {phases}"
        );
    }
    assert!(phases.contains("7 ms"), "{phases}");
    let idle = chart(&page, "Thread idle");
    assert!(idle.contains("80 %") && idle.contains("90 %"), "{idle}");
    let heap = chart(&page, "JVM heap");
    assert!(heap.contains("MiB"), "{heap}");
    let gc = chart(&page, "GC time");
    assert!(gc.contains("1 %"), "{gc}");
    let conns = chart(&page, "Connections by listener");
    assert!(conns.contains("\n33</title>"), "{conns}");
    // The host's overlay: this broker's bytes out (all-topics meter only) over the disk reads.
    let cold = chart(&page, "Broker bytes out vs disk reads and cache misses");
    assert!(
        cold.contains("broker bytes out") && cold.contains("disk reads"),
        "{cold}"
    );
    assert!(cold.contains(&bytes.format(2e6)), "{cold}");
    assert!(
        !cold.contains(&bytes.format(4e6)),
        "per-topic bytes out added: {cold}"
    );
    // Its events, escaped; not on another broker's page.
    assert!(page.contains("jmx_controller_moved"), "no event");
    let at = page
        .find("controller moved to broker-1")
        .expect("event message");
    assert!(!page.contains(SCRIPT), "{}", &page[at..at + 80]);
    let (_, other) = env.text("/brokers/lab/broker-2%3A9999?range=1h").await;
    assert!(
        !other.contains("jmx_controller_moved"),
        "broker-1's event on broker-2"
    );
    // Unknown broker and cluster.
    let (status, _) = env.text("/brokers/lab/nope%3A9999").await;
    assert_eq!(status, 404);
    let (status, _) = env.text("/brokers/no-such-cluster/broker-1%3A9999").await;
    assert_eq!(status, 404);

    // Clients.
    let (status, clients) = env.text("/clients?range=1h").await;
    assert_eq!(status, 200, "{clients}");
    let p = row(&clients, ">orders-1</span>");
    assert!(p.contains("orders-producer"), "{p}");
    assert!(p.contains("aria-label=\"last 100/s"), "send rate: {p}");
    assert!(p.contains("0.5/s"), "error rate: {p}");
    assert!(p.contains("12 ms"), "latency: {p}");
    assert!(p.contains("32 MiB"), "buffer: {p}");
    assert!(p.contains("40 %"), "compression: {p}");
    assert!(p.contains("<svg"), "no sparkline: {p}");
    let c = row(&clients, ">billing-1</span>");
    assert!(
        c.contains("aria-label=\"last 80/s"),
        "consumed (client-wide only): {c}"
    );
    assert!(c.contains(">42"), "lag max: {c}");
    assert!(c.contains("2 /h"), "rebalances: {c}");
    assert!(
        !c.contains("group-link"),
        "a group the labels do not give: {c}"
    );
    let g = row(&clients, ">grouped-1</span>");
    assert!(
        g.contains("href=\"/consumers/lab/billing?range=1h\""),
        "the group its labels name: {g}"
    );
    let old = row(&clients, ">old-1</span>");
    assert!(old.contains("stale-badge"), "{old}");
    assert!(!c.contains("stale-badge"), "{c}");
    assert!(clients.contains("records-lag-max"), "the lag note");
    env.stop().await;
}
