//! The async API: many tasks ask at once; small requests are coalesced into device-sized
//! batches by size and deadline.
//!
//! Owns: [`AsyncDispatcher`], its batcher task, the latency budget and its adaptation.
//! Never: routing or checking (the synchronous [`Dispatcher`] does that on a blocking thread),
//! or an error to the caller: if the batcher is gone, the request runs on its own.
//!
//! Coalescing. A request of `max_batch` items or more goes straight to the dispatcher. Smaller
//! ones queue; the batcher takes the first, then keeps taking until the batch reaches
//! `max_batch` items or the latency budget since the first has passed, and runs it on a
//! blocking thread while it collects the next (at most `max_in_flight` batches at once).
//!
//! The budget adapts: half the recent service time of a coalesced batch (an EWMA), kept
//! between `min_budget` and `max_budget`. Why: while a batch is being served, waiting for more
//! requests costs the early ones little (they would queue behind it anyway), and the longer a
//! batch takes the more it pays to amortise a device's fixed cost over more items; the floor
//! keeps a quiet node from answering a lone request later than a few hundred microseconds, the
//! ceiling bounds the latency a node under load adds (default 5 ms: Agave's sigverify waits up
//! to 50 ms for a block-sized batch, our batches are per admission and much smaller).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{lock, Dispatcher};
use crate::verdict::{PreparedVerify, Verdict};
use crate::{Digest, MessageBatch};

/// Limits of the coalescing batcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatcherConfig {
    /// A coalesced batch closes at this many items; larger requests skip the queue.
    pub max_batch: usize,
    /// Shortest wait for more requests after the first of a batch.
    pub min_budget: Duration,
    /// Longest wait.
    pub max_budget: Duration,
    /// Coalesced batches served at once.
    pub max_in_flight: usize,
    /// Requests queued before callers wait to enqueue.
    pub queue: usize,
}

impl Default for BatcherConfig {
    fn default() -> BatcherConfig {
        BatcherConfig {
            max_batch: 4096,
            min_budget: Duration::from_micros(200),
            max_budget: Duration::from_millis(5),
            max_in_flight: 2,
            queue: 1024,
        }
    }
}

struct Job {
    items: Arc<Vec<PreparedVerify>>,
    reply: oneshot::Sender<Vec<Verdict>>,
}

/// The dispatcher for async callers: `verify`, `sm3`, `merkle_root` from many tasks at once.
/// Create it inside a tokio runtime (it spawns its batcher task there); dropping it stops the
/// task once the queue is drained.
pub struct AsyncDispatcher {
    inner: Arc<Dispatcher>,
    tx: mpsc::Sender<Job>,
    config: BatcherConfig,
    budget: Arc<Mutex<Duration>>,
}

impl AsyncDispatcher {
    /// Wrap `dispatcher` and start the batcher task on the current runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn new(dispatcher: Arc<Dispatcher>, config: BatcherConfig) -> AsyncDispatcher {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let budget = Arc::new(Mutex::new(config.min_budget));
        tokio::spawn(run(Arc::clone(&dispatcher), rx, config, Arc::clone(&budget)));
        AsyncDispatcher { inner: dispatcher, tx, config, budget }
    }

    /// The synchronous dispatcher underneath (metrics, health).
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.inner
    }

    /// The current latency budget of the batcher.
    pub fn latency_budget(&self) -> Duration {
        *lock(&self.budget)
    }

    /// One verdict per item, in order.
    pub async fn verify(&self, items: Vec<PreparedVerify>) -> Vec<Verdict> {
        if items.is_empty() {
            return Vec::new();
        }
        let items = Arc::new(items);
        if items.len() < self.config.max_batch {
            let (reply, answer) = oneshot::channel();
            if self.tx.send(Job { items: Arc::clone(&items), reply }).await.is_ok() {
                if let Ok(verdicts) = answer.await {
                    return verdicts;
                }
            }
            // The batcher is gone (runtime shutting down, or a panic): run it ourselves.
        }
        let inner = Arc::clone(&self.inner);
        let work = Arc::clone(&items);
        match tokio::task::spawn_blocking(move || inner.verify_batch(&work)).await {
            Ok(v) => v,
            Err(_) => self.inner.verify_batch(&items),
        }
    }

    /// SM3 of every message, in order (one request is one batch: hashing requests are
    /// block- or file-sized, not coalesced).
    pub async fn sm3(&self, msgs: MessageBatch) -> Vec<Digest> {
        let inner = Arc::clone(&self.inner);
        let msgs = Arc::new(msgs);
        let work = Arc::clone(&msgs);
        match tokio::task::spawn_blocking(move || inner.sm3_batch(&work)).await {
            Ok(d) => d,
            Err(_) => self.inner.sm3_batch(&msgs),
        }
    }

    /// The Merkle root over leaf hashes.
    pub async fn merkle_root(&self, leaves: Vec<Digest>) -> Digest {
        let inner = Arc::clone(&self.inner);
        let leaves = Arc::new(leaves);
        let work = Arc::clone(&leaves);
        match tokio::task::spawn_blocking(move || inner.merkle_root(&work)).await {
            Ok(d) => d,
            Err(_) => self.inner.merkle_root(&leaves),
        }
    }
}

/// The batcher task.
async fn run(inner: Arc<Dispatcher>, mut rx: mpsc::Receiver<Job>, config: BatcherConfig, budget: Arc<Mutex<Duration>>) {
    let slots = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
    while let Some(first) = rx.recv().await {
        let deadline = tokio::time::Instant::now() + *lock(&budget);
        let mut total = first.items.len();
        let mut jobs = vec![first];
        while total < config.max_batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(job)) => {
                    total += job.items.len();
                    jobs.push(job);
                }
                Ok(None) | Err(_) => break,
            }
        }
        // Wait for a serving slot (back-pressure: the queue fills while devices are busy).
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { break };
        let inner = Arc::clone(&inner);
        let budget = Arc::clone(&budget);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let all: Vec<PreparedVerify> = jobs.iter().flat_map(|j| j.items.iter().cloned()).collect();
            let t0 = Instant::now();
            let mut left = all.len();
            let answers = inner.verify_batch(&all);
            let took = t0.elapsed();
            {
                let mut b = lock(&budget);
                let target = (took / 2).clamp(config.min_budget, config.max_budget);
                *b = (*b * 3 + target) / 4;
            }
            let mut answers = answers.into_iter();
            for job in jobs {
                let n = job.items.len();
                left -= n;
                let mine: Vec<Verdict> = answers.by_ref().take(n).collect();
                // A caller that went away no longer wants its answer.
                let _ = job.reply.send(mine);
            }
            debug_assert_eq!(left, 0);
        });
    }
}
