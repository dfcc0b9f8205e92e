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
use super::path::{available_verify_paths, verify_path, VerifyPath};
use super::point::{add_affine_lanes, add_lanes, double_lanes, AffinePoint, JacobianPoint, LANES};
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
pub fn verify_prehashed_vartime(key: &AffinePoint, e: &[u8; 32], r: &[u8; 32], s: &[u8; 32]) -> Result<(), Rejection> {
    let mut out = [Ok(())];
    verify_batch_vartime(&[Prehashed { key: KeyRef::Cold(key), e, r, s }], &mut out);
    out[0]
}

/// As [`verify_prehashed_vartime`], with the key's precomputed table (hot signers).
pub fn verify_with_table_vartime(
    table: &PublicKeyTable,
    e: &[u8; 32],
    r: &[u8; 32],
    s: &[u8; 32],
) -> Result<(), Rejection> {
    let mut out = [Ok(())];
    verify_batch_vartime(&[Prehashed { key: KeyRef::Table(table), e, r, s }], &mut out);
    out[0]
}

/// The public key side of a verification: a bare key, or a key with its table.
#[derive(Clone, Copy, Debug)]
pub enum KeyRef<'a> {
    /// A key seen for the first time (8 odd multiples are built per verification).
    Cold(&'a AffinePoint),
    /// A hot key with its precomputed table.
    Table(&'a PublicKeyTable),
}

/// One verification with e already computed.
#[derive(Clone, Copy, Debug)]
pub struct Prehashed<'a> {
    /// The public key.
    pub key: KeyRef<'a>,
    /// e = SM3(Z ‖ M), big-endian.
    pub e: &'a [u8; 32],
    /// r, big-endian.
    pub r: &'a [u8; 32],
    /// s, big-endian.
    pub s: &'a [u8; 32],
}

/// Verify many signatures; `out[i]` receives the answer for `items[i]` (`out` must be as long).
/// Several verifications run side by side (see [`point::LANES`](super::point)): on one core
/// this is the fast way to verify a batch.
pub fn verify_batch_vartime(items: &[Prehashed<'_>], out: &mut [Result<(), Rejection>]) {
    verify_batch_with_path(items, out, verify_path());
}

/// As [`verify_batch_vartime`] on a given path (for tests and benches that compare paths).
/// A path this CPU lacks (see [`available_verify_paths`]) falls back to the portable one.
pub fn verify_batch_with_path(items: &[Prehashed<'_>], out: &mut [Result<(), Rejection>], path: VerifyPath) {
    let path = if available_verify_paths().contains(&path) { path } else { VerifyPath::Portable };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = path;
    assert_eq!(items.len(), out.len(), "one answer slot per item");
    let mut cold: Vec<Pending<'_>> = Vec::new();
    let mut hot: Vec<Pending<'_>> = Vec::new();
    for (idx, item) in items.iter().enumerate() {
        match precheck(item) {
            Err(rejection) => out[idx] = Err(rejection),
            Ok((s, t, e, r)) => {
                let p = Pending { idx, s, t, e, r, key: item.key };
                match item.key {
                    KeyRef::Cold(_) => cold.push(p),
                    KeyRef::Table(_) => hot.push(p),
                }
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    let cold = if path == VerifyPath::Ifma {
        let mut groups = cold.chunks_exact(super::ifma::WIDTH);
        for group in groups.by_ref() {
            let s: [Scalar; super::ifma::WIDTH] = core::array::from_fn(|l| group[l].s);
            let t: [Scalar; super::ifma::WIDTH] = core::array::from_fn(|l| group[l].t);
            let keys: [AffinePoint; super::ifma::WIDTH] = core::array::from_fn(|l| match group[l].key {
                KeyRef::Cold(k) => *k,
                // Only cold keys are collected in `cold`.
                KeyRef::Table(t) => *t.key(),
            });
            // SAFETY: VerifyPath::Ifma is only selected when the CPU has AVX-512F and IFMA.
            let sums = unsafe { super::ifma::lincomb8_vartime(&s, &t, &keys) };
            for (p, sum) in group.iter().zip(sums.iter()) {
                out[p.idx] = check_x_vartime(sum, &p.e, &p.r);
            }
        }
        groups.remainder().to_vec()
    } else {
        cold
    };
    #[cfg(target_arch = "x86_64")]
    let hot = if path == VerifyPath::Ifma {
        // Hot keys whose table has no IFMA layout (built while the portable path was
        // selected) stay portable.
        let (with, without): (Vec<Pending<'_>>, Vec<Pending<'_>>) =
            hot.into_iter().partition(|p| matches!(p.key, KeyRef::Table(t) if t.ifma.is_some()));
        let mut groups = with.chunks_exact(super::ifma::WIDTH);
        for group in groups.by_ref() {
            let s: [Scalar; super::ifma::WIDTH] = core::array::from_fn(|l| group[l].s);
            let t: [Scalar; super::ifma::WIDTH] = core::array::from_fn(|l| group[l].t);
            let tables: [&[u64]; super::ifma::WIDTH] = core::array::from_fn(|l| match group[l].key {
                KeyRef::Table(t) => t.ifma.as_deref().unwrap_or(&[]),
                KeyRef::Cold(_) => &[],
            });
            // SAFETY: VerifyPath::Ifma is only selected when the CPU has AVX-512F and IFMA,
            // and every table here is an `ifma::key_table` (partitioned above).
            let sums = unsafe { super::ifma::lincomb8_tables_vartime(&s, &t, &tables) };
            for (p, sum) in group.iter().zip(sums.iter()) {
                out[p.idx] = check_x_vartime(sum, &p.e, &p.r);
            }
        }
        let mut rest = groups.remainder().to_vec();
        rest.extend(without);
        rest
    } else {
        hot
    };
    for group in cold.chunks(LANES).chain(hot.chunks(LANES)) {
        let sums = lincomb_lanes_vartime(group);
        for (p, sum) in group.iter().zip(sums.iter()) {
            // B7: R = (e' + x1') mod n; accept iff R = r'.
            out[p.idx] = check_x_vartime(sum, &p.e, &p.r);
        }
    }
}

/// A verification that passed B1, B2 and B5, waiting for B6-B7.
#[derive(Clone)]
struct Pending<'a> {
    idx: usize,
    s: Scalar,
    t: Scalar,
    e: Scalar,
    r: Scalar,
    key: KeyRef<'a>,
}

/// r, s and t of a signature that passed the range checks (steps B1, B2 and B5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckedScalars {
    /// r' in [1, n-1].
    pub r: Scalar,
    /// s' in [1, n-1].
    pub s: Scalar,
    /// t = (r' + s') mod n, not zero.
    pub t: Scalar,
}

/// Steps B1, B2 and B5 of GB/T 32918.2 on their own: the checks that need no curve arithmetic.
/// Every path runs exactly these (the OpenCL backend on the host before it packs an item; the
/// SDF backend on the host before it calls the card, which can only answer "invalid"), so that
/// a signature out of range is rejected for the same reason wherever it is verified.
pub fn check_scalars(r: &[u8; 32], s: &[u8; 32]) -> Result<CheckedScalars, Rejection> {
    // B1: r' in [1, n-1].
    let r = Scalar::from_bytes(r).filter(|r| !r.is_zero()).ok_or(Rejection::ROutOfRange)?;
    // B2: s' in [1, n-1].
    let s = Scalar::from_bytes(s).filter(|s| !s.is_zero()).ok_or(Rejection::SOutOfRange)?;
    // B5: t = (r' + s') mod n; t = 0 fails.
    let t = r.add(&s);
    if t.is_zero() {
        return Err(Rejection::TIsZero);
    }
    Ok(CheckedScalars { r, s, t })
}

/// Steps B1, B2, B5: (s, t, e mod n, r).
fn precheck(item: &Prehashed<'_>) -> Result<(Scalar, Scalar, Scalar, Scalar), Rejection> {
    let CheckedScalars { r, s, t } = check_scalars(item.r, item.s)?;
    // B3, B4: e' = SM3(Z_A ‖ M'), done by the caller; reduced mod n for B7.
    let e = Scalar::reduce_bytes(item.e);
    Ok((s, t, e, r))
}

/// The key side of one portable lane: a bare key, or a table in the portable layout.
enum LaneKey<'a> {
    Cold(&'a AffinePoint),
    Split(&'a SplitTable),
}

/// A table without the portable layout (built for the IFMA path) is verified as a cold key.
fn lane_key<'a>(key: &KeyRef<'a>) -> LaneKey<'a> {
    match key {
        KeyRef::Cold(k) => LaneKey::Cold(k),
        KeyRef::Table(t) => match &t.table {
            Some(table) => LaneKey::Split(table),
            None => LaneKey::Cold(&t.key),
        },
    }
}

const G_LEN: usize = 256 / G_CHUNKS + 1;
const K_LEN: usize = 256 / KEY_CHUNKS + 1;
const COLD_ODD: usize = 1 << (COLD_KEY_WIDTH - 2);

/// B6: `(x1', y1') = [s']G + [t]P_A` for up to LANES verifications side by side, with one
/// doubling chain per lane (Straus/Shamir): G from its split table, P from its split table
/// (hot) or from 8 odd multiples built here (cold).
#[inline(never)]
fn lincomb_lanes_vartime(group: &[Pending<'_>]) -> [JacobianPoint; LANES] {
    let n = group.len();
    debug_assert!(n <= LANES);
    let g = base_table();
    let mut top = 0;

    let mut g_digits = [[[0i8; G_LEN]; G_CHUNKS]; LANES];
    let mut cold_digits = [[0i8; 257]; LANES];
    let mut hot_digits = [[[0i8; K_LEN]; KEY_CHUNKS]; LANES];
    let mut odd = [[JacobianPoint::IDENTITY; COLD_ODD]; LANES];
    let mut tables: [Option<&SplitTable>; LANES] = [None; LANES];
    let mut any_cold = false;

    for (l, p) in group.iter().enumerate() {
        for (c, digits) in g_digits[l].iter_mut().enumerate() {
            top = top.max(wnaf_vartime(&p.s.0, c * g.chunk_bits(), g.chunk_bits(), g.width, digits));
        }
        match lane_key(&p.key) {
            LaneKey::Cold(_) => {
                any_cold = true;
                top = top.max(wnaf_vartime(&p.t.0, 0, 256, COLD_KEY_WIDTH, &mut cold_digits[l]));
            }
            LaneKey::Split(table) => {
                debug_assert_eq!(table.chunks, KEY_CHUNKS);
                for (c, digits) in hot_digits[l].iter_mut().enumerate() {
                    top =
                        top.max(wnaf_vartime(&p.t.0, c * table.chunk_bits(), table.chunk_bits(), table.width, digits));
                }
                tables[l] = Some(table);
            }
        }
    }

    if any_cold {
        // Odd multiples P, 3P, ..., 15P in Jacobian form, all cold lanes at once: converting
        // them to affine would cost an inversion that cheaper mixed additions do not win back.
        let mut twice = [JacobianPoint::IDENTITY; LANES];
        let mut cur = [JacobianPoint::IDENTITY; LANES];
        let mut lanes = [0usize; LANES];
        let mut m = 0;
        for (l, p) in group.iter().enumerate() {
            if let LaneKey::Cold(key) = lane_key(&p.key) {
                cur[l] = JacobianPoint::from_affine(key);
                twice[l] = cur[l];
                odd[l][0] = cur[l];
                lanes[m] = l;
                m += 1;
            }
        }
        double_lanes(&mut twice[..n]);
        let mut addends = [JacobianPoint::IDENTITY; LANES];
        for k in 1..COLD_ODD {
            for j in 0..m {
                addends[j] = twice[lanes[j]];
            }
            add_lanes(&mut cur[..n], &lanes[..m], &addends[..m]);
            for &l in &lanes[..m] {
                odd[l][k] = cur[l];
            }
        }
    }

    let mut acc = [JacobianPoint::IDENTITY; LANES];
    let mut lanes = [0usize; LANES];
    let mut jac = [JacobianPoint::IDENTITY; LANES];
    let mut aff = [AffinePoint::generator(); LANES];
    for i in (0..top).rev() {
        double_lanes(&mut acc[..n]);

        // The key side: cold lanes add a Jacobian odd multiple.
        let mut m = 0;
        for l in 0..n {
            let d = cold_digits[l][i];
            if d != 0 {
                let q = odd[l][usize::from(d.unsigned_abs()) >> 1];
                jac[m] = if d < 0 { q.neg() } else { q };
                lanes[m] = l;
                m += 1;
            }
        }
        if m > 0 {
            add_lanes(&mut acc[..n], &lanes[..m], &jac[..m]);
        }

        // Hot lanes add from their split tables, and every lane from G's.
        if i < K_LEN {
            for c in 0..KEY_CHUNKS {
                let mut m = 0;
                for l in 0..n {
                    if let Some(table) = tables[l] {
                        let d = hot_digits[l][c][i];
                        if d != 0 {
                            aff[m] = table.lookup(c, d);
                            lanes[m] = l;
                            m += 1;
                        }
                    }
                }
                if m > 0 {
                    add_affine_lanes(&mut acc[..n], &lanes[..m], &aff[..m]);
                }
            }
        }
        if i < G_LEN {
            for c in 0..G_CHUNKS {
                let mut m = 0;
                for l in 0..n {
                    let d = g_digits[l][c][i];
                    if d != 0 {
                        aff[m] = g.lookup(c, d);
                        lanes[m] = l;
                        m += 1;
                    }
                }
                if m > 0 {
                    add_affine_lanes(&mut acc[..n], &lanes[..m], &aff[..m]);
                }
            }
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
        let table = PublicKeyTable::with_layouts(&p, true, false);
        let s = Scalar([0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, 0x1111_2222_3333_4444, 0x0fff_ffff_ffff_ffff]);
        let t = Scalar([0xdead_beef, 0x1, 0x8000_0000_0000_0000, 0x7fff_0000_ffff_0000]);
        let pending = |key| Pending { idx: 0, s, t, e: Scalar::ZERO, r: Scalar::ONE, key };
        let cold = lincomb_lanes_vartime(&[pending(KeyRef::Cold(&p))])[0].to_affine();
        let hot = lincomb_lanes_vartime(&[pending(KeyRef::Table(&table))])[0].to_affine();
        // Mixed lanes in one group give the same answers.
        let mixed = lincomb_lanes_vartime(&[
            pending(KeyRef::Table(&table)),
            pending(KeyRef::Cold(&p)),
            pending(KeyRef::Cold(&g)),
        ]);
        assert_eq!(mixed[0].to_affine(), hot);
        assert_eq!(mixed[1].to_affine(), cold);
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
