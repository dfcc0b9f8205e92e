//! `xinlian`, the one binary: the node (`run`, `init`, `keygen`), its client (`tx`, `query`,
//! `load`, and [`client`], the HTTP client the tests use too), and the crypto tools
//! (`verify`, `hash`, `devices`, `card`, `bench`).
//!
//! Owns: argument parsing, choosing a backend from `--backend`, reading and writing files.
//! Never: crypto (that is `xinlian-accel` and `xinlian-kernels`).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use xinlian_accel::{Backend, CpuBackend, OpenClBackend};

mod auto;
mod card;
pub mod client;
mod devices;
mod hash;
mod load;
mod logging;
mod net_init;
mod node_cmd;
mod tx;
mod verify;

/// xinlian (芯链): a consortium-chain node with accelerated SM2 verification and SM3 hashing.
#[derive(Debug, Parser)]
#[command(name = "xinlian", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log level (error, warn, info, debug, trace, or a filter such as
    /// `info,xinlian_accel=debug`). Default: $RUST_LOG, else info.
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Log format on stderr: text for people, json (one object per line) for log shippers.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: logging::LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node: HTTP API on 127.0.0.1:8600, data in ./xinlian-data, every accelerator found.
    Run(node_cmd::RunArgs),
    /// Write a commented config file and a node key into a data directory; with
    /// `--validators N --out DIR`, the files of an N-validator network on this machine.
    Init(node_cmd::InitArgs),
    /// Make an SM2 key (PKCS#8 PEM, as `openssl genpkey -algorithm SM2` does); prints its public key.
    Keygen(node_cmd::KeygenArgs),
    /// Sign and submit a transaction.
    #[command(subcommand)]
    Tx(tx::TxCommand),
    /// Ask a node about a transaction, block, record, account, or itself.
    #[command(subcommand)]
    Query(tx::QueryCommand),
    /// Verify SM2 signatures: JSON lines in, one JSON verdict line out per input line.
    ///
    /// Input lines: {"pubkey": HEX, "msg": HEX, "sig": HEX, "id": "optional ID"}. pubkey is
    /// SEC1 (65-byte uncompressed or 33-byte compressed), sig is DER or raw 64-byte r‖s, id
    /// defaults to 1234567812345678. Output lines: {"line": N, "verdict":
    /// "valid"|"invalid"|"malformed", "reason": "..."}. A summary goes to stderr.
    Verify(verify::Args),
    /// SM3-hash hex lines: one hex digest line out per hex line in.
    Hash(hash::Args),
    /// List every backend this binary can reach, each with a known-answer self-test.
    Devices(devices::Args),
    /// The simulated crypto card (hw-sim).
    #[command(subcommand)]
    Card(CardCommand),
    /// Benchmark every backend against the software libraries, side by side: a table, and
    /// DIR/report.json and DIR/report.html.
    Bench(xinlian_benches::runner::Args),
    /// Drive a running node with signed transactions at a target rate; report TPS and latency.
    Load(load::Args),
}

#[derive(Debug, Subcommand)]
enum CardCommand {
    /// Serve a simulated card on a memory-mapped BAR file until Ctrl-C (the file is removed on exit).
    Serve(card::ServeArgs),
    /// Make a key file for the soft SDF card (xinlian-sdf-sim): SM2 keys by index, each with its
    /// access password; prints each index and public key.
    SdfKeys(card::SdfKeysArgs),
}

/// Options every crypto command shares: where the work runs, where input and output go.
#[derive(Debug, clap::Args)]
pub(crate) struct CommonArgs {
    /// Which backend does the work.
    #[arg(long, value_enum, default_value = "cpu")]
    pub(crate) backend: BackendChoice,
    /// Worker threads for the cpu backend (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
    /// File to read, or - for stdin.
    #[arg(long, default_value = "-")]
    pub(crate) input: PathBuf,
    /// File to write (created or truncated), or - for stdout.
    #[arg(long, default_value = "-")]
    pub(crate) output: PathBuf,
    /// The card's BAR file, for --backend card (default: /dev/shm/xinlian-card-0).
    #[arg(long, value_name = "PATH")]
    pub(crate) card: Option<PathBuf>,
    /// The OpenCL device for --backend opencl: an index from `xinlian devices` or a substring of
    /// its platform or device name (default: the first device).
    #[arg(long, value_name = "SPEC")]
    pub(crate) device: Option<String>,
    /// A vendor's GM/T 0018 (SDF) library, for --backend sdf, or added to --backend auto
    /// (e.g. target/release/libxinlian_sdf_sim.so, the soft card).
    #[arg(long, value_name = "PATH")]
    pub(crate) sdf_lib: Option<PathBuf>,
    /// With --backend auto: print each backend's share of the work, errors, fallbacks and
    /// canary failures to stderr at the end.
    #[arg(long)]
    pub(crate) stats: bool,
}

/// Which device does the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum BackendChoice {
    /// The host CPU, all cores unless --threads says otherwise.
    Cpu,
    /// An OpenCL device (--device SPEC), e.g. a GPU, or POCL's CPU device.
    Opencl,
    /// A crypto card speaking the hw-sim card ABI, at --card PATH (start a simulated one with
    /// `xinlian card serve`).
    Card,
    /// A crypto card through its vendor's GM/T 0018 (SDF) library at --sdf-lib PATH: one
    /// SDF_ExternalVerify_ECC per signature over a pool of sessions, SM3 through SDF_Hash*.
    Sdf,
    /// Every device found (OpenCL devices, the card at --card or the default BAR path, the SDF
    /// library at --sdf-lib) plus the
    /// CPU, through the dispatcher: work split by measured speed, device faults redone
    /// elsewhere, device answers checked with canaries.
    Auto,
}

/// The backend a command runs on, and (for `auto`) the dispatcher's statistics.
pub(crate) enum Chosen {
    One(Box<dyn Backend>),
    Auto(Box<auto::AutoBackend>),
}

impl Chosen {
    pub(crate) fn backend(&self) -> &dyn Backend {
        match self {
            Chosen::One(b) => b.as_ref(),
            Chosen::Auto(a) => a.as_ref(),
        }
    }

    /// Per-backend statistics, when `--stats` asked and the backend is `auto`.
    pub(crate) fn print_stats(&self, common: &CommonArgs) {
        match self {
            Chosen::Auto(a) if common.stats => eprint!("{}", a.stats()),
            Chosen::One(_) if common.stats => eprintln!("--stats: only --backend auto has per-backend shares"),
            _ => {}
        }
    }
}

pub(crate) fn make_backend(common: &CommonArgs) -> anyhow::Result<Chosen> {
    Ok(match common.backend {
        BackendChoice::Cpu => Chosen::One(Box::new(CpuBackend::new(common.threads))),
        BackendChoice::Opencl => Chosen::One(Box::new(OpenClBackend::new(common.device.as_deref())?)),
        BackendChoice::Card => Chosen::One(Box::new(card::open_backend(common.card.as_deref())?)),
        BackendChoice::Sdf => {
            let Some(lib) = &common.sdf_lib else {
                bail!("--backend sdf needs --sdf-lib PATH (the vendor's GM/T 0018 library)");
            };
            let backend = xinlian_accel::SdfBackend::open(&xinlian_accel::SdfConfig::new(lib))
                .with_context(|| format!("SDF library {}", lib.display()))?;
            Chosen::One(Box::new(backend))
        }
        BackendChoice::Auto => Chosen::Auto(Box::new(auto::AutoBackend::open(common))),
    })
}

/// `-` or a path.
pub(crate) fn open_input(path: &PathBuf) -> anyhow::Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(BufReader::with_capacity(1 << 20, io::stdin())))
    } else {
        let f = File::open(path).with_context(|| format!("cannot open input {}", path.display()))?;
        Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
    }
}

/// `-` or a path (created or truncated).
pub(crate) fn open_output(path: &PathBuf) -> anyhow::Result<Box<dyn Write>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(BufWriter::with_capacity(1 << 20, io::stdout())))
    } else {
        let f = File::create(path).with_context(|| format!("cannot create output {}", path.display()))?;
        Ok(Box::new(BufWriter::with_capacity(1 << 20, f)))
    }
}

/// Progress on stderr, only when a person is watching it.
pub(crate) struct Progress {
    enabled: bool,
    last: std::time::Instant,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress { enabled: io::stderr().is_terminal(), last: std::time::Instant::now() }
    }

    pub(crate) fn tick(&mut self, what: &str, done: u64, started: std::time::Instant) {
        if !self.enabled || self.last.elapsed().as_millis() < 500 {
            return;
        }
        self.last = std::time::Instant::now();
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        eprint!("\r{what}: {done} lines, {rate:.0}/s   ");
    }

    pub(crate) fn finish(&self) {
        if self.enabled {
            eprint!("\r\x1b[K");
        }
    }
}

/// Parse, run, and map errors to an exit code with a one-line message.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = logging::init(cli.log_level.as_deref(), cli.log_format) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Run(args) => node_cmd::run(&args),
        Command::Init(args) => node_cmd::init(&args),
        Command::Keygen(args) => node_cmd::keygen(&args),
        Command::Tx(cmd) => tx::run(&cmd),
        Command::Query(cmd) => tx::query(&cmd),
        Command::Verify(args) => verify::run(&args),
        Command::Hash(args) => hash::run(&args),
        Command::Card(CardCommand::Serve(args)) => card::serve(&args),
        Command::Card(CardCommand::SdfKeys(args)) => card::sdf_keys(&args),
        Command::Bench(args) => xinlian_benches::runner::run(&args).map_err(anyhow::Error::from),
        Command::Load(args) => load::run(&args),
        Command::Devices(args) => match devices::run(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Broken pipe (e.g. `| head`) is how a reader says "enough": not an error.
            if e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
