//! Page-cache hits, misses and dirties counted the way Brendan Gregg's `cachestat` counts them.
//!
//! `cachestat` (perf-tools, the ftrace version) turns on tracefs' function profiler for four
//! kernel functions and, per interval, computes from their call counts:
//!
//! - `total = accessed − buffer_dirty` (page accesses that are not writes),
//! - `misses = added − page_dirtied` (pages added to the cache for a read, not by a write),
//! - `hits = total − misses`, `ratio = hits / total`,
//! - `DIRTIES` = the `mark_buffer_dirty` count (what both perf-tools and bcc print in that column).
//!
//! The clamps are bcc's (`total` and `misses` floored at 0; when `hits` would go negative because
//! read-ahead added more pages than were asked for, `misses = total`, `hits = 0`), so every
//! interval is non-negative and the running sums this module keeps are true counters.
//!
//! The functions moved with the folio conversion (5.16+): `mark_page_accessed` became a wrapper
//! of `folio_mark_accessed`, `add_to_page_cache_lru` of `filemap_add_folio`, and
//! `account_page_dirtied` became `folio_account_dirtied` (static, so it may be inlined away; then
//! its caller `__folio_mark_dirty` is counted). [`probe`] takes the first name of each role that
//! `available_filter_functions` lists, newest first, and [`Profiler::functions`] says which.
//!
//! Where any of this is missing, [`probe`] says exactly why in [`Unavailable::reason`]; the
//! caller then shows the fallback indicators (major faults, `pgpgin`, file refaults).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where tracefs is usually mounted, in the order [`probe_system`] tries them.
pub const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// What `set_ftrace_filter` reads when no filter is set.
const NO_FILTER: &str = "#### all functions enabled ####";

/// The four things cachestat counts, each with the kernel's names for it, newest kernel first.
const CANDIDATES: [(&str, &[&str]); 4] = [
    ("accessed", &["folio_mark_accessed", "mark_page_accessed"]),
    ("buffer_dirty", &["mark_buffer_dirty"]),
    ("added", &["filemap_add_folio", "add_to_page_cache_lru"]),
    (
        "page_dirtied",
        &[
            "folio_account_dirtied",
            "account_page_dirtied",
            "__folio_mark_dirty",
        ],
    ),
];

/// Why cachestat cannot run here, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unavailable {
    pub reason: String,
}

impl Unavailable {
    fn new(reason: impl Into<String>) -> Unavailable {
        Unavailable {
            reason: reason.into(),
        }
    }
}

/// Cumulative call counts of the four functions (summed over CPUs), in the order of the roles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RawCounts {
    pub accessed: u64,
    pub buffer_dirty: u64,
    pub added: u64,
    pub page_dirtied: u64,
}

/// Running totals since the profiler started; each only grows, so they are stored as counters and
/// rated per interval. `accesses = hits + misses` (cachestat's `total`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheCounts {
    pub hits: u64,
    pub misses: u64,
    pub dirties: u64,
    pub accesses: u64,
}

impl CacheCounts {
    /// The hit ratio over the interval from `earlier` to `self`; `None` without accesses.
    pub fn ratio_since(&self, earlier: &CacheCounts) -> Option<f64> {
        let total = self.accesses.saturating_sub(earlier.accesses);
        let hits = self.hits.saturating_sub(earlier.hits);
        (total > 0).then(|| hits as f64 / total as f64)
    }
}

/// One interval's cachestat arithmetic on call-count deltas (bcc's clamps; see the module doc).
pub fn interval_counts(d: &RawCounts) -> CacheCounts {
    let total = d.accessed.saturating_sub(d.buffer_dirty);
    let mut misses = d.added.saturating_sub(d.page_dirtied);
    let hits = if misses > total {
        misses = total;
        0
    } else {
        total - misses
    };
    CacheCounts {
        hits,
        misses,
        dirties: d.buffer_dirty,
        accesses: total,
    }
}

/// The function profiler of one tracefs, set up for the four cachestat functions. Dropping it
/// turns the profiler off and clears the filter it set.
#[derive(Debug)]
pub struct Profiler {
    root: PathBuf,
    functions: [&'static str; 4],
    last: RawCounts,
    totals: CacheCounts,
    raw_totals: RawCounts,
    enabled: bool,
}

/// Tries the usual tracefs mount points; the reason names the first when neither is mounted.
pub fn probe_system() -> Result<Profiler, Unavailable> {
    let mut first = None;
    for root in TRACEFS_ROOTS {
        match probe(Path::new(root)) {
            Ok(p) => return Ok(p),
            Err(e) if is_mounted(Path::new(root)) => return Err(e),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.unwrap_or_else(|| Unavailable::new("no tracefs mount point to try")))
}

/// A tracefs is there when its always-present control files are (an unmounted mount point is an
/// empty directory).
fn is_mounted(root: &Path) -> bool {
    root.join("available_tracers").exists()
}

/// The text of an I/O error without Rust's " (os error N)" suffix, as `cat` would say it.
fn os_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Checks that the function profiler of the tracefs at `tracefs_root` can count cachestat's
/// functions, then sets the filter and turns the profiler on.
pub fn probe(tracefs_root: &Path) -> Result<Profiler, Unavailable> {
    let root = tracefs_root;
    let shown = root.display();
    if !is_mounted(root) {
        return Err(Unavailable::new(format!(
            "tracefs is not mounted at {shown} (mount -t tracefs nodev {shown})"
        )));
    }
    let enable = root.join("function_profile_enabled");
    if !enable.exists() {
        return Err(Unavailable::new(
            "this kernel has no function profiler (function_profile_enabled missing: \
             CONFIG_FUNCTION_PROFILER is off)",
        ));
    }
    // Only report "not root" where it actually stops us: a test tree owned by the user is fine.
    // SAFETY: geteuid has no preconditions; access only reads the NUL-terminated path.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 && !writable(&enable) {
        return Err(Unavailable::new(format!(
            "not root (running as uid {euid})"
        )));
    }
    let available = fs::read_to_string(root.join("available_filter_functions"))
        .map_err(|e| Unavailable::new(format!("available_filter_functions: {}", os_text(&e))))?;
    let functions = choose_functions(&available)?;

    match fs::read_to_string(&enable) {
        Ok(s) if s.trim() == "0" => {}
        Ok(s) => {
            return Err(Unavailable::new(format!(
                "the function profiler is already in use (function_profile_enabled is {})",
                s.trim()
            )));
        }
        Err(e) => {
            return Err(Unavailable::new(format!(
                "function_profile_enabled: {}",
                os_text(&e)
            )));
        }
    }
    let filter_path = root.join("set_ftrace_filter");
    let current = fs::read_to_string(&filter_path)
        .map_err(|e| Unavailable::new(format!("set_ftrace_filter: {}", os_text(&e))))?;
    let in_use: Vec<&str> = filter_lines(&current).collect();
    if !in_use.is_empty() {
        return Err(Unavailable::new(format!(
            "set_ftrace_filter is in use by another tracer ({} functions, e.g. {})",
            in_use.len(),
            in_use[0]
        )));
    }

    let mut profiler = Profiler {
        root: root.to_path_buf(),
        functions,
        last: RawCounts::default(),
        totals: CacheCounts::default(),
        raw_totals: RawCounts::default(),
        enabled: false,
    };
    write_file(&filter_path, &format!("{}\n", functions.join("\n")))
        .map_err(|e| Unavailable::new(format!("set_ftrace_filter: {}", os_text(&e))))?;
    // The kernel rejects an unknown name with EINVAL, but check: a partial filter would count
    // some functions and silently not others.
    let set = fs::read_to_string(&filter_path)
        .map_err(|e| Unavailable::new(format!("set_ftrace_filter: {}", os_text(&e))))?;
    let set: Vec<&str> = filter_lines(&set).collect();
    if let Some(missing) = functions.iter().find(|f| !set.contains(f)) {
        profiler.clear_filter();
        return Err(Unavailable::new(format!(
            "set_ftrace_filter did not take {missing}"
        )));
    }
    if let Err(e) = write_file(&enable, "1\n") {
        profiler.clear_filter();
        return Err(Unavailable::new(format!(
            "function_profile_enabled: {}",
            os_text(&e)
        )));
    }
    profiler.enabled = true;
    tracing::info!(root = %shown, functions = ?functions, "cachestat: function profiler on");
    Ok(profiler)
}

/// The function names of a `set_ftrace_filter` listing (first word of each line; the kernel may
/// append ` [module]` or flags).
fn filter_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && *l != NO_FILTER)
        .filter_map(|l| l.split_whitespace().next())
}

fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Writes the whole text in one `write` (tracefs acts on each write), truncating first.
fn write_file(path: &Path, text: &str) -> io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Picks the first listed name per role from `available_filter_functions`.
fn choose_functions(available: &str) -> Result<[&'static str; 4], Unavailable> {
    // Lines are `name` or `name [module]`; a name can appear more than once (static functions
    // of the same name in different files), which does not matter here.
    let listed: std::collections::HashSet<&str> = available
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let mut chosen = [""; 4];
    for (slot, (_, names)) in chosen.iter_mut().zip(CANDIDATES.iter()) {
        match names.iter().find(|n| listed.contains(*n)) {
            Some(n) => *slot = n,
            None => {
                return Err(Unavailable::new(format!(
                    "none of {} can be traced on this kernel (not in available_filter_functions)",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(chosen)
}

/// An error in a `trace_stat/functionN` file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct StatError {
    pub line: usize,
    pub what: String,
}

/// Parses one `trace_stat/functionN` file of the function profiler:
///
/// ```text
///   Function                               Hit    Time            Avg             s^2
///   --------                               ---    ----            ---             ---
///   mark_page_accessed                    5712    1234.567 us     0.216 us        0.070 us
/// ```
///
/// (only `Function` and `Hit` without the function graph tracer). Returns (name, hits) per row.
pub fn parse_function_stat(text: &str) -> Result<Vec<(&str, u64)>, StatError> {
    let mut rows = Vec::new();
    let mut header = false;
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if !header {
            if first == "Function" && words.next() == Some("Hit") {
                header = true;
                continue;
            }
            return Err(StatError {
                line: i + 1,
                what: format!("expected the `Function  Hit` header, found {line:?}"),
            });
        }
        if first.starts_with("--") {
            continue;
        }
        let hit = words.next().ok_or_else(|| StatError {
            line: i + 1,
            what: format!("no hit count after {first:?}"),
        })?;
        let hit = hit.parse::<u64>().map_err(|_| StatError {
            line: i + 1,
            what: format!("hit count {hit:?} of {first:?} is not a whole number"),
        })?;
        rows.push((first, hit));
    }
    Ok(rows)
}

impl Profiler {
    /// The kernel functions counted, in the order accessed, buffer-dirty, added, page-dirtied.
    pub fn functions(&self) -> &[&'static str] {
        &self.functions
    }

    /// The tracefs this profiler uses.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Cumulative raw call counts since the profiler started (reset-corrected).
    pub fn raw_totals(&self) -> RawCounts {
        self.raw_totals
    }

    /// Reads the per-CPU stat files and returns the running totals since the profiler started.
    /// The interval since the previous read goes through cachestat's arithmetic, so the rate of
    /// each total over an interval is what cachestat prints for it.
    pub fn read(&mut self) -> Result<CacheCounts, String> {
        let now = self.read_raw()?;
        // A count that went down means someone restarted the profiler (which zeroes it): the
        // new value is then all of this interval, as with a counter reset.
        let delta = |now: u64, last: u64| if now >= last { now - last } else { now };
        let d = RawCounts {
            accessed: delta(now.accessed, self.last.accessed),
            buffer_dirty: delta(now.buffer_dirty, self.last.buffer_dirty),
            added: delta(now.added, self.last.added),
            page_dirtied: delta(now.page_dirtied, self.last.page_dirtied),
        };
        self.last = now;
        let i = interval_counts(&d);
        let t = &mut self.totals;
        t.hits = t.hits.saturating_add(i.hits);
        t.misses = t.misses.saturating_add(i.misses);
        t.dirties = t.dirties.saturating_add(i.dirties);
        t.accesses = t.accesses.saturating_add(i.accesses);
        let r = &mut self.raw_totals;
        r.accessed = r.accessed.saturating_add(d.accessed);
        r.buffer_dirty = r.buffer_dirty.saturating_add(d.buffer_dirty);
        r.added = r.added.saturating_add(d.added);
        r.page_dirtied = r.page_dirtied.saturating_add(d.page_dirtied);
        Ok(self.totals)
    }

    /// The four functions' counts summed over `trace_stat/function0..N` as they are now.
    fn read_raw(&self) -> Result<RawCounts, String> {
        let dir = self.root.join("trace_stat");
        let entries =
            fs::read_dir(&dir).map_err(|e| format!("{}: {}", dir.display(), os_text(&e)))?;
        let mut sums = [0u64; 4];
        let mut files = 0;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {}", dir.display(), os_text(&e)))?;
            let name = entry.file_name();
            let Some(cpu) = name.to_str().and_then(|n| n.strip_prefix("function")) else {
                continue;
            };
            if cpu.is_empty() || !cpu.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let path = entry.path();
            let text = fs::read_to_string(&path)
                .map_err(|e| format!("{}: {}", path.display(), os_text(&e)))?;
            let rows =
                parse_function_stat(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            for (name, hits) in rows {
                if let Some(i) = self.functions.iter().position(|f| *f == name) {
                    sums[i] = sums[i].saturating_add(hits);
                }
            }
            files += 1;
        }
        if files == 0 {
            return Err(format!(
                "{}: no functionN files (is the profiler on?)",
                dir.display()
            ));
        }
        Ok(RawCounts {
            accessed: sums[0],
            buffer_dirty: sums[1],
            added: sums[2],
            page_dirtied: sums[3],
        })
    }

    fn clear_filter(&self) {
        let path = self.root.join("set_ftrace_filter");
        if let Err(e) = write_file(&path, "") {
            tracing::warn!(path = %path.display(), error = %e, "cachestat: could not clear the filter");
        }
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        if self.enabled {
            let path = self.root.join("function_profile_enabled");
            if let Err(e) = write_file(&path, "0\n") {
                tracing::warn!(path = %path.display(), error = %e, "cachestat: could not turn the profiler off");
            }
        }
        self.clear_filter();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    const STAT_GRAPH: &str =
        "  Function                               Hit    Time            Avg             s^2
  --------                               ---    ----            ---             ---
  folio_mark_accessed                   5712    1234.567 us     0.216 us        0.070 us
  filemap_add_folio                     1024    800.100 us      0.781 us        1.002 us
  mark_buffer_dirty                       40    10.000 us       0.250 us        0.001 us
  __folio_mark_dirty                      24    9.000 us        0.375 us        0.002 us
";

    #[test]
    fn parses_the_profiler_table_with_and_without_times() {
        let rows = parse_function_stat(STAT_GRAPH).unwrap();
        assert_eq!(
            rows,
            vec![
                ("folio_mark_accessed", 5712),
                ("filemap_add_folio", 1024),
                ("mark_buffer_dirty", 40),
                ("__folio_mark_dirty", 24)
            ]
        );
        let plain = "  Function                               Hit\n  --------                               ---\n  mark_page_accessed                      7\n";
        assert_eq!(
            parse_function_stat(plain).unwrap(),
            vec![("mark_page_accessed", 7)]
        );
        // A CPU that counted nothing has the header only.
        assert_eq!(
            parse_function_stat("  Function  Hit\n  --------  ---\n").unwrap(),
            vec![]
        );
        assert_eq!(parse_function_stat("").unwrap(), vec![]);
    }

    #[test]
    fn rejects_what_is_not_the_profiler_table() {
        let e = parse_function_stat("hello world\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_function_stat("  Function  Hit\n  x  many\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.what.contains("\"many\""), "{e}");
        let e = parse_function_stat("  Function  Hit\n  lonely\n").unwrap_err();
        assert!(e.what.contains("no hit count"), "{e}");
    }

    #[test]
    fn cachestat_arithmetic_with_bcc_clamps() {
        // 1000 accesses of which 100 were writes; 300 added of which 50 by writes.
        let c = interval_counts(&RawCounts {
            accessed: 1000,
            buffer_dirty: 100,
            added: 300,
            page_dirtied: 50,
        });
        assert_eq!(
            c,
            CacheCounts {
                hits: 650,
                misses: 250,
                dirties: 100,
                accesses: 900
            }
        );
        // Read-ahead added more than was accessed: all misses, no hits, never negative.
        let c = interval_counts(&RawCounts {
            accessed: 10,
            buffer_dirty: 0,
            added: 64,
            page_dirtied: 0,
        });
        assert_eq!((c.hits, c.misses, c.accesses), (0, 10, 10));
        // More dirtied than added: misses floor at 0.
        let c = interval_counts(&RawCounts {
            accessed: 5,
            buffer_dirty: 9,
            added: 1,
            page_dirtied: 4,
        });
        assert_eq!(
            c,
            CacheCounts {
                hits: 0,
                misses: 0,
                dirties: 9,
                accesses: 0
            }
        );
    }

    #[test]
    fn picks_the_newest_names_the_kernel_lists() {
        let new = "folio_mark_accessed\nmark_page_accessed\nfilemap_add_folio\nadd_to_page_cache_lru\nmark_buffer_dirty\n__folio_mark_dirty\n";
        assert_eq!(
            choose_functions(new).unwrap(),
            [
                "folio_mark_accessed",
                "mark_buffer_dirty",
                "filemap_add_folio",
                "__folio_mark_dirty"
            ]
        );
        let old = "mark_page_accessed\nadd_to_page_cache_lru\nmark_buffer_dirty\naccount_page_dirtied\next4_foo [ext4]\n";
        assert_eq!(
            choose_functions(old).unwrap(),
            [
                "mark_page_accessed",
                "mark_buffer_dirty",
                "add_to_page_cache_lru",
                "account_page_dirtied"
            ]
        );
        let e = choose_functions("mark_page_accessed\nmark_buffer_dirty\n").unwrap_err();
        assert_eq!(
            e.reason,
            "none of filemap_add_folio, add_to_page_cache_lru can be traced on this kernel (not in available_filter_functions)"
        );
    }

    /// A tracefs laid out as the kernel lays it out (the files cachestat touches), in a temp dir.
    pub(crate) fn fake_tracefs(functions: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(
            root.join("available_tracers"),
            "blk function_graph function nop\n",
        )
        .unwrap();
        fs::write(root.join("function_profile_enabled"), "0\n").unwrap();
        fs::write(root.join("available_filter_functions"), functions).unwrap();
        fs::write(root.join("set_ftrace_filter"), format!("{NO_FILTER}\n")).unwrap();
        fs::create_dir(root.join("trace_stat")).unwrap();
        for cpu in 0..2 {
            fs::write(
                root.join(format!("trace_stat/function{cpu}")),
                "  Function                               Hit    Time            Avg             s^2\n  --------                               ---    ----            ---             ---\n",
            )
            .unwrap();
        }
        // Other per-CPU stats the kernel puts there, which must be ignored.
        fs::write(root.join("trace_stat/branch_all"), "not a function table\n").unwrap();
        dir
    }

    pub(crate) fn write_stat(root: &Path, cpu: usize, rows: &[(&str, u64)]) {
        let mut text = String::from(
            "  Function                               Hit    Time            Avg             s^2\n  --------                               ---    ----            ---             ---\n",
        );
        for (name, hit) in rows {
            text.push_str(&format!(
                "  {name:<36}  {hit:>6}    12.345 us       0.216 us        0.070 us\n"
            ));
        }
        fs::write(root.join(format!("trace_stat/function{cpu}")), text).unwrap();
    }

    #[test]
    fn fake_tracefs_enables_counts_and_cleans_up() {
        let dir = fake_tracefs(
            "folio_mark_accessed\nmark_page_accessed\nfilemap_add_folio\nadd_to_page_cache_lru\nmark_buffer_dirty\n__folio_mark_dirty\nvfs_read\n",
        );
        let root = dir.path();
        let mut p = probe(root).unwrap();
        assert_eq!(
            p.functions(),
            [
                "folio_mark_accessed",
                "mark_buffer_dirty",
                "filemap_add_folio",
                "__folio_mark_dirty"
            ]
        );
        assert_eq!(
            fs::read_to_string(root.join("function_profile_enabled")).unwrap(),
            "1\n"
        );
        assert_eq!(
            fs::read_to_string(root.join("set_ftrace_filter")).unwrap(),
            "folio_mark_accessed\nmark_buffer_dirty\nfilemap_add_folio\n__folio_mark_dirty\n"
        );
        // Nothing counted yet.
        assert_eq!(p.read().unwrap(), CacheCounts::default());

        // Two CPUs; a function outside the four (vfs_read) is ignored.
        write_stat(
            root,
            0,
            &[
                ("folio_mark_accessed", 600),
                ("filemap_add_folio", 200),
                ("mark_buffer_dirty", 60),
                ("vfs_read", 9999),
            ],
        );
        write_stat(
            root,
            1,
            &[
                ("folio_mark_accessed", 400),
                ("filemap_add_folio", 100),
                ("mark_buffer_dirty", 40),
                ("__folio_mark_dirty", 50),
            ],
        );
        // accessed 1000, buffer_dirty 100, added 300, dirtied 50 -> total 900, misses 250.
        let first = p.read().unwrap();
        assert_eq!(
            first,
            CacheCounts {
                hits: 650,
                misses: 250,
                dirties: 100,
                accesses: 900
            }
        );

        // The next interval: +100 accesses, +10 added; the totals grow by that interval's share.
        write_stat(
            root,
            0,
            &[
                ("folio_mark_accessed", 700),
                ("filemap_add_folio", 210),
                ("mark_buffer_dirty", 60),
            ],
        );
        let second = p.read().unwrap();
        assert_eq!(
            second,
            CacheCounts {
                hits: 740,
                misses: 260,
                dirties: 100,
                accesses: 1000
            }
        );
        assert_eq!(second.ratio_since(&first), Some(0.9));
        assert_eq!(
            p.raw_totals(),
            RawCounts {
                accessed: 1100,
                buffer_dirty: 100,
                added: 310,
                page_dirtied: 50
            }
        );

        // Someone restarted the profiler (counts start over): a reset, not a negative interval.
        write_stat(root, 0, &[("folio_mark_accessed", 5)]);
        write_stat(root, 1, &[("folio_mark_accessed", 5)]);
        let third = p.read().unwrap();
        assert_eq!(third.accesses, 1010);
        assert!(third.hits >= second.hits && third.misses >= second.misses);

        drop(p);
        assert_eq!(
            fs::read_to_string(root.join("function_profile_enabled")).unwrap(),
            "0\n"
        );
        assert_eq!(
            fs::read_to_string(root.join("set_ftrace_filter")).unwrap(),
            ""
        );
    }

    #[test]
    fn fake_tracefs_says_why_not() {
        // Old kernel names are chosen where the folio ones are absent.
        let dir = fake_tracefs(
            "mark_page_accessed\nadd_to_page_cache_lru\nmark_buffer_dirty\naccount_page_dirtied\n",
        );
        let p = probe(dir.path()).unwrap();
        assert_eq!(
            p.functions(),
            [
                "mark_page_accessed",
                "mark_buffer_dirty",
                "add_to_page_cache_lru",
                "account_page_dirtied"
            ]
        );
        drop(p);

        // Someone else's filter is left alone.
        fs::write(
            dir.path().join("set_ftrace_filter"),
            "tcp_sendmsg\nvfs_write\n",
        )
        .unwrap();
        let e = probe(dir.path()).unwrap_err();
        assert_eq!(
            e.reason,
            "set_ftrace_filter is in use by another tracer (2 functions, e.g. tcp_sendmsg)"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("set_ftrace_filter")).unwrap(),
            "tcp_sendmsg\nvfs_write\n"
        );

        fs::write(dir.path().join("function_profile_enabled"), "1\n").unwrap();
        let e = probe(dir.path()).unwrap_err();
        assert_eq!(
            e.reason,
            "the function profiler is already in use (function_profile_enabled is 1)"
        );

        fs::remove_file(dir.path().join("function_profile_enabled")).unwrap();
        let e = probe(dir.path()).unwrap_err();
        assert_eq!(
            e.reason,
            "this kernel has no function profiler (function_profile_enabled missing: CONFIG_FUNCTION_PROFILER is off)"
        );

        let empty = tempfile::tempdir().unwrap();
        let e = probe(empty.path()).unwrap_err();
        let shown = empty.path().display();
        assert_eq!(
            e.reason,
            format!("tracefs is not mounted at {shown} (mount -t tracefs nodev {shown})")
        );
    }

    /// Unmounts on drop, so a failing assertion does not leave a tracefs mounted.
    struct Mounted(PathBuf);
    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }

    /// The real tracefs of this machine: what `probe` says must match what the files say, and
    /// where the profiler is there, reading a file cold then warm must show misses then hits.
    #[test]
    fn real_tracefs_answers_truthfully() {
        // The standard mount points, as they are.
        let std_root = Path::new(TRACEFS_ROOTS[0]);
        if !is_mounted(std_root) && !is_mounted(Path::new(TRACEFS_ROOTS[1])) {
            let e = probe_system().unwrap_err();
            assert_eq!(
                e.reason,
                "tracefs is not mounted at /sys/kernel/tracing (mount -t tracefs nodev /sys/kernel/tracing)"
            );
        }
        // A tracefs of our own (root only), so the checks past "mounted" run against the kernel.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            let e = probe(std_root).unwrap_err();
            assert!(
                e.reason.starts_with("not root") || e.reason.starts_with("tracefs is not mounted"),
                "{e}"
            );
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tracefs", "nodev"])
            .arg(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "root could not mount tracefs at {}",
            dir.path().display()
        );
        let _mounted = Mounted(dir.path().to_path_buf());
        let root = dir.path();
        assert!(is_mounted(root));
        let result = probe(root);
        if !root.join("function_profile_enabled").exists() {
            assert_eq!(
                result.unwrap_err().reason,
                "this kernel has no function profiler (function_profile_enabled missing: CONFIG_FUNCTION_PROFILER is off)"
            );
            return;
        }
        if let Err(direct) = fs::read_to_string(root.join("available_filter_functions")) {
            assert_eq!(
                result.unwrap_err().reason,
                format!("available_filter_functions: {}", os_text(&direct))
            );
            return;
        }
        let mut p = match result {
            Ok(p) => p,
            // The profiler or filter is busy with someone else: the reason must say so.
            Err(e) => {
                assert!(e.reason.contains("in use"), "{e}");
                return;
            }
        };
        let file =
            tempfile::NamedTempFile::new_in(env!("CARGO_MANIFEST_DIR").to_string() + "/target")
                .unwrap();
        fs::write(file.path(), vec![7u8; 8 << 20]).unwrap();
        let f = fs::File::open(file.path()).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: valid fd for the call.
        unsafe {
            libc::fsync(f.as_raw_fd());
            libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
        let before = p.read().unwrap();
        let _ = fs::read(file.path()).unwrap();
        let cold = p.read().unwrap();
        assert!(
            cold.misses - before.misses >= 1024,
            "{before:?} -> {cold:?}"
        );
        for _ in 0..4 {
            let _ = fs::read(file.path()).unwrap();
        }
        let warm = p.read().unwrap();
        assert!(warm.hits - cold.hits >= 1024, "{cold:?} -> {warm:?}");
    }

    proptest! {
        #[test]
        fn stat_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_function_stat(&text);
            let with_header = format!("  Function  Hit\n{text}");
            if let Ok(rows) = parse_function_stat(&with_header) {
                for (name, _) in rows {
                    prop_assert!(!name.is_empty());
                }
            }
        }

        #[test]
        fn interval_counts_add_up(a in 0u64..1<<40, b in 0u64..1<<40, c in 0u64..1<<40, d in 0u64..1<<40) {
            let x = interval_counts(&RawCounts { accessed: a, buffer_dirty: b, added: c, page_dirtied: d });
            prop_assert_eq!(x.hits + x.misses, x.accesses);
            prop_assert_eq!(x.dirties, b);
        }
    }
}
