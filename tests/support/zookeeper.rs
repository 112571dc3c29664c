//! Real ZooKeeper (the Debian `zookeeper` package, 3.8) for integration tests: a standalone server
//! or an ensemble on free loopback ports, each in its own temp directory with its config, data and
//! log, started as a plain JVM (no init scripts), ready when `srvr` reports a mode, killed on drop.
//!
//! ```ignore
//! let zk = ZkServer::start_standalone(&ZkOptions::default());
//! let mntr = zk.four_letter("mntr");
//! let ensemble = ZkEnsemble::start(3, &ZkOptions::default());
//! let leader = ensemble.leader_index();
//! ```
//!
//! Needs `java` on PATH and `/usr/share/java/{zookeeper,servlet-api,slf4j-log4j12,log4j-1.2}.jar`
//! (`scripts/install-peers` installs them); panics with a clear message when they are missing.
//! Port clashes (another process took a port between our probe and the JVM's bind) are retried
//! with fresh ports.

#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The jars of the Debian package; `servlet-api.jar` is what enables the AdminServer (the
/// package's own scripts leave it out, and AdminServer then fails with NoClassDefFoundError).
pub const CLASSPATH: [&str; 4] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/servlet-api.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];

/// How long a server (or an ensemble) may take to serve; generous for a loaded 2-core machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How many times a start is retried with fresh ports after a port clash.
const START_ATTEMPTS: usize = 4;

#[derive(Clone, Debug)]
pub struct ZkOptions {
    /// `4lw.commands.whitelist`, `*` for every command.
    pub whitelist: String,
    /// Start the AdminServer (on its own free port).
    pub admin: bool,
    /// More `zoo.cfg` lines.
    pub extra_config: Vec<String>,
    /// Open remote JMX (unauthenticated, the flags of reference/peers-lab.md) on its own free
    /// loopback port: `ZkServer::jmx_address`.
    pub jmx: bool,
}

impl Default for ZkOptions {
    fn default() -> Self {
        Self {
            whitelist: "*".to_string(),
            admin: true,
            extra_config: Vec::new(),
            jmx: false,
        }
    }
}

impl ZkOptions {
    pub fn whitelist(mut self, list: &str) -> Self {
        self.whitelist = list.to_string();
        self
    }

    pub fn without_admin(mut self) -> Self {
        self.admin = false;
        self
    }

    pub fn with_jmx(mut self) -> Self {
        self.jmx = true;
        self
    }
}

/// Ports of one server.
#[derive(Clone, Copy, Debug)]
struct Ports {
    client: u16,
    admin: u16,
    quorum: u16,
    election: u16,
    jmx: u16,
}

/// One ZooKeeper JVM.
pub struct ZkServer {
    /// `myid` in an ensemble, 0 for a standalone server.
    pub sid: u32,
    pub client_port: u16,
    /// The AdminServer port, when it was enabled.
    pub admin_port: Option<u16>,
    /// The remote JMX port (registry and RMI), when `ZkOptions::jmx` asked for it.
    pub jmx_port: Option<u16>,
    /// This server's directory: `zoo.cfg`, `data/`, `zookeeper.log`.
    pub dir: PathBuf,
    child: Option<Child>,
    /// Owned by a standalone server; an ensemble's servers live in the ensemble's directory.
    _tmp: Option<tempfile::TempDir>,
}

impl ZkServer {
    /// Starts a standalone server and waits until it serves.
    pub fn start_standalone(opts: &ZkOptions) -> ZkServer {
        check_installation();
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let tmp = tempfile::Builder::new()
                .prefix("kafkascope-zk-")
                .tempdir()
                .expect("create a temp dir for ZooKeeper");
            let [ports] = free_ports::<1>();
            let dir = tmp.path().join("zk0");
            write_config(&dir, 0, &ports, opts, &[]);
            let mut server = ZkServer {
                sid: 0,
                client_port: ports.client,
                admin_port: opts.admin.then_some(ports.admin),
                jmx_port: opts.jmx.then_some(ports.jmx),
                dir,
                child: None,
                _tmp: Some(tmp),
            };
            server.start();
            match server.wait_until_serving(START_TIMEOUT) {
                Ok(()) => return server,
                Err(log) if port_clash(&log) => last_log = log,
                Err(log) => panic!(
                    "ZooKeeper standalone on 127.0.0.1:{} did not serve within {:?}; its log:\n{log}",
                    server.client_port, START_TIMEOUT
                ),
            }
        }
        panic!(
            "ZooKeeper could not bind its ports in {START_ATTEMPTS} attempts; last log:\n{last_log}"
        );
    }

    /// `127.0.0.1:<client port>`, the address four-letter words go to.
    pub fn client_addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// `http://127.0.0.1:<admin port>`, when the AdminServer is enabled.
    pub fn admin_url(&self) -> Option<String> {
        self.admin_port.map(|p| format!("http://127.0.0.1:{p}"))
    }

    /// `127.0.0.1:<jmx port>`, when remote JMX is on.
    pub fn jmx_address(&self) -> Option<String> {
        self.jmx_port.map(|p| format!("127.0.0.1:{p}"))
    }

    /// Starts (or restarts, after [`ZkServer::stop`]) the JVM on the existing config and data.
    pub fn start(&mut self) {
        self.stop();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the ZooKeeper log");
        let log_err = log.try_clone().expect("clone the ZooKeeper log handle");
        let jmx = self
            .jmx_port
            .map(|p| super::jvm::jmx_flags(p, None, &self.dir))
            .unwrap_or_default();
        let child = Command::new("java")
            .args([
                "-Xmx128m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.jmx.log4j.disable=true",
            ])
            .args(&jmx)
            .arg(format!("-Dzookeeper.log.dir={}", self.dir.display()))
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                self.dir.join("log4j.properties").display()
            ))
            .arg("-cp")
            .arg(CLASSPATH.join(":"))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(self.dir.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start java for ZooKeeper: {e}"));
        self.child = Some(child);
    }

    /// Kills the JVM (SIGKILL, like a crashed server) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the JVM is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("zookeeper.log")
    }

    /// Everything the JVM printed so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Sends a four-letter word and returns the reply ("" when the connection fails).
    pub fn four_letter(&self, word: &str) -> String {
        four_letter(&self.client_addr(), word)
    }

    /// The mode `srvr` reports (leader, follower, standalone), `None` while not serving.
    pub fn mode(&self) -> Option<String> {
        self.four_letter("srvr")
            .lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(|m| m.trim().to_string())
    }

    /// Runs a `zkCli` command (`create /lab x`, say) against this server and returns its output.
    pub fn cli(&self, command: &[&str]) -> String {
        let out = Command::new("java")
            .args(["-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                self.dir.join("log4j.properties").display()
            ))
            .arg("-cp")
            .arg(CLASSPATH.join(":"))
            .arg("org.apache.zookeeper.ZooKeeperMain")
            .arg("-server")
            .arg(self.client_addr())
            .args(command)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot start java for zkCli: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "zkCli {command:?} failed:\n{text}");
        text
    }

    /// Waits until `srvr` reports a mode (or, when `srvr` is outside the whitelist, until the
    /// server answers at all). On failure returns the log, for the panic message.
    fn wait_until_serving(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if !self.is_running() {
                return Err(self.log());
            }
            let srvr = self.four_letter("srvr");
            if srvr.contains("Mode: ") || srvr.contains("not in the whitelist") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(self.log())
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        self.stop();
        keep_if_panicking(&mut self._tmp);
    }
}

/// When a test fails, keeps the servers' directories (configs, data, logs) for a look afterwards.
fn keep_if_panicking(tmp: &mut Option<tempfile::TempDir>) {
    if std::thread::panicking()
        && let Some(dir) = tmp.take()
    {
        eprintln!("ZooKeeper test files kept in {}", dir.keep().display());
    }
}

/// A quorum of servers on loopback.
pub struct ZkEnsemble {
    pub servers: Vec<ZkServer>,
    tmp: Option<tempfile::TempDir>,
}

impl ZkEnsemble {
    /// Starts `n` servers (ids 1..=n) and waits until every one serves and one leads.
    pub fn start(n: usize, opts: &ZkOptions) -> ZkEnsemble {
        check_installation();
        assert!(n >= 1, "an ensemble needs at least one server");
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let tmp = tempfile::Builder::new()
                .prefix("kafkascope-zk-ensemble-")
                .tempdir()
                .expect("create a temp dir for ZooKeeper");
            let ports = free_port_sets(n);
            let members: Vec<String> = ports
                .iter()
                .enumerate()
                .map(|(i, p)| format!("server.{}=127.0.0.1:{}:{}", i + 1, p.quorum, p.election))
                .collect();
            let mut servers: Vec<ZkServer> = ports
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let sid = (i + 1) as u32;
                    let dir = tmp.path().join(format!("zk{sid}"));
                    write_config(&dir, sid, p, opts, &members);
                    ZkServer {
                        sid,
                        client_port: p.client,
                        admin_port: opts.admin.then_some(p.admin),
                        jmx_port: opts.jmx.then_some(p.jmx),
                        dir,
                        child: None,
                        _tmp: None,
                    }
                })
                .collect();
            for s in &mut servers {
                s.start();
            }
            let mut ensemble = ZkEnsemble {
                servers,
                tmp: Some(tmp),
            };
            match ensemble.wait_until_serving(START_TIMEOUT) {
                Ok(()) => return ensemble,
                Err(log) if port_clash(&log) => last_log = log,
                Err(log) => {
                    panic!("ZooKeeper ensemble did not serve within {START_TIMEOUT:?}:\n{log}")
                }
            }
        }
        panic!(
            "ZooKeeper ensemble could not bind its ports in {START_ATTEMPTS} attempts; last logs:\n{last_log}"
        );
    }

    /// The four-letter-word addresses of every server, in id order.
    pub fn client_addrs(&self) -> Vec<String> {
        self.servers.iter().map(ZkServer::client_addr).collect()
    }

    /// The AdminServer URLs of every server, in id order (empty without AdminServer).
    pub fn admin_urls(&self) -> Vec<String> {
        self.servers
            .iter()
            .filter_map(ZkServer::admin_url)
            .collect()
    }

    /// The index (into `servers`) of the server that reports `leader` now.
    pub fn leader_index(&self) -> Option<usize> {
        self.servers
            .iter()
            .position(|s| s.mode().as_deref() == Some("leader"))
    }

    /// Waits until a running server other than `not` leads and the running others follow it;
    /// returns its index.
    pub fn wait_for_new_leader(&mut self, not: Option<usize>, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let modes: Vec<Option<String>> = self
                .servers
                .iter_mut()
                .map(|s| if s.is_running() { s.mode() } else { None })
                .collect();
            let leaders: Vec<usize> = (0..modes.len())
                .filter(|&i| modes[i].as_deref() == Some("leader") && Some(i) != not)
                .collect();
            let running = self
                .servers
                .iter_mut()
                .filter_map(|s| s.is_running().then_some(()))
                .count();
            let serving = modes.iter().filter(|m| m.is_some()).count();
            if leaders.len() == 1 && serving == running {
                return leaders[0];
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "no new ZooKeeper leader within {timeout:?}:\n{}",
            self.logs()
        );
    }

    /// Every server's log, labelled, for panic messages.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .map(|s| {
                format!(
                    "--- zk{} ({})\n{}",
                    s.sid,
                    s.client_addr(),
                    tail(&s.log(), 60)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn dir(&self) -> Option<&Path> {
        self.tmp.as_ref().map(tempfile::TempDir::path)
    }

    fn wait_until_serving(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.servers.iter_mut().any(|s| !s.is_running()) {
                return Err(self.logs());
            }
            let modes: Vec<Option<String>> = self.servers.iter().map(ZkServer::mode).collect();
            let leaders = modes
                .iter()
                .filter(|m| m.as_deref() == Some("leader"))
                .count();
            if modes.iter().all(Option::is_some) && (leaders == 1 || self.servers.len() == 1) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(self.logs())
    }
}

impl Drop for ZkEnsemble {
    fn drop(&mut self) {
        for s in &mut self.servers {
            s.stop();
        }
        keep_if_panicking(&mut self.tmp);
    }
}

/// Sends a four-letter word to `addr` and reads the reply to EOF ("" if the connection fails).
pub fn four_letter(addr: &str, word: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(word.as_bytes()).is_err() {
        return String::new();
    }
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

fn check_installation() {
    match Command::new("java").arg("-version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`java -version` failed ({}); ZooKeeper tests need a working JRE (run scripts/install-peers)",
            out.status
        ),
        Err(e) => panic!(
            "ZooKeeper tests need `java` on PATH ({e}); install it with scripts/install-peers \
             (Debian: apt-get install zookeeper, which pulls a JRE)"
        ),
    }
    for jar in CLASSPATH {
        assert!(
            Path::new(jar).exists(),
            "ZooKeeper tests need {jar}; install it with scripts/install-peers \
             (Debian packages zookeeper and libservlet-api-java)"
        );
    }
}

fn port_clash(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("BindException")
}

/// Picks distinct free loopback ports by binding them all at once, then releasing them.
fn free_ports<const N: usize>() -> [Ports; N] {
    let sets = free_port_sets(N);
    std::array::from_fn(|i| sets[i])
}

fn free_port_sets(n: usize) -> Vec<Ports> {
    let listeners: Vec<TcpListener> = (0..n * 5)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port"))
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect();
    drop(listeners);
    ports
        .chunks(5)
        .map(|c| Ports {
            client: c[0],
            admin: c[1],
            quorum: c[2],
            election: c[3],
            jmx: c[4],
        })
        .collect()
}

fn write_config(dir: &Path, sid: u32, ports: &Ports, opts: &ZkOptions, members: &[String]) {
    let data = dir.join("data");
    fs::create_dir_all(&data).expect("create the ZooKeeper data dir");
    let mut cfg = vec![
        "tickTime=1000".to_string(),
        "initLimit=10".to_string(),
        "syncLimit=5".to_string(),
        format!("dataDir={}", data.display()),
        format!("clientPort={}", ports.client),
        "clientPortAddress=127.0.0.1".to_string(),
        format!("4lw.commands.whitelist={}", opts.whitelist),
        format!("admin.enableServer={}", opts.admin),
        "admin.serverAddress=127.0.0.1".to_string(),
        format!("admin.serverPort={}", ports.admin),
        // Test servers snapshot rarely and keep no history.
        "autopurge.snapRetainCount=3".to_string(),
        "autopurge.purgeInterval=0".to_string(),
    ];
    if !members.is_empty() {
        fs::write(data.join("myid"), format!("{sid}\n")).expect("write myid");
        cfg.extend(members.iter().cloned());
    }
    cfg.extend(opts.extra_config.iter().cloned());
    fs::write(dir.join("zoo.cfg"), cfg.join("\n") + "\n").expect("write zoo.cfg");
    fs::write(
        dir.join("log4j.properties"),
        "log4j.rootLogger=INFO, CONSOLE\n\
         log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n\
         log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n\
         log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] %-5p [%t] %c{1}: %m%n\n",
    )
    .expect("write log4j.properties");
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
