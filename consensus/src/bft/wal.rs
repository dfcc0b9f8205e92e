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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

    use arc_malachitebft_app_channel::app::consensus::Input;
    use arc_malachitebft_app_channel::app::engine::wal::encode_entry;
    use arc_malachitebft_app_channel::app::types::core::{Round, Timeout};

    use super::*;

    /// A fresh directory for one test's WAL.
    fn wal_in(tag: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("xinlian-wal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("consensus.wal");
        (dir, path)
    }

    /// A WAL holding `n` well-formed entries (the engine's own encoding: propose timeouts).
    fn write_good(path: &Path, n: u32) {
        let mut log = Log::open(path).unwrap();
        for r in 0..n {
            let mut buf = Vec::new();
            encode_entry::<XlContext, _, _>(Input::TimeoutElapsed(Timeout::propose(Round::new(r))), &XlCodec, &mut buf)
                .unwrap();
            log.append(&buf).unwrap();
        }
        log.flush().unwrap();
    }

    fn good_entries(path: &Path) -> usize {
        let mut log = Log::open(path).unwrap();
        let n = log.len();
        let ok = log_entries::<XlContext, _>(&mut log, &XlCodec).unwrap().filter(Result::is_ok).count();
        assert_eq!(ok, n, "every entry left reads back");
        n
    }

    fn asides(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".damaged-"))
            .count()
    }

    #[test]
    fn no_wal_and_a_whole_wal_are_left_alone() {
        let (dir, path) = wal_in("whole");
        sanitize(&path).unwrap();
        assert!(!path.exists(), "nothing is created");
        write_good(&path, 3);
        let before = std::fs::read(&path).unwrap();
        sanitize(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(asides(&dir), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_header_is_moved_aside() {
        let (dir, path) = wal_in("header");
        std::fs::write(&path, [0, 0, 0, 1, 0]).unwrap();
        sanitize(&path).unwrap();
        assert!(!path.exists());
        assert_eq!(asides(&dir), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_last_entry_is_cut_and_the_rest_kept() {
        let (dir, path) = wal_in("torn");
        write_good(&path, 3);
        let whole = std::fs::read(&path).unwrap();
        // SIGKILL mid-write: the last entry's bytes end early.
        std::fs::write(&path, &whole[..whole.len() - 3]).unwrap();
        sanitize(&path).unwrap();
        assert_eq!(good_entries(&path), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_last_entry_failing_its_crc_is_cut_after_a_copy() {
        let (dir, path) = wal_in("crc");
        write_good(&path, 3);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        sanitize(&path).unwrap();
        assert_eq!(good_entries(&path), 2);
        assert_eq!(asides(&dir), 1, "the damaged file is kept for inspection");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_last_entry_that_does_not_decode_is_cut() {
        let (dir, path) = wal_in("decode");
        write_good(&path, 2);
        let mut log = Log::open(&path).unwrap();
        log.append([0xEE, 1, 2, 3]).unwrap(); // good CRC, unknown tag
        log.flush().unwrap();
        drop(log);
        sanitize(&path).unwrap();
        assert_eq!(good_entries(&path), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn damage_before_the_last_entry_is_refused_and_the_file_kept() {
        let (dir, path) = wal_in("middle");
        write_good(&path, 1);
        let mut log = Log::open(&path).unwrap();
        log.append([0xEE]).unwrap();
        drop(log);
        write_good(&path, 1);
        let before = std::fs::read(&path).unwrap();
        let err = sanitize(&path).unwrap_err().to_string();
        assert!(err.contains("entry 1 of 3") && err.contains("not the last one"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "nothing is changed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
