//! The mempool: verified transactions waiting for a block, bounded, in arrival order; and a
//! bounded memory of rejected tx ids for `GET /tx/{id}`.

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
    oldest_since: Option<Instant>,
}

/// The pool is at capacity.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

impl Mempool {
    /// An empty pool holding at most `capacity` transactions.
    pub fn new(capacity: usize) -> Mempool {
        Mempool { queue: VecDeque::new(), ids: HashMap::new(), capacity: capacity.max(1), oldest_since: None }
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
        if self.queue.len() >= self.capacity {
            return Err(Full);
        }
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

    /// The first `n` transactions, left in place.
    pub fn front(&self, n: usize) -> Vec<(Hash, Arc<Transaction>)> {
        self.queue.iter().take(n).cloned().collect()
    }

    /// Drop the transactions of a committed block, wherever they are in the queue; ids that
    /// are not here (admitted elsewhere) are ignored. Returns how many left.
    pub fn remove_committed(&mut self, committed: &[Hash]) -> usize {
        let before = self.queue.len();
        let mut gone: HashSet<Hash> = HashSet::with_capacity(committed.len());
        for id in committed {
            if self.ids.remove(id).is_some() {
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

    /// Remember why `id` was rejected.
    pub fn insert(&mut self, id: Hash, reason: String) {
        if self.capacity == 0 {
            return;
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
        let mut pool = Mempool::new(2);
        let (a, ta) = tx(1);
        let (b, tb) = tx(2);
        let (c, tc) = tx(3);
        assert_eq!(pool.insert(a, ta.clone()), Ok(true));
        assert_eq!(pool.insert(a, ta), Ok(false));
        assert_eq!(pool.insert(b, tb), Ok(true));
        assert_eq!(pool.insert(c, tc.clone()), Err(Full));
        assert_eq!(pool.front(5).iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(pool.remove_committed(&[a]), 1);
        assert!(!pool.contains(&a) && pool.contains(&b));
        assert_eq!(pool.insert(c, tc), Ok(true));
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn a_block_from_elsewhere_removes_by_id_not_by_position() {
        let mut pool = Mempool::new(10);
        let txs: Vec<_> = (1..=5).map(tx).collect();
        for (id, t) in &txs {
            pool.insert(*id, Arc::clone(t)).unwrap();
        }
        // Another node's block holds the 2nd and 4th, and one this pool never saw.
        let (unseen, _) = tx(99);
        assert_eq!(pool.remove_committed(&[txs[3].0, unseen, txs[1].0]), 2);
        let left: Vec<Hash> = pool.front(10).iter().map(|(id, _)| *id).collect();
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
}
