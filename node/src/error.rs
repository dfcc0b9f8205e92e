//! The node's one error enum.

use thiserror::Error;
use xinlian_chain::ChainError;

/// Everything the node library can fail with. Each message names what is wrong.
#[derive(Debug, Error)]
pub enum NodeError {
    /// A configuration value that is out of range or unknown.
    #[error("config: {key}: {reason}")]
    Config {
        /// The key as the file names it (`rpc.listen`, `accel.max_batch`, or the file).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The chain's data or rules refused something (a key file, the genesis file, bytes).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// RocksDB failed (opening, reading, writing).
    #[error("storage: {0}")]
    Storage(#[from] rocksdb::Error),
    /// The database cannot be opened: another process holds it, or the path is wrong.
    #[error("storage: {path}: {reason}")]
    StorageOpen {
        /// The data directory.
        path: String,
        /// RocksDB's reason, and a hint.
        reason: String,
    },
    /// What RocksDB holds is not what this node wrote: never silently repaired.
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// The data directory was made for another chain (chain id or genesis differ).
    #[error("{path} holds chain {found}, but this node is configured for {expected}")]
    WrongChain {
        /// The data directory.
        path: String,
        /// What the configuration or genesis file says.
        expected: String,
        /// What the data directory holds.
        found: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The acceleration layer could not start, or failed under a block.
    #[error("accel: {0}")]
    Accel(#[from] xinlian_accel::AccelError),
    /// A blocking task of the node panicked or was cancelled.
    #[error("{task} task failed: {reason}")]
    Task {
        /// Which task (admission, block, validation).
        task: &'static str,
        /// The panic or cancellation.
        reason: String,
    },
    /// The consensus driver stopped with an error.
    #[error("consensus: {0}")]
    Consensus(#[from] xinlian_consensus::ConsensusError),
    /// A block this node built or was asked to commit does not fit its chain.
    #[error("block {height}: {reason}")]
    Block {
        /// The block's height.
        height: u64,
        /// What is wrong.
        reason: String,
    },
}

impl NodeError {
    /// A config error naming `key`.
    pub fn config(key: impl Into<String>, reason: impl Into<String>) -> NodeError {
        NodeError::Config { key: key.into(), reason: reason.into() }
    }

    pub(crate) fn task(task: &'static str, e: tokio::task::JoinError) -> NodeError {
        NodeError::Task { task, reason: e.to_string() }
    }
}
