//! The xinlian chain's data and rules, with no I/O: an SDK, the consensus crate and the node
//! all build on it without RocksDB, tokio, HTTP or a device.
//!
//! ```text
//!  genesis.toml ──Genesis::block──> block 0 (a pure function of the file)
//!
//!  Transaction ──signing_bytes──> tx id = SM3(bytes)       (types, json: the client's view)
//!       │
//!  proposer: ids ──tx_root──> execute(state) ──> header ──sign──> Block     (builder, executor)
//!  follower: Block ──check::validate(verifier, known ids, state)──> Execution | Reject (check)
//! ```
//!
//! Verification is the caller's: `check::validate` takes a verifier, and the node passes its
//! accel dispatcher. Signing (secret keys) is RustCrypto's constant-time `sm2` (`keys`).

pub mod builder;
pub mod cert;
pub mod check;
mod codec;
pub mod error;
pub mod executor;
pub mod genesis;
pub mod json;
pub mod keys;
pub mod state;
pub mod tx_body;
pub mod types;

pub use cert::CommitCertificate;
pub use check::{Known, Parent, Reject, SignatureCheck};
pub use error::ChainError;
pub use executor::Execution;
pub use genesis::Genesis;
pub use keys::{BlockSigner, Signer};
pub use types::{Account, Block, BlockHeader, Hash, Payload, PublicKey, Receipt, Transaction, TxLocation};
