//! Integers modulo the group order n, and their signed-window (wNAF) recoding.
//!
//! Owns: [`Scalar`] (plain little-endian limbs, always in [0, n)), the range checks of
//! signature components, and wNAF digits for the multi-scalar multiplication.
//! Never: secrets. SM2 verification needs no multiplication or inversion mod n (unlike
//! ECDSA), only t = r + s and r - e, so this layer is small on purpose.

use super::field::{adc, limbs_from_be, limbs_lt, limbs_to_be, sbb};

/// n, little-endian limbs.
pub(crate) const N: [u64; 4] = limbs_from_be(&super::curve::N_BYTES);

/// An integer in [0, n).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Scalar(pub(crate) [u64; 4]);

impl Scalar {
    /// 0.
    pub const ZERO: Scalar = Scalar([0; 4]);
    /// 1.
    pub const ONE: Scalar = Scalar([1, 0, 0, 0]);

    /// From 32 big-endian bytes; `None` unless the value is below n.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Scalar> {
        let l = limbs_from_be(bytes);
        limbs_lt(&l, &N).then_some(Scalar(l))
    }

    /// From 32 big-endian bytes, reduced mod n. A 256-bit value is below 2n, so one
    /// conditional subtraction suffices (this is how e, a 256-bit hash, enters B7).
    pub fn reduce_bytes(bytes: &[u8; 32]) -> Scalar {
        let l = limbs_from_be(bytes);
        if limbs_lt(&l, &N) {
            Scalar(l)
        } else {
            Scalar(sub_raw(&l, &N).0)
        }
    }

    /// 32 big-endian bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        limbs_to_be(&self.0)
    }

    /// Whether this is 0.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 4]
    }

    /// (self + rhs) mod n.
    pub fn add(&self, rhs: &Scalar) -> Scalar {
        let (s0, c) = adc(self.0[0], rhs.0[0], 0);
        let (s1, c) = adc(self.0[1], rhs.0[1], c);
        let (s2, c) = adc(self.0[2], rhs.0[2], c);
        let (s3, c) = adc(self.0[3], rhs.0[3], c);
        let s = [s0, s1, s2, s3];
        // The sum is below 2n; subtract n when it overflowed 2^256 or is at least n.
        if c == 1 || !limbs_lt(&s, &N) {
            Scalar(sub_raw(&s, &N).0)
        } else {
            Scalar(s)
        }
    }

    /// (self - rhs) mod n.
    pub fn sub(&self, rhs: &Scalar) -> Scalar {
        let (d, borrow) = sub_raw(&self.0, &rhs.0);
        if borrow == 1 {
            Scalar(add_raw(&d, &N).0)
        } else {
            Scalar(d)
        }
    }

    /// (-self) mod n.
    pub fn neg(&self) -> Scalar {
        Scalar::ZERO.sub(self)
    }

    /// The limbs, little-endian.
    pub fn limbs(&self) -> [u64; 4] {
        self.0
    }
}

pub(crate) fn add_raw(a: &[u64; 4], b: &[u64; 4]) -> ([u64; 4], u64) {
    let (s0, c) = adc(a[0], b[0], 0);
    let (s1, c) = adc(a[1], b[1], c);
    let (s2, c) = adc(a[2], b[2], c);
    let (s3, c) = adc(a[3], b[3], c);
    ([s0, s1, s2, s3], c)
}

pub(crate) fn sub_raw(a: &[u64; 4], b: &[u64; 4]) -> ([u64; 4], u64) {
    let (d0, bw) = sbb(a[0], b[0], 0);
    let (d1, bw) = sbb(a[1], b[1], bw);
    let (d2, bw) = sbb(a[2], b[2], bw);
    let (d3, bw) = sbb(a[3], b[3], bw);
    ([d0, d1, d2, d3], bw)
}

/// Width-`w` non-adjacent form of the `bits`-bit integer at bit offset `start` of `k`:
/// digits odd and in (-2^(w-1), 2^(w-1)), at least w-1 zeros between non-zero digits,
/// sum(d_i 2^i) equal to the integer. Writes `bits + 1` digits into `out` (which must be at
/// least that long) and returns the index one past the highest non-zero digit (0 if none).
/// Variable time: for public scalars only.
pub(crate) fn wnaf_vartime(k: &[u64; 4], start: usize, bits: usize, w: u32, out: &mut [i8]) -> usize {
    debug_assert!((2..=8).contains(&w));
    debug_assert!(start + bits <= 256);
    debug_assert!(out.len() > bits);
    let width = 1u64 << w;
    let half = width >> 1;
    let mask = width - 1;
    out[..=bits].fill(0);
    let mut carry = 0u64;
    let mut i = 0;
    let mut top = 0;
    while i < bits {
        let window = (bits_at(k, start + i, start + bits) & mask) + carry;
        if window & 1 == 0 {
            // An even window: a zero digit. The carry is unchanged: with carry 0 the bit was
            // 0; with carry 1 the bit was 1, and 1 + 1 carries on upwards.
            i += 1;
            continue;
        }
        // Digits are odd; the window never passes the top bit of the integer (bits_at masks
        // there), and the carry is folded into the next window.
        let d = if window >= half {
            carry = 1;
            window as i64 - width as i64
        } else {
            carry = 0;
            window as i64
        };
        // |d| < 2^(w-1) <= 128, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        {
            out[i] = d as i8;
        }
        top = i + 1;
        i += w as usize;
    }
    if carry != 0 {
        out[bits] = 1;
        top = bits + 1;
    }
    top
}

/// Up to 64 bits of `k` starting at bit `pos`, with the bits at and above `end` cleared.
#[inline]
fn bits_at(k: &[u64; 4], pos: usize, end: usize) -> u64 {
    let word = pos / 64;
    let shift = pos % 64;
    let mut v = k[word] >> shift;
    if shift != 0 && word + 1 < 4 {
        v |= k[word + 1] << (64 - shift);
    }
    let avail = end - pos;
    if avail < 64 {
        v &= (1u64 << avail) - 1;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(digits: &[i8]) -> i128 {
        digits.iter().rev().fold(0i128, |acc, &d| acc * 2 + i128::from(d))
    }

    #[test]
    fn wnaf_small_values_round_trip() {
        for w in 2..=8u32 {
            for v in 0u64..2000 {
                let k = [v, 0, 0, 0];
                let mut out = [0i8; 65];
                let top = wnaf_vartime(&k, 0, 64, w, &mut out);
                assert_eq!(eval(&out), i128::from(v), "w={w} v={v}");
                assert!(out[top..].iter().all(|&d| d == 0));
                let nonzero: Vec<usize> = (0..65).filter(|&i| out[i] != 0).collect();
                for pair in nonzero.windows(2) {
                    assert!(pair[1] - pair[0] >= w as usize, "adjacent digits w={w} v={v}");
                }
                for &i in &nonzero {
                    assert!(out[i] % 2 != 0 && i32::from(out[i]).abs() < (1 << (w - 1)));
                }
            }
        }
    }

    #[test]
    fn wnaf_of_a_chunk_reads_only_that_chunk() {
        let k = [u64::MAX, 0x1234_5678_9abc_def0, u64::MAX, 7];
        let mut out = [0i8; 33];
        wnaf_vartime(&k, 64, 32, 5, &mut out);
        assert_eq!(eval(&out), 0x9abc_def0);
        wnaf_vartime(&k, 96, 32, 5, &mut out);
        assert_eq!(eval(&out), 0x1234_5678);
        wnaf_vartime(&k, 32, 32, 7, &mut out);
        assert_eq!(eval(&out), 0xFFFF_FFFF);
    }
}
