//! How much of Kafka's log segments is in the page cache: the direct answer to "are my consumers
//! reading from memory or from disk?".
//!
//! Kafka keeps a partition in `<log dir>/<topic>-<partition>/` as segments named by their base
//! offset, `00000000000000012345.log` (with `.index`, `.timeindex`, `.snapshot`, `.txnindex` and
//! `leader-epoch-checkpoint` beside them). A partition being deleted or moved between log dirs
//! has a `<topic>-<partition>.<id>-delete` / `-future` / `-stray` directory; those and the
//! checkpoint files at the top of a log dir are not partitions and are skipped.
//!
//! Per segment, the cached pages come from `cachestat(2)` (Linux ≥ 6.5: cached, dirty,
//! writeback, evicted and recently evicted pages of a file range, without touching the pages),
//! or, where the kernel has no such call (`ENOSYS`, or `EPERM` from a seccomp filter), from
//! `mmap` + `mincore` (cached pages only; the other counts are then `None`). The method is
//! decided once per scan, before the first file, and the report says which [`Method`] was used.
//!
//! The cost is bounded by a [`Budget`] of files and pages per scan. The two methods cost very
//! differently (measured here, 6.18, sparse 1 GiB segments): `cachestat` 4 to 15 µs per file
//! whatever its size, `mincore` 15 to 30 ms per GiB mapped, since it looks up every page. So
//! the file budget always applies and the page budget only to `mincore`. Segments are taken newest
//! first across all partitions — every partition's active segment, then every partition's
//! previous one, and so on — so a small budget still covers what consumers read most; what the
//! budget did not reach is listed as skipped or partially scanned partitions.
//!
//! [`Plan::list`] (directory listing) and [`Plan::run`] (page counts) are separate steps so that
//! a segment removed by retention between the two is reported as such; [`scan`] does both.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `cachestat(2)`: the same number on every architecture (the unified syscall table, 6.5+); the
/// `libc` crate does not name it for x86_64 glibc yet.
const SYS_CACHESTAT: libc::c_long = 451;

#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// How much one scan may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Budget {
    /// Segment files opened per scan (each costs an open, a stat and a syscall or a mapping).
    pub max_files: usize,
    /// File pages mapped per scan with `mincore`, which looks up each one (a segment's size in
    /// pages). `cachestat(2)` does not walk absent pages, so this does not bound it.
    pub max_pages: u64,
    /// How many segments before the active one count as "recent".
    pub recent_segments: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            max_files: 2_000,
            // 128 GiB of 4 KiB pages: about 3.5 s of `mincore` here.
            max_pages: 1 << 25,
            recent_segments: 3,
        }
    }
}

/// Where the page counts came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// `cachestat(2)`: cached, dirty, writeback, evicted, recently evicted.
    Cachestat,
    /// `mmap` + `mincore`: cached pages only.
    Mincore,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Cachestat => "cachestat",
            Method::Mincore => "mincore",
        }
    }
}

/// Which method to use: `cachestat(2)` where the kernel has it and `mincore` otherwise, or
/// `mincore` only (to cross-check the two, or where `cachestat` is known to misbehave).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MethodChoice {
    #[default]
    Auto,
    Mincore,
}

/// Page counts of a file or a sum of files. `dirty`, `writeback`, `evicted` and
/// `recently_evicted` are `None` where only `mincore` was available.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PageCounts {
    /// Pages the file covers (its size rounded up to whole pages).
    pub pages: u64,
    pub cached: u64,
    pub dirty: Option<u64>,
    pub writeback: Option<u64>,
    pub evicted: Option<u64>,
    pub recently_evicted: Option<u64>,
}

impl PageCounts {
    fn add(&mut self, o: &PageCounts) {
        fn opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            Some(a?.saturating_add(b?))
        }
        self.pages = self.pages.saturating_add(o.pages);
        self.cached = self.cached.saturating_add(o.cached);
        self.dirty = opt(self.dirty, o.dirty);
        self.writeback = opt(self.writeback, o.writeback);
        self.evicted = opt(self.evicted, o.evicted);
        self.recently_evicted = opt(self.recently_evicted, o.recently_evicted);
    }

    fn zero(method: Method) -> PageCounts {
        let z = (method == Method::Cachestat).then_some(0);
        PageCounts {
            pages: 0,
            cached: 0,
            dirty: z,
            writeback: z,
            evicted: z,
            recently_evicted: z,
        }
    }
}

/// One scanned segment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentResidency {
    pub base_offset: u64,
    /// The `.log` file's size.
    pub bytes: u64,
    /// Cached pages in bytes (at most `bytes`).
    pub cached_bytes: u64,
    pub pages: PageCounts,
    /// The base offset of the next segment; `None` for the active (newest) segment.
    pub next_offset: Option<u64>,
    /// Where the cached pages are, for a segment only partly cached: up to [`SLICES`] equal
    /// byte ranges in file order. Empty when the segment is wholly cached or wholly cold.
    pub slices: Vec<Slice>,
}

/// Cached bytes of one byte range of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slice {
    pub start: u64,
    pub end: u64,
    pub cached_bytes: u64,
}

/// Into how many ranges a partly cached segment is divided: the cache of a segment is seldom
/// even (consumers and the cleaner read it front to back, eviction takes the oldest pages), so
/// "how much of it from here on is cold" needs to know where the cold pages are.
pub const SLICES: u64 = 16;

impl SegmentResidency {
    pub fn cold_bytes(&self) -> u64 {
        self.bytes - self.cached_bytes
    }

    /// Uncached bytes from byte `pos` to the end of the segment: exact to the slice, even
    /// within a slice.
    pub fn cold_bytes_after(&self, pos: u64) -> u64 {
        let pos = pos.min(self.bytes);
        let part = |start: u64, end: u64, cached: u64| -> u64 {
            let len = end - start;
            if len == 0 || pos >= end {
                return 0;
            }
            let cold = len - cached.min(len);
            let left = end - pos.max(start);
            (u128::from(cold) * u128::from(left) / u128::from(len)) as u64
        };
        if self.slices.is_empty() {
            part(0, self.bytes, self.cached_bytes)
        } else {
            self.slices
                .iter()
                .map(|s| part(s.start, s.end, s.cached_bytes))
                .sum()
        }
    }
}

/// A sum over several scanned segments.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentSum {
    pub segments: usize,
    pub bytes: u64,
    pub cached_bytes: u64,
    pub pages: PageCounts,
}

/// How much of a partition the budget covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Coverage {
    /// Every segment was checked (or failed with an error in the report).
    Complete,
    /// The newest segments were checked, older ones not (budget).
    Partial,
    /// No segment was checked (budget).
    Skipped,
}

/// One topic-partition in one log dir.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartitionResidency {
    pub topic: String,
    pub partition: u32,
    pub dir: PathBuf,
    /// Segments in the directory (scanned or not).
    pub segment_count: usize,
    /// The sum of the `.log` sizes (from `stat`, scanned or not).
    pub log_bytes: u64,
    /// The active (newest) segment, when it was scanned.
    pub active: Option<SegmentResidency>,
    /// The scanned ones of the `recent_segments` segments before the active one.
    pub recent: SegmentSum,
    /// Every scanned segment, oldest first.
    pub segments: Vec<SegmentResidency>,
    /// Base offsets of segments whose check failed (see the report's errors).
    pub failed: Vec<u64>,
    pub coverage: Coverage,
}

impl PartitionResidency {
    /// `topic-partition`, as Kafka names the directory.
    pub fn name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }

    /// Bytes a consumer at `offset` would read from disk to reach the end of the log: the
    /// uncached bytes of every later segment, plus those of the segment holding `offset` from
    /// the byte where `offset` is, prorated by where `offset` falls between its base offset and
    /// the next segment's (and located with the segment's [`Slice`]s where it is partly cached).
    /// In the active segment the end offset is not known, so all of its uncached bytes count
    /// (an upper bound).
    ///
    /// `None` when `offset` is before the oldest scanned segment, or when a segment from there
    /// on could not be checked: the answer would be a guess.
    pub fn cold_bytes_from(&self, offset: u64) -> Option<u64> {
        let i = self
            .segments
            .iter()
            .rposition(|s| s.base_offset <= offset)?;
        let holder = &self.segments[i];
        if self.failed.iter().any(|&f| f >= holder.base_offset) {
            return None;
        }
        // Later scanned segments must follow without a gap, or a skipped one would be missed.
        for pair in self.segments[i..].windows(2) {
            if pair[0].next_offset != Some(pair[1].base_offset) {
                return None;
            }
        }
        let own = match holder.next_offset {
            Some(next) if next > holder.base_offset => {
                let into = u128::from(offset.min(next) - holder.base_offset);
                let span = u128::from(next - holder.base_offset);
                let pos = (u128::from(holder.bytes) * into / span) as u64;
                holder.cold_bytes_after(pos)
            }
            _ => holder.cold_bytes(),
        };
        Some(
            self.segments[i + 1..]
                .iter()
                .map(SegmentResidency::cold_bytes)
                .fold(own, u64::saturating_add),
        )
    }
}

/// A file the scan could not check, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileError {
    pub path: PathBuf,
    pub error: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

/// The outcome of one scan.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ScanReport {
    /// Every partition found, in log dir then topic then partition order.
    pub partitions: Vec<PartitionResidency>,
    pub errors: Vec<FileError>,
    /// The budget ran out before every segment was checked.
    pub truncated: bool,
    /// `dir/topic-partition` of partitions of which nothing was checked.
    pub skipped: Vec<String>,
    /// `dir/topic-partition` of partitions of which only the newest segments were checked.
    pub partial: Vec<String>,
    /// Segment files whose pages were counted.
    pub files_scanned: usize,
    /// File pages covered by the files counted (whichever the method).
    pub pages_checked: u64,
    /// Listing ([`Plan::list`]) plus checking.
    pub elapsed: Duration,
    pub method: Method,
    pub page_size: u64,
}

/// Kafka's segment file kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentFileKind {
    Log,
    Index,
    TimeIndex,
    TxnIndex,
    Snapshot,
}

/// `00000000000000012345.log` → (12345, Log). Kafka writes the base offset as exactly 20 digits;
/// anything else (`.log.deleted`, `.log.cleaned`, `.log.swap`, `leader-epoch-checkpoint`) is not
/// a live segment file.
pub fn parse_segment_name(name: &str) -> Option<(u64, SegmentFileKind)> {
    let (digits, ext) = name.split_once('.')?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let kind = match ext {
        "log" => SegmentFileKind::Log,
        "index" => SegmentFileKind::Index,
        "timeindex" => SegmentFileKind::TimeIndex,
        "txnindex" => SegmentFileKind::TxnIndex,
        "snapshot" => SegmentFileKind::Snapshot,
        _ => return None,
    };
    Some((digits.parse().ok()?, kind))
}

/// `my.topic-name-12` → ("my.topic-name", 12): the partition is what follows the last `-`.
/// `None` for directories being deleted or moved (`….<id>-delete`, `-future`, `-stray`) and for
/// names that are not `<topic>-<partition>`.
pub fn parse_partition_dir(name: &str) -> Option<(&str, u32)> {
    if name.ends_with("-delete") || name.ends_with("-future") || name.ends_with("-stray") {
        return None;
    }
    let (topic, partition) = name.rsplit_once('-')?;
    if topic.is_empty()
        || partition.is_empty()
        || !partition.bytes().all(|b| b.is_ascii_digit())
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return None;
    }
    Some((topic, partition.parse().ok()?))
}

/// A segment as listed: its base offset, path and size (`None` where `stat` failed; the check
/// of the file then reports why).
#[derive(Clone, Debug)]
struct ListedSegment {
    base_offset: u64,
    path: PathBuf,
    size: Option<u64>,
}

#[derive(Clone, Debug)]
struct ListedPartition {
    topic: String,
    partition: u32,
    dir: PathBuf,
    log_dir: PathBuf,
    /// Oldest first.
    segments: Vec<ListedSegment>,
}

/// The segments of some log dirs as listed at one moment; [`Plan::run`] checks them.
#[derive(Clone, Debug)]
pub struct Plan {
    partitions: Vec<ListedPartition>,
    errors: Vec<FileError>,
    listed_in: Duration,
}

impl Plan {
    /// Lists the partitions and their `.log` segments of each log dir. Unreadable directories go
    /// into the report's errors; the others are still listed.
    pub fn list(dirs: &[PathBuf]) -> Plan {
        let start = Instant::now();
        let mut partitions = Vec::new();
        let mut errors = Vec::new();
        for log_dir in dirs {
            let entries = match fs::read_dir(log_dir) {
                Ok(e) => e,
                Err(e) => {
                    errors.push(FileError {
                        path: log_dir.clone(),
                        error: format!("cannot list the log dir: {e}"),
                    });
                    continue;
                }
            };
            let mut found = Vec::new();
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some((topic, partition)) = name.to_str().and_then(parse_partition_dir) else {
                    continue;
                };
                // Follows a symlinked partition dir; files (checkpoints) are not partitions.
                if !entry.path().is_dir() {
                    continue;
                }
                found.push((topic.to_string(), partition, entry.path()));
            }
            found.sort();
            for (topic, partition, dir) in found {
                let segments = match list_segments(&dir) {
                    Ok(s) => s,
                    Err(e) => {
                        errors.push(FileError {
                            path: dir.clone(),
                            error: format!("cannot list the partition: {e}"),
                        });
                        Vec::new()
                    }
                };
                partitions.push(ListedPartition {
                    topic,
                    partition,
                    dir,
                    log_dir: log_dir.clone(),
                    segments,
                });
            }
        }
        Plan {
            partitions,
            errors,
            listed_in: start.elapsed(),
        }
    }

    /// Segments listed, over all partitions.
    pub fn segment_count(&self) -> usize {
        self.partitions.iter().map(|p| p.segments.len()).sum()
    }

    /// Counts the cached pages of the listed segments, newest first across partitions, within
    /// `budget`.
    pub fn run(&self, budget: &Budget, choice: MethodChoice) -> ScanReport {
        let start = Instant::now();
        let _span =
            tracing::debug_span!("residency_scan", partitions = self.partitions.len()).entered();
        let page_size = page_size();
        let mut prober = Prober::new(choice);
        let pages_bound = prober.method == Method::Mincore;
        let mut errors = self.errors.clone();
        // Per partition, newest first.
        let mut checked: Vec<Vec<Outcome>> = self
            .partitions
            .iter()
            .map(|p| vec![Outcome::Unchecked; p.segments.len()])
            .collect();
        let depth_max = self
            .partitions
            .iter()
            .map(|p| p.segments.len())
            .max()
            .unwrap_or(0);
        let (mut files, mut attempts, mut pages_checked) = (0usize, 0usize, 0u64);
        let mut truncated = false;
        'scan: for depth in 0..depth_max {
            for (p, outcomes) in self.partitions.iter().zip(checked.iter_mut()) {
                // Newest first: depth 0 is the active segment.
                let Some(seg) = p.segments.iter().rev().nth(depth) else {
                    continue;
                };
                let want = seg.size.map_or(0, |s| s.div_ceil(page_size));
                if attempts >= budget.max_files
                    || (pages_bound && pages_checked.saturating_add(want) > budget.max_pages)
                {
                    truncated = true;
                    break 'scan;
                }
                attempts += 1;
                match prober.file(&seg.path, page_size) {
                    Ok((size, counts, slices)) => {
                        files += 1;
                        pages_checked += counts.pages;
                        outcomes[depth] = Outcome::Checked {
                            size,
                            counts,
                            slices,
                        };
                    }
                    Err(error) => {
                        errors.push(FileError {
                            path: seg.path.clone(),
                            error,
                        });
                        outcomes[depth] = Outcome::Failed;
                    }
                }
            }
        }

        let mut partitions = Vec::with_capacity(self.partitions.len());
        let (mut skipped, mut partial) = (Vec::new(), Vec::new());
        for (pi, p) in self.partitions.iter().enumerate() {
            let n = p.segments.len();
            let mut out = PartitionResidency {
                topic: p.topic.clone(),
                partition: p.partition,
                dir: p.dir.clone(),
                segment_count: n,
                log_bytes: p.segments.iter().filter_map(|s| s.size).sum(),
                active: None,
                recent: SegmentSum {
                    pages: PageCounts::zero(prober.method),
                    ..SegmentSum::default()
                },
                segments: Vec::new(),
                failed: Vec::new(),
                coverage: Coverage::Complete,
            };
            let mut unchecked = 0;
            for depth in (0..n).rev() {
                let seg = &p.segments[n - 1 - depth];
                let next_offset = (depth > 0).then(|| p.segments[n - depth].base_offset);
                match &checked[pi][depth] {
                    Outcome::Unchecked => unchecked += 1,
                    Outcome::Failed => out.failed.push(seg.base_offset),
                    Outcome::Checked {
                        size: bytes,
                        counts,
                        slices,
                    } => {
                        let bytes = *bytes;
                        let s = SegmentResidency {
                            base_offset: seg.base_offset,
                            bytes,
                            cached_bytes: counts.cached.saturating_mul(page_size).min(bytes),
                            pages: *counts,
                            next_offset,
                            slices: slices.clone(),
                        };
                        if depth == 0 {
                            out.active = Some(s.clone());
                        } else if depth <= budget.recent_segments {
                            out.recent.segments += 1;
                            out.recent.bytes += s.bytes;
                            out.recent.cached_bytes += s.cached_bytes;
                            out.recent.pages.add(&s.pages);
                        }
                        out.segments.push(s);
                    }
                }
            }
            let label = format!("{}/{}-{}", p.log_dir.display(), p.topic, p.partition);
            out.coverage = if unchecked == 0 {
                Coverage::Complete
            } else if unchecked == n {
                skipped.push(label);
                Coverage::Skipped
            } else {
                partial.push(label);
                Coverage::Partial
            };
            partitions.push(out);
        }
        let elapsed = start.elapsed() + self.listed_in;
        tracing::debug!(
            files,
            pages_checked,
            truncated,
            ?elapsed,
            "residency scan done"
        );
        ScanReport {
            partitions,
            errors,
            truncated,
            skipped,
            partial,
            files_scanned: files,
            pages_checked,
            elapsed,
            method: prober.method,
            page_size,
        }
    }
}

/// What became of one listed segment in a scan.
#[derive(Clone, Debug)]
enum Outcome {
    /// The budget did not reach it.
    Unchecked,
    /// In the report's errors.
    Failed,
    Checked {
        size: u64,
        counts: PageCounts,
        slices: Vec<Slice>,
    },
}

/// Lists and checks `dirs` within `budget` (see the module doc).
pub fn scan(dirs: &[PathBuf], budget: &Budget) -> ScanReport {
    Plan::list(dirs).run(budget, MethodChoice::Auto)
}

fn list_segments(dir: &Path) -> std::io::Result<Vec<ListedSegment>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        let Some((base_offset, SegmentFileKind::Log)) = name.to_str().and_then(parse_segment_name)
        else {
            continue;
        };
        let path = entry.path();
        let size = fs::metadata(&path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        segments.push(ListedSegment {
            base_offset,
            path,
            size,
        });
    }
    segments.sort_by_key(|s| s.base_offset);
    Ok(segments)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// Counts pages file by file with one method.
struct Prober {
    method: Method,
}

impl Prober {
    fn new(choice: MethodChoice) -> Prober {
        let method = match choice {
            MethodChoice::Mincore => Method::Mincore,
            MethodChoice::Auto => match cachestat_exists() {
                Ok(()) => Method::Cachestat,
                Err(e) => {
                    tracing::info!(error = %e, "cachestat(2) unavailable; using mmap + mincore");
                    Method::Mincore
                }
            },
        };
        Prober { method }
    }

    /// (size, page counts, slices when partly cached) of one file, or why not.
    fn file(
        &mut self,
        path: &Path,
        page_size: u64,
    ) -> Result<(u64, PageCounts, Vec<Slice>), String> {
        let f = match fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(match fs::symlink_metadata(path) {
                    Ok(m) if m.file_type().is_symlink() => {
                        let target = fs::read_link(path)
                            .map(|t| t.display().to_string())
                            .unwrap_or_else(|_| "?".into());
                        format!("dangling symlink to {target}")
                    }
                    _ => "vanished after the directory was listed (deleted by retention, \
                          compaction or a partition move)"
                        .to_string(),
                });
            }
            Err(e) => return Err(format!("cannot open: {e}")),
        };
        let meta = f.metadata().map_err(|e| format!("cannot stat: {e}"))?;
        if !meta.is_file() {
            let what = if meta.is_dir() {
                "a directory"
            } else {
                "a special file"
            };
            return Err(format!("not a regular file ({what})"));
        }
        let size = meta.len();
        let pages = size.div_ceil(page_size);
        let n = SLICES.min(pages);
        // Slice k covers pages [k·pages/n, (k+1)·pages/n), in bytes clamped to the size.
        let slice = |k: u64| {
            let start = (k * pages / n) * page_size;
            let end = (((k + 1) * pages / n) * page_size).min(size);
            (start, end)
        };
        let partly = |cached: u64| cached > 0 && cached < pages && n > 1;
        let (counts, slices) = match self.method {
            Method::Cachestat => {
                let c = cachestat(&f, 0, 0).map_err(|e| format!("cachestat: {e}"))?;
                let mut slices = Vec::new();
                if partly(c.nr_cache) {
                    for k in 0..n {
                        let (start, end) = slice(k);
                        let s = cachestat(&f, start, end - start)
                            .map_err(|e| format!("cachestat: {e}"))?;
                        slices.push(Slice {
                            start,
                            end,
                            cached_bytes: (s.nr_cache * page_size).min(end - start),
                        });
                    }
                }
                let counts = PageCounts {
                    pages,
                    cached: c.nr_cache,
                    dirty: Some(c.nr_dirty),
                    writeback: Some(c.nr_writeback),
                    evicted: Some(c.nr_evicted),
                    recently_evicted: Some(c.nr_recently_evicted),
                };
                (counts, slices)
            }
            Method::Mincore => {
                let resident = mincore(&f, size).map_err(|e| format!("mincore: {e}"))?;
                let count = |from: u64, to: u64| {
                    let (from, to) = (from as usize, (to as usize).min(resident.len()));
                    resident
                        .get(from..to)
                        .map_or(0, |r| r.iter().filter(|b| **b & 1 == 1).count() as u64)
                };
                let cached = count(0, pages);
                let mut slices = Vec::new();
                if partly(cached) {
                    for k in 0..n {
                        let (start, end) = slice(k);
                        let c = count(k * pages / n, (k + 1) * pages / n);
                        slices.push(Slice {
                            start,
                            end,
                            cached_bytes: (c * page_size).min(end - start),
                        });
                    }
                }
                let counts = PageCounts {
                    pages,
                    cached,
                    dirty: None,
                    writeback: None,
                    evicted: None,
                    recently_evicted: None,
                };
                (counts, slices)
            }
        };
        Ok((size, counts, slices))
    }
}

/// Whether the kernel has `cachestat(2)`: called on no file (fd -1), it fails with `EBADF` if
/// the call exists, `ENOSYS` if not, and `EPERM` where a seccomp filter refuses it.
fn cachestat_exists() -> std::io::Result<()> {
    let range = CachestatRange { off: 0, len: 0 };
    let mut out = Cachestat::default();
    // SAFETY: `range` and `out` are valid for the call; the fd is invalid on purpose.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            u32::MAX as libc::c_uint,
            &range as *const CachestatRange,
            &mut out as *mut Cachestat,
            0 as libc::c_uint,
        )
    };
    let e = std::io::Error::last_os_error();
    match (rc, e.raw_os_error()) {
        (0, _) => Ok(()),
        (_, Some(libc::ENOSYS) | Some(libc::EPERM)) => Err(e),
        _ => Ok(()),
    }
}

/// `cachestat(2)` over `len` bytes from `off` (`len = 0` means to the end).
fn cachestat(f: &fs::File, off: u64, len: u64) -> std::io::Result<Cachestat> {
    let range = CachestatRange { off, len };
    let mut out = Cachestat::default();
    // SAFETY: the fd is open for the duration of the call; `range` and `out` are valid,
    // properly laid out (#[repr(C)], the kernel's struct cachestat_range / struct cachestat)
    // and live across the call; flags must be 0.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            f.as_raw_fd() as libc::c_uint,
            &range as *const CachestatRange,
            &mut out as *mut Cachestat,
            0 as libc::c_uint,
        )
    };
    if rc == 0 {
        Ok(out)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The resident pages of a file, by mapping it (no page is touched) and asking `mincore`.
/// One byte per page; bit 0 set when the page is resident.
fn mincore(f: &fs::File, size: u64) -> std::io::Result<Vec<u8>> {
    if size == 0 {
        return Ok(Vec::new());
    }
    let len = usize::try_from(size).map_err(|_| std::io::Error::other("file too large to map"))?;
    // SAFETY: mapping a file read-only and shared; the result is checked for MAP_FAILED and
    // unmapped below. Nothing reads through the mapping, so truncation by another process
    // (SIGBUS on access) cannot hurt.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let page = page_size() as usize;
    let mut vec = vec![0u8; len.div_ceil(page)];
    // SAFETY: `addr` is a live mapping of `len` bytes; `vec` has one byte per page of it.
    let rc = unsafe { libc::mincore(addr, len, vec.as_mut_ptr()) };
    let err = (rc != 0).then(std::io::Error::last_os_error);
    // SAFETY: unmapping exactly what was mapped above.
    unsafe { libc::munmap(addr, len) };
    if let Some(e) = err {
        return Err(e);
    }
    Ok(vec)
}

/// Page counts of one file: `Auto` tries `cachestat(2)` and falls back to `mincore`. For tests,
/// tools and the agent's own checks.
pub fn file_residency(path: &Path, choice: MethodChoice) -> Result<(Method, PageCounts), String> {
    let mut prober = Prober::new(choice);
    let (_, counts, _) = prober.file(path, page_size())?;
    Ok((prober.method, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_and_partition_names() {
        assert_eq!(
            parse_segment_name("00000000000000012345.log"),
            Some((12345, SegmentFileKind::Log))
        );
        assert_eq!(
            parse_segment_name("00000000000000000000.timeindex"),
            Some((0, SegmentFileKind::TimeIndex))
        );
        assert_eq!(parse_segment_name("00000000000000012345.log.deleted"), None);
        assert_eq!(parse_segment_name("0000000000012345.log"), None);
        assert_eq!(parse_segment_name("leader-epoch-checkpoint"), None);
        // 20 digits past u64::MAX is not an offset.
        assert_eq!(parse_segment_name("99999999999999999999.log"), None);

        assert_eq!(parse_partition_dir("orders-0"), Some(("orders", 0)));
        assert_eq!(
            parse_partition_dir("eu.orders-v2-17"),
            Some(("eu.orders-v2", 17))
        );
        assert_eq!(
            parse_partition_dir("__consumer_offsets-49"),
            Some(("__consumer_offsets", 49))
        );
        assert_eq!(
            parse_partition_dir("orders-0.9f8e7d6c5b4a39281706f5e4d3c2b1a0-delete"),
            None
        );
        assert_eq!(
            parse_partition_dir("orders-3.9f8e7d6c5b4a39281706f5e4d3c2b1a0-future"),
            None
        );
        assert_eq!(
            parse_partition_dir("recovery-point-offset-checkpoint"),
            None
        );
        assert_eq!(parse_partition_dir("orders"), None);
        assert_eq!(parse_partition_dir("-3"), None);
    }

    fn seg(base: u64, bytes: u64, cached: u64, next: Option<u64>) -> SegmentResidency {
        SegmentResidency {
            base_offset: base,
            bytes,
            cached_bytes: cached,
            pages: PageCounts::default(),
            next_offset: next,
            slices: vec![],
        }
    }

    fn partition(segments: Vec<SegmentResidency>, failed: Vec<u64>) -> PartitionResidency {
        PartitionResidency {
            topic: "t".into(),
            partition: 0,
            dir: PathBuf::from("/x/t-0"),
            segment_count: segments.len(),
            log_bytes: segments.iter().map(|s| s.bytes).sum(),
            active: None,
            recent: SegmentSum::default(),
            segments,
            failed,
            coverage: Coverage::Complete,
        }
    }

    #[test]
    fn cold_bytes_prorate_within_the_holding_segment() {
        // 0..100 all cold (8000 bytes), 100..200 half cold (4000 of 8000), 200.. active, 1000 cold.
        let p = partition(
            vec![
                seg(0, 8000, 0, Some(100)),
                seg(100, 8000, 4000, Some(200)),
                seg(200, 3000, 2000, None),
            ],
            vec![],
        );
        assert_eq!(p.cold_bytes_from(0), Some(8000 + 4000 + 1000));
        assert_eq!(p.cold_bytes_from(50), Some(4000 + 4000 + 1000));
        assert_eq!(p.cold_bytes_from(150), Some(2000 + 1000));
        assert_eq!(p.cold_bytes_from(200), Some(1000));
        assert_eq!(p.cold_bytes_from(10_000), Some(1000));
        // Before the oldest scanned segment: unknown.
        let newer = partition(p.segments[1..].to_vec(), vec![]);
        assert_eq!(newer.cold_bytes_from(50), None);
        assert_eq!(newer.cold_bytes_from(150), Some(3000));
        // A failed segment from the holder on: unknown; before it: fine.
        let failed = partition(
            vec![p.segments[0].clone(), p.segments[2].clone()],
            vec![100],
        );
        assert_eq!(failed.cold_bytes_from(50), None);
        assert_eq!(failed.cold_bytes_from(250), Some(1000));
    }

    #[test]
    fn slices_say_where_the_cold_bytes_are() {
        // The front half cold, the back half cached (as after reading the tail).
        let mut s = seg(0, 8000, 4000, Some(100));
        s.slices = vec![
            Slice {
                start: 0,
                end: 4000,
                cached_bytes: 0,
            },
            Slice {
                start: 4000,
                end: 8000,
                cached_bytes: 4000,
            },
        ];
        assert_eq!(s.cold_bytes_after(0), 4000);
        assert_eq!(s.cold_bytes_after(1000), 3000);
        assert_eq!(s.cold_bytes_after(4000), 0);
        assert_eq!(s.cold_bytes_after(9000), 0);
        let p = partition(vec![s.clone(), seg(100, 10, 10, None)], vec![]);
        assert_eq!(p.cold_bytes_from(25), Some(2000));
        assert_eq!(p.cold_bytes_from(50), Some(0));
        // Without slices the same counts would be taken as spread evenly.
        s.slices.clear();
        assert_eq!(s.cold_bytes_after(4000), 2000);
    }
}
