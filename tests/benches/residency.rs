//! `cargo bench --bench residency [-- --files N --per-partition N --budget N --dir PATH]`: the
//! page-cache residency scan over a Kafka-shaped log dir of sparse 1 GiB segment files
//! (`ftruncate`, so they take no disk space), the tail 1 MiB of every active segment written so
//! that some pages are cached and dirty, as on a broker.
//!
//! Measured (the median of 3 runs, except mincore):
//! - **list**: reading the directories and `stat`ing every `.log` ([`Plan::list`]);
//! - **scan, cachestat(2)**: every segment, then within a budget of `--budget` files (one
//!   interval's scan as the host source would do it);
//! - **scan, mincore**: the same with `mmap` + `mincore` (the fallback before Linux 6.5); its
//!   cost grows with the pages mapped, so it runs once, and over more than 1,000 files only
//!   within the budget.
//!
//! Reported: files/s, µs per file, pages checked, cached pages found, peak RSS.
//!
//! Defaults: 10,000 files in 100 partitions, budget 2,000, under cargo's target tmp dir (a
//! disk filesystem). `cargo test --all-targets` runs this binary without cargo's `--bench` flag:
//! it then does a quick smoke run (200 files, budget 50) that proves every phase works.

use kafkascope::sources::host::residency::{Budget, Method, MethodChoice, Plan, ScanReport};
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SEGMENT_BYTES: u64 = 1 << 30;
const TAIL_BYTES: usize = 1 << 20;

struct Options {
    files: usize,
    per_partition: usize,
    budget: usize,
    dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let quick = !std::env::args().any(|a| a == "--bench");
    let mut o = if quick {
        Options {
            files: 200,
            per_partition: 20,
            budget: 50,
            dir: None,
        }
    } else {
        Options {
            files: 10_000,
            per_partition: 100,
            budget: 2_000,
            dir: None,
        }
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |d: usize| args.next().and_then(|v| v.parse().ok()).unwrap_or(d);
        match a.as_str() {
            "--files" => o.files = num(o.files),
            "--per-partition" => o.per_partition = num(o.per_partition).max(1),
            "--budget" => o.budget = num(o.budget),
            "--dir" => o.dir = args.next().map(Into::into),
            _ => {} // `--bench` from cargo bench
        }
    }
    let parent = o
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let tmp = tempfile::tempdir_in(&parent)?;
    let log_dir = tmp.path().to_path_buf();

    let t = Instant::now();
    let partitions = o.files.div_ceil(o.per_partition);
    let mut made = 0;
    for p in 0..partitions {
        let dir = log_dir.join(format!("bench.events-v1-{p}"));
        fs::create_dir(&dir)?;
        let n = o.per_partition.min(o.files - made);
        for s in 0..n {
            let path = dir.join(format!("{:020}.log", s as u64 * 1_000_000));
            let mut f = fs::File::create(&path)?;
            f.set_len(SEGMENT_BYTES)?;
            if s + 1 == n {
                // The active segment's tail: written, so cached and dirty.
                f.seek(SeekFrom::Start(SEGMENT_BYTES - TAIL_BYTES as u64))?;
                f.write_all(&vec![0x42u8; TAIL_BYTES])?;
            }
            fs::write(
                dir.join(format!("{:020}.index", s as u64 * 1_000_000)),
                [0u8; 8],
            )?;
        }
        made += n;
    }
    println!(
        "residency bench{}: {made} sparse segment files of {} GiB in {partitions} partitions under {} (created in {:.1} s)",
        if quick { " (quick)" } else { "" },
        SEGMENT_BYTES >> 30,
        parent.display(),
        t.elapsed().as_secs_f64()
    );

    let dirs = [log_dir.clone()];
    let list = median(3, || {
        let t = Instant::now();
        let plan = Plan::list(&dirs);
        assert_eq!(plan.segment_count(), made);
        t.elapsed()
    });
    println!(
        "list:                 {:>8.1} ms  ({:.1} µs per file)",
        ms(list),
        us(list) / made as f64
    );

    let plan = Plan::list(&dirs);
    let all = Budget {
        max_files: usize::MAX,
        max_pages: u64::MAX,
        recent_segments: 3,
    };
    let limited = Budget {
        max_files: o.budget,
        ..all
    };
    for (choice, name) in [
        (MethodChoice::Auto, "cachestat"),
        (MethodChoice::Mincore, "mincore"),
    ] {
        for (budget, what) in [(all, "all files"), (limited, "budget")] {
            // mincore walks every page of the mapping (~30 ms per sparse GiB here): over
            // thousands of files one run of the budgeted scan says enough.
            let mincore = choice == MethodChoice::Mincore;
            if mincore && budget.max_files == usize::MAX && made > 1_000 {
                println!(
                    "scan {name:<9} {what:<9} (not run over {made} files: see the budgeted run)"
                );
                continue;
            }
            let runs = if mincore { 1 } else { 3 };
            let mut last = None;
            let took = median(runs, || {
                let t = Instant::now();
                let r = plan.run(&budget, choice);
                let took = t.elapsed();
                last = Some(r);
                took
            });
            let r = last.expect("ran");
            check(&r, choice, &budget, made, partitions);
            let cached: u64 = r
                .partitions
                .iter()
                .flat_map(|p| &p.segments)
                .map(|s| s.pages.cached)
                .sum();
            println!(
                "scan {name:<9} {what:<9} {:>8.1} ms  files {:>6}  {:>9.0} files/s  {:>7.1} µs/file  pages checked {:>11}  cached {:>7}  truncated {}",
                ms(took),
                r.files_scanned,
                r.files_scanned as f64 / took.as_secs_f64(),
                us(took) / r.files_scanned.max(1) as f64,
                r.pages_checked,
                cached,
                r.truncated,
            );
        }
    }
    println!("peak RSS: {} kB", vm_hwm_kb().unwrap_or(0));
    let t = Instant::now();
    drop(tmp);
    println!("cleanup: {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// The bench proves the scan did what it says, not just that it ran.
fn check(r: &ScanReport, choice: MethodChoice, budget: &Budget, made: usize, partitions: usize) {
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let expect_files = made.min(budget.max_files);
    assert_eq!(r.files_scanned, expect_files);
    assert_eq!(r.truncated, expect_files < made);
    assert_eq!(
        r.pages_checked,
        expect_files as u64 * (SEGMENT_BYTES / r.page_size)
    );
    let method = match choice {
        MethodChoice::Auto => Method::Cachestat,
        MethodChoice::Mincore => Method::Mincore,
    };
    assert_eq!(r.method, method);
    // Newest first: with a budget of at least one file per partition every active segment
    // is checked, and its written tail is in the cache.
    if expect_files >= partitions {
        for p in &r.partitions {
            let a = p.active.as_ref().expect("active segment checked");
            assert!(a.pages.cached >= 1, "{}: {a:?}", p.name());
        }
    }
}

fn median(n: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut v: Vec<Duration> = (0..n).map(|_| f()).collect();
    v.sort();
    v[n / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn vm_hwm_kb() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}
