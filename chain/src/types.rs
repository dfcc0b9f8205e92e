//! Transactions, blocks and receipts, with their canonical bytes (JSON forms: `json`).
//!
//! Owns: the bytes a client signs (README, "Signing a transaction"), the tx id, the block
//! header bytes the proposer signs, the stored encodings, and the JSON the HTTP API speaks.
//! Never: verification (the accel dispatcher's) or execution (`chain::executor`).
//!
//! Every integer is big-endian. Decoding checks every length and names the field that is
//! wrong; it never panics, whatever the bytes.

use serde::Serialize;
use xinlian_kernels::sm2::AffinePoint;
use xinlian_kernels::sm3;

use crate::codec::Reader;
use crate::error::ChainError;

/// A 32-byte SM3 digest: tx ids, block hashes, roots.
pub type Hash = [u8; 32];
/// An SM2 public key, SEC1 uncompressed: `04 ‖ x ‖ y`. Accounts are named by it.
pub type PublicKey = [u8; 65];

/// The first bytes of every transaction's signing bytes.
pub const TX_MAGIC: &[u8; 4] = b"XLTX";
/// The first bytes of every block header's signing bytes.
pub const BLOCK_MAGIC: &[u8; 4] = b"XLBK";
/// The encoding version that follows the magic.
pub const VERSION: u8 = 1;
/// Longest chain id, in bytes.
pub const MAX_CHAIN_ID: usize = 64;
/// Longest `Put` key, in bytes.
pub const MAX_KEY: usize = 1024;
/// Longest `Put` value, in bytes.
pub const MAX_VALUE: usize = 64 * 1024;

const PAYLOAD_PUT: u8 = 1;
const PAYLOAD_TRANSFER: u8 = 2;

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Write `value` under `key` (an evidence or traceability record).
    Put {
        /// 1 to 1024 bytes.
        key: Vec<u8>,
        /// 0 to 65,536 bytes.
        value: Vec<u8>,
    },
    /// Move `amount` from the sender's balance to `to`'s.
    Transfer {
        /// The receiving account.
        to: PublicKey,
        /// How much.
        amount: u64,
    },
}

/// A signed transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// Which chain this transaction is for (a tx for another chain is refused).
    pub chain_id: String,
    /// Any number the sender has not used before: the tx id covers it, so the same payload
    /// sent twice needs two nonces (README, "Nonces and replay").
    pub nonce: u64,
    /// The signer, who pays.
    pub sender: PublicKey,
    /// What it does.
    pub payload: Payload,
    /// SM2 signature r ‖ s over [`Transaction::signing_bytes`] with the default ID.
    pub signature: [u8; 64],
}

impl Transaction {
    /// The bytes the sender signs (README, "Signing a transaction"):
    /// `"XLTX" ‖ 01 ‖ len(chain_id):u8 ‖ chain_id ‖ nonce:u64 ‖ sender:65 ‖ payload`, where
    /// payload is `01 ‖ len(key):u16 ‖ key ‖ len(value):u32 ‖ value` (Put) or
    /// `02 ‖ to:65 ‖ amount:u64` (Transfer).
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.payload_len());
        out.extend_from_slice(TX_MAGIC);
        out.push(VERSION);
        // Lengths were checked when the transaction was built or decoded.
        out.push(u8::try_from(self.chain_id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.chain_id.as_bytes());
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&self.sender);
        match &self.payload {
            Payload::Put { key, value } => {
                out.push(PAYLOAD_PUT);
                out.extend_from_slice(&u16::try_from(key.len()).unwrap_or(u16::MAX).to_be_bytes());
                out.extend_from_slice(key);
                out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
                out.extend_from_slice(value);
            }
            Payload::Transfer { to, amount } => {
                out.push(PAYLOAD_TRANSFER);
                out.extend_from_slice(to);
                out.extend_from_slice(&amount.to_be_bytes());
            }
        }
        out
    }

    fn payload_len(&self) -> usize {
        match &self.payload {
            Payload::Put { key, value } => key.len() + value.len(),
            Payload::Transfer { .. } => 73,
        }
    }

    /// SM3 of the signing bytes. The signature is not covered, so re-encoding a signature
    /// (DER or raw, low or high s) never makes a new id.
    pub fn id(&self) -> Hash {
        sm3::digest(&self.signing_bytes())
    }

    /// Signing bytes ‖ signature: how transactions are stored in blocks.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.signing_bytes();
        out.extend_from_slice(&self.signature);
        out
    }

    /// The inverse of [`Transaction::encode`], with every field checked.
    pub fn decode(bytes: &[u8]) -> Result<Transaction, ChainError> {
        let mut r = Reader::new(bytes, "transaction");
        let tx = Transaction::read(&mut r)?;
        r.finish()?;
        Ok(tx)
    }

    fn read(r: &mut Reader<'_>) -> Result<Transaction, ChainError> {
        if r.array::<4>("magic")? != *TX_MAGIC {
            return Err(r.error("magic: not \"XLTX\""));
        }
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(r.error(&format!("version: {version} is not supported (only {VERSION})")));
        }
        let len = usize::from(r.u8("chain_id length")?);
        let chain_id =
            String::from_utf8(r.bytes(len, "chain_id")?.to_vec()).map_err(|_| r.error("chain_id: not UTF-8"))?;
        check_chain_id(&chain_id)?;
        let nonce = r.u64("nonce")?;
        let sender = r.array::<65>("sender")?;
        check_point(&sender, "sender")?;
        let payload = match r.u8("payload type")? {
            PAYLOAD_PUT => {
                let klen = usize::from(r.u16("key length")?);
                let key = r.bytes(klen, "key")?.to_vec();
                let vlen = r.u32("value length")? as usize;
                let value = r.bytes(vlen, "value")?.to_vec();
                check_put(&key, &value)?;
                Payload::Put { key, value }
            }
            PAYLOAD_TRANSFER => {
                let to = r.array::<65>("to")?;
                check_point(&to, "to")?;
                Payload::Transfer { to, amount: r.u64("amount")? }
            }
            other => return Err(r.error(&format!("payload type: {other} is neither 1 (put) nor 2 (transfer)"))),
        };
        let signature = r.array::<64>("signature")?;
        Ok(Transaction { chain_id, nonce, sender, payload, signature })
    }
}

/// `[A-Za-z0-9._-]{1,64}`: printable in logs and URLs, and one byte per character.
pub fn check_chain_id(chain_id: &str) -> Result<(), ChainError> {
    if chain_id.is_empty() || chain_id.len() > MAX_CHAIN_ID {
        return Err(ChainError::Codec(format!("chain_id: {} bytes, must be 1 to {MAX_CHAIN_ID}", chain_id.len())));
    }
    if let Some(c) = chain_id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(ChainError::Codec(format!("chain_id: character {c:?} is not one of A-Z a-z 0-9 . _ -")));
    }
    Ok(())
}

pub(crate) fn check_put(key: &[u8], value: &[u8]) -> Result<(), ChainError> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(ChainError::Codec(format!("key: {} bytes, must be 1 to {MAX_KEY}", key.len())));
    }
    if value.len() > MAX_VALUE {
        return Err(ChainError::Codec(format!("value: {} bytes, more than {MAX_VALUE}", value.len())));
    }
    Ok(())
}

/// A public key must be a point on the curve: a transfer to garbage would burn the amount.
fn check_point(key: &[u8], what: &str) -> Result<(), ChainError> {
    AffinePoint::from_sec1(key).map(|_| ()).map_err(|e| ChainError::Codec(format!("{what}: {e}")))
}

/// A SEC1 public key (65 or 33 bytes) as the canonical 65-byte uncompressed form.
pub fn canonical_key(bytes: &[u8], what: &str) -> Result<PublicKey, ChainError> {
    AffinePoint::from_sec1(bytes).map(|p| p.to_uncompressed()).map_err(|e| ChainError::Codec(format!("{what}: {e}")))
}

/// A block header: what the proposer signs, and what the block hash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// 0 for genesis.
    pub height: u64,
    /// The previous block's hash (zeros for genesis).
    pub prev_hash: Hash,
    /// SM3 Merkle root over the tx ids (leaf SM3(00 ‖ id), node SM3(01 ‖ l ‖ r)).
    pub tx_root: Hash,
    /// The state commitment after this block (`chain::executor`).
    pub state_root: Hash,
    /// Milliseconds since the Unix epoch, never less than the previous block's.
    pub timestamp_ms: u64,
    /// The proposer's public key.
    pub proposer: PublicKey,
    /// How many transactions the block carries.
    pub tx_count: u32,
}

impl BlockHeader {
    /// `"XLBK" ‖ 01 ‖ height:u64 ‖ prev_hash ‖ tx_root ‖ state_root ‖ timestamp_ms:u64 ‖
    /// proposer:65 ‖ tx_count:u32`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(190);
        out.extend_from_slice(BLOCK_MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&self.tx_root);
        out.extend_from_slice(&self.state_root);
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.proposer);
        out.extend_from_slice(&self.tx_count.to_be_bytes());
        out
    }

    /// SM3 of the signing bytes.
    pub fn hash(&self) -> Hash {
        sm3::digest(&self.signing_bytes())
    }

    fn read(r: &mut Reader<'_>) -> Result<BlockHeader, ChainError> {
        if r.array::<4>("magic")? != *BLOCK_MAGIC {
            return Err(r.error("magic: not \"XLBK\""));
        }
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(r.error(&format!("version: {version} is not supported")));
        }
        Ok(BlockHeader {
            height: r.u64("height")?,
            prev_hash: r.array("prev_hash")?,
            tx_root: r.array("tx_root")?,
            state_root: r.array("state_root")?,
            timestamp_ms: r.u64("timestamp")?,
            proposer: r.array("proposer")?,
            tx_count: r.u32("tx_count")?,
        })
    }
}

/// A block: the header, the proposer's signature over it, and the transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// SM2 r ‖ s by the proposer over the header's signing bytes, default ID.
    pub signature: [u8; 64],
    /// The transactions, in execution order.
    pub txs: Vec<Transaction>,
}

impl Block {
    /// The header's hash.
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// Header ‖ signature ‖ (len:u32 ‖ encoded tx) per transaction.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.header.signing_bytes();
        out.extend_from_slice(&self.signature);
        for tx in &self.txs {
            let bytes = tx.encode();
            out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// The inverse of [`Block::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Block, ChainError> {
        let mut r = Reader::new(bytes, "block");
        let header = BlockHeader::read(&mut r)?;
        let signature = r.array("signature")?;
        let mut txs = Vec::with_capacity((header.tx_count as usize).min(1 << 16));
        for i in 0..header.tx_count {
            let len = r.u32("tx length")? as usize;
            let tx_bytes = r.bytes(len, "tx")?;
            txs.push(Transaction::decode(tx_bytes).map_err(|e| ChainError::Codec(format!("block tx {i}: {e}")))?);
        }
        r.finish()?;
        Ok(Block { header, signature, txs })
    }
}

/// What executing a transaction did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// Whether it took effect.
    pub ok: bool,
    /// Why not (e.g. "insufficient balance: has 3, needs 5").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where a committed transaction is, and what it did: the tx index's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxLocation {
    /// The block.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// What it did.
    pub receipt: Receipt,
}

impl TxLocation {
    /// `height:u64 ‖ index:u32 ‖ ok:u8 ‖ error (UTF-8, the rest)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(13);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.index.to_be_bytes());
        out.push(u8::from(self.receipt.ok));
        if let Some(e) = &self.receipt.error {
            out.extend_from_slice(e.as_bytes());
        }
        out
    }

    /// The inverse of [`TxLocation::encode`].
    pub fn decode(bytes: &[u8]) -> Result<TxLocation, ChainError> {
        let mut r = Reader::new(bytes, "tx index entry");
        let height = r.u64("height")?;
        let index = r.u32("index")?;
        let ok = r.u8("ok")? != 0;
        let rest = r.rest();
        let error = if rest.is_empty() { None } else { Some(String::from_utf8_lossy(rest).into_owned()) };
        Ok(TxLocation { height, index, receipt: Receipt { ok, error } })
    }
}

/// An account: its balance and how many of its transactions are committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Spendable balance.
    pub balance: u64,
    /// Committed transactions sent by this account (successful or not).
    pub nonce: u64,
}

impl Account {
    /// `balance:u64 ‖ nonce:u64`.
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.balance.to_be_bytes());
        out[8..].copy_from_slice(&self.nonce.to_be_bytes());
        out
    }

    /// The inverse of [`Account::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Account, ChainError> {
        let mut r = Reader::new(bytes, "account");
        let a = Account { balance: r.u64("balance")?, nonce: r.u64("nonce")? };
        r.finish()?;
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::*;
    use proptest::prelude::*;

    fn g() -> PublicKey {
        // The SM2 base point: a valid public key with no secret needed.
        canonical_key(
            &hex::decode(
                "0432c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0",
            )
            .unwrap(),
            "g",
        )
        .unwrap()
    }

    fn sample() -> Transaction {
        Transaction {
            chain_id: "xinlian-dev".into(),
            nonce: 7,
            sender: g(),
            payload: Payload::Put { key: b"doc-1".to_vec(), value: b"hello".to_vec() },
            signature: [9u8; 64],
        }
    }

    #[test]
    fn signing_bytes_follow_the_documented_layout() {
        let tx = sample();
        let b = tx.signing_bytes();
        let mut want = b"XLTX\x01\x0bxinlian-dev".to_vec();
        want.extend_from_slice(&7u64.to_be_bytes());
        want.extend_from_slice(&g());
        want.extend_from_slice(b"\x01\x00\x05doc-1\x00\x00\x00\x05hello");
        assert_eq!(b, want);
        assert_eq!(tx.id(), sm3::digest(&want));
    }

    #[test]
    fn id_ignores_the_signature() {
        let a = sample();
        let mut b = sample();
        b.signature = [1u8; 64];
        assert_eq!(a.id(), b.id());
        let mut c = sample();
        c.nonce = 8;
        assert_ne!(a.id(), c.id());
    }

    #[test]
    fn transactions_and_blocks_round_trip() {
        let tx = sample();
        assert_eq!(Transaction::decode(&tx.encode()).unwrap(), tx);
        let t2 = Transaction { payload: Payload::Transfer { to: g(), amount: 5 }, ..sample() };
        assert_eq!(Transaction::decode(&t2.encode()).unwrap(), t2);
        let block = Block {
            header: BlockHeader {
                height: 3,
                prev_hash: [1; 32],
                tx_root: [2; 32],
                state_root: [3; 32],
                timestamp_ms: 1_700_000_000_000,
                proposer: g(),
                tx_count: 2,
            },
            signature: [4; 64],
            txs: vec![tx, t2],
        };
        assert_eq!(Block::decode(&block.encode()).unwrap(), block);
        let loc = TxLocation { height: 5, index: 2, receipt: Receipt { ok: false, error: Some("no".into()) } };
        assert_eq!(TxLocation::decode(&loc.encode()).unwrap(), loc);
        let acct = Account { balance: 10, nonce: 3 };
        assert_eq!(Account::decode(&acct.encode()).unwrap(), acct);
    }

    #[test]
    fn bad_fields_are_named() {
        let good = sample().encode();
        let mut bad = good.clone();
        bad[0] = b'Y';
        assert!(Transaction::decode(&bad).unwrap_err().to_string().contains("magic"));
        let mut bad = good.clone();
        bad[6] = b'!';
        assert!(Transaction::decode(&bad).unwrap_err().to_string().contains("chain_id"));
        let mut bad = good.clone();
        bad[30] ^= 1; // inside the sender's x: off the curve
        assert!(Transaction::decode(&bad).unwrap_err().to_string().contains("sender"));
        let bad = &good[..good.len() - 1];
        assert!(Transaction::decode(bad).unwrap_err().to_string().contains("signature"));
        let mut bad = good.clone();
        bad.push(0);
        assert!(Transaction::decode(&bad).unwrap_err().to_string().contains("left over"));
        let mut json = TxJson::from_tx(&sample());
        json.sender = "zz".into();
        assert!(json.to_tx().unwrap_err().to_string().contains("sender: not hex"));
        let mut json = TxJson::from_tx(&sample());
        json.payload = PayloadJson::Put { key: String::new(), value: String::new() };
        assert!(json.to_tx().unwrap_err().to_string().contains("key: 0 bytes"));
        let mut json = TxJson::from_tx(&sample());
        json.signature = "3006020101020101ff".into();
        assert!(json.to_tx().unwrap_err().to_string().contains("signature"));
    }

    #[test]
    fn json_round_trips_and_accepts_compressed_keys() {
        let tx = sample();
        let json = TxJson::from_tx(&tx);
        assert_eq!(json.to_tx().unwrap(), tx);
        let mut compressed = json.clone();
        compressed.sender = hex::encode(AffinePoint::from_sec1(&tx.sender).unwrap().to_compressed());
        assert_eq!(compressed.to_tx().unwrap(), tx);
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Transaction::decode(&bytes);
            let _ = Block::decode(&bytes);
            let _ = TxLocation::decode(&bytes);
            let _ = Account::decode(&bytes);
        }

        #[test]
        fn truncating_a_valid_transaction_is_an_error(cut in 0usize..120) {
            let bytes = sample().encode();
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(Transaction::decode(&bytes[..cut]).is_err());
        }
    }
}
