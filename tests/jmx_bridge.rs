//! The JMX bridge against real JVMs: the Debian ZooKeeper JVM with remote JMX (its
//! `org.apache.ZooKeeperService` beans and the platform `java.lang` beans), with and without
//! authentication, and against ports that are not JMX: closed, HTTP, silent, closing.
//!
//! Needs a JDK (`javac` at build time, a JVM at run time) and the `zookeeper` package:
//! scripts/install-peers installs both.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kafkascope::sources::jmx::bridge::{
    BridgeError, ClientOptions, Endpoint, ScrapeRequest, TargetClient, jvm_status, service_url,
};
use kafkascope::sources::jmx::model::{Bean, Value};

const CLASSPATH: [&str; 4] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/servlet-api.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];

const BUDGET: Duration = Duration::from_secs(20);

/// A ZooKeeper JVM with remote JMX on its own port, killed on drop.
struct ZkJmx {
    dir: tempfile::TempDir,
    client_port: u16,
    jmx_port: u16,
    auth: Option<(String, String)>,
    /// RMI registry and connector over TLS with this PKCS12 key store (password `changeit`).
    ssl_keystore: Option<PathBuf>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl ZkJmx {
    /// `auth`: (user, password) required by the JMX agent (readonly access for that user).
    fn start(auth: Option<(&str, &str)>) -> ZkJmx {
        Self::start_with(auth, None)
    }

    fn start_with(auth: Option<(&str, &str)>, ssl_keystore: Option<PathBuf>) -> ZkJmx {
        for jar in CLASSPATH {
            assert!(
                Path::new(jar).exists(),
                "{jar} missing: run scripts/install-peers"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("kafkascope-jmxzk-")
            .tempdir()
            .expect("temp dir");
        let mut zk = ZkJmx {
            dir,
            client_port: free_port(),
            jmx_port: free_port(),
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
            ssl_keystore,
            child: None,
        };
        let data = zk.dir.path().join("data");
        fs::create_dir_all(&data).expect("data dir");
        fs::write(
            zk.dir.path().join("zoo.cfg"),
            format!(
                "tickTime=1000\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=*\nadmin.enableServer=false\n",
                data.display(),
                zk.client_port
            ),
        )
        .expect("zoo.cfg");
        fs::write(
            zk.dir.path().join("log4j.properties"),
            "log4j.rootLogger=WARN, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n\
             log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n",
        )
        .expect("log4j.properties");
        if let Some((user, pass)) = &zk.auth {
            use std::os::unix::fs::PermissionsExt;
            let pw = zk.dir.path().join("jmx.password");
            let access = zk.dir.path().join("jmx.access");
            fs::write(&pw, format!("{user} {pass}\n")).expect("password file");
            fs::write(&access, format!("{user} readonly\n")).expect("access file");
            for f in [&pw, &access] {
                fs::set_permissions(f, fs::Permissions::from_mode(0o600)).expect("chmod 600");
            }
        }
        zk.spawn();
        zk.wait_jmx();
        zk
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("zk.log"))
            .expect("log");
        let log2 = log.try_clone().expect("log clone");
        let p = self.jmx_port;
        let mut cmd = Command::new("java");
        cmd.args(["-Xmx96m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                self.dir.path().join("log4j.properties").display()
            ))
            .arg("-Dcom.sun.management.jmxremote.host=127.0.0.1")
            .arg(format!("-Dcom.sun.management.jmxremote.port={p}"))
            .arg(format!("-Dcom.sun.management.jmxremote.rmi.port={p}"))
            .arg("-Dcom.sun.management.jmxremote.local.only=false")
            .arg("-Djava.rmi.server.hostname=127.0.0.1");
        match &self.ssl_keystore {
            Some(ks) => {
                cmd.arg("-Dcom.sun.management.jmxremote.ssl=true")
                    .arg("-Dcom.sun.management.jmxremote.registry.ssl=true")
                    .arg("-Dcom.sun.management.jmxremote.ssl.need.client.auth=false")
                    .arg(format!("-Djavax.net.ssl.keyStore={}", ks.display()))
                    .arg("-Djavax.net.ssl.keyStorePassword=changeit")
                    .arg("-Djavax.net.ssl.keyStoreType=PKCS12");
            }
            None => {
                cmd.arg("-Dcom.sun.management.jmxremote.ssl=false");
            }
        }
        match &self.auth {
            Some(_) => {
                cmd.arg("-Dcom.sun.management.jmxremote.authenticate=true")
                    .arg(format!(
                        "-Dcom.sun.management.jmxremote.password.file={}",
                        self.dir.path().join("jmx.password").display()
                    ))
                    .arg(format!(
                        "-Dcom.sun.management.jmxremote.access.file={}",
                        self.dir.path().join("jmx.access").display()
                    ));
            }
            None => {
                cmd.arg("-Dcom.sun.management.jmxremote.authenticate=false");
            }
        }
        let child = cmd
            .arg("-cp")
            .arg(CLASSPATH.join(":"))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(self.dir.path().join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .expect("start java for ZooKeeper");
        self.child = Some(child);
    }

    /// Waits until ZooKeeper serves (`ruok`) and the JMX port accepts.
    fn wait_jmx(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Some(c) = &mut self.child
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("ZooKeeper exited ({status}):\n{}", self.log());
            }
            let ok = four_letter(self.client_port, "ruok") == "imok"
                && TcpStream::connect(("127.0.0.1", self.jmx_port)).is_ok();
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("ZooKeeper JMX not up within 90 s:\n{}", self.log());
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_jmx();
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("zk.log")).unwrap_or_default()
    }

    fn endpoint(&self, user: Option<&str>, password: Option<&str>) -> Endpoint {
        Endpoint {
            url: service_url(&format!("127.0.0.1:{}", self.jmx_port)).expect("url"),
            username: user.map(str::to_string),
            password: password.map(str::to_string),
            ssl: false,
        }
    }
}

impl Drop for ZkJmx {
    fn drop(&mut self) {
        self.kill();
    }
}

fn four_letter(port: u16, word: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(word.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.trim().to_string()
}

fn jvm_ready() {
    if let Err(e) = jvm_status() {
        panic!("the embedded JVM must start on this machine (scripts/install-peers): {e}");
    }
}

fn bean<'a>(beans: &'a [Bean], name: &str) -> &'a Bean {
    beans.iter().find(|b| b.name == name).unwrap_or_else(|| {
        panic!(
            "no bean {name} among {:?}",
            beans.iter().map(|b| &b.name).collect::<Vec<_>>()
        )
    })
}

fn attr<'a>(b: &'a Bean, name: &str) -> &'a Value {
    &b.attributes
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no attribute {name} in {}", b.name))
        .value
}

fn request(include: &[&str], refresh_every: u32) -> ScrapeRequest {
    ScrapeRequest {
        include: include.iter().map(|s| s.to_string()).collect(),
        exclude: Vec::new(),
        refresh_every,
    }
}

/// Scrapes until the ZooKeeperService beans are registered (they appear a moment after the
/// JMX agent starts).
async fn scrape_until_zk_beans(client: &TargetClient, req: &ScrapeRequest) -> Vec<Bean> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        match client.scrape(req, BUDGET).await {
            Ok(r)
                if r.beans
                    .iter()
                    .any(|b| b.domain == "org.apache.ZooKeeperService") =>
            {
                return r.beans;
            }
            Ok(r) => last = format!("{} beans, none of ZooKeeper yet", r.beans.len()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("no ZooKeeperService beans within 60 s: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_zookeeper_and_platform_beans() {
    jvm_ready();
    let zk = ZkJmx::start(None);
    let client = TargetClient::new(zk.endpoint(None, None), "zk");
    let req = request(
        &[
            "org.apache.ZooKeeperService:*",
            "java.lang:type=Memory",
            "java.lang:type=Runtime",
            "java.lang:type=MemoryPool,*",
            "log4j:*",
        ],
        1,
    );
    let beans = scrape_until_zk_beans(&client, &req).await;

    // log4j's beans hand out org.apache.log4j.Level objects, a class our JVM does not have: that
    // value is an error of its own, the rest of the bean and of the scrape reads on.
    let log4j: Vec<&Bean> = beans.iter().filter(|b| b.domain == "log4j").collect();
    assert!(!log4j.is_empty(), "ZooKeeper registers log4j beans");
    let values: Vec<&Value> = log4j
        .iter()
        .flat_map(|b| b.attributes.iter().map(|a| &a.value))
        .collect();
    assert!(
        values
            .iter()
            .any(|v| matches!(v, Value::Error(e) if e.contains("cannot be unmarshalled") && e.contains("log4j"))),
        "{log4j:?}"
    );
    assert!(
        values.iter().any(|v| matches!(v, Value::Text(_))),
        "{log4j:?}"
    );

    // Numeric: the standalone server bean, cross-checked with what `mntr` says.
    let server_name = format!(
        "org.apache.ZooKeeperService:name0=StandaloneServer_port{}",
        zk.client_port
    );
    let server = bean(&beans, &server_name);
    assert_eq!(server.domain, "org.apache.ZooKeeperService");
    assert_eq!(
        server.properties,
        vec![(
            "name0".to_string(),
            format!("StandaloneServer_port{}", zk.client_port)
        )]
    );
    let Value::Number(max_client) = attr(server, "MaxClientCnxnsPerHost") else {
        panic!(
            "MaxClientCnxnsPerHost not numeric: {:?}",
            attr(server, "MaxClientCnxnsPerHost")
        );
    };
    assert_eq!(*max_client, 60.0, "ZooKeeper's default maxClientCnxns");
    let mntr = four_letter(zk.client_port, "mntr");
    let version = mntr
        .lines()
        .find_map(|l| l.strip_prefix("zk_version\t"))
        .expect("mntr has zk_version");
    assert_eq!(attr(server, "Version"), &Value::Text(version.to_string()));

    // Composite: HeapMemoryUsage with its four items, in key order.
    let memory = bean(&beans, "java.lang:type=Memory");
    let Value::Composite(heap) = attr(memory, "HeapMemoryUsage") else {
        panic!("HeapMemoryUsage: {:?}", attr(memory, "HeapMemoryUsage"));
    };
    let keys: Vec<&str> = heap.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["committed", "init", "max", "used"]);
    assert!(matches!(heap[3].1, Value::Number(u) if u > 0.0));
    assert_eq!(attr(memory, "Verbose"), &Value::Boolean(false));

    // Tabular and text: the Runtime bean's SystemProperties (key → value rows) and VmName.
    let runtime = bean(&beans, "java.lang:type=Runtime");
    let Value::Tabular(rows) = attr(runtime, "SystemProperties") else {
        panic!("SystemProperties: {:?}", attr(runtime, "SystemProperties"));
    };
    let port_row = rows
        .iter()
        .find(|r| {
            r.index
                == vec![(
                    "key".to_string(),
                    "com.sun.management.jmxremote.port".to_string(),
                )]
        })
        .expect("the jmxremote.port system property row");
    assert_eq!(
        port_row.values,
        vec![("value".to_string(), Value::Text(zk.jmx_port.to_string()))]
    );
    assert!(matches!(attr(runtime, "VmName"), Value::Text(t) if t.contains("VM")));
    // An array attribute is reported as unsupported, with its Java type.
    assert_eq!(
        attr(runtime, "InputArguments"),
        &Value::Unsupported("java.lang.String[]".into())
    );

    // An attribute whose getter throws (getAttributes drops it silently): its own error text,
    // while the rest of the bean reads fine. Eden does not support usage thresholds.
    let eden = beans
        .iter()
        .find(|b| b.domain == "java.lang" && b.name.contains("Eden"))
        .expect("an Eden memory pool bean");
    assert!(
        matches!(attr(eden, "UsageThreshold"), Value::Error(e) if e.contains("UnsupportedOperationException")),
        "{:?}",
        attr(eden, "UsageThreshold")
    );
    assert!(matches!(attr(eden, "Usage"), Value::Composite(_)));
    assert!(matches!(attr(eden, "Name"), Value::Text(n) if n.contains("Eden")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_cache_refreshes_every_nth_scrape_and_excludes_apply() {
    jvm_ready();
    let zk = ZkJmx::start(None);
    let client = TargetClient::new(zk.endpoint(None, None), "zk-cache");
    let mut req = request(&["java.lang:*"], 3);
    req.exclude = vec!["java.lang:type=MemoryPool,*".into()];
    let mut refreshed = Vec::new();
    for _ in 0..7 {
        let r = client.scrape(&req, BUDGET).await.expect("scrape");
        assert!(r.java_ms > 0.0);
        assert!(r.beans.iter().any(|b| b.name == "java.lang:type=Memory"));
        assert!(
            !r.beans.iter().any(|b| b.name.contains("type=MemoryPool")),
            "excluded pattern still present"
        );
        refreshed.push(r.names_refreshed);
    }
    assert_eq!(refreshed, [true, false, false, true, false, false, true]);
    // Changing the request re-resolves at once (positive control for the exclusion).
    let all = client
        .scrape(&request(&["java.lang:*"], 3), BUDGET)
        .await
        .expect("scrape");
    assert!(all.names_refreshed);
    assert!(all.beans.iter().any(|b| b.name.contains("type=MemoryPool")));

    // queryNames, domains, bean info.
    let names = client
        .query_names("java.lang:type=GarbageCollector,*", BUDGET)
        .await
        .expect("queryNames");
    assert!(
        !names.is_empty()
            && names
                .iter()
                .all(|n| n.starts_with("java.lang:") && n.contains("type=GarbageCollector")),
        "{names:?}"
    );
    let domains = client.domains(BUDGET).await.expect("domains");
    assert!(domains.contains(&"java.lang".to_string()), "{domains:?}");
    assert!(
        domains.contains(&"org.apache.ZooKeeperService".to_string())
            || domains.contains(&"JMImplementation".to_string())
    );
    let info = client
        .bean_info("java.lang:type=Memory", BUDGET)
        .await
        .expect("bean info");
    let heap = info
        .attributes
        .iter()
        .find(|a| a.name == "HeapMemoryUsage")
        .expect("HeapMemoryUsage declared");
    assert_eq!(heap.type_name, "javax.management.openmbean.CompositeData");
    assert!(heap.readable && !heap.writable);
    assert!(!heap.description.is_empty());
    assert!(matches!(heap.value, Value::Composite(_)));
    let verbose = info
        .attributes
        .iter()
        .find(|a| a.name == "Verbose")
        .expect("Verbose");
    assert!(verbose.writable && verbose.type_name == "boolean");
    let gc = info
        .operations
        .iter()
        .find(|o| o.name == "gc")
        .expect("gc operation listed");
    assert_eq!(gc.return_type, "void");
    assert!(gc.parameters.is_empty());
    // A bean that is not there: a clear remote error.
    match client.bean_info("java.lang:type=NoSuchThing", BUDGET).await {
        Err(BridgeError::Remote(e)) => assert!(e.contains("no bean"), "{e}"),
        other => panic!("expected a remote error, got {other:?}"),
    }
    // A bad pattern: a clear error naming it.
    match client.query_names("not a pattern", BUDGET).await {
        Err(BridgeError::Remote(e)) => assert!(e.contains("not a pattern"), "{e}"),
        other => panic!("expected a remote error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_required() {
    jvm_ready();
    let secret = "Zq9-correct-horse";
    let zk = ZkJmx::start(Some(("monitor", secret)));
    let req = request(&["java.lang:type=Runtime"], 1);

    let wrong = TargetClient::new(
        zk.endpoint(Some("monitor"), Some("not-the-Zq9-password")),
        "zk-wrong",
    );
    match wrong.scrape(&req, BUDGET).await {
        Err(e @ BridgeError::Auth(_)) => {
            let text = e.to_string();
            assert!(text.contains("authentication failed"), "{text}");
            assert!(
                !text.contains("not-the-Zq9-password") && !text.contains(secret),
                "{text}"
            );
        }
        other => panic!("wrong password must be an Auth error, got {other:?}"),
    }
    let none = TargetClient::new(zk.endpoint(None, None), "zk-anon");
    assert!(
        matches!(none.scrape(&req, BUDGET).await, Err(BridgeError::Auth(_))),
        "no credentials must be an Auth error"
    );
    // Positive control: the right password reads the bean.
    let right = TargetClient::new(zk.endpoint(Some("monitor"), Some(secret)), "zk-right");
    let r = right
        .scrape(&req, BUDGET)
        .await
        .expect("right password works");
    assert_eq!(r.beans.len(), 1);
    assert!(matches!(attr(&r.beans[0], "Uptime"), Value::Number(u) if *u > 0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_then_reconnect_after_restart() {
    jvm_ready();
    let mut zk = ZkJmx::start(None);
    let client = TargetClient::new(zk.endpoint(None, None), "zk-restart");
    let req = request(&["java.lang:type=Runtime"], 100);
    let first = client.scrape(&req, BUDGET).await.expect("first scrape");
    let Value::Number(start1) = attr(&first.beans[0], "StartTime").clone() else {
        panic!("StartTime not numeric");
    };
    zk.kill();
    // The cached connection fails (its peer is gone), then the reconnect is refused.
    let mut saw_refused = false;
    for _ in 0..3 {
        match client.scrape(&req, BUDGET).await {
            Err(BridgeError::Refused(e)) => {
                assert!(e.to_lowercase().contains("refused"), "{e}");
                saw_refused = true;
                break;
            }
            Err(BridgeError::Connect(_)) => continue,
            other => panic!("a dead target must fail, got {other:?}"),
        }
    }
    assert!(saw_refused, "a closed port must read as connection refused");
    zk.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    let start2 = loop {
        match client.scrape(&req, BUDGET).await {
            Ok(r) => {
                assert!(r.names_refreshed, "a new connection resolves names again");
                match attr(&r.beans[0], "StartTime") {
                    Value::Number(s) => break *s,
                    v => panic!("StartTime: {v:?}"),
                }
            }
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the restarted JVM: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("the same client never reconnected: {e}"),
        }
    };
    assert!(start2 > start1, "the restarted JVM has a later StartTime");

    // A port nothing listens on, from the start.
    let closed = free_port();
    let c = TargetClient::new(
        Endpoint {
            url: service_url(&format!("127.0.0.1:{closed}")).expect("url"),
            username: None,
            password: None,
            ssl: false,
        },
        "closed",
    );
    assert!(matches!(
        c.scrape(&req, BUDGET).await,
        Err(BridgeError::Refused(_))
    ));
}

fn endpoint_at(port: u16) -> Endpoint {
    Endpoint {
        url: service_url(&format!("127.0.0.1:{port}")).expect("url"),
        username: None,
        password: None,
        ssl: false,
    }
}

/// Accepts connections and answers each with `reply` (then closes); keeps running until the
/// test process ends.
fn serve(reply: &'static [u8]) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_jmx_endpoints() {
    jvm_ready();
    let req = request(&["java.lang:*"], 1);
    let http = serve(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let c = TargetClient::new(endpoint_at(http), "http");
    match c.scrape(&req, BUDGET).await {
        Err(BridgeError::NotJmx(e)) => assert!(e.contains("not a JMX/RMI endpoint"), "{e}"),
        other => panic!("an HTTP server is not JMX: {other:?}"),
    }
    let closing = serve(b"");
    let c = TargetClient::new(endpoint_at(closing), "closing");
    match c.scrape(&req, BUDGET).await {
        Err(BridgeError::NotJmx(e)) => assert!(e.contains("not a JMX/RMI endpoint"), "{e}"),
        other => panic!("a listener that closes is not JMX: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_target_times_out_without_holding_up_others() {
    jvm_ready();
    let zk = ZkJmx::start(None);
    let healthy = TargetClient::new(zk.endpoint(None, None), "healthy");
    let req = request(&["java.lang:*"], 1);
    healthy
        .scrape(&req, BUDGET)
        .await
        .expect("healthy target scrapes");

    // Accepts and never answers; connections are kept open until the test ends.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().flatten() {
            held.push(conn);
        }
    });
    // Java gives up on a connect after 3 s, longer than the 2 s budget: the thread stays inside
    // Java after the caller has given up.
    let hung = TargetClient::with_options(
        endpoint_at(port),
        "silent",
        ClientOptions {
            connect_timeout: Duration::from_secs(3),
            ..ClientOptions::default()
        },
    );
    let budget = Duration::from_secs(2);
    // The hung scrape and a healthy scrape at the same moment.
    let (hung_result, healthy_result) =
        tokio::join!(hung.scrape(&req, budget), healthy.scrape(&req, BUDGET));
    // This text is the async side's (Java's own says "JMX connect within 3000 ms"): the caller
    // was answered at its budget, not when Java returned.
    assert_eq!(
        hung_result.as_ref().map(|r| r.beans.len()),
        Err(&BridgeError::Timeout(
            "no answer to the scrape within 2000 ms".into()
        ))
    );
    let r = healthy_result.expect("the healthy target scrapes while the other hangs");
    assert!(r.beans.iter().any(|b| b.name == "java.lang:type=Runtime"));
    // The hung thread is still inside Java: the next call fails at once, without queueing.
    match hung.scrape(&req, budget).await {
        Err(e @ BridgeError::StillBusy { .. }) => {
            assert!(
                e.to_string()
                    .starts_with("still waiting for the scrape started"),
                "{e}"
            )
        }
        other => panic!("expected StillBusy, got {other:?}"),
    }
    // Java bounds itself: once its connect timeout passes, the thread is free and the next call
    // runs again (and ends with Java's own timeout, inside this longer budget).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match hung.scrape(&req, BUDGET).await {
            Err(BridgeError::StillBusy { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(BridgeError::Timeout(t)) => {
                assert!(t.contains("JMX connect within 3000 ms"), "{t}");
                break;
            }
            other => panic!("expected Java's connect timeout, got {other:?}"),
        }
    }
    // And the healthy one keeps going.
    healthy.scrape(&req, BUDGET).await.expect("healthy again");
}

/// Runs one of this binary's `child_*` tests in a process of its own (its own embedded JVM and
/// environment); returns what it printed.
fn run_child(exe: &Path, test: &str, envs: &[(&str, String)]) -> String {
    let out = Command::new(exe)
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KS_JMX_CHILD", "1")
        .env_remove(kafkascope::sources::jmx::bridge::BASE_ENV)
        .env_remove(kafkascope::sources::jmx::bridge::OPTS_ENV)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run the child test");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
#[ignore = "a child process of jvm_discovery_for_a_copied_binary"]
fn child_jvm_status() {
    if std::env::var_os("KS_JMX_CHILD").is_none() {
        return;
    }
    match jvm_status() {
        Ok(()) => println!("JVM_STATUS ok"),
        Err(e) => println!("JVM_STATUS err {e}"),
    }
}

#[test]
fn jvm_discovery_for_a_copied_binary() {
    let exe = std::env::current_exe().expect("test binary path");
    let jar = exe
        .parent()
        .and_then(Path::parent)
        .map(|p| {
            p.join("jassets")
                .join(kafkascope::sources::jmx::bridge::J4RS_JAR)
        })
        .expect("target/<profile>/jassets");
    assert!(jar.is_file(), "j4rs' build put {} there", jar.display());
    let tmp = tempfile::Builder::new()
        .prefix("kafkascope-jmxbin-")
        .tempdir()
        .expect("temp dir");
    let bin = tmp.path().join("bin");
    fs::create_dir_all(&bin).expect("bin dir");
    let copy = bin.join("kafkascope-copy");
    fs::copy(&exe, &copy).expect("copy the binary");

    // Nothing beside it: the error names where it looked.
    let out = run_child(&copy, "child_jvm_status", &[]);
    assert!(out.contains("JVM_STATUS err"), "{out}");
    assert!(out.contains("jassets not found"), "{out}");
    assert!(
        out.contains(&bin.join("jassets").display().to_string()),
        "{out}"
    );

    // jassets beside it: the JVM starts.
    fs::create_dir_all(bin.join("jassets")).expect("jassets dir");
    fs::copy(
        &jar,
        bin.join("jassets").join(jar.file_name().expect("jar name")),
    )
    .expect("copy jar");
    let out = run_child(&copy, "child_jvm_status", &[]);
    assert!(out.contains("JVM_STATUS ok"), "{out}");

    // No Java runtime where JAVA_HOME points: says so, no panic, no abort.
    let nojdk = tmp.path().join("no-jdk");
    fs::create_dir_all(&nojdk).expect("dir");
    let out = run_child(
        &copy,
        "child_jvm_status",
        &[("JAVA_HOME", nojdk.display().to_string())],
    );
    assert!(
        out.contains("JVM_STATUS err") && out.contains("JDK not found"),
        "{out}"
    );
    assert!(!out.contains("panicked"), "{out}");
}

#[test]
#[ignore = "a child process of ssl_targets"]
fn child_ssl_scrape() {
    let Ok(port) = std::env::var("KS_SSL_PORT") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        for ssl in [false, true] {
            let client = TargetClient::new(
                Endpoint {
                    url: service_url(&format!("127.0.0.1:{port}")).expect("url"),
                    username: None,
                    password: None,
                    ssl,
                },
                "ssl",
            );
            match client
                .scrape(&request(&["java.lang:type=Runtime"], 1), BUDGET)
                .await
            {
                Ok(r) => println!("SSL_{ssl} ok {} beans", r.beans.len()),
                Err(e) => println!("SSL_{ssl} err {e}"),
            }
        }
    });
}

fn keytool(args: &[&str]) {
    let out = Command::new("keytool")
        .args(args)
        .output()
        .expect("keytool (from the JDK)");
    assert!(
        out.status.success(),
        "keytool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ssl_targets() {
    jvm_ready();
    let tmp = tempfile::Builder::new()
        .prefix("kafkascope-jmxssl-")
        .tempdir()
        .expect("temp dir");
    let ks = tmp.path().join("server.p12");
    let cert = tmp.path().join("server.cer");
    let trust = tmp.path().join("trust.p12");
    let (ks_s, cert_s, trust_s) = (
        ks.display().to_string(),
        cert.display().to_string(),
        trust.display().to_string(),
    );
    keytool(&[
        "-genkeypair",
        "-alias",
        "zk",
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-validity",
        "2",
        "-dname",
        "CN=127.0.0.1",
        "-ext",
        "SAN=ip:127.0.0.1",
        "-keystore",
        &ks_s,
        "-storetype",
        "PKCS12",
        "-storepass",
        "changeit",
        "-keypass",
        "changeit",
    ]);
    keytool(&[
        "-exportcert",
        "-alias",
        "zk",
        "-keystore",
        &ks_s,
        "-storepass",
        "changeit",
        "-file",
        &cert_s,
    ]);
    keytool(&[
        "-importcert",
        "-noprompt",
        "-alias",
        "zk",
        "-file",
        &cert_s,
        "-keystore",
        &trust_s,
        "-storetype",
        "PKCS12",
        "-storepass",
        "changeit",
    ]);
    let zk = ZkJmx::start_with(None, Some(ks));
    let exe = std::env::current_exe().expect("test binary");
    let port = zk.jmx_port.to_string();
    let trusting = format!(
        "-Djavax.net.ssl.trustStore={trust_s} -Djavax.net.ssl.trustStorePassword=changeit \
         -Djavax.net.ssl.trustStoreType=PKCS12"
    );
    let out = run_child(
        &exe,
        "child_ssl_scrape",
        &[
            ("KS_SSL_PORT", port.clone()),
            (kafkascope::sources::jmx::bridge::OPTS_ENV, trusting),
        ],
    );
    // Plain RMI to a TLS registry fails; TLS with the server's certificate trusted reads.
    assert!(out.contains("SSL_false err"), "{out}");
    assert!(out.contains("SSL_true ok 1 beans"), "{out}");
    // Without the trust store the TLS handshake fails, and says so.
    let out = run_child(&exe, "child_ssl_scrape", &[("KS_SSL_PORT", port)]);
    assert!(out.contains("SSL_true err") && out.contains("TLS"), "{out}");
}

/// tests/fixtures/jmx-bridge/OddBeans.java in a JVM with remote JMX; stdin drives bean removal.
struct OddJvm {
    child: Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl OddJvm {
    fn start() -> OddJvm {
        let dir = tempfile::Builder::new()
            .prefix("kafkascope-jmxodd-")
            .tempdir()
            .expect("temp dir");
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jmx-bridge/OddBeans.java");
        let status = Command::new("javac")
            .args(["--release", "11", "-d"])
            .arg(dir.path())
            .arg(&src)
            .status()
            .expect("javac (scripts/install-peers installs a JDK)");
        assert!(status.success(), "javac failed on {}", src.display());
        let port = free_port();
        let mut child = Command::new("java")
            .args(["-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg("-Dcom.sun.management.jmxremote.host=127.0.0.1")
            .arg(format!("-Dcom.sun.management.jmxremote.port={port}"))
            .arg(format!("-Dcom.sun.management.jmxremote.rmi.port={port}"))
            .arg("-Dcom.sun.management.jmxremote.authenticate=false")
            .arg("-Dcom.sun.management.jmxremote.ssl=false")
            .arg("-Djava.rmi.server.hostname=127.0.0.1")
            .arg("-cp")
            .arg(dir.path())
            .arg("OddBeans")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the OddBeans JVM");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        use std::io::BufRead;
        stdout.read_line(&mut line).expect("READY");
        assert_eq!(line.trim(), "READY");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "JMX port never opened");
            std::thread::sleep(Duration::from_millis(100));
        }
        OddJvm {
            child,
            stdout,
            port,
            _dir: dir,
        }
    }

    fn drop_bean(&mut self, name: &str) {
        use std::io::BufRead;
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "drop {name}").expect("write");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("DROPPED");
        assert_eq!(line.trim(), "DROPPED");
    }
}

impl Drop for OddJvm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_values_throwing_getters_and_vanishing_beans() {
    jvm_ready();
    let mut odd = OddJvm::start();
    let client = TargetClient::new(endpoint_at(odd.port), "odd");
    let req = request(&["kafkascope.test:*"], 1000);
    let r = client.scrape(&req, BUDGET).await.expect("scrape");
    assert!(r.names_refreshed);
    assert_eq!(r.beans.len(), 4);
    let b = bean(&r.beans, "kafkascope.test:type=Odd");
    // Declared double, returned as a String: kept as text.
    assert_eq!(attr(b, "version"), &Value::Text("3.9.1".into()));
    assert!(matches!(attr(b, "nan"), Value::Number(x) if x.is_nan()));
    assert_eq!(attr(b, "posinf"), &Value::Number(f64::INFINITY));
    assert_eq!(attr(b, "neginf"), &Value::Number(f64::NEG_INFINITY));
    assert_eq!(attr(b, "count"), &Value::Number(42.0));
    // Dropped by getAttributes, read singly: the getter's own error.
    assert_eq!(
        attr(b, "broken"),
        &Value::Error("java.lang.IllegalStateException: sensor closed".into())
    );

    // A bean vanishes between queryNames (cached) and the read: its attributes become errors,
    // the others read on, and the next scrape re-runs queryNames without it.
    let r = client.scrape(&req, BUDGET).await.expect("scrape");
    assert!(!r.names_refreshed, "cached names between refreshes");
    let listed = r
        .beans
        .iter()
        .find(|b| b.name.contains("name=e1"))
        .expect("e1 listed")
        .name
        .clone();
    odd.drop_bean(&listed);
    let r = client
        .scrape(&req, BUDGET)
        .await
        .expect("scrape after the drop");
    assert!(!r.names_refreshed);
    let e1 = bean(&r.beans, &listed);
    assert!(
        e1.attributes
            .iter()
            .all(|a| matches!(&a.value, Value::Error(e) if e.contains("vanished"))),
        "{e1:?}"
    );
    let e0 = r
        .beans
        .iter()
        .find(|b| b.name.contains("name=e0"))
        .expect("e0");
    assert_eq!(attr(e0, "count"), &Value::Number(42.0));
    let r = client
        .scrape(&req, BUDGET)
        .await
        .expect("scrape after the refresh");
    assert!(r.names_refreshed, "a vanished bean forces queryNames");
    assert_eq!(r.beans.len(), 3);
    assert!(
        !r.beans.iter().any(|b| b.name == listed),
        "{listed} still listed"
    );
}
