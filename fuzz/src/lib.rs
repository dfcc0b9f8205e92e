//! The bodies of xinlian's fuzz targets, one module per parser of untrusted bytes.
//!
//! ```text
//!  fuzz/libfuzzer/fuzz_targets/<name>.rs ──libFuzzer──┐
//!                                                     ├──> xinlian_fuzz::<name>::run(bytes)
//!  fuzz/tests/replay.rs (cargo test, CI) ──corpus/<name>/*─┘      panics when a property fails
//! ```
//!
//! Each `run` calls the project's own decoder (never a copy) and asserts what can be checked:
//! no panic, a decode → encode round trip that gives the input back where the encoding is
//! canonical, errors that name what is wrong, and, for `sm2_differential`, that our SM2
//! verification agrees with RustCrypto's. A failed property panics, which libFuzzer reports
//! as a crash and the replay test as a failure. How to run them: `fuzz/README.md`.

pub mod accel_config;
pub mod block_binary;
pub mod card_completion;
pub mod genesis;
pub mod key_pem;
#[cfg(feature = "node")]
pub mod node_config;
pub mod sdf_structs;
pub mod sec1;
pub mod signature;
pub mod sm2_differential;
pub mod store_records;
pub mod tx_binary;
pub mod tx_json;
pub mod verify_line;

/// Every target's name, as its corpus folder (`fuzz/corpus/<name>`) and libFuzzer binary say it.
pub const TARGETS: &[&str] = &[
    "accel_config",
    "block_binary",
    "card_completion",
    "genesis",
    "key_pem",
    "node_config",
    "sdf_structs",
    "sec1",
    "signature",
    "sm2_differential",
    "store_records",
    "tx_binary",
    "tx_json",
    "verify_line",
];

/// An error's message must say something: a blank reason is a bug at the bad input's door.
pub(crate) fn assert_named(what: &str, message: &str) {
    assert!(!message.trim().is_empty(), "{what}: an error with an empty message");
}
