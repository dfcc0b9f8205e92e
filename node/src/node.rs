//! The running node: admission (decode, dedupe, batch verify through accel, mempool) and
//! block production (cut, Merkle root through accel, execute, sign, order, commit).
//!
//! Owns: the mempool, the head, the node's counters, the admission and block loops.
//! Never: HTTP (`rpc`), the storage layout (`store`), execution rules (`chain::executor`).
//!
//! Nonces and replay: a transaction's nonce is any number its sender has not used in another
//! transaction with the same content; the tx id (SM3 of the signing bytes) covers chain id,
//! nonce, sender and payload, and an id that is pending or committed is refused (`duplicate`,
//! `replay`), checked against the mempool and RocksDB's tx index (a bloom-filtered lookup).
//! We chose this over nonces that must count up (Ethereum-style) because a client firing many
//! transactions from one key without waiting, from several threads or HTTP connections, then
//! never sees a "nonce too high/low" refusal caused only by arrival order; and over
//! ChainMaker's time window because the node keeps the whole tx index anyway, so a replay is
//! refused forever, not only within a window. The account's `nonce` in `/account` counts its
//! committed transactions.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::{watch, Notify};
use xinlian_accel::config::{Accel, BackendStatus};
use xinlian_accel::{prepare, MessageBatch, PreparedVerify, Verdict, VerifyRequest};
use xinlian_kernels::sm2::DEFAULT_ID;

use crate::chain::{builder, executor, validator};
use crate::config::Config;
use crate::error::NodeError;
use crate::keys::Signer;
use crate::mempool::{Full, Mempool, RejectedLog};
use crate::ordering::{Ordering, Solo};
use crate::store::{Head, Store};
use crate::types::{BlockHeader, Hash, Transaction, TxLocation};

/// Why a transaction was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// Not a transaction (bad JSON, field, key, signature encoding).
    Malformed,
    /// Signed for another chain.
    WrongChain,
    /// The signature does not verify.
    BadSignature,
    /// The same tx id is already pending.
    Duplicate,
    /// The same tx id is already committed.
    Replay,
    /// The mempool is full: retry later.
    MempoolFull,
    /// The node is stopping.
    ShuttingDown,
}

/// A transaction not admitted, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Refusal {
    /// The tx id, when the transaction decoded far enough to have one.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "hex_opt")]
    pub id: Option<Hash>,
    /// The class of reason.
    pub kind: RefusalKind,
    /// The reason, for people (`error` in the HTTP API's JSON, as every error body there).
    #[serde(rename = "error")]
    pub reason: String,
}

fn hex_opt<S: serde::Serializer>(id: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(&hex::encode(id)),
        None => s.serialize_none(),
    }
}

/// Where a transaction stands.
#[derive(Clone, Debug)]
pub enum TxStatus {
    /// Verified, waiting for a block.
    Pending,
    /// In a committed block.
    Committed(TxLocation),
    /// Refused at admission (remembered for a while).
    Rejected(String),
    /// Never seen (or forgotten).
    Unknown,
}

/// Counters for `/metrics`, and for finding where the time goes.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    /// Transactions received by `POST /tx`.
    pub received: AtomicU64,
    /// Admitted to the mempool.
    pub admitted: AtomicU64,
    /// Refused, per [`RefusalKind`] in declaration order.
    pub refused: [AtomicU64; 7],
    /// Blocks committed since start.
    pub blocks: AtomicU64,
    /// Transactions committed since start.
    pub committed: AtomicU64,
    /// Nanoseconds in HTTP handlers of `POST /tx`, JSON decoding included.
    pub http_ns: AtomicU64,
    /// Nanoseconds decoding and checking transactions (JSON to `Transaction`).
    pub decode_ns: AtomicU64,
    /// Nanoseconds of dedupe, replay lookups and Z/e hashing before verification.
    pub prepare_ns: AtomicU64,
    /// Nanoseconds waiting for accel's verdicts.
    pub verify_ns: AtomicU64,
    /// Nanoseconds computing tx roots through accel.
    pub merkle_ns: AtomicU64,
    /// Nanoseconds executing blocks.
    pub execute_ns: AtomicU64,
    /// Nanoseconds writing blocks to RocksDB (synced).
    pub commit_ns: AtomicU64,
}

fn add_ns(c: &AtomicU64, since: Instant) {
    c.fetch_add(u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX), AtomicOrdering::Relaxed);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every value behind these locks stays consistent between statements.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// A transaction that passed screening: its slot in the request, its id, itself.
type Screened = (usize, Hash, Arc<Transaction>);
/// One answer per submitted transaction.
type Answers = Vec<Result<Hash, Refusal>>;

/// A running node.
pub struct Node {
    config: Config,
    store: Arc<Store>,
    accel: Accel,
    signer: Signer,
    ordering: Box<dyn Ordering>,
    pool: Mutex<Mempool>,
    rejected: Mutex<RejectedLog>,
    head: Mutex<Head>,
    wake: Notify,
    stopping: watch::Sender<bool>,
    metrics: NodeMetrics,
    started: Instant,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.config.node.chain_id)
    }
}

impl Node {
    /// Open the data directory (making the node key and the genesis block the first time),
    /// and start the acceleration layer. Call it inside a tokio runtime.
    pub fn open(config: Config) -> Result<Arc<Node>, NodeError> {
        config.validate()?;
        let dir = &config.node.data_dir;
        std::fs::create_dir_all(dir).map_err(|source| NodeError::Io { path: dir.display().to_string(), source })?;
        let key_path = config.key_path();
        let signer = if key_path.exists() {
            Signer::from_pem_file(&key_path)?
        } else {
            let s = Signer::generate()?;
            s.write_pem_file(&key_path)?;
            eprintln!("xinlian: made a node key: {}", key_path.display());
            s
        };
        let store = Arc::new(Store::open(dir)?);
        if let Some(id) = store.chain_id()? {
            if id != config.node.chain_id {
                return Err(NodeError::Config(format!(
                    "node.chain_id = {:?}, but {} holds chain {id:?}",
                    config.node.chain_id,
                    dir.display()
                )));
            }
        }
        let accel = config.accel.open()?;
        for w in accel.warnings() {
            eprintln!("xinlian: warning: {w}");
        }
        let head = match store.head()? {
            Some(head) => {
                let block = store.block(head.height)?.ok_or_else(|| NodeError::Corrupt("head block missing".into()))?;
                let dispatcher = accel.dispatcher().dispatcher();
                let verify =
                    |item| dispatcher.verify_batch(&[item]).pop().unwrap_or(Verdict::Malformed("no verdict".into()));
                validator::check_sealed(&block, &verify)?;
                head
            }
            None => {
                let (block, ex) = builder::genesis(&config, &signer, now_ms())?;
                let writes: Vec<_> = ex.writes.into_iter().collect();
                store.commit(&block, &[], &[], &writes, Some(&config.node.chain_id))?
            }
        };
        Ok(Arc::new(Node {
            pool: Mutex::new(Mempool::new(config.mempool.max_txs)),
            rejected: Mutex::new(RejectedLog::new(config.mempool.remember_rejected)),
            head: Mutex::new(head),
            wake: Notify::new(),
            stopping: watch::channel(false).0,
            metrics: NodeMetrics::default(),
            started: Instant::now(),
            ordering: Box::new(Solo),
            config,
            store,
            accel,
            signer,
        }))
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The acceleration layer.
    pub fn accel(&self) -> &Accel {
        &self.accel
    }

    /// The node's public key.
    pub fn public_key(&self) -> &crate::types::PublicKey {
        self.signer.public_key()
    }

    /// The latest committed block.
    pub fn head(&self) -> Head {
        *lock(&self.head)
    }

    /// The counters.
    pub fn metrics(&self) -> &NodeMetrics {
        &self.metrics
    }

    /// Mempool length and bound.
    pub fn mempool_len(&self) -> (usize, usize) {
        let pool = lock(&self.pool);
        (pool.len(), pool.capacity())
    }

    /// The ordering in use.
    pub fn ordering_name(&self) -> &'static str {
        self.ordering.name()
    }

    /// Since when the node runs.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Count a refusal (the HTTP layer refuses bodies that never become transactions).
    pub fn count_refusal(&self, kind: RefusalKind) {
        self.metrics.refused[kind as usize].fetch_add(1, AtomicOrdering::Relaxed);
    }

    /// Admit transactions: chain id, dedupe, replay, signature (batched through accel), then
    /// the mempool. One answer per transaction, in order.
    pub async fn submit(self: &Arc<Self>, txs: Vec<Transaction>) -> Vec<Result<Hash, Refusal>> {
        let n = txs.len() as u64;
        self.metrics.received.fetch_add(n, AtomicOrdering::Relaxed);
        if *self.stopping.borrow() {
            return txs
                .iter()
                .map(|tx| Err(self.refuse(Some(tx.id()), RefusalKind::ShuttingDown, "the node is stopping".into())))
                .collect();
        }
        let (pool_len, cap) = self.mempool_len();
        if pool_len >= cap {
            return txs
                .iter()
                .map(|tx| {
                    Err(self.refuse(Some(tx.id()), RefusalKind::MempoolFull, NodeError::MempoolFull(cap).to_string()))
                })
                .collect();
        }
        // Hashing (ids, Z, e) and RocksDB lookups block: off the async threads.
        let t0 = Instant::now();
        let node = Arc::clone(self);
        let screened = match tokio::task::spawn_blocking(move || node.screen(txs)).await {
            Ok(s) => s,
            Err(e) => {
                return vec![Err(self.refuse(None, RefusalKind::ShuttingDown, format!("admission task failed: {e}")))];
            }
        };
        add_ns(&self.metrics.prepare_ns, t0);
        let (answers, to_verify) = screened;
        let (slots, items): (Vec<Screened>, Vec<PreparedVerify>) = to_verify.into_iter().unzip();
        let t1 = Instant::now();
        let verdicts = self.accel.dispatcher().verify(items).await;
        add_ns(&self.metrics.verify_ns, t1);
        let mut answers = answers;
        let mut added = false;
        {
            let mut pool = lock(&self.pool);
            for ((slot, id, tx), verdict) in slots.into_iter().zip(verdicts) {
                answers[slot] = match verdict {
                    Verdict::Valid => match pool.insert(id, tx) {
                        Ok(true) => {
                            added = true;
                            Ok(id)
                        }
                        Ok(false) => Err(Refusal {
                            id: Some(id),
                            kind: RefusalKind::Duplicate,
                            reason: "duplicate: this tx id is already pending".into(),
                        }),
                        Err(Full) => Err(Refusal {
                            id: Some(id),
                            kind: RefusalKind::MempoolFull,
                            reason: NodeError::MempoolFull(pool.capacity()).to_string(),
                        }),
                    },
                    other => Err(Refusal {
                        id: Some(id),
                        kind: if matches!(other, Verdict::Malformed(_)) {
                            RefusalKind::Malformed
                        } else {
                            RefusalKind::BadSignature
                        },
                        reason: format!("signature: {other}"),
                    }),
                };
            }
        }
        let mut admitted = 0;
        for a in &answers {
            match a {
                Ok(_) => admitted += 1,
                Err(r) => {
                    self.count_refusal(r.kind);
                    if let (Some(id), RefusalKind::Malformed | RefusalKind::BadSignature | RefusalKind::WrongChain) =
                        (r.id, r.kind)
                    {
                        lock(&self.rejected).insert(id, r.reason.clone());
                    }
                }
            }
        }
        self.metrics.admitted.fetch_add(admitted, AtomicOrdering::Relaxed);
        if added {
            self.wake.notify_one();
        }
        answers
    }

    fn refuse(&self, id: Option<Hash>, kind: RefusalKind, reason: String) -> Refusal {
        self.count_refusal(kind);
        Refusal { id, kind, reason }
    }

    /// Everything before the signature check: chain id, duplicates (in the request, in the
    /// pool), replays (in the database), and preparing the check (Z from the key cache, e).
    fn screen(&self, txs: Vec<Transaction>) -> (Answers, Vec<(Screened, PreparedVerify)>) {
        let chain_id = &self.config.node.chain_id;
        let mut answers = Vec::with_capacity(txs.len());
        let mut to_verify = Vec::with_capacity(txs.len());
        let mut seen = HashSet::with_capacity(txs.len());
        for (slot, tx) in txs.into_iter().enumerate() {
            let bytes = tx.signing_bytes();
            let id = xinlian_kernels::sm3::digest(&bytes);
            let refusal = |kind, reason: String| Err(Refusal { id: Some(id), kind, reason });
            if &tx.chain_id != chain_id {
                answers.push(refusal(
                    RefusalKind::WrongChain,
                    format!("wrong chain: the tx is for {:?}, this node runs {chain_id:?}", tx.chain_id),
                ));
                continue;
            }
            if !seen.insert(id) {
                answers.push(refusal(RefusalKind::Duplicate, "duplicate: the same tx twice in this request".into()));
                continue;
            }
            if lock(&self.pool).contains(&id) {
                answers.push(refusal(RefusalKind::Duplicate, "duplicate: this tx id is already pending".into()));
                continue;
            }
            match self.store.tx_location(&id) {
                Ok(Some(loc)) => {
                    answers.push(refusal(
                        RefusalKind::Replay,
                        format!("replay: this tx id is already committed in block {}", loc.height),
                    ));
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    answers.push(refusal(RefusalKind::ShuttingDown, format!("storage: {e}")));
                    continue;
                }
            }
            let req = VerifyRequest { pubkey: &tx.sender, id: DEFAULT_ID, msg: &bytes, sig: &tx.signature };
            match prepare(&req, Some(self.accel.key_cache())) {
                Ok(item) => {
                    answers.push(Ok(id));
                    to_verify.push(((slot, id, Arc::new(tx)), item));
                }
                Err(v) => answers.push(refusal(RefusalKind::Malformed, format!("signature: {v}"))),
            }
        }
        (answers, to_verify)
    }

    /// Where a transaction stands.
    pub fn tx_status(&self, id: &Hash) -> Result<TxStatus, NodeError> {
        // Pool first: a transaction is removed from the pool only after its block is committed.
        if lock(&self.pool).contains(id) {
            return Ok(TxStatus::Pending);
        }
        if let Some(loc) = self.store.tx_location(id)? {
            return Ok(TxStatus::Committed(loc));
        }
        if let Some(reason) = lock(&self.rejected).get(id) {
            return Ok(TxStatus::Rejected(reason.to_string()));
        }
        Ok(TxStatus::Unknown)
    }

    /// Ask the block loop and admission to stop (the block in progress is finished).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
        self.wake.notify_one();
    }

    /// The block loop: cut a block `block.interval_ms` after the oldest waiting transaction
    /// arrived, or at once when `block.max_txs` wait; commit it; repeat until stopped.
    pub async fn produce_blocks(self: Arc<Self>) -> Result<(), NodeError> {
        let interval = Duration::from_millis(self.config.block.interval_ms);
        let max = self.config.block.max_txs;
        let mut stopping = self.stopping.subscribe();
        loop {
            if *stopping.borrow() {
                return Ok(());
            }
            let (len, oldest) = {
                let pool = lock(&self.pool);
                (pool.len(), pool.oldest_since())
            };
            let deadline = oldest.map(|t| t + interval);
            let due = len >= max || deadline.is_some_and(|d| Instant::now() >= d);
            if !due {
                let wait = deadline.map_or(Duration::from_secs(3600), |d| d.saturating_duration_since(Instant::now()));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.wake.notified() => {}
                    _ = stopping.changed() => {}
                }
                continue;
            }
            let batch = lock(&self.pool).front(max);
            let taken = batch.len();
            self.commit_block(batch).await?;
            lock(&self.pool).remove_front(taken);
        }
    }

    /// Build, order and commit one block from `batch`.
    async fn commit_block(self: &Arc<Self>, batch: Vec<(Hash, Arc<Transaction>)>) -> Result<(), NodeError> {
        // A tx id that reached the pool twice across a commit (screened just before its first
        // copy was committed, inserted just after it left the pool) is dropped here: a block
        // never repeats a committed or an earlier transaction.
        let node = Arc::clone(self);
        // The ids were computed at admission: carried along, not hashed again.
        let (ids, txs) = tokio::task::spawn_blocking(move || -> Result<(Vec<Hash>, Vec<Transaction>), NodeError> {
            let mut seen = HashSet::with_capacity(batch.len());
            let (mut ids, mut txs) = (Vec::with_capacity(batch.len()), Vec::with_capacity(batch.len()));
            for (id, tx) in batch {
                if seen.insert(id) && node.store.tx_location(&id)?.is_none() {
                    ids.push(id);
                    txs.push(Transaction::clone(&tx));
                }
            }
            Ok((ids, txs))
        })
        .await
        .map_err(|e| NodeError::Storage(format!("block task failed: {e}")))??;
        if txs.is_empty() {
            return Ok(());
        }
        let t0 = Instant::now();
        let mut leaves = MessageBatch::new();
        for id in &ids {
            let mut leaf = [0u8; 33];
            leaf[1..].copy_from_slice(id);
            leaves.push(&leaf);
        }
        let leaf_hashes = self.accel.dispatcher().sm3(leaves).await;
        let tx_root = self.accel.dispatcher().merkle_root(leaf_hashes).await;
        add_ns(&self.metrics.merkle_ns, t0);

        let head = self.head();
        let node = Arc::clone(self);
        let new_head = tokio::task::spawn_blocking(move || -> Result<Head, NodeError> {
            let t1 = Instant::now();
            let ex = executor::execute(node.store.as_ref(), &head.state_root, &txs)?;
            add_ns(&node.metrics.execute_ns, t1);
            let header = BlockHeader {
                height: head.height + 1,
                prev_hash: head.hash,
                tx_root,
                state_root: ex.state_root,
                timestamp_ms: now_ms().max(head.timestamp_ms),
                proposer: *node.signer.public_key(),
                tx_count: u32::try_from(txs.len()).map_err(|_| NodeError::Config("block.max_txs too large".into()))?,
            };
            let block = node.ordering.decide(builder::sign(header, &node.signer, txs))?;
            let t2 = Instant::now();
            let writes: Vec<_> = ex.writes.into_iter().collect();
            let new_head = node.store.commit(&block, &ids, &ex.receipts, &writes, None)?;
            add_ns(&node.metrics.commit_ns, t2);
            node.metrics.committed.fetch_add(block.txs.len() as u64, AtomicOrdering::Relaxed);
            Ok(new_head)
        })
        .await
        .map_err(|e| NodeError::Storage(format!("block task failed: {e}")))??;
        *lock(&self.head) = new_head;
        self.metrics.blocks.fetch_add(1, AtomicOrdering::Relaxed);
        Ok(())
    }

    /// The accel backends and how they stand.
    pub fn backends(&self) -> Vec<BackendStatus> {
        self.accel.backends()
    }

    /// Prometheus text: the node's counters, then accel's.
    pub fn render_metrics(&self) -> String {
        use std::fmt::Write as _;
        let m = &self.metrics;
        let get = |c: &AtomicU64| c.load(AtomicOrdering::Relaxed);
        let head = self.head();
        let (pool, cap) = self.mempool_len();
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter("xinlian_txs_received_total", "Transactions received by POST /tx.", get(&m.received));
        counter("xinlian_txs_admitted_total", "Transactions admitted to the mempool.", get(&m.admitted));
        counter("xinlian_txs_committed_total", "Transactions committed since start.", get(&m.committed));
        counter("xinlian_blocks_committed_total", "Blocks committed since start.", get(&m.blocks));
        let secs = [
            ("http", &m.http_ns, "POST /tx handlers, JSON decoding included"),
            ("decode", &m.decode_ns, "decoding and checking transactions"),
            ("prepare", &m.prepare_ns, "dedupe, replay lookups, Z and e hashing"),
            ("verify", &m.verify_ns, "waiting for accel's signature verdicts"),
            ("merkle", &m.merkle_ns, "tx roots through accel"),
            ("execute", &m.execute_ns, "executing blocks"),
            ("commit", &m.commit_ns, "synced RocksDB block writes"),
        ];
        let _ = writeln!(out, "# HELP xinlian_stage_seconds_total Time spent per stage.");
        let _ = writeln!(out, "# TYPE xinlian_stage_seconds_total counter");
        for (stage, c, _) in secs {
            let _ = writeln!(out, "xinlian_stage_seconds_total{{stage=\"{stage}\"}} {:.6}", get(c) as f64 / 1e9);
        }
        let _ = writeln!(out, "# HELP xinlian_txs_refused_total Transactions refused at admission, by reason.");
        let _ = writeln!(out, "# TYPE xinlian_txs_refused_total counter");
        let kinds =
            ["malformed", "wrong_chain", "bad_signature", "duplicate", "replay", "mempool_full", "shutting_down"];
        for (kind, c) in kinds.iter().zip(&m.refused) {
            let _ = writeln!(out, "xinlian_txs_refused_total{{reason=\"{kind}\"}} {}", get(c));
        }
        let _ =
            writeln!(out, "# HELP xinlian_height Height of the latest committed block.\n# TYPE xinlian_height gauge");
        let _ = writeln!(out, "xinlian_height {}", head.height);
        let _ = writeln!(out, "# HELP xinlian_mempool_txs Transactions waiting.\n# TYPE xinlian_mempool_txs gauge");
        let _ = writeln!(out, "xinlian_mempool_txs {pool}");
        let _ = writeln!(out, "# HELP xinlian_mempool_capacity Mempool bound.\n# TYPE xinlian_mempool_capacity gauge");
        let _ = writeln!(out, "xinlian_mempool_capacity {cap}");
        out.push_str(&self.accel.render_prometheus());
        out
    }
}
