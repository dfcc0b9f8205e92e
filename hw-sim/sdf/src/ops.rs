//! What each SDF call does, on decoded arguments: the semantics of GM/T 0018 over a
//! [`Session`], answered as `Ok` or an `SDR_*` code.
//!
//! Owns: argument rules (algorithm IDs, lengths, call order), key access rights, the flips of a
//! `corrupt` fault. Never: raw pointers (`exports`), handles or pacing (`device`), the math
//! itself (`crypto`).

use xinlian_hw_sim::sdf_abi::{
    EccRefPublicKey, EccSignature, MAX_RANDOM_PER_CALL, SDR_ALGNOTSUPPORT, SDR_INARGERR, SDR_KEYNOTEXIST, SDR_PARDENY,
    SDR_PRKRERR, SDR_RANDERR, SDR_SIGNERR, SDR_STEPERR, SDR_VERIFYERR, SGD_SM2_1, SGD_SM3, WORD,
};
use xinlian_hw_sim::timing::{sm3_blocks, Work};

use crate::crypto::{self, Hash};
use crate::device::Session;
use crate::keystore;

/// Bytes a verification moves to the card (key, e, signature) and back (a status word).
const VERIFY_IN_BYTES: u64 = 132 + 32 + 128;
const VERIFY_OUT_BYTES: u64 = 4;

fn word(bytes: &[u8]) -> Result<[u8; WORD], u32> {
    bytes.try_into().map_err(|_| SDR_INARGERR)
}

impl Session {
    /// `SDF_ExternalVerify_ECC`: `Ok` when (r, s) verifies over e, else `SDR_VERIFYERR`.
    pub(crate) fn external_verify(
        &self,
        alg: u32,
        key: &EccRefPublicKey,
        e: &[u8],
        sig: &EccSignature,
    ) -> Result<(), u32> {
        if alg != SGD_SM2_1 {
            return Err(SDR_ALGNOTSUPPORT);
        }
        let e = word(e)?;
        let (x, y) = self.layout().key_coordinates(key).ok_or(SDR_INARGERR)?;
        // A value wider than 256 bits is not in [1, n-1]: B1/B2 fail, the signature does not verify.
        let Some((r, s)) = self.layout().signature_scalars(sig) else {
            return Err(SDR_VERIFYERR);
        };
        let ticket = self.begin(Work::Sm2 { items: 1 }, VERIFY_IN_BYTES, VERIFY_OUT_BYTES)?;
        let valid = crypto::verify(&x, &y, &e, &r, &s).map_err(|_| SDR_INARGERR)?;
        ticket.wait();
        if valid != ticket.corrupt {
            Ok(())
        } else {
            Err(SDR_VERIFYERR)
        }
    }

    /// `SDF_GetPrivateKeyAccessRight`.
    pub(crate) fn get_access_right(&self, index: u32, password: &[u8]) -> Result<(), u32> {
        let mut state = self.state()?;
        let key = self.device.keys.get(index).ok_or(SDR_KEYNOTEXIST)?;
        if !key.password_matches(password) {
            return Err(SDR_PRKRERR);
        }
        state.rights.insert(index);
        Ok(())
    }

    /// `SDF_ReleasePrivateKeyAccessRight` (releasing a right not held is not an error).
    pub(crate) fn release_access_right(&self, index: u32) -> Result<(), u32> {
        self.state()?.rights.remove(&index);
        Ok(())
    }

    /// `SDF_ExportSignPublicKey_ECC`.
    pub(crate) fn export_sign_public_key(&self, index: u32) -> Result<EccRefPublicKey, u32> {
        drop(self.state()?);
        let key = self.device.keys.get(index).ok_or(SDR_KEYNOTEXIST)?;
        let (x, y) = (word(&key.public_key[1..33])?, word(&key.public_key[33..])?);
        Ok(self.layout().public_key(&x, &y))
    }

    /// `SDF_InternalSign_ECC` over e (32 bytes), with the access right held by this session.
    pub(crate) fn internal_sign(&self, index: u32, e: &[u8]) -> Result<EccSignature, u32> {
        let e = word(e)?;
        let key = self.device.keys.get(index).ok_or(SDR_KEYNOTEXIST)?;
        if !self.state()?.rights.contains(&index) {
            return Err(SDR_PARDENY);
        }
        let ticket = self.begin(Work::Sm2 { items: 1 }, 32, 128)?;
        let (r, mut s) = crypto::sign(&key.secret, &e).map_err(|_| SDR_SIGNERR)?;
        if ticket.corrupt {
            flip_bit(&mut s, ticket.pick);
        }
        ticket.wait();
        Ok(self.layout().signature(&r, &s))
    }

    /// `SDF_GenerateRandom`: at most 256 bytes a call, as the strictest libraries.
    pub(crate) fn generate_random(&self, out: &mut [u8]) -> Result<(), u32> {
        drop(self.state()?);
        if out.len() > MAX_RANDOM_PER_CALL {
            return Err(SDR_INARGERR);
        }
        keystore::os_random(out).map_err(|_| SDR_RANDERR)
    }

    /// `SDF_HashInit`: plain SM3, or SM3 that starts with Z when given a public key and an ID.
    pub(crate) fn hash_init(&self, alg: u32, key: Option<&EccRefPublicKey>, id: &[u8]) -> Result<(), u32> {
        let mut state = self.state()?;
        if alg != SGD_SM3 {
            return Err(SDR_ALGNOTSUPPORT);
        }
        let hash = match key {
            None => Hash::new(),
            Some(key) => {
                let (x, y) = self.layout().key_coordinates(key).ok_or(SDR_INARGERR)?;
                if id.is_empty() || !crypto::is_point(&x, &y) {
                    return Err(SDR_INARGERR);
                }
                Hash::with_z(&x, &y, id).ok_or(SDR_INARGERR)?
            }
        };
        state.hash = Some(hash);
        Ok(())
    }

    /// `SDF_HashUpdate`: length 0 refused, as some libraries do.
    pub(crate) fn hash_update(&self, data: &[u8]) -> Result<(), u32> {
        let mut state = self.state()?;
        if data.is_empty() {
            return Err(SDR_INARGERR);
        }
        state.hash.as_mut().ok_or(SDR_STEPERR)?.update(data);
        Ok(())
    }

    /// `SDF_HashFinal`: the digest; the computation ends whatever the outcome.
    pub(crate) fn hash_final(&self) -> Result<[u8; 32], u32> {
        let hash = self.state()?.hash.take().ok_or(SDR_STEPERR)?;
        let blocks = sm3_blocks(hash.len());
        let ticket = self.begin(Work::Sm3 { blocks: vec![blocks] }, hash.len(), 32)?;
        let mut digest = hash.finish();
        if ticket.corrupt {
            flip_bit(&mut digest, ticket.pick);
        }
        ticket.wait();
        Ok(digest)
    }
}

/// Flip one bit of `bytes`, chosen by `pick`.
fn flip_bit(bytes: &mut [u8; 32], pick: u64) {
    let bit = pick % 256;
    bytes[usize::try_from(bit / 8).unwrap_or(0)] ^= 1 << (bit % 8);
}
