//! The chain crate's one error enum.

use thiserror::Error;

/// What the chain's data and rules can fail with. Each message names what is wrong.
#[derive(Debug, Error)]
pub enum ChainError {
    /// Bytes or JSON that are not a transaction, block or certificate: the message names the field.
    #[error("{0}")]
    Codec(String),
    /// The device holding the node's key failed to sign.
    #[error("signing: {0}")]
    Sign(String),
    /// A key that cannot be read or is not an SM2 key.
    #[error("key: {0}")]
    Key(String),
    /// A genesis file that is not a valid genesis: the message names the field.
    #[error("genesis: {0}")]
    Genesis(String),
    /// A key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The committed state could not be read during execution (the caller's storage failed).
    #[error("state: {0}")]
    State(String),
}

/// The chain crate's result.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;
