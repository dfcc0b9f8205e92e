//! The seam: what a consensus engine calls on the node ([`App`]), and what runs an engine
//! ([`Driver`]).
//!
//! Futures are boxed so that both traits can be used as objects: one call per block, so the
//! allocation is nothing beside the work behind it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use xinlian_chain::{Block, CommitCertificate, Execution, Reject};

use crate::error::ConsensusError;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The app's own failure (storage, accel): not a judgement on a block. The node's error type
/// travels boxed, so this crate does not depend on the node.
pub type AppError = Box<dyn std::error::Error + Send + Sync>;

/// What the node offers a consensus engine.
pub trait App: Send + Sync + 'static {
    /// The height of the committed head.
    fn height(&self) -> u64;

    /// Resolves once the node is stopping (a driver that never waits for work, as BFT's,
    /// stops on it).
    fn stopping(&self) -> BoxFuture<'_, ()>;

    /// Wait until a block is worth proposing (the node's block timing: transactions have
    /// waited long enough, or enough of them wait). `false` when the node is stopping.
    fn wait_for_work(&self) -> BoxFuture<'_, bool>;

    /// A block at `height` built on the committed head from waiting transactions, executed
    /// and signed by this node; `None` when nothing is left to propose and `allow_empty` is
    /// false. A BFT proposer must propose something in its round, so it allows an empty block.
    fn propose(&self, height: u64, allow_empty: bool) -> BoxFuture<'_, Result<Option<Block>, AppError>>;

    /// Check a block this node did not build (the peer path): link, proposer, tx root,
    /// signatures through this node's accel (those it did not admit itself), replays and
    /// duplicates, re-execution to the same state root.
    fn validate<'a>(&'a self, block: &'a Block) -> BoxFuture<'a, Result<Execution, Reject>>;

    /// Store a decided block with its certificate, and drop its transactions from the
    /// mempool. The block was proposed or validated by this node before.
    fn commit(&self, block: Block, certificate: CommitCertificate) -> BoxFuture<'_, Result<(), AppError>>;

    /// Up to `max` transactions this node admitted from its own clients and has not relayed
    /// yet, encoded, oldest first (a driver with peers sends them on).
    fn take_relay(&self, max: usize) -> Vec<Vec<u8>>;

    /// Encoded transactions a peer relayed: each admitted as a client's would be (the
    /// signature through this node's accel), never trusted. The number admitted.
    fn admit_relayed(&self, txs: Vec<Vec<u8>>) -> BoxFuture<'_, usize>;

    /// A committed block and its certificate, for a peer catching up; `None` above the head.
    fn decided(&self, height: u64) -> BoxFuture<'_, Result<Option<(Block, CommitCertificate)>, AppError>>;
}

/// Runs a consensus engine over an [`App`] until the app stops or a commit fails.
pub trait Driver: Send {
    /// A short name for logs and `/status` (`solo`, ...).
    fn name(&self) -> &'static str;

    /// Drive `app` until it stops.
    fn run(self: Box<Self>, app: Arc<dyn App>) -> BoxFuture<'static, Result<(), ConsensusError>>;
}
