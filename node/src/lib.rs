//! The running xinlian node: admission through the accel dispatcher, a mempool, the block
//! path a consensus driver calls (propose / validate / commit), RocksDB storage, and an
//! HTTP API.
//!
//! ```text
//!  client ──HTTP/JSON──> rpc ──decode──> admission ──batch──> accel dispatcher
//!                                          │ (dedupe, replay, Z cache)   │ verdicts
//!                                          v                             │
//!                                       mempool <────────────────────────┘
//!                                          │
//!  consensus driver ──propose(h)──> producer: tx root (accel) ──> execute ──> sign
//!                   ──validate(b)─> producer: xinlian_chain::check with accel as verifier
//!                   ──commit(b,c)─> store (RocksDB, one synced batch) ──> mempool drops ids
//! ```
//!
//! The node only ever sees accel's async API; it names a backend only in config. It is
//! assembled by [`NodeBuilder`] and driven by a `xinlian_consensus::Driver`.

pub mod admission;
pub mod builder;
pub mod card_key;
pub mod config;
pub mod error;
pub mod http_errors;
pub mod listener;
pub mod memory;
pub mod mempool;
pub mod metrics;
pub mod network;
pub mod node;
pub mod openapi;
pub mod producer;
pub mod relay;
pub mod rpc;
pub mod rpc_types;
pub mod server;
pub mod store;

pub use builder::NodeBuilder;
pub use error::NodeError;
pub use node::Node;
