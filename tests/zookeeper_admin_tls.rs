//! `https://` AdminServer targets: the TLS handshake is real (against `openssl s_server` with a
//! certificate made for the test), an untrusted certificate is a clear per-target error, and a
//! certificate trusted through `SSL_CERT_FILE` (how an operator adds an internal CA) gets past
//! TLS to the AdminServer protocol.

mod support;

use kafkascope::sources::Source;
use kafkascope::sources::zookeeper::{EnsembleTracker, ZkAdminSource};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct TlsServer {
    child: Child,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test CA, a server certificate for 127.0.0.1 signed by it, and `openssl s_server -www`
/// serving with that certificate.
fn start_tls_server(dir: &Path) -> TlsServer {
    support::tls::make_certificates(dir);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new("openssl")
        .args([
            "s_server", "-quiet", "-www", "-cert", "cert.pem", "-key", "key.pem",
        ])
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "s_server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    TlsServer { child, port }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_admin_targets_verify_certificates_and_say_why_they_fail() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_tls_server(dir.path());
    let url = format!("https://127.0.0.1:{}", server.port);
    let budget = Duration::from_secs(10);

    // Signed by a CA the system does not trust: down, and the error names the certificate problem.
    let e = ZkAdminSource::new(&url, EnsembleTracker::new("lab"))
        .scrape(budget)
        .await
        .expect_err("a self-signed certificate is not trusted");
    assert!(e.0.starts_with(&url), "{e}");
    assert!(e.0.to_lowercase().contains("certificate"), "{e}");
    eprintln!("untrusted: {e}");

    // Plain HTTP spoken to the TLS port is a clear error too, not a hang.
    let plain = format!("http://127.0.0.1:{}", server.port);
    let e = ZkAdminSource::new(&plain, EnsembleTracker::new("lab"))
        .scrape(budget)
        .await
        .expect_err("plain HTTP to a TLS port");
    assert!(e.0.starts_with(&plain), "{e}");

    // The CA trusted through SSL_CERT_FILE: TLS succeeds, and what fails is the protocol — s_server
    // answers an HTML status page, not AdminServer JSON.
    // SAFETY: this test binary has a single test, so no other thread reads the environment.
    unsafe { std::env::set_var("SSL_CERT_FILE", dir.path().join("ca.pem")) };
    let e = ZkAdminSource::new(&url, EnsembleTracker::new("lab"))
        .scrape(budget)
        .await
        .expect_err("s_server is not an AdminServer");
    assert!(!e.0.to_lowercase().contains("certificate"), "{e}");
    assert!(e.0.starts_with(&url) && e.0.contains("not JSON"), "{e}");
}
