//! The JMX tests' peers are what they claim, checked with a plain JMX client (ListBeans, no part of
//! kafkascope's bridge): the fake broker exposes every broker ObjectName of the canonical table
//! (reference/kafka-metrics.md) in the Yammer / KafkaMetrics attribute shapes with values on its
//! documented schedule; each control command has an observable effect; the bad beans misbehave as
//! designed and a `hang` read really never answers; authentication really is enforced; real
//! kafka-clients 3.9.1 producer/consumer JVMs against Tansu expose their real client beans with the
//! counts they sent and consumed; ZooKeeper with the JMX option exposes its server bean.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::jvm::schedule::{self, Shape};
use support::jvm::{BeanListing, JmxOpts, JvmPeer, list_beans};

/// Generous: listing a few thousand attributes one RMI call each on a loaded 2-core machine.
const LIST: Duration = Duration::from_secs(180);

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as f64
}

/// Lists `pattern` and brackets it with the schedule clock: `(listing, t_before, t_after)` in
/// seconds since the JVM's StartTime, so any value read during the listing lies between the
/// schedule at `t_before` and at `t_after` (no assumption about how long the listing takes).
fn list_timed(peer: &JvmPeer, pattern: &str) -> (BeanListing, f64, f64) {
    let runtime = list_beans(&peer.jmx_address(), "java.lang:type=Runtime", None, LIST);
    let start = runtime
        .number("java.lang:type=Runtime", "StartTime")
        .unwrap_or_else(|| panic!("no Runtime StartTime: {:?}", runtime.stderr));
    let before = (now_ms() - start) / 1000.0;
    let listing = list_beans(&peer.jmx_address(), pattern, None, LIST);
    let after = (now_ms() - start) / 1000.0;
    assert!(
        listing.finished,
        "listing {pattern} did not finish: {}",
        listing.stderr
    );
    (listing, before, after)
}

/// A schedule counter read during the listing lies between its values at the bracketing instants
/// (±1 for the millisecond rounding of both clocks' readings).
fn assert_on_schedule(value: f64, rate: f64, before: f64, after: f64, what: &str) {
    let lo = schedule::count_at(rate, before) as f64 - 1.0;
    let hi = schedule::count_at(rate, after) as f64 + 1.0;
    assert!(
        (lo..=hi).contains(&value),
        "{what} = {value}, expected within [{lo}, {hi}] (rate {rate}/s, t {before:.3}..{after:.3} s)"
    );
}

fn broker(args: &[&str]) -> JvmPeer {
    JvmPeer::start("FakeKafkaBroker", args, JmxOpts::default())
}

#[test]
fn fake_broker_exposes_every_canonical_bean_in_its_real_shape_on_schedule() {
    let peer = broker(&["--broker-id", "1", "--controller"]);
    let (all, before, after) = list_timed(&peer, "kafka.*:*");

    let canonical = schedule::canonical_broker_beans();
    assert!(
        canonical.len() > 100,
        "the canonical list is the whole table"
    );
    let mut missing = Vec::new();
    for (name, shape) in &canonical {
        let attrs = all.attributes(name);
        if attrs.is_empty() {
            missing.push(name.clone());
            continue;
        }
        let want: Vec<&str> = match shape {
            Shape::Meter => schedule::METER_ATTRIBUTES.to_vec(),
            Shape::Histogram => schedule::HISTOGRAM_ATTRIBUTES.to_vec(),
            Shape::Timer => schedule::HISTOGRAM_ATTRIBUTES
                .iter()
                .chain(&schedule::METER_ATTRIBUTES)
                .chain(&["LatencyUnit"])
                .copied()
                .collect(),
            Shape::Gauge => vec!["Value"],
            Shape::KafkaMetric(a) => a.to_vec(),
        };
        for a in &want {
            assert!(attrs.contains(a), "{name} lacks {a}; has {attrs:?}");
        }
        match shape {
            // Yammer's shapes: a gauge's Value is typed Object, rates carry a TimeUnit.
            Shape::Gauge => {
                assert_eq!(attrs, ["Value"], "{name}");
                assert_eq!(
                    all.get(name, "Value").unwrap().declared_type,
                    "java.lang.Object"
                );
            }
            Shape::Meter | Shape::Timer => {
                let unit = all.get(name, "RateUnit").unwrap();
                assert_eq!(
                    unit.declared_type, "java.util.concurrent.TimeUnit",
                    "{name}"
                );
                assert_eq!(all.get(name, "Count").unwrap().declared_type, "long");
            }
            Shape::Histogram => assert!(!attrs.contains(&"RateUnit"), "{name}: no rates"),
            // kafka-clients' JmxReporter declares every attribute double.
            Shape::KafkaMetric(_) => {
                for l in all.lines.iter().filter(|l| &l.object_name == name) {
                    assert_eq!(l.declared_type, "double", "{name} {}", l.attribute);
                }
            }
        }
    }
    assert!(missing.is_empty(), "canonical beans missing: {missing:#?}");
    // Negative control on the same listing: a misspelt name really is reported absent.
    assert!(
        all.attributes("kafka.server:type=ReplicaManager,name=UnderReplicatedPartitionz")
            .is_empty()
    );

    // Values on the schedule.
    let btm = "kafka.server:type=BrokerTopicMetrics,name=";
    let count = |n: &str| {
        all.number(n, "Count")
            .unwrap_or_else(|| panic!("{n} Count"))
    };
    assert_on_schedule(
        count(&format!("{btm}BytesInPerSec")),
        schedule::BYTES_IN_PER_SEC,
        before,
        after,
        "BytesIn",
    );
    assert_on_schedule(
        count(&format!("{btm}MessagesInPerSec")),
        schedule::MESSAGES_IN_PER_SEC,
        before,
        after,
        "MessagesIn",
    );
    assert_on_schedule(
        count(&format!("{btm}BytesOutPerSec")),
        schedule::BYTES_OUT_PER_SEC,
        before,
        after,
        "BytesOut",
    );
    for (topic, share) in schedule::TOPICS {
        assert_on_schedule(
            count(&format!("{btm}BytesInPerSec,topic={topic}")),
            schedule::BYTES_IN_PER_SEC * share,
            before,
            after,
            topic,
        );
        assert_eq!(
            all.number(
                &format!("{btm}BytesInPerSec,topic={topic}"),
                "OneMinuteRate"
            ),
            Some(schedule::BYTES_IN_PER_SEC * share)
        );
    }
    for r in schedule::REQUESTS {
        let name = format!(
            "kafka.network:type=RequestMetrics,name=RequestsPerSec,request={},version={}",
            r.name, r.version
        );
        assert_on_schedule(count(&name), r.rate, before, after, &name);
        for (t, _) in schedule::TIME_NAMES {
            let name = format!(
                "kafka.network:type=RequestMetrics,name={t},request={}",
                r.name
            );
            let stats = schedule::request_time(t, r.name).expect("a scheduled time");
            for (attr, want) in stats.attributes() {
                let got = all
                    .number(&name, attr)
                    .unwrap_or_else(|| panic!("{name} {attr}"));
                assert!(
                    (got - want).abs() < 1e-9,
                    "{name} {attr} = {got}, want {want}"
                );
            }
        }
    }
    let total = "kafka.network:type=RequestMetrics,name=TotalTimeMs,request=Produce";
    assert_eq!(all.number(total, "99thPercentile"), Some(42.0));
    assert_eq!(all.number(total, "50thPercentile"), Some(2.0));
    assert_eq!(all.number(total, "999thPercentile"), Some(120.0));
    let disk = "kafka.server:type=KafkaServer,name=linux-disk-read-bytes";
    assert_on_schedule(
        all.number(disk, "Value").unwrap(),
        schedule::DISK_READ_BYTES_PER_SEC,
        before,
        after,
        disk,
    );
    let idle = "kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent";
    assert_eq!(
        all.number(idle, "OneMinuteRate"),
        Some(schedule::REQUEST_HANDLER_IDLE)
    );
    assert_eq!(
        all.number(idle, "MeanRate"),
        Some(schedule::REQUEST_HANDLER_IDLE)
    );
    assert_eq!(all.get(idle, "RateUnit").unwrap().value, "NANOSECONDS");
    assert_eq!(
        all.number(
            "kafka.network:type=SocketServer,name=NetworkProcessorAvgIdlePercent",
            "Value"
        ),
        Some(schedule::NETWORK_PROCESSOR_IDLE)
    );
    assert_eq!(
        all.number(
            "kafka.controller:type=KafkaController,name=ActiveControllerCount",
            "Value"
        ),
        Some(1.0)
    );
    assert_eq!(
        all.number("kafka.server:type=KafkaServer,name=BrokerState", "Value"),
        Some(schedule::BROKER_STATE)
    );
    let sock = "kafka.server:type=socket-server-metrics,listener=PLAINTEXT,networkProcessor=0";
    assert_eq!(
        all.number(sock, "connection-count"),
        Some(schedule::CONNECTION_COUNT)
    );
    // The raft state is a string behind a `double` declaration, as in a real KRaft broker.
    assert_eq!(
        all.get("kafka.server:type=raft-metrics", "current-state")
            .unwrap()
            .value,
        "leader"
    );
    assert_eq!(
        all.number("kafka.server:type=raft-metrics", "current-leader"),
        Some(1.0)
    );

    // The JVM runs G1 like a broker, so the GC beans carry a broker's collector names.
    let gc = list_beans(
        &peer.jmx_address(),
        "java.lang:type=GarbageCollector,*",
        None,
        LIST,
    );
    for collector in ["G1 Young Generation", "G1 Old Generation"] {
        assert!(
            gc.object_names()
                .iter()
                .any(|n| n.contains(&format!("name={collector}"))),
            "no {collector} bean: {:?}",
            gc.object_names()
        );
    }

    // Counters move: a later listing reads a larger Count.
    std::thread::sleep(Duration::from_millis(1500));
    let again = list_beans(
        &peer.jmx_address(),
        &format!("{btm}BytesInPerSec"),
        None,
        LIST,
    );
    let later = again
        .number(&format!("{btm}BytesInPerSec"), "Count")
        .unwrap();
    assert!(
        later > count(&format!("{btm}BytesInPerSec")),
        "BytesInPerSec Count did not grow: {later}"
    );
}

#[test]
fn control_commands_restart_and_kill_have_observable_effects() {
    let mut peer = broker(&["--broker-id", "2"]);
    let kc = "kafka.controller:type=KafkaController,name=";
    let rm = "kafka.server:type=ReplicaManager,name=";
    let unclean = "kafka.controller:type=ControllerStats,name=UncleanLeaderElectionsPerSec";
    let elections = "kafka.controller:type=ControllerStats,name=LeaderElectionRateAndTimeMs";
    let raft = "kafka.server:type=raft-metrics";
    let read = |peer: &JvmPeer| {
        let l = list_beans(&peer.jmx_address(), "kafka.*:*", None, LIST);
        assert!(l.finished, "listing did not finish: {}", l.stderr);
        l
    };
    let base = read(&peer);
    assert_eq!(
        base.number(&format!("{kc}ActiveControllerCount"), "Value"),
        Some(0.0)
    );
    assert_eq!(
        base.number(&format!("{kc}OfflinePartitionsCount"), "Value"),
        Some(0.0)
    );
    assert_eq!(
        base.number(&format!("{rm}UnderReplicatedPartitions"), "Value"),
        Some(0.0)
    );
    assert_eq!(
        base.number(&format!("{rm}IsrShrinksPerSec"), "Count"),
        Some(0.0)
    );
    assert_eq!(base.number(unclean, "Count"), Some(0.0));
    assert_eq!(base.number(elections, "Count"), Some(1.0));
    assert_eq!(base.get(raft, "current-state").unwrap().value, "follower");

    for cmd in [
        "controller on",
        "offline 2",
        "urp 3",
        "unclean",
        "isr-shrink 4",
    ] {
        peer.command(cmd);
    }
    let after = read(&peer);
    assert_eq!(
        after.number(&format!("{kc}ActiveControllerCount"), "Value"),
        Some(1.0)
    );
    assert_eq!(
        after.number(&format!("{kc}OfflinePartitionsCount"), "Value"),
        Some(2.0)
    );
    assert_eq!(
        after.number(&format!("{rm}UnderReplicatedPartitions"), "Value"),
        Some(3.0)
    );
    assert_eq!(
        after.number(&format!("{rm}IsrShrinksPerSec"), "Count"),
        Some(4.0)
    );
    assert_eq!(after.number(unclean, "Count"), Some(1.0));
    assert_eq!(after.number(elections, "Count"), Some(2.0));
    assert_eq!(after.get(raft, "current-state").unwrap().value, "leader");
    assert_eq!(after.number(raft, "current-leader"), Some(2.0));

    // Only the active controller reports offline partitions.
    peer.command("controller off");
    let vanishing = format!("{rm}UnderReplicatedPartitions");
    peer.command(&format!("vanish {vanishing}"));
    let off = read(&peer);
    assert_eq!(
        off.number(&format!("{kc}ActiveControllerCount"), "Value"),
        Some(0.0)
    );
    assert_eq!(
        off.number(&format!("{kc}OfflinePartitionsCount"), "Value"),
        Some(0.0)
    );
    assert!(
        off.attributes(&vanishing).is_empty(),
        "{vanishing} still listed"
    );
    assert!(!off.attributes(&format!("{rm}PartitionCount")).is_empty());
    peer.command("restore");
    let back = read(&peer);
    assert_eq!(back.number(&vanishing, "Value"), Some(3.0));

    // Refusals are explicit.
    let seen = peer.lines().len();
    peer.send("vanish kafka.server:type=Nope,name=Nothing");
    peer.send("bogus");
    let refused = |prefix: &str| {
        peer.wait_for_line(|l| l.starts_with(prefix), LIST)
            .unwrap_or_else(|| panic!("no {prefix} line: {:?}", &peer.lines()[seen..]))
    };
    refused("ERR vanish kafka.server:type=Nope");
    refused("ERR bogus");

    // A restart is a new JVM on the same port: new pid, new StartTime, commands' state gone,
    // counters back on the schedule from zero.
    let runtime = |peer: &JvmPeer| {
        list_beans(&peer.jmx_address(), "java.lang:type=Runtime", None, LIST)
            .number("java.lang:type=Runtime", "StartTime")
            .expect("StartTime")
    };
    let (pid, started, address) = (peer.pid(), runtime(&peer), peer.jmx_address());
    peer.restart();
    assert_ne!(peer.pid(), pid);
    assert_eq!(peer.jmx_address(), address);
    assert!(
        runtime(&peer) > started,
        "StartTime did not move on restart"
    );
    let fresh = read(&peer);
    assert_eq!(fresh.number(&vanishing, "Value"), Some(0.0));
    assert_eq!(
        fresh.number(&format!("{rm}IsrShrinksPerSec"), "Count"),
        Some(0.0)
    );
    assert_eq!(
        fresh.number(&format!("{kc}ActiveControllerCount"), "Value"),
        Some(0.0)
    );

    // kill -9: nothing answers on the port until the next restart.
    peer.kill9();
    assert!(!peer.is_running());
    let dead = list_beans(&address, "kafka.*:*", None, LIST);
    assert!(!dead.finished && dead.lines.is_empty());
    assert!(
        dead.stderr.contains("Connection refused") || dead.stderr.contains("ConnectException"),
        "{}",
        dead.stderr
    );
    peer.restart();
    assert!(read(&peer).number(&vanishing, "Value").is_some());
}

#[test]
fn bad_beans_misbehave_as_designed_and_hang_never_answers() {
    let mut peer = broker(&[]);
    let good = list_beans(&peer.jmx_address(), "kafkascope.test:*", None, LIST);
    assert!(good.finished, "{}", good.stderr);
    let throwing = good.get(schedule::BAD_THROWING, "Value").unwrap();
    assert!(
        throwing
            .value
            .starts_with("ERR java.lang.IllegalStateException"),
        "{throwing:?}"
    );
    assert_eq!(good.number(schedule::BAD_THROWING, "Healthy"), Some(1.0));
    assert!(good.number(schedule::BAD_NAN, "Value").unwrap().is_nan());
    assert_eq!(
        good.number(schedule::BAD_NAN, "Infinite"),
        Some(f64::INFINITY)
    );
    let declared = good.get(schedule::BAD_DECLARED_DOUBLE, "state").unwrap();
    assert_eq!(
        (declared.declared_type.as_str(), declared.value.as_str()),
        ("double", "leader")
    );
    assert_eq!(good.number(schedule::BAD_DECLARED_DOUBLE, "ok"), Some(1.0));
    let composite = good.get(schedule::BAD_COMPOSITE, "Value").unwrap();
    assert_eq!(
        composite.declared_type,
        "javax.management.openmbean.CompositeData"
    );
    assert_eq!(composite.value, "{reason=test, state=degraded}");
    // Positive control for the hang: the bean answers before `hang`.
    assert_eq!(good.number(schedule::BAD_HANG, "Value"), Some(1.0));

    peer.command("hang");
    // Beans list in sorted order: Composite, DeclaredDouble, Hang, NaN, Throwing.
    let hung = list_beans(
        &peer.jmx_address(),
        "kafkascope.test:*",
        None,
        Duration::from_secs(20),
    );
    assert!(!hung.finished, "the hang read answered: {:?}", hung.lines);
    assert!(
        hung.get(schedule::BAD_COMPOSITE, "Value").is_some(),
        "{:?}",
        hung.lines
    );
    assert!(hung.get(schedule::BAD_DECLARED_DOUBLE, "ok").is_some());
    assert!(hung.get(schedule::BAD_HANG, "Value").is_none());
    assert!(hung.get(schedule::BAD_NAN, "Value").is_none());
    // The JVM itself still serves other connections while that read blocks.
    let other = list_beans(&peer.jmx_address(), schedule::BAD_NAN, None, LIST);
    assert!(other.finished);

    peer.command("release");
    let released = list_beans(&peer.jmx_address(), "kafkascope.test:*", None, LIST);
    assert!(released.finished, "{}", released.stderr);
}

#[test]
fn a_frozen_jvm_accepts_connections_and_never_answers() {
    let mut peer = broker(&[]);
    let pattern = "kafka.server:type=ReplicaManager,*";
    // Positive control: it answers before the freeze.
    assert!(list_beans(&peer.jmx_address(), pattern, None, LIST).finished);
    peer.freeze();
    // The kernel still accepts the TCP connection...
    let conn = std::net::TcpStream::connect(peer.jmx_address());
    assert!(conn.is_ok(), "a frozen JVM's port refused: {conn:?}");
    drop(conn);
    // ...but no JMX answer ever comes.
    let frozen = list_beans(&peer.jmx_address(), pattern, None, Duration::from_secs(15));
    assert!(
        !frozen.finished && frozen.lines.is_empty(),
        "{:?}",
        frozen.lines
    );
    peer.thaw();
    let thawed = list_beans(&peer.jmx_address(), pattern, None, LIST);
    assert!(thawed.finished, "{}", thawed.stderr);
}

#[test]
fn authentication_is_enforced_when_asked_for() {
    let peer = JvmPeer::start(
        "FakeKafkaBroker",
        &[],
        JmxOpts::with_auth("monitor", "s3cret-pw"),
    );
    let pattern = "kafka.server:type=ReplicaManager,*";
    let ok = list_beans(
        &peer.jmx_address(),
        pattern,
        Some(("monitor", "s3cret-pw")),
        LIST,
    );
    assert!(ok.finished, "{}", ok.stderr);
    assert!(!ok.lines.is_empty());
    for creds in [Some(("monitor", "wrong")), None] {
        let refused = list_beans(&peer.jmx_address(), pattern, creds, LIST);
        assert!(!refused.finished && refused.lines.is_empty());
        assert!(
            refused.stderr.contains("SecurityException"),
            "{creds:?}: {}",
            refused.stderr
        );
    }
}

#[test]
fn wide_mode_adds_exactly_the_requested_beans_and_attributes() {
    let peer = broker(&["--beans", "200", "--attrs-per-bean", "5"]);
    let l = list_beans(&peer.jmx_address(), "kafka.log:type=Log,*", None, LIST);
    assert!(l.finished, "{}", l.stderr);
    let synthetic: Vec<&str> = l
        .object_names()
        .into_iter()
        .filter(|n| {
            n.contains(",topic=t")
                && !schedule::TOPICS
                    .iter()
                    .any(|(t, _)| n.contains(&format!("topic={t}")))
        })
        .collect();
    assert_eq!(synthetic.len(), 200);
    for n in &synthetic {
        assert_eq!(
            l.attributes(n),
            ["Value", "Value2", "Value3", "Value4", "Value5"],
            "{n}"
        );
    }
    // The canonical per-partition beans are still there, one attribute each.
    assert_eq!(
        l.attributes("kafka.log:type=Log,name=Size,topic=orders,partition=0"),
        ["Value"]
    );
}

#[test]
fn real_kafka_clients_expose_their_real_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tansu = support::kafka::Tansu::start(dir.path());
    let topic = "lab-orders";
    let mut producer = JvmPeer::start(
        "KsProducer",
        &[
            "--bootstrap",
            &tansu.addr,
            "--topic",
            topic,
            "--count",
            "7",
            "--client-id",
            "lab-producer",
        ],
        JmxOpts::default(),
    );
    assert!(producer.lines().contains(&"sent 7".to_string()));
    let pm = "kafka.producer:type=producer-metrics,client-id=lab-producer";
    let p = list_beans(&producer.jmx_address(), "kafka.producer:*", None, LIST);
    assert!(p.finished, "{}", p.stderr);
    assert_eq!(p.number(pm, "record-send-total"), Some(7.0));
    assert_eq!(
        p.get(pm, "record-send-total").unwrap().declared_type,
        "double"
    );
    for a in [
        "record-send-rate",
        "request-latency-avg",
        "batch-size-avg",
        "buffer-available-bytes",
    ] {
        assert!(p.get(pm, a).is_some(), "producer-metrics lacks {a}");
    }
    assert!(
        !p.attributes(&format!(
            "kafka.producer:type=producer-topic-metrics,client-id=lab-producer,topic={topic}"
        ))
        .is_empty()
    );
    producer.command("send 5");
    let p = list_beans(&producer.jmx_address(), pm, None, LIST);
    assert_eq!(p.number(pm, "record-send-total"), Some(12.0));

    let consumer = JvmPeer::start(
        "KsConsumer",
        &[
            "--bootstrap",
            &tansu.addr,
            "--topic",
            topic,
            "--group",
            "lab-group",
            "--client-id",
            "lab-consumer",
        ],
        JmxOpts::default(),
    );
    consumer
        .wait_for_line(|l| l == "consumed 12", LIST)
        .unwrap_or_else(|| {
            panic!(
                "consumer lines {:?}\n{}",
                consumer.lines(),
                consumer.stderr()
            )
        });
    let fm = "kafka.consumer:type=consumer-fetch-manager-metrics,client-id=lab-consumer";
    let c = list_beans(&consumer.jmx_address(), "kafka.consumer:*", None, LIST);
    assert!(c.finished, "{}", c.stderr);
    assert_eq!(c.number(fm, "records-consumed-total"), Some(12.0));
    assert!(
        c.number(fm, "records-lag-max").is_some(),
        "no records-lag-max"
    );
    let coord = "kafka.consumer:type=consumer-coordinator-metrics,client-id=lab-consumer";
    assert!(c.number(coord, "commit-total").unwrap_or(0.0) >= 1.0);

    // The broker agrees: the group's committed offsets and the high watermarks sum to 12.
    let lag: serde_json::Value =
        serde_json::from_str(&tansu.tool("lag", &["lab-group"])).expect("lag JSON");
    let rows = lag["lab-group"].as_array().expect("rows");
    let sum = |k: &str| rows.iter().map(|r| r[k].as_i64().unwrap_or(0)).sum::<i64>();
    assert_eq!((sum("committed"), sum("high")), (12, 12), "{lag}");
}

#[test]
fn zookeeper_with_the_jmx_option_exposes_its_server_bean() {
    use support::zookeeper::{ZkOptions, ZkServer};
    assert!(!ZkOptions::default().jmx, "JMX stays off unless asked for");
    let zk = ZkServer::start_standalone(&ZkOptions::default().without_admin().with_jmx());
    let address = zk.jmx_address().expect("a JMX address");
    let l = list_beans(&address, "org.apache.ZooKeeperService:*", None, LIST);
    assert!(l.finished, "{}", l.stderr);
    let bean = format!(
        "org.apache.ZooKeeperService:name0=StandaloneServer_port{}",
        zk.client_port
    );
    assert!(
        !l.attributes(&bean).is_empty(),
        "no {bean} in {:?}",
        l.object_names()
    );
    assert!(l.number(&bean, "OutstandingRequests").is_some());
    assert!(
        l.get(&bean, "ClientPort")
            .unwrap()
            .value
            .ends_with(&zk.client_port.to_string())
    );
}
