//! The collector: one task per target, each on its own schedule.
//!
//! A target is scraped once per interval at a fixed phase inside the interval (spread by a hash of
//! its name, so targets don't all fire at once), and its samples are stamped with the start of the
//! interval slot — aligned timestamps compress to almost nothing. Scrapes of one target never
//! overlap (the loop awaits each one), every scrape is bounded by a timeout, and a failing target
//! backs off exponentially. Whatever happens, every attempt writes `up` and
//! `scrape_duration_seconds`, so a dead, slow or garbage-speaking target is data, not silence, and
//! it never affects any other target.

use crate::catalogue::{Catalogue, MetricDef, MetricType, SourceCatalogue, Unit};
use crate::model::{Event, Labels, MetricKind, Sample, SeriesKey, Severity, Timestamp, now_ms};
use crate::sources::{PlannedTarget, Retry, ScrapeOutput, Source, SourceError, SourceEvent};
use crate::store::Store;
use crate::targets::{TargetRegistry, TargetStatus};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, info_span, warn};

/// The series the collector writes for every target, whatever its source.
pub const CATALOGUE: SourceCatalogue = SourceCatalogue {
    metrics: &[
        MetricDef {
            name: "up",
            kind: MetricType::Gauge,
            unit: Unit::None,
            help: "1 when the target's last scrape succeeded, 0 when it failed",
        },
        MetricDef {
            name: "scrape_duration_seconds",
            kind: MetricType::Gauge,
            unit: Unit::Seconds,
            help: "How long the target's scrape took",
        },
        MetricDef {
            name: "scrape_samples_scraped",
            kind: MetricType::Gauge,
            unit: Unit::None,
            help: "Samples the target's last successful scrape produced",
        },
    ],
    rule: None,
    family: None,
};

/// Event kinds the collector emits for every target.
pub const TARGET_DOWN: &str = "target_down";
pub const TARGET_UP: &str = "target_up";

/// Scheduling parameters of one target.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub interval: Duration,
    pub timeout: Duration,
    pub max_backoff: Duration,
}

/// Owns the target tasks; dropping it without `shutdown` aborts them.
pub struct Collector {
    store: Store,
    catalogue: Catalogue,
    max_backoff: Duration,
    registry: TargetRegistry,
    tasks: JoinSet<()>,
    stop: watch::Sender<bool>,
}

impl Collector {
    /// `catalogue` learns the metadata sources report; `max_backoff` caps the pause between
    /// attempts while a target keeps failing.
    pub fn new(store: Store, catalogue: Catalogue, max_backoff: Duration) -> Self {
        let (stop, _) = watch::channel(false);
        Self {
            store,
            catalogue,
            max_backoff,
            registry: TargetRegistry::default(),
            tasks: JoinSet::new(),
            stop,
        }
    }

    pub fn registry(&self) -> TargetRegistry {
        self.registry.clone()
    }

    /// Starts the task of a planned target (see `crate::sources::build_all`).
    pub fn spawn_planned(&mut self, t: PlannedTarget) {
        let schedule = Schedule {
            interval: t.interval,
            timeout: t.timeout,
            max_backoff: self.max_backoff,
        };
        self.spawn(&t.cluster, t.source, schedule);
    }

    /// Starts the task of one target.
    pub fn spawn<S: Source>(&mut self, cluster: &str, source: S, schedule: Schedule) {
        let info = source.info().clone();
        let index = self.registry.register(TargetStatus {
            cluster: cluster.to_string(),
            source: info.source,
            target: info.target.clone(),
            identity: info.identity.clone(),
            interval_ms: schedule.interval.as_millis() as i64,
            timeout_ms: schedule.timeout.as_millis() as i64,
            up: None,
            last_scrape: None,
            last_success: None,
            last_error: None,
            warnings: vec![],
            last_duration_ms: None,
            last_samples: 0,
            consecutive_failures: 0,
            next_scrape: None,
            scrapes_total: 0,
            failures_total: 0,
        });
        let task = TargetTask {
            cluster: cluster.to_string(),
            source,
            schedule,
            store: self.store.clone(),
            catalogue: self.catalogue.clone(),
            registry: self.registry.clone(),
            index,
            stop: self.stop.subscribe(),
            was_up: None,
            down_since: None,
        };
        let span =
            info_span!("target", cluster = %cluster, source = info.source, target = %info.target);
        self.tasks.spawn(task.run().instrument(span));
    }

    /// Stops every target task and waits for the scrape in flight (bounded by its timeout).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

struct TargetTask<S: Source> {
    cluster: String,
    source: S,
    schedule: Schedule,
    store: Store,
    catalogue: Catalogue,
    registry: TargetRegistry,
    index: usize,
    stop: watch::Receiver<bool>,
    was_up: Option<bool>,
    /// When the current run of failures started (for dating a return from the target's uptime).
    down_since: Option<Timestamp>,
}

/// Where in the interval a target fires: a stable hash of its cluster and phase key (see
/// `TargetInfo::phase_key`), so restarts keep the phase and targets of one server fire together.
fn phase_of(cluster: &str, phase_key: &str, interval: Duration) -> Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (cluster, phase_key).hash(&mut h);
    let interval_ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h.finish() % interval_ms)
}

/// The next firing time at or after `now` for a target with this phase, and the slot it stamps.
fn next_slot(now: Timestamp, interval_ms: i64, phase_ms: i64) -> (Timestamp, Timestamp) {
    let slot = (now - phase_ms).div_euclid(interval_ms) * interval_ms;
    let mut fire = slot + phase_ms;
    let mut stamp = slot;
    if fire < now {
        fire += interval_ms;
        stamp += interval_ms;
    }
    (fire, stamp)
}

/// How many intervals to wait after `failures` consecutive failures: 1, 2, 4, … capped.
fn backoff_intervals(failures: u32, interval: Duration, max_backoff: Duration) -> u32 {
    if failures == 0 {
        return 1;
    }
    let cap = (max_backoff.as_millis() / interval.as_millis().max(1)).max(1) as u32;
    (1u32 << failures.saturating_sub(1).min(16)).min(cap)
}

impl<S: Source> TargetTask<S> {
    /// A source's event in this target's cluster, at the time the source gives or now.
    fn event(&self, e: SourceEvent, now: Timestamp) -> Event {
        Event {
            ts: e.at.filter(|t| *t <= now).unwrap_or(now),
            kind: e.kind,
            severity: e.severity,
            cluster: self.cluster.clone(),
            subject: e.subject,
            message: e.message,
        }
    }

    async fn run(mut self) {
        let info = self.source.info().clone();
        let interval_ms = self.schedule.interval.as_millis() as i64;
        let phase_ms =
            phase_of(&self.cluster, &info.phase_key, self.schedule.interval).as_millis() as i64;
        let mut skip = 0u32;
        loop {
            let (fire, stamp) = next_slot(now_ms(), interval_ms, phase_ms);
            let fire = fire + i64::from(skip) * interval_ms;
            let stamp = stamp + i64::from(skip) * interval_ms;
            self.registry
                .update(self.index, |s| s.next_scrape = Some(fire));
            let wait = Duration::from_millis((fire - now_ms()).max(0) as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop.changed() => return,
            }
            let failures = self.scrape_once(stamp).await;
            skip = match self.source.retry() {
                Retry::EveryInterval => 0,
                Retry::Backoff => {
                    backoff_intervals(failures, self.schedule.interval, self.schedule.max_backoff)
                        - 1
                }
            };
            if *self.stop.borrow() {
                return;
            }
        }
    }

    /// Scrapes once, writes the outcome, and returns the number of consecutive failures.
    async fn scrape_once(&mut self, stamp: Timestamp) -> u32 {
        let info = self.source.info().clone();
        let started = Instant::now();
        let timeout = self.schedule.timeout;
        let result = match tokio::time::timeout(timeout, self.source.scrape(timeout)).await {
            Ok(r) => r,
            Err(_) => Err(SourceError(format!(
                "{}: no answer within the {} timeout",
                info.target,
                crate::config::format_duration(timeout)
            ))),
        };
        let elapsed = started.elapsed();
        let target_labels = Labels::from_pairs([
            ("cluster", self.cluster.as_str()),
            ("source", info.source),
            ("target", info.target.as_str()),
        ]);
        let mut samples = Vec::new();
        let mut events = Vec::new();
        let up = result.is_ok();
        let meta = |metric: &str, value: f64| Sample {
            key: SeriesKey::new(metric, target_labels.clone()),
            kind: MetricKind::Gauge,
            ts: stamp,
            value,
        };
        samples.push(meta("up", if up { 1.0 } else { 0.0 }));
        samples.push(meta("scrape_duration_seconds", elapsed.as_secs_f64()));

        let now = now_ms();
        let mut documents = Vec::new();
        let mut learned = Vec::new();
        let mut up_since = None;
        let (error, warnings, identity, n_readings) = match result {
            Ok(ScrapeOutput {
                readings,
                events: source_events,
                documents: docs,
                warnings,
                identity,
                metadata,
                up_since: since,
            }) => {
                learned = self.catalogue.learn(&metadata);
                up_since = since;
                let n = readings.len();
                samples.push(meta("scrape_samples_scraped", n as f64));
                for r in readings {
                    let mut labels = r.labels;
                    labels.insert("cluster", self.cluster.clone());
                    samples.push(Sample {
                        key: SeriesKey::new(r.metric, labels),
                        kind: r.kind,
                        // A reading with its own time (a commit's) is kept at it, never later
                        // than now.
                        ts: r.at.map_or(stamp, |t| t.min(now)),
                        value: r.value,
                    });
                }
                events.extend(source_events.into_iter().map(|e| self.event(e, now)));
                documents = docs;
                (None, warnings, Some(identity), n)
            }
            Err(e) => (Some(e.0), vec![], None, 0),
        };
        let noticed = self.source.take_events();
        events.extend(noticed.into_iter().map(|e| self.event(e, now)));

        if self.was_up != Some(up) {
            match (&error, self.was_up) {
                (Some(err), _) => events.push(Event {
                    ts: now,
                    kind: TARGET_DOWN.into(),
                    severity: Severity::Warning,
                    cluster: self.cluster.clone(),
                    subject: info.target.clone(),
                    message: format!("{} target {} is down: {err}", info.source, info.target),
                }),
                (None, Some(false)) => events.push(Event {
                    // Back since the target says it started, if that is after it went down.
                    ts: up_since
                        .filter(|t| self.down_since.is_some_and(|d| *t >= d) && *t <= now)
                        .unwrap_or(now),
                    kind: TARGET_UP.into(),
                    severity: Severity::Info,
                    cluster: self.cluster.clone(),
                    subject: info.target.clone(),
                    message: format!("{} target {} is up again", info.source, info.target),
                }),
                (None, _) => {}
            }
            self.was_up = Some(up);
            self.down_since = (!up).then_some(now);
        }

        match &error {
            Some(e) => warn!(error = %e, "Scrape failed."),
            None => debug!(
                readings = n_readings,
                elapsed_ms = elapsed.as_millis() as u64,
                "Scrape done."
            ),
        }
        let mut write_error = None;
        if let Err(e) = self.store.write(&samples, &events).await {
            warn!(error = %e, "Could not store the scrape.");
            write_error = Some(format!("storing the scrape failed: {e}"));
        }
        let docs: Vec<(&str, &str, &str)> = documents
            .iter()
            .map(|d| (d.subject.as_str(), d.name.as_str(), d.body.as_str()))
            .collect();
        if let Err(e) = self.store.put_documents(&self.cluster, now, &docs).await {
            warn!(error = %e, documents = docs.len(), "Could not store the documents.");
        }
        for m in &learned {
            let body = serde_json::to_string(m).unwrap_or_default();
            if let Err(e) = self
                .store
                .put_document("", crate::catalogue::STORE_SUBJECT, &m.name, now, &body)
                .await
            {
                warn!(error = %e, metric = %m.name, "Could not store a metric's metadata.");
            }
        }
        if !warnings.is_empty()
            && self
                .registry
                .snapshot()
                .get(self.index)
                .map(|s| s.warnings != warnings)
                .unwrap_or(true)
        {
            info!(warnings = ?warnings, "Target reported warnings.");
        }

        let mut failures = 0;
        self.registry.update(self.index, |s| {
            s.scrapes_total += 1;
            s.last_scrape = Some(now);
            s.last_duration_ms = Some(elapsed.as_secs_f64() * 1000.0);
            s.up = Some(up);
            if let Some(id) = identity {
                let mut all = info.identity.clone();
                all.extend(&id);
                s.identity = all;
            }
            if up {
                s.last_success = Some(now);
                s.consecutive_failures = 0;
                s.last_samples = n_readings;
                s.last_error = write_error;
                s.warnings = warnings;
            } else {
                s.failures_total += 1;
                s.consecutive_failures += 1;
                s.last_error = error;
            }
            failures = s.consecutive_failures;
        });
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_and_in_the_future() {
        // 15 s interval, phase 4 s: at t=100 s the next firing is 109 s stamping slot 105 s.
        let (fire, stamp) = next_slot(100_000, 15_000, 4_000);
        assert_eq!((fire, stamp), (109_000, 105_000));
        // Exactly on a firing time fires now.
        assert_eq!(next_slot(109_000, 15_000, 4_000), (109_000, 105_000));
        assert_eq!(stamp % 15_000, 0);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let i = Duration::from_secs(15);
        let cap = Duration::from_secs(120);
        let seq: Vec<u32> = (0..8).map(|f| backoff_intervals(f, i, cap)).collect();
        assert_eq!(seq, vec![1, 1, 2, 4, 8, 8, 8, 8]);
    }

    #[test]
    fn phase_is_stable_and_within_the_interval() {
        let i = Duration::from_secs(15);
        let a = phase_of("lab", "127.0.0.1", i);
        assert_eq!(a, phase_of("lab", "127.0.0.1", i));
        assert!(a < i);
    }
}
