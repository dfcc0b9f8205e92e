//! Skips that show: a test that cannot run here says so in a plain `cargo test`, and under `CI`
//! a missing device that CI must have is a failure, not a skip.
//!
//! Why a direct write to stderr: libtest captures what `print!`/`eprint!` write and shows it
//! only for a test that fails, so an `eprintln!` skip note of a passing test is never seen.
//! The capture replaces only those macros' sink; a write to [`std::io::stderr`] itself goes
//! to the terminal (and to CI's log) in every run, next to the test's `ok`. Considered and
//! not taken: `#[ignore = "..."]`, which shows as `ignored` but is fixed at compile time, so
//! it cannot depend on whether this machine has an OpenCL device.
//!
//! The test's name is its thread's: libtest runs each test on a thread named after it.
//!
//! This file is also compiled into the unit tests of `xinlian-accel` (see `src/lib.rs`), so
//! that both kinds of test skip the same way.

use std::io::Write as _;

/// The environment variable CI sets: with it, a required device that is missing fails.
pub(crate) const CI_ENV: &str = "CI";

/// Note on stderr, past libtest's capture, that the calling test skipped (all of it, or the
/// part `reason` names).
pub(crate) fn skip(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    // Nothing useful to do if stderr is closed: the test itself still passes or fails.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// A device this test needs is missing: under `CI` the test fails (CI must run every
/// accelerated path); elsewhere a visible [`skip`].
pub(crate) fn missing_device(reason: &str) {
    if std::env::var_os(CI_ENV).is_some() {
        panic!("{CI_ENV} is set but {reason}: CI must run this test (scripts/setup.sh installs POCL)");
    }
    skip(reason);
}
