//! Real JVM peers with remote JMX for the JMX tests: the Java programs in tests/fixtures/jmx/
//! (FakeKafkaBroker, KsProducer, KsConsumer, ListBeans) compiled once per test process against
//! Apache kafka-clients 3.9.1 + slf4j-api (jars that scripts/install-peers puts in
//! `$KAFKASCOPE_CACHE/jars`), started with the remote JMX flags of reference/peers-lab.md on one
//! free loopback port (registry and RMI on the same port), ready when the program prints `READY`
//! and the port accepts, killed on drop. `restart()` is a JVM restart on the same port, `kill9()` a
//! crash, `freeze()`/`thaw()` (SIGSTOP/SIGCONT) a JVM that accepts connections and never answers.
//!
//! ```ignore
//! let broker = JvmPeer::start("FakeKafkaBroker", &["--controller"], JmxOpts::default());
//! broker.command("urp 3");                       // waits for `OK urp 3`
//! let out = list_beans(&broker.jmx_address(), "kafka.server:*", None, Duration::from_secs(60));
//! ```
//!
//! The fake broker's value schedule is mirrored in [`schedule`], so tests compute expected values
//! instead of repeating numbers.

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a JVM may take to print READY on a loaded 2-core machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Starts retried with a fresh port after a clash.
const START_ATTEMPTS: usize = 4;

/// `$KAFKASCOPE_CACHE/jars` (the cache defaulting to `$XDG_CACHE_HOME/kafkascope` or
/// `~/.cache/kafkascope`), where scripts/install-peers extracts the jars.
pub fn jars_dir() -> PathBuf {
    super::kafka::venv()
        .parent()
        .map(|p| p.join("jars"))
        .unwrap_or_else(|| PathBuf::from("jars"))
}

fn jars() -> [PathBuf; 2] {
    let dir = jars_dir();
    [dir.join("kafka-clients.jar"), dir.join("slf4j-api.jar")]
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jmx")
}

/// The compiled classes of tests/fixtures/jmx/*.java, compiled on first use (once per process).
pub fn classes_dir() -> &'static Path {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES.get_or_init(compile)
}

/// `classes:kafka-clients.jar:slf4j-api.jar`.
pub fn classpath() -> String {
    let mut parts = vec![classes_dir().display().to_string()];
    parts.extend(jars().iter().map(|j| j.display().to_string()));
    parts.join(":")
}

fn compile() -> PathBuf {
    for tool in ["java", "javac"] {
        match Command::new(tool).arg("-version").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "`{tool} -version` failed ({}); the JMX tests need a JDK 17: run scripts/install-peers",
                out.status
            ),
            Err(e) => panic!(
                "the JMX tests need `{tool}` on PATH ({e}): run scripts/install-peers \
                 (Debian default-jdk-headless)"
            ),
        }
    }
    for jar in jars() {
        assert!(
            jar.exists(),
            "the JMX tests need {} (Apache kafka-clients 3.9.1 / slf4j-api from the PyPI wheel \
             shigawire-apache-flink-libraries): run scripts/install-peers",
            jar.display()
        );
    }
    let mut sources: Vec<PathBuf> = fs::read_dir(fixtures_dir())
        .expect("read tests/fixtures/jmx")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "java"))
        .collect();
    sources.sort();
    assert!(!sources.is_empty(), "no Java sources in tests/fixtures/jmx");
    // Compiled classes are cached under target/ keyed by the sources and jars, so test processes
    // share one compilation; a changed source gets a new directory.
    let mut key = std::collections::hash_map::DefaultHasher::new();
    for src in &sources {
        std::hash::Hash::hash(&src.file_name(), &mut key);
        std::hash::Hash::hash(&fs::read(src).expect("read a Java fixture"), &mut key);
    }
    for jar in jars() {
        std::hash::Hash::hash(&fs::metadata(&jar).map(|m| m.len()).unwrap_or(0), &mut key);
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "jmx-classes-{:016x}",
        std::hash::Hasher::finish(&key)
    ));
    if dir.join(".complete").exists() {
        return dir;
    }
    // Compile beside it and rename into place: parallel test processes never see half a build.
    let building = dir.with_extension(format!("building-{}", std::process::id()));
    let _ = fs::remove_dir_all(&building);
    fs::create_dir_all(&building).expect("create the directory for compiled JMX fixtures");
    let cp = jars()
        .iter()
        .map(|j| j.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let out = Command::new("javac")
        .args(["--release", "17", "-nowarn", "-cp", &cp, "-d"])
        .arg(&building)
        .args(&sources)
        .output()
        .expect("run javac");
    assert!(
        out.status.success(),
        "javac failed on tests/fixtures/jmx:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::write(building.join(".complete"), "").expect("mark the compiled JMX fixtures complete");
    if fs::rename(&building, &dir).is_err() {
        // Another test process got there first with the same sources.
        let _ = fs::remove_dir_all(&building);
        assert!(
            dir.join(".complete").exists(),
            "cannot move compiled JMX fixtures to {}",
            dir.display()
        );
    }
    dir
}

/// Remote JMX options of a peer.
#[derive(Clone, Debug, Default)]
pub struct JmxOpts {
    /// `(user, password)`: `authenticate=true` with password and access files (mode 600), the user
    /// read-only. `None`: no authentication.
    pub auth: Option<(String, String)>,
}

impl JmxOpts {
    pub fn with_auth(user: &str, password: &str) -> Self {
        Self {
            auth: Some((user.to_string(), password.to_string())),
        }
    }
}

/// The JVM flags that open remote JMX on `port` (registry and RMI server on the same port, bound
/// to loopback, stubs naming 127.0.0.1), as reference/peers-lab.md gives them; with `auth`, the
/// password and access files are written into `dir`.
pub fn jmx_flags(port: u16, auth: Option<(&str, &str)>, dir: &Path) -> Vec<String> {
    let mut flags = vec![
        "-Dcom.sun.management.jmxremote.host=127.0.0.1".to_string(),
        format!("-Dcom.sun.management.jmxremote.port={port}"),
        format!("-Dcom.sun.management.jmxremote.rmi.port={port}"),
        "-Dcom.sun.management.jmxremote.ssl=false".to_string(),
        "-Dcom.sun.management.jmxremote.local.only=false".to_string(),
        "-Djava.rmi.server.hostname=127.0.0.1".to_string(),
    ];
    match auth {
        None => flags.push("-Dcom.sun.management.jmxremote.authenticate=false".to_string()),
        Some((user, password)) => {
            let pw = dir.join("jmxremote.password");
            let access = dir.join("jmxremote.access");
            write_private(&pw, &format!("{user} {password}\n"));
            write_private(&access, &format!("{user} readonly\n"));
            flags.push("-Dcom.sun.management.jmxremote.authenticate=true".to_string());
            flags.push(format!(
                "-Dcom.sun.management.jmxremote.password.file={}",
                pw.display()
            ));
            flags.push(format!(
                "-Dcom.sun.management.jmxremote.access.file={}",
                access.display()
            ));
        }
    }
    flags
}

/// The JMX agent refuses a password file others can read.
fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).expect("write a JMX credentials file");
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .expect("chmod 600 a JMX credentials file");
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Stdout lines of one JVM run, appended by a reader thread.
#[derive(Default)]
struct Output {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
    closed: Mutex<bool>,
}

/// One running Java program with remote JMX.
pub struct JvmPeer {
    main_class: String,
    args: Vec<String>,
    opts: JmxOpts,
    port: u16,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    out: Arc<Output>,
    runs: usize,
    dir: Option<tempfile::TempDir>,
}

impl JvmPeer {
    /// Starts `main_class` (one of tests/fixtures/jmx) with `args` and remote JMX on a free
    /// loopback port; returns once it printed `READY` and the JMX port accepts.
    pub fn start(main_class: &str, args: &[&str], jmx: JmxOpts) -> JvmPeer {
        let classpath = classpath();
        let dir = tempfile::Builder::new()
            .prefix("kafkascope-jvm-")
            .tempdir()
            .expect("create a temp dir for a JVM peer");
        let mut peer = JvmPeer {
            main_class: main_class.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            opts: jmx,
            port: 0,
            child: None,
            stdin: None,
            out: Arc::new(Output::default()),
            runs: 0,
            dir: Some(dir),
        };
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            peer.port = free_port();
            match peer.spawn_and_wait(&classpath) {
                Ok(()) => return peer,
                Err(log) if port_clash(&log) => last = log,
                Err(log) => panic!(
                    "{main_class} {args:?} (JMX 127.0.0.1:{}) did not start within {START_TIMEOUT:?}:\n{log}",
                    peer.port
                ),
            }
        }
        panic!("{main_class} could not bind a JMX port in {START_ATTEMPTS} attempts:\n{last}");
    }

    /// `127.0.0.1:<port>`, the JMX address (registry and RMI server).
    pub fn jmx_address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JVM's process id (0 when stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stdout lines of the current run so far.
    pub fn lines(&self) -> Vec<String> {
        self.out.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Stderr of the current run (the JVM's and the program's messages).
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// Writes one control line to the program's stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self
            .stdin
            .as_mut()
            .unwrap_or_else(|| panic!("{} is not running", self.main_class));
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("write {line:?} to {}: {e}", self.main_class));
    }

    /// Sends a control command and waits for its `OK <cmd>` acknowledgement; panics on `ERR`.
    pub fn command(&mut self, cmd: &str) {
        let seen = self.lines().len();
        self.send(cmd);
        let ok = format!("OK {}", cmd.trim());
        let err = format!("ERR {}", cmd.trim());
        let line = self
            .wait_for_line_after(seen, |l| l == ok || l.starts_with(&err), START_TIMEOUT)
            .unwrap_or_else(|| {
                panic!(
                    "{} did not acknowledge {cmd:?}; stdout {:?}; stderr:\n{}",
                    self.main_class,
                    self.lines(),
                    tail(&self.stderr(), 40)
                )
            });
        assert_eq!(line, ok, "{} refused {cmd:?}", self.main_class);
    }

    /// Waits until a stdout line (of the current run) satisfies `pred`; returns it.
    pub fn wait_for_line(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        self.wait_for_line_after(0, pred, timeout)
    }

    fn wait_for_line_after(
        &self,
        skip: usize,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut lines = self.out.lines.lock().ok()?;
        loop {
            if let Some(l) = lines.iter().skip(skip).find(|l| pred(l)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if now >= deadline || self.out.closed.lock().map(|c| *c).unwrap_or(true) {
                return None;
            }
            lines = self
                .out
                .changed
                .wait_timeout(lines, (deadline - now).min(Duration::from_millis(200)))
                .ok()?
                .0;
        }
    }

    /// Kills the JVM with SIGKILL (a crash: no shutdown hooks) and waits for it to exit.
    pub fn kill9(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the whole JVM with SIGSTOP: the kernel still completes TCP handshakes on its JMX
    /// port (the listen backlog), but nothing ever answers: "a JVM that accepts the connection and
    /// never answers". [`JvmPeer::thaw`] (or drop) resumes/kills it.
    pub fn freeze(&mut self) {
        self.signal("-STOP");
    }

    /// Resumes a JVM stopped by [`JvmPeer::freeze`] (SIGCONT).
    pub fn thaw(&mut self) {
        self.signal("-CONT");
    }

    fn signal(&mut self, sig: &str) {
        let pid = self.pid();
        assert!(pid != 0, "{} is not running", self.main_class);
        let status = Command::new("kill")
            .arg(sig)
            .arg(pid.to_string())
            .status()
            .unwrap_or_else(|e| panic!("run kill {sig} {pid}: {e}"));
        assert!(status.success(), "kill {sig} {pid} failed: {status}");
    }

    /// Kills the JVM if it runs and starts the same program again on the same JMX port: a JVM
    /// restart (new StartTime, counters from zero).
    pub fn restart(&mut self) {
        self.kill9();
        let classpath = classpath();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            match self.spawn_and_wait(&classpath) {
                Ok(()) => return,
                // The same port is wanted: give the kernel a moment to release it.
                Err(log) if port_clash(&log) => {
                    last = log;
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(log) => panic!(
                    "{} did not restart on 127.0.0.1:{}:\n{log}",
                    self.main_class, self.port
                ),
            }
        }
        panic!(
            "{} could not rebind 127.0.0.1:{}:\n{last}",
            self.main_class, self.port
        );
    }

    fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .map(tempfile::TempDir::path)
            .expect("the peer's directory")
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir().join(format!("stderr-{}.log", self.runs))
    }

    fn spawn_and_wait(&mut self, classpath: &str) -> Result<(), String> {
        self.runs += 1;
        let auth = self
            .opts
            .auth
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()));
        let flags = jmx_flags(self.port, auth, self.dir());
        let err = fs::File::create(self.stderr_path()).expect("create the JVM's stderr log");
        // G1, as kafka-run-class.sh runs brokers and clients: the GC beans are
        // `java.lang:type=GarbageCollector,name=G1 Young Generation|G1 Old Generation`.
        let mut child = Command::new("java")
            .args(["-Xmx256m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1"])
            .args(&flags)
            .arg("-cp")
            .arg(classpath)
            .arg(&self.main_class)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start java {} ({e}): run scripts/install-peers",
                    self.main_class
                )
            });
        let out = Arc::new(Output::default());
        let stdout = child.stdout.take().expect("piped stdout");
        let reader_out = Arc::clone(&out);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut lines) = reader_out.lines.lock() {
                    lines.push(line);
                }
                reader_out.changed.notify_all();
            }
            if let Ok(mut closed) = reader_out.closed.lock() {
                *closed = true;
            }
            reader_out.changed.notify_all();
        });
        self.stdin = child.stdin.take();
        self.child = Some(child);
        self.out = out;

        let deadline = Instant::now() + START_TIMEOUT;
        let ready = self.wait_for_line(|l| l == "READY", START_TIMEOUT);
        if ready.is_none() {
            let log = format!(
                "stdout: {:?}\nstderr:\n{}",
                self.lines(),
                tail(&self.stderr(), 60)
            );
            self.kill9();
            return Err(log);
        }
        while TcpStream::connect(self.jmx_address()).is_err() {
            if Instant::now() > deadline || !self.is_running() {
                let log = format!("JMX port never accepted; stderr:\n{}", self.stderr());
                self.kill9();
                return Err(log);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for JvmPeer {
    fn drop(&mut self) {
        // A frozen JVM dies of SIGKILL too; SIGCONT first lets it be reaped at once.
        if self.child.is_some() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(self.pid().to_string())
                .status();
        }
        self.kill9();
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!(
                "{} files (stderr logs) kept in {}",
                self.main_class,
                dir.keep().display()
            );
        }
    }
}

fn port_clash(log: &str) -> bool {
    log.contains("already in use") || log.contains("BindException")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One `ObjectName|attribute|type|value` line of ListBeans.
#[derive(Clone, Debug, PartialEq)]
pub struct BeanLine {
    pub object_name: String,
    pub attribute: String,
    pub declared_type: String,
    pub value: String,
}

impl BeanLine {
    /// The value as a number, when it is one.
    pub fn number(&self) -> Option<f64> {
        self.value.parse().ok()
    }
}

/// What ListBeans printed before it finished (or before the timeout).
#[derive(Debug, Default)]
pub struct BeanListing {
    pub lines: Vec<BeanLine>,
    /// Saw `DONE`: every read answered.
    pub finished: bool,
    /// Everything on stderr (connection errors, for messages).
    pub stderr: String,
}

impl BeanListing {
    pub fn get(&self, object_name: &str, attribute: &str) -> Option<&BeanLine> {
        self.lines
            .iter()
            .find(|l| l.object_name == object_name && l.attribute == attribute)
    }

    pub fn number(&self, object_name: &str, attribute: &str) -> Option<f64> {
        self.get(object_name, attribute).and_then(BeanLine::number)
    }

    /// The distinct ObjectNames listed, in order.
    pub fn object_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.lines.iter().map(|l| l.object_name.as_str()).collect();
        names.dedup();
        names
    }

    /// The attributes listed for one bean.
    pub fn attributes(&self, object_name: &str) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.object_name == object_name)
            .map(|l| l.attribute.as_str())
            .collect()
    }
}

/// Runs the ListBeans JMX client (a plain javax.management.remote client, independent of
/// kafkascope's bridge) against `address` for the ObjectName `pattern`; gives up after `timeout`
/// (killing it), so a read that never answers shows as `finished == false`.
pub fn list_beans(
    address: &str,
    pattern: &str,
    auth: Option<(&str, &str)>,
    timeout: Duration,
) -> BeanListing {
    let err_file = tempfile::NamedTempFile::new().expect("a temp file for ListBeans' stderr");
    let mut cmd = Command::new("java");
    cmd.args(["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
        .arg("-cp")
        .arg(classpath())
        .arg("ListBeans")
        .arg(address)
        .arg(pattern);
    if let Some((user, password)) = auth {
        cmd.args(["--user", user, "--password", password]);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            err_file.reopen().expect("reopen ListBeans' stderr file"),
        ))
        .spawn()
        .expect("start java ListBeans");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut listing = BeanListing::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("DONE ") => {
                listing.finished = true;
                break;
            }
            Ok(line) => {
                let mut parts = line.splitn(4, '|');
                if let (Some(o), Some(a), Some(t), Some(v)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                {
                    listing.lines.push(BeanLine {
                        object_name: o.to_string(),
                        attribute: a.to_string(),
                        declared_type: t.to_string(),
                        value: v.to_string(),
                    });
                }
            }
            // Timed out, or the program ended without DONE.
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    listing.stderr = fs::read_to_string(err_file.path()).unwrap_or_default();
    listing
}

/// FakeKafkaBroker's value schedule (tests/fixtures/jmx/FakeKafkaBroker.java documents the same at
/// its top; keep the two in step). `t` is seconds since the JVM's start
/// (`java.lang:type=Runtime` `StartTime`).
pub mod schedule {
    /// `floor(rate × t)`: a counter on the schedule.
    pub fn count_at(rate_per_sec: f64, t: f64) -> u64 {
        (rate_per_sec * t.max(0.0)).floor() as u64
    }

    /// BrokerTopicMetrics, all-topics bean.
    pub const BYTES_IN_PER_SEC: f64 = 1000.0;
    pub const MESSAGES_IN_PER_SEC: f64 = 10.0;
    pub const BYTES_OUT_PER_SEC: f64 = 2000.0;
    /// Topics and their share of the all-topics rates (shares sum to 1).
    pub const TOPICS: [(&str, f64); 3] = [("orders", 0.5), ("payments", 0.3), ("audit", 0.2)];
    pub const PARTITIONS_PER_TOPIC: u32 = 4;
    /// Meters whose Count stays 0 (per topic and all-topics).
    pub const ZERO_TOPIC_METERS: [&str; 5] = [
        "BytesRejectedPerSec",
        "FailedProduceRequestsPerSec",
        "FailedFetchRequestsPerSec",
        "ProduceMessageConversionsPerSec",
        "FetchMessageConversionsPerSec",
    ];

    /// A request type of kafka.network:type=RequestMetrics.
    #[derive(Clone, Copy, Debug)]
    pub struct Request {
        pub name: &'static str,
        /// RequestsPerSec and ErrorsPerSec{error=NONE} Count per second; also the time histograms' Count.
        pub rate: f64,
        /// Multiplies every time statistic.
        pub factor: f64,
        /// The `version` key of its RequestsPerSec bean.
        pub version: u32,
    }

    pub const REQUESTS: [Request; 8] = [
        Request {
            name: "Produce",
            rate: 5.0,
            factor: 1.0,
            version: 9,
        },
        Request {
            name: "FetchConsumer",
            rate: 4.0,
            factor: 2.0,
            version: 13,
        },
        Request {
            name: "FetchFollower",
            rate: 8.0,
            factor: 2.0,
            version: 13,
        },
        Request {
            name: "Metadata",
            rate: 1.0,
            factor: 0.5,
            version: 12,
        },
        Request {
            name: "OffsetCommit",
            rate: 2.0,
            factor: 1.0,
            version: 8,
        },
        Request {
            name: "OffsetFetch",
            rate: 1.0,
            factor: 0.5,
            version: 8,
        },
        Request {
            name: "JoinGroup",
            rate: 0.5,
            factor: 10.0,
            version: 9,
        },
        Request {
            name: "Heartbeat",
            rate: 3.0,
            factor: 0.5,
            version: 4,
        },
    ];

    /// The time histograms of each request type and their factor.
    pub const TIME_NAMES: [(&str, f64); 7] = [
        ("TotalTimeMs", 1.0),
        ("RequestQueueTimeMs", 0.1),
        ("LocalTimeMs", 0.5),
        ("RemoteTimeMs", 0.25),
        ("ResponseQueueTimeMs", 0.05),
        ("ResponseSendTimeMs", 0.05),
        ("ThrottleTimeMs", 0.0),
    ];

    /// The statistics of a Yammer histogram/timer, in its attribute names.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct Stats {
        pub min: f64,
        pub max: f64,
        pub mean: f64,
        pub std_dev: f64,
        pub p50: f64,
        pub p75: f64,
        pub p95: f64,
        pub p98: f64,
        pub p99: f64,
        pub p999: f64,
    }

    impl Stats {
        pub fn scaled(&self, f: f64) -> Stats {
            Stats {
                min: self.min * f,
                max: self.max * f,
                mean: self.mean * f,
                std_dev: self.std_dev * f,
                p50: self.p50 * f,
                p75: self.p75 * f,
                p95: self.p95 * f,
                p98: self.p98 * f,
                p99: self.p99 * f,
                p999: self.p999 * f,
            }
        }

        /// `(attribute, value)` pairs: Min, Max, Mean, StdDev, 50thPercentile … 999thPercentile.
        pub fn attributes(&self) -> [(&'static str, f64); 10] {
            [
                ("Min", self.min),
                ("Max", self.max),
                ("Mean", self.mean),
                ("StdDev", self.std_dev),
                ("50thPercentile", self.p50),
                ("75thPercentile", self.p75),
                ("95thPercentile", self.p95),
                ("98thPercentile", self.p98),
                ("99thPercentile", self.p99),
                ("999thPercentile", self.p999),
            ]
        }
    }

    pub const BASE: Stats = Stats {
        min: 0.5,
        max: 150.0,
        mean: 4.5,
        std_dev: 6.0,
        p50: 2.0,
        p75: 3.0,
        p95: 10.0,
        p98: 20.0,
        p99: 42.0,
        p999: 120.0,
    };

    /// `kafka.network:type=RequestMetrics,name=<name>,request=<request>` statistics.
    pub fn request_time(name: &str, request: &str) -> Option<Stats> {
        let n = TIME_NAMES.iter().find(|(t, _)| *t == name)?.1;
        let r = REQUESTS.iter().find(|q| q.name == request)?.factor;
        Some(BASE.scaled(n * r))
    }

    /// LeaderElectionRateAndTimeMs (timer); its Count is 1 + the number of `unclean` commands.
    pub const LEADER_ELECTION: Stats = Stats {
        min: 1.0,
        max: 60.0,
        mean: 8.0,
        std_dev: 9.0,
        p50: 5.0,
        p75: 7.0,
        p95: 20.0,
        p98: 30.0,
        p99: 40.0,
        p999: 50.0,
    };
    /// LogFlushRateAndTimeMs (timer), Count floor(0.5 t).
    pub const LOG_FLUSH: Stats = Stats {
        min: 0.2,
        max: 30.0,
        mean: 2.0,
        std_dev: 3.0,
        p50: 1.0,
        p75: 2.0,
        p95: 8.0,
        p98: 12.0,
        p99: 15.0,
        p999: 25.0,
    };
    pub const LOG_FLUSH_PER_SEC: f64 = 0.5;

    pub const DISK_READ_BYTES_PER_SEC: f64 = 500.0;
    pub const DISK_WRITE_BYTES_PER_SEC: f64 = 1500.0;
    /// RequestHandlerAvgIdlePercent rates (a NANOSECONDS meter: Count = 0.75e9 × t).
    pub const REQUEST_HANDLER_IDLE: f64 = 0.75;
    pub const NETWORK_PROCESSOR_IDLE: f64 = 0.8;
    /// BrokerState RUNNING.
    pub const BROKER_STATE: f64 = 3.0;
    pub const PARTITION_COUNT: f64 = 12.0;
    pub const LEADER_COUNT: f64 = 4.0;
    pub const REQUEST_QUEUE_SIZE: f64 = 1.0;
    pub const RESPONSE_QUEUE_SIZE: f64 = 0.0;
    pub const PURGATORY_PRODUCE: f64 = 2.0;
    pub const PURGATORY_FETCH: f64 = 40.0;
    pub const MAX_LAG: f64 = 7.0;
    pub const INCREMENTAL_FETCH_SESSIONS: f64 = 3.0;
    pub const ACTIVE_BROKER_COUNT: f64 = 3.0;
    pub const FENCED_BROKER_COUNT: f64 = 0.0;
    pub const LAST_APPLIED_RECORD_LAG_MS: f64 = 5.0;
    /// LastAppliedRecordOffset, raft high-watermark, broker-metadata last-applied-record-offset.
    pub const METADATA_OFFSETS_PER_SEC: f64 = 2.0;
    pub const GLOBAL_TOPIC_COUNT: f64 = 3.0;
    pub const GLOBAL_PARTITION_COUNT: f64 = 12.0;
    /// NumGroups, Stable, PreparingRebalance, CompletingRebalance, Empty, Dead.
    pub const GROUPS: [(&str, f64); 6] = [
        ("NumGroups", 5.0),
        ("NumGroupsStable", 3.0),
        ("NumGroupsPreparingRebalance", 1.0),
        ("NumGroupsCompletingRebalance", 0.0),
        ("NumGroupsEmpty", 1.0),
        ("NumGroupsDead", 0.0),
    ];
    /// socket-server-metrics{listener=PLAINTEXT,networkProcessor=0}.
    pub const CONNECTION_COUNT: f64 = 5.0;
    pub const CONNECTION_CREATION_RATE: f64 = 0.5;
    pub const CONNECTION_CLOSE_RATE: f64 = 0.25;
    pub const RAFT_EPOCH: f64 = 7.0;
    pub const RAFT_COMMIT_LATENCY_AVG: f64 = 3.0;

    /// The bad beans, under kafkascope.test:type=Bad.
    pub const BAD_THROWING: &str = "kafkascope.test:type=Bad,name=Throwing";
    pub const BAD_NAN: &str = "kafkascope.test:type=Bad,name=NaN";
    pub const BAD_DECLARED_DOUBLE: &str = "kafkascope.test:type=Bad,name=DeclaredDouble";
    pub const BAD_COMPOSITE: &str = "kafkascope.test:type=Bad,name=Composite";
    pub const BAD_HANG: &str = "kafkascope.test:type=Bad,name=Hang";

    pub const METER_ATTRIBUTES: [&str; 7] = [
        "Count",
        "MeanRate",
        "OneMinuteRate",
        "FiveMinuteRate",
        "FifteenMinuteRate",
        "EventType",
        "RateUnit",
    ];
    pub const HISTOGRAM_ATTRIBUTES: [&str; 11] = [
        "Count",
        "Min",
        "Max",
        "Mean",
        "StdDev",
        "50thPercentile",
        "75thPercentile",
        "95thPercentile",
        "98thPercentile",
        "99thPercentile",
        "999thPercentile",
    ];

    /// The shape of a bean of the canonical table.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Shape {
        Meter,
        Timer,
        Histogram,
        Gauge,
        /// A KafkaMetrics bean (kafka-clients JmxReporter): these attributes at least.
        KafkaMetric(&'static [&'static str]),
    }

    /// Every broker ObjectName of the canonical table (reference/kafka-metrics.md §4.3, broker
    /// health and KRaft) with its shape, transcribed from the table, not from the fake broker: a
    /// test checking the fake against this list checks it against the reference. Per-topic and
    /// per-partition beans are given for topic `orders`, partition 0; request beans for Produce.
    pub fn canonical_broker_beans() -> Vec<(String, Shape)> {
        use Shape::*;
        let mut v: Vec<(String, Shape)> = Vec::new();
        let mut add = |n: &str, s: Shape| v.push((n.to_string(), s));
        for g in [
            "UnderReplicatedPartitions",
            "UnderMinIsrPartitionCount",
            "AtMinIsrPartitionCount",
            "PartitionCount",
            "LeaderCount",
        ] {
            add(&format!("kafka.server:type=ReplicaManager,name={g}"), Gauge);
        }
        add(
            "kafka.server:type=ReplicaManager,name=IsrShrinksPerSec",
            Meter,
        );
        add(
            "kafka.server:type=ReplicaManager,name=IsrExpandsPerSec",
            Meter,
        );
        add(
            "kafka.cluster:type=Partition,name=UnderMinIsr,topic=orders,partition=0",
            Gauge,
        );
        add(
            "kafka.cluster:type=Partition,name=AtMinIsr,topic=orders,partition=0",
            Gauge,
        );
        for g in [
            "OfflinePartitionsCount",
            "ActiveControllerCount",
            "PreferredReplicaImbalanceCount",
            "ActiveBrokerCount",
            "FencedBrokerCount",
            "LastAppliedRecordLagMs",
            "LastAppliedRecordOffset",
            "LastCommittedRecordOffset",
            "LastAppliedRecordTimestamp",
            "MetadataErrorCount",
            "GlobalTopicCount",
            "GlobalPartitionCount",
        ] {
            add(
                &format!("kafka.controller:type=KafkaController,name={g}"),
                Gauge,
            );
        }
        add(
            "kafka.controller:type=ControllerStats,name=LeaderElectionRateAndTimeMs",
            Timer,
        );
        add(
            "kafka.controller:type=ControllerStats,name=UncleanLeaderElectionsPerSec",
            Meter,
        );
        add(
            "kafka.controller:type=ControllerEventManager,name=EventQueueTimeMs",
            Histogram,
        );
        add(
            "kafka.controller:type=ControllerEventManager,name=EventQueueProcessingTimeMs",
            Histogram,
        );
        add(
            "kafka.server:type=ReplicaFetcherManager,name=MaxLag,clientId=Replica",
            Gauge,
        );
        add(
            "kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent",
            Meter,
        );
        add(
            "kafka.network:type=SocketServer,name=NetworkProcessorAvgIdlePercent",
            Gauge,
        );
        for r in REQUESTS {
            add(
                &format!(
                    "kafka.network:type=RequestMetrics,name=RequestsPerSec,request={},version={}",
                    r.name, r.version
                ),
                Meter,
            );
            add(
                &format!(
                    "kafka.network:type=RequestMetrics,name=ErrorsPerSec,request={},error=NONE",
                    r.name
                ),
                Meter,
            );
            for (t, _) in TIME_NAMES {
                add(
                    &format!(
                        "kafka.network:type=RequestMetrics,name={t},request={}",
                        r.name
                    ),
                    Histogram,
                );
            }
        }
        add(
            "kafka.network:type=RequestChannel,name=RequestQueueSize",
            Gauge,
        );
        add(
            "kafka.network:type=RequestChannel,name=ResponseQueueSize",
            Gauge,
        );
        for m in ["BytesInPerSec", "BytesOutPerSec", "MessagesInPerSec"]
            .into_iter()
            .chain(ZERO_TOPIC_METERS)
        {
            add(
                &format!("kafka.server:type=BrokerTopicMetrics,name={m}"),
                Meter,
            );
            add(
                &format!("kafka.server:type=BrokerTopicMetrics,name={m},topic=orders"),
                Meter,
            );
        }
        add(
            "kafka.server:type=DelayedOperationPurgatory,name=PurgatorySize,delayedOperation=Produce",
            Gauge,
        );
        add(
            "kafka.server:type=DelayedOperationPurgatory,name=PurgatorySize,delayedOperation=Fetch",
            Gauge,
        );
        add(
            "kafka.log:type=LogFlushStats,name=LogFlushRateAndTimeMs",
            Timer,
        );
        for g in ["Size", "LogEndOffset", "LogStartOffset", "NumLogSegments"] {
            add(
                &format!("kafka.log:type=Log,name={g},topic=orders,partition=0"),
                Gauge,
            );
        }
        add(
            "kafka.log:type=LogManager,name=OfflineLogDirectoryCount",
            Gauge,
        );
        add(
            "kafka.server:type=KafkaServer,name=linux-disk-read-bytes",
            Gauge,
        );
        add(
            "kafka.server:type=KafkaServer,name=linux-disk-write-bytes",
            Gauge,
        );
        add("kafka.server:type=KafkaServer,name=BrokerState", Gauge);
        add(
            "kafka.server:type=FetchSessionCache,name=NumIncrementalFetchSessions",
            Gauge,
        );
        add(
            "kafka.server:type=FetchSessionCache,name=IncrementalFetchSessionEvictionsPerSec",
            Meter,
        );
        for z in ["Disconnects", "Expires", "SyncConnects", "AuthFailures"] {
            add(
                &format!("kafka.server:type=SessionExpireListener,name=ZooKeeper{z}PerSec"),
                Meter,
            );
        }
        add(
            "kafka.server:type=ZooKeeperClientMetrics,name=ZooKeeperRequestLatencyMs",
            Histogram,
        );
        for (g, _) in GROUPS {
            add(
                &format!("kafka.coordinator.group:type=GroupMetadataManager,name={g}"),
                Gauge,
            );
        }
        add(
            "kafka.server:type=socket-server-metrics,listener=PLAINTEXT,networkProcessor=0",
            KafkaMetric(&[
                "connection-count",
                "connection-creation-rate",
                "connection-close-rate",
            ]),
        );
        add(
            "kafka.server:type=raft-metrics",
            KafkaMetric(&[
                "current-state",
                "current-leader",
                "current-vote",
                "current-epoch",
                "high-watermark",
                "log-end-offset",
                "log-end-epoch",
                "commit-latency-avg",
                "commit-latency-max",
                "election-latency-avg",
                "election-latency-max",
                "append-records-rate",
                "fetch-records-rate",
                "poll-idle-ratio-avg",
                "number-unknown-voter-connections",
            ]),
        );
        add(
            "kafka.server:type=broker-metadata-metrics",
            KafkaMetric(&[
                "last-applied-record-lag-ms",
                "last-applied-record-offset",
                "metadata-load-error-count",
                "metadata-apply-error-count",
            ]),
        );
        v
    }
}
