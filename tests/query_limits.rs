//! Sends deep, wide and huge queries (and generated mixtures) to the RUNNING server binary and
//! checks that each one is answered with 200, 400 or 422 (or refused by the URL/body limits),
//! and that the server is still up afterwards. A killed server must be noticed by the same check.

mod support;

use std::time::Duration;
use support::server::{Server, urlencode};

type Client = reqwest::Client;

fn client() -> Client {
    // No pooling: after a 413 the server closes a connection whose body it did not read, and a
    // reused stale connection must not look like a dead server.
    kafkascope::sources::http_client_builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

/// Whether the server answers its health check.
async fn is_up(c: &Client, base: &str) -> bool {
    c.get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// (status, body) of a GET (`query` appended to `path`) or a form POST of `query`.
async fn ask(c: &Client, base: &str, path: &str, query: &str, post: bool) -> (u16, String) {
    let r = if post {
        c.post(format!("{base}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("query={}", urlencode(query)))
            .send()
            .await
    } else {
        let sep = if path.contains('?') { '&' } else { '?' };
        c.get(format!("{base}{path}{sep}query={}", urlencode(query)))
            .send()
            .await
    };
    match r {
        Ok(r) => {
            let s = r.status().as_u16();
            (s, r.text().await.unwrap_or_default())
        }
        // A refused connection is not an answer: the caller checks liveness next.
        Err(e) => (0, e.to_string()),
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A generated query: a random mixture of long chains, nesting, calls and aggregations.
fn generated(rng: &mut Rng) -> String {
    let size = [10, 100, 1_000, 3_000, 4_100, 20_000][rng.below(6) as usize];
    let mut q = String::from("up");
    for _ in 0..size {
        q = match rng.below(7) {
            0 => format!("{q} * 1"),
            1 => format!("({q})"),
            2 => format!("abs({q})"),
            3 => format!("sum by (job) ({q})"),
            4 => format!("{q} > bool 0"),
            5 => format!("-{q}"),
            _ => format!("{q} or up"),
        };
        if q.len() > 200_000 {
            break;
        }
    }
    q
}

#[tokio::test(flavor = "multi_thread")]
async fn no_query_shape_takes_the_server_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let cfg = format!(
        "[collector]\ninterval = \"1s\"\n\n[[clusters]]\nname = \"lab\"\nzookeeper = [\"127.0.0.1:{closed}\"]\n"
    );
    let mut server = Server::start(dir.path(), &cfg);
    let c = client();
    let base = server.base.clone();
    assert!(is_up(&c, &base).await, "the server is not up");
    // An `up` series exists once the first (failing) scrape is recorded.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (s, b) = ask(&c, &base, "/api/v1/query", "up", false).await;
        if s == 200 && b.contains("\"up\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no up series: {s} {b}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let chain = |n: usize| format!("up{}", " * 1".repeat(n - 1));
    let mut cases: Vec<(&str, String, bool, &[u16])> = vec![
        // The crash of issue 7: 3,000 terms in a 12 KB URL. Evaluated.
        ("3000-term chain", chain(3_000), false, &[200]),
        ("3000-term chain (POST)", chain(3_000), true, &[200]),
        (
            "40000-term chain (POST)",
            format!("up{}", "*1".repeat(39_999)),
            true,
            &[400],
        ),
        (
            "10000 nested parentheses",
            format!("{}up{}", "(".repeat(10_000), ")".repeat(10_000)),
            false,
            &[400],
        ),
        (
            "4000 nested parentheses",
            format!("{}up{}", "(".repeat(4_000), ")".repeat(4_000)),
            false,
            &[200],
        ),
        (
            "5000 nested calls",
            format!("{}up{}", "abs(".repeat(5_000), ")".repeat(5_000)),
            false,
            &[400],
        ),
        (
            "2000 nested calls",
            format!("{}up{}", "abs(".repeat(2_000), ")".repeat(2_000)),
            false,
            &[200],
        ),
        (
            "2000 nested aggregations",
            format!("{}up{}", "sum(".repeat(2_000), ")".repeat(2_000)),
            true,
            &[200],
        ),
        (
            "1000 nested subqueries",
            format!(
                "{}up{}",
                "max_over_time((".repeat(1_000),
                ")[1m:30s])".repeat(1_000)
            ),
            true,
            &[200, 400, 422],
        ),
        (
            "huge label set",
            format!(
                "up{{{}}}",
                (0..5_000)
                    .map(|i| format!("l{i}=\"v{i}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            true,
            &[200],
        ),
        (
            "huge by list",
            format!(
                "sum by ({}) (up)",
                (0..5_000)
                    .map(|i| format!("l{i}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            true,
            &[200],
        ),
        (
            "100 KB regex",
            format!("up{{job=~\"{}\"}}", "a|".repeat(50_000)),
            true,
            &[200, 400],
        ),
        (
            "80 KB unbalanced regex",
            format!("up{{job=~\"{}\"}}", "(".repeat(80_000)),
            true,
            &[400],
        ),
        (
            "200 KB regex",
            format!("up{{job=~\"{}\"}}", "a".repeat(200_000)),
            true,
            &[200, 400],
        ),
        (
            // Beyond the 256 KB body limit: refused before any parsing.
            "1 MB regex",
            format!("up{{job=~\"{}\"}}", "a".repeat(1 << 20)),
            true,
            &[413],
        ),
        ("unclosed string", "up{job=\"".repeat(1_000), false, &[400]),
        ("empty", String::new(), false, &[400]),
    ];
    let mut rng = Rng(7);
    let generated_cases: Vec<String> = (0..40).map(|_| generated(&mut rng)).collect();
    for q in &generated_cases {
        cases.push(("generated", q.clone(), true, &[200, 400, 422]));
    }

    let mut failures = Vec::new();
    for (name, q, post, ok) in &cases {
        for path in ["/api/v1/query", "/api/v1/query_range"] {
            let full = if path.ends_with("range") {
                // query_range also needs start/end/step; they go in the query string.
                format!("{path}?start=0&end=600&step=60")
            } else {
                path.to_string()
            };
            let (mut status, mut body) = ask(&c, &base, &full, q, *post).await;
            // A body refused by its Content-Length is answered 413 before it is read; a client
            // still writing it may see the connection close first. That is the same refusal, so
            // ask again once: the answer must then be the 413 (or the same early close).
            if status == 0 && ok.contains(&413) && body.contains("error sending request") {
                (status, body) = ask(&c, &base, &full, q, *post).await;
                if status == 0 && body.contains("error sending request") {
                    status = 413;
                }
            }
            let allowed = ok.contains(&status) || (status == 414 || status == 431) && !*post;
            if !allowed {
                failures.push(format!(
                    "{name} ({} bytes) via {path}: status {status}: {}",
                    q.len(),
                    body.chars().take(300).collect::<String>()
                ));
            }
            if status == 400 {
                assert!(
                    body.contains("\"errorType\":\"bad_data\""),
                    "{name}: {body:.300}"
                );
                assert!(
                    body.len() < 4_000,
                    "{name}: the error echoes the query ({} bytes)",
                    body.len()
                );
            }
            assert!(
                is_up(&c, &base).await,
                "the server died after {name} via {path}; log:\n{}",
                server.log()
            );
        }
    }
    // The same through the page.
    let deep = format!("{}up{}", "(".repeat(10_000), ")".repeat(10_000));
    let (status, _) = ask(&c, &base, "/metric", &deep, false).await;
    assert_eq!(status, 400);
    let (status, _) = ask(&c, &base, "/metric", &chain(3_000), false).await;
    assert_eq!(status, 200);
    assert!(is_up(&c, &base).await, "the server died on /metric");
    assert!(
        failures.is_empty(),
        "unexpected answers:\n{}",
        failures.join("\n")
    );
    assert!(!server.log().contains("overflowed its stack"));

    // Positive control: the liveness check notices a dead server.
    server.kill9();
    assert!(
        !is_up(&c, &base).await,
        "a killed server must not pass the health check"
    );
}
