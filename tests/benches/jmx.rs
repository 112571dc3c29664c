//! `cargo bench --bench jmx`: the JMX bridge against real JVMs on loopback — a JVM registering
//! BEANS Yammer-meter-shaped beans (5 numeric attributes each, tests/benches/jmx/Synthetic.java)
//! and the Debian ZooKeeper JVM (its own and the platform beans) — in ms per scrape, per bean and
//! per attribute, JNI crossings per scrape, and the RSS the embedded JVM adds to this process.
//! For comparison: the `jmx` crate's own client reading the same attributes one `get_attribute`
//! at a time, and TARGETS clients scraping the synthetic JVM at the same moment.
//!
//! Env: `BENCH_BEANS` (default 2,000), `BENCH_ROUNDS` (10), `BENCH_TARGETS` (20),
//! `BENCH_WORKERS` (2: Java reader threads per scrape, compared with 1). Without `--bench` (under `cargo test
//! --all-targets`): a smoke run (50 beans, 2 rounds, 2 targets) proving every step works.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{cpu_ns, env_num, pct};
use jmx::MBeanClientTrait;
use kafkascope::sources::jmx::bridge::{
    BridgeError, ClientOptions, Endpoint, ScrapeReply, ScrapeRequest, TargetClient, jvm_status,
    jvm_version, service_url,
};
use kafkascope::sources::jmx::model::Value;

const ZK_CLASSPATH: [&str; 4] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/servlet-api.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];

/// Kills the child JVM on drop.
struct Jvm(Child);

impl Drop for Jvm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn jmx_flags(port: u16) -> Vec<String> {
    vec![
        "-Dcom.sun.management.jmxremote.host=127.0.0.1".into(),
        format!("-Dcom.sun.management.jmxremote.port={port}"),
        format!("-Dcom.sun.management.jmxremote.rmi.port={port}"),
        "-Dcom.sun.management.jmxremote.authenticate=false".into(),
        "-Dcom.sun.management.jmxremote.ssl=false".into(),
        "-Dcom.sun.management.jmxremote.local.only=false".into(),
        "-Djava.rmi.server.hostname=127.0.0.1".into(),
    ]
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_synthetic(dir: &Path, beans: usize, port: u16) -> Jvm {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/benches/jmx/Synthetic.java");
    let status = Command::new("javac")
        .args(["--release", "11", "-d"])
        .arg(dir)
        .arg(&src)
        .status()
        .expect("run javac (scripts/install-peers installs a JDK)");
    assert!(status.success(), "javac failed on {}", src.display());
    let mut child = Command::new("java")
        .args(["-Xmx256m", "-XX:+UseSerialGC"])
        .args(jmx_flags(port))
        .arg("-cp")
        .arg(dir)
        .arg("Synthetic")
        .arg(beans.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the synthetic JVM");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("READY line");
    assert!(line.starts_with("READY"), "synthetic JVM said {line:?}");
    wait_port(port);
    Jvm(child)
}

fn start_zookeeper(dir: &Path, port: u16) -> Option<Jvm> {
    if !ZK_CLASSPATH.iter().all(|j| Path::new(j).exists()) {
        println!("zookeeper: not installed (scripts/install-peers), skipped");
        return None;
    }
    let client = free_port();
    let data = dir.join("zkdata");
    std::fs::create_dir_all(&data).expect("zk data dir");
    std::fs::write(
        dir.join("zoo.cfg"),
        format!(
            "tickTime=1000\ndataDir={}\nclientPort={client}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
            data.display()
        ),
    )
    .expect("zoo.cfg");
    std::fs::write(
        dir.join("log4j.properties"),
        "log4j.rootLogger=ERROR, C\nlog4j.appender.C=org.apache.log4j.ConsoleAppender\nlog4j.appender.C.layout=org.apache.log4j.PatternLayout\n",
    )
    .expect("log4j");
    let child = Command::new("java")
        .args(["-Xmx96m", "-XX:+UseSerialGC"])
        .arg(format!(
            "-Dlog4j.configuration=file:{}",
            dir.join("log4j.properties").display()
        ))
        .args(jmx_flags(port))
        .arg("-cp")
        .arg(ZK_CLASSPATH.join(":"))
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(dir.join("zoo.cfg"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ZooKeeper");
    wait_port(port);
    wait_port(client);
    Some(Jvm(child))
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn endpoint(port: u16) -> Endpoint {
    Endpoint {
        url: service_url(&format!("127.0.0.1:{port}")).expect("url"),
        username: None,
        password: None,
        ssl: false,
    }
}

fn numeric_attrs(beans: &[kafkascope::sources::jmx::model::Bean]) -> usize {
    beans
        .iter()
        .flat_map(|b| &b.attributes)
        .filter(|a| matches!(a.value, Value::Number(_)))
        .count()
}

/// Scrapes `rounds` times after one cold scrape; prints the figures.
async fn measure(what: &str, client: &TargetClient, req: &ScrapeRequest, rounds: usize) {
    let budget = Duration::from_secs(60);
    let t = Instant::now();
    let cold = client.scrape(req, budget).await.expect("cold scrape");
    let cold_ms = t.elapsed().as_secs_f64() * 1e3;
    let beans = cold.beans.len().max(1);
    let mut wall = Vec::new();
    let mut java = Vec::new();
    let cpu0 = cpu_ns();
    for _ in 0..rounds {
        let t = Instant::now();
        let r = client.scrape(req, budget).await.expect("scrape");
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        java.push(r.java_ms);
        assert_eq!(r.beans.len(), beans, "bean count moved");
    }
    let cpu_ms = (cpu_ns() - cpu0) as f64 / 1e6 / rounds as f64;
    wall.sort_by(f64::total_cmp);
    java.sort_by(f64::total_cmp);
    let p50 = pct(&wall, 0.5);
    println!(
        "{what}: {beans} beans, {} numeric attributes; cold scrape {cold_ms:.1} ms; steady p50 {p50:.1} ms \
         (max {:.1}), inside Java p50 {:.1} ms, {:.3} ms/bean, this process' CPU {cpu_ms:.1} ms/scrape; \
         JNI crossings per scrape: 2 (one invoke, one result string)",
        numeric_attrs(&cold.beans),
        pct(&wall, 1.0),
        pct(&java, 0.5),
        p50 / beans as f64,
    );
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let beans = env_num("BENCH_BEANS", if smoke { 50 } else { 2_000 });
    let rounds = env_num("BENCH_ROUNDS", if smoke { 2 } else { 10 }).max(1);
    let targets = env_num("BENCH_TARGETS", if smoke { 2 } else { 20 }).max(1);
    let workers = env_num("BENCH_WORKERS", 2) as u32;
    if smoke {
        println!("(smoke run: figures not comparable; use cargo bench --bench jmx)");
    }
    let dir = tempfile::tempdir().expect("temp dir");

    let rss0 = rss_kb();
    let t = Instant::now();
    if let Err(e) = jvm_status() {
        panic!("the embedded JVM does not start: {e}");
    }
    let rss1 = rss_kb();
    println!(
        "embedded JVM: started in {:.0} ms, RSS +{} MB ({})",
        t.elapsed().as_secs_f64() * 1e3,
        (rss1.saturating_sub(rss0)) / 1024,
        jvm_version().unwrap_or_default()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    let syn_port = free_port();
    let _syn = start_synthetic(dir.path(), beans, syn_port);
    let req = ScrapeRequest {
        include: vec!["kafka.bench:*".into()],
        exclude: Vec::new(),
        refresh_every: 1_000,
    };
    rt.block_on(async {
        // Warm-up (JIT) on a client of its own, so the first measured setting is not penalised.
        let warm = TargetClient::new(endpoint(syn_port), "warm-up");
        for _ in 0..3 {
            warm.scrape(&req, Duration::from_secs(120)).await.expect("warm-up scrape");
        }
        drop(warm);
        for w in [workers, 1] {
            let client = TargetClient::with_options(
                endpoint(syn_port),
                "synthetic",
                ClientOptions {
                    read_workers: w,
                    ..ClientOptions::default()
                },
            );
            measure(&format!("synthetic, {w} Java reader thread(s)"), &client, &req, rounds).await;
        }

        // TARGETS clients (each its own connection and thread) at the same moment.
        let clients: Vec<TargetClient> = (0..targets)
            .map(|i| TargetClient::new(endpoint(syn_port), &format!("t{i}")))
            .collect();
        for c in &clients {
            c.scrape(&req, Duration::from_secs(120)).await.expect("warm-up");
        }
        let cpu0 = cpu_ns();
        let t = Instant::now();
        let all = futures_join(&clients, &req).await;
        let wall = t.elapsed().as_secs_f64() * 1e3;
        let ok = all.iter().filter(|r| r.is_ok()).count();
        println!(
            "{targets} targets x {beans} beans scraped at the same moment: {wall:.0} ms wall for the round, \
             {ok}/{targets} ok, this process' CPU {:.0} ms",
            (cpu_ns() - cpu0) as f64 / 1e6
        );
    });
    println!(
        "RSS after the synthetic scrapes: +{} MB over the process before the JVM",
        rss_kb().saturating_sub(rss0) / 1024
    );

    // The jmx crate's own client: one get_attribute (one JNI round trip and more) per attribute.
    let url = service_url(&format!("127.0.0.1:{syn_port}")).expect("url");
    let reads = if smoke { 20 } else { 500 };
    match jmx::MBeanClient::connect(jmx::MBeanAddress::service_url(url)) {
        Ok(client) => {
            let t = Instant::now();
            let mut sum = 0.0;
            for i in 0..reads {
                let name = format!("kafka.bench:type=Meter,name=m{}", i % beans);
                let v: f64 = client.get_attribute(name, "MeanRate").unwrap_or(f64::NAN);
                sum += v;
            }
            println!(
                "jmx crate MBeanClient::get_attribute: {:.3} ms per attribute ({reads} reads, checksum {sum})",
                t.elapsed().as_secs_f64() * 1e3 / reads as f64
            );
        }
        Err(e) => println!("jmx crate client: cannot connect: {e}"),
    }

    let zk_port = free_port();
    if let Some(_zk) = start_zookeeper(dir.path(), zk_port) {
        rt.block_on(async {
            let client = TargetClient::new(endpoint(zk_port), "zookeeper");
            // ZooKeeper registers its beans a moment after the JMX agent opens the port.
            let deadline = Instant::now() + Duration::from_secs(60);
            let everything = ScrapeRequest {
                include: Vec::new(),
                exclude: Vec::new(),
                refresh_every: 1_000,
            };
            // Names re-resolved on every poll here: a cached empty list would never see them.
            let polling = ScrapeRequest {
                refresh_every: 1,
                ..everything.clone()
            };
            loop {
                // The JVM opens its JMX port before its RMI server answers: a reset connection
                // right after start is "not yet", until the deadline.
                let r = match client.scrape(&polling, Duration::from_secs(30)).await {
                    Ok(r) => r,
                    Err(e) => {
                        assert!(Instant::now() < deadline, "zookeeper scrape: {e:?}");
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        continue;
                    }
                };
                if r.beans
                    .iter()
                    .any(|b| b.domain == "org.apache.ZooKeeperService")
                {
                    break;
                }
                assert!(Instant::now() < deadline, "ZooKeeper beans never appeared");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let fresh = TargetClient::new(endpoint(zk_port), "zookeeper2");
            measure(
                "zookeeper JVM, every bean (*:*)",
                &fresh,
                &everything,
                rounds,
            )
            .await;
        });
    }
    println!(
        "RSS at the end: +{} MB over the process before the JVM",
        rss_kb().saturating_sub(rss0) / 1024
    );
}

async fn futures_join(
    clients: &[TargetClient],
    req: &ScrapeRequest,
) -> Vec<Result<ScrapeReply, BridgeError>> {
    // Polled together: each scrape runs on its client's own thread.
    join_all(
        clients
            .iter()
            .map(|c| c.scrape(req, Duration::from_secs(120)))
            .collect(),
    )
    .await
}

/// A tiny join_all (no futures crate in the tree): polls every future until all are done.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}
