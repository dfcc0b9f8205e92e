//! The running node: its parts and their state, shared by admission (`admission`), the block
//! path driven by consensus (`producer`), the HTTP API (`rpc`) and the server (`server`).
//!
//! Owns: the mempool, the head, the rejected-id log, the cache of executed proposals, the
//! stop signal and the counters. Never: HTTP, the storage layout, execution rules, or when a
//! block is decided (the consensus driver calls `producer`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{watch, Notify};
use xinlian_accel::config::{Accel, BackendStatus};
use xinlian_chain::{BlockSigner, Execution, Genesis, Hash, PublicKey, TxLocation};
use xinlian_consensus::Driver;

use crate::config::Config;
use crate::error::NodeError;
use crate::mempool::{Mempool, RejectedLog};
use crate::metrics::{Gauges, NodeMetrics};
use crate::relay::Outbox;
use crate::store::{Head, Store};

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

/// A block this node built or validated, executed, waiting for its commit.
#[derive(Debug)]
pub(crate) struct Executed {
    /// The transactions' ids, in block order.
    pub(crate) ids: Vec<Hash>,
    /// What executing it gave.
    pub(crate) execution: Execution,
    /// Its height (the cache is cleared up to each committed height).
    pub(crate) height: u64,
    /// How long building or validating it took.
    pub(crate) took: Duration,
}

/// Lock a mutex; every value behind the node's locks stays consistent between statements,
/// so a panic elsewhere never leaves one half-changed.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// The parts a node is made of ([`crate::builder::NodeBuilder`] assembles them).
pub(crate) struct Parts {
    pub(crate) config: Config,
    pub(crate) genesis: Genesis,
    pub(crate) validators: Vec<PublicKey>,
    pub(crate) store: Arc<Store>,
    pub(crate) accel: Accel,
    pub(crate) signer: Arc<dyn BlockSigner>,
    pub(crate) head: Head,
    pub(crate) driver: Box<dyn Driver>,
    pub(crate) consensus: xinlian_consensus::Shared,
}

/// A running node.
pub struct Node {
    config: Config,
    genesis: Genesis,
    validators: Vec<PublicKey>,
    store: Arc<Store>,
    accel: Accel,
    signer: Arc<dyn BlockSigner>,
    consensus: xinlian_consensus::Shared,
    pool: Mutex<Mempool>,
    outbox: Mutex<Outbox>,
    rejected: Mutex<RejectedLog>,
    head: Mutex<Head>,
    executed: Mutex<HashMap<Hash, Executed>>,
    wake: Notify,
    stopping: watch::Sender<bool>,
    drain_until: Mutex<Option<Instant>>,
    metrics: NodeMetrics,
    started: Instant,
    driver_name: &'static str,
    driver: Mutex<Option<Box<dyn Driver>>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({}, {})", self.genesis.chain_id, hex::encode(&self.signer.public_key()[1..9]))
    }
}

impl Node {
    pub(crate) fn from_parts(p: Parts) -> Arc<Node> {
        Arc::new(Node {
            pool: Mutex::new(Mempool::new(p.config.mempool.max_txs, p.config.mempool.max_bytes)),
            // Relay only where there are peers to take the transactions.
            outbox: Mutex::new(Outbox::new(p.driver.name() == "bft")),
            rejected: Mutex::new(RejectedLog::new(p.config.mempool.remember_rejected)),
            head: Mutex::new(p.head),
            executed: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            stopping: watch::channel(false).0,
            drain_until: Mutex::new(None),
            metrics: NodeMetrics::default(),
            started: Instant::now(),
            driver_name: p.driver.name(),
            driver: Mutex::new(Some(p.driver)),
            config: p.config,
            genesis: p.genesis,
            validators: p.validators,
            store: p.store,
            accel: p.accel,
            signer: p.signer,
            consensus: p.consensus,
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The chain's genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The chain id (the genesis file's).
    pub fn chain_id(&self) -> &str {
        &self.genesis.chain_id
    }

    /// The validators' keys, in genesis order.
    pub fn validators(&self) -> &[PublicKey] {
        &self.validators
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The acceleration layer.
    pub fn accel(&self) -> &Accel {
        &self.accel
    }

    pub(crate) fn signer(&self) -> &dyn BlockSigner {
        self.signer.as_ref()
    }

    /// The node's public key.
    pub fn public_key(&self) -> &PublicKey {
        self.signer.public_key()
    }

    /// The latest committed block.
    pub fn head(&self) -> Head {
        *lock(&self.head)
    }

    pub(crate) fn set_head(&self, head: Head) {
        *lock(&self.head) = head;
    }

    /// The counters.
    pub fn metrics(&self) -> &NodeMetrics {
        &self.metrics
    }

    pub(crate) fn pool(&self) -> &Mutex<Mempool> {
        &self.pool
    }

    pub(crate) fn outbox(&self) -> &Mutex<Outbox> {
        &self.outbox
    }

    pub(crate) fn rejected(&self) -> &Mutex<RejectedLog> {
        &self.rejected
    }

    pub(crate) fn executed(&self) -> &Mutex<HashMap<Hash, Executed>> {
        &self.executed
    }

    /// Mempool length and bound.
    pub fn mempool_len(&self) -> (usize, usize) {
        let pool = lock(&self.pool);
        (pool.len(), pool.capacity())
    }

    /// What the consensus driver reports (round, proposer, peers); empty under solo.
    pub fn consensus_status(&self) -> xinlian_consensus::ConsensusStatus {
        self.consensus.snapshot()
    }

    /// The consensus driver's name (`solo`, ...).
    pub fn ordering_name(&self) -> &'static str {
        self.driver_name
    }

    /// Since when the node runs.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
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

    /// Ask the node to stop: admission refuses new transactions from now on, and the driver
    /// goes on committing what was admitted, in as many blocks as it takes, for at most
    /// `block.drain_on_stop_ms`; then it ends.
    pub fn stop(&self) {
        let deadline = Instant::now() + Duration::from_millis(self.config.block.drain_on_stop_ms);
        lock(&self.drain_until).get_or_insert(deadline);
        self.stopping.send_replace(true);
        self.wake.notify_one();
    }

    /// While stopping: whether admitted transactions are still to be committed before the
    /// drain deadline.
    pub(crate) fn draining(&self) -> bool {
        let until = *lock(&self.drain_until);
        let left = lock(&self.pool).len();
        if left > 0 && until.is_some_and(|u| Instant::now() >= u) {
            tracing::warn!(left, "stop: the drain time is over; admitted transactions not committed are dropped");
        }
        left > 0 && until.is_some_and(|u| Instant::now() < u)
    }

    /// Whether [`Node::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    pub(crate) fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    pub(crate) fn wake_producer(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// Run the consensus driver the node was built with until the node stops or a commit
    /// fails. Once per node: a second call finds no driver.
    pub async fn run_consensus(self: &Arc<Self>) -> Result<(), NodeError> {
        let driver =
            lock(&self.driver).take().ok_or_else(|| NodeError::config("consensus", "the driver is already running"))?;
        let app = Arc::new(crate::producer::NodeApp::new(Arc::clone(self)));
        driver.run(app).await?;
        Ok(())
    }

    /// The accel backends and how they stand.
    pub fn backends(&self) -> Vec<BackendStatus> {
        self.accel.backends()
    }

    /// Prometheus text: the node's counters, then accel's.
    pub fn render_metrics(&self) -> String {
        let (mempool, mempool_capacity) = self.mempool_len();
        let mut out = self.metrics.render(&Gauges { height: self.head().height, mempool, mempool_capacity });
        out.push_str(&self.accel.render_prometheus());
        out
    }
}
