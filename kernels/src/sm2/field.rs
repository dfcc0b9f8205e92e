//! Arithmetic in the SM2 prime field GF(p), p = 2^256 - 2^224 - 2^96 + 2^64 - 1
//! (GB/T 32918.5 recommended curve).
//!
//! Owns: the field element type [`Fe`], held in Montgomery form (R = 2^256) as four
//! little-endian 64-bit limbs, always fully reduced into [0, p).
//! Never: secrets. Everything here may run in variable time (exponentiation branches on
//! the exponent, which is always a public constant).
//!
//! Why Montgomery with the prime's shape: p = -1 mod 2^64, so -p^-1 mod 2^64 = 1 and each
//! reduction step's multiplier m is simply the lowest limb. Then m * p is
//! m*2^256 - m*2^224 - m*2^96 + m*2^64 - m, which is shifts and subtractions instead of four
//! more 64x64 multiplications: a reduction costs no multiplication at all.

/// The prime p, little-endian limbs.
pub(crate) const P: [u64; 4] =
    [0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFE_FFFF_FFFF];

/// R^2 mod p, to enter Montgomery form (R = 2^256; checked against a computation in the tests).
const R2: [u64; 4] = [0x0000_0002_0000_0003, 0x0000_0002_FFFF_FFFF, 0x0000_0001_0000_0001, 0x0000_0004_0000_0002];

/// An element of GF(p) in Montgomery form, fully reduced.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fe(pub(crate) [u64; 4]);

impl core::fmt::Debug for Fe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Fe(0x")?;
        for b in self.to_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// a + b + carry, carry in {0, 1} (only the low bit is used on x86-64); returns (sum, carry out).
///
/// On x86-64 the carry travels through the `_addcarry_u64` / `_subborrow_u64` intrinsics, so
/// LLVM keeps it in the carry flag (adc/sbb chains); emulating it with u128 arithmetic cost
/// about a quarter more instructions per field multiplication (measured with the `field` bench).
#[inline(always)]
pub(crate) fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        let mut out = 0u64;
        // Part of the x86-64 baseline: no run-time feature check needed.
        let c = core::arch::x86_64::_addcarry_u64(carry as u8, a, b, &mut out);
        (out, u64::from(c))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let t = (a as u128) + (b as u128) + (carry as u128);
        (t as u64, (t >> 64) as u64)
    }
}

/// a - b - borrow, borrow in {0, 1}; returns (difference, borrow out in {0, 1}).
#[inline(always)]
pub(crate) fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        let mut out = 0u64;
        let c = core::arch::x86_64::_subborrow_u64(borrow as u8, a, b, &mut out);
        (out, u64::from(c))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (d1, b1) = a.overflowing_sub(b);
        let (d2, b2) = d1.overflowing_sub(borrow);
        (d2, (b1 | b2) as u64)
    }
}

/// a + b * c + carry (never overflows 128 bits).
#[inline(always)]
pub(crate) const fn mac(a: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    let t = (a as u128) + (b as u128) * (c as u128) + (carry as u128);
    (t as u64, (t >> 64) as u64)
}

/// Reduce a value v = limbs + top * 2^256 with v < 2p into [0, p).
#[inline(always)]
fn reduce_once(l: [u64; 4], top: u64) -> [u64; 4] {
    let (t0, b) = sbb(l[0], P[0], 0);
    let (t1, b) = sbb(l[1], P[1], b);
    let (t2, b) = sbb(l[2], P[2], b);
    let (t3, b) = sbb(l[3], P[3], b);
    // Borrow out of the top word: 1 when v < p, and then v itself is the answer.
    let (_, b) = sbb(top, 0, b);
    let keep = b.wrapping_neg();
    [
        (l[0] & keep) | (t0 & !keep),
        (l[1] & keep) | (t1 & !keep),
        (l[2] & keep) | (t2 & !keep),
        (l[3] & keep) | (t3 & !keep),
    ]
}

#[inline(always)]
fn add_limbs(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let (s0, c) = adc(a[0], b[0], 0);
    let (s1, c) = adc(a[1], b[1], c);
    let (s2, c) = adc(a[2], b[2], c);
    let (s3, c) = adc(a[3], b[3], c);
    reduce_once([s0, s1, s2, s3], c)
}

#[inline(always)]
fn sub_limbs(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let (d0, bw) = sbb(a[0], b[0], 0);
    let (d1, bw) = sbb(a[1], b[1], bw);
    let (d2, bw) = sbb(a[2], b[2], bw);
    let (d3, bw) = sbb(a[3], b[3], bw);
    // On borrow add p back (mask is all ones then).
    let m = bw.wrapping_neg();
    let (r0, c) = adc(d0, P[0] & m, 0);
    let (r1, c) = adc(d1, P[1] & m, c);
    let (r2, c) = adc(d2, P[2] & m, c);
    let (r3, _) = adc(d3, P[3] & m, c);
    [r0, r1, r2, r3]
}

/// m * (2^192 - 2^160 - 2^32 + 1) as four limbs: what one Montgomery step adds above the
/// limb it clears (see the module docs). Never negative, always below 2^256.
#[inline(always)]
fn reduction_term(m: u64) -> [u64; 4] {
    let lo = m << 32;
    let hi = m >> 32;
    // [m, 0, 0, m] - [lo, hi, lo, hi]
    let (d0, b) = sbb(m, lo, 0);
    let (d1, b) = sbb(0, hi, b);
    let (d2, b) = sbb(0, lo, b);
    let (d3, _) = sbb(m, hi, b);
    [d0, d1, d2, d3]
}

/// Montgomery reduction of a 512-bit product t (t < p * 2^256): t * 2^-256 mod p.
#[inline(always)]
fn montgomery_reduce(t: [u64; 8]) -> [u64; 4] {
    // Step i clears limb i by adding t[i] * p; the cleared limb is dropped (division by
    // 2^64). A carry out of limb i+4 is held in `pend` and added at step i+1, whose top limb
    // is exactly limb i+5, so no carry ever has to ripple further.
    let [t0, t1, t2, t3, t4, t5, t6, t7] = t;

    let d = reduction_term(t0);
    let (t1, c) = adc(t1, d[0], 0);
    let (t2, c) = adc(t2, d[1], c);
    let (t3, c) = adc(t3, d[2], c);
    let (t4, pend) = adc(t4, d[3], c);

    let d = reduction_term(t1);
    let (t2, c) = adc(t2, d[0], 0);
    let (t3, c) = adc(t3, d[1], c);
    let (t4, c) = adc(t4, d[2], c);
    let (t5, pend) = adc3(t5, d[3], c, pend);

    let d = reduction_term(t2);
    let (t3, c) = adc(t3, d[0], 0);
    let (t4, c) = adc(t4, d[1], c);
    let (t5, c) = adc(t5, d[2], c);
    let (t6, pend) = adc3(t6, d[3], c, pend);

    let d = reduction_term(t3);
    let (t4, c) = adc(t4, d[0], 0);
    let (t5, c) = adc(t5, d[1], c);
    let (t6, c) = adc(t6, d[2], c);
    let (t7, top) = adc3(t7, d[3], c, pend);

    reduce_once([t4, t5, t6, t7], top)
}

#[inline(always)]
fn adc3(a: u64, b: u64, c1: u64, c2: u64) -> (u64, u64) {
    let t = (a as u128) + (b as u128) + (c1 as u128) + (c2 as u128);
    (t as u64, (t >> 64) as u64)
}

/// Schoolbook product, then the shift-and-subtract Montgomery reduction. A MULX/ADCX/ADOX
/// inline-assembly version (CIOS, two carry chains) measured no faster on Zen 4 (18.3 vs
/// 18.5 ns per dependent multiplication, `field/mul_chain_1000`), so there is none.
#[inline(always)]
fn mul_limbs(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let (t0, c) = mac(0, a[0], b[0], 0);
    let (t1, c) = mac(0, a[0], b[1], c);
    let (t2, c) = mac(0, a[0], b[2], c);
    let (t3, t4) = mac(0, a[0], b[3], c);

    let (t1, c) = mac(t1, a[1], b[0], 0);
    let (t2, c) = mac(t2, a[1], b[1], c);
    let (t3, c) = mac(t3, a[1], b[2], c);
    let (t4, t5) = mac(t4, a[1], b[3], c);

    let (t2, c) = mac(t2, a[2], b[0], 0);
    let (t3, c) = mac(t3, a[2], b[1], c);
    let (t4, c) = mac(t4, a[2], b[2], c);
    let (t5, t6) = mac(t5, a[2], b[3], c);

    let (t3, c) = mac(t3, a[3], b[0], 0);
    let (t4, c) = mac(t4, a[3], b[1], c);
    let (t5, c) = mac(t5, a[3], b[2], c);
    let (t6, t7) = mac(t6, a[3], b[3], c);

    montgomery_reduce([t0, t1, t2, t3, t4, t5, t6, t7])
}

#[inline(always)]
fn square_limbs(a: &[u64; 4]) -> [u64; 4] {
    // Cross products a_i * a_j (i < j) once, doubled, then the squares on the diagonal.
    let (t1, c) = mac(0, a[0], a[1], 0);
    let (t2, c) = mac(0, a[0], a[2], c);
    let (t3, t4) = mac(0, a[0], a[3], c);
    let (t3, c) = mac(t3, a[1], a[2], 0);
    let (t4, t5) = mac(t4, a[1], a[3], c);
    let (t5, t6) = mac(t5, a[2], a[3], 0);

    let t7 = t6 >> 63;
    let t6 = (t6 << 1) | (t5 >> 63);
    let t5 = (t5 << 1) | (t4 >> 63);
    let t4 = (t4 << 1) | (t3 >> 63);
    let t3 = (t3 << 1) | (t2 >> 63);
    let t2 = (t2 << 1) | (t1 >> 63);
    let t1 = t1 << 1;

    // Carries here are whole words (the high halves of products): u128 sums, not `adc`.
    let (t0, c) = mac(0, a[0], a[0], 0);
    let (t1, c) = mac(t1, 0, 0, c);
    let (t2, c) = mac(t2, a[1], a[1], c);
    let (t3, c) = mac(t3, 0, 0, c);
    let (t4, c) = mac(t4, a[2], a[2], c);
    let (t5, c) = mac(t5, 0, 0, c);
    let (t6, c) = mac(t6, a[3], a[3], c);
    let (t7, _) = mac(t7, 0, 0, c);

    montgomery_reduce([t0, t1, t2, t3, t4, t5, t6, t7])
}

/// Big-endian 32 bytes to little-endian limbs (no range check).
#[inline]
pub(crate) const fn limbs_from_be(bytes: &[u8; 32]) -> [u64; 4] {
    let mut l = [0u64; 4];
    let mut i = 0;
    while i < 4 {
        let mut w = 0u64;
        let mut j = 0;
        while j < 8 {
            w = (w << 8) | bytes[(3 - i) * 8 + j] as u64;
            j += 1;
        }
        l[i] = w;
        i += 1;
    }
    l
}

/// Little-endian limbs to big-endian 32 bytes.
#[inline]
pub(crate) fn limbs_to_be(l: &[u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, limb) in l.iter().enumerate() {
        out[(3 - i) * 8..(4 - i) * 8].copy_from_slice(&limb.to_be_bytes());
    }
    out
}

/// a < b on little-endian limbs.
#[inline]
pub(crate) fn limbs_lt(a: &[u64; 4], b: &[u64; 4]) -> bool {
    let (_, b0) = sbb(a[0], b[0], 0);
    let (_, b1) = sbb(a[1], b[1], b0);
    let (_, b2) = sbb(a[2], b[2], b1);
    let (_, b3) = sbb(a[3], b[3], b2);
    b3 == 1
}

impl Fe {
    /// 0.
    pub const ZERO: Fe = Fe([0; 4]);
    /// 1 (in Montgomery form, R mod p).
    pub const ONE: Fe = Fe([0x1, 0xFFFF_FFFF, 0x0, 0x1_0000_0000]);
    /// The curve coefficient a = p - 3 (Montgomery form; checked in the tests).
    pub const A: Fe = Fe([0xFFFF_FFFF_FFFF_FFFC, 0xFFFF_FFFC_0000_0003, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFB_FFFF_FFFF]);
    /// The curve coefficient b (Montgomery form; checked in the tests).
    pub const B: Fe = Fe([0x90D2_3063_2BC0_DD42, 0x71CF_379A_E9B5_37AB, 0x5279_8150_5EA5_1C3C, 0x240F_E188_BA20_E2C8]);

    /// From plain little-endian limbs that are already below p.
    pub(crate) fn from_canonical_limbs(l: [u64; 4]) -> Fe {
        Fe(mul_limbs(&l, &R2))
    }

    /// From 32 big-endian bytes; `None` when the value is not below p (non-canonical).
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Fe> {
        let l = limbs_from_be(bytes);
        if limbs_lt(&l, &P) {
            Some(Fe::from_canonical_limbs(l))
        } else {
            None
        }
    }

    /// 32 big-endian bytes of the canonical value.
    pub fn to_bytes(&self) -> [u8; 32] {
        limbs_to_be(&self.to_canonical_limbs())
    }

    /// The plain (non-Montgomery) value as little-endian limbs.
    pub(crate) fn to_canonical_limbs(self) -> [u64; 4] {
        montgomery_reduce([self.0[0], self.0[1], self.0[2], self.0[3], 0, 0, 0, 0])
    }

    /// Whether this is 0.
    #[inline]
    pub fn is_zero(&self) -> bool {
        (self.0[0] | self.0[1] | self.0[2] | self.0[3]) == 0
    }

    /// Whether the canonical value is odd (the SEC1 compressed-point parity).
    pub fn is_odd(&self) -> bool {
        self.to_canonical_limbs()[0] & 1 == 1
    }

    /// self + rhs.
    #[inline(always)]
    pub fn add(&self, rhs: &Fe) -> Fe {
        Fe(add_limbs(&self.0, &rhs.0))
    }

    /// self - rhs.
    #[inline(always)]
    pub fn sub(&self, rhs: &Fe) -> Fe {
        Fe(sub_limbs(&self.0, &rhs.0))
    }

    /// 2 * self.
    #[inline(always)]
    pub fn double(&self) -> Fe {
        Fe(add_limbs(&self.0, &self.0))
    }

    /// -self.
    #[inline(always)]
    pub fn neg(&self) -> Fe {
        Fe(sub_limbs(&[0; 4], &self.0))
    }

    /// self * rhs.
    #[inline(always)]
    pub fn mul(&self, rhs: &Fe) -> Fe {
        Fe(mul_limbs(&self.0, &rhs.0))
    }

    /// self^2.
    #[inline(always)]
    pub fn square(&self) -> Fe {
        Fe(square_limbs(&self.0))
    }

    /// self^(2^k).
    #[inline]
    pub fn square_n(&self, k: u32) -> Fe {
        let mut x = *self;
        for _ in 0..k {
            x = x.square();
        }
        x
    }

    /// self^exp, exp as little-endian limbs. Variable time in exp (always public here).
    pub fn pow_vartime(&self, exp: &[u64; 4]) -> Fe {
        // Fixed 4-bit windows, left to right: 256 squarings and at most 64 multiplications.
        let mut table = [Fe::ONE; 16];
        for i in 1..16 {
            table[i] = table[i - 1].mul(self);
        }
        let mut acc = Fe::ONE;
        for i in (0..64).rev() {
            acc = acc.square_n(4);
            let nibble = (exp[i / 16] >> ((i % 16) * 4)) & 0xF;
            if nibble != 0 {
                acc = acc.mul(&table[nibble as usize]);
            }
        }
        acc
    }

    /// self^-1 by Fermat (self^(p-2)); 0 maps to 0.
    pub fn invert(&self) -> Fe {
        const P_MINUS_2: [u64; 4] = [P[0] - 2, P[1], P[2], P[3]];
        self.pow_vartime(&P_MINUS_2)
    }

    /// A square root, if one exists. p = 3 mod 4, so sqrt(a) = a^((p+1)/4) when a is a square.
    pub fn sqrt(&self) -> Option<Fe> {
        // (p + 1) / 4, little-endian limbs.
        const EXP: [u64; 4] =
            [0x4000_0000_0000_0000, 0xFFFF_FFFF_C000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0x3FFF_FFFF_BFFF_FFFF];
        let r = self.pow_vartime(&EXP);
        if r.square() == *self {
            Some(r)
        } else {
            None
        }
    }

    /// Batch inversion (Montgomery's trick): one inversion and 3(n-1) multiplications.
    /// Every input must be non-zero.
    pub fn batch_invert(values: &mut [Fe]) {
        if values.is_empty() {
            return;
        }
        let mut prefix = Vec::with_capacity(values.len());
        let mut acc = Fe::ONE;
        for v in values.iter() {
            prefix.push(acc);
            acc = acc.mul(v);
        }
        let mut inv = acc.invert();
        for (v, before) in values.iter_mut().zip(prefix).rev() {
            let next = inv.mul(v);
            *v = inv.mul(&before);
            inv = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqrt_exponent_is_p_plus_one_over_four() {
        // Recompute (p + 1) / 4 from P and compare with the constant inside sqrt().
        let (p1_0, c) = adc(P[0], 1, 0);
        let (p1_1, c) = adc(P[1], 0, c);
        let (p1_2, c) = adc(P[2], 0, c);
        let (p1_3, _) = adc(P[3], 0, c);
        let l = [p1_0, p1_1, p1_2, p1_3];
        let q = [(l[0] >> 2) | (l[1] << 62), (l[1] >> 2) | (l[2] << 62), (l[2] >> 2) | (l[3] << 62), l[3] >> 2];
        let four = Fe::from_canonical_limbs([4, 0, 0, 0]);
        assert_eq!(four.pow_vartime(&q), four.sqrt().expect("4 is a square"));
        assert_eq!(four.sqrt().expect("square").square(), four);
    }

    #[test]
    fn montgomery_constants_match_their_definitions() {
        // R^2 mod p by doubling 1 mod p 512 times.
        let mut x = [1u64, 0, 0, 0];
        for _ in 0..512 {
            x = add_limbs(&x, &x);
        }
        assert_eq!(x, R2);
        assert_eq!(Fe::A, Fe::from_canonical_limbs(limbs_from_be(&crate::sm2::curve::A_BYTES)));
        assert_eq!(Fe::B, Fe::from_canonical_limbs(limbs_from_be(&crate::sm2::curve::B_BYTES)));
        assert_eq!(Fe::A.add(&Fe::ONE.double()).add(&Fe::ONE), Fe::ZERO, "a = -3");
    }

    #[test]
    fn one_is_r_mod_p() {
        // 2^256 - p = 2^224 + 2^96 - 2^64 + 1
        assert_eq!(Fe::ONE.0, [1, 0xFFFF_FFFF, 0, 0x1_0000_0000]);
        assert_eq!(Fe::ONE.to_canonical_limbs(), [1, 0, 0, 0]);
    }
}
