//! SM2 as Malachite's signing scheme: the shapes of keys and signatures on the wire, and one
//! SM2 verification (GB/T 32918.2 with the default distinguishing ID).
//!
//! Public keys travel as 65-byte uncompressed SEC1 only: the network layer compares
//! `encode_public_key` bytes as identities, so a key has exactly one encoding.

use std::fmt;
use std::sync::Arc;

use arc_malachitebft_app_channel::app::types::core::SigningScheme;
use xinlian_chain::{BlockSigner, PublicKey};
use xinlian_kernels::sm2::{self as ksm2, AffinePoint, DEFAULT_ID};

use crate::error::ConsensusError;

/// The SM2 signing scheme (a marker type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sm2Scheme;

/// A validator's SM2 public key, decoded once: its point and its Z value (SM3 over the ID
/// and the curve and key parameters, GB/T 32918.2 §5.5), so a vote's check hashes only the
/// message.
#[derive(Clone, Copy)]
pub struct Sm2PublicKey {
    bytes: PublicKey,
    point: AffinePoint,
    z: [u8; 32],
}

impl Sm2PublicKey {
    /// Decode a 65-byte uncompressed SEC1 key on the curve.
    pub fn from_bytes(bytes: &[u8]) -> Result<Sm2PublicKey, ConsensusError> {
        if bytes.len() != 65 || bytes[0] != 0x04 {
            return Err(ConsensusError::Decode(format!(
                "SM2 public key: want 65 bytes starting 04, got {} bytes",
                bytes.len()
            )));
        }
        let point =
            AffinePoint::from_sec1(bytes).map_err(|e| ConsensusError::Decode(format!("SM2 public key: {e}")))?;
        let z =
            ksm2::z_value(DEFAULT_ID, &point).map_err(|e| ConsensusError::Decode(format!("SM2 public key: {e}")))?;
        Ok(Sm2PublicKey { bytes: point.to_uncompressed(), point, z })
    }

    /// The 65 uncompressed bytes.
    pub fn bytes(&self) -> &PublicKey {
        &self.bytes
    }

    /// Whether `signature` is this key's SM2 signature over `msg` (variable time: public data).
    pub fn verify_vartime(&self, msg: &[u8], signature: &Sm2Signature) -> bool {
        let e = ksm2::message_digest(&self.z, msg);
        let (r, s) = signature.0.split_at(32);
        match (<&[u8; 32]>::try_from(r), <&[u8; 32]>::try_from(s)) {
            (Ok(r), Ok(s)) => ksm2::verify_prehashed_vartime(&self.point, &e, r, s).is_ok(),
            _ => false,
        }
    }
}

impl PartialEq for Sm2PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Sm2PublicKey {}

impl fmt::Debug for Sm2PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sm2PublicKey({})", hex::encode(self.bytes))
    }
}

/// An SM2 signature, raw r ‖ s.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sm2Signature(pub [u8; 64]);

impl fmt::Debug for Sm2Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sm2Signature({})", hex::encode(self.0))
    }
}

/// What signs for this validator: the node's block signer (a key in memory or in a card).
#[derive(Clone)]
pub struct Sm2PrivateKey(pub Arc<dyn BlockSigner>);

impl SigningScheme for Sm2Scheme {
    type DecodingError = ConsensusError;
    type Signature = Sm2Signature;
    type PublicKey = Sm2PublicKey;
    type PrivateKey = Sm2PrivateKey;

    fn decode_signature(bytes: &[u8]) -> Result<Sm2Signature, ConsensusError> {
        <[u8; 64]>::try_from(bytes)
            .map(Sm2Signature)
            .map_err(|_| ConsensusError::Decode(format!("SM2 signature: want 64 bytes (r ‖ s), got {}", bytes.len())))
    }

    fn encode_signature(signature: &Sm2Signature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<Sm2PublicKey, ConsensusError> {
        Sm2PublicKey::from_bytes(bytes)
    }

    fn encode_public_key(public_key: &Sm2PublicKey) -> Vec<u8> {
        public_key.bytes.to_vec()
    }
}
