//! The notifiers through the running binary: real Tansu, consumer groups committed with
//! confluent-kafka that stop behind the log end (the group turns ERR) and then catch up (OK), a
//! real HTTP receiver (axum on loopback) and a real SMTP server (aiosmtpd, AUTH required), and
//! `kafkascope serve` with `[[notifiers]]` of both kinds:
//! - http (Burrow's own post/delete templates): one open message per incident id within the
//!   send interval, with the custom header and basic auth, then the close message to the id's URL;
//! - email (Burrow's default email template, AUTH PLAIN): one open message (`send_once`), the
//!   close message from a close template, the recipients and the authenticated user;
//! - a group in `groups_deny` in the same state is never notified (the allowed one is);
//! - a dead HTTP receiver, a dead SMTP server and a wrong SMTP password are logged errors naming
//!   the receiver (the server's reply quoted) while the other notifiers keep working;
//! - no password appears in the server's log.

mod lag_support;
mod support;

use base64::Engine;
use lag_support::receiver;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::kafka::{Tansu, closed_port, free_loopback_port, python};
use support::server::{Server, get, wait_for};

/// aiosmtpd (tests/support/smtp_server.py), stopped when dropped.
struct Smtp {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Smtp {
    /// With `tls`: STARTTLS required, with `dir`'s cert.pem and key.pem.
    fn start(dir: &Path, user: &str, password: &str, tls: bool) -> Smtp {
        let port = free_loopback_port();
        let out = dir.join(format!("mail-{port}.jsonl"));
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut child = Command::new(python())
            .arg(&script)
            .arg(port.to_string())
            .arg(&out)
            .arg(user)
            .arg(password)
            .args(if tls {
                vec![dir.join("cert.pem"), dir.join("key.pem")]
            } else {
                vec![]
            })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd (run scripts/install-peers)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("smtp_server.py output");
        assert_eq!(line.trim(), "ready", "smtp_server.py did not start");
        Smtp { child, port, out }
    }

    fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/notify")
        .join(name)
        .display()
        .to_string()
}

/// The header of a raw message (first match, unfolded lines only).
fn header(data: &str, name: &str) -> String {
    data.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or("")
        .to_string()
}

#[test]
fn notifiers_open_and_close_incidents_over_http_and_smtp() {
    let dir = tempfile::tempdir().unwrap();
    let tansu = Tansu::start(dir.path());
    tansu.tool("create-topic", &["orders", "1"]);
    tansu.tool("produce", &["orders", "0", "20"]);
    // Both groups committed offset 5 of 20 and left: no members, lag 15, the offset never
    // moves: STOP, the group ERR.
    tansu.tool("commit", &["app-orders", "orders", "0=5"]);
    tansu.tool("commit", &["denied-orders", "orders", "0=5"]);

    let (http, got) = receiver(200);
    const HTTP_PASS: &str = "h-pass-7731-secret";
    const SMTP_PASS: &str = "s-pass-9182-secret";
    let smtp = Smtp::start(dir.path(), "kafkascope", SMTP_PASS, false);
    support::tls::make_certificates(dir.path());
    let smtp_tls = Smtp::start(dir.path(), "kafkascope", SMTP_PASS, true);
    let http_pass = dir.path().join("http.pass");
    std::fs::write(&http_pass, format!("{HTTP_PASS}\n")).unwrap();
    let smtp_pass = dir.path().join("smtp.pass");
    std::fs::write(&smtp_pass, format!("{SMTP_PASS}\n")).unwrap();
    let wrong_pass = dir.path().join("wrong.pass");
    std::fs::write(&wrong_pass, "not-the-password-5531\n").unwrap();
    let close_email = dir.path().join("close-email.tmpl");
    std::fs::write(
        &close_email,
        "Subject: [kafkascope] {{.Result.Group}} is {{.Result.Status}} again\n\nIncident {{.ID}} opened {{.Start.Format \"2006-01-02\"}} is closed.\n",
    )
    .unwrap();
    let (dead_http, dead_smtp) = (closed_port(), closed_port());
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    let config = format!(
        r#"[collector]
interval = "1s"

[[clusters]]
name = "lab"
[clusters.kafka]
brokers = ["{broker}"]
commits = "admin-api"

[[notifiers]]
name = "hook"
url_open = "{http}/open/{{{{.Result.Cluster}}}}/{{{{.Result.Group}}}}"
url_close = "{http}/close/{{{{.ID}}}}"
template_open = {post:?}
template_close = {delete:?}
extras = {{ api_key = "k-1", app = "kafka", tier = "1" }}
threshold = "ERR"
interval = "1s"
send_interval = "1h"
groups_deny = ["denied-.*"]
headers = {{ "X-Team" = "kafka" }}
username = "alert"
password_file = {http_pass}

[[notifiers]]
name = "mail"
kind = "email"
server = "127.0.0.1"
port = {smtp_port}
tls = "none"
auth_type = "plain"
username = "kafkascope"
password_file = {smtp_pass}
from = "kafkascope@example.com"
to = "ops@example.com, oncall@example.com"
template_close = {close_email}
interval = "1s"
send_once = true
groups_deny = ["denied-.*"]

[[notifiers]]
name = "mail-tls"
kind = "email"
server = "127.0.0.1"
port = {smtp_tls_port}
tls = "starttls"
ca_file = {ca}
auth_type = "crammd5"
username = "kafkascope"
password_file = {smtp_pass}
from = "tls@example.com"
to = "ops@example.com"
interval = "1s"
groups_allow = ["app-.*"]

[[notifiers]]
name = "mail-wrong-password"
kind = "email"
server = "127.0.0.1"
port = {smtp_port}
tls = "none"
auth_type = "plain"
username = "kafkascope"
password_file = {wrong_pass}
from = "wrong@example.com"
timeout = "3s"
to = "ops@example.com"
interval = "1s"
groups_allow = ["app-.*"]

[[notifiers]]
name = "dead-hook"
url_open = "http://127.0.0.1:{dead_http}/x"
interval = "1s"

[[notifiers]]
name = "dead-mail"
kind = "email"
server = "127.0.0.1"
port = {dead_smtp}
tls = "none"
from = "a@example.com"
to = "b@example.com"
interval = "1s"
"#,
        broker = tansu.addr,
        post = fixture("default-http-post.tmpl"),
        delete = fixture("default-http-delete.tmpl"),
        http_pass = q(&http_pass),
        smtp_pass = q(&smtp_pass),
        wrong_pass = q(&wrong_pass),
        close_email = q(&close_email),
        smtp_port = smtp.port,
        smtp_tls_port = smtp_tls.port,
        ca = q(&dir.path().join("ca.pem")),
    );
    let server = Server::start(dir.path(), &config);

    // The open message over HTTP: Burrow's post template, the header, basic auth.
    let open = wait_for("the open POST", Duration::from_secs(120), || {
        got.lock()
            .unwrap()
            .iter()
            .find(|g| g.method == "POST")
            .cloned()
    });
    assert_eq!(open.path, "/open/lab/app-orders", "{open:?}");
    assert_eq!(open.header("x-team"), "kafka");
    assert_eq!(open.header("content-type"), "application/json");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alert:{HTTP_PASS}"));
    assert_eq!(open.header("authorization"), format!("Basic {basic}"));
    assert_eq!(open.body["api_key"], "k-1");
    let event = &open.body["events"][0];
    let id = event["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(event["event"]["severity"], "ERR");
    assert_eq!(event["event"]["group"], "app-orders");
    assert_eq!(event["event"]["partitions"][0]["status"], "STOP");
    assert_eq!(event["event"]["partitions"][0]["current_lag"], 15);

    // The open email: Burrow's default template, AUTH PLAIN as the configured user.
    let mail = wait_for("the open email", Duration::from_secs(60), || {
        smtp.messages()
            .into_iter()
            .find(|m| m["from"] == "kafkascope@example.com")
    });
    let data = mail["data"].as_str().unwrap();
    assert_eq!(mail["user"], "kafkascope");
    assert_eq!(
        mail["to"],
        serde_json::json!(["ops@example.com", "oncall@example.com"])
    );
    assert_eq!(header(data, "Subject"), "[Burrow] Kafka Consumer Lag Alert");
    assert_eq!(header(data, "To"), "ops@example.com, oncall@example.com");
    assert!(
        data.contains("Group:    app-orders\r\nStatus:   ERR\r\n"),
        "{data}"
    );
    assert!(data.contains("STOP orders:0 ("), "{data}");

    // STARTTLS (verified against the test CA) then AUTH CRAM-MD5: the server requires both.
    let tls_mail = wait_for("the email over STARTTLS", Duration::from_secs(60), || {
        smtp_tls.messages().into_iter().next()
    });
    assert_eq!(tls_mail["from"], "tls@example.com");
    assert_eq!(tls_mail["user"], "kafkascope");
    assert_eq!(
        header(tls_mail["data"].as_str().unwrap(), "Subject"),
        "[Burrow] Kafka Consumer Lag Alert"
    );

    // Let several more evaluations pass (each one logs the dead receivers' errors).
    let errors_now = server.log().matches("notifier=dead-hook").count();
    wait_for("three more evaluations", Duration::from_secs(60), || {
        (server.log().matches("notifier=dead-hook").count() >= errors_now + 3).then_some(())
    });
    // One open message per incident: send_interval (http) and send_once (email).
    let posts: Vec<lag_support::Received> = got
        .lock()
        .unwrap()
        .iter()
        .filter(|g| g.method == "POST")
        .cloned()
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let opens = smtp
        .messages()
        .into_iter()
        .filter(|m| m["from"] == "kafkascope@example.com")
        .count();
    assert_eq!(opens, 1);
    // The denied group is in the same state, and never notified.
    let (_, status) = get(&server.url("/v3/kafka/lab/consumer/denied-orders/status"));
    assert!(status.contains("\"status\":\"ERR\""), "{status}");
    assert!(
        got.lock()
            .unwrap()
            .iter()
            .all(|g| !g.path.contains("denied")
                && g.body.to_string().find("denied-orders").is_none())
    );
    assert!(
        smtp.messages()
            .iter()
            .all(|m| !m["data"].as_str().unwrap_or("").contains("denied-orders"))
    );

    // The group catches up: the close message carries the incident's id.
    tansu.tool("commit", &["app-orders", "orders", "0=20"]);
    let close = wait_for("the close DELETE", Duration::from_secs(120), || {
        got.lock()
            .unwrap()
            .iter()
            .find(|g| g.method == "DELETE")
            .cloned()
    });
    assert_eq!(close.path, format!("/close/{id}"));
    assert_eq!(close.body["ids"][0], id.as_str());
    assert_eq!(close.body["group"], "app-orders");
    assert_eq!(close.header("authorization"), format!("Basic {basic}"));
    let closed = wait_for("the close email", Duration::from_secs(60), || {
        smtp.messages().into_iter().find(|m| {
            m["from"] == "kafkascope@example.com"
                && header(m["data"].as_str().unwrap_or(""), "Subject").contains("again")
        })
    });
    let data = closed["data"].as_str().unwrap();
    assert_eq!(
        header(data, "Subject"),
        "[kafkascope] app-orders is OK again"
    );
    assert!(data.contains(&format!("Incident {id} opened ")), "{data}");

    // Failures are logged naming the receiver; the wrong password is the server's reply.
    let log = server.log();
    assert!(log.contains(&format!("127.0.0.1:{dead_http}")), "{log}");
    assert!(
        log.contains(&format!("smtp://127.0.0.1:{dead_smtp}: cannot connect")),
        "{log}"
    );
    let log = wait_for(
        "the wrong password refused",
        Duration::from_secs(60),
        || {
            let log = server.log();
            log.contains("AUTH PLAIN refused").then_some(log)
        },
    );
    assert!(
        log.contains("notifier=mail-wrong-password")
            && log.contains("AUTH PLAIN refused: \"535 5.7.8 Authentication credentials invalid\""),
        "{log}"
    );
    assert!(
        smtp.messages()
            .iter()
            .all(|m| m["from"] != "wrong@example.com")
    );
    for secret in [HTTP_PASS, SMTP_PASS, "not-the-password-5531"] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    drop(server);
}
