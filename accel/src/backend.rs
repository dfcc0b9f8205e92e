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

/// Everything that can go wrong in the acceleration layer; never a verdict. Three kinds, and
/// [`AccelError::is_device_fault`] tells the first from the others:
///
/// - device faults at run time (`DeviceLost`, `Timeout`, `Corrupt`, `SelfTest`): the device
///   failed; the dispatcher re-runs the work elsewhere and takes the device out of service
///   until its self-test passes;
/// - work a backend cannot take (`BatchTooLarge`, `MessageTooLarge`): the caller asked too
///   much of a healthy device; the work runs elsewhere (the CPU takes anything) and the
///   device stays in service;
/// - start-up and set-up errors (`Config`, `NoRuntime`, `NoDevice`, `DeviceNotFound`,
///   `Build`, `InUse`): the layer was opened wrongly or a device did not start; nothing was routed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccelError {
    /// Device fault: the device is gone (unplugged, reset, driver lost), or an OpenCL call on
    /// it failed.
    #[error("device lost: {0}")]
    DeviceLost(String),
    /// Device fault: the device did not answer in time.
    #[error("device timed out after {millis} ms")]
    Timeout {
        /// How long we waited.
        millis: u64,
    },
    /// Device fault: the device answered with something that cannot be right.
    #[error("device returned corrupt results: {0}")]
    Corrupt(String),
    /// Device fault: a known-answer self-test failed.
    #[error("self-test failed: {0}")]
    SelfTest(String),
    /// Work too large: more items than the backend takes in one call.
    #[error("batch of {got} items exceeds the backend's limit of {max}")]
    BatchTooLarge {
        /// Items given.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// Work too large: one SM3 message (or a card descriptor's input and output) is longer
    /// than the backend takes in one piece: a card's DMA window, an OpenCL device's largest
    /// allocation. See [`Backend::max_message_bytes`].
    #[error("a message of {bytes} bytes exceeds the backend's limit of {max} bytes")]
    MessageTooLarge {
        /// Bytes given.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Set-up: the `[accel]` configuration is invalid, or a device it requires did not start;
    /// the message names the field.
    #[error("accel config: {0}")]
    Config(String),
    /// Set-up: an async API was asked for outside a tokio runtime.
    #[error("no async runtime: {0}")]
    NoRuntime(String),
    /// Start-up: no OpenCL loader, platform or device on this machine.
    #[error("no OpenCL device: {0}")]
    NoDevice(String),
    /// Start-up: the card already has a driver (another node, or `xinlian devices`); it was
    /// not touched, since opening a card resets it.
    #[error("card at {path} is in use by {owner} (one driver per card: opening it would reset the owner's work)")]
    InUse {
        /// The card's BAR file.
        path: String,
        /// Who holds it, as its lock file says (`pid N`, or `another process`).
        owner: String,
    },
    /// Start-up: an OpenCL device spec (`--device`, `opencl_devices`) matched nothing.
    #[error("no OpenCL device matches {spec:?}; available: {available}")]
    DeviceNotFound {
        /// The spec given.
        spec: String,
        /// The devices there are, `index: platform / name`.
        available: String,
    },
    /// Start-up: the OpenCL program did not compile for a device; the compiler's log says why.
    #[error("the OpenCL program did not build on {device}; build log:\n{log}")]
    Build {
        /// `platform / name`.
        device: String,
        /// The compiler's build log.
        log: String,
    },
}

impl AccelError {
    /// Whether the device failed (`DeviceLost`, `Timeout`, `Corrupt`, `SelfTest`): only such
    /// an error takes a device out of service. Work too large for a device, and start-up or
    /// set-up errors, say nothing about the health of a device that runs.
    pub fn is_device_fault(&self) -> bool {
        matches!(
            self,
            AccelError::DeviceLost(_) | AccelError::Timeout { .. } | AccelError::Corrupt(_) | AccelError::SelfTest(_)
        )
    }
}

/// One way to run SM2 verification and SM3 hashing. Every backend accepts and rejects
/// exactly what the CPU reference does.
pub trait Backend: Send + Sync {
    /// What this backend is.
    fn info(&self) -> &BackendInfo;

    /// Verify every item; one verdict per item, in order (only `Valid` or `Invalid`: the
    /// items are already decoded, so nothing here is malformed).
    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, AccelError>;

    /// SM3 of every message, in order. A message longer than [`Backend::max_message_bytes`]
    /// is refused with [`AccelError::MessageTooLarge`].
    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError>;

    /// The longest single SM3 message this backend takes (the dispatcher hashes longer ones on
    /// the CPU instead). Unlimited unless the device says otherwise.
    fn max_message_bytes(&self) -> usize {
        usize::MAX
    }

    /// One level of the SM3 Merkle tree ([`xinlian_kernels::merkle::parent_level`]).
    fn merkle_level(&self, nodes: &[Digest]) -> Result<Vec<Digest>, AccelError>;

    /// Known answers: the standard's SM2 and SM3 examples, and a rejected signature.
    fn self_test(&self) -> Result<(), AccelError>;
}
