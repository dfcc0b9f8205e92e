//! Block checks: what a block must pass before a node takes it as the next block. The peer
//! path (a block proposed by another node) and the start-up check of the stored head.
//!
//! Owns: the rules (link, proposer, tx count and root, chain id, duplicates, replays,
//! signatures, re-execution to the same state root) and the reason a block is refused.
//! Never: verifying a signature itself. The caller passes a verifier (the node passes its
//! accel dispatcher), and says which transactions it already admitted and which are committed,
//! so that a block of transactions this node has seen costs no signature check at all.

use std::collections::HashSet;

use crate::builder::tx_root_of_ids;
use crate::executor::{execute, Execution};
use crate::state::StateView;
use crate::types::{Block, Hash, PublicKey};

/// Why a block was refused: the transaction it concerns (index in the block and id), if any,
/// and the reason for people and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// The transaction at fault: its index in the block and its id.
    pub tx: Option<(usize, Hash)>,
    /// What is wrong.
    pub reason: String,
}

impl Reject {
    fn block(reason: String) -> Reject {
        Reject { tx: None, reason }
    }

    fn tx(index: usize, id: Hash, reason: String) -> Reject {
        Reject { tx: Some((index, id)), reason }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.tx {
            Some((i, id)) => write!(f, "tx {i} ({}): {}", hex::encode(id), self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// The committed block a new block must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parent {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: Hash,
    /// The state root after it.
    pub state_root: Hash,
    /// Its timestamp.
    pub timestamp_ms: u64,
}

/// A signature the caller verifies: SM2 with the default ID over `msg` by `pubkey`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The signer's public key.
    pub pubkey: PublicKey,
    /// The signed bytes (Z and e are the verifier's to compute).
    pub msg: Vec<u8>,
    /// Raw r ‖ s.
    pub sig: [u8; 64],
}

/// What this node knows of a transaction id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// Never seen: its signature must be verified.
    Unknown,
    /// Admitted here with this signature (verified at admission). A block carrying the same
    /// id with another signature is verified again: the id does not cover the signature.
    Admitted([u8; 64]),
    /// Already committed at this height: a replay.
    Committed(u64),
}

/// What the peer path checks a block against.
pub struct Context<'a> {
    /// The chain id every transaction must carry.
    pub chain_id: &'a str,
    /// The block it must follow.
    pub parent: Parent,
    /// Who may propose (empty: anyone; the node's own one-validator chain passes its set).
    pub validators: &'a [PublicKey],
    /// Now, and how far ahead of it a block's timestamp may be.
    pub now_ms: u64,
    /// The allowed clock skew, in milliseconds.
    pub max_future_ms: u64,
}

/// The signature verifier: one verdict per check, in order; `Err` carries the reason.
pub type Verifier<'a> = dyn FnMut(Vec<SignatureCheck>) -> Vec<Result<(), String>> + 'a;

/// `block` follows `parent`: height, prev hash, and a timestamp not before the parent's nor
/// more than `max_future_ms` after `now_ms`.
pub fn check_link(block: &Block, parent: &Parent, now_ms: u64, max_future_ms: u64) -> Result<(), Reject> {
    let h = &block.header;
    if h.height != parent.height + 1 {
        return Err(Reject::block(format!("height {} does not follow the head at {}", h.height, parent.height)));
    }
    if h.prev_hash != parent.hash {
        return Err(Reject::block(format!("block {}: prev_hash is not block {}'s hash", h.height, parent.height)));
    }
    if h.timestamp_ms < parent.timestamp_ms {
        return Err(Reject::block(format!(
            "block {}: timestamp {} is before its parent's {}",
            h.height, h.timestamp_ms, parent.timestamp_ms
        )));
    }
    if h.timestamp_ms > now_ms.saturating_add(max_future_ms) {
        return Err(Reject::block(format!(
            "block {}: timestamp {} is more than {max_future_ms} ms ahead of this node's clock ({now_ms})",
            h.height, h.timestamp_ms
        )));
    }
    Ok(())
}

/// The header's tx count and tx root match the transactions (`ids` are theirs, in order),
/// and the signature the proposer's seal needs. Height 0 has no seal: it is compared with
/// the genesis file instead.
pub fn check_sealed(block: &Block, ids: &[Hash]) -> Result<SignatureCheck, Reject> {
    let h = &block.header;
    if h.tx_count as usize != block.txs.len() {
        return Err(Reject::block(format!(
            "block {}: header says {} txs, the block has {}",
            h.height,
            h.tx_count,
            block.txs.len()
        )));
    }
    if tx_root_of_ids(ids) != h.tx_root {
        return Err(Reject::block(format!("block {}: tx root does not match its transactions", h.height)));
    }
    Ok(SignatureCheck { pubkey: h.proposer, msg: h.signing_bytes(), sig: block.signature })
}

/// The peer path: link, proposer, seal, then per transaction chain id, duplicates and
/// replays; every signature this node has not already verified (the proposer's, and each
/// transaction not admitted here with the same signature) goes to `verify` in one batch;
/// then re-execution over `state` must give the header's state root.
pub fn validate(
    block: &Block,
    cx: &Context<'_>,
    known: &dyn Fn(&Hash) -> Known,
    verify: &mut Verifier<'_>,
    state: &dyn StateView,
) -> Result<Execution, Reject> {
    validate_with_ids(block, cx, known, verify, state).map(|(_, ex)| ex)
}

/// [`validate`], also giving the transactions' ids it computed (in block order), so that a
/// caller storing the block does not hash every transaction again.
pub fn validate_with_ids(
    block: &Block,
    cx: &Context<'_>,
    known: &dyn Fn(&Hash) -> Known,
    verify: &mut Verifier<'_>,
    state: &dyn StateView,
) -> Result<(Vec<Hash>, Execution), Reject> {
    check_link(block, &cx.parent, cx.now_ms, cx.max_future_ms)?;
    let h = &block.header;
    if !cx.validators.is_empty() && !cx.validators.contains(&h.proposer) {
        return Err(Reject::block(format!(
            "block {}: proposer {} is not a validator",
            h.height,
            hex::encode(h.proposer)
        )));
    }
    let ids: Vec<Hash> = block.txs.iter().map(|tx| tx.id()).collect();
    let seal = check_sealed(block, &ids)?;
    let mut checks = vec![seal];
    let mut checked = Vec::new();
    let mut seen = HashSet::with_capacity(ids.len());
    for (i, (tx, id)) in block.txs.iter().zip(&ids).enumerate() {
        if tx.chain_id != cx.chain_id {
            return Err(Reject::tx(i, *id, format!("signed for chain {:?}, not {:?}", tx.chain_id, cx.chain_id)));
        }
        if !seen.insert(*id) {
            return Err(Reject::tx(i, *id, "the same transaction twice in the block".into()));
        }
        match known(id) {
            Known::Committed(height) => {
                return Err(Reject::tx(i, *id, format!("replay: already committed in block {height}")))
            }
            Known::Admitted(sig) if sig == tx.signature => {}
            Known::Admitted(_) | Known::Unknown => {
                checks.push(SignatureCheck { pubkey: tx.sender, msg: tx.signing_bytes(), sig: tx.signature });
                checked.push(i);
            }
        }
    }
    let expected = checks.len();
    let verdicts = verify(checks);
    if verdicts.len() != expected {
        return Err(Reject::block(format!("the verifier answered {} of {expected} signatures", verdicts.len())));
    }
    if let Err(why) = &verdicts[0] {
        return Err(Reject::block(format!("block {}: proposer signature {why}", h.height)));
    }
    for (i, verdict) in checked.iter().zip(&verdicts[1..]) {
        if let Err(why) = verdict {
            return Err(Reject::tx(*i, ids[*i], format!("signature {why}")));
        }
    }
    let ex = execute(state, &cx.parent.state_root, &block.txs)
        .map_err(|e| Reject::block(format!("cannot execute block {}: {e}", h.height)))?;
    if ex.state_root != h.state_root {
        return Err(Reject::block(format!(
            "block {}: state root {} after re-execution, the header says {}",
            h.height,
            hex::encode(ex.state_root),
            hex::encode(h.state_root)
        )));
    }
    Ok((ids, ex))
}
