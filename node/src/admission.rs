//! Admission: a submitted transaction becomes pending (in the mempool) or is refused with a
//! reason. Decode is the RPC's; this is chain id, dedupe, replay, the signature through the
//! accel dispatcher (one batch per request, coalesced with others), then the mempool.
//!
//! Owns: the refusal kinds and reasons, and the order of the cheap checks before the
//! expensive one. Never: HTTP (`rpc`), blocks (`producer`).
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
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use xinlian_accel::{prepare, PreparedVerify, Verdict, VerifyRequest};
use xinlian_chain::{Hash, Transaction};
use xinlian_kernels::sm2::DEFAULT_ID;

use crate::mempool::Full;
use crate::metrics::add_ns;
use crate::node::{lock, Node};

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
    /// The node could not check it now (its storage or an internal task failed): retry later.
    Unavailable,
}

impl RefusalKind {
    /// Every kind, in declaration order (the metrics' label order).
    pub const ALL: [RefusalKind; 8] = [
        RefusalKind::Malformed,
        RefusalKind::WrongChain,
        RefusalKind::BadSignature,
        RefusalKind::Duplicate,
        RefusalKind::Replay,
        RefusalKind::MempoolFull,
        RefusalKind::ShuttingDown,
        RefusalKind::Unavailable,
    ];

    /// The name in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::Malformed => "malformed",
            RefusalKind::WrongChain => "wrong_chain",
            RefusalKind::BadSignature => "bad_signature",
            RefusalKind::Duplicate => "duplicate",
            RefusalKind::Replay => "replay",
            RefusalKind::MempoolFull => "mempool_full",
            RefusalKind::ShuttingDown => "shutting_down",
            RefusalKind::Unavailable => "unavailable",
        }
    }
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

/// A transaction that passed screening: its slot in the request, its id, itself.
type Screened = (usize, Hash, Arc<Transaction>);
/// One answer per submitted transaction.
type Answers = Vec<Result<Hash, Refusal>>;

impl Node {
    /// Admit transactions: chain id, dedupe, replay, signature (batched through accel), then
    /// the mempool. Exactly one answer per transaction, in order, whatever fails.
    pub async fn submit(self: &Arc<Self>, txs: Vec<Transaction>) -> Vec<Result<Hash, Refusal>> {
        self.admit(txs, true).await
    }

    /// [`Node::submit`]; what is admitted is queued for the peers when `relay` (a client's
    /// transactions, not a peer's).
    pub(crate) async fn admit(self: &Arc<Self>, txs: Vec<Transaction>, relay: bool) -> Answers {
        self.metrics().received.fetch_add(txs.len() as u64, Ordering::Relaxed);
        if self.is_stopping() {
            return self.refuse_all(&txs, RefusalKind::ShuttingDown, "the node is stopping".into());
        }
        let (pool_len, cap) = self.mempool_len();
        if pool_len >= cap {
            return self.refuse_all(
                &txs,
                RefusalKind::MempoolFull,
                format!("mempool full ({cap} transactions): retry later"),
            );
        }
        // Hashing (ids, Z, e) and RocksDB lookups block: off the async threads.
        let t0 = Instant::now();
        let node = Arc::clone(self);
        let count = txs.len();
        let (answers, to_verify) = match tokio::task::spawn_blocking(move || node.screen(txs)).await {
            Ok(s) => s,
            Err(e) => {
                // The transactions went with the task: one refusal each, without an id.
                let reason = format!("admission task failed: {e}");
                tracing::error!(%reason, "admission");
                return (0..count).map(|_| Err(self.refuse(None, RefusalKind::Unavailable, reason.clone()))).collect();
            }
        };
        // A peer's relayed batch is timed whole, as `relay` (`Node::admit_relayed`).
        if relay {
            add_ns(&self.metrics().prepare_ns, t0);
        }
        let (slots, items): (Vec<Screened>, Vec<PreparedVerify>) = to_verify.into_iter().unzip();
        let t1 = Instant::now();
        let verdicts = self.accel().dispatcher().verify(items).await;
        if relay {
            add_ns(&self.metrics().verify_ns, t1);
        }
        let answers = self.pool_verified(answers, slots, verdicts, relay);
        self.count_answers(&answers);
        answers
    }

    fn refuse_all(&self, txs: &[Transaction], kind: RefusalKind, reason: String) -> Answers {
        txs.iter().map(|tx| Err(self.refuse(Some(tx.id()), kind, reason.clone()))).collect()
    }

    fn refuse(&self, id: Option<Hash>, kind: RefusalKind, reason: String) -> Refusal {
        self.metrics().count_refusal(kind);
        Refusal { id, kind, reason }
    }

    /// Put the transactions whose signatures verified into the pool; the answers of the rest.
    fn pool_verified(
        &self,
        mut answers: Answers,
        slots: Vec<Screened>,
        verdicts: Vec<Verdict>,
        relay: bool,
    ) -> Answers {
        let mut added = false;
        {
            let mut pool = lock(self.pool());
            for ((slot, id, tx), verdict) in slots.into_iter().zip(verdicts) {
                let refusal = |kind, reason: String| Err(Refusal { id: Some(id), kind, reason });
                answers[slot] = match verdict {
                    Verdict::Valid => match pool.insert(id, Arc::clone(&tx)) {
                        Ok(true) => {
                            added = true;
                            if relay {
                                self.queue_relay(tx);
                            }
                            Ok(id)
                        }
                        Ok(false) => refusal(RefusalKind::Duplicate, "duplicate: this tx id is already pending".into()),
                        Err(Full) => refusal(
                            RefusalKind::MempoolFull,
                            format!(
                                "mempool full ({} transactions, {} bytes; mempool.max_txs {}, mempool.max_bytes {}): retry later",
                                pool.len(),
                                pool.bytes(),
                                pool.capacity(),
                                pool.max_bytes()
                            ),
                        ),
                    },
                    Verdict::Malformed(_) => refusal(RefusalKind::Malformed, format!("signature: {verdict}")),
                    Verdict::Invalid(_) => refusal(RefusalKind::BadSignature, format!("signature: {verdict}")),
                };
            }
        }
        if added {
            self.wake_producer();
        }
        answers
    }

    /// Count the answers, and remember why ids were rejected for `GET /tx/{id}`.
    fn count_answers(&self, answers: &Answers) {
        let mut admitted = 0;
        for a in answers {
            match a {
                Ok(_) => admitted += 1,
                Err(r) => {
                    self.metrics().count_refusal(r.kind);
                    if let (Some(id), RefusalKind::Malformed | RefusalKind::BadSignature | RefusalKind::WrongChain) =
                        (r.id, r.kind)
                    {
                        lock(self.rejected()).insert(id, r.reason.clone());
                    }
                }
            }
        }
        self.metrics().admitted.fetch_add(admitted, Ordering::Relaxed);
    }

    /// Everything before the signature check: chain id, duplicates (in the request, in the
    /// pool), replays (in the database), and preparing the check (Z from the key cache, e).
    fn screen(&self, txs: Vec<Transaction>) -> (Answers, Vec<(Screened, PreparedVerify)>) {
        let chain_id = self.chain_id();
        let mut answers = Vec::with_capacity(txs.len());
        let mut to_verify = Vec::with_capacity(txs.len());
        let mut seen = HashSet::with_capacity(txs.len());
        for (slot, tx) in txs.into_iter().enumerate() {
            let bytes = tx.signing_bytes();
            let id = xinlian_kernels::sm3::digest(&bytes);
            let refusal = |kind, reason: String| Err(Refusal { id: Some(id), kind, reason });
            if tx.chain_id != chain_id {
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
            if lock(self.pool()).contains(&id) {
                answers.push(refusal(RefusalKind::Duplicate, "duplicate: this tx id is already pending".into()));
                continue;
            }
            match self.store().tx_location(&id) {
                Ok(Some(loc)) => {
                    answers.push(refusal(
                        RefusalKind::Replay,
                        format!("replay: this tx id is already committed in block {}", loc.height),
                    ));
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "admission: the replay lookup failed");
                    answers.push(refusal(RefusalKind::Unavailable, format!("storage: {e}: retry later")));
                    continue;
                }
            }
            let req = VerifyRequest { pubkey: &tx.sender, id: DEFAULT_ID, msg: &bytes, sig: &tx.signature };
            match prepare(&req, Some(self.accel().key_cache())) {
                Ok(item) => {
                    answers.push(Ok(id));
                    to_verify.push(((slot, id, Arc::new(tx)), item));
                }
                Err(v) => answers.push(refusal(RefusalKind::Malformed, format!("signature: {v}"))),
            }
        }
        (answers, to_verify)
    }
}
