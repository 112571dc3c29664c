//! The `[lag]` config section: Burrow's storage and evaluator settings (`intervals`,
//! `min_distance`, `allowed_lag`, `expire_group`) and optional per-group thresholds applied in
//! addition to Burrow's rules (what Burrow users keep asking for: linkedin/Burrow#223, #425,
//! #665, #27).
//!
//! ```toml
//! [lag]
//! intervals = 10          # commits per partition window (Burrow `intervals`)
//! min_distance = "0s"     # Burrow `min-distance`
//! allowed_lag = 0         # lag at or below this counts as none (Burrow `allowed-lag`)
//! expire_group = "7d"     # Burrow `expire-group`
//!
//! [[lag.thresholds]]
//! groups = "^billing-"    # regex over the group id
//! max_lag = 10000         # total lag of the group, messages
//! max_lag_seconds = "5m"  # largest lag in seconds of the group
//! status = "ERR"          # WARN (default) or ERR
//! ```
//!
//! A group over a threshold gets at least that status, and the reason is the group's evidence
//! ("lag 12,000 > threshold 10,000 set for groups matching ^billing-").

use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use super::evaluator::EvalConfig;
use super::{GroupStatus, Status};
use crate::config::Dur;

/// Largest `intervals`: a window read covers `(intervals + 2) × 2` polls of every partition.
const MAX_INTERVALS: usize = 1_000;

/// `[lag]` as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LagConfig {
    pub intervals: Option<usize>,
    pub min_distance: Option<Dur>,
    pub allowed_lag: Option<u64>,
    pub expire_group: Option<Dur>,
    #[serde(default)]
    pub thresholds: Vec<ThresholdConfig>,
}

/// One `[[lag.thresholds]]` table as written.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    /// A regex over the group id (unanchored, as Burrow's allow/deny lists).
    pub groups: String,
    /// The group's total lag (messages) above which the status applies.
    pub max_lag: Option<u64>,
    /// The group's largest lag in seconds above which the status applies.
    pub max_lag_seconds: Option<Dur>,
    /// `WARN` (default) or `ERR`.
    pub status: Option<String>,
}

/// A compiled threshold.
#[derive(Clone, Debug)]
pub struct Threshold {
    pub groups: Regex,
    pub max_lag: Option<u64>,
    pub max_lag_ms: Option<i64>,
    pub status: Status,
}

/// What the lag engine runs with: Burrow's settings and the thresholds.
#[derive(Clone, Debug, Default)]
pub struct LagSettings {
    pub eval: EvalConfig,
    pub thresholds: Vec<Threshold>,
}

/// `12000` → `12,000`: how a lag reads in an explanation.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(d: Dur) -> i64 {
    i64::try_from(d.0.as_millis()).unwrap_or(i64::MAX)
}

impl LagConfig {
    /// The settings, or the first wrong key under `lag` and what is wrong with it.
    pub fn settings(&self) -> Result<LagSettings, (String, String)> {
        let mut eval = EvalConfig::default();
        if let Some(n) = self.intervals {
            if n == 0 || n > MAX_INTERVALS {
                return Err((
                    "intervals".into(),
                    format!("{n} must be between 1 and {MAX_INTERVALS}"),
                ));
            }
            eval.intervals = n;
        }
        if let Some(d) = self.min_distance {
            eval.min_distance_ms = ms(d);
        }
        if let Some(a) = self.allowed_lag {
            eval.allowed_lag = a;
        }
        if let Some(d) = self.expire_group {
            if d.0.as_secs() < 60 {
                return Err((
                    "expire_group".into(),
                    "must be at least 1m (a group is forgotten this long after its last commit)"
                        .into(),
                ));
            }
            eval.expire_group_ms = ms(d);
        }
        let mut thresholds = Vec::with_capacity(self.thresholds.len());
        for (i, t) in self.thresholds.iter().enumerate() {
            let key = |k: &str| format!("thresholds[{i}].{k}");
            let groups =
                Regex::new(&t.groups).map_err(|e| (key("groups"), format!("not a regex: {e}")))?;
            if t.max_lag.is_none() && t.max_lag_seconds.is_none() {
                return Err((
                    key("max_lag"),
                    "a threshold needs max_lag, max_lag_seconds or both".into(),
                ));
            }
            let status = match t.status.as_deref() {
                None | Some("WARN") => Status::Warn,
                Some("ERR") => Status::Err,
                Some(other) => {
                    return Err((key("status"), format!("{other:?} is not WARN or ERR")));
                }
            };
            thresholds.push(Threshold {
                groups,
                max_lag: t.max_lag,
                max_lag_ms: t.max_lag_seconds.map(ms),
                status,
            });
        }
        Ok(LagSettings { eval, thresholds })
    }
}

impl LagSettings {
    /// Raises `g`'s status to that of every threshold its group is over and says why in its
    /// evidence. `max_seconds` is the group's largest lag in seconds (None when unknown: a
    /// seconds threshold then says nothing).
    pub fn apply_thresholds(&self, g: &mut GroupStatus, max_seconds: Option<f64>) {
        if g.status == Status::NotFound {
            return;
        }
        for t in &self.thresholds {
            if !t.groups.is_match(&g.group) {
                continue;
            }
            let mut over = Vec::new();
            if let Some(max) = t.max_lag
                && g.totallag > max
            {
                over.push(format!(
                    "lag {} > threshold {}",
                    thousands(g.totallag),
                    thousands(max)
                ));
            }
            if let (Some(max), Some(s)) = (t.max_lag_ms, max_seconds)
                && s * 1000.0 > max as f64
            {
                over.push(format!(
                    "lag time {} > threshold {}",
                    super::evaluator::human_ms((s * 1000.0) as i64),
                    super::evaluator::human_ms(max)
                ));
            }
            if over.is_empty() {
                continue;
            }
            g.status = g.status.max(t.status);
            g.evidence.push(format!(
                "{} set for groups matching {} ({})",
                over.join(", "),
                t.groups.as_str(),
                t.status
            ));
        }
    }
}

static INSTALLED: OnceLock<LagSettings> = OnceLock::new();

/// Makes `s` the settings of [`current`] (once, at startup; later calls are ignored).
pub fn install(s: LagSettings) {
    let _ = INSTALLED.set(s);
}

/// The settings the server was started with (Burrow's defaults before [`install`]), for the
/// background tasks that are not handed the config (the notifier).
pub fn current() -> &'static LagSettings {
    static DEFAULT: OnceLock<LagSettings> = OnceLock::new();
    INSTALLED
        .get()
        .unwrap_or_else(|| DEFAULT.get_or_init(LagSettings::default))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LagSettings, (String, String)> {
        let c: LagConfig = toml::from_str(text).expect("toml");
        c.settings()
    }

    fn group(name: &str, status: Status, totallag: u64) -> GroupStatus {
        let mut g = GroupStatus::not_found("c", name);
        g.status = status;
        g.totallag = totallag;
        g
    }

    #[test]
    fn burrows_settings_feed_the_evaluator() {
        let s = parse(
            "intervals = 15\nmin_distance = \"30s\"\nallowed_lag = 5\nexpire_group = \"2d\"\n",
        )
        .expect("valid");
        assert_eq!(s.eval.intervals, 15);
        assert_eq!(s.eval.min_distance_ms, 30_000);
        assert_eq!(s.eval.allowed_lag, 5);
        assert_eq!(s.eval.expire_group_ms, 2 * 86_400_000);
        // Positive control: an empty section is Burrow's defaults.
        let s = parse("").expect("valid");
        assert_eq!(s.eval, EvalConfig::default());
    }

    #[test]
    fn lags_read_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }

    #[test]
    fn errors_name_the_key() {
        for (text, key) in [
            ("intervals = 0", "intervals"),
            ("intervals = 5000", "intervals"),
            ("expire_group = \"10s\"", "expire_group"),
            (
                "[[thresholds]]\ngroups = \"(\"\nmax_lag = 1",
                "thresholds[0].groups",
            ),
            ("[[thresholds]]\ngroups = \"a\"", "thresholds[0].max_lag"),
            (
                "[[thresholds]]\ngroups = \"a\"\nmax_lag = 1\nstatus = \"STOP\"",
                "thresholds[0].status",
            ),
        ] {
            let (k, m) = parse(text).expect_err(text);
            assert_eq!(k, key, "{text}: {m}");
        }
    }

    #[test]
    fn a_group_over_its_threshold_gets_at_least_its_status() {
        let s = parse(
            "[[thresholds]]\ngroups = \"^billing-\"\nmax_lag = 10000\nstatus = \"ERR\"\n\
             [[thresholds]]\ngroups = \".\"\nmax_lag_seconds = \"5m\"\n",
        )
        .expect("valid");
        let mut g = group("billing-eu", Status::Ok, 12_000);
        s.apply_thresholds(&mut g, Some(10.0));
        assert_eq!(g.status, Status::Err);
        assert_eq!(
            g.evidence,
            vec!["lag 12,000 > threshold 10,000 set for groups matching ^billing- (ERR)"]
        );
        // Under the threshold, or another group: Burrow's status stands.
        let mut g = group("billing-eu", Status::Ok, 10_000);
        s.apply_thresholds(&mut g, Some(10.0));
        assert_eq!((g.status, g.evidence.len()), (Status::Ok, 0));
        let mut g = group("orders", Status::Ok, 12_000);
        s.apply_thresholds(&mut g, None);
        assert_eq!((g.status, g.evidence.len()), (Status::Ok, 0));
        // A seconds threshold: WARN, and never lowers a worse Burrow status.
        let mut g = group("orders", Status::Ok, 1);
        s.apply_thresholds(&mut g, Some(400.0));
        assert_eq!(g.status, Status::Warn);
        assert!(g.evidence[0].starts_with("lag time 6 min 40 s > threshold 5 min"));
        let mut g = group("orders", Status::Err, 1);
        s.apply_thresholds(&mut g, Some(400.0));
        assert_eq!(g.status, Status::Err);
    }
}
