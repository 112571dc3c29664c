//! The JVM side of the JMX source: one embedded JVM per process (j4rs), our Java helper
//! (java/KsJmx.java, compiled by src/build.rs and embedded in the binary) and one dedicated OS
//! thread per target, since every JNI call blocks for as long as the remote JVM takes.
//!
//! A scrape crosses JNI once: the helper resolves the bean patterns with `queryNames` (cached,
//! refreshed every N scrapes and when a bean vanishes), reads each bean with one `getAttributes`
//! (attribute names from `MBeanInfo`, cached per bean), reads singly only the attributes that
//! call dropped (to report why), and answers with one compact string ([`wire`]).
//!
//! Time limits: the async side waits at most the budget; a target whose thread is still inside
//! Java answers every further call at once with [`BridgeError::StillBusy`] (never a queue, never
//! another target held up). Java bounds itself too: connects run in a future with a timeout and
//! RMI calls carry a response timeout, so a black-hole target frees its thread eventually.

mod jvm;
pub mod wire;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use j4rs::{Instance, InvocationArg, Jvm};
use tokio::sync::oneshot;

use super::model::{Bean, BeanInfo};
use wire::WireError;

pub use jvm::{BASE_ENV, J4RS_JAR, OPTS_ENV, RMI_RESPONSE_TIMEOUT_MS};

/// Where and how to connect. `password` is never logged, rendered or put in an error text.
#[derive(Clone)]
pub struct Endpoint {
    /// Full service URL (see [`service_url`]).
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// RMI over TLS (`com.sun.management.jmxremote.ssl=true` on the target); the JVM's default
    /// trust store decides (extra JVM options in `KAFKASCOPE_JMX_JVM_OPTS`).
    pub ssl: bool,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ssl", &self.ssl)
            .finish()
    }
}

/// `host:port` → `service:jmx:rmi:///jndi/rmi://host:port/jmxrmi`; a full `service:jmx:` URL
/// passes through.
pub fn service_url(address: &str) -> Result<String, String> {
    let a = address.trim();
    if a.is_empty() {
        return Err("empty JMX address: expected host:port or a service:jmx: URL".into());
    }
    if let Some(rest) = a.strip_prefix("service:jmx:") {
        if rest.is_empty() || !rest.contains("://") {
            return Err(format!(
                "JMX service URL {a:?} has no protocol and address (e.g. service:jmx:rmi:///jndi/rmi://host:port/jmxrmi)"
            ));
        }
        return Ok(a.to_string());
    }
    if a.contains("://") || a.contains('/') {
        return Err(format!(
            "JMX address {a:?} is neither host:port nor a service:jmx: URL"
        ));
    }
    let (host, port) = a
        .rsplit_once(':')
        .ok_or_else(|| format!("JMX address {a:?} has no port: expected host:port"))?;
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.is_empty() || (host.contains(':') && !bracketed) {
        return Err(format!(
            "JMX address {a:?}: bad host (IPv6 addresses go in brackets, [::1]:9999)"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(format!("service:jmx:rmi:///jndi/rmi://{host}:{p}/jmxrmi")),
        _ => Err(format!(
            "JMX address {a:?}: port {port:?} is not a number in 1..65535"
        )),
    }
}

/// Starts (once) the embedded JVM; Err says what is missing (JDK, jassets, helper classes).
/// Cheap after the first call.
pub fn jvm_status() -> Result<(), String> {
    jvm::status().map(|_| ())
}

/// The helper's version line and the libjvm in use, once the JVM runs.
pub fn jvm_version() -> Result<String, String> {
    jvm::status()
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BridgeError {
    /// The embedded JVM cannot run (what is missing), or a JNI call failed.
    #[error("JMX unavailable: {0}")]
    Jvm(String),
    #[error("{0}")]
    Refused(String),
    /// Any other failure to connect or a connection lost mid-call (the next call reconnects).
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Auth(String),
    /// Something answers on that port, but not JMX over RMI.
    #[error("{0}")]
    NotJmx(String),
    #[error("{0}")]
    Timeout(String),
    /// The previous call to this target has not returned from Java yet.
    #[error("still waiting for the {op} started {secs} s ago")]
    StillBusy { op: &'static str, secs: u64 },
    /// The target answered with an error (bad pattern, no such bean, …).
    #[error("{0}")]
    Remote(String),
    /// The helper's reply did not parse (a bug).
    #[error("unreadable reply from the JMX helper: {0}")]
    Protocol(String),
}

/// What one scrape asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeRequest {
    /// ObjectName patterns for `queryNames`; empty = `*:*`.
    pub include: Vec<String>,
    /// ObjectName patterns removed from what `include` found.
    pub exclude: Vec<String>,
    /// Re-run `queryNames` every N scrapes (0 and 1: every scrape); a vanished bean forces it.
    pub refresh_every: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeReply {
    pub beans: Vec<Bean>,
    /// `queryNames` ran for this scrape (first scrape, every Nth, after a bean vanished).
    pub names_refreshed: bool,
    /// Time spent inside the JVM for this scrape.
    pub java_ms: f64,
    /// Beans found by `queryNames` that could not be read at all: (ObjectName, why).
    pub skipped: Vec<(String, String)>,
}

/// Tuning of one client; [`TargetClient::new`] uses the defaults.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long Java waits for a connect before giving up (independent of the caller's budget).
    pub connect_timeout: Duration,
    /// Java threads reading the beans of one scrape over the one connection (1 = sequential).
    pub read_workers: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            // Two readers hide one RMI round trip behind another on a real network; more only
            // cost CPU on loopback (jmx bench).
            read_workers: 2,
        }
    }
}

enum Op {
    Scrape(ScrapeRequest, Duration),
    QueryNames(String),
    BeanInfo(String),
    Domains,
}

enum Answer {
    Scrape(ScrapeReply),
    Names(Vec<String>),
    Info(Box<BeanInfo>),
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Answer, BridgeError>>,
}

/// One remote JMX target with its own OS thread. Dropping it ends the thread (after any call in
/// progress returns) and closes the connection.
pub struct TargetClient {
    label: String,
    jobs: mpsc::Sender<Job>,
    /// The call inside Java right now: which and since when.
    busy: Arc<Mutex<Option<(&'static str, Instant)>>>,
    password: Option<String>,
}

impl TargetClient {
    pub fn new(endpoint: Endpoint, label: &str) -> TargetClient {
        Self::with_options(endpoint, label, ClientOptions::default())
    }

    pub fn with_options(endpoint: Endpoint, label: &str, options: ClientOptions) -> TargetClient {
        let (tx, rx) = mpsc::channel::<Job>();
        let busy = Arc::new(Mutex::new(None));
        let password = endpoint.password.clone().filter(|p| !p.is_empty());
        let thread_busy = busy.clone();
        let thread_label = label.to_string();
        let spawned = std::thread::Builder::new()
            .name(format!("jmx-{}", label.replace('\0', "")))
            .spawn(move || worker(rx, endpoint, options, thread_busy, thread_label));
        if let Err(e) = spawned {
            // The receiver is gone with the closure: every call reports this.
            tracing::error!(target_label = label, "cannot spawn the JMX thread: {e}");
        }
        TargetClient {
            label: label.to_string(),
            jobs: tx,
            busy,
            password,
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub async fn scrape(
        &self,
        request: &ScrapeRequest,
        budget: Duration,
    ) -> Result<ScrapeReply, BridgeError> {
        match self
            .call("scrape", Op::Scrape(request.clone(), budget), budget)
            .await?
        {
            Answer::Scrape(r) => Ok(r),
            _ => Err(BridgeError::Protocol(
                "scrape answered with another shape".into(),
            )),
        }
    }

    pub async fn query_names(
        &self,
        pattern: &str,
        budget: Duration,
    ) -> Result<Vec<String>, BridgeError> {
        match self
            .call("queryNames", Op::QueryNames(pattern.to_string()), budget)
            .await?
        {
            Answer::Names(n) => Ok(n),
            _ => Err(BridgeError::Protocol(
                "queryNames answered with another shape".into(),
            )),
        }
    }

    pub async fn bean_info(&self, name: &str, budget: Duration) -> Result<BeanInfo, BridgeError> {
        match self
            .call("bean info", Op::BeanInfo(name.to_string()), budget)
            .await?
        {
            Answer::Info(i) => Ok(*i),
            _ => Err(BridgeError::Protocol(
                "bean info answered with another shape".into(),
            )),
        }
    }

    pub async fn domains(&self, budget: Duration) -> Result<Vec<String>, BridgeError> {
        match self.call("domains", Op::Domains, budget).await? {
            Answer::Names(n) => Ok(n),
            _ => Err(BridgeError::Protocol(
                "domains answered with another shape".into(),
            )),
        }
    }

    async fn call(
        &self,
        what: &'static str,
        op: Op,
        budget: Duration,
    ) -> Result<Answer, BridgeError> {
        {
            let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((op, since)) = *busy {
                return Err(BridgeError::StillBusy {
                    op,
                    secs: since.elapsed().as_secs(),
                });
            }
            *busy = Some((what, Instant::now()));
        }
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job { op, reply: tx }).is_err() {
            *self.busy.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return Err(BridgeError::Jvm(format!(
                "the JMX thread of {} is not running",
                self.label
            )));
        }
        let result = match tokio::time::timeout(budget, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(BridgeError::Jvm(format!(
                "the JMX thread of {} ended during the {what}",
                self.label
            ))),
            Err(_) => Err(BridgeError::Timeout(format!(
                "no answer to the {what} within {} ms",
                budget.as_millis()
            ))),
        };
        result.map_err(|e| scrub(e, self.password.as_deref()))
    }
}

/// Error texts never carry the password, whatever an exception chose to say.
fn scrub(e: BridgeError, password: Option<&str>) -> BridgeError {
    let Some(pw) = password else { return e };
    let clean = |s: String| s.replace(pw, "***");
    match e {
        BridgeError::Jvm(s) => BridgeError::Jvm(clean(s)),
        BridgeError::Refused(s) => BridgeError::Refused(clean(s)),
        BridgeError::Connect(s) => BridgeError::Connect(clean(s)),
        BridgeError::Auth(s) => BridgeError::Auth(clean(s)),
        BridgeError::NotJmx(s) => BridgeError::NotJmx(clean(s)),
        BridgeError::Timeout(s) => BridgeError::Timeout(clean(s)),
        BridgeError::Remote(s) => BridgeError::Remote(clean(s)),
        BridgeError::Protocol(s) => BridgeError::Protocol(clean(s)),
        other @ BridgeError::StillBusy { .. } => other,
    }
}

/// The Java side of one target, living on the target's thread.
struct Session {
    jvm: Jvm,
    target: Instance,
}

impl Session {
    fn open(endpoint: &Endpoint, options: &ClientOptions) -> Result<Session, BridgeError> {
        jvm::status().map_err(BridgeError::Jvm)?;
        let jvm = Jvm::attach_thread()
            .map_err(|e| BridgeError::Jvm(format!("cannot attach to the JVM: {e}")))?;
        let args = [
            endpoint.url.clone(),
            endpoint.username.clone().unwrap_or_default(),
            endpoint.password.clone().unwrap_or_default(),
            endpoint.ssl.to_string(),
            options.connect_timeout.as_millis().to_string(),
            options.read_workers.to_string(),
        ];
        let args = strings(&args)?;
        let target = jvm
            .create_instance(jvm::HELPER_CLASS, &args)
            .map_err(|e| BridgeError::Jvm(format!("cannot create the JMX helper: {e}")))?;
        Ok(Session { jvm, target })
    }

    /// One call into the helper: one JNI invocation plus one to fetch the string.
    fn invoke(&self, method: &str, args: &[String]) -> Result<String, BridgeError> {
        let args = strings(args)?;
        let out = self
            .jvm
            .invoke(&self.target, method, &args)
            .map_err(|e| BridgeError::Jvm(format!("JNI call {method} failed: {e}")))?;
        self.jvm
            .to_rust::<String>(out)
            .map_err(|e| BridgeError::Jvm(format!("JNI result of {method} unreadable: {e}")))
    }
}

fn strings(args: &[String]) -> Result<Vec<InvocationArg>, BridgeError> {
    args.iter()
        .map(|a| {
            InvocationArg::try_from(a.as_str())
                .map_err(|e| BridgeError::Jvm(format!("cannot pass an argument to Java: {e}")))
        })
        .collect()
}

fn from_wire(e: WireError) -> BridgeError {
    match e {
        WireError::Java { kind, text } => match kind.as_str() {
            "refused" => BridgeError::Refused(text),
            "auth" => BridgeError::Auth(text),
            "notjmx" => BridgeError::NotJmx(text),
            "timeout" => BridgeError::Timeout(text),
            "remote" => BridgeError::Remote(text),
            _ => BridgeError::Connect(text),
        },
        WireError::Malformed(m) => BridgeError::Protocol(m),
    }
}

fn worker(
    rx: mpsc::Receiver<Job>,
    endpoint: Endpoint,
    options: ClientOptions,
    busy: Arc<Mutex<Option<(&'static str, Instant)>>>,
    label: String,
) {
    let mut session: Option<Session> = None;
    while let Ok(job) = rx.recv() {
        let started = Instant::now();
        if session.is_none() {
            match Session::open(&endpoint, &options) {
                Ok(s) => session = Some(s),
                Err(e) => {
                    *busy.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    let _ = job.reply.send(Err(e));
                    continue;
                }
            }
        }
        let Some(s) = session.as_ref() else { continue };
        let result = run(s, job.op);
        tracing::debug!(
            target_label = %label,
            ms = started.elapsed().as_secs_f64() * 1e3,
            ok = result.is_ok(),
            "jmx call"
        );
        // Free the target before answering, so the caller's next call is never StillBusy.
        *busy.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let _ = job.reply.send(result);
    }
    if let Some(s) = session {
        let _ = s.invoke("close", &[]);
    }
}

fn run(s: &Session, op: Op) -> Result<Answer, BridgeError> {
    match op {
        Op::Scrape(req, budget) => {
            let raw = s.invoke(
                "scrape",
                &[
                    req.include.join("\n"),
                    req.exclude.join("\n"),
                    req.refresh_every.max(1).to_string(),
                    // Java stops a little before the caller does, so its own account of how far
                    // it got ("read 120 of 229 beans …") arrives instead of a bare timeout.
                    (budget.as_millis() * 85 / 100).max(1).to_string(),
                ],
            )?;
            let w = wire::parse_scrape(&raw).map_err(from_wire)?;
            Ok(Answer::Scrape(ScrapeReply {
                beans: w.beans,
                names_refreshed: w.refreshed,
                java_ms: w.java_ms,
                skipped: w.skipped,
            }))
        }
        Op::QueryNames(p) => {
            let raw = s.invoke("queryNames", &[p])?;
            Ok(Answer::Names(
                wire::parse_list(&raw, "M").map_err(from_wire)?,
            ))
        }
        Op::Domains => {
            let raw = s.invoke("domains", &[])?;
            Ok(Answer::Names(
                wire::parse_list(&raw, "D").map_err(from_wire)?,
            ))
        }
        Op::BeanInfo(name) => {
            let raw = s.invoke("beanInfo", std::slice::from_ref(&name))?;
            Ok(Answer::Info(Box::new(
                wire::parse_bean_info(&raw, &name).map_err(from_wire)?,
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_urls() {
        assert_eq!(
            service_url("127.0.0.1:9999").as_deref(),
            Ok("service:jmx:rmi:///jndi/rmi://127.0.0.1:9999/jmxrmi")
        );
        assert_eq!(
            service_url("[::1]:9999").as_deref(),
            Ok("service:jmx:rmi:///jndi/rmi://[::1]:9999/jmxrmi")
        );
        let full = "service:jmx:rmi://h:1/jndi/rmi://h:2/jmxrmi";
        assert_eq!(service_url(full).as_deref(), Ok(full));
        for bad in [
            "",
            "host",
            "host:",
            "host:0",
            "host:99999",
            "::1:9",
            "http://h:1",
            "service:jmx:",
        ] {
            let e = service_url(bad).expect_err(bad);
            assert!(e.contains("JMX") || e.contains("empty"), "{bad}: {e}");
        }
    }

    #[test]
    fn scrub_removes_the_password_everywhere() {
        let e = scrub(
            BridgeError::Auth("bad s3cret! for s3cret!".into()),
            Some("s3cret!"),
        );
        assert_eq!(e, BridgeError::Auth("bad *** for ***".into()));
        // Positive control: other text stays.
        assert_eq!(
            scrub(BridgeError::Connect("refused".into()), Some("s3cret!")),
            BridgeError::Connect("refused".into())
        );
    }

    #[test]
    fn endpoint_debug_hides_the_password() {
        let e = Endpoint {
            url: "u".into(),
            username: Some("admin".into()),
            password: Some("hunter2".into()),
            ssl: false,
        };
        let d = format!("{e:?}");
        assert!(!d.contains("hunter2") && d.contains("admin"), "{d}");
    }
}
