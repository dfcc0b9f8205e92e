//! The acceleration layer: one [`Backend`] trait, the backends, verdicts and caches.
//!
//! ```text
//!  untrusted bytes ──> verdict::prepare ──> PreparedVerify ──> Backend::verify_batch ──> Verdict
//!   (key, ID, msg, sig)   │ decode SEC1 key, DER/raw sig          │ cpu, opencl (kernels/cl),
//!                         │ Z (cached: KeyCache), e = SM3(Z‖M)    │ card (hw_sim::abi), sdf (GM/T 0018)
//!                         └─> Verdict::Malformed / Invalid early  └─> AccelError (device fault,
//!                                                                      never a verdict)
//! ```
//!
//! Above the backends, [`Dispatcher`] (module [`dispatch`]) routes batches across every
//! backend present by a cost model, checks device answers (canaries, CPU re-checks), takes
//! failing devices out until their self-test passes, and always has the CPU as last resort.
//! [`AccelConfig`] (module [`config`]) is the node's `[accel]` config section, and
//! [`AccelConfig::open`] finds and starts the backends it names and gives an [`Accel`]: the
//! async dispatcher, the key cache, and their status and metrics.
//!
//! Decoding happens once, before any backend runs, so every backend judges exactly the same
//! items; `Malformed` never depends on the device. A backend's failure is an [`AccelError`]:
//! the caller re-runs the work elsewhere and never turns it into a verdict, and only a device
//! fault ([`AccelError::is_device_fault`]) takes the device out of service. Logs go through
//! `tracing`; this crate installs no subscriber.

pub mod backend;
pub mod backends;
pub mod cache;
pub mod config;
pub mod dispatch;
pub mod self_test;
mod signer;
pub mod verdict;
pub mod verify_line;

// The integration tests' skip helper, shared so that unit tests skip the same visible way.
#[cfg(test)]
#[path = "../tests/it/skip.rs"]
mod test_skip;

pub use backend::{AccelError, Backend, BackendInfo, BackendKind};
pub use backends::card::CardBackend;
pub use backends::cpu::CpuBackend;
pub use backends::opencl::OpenClBackend;
pub use backends::sdf::{SdfBackend, SdfConfig, SdfSigner};
pub use cache::{KeyCache, KeyCacheConfig};
pub use config::{Accel, AccelConfig, Backends};
pub use dispatch::{AsyncDispatcher, BackendStatus, BatcherConfig, DispatchConfig, Dispatcher};
pub use verdict::{prepare, PreparedVerify, Verdict, VerifyRequest};
pub use xinlian_kernels::sm3::Digest;

/// Many messages packed in one buffer with offsets: one allocation however many messages,
/// and the layout a device upload wants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageBatch {
    data: Vec<u8>,
    /// `ends[i]` is one past the last byte of message i.
    ends: Vec<usize>,
}

impl MessageBatch {
    /// An empty batch.
    pub fn new() -> MessageBatch {
        MessageBatch::default()
    }

    /// Append a message.
    pub fn push(&mut self, msg: &[u8]) {
        self.data.extend_from_slice(msg);
        self.ends.push(self.data.len());
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no messages.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Sum of the message lengths.
    pub fn total_bytes(&self) -> usize {
        self.data.len()
    }

    /// Message i.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.data.get(start..end)
    }

    /// The messages in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }

    /// The packed bytes and the end offsets (for device uploads).
    pub fn as_parts(&self) -> (&[u8], &[usize]) {
        (&self.data, &self.ends)
    }
}

impl<'a> FromIterator<&'a [u8]> for MessageBatch {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut b = MessageBatch::new();
        for m in iter {
            b.push(m);
        }
        b
    }
}
