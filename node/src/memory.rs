//! The node's memory bound: what each part may hold (from the config), the resident set as
//! the kernel counts it, and the allocator settings that let freed memory go back.
//!
//! Why the allocator matters: glibc keeps one arena per thread (up to 8 per core) and gives
//! little back by itself, so after a load the resident set stayed near its peak, and each
//! load left it a little higher. [`limit_allocator_arenas`] caps the arenas and
//! [`trim_when_idle`] returns freed pages when the node has nothing waiting.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::node::Node;

/// Code, the async runtime, thread stacks, the accel devices' runtimes (POCL's compiler and
/// buffers are most of it: about 75 MiB measured at start) and RocksDB's own bookkeeping.
const BASE_BYTES: u64 = 128 << 20;
/// A key-cache entry without its table: the decoded key, Z, the map's key and overhead.
const KEY_ENTRY_BYTES: u64 = 320;
/// A remembered rejection: the id twice (queue and map), a reason of at most
/// `RejectedLog::MAX_REASON` bytes, and the map's overhead.
const REJECTED_ENTRY_BYTES: u64 = 400;

/// BFT's own holdings, fixed: proposal streams being assembled, transactions waiting to be
/// relayed, and peers' relayed batches being admitted (each one gossip message of at most
/// 4 MiB, and as much again decoded). Counted under solo too, where they stay empty.
const CONSENSUS_BYTES: u64 = (xinlian_consensus::bft::MAX_STREAM_BYTES
    + crate::relay::OUTBOX_MAX_BYTES
    + xinlian_consensus::bft::RELAY_IN_FLIGHT * (8 << 20)) as u64;

/// The parts of the bound, each named by the config keys that set it, and their sum.
#[derive(Clone, Debug)]
pub struct Budget {
    /// (what, bytes).
    pub parts: Vec<(&'static str, u64)>,
}

impl Budget {
    /// The bound a node with `config` keeps to.
    pub fn of(config: &Config) -> Budget {
        let b = |n: usize| n as u64;
        let keys = &config.accel;
        Budget {
            parts: vec![
                ("base (code, runtime, device runtimes)", BASE_BYTES),
                (
                    "storage.write_buffer_bytes x2 (memtables, and those being flushed)",
                    2 * b(config.storage.write_buffer_bytes),
                ),
                ("storage.block_cache_bytes", b(config.storage.block_cache_bytes)),
                (
                    "accel.key_table_bytes + key_cache_entries x 320 B",
                    b(keys.key_table_bytes) + b(keys.key_cache_entries) * KEY_ENTRY_BYTES,
                ),
                ("mempool.max_bytes", b(config.mempool.max_bytes)),
                ("mempool.remember_rejected x 400 B", b(config.mempool.remember_rejected) * REJECTED_ENTRY_BYTES),
                (
                    "rpc.max_inflight_body_bytes x3 (bodies and what they decode to)",
                    3 * b(config.rpc.max_inflight_body_bytes),
                ),
                (
                    "block.max_bytes x4 (the block, its execution, its write batch, its encoding)",
                    4 * b(config.block.max_bytes),
                ),
                ("consensus, several validators: proposal streams, relay outbox, relayed batches", CONSENSUS_BYTES),
            ],
        }
    }

    /// The whole bound, in bytes.
    pub fn total(&self) -> u64 {
        self.parts.iter().map(|(_, n)| n).sum()
    }
}

/// This process's resident set in bytes (`/proc/self/statm`), where the system says.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system; no memory of ours is involved.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// Cap glibc's malloc arenas at 4 (its default is 8 per core); call before the runtime's
/// threads start. Fewer arenas hold fewer freed pages; the node's threads mostly wait on
/// locks and channels, so they rarely contend in malloc.
pub fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt changes a setting of glibc's allocator; it touches no memory of ours.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

/// Every few seconds, when no transaction waits, hand the allocator's free pages back to the
/// system (glibc's `malloc_trim`): after a load, the resident set falls back instead of
/// staying at its peak.
pub async fn trim_when_idle(node: Arc<Node>) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    let mut trimmed_at_height = None;
    loop {
        every.tick().await;
        let height = node.head().height;
        if node.mempool_len().0 > 0 || trimmed_at_height == Some(height) {
            continue;
        }
        trimmed_at_height = Some(height);
        let _ = tokio::task::spawn_blocking(trim).await;
    }
}

fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's heap to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
