//! Which code path runs step B6 on this CPU: the portable limbs or AVX-512 IFMA.
//!
//! Owns: [`VerifyPath`], the detection of what this CPU can run, and the one process-wide
//! choice ([`verify_path`]) that [`super::verify`] and [`super::table`] both follow (a per-key
//! table is built in the layout of the path that will read it).
//! Never: arithmetic; this file only decides.

use std::sync::OnceLock;

/// How B6 runs for cold keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyPath {
    /// Portable 64-bit limbs, a few verifications interleaved.
    Portable,
    /// AVX-512 IFMA, eight verifications per vector (x86-64 CPUs that have it).
    Ifma,
}

/// Environment variable that forces the portable path: `XINLIAN_SM2_IFMA=0`.
pub const IFMA_ENV: &str = "XINLIAN_SM2_IFMA";

/// The paths this CPU can run, portable first.
pub fn available_verify_paths() -> Vec<VerifyPath> {
    #[cfg(target_arch = "x86_64")]
    if super::ifma::available() {
        return vec![VerifyPath::Portable, VerifyPath::Ifma];
    }
    vec![VerifyPath::Portable]
}

/// The path in use: IFMA when the CPU has it, unless `XINLIAN_SM2_IFMA=0` (read once, so that
/// tables built early and verifications run later agree on the layout).
pub fn verify_path() -> VerifyPath {
    static PATH: OnceLock<VerifyPath> = OnceLock::new();
    *PATH.get_or_init(|| {
        let off = std::env::var(IFMA_ENV).is_ok_and(|v| v == "0");
        if off {
            VerifyPath::Portable
        } else {
            available_verify_paths().pop().unwrap_or(VerifyPath::Portable)
        }
    })
}
