//! Sources turn one target into readings, events and text snapshots. A source knows its protocol and
//! nothing else: it never touches the store or the pages, and it reports failures as errors that the
//! collector turns into `up=0` and an error text on the targets page.

use crate::model::{Labels, Reading, Severity};
use std::future::Future;
use std::time::Duration;

pub mod zookeeper;

/// An HTTP client builder with TLS ready for `https://` targets. reqwest is built without a
/// rustls crypto provider (the default one needs a C toolchain and cmake), so this installs ring
/// as the process-wide provider once before the first client is built.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // An error means another provider was installed first; it serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// What a target is, for the `up{cluster,target,source}` series and the targets page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetInfo {
    /// The source kind, e.g. `zookeeper` (four-letter words) or `zookeeper_admin` (AdminServer).
    pub source: &'static str,
    /// The address as configured, e.g. `127.0.0.1:2181` or `http://127.0.0.1:8080`.
    pub target: String,
    /// Targets with the same key (in one cluster) are read at the same moment of the interval.
    /// ZooKeeper uses the host, because a server's four-letter-word and AdminServer targets write
    /// the same series: read at different moments, a counter's newest sample would come from the
    /// earlier reader until the later one overwrote it, and its rate would dip at the live edge.
    pub phase_key: String,
}

/// An event a source noticed (a mode change, a leader change); the collector stamps time and cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceEvent {
    pub kind: String,
    pub severity: Severity,
    pub subject: String,
    pub message: String,
}

/// A text snapshot worth keeping beside the numbers (ZooKeeper `conf`, `envi`), latest value only.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// What it is about, e.g. the server address `127.0.0.1:2181`.
    pub subject: String,
    /// Its name, e.g. `conf`.
    pub name: String,
    pub body: String,
}

/// Everything one successful scrape produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScrapeOutput {
    /// Readings with every label but `cluster`, which the collector adds.
    pub readings: Vec<Reading>,
    pub events: Vec<SourceEvent>,
    pub documents: Vec<Document>,
    /// Problems that did not stop the scrape (a command outside the whitelist, say); shown on the
    /// targets page next to the target.
    pub warnings: Vec<String>,
    /// Labels that identify the scraped entity, learned during the scrape (e.g. `server`), shown on
    /// the targets page.
    pub identity: Labels,
}

/// A scrape that produced nothing usable. The text is shown to operators as is, so it must say
/// what failed and where (`127.0.0.1:2181: mntr: connection refused`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// One target's protocol. The collector owns one instance per target and never calls `scrape`
/// concurrently on it, so a source may keep state between scrapes (previous mode, say).
pub trait Source: Send + 'static {
    fn info(&self) -> &TargetInfo;

    /// Reads the target once. `timeout` is the whole budget for this scrape; the collector also
    /// enforces it from outside, so a source should spend it carefully rather than rely on it.
    fn scrape(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ScrapeOutput, SourceError>> + Send;
}
