//! A small Kafka admin client on the `kafka-protocol` codecs: connections ([`connection`]) and the
//! requests the kafka source sends ([`admin`]), plus a pool that keeps one connection per broker
//! between polls ([`Pool`]).

pub mod admin;
pub mod connection;
pub mod fetch;
pub mod sasl;

pub use connection::{ClientError, Connection};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// One connection slot per broker address; a connection that failed is dropped and reopened by
/// the next request to that broker.
#[derive(Clone)]
pub struct Pool {
    client_id: Arc<str>,
    tls: Option<Arc<rustls::ClientConfig>>,
    sasl: Option<Arc<sasl::SaslSettings>>,
    slots: HashMap<String, Arc<Mutex<Option<Connection>>>>,
    sent: Arc<AtomicU64>,
}

impl Pool {
    pub fn new(client_id: &str) -> Self {
        Self::with_tls(client_id, None)
    }

    /// A pool whose connections speak TLS with this config.
    pub fn with_tls(client_id: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        Pool {
            client_id: client_id.into(),
            tls,
            sasl: None,
            slots: HashMap::new(),
            sent: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Every new connection of this pool authenticates with `sasl` first.
    pub fn with_sasl(mut self, sasl: Option<Arc<sasl::SaslSettings>>) -> Self {
        self.sasl = sasl;
        self
    }

    /// Requests sent on every connection so far (ApiVersions included).
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The handle for `addr`, to move into a task.
    pub fn broker(&mut self, addr: &str) -> BrokerHandle {
        let slot = self.slots.entry(addr.to_string()).or_default().clone();
        BrokerHandle {
            addr: addr.to_string(),
            client_id: self.client_id.clone(),
            tls: self.tls.clone(),
            sasl: self.sasl.clone(),
            slot,
            sent: self.sent.clone(),
        }
    }
}

/// One broker's connection slot, owned by one task at a time.
#[derive(Clone)]
pub struct BrokerHandle {
    pub addr: String,
    client_id: Arc<str>,
    tls: Option<Arc<rustls::ClientConfig>>,
    sasl: Option<Arc<sasl::SaslSettings>>,
    slot: Arc<Mutex<Option<Connection>>>,
    sent: Arc<AtomicU64>,
}

impl BrokerHandle {
    /// Locks the slot and opens the connection when there is none, or when its SASL session is
    /// about to end (a new connection authenticates anew: no re-authentication on a live one).
    pub async fn lock(&self, deadline: Instant) -> Result<Locked<'_>, ClientError> {
        let mut guard = self.slot.lock().await;
        if guard
            .as_ref()
            .is_some_and(|c| c.session_expired(Instant::now()))
        {
            *guard = None;
        }
        if guard.is_none() {
            *guard = Some(
                Connection::open_with(
                    &self.addr,
                    &self.client_id,
                    self.tls.clone(),
                    self.sasl.as_deref(),
                    self.sent.clone(),
                    deadline,
                )
                .await?,
            );
        }
        Ok(Locked { guard })
    }
}

/// A locked, open connection. [`Locked::check`] drops it after a transport failure.
pub struct Locked<'a> {
    guard: tokio::sync::MutexGuard<'a, Option<Connection>>,
}

impl Locked<'_> {
    /// The connection, unless an earlier step of this task dropped it.
    pub fn conn(&mut self, addr: &str) -> Result<&mut Connection, ClientError> {
        self.guard.as_mut().ok_or_else(|| ClientError::Io {
            addr: addr.to_string(),
            api: "request",
            message: "connection closed after an earlier failure in this poll".into(),
        })
    }

    /// Passes a result through, dropping the connection when the error left it unusable
    /// (anything but a broker's own answer or a version it does not offer).
    pub fn check<T>(&mut self, r: Result<T, ClientError>) -> Result<T, ClientError> {
        if let Err(e) = &r
            && !matches!(
                e,
                ClientError::Broker { .. }
                    | ClientError::Unsupported { .. }
                    | ClientError::Missing { .. }
            )
        {
            *self.guard = None;
        }
        r
    }
}
