//! The `host` source against the real machine: its readings equal a direct read of `/proc` made
//! just before and just after; a real Debian node_exporter started with the same vmstat fields
//! gives the same series names, labels and values; `kafkascope agent` scraped by a second
//! kafkascope lands in the same series as the server's own host reader; a log dir on a small real
//! tmpfs filled past 80 % and 90 % gives the fill events; bad config names the key.

mod support;

use kafkascope::model::{MetricKind, Reading};
use kafkascope::sources::host::config::HostConfig;
use kafkascope::sources::host::node::VMSTAT_FIELDS;
use kafkascope::sources::host::{HostReader, LOG_DIR_FULL};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::server::{Server, get, query, wait_for};

struct Peer(Child);
impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn node_exporter(dir: &Path) -> (Peer, u16) {
    let port = free_port();
    let log = std::fs::File::create(dir.join("node_exporter.log")).unwrap();
    let mut child = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--no-collector.systemd")
        .arg(format!("--collector.vmstat.fields={VMSTAT_FIELDS}"))
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start prometheus-node-exporter (scripts/install-peers installs it)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "node_exporter exited");
        assert!(Instant::now() < deadline, "node_exporter did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Peer(child), port)
}

type Key = (String, Vec<(String, String)>);

fn key(r: &Reading) -> Key {
    (
        r.metric.clone(),
        r.labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// A Prometheus text body as name+sorted labels → value, by a plain line splitter (not our parser).
fn split_exposition(text: &str) -> HashMap<Key, f64> {
    let mut out = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let mut labels: Vec<(String, String)> = rest
                    .trim_end_matches('}')
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once("=\"").unwrap();
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect();
                labels.sort();
                (n.to_string(), labels)
            }
            None => (series.to_string(), vec![]),
        };
        out.insert((name, labels), value.parse::<f64>().unwrap());
    }
    out
}

fn scrape(port: u16) -> HashMap<Key, f64> {
    let (status, body) = get(&format!("http://127.0.0.1:{port}/metrics"));
    assert_eq!(status, 200, "{body}");
    split_exposition(&body)
}

fn within(v: f64, a: f64, b: f64) -> bool {
    let (lo, hi) = (a.min(b), a.max(b));
    let eps = 1e-9 * hi.abs().max(1.0);
    v >= lo - eps && v <= hi + eps
}

#[test]
fn readings_equal_proc_read_just_before_and_after() {
    let meminfo = |field: &str| -> f64 {
        let text = std::fs::read_to_string("/proc/meminfo").unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .unwrap()
            * 1024.0
    };
    let vmstat = |field: &str| -> f64 {
        let text = std::fs::read_to_string("/proc/vmstat").unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field} ")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let ctxt = || -> f64 {
        let text = std::fs::read_to_string("/proc/stat").unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("ctxt "))
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut reader = HostReader::new(HostConfig::default());
    let before = (
        meminfo("MemTotal"),
        vmstat("pgfault"),
        ctxt(),
        meminfo("Cached"),
    );
    let read = reader.read();
    let after = (
        meminfo("MemTotal"),
        vmstat("pgfault"),
        ctxt(),
        meminfo("Cached"),
    );
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    let v = |name: &str| {
        read.readings
            .iter()
            .find(|r| r.metric == name && r.labels.is_empty())
            .unwrap_or_else(|| panic!("{name} missing"))
            .value
    };
    assert_eq!(v("node_memory_MemTotal_bytes"), before.0);
    assert!(within(v("node_vmstat_pgfault"), before.1, after.1));
    assert!(within(v("node_context_switches_total"), before.2, after.2));
    assert!(within(v("node_memory_Cached_bytes"), before.3, after.3));
    // Positive control: a value outside the window is caught by the same check (a millionth
    // below: the tolerance is relative, and this machine's fault counter is past 10⁹).
    assert!(!within(before.1 * (1.0 - 1e-6) - 1.0, before.1, after.1));
    let cpus = read
        .readings
        .iter()
        .filter(|r| r.metric == "node_cpu_seconds_total" && r.labels.get("mode") == Some("idle"))
        .count();
    assert_eq!(cpus, std::thread::available_parallelism().unwrap().get());
}

/// Levels that do not move while the test runs: these must be equal to the last bit.
const CONSTANT: &[&str] = &[
    "node_memory_MemTotal_bytes",
    "node_memory_SwapTotal_bytes",
    "node_memory_Hugepagesize_bytes",
    "node_boot_time_seconds",
    "node_filesystem_size_bytes",
    "node_filesystem_files",
    "node_filesystem_readonly",
];

#[test]
fn node_exporter_gives_the_same_series_names_labels_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let (_ne, port) = node_exporter(dir.path());
    let mut reader = HostReader::new(HostConfig {
        log_dirs: vec![PathBuf::from("/")],
        ..Default::default()
    });
    // node_exporter, ours, node_exporter: a value that did not move between the two direct
    // scrapes must be ours exactly; one that moved must lie between them.
    let first = scrape(port);
    let ours = reader.read();
    let last = scrape(port);
    let ours: BTreeMap<Key, (f64, bool)> = ours
        .readings
        .iter()
        .filter(|r| !r.metric.starts_with("kafkascope_"))
        .map(|r| {
            let (name, mut labels) = key(r);
            labels.sort();
            // Monotonic: counters, and vmstat's event counts (its `nr_*` are levels).
            let monotonic = r.kind == MetricKind::Counter
                || (name.starts_with("node_vmstat_")
                    && (!name.starts_with("node_vmstat_nr_")
                        || name.ends_with("_dirtied")
                        || name.ends_with("_written")));
            ((name, labels), (r.value, monotonic))
        })
        .collect();
    let mut missing = vec![];
    let mut differ = vec![];
    let mut exact = 0;
    let mut moving_levels = 0;
    for (k, (v, monotonic)) in &ours {
        let (Some(a), Some(b)) = (first.get(k), last.get(k)) else {
            missing.push(format!("{k:?}"));
            continue;
        };
        if *monotonic {
            if !within(*v, *a, *b) {
                differ.push(format!("{k:?}: ours {v}, node_exporter {a} then {b}"));
            } else if a == b {
                exact += 1;
            }
        } else if v == a && a == b {
            exact += 1;
        } else if CONSTANT.contains(&k.0.as_str()) {
            differ.push(format!("{k:?}: ours {v}, node_exporter {a} then {b}"));
        } else {
            // A level (running tasks, mapped pages) may move and come back between the scrapes.
            moving_levels += 1;
        }
    }
    assert!(
        missing.is_empty(),
        "not in node_exporter's output: {missing:#?}"
    );
    assert!(differ.is_empty(), "values differ: {differ:#?}");
    // And the other way: every node_exporter series of the families we write, we write too
    // (file systems: only the log dirs' mounts; network: /proc/net/dev's counters).
    let families: std::collections::BTreeSet<&str> = ours.keys().map(|(n, _)| n.as_str()).collect();
    let mut extra = vec![];
    for (k, _) in first.iter() {
        if families.contains(k.0.as_str())
            && !k.0.starts_with("node_filesystem_")
            && !ours.contains_key(k)
        {
            extra.push(format!("{k:?}"));
        }
    }
    assert!(extra.is_empty(), "node_exporter has, we lack: {extra:#?}");
    for must in [
        "node_memory_Cached_bytes",
        "node_vmstat_workingset_refault_file",
        "node_vmstat_pgmajfault",
        "node_cpu_seconds_total",
        "node_disk_read_bytes_total",
        "node_network_receive_bytes_total",
        "node_pressure_memory_waiting_seconds_total",
        "node_filesystem_avail_bytes",
        "node_load1",
    ] {
        assert!(families.contains(must), "{must} not read");
    }
    eprintln!("{moving_levels} levels moved between the scrapes and were not compared");
    eprintln!(
        "{} series, {exact} unchanged between node_exporter's scrapes and equal to ours",
        ours.len()
    );
    assert!(exact > 100, "too few stable series compared: {exact}");
}

/// `kafkascope agent` on a free port, its address from its stdout.
fn agent(dir: &Path, log_dir: &Path) -> (Peer, String) {
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkascope"))
        .args(["agent", "--listen", "127.0.0.1:0", "--log-dir"])
        .arg(log_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start kafkascope agent");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("kafkascope agent listening on ")
        .unwrap_or_else(|| panic!("agent said {line:?}"))
        .to_string();
    (Peer(child), addr)
}

#[test]
fn an_agent_scraped_by_a_second_kafkascope_writes_the_same_series_as_its_own_host_reader() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("kafka-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let (_agent, addr) = agent(dir.path(), &logs);
    let (status, body) = get(&format!("http://{addr}/metrics"));
    assert_eq!(status, 200);
    assert!(
        body.contains("# TYPE node_vmstat_pgmajfault untyped"),
        "{body}"
    );
    assert!(body.contains("kafkascope_log_dir_info{log_dir="), "{body}");
    // cachestat changes kernel tracing state: only when asked for (`--cachestat`), and it says so.
    assert!(
        body.contains("state=\"unavailable\"")
            && body.contains("not turned on: set cachestat = true"),
        "{body}"
    );
    let server = Server::start(
        dir.path(),
        &format!(
            "[[clusters]]\nname = \"lab\"\ninterval = \"1s\"\n[clusters.host]\nlog_dirs = [{logs:?}]\n[[clusters.prometheus]]\nname = \"broker-host\"\nurl = \"http://{addr}/metrics\"\n"
        ),
    );
    let q = "node_memory_MemTotal_bytes";
    let rows = wait_for("both hosts' MemTotal", Duration::from_secs(30), || {
        let r = query(&server.base, q);
        (r.len() == 2).then_some(r)
    });
    let jobs: Vec<_> = rows
        .iter()
        .map(|(m, _)| m["job"].as_str().unwrap().to_string())
        .collect();
    assert!(
        jobs.contains(&"host".to_string()) && jobs.contains(&"broker-host".to_string()),
        "{rows:?}"
    );
    assert_eq!(
        rows[0].1, rows[1].1,
        "same machine, same MemTotal: {rows:?}"
    );
    // The same label names on both paths, but for job/instance.
    let labels = |q: &str| -> Vec<Vec<String>> {
        let mut v: Vec<Vec<String>> = query(&server.base, q)
            .iter()
            .map(|(m, _)| {
                let mut k: Vec<String> = m
                    .iter()
                    .filter(|(k, _)| !["job", "instance", "__name__"].contains(&k.as_str()))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                k.sort();
                k
            })
            .collect();
        v.sort();
        v
    };
    let cpu = labels("node_cpu_seconds_total{mode=\"idle\"}");
    assert_eq!(
        cpu.len(),
        2 * std::thread::available_parallelism().unwrap().get()
    );
    let fs = labels("node_filesystem_avail_bytes");
    assert_eq!(fs.len(), 2, "{fs:?}");
    assert_eq!(fs[0], fs[1], "{fs:?}");

    // The host pages list both alike, and each host page draws its panels from its own series.
    let hostname = rows
        .iter()
        .find(|(m, _)| m["job"] == "host")
        .map(|(m, _)| m["instance"].as_str().unwrap().to_string())
        .unwrap();
    let (status, list) = get(&format!("{}/hosts", server.base));
    assert_eq!(status, 200, "{list}");
    for (instance, job) in [(hostname.as_str(), "host"), (addr.as_str(), "broker-host")] {
        assert!(
            list.contains(&format!(">{instance}</a>")),
            "{instance} not listed: {list}"
        );
        assert!(list.contains(&format!(">{job}</div>")), "{job} not listed");
    }
    // Wait for enough scrapes for rates, then read the agent host's page.
    wait_for("rates of both hosts", Duration::from_secs(20), || {
        let r = query(&server.base, "rate(node_cpu_seconds_total[10s])");
        (r.len() >= 2 * std::thread::available_parallelism().unwrap().get()).then_some(())
    });
    let path = format!("/hosts/lab/{}", addr.replace(':', "%3A"));
    let (status, page) = get(&format!("{}{path}?range=15m", server.base));
    assert_eq!(status, 200, "{page}");
    for title in [
        "CPU busy by mode",
        "Memory and page cache",
        "Disk reads by device",
        "Network sent",
        "Pressure stall (PSI)",
        "File-system use",
    ] {
        assert!(
            page.contains(&format!(">{title}</a>")),
            "panel {title} missing"
        );
    }
    // The log dir's file system with the agent's log dir named in it.
    assert!(
        page.contains(&logs.display().to_string()),
        "log dir not shown"
    );
    assert!(page.contains("Forecast"), "no file-system table");
    // Charts with data: the memory panel's legend has MemAvailable.
    assert!(page.contains("MemAvailable"), "memory panel has no lines");
    let (status, _) = get(&format!("{}/hosts/lab/no-such-host", server.base));
    assert_eq!(status, 404);
}

/// A real tmpfs of 4 MiB as the log dir, filled past 80 % and then 90 %, and emptied.
#[test]
fn a_log_dir_filling_past_80_and_90_percent_gives_events_and_emptying_clears_them() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("logs");
    std::fs::create_dir_all(&mnt).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&mnt)
        .status()
        .expect("mount (the tests run as root, as CI does)");
    assert!(status.success(), "mount -t tmpfs failed");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let mut reader = HostReader::new(HostConfig {
        log_dirs: vec![mnt.clone()],
        ..Default::default()
    });
    let fill_events = |r: &mut HostReader| -> Vec<String> {
        r.read()
            .events
            .into_iter()
            .filter(|e| e.kind == LOG_DIR_FULL)
            .map(|e| e.message)
            .collect()
    };
    assert!(
        fill_events(&mut reader).is_empty(),
        "an empty dir is not full"
    );
    std::fs::write(mnt.join("00000000000000000000.log"), vec![1u8; 3_500_000]).unwrap();
    let e = fill_events(&mut reader);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("at or above 80 % used"), "{e:?}");
    std::fs::write(mnt.join("00000000000000001000.log"), vec![1u8; 300_000]).unwrap();
    let e = fill_events(&mut reader);
    assert!(
        e.len() == 1 && e[0].contains("at or above 90 % used"),
        "{e:?}"
    );
    assert!(
        fill_events(&mut reader).is_empty(),
        "no repeat while it stays full"
    );
    std::fs::remove_file(mnt.join("00000000000000000000.log")).unwrap();
    // tmpfs may hand the pages back a moment after the unlink: read until it has.
    let e = wait_for("the space freed", Duration::from_secs(10), || {
        let e = fill_events(&mut reader);
        (!e.is_empty()).then_some(e)
    });
    assert!(
        e.len() == 1 && e[0].contains("back below 80 % used"),
        "{e:?}"
    );
}

#[test]
fn a_bad_host_section_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        (
            "[clusters.host]\nlog_dirs = [\"kafka-logs\"]\n",
            "clusters[0].host.log_dirs[0]",
        ),
        (
            "[clusters.host]\ncache_hit_floor = 1.5\n",
            "clusters[0].host.cache_hit_floor",
        ),
        ("[clusters.host]\nlogdirs = [\"/x\"]\n", "clusters[0].host"),
    ] {
        let file = dir.path().join("k.toml");
        std::fs::write(&file, format!("[[clusters]]\nname = \"a\"\n{text}")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_kafkascope"))
            .arg("check-config")
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(key), "{text}: {err}");
    }
}

/// Writes `len` bytes to `path`, syncs them, and drops them from the page cache when `cold`.
fn segment(path: &Path, len: usize, cold: bool) {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::create(path).unwrap();
    std::io::Write::write_all(&mut &f, &vec![7u8; len]).unwrap();
    f.sync_all().unwrap();
    if cold {
        // SAFETY: a valid open file descriptor; the call only advises the kernel.
        let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(rc, 0, "posix_fadvise");
    }
}

/// A log dir laid out as Kafka lays it out, some segments in the page cache and some dropped:
/// the host page's residency table says which, through config → host source → store → page.
#[test]
fn the_host_page_shows_which_kafka_segments_are_in_the_page_cache() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("kafka-logs");
    let orders = logs.join("orders-0");
    let events = logs.join("events.v2-3");
    for d in [&orders, &events, &logs.join("orders-1.abc123-delete")] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(logs.join("recovery-point-offset-checkpoint"), "0\n0\n").unwrap();
    let mib = 1 << 20;
    segment(&orders.join("00000000000000000000.log"), 4 * mib, true);
    segment(&orders.join("00000000000000000000.index"), 4096, false);
    segment(&orders.join("00000000000000001000.log"), 2 * mib, false);
    segment(&events.join("00000000000000000000.log"), mib, false);
    // A real broker holding `orders` with 1,500 records in partition 0 and two groups: `slow`
    // committed at 500 (inside the dropped segment), `fast` at 1,500 (in the cached active one).
    let k = support::kafka::Tansu::start(dir.path());
    k.tool("create-topic", &["orders", "1"]);
    k.tool("produce", &["orders", "0", "1500"]);
    k.tool("commit", &["slow", "orders", "0=500"]);
    k.tool("commit", &["fast", "orders", "0=1500"]);
    let server = Server::start(
        dir.path(),
        &format!(
            "[[clusters]]\nname = \"lab\"\ninterval = \"1s\"\n[clusters.host]\nlog_dirs = [{logs:?}]\ncachestat = true\n[clusters.kafka]\nbrokers = [\"{}\"]\ncommits = \"admin-api\"\n",
            k.addr
        ),
    );
    let rows = wait_for("residency series", Duration::from_secs(30), || {
        let r = query(&server.base, "kafkascope_log_partition_bytes");
        (r.len() == 2).then_some(r)
    });
    let host = rows[0].0["instance"].as_str().unwrap().to_string();
    let cold = query(
        &server.base,
        "kafkascope_log_partition_cold_bytes{topic=\"orders\"}",
    );
    assert_eq!(cold.len(), 1);
    assert_eq!(
        cold[0].1,
        4.0 * mib as f64,
        "the dropped segment is cold, the active one cached"
    );
    wait_for("both groups' offsets", Duration::from_secs(60), || {
        let r = query(
            &server.base,
            "kafka_consumergroup_current_offset{topic=\"orders\"}",
        );
        (r.len() == 2).then_some(())
    });
    let (status, page) = get(&format!("{}/hosts/lab/{host}?range=15m", server.base));
    assert_eq!(status, 200, "{page}");
    // `slow` sits halfway into the 4 MiB segment that was dropped: 2 MiB to read from disk;
    // `fast` is in the cached active segment and is not listed.
    let cold_table = &page[page
        .find("Consumers reading cold data")
        .expect("cold readers section")..];
    let cold_table = &cold_table[..cold_table.find("</table>").unwrap_or(cold_table.len())];
    assert!(cold_table.contains(">slow</a>"), "{cold_table}");
    assert!(
        cold_table.contains("2 MiB") || cold_table.contains("2.0 MiB"),
        "{cold_table}"
    );
    assert!(!cold_table.contains(">fast</a>"), "{cold_table}");
    // A permalink to a window that ended an hour ago does not show today's scan as then.
    let past = kafkascope::model::now_ms() - 3_600_000;
    let (_, old) = get(&format!(
        "{}/hosts/lab/{host}?from={}&to={past}",
        server.base,
        past - 600_000
    ));
    assert!(
        !old.contains(">slow</a>"),
        "today's scan shown for the past"
    );
    let row = |name: &str| -> String {
        let at = page
            .find(&format!(">{name}</td>"))
            .unwrap_or_else(|| panic!("{name} not in the residency table"));
        page[at..at + page[at..].find("</tr>").unwrap()].to_string()
    };
    let orders_row = row("orders-0");
    // Active segment cached, the recent one before it dropped, 4 MiB out of the cache.
    assert!(
        orders_row.contains(">100 %<") && orders_row.contains(">0 %<"),
        "{orders_row}"
    );
    assert!(
        orders_row.contains("4 MiB")
            || orders_row.contains("4.0 MiB")
            || orders_row.contains("4.19 MB"),
        "{orders_row}"
    );
    assert!(row("events.v2-3").contains(">100 %<"));
    assert!(
        !page.contains(">orders-1<"),
        "a -delete directory is not a partition"
    );
    // cachestat: counting where tracefs' function profiler works, else the exact reason.
    match kafkascope::sources::host::cachestat::probe_system() {
        Ok(_) => assert!(
            page.contains("HITS") && page.contains("counting calls of"),
            "cachestat table missing"
        ),
        Err(u) => {
            let reason = u.reason.replace('"', "&#34;").replace('\'', "&#39;");
            assert!(page.contains(">unavailable</span>"), "no unavailable state");
            assert!(
                page.contains(&reason) || page.contains(&u.reason),
                "reason {:?} not shown",
                u.reason
            );
            assert!(page.contains("fallback indicators"));
        }
    }
}
