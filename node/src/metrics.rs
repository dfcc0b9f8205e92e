//! The node's counters, and their Prometheus rendering for `GET /metrics`.
//!
//! Owns: what the node counts and times per stage. Never: accel's metrics (appended as
//! accel renders them).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::admission::RefusalKind;

/// Counters for `/metrics`, and for finding where the time goes.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    /// Transactions received by `POST /tx`.
    pub received: AtomicU64,
    /// Admitted to the mempool.
    pub admitted: AtomicU64,
    /// Refused, per [`RefusalKind`] in declaration order.
    pub refused: [AtomicU64; RefusalKind::ALL.len()],
    /// Admitted transactions sent to peers (relay).
    pub relayed_out: AtomicU64,
    /// Transactions peers relayed that this node admitted.
    pub relayed_in: AtomicU64,
    /// Admitted transactions not relayed because the outbox was full.
    pub relay_dropped: AtomicU64,
    /// Blocks committed since start.
    pub blocks: AtomicU64,
    /// Transactions committed since start.
    pub committed: AtomicU64,
    /// Blocks from other nodes refused by `validate`.
    pub blocks_refused: AtomicU64,
    /// Nanoseconds in HTTP handlers of `POST /tx`, JSON decoding included.
    pub http_ns: AtomicU64,
    /// Nanoseconds decoding and checking transactions (JSON to `Transaction`).
    pub decode_ns: AtomicU64,
    /// Nanoseconds of dedupe, replay lookups and Z/e hashing before verification.
    pub prepare_ns: AtomicU64,
    /// Nanoseconds waiting for accel's verdicts at admission.
    pub verify_ns: AtomicU64,
    /// Nanoseconds admitting peers' relayed batches (decode, checks, signatures through accel).
    pub relay_ns: AtomicU64,
    /// Nanoseconds computing tx roots through accel.
    pub merkle_ns: AtomicU64,
    /// Nanoseconds executing blocks.
    pub execute_ns: AtomicU64,
    /// Nanoseconds validating other nodes' blocks (signatures through accel, re-execution).
    pub validate_ns: AtomicU64,
    /// Nanoseconds writing blocks to RocksDB (synced).
    pub commit_ns: AtomicU64,
}

/// Add the time since `since` to a nanosecond counter.
pub(crate) fn add_ns(c: &AtomicU64, since: Instant) {
    c.fetch_add(u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// What the gauges show.
pub(crate) struct Gauges {
    pub(crate) height: u64,
    pub(crate) mempool: usize,
    pub(crate) mempool_capacity: usize,
}

impl NodeMetrics {
    /// Count a refusal.
    pub fn count_refusal(&self, kind: RefusalKind) {
        self.refused[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text of the node's counters and gauges.
    pub(crate) fn render(&self, g: &Gauges) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter("xinlian_txs_received_total", "Transactions received by POST /tx.", get(&self.received));
        counter("xinlian_txs_admitted_total", "Transactions admitted to the mempool.", get(&self.admitted));
        counter("xinlian_txs_relayed_out_total", "Admitted transactions relayed to peers.", get(&self.relayed_out));
        counter("xinlian_txs_relayed_in_total", "Transactions relayed by peers and admitted.", get(&self.relayed_in));
        counter(
            "xinlian_txs_relay_dropped_total",
            "Admitted transactions not relayed: the outbox was full.",
            get(&self.relay_dropped),
        );
        counter("xinlian_txs_committed_total", "Transactions committed since start.", get(&self.committed));
        counter("xinlian_blocks_committed_total", "Blocks committed since start.", get(&self.blocks));
        counter(
            "xinlian_blocks_refused_total",
            "Other nodes' blocks refused by validation.",
            get(&self.blocks_refused),
        );
        let stages = [
            ("http", &self.http_ns),
            ("decode", &self.decode_ns),
            ("prepare", &self.prepare_ns),
            ("verify", &self.verify_ns),
            ("relay", &self.relay_ns),
            ("merkle", &self.merkle_ns),
            ("execute", &self.execute_ns),
            ("validate", &self.validate_ns),
            ("commit", &self.commit_ns),
        ];
        let _ = writeln!(out, "# HELP xinlian_stage_seconds_total Time spent per stage.");
        let _ = writeln!(out, "# TYPE xinlian_stage_seconds_total counter");
        for (stage, c) in stages {
            let _ = writeln!(out, "xinlian_stage_seconds_total{{stage=\"{stage}\"}} {:.6}", get(c) as f64 / 1e9);
        }
        let _ = writeln!(out, "# HELP xinlian_txs_refused_total Transactions refused at admission, by reason.");
        let _ = writeln!(out, "# TYPE xinlian_txs_refused_total counter");
        for (kind, c) in RefusalKind::ALL.iter().zip(&self.refused) {
            let _ = writeln!(out, "xinlian_txs_refused_total{{reason=\"{}\"}} {}", kind.as_str(), get(c));
        }
        let mut gauge = |name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge("xinlian_height", "Height of the latest committed block.", g.height);
        gauge("xinlian_mempool_txs", "Transactions waiting.", g.mempool as u64);
        gauge("xinlian_mempool_capacity", "Mempool bound.", g.mempool_capacity as u64);
        out
    }
}
