//! `cargo bench --bench host`: the host source's costs on this machine.
//!
//! 1. **local read**: one `HostReader::read` (every `/proc` file, statvfs of a log dir), the
//!    median and p99 of `BENCH_ROUNDS` reads (default 200);
//! 2. **agent /metrics**: the `kafkascope agent` binary of the same build (release under
//!    `cargo bench`) started on a free port, `/metrics` fetched `BENCH_ROUNDS` times over
//!    loopback, median and p99 of the whole request, the body size, and the agent's resident memory
//!    (`VmRSS`, `VmHWM`) after the rounds.
//!
//! `cargo test --all-targets` runs this binary without cargo's `--bench` flag: it then does a
//! smoke run (5 rounds) that proves both phases work.

use kafkascope::sources::host::HostReader;
use kafkascope::sources::host::config::HostConfig;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn get(addr: &str) -> usize {
    let mut s = TcpStream::connect(addr).expect("connect to the agent");
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = Vec::new();
    s.read_to_end(&mut body).unwrap();
    assert!(
        body.starts_with(b"HTTP/1.1 200"),
        "agent answered {:?}",
        String::from_utf8_lossy(&body[..body.len().min(200)])
    );
    body.len()
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds: usize = if full {
        std::env::var("BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200)
    } else {
        5
    };
    let log_dir = std::env::temp_dir();
    let mut reader = HostReader::new(HostConfig {
        log_dirs: vec![log_dir.clone()],
        ..Default::default()
    });
    let mut times = Vec::with_capacity(rounds);
    let mut readings = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let r = reader.read();
        times.push(t.elapsed());
        readings = r.readings.len();
    }
    println!(
        "local read: {readings} readings, median {}, p99 {} over {rounds} reads",
        ms(percentile(&mut times, 0.5)),
        ms(percentile(&mut times, 0.99))
    );

    // The agent binary of this build: target/<profile>/kafkascope beside target/<profile>/deps.
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("kafkascope");
    let mut child = Command::new(&bin)
        .args(["agent", "--listen", "127.0.0.1:0", "--log-dir"])
        .arg(&log_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {} (cargo bench builds it): {e}", bin.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("kafkascope agent listening on ")
        .unwrap_or_else(|| panic!("agent said {line:?}"))
        .to_string();
    let mut times = Vec::with_capacity(rounds);
    let mut bytes = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        bytes = get(&addr);
        times.push(t.elapsed());
    }
    let pid = child.id();
    println!(
        "agent /metrics: {bytes} bytes, median {}, p99 {} over {rounds} requests; agent RSS {} KiB now, peak {} KiB",
        ms(percentile(&mut times, 0.5)),
        ms(percentile(&mut times, 0.99)),
        status_kb(pid, "VmRSS:"),
        status_kb(pid, "VmHWM:")
    );
    let _ = child.kill();
    let _ = child.wait();
}
