//! The mempool: verified transactions waiting for a block, bounded in count and in bytes, in
//! arrival order; and a bounded memory of rejected tx ids for `GET /tx/{id}`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use xinlian_chain::{Hash, Transaction};

/// Verified transactions in arrival order. They leave only when a block holding them is
/// committed ([`Mempool::remove_committed`], by id: the block may have come from another
/// node), so a transaction is never out of both the pool and the database.
#[derive(Debug)]
pub struct Mempool {
    queue: VecDeque<(Hash, Arc<Transaction>)>,
    ids: HashMap<Hash, Arc<Transaction>>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    oldest_since: Option<Instant>,
}

/// Bytes one waiting transaction holds: the transaction with its key and value, its place in
/// the queue and in the id map (an upper estimate: what the memory bound counts).
pub fn footprint(tx: &Transaction) -> usize {
    let payload = match &tx.payload {
        xinlian_chain::Payload::Put { key, value } => key.len() + value.len(),
        _ => 0,
    };
    const FIXED: usize = std::mem::size_of::<Transaction>() + 2 * (32 + 8) + 64;
    FIXED + tx.chain_id.len() + payload
}

/// The pool is at capacity.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

impl Mempool {
    /// An empty pool holding at most `capacity` transactions and `max_bytes` of them (as
    /// [`footprint`] counts).
    pub fn new(capacity: usize, max_bytes: usize) -> Mempool {
        Mempool {
            queue: VecDeque::new(),
            ids: HashMap::new(),
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
            oldest_since: None,
        }
    }

    /// The bound in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Bytes the waiting transactions hold, as [`footprint`] counts.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether `id` waits here.
    pub fn contains(&self, id: &Hash) -> bool {
        self.ids.contains_key(id)
    }

    /// The transaction admitted under `id`, if it waits here.
    pub fn get(&self, id: &Hash) -> Option<&Arc<Transaction>> {
        self.ids.get(id)
    }

    /// Add a verified transaction. `Ok(false)` when it is already here.
    pub fn insert(&mut self, id: Hash, tx: Arc<Transaction>) -> Result<bool, Full> {
        if self.ids.contains_key(&id) {
            return Ok(false);
        }
        let size = footprint(&tx);
        if self.queue.len() >= self.capacity || self.bytes + size > self.max_bytes {
            return Err(Full);
        }
        self.bytes += size;
        if self.queue.is_empty() {
            self.oldest_since = Some(Instant::now());
        }
        self.ids.insert(id, Arc::clone(&tx));
        self.queue.push_back((id, tx));
        Ok(true)
    }

    /// Since when the oldest waiting transaction (or the rest after the last block) waits.
    pub fn oldest_since(&self) -> Option<Instant> {
        self.oldest_since
    }

    /// The first transactions, at most `n` of them and `max_bytes` as [`footprint`] counts
    /// (but always the first one), left in place.
    pub fn front(&self, n: usize, max_bytes: usize) -> Vec<(Hash, Arc<Transaction>)> {
        let mut bytes = 0;
        let mut out = Vec::new();
        for (id, tx) in self.queue.iter().take(n) {
            bytes += footprint(tx);
            if bytes > max_bytes && !out.is_empty() {
                break;
            }
            out.push((*id, Arc::clone(tx)));
        }
        out
    }

    /// Drop the transactions of a committed block, wherever they are in the queue; ids that
    /// are not here (admitted elsewhere) are ignored. Returns how many left.
    pub fn remove_committed(&mut self, committed: &[Hash]) -> usize {
        let before = self.queue.len();
        let mut gone: HashSet<Hash> = HashSet::with_capacity(committed.len());
        for id in committed {
            if let Some(tx) = self.ids.remove(id) {
                self.bytes -= footprint(&tx);
                gone.insert(*id);
            }
        }
        if !gone.is_empty() {
            self.queue.retain(|(id, _)| !gone.contains(id));
            // What is left has waited since now, as far as the next block's deadline goes.
            self.oldest_since = if self.queue.is_empty() { None } else { Some(Instant::now()) };
        }
        before - self.queue.len()
    }
}

/// Recently rejected tx ids and why, the oldest forgotten first.
#[derive(Debug)]
pub struct RejectedLog {
    order: VecDeque<Hash>,
    reasons: HashMap<Hash, String>,
    capacity: usize,
}

impl RejectedLog {
    /// Remember at most `capacity` ids.
    pub fn new(capacity: usize) -> RejectedLog {
        RejectedLog { order: VecDeque::new(), reasons: HashMap::new(), capacity }
    }

    /// Longest reason kept, in bytes: with it, the log's memory is bounded by its capacity.
    pub const MAX_REASON: usize = 240;

    /// Remember why `id` was rejected (the reason cut to [`RejectedLog::MAX_REASON`] bytes).
    pub fn insert(&mut self, id: Hash, mut reason: String) {
        if self.capacity == 0 {
            return;
        }
        if reason.len() > Self::MAX_REASON {
            let mut end = Self::MAX_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        if self.reasons.insert(id, reason).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.reasons.remove(&old);
            }
        }
    }

    /// Why `id` was rejected, if remembered.
    pub fn get(&self, id: &Hash) -> Option<&str> {
        self.reasons.get(id).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xinlian_chain::Payload;

    fn tx(n: u64) -> (Hash, Arc<Transaction>) {
        let t = Transaction {
            chain_id: "t".into(),
            nonce: n,
            sender: [4; 65],
            payload: Payload::Put { key: vec![1], value: vec![] },
            signature: [0; 64],
        };
        (t.id(), Arc::new(t))
    }

    #[test]
    fn bounded_ordered_and_deduplicated() {
        let mut pool = Mempool::new(2, usize::MAX);
        let (a, ta) = tx(1);
        let (b, tb) = tx(2);
        let (c, tc) = tx(3);
        assert_eq!(pool.insert(a, ta.clone()), Ok(true));
        assert_eq!(pool.insert(a, ta), Ok(false));
        assert_eq!(pool.insert(b, tb), Ok(true));
        assert_eq!(pool.insert(c, tc.clone()), Err(Full));
        assert_eq!(pool.front(5, usize::MAX).iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(pool.remove_committed(&[a]), 1);
        assert!(!pool.contains(&a) && pool.contains(&b));
        assert_eq!(pool.insert(c, tc), Ok(true));
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn a_block_from_elsewhere_removes_by_id_not_by_position() {
        let mut pool = Mempool::new(10, usize::MAX);
        let txs: Vec<_> = (1..=5).map(tx).collect();
        for (id, t) in &txs {
            pool.insert(*id, Arc::clone(t)).unwrap();
        }
        // Another node's block holds the 2nd and 4th, and one this pool never saw.
        let (unseen, _) = tx(99);
        assert_eq!(pool.remove_committed(&[txs[3].0, unseen, txs[1].0]), 2);
        let left: Vec<Hash> = pool.front(10, usize::MAX).iter().map(|(id, _)| *id).collect();
        assert_eq!(left, vec![txs[0].0, txs[2].0, txs[4].0]);
        assert!(pool.get(&txs[1].0).is_none() && pool.get(&txs[2].0).is_some());
        assert_eq!(pool.remove_committed(&[]), 0);
    }

    #[test]
    fn rejected_log_forgets_the_oldest() {
        let mut log = RejectedLog::new(2);
        log.insert([1; 32], "one".into());
        log.insert([2; 32], "two".into());
        log.insert([3; 32], "three".into());
        assert_eq!(log.get(&[1; 32]), None);
        assert_eq!(log.get(&[3; 32]), Some("three"));
    }

    #[test]
    fn the_byte_bound_refuses_what_does_not_fit_and_frees_what_is_committed() {
        let txs: Vec<_> = (1..=3).map(tx).collect();
        let each = footprint(&txs[0].1);
        let mut pool = Mempool::new(100, 2 * each);
        pool.insert(txs[0].0, Arc::clone(&txs[0].1)).unwrap();
        pool.insert(txs[1].0, Arc::clone(&txs[1].1)).unwrap();
        assert_eq!(pool.bytes(), 2 * each);
        assert_eq!(pool.insert(txs[2].0, Arc::clone(&txs[2].1)), Err(Full));
        assert_eq!(pool.front(10, each + 1).len(), 1, "a second one would pass the byte cap");
        assert_eq!(pool.front(10, 1).len(), 1, "the first one always goes");
        pool.remove_committed(&[txs[0].0]);
        assert_eq!(pool.bytes(), each);
        assert_eq!(pool.insert(txs[2].0, Arc::clone(&txs[2].1)), Ok(true));
    }

    #[test]
    fn rejected_reasons_are_cut_to_the_bound_on_a_char_boundary() {
        let mut log = RejectedLog::new(1);
        log.insert([1; 32], "é".repeat(RejectedLog::MAX_REASON));
        let kept = log.get(&[1; 32]).unwrap();
        assert!(kept.len() <= RejectedLog::MAX_REASON && kept.len() >= RejectedLog::MAX_REASON - 1, "{}", kept.len());
        assert!(kept.chars().all(|c| c == 'é'));
    }
}
