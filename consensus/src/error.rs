//! The consensus crate's one error enum.

use thiserror::Error;

use crate::app::AppError;

/// Why a driver stopped.
#[derive(Debug, Error)]
pub enum ConsensusError {
    /// The app failed to propose a block at this height (its storage or accel failed).
    #[error("proposing block {height}: {source}")]
    Propose {
        /// The height.
        height: u64,
        /// The app's error.
        source: AppError,
    },
    /// The app failed to commit a decided block (its storage failed): the node cannot go on.
    #[error("committing block {height}: {source}")]
    Commit {
        /// The height.
        height: u64,
        /// The app's error.
        source: AppError,
    },
    /// Bytes from a peer, the WAL or a config that do not decode; the text names the field.
    #[error("decoding {0}")]
    Decode(String),
    /// The BFT engine failed to start or stopped.
    #[error("consensus engine: {0}")]
    Engine(String),
    /// A consensus setting (genesis validators, addresses, keys) is wrong; the text names it.
    #[error("consensus config: {0}")]
    Config(String),
}
