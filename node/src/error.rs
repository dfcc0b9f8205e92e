//! The node's one error enum.

use thiserror::Error;

/// Everything the node library can fail with. Each message names what is wrong.
#[derive(Debug, Error)]
pub enum NodeError {
    /// Bytes or JSON that are not a transaction or block: the message names the field.
    #[error("{0}")]
    Codec(String),
    /// A configuration value that is out of range or unknown: the message names the key.
    #[error("config: {0}")]
    Config(String),
    /// A key file that cannot be read or is not an SM2 key.
    #[error("key: {0}")]
    Key(String),
    /// RocksDB failed (opening, reading, writing).
    #[error("storage: {0}")]
    Storage(String),
    /// What RocksDB holds is not what this node wrote: never silently repaired.
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The acceleration layer could not start.
    #[error("accel: {0}")]
    Accel(#[from] xinlian_accel::AccelError),
    /// A transaction refused at admission (the reason is for the client).
    #[error("{0}")]
    Rejected(String),
    /// The mempool is full: the client should retry later.
    #[error("mempool full ({0} transactions): retry later")]
    MempoolFull(usize),
    /// The node is shutting down.
    #[error("the node is shutting down")]
    ShuttingDown,
}

impl From<rocksdb::Error> for NodeError {
    fn from(e: rocksdb::Error) -> NodeError {
        NodeError::Storage(e.into_string())
    }
}
