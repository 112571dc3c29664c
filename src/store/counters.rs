//! The engine's counters and hold-time distributions, reachable only through methods: every
//! figure of [`StoreStats`](super::StoreStats) that is not read from memory structures comes from
//! here, and every hold of the writer (or of a lane's append lock) is recorded by a [`HoldTimer`]
//! when it ends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::hist::{Hist, HoldSummary};

/// What held the writer (or, for sealing and lane switches, the active lane's append lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Compaction or merge chunk rows (with the superseded chunks a merge deletes).
    ChunkBatch,
    SeriesState,
    Watermark,
    /// Sealing a block, and moving the merge and retention marks.
    Marks,
    HeadLogCleanup,
    Retention,
    /// Switching appends to the other head-log lane (waits for no append, holds the old lane's
    /// append lock for a moment).
    LaneSwitch,
    /// A WAL-resetting checkpoint (tracked apart from maintenance).
    WalCheckpoint,
    /// Foreground writes (tracked apart from maintenance): registering new series, events,
    /// documents, and loading engine state at open.
    Registry,
    Events,
    Documents,
    Open,
}

impl Hold {
    pub const COUNT: usize = 12;
    pub const ALL: [Hold; Hold::COUNT] = [
        Hold::ChunkBatch,
        Hold::SeriesState,
        Hold::Watermark,
        Hold::Marks,
        Hold::HeadLogCleanup,
        Hold::Retention,
        Hold::LaneSwitch,
        Hold::WalCheckpoint,
        Hold::Registry,
        Hold::Events,
        Hold::Documents,
        Hold::Open,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Hold::ChunkBatch => "chunk batch",
            Hold::SeriesState => "series state",
            Hold::Watermark => "watermark",
            Hold::Marks => "seal and marks",
            Hold::HeadLogCleanup => "head log cleanup",
            Hold::Retention => "retention",
            Hold::LaneSwitch => "head-log lane switch",
            Hold::WalCheckpoint => "wal checkpoint",
            Hold::Registry => "series registration",
            Hold::Events => "events",
            Hold::Documents => "documents",
            Hold::Open => "open",
        }
    }

    /// Background maintenance (counted in `maintenance_tx`), as opposed to the WAL checkpoint
    /// and foreground writes.
    pub fn is_maintenance(self) -> bool {
        !matches!(
            self,
            Hold::WalCheckpoint | Hold::Registry | Hold::Events | Hold::Documents | Hold::Open
        )
    }

    fn is_foreground(self) -> bool {
        matches!(
            self,
            Hold::Registry | Hold::Events | Hold::Documents | Hold::Open
        )
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    ingested: AtomicU64,
    rejected: AtomicU64,
    compactions: AtomicU64,
    chunks_written: AtomicU64,
    chunks_deleted: AtomicU64,
    corrupt_chunks: AtomicU64,
    append_wait: Hist,
    /// Appends with events wait for the main database's writer.
    event_wait: Hist,
    /// Every maintenance transaction, and every hold split by [`Hold`] kind.
    maint_tx: Hist,
    by_kind: [Hist; Hold::COUNT],
    wal_hold: Hist,
    wal_locked: AtomicU64,
    wal_caught_up: AtomicU64,
    peak_wal_bytes: AtomicU64,
    lane_switches: AtomicU64,
}

/// A snapshot of the counters, for `StoreStats`.
pub(crate) struct CounterStats {
    pub ingested: u64,
    pub rejected: u64,
    pub compactions: u64,
    pub chunks_written: u64,
    pub chunks_deleted: u64,
    pub corrupt_chunks: u64,
    pub append_wait: HoldSummary,
    pub event_wait: HoldSummary,
    pub maintenance_tx: HoldSummary,
    pub maintenance_by_kind: BTreeMap<String, HoldSummary>,
    pub foreground_by_kind: BTreeMap<String, HoldSummary>,
    pub wal_hold: HoldSummary,
    pub wal_locked: u64,
    pub wal_caught_up: u64,
    pub peak_wal_bytes: u64,
    pub lane_switches: u64,
}

impl Counters {
    pub fn samples(&self, accepted: usize, rejected: usize) {
        self.ingested.fetch_add(accepted as u64, Ordering::Relaxed);
        self.rejected.fetch_add(rejected as u64, Ordering::Relaxed);
    }

    pub fn compaction(&self) {
        self.compactions.fetch_add(1, Ordering::Relaxed);
    }

    pub fn chunks(&self, written: u64, deleted: u64) {
        self.chunks_written.fetch_add(written, Ordering::Relaxed);
        self.chunks_deleted.fetch_add(deleted, Ordering::Relaxed);
    }

    pub fn corrupt_chunk(&self) {
        self.corrupt_chunks.fetch_add(1, Ordering::Relaxed);
    }

    pub fn append_wait(&self, d: Duration) {
        self.append_wait.record(d);
    }

    pub fn event_wait(&self, d: Duration) {
        self.event_wait.record(d);
    }

    pub fn lane_switch(&self) {
        self.lane_switches.fetch_add(1, Ordering::Relaxed);
    }

    pub fn wal_seen(&self, bytes: u64) {
        self.peak_wal_bytes.fetch_max(bytes, Ordering::Relaxed);
    }

    pub fn wal_locked_checkpoint(&self, caught_up: bool) {
        self.wal_locked.fetch_add(1, Ordering::Relaxed);
        if caught_up {
            self.wal_caught_up.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Starts timing a hold; it is recorded when the timer is dropped.
    pub fn time(&self, kind: Hold) -> HoldTimer<'_> {
        HoldTimer {
            counters: self,
            kind,
            started: Instant::now(),
        }
    }

    fn record_hold(&self, kind: Hold, d: Duration) {
        if d.as_micros() > 5_000 {
            tracing::debug!(
                what = kind.as_str(),
                ms = d.as_secs_f64() * 1000.0,
                "Slow writer hold."
            );
        }
        if kind == Hold::WalCheckpoint {
            self.wal_hold.record(d);
        } else if kind.is_maintenance() {
            self.maint_tx.record(d);
        }
        self.by_kind[kind as usize].record(d);
    }

    /// Resets the peak and distribution figures (not the totals).
    pub fn reset_peaks(&self) {
        self.append_wait.reset();
        self.event_wait.reset();
        self.maint_tx.reset();
        for h in &self.by_kind {
            h.reset();
        }
        self.wal_hold.reset();
        self.wal_locked.store(0, Ordering::Relaxed);
        self.wal_caught_up.store(0, Ordering::Relaxed);
        self.peak_wal_bytes.store(0, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CounterStats {
        let by_kind = |keep: fn(Hold) -> bool| -> BTreeMap<String, HoldSummary> {
            Hold::ALL
                .iter()
                .filter(|k| keep(**k))
                .map(|k| (k.as_str().to_string(), self.by_kind[*k as usize].summary()))
                .filter(|(_, s)| s.count > 0)
                .collect()
        };
        CounterStats {
            ingested: self.ingested.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            compactions: self.compactions.load(Ordering::Relaxed),
            chunks_written: self.chunks_written.load(Ordering::Relaxed),
            chunks_deleted: self.chunks_deleted.load(Ordering::Relaxed),
            corrupt_chunks: self.corrupt_chunks.load(Ordering::Relaxed),
            append_wait: self.append_wait.summary(),
            event_wait: self.event_wait.summary(),
            maintenance_tx: self.maint_tx.summary(),
            maintenance_by_kind: by_kind(Hold::is_maintenance),
            foreground_by_kind: by_kind(Hold::is_foreground),
            wal_hold: self.wal_hold.summary(),
            wal_locked: self.wal_locked.load(Ordering::Relaxed),
            wal_caught_up: self.wal_caught_up.load(Ordering::Relaxed),
            peak_wal_bytes: self.peak_wal_bytes.load(Ordering::Relaxed),
            lane_switches: self.lane_switches.load(Ordering::Relaxed),
        }
    }
}

/// Times one hold; records it (by kind) when dropped.
pub(crate) struct HoldTimer<'a> {
    counters: &'a Counters,
    kind: Hold,
    started: Instant,
}

impl HoldTimer<'_> {
    pub fn started(&self) -> Instant {
        self.started
    }
}

impl Drop for HoldTimer<'_> {
    fn drop(&mut self) {
        self.counters.record_hold(self.kind, self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_recorded_by_kind_when_the_timer_ends() {
        let c = Counters::default();
        drop(c.time(Hold::ChunkBatch));
        drop(c.time(Hold::WalCheckpoint));
        drop(c.time(Hold::Events));
        let s = c.snapshot();
        assert_eq!(s.maintenance_tx.count, 1);
        assert_eq!(s.wal_hold.count, 1);
        assert_eq!(
            s.maintenance_by_kind.keys().collect::<Vec<_>>(),
            vec!["chunk batch"]
        );
        assert_eq!(
            s.foreground_by_kind.keys().collect::<Vec<_>>(),
            vec!["events"]
        );
        c.reset_peaks();
        assert_eq!(c.snapshot().maintenance_tx.count, 0);
    }
}
