//! Consensus: what decides the chain's next block. The node is driven by it, never the other
//! way round.
//!
//! ```text
//!            Driver (solo today; BFT on an existing engine next)
//!              │ propose(h) ──> App: a block built on the head, or nothing to propose
//!              │ validate(b) ─> App: a peer's block checked through this node's accel
//!              └ commit(b, c) > App: the decided block and its certificate, stored
//! ```
//!
//! Owns: the [`App`] seam the node implements, the [`Driver`] trait, and [`Solo`]. Every
//! type of a BFT engine stays inside this crate, so a version bump of the engine touches
//! only it.

pub mod app;
pub mod bft;
pub mod error;
pub mod solo;
pub mod status;

pub use app::{App, AppError, BoxFuture, Driver};
pub use error::ConsensusError;
pub use solo::Solo;
pub use status::{ConsensusStatus, Shared};
