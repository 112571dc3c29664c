//! What the benchmarks share: sizes from the environment, the process' CPU time, percentiles.

#![allow(dead_code)]

/// A size from the environment (`BENCH_SERIES=…`), or the default.
pub fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time of the whole process so far, in ns, summed over its live threads (Linux
/// `/proc/self/task/*/schedstat`); wall times on a shared machine measure the neighbours too.
pub fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The `p` quantile (nearest rank) of sorted values.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
