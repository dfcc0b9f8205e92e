//! BFT consensus on Malachite (Tendermint): several organisations' validators agree on each
//! block. Every Malachite type stays inside this module tree.
//!
//! - [`types`], [`context`]: the chain's values in the engine's shapes.
//! - [`scheme`], [`signing`]: SM2 keys and signatures for votes, proposals and proofs.
//! - [`codec`]: the bytes of everything gossiped, synced or written to the WAL.
//! - `host`: the answers to the engine (propose, validate, commit, sync).
//! - [`boot`]: the [`Bft`] driver, which starts a validator.

pub mod boot;
pub mod codec;
pub mod context;
mod host;
pub mod scheme;
pub mod signing;
mod streams;
pub mod types;
mod wal;
mod wire;

pub use boot::{generate_transport_secret, peer_id, Bft, Member, Settings, Timeouts};
pub use host::RELAY_IN_FLIGHT;
pub use streams::MAX_OPEN_BYTES as MAX_STREAM_BYTES;
