//! SM2 signature verification, GB/T 32918.2-2016 section 7 (verification steps B1-B7),
//! and the Z / e hashing of section 5.5 and 6.1.
//!
//! Owns: `Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)`, `e = SM3(Z ‖ M)`, and the
//! verification of (r, s) over e with a public key, cold or with a per-key table.
//! Never: signing, secrets, decoding of signature formats (DER lives in the accel layer,
//! which hands us r and s as 32-byte big-endian integers).
//!
//! Everything here is variable time: signatures, keys and messages are public data.

use super::curve;
use super::field::{limbs_lt, Fe, P};
use super::point::{AffinePoint, JacobianPoint};
use super::scalar::{add_raw, wnaf_vartime, Scalar, N};
use super::table::{base_table, PublicKeyTable, SplitTable, G_CHUNKS, KEY_CHUNKS};
use crate::sm3::{Digest, Sm3};
use crate::Error;

/// The default distinguishing ID of GM/T 0009-2012: "1234567812345678".
pub const DEFAULT_ID: &[u8] = b"1234567812345678";

/// The longest ID whose bit length fits ENTL's two bytes.
pub const MAX_ID_LEN: usize = 8191;

/// wNAF width for a cold public key: 8 odd multiples (one doubling, seven additions)
/// against about 43 additions in the main loop; widths 4 and 6 cost more in total.
const COLD_KEY_WIDTH: u32 = 5;

/// Why a well-formed signature does not verify. A verdict, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Rejection {
    /// B1: r is 0 or not below n.
    #[error("r is not in [1, n-1]")]
    ROutOfRange,
    /// B2: s is 0 or not below n.
    #[error("s is not in [1, n-1]")]
    SOutOfRange,
    /// B5: t = (r + s) mod n is 0.
    #[error("t = (r + s) mod n is zero")]
    TIsZero,
    /// B6: s*G + t*P is the point at infinity.
    #[error("s*G + t*P is the point at infinity")]
    Identity,
    /// B7: R = (e + x1) mod n differs from r.
    #[error("R = (e + x1) mod n does not equal r")]
    Mismatch,
}

/// Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GB/T 32918.2 section 5.5).
/// Fails only for an ID longer than [`MAX_ID_LEN`] bytes (ENTL is its length in bits, 16 bits).
pub fn z_value(id: &[u8], key: &AffinePoint) -> Result<Digest, Error> {
    if id.len() > MAX_ID_LEN {
        return Err(Error::IdTooLong(id.len()));
    }
    let entl = u16::try_from(id.len() * 8).map_err(|_| Error::IdTooLong(id.len()))?;
    let mut h = Sm3::new();
    h.update(&entl.to_be_bytes());
    h.update(id);
    h.update(&curve::A_BYTES);
    h.update(&curve::B_BYTES);
    h.update(&curve::GX_BYTES);
    h.update(&curve::GY_BYTES);
    h.update(&key.x_bytes());
    h.update(&key.y_bytes());
    Ok(h.finalize())
}

/// e = SM3(Z ‖ M) (GB/T 32918.2 section 7.1, steps B3 and B4).
pub fn message_digest(z: &Digest, msg: &[u8]) -> Digest {
    let mut h = Sm3::new();
    h.update(z);
    h.update(msg);
    h.finalize()
}

/// Verify (r, s) over the message digest e with a public key (steps B1, B2, B5-B7; the
/// caller did B3-B4 with [`message_digest`]). `r`, `s`, `e` are 32-byte big-endian integers.
pub fn verify_prehashed_vartime(
    key: &AffinePoint,
    e: &[u8; 32],
    r: &[u8; 32],
    s: &[u8; 32],
) -> Result<(), Rejection> {
    verify_inner(KeySide::Cold(key), e, r, s)
}

/// As [`verify_prehashed_vartime`], with the key's precomputed table (hot signers).
pub fn verify_with_table_vartime(
    table: &PublicKeyTable,
    e: &[u8; 32],
    r: &[u8; 32],
    s: &[u8; 32],
) -> Result<(), Rejection> {
    verify_inner(KeySide::Table(&table.table), e, r, s)
}

enum KeySide<'a> {
    Cold(&'a AffinePoint),
    Table(&'a SplitTable),
}

fn verify_inner(key: KeySide<'_>, e: &[u8; 32], r: &[u8; 32], s: &[u8; 32]) -> Result<(), Rejection> {
    // B1: r' in [1, n-1].
    let r = Scalar::from_bytes(r)
        .filter(|r| !r.is_zero())
        .ok_or(Rejection::ROutOfRange)?;
    // B2: s' in [1, n-1].
    let s = Scalar::from_bytes(s)
        .filter(|s| !s.is_zero())
        .ok_or(Rejection::SOutOfRange)?;
    // B3, B4: e' = SM3(Z_A ‖ M'), done by the caller; reduce it mod n for B7.
    let e = Scalar::reduce_bytes(e);
    // B5: t = (r' + s') mod n; t = 0 fails.
    let t = r.add(&s);
    if t.is_zero() {
        return Err(Rejection::TIsZero);
    }
    // B6: (x1', y1') = [s']G + [t]P_A.
    let sum = lincomb_vartime(&s, &t, &key);
    // B7: R = (e' + x1') mod n; accept iff R = r'.
    check_x_vartime(&sum, &e, &r)
}

/// s*G + t*P with one shared doubling chain (Straus/Shamir), G from its split table, P
/// either from its split table or from 8 odd multiples built here.
#[inline(never)]
fn lincomb_vartime(s: &Scalar, t: &Scalar, key: &KeySide<'_>) -> JacobianPoint {
    let g = base_table();
    const G_LEN: usize = 256 / G_CHUNKS + 1;
    let mut g_digits = [[0i8; G_LEN]; G_CHUNKS];
    let mut top = 0;
    for (c, digits) in g_digits.iter_mut().enumerate() {
        top = top.max(wnaf_vartime(&s.0, c * g.chunk_bits(), g.chunk_bits(), g.width, digits));
    }

    let mut acc = JacobianPoint::IDENTITY;
    match key {
        KeySide::Cold(p) => {
            let mut p_digits = [0i8; 257];
            top = top.max(wnaf_vartime(&t.0, 0, 256, COLD_KEY_WIDTH, &mut p_digits));
            // Odd multiples P, 3P, ..., 15P in Jacobian form: converting them to affine would
            // cost an inversion that the cheaper mixed additions do not win back.
            let p1 = JacobianPoint::from_affine(p);
            let p2 = p1.double();
            let mut odd = [p1; 1 << (COLD_KEY_WIDTH - 2)];
            for i in 1..odd.len() {
                odd[i] = odd[i - 1].add(&p2);
            }
            for i in (0..top).rev() {
                if !acc.is_identity() {
                    acc = acc.double();
                }
                let d = p_digits[i];
                if d > 0 {
                    acc = acc.add(&odd[usize::from(d.unsigned_abs()) >> 1]);
                } else if d < 0 {
                    acc = acc.add(&odd[usize::from(d.unsigned_abs()) >> 1].neg());
                }
                if i < G_LEN {
                    acc = add_split_digits(acc, g, &g_digits, i);
                }
            }
        }
        KeySide::Table(pt) => {
            debug_assert_eq!(pt.chunks, KEY_CHUNKS);
            const K_LEN: usize = 256 / KEY_CHUNKS + 1;
            let mut k_digits = [[0i8; K_LEN]; KEY_CHUNKS];
            for (c, digits) in k_digits.iter_mut().enumerate() {
                top = top.max(wnaf_vartime(&t.0, c * pt.chunk_bits(), pt.chunk_bits(), pt.width, digits));
            }
            for i in (0..top).rev() {
                if !acc.is_identity() {
                    acc = acc.double();
                }
                if i < K_LEN {
                    acc = add_split_digits(acc, pt, &k_digits, i);
                }
                if i < G_LEN {
                    acc = add_split_digits(acc, g, &g_digits, i);
                }
            }
        }
    }
    acc
}

#[inline(always)]
fn add_split_digits<const LEN: usize>(
    mut acc: JacobianPoint,
    table: &SplitTable,
    digits: &[[i8; LEN]],
    i: usize,
) -> JacobianPoint {
    for (c, chunk) in digits.iter().enumerate() {
        let d = chunk[i];
        if d != 0 {
            acc = acc.add_affine(&table.lookup(c, d));
        }
    }
    acc
}

/// B7 without inverting Z: x1 = X / Z^2, and (e + x1) mod n = r iff x1 mod n = (r - e) mod n
/// =: c. As p < 2n, x1 in [0, p) reduces to c iff x1 = c, or x1 = c + n when c + n < p.
fn check_x_vartime(sum: &JacobianPoint, e: &Scalar, r: &Scalar) -> Result<(), Rejection> {
    if sum.is_identity() {
        return Err(Rejection::Identity);
    }
    let c = r.sub(e);
    let z2 = sum.z.square();
    if Fe::from_canonical_limbs(c.0).mul(&z2) == sum.x {
        return Ok(());
    }
    let (c_plus_n, carry) = add_raw(&c.0, &N);
    if carry == 0 && limbs_lt(&c_plus_n, &P) && Fe::from_canonical_limbs(c_plus_n).mul(&z2) == sum.x {
        return Ok(());
    }
    Err(Rejection::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// s*G + t*P through the split tables equals the cold path and plain double-and-add.
    #[test]
    fn table_and_cold_paths_agree() {
        let g = AffinePoint::generator();
        // P = 7G (any point will do).
        let mut p = JacobianPoint::from_affine(&g);
        for _ in 0..6 {
            p = p.add_affine(&g);
        }
        let p = p.to_affine().expect("7G is not the identity");
        let table = PublicKeyTable::new(&p);
        let s = Scalar([0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, 0x1111_2222_3333_4444, 0x0fff_ffff_ffff_ffff]);
        let t = Scalar([0xdead_beef, 0x1, 0x8000_0000_0000_0000, 0x7fff_0000_ffff_0000]);
        let cold = lincomb_vartime(&s, &t, &KeySide::Cold(&p)).to_affine();
        let hot = lincomb_vartime(&s, &t, &KeySide::Table(&table.table)).to_affine();
        // Reference: double-and-add over s*G and t*P separately.
        let mul = |k: &Scalar, base: &AffinePoint| {
            let mut acc = JacobianPoint::IDENTITY;
            for bit in (0..256).rev() {
                acc = acc.double();
                if (k.0[bit / 64] >> (bit % 64)) & 1 == 1 {
                    acc = acc.add_affine(base);
                }
            }
            acc
        };
        let reference = mul(&s, &g).add(&mul(&t, &p)).to_affine();
        assert_eq!(cold, reference);
        assert_eq!(hot, reference);
    }
}
