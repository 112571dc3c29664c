//! The `[clusters.host]` section: read the machine kafkascope runs on.
//!
//! ```toml
//! [clusters.host]
//! name = "broker-1"                  # the `instance` label; default: this machine's hostname
//! log_dirs = ["/var/lib/kafka/data"] # Kafka's log.dirs: file-system fill and segment residency
//! interval = "15s"                   # optional, else the cluster's
//! cachestat = false                  # count page-cache hits/misses with tracefs' function profiler
//! cache_hit_floor = 0.9              # event when cachestat's hit ratio falls below (0–1)
//! memory_pressure_spike = 0.1        # event when memory PSI `some` exceeds this share of an interval
//! residency_max_files = 2000         # segment files checked per interval, newest first
//! residency_recent_segments = 3      # segments counted as "recent" besides the active one
//! ```
//!
//! Hosts other than this one are read by installing `kafkascope agent` on them and scraping it
//! with a `[[clusters.prometheus]]` target (or a node_exporter the same way): the host pages show
//! every target that writes node_exporter's series alike.

use crate::config::{ConfigError, Dur};
use crate::sources::{BuildContext, PlannedTarget, Sections};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub name: Option<String>,
    #[serde(default)]
    pub log_dirs: Vec<PathBuf>,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
    /// Turn on tracefs' function profiler for cachestat's counts (root; it changes kernel tracing
    /// state while kafkascope runs, so it is asked for, not assumed).
    #[serde(default)]
    pub cachestat: bool,
    #[serde(default = "default_floor")]
    pub cache_hit_floor: f64,
    #[serde(default = "default_psi")]
    pub memory_pressure_spike: f64,
    #[serde(default = "default_max_files")]
    pub residency_max_files: usize,
    #[serde(default = "default_recent")]
    pub residency_recent_segments: usize,
}

fn default_floor() -> f64 {
    0.9
}
fn default_psi() -> f64 {
    0.1
}
fn default_max_files() -> usize {
    2000
}
fn default_recent() -> usize {
    3
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            name: None,
            log_dirs: vec![],
            interval: None,
            timeout: None,
            cachestat: false,
            cache_hit_floor: default_floor(),
            memory_pressure_spike: default_psi(),
            residency_max_files: default_max_files(),
            residency_recent_segments: default_recent(),
        }
    }
}

/// This machine's name, as `hostname` prints it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

pub(super) fn build(
    ctx: &BuildContext<'_>,
    sections: &mut Sections,
) -> Result<Vec<PlannedTarget>, ConfigError> {
    let Some(v) = sections.remove("host") else {
        return Ok(vec![]);
    };
    let c: HostConfig = ctx.origin.section(&format!("{}.host", ctx.path), &v)?;
    if !(0.0..=1.0).contains(&c.cache_hit_floor) {
        return Err(ctx.error("host.cache_hit_floor", "must be between 0 and 1"));
    }
    if !(0.0..=1.0).contains(&c.memory_pressure_spike) {
        return Err(ctx.error("host.memory_pressure_spike", "must be between 0 and 1"));
    }
    if c.residency_max_files == 0 {
        return Err(ctx.error("host.residency_max_files", "must be at least 1"));
    }
    if let Some(name) = &c.name
        && (name.trim().is_empty() || name.len() > 253)
    {
        return Err(ctx.error("host.name", "must be a non-empty host name"));
    }
    for (i, d) in c.log_dirs.iter().enumerate() {
        if !d.is_absolute() {
            return Err(ctx.error(
                &format!("host.log_dirs[{i}]"),
                format!(
                    "{:?} must be an absolute path (Kafka's log.dirs)",
                    d.display()
                ),
            ));
        }
    }
    let (interval, timeout) = ctx.schedule(c.interval.map(|d| d.0), c.timeout.map(|d| d.0));
    if timeout > interval {
        return Err(ctx.error(
            "host.timeout",
            "must not be longer than the interval (scrapes of one target never overlap)",
        ));
    }
    Ok(vec![PlannedTarget {
        cluster: ctx.cluster.name.clone(),
        source: Box::new(super::HostSource::new(c)),
        interval,
        timeout,
    }])
}

/// Without a config file, kafkascope reads the machine it runs on.
pub(super) fn default_local() -> Option<toml::Value> {
    Some(toml::Value::Table(toml::Table::new()))
}
