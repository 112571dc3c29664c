//! The four-letter-word client and source: `mntr`, `srvr` (or `stat`), `ruok`, `isro`, `wchs`,
//! `cons` every scrape, `conf` and `envi` on the first scrape and then every few minutes, all in
//! parallel, each on its own connection as the protocol requires.

use super::parse::{self, ParseError, excerpt};
use super::{CmdError, EnsembleTracker, Histories, Observed, assemble, command_deadline, keep};
use crate::sources::{Document, ScrapeOutput, Source, SourceError, TargetInfo};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// Replies larger than this are cut off with an error (a `cons` of tens of thousands of clients).
pub const DEFAULT_MAX_REPLY: usize = 8 << 20;

/// How often the rarely changing `conf` and `envi` are read again.
pub const DEFAULT_DOCUMENT_INTERVAL: Duration = Duration::from_secs(300);

/// Why a four-letter word got no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FourLetterError {
    #[error("{word}: cannot connect to {addr}: {reason}")]
    Connect {
        word: String,
        addr: String,
        reason: String,
    },
    #[error("{word}: no complete reply within {waited_ms} ms (read {read} bytes{partial})")]
    Timeout {
        word: String,
        waited_ms: u128,
        read: usize,
        partial: String,
    },
    #[error("{word}: {reason}")]
    Io { word: String, reason: String },
    #[error("{word}: reply larger than {limit} bytes")]
    TooLarge { word: String, limit: usize },
}

/// Sends one four-letter word to `addr` and reads the reply to EOF, giving up at `deadline`.
pub async fn four_letter(
    addr: &str,
    word: &str,
    deadline: Instant,
    max_reply: usize,
) -> Result<String, FourLetterError> {
    let started = Instant::now();
    let timeout_err = |read: &[u8]| FourLetterError::Timeout {
        word: word.to_string(),
        waited_ms: started.elapsed().as_millis(),
        read: read.len(),
        partial: if read.is_empty() {
            String::new()
        } else {
            format!(": {}", excerpt(&String::from_utf8_lossy(read)))
        },
    };
    let mut stream = match timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => return Err(timeout_err(&[])),
        Ok(Err(e)) => {
            return Err(FourLetterError::Connect {
                word: word.to_string(),
                addr: addr.to_string(),
                reason: e.to_string(),
            });
        }
        Ok(Ok(s)) => s,
    };
    let io = |e: std::io::Error| FourLetterError::Io {
        word: word.to_string(),
        reason: e.to_string(),
    };
    match timeout_at(deadline, stream.write_all(word.as_bytes())).await {
        Err(_) => return Err(timeout_err(&[])),
        Ok(r) => r.map_err(io)?,
    }
    let mut reply = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Err(timeout_err(&reply)),
            Ok(Ok(n)) => n,
            // ZooKeeper may reset instead of closing once it has written everything.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset && !reply.is_empty() => 0,
            Ok(Err(e)) => return Err(io(e)),
        };
        if n == 0 {
            break;
        }
        if reply.len() + n > max_reply {
            return Err(FourLetterError::TooLarge {
                word: word.to_string(),
                limit: max_reply,
            });
        }
        reply.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// A ZooKeeper server read through its client port (`host:port`) with four-letter words.
#[derive(Debug)]
pub struct ZkFourLetterSource {
    info: TargetInfo,
    addr: String,
    tracker: EnsembleTracker,
    histories: Histories,
    max_reply: usize,
    document_interval: Duration,
    documents_read_at: Option<Instant>,
    failures: super::FailureState,
}

/// The host part of `host:port` (`[::1]:2181` → `[::1]`); the whole text when there is no port.
fn host_of(addr: &str) -> &str {
    match addr.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => addr,
    }
}

impl ZkFourLetterSource {
    /// `addr` is the client port address as configured (`zk1:2181`); it is also the `server`
    /// label of every reading.
    pub fn new(addr: impl Into<String>, tracker: EnsembleTracker) -> Self {
        let addr = addr.into();
        Self {
            info: TargetInfo {
                source: "zookeeper",
                target: addr.clone(),
                phase_key: host_of(&addr).to_string(),
                identity: Default::default(),
            },
            addr,
            tracker,
            histories: Histories::default(),
            max_reply: DEFAULT_MAX_REPLY,
            document_interval: DEFAULT_DOCUMENT_INTERVAL,
            documents_read_at: None,
            failures: Default::default(),
        }
    }

    /// How often `conf` and `envi` are read again (default five minutes).
    pub fn with_document_interval(mut self, every: Duration) -> Self {
        self.document_interval = every;
        self
    }

    /// The largest reply accepted from one command (default 8 MiB).
    pub fn with_max_reply(mut self, bytes: usize) -> Self {
        self.max_reply = bytes;
        self
    }

    /// One command with one retry on an empty reply (seen right after a server starts).
    async fn fetch(&self, word: &str, deadline: Instant) -> Result<String, CmdError> {
        let first = four_letter(&self.addr, word, deadline, self.max_reply)
            .await
            .map_err(CmdError::transport)?;
        if !first.trim().is_empty() || Instant::now() >= deadline {
            return Ok(first);
        }
        four_letter(&self.addr, word, deadline, self.max_reply)
            .await
            .map_err(CmdError::transport)
    }

    async fn fetch_parsed<T>(
        &self,
        word: &str,
        deadline: Instant,
        parse: impl Fn(&str) -> Result<T, ParseError>,
    ) -> Result<(T, String), CmdError> {
        let text = self.fetch(word, deadline).await?;
        let parsed = parse(&text).map_err(CmdError::Parse)?;
        Ok((parsed, text))
    }

    async fn scrape_once(&mut self, timeout: Duration) -> Result<ScrapeOutput, SourceError> {
        let deadline = command_deadline(timeout);
        let want_documents = self
            .documents_read_at
            .is_none_or(|at| at.elapsed() >= self.document_interval);
        let this: &Self = self;
        let optional = |word: &'static str| async move {
            if want_documents {
                Some(
                    this.fetch_parsed(word, deadline, |t| parse::parse_key_values(word, t))
                        .await,
                )
            } else {
                None
            }
        };
        let (mntr, srvr, ruok, isro, wchs, cons, conf, envi) = tokio::join!(
            Box::pin(this.fetch_parsed("mntr", deadline, parse::parse_mntr)),
            Box::pin(this.fetch_parsed("srvr", deadline, |t| parse::parse_srvr("srvr", t))),
            Box::pin(this.fetch_parsed("ruok", deadline, parse::parse_ruok)),
            Box::pin(this.fetch_parsed("isro", deadline, parse::parse_isro)),
            Box::pin(this.fetch_parsed("wchs", deadline, parse::parse_wchs)),
            Box::pin(this.fetch_parsed("cons", deadline, parse::parse_cons)),
            optional("conf"),
            optional("envi"),
        );
        // `srvr` arrived in 3.3 (older servers close the connection on it), and a whitelist in
        // front of a server may allow `stat` but not `srvr`: ask `stat` then.
        let srvr = match srvr {
            Err(CmdError::Parse(ParseError::NotWhitelisted { .. } | ParseError::Empty { .. })) => {
                match self
                    .fetch_parsed("stat", deadline, |t| parse::parse_srvr("stat", t))
                    .await
                {
                    Ok(stat) => Ok(stat),
                    Err(_) => srvr,
                }
            }
            other => other,
        };

        let mut warnings = Vec::new();
        let mut documents = Vec::new();
        let (mntr, srvr) = match (mntr, srvr) {
            (Err(m), Err(s)) => {
                // Both failing to connect say the same thing once.
                let text = if m.is_transport() && s.is_transport() {
                    format!("{}: {m}", self.addr)
                } else {
                    format!("{}: {m}; {s}", self.addr)
                };
                return Err(SourceError(text));
            }
            (m, s) => (m, s),
        };
        let mut observed = Observed::default();
        match mntr {
            Ok((m, _)) => observed.mntr = Some(m),
            Err(e) => warnings.push(format!("{e} (using srvr/stat instead)")),
        }
        match srvr {
            Ok((s, _)) => {
                observed.zxid = s.zxid;
                observed.srvr = Some(s);
            }
            Err(e) => warnings.push(e.to_string()),
        }
        observed.ruok = keep(&mut warnings, ruok.map(|(v, _)| v));
        observed.read_only = keep(&mut warnings, isro.map(|(v, _)| v));
        observed.watches = keep(&mut warnings, wchs.map(|(v, _)| v));
        match cons {
            Ok((c, text)) => {
                observed.connections = Some(c);
                documents.push(Document {
                    subject: self.addr.clone(),
                    name: "cons".to_string(),
                    body: text,
                });
            }
            Err(e) => warnings.push(e.to_string()),
        }
        let mut documents_ok = want_documents;
        for (name, result) in [("conf", conf), ("envi", envi)] {
            match result {
                Some(Ok((kv, _))) => {
                    if name == "conf" {
                        observed.server_id = kv.get("serverId").map(str::to_string);
                    }
                    documents.push(Document {
                        subject: self.addr.clone(),
                        name: name.to_string(),
                        body: kv.to_text(),
                    });
                }
                Some(Err(e)) => {
                    documents_ok = false;
                    warnings.push(e.to_string());
                }
                None => {}
            }
        }
        if documents_ok {
            self.documents_read_at = Some(Instant::now());
        }
        Ok(assemble(
            &self.addr,
            observed,
            &mut self.histories,
            &self.tracker,
            warnings,
            documents,
        ))
    }
}

impl Source for ZkFourLetterSource {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    async fn scrape(&mut self, timeout: Duration) -> Result<ScrapeOutput, SourceError> {
        // The joined command futures are large; on the heap they cannot overflow a task's stack.
        let result = Box::pin(self.scrape_once(timeout)).await;
        self.failures
            .record(&self.tracker, Some(&self.addr), &result);
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
