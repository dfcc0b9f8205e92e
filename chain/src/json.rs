//! JSON forms of transactions and blocks (the HTTP API): bytes as lowercase hex.
//!
//! With the `openapi` feature each form also describes itself as an OpenAPI schema (the node's
//! `GET /openapi.json`); the patterns there are exactly what decoding here accepts: hex in either
//! case, an optional `0x` prefix.

use serde::{Deserialize, Serialize};

use crate::error::ChainError;
use crate::types::*;

/// A transaction as JSON: `{"chain_id", "nonce", "sender", "payload": {"type": "put", "key",
/// "value"} | {"type": "transfer", "to", "amount"}, "signature"}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxJson {
    /// The chain.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._-]{1,64}$"))]
    pub chain_id: String,
    /// The nonce (a JSON number; keep it below 2^53 for JavaScript clients).
    pub nonce: u64,
    /// SEC1 hex, 65 or 33 bytes (a compressed key is signed in its uncompressed form).
    #[cfg_attr(feature = "openapi", schema(pattern = "^(0x)?(04[0-9a-fA-F]{128}|0[23][0-9a-fA-F]{64})$"))]
    pub sender: String,
    /// What it does.
    pub payload: PayloadJson,
    /// DER or raw r ‖ s, hex.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(0x)?([0-9a-fA-F]{2})+$"))]
    pub signature: String,
}

/// A payload as JSON.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum PayloadJson {
    /// `{"type": "put", "key": HEX, "value": HEX}`.
    Put {
        /// Hex, 1 to 1024 bytes.
        #[cfg_attr(feature = "openapi", schema(pattern = "^(0x)?([0-9a-fA-F]{2}){1,1024}$"))]
        key: String,
        /// Hex, 0 to 65,536 bytes.
        #[cfg_attr(feature = "openapi", schema(pattern = "^(0x)?([0-9a-fA-F]{2})*$"))]
        value: String,
    },
    /// `{"type": "transfer", "to": HEX, "amount": N}`.
    Transfer {
        /// SEC1 hex.
        #[cfg_attr(feature = "openapi", schema(pattern = "^(0x)?(04[0-9a-fA-F]{128}|0[23][0-9a-fA-F]{64})$"))]
        to: String,
        /// How much.
        amount: u64,
    },
}

fn from_hex(s: &str, what: &str) -> Result<Vec<u8>, ChainError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(s).map_err(|e| ChainError::Codec(format!("{what}: not hex ({e})")))
}

impl TxJson {
    /// Decode and check every field; the error names the first that is wrong.
    pub fn to_tx(&self) -> Result<Transaction, ChainError> {
        check_chain_id(&self.chain_id)?;
        let sender = canonical_key(&from_hex(&self.sender, "sender")?, "sender")?;
        let payload = match &self.payload {
            PayloadJson::Put { key, value } => {
                let key = from_hex(key, "payload.key")?;
                let value = from_hex(value, "payload.value")?;
                check_put(&key, &value)?;
                Payload::Put { key, value }
            }
            PayloadJson::Transfer { to, amount } => {
                Payload::Transfer { to: canonical_key(&from_hex(to, "payload.to")?, "payload.to")?, amount: *amount }
            }
        };
        let sig = from_hex(&self.signature, "signature")?;
        let (r, s) = xinlian_kernels::sm2::signature::decode(&sig).map_err(|e| ChainError::Codec(e.to_string()))?;
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&r);
        signature[32..].copy_from_slice(&s);
        Ok(Transaction { chain_id: self.chain_id.clone(), nonce: self.nonce, sender, payload, signature })
    }

    /// The JSON form of a transaction.
    pub fn from_tx(tx: &Transaction) -> TxJson {
        TxJson {
            chain_id: tx.chain_id.clone(),
            nonce: tx.nonce,
            sender: hex::encode(tx.sender),
            payload: match &tx.payload {
                Payload::Put { key, value } => PayloadJson::Put { key: hex::encode(key), value: hex::encode(value) },
                Payload::Transfer { to, amount } => PayloadJson::Transfer { to: hex::encode(to), amount: *amount },
            },
            signature: hex::encode(tx.signature),
        }
    }
}

/// A block as JSON (the API's `GET /block/...`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct BlockJson {
    /// Height.
    pub height: u64,
    /// SM3 of the header's signing bytes.
    pub hash: String,
    /// The parent's hash.
    pub prev_hash: String,
    /// Merkle root of the tx ids.
    pub tx_root: String,
    /// State commitment.
    pub state_root: String,
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// The proposer's key.
    pub proposer: String,
    /// The proposer's signature r ‖ s.
    pub signature: String,
    /// How many transactions.
    pub tx_count: u32,
    /// The transactions, with their ids.
    pub txs: Vec<BlockTxJson>,
}

/// A transaction inside a block's JSON: its id, then the fields of [`TxJson`]. The fields are
/// spelled out rather than flattened so that the OpenAPI schema of a block's transaction does
/// not inherit [`TxJson`]'s "no other fields" rule (which `id` would break).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct BlockTxJson {
    /// The tx id: SM3 of the signing bytes.
    pub id: String,
    /// As [`TxJson::chain_id`].
    pub chain_id: String,
    /// As [`TxJson::nonce`].
    pub nonce: u64,
    /// As [`TxJson::sender`]: 65 bytes, uncompressed.
    pub sender: String,
    /// As [`TxJson::payload`].
    pub payload: PayloadJson,
    /// As [`TxJson::signature`]: raw r ‖ s.
    pub signature: String,
}

impl BlockTxJson {
    /// The JSON form of a block's transaction.
    pub fn from_tx(tx: &Transaction) -> BlockTxJson {
        let TxJson { chain_id, nonce, sender, payload, signature } = TxJson::from_tx(tx);
        BlockTxJson { id: hex::encode(tx.id()), chain_id, nonce, sender, payload, signature }
    }
}

impl BlockJson {
    /// The JSON form of a block.
    pub fn from_block(b: &Block) -> BlockJson {
        let h = &b.header;
        BlockJson {
            height: h.height,
            hash: hex::encode(b.hash()),
            prev_hash: hex::encode(h.prev_hash),
            tx_root: hex::encode(h.tx_root),
            state_root: hex::encode(h.state_root),
            timestamp_ms: h.timestamp_ms,
            proposer: hex::encode(h.proposer),
            signature: hex::encode(b.signature),
            tx_count: h.tx_count,
            txs: b.txs.iter().map(BlockTxJson::from_tx).collect(),
        }
    }
}
