//! The card backend: a crypto card speaking the `xinlian_hw_sim::abi` ABI (the simulator today, a
//! real card of the same shape later).
//!
//! ```text
//!  verify_batch / sm3_batch / merkle_level
//!     │ cut into descriptors that fit one DMA window (and max_items)
//!     │ encode items (SM2: x‖y‖e‖r‖s, 160 B; SM3: u32 ends + packed bytes; Merkle: nodes)
//!     v
//!  driver::CardDriver ── try_submit ─> rings ─> card ─> completion ── wait ─> bytes
//!     │ up to queue-depth descriptors in flight, from one caller or many threads
//!     v
//!  decode (result byte -> Verdict; digests) ── anything undefined -> AccelError::Corrupt
//! ```
//!
//! Owns: the byte encodings of ABI.md on the host side, cutting batches into descriptors
//! and putting the answers back in order. Never: turns a device fault into a verdict. A
//! dropped or hung descriptor is `Timeout`, a reset card `DeviceLost`, an undefined status or
//! result byte `Corrupt`; a flipped verdict is not detectable here (the dispatcher's
//! canaries catch it). An SM3 message that no DMA window holds is `MessageTooLarge`, the
//! caller's to hash elsewhere, and says nothing about the card's health.

pub mod driver;
pub mod owner;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use xinlian_hw_sim::abi;
use xinlian_kernels::sm2::Rejection;
use xinlian_kernels::sm3::Digest;

pub use driver::{CardDriver, CardIdentity, DriverConfig};
pub use xinlian_hw_sim::abi::DEFAULT_BAR_PATH;
pub use xinlian_hw_sim::Counters as CardCounters;

use crate::backend::{AccelError, Backend, BackendInfo, BackendKind};
use crate::verdict::{PreparedVerify, Verdict};
use crate::{self_test, MessageBatch};

/// One descriptor's worth of work, encoded.
struct Job {
    opcode: u16,
    items: u32,
    input: Vec<u8>,
    out_len: usize,
}

/// SM2/SM3 on a crypto card.
pub struct CardBackend {
    info: BackendInfo,
    path: PathBuf,
    driver: CardDriver,
}

impl CardBackend {
    /// Open the card whose BAR is at `path` (e.g. [`DEFAULT_BAR_PATH`]) with default timeouts.
    pub fn open(path: impl AsRef<Path>) -> Result<CardBackend, AccelError> {
        CardBackend::open_with(path, DriverConfig::default())
    }

    /// Open with explicit timeouts.
    pub fn open_with(path: impl AsRef<Path>, config: DriverConfig) -> Result<CardBackend, AccelError> {
        let path = path.as_ref().to_path_buf();
        let driver = CardDriver::open(&path, config)?;
        let id = driver.identity();
        let info = BackendInfo {
            name: "card".to_string(),
            kind: BackendKind::Card,
            device: format!(
                "card at {} (profile {}, ABI {}.{}, {} SM2 / {} SM3 engines, queue depth {})",
                path.display(),
                id.profile,
                id.version >> 16,
                id.version & 0xFFFF,
                id.sm2_engines,
                id.sm3_engines,
                id.queue_depth
            ),
            max_batch: usize::MAX,
            parallelism: id.sm2_engines as usize,
        };
        tracing::info!(backend = "card", device = %info.device, "card opened");
        Ok(CardBackend { info, path, driver })
    }

    /// The BAR path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the card said about itself.
    pub fn identity(&self) -> &CardIdentity {
        self.driver.identity()
    }

    /// The card's counters (descriptors, items, modelled time, resets, faults).
    pub fn counters(&self) -> CardCounters {
        self.driver.counters()
    }

    /// Items of `bytes_per_item` in and `out_per_item` out that fit one descriptor.
    fn per_job(&self, bytes_per_item: usize, out_per_item: usize) -> usize {
        let id = self.driver.identity();
        ((id.window_bytes - 128) / (bytes_per_item + out_per_item)).min(id.max_items as usize).max(1)
    }

    /// Bytes of one DMA window an SM3 descriptor may use (128 kept for the output's alignment).
    fn sm3_window(&self) -> usize {
        self.driver.identity().window_bytes - 128
    }

    /// Run the jobs, keeping as many in flight as the card has windows; outputs in order.
    fn run_jobs(&self, jobs: Vec<Job>) -> Result<Vec<Vec<u8>>, AccelError> {
        let mut outputs = vec![Vec::new(); jobs.len()];
        let mut in_flight = VecDeque::new();
        let mut next = 0;
        let mut step = || -> Result<bool, AccelError> {
            while let Some(job) = jobs.get(next) {
                match self.driver.try_submit(job.opcode, job.items, &job.input, job.out_len)? {
                    Some(ticket) => {
                        in_flight.push_back((next, ticket));
                        next += 1;
                    }
                    None => break,
                }
            }
            match in_flight.pop_front() {
                Some((i, ticket)) => outputs[i] = self.driver.wait(ticket)?,
                // Every window is held by other callers: wait until one frees.
                None if next < jobs.len() => self.driver.wait_for_window()?,
                None => return Ok(false),
            }
            Ok(true)
        };
        loop {
            match step() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    for (_, ticket) in in_flight {
                        self.driver.abandon(ticket);
                    }
                    return Err(e);
                }
            }
        }
        Ok(outputs)
    }
}

/// A result byte as a verdict (`None`: not a code the ABI defines).
fn verdict_of(code: u8) -> Option<Verdict> {
    Some(match code {
        abi::SM2_VALID => Verdict::Valid,
        abi::SM2_R_OUT_OF_RANGE => Verdict::Invalid(Rejection::ROutOfRange),
        abi::SM2_S_OUT_OF_RANGE => Verdict::Invalid(Rejection::SOutOfRange),
        abi::SM2_T_IS_ZERO => Verdict::Invalid(Rejection::TIsZero),
        abi::SM2_IDENTITY => Verdict::Invalid(Rejection::Identity),
        abi::SM2_MISMATCH => Verdict::Invalid(Rejection::Mismatch),
        _ => return None,
    })
}

fn digests_of(bytes: &[u8], out: &mut Vec<Digest>) {
    for chunk in bytes.chunks_exact(abi::DIGEST_BYTES) {
        let mut d = [0u8; 32];
        d.copy_from_slice(chunk);
        out.push(d);
    }
}

/// In + out bytes of an SM3 descriptor of `n` messages holding `bytes` bytes (the end offsets,
/// the messages, alignment of the output, the digests; ABI.md).
fn sm3_job_bytes(n: usize, bytes: usize) -> usize {
    xinlian_hw_sim::engines::sm3_message_start(n) + bytes + 64 + n * abi::DIGEST_BYTES
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Backend for CardBackend {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, AccelError> {
        let per = self.per_job(abi::SM2_ITEM_BYTES, 1);
        let jobs = items
            .chunks(per)
            .map(|run| {
                let mut input = Vec::with_capacity(run.len() * abi::SM2_ITEM_BYTES);
                for item in run {
                    input.extend_from_slice(&item.key.x_bytes());
                    input.extend_from_slice(&item.key.y_bytes());
                    input.extend_from_slice(&item.e);
                    input.extend_from_slice(&item.r);
                    input.extend_from_slice(&item.s);
                }
                Job { opcode: abi::OP_SM2_VERIFY_BATCH, items: count(run.len()), input, out_len: run.len() }
            })
            .collect();
        let mut verdicts = Vec::with_capacity(items.len());
        for out in self.run_jobs(jobs)? {
            for &code in &out {
                let v = verdict_of(code)
                    .ok_or_else(|| AccelError::Corrupt(format!("card returned undefined SM2 result {code:#04x}")))?;
                verdicts.push(v);
            }
        }
        Ok(verdicts)
    }

    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError> {
        let window = self.sm3_window();
        let max_items = self.driver.identity().max_items as usize;
        let mut jobs = Vec::new();
        let mut run: Vec<&[u8]> = Vec::new();
        let mut run_bytes = 0usize;
        let flush = |run: &mut Vec<&[u8]>, jobs: &mut Vec<Job>| {
            if run.is_empty() {
                return;
            }
            let n = run.len();
            let start = xinlian_hw_sim::engines::sm3_message_start(n);
            let mut input = vec![0u8; start];
            let mut end = 0usize;
            for (i, m) in run.iter().enumerate() {
                end += m.len();
                input[4 * i..4 * i + 4].copy_from_slice(&count(end).to_le_bytes());
            }
            for m in run.iter() {
                input.extend_from_slice(m);
            }
            jobs.push(Job { opcode: abi::OP_SM3_BATCH, items: count(n), input, out_len: n * abi::DIGEST_BYTES });
            run.clear();
        };
        for m in msgs.iter() {
            if m.len() > self.max_message_bytes() {
                return Err(AccelError::MessageTooLarge { bytes: m.len(), max: self.max_message_bytes() });
            }
            if run.len() == max_items || sm3_job_bytes(run.len() + 1, run_bytes + m.len()) > window {
                flush(&mut run, &mut jobs);
                run_bytes = 0;
            }
            run.push(m);
            run_bytes += m.len();
        }
        flush(&mut run, &mut jobs);
        let mut digests = Vec::with_capacity(msgs.len());
        for out in self.run_jobs(jobs)? {
            digests_of(&out, &mut digests);
        }
        Ok(digests)
    }

    /// What one descriptor of a single message leaves for the message in a DMA window.
    fn max_message_bytes(&self) -> usize {
        self.sm3_window().saturating_sub(sm3_job_bytes(1, 0))
    }

    fn merkle_level(&self, nodes: &[Digest]) -> Result<Vec<Digest>, AccelError> {
        // Runs of even length pair up exactly as the whole level does; only the last run
        // may be odd (its last node is carried up by the card).
        let per = (self.per_job(abi::DIGEST_BYTES, abi::DIGEST_BYTES / 2 + 1) & !1).max(2);
        let jobs = nodes
            .chunks(per)
            .map(|run| Job {
                opcode: abi::OP_MERKLE_LEVEL,
                items: count(run.len()),
                input: run.concat(),
                out_len: run.len().div_ceil(2) * abi::DIGEST_BYTES,
            })
            .collect();
        let mut parents = Vec::with_capacity(nodes.len().div_ceil(2));
        for out in self.run_jobs(jobs)? {
            digests_of(&out, &mut parents);
        }
        Ok(parents)
    }

    fn self_test(&self) -> Result<(), AccelError> {
        self_test::run(self)
    }
}
