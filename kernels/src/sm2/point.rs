//! Points of the SM2 curve y^2 = x^3 - 3x + b: affine points (public keys, table entries)
//! and Jacobian points (X/Z^2, Y/Z^3) for the arithmetic.
//!
//! Owns: SEC1 decoding and encoding with every check a public key needs (length, prefix,
//! canonical coordinates, on the curve, not the identity), and the group law.
//! Never: secret scalars. The group law here branches on its inputs (`_vartime` callers).
//!
//! Formulas (Explicit-Formulas Database, a = -3): doubling dbl-2001-b (3M + 5S), mixed
//! addition madd-2007-bl (7M + 4S), addition add-2007-bl (11M + 5S).

use super::field::Fe;
use crate::Error;

/// A point of the curve in affine coordinates; never the identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct AffinePoint {
    pub(crate) x: Fe,
    pub(crate) y: Fe,
}

/// A point in Jacobian coordinates; Z = 0 is the identity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JacobianPoint {
    pub(crate) x: Fe,
    pub(crate) y: Fe,
    pub(crate) z: Fe,
}

impl AffinePoint {
    /// The generator G of GB/T 32918.5.
    pub fn generator() -> AffinePoint {
        AffinePoint {
            x: Fe::from_canonical_limbs(super::field::limbs_from_be(&super::curve::GX_BYTES)),
            y: Fe::from_canonical_limbs(super::field::limbs_from_be(&super::curve::GY_BYTES)),
        }
    }

    /// From big-endian coordinates, checking that both are canonical (below p) and that the
    /// point is on the curve.
    pub fn from_coordinates(x: &[u8; 32], y: &[u8; 32]) -> Result<AffinePoint, Error> {
        let x = Fe::from_bytes(x).ok_or(Error::NonCanonicalCoordinate("x"))?;
        let y = Fe::from_bytes(y).ok_or(Error::NonCanonicalCoordinate("y"))?;
        let p = AffinePoint { x, y };
        if p.is_on_curve() {
            Ok(p)
        } else {
            Err(Error::NotOnCurve)
        }
    }

    /// From a SEC1 encoding: 65 bytes `04 ‖ x ‖ y`, or 33 bytes `02|03 ‖ x` (y recovered
    /// from x and the parity in the prefix). The identity (`00`) and hybrid forms are refused.
    pub fn from_sec1(bytes: &[u8]) -> Result<AffinePoint, Error> {
        let (&prefix, rest) = bytes.split_first().ok_or(Error::InvalidLength {
            what: "public key",
            expected: "65 (uncompressed) or 33 (compressed) bytes",
            got: 0,
        })?;
        let wrong_length = |expected| Error::InvalidLength { what: "public key", expected, got: bytes.len() };
        match prefix {
            0x04 => {
                let (x, y) = rest
                    .split_first_chunk::<32>()
                    .and_then(|(x, y)| Some((x, <&[u8; 32]>::try_from(y).ok()?)))
                    .ok_or_else(|| wrong_length("65 bytes for prefix 04"))?;
                AffinePoint::from_coordinates(x, y)
            }
            0x02 | 0x03 => {
                let x: &[u8; 32] = rest.try_into().map_err(|_| wrong_length("33 bytes for prefix 02/03"))?;
                let x = Fe::from_bytes(x).ok_or(Error::NonCanonicalCoordinate("x"))?;
                let rhs = x.square().mul(&x).add(&Fe::A.mul(&x)).add(&Fe::B);
                let mut y = rhs.sqrt().ok_or(Error::NotOnCurve)?;
                if y.is_odd() != (prefix == 0x03) {
                    y = y.neg();
                }
                Ok(AffinePoint { x, y })
            }
            0x00 if bytes.len() == 1 => Err(Error::Identity),
            other => Err(Error::InvalidPrefix(other)),
        }
    }

    /// `04 ‖ x ‖ y`.
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = 0x04;
        out[1..33].copy_from_slice(&self.x.to_bytes());
        out[33..].copy_from_slice(&self.y.to_bytes());
        out
    }

    /// `02|03 ‖ x`.
    pub fn to_compressed(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = if self.y.is_odd() { 0x03 } else { 0x02 };
        out[1..].copy_from_slice(&self.x.to_bytes());
        out
    }

    /// The x coordinate, big-endian.
    pub fn x_bytes(&self) -> [u8; 32] {
        self.x.to_bytes()
    }

    /// The y coordinate, big-endian.
    pub fn y_bytes(&self) -> [u8; 32] {
        self.y.to_bytes()
    }

    /// y^2 = x^3 + a x + b.
    pub fn is_on_curve(&self) -> bool {
        let rhs = self.x.square().mul(&self.x).add(&Fe::A.mul(&self.x)).add(&Fe::B);
        self.y.square() == rhs
    }

    /// -P.
    #[inline(always)]
    pub(crate) fn neg(&self) -> AffinePoint {
        AffinePoint { x: self.x, y: self.y.neg() }
    }
}

impl JacobianPoint {
    pub(crate) const IDENTITY: JacobianPoint = JacobianPoint { x: Fe::ONE, y: Fe::ONE, z: Fe::ZERO };

    #[inline]
    pub(crate) fn from_affine(p: &AffinePoint) -> JacobianPoint {
        JacobianPoint { x: p.x, y: p.y, z: Fe::ONE }
    }

    #[inline(always)]
    pub(crate) fn is_identity(&self) -> bool {
        self.z.is_zero()
    }

    /// -P.
    #[inline(always)]
    pub(crate) fn neg(&self) -> JacobianPoint {
        JacobianPoint { x: self.x, y: self.y.neg(), z: self.z }
    }

    /// The affine point, or `None` for the identity. One inversion.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn to_affine(self) -> Option<AffinePoint> {
        if self.is_identity() {
            return None;
        }
        let zinv = self.z.invert();
        let zinv2 = zinv.square();
        Some(AffinePoint { x: self.x.mul(&zinv2), y: self.y.mul(&zinv2.mul(&zinv)) })
    }

    /// Many points to affine with one shared inversion. Every input must not be the identity.
    pub(crate) fn batch_to_affine(points: &[JacobianPoint]) -> Vec<AffinePoint> {
        let mut zs: Vec<Fe> = points.iter().map(|p| p.z).collect();
        Fe::batch_invert(&mut zs);
        points
            .iter()
            .zip(zs)
            .map(|(p, zinv)| {
                let zinv2 = zinv.square();
                AffinePoint { x: p.x.mul(&zinv2), y: p.y.mul(&zinv2.mul(&zinv)) }
            })
            .collect()
    }

    /// 2P, dbl-2001-b (a = -3): 3M + 5S.
    #[inline(always)]
    pub(crate) fn double(&self) -> JacobianPoint {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(&gamma);
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let beta4 = beta.double().double();
        let x3 = alpha.square().sub(&beta4.double());
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let gamma2 = gamma.square();
        let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma2.double().double().double());
        // The identity doubles to Z3 = (Y + 0)^2 - Y^2 - 0 = 0: still the identity.
        JacobianPoint { x: x3, y: y3, z: z3 }
    }

    /// P + Q with Q affine, madd-2007-bl: 7M + 4S.
    #[inline(always)]
    pub(crate) fn add_affine(&self, q: &AffinePoint) -> JacobianPoint {
        if self.is_identity() {
            return JacobianPoint::from_affine(q);
        }
        let z1z1 = self.z.square();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let r = s2.sub(&self.y).double();
        if h.is_zero() {
            // Same x: either the same point (double) or its negation (identity).
            return if r.is_zero() { self.double() } else { JacobianPoint::IDENTITY };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).double());
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        JacobianPoint { x: x3, y: y3, z: z3 }
    }

    /// P + Q, add-2007-bl: 11M + 5S.
    #[inline(always)]
    pub(crate) fn add(&self, q: &JacobianPoint) -> JacobianPoint {
        if self.is_identity() {
            return *q;
        }
        if q.is_identity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = self.y.mul(&q.z).mul(&z2z2);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let r = s2.sub(&s1).double();
        if h.is_zero() {
            return if r.is_zero() { self.double() } else { JacobianPoint::IDENTITY };
        }
        let i = h.double().square();
        let j = h.mul(&i);
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).double());
        let z3 = self.z.add(&q.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        JacobianPoint { x: x3, y: y3, z: z3 }
    }
}

/// Independent points processed side by side. One point's formulas are a chain of dependent
/// field multiplications, each waiting for the last (about 65 cycles of latency on Zen 4),
/// so a single verification leaves most of the core idle. Running the same step of the
/// formula for several points back to back lets the core overlap their chains.
pub(crate) const LANES: usize = 4;

/// 2P for every point of `ps` (at most [`LANES`]), dbl-2001-b, lanes interleaved per step.
#[inline(always)]
pub(crate) fn double_lanes(ps: &mut [JacobianPoint]) {
    let n = ps.len().min(LANES);
    let mut delta = [Fe::ZERO; LANES];
    let mut gamma = [Fe::ZERO; LANES];
    let mut beta4 = [Fe::ZERO; LANES];
    let mut alpha = [Fe::ZERO; LANES];
    let mut t = [Fe::ZERO; LANES];
    for i in 0..n {
        delta[i] = ps[i].z.square();
    }
    for i in 0..n {
        gamma[i] = ps[i].y.square();
    }
    for i in 0..n {
        beta4[i] = ps[i].x.mul(&gamma[i]).double().double();
    }
    for i in 0..n {
        t[i] = ps[i].x.sub(&delta[i]).mul(&ps[i].x.add(&delta[i]));
    }
    for i in 0..n {
        alpha[i] = t[i].double().add(&t[i]);
    }
    for i in 0..n {
        // Z3 = (Y + Z)^2 - gamma - delta; Z of the identity stays 0.
        ps[i].z = ps[i].y.add(&ps[i].z).square().sub(&gamma[i]).sub(&delta[i]);
    }
    for i in 0..n {
        ps[i].x = alpha[i].square().sub(&beta4[i].double());
    }
    for i in 0..n {
        gamma[i] = gamma[i].square();
    }
    for i in 0..n {
        ps[i].y = alpha[i].mul(&beta4[i].sub(&ps[i].x)).sub(&gamma[i].double().double().double());
    }
}

/// `accs[lane] += q[k]` for `lane = lanes[k]` (Jacobian addends), add-2007-bl, lanes interleaved.
#[inline(always)]
pub(crate) fn add_lanes(accs: &mut [JacobianPoint], lanes: &[usize], qs: &[JacobianPoint]) {
    let mut active = [0usize; LANES];
    let mut from = [0usize; LANES];
    let mut m = 0;
    for (k, &l) in lanes.iter().enumerate() {
        if accs[l].is_identity() {
            accs[l] = qs[k];
        } else {
            active[m] = l;
            from[m] = k;
            m += 1;
        }
    }
    let mut z1z1 = [Fe::ZERO; LANES];
    let mut z2z2 = [Fe::ZERO; LANES];
    let mut u1 = [Fe::ZERO; LANES];
    let mut s1 = [Fe::ZERO; LANES];
    let mut h = [Fe::ZERO; LANES];
    let mut r = [Fe::ZERO; LANES];
    for j in 0..m {
        z1z1[j] = accs[active[j]].z.square();
    }
    for j in 0..m {
        z2z2[j] = qs[from[j]].z.square();
    }
    for j in 0..m {
        u1[j] = accs[active[j]].x.mul(&z2z2[j]);
    }
    for j in 0..m {
        h[j] = qs[from[j]].x.mul(&z1z1[j]).sub(&u1[j]);
    }
    for j in 0..m {
        s1[j] = accs[active[j]].y.mul(&qs[from[j]].z).mul(&z2z2[j]);
    }
    for j in 0..m {
        let s2 = qs[from[j]].y.mul(&accs[active[j]].z).mul(&z1z1[j]);
        r[j] = s2.sub(&s1[j]).double();
    }
    let mut rest = 0;
    for j in 0..m {
        if h[j].is_zero() {
            // Same x: a doubling or the identity; rare, so done alone (the general formula
            // divides by zero here).
            let l = active[j];
            accs[l] = accs[l].add(&qs[from[j]]);
        } else {
            active[rest] = active[j];
            from[rest] = from[j];
            z1z1[rest] = z1z1[j];
            z2z2[rest] = z2z2[j];
            u1[rest] = u1[j];
            s1[rest] = s1[j];
            h[rest] = h[j];
            r[rest] = r[j];
            rest += 1;
        }
    }
    let mut i = [Fe::ZERO; LANES];
    let mut jj = [Fe::ZERO; LANES];
    let mut v = [Fe::ZERO; LANES];
    for j in 0..rest {
        i[j] = h[j].double().square();
    }
    for j in 0..rest {
        jj[j] = h[j].mul(&i[j]);
    }
    for j in 0..rest {
        v[j] = u1[j].mul(&i[j]);
    }
    for j in 0..rest {
        let a = &mut accs[active[j]];
        let q = &qs[from[j]];
        let x3 = r[j].square().sub(&jj[j]).sub(&v[j].double());
        let y3 = r[j].mul(&v[j].sub(&x3)).sub(&s1[j].mul(&jj[j]).double());
        let z3 = a.z.add(&q.z).square().sub(&z1z1[j]).sub(&z2z2[j]).mul(&h[j]);
        *a = JacobianPoint { x: x3, y: y3, z: z3 };
    }
}

/// `accs[lane] += q[k]` for `lane = lanes[k]` (affine addends), madd-2007-bl, lanes interleaved.
#[inline(always)]
pub(crate) fn add_affine_lanes(accs: &mut [JacobianPoint], lanes: &[usize], qs: &[AffinePoint]) {
    let mut active = [0usize; LANES];
    let mut from = [0usize; LANES];
    let mut m = 0;
    for (k, &l) in lanes.iter().enumerate() {
        if accs[l].is_identity() {
            accs[l] = JacobianPoint::from_affine(&qs[k]);
        } else {
            active[m] = l;
            from[m] = k;
            m += 1;
        }
    }
    let mut z1z1 = [Fe::ZERO; LANES];
    let mut h = [Fe::ZERO; LANES];
    let mut r = [Fe::ZERO; LANES];
    for j in 0..m {
        z1z1[j] = accs[active[j]].z.square();
    }
    for j in 0..m {
        h[j] = qs[from[j]].x.mul(&z1z1[j]).sub(&accs[active[j]].x);
    }
    for j in 0..m {
        let a = &accs[active[j]];
        r[j] = qs[from[j]].y.mul(&a.z).mul(&z1z1[j]).sub(&a.y).double();
    }
    let mut rest = 0;
    for j in 0..m {
        if h[j].is_zero() {
            let l = active[j];
            accs[l] = accs[l].add_affine(&qs[from[j]]);
        } else {
            active[rest] = active[j];
            z1z1[rest] = z1z1[j];
            h[rest] = h[j];
            r[rest] = r[j];
            rest += 1;
        }
    }
    let mut hh = [Fe::ZERO; LANES];
    let mut i = [Fe::ZERO; LANES];
    let mut jj = [Fe::ZERO; LANES];
    let mut v = [Fe::ZERO; LANES];
    for j in 0..rest {
        hh[j] = h[j].square();
    }
    for j in 0..rest {
        i[j] = hh[j].double().double();
    }
    for j in 0..rest {
        jj[j] = h[j].mul(&i[j]);
    }
    for j in 0..rest {
        v[j] = accs[active[j]].x.mul(&i[j]);
    }
    for j in 0..rest {
        let a = &mut accs[active[j]];
        let x3 = r[j].square().sub(&jj[j]).sub(&v[j].double());
        let y3 = r[j].mul(&v[j].sub(&x3)).sub(&a.y.mul(&jj[j]).double());
        let z3 = a.z.add(&h[j]).square().sub(&z1z1[j]).sub(&hh[j]);
        *a = JacobianPoint { x: x3, y: y3, z: z3 };
    }
}
