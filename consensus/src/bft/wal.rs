//! The consensus WAL checked before the engine opens it (circlefin/malachite#1434: in 0.8.2 a
//! damaged entry makes replay hang the node on every start).
//!
//! - A file shorter than its 12-byte header (torn while it was made) holds no entry: it is
//!   moved aside.
//! - A torn last entry (its length runs past the end of the file, as after SIGKILL or power
//!   loss) is cut by the WAL's own open.
//! - A last entry that is whole but fails its CRC or does not decode is cut, after the file
//!   is copied aside. This is safe: the engine acts on an entry only after its write was
//!   durable, so an action whose entry is damaged was never taken.
//! - Damage before the last entry is refused with the file named: that is not a crash's
//!   footprint, and guessing could make this validator sign twice.

use std::path::{Path, PathBuf};

use arc_malachitebft_app_channel::app::engine::wal::log_entries;
use arc_malachitebft_app_channel::app::wal::Log;

use super::codec::XlCodec;
use super::context::XlContext;
use crate::error::ConsensusError;

/// The WAL header's size: version u32, sequence u64.
const HEADER: u64 = 12;

fn aside(path: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".damaged-{secs}"));
    PathBuf::from(name)
}

fn io_err(path: &Path, what: &str, e: impl std::fmt::Display) -> ConsensusError {
    ConsensusError::Engine(format!("consensus WAL {}: {what}: {e}", path.display()))
}

/// Check the WAL at `path` and repair a crash's damage (module docs).
pub(crate) fn sanitize(path: &Path) -> Result<(), ConsensusError> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
    if meta.len() < HEADER {
        let to = aside(path);
        std::fs::rename(path, &to).map_err(|e| io_err(path, "moving a torn header aside", e))?;
        tracing::warn!(wal = %path.display(), moved_to = %to.display(), "the consensus WAL was torn in its header; starting a new one");
        return Ok(());
    }
    let mut log = Log::open(path).map_err(|e| io_err(path, "opening", e))?;
    let entries = log.len();
    let mut first_bad = None;
    for (i, entry) in
        log_entries::<XlContext, _>(&mut log, &XlCodec).map_err(|e| io_err(path, "reading", e))?.enumerate()
    {
        if let Err(e) = entry {
            first_bad = Some((i, e.to_string()));
            break;
        }
    }
    let Some((index, reason)) = first_bad else { return Ok(()) };
    if index + 1 < entries {
        return Err(ConsensusError::Engine(format!(
            "consensus WAL {}: entry {index} of {entries} is damaged ({reason}) and it is not the last one; \
             this is not what a crash leaves, so the node does not start. Keep the file for inspection",
            path.display()
        )));
    }
    let to = aside(path);
    std::fs::copy(path, &to).map_err(|e| io_err(path, "copying aside", e))?;
    log.truncate(index as u64).map_err(|e| io_err(path, "cutting the damaged last entry", e))?;
    tracing::warn!(
        wal = %path.display(), copy = %to.display(), entry = index, %reason,
        "cut a damaged last entry from the consensus WAL (a crash's torn write)"
    );
    Ok(())
}
