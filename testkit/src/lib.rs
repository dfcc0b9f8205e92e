//! Test helpers, written once: keys, signed transactions, blocks, signature cases, and a
//! harness for `xinlian run` processes. A dev-dependency only: nothing a user runs uses it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: a failed unwrap is a failed test")]

pub mod blocks;
pub mod netns;
pub mod openssl;
pub mod proc;
pub mod txs;

pub use proc::{temp_dir, NodeProc};
pub use txs::{put, signed, transfer, tx_json};

/// A fresh random SM2 key.
pub fn key() -> xinlian_chain::Signer {
    xinlian_chain::Signer::generate().expect("the OS random generator")
}
