//! One entry of `[accel] sdf_libraries`: which vendor library, and how to speak to it.
//!
//! ```toml
//! [accel]
//! sdf_libraries = [
//!   { path = "/opt/vendor/lib/libsdf.so" },                       # defaults for the rest
//!   { path = "/opt/other/libswsds.so", invalid_codes = [0x0100000E, 0x01020014],
//!     sessions = 16, layout = "32", watchdog_ms = 2000 },
//! ]
//! ```
//!
//! Owns: [`SdfConfig`], its defaults and its validation (each error names the field as
//! `sdf_libraries[i].field`). Never: opening anything.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use xinlian_hw_sim::sdf_abi::{FieldLayout, SDR_OK, SDR_VERIFYERR};

use crate::backend::AccelError;

/// Most sessions one library may be given (a slipped digit, not a real card, goes above).
pub const MAX_SESSIONS: usize = 1024;
/// Longest fixed watchdog, ms (10 minutes).
const MAX_WATCHDOG_MS: u64 = 600_000;

fn default_invalid_codes() -> Vec<u32> {
    vec![SDR_VERIFYERR]
}

fn default_watchdog_ms() -> u64 {
    // A card answers a call in 0.1-3 ms, a network HSM in 1-10 ms: a session silent for 2 s is
    // stuck (such libraries would wait 60 s before giving up themselves).
    2_000
}

/// How to use one GM/T 0018 library (the `sdf` backend and the signer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdfConfig {
    /// The vendor's library file (`.so`).
    pub path: PathBuf,
    /// Codes of `SDF_ExternalVerify_ECC` that mean "the signature does not verify"; every other
    /// code that is not `SDR_OK` is a device fault. Default: `SDR_VERIFYERR` (0x0100000E) alone.
    #[serde(default = "default_invalid_codes")]
    pub invalid_codes: Vec<u32>,
    /// Sessions (each on its own thread); 0: the card's engine count where its DEVICEINFO says
    /// it (a ` xN` suffix of `DeviceName`, as the soft card writes), else the CPU count.
    #[serde(default)]
    pub sessions: usize,
    /// `"64"` (the standard's 64-byte fields) or `"32"` (one vendor's header); the self-test
    /// at start-up refuses a library whose layout is not this one.
    #[serde(default)]
    pub layout: FieldLayout,
    /// A session that finishes no call for this long while it has work is hung, ms: its
    /// batch is `AccelError::Timeout` and the session is replaced.
    #[serde(default = "default_watchdog_ms")]
    pub watchdog_ms: u64,
}

impl SdfConfig {
    /// The library at `path` with every default.
    pub fn new(path: impl AsRef<Path>) -> SdfConfig {
        SdfConfig {
            path: path.as_ref().to_path_buf(),
            invalid_codes: default_invalid_codes(),
            sessions: 0,
            layout: FieldLayout::Bytes64,
            watchdog_ms: default_watchdog_ms(),
        }
    }

    /// The watchdog.
    pub fn watchdog(&self) -> Duration {
        Duration::from_millis(self.watchdog_ms)
    }

    /// Check every value; the error names `sdf_libraries[at].field`.
    pub fn validate(&self, at: usize) -> Result<(), AccelError> {
        let bad = |field: &str, what: String| Err(AccelError::Config(format!("sdf_libraries[{at}].{field}{what}")));
        if self.path.as_os_str().is_empty() {
            return bad("path", ": an empty path (give the vendor's SDF library file)".to_string());
        }
        if self.invalid_codes.is_empty() {
            return bad(
                "invalid_codes",
                " = []: name at least the code that means \"does not verify\" (default [0x0100000E])".to_string(),
            );
        }
        if self.invalid_codes.contains(&SDR_OK) {
            return bad("invalid_codes", ": 0 is SDR_OK, success; it cannot also mean \"does not verify\"".to_string());
        }
        if self.sessions > MAX_SESSIONS {
            return bad(
                "sessions",
                format!(" = {}: at most {MAX_SESSIONS} (0: the card's engine count)", self.sessions),
            );
        }
        if !(1..=MAX_WATCHDOG_MS).contains(&self.watchdog_ms) {
            return bad("watchdog_ms", format!(" = {}: must be in 1..={MAX_WATCHDOG_MS}", self.watchdog_ms));
        }
        Ok(())
    }
}
