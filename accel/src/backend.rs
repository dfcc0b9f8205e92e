//! What every backend is: [`Backend`], [`BackendInfo`], and [`AccelError`].
//!
//! Backends are synchronous and batch-sized; threads, async and routing belong to the
//! caller (the dispatcher). A backend answers a batch with verdicts or with an
//! [`AccelError`], and an error is never a verdict: the caller re-runs the work elsewhere.

use std::fmt;

use xinlian_kernels::sm3::Digest;

use crate::verdict::{PreparedVerify, Verdict};
use crate::MessageBatch;

/// The kind of device behind a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The host CPU, running `xinlian-kernels` directly.
    Cpu,
    /// An OpenCL device.
    OpenCl,
    /// A crypto card speaking the hw-sim card ABI.
    Card,
    /// A crypto card behind its vendor's GM/T 0018 (SDF) library.
    Sdf,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Cpu => "cpu",
            BackendKind::OpenCl => "opencl",
            BackendKind::Card => "card",
            BackendKind::Sdf => "sdf",
        })
    }
}

/// What a backend is and what it can take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendInfo {
    /// Short name, as `--backend` spells it.
    pub name: String,
    /// The kind of device.
    pub kind: BackendKind,
    /// Human-readable device description.
    pub device: String,
    /// Largest batch the backend takes in one call.
    pub max_batch: usize,
    /// Parallel workers (threads, compute units, engines).
    pub parallelism: usize,
}

/// A failure of a device (or of the layer's own set-up), not of the input. Never a verdict.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccelError {
    /// The device is gone (unplugged, reset, driver lost).
    #[error("device lost: {0}")]
    DeviceLost(String),
    /// The device did not answer in time.
    #[error("device timed out after {millis} ms")]
    Timeout {
        /// How long we waited.
        millis: u64,
    },
    /// The device answered with something that cannot be right.
    #[error("device returned corrupt results: {0}")]
    Corrupt(String),
    /// The batch is larger than the backend takes.
    #[error("batch of {got} items exceeds the backend's limit of {max}")]
    BatchTooLarge {
        /// Items given.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// A known-answer self-test failed.
    #[error("self-test failed: {0}")]
    SelfTest(String),
    /// The `[accel]` configuration is invalid, or a device it requires did not start; the
    /// message names the field.
    #[error("accel config: {0}")]
    Config(String),
    /// An async API was asked for outside a tokio runtime.
    #[error("no async runtime: {0}")]
    NoRuntime(String),
}

/// One way to run SM2 verification and SM3 hashing. Every backend accepts and rejects
/// exactly what the CPU reference does.
pub trait Backend: Send + Sync {
    /// What this backend is.
    fn info(&self) -> &BackendInfo;

    /// Verify every item; one verdict per item, in order (only `Valid` or `Invalid`: the
    /// items are already decoded, so nothing here is malformed).
    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, AccelError>;

    /// SM3 of every message, in order.
    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError>;

    /// One level of the SM3 Merkle tree ([`xinlian_kernels::merkle::parent_level`]).
    fn merkle_level(&self, nodes: &[Digest]) -> Result<Vec<Digest>, AccelError>;

    /// Known answers: the standard's SM2 and SM3 examples, and a rejected signature.
    fn self_test(&self) -> Result<(), AccelError>;
}
