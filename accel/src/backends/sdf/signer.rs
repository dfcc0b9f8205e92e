//! The node's signing key inside a GM/T 0018 card: [`SdfSigner`].
//!
//! ```text
//!  SdfSigner::open(lib, index, password)   one session on its own thread; in it (and again in
//!     │                                    every session reopened after a fault):
//!     │                                    SDF_GetPrivateKeyAccessRight(index, password)
//!     │ SDF_ExportSignPublicKey_ECC(index) -> public key, checked to be a point
//!     v
//!  sign(msg): e = SM3(Z ‖ M), Z of the card's public key and the default ID (host)
//!     │ SDF_InternalSign_ECC(index, e) -> (r, s)
//!     │ checked on the host: (r, s) verifies over e with the public key, else Corrupt
//!     v
//!  r ‖ s (64 bytes)
//! ```
//!
//! Owns: the key's index and password (cleared from memory on drop) and the check of every
//! signature the card returns. Never: the secret (it never leaves the card) or where the
//! password comes from (the caller reads it from a file or an environment variable; never a
//! command line). Why check each signature: a card that flipped a bit would otherwise have the
//! node publish a block that every peer rejects.

use std::path::Path;

use xinlian_kernels::sm2::{self, AffinePoint};
use zeroize::Zeroizing;

use super::ffi::SdfDevice;
use super::session::{Answer, KeyAccess, PoolConfig, SessionPool, Task};
use super::settings::SdfConfig;
use crate::backend::AccelError;

/// A signing key held by a card.
pub struct SdfSigner {
    pool: SessionPool,
    index: u32,
    public_key: AffinePoint,
    path: std::path::PathBuf,
}

impl SdfSigner {
    /// The key at `index` of the card behind the library at `lib_path` (the standard's 64-byte
    /// layout, default watchdog), unlocked with `password`.
    pub fn open(lib_path: &Path, index: u32, password: &[u8]) -> Result<SdfSigner, AccelError> {
        SdfSigner::open_with(&SdfConfig::new(lib_path), index, password)
    }

    /// As [`SdfSigner::open`] with the layout and watchdog of `config` (its verification
    /// settings are not used). A wrong index or password is `AccelError::Config`.
    pub fn open_with(config: &SdfConfig, index: u32, password: &[u8]) -> Result<SdfSigner, AccelError> {
        config.validate(0)?;
        let device = SdfDevice::open(&config.path)?;
        let pool = SessionPool::start(
            device,
            PoolConfig {
                layout: config.layout,
                invalid_codes: config.invalid_codes.clone(),
                watchdog: config.watchdog(),
                hash_piece: 1,
                key: Some(KeyAccess { index, password: Zeroizing::new(password.to_vec()) }),
            },
        )?;
        let public_key = match pool.run_one(Task::PublicKey)? {
            Answer::PublicKey(x, y) => AffinePoint::from_coordinates(&x, &y).map_err(|e| {
                AccelError::Corrupt(format!(
                    "SDF {}: key {index}'s public key is not a point: {e}",
                    config.path.display()
                ))
            })?,
            _ => return Err(AccelError::Corrupt("SDF: a public key asked, something else answered".to_string())),
        };
        tracing::info!(
            backend = "sdf",
            library = %config.path.display(),
            index,
            "SDF signer opened: the node's key is in the card"
        );
        Ok(SdfSigner { pool, index, public_key, path: config.path.clone() })
    }

    /// The key's index in the card.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The public key, SEC1 uncompressed (`04 ‖ x ‖ y`).
    pub fn public_key(&self) -> [u8; 65] {
        self.public_key.to_uncompressed()
    }

    /// Sign `msg` with the default distinguishing ID: e = SM3(Z ‖ M) here, then the card
    /// signs e. Returns r ‖ s.
    pub fn sign(&self, msg: &[u8]) -> Result<[u8; 64], AccelError> {
        let z = sm2::z_value(sm2::DEFAULT_ID, &self.public_key)
            .map_err(|e| AccelError::Corrupt(format!("Z of the card's key: {e}")))?;
        self.sign_digest(&sm2::message_digest(&z, msg))
    }

    /// Sign a digest e = SM3(Z ‖ M) the caller computed. Returns r ‖ s, checked to verify.
    pub fn sign_digest(&self, e: &[u8; 32]) -> Result<[u8; 64], AccelError> {
        let (r, s) = match self.pool.run_one(Task::Sign(*e))? {
            Answer::Signature(r, s) => (r, s),
            _ => return Err(AccelError::Corrupt("SDF: a signature asked, something else answered".to_string())),
        };
        if let Err(why) = sm2::verify_prehashed_vartime(&self.public_key, e, &r, &s) {
            return Err(AccelError::Corrupt(format!(
                "SDF {}: key {}'s signature does not verify under its own public key ({why}); not used",
                self.path.display(),
                self.index
            )));
        }
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&r);
        out[32..].copy_from_slice(&s);
        Ok(out)
    }
}
