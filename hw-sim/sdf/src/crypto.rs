//! The soft card's math, all of it RustCrypto (`sm2`, `sm3`): verification over a given e,
//! signing (constant time, k by RFC 6979), SM3, and Z for `SDF_HashInit` with a key.
//!
//! Owns: turning 32-byte big-endian values into RustCrypto types and back. Never: anything
//! from `xinlian-kernels`: this is the second implementation that accel's conformance suite
//! compares the first against.

use sm2::dsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm3::{Digest, Sm3};

/// The default distinguishing ID (GM/T 0009).
pub(crate) const DEFAULT_ID: &str = "1234567812345678";

/// a, b, xG, yG of the SM2 curve (GB/T 32918.5), in the order Z hashes them.
const CURVE_FOR_Z: [&str; 4] = [
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC",
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93",
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7",
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
];

/// Why a computation could not run (not a verdict).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The public key is not a point of the curve.
    BadKey,
    /// The secret is 0 or not below n, or signing failed.
    BadSecret,
}

fn sec1(x: &[u8; 32], y: &[u8; 32]) -> [u8; 65] {
    let mut out = [0u8; 65];
    out[0] = 0x04;
    out[1..33].copy_from_slice(x);
    out[33..].copy_from_slice(y);
    out
}

/// Verify (r, s) over e with the key (x, y): steps B1, B2 and B5-B7 of GB/T 32918.2 (B3-B4,
/// e = SM3(Z ‖ M), the caller did). `Ok(false)` is a signature that does not verify.
pub(crate) fn verify(x: &[u8; 32], y: &[u8; 32], e: &[u8; 32], r: &[u8; 32], s: &[u8; 32]) -> Result<bool, Refusal> {
    let key = VerifyingKey::from_sec1_bytes(DEFAULT_ID, &sec1(x, y)).map_err(|_| Refusal::BadKey)?;
    // B1, B2: r and s in [1, n-1]; RustCrypto refuses to build a signature otherwise.
    let Ok(sig) = Signature::from_scalars(*r, *s) else {
        return Ok(false);
    };
    Ok(key.verify_prehash(e, &sig).is_ok())
}

/// Sign e with a secret scalar (steps A3-A7; e = SM3(Z ‖ M) is the caller's A1-A2).
pub(crate) fn sign(secret: &[u8; 32], e: &[u8; 32]) -> Result<([u8; 32], [u8; 32]), Refusal> {
    let key = SigningKey::from_slice(DEFAULT_ID, secret).map_err(|_| Refusal::BadSecret)?;
    let sig: Signature = key.sign_prehash(e).map_err(|_| Refusal::BadSecret)?;
    Ok((sig.r_bytes().into(), sig.s_bytes().into()))
}

/// The uncompressed public key of a secret scalar.
pub(crate) fn public_key(secret: &[u8; 32]) -> Result<[u8; 65], Refusal> {
    let key = SigningKey::from_slice(DEFAULT_ID, secret).map_err(|_| Refusal::BadSecret)?;
    let bytes = key.verifying_key().to_sec1_bytes();
    bytes.as_ref().try_into().map_err(|_| Refusal::BadSecret)
}

/// Whether (x, y) is a point of the curve.
pub(crate) fn is_point(x: &[u8; 32], y: &[u8; 32]) -> bool {
    VerifyingKey::from_sec1_bytes(DEFAULT_ID, &sec1(x, y)).is_ok()
}

/// An SM3 computation in progress.
#[derive(Clone, Debug, Default)]
pub(crate) struct Hash {
    state: Sm3,
    len: u64,
}

impl Hash {
    /// Plain SM3.
    pub(crate) fn new() -> Hash {
        Hash::default()
    }

    /// SM3 that starts with Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ x ‖ y) (GB/T 32918.2 section
    /// 5.5): what `SDF_HashInit` does when given a public key and an ID.
    pub(crate) fn with_z(x: &[u8; 32], y: &[u8; 32], id: &[u8]) -> Option<Hash> {
        let entl = u16::try_from(id.len().checked_mul(8)?).ok()?;
        let mut z = Sm3::new();
        z.update(entl.to_be_bytes());
        z.update(id);
        for constant in CURVE_FOR_Z {
            z.update(hex::decode(constant).ok()?);
        }
        z.update(x);
        z.update(y);
        let mut h = Hash::new();
        h.update(&z.finalize());
        Some(h)
    }

    /// Absorb bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.state.update(data);
        self.len += data.len() as u64;
    }

    /// Bytes absorbed so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The digest.
    pub(crate) fn finish(self) -> [u8; 32] {
        self.state.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    // GB/T 32918.5 Annex A, the example accel's self-test uses too.
    const X: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
    const Y: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
    const E: &str = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640";
    const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
    const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

    #[test]
    fn the_standard_example_verifies_and_its_z_and_e_are_right() {
        let (x, y, e, r, s) = (h32(X), h32(Y), h32(E), h32(R), h32(S));
        assert_eq!(verify(&x, &y, &e, &r, &s), Ok(true));
        let mut bad = e;
        bad[31] ^= 1;
        assert_eq!(verify(&x, &y, &bad, &r, &s), Ok(false));
        assert_eq!(verify(&x, &y, &e, &[0; 32], &s), Ok(false));
        assert_eq!(verify(&x, &x, &e, &r, &s), Err(Refusal::BadKey));
        let mut h = Hash::with_z(&x, &y, DEFAULT_ID.as_bytes()).unwrap();
        h.update(b"message digest");
        assert_eq!(h.finish(), e);
    }

    #[test]
    fn a_signature_verifies_under_its_public_key() {
        let secret = [7u8; 32];
        let pk = public_key(&secret).unwrap();
        let e = [0x42u8; 32];
        let (r, s) = sign(&secret, &e).unwrap();
        let (x, y) = (pk[1..33].try_into().unwrap(), pk[33..].try_into().unwrap());
        assert_eq!(verify(&x, &y, &e, &r, &s), Ok(true));
        assert!(is_point(&x, &y) && !is_point(&y, &x));
        assert_eq!(sign(&[0u8; 32], &e), Err(Refusal::BadSecret));
        assert_eq!(sign(&[0xFFu8; 32], &e), Err(Refusal::BadSecret));
    }
}
