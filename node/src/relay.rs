//! Relay: transactions this node admits from its own clients go to its peers in batches, and
//! batches a peer relays are admitted here as a client's would be (chain id, replay, the
//! signature through this node's accel): a relaying node is not trusted (issue 12, point 3).
//!
//! Owns: the outbox between admission and the consensus driver. Never: the wire (the driver
//! sends and receives batches), admission's checks (`admission`).
//!
//! The outbox is bounded ([`OUTBOX_MAX`] transactions, [`OUTBOX_MAX_BYTES`] by the mempool's
//! measure): when it is full the newest transactions are not relayed, only counted; they still
//! reach the chain in this node's own proposals. It is emptied every 50 ms.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use xinlian_chain::Transaction;

use crate::mempool::footprint;
use crate::node::{lock, Node};

/// The most admitted transactions waiting to be relayed.
pub const OUTBOX_MAX: usize = 65_536;
/// The most bytes (`mempool::footprint`) waiting to be relayed.
pub const OUTBOX_MAX_BYTES: usize = 16 << 20;

/// Transactions admitted from clients and not yet relayed.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Off under solo: no peer would ever take them.
    pub(crate) enabled: bool,
    txs: Vec<Arc<Transaction>>,
    bytes: usize,
}

impl Outbox {
    /// An outbox that keeps transactions only when `enabled`.
    pub(crate) fn new(enabled: bool) -> Outbox {
        Outbox { enabled, txs: Vec::new(), bytes: 0 }
    }
}

impl Node {
    /// Queue a client's admitted transaction for the peers (dropped, counted, when full).
    pub(crate) fn queue_relay(&self, tx: Arc<Transaction>) {
        let mut outbox = lock(self.outbox());
        if !outbox.enabled {
            return;
        }
        let size = footprint(&tx);
        if outbox.txs.len() >= OUTBOX_MAX || outbox.bytes + size > OUTBOX_MAX_BYTES {
            self.metrics().relay_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        outbox.bytes += size;
        outbox.txs.push(tx);
    }

    /// Up to `max` queued transactions, oldest first, encoded for the wire.
    pub fn take_relay(&self, max: usize) -> Vec<Vec<u8>> {
        let taken: Vec<Arc<Transaction>> = {
            let mut outbox = lock(self.outbox());
            let n = outbox.txs.len().min(max);
            let taken: Vec<Arc<Transaction>> = outbox.txs.drain(..n).collect();
            outbox.bytes -= taken.iter().map(|tx| footprint(tx)).sum::<usize>();
            taken
        };
        self.metrics().relayed_out.fetch_add(taken.len() as u64, Ordering::Relaxed);
        taken.iter().map(|tx| tx.encode()).collect()
    }

    /// Admit a batch a peer relayed: each transaction decoded and checked as a client's
    /// (never queued to relay again: every member gets the batch from its admitter). The
    /// number admitted; the refusals are logged in one line.
    pub async fn admit_relayed(self: &Arc<Self>, encoded: Vec<Vec<u8>>) -> usize {
        let t0 = std::time::Instant::now();
        let total = encoded.len();
        let mut txs = Vec::with_capacity(total);
        let mut malformed = 0usize;
        for bytes in &encoded {
            match Transaction::decode(bytes) {
                Ok(tx) => txs.push(tx),
                Err(_) => malformed += 1,
            }
        }
        let answers = self.admit(txs, false).await;
        crate::metrics::add_ns(&self.metrics().relay_ns, t0);
        let admitted = answers.iter().filter(|a| a.is_ok()).count();
        self.metrics().relayed_in.fetch_add(admitted as u64, Ordering::Relaxed);
        let refused = answers.iter().filter_map(|a| a.as_ref().err()).find(|r| {
            // A peer relays what it admitted: it may race our own copy or a commit, nothing else.
            !matches!(r.kind, crate::admission::RefusalKind::Duplicate | crate::admission::RefusalKind::Replay)
        });
        if malformed > 0 || refused.is_some() {
            tracing::warn!(
                total,
                malformed,
                admitted,
                first_refusal = refused.map(|r| r.reason.as_str()).unwrap_or("-"),
                "a peer relayed transactions this node refuses"
            );
        }
        admitted
    }
}
