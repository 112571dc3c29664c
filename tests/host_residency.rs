//! Page-cache residency of files and of Kafka log dirs, on the real filesystem of this machine:
//! `cachestat(2)` (and `mincore`, cross-checked against it) after write, `fsync`,
//! `posix_fadvise(DONTNEED)` and re-read; a log dir laid out as Kafka lays it out with some
//! segments cached and some dropped; unreadable and vanished segments; the budget.
//!
//! Files live under cargo's target tmp dir (a disk filesystem: on tmpfs every page is always
//! "cached" and DONTNEED does nothing).

use kafkascope::sources::host::residency::{
    Budget, Coverage, Method, MethodChoice, PageCounts, Plan, file_residency, parse_partition_dir,
    parse_segment_name, scan,
};
use proptest::prelude::*;
use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const PAGE: u64 = 4096;

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

fn fsync(path: &Path) {
    fs::File::open(path).unwrap().sync_all().unwrap();
}

fn drop_cache(path: &Path) {
    let f = fs::File::open(path).unwrap();
    f.sync_all().unwrap();
    // SAFETY: valid fd for the duration of the call.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0, "posix_fadvise");
}

fn pages(path: &Path) -> PageCounts {
    let (method, counts) = file_residency(path, MethodChoice::Auto).unwrap();
    assert_eq!(
        method,
        Method::Cachestat,
        "this kernel (6.18) has cachestat(2)"
    );
    // mincore sees the same cached pages.
    let (m, by_mincore) = file_residency(path, MethodChoice::Mincore).unwrap();
    assert_eq!(m, Method::Mincore);
    assert_eq!(
        by_mincore.cached, counts.cached,
        "mincore vs cachestat on {path:?}"
    );
    assert_eq!(by_mincore.dirty, None);
    counts
}

/// One stage of fixtures/host/cachestat_syscall_test.txt: (stage, nr_cache, nr_dirty) as
/// fractions of the file's pages.
fn recorded_stages() -> Vec<(String, f64, f64)> {
    let text = include_str!("fixtures/host/cachestat_syscall_test.txt");
    let mut total = None;
    let mut stages = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("after ")) {
        let (stage, rest) = line.split_once("rc=0").unwrap();
        let field = |name: &str| -> f64 {
            let v = rest
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .unwrap();
            v.parse().unwrap()
        };
        let cache = field("nr_cache=");
        let total = *total.get_or_insert(cache); // the first stage has every page cached
        stages.push((
            stage.trim().to_string(),
            cache / total,
            field("nr_dirty=") / total,
        ));
    }
    stages
}

/// What fixtures/host/cachestat_syscall_test.txt records: all cached and dirty after a write,
/// clean after fsync, gone after DONTNEED, all back after a re-read — and the same here.
#[test]
fn write_fsync_dontneed_reread() {
    let recorded = recorded_stages();
    let names: Vec<&str> = recorded.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "after write 32MiB",
            "after fsync",
            "after FADV_DONTNEED",
            "after re-read"
        ]
    );

    let dir = tmpdir();
    let path = dir.path().join("data");
    let n = 2048u64; // 8 MiB
    {
        let mut f = fs::File::create(&path).unwrap();
        f.write_all(&vec![0x5au8; (n * PAGE) as usize]).unwrap();
    }
    let mut seen = Vec::new();
    let written = pages(&path);
    assert_eq!(written.pages, n);
    seen.push(written);
    fsync(&path);
    seen.push(pages(&path));
    drop_cache(&path);
    seen.push(pages(&path));
    let _ = fs::read(&path).unwrap();
    seen.push(pages(&path));

    for (i, ((stage, cache, dirty), now)) in recorded.iter().zip(&seen).enumerate() {
        let frac = |v: u64| v as f64 / n as f64;
        assert_eq!(frac(now.cached), *cache, "{stage}: {now:?}");
        if i == 0 {
            // Freshly written pages are dirty, unless the flusher has already started on them
            // (then they are under writeback or clean): never more than recorded, never none.
            let d = now.dirty.unwrap() + now.writeback.unwrap();
            assert!(d > 0 && frac(d) <= *dirty, "{stage}: {now:?}");
        } else {
            assert_eq!(frac(now.dirty.unwrap()), *dirty, "{stage}: {now:?}");
            assert_eq!(now.writeback, Some(0), "{stage}: {now:?}");
        }
    }
}

/// Writes a segment of `pages` pages and its Kafka companions; `cached` false drops it from
/// the page cache.
fn segment(dir: &Path, base: u64, pages: u64, cached: bool) -> PathBuf {
    let log = dir.join(format!("{base:020}.log"));
    fs::write(&log, vec![1u8; (pages * PAGE) as usize]).unwrap();
    fs::write(dir.join(format!("{base:020}.index")), [0u8; 64]).unwrap();
    fs::write(dir.join(format!("{base:020}.timeindex")), [0u8; 48]).unwrap();
    if cached {
        fsync(&log);
    } else {
        drop_cache(&log);
    }
    log
}

/// A log dir as Kafka lays it out: checkpoints at the top, partition dirs with segments,
/// a partition being deleted and one being moved in (both must be ignored).
fn kafka_log_dir(root: &Path) {
    for f in [
        "recovery-point-offset-checkpoint",
        "log-start-offset-checkpoint",
        "replication-offset-checkpoint",
        "cleaner-offset-checkpoint",
        "meta.properties",
    ] {
        fs::write(root.join(f), "0\n0\n").unwrap();
    }
    // eu.orders-v2-0: an old dropped segment, two recent ones (one dropped), a cached active.
    let p0 = root.join("eu.orders-v2-0");
    fs::create_dir(&p0).unwrap();
    segment(&p0, 0, 8, false);
    segment(&p0, 1000, 8, true);
    segment(&p0, 2000, 8, false);
    segment(&p0, 3000, 4, true);
    fs::write(p0.join("leader-epoch-checkpoint"), "0\n1\n0 0\n").unwrap();
    fs::write(p0.join("partition.metadata"), "version: 0\n").unwrap();
    fs::write(p0.join("00000000000000002500.snapshot"), [0u8; 10]).unwrap();
    // A segment file Kafka is deleting: not a live segment.
    fs::write(p0.join("00000000000000000500.log.deleted"), [0u8; 10]).unwrap();
    // eu.orders-v2-1: a single, dropped active segment.
    let p1 = root.join("eu.orders-v2-1");
    fs::create_dir(&p1).unwrap();
    segment(&p1, 0, 2, false);
    for gone in [
        "eu.orders-v2-2.9f8e7d6c5b4a39281706f5e4d3c2b1a0-delete",
        "eu.orders-v2-3.9f8e7d6c5b4a39281706f5e4d3c2b1a0-future",
    ] {
        let d = root.join(gone);
        fs::create_dir(&d).unwrap();
        segment(&d, 0, 1, true);
    }
}

#[test]
fn kafka_log_dir_says_which_segments_are_cached() {
    let dir = tmpdir();
    kafka_log_dir(dir.path());
    for choice in [MethodChoice::Auto, MethodChoice::Mincore] {
        let report = Plan::list(&[dir.path().to_path_buf()]).run(&Budget::default(), choice);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(!report.truncated);
        assert_eq!(report.files_scanned, 5);
        assert_eq!(report.pages_checked, 8 + 8 + 8 + 4 + 2);
        assert_eq!(report.page_size, PAGE);
        let names: Vec<String> = report.partitions.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["eu.orders-v2-0", "eu.orders-v2-1"]);

        let p0 = &report.partitions[0];
        assert_eq!((p0.topic.as_str(), p0.partition), ("eu.orders-v2", 0));
        assert_eq!(p0.segment_count, 4);
        assert_eq!(p0.log_bytes, 28 * PAGE);
        assert_eq!(p0.coverage, Coverage::Complete);
        let cached: Vec<(u64, u64, u64)> = p0
            .segments
            .iter()
            .map(|s| (s.base_offset, s.bytes / PAGE, s.cached_bytes / PAGE))
            .collect();
        assert_eq!(
            cached,
            [(0, 8, 0), (1000, 8, 8), (2000, 8, 0), (3000, 4, 4)]
        );
        let active = p0.active.as_ref().unwrap();
        assert_eq!((active.base_offset, active.pages.cached), (3000, 4));
        // Recent = the three before the active one: 24 pages, 8 cached.
        assert_eq!(p0.recent.segments, 3);
        assert_eq!(
            (p0.recent.bytes, p0.recent.cached_bytes),
            (24 * PAGE, 8 * PAGE)
        );
        match choice {
            MethodChoice::Auto => {
                assert_eq!(report.method, Method::Cachestat);
                assert_eq!(active.pages.dirty, Some(0));
                assert_eq!(p0.recent.pages.dirty, Some(0));
            }
            MethodChoice::Mincore => {
                assert_eq!(report.method, Method::Mincore);
                assert_eq!(active.pages.dirty, None);
            }
        }
        // A consumer at 2500 reads half of the dropped 2000 segment from disk; at 1500, also
        // nothing of the cached 1000 one; at 500, half of the dropped first segment too.
        assert_eq!(p0.cold_bytes_from(3000), Some(0));
        assert_eq!(p0.cold_bytes_from(2500), Some(4 * PAGE));
        assert_eq!(p0.cold_bytes_from(1500), Some(8 * PAGE));
        assert_eq!(p0.cold_bytes_from(500), Some(12 * PAGE));

        let p1 = &report.partitions[1];
        assert_eq!(p1.segment_count, 1);
        assert_eq!(p1.active.as_ref().unwrap().cached_bytes, 0);
        assert_eq!(p1.recent.segments, 0);
        assert_eq!(p1.cold_bytes_from(0), Some(2 * PAGE));
    }
}

/// A segment whose front half is not cached (retention reads, the cleaner and lagging consumers
/// go front to back, eviction takes the oldest pages first): its slices say the cold bytes are
/// in front, so a consumer past the middle reads nothing from disk.
#[test]
fn a_partly_cached_segment_knows_where_its_cold_pages_are() {
    let dir = tmpdir();
    let p = dir.path().join("clicks-0");
    fs::create_dir(&p).unwrap();
    // Dropped whole, then the back half read. (Dropping only the front half of a cached file
    // does not work: the kernel caches it in large folios, which DONTNEED does not split.)
    let first = segment(&p, 0, 32, false);
    let mut back = vec![0u8; (16 * PAGE) as usize];
    std::os::unix::fs::FileExt::read_exact_at(
        &fs::File::open(&first).unwrap(),
        &mut back,
        16 * PAGE,
    )
    .unwrap();
    segment(&p, 1000, 2, true);
    for choice in [MethodChoice::Auto, MethodChoice::Mincore] {
        let report = Plan::list(&[dir.path().to_path_buf()]).run(&Budget::default(), choice);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let part = &report.partitions[0];
        let s = &part.segments[0];
        assert_eq!((s.bytes, s.cached_bytes), (32 * PAGE, 16 * PAGE));
        let slices: Vec<u64> = s.slices.iter().map(|x| x.cached_bytes / PAGE).collect();
        assert_eq!(
            slices,
            [0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2],
            "{choice:?}"
        );
        assert_eq!(s.slices[15].end, 32 * PAGE);
        // The wholly cached active segment needs no slices.
        assert!(part.segments[1].slices.is_empty());
        assert_eq!(part.cold_bytes_from(0), Some(16 * PAGE));
        assert_eq!(part.cold_bytes_from(250), Some(8 * PAGE));
        assert_eq!(part.cold_bytes_from(500), Some(0));
        assert_eq!(part.cold_bytes_from(750), Some(0));
    }
}

#[test]
fn unreadable_and_vanished_segments_are_reported_and_the_scan_goes_on() {
    let dir = tmpdir();
    kafka_log_dir(dir.path());
    let p0 = dir.path().join("eu.orders-v2-0");
    // A directory named like a segment (root can open anything, but it is no file), and a
    // dangling symlink.
    fs::create_dir(p0.join("00000000000000004000.log")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/segment", p0.join("00000000000000005000.log"))
        .unwrap();

    let plan = Plan::list(&[dir.path().to_path_buf()]);
    assert_eq!(plan.segment_count(), 7);
    // Retention deletes a segment after the listing.
    let doomed = p0.join(format!("{:020}.log", 1000));
    fs::remove_file(&doomed).unwrap();
    let report = plan.run(&Budget::default(), MethodChoice::Auto);

    let mut errors: Vec<(String, String)> = report
        .errors
        .iter()
        .map(|e| {
            (
                e.path.file_name().unwrap().to_string_lossy().into_owned(),
                e.error.clone(),
            )
        })
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            (
                "00000000000000001000.log".to_string(),
                "vanished after the directory was listed (deleted by retention, compaction or a \
                 partition move)"
                    .to_string()
            ),
            (
                "00000000000000004000.log".to_string(),
                "not a regular file (a directory)".to_string()
            ),
            (
                "00000000000000005000.log".to_string(),
                "dangling symlink to /nonexistent/segment".to_string()
            ),
        ]
    );
    assert!(
        report.errors[0]
            .to_string()
            .contains(&*p0.to_string_lossy())
    );
    // Everything else was still checked, correctly.
    assert_eq!(report.files_scanned, 4);
    let p = &report.partitions[0];
    assert_eq!(p.failed, [1000, 4000, 5000]);
    let seen: Vec<(u64, u64)> = p
        .segments
        .iter()
        .map(|s| (s.base_offset, s.cached_bytes / PAGE))
        .collect();
    assert_eq!(seen, [(0, 0), (2000, 0), (3000, 4)]);
    // The newest listed entry failed, so there is no active segment to show, and no answer
    // for a consumer that would have to read through the failed ones.
    assert_eq!(p.active, None);
    assert_eq!(p.cold_bytes_from(2500), None);
    assert_eq!(report.partitions[1].cold_bytes_from(0), Some(2 * PAGE));

    // An unreadable log dir is an error too; the other dir is still scanned.
    let report = scan(
        &[
            PathBuf::from("/nonexistent/kafka-logs"),
            dir.path().to_path_buf(),
        ],
        &Budget::default(),
    );
    assert!(
        report.errors[0]
            .error
            .starts_with("cannot list the log dir: "),
        "{:?}",
        report.errors
    );
    assert_eq!(report.partitions.len(), 2);
}

#[test]
fn the_budget_stops_the_scan_newest_segments_first() {
    let dir = tmpdir();
    kafka_log_dir(dir.path());
    let dirs = [dir.path().to_path_buf()];
    let budget = Budget {
        max_files: 3,
        ..Budget::default()
    };
    let report = scan(&dirs, &budget);
    assert!(report.truncated);
    assert_eq!(report.files_scanned, 3);
    // Both active segments first, then the newest closed segment of the first partition.
    let p0 = &report.partitions[0];
    let bases: Vec<u64> = p0.segments.iter().map(|s| s.base_offset).collect();
    assert_eq!(bases, [2000, 3000]);
    assert_eq!(p0.coverage, Coverage::Partial);
    assert_eq!(report.partitions[1].coverage, Coverage::Complete);
    let root = dir.path().display();
    assert_eq!(report.partial, [format!("{root}/eu.orders-v2-0")]);
    assert!(report.skipped.is_empty());
    // Offsets before the oldest checked segment have no answer; later ones do.
    assert_eq!(p0.cold_bytes_from(500), None);
    assert_eq!(p0.cold_bytes_from(2500), Some(4 * PAGE));
    assert_eq!(p0.recent.segments, 1);

    // The page budget bounds mincore, which looks up every page: one smaller than the first
    // active segment (4 pages) checks nothing, and 12 pages take the two active segments (4 + 2)
    // but not the next one (8).
    let plan = Plan::list(&dirs);
    let pages = |max_pages| Budget {
        max_pages,
        ..Budget::default()
    };
    let report = plan.run(&pages(3), MethodChoice::Mincore);
    assert!(report.truncated);
    assert_eq!(report.files_scanned, 0);
    assert_eq!(report.method, Method::Mincore);
    assert_eq!(report.skipped.len(), 2);
    assert!(
        report
            .partitions
            .iter()
            .all(|p| p.coverage == Coverage::Skipped)
    );
    let report = plan.run(&pages(12), MethodChoice::Mincore);
    assert!(report.truncated);
    assert_eq!((report.files_scanned, report.pages_checked), (2, 6));
    // cachestat(2) does not walk absent pages, so the same page budget does not stop it.
    let report = plan.run(&pages(3), MethodChoice::Auto);
    assert_eq!(report.method, Method::Cachestat);
    assert!(!report.truncated);
    assert_eq!((report.files_scanned, report.pages_checked), (5, 30));

    // Positive control: budgets that fit exactly are not truncated.
    let exact = Budget {
        max_files: 5,
        max_pages: 30,
        recent_segments: 3,
    };
    for choice in [MethodChoice::Auto, MethodChoice::Mincore] {
        let report = plan.run(&exact, choice);
        assert!(!report.truncated);
        assert_eq!(report.files_scanned, 5);
    }
}

fn topic() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,40}"
}

proptest! {
    #[test]
    fn name_parsers_never_panic(name in "\\PC{0,60}") {
        let _ = parse_segment_name(&name);
        let _ = parse_partition_dir(&name);
    }

    #[test]
    fn segment_names_round_trip(base in any::<u64>()) {
        let (parsed, _) = parse_segment_name(&format!("{base:020}.log")).unwrap();
        prop_assert_eq!(parsed, base);
        let deleted = format!("{base:020}.log.deleted");
        prop_assert!(parse_segment_name(&deleted).is_none());
    }

    #[test]
    fn partition_dirs_round_trip(topic in topic(), partition in any::<u32>()) {
        let name = format!("{topic}-{partition}");
        prop_assert_eq!(parse_partition_dir(&name), Some((topic.as_str(), partition)));
        let deleting = format!("{name}.9f8e7d6c5b4a39281706f5e4d3c2b1a0-delete");
        prop_assert_eq!(parse_partition_dir(&deleting), None);
    }
}
