//! Logs: `tracing` events from every crate, written to stderr by `tracing-subscriber`.
//!
//! Level: `--log-level` when given, else `$RUST_LOG`, else [`DEFAULT_FILTER`]: `info`, with the
//! consensus engine's and libp2p's own lines at `warn` (Malachite logs every vote it receives
//! at info: dozens of lines a block, hundreds a second under load; our BFT driver logs what an
//! operator follows). `--log-level info` shows them all. Format: `text` (colours only on a
//! terminal) or `json`, one object per line, for log shippers.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

/// The filter when neither `--log-level` nor `$RUST_LOG` says (module docs).
pub(crate) const DEFAULT_FILTER: &str = "info,arc_malachitebft_core_consensus=warn,arc_malachitebft_engine=warn,\
arc_malachitebft_network=warn,arc_malachitebft_discovery=warn,arc_malachitebft_sync=warn,libp2p=warn,\
libp2p_swarm=warn,libp2p_gossipsub=warn";

/// Install the subscriber for the whole process.
pub(crate) fn init(level: Option<&str>, format: LogFormat) -> anyhow::Result<()> {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).with_context(|| format!("--log-level {l:?}: not a level or filter"))?,
        None => match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => {
                EnvFilter::try_new(&v).with_context(|| format!("RUST_LOG={v:?}: not a level or filter"))?
            }
            _ => EnvFilter::try_new(DEFAULT_FILTER).context("the default log filter (a bug)")?,
        },
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
