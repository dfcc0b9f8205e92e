//! One driver per card. Opening a card resets it, so a second driver (another node, or
//! `xinlian devices` pointed at a card a node uses) would wreck the first one's work. The
//! driver takes an exclusive lock on `BAR.lock` before it touches the BAR, writes its pid
//! there, and holds the lock for its lifetime; the operating system drops the lock when the
//! process ends, however it ends. A second opener gets `AccelError::InUse` naming the owner.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use crate::backend::AccelError;

/// The lock file beside a BAR file.
pub fn lock_path(bar: &Path) -> PathBuf {
    let mut name = bar.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Holding a card: the lock is released when this is dropped.
#[derive(Debug)]
pub(crate) struct Ownership {
    _file: File,
}

impl Ownership {
    /// Take the card at `bar`, or say who has it.
    pub(crate) fn take(bar: &Path) -> Result<Ownership, AccelError> {
        let path = lock_path(bar);
        let setup = |e: std::io::Error| AccelError::DeviceLost(format!("card lock file {}: {e}", path.display()));
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(setup)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let owner = match text.trim().parse::<u32>() {
                    Ok(pid) => format!("pid {pid}"),
                    Err(_) => "another process".to_string(),
                };
                return Err(AccelError::InUse { path: bar.display().to_string(), owner });
            }
            Err(TryLockError::Error(e)) => return Err(setup(e)),
        }
        file.set_len(0).map_err(setup)?;
        file.seek(SeekFrom::Start(0)).map_err(setup)?;
        write!(file, "{}", std::process::id()).map_err(setup)?;
        file.flush().map_err(setup)?;
        Ok(Ownership { _file: file })
    }
}
