//! The report: one record per cell, the baselines, where devices overtake the CPU, the
//! machine it ran on, and the text table printed to stdout (the HTML report reuses it).
//!
//! Owns: the shape of `report.json` (documented in README.md, "Benchmarks: xinlian bench"),
//! the number formats, and the crossover rule. Never: timing (that is `measure`).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::measure::Baseline;
use super::{BackendName, Op};

/// `report.json`.
#[derive(Debug, Serialize)]
pub(super) struct Report {
    /// Bumped when a field changes meaning.
    pub(super) schema: u32,
    pub(super) machine: Machine,
    pub(super) settings: Settings,
    /// One record per (backend asked for, op, batch size), skipped backends included.
    pub(super) cells: Vec<Cell>,
    pub(super) baselines: Vec<BaselineRecord>,
    pub(super) crossovers: Vec<Crossover>,
    /// Backends asked for (or looked for) and not measured, with why.
    pub(super) skipped: Vec<Skipped>,
    /// How to read the numbers.
    pub(super) notes: Vec<String>,
    /// Wall time of the whole run, start-up included.
    pub(super) wall_seconds: f64,
}

#[derive(Debug, Serialize)]
pub(super) struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub(super) cpu_model: String,
    /// Logical CPUs this process may run on.
    pub(super) cores: usize,
    /// The /proc/cpuinfo flags that matter to the SM2/SM3 paths, as present.
    pub(super) cpu_flags: Vec<String>,
    /// Which SM2 verification path the CPU backend takes (`ifma` or `portable`).
    pub(super) sm2_path: String,
    /// SM3 messages hashed side by side by the CPU backend.
    pub(super) sm3_lanes: usize,
    /// `PRETTY_NAME` from /etc/os-release, and the kernel release.
    pub(super) os: String,
    /// Every device found, used or not.
    pub(super) devices: Vec<DeviceRecord>,
    pub(super) xinlian_version: String,
    /// When the run started, UTC, RFC 3339.
    pub(super) timestamp: String,
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct DeviceRecord {
    /// `cpu`, `opencl` or `card`.
    pub(super) kind: String,
    /// `cpu`, `opencl:N` (the `--device` index), or the card's BAR path.
    pub(super) name: String,
    pub(super) description: String,
    /// Whether this run measured it.
    pub(super) used: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct Settings {
    pub(super) quick: bool,
    pub(super) backends: Vec<String>,
    pub(super) ops: Vec<String>,
    pub(super) sizes: Vec<usize>,
    pub(super) seconds_per_cell: f64,
    pub(super) target_iterations: usize,
    pub(super) min_iterations: usize,
    /// Host threads: the cpu backend's, and those decoding signatures before a batch.
    pub(super) threads: usize,
    pub(super) msg_bytes: usize,
    /// Distinct items per op; batches cycle through them.
    pub(super) pool: usize,
    pub(super) seed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Status {
    Ok,
    Error,
    Skipped,
}

#[derive(Debug, Serialize)]
pub(super) struct Cell {
    pub(super) backend: String,
    pub(super) device: String,
    pub(super) op: String,
    pub(super) batch_size: usize,
    pub(super) status: Status,
    /// Why the cell is an error or skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
    /// Batches timed.
    pub(super) iterations: usize,
    /// Signatures, messages or leaves per second.
    pub(super) ops_per_s: Option<f64>,
    /// SM3: message bytes per second; merkle: leaf-hash bytes (32 per leaf); verify: null.
    pub(super) bytes_per_s: Option<f64>,
    /// Batch latency percentiles (one call: a verify batch includes decoding and hashing).
    pub(super) p50_us: Option<f64>,
    pub(super) p99_us: Option<f64>,
    /// This cell's ops/s over the cpu backend's at the same op and size.
    pub(super) ratio_to_cpu: Option<f64>,
    /// This cell's ops/s over each baseline's (by baseline id).
    pub(super) ratio_to_baselines: BTreeMap<String, f64>,
    /// `auto`: the fraction of the items each backend behind the dispatcher answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) auto_shares: Option<BTreeMap<String, f64>>,
}

impl Cell {
    /// A cell not measured yet: status Ok, no figures.
    pub(super) fn new(backend: &str, device: &str, op: &str, batch_size: usize) -> Cell {
        Cell {
            backend: backend.to_string(),
            device: device.to_string(),
            op: op.to_string(),
            batch_size,
            status: Status::Ok,
            error: None,
            iterations: 0,
            ops_per_s: None,
            bytes_per_s: None,
            p50_us: None,
            p99_us: None,
            ratio_to_cpu: None,
            ratio_to_baselines: BTreeMap::new(),
            auto_shares: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct BaselineRecord {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) op: String,
    /// The library calls made per item.
    pub(super) call: String,
    pub(super) mode: String,
    pub(super) status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
    /// Items timed.
    pub(super) iterations: usize,
    pub(super) ops_per_s: Option<f64>,
    pub(super) bytes_per_s: Option<f64>,
    /// Per-item latency percentiles.
    pub(super) p50_us: Option<f64>,
    pub(super) p99_us: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum CrossoverKind {
    /// Slower than the CPU below `batch_size`, faster above it (up to the next crossing).
    Overtakes,
    /// Faster than the CPU below `batch_size`, slower above it.
    FallsBehind,
    /// Faster than the CPU at every size measured.
    AheadAtEverySize,
    /// Slower than the CPU at every size measured.
    BehindAtEverySize,
    /// Within 5% of the CPU at every size measured.
    LevelAtEverySize,
}

#[derive(Debug, Serialize)]
pub(super) struct Crossover {
    pub(super) op: String,
    pub(super) backend: String,
    pub(super) kind: CrossoverKind,
    /// Where the device's curve crosses the CPU's (log-log interpolation between the two
    /// sizes around it).
    pub(super) batch_size: Option<f64>,
    pub(super) between: Option<[usize; 2]>,
    /// Throughput at the crossing, in the plot's unit (ops/s; MB/s for sm3).
    pub(super) at: Option<f64>,
    /// One sentence, as the table and the plot say it.
    pub(super) text: String,
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct Skipped {
    pub(super) backend: String,
    pub(super) reason: String,
    /// Whether it was asked for by `--backends` (else only looked for by default).
    pub(super) asked: bool,
}

impl Op {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Op::Verify => "verify",
            Op::Sm3 => "sm3",
            Op::Merkle => "merkle",
        }
    }

    /// What one item is, plural, for "N per second" columns.
    pub(super) fn unit(self) -> &'static str {
        match self {
            Op::Verify => "verifies/s",
            Op::Sm3 => "hashes/s",
            Op::Merkle => "leaves/s",
        }
    }

    /// The plot's throughput axis: the unit people compare for this op.
    pub(super) fn plot_unit(self) -> &'static str {
        match self {
            Op::Verify => "signatures/s",
            Op::Sm3 => "MB/s",
            Op::Merkle => "leaves/s",
        }
    }

    /// The throughput a plot shows for a record: ops/s, or MB/s for SM3.
    pub(super) fn plot_value(self, ops_per_s: Option<f64>, bytes_per_s: Option<f64>) -> Option<f64> {
        match self {
            Op::Sm3 => bytes_per_s.map(|b| b / 1e6),
            _ => ops_per_s,
        }
    }

    pub(super) fn title(self, msg_bytes: usize) -> String {
        match self {
            Op::Verify => {
                "verify: SM2 signatures, cold keys, from bytes (decode, Z, e on the host, then the backend's batch)"
                    .to_string()
            }
            Op::Sm3 => format!("sm3: SM3 of {msg_bytes}-byte messages"),
            Op::Merkle => "merkle: SM3 Merkle root over N leaf hashes (one root per batch)".to_string(),
        }
    }
}

impl BackendName {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            BackendName::Cpu => "cpu",
            BackendName::Opencl => "opencl",
            BackendName::Card => "card",
            BackendName::Sdf => "sdf",
            BackendName::Auto => "auto",
        }
    }
}

/// The part of /proc/cpuinfo that matters here.
fn cpuinfo() -> (String, usize, Vec<String>) {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let model = field("model name").unwrap_or_else(|| "unknown (no /proc/cpuinfo model name)".to_string());
    let cores = text.lines().filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor")).count();
    let flags = field("flags").unwrap_or_default();
    let wanted = ["avx2", "bmi2", "adx", "avx512f", "avx512ifma", "avx512vl", "sha_ni", "vaes"];
    let present: Vec<String> =
        wanted.iter().filter(|w| flags.split_whitespace().any(|f| f == **w)).map(|w| w.to_string()).collect();
    (model, cores, present)
}

fn os() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim_matches('"').to_string()));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|k| k.trim().to_string()).ok();
    let name = pretty.unwrap_or_else(|| std::env::consts::OS.to_string());
    match kernel {
        Some(k) => format!("{name}, Linux {k} ({})", std::env::consts::ARCH),
        None => format!("{name} ({})", std::env::consts::ARCH),
    }
}

/// The machine: CPU, OS, devices, version, now.
pub(super) fn machine(devices: Vec<DeviceRecord>, sm2_path: &str, sm3_lanes: usize) -> Machine {
    let (cpu_model, listed, cpu_flags) = cpuinfo();
    let cores = std::thread::available_parallelism().map_or(listed.max(1), |n| n.get());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Machine {
        cpu_model,
        cores,
        cpu_flags,
        sm2_path: sm2_path.to_string(),
        sm3_lanes,
        os: os(),
        devices,
        xinlian_version: env!("CARGO_PKG_VERSION").to_string(),
        timestamp: rfc3339(now),
    }
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ` (days to civil date: H. Hinnant's algorithm).
pub(super) fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Three significant digits with an SI suffix: 987, 12.3k, 1.05M.
pub(super) fn si(x: f64) -> String {
    let (v, suffix) = match x.abs() {
        a if a >= 1e9 => (x / 1e9, "G"),
        a if a >= 1e6 => (x / 1e6, "M"),
        a if a >= 1e3 => (x / 1e3, "k"),
        _ => (x, ""),
    };
    format!("{}{suffix}", sig3(v))
}

/// Three significant digits, no exponent.
pub(super) fn sig3(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

/// A latency in microseconds, in the unit that reads best.
pub(super) fn latency(us: f64) -> String {
    if us >= 1e6 {
        format!("{} s", sig3(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", sig3(us / 1e3))
    } else {
        format!("{} us", sig3(us))
    }
}

/// A count with thousands separators: 16,384.
pub(super) fn count(n: usize) -> String {
    group(&n.to_string())
}

/// A real number rounded to a whole count, with thousands separators (for interpolated sizes).
pub(super) fn approx_count(x: f64) -> String {
    group(&format!("{:.0}", x.max(1.0)))
}

fn group(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Throughputs within this factor of the cpu's count as level with it.
const LEVEL: f64 = 1.05;

/// Where each device's curve crosses the cpu backend's, per op. A device that crosses more
/// than once is reported at its first upward crossing.
pub(super) fn crossovers(cells: &[Cell], ops: &[Op]) -> Vec<Crossover> {
    let mut out = Vec::new();
    for &op in ops {
        let curve = |backend: &str| -> Vec<(usize, f64)> {
            cells
                .iter()
                .filter(|c| c.backend == backend && c.op == op.as_str() && c.status == Status::Ok)
                .filter_map(|c| op.plot_value(c.ops_per_s, c.bytes_per_s).map(|v| (c.batch_size, v)))
                .filter(|&(_, v)| v > 0.0)
                .collect()
        };
        let cpu = curve("cpu");
        let mut backends: Vec<&str> = Vec::new();
        for c in cells {
            if c.backend != "cpu" && !backends.contains(&c.backend.as_str()) {
                backends.push(&c.backend);
            }
        }
        for backend in backends {
            // Sizes both curves have, in order (cells are recorded by size).
            let points: Vec<(usize, f64, f64)> = curve(backend)
                .into_iter()
                .filter_map(|(n, v)| cpu.iter().find(|(m, _)| *m == n).map(|&(_, c)| (n, v, c)))
                .collect();
            let (Some(first), Some(last)) = (points.first(), points.last()) else { continue };
            let sizes =
                if first.0 == last.0 { count(first.0) } else { format!("{} to {}", count(first.0), count(last.0)) };
            let record = |kind, batch_size, between, at, text| Crossover {
                op: op.as_str().to_string(),
                backend: backend.to_string(),
                kind,
                batch_size,
                between,
                at,
                text,
            };
            // Within LEVEL of the cpu is within run-to-run noise on a shared machine (and a
            // Merkle root of one leaf is no work at all): level, on neither side, never a crossing.
            let (level, sided): (Vec<_>, Vec<_>) =
                points.iter().copied().partition(|&(_, v, c)| v <= c * LEVEL && v >= c / LEVEL);
            let level_note = if level.is_empty() {
                String::new()
            } else {
                let at: Vec<String> = level.iter().map(|p| count(p.0)).collect();
                format!("; level with it (within 5%) at {}", at.join(", "))
            };
            if sided.is_empty() {
                let text = format!("{backend} is level with cpu (within 5%) at every size measured ({sizes})");
                out.push(record(CrossoverKind::LevelAtEverySize, None, None, None, text));
                continue;
            }
            if sided.iter().all(|&(_, v, c)| v > c) {
                let text = format!("{backend} is ahead of cpu at every size measured ({sizes}{level_note})");
                out.push(record(CrossoverKind::AheadAtEverySize, None, None, None, text));
                continue;
            }
            if sided.iter().all(|&(_, v, c)| v < c) {
                let text = format!("{backend} stays below cpu at every size measured ({sizes}{level_note})");
                out.push(record(CrossoverKind::BehindAtEverySize, None, None, None, text));
                continue;
            }
            for pair in sided.windows(2) {
                let ((n0, v0, c0), (n1, v1, c1)) = (pair[0], pair[1]);
                if (v0 > c0) == (v1 > c1) {
                    continue;
                }
                // log(ratio) is taken as linear in log(size) between the two sizes.
                let (r0, r1) = ((v0 / c0).ln(), (v1 / c1).ln());
                let t = r0 / (r0 - r1);
                let (l0, l1) = ((n0 as f64).ln(), (n1 as f64).ln());
                let x = (l0 + t * (l1 - l0)).exp();
                let y = (c0.ln() + t * (c1.ln() - c0.ln())).exp();
                let (kind, verb) = if v1 > c1 {
                    (CrossoverKind::Overtakes, "overtakes")
                } else {
                    (CrossoverKind::FallsBehind, "falls behind")
                };
                let text = format!(
                    "{backend} {verb} cpu at about {} items per batch (between {} and {})",
                    approx_count(x),
                    count(n0),
                    count(n1)
                );
                out.push(record(kind, Some(x), Some([n0, n1]), Some(y), text));
            }
        }
    }
    out
}

/// A table: a title, a header, rows, and lines under it.
pub(super) struct Table {
    pub(super) title: String,
    pub(super) header: Vec<String>,
    pub(super) rows: Vec<Vec<String>>,
    pub(super) notes: Vec<String>,
}

impl Table {
    /// Columns padded to width; numbers right-aligned, names left-aligned.
    pub(super) fn to_text(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .chain(std::iter::once(&self.header[i]))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                if i > 0 {
                    s.push_str("  ");
                }
                if i == 1 {
                    s.push_str(&format!("{c:<w$}"));
                } else {
                    s.push_str(&format!("{c:>w$}"));
                }
            }
            s.trim_end().to_string()
        };
        let mut out = format!("{}\n{}\n", self.title, line(&self.header));
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        for n in &self.notes {
            out.push_str(&format!("  {n}\n"));
        }
        out
    }
}

/// The table of one op: a row per (size, backend), then the baselines and the crossovers.
pub(super) fn table(report: &Report, op: Op) -> Table {
    let baselines: Vec<&BaselineRecord> = report.baselines.iter().filter(|b| b.op == op.as_str()).collect();
    let mut header: Vec<String> = vec!["size".into(), "backend".into(), op.unit().into()];
    if op != Op::Verify {
        header.push("MB/s".into());
    }
    header.extend(["p50 batch".into(), "p99 batch".into(), "iters".into(), "vs cpu".into()]);
    header.extend(baselines.iter().map(|b| format!("vs {}", b.name)));
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for c in report.cells.iter().filter(|c| c.op == op.as_str()) {
        let mut row = vec![count(c.batch_size), c.backend.clone()];
        match (c.status, c.ops_per_s) {
            (Status::Ok, Some(ops)) => {
                row.push(si(ops));
                if op != Op::Verify {
                    row.push(c.bytes_per_s.map_or("-".into(), |b| sig3(b / 1e6)));
                }
                row.push(c.p50_us.map_or("-".into(), latency));
                row.push(c.p99_us.map_or("-".into(), latency));
                row.push(count(c.iterations));
                row.push(c.ratio_to_cpu.map_or("-".into(), |r| format!("{}x", sig3(r))));
                for b in &baselines {
                    row.push(c.ratio_to_baselines.get(&b.id).map_or("-".into(), |r| format!("{}x", sig3(*r))));
                }
            }
            (status, _) => {
                let word = if status == Status::Skipped { "skipped" } else { "ERROR" };
                row.push(word.into());
                row.extend(std::iter::repeat_n("-".to_string(), header.len() - 3));
                if status == Status::Error {
                    notes.push(format!(
                        "ERROR {} at {}: {}",
                        c.backend,
                        count(c.batch_size),
                        c.error.as_deref().unwrap_or("unknown")
                    ));
                }
            }
        }
        rows.push(row);
    }
    if !baselines.is_empty() {
        let list: Vec<String> = baselines
            .iter()
            .map(|b| match (b.ops_per_s, &b.error) {
                (Some(ops), _) => format!(
                    "{} {}{}",
                    b.name,
                    si(ops),
                    if op == Op::Sm3 {
                        b.bytes_per_s.map_or(String::new(), |v| format!(" ({} MB/s)", sig3(v / 1e6)))
                    } else {
                        "/s".into()
                    }
                ),
                (None, e) => format!("{} ERROR: {}", b.name, e.as_deref().unwrap_or("unknown")),
            })
            .collect();
        notes
            .push(format!("baselines, one item at a time on one thread as their users call them: {}", list.join(", ")));
    }
    for c in report.crossovers.iter().filter(|c| c.op == op.as_str()) {
        notes.push(c.text.clone());
    }
    Table { title: op.title(report.settings.msg_bytes), header, rows, notes }
}

/// The baselines a cell is compared with, as (id, ops/s).
pub(super) fn baseline_rates(baselines: &[BaselineRecord], op: Op) -> Vec<(String, f64)> {
    Baseline::for_op(op)
        .iter()
        .filter_map(|b| {
            baselines.iter().find(|r| r.id == b.id()).and_then(|r| r.ops_per_s).map(|ops| (b.id().to_string(), ops))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_civil() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(si(987.0), "987");
        assert_eq!(si(12_345.0), "12.3k");
        assert_eq!(si(1_050_000.0), "1.05M");
        assert_eq!(latency(12.34), "12.3 us");
        assert_eq!(latency(1_500.0), "1.50 ms");
        assert_eq!(count(16_384), "16,384");
        assert_eq!(count(1), "1");
        assert_eq!(count(1_000_000), "1,000,000");
    }

    fn cell(backend: &str, n: usize, ops: f64) -> Cell {
        Cell { iterations: 1, ops_per_s: Some(ops), ..Cell::new(backend, "", "verify", n) }
    }

    #[test]
    fn crossover_is_found_between_the_sizes_around_it() {
        let cells = vec![
            cell("cpu", 1, 100.0),
            cell("gpu", 1, 10.0),
            cell("cpu", 100, 100.0),
            cell("gpu", 100, 1000.0),
            cell("card", 1, 200.0),
            cell("card", 100, 300.0),
            cell("slow", 1, 1.0),
            cell("slow", 100, 2.0),
            cell("cpu", 10_000, 100.0),
            cell("gpu", 10_000, 1000.0),
            cell("card", 10_000, 10.0),
            cell("slow", 10_000, 3.0),
            cell("fast", 1, 500.0),
            cell("fast", 100, 500.0),
            cell("fast", 10_000, 500.0),
            cell("same", 1, 101.0),
            cell("same", 100, 98.0),
            cell("same", 10_000, 100.0),
            cell("noisy", 1, 102.0),
            cell("noisy", 100, 300.0),
            cell("noisy", 10_000, 99.0),
        ];
        let x = crossovers(&cells, &[Op::Verify]);
        assert_eq!(x.len(), 6, "{x:#?}");
        assert_eq!(x[0].kind, CrossoverKind::Overtakes);
        // ratio 0.1 at 1, 10 at 100: equal at 10 in log-log.
        assert!((x[0].batch_size.unwrap() - 10.0).abs() < 1e-6, "{:?}", x[0]);
        assert_eq!(x[0].between, Some([1, 100]));
        // Ahead at 1 and 100, behind at 10,000: it falls behind, it is not ahead everywhere.
        assert_eq!(x[1].kind, CrossoverKind::FallsBehind);
        assert_eq!(x[1].between, Some([100, 10_000]));
        assert!(x[1].text.contains("card falls behind cpu"), "{}", x[1].text);
        assert_eq!(x[2].kind, CrossoverKind::BehindAtEverySize);
        assert_eq!(x[3].kind, CrossoverKind::AheadAtEverySize);
        assert_eq!(x[4].kind, CrossoverKind::LevelAtEverySize);
        // Level at 1 and 10,000 (noise), ahead at 100: ahead, with no crossing made of noise.
        assert_eq!(x[5].kind, CrossoverKind::AheadAtEverySize);
        assert!(x[5].text.contains("level with it (within 5%) at 1, 10,000"), "{}", x[5].text);
    }
}
