//! The AdminServer (3.5+) client and source: `monitor`, `stats`, `leader`, `voting_view`,
//! `connections`, `watch_summary`, `is_read_only` and `ruok` every scrape; `configuration` and
//! `environment` on the first scrape and every few minutes. The client port from
//! `configuration` and the host of the URL name the server (`server="host:clientPort"`), so the
//! series equal the four-letter-word ones.

use super::parse::{self, ParseError, excerpt};
use super::{CmdError, EnsembleTracker, Histories, Observed, assemble, command_deadline, keep};
use crate::sources::error_chain;
use crate::sources::{Document, ScrapeOutput, Source, SourceError, TargetInfo};
use serde_json::{Map, Value};
use std::time::Duration;
use tokio::time::Instant;

/// Bodies larger than this are refused (a `connections` of a very busy server is the largest).
pub const DEFAULT_MAX_BODY: usize = 8 << 20;

/// A ZooKeeper server read through its AdminServer (`http://host:8080`).
#[derive(Debug)]
pub struct ZkAdminSource {
    info: TargetInfo,
    /// The base URL without a trailing `/` or `/commands`.
    base: String,
    /// The host part of the URL, bracketed for IPv6, for the `server` label.
    host: Result<String, String>,
    client: Result<reqwest::Client, String>,
    tracker: EnsembleTracker,
    histories: Histories,
    client_port: Option<u16>,
    /// `server_id` from `configuration`, for the targets page.
    server_id: Option<String>,
    document_interval: Duration,
    documents_read_at: Option<Instant>,
    failures: super::FailureState,
}

impl ZkAdminSource {
    /// `url` is the AdminServer base URL as configured (`http://zk1:8080`, with or without a
    /// trailing `/commands`); it stays the target name on the targets page.
    pub fn new(url: impl Into<String>, tracker: EnsembleTracker) -> Self {
        let url = url.into();
        let trimmed = url.trim().trim_end_matches('/');
        let base = trimmed
            .strip_suffix("/commands")
            .unwrap_or(trimmed)
            .to_string();
        let host = reqwest::Url::parse(&base)
            .map_err(|e| format!("{url}: not a URL: {e}"))
            // `host_str` keeps the brackets of an IPv6 address, as a `host:port` label needs.
            .and_then(|u| {
                u.host_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{url}: the URL has no host"))
            });
        // ZooKeeper is on the operator's own network: no proxy between us and it.
        let client = crate::sources::http_client_builder()
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {}", error_chain(&e)));
        Self {
            info: TargetInfo {
                source: "zookeeper_admin",
                phase_key: host.clone().unwrap_or_else(|_| url.clone()),
                identity: Default::default(),
                target: url,
            },
            base,
            host,
            client,
            tracker,
            histories: Histories::default(),
            client_port: None,
            failures: Default::default(),
            server_id: None,
            document_interval: super::fourlw::DEFAULT_DOCUMENT_INTERVAL,
            documents_read_at: None,
        }
    }

    /// How often `configuration` and `environment` are read again (default five minutes).
    pub fn with_document_interval(mut self, every: Duration) -> Self {
        self.document_interval = every;
        self
    }

    async fn get(&self, command: &str, deadline: Instant) -> Result<Map<String, Value>, CmdError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| CmdError::Transport(e.clone()))?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(CmdError::Transport(format!(
                "{command}: no time left in the scrape budget"
            )));
        }
        let url = format!("{}/commands/{command}", self.base);
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                CmdError::Transport(format!(
                    "{command}: no reply within {} ms",
                    remaining.as_millis()
                ))
            } else {
                CmdError::Transport(format!("{command}: {}", error_chain(&e)))
            }
        };
        let mut response = client
            .get(&url)
            .timeout(remaining)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > DEFAULT_MAX_BODY {
                return Err(CmdError::Transport(format!(
                    "{command}: reply larger than {DEFAULT_MAX_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            // Jetty's error page puts the exception in its <title>.
            let shown = html_title(&text).unwrap_or_else(|| text.trim().to_string());
            // 3.8 answers `monitor` on a server without quorum with a NullPointerException on
            // its missing ZooKeeperServer: that is "not serving", as the four-letter words say.
            if shown.contains("\"zkServer\" is null") {
                return Err(CmdError::Parse(ParseError::NotServing {
                    command: command.to_string(),
                    reply: excerpt(&format!("HTTP {status}: {shown}")),
                }));
            }
            return Err(CmdError::Parse(ParseError::Unexpected {
                command: command.to_string(),
                reason: format!("HTTP {status}"),
                excerpt: excerpt(&shown),
            }));
        }
        parse::parse_admin(command, &body).map_err(CmdError::Parse)
    }

    async fn scrape_once(&mut self, timeout: Duration) -> Result<ScrapeOutput, SourceError> {
        let host = self.host.clone().map_err(SourceError)?;
        let deadline = command_deadline(timeout);
        let want_documents = self.client_port.is_none()
            || self
                .documents_read_at
                .is_none_or(|at| at.elapsed() >= self.document_interval);
        let this: &Self = self;
        let optional = |command: &'static str| async move {
            if want_documents {
                Some(Box::pin(this.get(command, deadline)).await)
            } else {
                None
            }
        };
        let (
            monitor,
            stats,
            leader,
            voting,
            connections,
            watches,
            read_only,
            ruok,
            configuration,
            environment,
        ) = tokio::join!(
            Box::pin(this.get("monitor", deadline)),
            Box::pin(this.get("stats", deadline)),
            Box::pin(this.get("leader", deadline)),
            Box::pin(this.get("voting_view", deadline)),
            Box::pin(this.get("connections", deadline)),
            Box::pin(this.get("watch_summary", deadline)),
            Box::pin(this.get("is_read_only", deadline)),
            Box::pin(this.get("ruok", deadline)),
            optional("configuration"),
            optional("environment"),
        );

        let mut warnings = Vec::new();
        let mut documents = Vec::new();
        let mut documents_ok = want_documents;
        // The client port names the server; without it there is no series to write to.
        match configuration {
            Some(Ok(body)) => match parse::client_port_from_admin(&body) {
                Ok(port) => {
                    self.client_port = Some(port);
                    self.server_id = body.get("server_id").map(|v| v.to_string());
                    documents.push(Document {
                        subject: String::new(),
                        name: "conf".to_string(),
                        body: parse::key_values_from_admin(&body).to_text(),
                    });
                }
                Err(e) => {
                    documents_ok = false;
                    warnings.push(e.to_string());
                }
            },
            Some(Err(e)) => {
                documents_ok = false;
                warnings.push(e.to_string());
            }
            None => {}
        }
        let monitor =
            monitor.and_then(|body| parse::monitor_from_admin(&body).map_err(CmdError::Parse));
        let Some(port) = self.client_port else {
            let mut text = format!(
                "{}: cannot learn the client port that names this server's series: {}",
                self.info.target,
                warnings
                    .first()
                    .map(String::as_str)
                    .unwrap_or("configuration was not read")
            );
            if let Err(e) = &monitor {
                text.push_str(&format!("; {e}"));
            }
            return Err(SourceError(text));
        };
        let server = format!("{host}:{port}");
        let monitor = monitor.map_err(|e| SourceError(format!("{}: {e}", self.info.target)))?;
        for d in &mut documents {
            d.subject = server.clone();
        }

        let mut observed = Observed {
            mntr: Some(monitor),
            server_id: self.server_id.clone(),
            ..Observed::default()
        };
        match stats.and_then(|b| parse::zxid_from_admin_stats(&b).map_err(CmdError::Parse)) {
            Ok(z) => observed.zxid = Some(z),
            Err(e) => warnings.push(e.to_string()),
        }
        let standalone = observed
            .mntr
            .as_ref()
            .and_then(|m| m.server_state())
            .is_some_and(|s| s == "standalone");
        match leader.and_then(|b| parse::leader_from_admin(&b).map_err(CmdError::Parse)) {
            Ok(l) => observed.leader = Some(l),
            // A standalone server has no leader: "server is not initialized" is expected.
            Err(_) if standalone => {}
            Err(e) => warnings.push(e.to_string()),
        }
        let w = &mut warnings;
        observed.voting = keep(
            w,
            voting.and_then(|b| parse::voting_view_from_admin(&b).map_err(CmdError::Parse)),
        );
        observed.watches = keep(
            w,
            watches.and_then(|b| parse::watch_summary_from_admin(&b).map_err(CmdError::Parse)),
        );
        observed.read_only = keep(
            w,
            read_only.and_then(|b| parse::read_only_from_admin(&b).map_err(CmdError::Parse)),
        );
        observed.ruok = keep(w, ruok.map(|_| true));
        match connections {
            Ok(body) => match parse::connections_from_admin(&body) {
                Ok(c) => {
                    observed.connections = Some(c);
                    documents.push(Document {
                        subject: server.clone(),
                        name: "cons".to_string(),
                        body: serde_json::to_string_pretty(&body).unwrap_or_default(),
                    });
                }
                Err(e) => warnings.push(e.to_string()),
            },
            Err(e) => warnings.push(e.to_string()),
        }
        match environment {
            Some(Ok(body)) => documents.push(Document {
                subject: server.clone(),
                name: "envi".to_string(),
                body: parse::key_values_from_admin(&body).to_text(),
            }),
            Some(Err(e)) => {
                documents_ok = false;
                warnings.push(e.to_string());
            }
            None => {}
        }
        if documents_ok {
            self.documents_read_at = Some(Instant::now());
        }
        Ok(assemble(
            &server,
            observed,
            &mut self.histories,
            &self.tracker,
            warnings,
            documents,
        ))
    }
}

/// The text of an HTML page's `<title>`, entities for quotes and brackets decoded.
fn html_title(page: &str) -> Option<String> {
    let start = page.find("<title>")? + "<title>".len();
    let end = start + page[start..].find("</title>")?;
    let title = page[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    Some(title.trim().to_string())
}

impl Source for ZkAdminSource {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    async fn scrape(&mut self, timeout: Duration) -> Result<ScrapeOutput, SourceError> {
        // The joined request futures are large; on the heap they cannot overflow a task's stack.
        let result = Box::pin(self.scrape_once(timeout)).await;
        // The server is known once a scrape told its client port.
        let server = match (&self.host, self.client_port) {
            (Ok(h), Some(p)) => Some(format!("{h}:{p}")),
            _ => None,
        };
        self.failures
            .record(&self.tracker, server.as_deref(), &result);
        result
    }

    fn take_events(&mut self) -> Vec<crate::sources::SourceEvent> {
        std::mem::take(&mut self.failures.pending)
    }

    fn retry(&self) -> crate::sources::Retry {
        if self.failures.refused {
            crate::sources::Retry::EveryInterval
        } else {
            crate::sources::Retry::Backoff
        }
    }
}
