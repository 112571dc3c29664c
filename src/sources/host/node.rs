//! The machine's own counters, read from `/proc` and `statvfs`, named exactly as node_exporter
//! (1.5) names them: the same metric names, label names, label values, units and types. So a host
//! read by this source, by a `kafkascope agent` or by a scraped node_exporter gives the same
//! series, and one set of pages and queries serves all three.
//!
//! What node_exporter does that matters here, and is copied:
//! - `/proc/meminfo`: every field as `node_memory_<Field>_bytes` (kB × 1024), `(`/`)` turned into
//!   `_`/nothing (`Active(file)` → `Active_file`); fields without a unit (`HugePages_Total`) get no
//!   `_bytes`. Type gauge.
//! - `/proc/vmstat`: `node_vmstat_<field>`, untyped (stored as a gauge, as our Prometheus source
//!   stores an untyped sample), for the fields matching [`VMSTAT_FIELDS`] — node_exporter's
//!   default set plus what page-cache questions need (run node_exporter with
//!   `--collector.vmstat.fields='<that regex>'` to get the same).
//! - `/proc/stat`: `node_cpu_seconds_total{cpu,mode}` (ticks ÷ USER_HZ), `node_cpu_guest_seconds_total`,
//!   `node_context_switches_total`, `node_forks_total`, `node_boot_time_seconds`,
//!   `node_procs_running`, `node_procs_blocked`.
//! - `/proc/loadavg`: `node_load1`, `node_load5`, `node_load15`.
//! - `/proc/pressure/*`: `node_pressure_{cpu,io,memory}_waiting_seconds_total` (the `some` line) and
//!   `node_pressure_{io,memory}_stalled_seconds_total` (`full`).
//! - `/proc/diskstats`: `node_disk_*{device}` for whole devices (partitions, loop and ram devices
//!   left out by node_exporter's default `device-exclude`), sectors × 512 for bytes, ms ÷ 1000.
//! - `/proc/net/dev`: `node_network_{receive,transmit}_*_total{device}`, `lo` left out.
//! - `statvfs` of each configured log dir's mount: `node_filesystem_*{device,fstype,mountpoint}`.

use crate::model::{Labels, Reading};
use procfs::{Current, CurrentSI};
use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// The `/proc/vmstat` fields read: node_exporter's default (`^(oom_kill|pgpg|pswp|pg.*fault).*`)
/// plus page reclaim, refaults and the file-page counts that tell page-cache churn.
pub const VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault|pgsteal_|pgscan_|workingset_|pgactivate|pgdeactivate|pgrefill|nr_dirty|nr_writeback|nr_dirtied|nr_written|nr_active_file|nr_inactive_file|nr_file_pages|nr_mapped).*";

static VMSTAT_RE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant, checked by a test
    Regex::new(VMSTAT_FIELDS).unwrap()
});

/// node_exporter's default `--collector.diskstats.device-exclude`.
static DISK_EXCLUDE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant, checked by a test
    Regex::new(r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$").unwrap()
});

/// One read of the machine: readings plus what could not be read (a missing `/proc/pressure` on
/// an old kernel, say), which does not fail the read.
#[derive(Debug, Default)]
pub struct NodeRead {
    pub readings: Vec<Reading>,
    pub warnings: Vec<String>,
    /// The mount each configured log dir lives on, for the pages (log dir → mountpoint).
    pub log_dir_mounts: Vec<(PathBuf, String)>,
}

/// Reads everything once. `log_dirs` are Kafka's log directories whose file systems are wanted.
pub fn read(log_dirs: &[PathBuf]) -> NodeRead {
    let mut out = NodeRead::default();
    let mut r = Vec::with_capacity(600);
    let mut note = |what: &str, e: String| out.warnings.push(format!("{what}: {e}"));
    match std::fs::read_to_string("/proc/meminfo") {
        Ok(text) => meminfo(&text, &mut r),
        Err(e) => note("/proc/meminfo", e.to_string()),
    }
    match procfs::VmStat::current() {
        Ok(v) => vmstat(&v.0, &mut r),
        Err(e) => note("/proc/vmstat", e.to_string()),
    }
    match procfs::KernelStats::current() {
        Ok(s) => stat(&s, procfs::ticks_per_second(), &mut r),
        Err(e) => note("/proc/stat", e.to_string()),
    }
    match procfs::LoadAverage::current() {
        Ok(l) => {
            for (name, v) in [
                ("node_load1", l.one),
                ("node_load5", l.five),
                ("node_load15", l.fifteen),
            ] {
                r.push(Reading::gauge(name, f32_as_printed(v)));
            }
        }
        Err(e) => note("/proc/loadavg", e.to_string()),
    }
    pressure(&mut r, &mut note);
    match procfs::DiskStats::current() {
        Ok(d) => diskstats(&d.0, &mut r),
        Err(e) => note("/proc/diskstats", e.to_string()),
    }
    match procfs::net::InterfaceDeviceStatus::current() {
        Ok(d) => netdev(&d.0, &mut r),
        Err(e) => note("/proc/net/dev", e.to_string()),
    }
    if !log_dirs.is_empty() {
        match std::fs::read_to_string("/proc/self/mounts") {
            Ok(text) => {
                let mounts = parse_mounts(&text);
                let mut done = Vec::new();
                for dir in log_dirs {
                    let Some(m) = mount_of(&mounts, dir) else {
                        note(&dir.display().to_string(), "no mount holds it".into());
                        continue;
                    };
                    out.log_dir_mounts.push((dir.clone(), m.mountpoint.clone()));
                    if done.contains(&m.mountpoint) {
                        continue;
                    }
                    done.push(m.mountpoint.clone());
                    if let Err(e) = filesystem(m, dir, &mut r) {
                        note(&dir.display().to_string(), e);
                    }
                }
            }
            Err(e) => note("/proc/self/mounts", e.to_string()),
        }
    }
    out.readings = r;
    out
}

/// `load 0.52` is printed by the kernel with two decimals and read by procfs as f32; through its
/// shortest printed form it becomes the f64 node_exporter reads (0.52, not 0.5199999809).
fn f32_as_printed(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(v as f64)
}

/// `Active(file)` → `Active_file`, as node_exporter's meminfo collector names fields.
pub fn meminfo_name(field: &str) -> String {
    field.replace('(', "_").replace(')', "")
}

/// Every `/proc/meminfo` line. Hand-read because procfs' `Meminfo` keeps only the fields it knows,
/// and node_exporter exports every field the kernel prints.
pub fn meminfo(text: &str, out: &mut Vec<Reading>) {
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let Some(Ok(value)) = parts.next().map(str::parse::<f64>) else {
            continue;
        };
        let key = meminfo_name(key.trim());
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        match parts.next() {
            Some("kB") => out.push(Reading::gauge(
                format!("node_memory_{key}_bytes"),
                value * 1024.0,
            )),
            None => out.push(Reading::gauge(format!("node_memory_{key}"), value)),
            Some(_) => {}
        }
    }
}

pub fn vmstat(fields: &std::collections::HashMap<String, i64>, out: &mut Vec<Reading>) {
    let mut names: Vec<_> = fields
        .iter()
        .filter(|(k, _)| VMSTAT_RE.is_match(k))
        .collect();
    names.sort();
    for (k, v) in names {
        out.push(Reading::gauge(format!("node_vmstat_{k}"), *v as f64));
    }
}

fn stat(s: &procfs::KernelStats, ticks_per_second: u64, out: &mut Vec<Reading>) {
    let tps = ticks_per_second.max(1) as f64;
    for (i, cpu) in s.cpu_time.iter().enumerate() {
        let id = i.to_string();
        let modes = [
            ("user", Some(cpu.user)),
            ("nice", Some(cpu.nice)),
            ("system", Some(cpu.system)),
            ("idle", Some(cpu.idle)),
            ("iowait", cpu.iowait),
            ("irq", cpu.irq),
            ("softirq", cpu.softirq),
            ("steal", cpu.steal),
        ];
        for (mode, ticks) in modes {
            if let Some(t) = ticks {
                out.push(
                    Reading::counter("node_cpu_seconds_total", t as f64 / tps)
                        .label("cpu", &id)
                        .label("mode", mode),
                );
            }
        }
        for (mode, ticks) in [("user", cpu.guest), ("nice", cpu.guest_nice)] {
            if let Some(t) = ticks {
                out.push(
                    Reading::counter("node_cpu_guest_seconds_total", t as f64 / tps)
                        .label("cpu", &id)
                        .label("mode", mode),
                );
            }
        }
    }
    out.push(Reading::counter(
        "node_context_switches_total",
        s.ctxt as f64,
    ));
    out.push(Reading::counter("node_forks_total", s.processes as f64));
    out.push(Reading::gauge("node_boot_time_seconds", s.btime as f64));
    if let Some(n) = s.procs_running {
        out.push(Reading::gauge("node_procs_running", n as f64));
    }
    if let Some(n) = s.procs_blocked {
        out.push(Reading::gauge("node_procs_blocked", n as f64));
    }
}

fn pressure(out: &mut Vec<Reading>, note: &mut impl FnMut(&str, String)) {
    // Divided twice, as node_exporter does, so the floats agree to the last bit.
    let secs = |us: u64| us as f64 / 1000.0 / 1000.0;
    match procfs::CpuPressure::current() {
        Ok(p) => out.push(Reading::counter(
            "node_pressure_cpu_waiting_seconds_total",
            secs(p.some.total),
        )),
        Err(e) => note("/proc/pressure/cpu", e.to_string()),
    }
    match procfs::MemoryPressure::current() {
        Ok(p) => {
            out.push(Reading::counter(
                "node_pressure_memory_waiting_seconds_total",
                secs(p.some.total),
            ));
            out.push(Reading::counter(
                "node_pressure_memory_stalled_seconds_total",
                secs(p.full.total),
            ));
        }
        Err(e) => note("/proc/pressure/memory", e.to_string()),
    }
    match procfs::IoPressure::current() {
        Ok(p) => {
            out.push(Reading::counter(
                "node_pressure_io_waiting_seconds_total",
                secs(p.some.total),
            ));
            out.push(Reading::counter(
                "node_pressure_io_stalled_seconds_total",
                secs(p.full.total),
            ));
        }
        Err(e) => note("/proc/pressure/io", e.to_string()),
    }
}

/// Whether node_exporter's default device filter keeps this block device.
pub fn disk_included(name: &str) -> bool {
    !DISK_EXCLUDE.is_match(name)
}

fn diskstats(disks: &[procfs::DiskStat], out: &mut Vec<Reading>) {
    for d in disks.iter().filter(|d| disk_included(&d.name)) {
        let c = |name: &str, v: f64| Reading::counter(name, v).label("device", &d.name);
        // Multiplied, as node_exporter does (144 × 0.001 is 0.14400000000000002, not 0.144).
        let ms = |v: u64| v as f64 * 0.001;
        out.push(c("node_disk_reads_completed_total", d.reads as f64));
        out.push(c("node_disk_reads_merged_total", d.merged as f64));
        out.push(c(
            "node_disk_read_bytes_total",
            d.sectors_read as f64 * 512.0,
        ));
        out.push(c("node_disk_read_time_seconds_total", ms(d.time_reading)));
        out.push(c("node_disk_writes_completed_total", d.writes as f64));
        out.push(c("node_disk_writes_merged_total", d.writes_merged as f64));
        out.push(c(
            "node_disk_written_bytes_total",
            d.sectors_written as f64 * 512.0,
        ));
        out.push(c("node_disk_write_time_seconds_total", ms(d.time_writing)));
        out.push(Reading::gauge("node_disk_io_now", d.in_progress as f64).label("device", &d.name));
        out.push(c("node_disk_io_time_seconds_total", ms(d.time_in_progress)));
        out.push(c(
            "node_disk_io_time_weighted_seconds_total",
            ms(d.weighted_time_in_progress),
        ));
        if let Some(v) = d.discards {
            out.push(c("node_disk_discards_completed_total", v as f64));
        }
        if let Some(v) = d.discards_merged {
            out.push(c("node_disk_discards_merged_total", v as f64));
        }
        if let Some(v) = d.sectors_discarded {
            out.push(c("node_disk_discarded_sectors_total", v as f64));
        }
        if let Some(v) = d.time_discarding {
            out.push(c("node_disk_discard_time_seconds_total", ms(v)));
        }
        if let Some(v) = d.flushes {
            out.push(c("node_disk_flush_requests_total", v as f64));
        }
        if let Some(v) = d.time_flushing {
            out.push(c("node_disk_flush_requests_time_seconds_total", ms(v)));
        }
    }
}

fn netdev(
    devs: &std::collections::HashMap<String, procfs::net::DeviceStatus>,
    out: &mut Vec<Reading>,
) {
    let sorted: BTreeMap<_, _> = devs.iter().collect();
    // node_exporter leaves out the loopback device by default (`--collector.netdev.device-exclude="^lo$"`).
    for (name, d) in sorted.into_iter().filter(|(n, _)| n.as_str() != "lo") {
        let fields = [
            ("receive_bytes", d.recv_bytes),
            ("receive_packets", d.recv_packets),
            ("receive_errs", d.recv_errs),
            ("receive_drop", d.recv_drop),
            ("receive_fifo", d.recv_fifo),
            ("receive_frame", d.recv_frame),
            ("receive_compressed", d.recv_compressed),
            ("receive_multicast", d.recv_multicast),
            ("transmit_bytes", d.sent_bytes),
            ("transmit_packets", d.sent_packets),
            ("transmit_errs", d.sent_errs),
            ("transmit_drop", d.sent_drop),
            ("transmit_fifo", d.sent_fifo),
            ("transmit_colls", d.sent_colls),
            ("transmit_carrier", d.sent_carrier),
            ("transmit_compressed", d.sent_compressed),
        ];
        for (f, v) in fields {
            out.push(
                Reading::counter(format!("node_network_{f}_total"), v as f64)
                    .label("device", name.as_str()),
            );
        }
    }
}

/// One line of `/proc/self/mounts`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    pub options: String,
}

/// `/proc/self/mounts`, with the kernel's octal escapes (`\040` for a space) undone.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(' ');
            Some(Mount {
                device: unescape(f.next()?),
                mountpoint: unescape(f.next()?),
                fstype: unescape(f.next()?),
                options: unescape(f.next()?),
            })
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount holding `dir`: the longest mount point that is a path prefix of it (the last one
/// mounted there when several are stacked).
pub fn mount_of<'a>(mounts: &'a [Mount], dir: &Path) -> Option<&'a Mount> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| dir.starts_with(&m.mountpoint))
        .max_by_key(|(i, m)| (m.mountpoint.len(), *i))
        .map(|(_, m)| m)
}

fn filesystem(m: &Mount, dir: &Path, out: &mut Vec<Reading>) -> Result<(), String> {
    let s = statvfs(dir)?;
    let labels = Labels::new()
        .with("device", &m.device)
        .with("fstype", &m.fstype)
        .with("mountpoint", &m.mountpoint);
    let frsize = s.fragment_size as f64;
    let readonly = m.options.split(',').any(|o| o == "ro");
    for (name, v) in [
        ("node_filesystem_size_bytes", s.blocks as f64 * frsize),
        ("node_filesystem_free_bytes", s.blocks_free as f64 * frsize),
        (
            "node_filesystem_avail_bytes",
            s.blocks_avail as f64 * frsize,
        ),
        ("node_filesystem_files", s.files as f64),
        ("node_filesystem_files_free", s.files_free as f64),
        ("node_filesystem_readonly", if readonly { 1.0 } else { 0.0 }),
        ("node_filesystem_device_error", 0.0),
    ] {
        let mut r = Reading::gauge(name, v);
        r.labels = labels.clone();
        out.push(r);
    }
    Ok(())
}

/// What `statvfs(3)` says of a file system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatVfs {
    pub fragment_size: u64,
    pub blocks: u64,
    pub blocks_free: u64,
    pub blocks_avail: u64,
    pub files: u64,
    pub files_free: u64,
}

pub fn statvfs(path: &Path) -> Result<StatVfs, String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| "path holds a NUL byte".to_string())?;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a valid NUL-terminated path and `s` points to writable memory of the right
    // type; the kernel fills it on success.
    let rc = unsafe { libc::statvfs(c.as_ptr(), s.as_mut_ptr()) };
    if rc != 0 {
        return Err(format!("statvfs: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs returned 0, so the struct is initialised.
    let s = unsafe { s.assume_init() };
    Ok(StatVfs {
        fragment_size: s.f_frsize,
        blocks: s.f_blocks,
        blocks_free: s.f_bfree,
        blocks_avail: s.f_bavail,
        files: s.f_files,
        files_free: s.f_ffree,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn meminfo_names_and_units_follow_node_exporter() {
        let mut r = Vec::new();
        meminfo(
            "MemTotal:       24576000 kB\nActive(file):     1000 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n",
            &mut r,
        );
        let got: Vec<_> = r.iter().map(|r| (r.metric.as_str(), r.value)).collect();
        assert_eq!(
            got,
            vec![
                ("node_memory_MemTotal_bytes", 24576000.0 * 1024.0),
                ("node_memory_Active_file_bytes", 1024000.0),
                ("node_memory_HugePages_Total", 0.0),
                ("node_memory_Hugepagesize_bytes", 2048.0 * 1024.0),
            ]
        );
    }

    #[test]
    fn the_fixed_patterns_compile_and_filter_as_node_exporter() {
        assert!(VMSTAT_RE.is_match("pgmajfault") && VMSTAT_RE.is_match("workingset_refault_file"));
        assert!(VMSTAT_RE.is_match("pgsteal_kswapd") && !VMSTAT_RE.is_match("nr_free_pages"));
        assert!(disk_included("vda") && disk_included("nvme0n1") && disk_included("zram0"));
        assert!(!disk_included("vda1") && !disk_included("loop0") && !disk_included("nvme0n1p2"));
    }

    #[test]
    fn a_log_dir_belongs_to_the_longest_mount_above_it() {
        let m = parse_mounts(
            "/dev/vda / ext4 rw,relatime 0 0\n/dev/vdb /var/lib/kafka xfs rw 0 0\n/dev/vdc /var/lib/kafka\\040data xfs ro 0 0\n",
        );
        assert_eq!(m[2].mountpoint, "/var/lib/kafka data");
        let p = |s: &str| mount_of(&m, Path::new(s)).map(|m| m.device.as_str());
        assert_eq!(p("/var/lib/kafka/logs-1"), Some("/dev/vdb"));
        assert_eq!(p("/var/lib/kafka data/x"), Some("/dev/vdc"));
        assert_eq!(p("/var/lib/kafkaesque"), Some("/dev/vda"));
    }

    proptest! {
        #![proptest_config(crate::proptest_config(256))]
        #[test]
        fn meminfo_and_mounts_never_panic(text in "\\PC{0,300}") {
            let mut r = Vec::new();
            meminfo(&text, &mut r);
            for x in &r {
                prop_assert!(x.metric.starts_with("node_memory_"));
            }
            let _ = parse_mounts(&text);
            let _ = unescape(&text);
        }
    }
}
