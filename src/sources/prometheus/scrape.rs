//! One HTTP scrape: the request Prometheus 2.42 sends, and a body read within limits.
//!
//! - `Accept` is Prometheus' own (OpenMetrics 1.0.0 preferred, then 0.0.1, then text 0.0.4), and
//!   the body is parsed by the response's Content-Type; `X-Prometheus-Scrape-Timeout-Seconds`
//!   tells the exporter the time it has, as Prometheus does.
//! - `Accept-Encoding: gzip` (reqwest's `gzip` feature): the body is decompressed as it streams,
//!   and `body_limit` counts the decompressed bytes, so a gzip bomb stops at the limit.
//! - The whole request — connect, TLS, headers, body — must finish within the scrape budget;
//!   a target that accepts and never answers, or trickles its body, fails with the phase it was in.
//! - At most 3 redirects; reqwest drops the `Authorization` header when one leaves the host.
//! - Credentials are read from their files for each request and held only for it; reqwest marks
//!   the header sensitive, and no message here contains it.

use super::config::{Auth, format_size};
use crate::config::{Secret, format_duration};
use crate::sources::error_chain;
use std::time::Duration;
use tokio::time::Instant;

/// What Prometheus 2.42 sends (`scrape.acceptHeader`).
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 3;

/// A body read in full.
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

/// An HTTP client for scrapes: no proxy (targets are on the operator's network, as for
/// Prometheus), at most [`MAX_REDIRECTS`] redirects, and, when `ca` is not empty, only those CAs
/// trusted (Prometheus' `ca_file`); otherwise the system's roots.
pub fn client(ca: Vec<reqwest::Certificate>) -> Result<reqwest::Client, String> {
    let mut b = crate::sources::http_client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .user_agent(concat!("kafkascope/", env!("CARGO_PKG_VERSION")));
    if !ca.is_empty() {
        b = b.tls_certs_only(ca);
    }
    b.build()
        .map_err(|e| format!("cannot build an HTTP client: {}", error_chain(&e)))
}

/// Reads a secret from its file, trimmed of surrounding whitespace (a trailing newline, say).
/// The error names the file, never its content.
async fn read_secret(key: &str, path: &std::path::Path) -> Result<Secret, String> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| format!("cannot read {key} {}: {e}", path.display()))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("{key} {} is empty", path.display()));
    }
    Ok(Secret::new(trimmed))
}

/// Fetches `url` within `budget`, reading at most `body_limit` bytes (after decompression).
/// Errors say what failed, without the URL (the caller prefixes it).
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    auth: &Auth,
    body_limit: u64,
    budget: Duration,
) -> Result<Fetched, String> {
    let deadline = Instant::now() + budget;
    // Exporters that probe something else (blackbox_exporter, say) size their work by it.
    let mut request = client
        .get(url)
        .header(reqwest::header::ACCEPT, ACCEPT)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{:.3}", budget.as_secs_f64()),
        );
    match auth {
        Auth::None => {}
        Auth::Basic {
            username,
            password_file,
        } => {
            let password = read_secret("password_file", password_file).await?;
            request = request.basic_auth(username, Some(password.expose()));
        }
        Auth::Bearer { token_file } => {
            let token = read_secret("bearer_token_file", token_file).await?;
            request = request.bearer_auth(token.expose());
        }
    }
    let mut response = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => {
            // Refused connections fail at once: this is a silent host or a silent server.
            return Err(format!(
                "no HTTP response within {} (no connection, or connected and no answer)",
                format_duration(budget)
            ));
        }
        Ok(Err(e)) => return Err(error_chain(&e.without_url())),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    if !status.is_success() {
        let final_url = crate::config::redact_url(response.url().as_str());
        return Err(format!("HTTP {status} from {final_url}"));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let too_large = || {
        format!(
            "body larger than {} (body_limit, counted after gzip decompression)",
            format_size(body_limit)
        )
    };
    if response.content_length().is_some_and(|n| n > body_limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => {
                return Err(format!(
                    "body not complete within {} ({} read)",
                    format_duration(budget),
                    format_size(body.len() as u64)
                ));
            }
            Ok(Err(e)) => {
                return Err(format!(
                    "reading the body: {}",
                    error_chain(&e.without_url())
                ));
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if (body.len() + chunk.len()) as u64 > body_limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
    Ok(Fetched { body, content_type })
}
