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
}
