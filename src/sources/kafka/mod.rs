//! Kafka: cluster metadata, consumer groups and their committed offsets over the Kafka protocol,
//! with our own small admin client ([`client`]) on the `kafka-protocol` codecs. No ZooKeeper: KRaft
//! clusters work the same.
//!
//! - **Config** ([`config`]): `[clusters.kafka]` with `brokers`, schedule, `commits`, group and
//!   topic allow/deny regexes, `client_id`. One target per cluster (`source="kafka"`, target = the
//!   broker list joined by `,`).
//! - **Poll** ([`collect`]): Metadata, then per broker concurrently ListGroups, DescribeGroups and
//!   OffsetFetch (batched), ListOffsets earliest and latest for the partitions it leads; groups
//!   whose coordinator moved are found again with FindCoordinator. Requests per poll are
//!   O(brokers + groups/batch) and written as `kafka_scrape_requests`.
//! - **Series**: kafka_exporter's names (see [`catalogue`]); documents `kafka_group` per group and
//!   `kafka_topics`, and `kafka_client` (the client profile: client id, TLS CA file, SASL
//!   mechanism and user, never the password); events from the difference of two polls ([`events`]).
//! - **Commits** (`commits`): with the Admin API (OffsetFetch), which carries no commit time, so
//!   the poll time is the observation time of a committed offset and the group document says
//!   `commits_source = "admin-api"`; or from `__consumer_offsets` ([`offsets_topic`]): every
//!   commit lands in the store at its commit time, the groups come from the topic (state and
//!   members from their GroupMetadata records) and the document says `"offsets-topic"`. `auto`
//!   reads the topic every poll and uses it once it is readable, caught up and holds commit
//!   records; until then it uses the Admin API and says why (on /targets and in the document).
//! - **Failures**: no broker answering Metadata fails the poll (target down with the errors); a
//!   broker that fails later, or a group or partition with an error code, is a warning on
//!   `/targets` and the rest of the poll stands.

pub mod catalogue;
pub mod client;
pub mod collect;
pub mod config;
pub mod events;
pub mod offsets_topic;

#[cfg(test)]
mod fake_broker_tests;

use crate::sources::{ScrapeOutput, Source, SourceError, SourceKind, TargetInfo};
use collect::{PollSettings, Snapshot, StateMemory};
use config::NameFilter;
use std::sync::Arc;
use std::time::Duration;

/// The kafka source kind.
pub const KIND: SourceKind = SourceKind {
    key: "kafka",
    title: "Kafka",
    target_sources: &["kafka"],
    catalogue: catalogue::CATALOGUE,
    events: events::KINDS,
    build: config::build,
    default_local: config::default_local,
};

/// How committed offsets are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitsMode {
    /// `__consumer_offsets` when it is readable, caught up and holds commits; else Admin API.
    Auto,
    AdminApi,
    OffsetsTopic,
}

/// Everything a cluster's source needs, validated by [`config::read`].
#[derive(Clone)]
pub struct KafkaSettings {
    pub brokers: Vec<String>,
    pub commits: CommitsMode,
    pub groups: NameFilter,
    pub topics: NameFilter,
    pub client_id: String,
    /// TLS to every broker (None: plain TCP).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The CA file `tls` trusts, as configured (for the client profile).
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// SASL on every new broker connection (None: none).
    pub sasl: Option<Arc<client::sasl::SaslSettings>>,
}

/// One Kafka cluster.
pub struct KafkaSource {
    info: TargetInfo,
    brokers: Vec<String>,
    commits: CommitsMode,
    groups: Arc<NameFilter>,
    topics: NameFilter,
    pool: client::Pool,
    previous: Option<Snapshot>,
    states: StateMemory,
    reader: offsets_topic::OffsetsReader,
    /// Published every poll as the `kafka_client` document.
    profile: collect::ClientProfile,
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("brokers", &self.brokers)
            .field("commits", &self.commits)
            .field("client_id", &self.client_id)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("info", &self.info)
            .finish()
    }
}

impl KafkaSource {
    pub fn new(s: KafkaSettings) -> Self {
        let target = s.brokers.join(",");
        let profile = collect::ClientProfile {
            client_id: s.client_id.clone(),
            tls: s.tls.as_ref().map(|_| collect::TlsProfile {
                ca_file: s
                    .tls_ca_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            }),
            sasl: s.sasl.as_ref().map(|a| collect::SaslProfile {
                mechanism: a.mechanism.name(),
                username: a.username.clone(),
                handshake_first: true,
            }),
        };
        KafkaSource {
            info: TargetInfo {
                source: "kafka",
                target: target.clone(),
                phase_key: target,
                identity: Default::default(),
            },
            pool: client::Pool::with_tls(&s.client_id, s.tls.clone()).with_sasl(s.sasl.clone()),
            brokers: s.brokers,
            commits: s.commits,
            groups: Arc::new(s.groups),
            topics: s.topics,
            previous: None,
            states: StateMemory::default(),
            reader: Default::default(),
            profile,
        }
    }

    /// Polls once and returns the snapshot (for benchmarks and tests that want the raw answer).
    pub async fn poll(&mut self, timeout: Duration) -> Result<Snapshot, String> {
        // A small margin so our own error, not the collector's cut, says what was slow.
        let margin = (timeout / 10).min(Duration::from_millis(200));
        let deadline = tokio::time::Instant::now() + timeout.saturating_sub(margin);
        let settings = PollSettings {
            bootstrap: &self.brokers,
            groups: &self.groups,
            topics: &self.topics,
        };
        let mut snap = collect::poll(&mut self.pool, &settings, deadline).await?;
        snap.at_ms = crate::model::now_ms();
        Ok(snap)
    }
}

impl Source for KafkaSource {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    async fn scrape(&mut self, timeout: Duration) -> Result<ScrapeOutput, SourceError> {
        let started = tokio::time::Instant::now();
        let mut snap = self.poll(timeout).await.map_err(SourceError)?;
        let mut extra = Vec::new();
        let mut note = None;
        let mut source = "admin-api";
        if self.commits != CommitsMode::AdminApi {
            // What is left of the poll's budget, with the same margin as the poll's.
            let margin = (timeout / 10).min(Duration::from_millis(200));
            let deadline = started + timeout.saturating_sub(margin);
            let leaders = snap.offsets_topic.clone();
            let report = self
                .reader
                .read(&mut self.pool, &leaders, &self.groups, deadline)
                .await;
            let pending = self.reader.take_pending();
            let behind = self.reader.behind().unwrap_or(0);
            let why_not = match (&report.unreadable, self.commits) {
                (Some(why), _) => Some(why.clone()),
                (None, CommitsMode::Auto) if !self.reader.has_commits() => Some(format!(
                    "{} holds no commit records ({} records read)",
                    offsets_topic::TOPIC,
                    self.reader.records_total
                )),
                (None, CommitsMode::Auto) if behind > 0 => Some(format!(
                    "still reading {} ({behind} records behind)",
                    offsets_topic::TOPIC
                )),
                _ => None,
            };
            snap.warnings.extend(report.warnings.iter().cloned());
            match (why_not, self.commits) {
                (Some(why), CommitsMode::Auto) => {
                    note = Some(format!(
                        "commits = \"auto\": committed offsets come from the Admin API (OffsetFetch), so commit times are poll times, because {why}"
                    ));
                }
                (why, _) => {
                    if let Some(why) = why {
                        note = Some(format!("commits = \"offsets-topic\": {why}"));
                    } else if behind > 0 {
                        note = Some(format!(
                            "commits = \"offsets-topic\": still reading {} ({behind} records behind); groups may be incomplete",
                            offsets_topic::TOPIC
                        ));
                    }
                    self.reader
                        .apply_to(&mut snap, &self.topics, &leaders, &report.answered);
                    source = "offsets-topic";
                }
            }
            // Falling back, the poll's OffsetFetch answer is the committed offset: commits read
            // meanwhile are counted but not stored as samples next to it.
            let commits: &[offsets_topic::CommitSeen] = if source == "offsets-topic" {
                &pending
            } else {
                &[]
            };
            extra = self.reader.readings(commits, &self.topics);
        }
        if let Some(n) = &note {
            snap.warnings.push(n.clone());
        }
        let events = self
            .previous
            .as_ref()
            .map(|p| events::diff(p, &snap))
            .unwrap_or_default();
        let mut readings = collect::readings(&snap, &mut self.states);
        readings.extend(extra);
        let mut documents = collect::documents(&snap, source, note.as_deref());
        documents.extend(self.profile.document());
        let warnings = snap.warnings.clone();
        self.previous = Some(snap);
        Ok(ScrapeOutput {
            readings,
            events,
            documents,
            warnings,
            identity: Default::default(),
            metadata: vec![],
            up_since: None,
        })
    }
}
