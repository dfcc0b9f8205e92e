//! A signer's public key and Z value from untrusted bytes: the one place where key bytes
//! become a point.
//!
//! Owns: SEC1 decoding of the key (on the curve, not the identity) and Z = SM3(ENTL ‖ ID ‖
//! a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA), both from the kernels, with the kernels' reason when the bytes
//! are no key. Never: verdicts ([`crate::verdict`] turns the reason into `Malformed`) or
//! caching ([`crate::cache`] calls this on a miss).

use xinlian_kernels::sm2::{self, AffinePoint};
use xinlian_kernels::sm3::Digest;

/// The decoded key and its Z value for `id`, or why the bytes are not a key (or the ID is too
/// long for ENTL).
pub(crate) fn decode(pubkey: &[u8], id: &[u8]) -> Result<(AffinePoint, Digest), xinlian_kernels::Error> {
    let key = AffinePoint::from_sec1(pubkey)?;
    let z = sm2::z_value(id, &key)?;
    Ok((key, z))
}
