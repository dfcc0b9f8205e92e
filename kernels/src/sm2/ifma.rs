//! Eight cold-key verifications at once with AVX-512 IFMA (52-bit multiply-accumulate).
//!
//! Owns: a field element type for eight lanes ([`V`]: five 52-bit limbs per lane, Montgomery
//! form with R = 2^260), the point formulas over it, the fixed-window recoding that lets all
//! lanes add at the same positions, and the G table in this layout.
//! Never: secrets (variable time), keys with per-key tables (those stay on the portable path,
//! already three times cheaper), or a verdict of its own: lanes come back as Jacobian points
//! and B7 runs in the portable code.
//!
//! Why: the portable 4x64-bit multiplication is about 240 instructions; one IFMA Montgomery
//! multiplication is about 120 vector instructions for eight of them. Every lane follows
//! the same schedule (fixed signed windows: a P-addition every 5 doublings, G-additions at
//! offsets 0/8/16/24 of a split table), lanes with a zero digit discard the addition by mask.
//!
//! Value bounds (every `V` obeys them): limbs 0..3 in [0, 2^52), limb 4 below 2^49, value
//! below 2^257 (so 0, p and 2p are the only representations of zero). A Montgomery product
//! of two such values is below 2^254 + p < 2^257; sums and differences are brought back by
//! folding 2^256 = 2^224 + 2^96 - 2^64 + 1 (mod p) once.
//!
//! The rare lanes where an addition meets the identity or equal x coordinates (Z3 = 0) are
//! redone one at a time by the portable formulas, which handle every case.

// Every function here is an `unsafe` target-feature function whose body is AVX-512 intrinsics;
// their one safety condition, that the CPU has AVX-512F and IFMA, is each function's own
// contract, checked once by the caller (`available`). Wrapping every intrinsic in its own
// `unsafe` block would repeat that condition hundreds of times.
#![allow(unsafe_op_in_unsafe_fn)]

use core::arch::x86_64::*;
use std::sync::OnceLock;

use super::field::Fe;
use super::point::{AffinePoint, JacobianPoint};
use super::scalar::Scalar;

/// Lanes per vector.
pub(crate) const WIDTH: usize = 8;
const M52: u64 = (1 << 52) - 1;
/// Signed window of the key side: digits in [-15, 16], multiples 1..16 of P per lane.
const P_W: usize = 5;
const P_DIGITS: usize = 52;
const P_ENTRIES: usize = 16;
/// Signed window of the G side over 8 chunks of 32 bits: digits in [-127, 128].
const G_W: usize = 8;
/// Chunks of 32 bits in every split table of this layout (G's and per-key ones).
const CHUNKS: usize = 8;
const G_ENTRIES: usize = 128;

/// Whether this CPU can run this module (checked once by std, cached).
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512ifma")
}

/// 5 little-endian 64-bit limbs to 5 limbs of 52 bits (the value must be below 2^260).
const fn to52(v: [u64; 5]) -> [u64; 5] {
    [
        v[0] & M52,
        ((v[0] >> 52) | (v[1] << 12)) & M52,
        ((v[1] >> 40) | (v[2] << 24)) & M52,
        ((v[2] >> 28) | (v[3] << 36)) & M52,
        (v[3] >> 16) | (v[4] << 48),
    ]
}

/// k * p as 5 limbs of 64 bits (k small).
const fn p_times(k: u64) -> [u64; 5] {
    let p = super::field::P;
    let mut out = [0u64; 5];
    let mut carry: u128 = 0;
    let mut i = 0;
    while i < 4 {
        let t = (p[i] as u128) * (k as u128) + carry;
        out[i] = t as u64;
        carry = t >> 64;
        i += 1;
    }
    out[4] = carry as u64;
    out
}

const P52: [u64; 5] = to52(p_times(1));
const P2_52: [u64; 5] = to52(p_times(2));
const P8_52: [u64; 5] = to52(p_times(8));

/// Field elements of eight lanes.
#[derive(Clone, Copy)]
pub(crate) struct V([__m512i; 5]);

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn splat(x: u64) -> __m512i {
    _mm512_set1_epi64(x as i64)
}

impl V {
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn from_lanes(limbs: &[[u64; WIDTH]; 5]) -> V {
        V([
            _mm512_loadu_si512(limbs[0].as_ptr().cast()),
            _mm512_loadu_si512(limbs[1].as_ptr().cast()),
            _mm512_loadu_si512(limbs[2].as_ptr().cast()),
            _mm512_loadu_si512(limbs[3].as_ptr().cast()),
            _mm512_loadu_si512(limbs[4].as_ptr().cast()),
        ])
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn to_lanes(self) -> [[u64; WIDTH]; 5] {
        let mut out = [[0u64; WIDTH]; 5];
        for (limb, o) in self.0.iter().zip(out.iter_mut()) {
            _mm512_storeu_si512(o.as_mut_ptr().cast(), *limb);
        }
        out
    }

    /// Montgomery product (R = 2^260): operand scanning, one reduction step per row. Since
    /// p = -1 mod 2^52, the step's multiplier is the low 52 bits of the limb it clears.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn mul(&self, b: &V) -> V {
        let mask = splat(M52);
        let p = [splat(P52[0]), splat(P52[1]), splat(P52[2]), splat(P52[3]), splat(P52[4])];
        let z = _mm512_setzero_si512();
        let mut t = [z; 10];
        for i in 0..5 {
            let bi = b.0[i];
            for j in 0..5 {
                t[i + j] = _mm512_madd52lo_epu64(t[i + j], self.0[j], bi);
                t[i + j + 1] = _mm512_madd52hi_epu64(t[i + j + 1], self.0[j], bi);
            }
            let m = _mm512_and_si512(t[i], mask);
            for j in 0..5 {
                t[i + j] = _mm512_madd52lo_epu64(t[i + j], m, p[j]);
                t[i + j + 1] = _mm512_madd52hi_epu64(t[i + j + 1], m, p[j]);
            }
            // The low 52 bits of t[i] are now zero; what is above them belongs to t[i+1].
            t[i + 1] = _mm512_add_epi64(t[i + 1], _mm512_srli_epi64::<52>(t[i]));
        }
        V(V::carry([t[5], t[6], t[7], t[8], t[9]]))
    }

    /// Carry each limb's bits above 52 into the next (arithmetic shifts, so negative limbs of
    /// a non-negative value borrow correctly); the top limb keeps what is left.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn carry(mut s: [__m512i; 5]) -> [__m512i; 5] {
        let mask = splat(M52);
        for k in 0..4 {
            s[k + 1] = _mm512_add_epi64(s[k + 1], _mm512_srai_epi64::<52>(s[k]));
            s[k] = _mm512_and_si512(s[k], mask);
        }
        s
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn square(&self) -> V {
        self.mul(self)
    }

    /// Carry-propagate signed limbs, then fold everything at and above 2^256 back in.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn normalize_fold(s: [__m512i; 5]) -> V {
        let mut s = V::carry(s);
        // Value below 2^260 and non-negative: limb 4 holds bits 208 and up; c = value >> 256.
        let c = _mm512_srli_epi64::<48>(s[4]);
        s[4] = _mm512_and_si512(s[4], splat((1 << 48) - 1));
        // + c * (2^224 + 2^96 - 2^64 + 1): bit 0 of limb 0, bits 44 and -12 of limb 1 (bit 96
        // and bit 64), bit 16 of limb 4 (bit 224).
        s[0] = _mm512_add_epi64(s[0], c);
        s[1] = _mm512_add_epi64(s[1], _mm512_sub_epi64(_mm512_slli_epi64::<44>(c), _mm512_slli_epi64::<12>(c)));
        s[4] = _mm512_add_epi64(s[4], _mm512_slli_epi64::<16>(c));
        V(V::carry(s))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn add(&self, b: &V) -> V {
        let mut s = self.0;
        for k in 0..5 {
            s[k] = _mm512_add_epi64(s[k], b.0[k]);
        }
        V::normalize_fold(s)
    }

    /// self - b + 8p (8p exceeds any value allowed here, so the sum stays non-negative).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn sub(&self, b: &V) -> V {
        let mut s = self.0;
        for k in 0..5 {
            s[k] = _mm512_sub_epi64(_mm512_add_epi64(s[k], splat(P8_52[k])), b.0[k]);
        }
        V::normalize_fold(s)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn double(&self) -> V {
        self.add(self)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn neg(&self) -> V {
        V([_mm512_setzero_si512(); 5]).sub(self)
    }

    /// Lanes whose value is 0 mod p (that is 0, p or 2p, given the bounds).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn zero_mask(&self) -> __mmask8 {
        let mut is0: __mmask8 = 0xFF;
        let mut isp: __mmask8 = 0xFF;
        let mut is2p: __mmask8 = 0xFF;
        for k in 0..5 {
            is0 &= _mm512_cmpeq_epi64_mask(self.0[k], _mm512_setzero_si512());
            isp &= _mm512_cmpeq_epi64_mask(self.0[k], splat(P52[k]));
            is2p &= _mm512_cmpeq_epi64_mask(self.0[k], splat(P2_52[k]));
        }
        is0 | isp | is2p
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn blend(mask: __mmask8, a: &V, b: &V) -> V {
        // Lanes in `mask` take b.
        let mut r = a.0;
        for k in 0..5 {
            r[k] = _mm512_mask_blend_epi64(mask, a.0[k], b.0[k]);
        }
        V(r)
    }
}

/// A portable field element to this layout's Montgomery form: x*2^256 (Fe's limbs) times 16.
fn fe_to52(x: &Fe) -> [u64; 5] {
    let y = x.double().double().double().double();
    to52([y.0[0], y.0[1], y.0[2], y.0[3], 0])
}

/// Back: the lane value v = x*2^260 (mod p), below 2^257, to the portable Fe of x.
fn fe_from52(l: [u64; 5]) -> Fe {
    let mut v = [
        l[0] | (l[1] << 52),
        (l[1] >> 12) | (l[2] << 40),
        (l[2] >> 24) | (l[3] << 28),
        (l[3] >> 36) | (l[4] << 16),
        l[4] >> 48,
    ];
    // Subtract p until below it (at most twice: v < 2^257 < 3p).
    let p = p_times(1);
    while v[4] != 0 || !super::field::limbs_lt(&[v[0], v[1], v[2], v[3]], &super::field::P) {
        let mut borrow = 0u64;
        for i in 0..5 {
            let (d, b) = super::field::sbb(v[i], p[i], borrow);
            v[i] = d;
            borrow = b;
        }
    }
    // Fe(v) stands for v / 2^256 = 16x; multiplying by the Fe of 1/16 (limbs 2^252) gives x.
    Fe([v[0], v[1], v[2], v[3]]).mul(&Fe([0, 0, 0, 1 << 60]))
}

/// Jacobian points of eight lanes.
#[derive(Clone, Copy)]
struct PointV {
    x: V,
    y: V,
    z: V,
}

impl PointV {
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn lane(&self, l: usize) -> JacobianPoint {
        let (x, y, z) = (self.x.to_lanes(), self.y.to_lanes(), self.z.to_lanes());
        let pick = |v: &[[u64; WIDTH]; 5]| fe_from52([v[0][l], v[1][l], v[2][l], v[3][l], v[4][l]]);
        JacobianPoint { x: pick(&x), y: pick(&y), z: pick(&z) }
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn set_lane(&mut self, l: usize, p: &JacobianPoint) {
        for (coord, fe) in [(&mut self.x, &p.x), (&mut self.y, &p.y), (&mut self.z, &p.z)] {
            let mut lanes = coord.to_lanes();
            for (k, limb) in fe_to52(fe).iter().enumerate() {
                lanes[k][l] = *limb;
            }
            *coord = V::from_lanes(&lanes);
        }
    }

    /// dbl-2001-b (a = -3). The identity (Z = 0) stays the identity.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn double(&self) -> PointV {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta4 = self.x.mul(&gamma).double().double();
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let x3 = alpha.square().sub(&beta4.double());
        let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma.square().double().double().double());
        PointV { x: x3, y: y3, z: z3 }
    }

    /// add-2007-bl for the lanes in `active`; other lanes keep their value. Lanes where the
    /// general formula fails (identity or equal x) are redone by the portable code.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn add_masked(&mut self, q: &PointV, active: __mmask8) {
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = self.y.mul(&q.z).mul(&z2z2);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let r = s2.sub(&s1).double();
        let i = h.double().square();
        let j = h.mul(&i);
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).double());
        let z3 = self.z.add(&q.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        let special = z3.zero_mask() & active;
        let ok = active & !special;
        let before = *self;
        self.x = V::blend(ok, &self.x, &x3);
        self.y = V::blend(ok, &self.y, &y3);
        self.z = V::blend(ok, &self.z, &z3);
        if special != 0 {
            for l in 0..WIDTH {
                if special & (1 << l) != 0 {
                    let sum = before.lane(l).add(&q.lane(l));
                    self.set_lane(l, &sum);
                }
            }
        }
    }

    /// madd-2007-bl (q affine: its z is ignored) for the lanes in `active`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn add_affine_masked(&mut self, qx: &V, qy: &V, active: __mmask8) {
        let z1z1 = self.z.square();
        let u2 = qx.mul(&z1z1);
        let s2 = qy.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let r = s2.sub(&self.y).double();
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).double());
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        let special = z3.zero_mask() & active;
        let ok = active & !special;
        let before = *self;
        self.x = V::blend(ok, &self.x, &x3);
        self.y = V::blend(ok, &self.y, &y3);
        self.z = V::blend(ok, &self.z, &z3);
        if special != 0 {
            let (xs, ys) = (qx.to_lanes(), qy.to_lanes());
            for l in 0..WIDTH {
                if special & (1 << l) != 0 {
                    let pick = |v: &[[u64; WIDTH]; 5]| fe_from52([v[0][l], v[1][l], v[2][l], v[3][l], v[4][l]]);
                    let q = AffinePoint { x: pick(&xs), y: pick(&ys) };
                    let sum = before.lane(l).add_affine(&q);
                    self.set_lane(l, &sum);
                }
            }
        }
    }
}

/// Five limbs gathered per lane: limb k of lane l from `base[offsets[l] + first + k * stride]`
/// (u64 units). The per-lane P tables interleave lanes (stride 8); G's table is point-major
/// (stride 1).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn gather5(offsets: __m512i, first: i64, stride: i64, base: *const i64) -> V {
    let mut limbs = [offsets; 5];
    for (k, limb) in limbs.iter_mut().enumerate() {
        let off = _mm512_add_epi64(offsets, splat((first + k as i64 * stride) as u64));
        *limb = _mm512_i64gather_epi64::<8>(off, base);
    }
    V(limbs)
}

/// At one offset of a split table (8 chunks of 32 bits, `per_chunk` windows each), add for
/// every chunk the lanes' digit multiples: window `o` of each chunk, or for `o == per_chunk`
/// (offset 32) the carry out of bit 255, which is chunk 7's first entry doubled 32 more times.
/// `tables[l]` is lane l's table: chunk c, multiple m at point `c * entries + m - 1`, ten
/// 52-bit limbs per point (x then y).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn add_split_digits(
    acc: &mut PointV,
    o: usize,
    digits: &[[i16; 64]; WIDTH],
    carry: &[u8; WIDTH],
    per_chunk: usize,
    entries: usize,
    tables: &[*const u64; WIDTH],
) {
    let base = tables[0];
    for c in 0..CHUNKS {
        let mut active: __mmask8 = 0;
        let mut neg: __mmask8 = 0;
        let mut offsets = [0i64; WIDTH];
        for l in 0..WIDTH {
            let d = if o == per_chunk {
                if c == CHUNKS - 1 {
                    i16::from(carry[l])
                } else {
                    0
                }
            } else {
                digits[l][c * per_chunk + o]
            };
            if d != 0 {
                active |= 1 << l;
                if d < 0 {
                    neg |= 1 << l;
                }
                let point = (c * entries) as i64 + i64::from(d.unsigned_abs()) - 1;
                // u64 units from `base`; tables of other lanes are elsewhere in memory.
                let lane_base = (tables[l] as i64 - base as i64) / 8;
                offsets[l] = lane_base + point * 10;
            }
        }
        if active == 0 {
            continue;
        }
        let off = _mm512_loadu_si512(offsets.as_ptr().cast());
        let qx = gather5(off, 0, 1, base.cast());
        let qy = gather5(off, 5, 1, base.cast());
        let qy = V::blend(neg, &qy, &qy.neg());
        acc.add_affine_masked(&qx, &qy, active);
    }
}

/// Signed fixed-window digits of a 256-bit k, window w: digit i stands for bits [w*i, w*i+w);
/// every digit but the top one is in (-2^(w-1), 2^(w-1)]; the top one takes what is left
/// (with the carry). Returns the carry out of bit 255 as an extra 0/1 (only when the top
/// window is full, i.e. w divides 256).
fn fixed_window(k: &[u64; 4], w: usize, out: &mut [i16]) -> u8 {
    let digits = 256usize.div_ceil(w);
    debug_assert!(out.len() >= digits);
    let half = 1i32 << (w - 1);
    let mut carry = 0i32;
    for (i, d) in out.iter_mut().enumerate().take(digits) {
        let pos = i * w;
        let width = w.min(256 - pos);
        let mut bits = k[pos / 64] >> (pos % 64);
        if pos % 64 + width > 64 && pos / 64 + 1 < 4 {
            bits |= k[pos / 64 + 1] << (64 - pos % 64);
        }
        let v = (bits & ((1u64 << width) - 1)) as i32 + carry;
        if width == w && v > half {
            *d = (v - (1 << w)) as i16;
            carry = 1;
        } else if width == w {
            *d = v as i16;
            carry = 0;
        } else {
            // A short top window keeps its carry: no digit beyond bit 255.
            *d = v as i16;
            carry = 0;
        }
    }
    carry as u8
}

/// G's table in this layout: for each chunk c, multiples 1..128 of 2^(32c) G, affine,
/// as 52-bit limbs [x0..x4, y0..y4] per point (80 KiB, built on first use).
fn g_table() -> &'static [u64] {
    static TABLE: OnceLock<Vec<u64>> = OnceLock::new();
    TABLE.get_or_init(|| split_multiples(&AffinePoint::generator(), G_ENTRIES))
}

/// A split table in this layout (see [`add_split_digits`]): for each of 8 chunks c, the
/// multiples 1..=entries of 2^(32c) B, affine, ten 52-bit limbs per point (x then y).
fn split_multiples(base: &AffinePoint, entries: usize) -> Vec<u64> {
    let mut jac = Vec::with_capacity(CHUNKS * entries);
    let mut chunk_base = JacobianPoint::from_affine(base);
    for c in 0..CHUNKS {
        if c > 0 {
            for _ in 0..32 {
                chunk_base = chunk_base.double();
            }
        }
        let mut m = chunk_base;
        jac.push(m);
        for _ in 1..entries {
            m = m.add(&chunk_base);
            jac.push(m);
        }
    }
    // No entry is the identity: every multiple is below the group order.
    let mut flat = Vec::with_capacity(jac.len() * 10);
    for p in JacobianPoint::batch_to_affine(&jac) {
        flat.extend_from_slice(&fe_to52(&p.x));
        flat.extend_from_slice(&fe_to52(&p.y));
    }
    flat
}

/// Build the IFMA table for G now (first use would otherwise pay about a millisecond).
pub(crate) fn warm_up() {
    let _ = g_table();
}

/// s*G + t*P for exactly eight cold keys.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512 IFMA ([`available`]).
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) unsafe fn lincomb8_vartime(
    s: &[Scalar; WIDTH],
    t: &[Scalar; WIDTH],
    keys: &[AffinePoint; WIDTH],
) -> [JacobianPoint; WIDTH] {
    let g = g_table();

    // Recode. Signed digits for P (window 5) and G (window 8, split in 8 chunks of 32 bits).
    let mut pd = [[0i16; P_DIGITS]; WIDTH];
    let mut gd = [[0i16; 64]; WIDTH];
    let mut g_carry = [0u8; WIDTH];
    for l in 0..WIDTH {
        fixed_window(&t[l].0, P_W, &mut pd[l]);
        g_carry[l] = fixed_window(&s[l].0, G_W, &mut gd[l]);
    }

    // Per-lane multiples 1..16 of P, Jacobian, stored for gathers: [entry][coord][limb][lane].
    let mut ptab = vec![[[[0u64; WIDTH]; 5]; 3]; P_ENTRIES];
    let mut lanes_x = [[0u64; WIDTH]; 5];
    let mut lanes_y = [[0u64; WIDTH]; 5];
    for (l, key) in keys.iter().enumerate() {
        for (k, (x, y)) in fe_to52(&key.x).iter().zip(fe_to52(&key.y)).enumerate() {
            lanes_x[k][l] = *x;
            lanes_y[k][l] = y;
        }
    }
    let px = V::from_lanes(&lanes_x);
    let py = V::from_lanes(&lanes_y);
    let one = V::from_lanes(&{
        let o = fe_to52(&Fe::ONE);
        core::array::from_fn(|k| [o[k]; WIDTH])
    });
    let p1 = PointV { x: px, y: py, z: one };
    let mut m = p1;
    for e in 0..P_ENTRIES {
        if e == 1 {
            m = p1.double();
        } else if e > 1 {
            // (e+1)P = eP + P; never a special case for 3 <= e+1 <= 16 with P of prime order.
            m.add_affine_masked(&px, &py, 0xFF);
        }
        ptab[e] = [m.x.to_lanes(), m.y.to_lanes(), m.z.to_lanes()];
    }
    let ptab_base = ptab.as_ptr().cast::<i64>();

    let mut acc = PointV { x: one, y: one, z: V([_mm512_setzero_si512(); 5]) };
    for pos in (0..256usize).rev() {
        acc = acc.double();

        if pos % P_W == 0 {
            let i = pos / P_W;
            let mut active: __mmask8 = 0;
            let mut neg: __mmask8 = 0;
            let mut entry = [0i64; WIDTH];
            for l in 0..WIDTH {
                let d = pd[l][i];
                if d != 0 {
                    active |= 1 << l;
                    if d < 0 {
                        neg |= 1 << l;
                    }
                    entry[l] = i64::from(d.unsigned_abs()) - 1;
                }
            }
            if active != 0 {
                // Offset of (entry, coord 0, limb 0, lane) in u64 units: entry*120 + lane.
                let mut offsets = [0i64; WIDTH];
                for (l, o) in offsets.iter_mut().enumerate() {
                    *o = entry[l] * 120 + l as i64;
                }
                let base = _mm512_loadu_si512(offsets.as_ptr().cast());
                let qy = gather5(base, 40, 8, ptab_base);
                let q = PointV {
                    x: gather5(base, 0, 8, ptab_base),
                    y: V::blend(neg, &qy, &qy.neg()),
                    z: gather5(base, 80, 8, ptab_base),
                };
                acc.add_masked(&q, active);
            }
        }

        if pos <= 32 && pos % G_W == 0 {
            add_split_digits(&mut acc, pos / G_W, &gd, &g_carry, 32 / G_W, G_ENTRIES, &[g.as_ptr(); WIDTH]);
        }
    }
    core::array::from_fn(|l| acc.lane(l))
}

/// Window of the key side with per-key tables: 8 chunks of 32 bits, digits in [-7, 8].
const K_W: usize = 4;
/// Multiples 1..8 of each chunk base: 64 points, 5 KiB per key.
const K_ENTRIES: usize = 8;

/// The per-key table in this layout (see [`add_split_digits`]): for each of 8 chunks c,
/// multiples 1..8 of 2^(32c) P, affine, ten 52-bit limbs per point.
pub(crate) fn key_table(key: &AffinePoint) -> Vec<u64> {
    split_multiples(key, K_ENTRIES)
}

/// s*G + t*P for exactly eight keys that have [`key_table`]s: a 33-step doubling chain.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512 IFMA ([`available`]), and every table must be a
/// [`key_table`] (64 points).
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) unsafe fn lincomb8_tables_vartime(
    s: &[Scalar; WIDTH],
    t: &[Scalar; WIDTH],
    tables: &[&[u64]; WIDTH],
) -> [JacobianPoint; WIDTH] {
    let g = g_table();
    let mut gd = [[0i16; 64]; WIDTH];
    let mut g_carry = [0u8; WIDTH];
    let mut kd = [[0i16; 64]; WIDTH];
    let mut k_carry = [0u8; WIDTH];
    for l in 0..WIDTH {
        debug_assert_eq!(tables[l].len(), 8 * K_ENTRIES * 10);
        g_carry[l] = fixed_window(&s[l].0, G_W, &mut gd[l]);
        k_carry[l] = fixed_window(&t[l].0, K_W, &mut kd[l]);
    }
    let key_ptrs: [*const u64; WIDTH] = core::array::from_fn(|l| tables[l].as_ptr());
    let one = V::from_lanes(&{
        let o = fe_to52(&Fe::ONE);
        core::array::from_fn(|k| [o[k]; WIDTH])
    });
    let mut acc = PointV { x: one, y: one, z: V([_mm512_setzero_si512(); 5]) };
    for pos in (0..=32usize).rev() {
        if pos < 32 {
            acc = acc.double();
        }
        if pos % K_W == 0 {
            add_split_digits(&mut acc, pos / K_W, &kd, &k_carry, 32 / K_W, K_ENTRIES, &key_ptrs);
        }
        if pos % G_W == 0 {
            add_split_digits(&mut acc, pos / G_W, &gd, &g_carry, 32 / G_W, G_ENTRIES, &[g.as_ptr(); WIDTH]);
        }
    }
    core::array::from_fn(|l| acc.lane(l))
}
