//! Commit certificates: the proof that a block was decided, stored beside it.
//!
//! Owns: the certificate's shape and its stored bytes. Never: what makes it valid (the
//! consensus engine's quorum rules live in the consensus crate).
//!
//! Bytes (integers big-endian): `height:u64 ‖ round:u32 ‖ block_hash:32 ‖ n:u32 ‖
//! n × (validator:65 ‖ signature:64)`. A solo chain's certificate has round 0 and no
//! signatures: its one validator's block signature is the decision.

use serde::Serialize;

use crate::codec::Reader;
use crate::error::ChainError;
use crate::types::{Hash, PublicKey};

/// Who decided a block, in which round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitCertificate {
    /// The decided block's height.
    pub height: u64,
    /// The consensus round it was decided in.
    pub round: u32,
    /// The decided block's hash.
    pub block_hash: Hash,
    /// The validators' commit signatures.
    pub signatures: Vec<CommitSignature>,
}

/// One validator's commit signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitSignature {
    /// The validator's SM2 public key.
    pub validator: PublicKey,
    /// Its SM2 signature (raw r ‖ s) over the engine's commit vote.
    pub signature: [u8; 64],
}

/// The JSON form `GET /block/{h}` shows.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct CertificateJson {
    /// The consensus round.
    pub round: u32,
    /// The signers' public keys, hex.
    pub signers: Vec<String>,
}

impl CommitCertificate {
    /// The certificate of a block decided by the only validator (solo ordering).
    pub fn solo(height: u64, block_hash: Hash) -> CommitCertificate {
        CommitCertificate { height, round: 0, block_hash, signatures: Vec::new() }
    }

    /// The stored bytes (module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.signatures.len() * 129);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        out.extend_from_slice(&self.block_hash);
        // A certificate has at most one signature per validator: far below 2^32.
        out.extend_from_slice(&u32::try_from(self.signatures.len()).unwrap_or(u32::MAX).to_be_bytes());
        for s in &self.signatures {
            out.extend_from_slice(&s.validator);
            out.extend_from_slice(&s.signature);
        }
        out
    }

    /// Decode stored bytes; the error names the field.
    pub fn decode(bytes: &[u8]) -> Result<CommitCertificate, ChainError> {
        let mut r = Reader::new(bytes, "certificate");
        let height = r.u64("height")?;
        let round = r.u32("round")?;
        let block_hash = r.array::<32>("block_hash")?;
        let n = r.u32("signature count")?;
        let mut signatures = Vec::new();
        for _ in 0..n {
            let validator = r.array::<65>("validator")?;
            let signature = r.array::<64>("signature")?;
            signatures.push(CommitSignature { validator, signature });
        }
        r.finish()?;
        Ok(CommitCertificate { height, round, block_hash, signatures })
    }

    /// The JSON form.
    pub fn to_json(&self) -> CertificateJson {
        CertificateJson {
            round: self.round,
            signers: self.signatures.iter().map(|s| hex::encode(s.validator)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_truncation() {
        let c = CommitCertificate {
            height: 7,
            round: 2,
            block_hash: [9; 32],
            signatures: vec![CommitSignature { validator: [4; 65], signature: [5; 64] }],
        };
        let bytes = c.encode();
        assert_eq!(CommitCertificate::decode(&bytes).unwrap(), c);
        for cut in 0..bytes.len() {
            assert!(CommitCertificate::decode(&bytes[..cut]).is_err(), "{cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(CommitCertificate::decode(&longer).unwrap_err().to_string().contains("left over"));
    }
}
