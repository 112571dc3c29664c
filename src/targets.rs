//! The live status of every scrape target, shared between the collector (which writes each
//! target's entry after every scrape) and the pages (which read snapshots). It holds no history:
//! that lives in the `up` and `scrape_duration_seconds` series and in `target_down` events.

use crate::model::{Labels, Timestamp};
use std::sync::{Arc, RwLock};

/// What the targets page shows about one target.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TargetStatus {
    pub cluster: String,
    pub source: &'static str,
    pub target: String,
    /// Labels learned while scraping (e.g. `server`), linking the target to its series.
    pub identity: Labels,
    pub interval_ms: i64,
    pub timeout_ms: i64,
    /// None until the first scrape finishes.
    pub up: Option<bool>,
    pub last_scrape: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub last_error: Option<String>,
    pub warnings: Vec<String>,
    pub last_duration_ms: Option<f64>,
    pub last_samples: usize,
    pub consecutive_failures: u32,
    pub next_scrape: Option<Timestamp>,
    pub scrapes_total: u64,
    pub failures_total: u64,
}

/// Shared, read-mostly view of every target's status. Pages read snapshots; only the target's own
/// task writes its entry.
#[derive(Clone, Default)]
pub struct TargetRegistry {
    inner: Arc<RwLock<Vec<TargetStatus>>>,
}

impl TargetRegistry {
    pub fn snapshot(&self) -> Vec<TargetStatus> {
        self.inner.read().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn register(&self, status: TargetStatus) -> usize {
        let mut v = self.inner.write().unwrap_or_else(|p| p.into_inner());
        v.push(status);
        v.len() - 1
    }

    pub fn update(&self, index: usize, f: impl FnOnce(&mut TargetStatus)) {
        let mut v = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = v.get_mut(index) {
            f(s);
        }
    }
}
