//! The CPU backend: `xinlian-kernels` called directly, a batch spread over threads.
//!
//! Owns: splitting a batch into contiguous runs, one per thread (scoped threads, so nothing
//! outlives the call), and putting the answers back in order.
//! Never: decoding (items arrive prepared) or errors for bad input (there is none left).
//! It is the reference every other backend must agree with, byte for byte.

use std::thread;

use xinlian_kernels::sm2;
use xinlian_kernels::sm3::{self, Digest};
use xinlian_kernels::{merkle, sm3::digest_batch};

use crate::backend::{AccelError, Backend, BackendInfo, BackendKind};
use crate::verdict::{PreparedVerify, Verdict};
use crate::{self_test, MessageBatch};

/// Below this many items per thread, threads cost more than they save (a thread start is
/// about 20 us; one verification 20 to 70 us). Runs are also cut in multiples of this, the
/// width of the AVX-512 IFMA path, so that no thread is left a ragged group.
const MIN_VERIFY_PER_THREAD: usize = 8;
/// Bytes per thread below which SM3 stays on one thread.
const MIN_HASH_BYTES_PER_THREAD: usize = 256 << 10;

/// SM2/SM3 on host cores.
pub struct CpuBackend {
    info: BackendInfo,
    threads: usize,
}

impl CpuBackend {
    /// A backend using `threads` threads (0: every core the OS gives this process).
    pub fn new(threads: usize) -> CpuBackend {
        let threads = if threads == 0 { thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
        sm2::warm_up();
        CpuBackend {
            info: BackendInfo {
                name: "cpu".to_string(),
                kind: BackendKind::Cpu,
                device: format!(
                    "host CPU, {threads} thread{}, SM3 in {} SIMD lane{}",
                    if threads == 1 { "" } else { "s" },
                    sm3::simd_lanes(),
                    if sm3::simd_lanes() == 1 { "" } else { "s" }
                ),
                max_batch: usize::MAX,
                parallelism: threads,
            },
            threads,
        }
    }

    /// Threads used per batch.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Run `work` over contiguous runs of `items` on up to `threads` threads, in order; runs
    /// hold at least `min_per_thread` items and are cut in multiples of `granule`.
    fn spread<T: Sync, R: Send>(
        &self,
        items: &[T],
        min_per_thread: usize,
        granule: usize,
        work: impl Fn(&[T]) -> Vec<R> + Sync,
    ) -> Vec<R> {
        let threads = self.threads.min(items.len() / min_per_thread.max(1)).max(1);
        if threads == 1 {
            return work(items);
        }
        let per = items.len().div_ceil(threads).next_multiple_of(granule.max(1));
        thread::scope(|scope| {
            let handles: Vec<_> = items.chunks(per).map(|run| scope.spawn(|| work(run))).collect();
            let mut out = Vec::with_capacity(items.len());
            for h in handles {
                // A worker only panics on a bug in the kernels; re-raise it here rather than
                // answer with a partial batch.
                match h.join() {
                    Ok(part) => out.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            out
        })
    }
}

/// Verify one prepared item on this thread.
pub fn verify_one(item: &PreparedVerify) -> Verdict {
    let result = match &item.table {
        Some(table) => sm2::verify_with_table_vartime(table, &item.e, &item.r, &item.s),
        None => sm2::verify_prehashed_vartime(&item.key, &item.e, &item.r, &item.s),
    };
    match result {
        Ok(()) => Verdict::Valid,
        Err(r) => Verdict::Invalid(r),
    }
}

/// Verify a run of items on this thread through the kernels' batch entry point, which runs
/// several verifications side by side (eight per vector with AVX-512 IFMA).
pub fn verify_run(items: &[PreparedVerify]) -> Vec<Verdict> {
    let batch: Vec<sm2::Prehashed<'_>> = items
        .iter()
        .map(|item| sm2::Prehashed {
            key: match &item.table {
                Some(table) => sm2::KeyRef::Table(table),
                None => sm2::KeyRef::Cold(&item.key),
            },
            e: &item.e,
            r: &item.r,
            s: &item.s,
        })
        .collect();
    let mut out = vec![Ok(()); batch.len()];
    sm2::verify_batch_vartime(&batch, &mut out);
    out.into_iter()
        .map(|r| match r {
            Ok(()) => Verdict::Valid,
            Err(rejection) => Verdict::Invalid(rejection),
        })
        .collect()
}

impl Backend for CpuBackend {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, AccelError> {
        Ok(self.spread(items, MIN_VERIFY_PER_THREAD, MIN_VERIFY_PER_THREAD, verify_run))
    }

    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError> {
        let slices: Vec<&[u8]> = msgs.iter().collect();
        let per_thread = (msgs.total_bytes() / self.threads.max(1)).max(1);
        if per_thread < MIN_HASH_BYTES_PER_THREAD || self.threads == 1 {
            return Ok(digest_batch(&slices));
        }
        // Split by count; messages of wildly different sizes may unbalance the threads, which
        // costs time, never correctness.
        let min_items = (slices.len() / self.threads).max(1);
        Ok(self.spread(&slices, min_items, 1, digest_batch))
    }

    fn merkle_level(&self, nodes: &[Digest]) -> Result<Vec<Digest>, AccelError> {
        Ok(merkle::parent_level(nodes))
    }

    fn self_test(&self) -> Result<(), AccelError> {
        self_test::run(self)
    }
}
