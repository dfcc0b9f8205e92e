//! The HTTP API's answer bodies, as types: the handlers in `rpc` build them, and the OpenAPI
//! document (`GET /openapi.json`) describes them from the same definitions, so the two cannot
//! drift apart.
//!
//! Owns: the shapes of successful answers. Never: deciding a status code (rpc's) or the error
//! body (`http_errors`).

use serde::Serialize;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use xinlian_accel::dispatch::BackendStatus;
use xinlian_chain::cert::CertificateJson;
use xinlian_chain::json::{BlockJson, TxJson};
use xinlian_chain::Receipt;

use crate::admission::Refusal;
use crate::http_errors::{ErrorBody, ErrorKind};

/// A transaction admitted to the mempool: `{"id", "status": "pending"}`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Submitted {
    /// The tx id: SM3 of the signing bytes, 64 lowercase hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub id: String,
    /// Always `pending`: poll `GET /tx/{id}` for `committed`.
    #[schema(pattern = "^pending$")]
    pub status: String,
}

/// One element of an array answer's `results`, in the order of the request: admitted, or the
/// error body of its refusal.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TxResult {
    /// Admitted.
    Submitted(Submitted),
    /// Refused.
    Refused(ErrorBody),
}

impl TxResult {
    /// A refusal by admission: its kind, reason and (when it decoded) the tx id.
    pub fn refused(refusal: &Refusal) -> TxResult {
        TxResult::Refused(ErrorBody {
            error: refusal.reason.clone(),
            kind: refusal.kind.into(),
            id: refusal.id.map(hex::encode),
        })
    }

    /// An element that is not a transaction.
    pub fn malformed(reason: String) -> TxResult {
        TxResult::Refused(ErrorBody { error: reason, kind: ErrorKind::Malformed, id: None })
    }

    /// The kind of a refusal; `None` when admitted.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            TxResult::Submitted(_) => None,
            TxResult::Refused(e) => Some(e.kind),
        }
    }
}

/// The answer to an array `POST /tx`: counts, and one result per element in order.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    /// How many were admitted.
    pub accepted: usize,
    /// How many were refused.
    pub refused: usize,
    /// One per element of the request, in order.
    pub results: Vec<TxResult>,
}

/// `GET /tx/{id}`: where a transaction is.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum TxState {
    /// Admitted, not yet in a block.
    Pending {
        /// The tx id.
        id: String,
    },
    /// In a block (durable).
    Committed {
        /// The tx id.
        id: String,
        /// The block's height.
        height: u64,
        /// Its position in the block.
        index: u32,
        /// The block's hash (`null` only if the block could not be read back).
        block_hash: Option<String>,
        /// What executing it did.
        receipt: Receipt,
    },
    /// Refused after admission (README, "What `rejected` means").
    Rejected {
        /// The tx id.
        id: String,
        /// Why.
        reason: String,
    },
}

/// `GET /block/{which}`: the block's JSON form and its commit certificate.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BlockAnswer {
    /// The block.
    #[serde(flatten)]
    pub block: BlockJson,
    /// Who committed it (`null` for genesis and blocks stored without one).
    pub certificate: Option<CertificateJson>,
}

/// `GET /state/{key}`: a record.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StateAnswer {
    /// The key's bytes, hex.
    pub key: String,
    /// The value's bytes, hex.
    pub value: String,
    /// The value as text, or `null` when it is not UTF-8.
    pub value_utf8: Option<String>,
    /// The height the answer was read at.
    pub height: u64,
}

/// `GET /account/{pubkey}`: an account (zero when never touched).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccountAnswer {
    /// The account's key, 65-byte SEC1 uncompressed, hex.
    pub pubkey: String,
    /// Spendable balance.
    pub balance: u64,
    /// Committed transactions sent by this account; not the next nonce to use.
    pub nonce: u64,
}

/// One acceleration backend in `GET /status`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BackendAnswer {
    /// Unique name (`cpu`, `opencl`, `card`, `sdf`, ...).
    pub name: String,
    /// The kind of device: `cpu`, `opencl`, `card` or `sdf`.
    pub kind: String,
    /// What the device is.
    pub device: String,
    /// Whether it takes work now.
    pub healthy: bool,
    /// Out for a wrong answer.
    pub quarantined: bool,
    /// Why it last failed, if it ever did.
    pub last_failure: Option<String>,
    /// Real items it answered.
    pub items: u64,
    /// Batches it answered.
    pub batches: u64,
    /// Calls that returned a device fault.
    pub errors: u64,
    /// Modelled verification rate, signatures per second.
    pub verify_per_s: f64,
}

impl From<BackendStatus> for BackendAnswer {
    fn from(b: BackendStatus) -> BackendAnswer {
        BackendAnswer {
            name: b.name,
            kind: b.kind.to_string(),
            device: b.device,
            healthy: b.healthy,
            quarantined: b.quarantined,
            last_failure: b.last_failure,
            items: b.items,
            batches: b.batches,
            errors: b.errors,
            verify_per_s: b.verify_per_s,
        }
    }
}

/// The mempool's fill.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MempoolAnswer {
    /// Pending transactions.
    pub txs: usize,
    /// Most it holds.
    pub capacity: usize,
}

/// The node's memory: the bound it keeps to (README, "Memory") and what it holds now.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MemoryAnswer {
    /// The bound computed from the config (`node::memory::Budget`), in bytes.
    pub bound_bytes: u64,
    /// The resident set as the kernel counts it, in bytes; null where the system does not say.
    pub resident_bytes: Option<u64>,
}

/// The acceleration layer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccelAnswer {
    /// Every backend.
    pub backends: Vec<BackendAnswer>,
    /// What went wrong opening devices.
    pub warnings: Vec<String>,
}

/// `GET /status`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StatusAnswer {
    /// The chain.
    pub chain_id: String,
    /// The head's height.
    pub height: u64,
    /// The head's hash.
    pub head_hash: String,
    /// The state root after the head.
    pub state_root: String,
    /// The head's timestamp.
    pub timestamp_ms: u64,
    /// This node's public key.
    pub node_key: String,
    /// `solo` or `bft`.
    pub ordering: String,
    /// The validators' public keys.
    pub validators: Vec<String>,
    /// The mempool.
    pub mempool: MempoolAnswer,
    /// The memory bound and the resident set.
    pub memory: MemoryAnswer,
    /// Seconds since start.
    pub uptime_s: u64,
    /// The acceleration layer.
    pub accel: AccelAnswer,
    /// Where consensus is (BFT only: absent under solo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusAnswer>,
}

/// `GET /status`'s `consensus` object.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConsensusAnswer {
    /// The height being decided.
    pub height: u64,
    /// Its round (-1 before the first one starts).
    pub round: i64,
    /// Who proposes this round (public key, hex).
    pub round_proposer: Option<String>,
    /// Who proposed the last block this node committed (public key, hex).
    pub last_proposer: Option<String>,
    /// Connected peers.
    pub peers: Vec<PeerAnswer>,
}

/// One connected peer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PeerAnswer {
    /// Its transport peer id.
    pub peer_id: String,
    /// The address it is connected on.
    pub address: String,
    /// The validator key it proved (hex), if any.
    pub validator: Option<String>,
}

impl From<xinlian_consensus::ConsensusStatus> for ConsensusAnswer {
    fn from(s: xinlian_consensus::ConsensusStatus) -> ConsensusAnswer {
        ConsensusAnswer {
            height: s.height,
            round: s.round,
            round_proposer: s.round_proposer.map(hex::encode),
            last_proposer: s.last_decided.map(|(_, k)| hex::encode(k)),
            peers: s
                .peers
                .into_iter()
                .map(|p| PeerAnswer { peer_id: p.peer_id, address: p.address, validator: p.validator.map(hex::encode) })
                .collect(),
        }
    }
}

/// The body of `POST /tx`, as the document describes it: one [`TxJson`], or an array of at
/// least one element. The handler reads the body as JSON itself, so that one bad element of an
/// array is answered in its slot instead of failing the whole request; hence an array's
/// elements are any JSON value here (a non-transaction is refused as `malformed` in its slot),
/// and the schema is written with utoipa's builders, as a derive cannot state `minItems`.
pub struct TxRequest;

impl utoipa::PartialSchema for TxRequest {
    fn schema() -> RefOr<Schema> {
        let many = ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(SchemaType::AnyValue))
            .min_items(Some(1))
            .description(Some("Transactions, each decoded and answered on its own"));
        OneOfBuilder::new().item(Ref::from_schema_name(TxJson::name())).item(many).into()
    }
}

impl ToSchema for TxRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((TxJson::name().into(), TxJson::schema()));
        <TxJson as ToSchema>::schemas(schemas);
    }
}

/// What `POST /tx` answers with 503: one transaction's refusal, or an array's answer when every
/// element met a full mempool.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Busy {
    /// One transaction refused.
    One(ErrorBody),
    /// Every element of an array refused with `mempool_full`.
    Many(BatchAnswer),
}
