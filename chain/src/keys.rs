//! SM2 key files and signing: RustCrypto's constant-time `sm2` (RFC 6979 nonces), never the
//! fast variable-time verification paths, never libsm.
//!
//! Key files are PKCS#8 PEM, as `openssl genpkey -algorithm SM2` writes them; SEC1
//! `EC PRIVATE KEY` PEM is read too.

use std::path::Path;

use sm2::dsa::signature::Signer as _;
use sm2::elliptic_curve::Generate as _;
use sm2::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use xinlian_kernels::sm2::DEFAULT_ID;

use crate::error::ChainError;
use crate::types::PublicKey;

/// What signs a node's blocks: a key in memory ([`Signer`]) or one that never leaves a
/// crypto card (the node's SDF signer). Signing in a card can fail; a failure is an error,
/// never a block with a bad signature.
pub trait BlockSigner: Send + Sync {
    /// The public key, 65 bytes uncompressed.
    fn public_key(&self) -> &PublicKey;
    /// SM2 signature r ‖ s over `msg` with the default ID.
    fn try_sign(&self, msg: &[u8]) -> Result<[u8; 64], ChainError>;
}

impl BlockSigner for Signer {
    fn public_key(&self) -> &PublicKey {
        Signer::public_key(self)
    }

    fn try_sign(&self, msg: &[u8]) -> Result<[u8; 64], ChainError> {
        Ok(self.sign(msg))
    }
}

/// A secret key and what signs with it.
pub struct Signer {
    key: sm2::dsa::SigningKey,
    public: PublicKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "Signer({})", hex::encode(self.public))
    }
}

fn default_id() -> &'static str {
    // DEFAULT_ID is ASCII; the fallback is the same bytes.
    std::str::from_utf8(DEFAULT_ID).unwrap_or("1234567812345678")
}

impl Signer {
    /// From a secret key.
    pub fn new(secret: &sm2::SecretKey) -> Result<Signer, ChainError> {
        let key = sm2::dsa::SigningKey::new(default_id(), secret).map_err(|e| ChainError::Key(e.to_string()))?;
        let public = crate::types::canonical_key(&key.verifying_key().to_sec1_bytes(), "public key")
            .map_err(|e| ChainError::Key(e.to_string()))?;
        Ok(Signer { key, public })
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Result<Signer, ChainError> {
        let secret = sm2::SecretKey::try_generate()
            .map_err(|e| ChainError::Key(format!("the operating system's random generator failed: {e}")))?;
        Signer::new(&secret)
    }

    /// From a PEM file (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`).
    pub fn from_pem_file(path: &Path) -> Result<Signer, ChainError> {
        let pem = std::fs::read_to_string(path).map_err(|e| ChainError::Key(format!("{}: {e}", path.display())))?;
        Signer::from_pem(&pem).map_err(|e| ChainError::Key(format!("{}: {e}", path.display())))
    }

    /// From PEM text.
    pub fn from_pem(pem: &str) -> Result<Signer, ChainError> {
        let secret = if pem.contains("-----BEGIN PRIVATE KEY-----") {
            sm2::SecretKey::from_pkcs8_pem(pem)
                .map_err(|e| ChainError::Key(format!("not an SM2 PKCS#8 private key ({e})")))?
        } else if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
            sm2::SecretKey::from_sec1_pem(pem)
                .map_err(|e| ChainError::Key(format!("not an SM2 SEC1 private key ({e})")))?
        } else if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return Err(ChainError::Key(
                "the key is encrypted: decrypt it first (openssl pkey -in KEY -out PLAIN.pem)".into(),
            ));
        } else {
            return Err(ChainError::Key("no PEM private key (expected -----BEGIN PRIVATE KEY-----)".into()));
        };
        Signer::new(&secret)
    }

    /// PKCS#8 PEM, which `openssl pkey` reads.
    pub fn to_pem(&self) -> Result<String, ChainError> {
        let secret = sm2::SecretKey::from(self.key.as_nonzero_scalar());
        Ok(secret.to_pkcs8_pem(LineEnding::LF).map_err(|e| ChainError::Key(e.to_string()))?.to_string())
    }

    /// Write the key as PKCS#8 PEM, readable by the owner only; refuses to overwrite.
    pub fn write_pem_file(&self, path: &Path) -> Result<(), ChainError> {
        use std::io::Write as _;
        let io = |source| ChainError::Io { path: path.display().to_string(), source };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut f = options.open(path).map_err(io)?;
        f.write_all(self.to_pem()?.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)
    }

    /// The public key, 65 bytes uncompressed.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// SM2 signature r ‖ s over `msg` with the default ID (GB/T 32918.2 steps A1-A7,
    /// constant time, deterministic k per RFC 6979).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let sig: sm2::dsa::Signature = self.key.sign(msg);
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&sig.r_bytes());
        out[32..].copy_from_slice(&sig.s_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xinlian_kernels::sm2::{self as ksm2, AffinePoint};

    #[test]
    fn a_signature_verifies_with_our_verifier_and_pem_round_trips() {
        let s = Signer::generate().unwrap();
        let msg = b"a transaction";
        let sig = s.sign(msg);
        let key = AffinePoint::from_sec1(s.public_key()).unwrap();
        let e = ksm2::message_digest(&ksm2::z_value(DEFAULT_ID, &key).unwrap(), msg);
        let (r, rest) = sig.split_at(32);
        assert!(ksm2::verify_prehashed_vartime(&key, &e, r.try_into().unwrap(), rest.try_into().unwrap()).is_ok());
        let again = Signer::from_pem(&s.to_pem().unwrap()).unwrap();
        assert_eq!(again.public_key(), s.public_key());
        let other = Signer::generate().unwrap();
        assert_ne!(other.public_key(), s.public_key());
    }

    #[test]
    fn bad_pem_is_named() {
        assert!(Signer::from_pem("hello").unwrap_err().to_string().contains("no PEM private key"));
        let junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(Signer::from_pem(junk).unwrap_err().to_string().contains("not an SM2 PKCS#8"));
    }
}
