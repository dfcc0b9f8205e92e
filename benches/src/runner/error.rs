//! The runner's one error enum.

use thiserror::Error;

/// Why a bench run stopped. Each message names what is wrong.
#[derive(Debug, Error)]
pub enum BenchError {
    /// The command asked for something that cannot be measured here (a device that is not
    /// there, nothing left to measure).
    #[error("{0}")]
    Usage(String),
    /// Making or checking the inputs failed.
    #[error("{0}")]
    Input(String),
    /// Cells gave wrong answers or errors: the report was written, and says which.
    #[error("{0}")]
    Failed(String),
    /// A report file or directory could not be written.
    #[error("{what}: {source}")]
    Io {
        /// What was being written.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl BenchError {
    pub(crate) fn io(what: String, source: std::io::Error) -> BenchError {
        BenchError::Io { what, source }
    }
}
