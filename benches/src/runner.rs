//! The `xinlian bench` runner: hardware against software, side by side, in one run. It lives
//! beside the criterion benches, where the software baselines (libsm, RustCrypto,
//! efficient-sm2) belong; the binary only parses its [`Args`] and calls [`run`].
//!
//! Owns: the matrix (backend x op x batch size), the software baselines measured in the same
//! process on the same inputs, and the report: a table on stdout, `DIR/report.json` and
//! `DIR/report.html`. Never: crypto (the backends and the baseline libraries do it) or routing
//! (`auto` is `xinlian-accel`'s dispatcher, as `--backend auto` uses it).
//!
//! ```text
//!  inputs (made first, checked against the CPU reference)
//!     │
//!     ├─> per op: baselines (libsm, RustCrypto, efficient-sm2: one item at a time, one thread)
//!     └─> per op, per size, per backend: check the answers, then time batches until the
//!         iteration target or the time cap (every answer checked outside the timed region)
//!            └─> report: table (stdout), report.json, report.html (inline SVG plots)
//! ```
//!
//! `inputs` makes the work, `measure` times it, `report` holds the records and the text table,
//! `html` draws the page.

mod error;
mod html;
mod inputs;
mod measure;
mod report;

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use xinlian_accel::backends::opencl;
use xinlian_accel::AccelError;
use xinlian_accel::{
    Backend, CardBackend, CpuBackend, DispatchConfig, Dispatcher, OpenClBackend, SdfBackend, SdfConfig,
};
use xinlian_kernels::{sm2, sm3};

pub use error::BenchError;
use measure::{Baseline, Bench, Budget, Target, Work};
use report::{BaselineRecord, Cell, DeviceRecord, Report, Settings, Skipped, Status};

/// `xinlian bench` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Backends to measure, comma-separated: cpu, opencl, card, sdf, auto. Default: every one
    /// available (cpu always; opencl when an OpenCL device is found; card when its BAR file
    /// exists; sdf when --sdf-lib names a library; auto when at least one device is there). One asked for but not available is
    /// skipped with a warning.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    backends: Vec<BackendName>,
    /// Operations, comma-separated: verify (SM2 signatures), sm3 (messages), merkle (roots).
    /// Default: all three.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    ops: Vec<Op>,
    /// Batch sizes (items per call; for merkle, leaves per root), comma-separated.
    /// Default: 1,64,1024,16384 (with --quick: 1,64,1024).
    #[arg(long, value_delimiter = ',', value_parser = parse_size, value_name = "LIST")]
    sizes: Vec<usize>,
    /// The card's BAR file (default: /dev/shm/xinlian-card-0).
    #[arg(long, value_name = "PATH")]
    card: Option<PathBuf>,
    /// A GM/T 0018 (SDF) library to measure as `sdf` (and in `auto`); never guessed, so sdf is
    /// measured only when this names one (e.g. target/release/libxinlian_sdf_sim.so).
    #[arg(long, value_name = "PATH")]
    sdf_lib: Option<PathBuf>,
    /// The OpenCL device: an index from `xinlian devices` or a substring of its platform or
    /// device name (default: the first GPU, else the first device).
    #[arg(long, value_name = "SPEC")]
    device: Option<String>,
    /// Host threads: the cpu backend's, and those decoding signatures before each batch
    /// (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// A short run (under a minute on two cores): sizes 1,64,1024 and 0.3 s per cell.
    #[arg(long)]
    quick: bool,
    /// Where report.json and report.html go (created if missing).
    #[arg(long, value_name = "DIR", default_value = "./xinlian-bench")]
    out: PathBuf,
    /// Time cap per cell, in seconds (default 2; with --quick 0.3). A cell stops at its
    /// iteration target or at this cap, but never before 3 batches.
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    seconds_per_cell: Option<f64>,
    /// Bytes per message: SM3 messages and signed messages alike.
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = parse_msg_bytes)]
    msg_bytes: usize,
}

/// A backend, as `--backends` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendName {
    /// The host CPU (`CpuBackend`).
    Cpu,
    /// The OpenCL device `--device` picks.
    Opencl,
    /// The crypto card at `--card`.
    Card,
    /// The GM/T 0018 (SDF) library at `--sdf-lib`.
    Sdf,
    /// The dispatcher over every device measured plus the CPU.
    Auto,
}

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    /// SM2 signature verification, from bytes.
    Verify,
    /// SM3 of messages.
    Sm3,
    /// SM3 Merkle roots.
    Merkle,
}

/// Largest batch size: the pool of inputs is made in memory (about 0.5 KiB per signature).
const MAX_SIZE: usize = 1 << 20;

fn parse_size(s: &str) -> Result<usize, String> {
    let n: usize = s.trim().parse().map_err(|e| format!("{s:?} is not a batch size (a whole number): {e}"))?;
    if n == 0 || n > MAX_SIZE {
        return Err(format!("batch size {n} is out of range: sizes go from 1 to {MAX_SIZE}"));
    }
    Ok(n)
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(v),
        Ok(v) => Err(format!("{v} seconds is out of range: give more than 0 and at most 3600")),
        Err(e) => Err(format!("{s:?} is not a number of seconds: {e}")),
    }
}

fn parse_msg_bytes(s: &str) -> Result<usize, String> {
    let n: usize = s.trim().parse().map_err(|e| format!("{s:?} is not a byte count: {e}"))?;
    // The simulated card takes at most a 64 KiB message in one job; and a tampered copy of a
    // signed message needs a byte to change.
    if n == 0 || n > 65_536 {
        return Err(format!("{n} bytes is out of range: messages go from 1 to 65536 bytes"));
    }
    Ok(n)
}

/// Order kept, repeats dropped.
fn dedup<T: PartialEq + Copy>(items: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for &i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// What the run can measure: the backends opened, and those skipped with why.
struct Opened {
    benches: Vec<Bench>,
    skipped: Vec<Skipped>,
    devices: Vec<DeviceRecord>,
}

/// Open every backend asked for (or, with no `--backends`, every one available). A backend
/// that is not there is skipped with a warning; the run fails only when none is left.
fn open(args: &Args, cpu: &Arc<CpuBackend>) -> Result<Opened, BenchError> {
    let asked = if args.backends.is_empty() { None } else { Some(dedup(&args.backends)) };
    let wants = |b: BackendName| asked.as_ref().is_none_or(|a| a.contains(&b));
    let mut skipped = Vec::new();
    let mut skip = |b: BackendName, reason: String| {
        let explicit = asked.as_ref().is_some_and(|a| a.contains(&b));
        if explicit {
            eprintln!("warning: {} skipped: {reason}", b.as_str());
        } else {
            eprintln!("note: {} not measured: {reason}", b.as_str());
        }
        skipped.push(Skipped { backend: b.as_str().to_string(), reason, asked: explicit });
    };
    let sm2_path = sm2_path();
    let mut devices = vec![DeviceRecord {
        kind: "cpu".into(),
        name: "cpu".into(),
        description: format!("{}, SM2 {sm2_path}", cpu.info().device),
        used: wants(BackendName::Cpu),
    }];

    // OpenCL: every device is listed; the one --device picks is measured.
    let mut opencl_backend: Option<Arc<OpenClBackend>> = None;
    if let Ok(all) = opencl::devices() {
        devices.extend(all.iter().map(|d| DeviceRecord {
            kind: "opencl".into(),
            name: format!("opencl:{}", d.index),
            description: d.describe(),
            used: false,
        }));
    }
    if wants(BackendName::Opencl) || wants(BackendName::Auto) {
        match opencl::select(args.device.as_deref()) {
            Ok(d) => match OpenClBackend::on_device(d) {
                Ok(b) => {
                    if let Some(rec) = devices.iter_mut().find(|r| r.name == format!("opencl:{}", d.index)) {
                        rec.used = true;
                    }
                    opencl_backend = Some(Arc::new(b));
                }
                Err(e) => skip(BackendName::Opencl, format!("OpenCL device {} did not start: {e}", d.label())),
            },
            // A --device that names nothing is a mistake in the command, not a missing device.
            Err(e @ AccelError::DeviceNotFound { .. }) => return Err(BenchError::Usage(format!("--device: {e}"))),
            Err(e) => skip(BackendName::Opencl, e.to_string()),
        }
    }

    // The card: looked for at --card, else the default BAR path.
    let card_path = args.card.clone().unwrap_or_else(|| xinlian_hw_sim::DEFAULT_BAR_PATH.into());
    let mut card_backend: Option<Arc<CardBackend>> = None;
    if wants(BackendName::Card) || wants(BackendName::Auto) {
        if !card_path.exists() {
            skip(
                BackendName::Card,
                format!(
                    "no card at {} (start a simulated one with `xinlian card serve --bar {}`)",
                    card_path.display(),
                    card_path.display()
                ),
            );
        } else {
            match CardBackend::open(&card_path) {
                Ok(b) => {
                    devices.push(DeviceRecord {
                        kind: "card".into(),
                        name: card_path.display().to_string(),
                        description: b.info().device.clone(),
                        used: true,
                    });
                    card_backend = Some(Arc::new(b));
                }
                Err(e) => skip(BackendName::Card, format!("the card at {} did not open: {e}", card_path.display())),
            }
        }
    }

    let sdf_backend = if wants(BackendName::Sdf) || wants(BackendName::Auto) {
        open_sdf(args.sdf_lib.as_deref(), &mut skip, &mut devices)
    } else {
        None
    };

    let mut benches = Vec::new();
    if wants(BackendName::Cpu) {
        benches.push(Bench {
            name: BackendName::Cpu,
            device: cpu.info().device.clone(),
            target: Target::One(cpu.clone()),
        });
    }
    // Each device opened: measured alone when asked for, and in `auto` either way.
    let opened: [(BackendName, Option<Arc<dyn Backend>>); 3] = [
        (BackendName::Opencl, opencl_backend.map(|b| b as Arc<dyn Backend>)),
        (BackendName::Card, card_backend.map(|b| b as Arc<dyn Backend>)),
        (BackendName::Sdf, sdf_backend.map(|b| b as Arc<dyn Backend>)),
    ];
    let mut devices_for_auto: Vec<Arc<dyn Backend>> = Vec::new();
    for (name, backend) in opened {
        let Some(b) = backend else { continue };
        if wants(name) {
            benches.push(Bench { name, device: b.info().device.clone(), target: Target::One(b.clone()) });
        }
        devices_for_auto.push(b);
    }
    if wants(BackendName::Auto) {
        if devices_for_auto.is_empty() {
            skip(BackendName::Auto, "no device found: auto would be the cpu backend alone".to_string());
        } else {
            // The same backend objects as the standalone cells (one driver per card: opening
            // it twice would reset it), and the same CPU backend, which the dispatcher keeps
            // as its last resort.
            let mut all = devices_for_auto;
            all.push(cpu.clone());
            let names: Vec<String> = all.iter().map(|b| b.info().name.clone()).collect();
            let dispatcher =
                Dispatcher::new(all, DispatchConfig { cpu_threads: cpu.threads(), ..DispatchConfig::default() });
            benches.push(Bench {
                name: BackendName::Auto,
                device: format!("dispatcher over {}", names.join(", ")),
                target: Target::Auto(Box::new(dispatcher)),
            });
        }
    }
    if benches.is_empty() {
        let why: Vec<String> = skipped.iter().map(|s| format!("{}: {}", s.backend, s.reason)).collect();
        return Err(BenchError::Usage(format!("none of the backends asked for is available ({})", why.join("; "))));
    }
    Ok(Opened { benches, skipped, devices })
}

/// The SDF library at `--sdf-lib`, opened and self-tested; skipped with why when none is
/// named or it does not start.
fn open_sdf(
    lib: Option<&Path>,
    skip: &mut dyn FnMut(BackendName, String),
    devices: &mut Vec<DeviceRecord>,
) -> Option<Arc<SdfBackend>> {
    let Some(lib) = lib else {
        skip(BackendName::Sdf, "no --sdf-lib: an SDF library is never guessed".to_string());
        return None;
    };
    match SdfBackend::open(&SdfConfig::new(lib)) {
        Ok(b) => {
            devices.push(DeviceRecord {
                kind: "sdf".into(),
                name: lib.display().to_string(),
                description: b.info().device.clone(),
                used: true,
            });
            Some(Arc::new(b))
        }
        Err(e) => {
            skip(BackendName::Sdf, format!("the SDF library {} did not start: {e}", lib.display()));
            None
        }
    }
}

fn sm2_path() -> &'static str {
    match sm2::verify_path() {
        sm2::VerifyPath::Ifma => "AVX-512 IFMA (8 lanes)",
        sm2::VerifyPath::Portable => "portable",
    }
}

/// A progress bar on a terminal; plain lines, one per finished step, otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    done: u64,
    total: u64,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} [{elapsed}] {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            let bar = ProgressBar::new(total).with_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, done: 0, total }
    }

    fn start(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(what.to_string());
        }
    }

    fn finish_step(&mut self, line: &str) {
        self.done += 1;
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => eprintln!("bench [{}/{}] {line}", self.done, self.total),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One line on a finished cell or baseline, for the progress output.
fn summary(op: Op, ops_per_s: f64, bytes_per_s: Option<f64>, p50_us: f64) -> String {
    let bytes = match (op, bytes_per_s) {
        (Op::Sm3, Some(b)) => format!(", {} MB/s", report::sig3(b / 1e6)),
        _ => String::new(),
    };
    format!("{} {}{bytes}, p50 {}", report::si(ops_per_s), op.unit(), report::latency(p50_us))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Run the benchmark matrix.
pub fn run(args: &Args) -> Result<(), BenchError> {
    let started = Instant::now();
    let ops = if args.ops.is_empty() { vec![Op::Verify, Op::Sm3, Op::Merkle] } else { dedup(&args.ops) };
    let mut sizes = if !args.sizes.is_empty() {
        args.sizes.clone()
    } else if args.quick {
        vec![1, 64, 1024]
    } else {
        vec![1, 64, 1024, 16_384]
    };
    sizes.sort_unstable();
    sizes.dedup();
    let cap = args.seconds_per_cell.unwrap_or(if args.quick { 0.3 } else { 2.0 });
    let budget = Budget {
        cap: Duration::from_secs_f64(cap),
        target_iters: if args.quick { 1_000 } else { 10_000 },
        min_iters: 3,
    };
    // Make the output directory first: a typo in --out should cost nothing.
    std::fs::create_dir_all(&args.out)
        .map_err(|e| BenchError::io(format!("cannot create --out {}", args.out.display()), e))?;

    let cpu = Arc::new(CpuBackend::new(args.threads));
    let threads = cpu.threads();
    let opened = open(args, &cpu)?;
    let pool = sizes.iter().copied().max().unwrap_or(1).max(256);
    let inputs = inputs::Inputs::make(&ops, pool, args.msg_bytes, threads)
        .map_err(|e| BenchError::Input(format!("making the bench inputs: {e}")))?;

    let baselines_total: usize = ops.iter().map(|&op| Baseline::for_op(op).len()).sum();
    let cells_total = ops.len() * sizes.len() * opened.benches.len();
    let mut progress = Progress::new(u64::try_from(baselines_total + cells_total).unwrap_or(u64::MAX));
    let asked_skipped: Vec<&Skipped> = opened.skipped.iter().filter(|s| s.asked).collect();
    let mut cells: Vec<Cell> = Vec::new();
    let mut baselines: Vec<BaselineRecord> = Vec::new();
    for &op in &ops {
        for &b in Baseline::for_op(op) {
            progress.start(&format!("{} baseline {}", op.as_str(), b.label()));
            let record = baseline_record(b, &inputs, budget);
            progress.finish_step(&match (record.ops_per_s, &record.error) {
                (Some(ops_per_s), _) => format!(
                    "{} {} (one at a time, one thread): {}",
                    op.as_str(),
                    b.label(),
                    summary(op, ops_per_s, record.bytes_per_s, record.p50_us.unwrap_or(0.0))
                ),
                (None, e) => format!("{} {}: ERROR {}", op.as_str(), b.label(), e.as_deref().unwrap_or("")),
            });
            baselines.push(record);
        }
        let rates = report::baseline_rates(&baselines, op);
        for &n in &sizes {
            let work = Work::new(op, n, &inputs);
            let mut cpu_rate = None;
            for bench in &opened.benches {
                let label = format!("{} {} x{}", op.as_str(), bench.name.as_str(), report::count(n));
                progress.start(&label);
                let mut cell = Cell::new(bench.name.as_str(), &bench.device, op.as_str(), n);
                match measure::cell(bench, &work, budget, threads) {
                    Ok(m) => {
                        let rate = m.timing.items_per_second();
                        let per_item_bytes = work.bytes_per_batch().map(|b| b as f64 / n as f64);
                        cell.iterations = m.timing.iterations;
                        cell.ops_per_s = Some(rate);
                        cell.bytes_per_s = per_item_bytes.map(|b| b * rate);
                        cell.p50_us = Some(micros(m.timing.p50));
                        cell.p99_us = Some(micros(m.timing.p99));
                        if bench.name == BackendName::Cpu {
                            cpu_rate = Some(rate);
                        }
                        cell.ratio_to_cpu = cpu_rate.map(|c| rate / c);
                        cell.ratio_to_baselines = rates.iter().map(|(id, r)| (id.clone(), rate / r)).collect();
                        cell.auto_shares = m.shares;
                        progress.finish_step(&format!(
                            "{label}: {}",
                            summary(op, rate, cell.bytes_per_s, cell.p50_us.unwrap_or(0.0))
                        ));
                    }
                    Err(e) => {
                        progress.finish_step(&format!("{label}: ERROR {e}"));
                        cell.status = Status::Error;
                        cell.error = Some(e);
                    }
                }
                cells.push(cell);
            }
            for s in &asked_skipped {
                cells.push(Cell {
                    status: Status::Skipped,
                    error: Some(s.reason.clone()),
                    ..Cell::new(&s.backend, "", op.as_str(), n)
                });
            }
        }
    }
    progress.finish();

    let crossovers = report::crossovers(&cells, &ops);
    let machine = report::machine(opened.devices, sm2_path(), sm3::simd_lanes());
    let backends_measured: Vec<String> = opened.benches.iter().map(|b| b.name.as_str().to_string()).collect();
    let report = Report {
        schema: 1,
        machine,
        settings: Settings {
            quick: args.quick,
            backends: backends_measured,
            ops: ops.iter().map(|o| o.as_str().to_string()).collect(),
            sizes,
            seconds_per_cell: cap,
            target_iterations: budget.target_iters,
            min_iterations: budget.min_iters,
            threads,
            msg_bytes: args.msg_bytes,
            pool,
            seed: inputs::SEED,
        },
        cells,
        baselines,
        crossovers,
        skipped: opened.skipped,
        notes: notes(args.msg_bytes),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    write_reports(&report, &ops, &args.out)?;
    for &op in &ops {
        println!("{}", report::table(&report, op).to_text());
    }
    println!(
        "report: {} and {} ({:.1} s)",
        args.out.join("report.json").display(),
        args.out.join("report.html").display(),
        report.wall_seconds
    );
    let failed: Vec<String> = report
        .cells
        .iter()
        .filter(|c| c.status == Status::Error)
        .map(|c| format!("{} {} x{}", c.op, c.backend, c.batch_size))
        .chain(report.baselines.iter().filter(|b| b.status == Status::Error).map(|b| b.name.clone()))
        .collect();
    if !failed.is_empty() {
        // A device that answers wrongly has no throughput worth reporting: the run says so
        // in its exit status, after writing everything it did measure.
        return Err(BenchError::Failed(format!(
            "{} cell(s) failed (see the table): {}",
            failed.len(),
            failed.join(", ")
        )));
    }
    Ok(())
}

fn baseline_record(b: Baseline, inputs: &inputs::Inputs, budget: Budget) -> BaselineRecord {
    let mut record = BaselineRecord {
        id: b.id().to_string(),
        name: b.label().to_string(),
        op: b.op().as_str().to_string(),
        call: b.call().to_string(),
        mode: "one item at a time, on one thread, as a user of the library calls it".to_string(),
        status: Status::Ok,
        error: None,
        iterations: 0,
        ops_per_s: None,
        bytes_per_s: None,
        p50_us: None,
        p99_us: None,
    };
    match measure::baseline(b, inputs, budget) {
        Ok(t) => {
            let rate = t.items_per_second();
            record.iterations = t.items();
            record.ops_per_s = Some(rate);
            record.bytes_per_s = (b.op() == Op::Sm3).then_some(rate * inputs.msg_bytes as f64);
            record.p50_us = Some(micros(t.p50));
            record.p99_us = Some(micros(t.p99));
        }
        Err(e) => {
            record.status = Status::Error;
            record.error = Some(e);
        }
    }
    record
}

/// How to read the report, in the report.
fn notes(msg_bytes: usize) -> Vec<String> {
    vec![
        "ops_per_s: items per second over the timed batches (verify: signatures; sm3: messages; merkle: leaves). \
         bytes_per_s: sm3 message bytes; merkle leaf-hash bytes (32 per leaf); none for verify."
            .to_string(),
        "p50_us / p99_us: latency of one batch (one call) for backends; of one item for baselines.".to_string(),
        "verify is timed from bytes, as a node receives them: decoding the SEC1 key and the signature, Z and \
         e = SM3(Z || M) on the host, then the backend's batch. Every signature is by its own key (cold keys). \
         The baselines do the same work from the same bytes through their own APIs."
            .to_string(),
        format!(
            "sm3 hashes {msg_bytes}-byte messages; merkle builds one root per batch over N random leaf hashes, level \
             by level on the backend (auto: the dispatcher's merkle_root). A root of one leaf is the leaf: no hashing."
        ),
        "ratio_to_cpu: this cell's ops/s over the cpu backend's at the same op and size. ratio_to_baselines: over \
         each library's ops/s, measured one item at a time on one thread (batch size does not apply to them)."
            .to_string(),
        "Every answer is checked against the CPU reference (before timing, on batches mixing valid and tampered \
         signatures, and after every timed batch, outside the timed region); a wrong answer or a device error \
         makes the cell an error, never a measurement."
            .to_string(),
        "Crossover: the batch size from which a device's throughput passes the cpu backend's (interpolated on the \
         log-log plot between the two sizes around it); a device can also fall behind again. Throughputs within 5% \
         of the cpu's count as level (run-to-run noise), never as a crossing."
            .to_string(),
    ]
}

fn write_reports(report: &Report, ops: &[Op], out: &Path) -> Result<(), BenchError> {
    let json =
        serde_json::to_string_pretty(report).map_err(|e| BenchError::Input(format!("encoding report.json: {e}")))?;
    let json_path = out.join("report.json");
    std::fs::write(&json_path, json + "\n")
        .map_err(|e| BenchError::io(format!("cannot write {}", json_path.display()), e))?;
    let html_path = out.join("report.html");
    std::fs::write(&html_path, html::render(report, ops))
        .map_err(|e| BenchError::io(format!("cannot write {}", html_path.display()), e))?;
    Ok(())
}
