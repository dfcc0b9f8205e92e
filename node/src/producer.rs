//! The block path, as a consensus engine drives it: propose a block from the mempool,
//! validate another node's block through this node's accel, commit a decided block.
//!
//! Owns: block timing (cut `block.interval_ms` after the oldest waiting transaction, or at
//! `block.max_txs`), building (tx root through accel, execution, signing), the peer path's
//! inputs to `xinlian_chain::check::validate` (what this node admitted or committed, and
//! accel as the verifier), and committing with the per-block log line.
//! Never: deciding (the driver's), HTTP, the storage layout.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xinlian_accel::{prepare, MessageBatch, Verdict, VerifyRequest};
use xinlian_chain::check::{self, Context, Known, SignatureCheck};
use xinlian_chain::{builder, executor, Block, BlockHeader, CommitCertificate, Execution, Hash, Reject, Transaction};
use xinlian_consensus::{App, AppError, BoxFuture};
use xinlian_kernels::sm2::DEFAULT_ID;

use crate::error::NodeError;
use crate::metrics::add_ns;
use crate::node::{lock, now_ms, Executed, Node};

/// The node as a consensus engine sees it.
pub struct NodeApp {
    node: Arc<Node>,
}

impl NodeApp {
    /// The app over `node`.
    pub fn new(node: Arc<Node>) -> NodeApp {
        NodeApp { node }
    }
}

impl App for NodeApp {
    fn height(&self) -> u64 {
        self.node.head().height
    }

    fn stopping(&self) -> BoxFuture<'_, ()> {
        let mut stop = self.node.stop_signal();
        Box::pin(async move {
            // An error means the node is gone: stopping too.
            let _ = stop.wait_for(|s| *s).await;
        })
    }

    fn wait_for_work(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.node.wait_for_work())
    }

    fn propose(&self, height: u64, allow_empty: bool) -> BoxFuture<'_, Result<Option<Block>, AppError>> {
        let node = Arc::clone(&self.node);
        Box::pin(async move { node.propose(height, allow_empty).await.map_err(AppError::from) })
    }

    fn validate<'a>(&'a self, block: &'a Block) -> BoxFuture<'a, Result<Execution, Reject>> {
        let node = Arc::clone(&self.node);
        Box::pin(async move { node.validate(block.clone()).await })
    }

    fn commit(&self, block: Block, certificate: CommitCertificate) -> BoxFuture<'_, Result<(), AppError>> {
        let node = Arc::clone(&self.node);
        Box::pin(async move { node.commit(block, certificate).await.map_err(AppError::from) })
    }

    fn take_relay(&self, max: usize) -> Vec<Vec<u8>> {
        self.node.take_relay(max)
    }

    fn admit_relayed(&self, txs: Vec<Vec<u8>>) -> BoxFuture<'_, usize> {
        let node = Arc::clone(&self.node);
        Box::pin(async move { node.admit_relayed(txs).await })
    }

    fn decided(&self, height: u64) -> BoxFuture<'_, Result<Option<(Block, CommitCertificate)>, AppError>> {
        let node = Arc::clone(&self.node);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || -> Result<_, NodeError> {
                if height == 0 || height > node.head().height {
                    return Ok(None);
                }
                let block = node.store().block(height)?;
                let cert = node.store().certificate(height)?;
                Ok(block.zip(cert))
            })
            .await
            .map_err(|e| AppError::from(NodeError::task("block read", e)))?
            .map_err(AppError::from)
        })
    }
}

impl Node {
    /// Wait until a block is due: `block.max_txs` wait, or the oldest has waited
    /// `block.interval_ms`. Once the node is stopping, a block is due at once while admitted
    /// transactions remain (until the drain deadline); then `false`.
    pub async fn wait_for_work(&self) -> bool {
        let interval = Duration::from_millis(self.config().block.interval_ms);
        let max = self.config().block.max_txs;
        let mut stopping = self.stop_signal();
        loop {
            if *stopping.borrow() {
                return self.draining();
            }
            let (len, oldest) = {
                let pool = lock(self.pool());
                (pool.len(), pool.oldest_since())
            };
            let deadline = oldest.map(|t| t + interval);
            if len >= max || deadline.is_some_and(|d| Instant::now() >= d) {
                return true;
            }
            let wait = deadline.map_or(Duration::from_secs(3600), |d| d.saturating_duration_since(Instant::now()));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.woken() => {}
                _ = stopping.changed() => {}
            }
        }
    }

    /// A block at `height` from the oldest waiting transactions (at most `block.max_txs` and
    /// `block.max_bytes`),
    /// executed and signed; kept executed until its commit. `None` when none is left to
    /// include and `allow_empty` is false (ids that reached the pool again after their first
    /// copy was committed are dropped from the pool here).
    pub async fn propose(self: &Arc<Self>, height: u64, allow_empty: bool) -> Result<Option<Block>, NodeError> {
        let t0 = Instant::now();
        let head = self.head();
        if height != head.height + 1 {
            return Err(NodeError::Block { height, reason: format!("cannot propose on a head at {}", head.height) });
        }
        let block_cfg = &self.config().block;
        let batch = lock(self.pool()).front(block_cfg.max_txs, block_cfg.max_bytes);
        let node = Arc::clone(self);
        let (ids, txs, stale) =
            tokio::task::spawn_blocking(move || node.fresh(batch)).await.map_err(|e| NodeError::task("block", e))??;
        if !stale.is_empty() {
            lock(self.pool()).remove_committed(&stale);
        }
        if txs.is_empty() && !allow_empty {
            return Ok(None);
        }
        let tx_root = self.tx_root(&ids).await;
        let node = Arc::clone(self);
        let (block, execution) = tokio::task::spawn_blocking(move || -> Result<(Block, Execution), NodeError> {
            let t1 = Instant::now();
            let ex = executor::execute(node.store(), &head.state_root, &txs)?;
            add_ns(&node.metrics().execute_ns, t1);
            let header = BlockHeader {
                height,
                prev_hash: head.hash,
                tx_root,
                state_root: ex.state_root,
                timestamp_ms: now_ms().max(head.timestamp_ms),
                proposer: *node.public_key(),
                tx_count: u32::try_from(txs.len())
                    .map_err(|_| NodeError::config("block.max_txs", "more than 2^32 transactions"))?,
            };
            Ok((builder::try_sign(header, node.signer(), txs)?, ex))
        })
        .await
        .map_err(|e| NodeError::task("block", e))??;
        let executed = Executed { ids, execution, height, took: t0.elapsed() };
        lock(self.executed()).insert(block.hash(), executed);
        Ok(Some(block))
    }

    /// Of a batch from the pool: the ids and transactions to include, and the stale ids (a
    /// second copy in the batch, or already committed) to drop from the pool.
    #[allow(clippy::type_complexity, reason = "three parallel lists, named at the call")]
    fn fresh(
        &self,
        batch: Vec<(Hash, Arc<Transaction>)>,
    ) -> Result<(Vec<Hash>, Vec<Transaction>, Vec<Hash>), NodeError> {
        let mut seen = HashSet::with_capacity(batch.len());
        let (mut ids, mut txs, mut stale) =
            (Vec::with_capacity(batch.len()), Vec::with_capacity(batch.len()), Vec::new());
        for (id, tx) in batch {
            if seen.insert(id) && self.store().tx_location(&id)?.is_none() {
                ids.push(id);
                txs.push(Transaction::clone(&tx));
            } else {
                stale.push(id);
            }
        }
        Ok((ids, txs, stale))
    }

    /// The tx root through accel: SM3 leaves, then the Merkle root.
    async fn tx_root(&self, ids: &[Hash]) -> Hash {
        let t0 = Instant::now();
        let mut leaves = MessageBatch::new();
        for id in ids {
            let mut leaf = [0u8; 33];
            leaf[1..].copy_from_slice(id);
            leaves.push(&leaf);
        }
        let leaf_hashes = self.accel().dispatcher().sm3(leaves).await;
        let root = self.accel().dispatcher().merkle_root(leaf_hashes).await;
        add_ns(&self.metrics().merkle_ns, t0);
        root
    }

    /// The peer path (`xinlian_chain::check::validate`): the signatures this node has not
    /// verified go through accel in one batch. A refused block is logged with its reason.
    pub async fn validate(self: &Arc<Self>, block: Block) -> Result<Execution, Reject> {
        let t0 = Instant::now();
        let node = Arc::clone(self);
        let outcome = tokio::task::spawn_blocking(move || {
            let result = node.validate_blocking(&block);
            (block, result)
        })
        .await;
        add_ns(&self.metrics().validate_ns, t0);
        let (block, result) = match outcome {
            Ok(r) => r,
            Err(e) => return Err(Reject { tx: None, reason: format!("this node could not check the block: {e}") }),
        };
        match result {
            Ok((ids, execution)) => {
                let executed =
                    Executed { ids, execution: execution.clone(), height: block.header.height, took: t0.elapsed() };
                lock(self.executed()).insert(block.hash(), executed);
                Ok(execution)
            }
            Err(reject) => {
                self.metrics().blocks_refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    height = block.header.height,
                    proposer = %hex::encode(&block.header.proposer[1..9]),
                    reason = %reject,
                    "refused a block"
                );
                Err(reject)
            }
        }
    }

    fn validate_blocking(&self, block: &Block) -> Result<(Vec<Hash>, Execution), Reject> {
        let head = self.head();
        let parent = check::Parent {
            height: head.height,
            hash: head.hash,
            state_root: head.state_root,
            timestamp_ms: head.timestamp_ms,
        };
        let cx = Context {
            chain_id: self.chain_id(),
            parent,
            validators: self.validators(),
            now_ms: now_ms(),
            max_future_ms: self.config().block.max_future_ms,
        };
        let known = |id: &Hash| -> Known {
            if let Some(tx) = lock(self.pool()).get(id) {
                return Known::Admitted(tx.signature);
            }
            match self.store().tx_location(id) {
                Ok(Some(loc)) => Known::Committed(loc.height),
                // A failed lookup is not a verdict: verify the signature; the commit's own
                // write then finds the id if it was a replay.
                Ok(None) | Err(_) => Known::Unknown,
            }
        };
        let mut verify = |checks: Vec<SignatureCheck>| self.verify_checks(checks);
        check::validate_with_ids(block, &cx, &known, &mut verify, self.store())
    }

    /// Verify signatures through accel's dispatcher (the whole batch at once).
    pub(crate) fn verify_checks(&self, checks: Vec<SignatureCheck>) -> Vec<Result<(), String>> {
        let mut out: Vec<Result<(), String>> = vec![Ok(()); checks.len()];
        let mut items = Vec::with_capacity(checks.len());
        let mut slots = Vec::with_capacity(checks.len());
        for (i, c) in checks.iter().enumerate() {
            let req = VerifyRequest { pubkey: &c.pubkey, id: DEFAULT_ID, msg: &c.msg, sig: &c.sig };
            match prepare(&req, Some(self.accel().key_cache())) {
                Ok(item) => {
                    items.push(item);
                    slots.push(i);
                }
                Err(v) => out[i] = Err(v.to_string()),
            }
        }
        let verdicts = self.accel().dispatcher().dispatcher().verify_batch(&items);
        for (slot, v) in slots.into_iter().zip(verdicts) {
            if v != Verdict::Valid {
                out[slot] = Err(v.to_string());
            }
        }
        out
    }

    /// Store a decided block and its certificate in one synced batch, move the head, and drop
    /// its transactions from the mempool. A block this node neither built nor validated is
    /// validated first.
    pub async fn commit(self: &Arc<Self>, block: Block, certificate: CommitCertificate) -> Result<(), NodeError> {
        let hash = block.hash();
        let height = block.header.height;
        let cached = lock(self.executed()).remove(&hash);
        let executed = match cached {
            Some(e) => e,
            None => {
                // Validation leaves the executed block in the cache, ids and all: take it.
                self.validate(block.clone())
                    .await
                    .map_err(|r| NodeError::Block { height, reason: format!("decided but invalid here: {r}") })?;
                lock(self.executed()).remove(&hash).ok_or_else(|| NodeError::Block {
                    height,
                    reason: "validated, but its execution is gone from the cache".into(),
                })?
            }
        };
        let head = self.head();
        if height != head.height + 1 || block.header.prev_hash != head.hash {
            return Err(NodeError::Block { height, reason: format!("does not follow the head at {}", head.height) });
        }
        let build_took = executed.took;
        let t0 = Instant::now();
        let node = Arc::clone(self);
        let count = block.txs.len();
        let (new_head, ids) = tokio::task::spawn_blocking(move || -> Result<_, NodeError> {
            let Executed { ids, execution, .. } = executed;
            let writes: Vec<_> = execution.writes.into_iter().collect();
            let head = node.store().commit(&block, &ids, &execution.receipts, &writes, Some(&certificate), None)?;
            Ok((head, ids))
        })
        .await
        .map_err(|e| NodeError::task("commit", e))??;
        let commit_took = t0.elapsed();
        add_ns(&self.metrics().commit_ns, t0);
        self.set_head(new_head);
        lock(self.pool()).remove_committed(&ids);
        lock(self.executed()).retain(|_, e| e.height > height);
        self.metrics().committed.fetch_add(count as u64, Ordering::Relaxed);
        self.metrics().blocks.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            height,
            txs = count,
            hash = %hex::encode(&new_head.hash[..8]),
            build_ms = build_took.as_secs_f64() * 1e3,
            commit_ms = commit_took.as_secs_f64() * 1e3,
            accel = %self.accel_shares(),
            "committed block"
        );
        Ok(())
    }

    /// Each backend's share of the items verified since start, e.g. `cpu 78%, card 22%`.
    fn accel_shares(&self) -> String {
        let backends = self.backends();
        let total: u64 = backends.iter().map(|b| b.items).sum();
        if total == 0 {
            return "none yet".into();
        }
        let parts: Vec<String> = backends
            .iter()
            .filter(|b| b.items > 0)
            .map(|b| format!("{} {:.0}%", b.name, b.items as f64 * 100.0 / total as f64))
            .collect();
        parts.join(", ")
    }
}
