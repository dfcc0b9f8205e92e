//! The xinlian chain node: signed transactions, a mempool with accelerated admission,
//! blocks with SM3 Merkle tx roots, RocksDB storage, and an HTTP API.
//!
//! ```text
//!  client ──HTTP/JSON──> rpc ──decode──> node::submit ──batch──> accel dispatcher
//!                                          │ (dedupe, replay, Z cache)   │ verdicts
//!                                          v                             │
//!                                       mempool <────────────────────────┘
//!                                          │
//!            node::produce_blocks ──> tx root (accel) ──> execute ──> sign ──> ordering ──> store (RocksDB)
//! ```
//!
//! The node only ever sees accel's async API; it names a backend only in config.

pub mod chain;
pub mod config;
pub mod error;
pub mod keys;
pub mod mempool;
pub mod node;
pub mod ordering;
pub mod rpc;
pub mod server;
pub mod store;
pub mod types;

pub use error::NodeError;
