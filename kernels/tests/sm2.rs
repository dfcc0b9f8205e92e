//! SM2: the standard's example (GB/T 32918.5-2017 / GM/T 0003.5 Annex A), differential
//! tests against RustCrypto `sm2` and `libsm`, field and scalar arithmetic against
//! `num-bigint`, SEC1 decoding, and batch verification against single verification.
//!
//! Run: `cargo test -p xinlian-kernels --test sm2`.
//! Random tests use seeded RNGs; the seed is printed (`--nocapture`) and can be replaced
//! with `XINLIAN_SM2_SEED=<u64>`. libsm signs with its own unseeded nonce, so a failure
//! message carries every byte of the failing case (key, ID, message, r, s) instead.

use std::rc::Rc;
use std::time::Instant;

use num_bigint::BigUint;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sm2::dsa::signature::hazmat::PrehashVerifier;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::elliptic_curve::sec1::{FromSec1Point, ToSec1Point};
use sm2::elliptic_curve::{Group, PrimeField};
use xinlian_kernels::sm2::curve::{A_BYTES, B_BYTES, GX_BYTES, GY_BYTES, N_BYTES, P_BYTES};
use xinlian_kernels::sm2::field::Fe;
use xinlian_kernels::sm2::scalar::Scalar;
use xinlian_kernels::sm2::{
    check_scalars, message_digest, verify_batch_vartime, verify_prehashed_vartime, verify_with_table_vartime, z_value,
    AffinePoint, KeyRef, Prehashed, PublicKeyTable, Rejection, DEFAULT_ID,
};
use xinlian_kernels::Error;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Seed of the random tests unless `XINLIAN_SM2_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x5832_3032_3431_3031;

/// A seeded RNG for one test, its seed printed so that a failure can be replayed.
fn test_rng(test: &str, salt: u64) -> StdRng {
    let seed = std::env::var("XINLIAN_SM2_SEED").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(DEFAULT_SEED);
    eprintln!("{test}: seed {seed} (replay with XINLIAN_SM2_SEED={seed})");
    StdRng::seed_from_u64(seed ^ salt)
}

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).expect("hex").try_into().expect("32 bytes")
}

fn big(bytes: &[u8]) -> BigUint {
    BigUint::from_bytes_be(bytes)
}

/// x as 32 big-endian bytes; panics if x does not fit 256 bits.
fn be32(x: &BigUint) -> [u8; 32] {
    fits32(x).expect("value fits 256 bits")
}

/// x as 32 big-endian bytes when it fits 256 bits.
fn fits32(x: &BigUint) -> Option<[u8; 32]> {
    let b = x.to_bytes_be();
    if b.len() > 32 {
        return None;
    }
    let mut out = [0u8; 32];
    out[32 - b.len()..].copy_from_slice(&b);
    Some(out)
}

fn p() -> BigUint {
    big(&P_BYTES)
}

fn n() -> BigUint {
    big(&N_BYTES)
}

fn pow2(k: u32) -> BigUint {
    BigUint::from(1u8) << k
}

/// a^-1 mod a prime m (Fermat).
fn inv_mod(a: &BigUint, m: &BigUint) -> BigUint {
    a.modpow(&(m - 2u8), m)
}

/// (a - b) mod m for a, b < m.
fn sub_mod(a: &BigUint, b: &BigUint, m: &BigUint) -> BigUint {
    (a + m - b) % m
}

fn fe(x: &BigUint) -> Fe {
    Fe::from_bytes(&be32(x)).expect("canonical field element")
}

fn fe_big(x: &Fe) -> BigUint {
    big(&x.to_bytes())
}

fn default_id() -> &'static str {
    std::str::from_utf8(DEFAULT_ID).expect("ASCII")
}

/// x^3 + a x + b mod p.
fn curve_rhs(x: &BigUint) -> BigUint {
    let p = p();
    (x.modpow(&BigUint::from(3u8), &p) + big(&A_BYTES) * x + big(&B_BYTES)) % &p
}

/// Whether x is a square mod p (Euler's criterion; 0 counts as a square).
fn is_square_mod_p(x: &BigUint) -> bool {
    let p = p();
    let x = x % &p;
    x == BigUint::from(0u8) || x.modpow(&((&p - 1u8) >> 1), &p) == BigUint::from(1u8)
}

/// A square root mod p of a square x (p = 3 mod 4), computed in bigint.
fn sqrt_mod_p(x: &BigUint) -> BigUint {
    let p = p();
    x.modpow(&((&p + 1u8) >> 2), &p)
}

/// The first point (x, y) of the curve with x >= start, y the bigint square root.
fn first_point_from(start: &BigUint) -> (BigUint, BigUint) {
    let mut x = start.clone();
    loop {
        let rhs = curve_rhs(&x);
        if is_square_mod_p(&rhs) {
            return (x.clone(), sqrt_mod_p(&rhs));
        }
        x += 1u8;
    }
}

fn uncompressed(x: &[u8; 32], y: &[u8; 32]) -> Vec<u8> {
    let mut v = vec![0x04];
    v.extend_from_slice(x);
    v.extend_from_slice(y);
    v
}

fn compressed(prefix: u8, x: &[u8; 32]) -> Vec<u8> {
    let mut v = vec![prefix];
    v.extend_from_slice(x);
    v
}

/// A random secret key 0 < d < n.
fn random_secret(rng: &mut StdRng) -> [u8; 32] {
    let n = n();
    loop {
        let d: [u8; 32] = rng.gen();
        let v = big(&d);
        if v > BigUint::from(0u8) && v < n {
            return d;
        }
    }
}

/// The uncompressed SEC1 public key of d, by RustCrypto.
fn rustcrypto_public_key(d: &[u8; 32]) -> Vec<u8> {
    let signing = sm2::dsa::SigningKey::from_slice(default_id(), d).expect("secret key in range");
    signing.verifying_key().to_sec1_bytes().to_vec()
}

/// A random ID: 0..=48 printable ASCII bytes (RustCrypto takes IDs as `&str`).
fn random_id(rng: &mut StdRng) -> String {
    let len = rng.gen_range(0..=48);
    (0..len).map(|_| char::from(rng.gen_range(0x20u8..0x7f))).collect()
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill(&mut v[..]);
    v
}

fn flip_bit(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8] ^= 1 << (bit % 8);
}

/// Our verdict by every path: cold, with the key's table, and both as one batch. They must
/// agree; the common answer is returned.
fn ours_all_paths(
    key: &AffinePoint,
    table: &PublicKeyTable,
    e: &[u8; 32],
    r: &[u8; 32],
    s: &[u8; 32],
) -> Result<(), Rejection> {
    let cold = verify_prehashed_vartime(key, e, r, s);
    let hot = verify_with_table_vartime(table, e, r, s);
    let items = [Prehashed { key: KeyRef::Table(table), e, r, s }, Prehashed { key: KeyRef::Cold(key), e, r, s }];
    let mut out = [Err(Rejection::Identity); 2];
    verify_batch_vartime(&items, &mut out);
    let what = format!(
        "key {} e {} r {} s {}",
        hex::encode(key.to_uncompressed()),
        hex::encode(e),
        hex::encode(r),
        hex::encode(s)
    );
    assert_eq!(hot, cold, "table path differs from cold path: {what}");
    assert_eq!(out, [cold, cold], "batch path differs from cold path: {what}");
    cold
}

/// The rejection B1, B2 and B5 must give for (r, s), from a bigint model; `None` if (r, s)
/// pass them.
fn range_rejection(r: &[u8; 32], s: &[u8; 32]) -> Option<Rejection> {
    let (n, zero) = (n(), BigUint::from(0u8));
    let (r, s) = (big(r), big(s));
    if r == zero || r >= n {
        Some(Rejection::ROutOfRange)
    } else if s == zero || s >= n {
        Some(Rejection::SOutOfRange)
    } else if (r + s) % &n == zero {
        Some(Rejection::TIsZero)
    } else {
        None
    }
}

/// RustCrypto's verdict on (r, s) over msg, by signer `id` with key `pk` (SEC1).
fn rustcrypto_accepts(id: &str, pk: &[u8], msg: &[u8], r: &[u8; 32], s: &[u8; 32]) -> bool {
    let Ok(sig) = sm2::dsa::Signature::from_scalars(*r, *s) else {
        return false;
    };
    let vk = sm2::dsa::VerifyingKey::from_sec1_bytes(id, pk).expect("RustCrypto takes the key");
    vk.verify(msg, &sig).is_ok()
}

/// RustCrypto's verdict on (r, s) over a digest e.
fn rustcrypto_accepts_prehash(pk: &[u8], e: &[u8; 32], r: &[u8; 32], s: &[u8; 32]) -> bool {
    let Ok(sig) = sm2::dsa::Signature::from_scalars(*r, *s) else {
        return false;
    };
    let vk = sm2::dsa::VerifyingKey::from_sec1_bytes(default_id(), pk).expect("RustCrypto takes the key");
    vk.verify_prehash(e, &sig).is_ok()
}

/// libsm's verdict and its e = SM3(Z ‖ M). Only for well-formed keys (libsm may panic on
/// malformed input); r and s may be anything of 32 bytes (libsm range-checks them).
fn libsm_verdict(
    ctx: &libsm::sm2::signature::SigCtx,
    id: &str,
    pk: &[u8],
    msg: &[u8],
    r: &[u8; 32],
    s: &[u8; 32],
) -> (bool, [u8; 32]) {
    let point = ctx.load_pubkey(pk).expect("libsm takes the key");
    let digest = ctx.hash(id, &point, msg).expect("libsm hashes");
    let sig = libsm::sm2::signature::Signature::new(r, s);
    let ok = if id == default_id() {
        ctx.verify(msg, &point, &sig).expect("libsm verifies")
    } else {
        ctx.verify_raw(&digest, &point, &sig).expect("libsm verifies")
    };
    (ok, digest)
}

fn libsm_accepts_prehash(
    ctx: &libsm::sm2::signature::SigCtx,
    pk: &[u8],
    e: &[u8; 32],
    r: &[u8; 32],
    s: &[u8; 32],
) -> bool {
    let point = ctx.load_pubkey(pk).expect("libsm takes the key");
    let sig = libsm::sm2::signature::Signature::new(r, s);
    ctx.verify_raw(e, &point, &sig).expect("libsm verifies")
}

/// A RustCrypto scalar from a bigint below n.
fn rc_scalar(x: &BigUint) -> sm2::Scalar {
    Option::from(sm2::Scalar::from_repr(be32(x).into())).expect("below n")
}

/// A key P and digest e for which (r, s) verifies with s*G + t*P = Q, for a chosen point Q
/// (uncompressed SEC1): P = t^-1 (Q - sG), e = (r - xQ) mod n. Lets a test choose x1.
fn key_and_digest_for_point(q: &[u8], r: &BigUint, s: &BigUint) -> (Vec<u8>, [u8; 32]) {
    let n = n();
    let t = (r + s) % &n;
    let q_point = sm2::AffinePoint::from_sec1_bytes(q).expect("Q on the curve");
    let g = sm2::ProjectivePoint::generator();
    let p_point = (sm2::ProjectivePoint::from(q_point) - g * rc_scalar(s)) * rc_scalar(&inv_mod(&t, &n));
    let pk = p_point.to_affine().to_sec1_point(false).as_bytes().to_vec();
    let xq = big(&q[1..33]) % &n;
    (pk, be32(&sub_mod(r, &xq, &n)))
}

// ---------------------------------------------------------------------------------------
// 1. The standard's example
// ---------------------------------------------------------------------------------------

/// GB/T 32918.5-2017 (GM/T 0003.5-2012) Annex A: signature over "message digest".
mod annex_a {
    pub(crate) const SECRET: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    pub(crate) const PUB_X: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
    pub(crate) const PUB_Y: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
    pub(crate) const Z: &str = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3";
    pub(crate) const E: &str = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640";
    pub(crate) const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
    pub(crate) const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";
    pub(crate) const MESSAGE: &[u8] = b"message digest";
}

struct AnnexA {
    key: AffinePoint,
    table: PublicKeyTable,
    e: [u8; 32],
    r: [u8; 32],
    s: [u8; 32],
}

fn annex_a() -> AnnexA {
    let key = AffinePoint::from_coordinates(&hex32(annex_a::PUB_X), &hex32(annex_a::PUB_Y)).expect("the example key");
    AnnexA {
        table: PublicKeyTable::with_layouts(&key, true, true),
        key,
        e: hex32(annex_a::E),
        r: hex32(annex_a::R),
        s: hex32(annex_a::S),
    }
}

#[test]
fn annex_a_key_z_and_e() {
    let a = annex_a();
    // The public key is the one RustCrypto derives from the example's private key.
    let derived = rustcrypto_public_key(&hex32(annex_a::SECRET));
    assert_eq!(derived, a.key.to_uncompressed().to_vec());
    assert_eq!(a.key.x_bytes(), hex32(annex_a::PUB_X));
    assert_eq!(a.key.y_bytes(), hex32(annex_a::PUB_Y));
    assert_eq!(a.table.key(), &a.key);

    let z = z_value(DEFAULT_ID, &a.key).expect("ID fits");
    assert_eq!(hex::encode_upper(z), annex_a::Z);
    let e = message_digest(&z, annex_a::MESSAGE);
    assert_eq!(hex::encode_upper(e), annex_a::E);

    // The references agree that the example signature is valid.
    let pk = a.key.to_uncompressed();
    assert!(rustcrypto_accepts(default_id(), &pk, annex_a::MESSAGE, &a.r, &a.s));
    let ctx = libsm::sm2::signature::SigCtx::new();
    let (ok, libsm_e) = libsm_verdict(&ctx, default_id(), &pk, annex_a::MESSAGE, &a.r, &a.s);
    assert!(ok);
    assert_eq!(libsm_e, e);
}

#[test]
fn annex_a_signature_verifies_on_every_path() {
    let a = annex_a();
    assert_eq!(verify_prehashed_vartime(&a.key, &a.e, &a.r, &a.s), Ok(()));
    assert_eq!(verify_with_table_vartime(&a.table, &a.e, &a.r, &a.s), Ok(()));
    assert_eq!(ours_all_paths(&a.key, &a.table, &a.e, &a.r, &a.s), Ok(()));
    // In a batch with other (invalid) items around it, in every lane position.
    let bad_s = be32(&(big(&a.s) + 1u8));
    for pos in 0..9 {
        let mut items = Vec::new();
        for i in 0..9 {
            let key = if i % 2 == 0 { KeyRef::Cold(&a.key) } else { KeyRef::Table(&a.table) };
            let s = if i == pos { &a.s } else { &bad_s };
            items.push(Prehashed { key, e: &a.e, r: &a.r, s });
        }
        let mut out = vec![Ok(()); items.len()];
        verify_batch_vartime(&items, &mut out);
        for (i, v) in out.iter().enumerate() {
            let want = if i == pos { Ok(()) } else { Err(Rejection::Mismatch) };
            assert_eq!(*v, want, "item {i}, valid item at {pos}");
        }
    }
}

#[test]
fn annex_a_tampered_signatures_are_rejected_for_the_right_reason() {
    let a = annex_a();
    let n = n();
    let (r, s) = (big(&a.r), big(&a.s));
    let zero = [0u8; 32];
    let ones = [0xFFu8; 32];
    let mut cases: Vec<(&str, [u8; 32], [u8; 32], Rejection)> = vec![
        ("r + 1", be32(&(&r + 1u8)), a.s, Rejection::Mismatch),
        ("s + 1", a.r, be32(&(&s + 1u8)), Rejection::Mismatch),
        ("r - 1", be32(&(&r - 1u8)), a.s, Rejection::Mismatch),
        ("r = 0", zero, a.s, Rejection::ROutOfRange),
        ("s = 0", a.r, zero, Rejection::SOutOfRange),
        ("r = 0, s = 0", zero, zero, Rejection::ROutOfRange),
        ("r = n", N_BYTES, a.s, Rejection::ROutOfRange),
        ("s = n", a.r, N_BYTES, Rejection::SOutOfRange),
        ("r = n + 1", be32(&(&n + 1u8)), a.s, Rejection::ROutOfRange),
        ("s = n + 1", a.r, be32(&(&n + 1u8)), Rejection::SOutOfRange),
        ("r = 2^256 - 1", ones, a.s, Rejection::ROutOfRange),
        ("s = 2^256 - 1", a.r, ones, Rejection::SOutOfRange),
        ("r = n - r", be32(&(&n - &r)), a.s, Rejection::Mismatch),
        ("s = n - s", a.r, be32(&(&n - &s)), Rejection::Mismatch),
        ("s = n - r (t = 0)", a.r, be32(&(&n - &r)), Rejection::TIsZero),
        ("r = n - s (t = 0)", be32(&(&n - &s)), a.s, Rejection::TIsZero),
        ("r = s", a.s, a.s, Rejection::Mismatch),
        ("r and s swapped", a.s, a.r, Rejection::Mismatch),
    ];
    // r + n and s + n are out of range whenever they fit 256 bits (for this r and s they do
    // not, hence also r = 1 + n).
    if let Some(x) = fits32(&(&r + &n)) {
        cases.push(("r + n", x, a.s, Rejection::ROutOfRange));
    }
    if let Some(x) = fits32(&(&s + &n)) {
        cases.push(("s + n", a.r, x, Rejection::SOutOfRange));
    }
    cases.push(("r = 1 + n", be32(&(&n + 1u8)), a.s, Rejection::ROutOfRange));

    let pk = a.key.to_uncompressed();
    let ctx = libsm::sm2::signature::SigCtx::new();
    for (what, tr, ts, want) in &cases {
        // The bigint model agrees with the expected reason for the range checks.
        if *want != Rejection::Mismatch {
            assert_eq!(range_rejection(tr, ts), Some(*want), "{what}: model");
        }
        assert_eq!(ours_all_paths(&a.key, &a.table, &a.e, tr, ts), Err(*want), "{what}");
        assert!(!rustcrypto_accepts_prehash(&pk, &a.e, tr, ts), "{what}: RustCrypto accepts");
        assert!(!libsm_accepts_prehash(&ctx, &pk, &a.e, tr, ts), "{what}: libsm accepts");
    }

    // Every single-bit flip of e.
    for bit in 0..256 {
        let mut e = a.e;
        flip_bit(&mut e, bit);
        assert_eq!(ours_all_paths(&a.key, &a.table, &e, &a.r, &a.s), Err(Rejection::Mismatch), "e bit {bit}");
    }

    // Another key: G, and the key of the private key 7777...77 (by RustCrypto).
    let other_keys =
        [AffinePoint::generator(), AffinePoint::from_sec1(&rustcrypto_public_key(&[7u8; 32])).expect("key")];
    for other in &other_keys {
        let table = PublicKeyTable::with_layouts(other, true, true);
        let z = z_value(DEFAULT_ID, other).expect("ID fits");
        let e = message_digest(&z, annex_a::MESSAGE);
        assert_eq!(ours_all_paths(other, &table, &e, &a.r, &a.s), Err(Rejection::Mismatch));
        // The example's e with the other key, too.
        assert_eq!(ours_all_paths(other, &table, &a.e, &a.r, &a.s), Err(Rejection::Mismatch));
    }

    // Another ID, and another message.
    for id in [&b"1234567812345679"[..], b"", b"ALICE123@YAHOO.COM", &DEFAULT_ID[..15]] {
        let z = z_value(id, &a.key).expect("ID fits");
        let e = message_digest(&z, annex_a::MESSAGE);
        assert_eq!(ours_all_paths(&a.key, &a.table, &e, &a.r, &a.s), Err(Rejection::Mismatch), "ID {id:?}");
    }
    let z = z_value(DEFAULT_ID, &a.key).expect("ID fits");
    for msg in [&b"message digesT"[..], b"message diges", b"message digest\0", b""] {
        let e = message_digest(&z, msg);
        assert_eq!(ours_all_paths(&a.key, &a.table, &e, &a.r, &a.s), Err(Rejection::Mismatch), "msg {msg:?}");
    }
}

/// `check_scalars` (B1, B2, B5 alone, what the OpenCL and SDF backends run on the host) gives the
/// bigint model's rejection for edge values of r and s, and t = (r + s) mod n when both pass.
#[test]
fn check_scalars_is_steps_b1_b2_b5() {
    let n = n();
    let mut values: Vec<BigUint> = edge_values(&n);
    values.extend([n.clone(), &n + 1u8, pow2(256) - 1u8]);
    let mut rng = test_rng("check_scalars_is_steps_b1_b2_b5", 2);
    values.extend((0..8).map(|_| big(&random_secret(&mut rng))));
    for r in &values {
        for s in values.iter().chain([&n - r % &n].iter()) {
            let (rb, sb) = (be32(r), be32(s));
            match check_scalars(&rb, &sb) {
                Ok(checked) => {
                    assert_eq!(range_rejection(&rb, &sb), None, "r {r:x} s {s:x}");
                    assert_eq!(big(&checked.t.to_bytes()), (r + s) % &n, "t of r {r:x} s {s:x}");
                    assert_eq!((checked.r.to_bytes(), checked.s.to_bytes()), (rb, sb));
                }
                Err(rejection) => assert_eq!(range_rejection(&rb, &sb), Some(rejection), "r {r:x} s {s:x}"),
            }
        }
    }
}

/// B6 yields the point at infinity: with the key's private key d, choose r with
/// s + (r + s) d = 0 mod n, i.e. r = -s (1 + d) / d.
#[test]
fn identity_sum_is_rejected_as_identity() {
    let n = n();
    let mut rng = test_rng("identity_sum_is_rejected_as_identity", 1);
    let mut secrets = vec![hex32(annex_a::SECRET)];
    secrets.extend((0..6).map(|_| random_secret(&mut rng)));
    let mut one = [0u8; 32];
    one[31] = 1;
    secrets.push(one); // the key is G itself: r = -2s
    for d_bytes in &secrets {
        let d = big(d_bytes);
        let pk = rustcrypto_public_key(d_bytes);
        let key = AffinePoint::from_sec1(&pk).expect("key");
        let table = PublicKeyTable::with_layouts(&key, true, true);
        for _ in 0..4 {
            let s = big(&random_secret(&mut rng));
            let r = sub_mod(&BigUint::from(0u8), &(&s * (&d + 1u8) % &n * inv_mod(&d, &n) % &n), &n);
            let (rb, sb) = (be32(&r), be32(&s));
            let e: [u8; 32] = rng.gen();
            assert_eq!(range_rejection(&rb, &sb), None);
            assert_eq!(
                ours_all_paths(&key, &table, &e, &rb, &sb),
                Err(Rejection::Identity),
                "d {}",
                hex::encode(d_bytes)
            );
            assert!(!rustcrypto_accepts_prehash(&pk, &e, &rb, &sb));
        }
    }
}

/// B7 when x1 is in [n, p): (e + x1) mod n must use x1 mod n = x1 - n. And a small x1.
#[test]
fn x1_at_and_above_n_and_small_x1() {
    let n = n();
    let ctx = libsm::sm2::signature::SigCtx::new();
    let mut rng = test_rng("x1_at_and_above_n_and_small_x1", 2);
    let mut points = Vec::new();
    // x in [n, p): there are about 2^128 such x, so a random signature never gets one.
    let mut start = n.clone();
    for _ in 0..4 {
        let (x, y) = first_point_from(&start);
        assert!(x < p());
        points.push((x.clone(), y));
        start = x + 1u8;
    }
    // The largest x below p with a point, and small x.
    let (x, y) = first_point_from(&(p() - 40u8));
    assert!(x < p(), "there is a point with x in [p - 40, p)");
    points.push((x, y));
    let (x, y) = first_point_from(&BigUint::from(0u8));
    points.push((x, y));
    for (x, y) in &points {
        for y in [y.clone(), p() - y] {
            let q = uncompressed(&be32(x), &be32(&y));
            let r = big(&random_secret(&mut rng));
            let s = big(&random_secret(&mut rng));
            let (pk, e) = key_and_digest_for_point(&q, &r, &s);
            let key = AffinePoint::from_sec1(&pk).expect("P on the curve");
            let table = PublicKeyTable::with_layouts(&key, true, true);
            let (rb, sb) = (be32(&r), be32(&s));
            let what = format!("x1 {x:x}");
            assert!(rustcrypto_accepts_prehash(&pk, &e, &rb, &sb), "{what}: RustCrypto rejects");
            assert!(libsm_accepts_prehash(&ctx, &pk, &e, &rb, &sb), "{what}: libsm rejects");
            assert_eq!(ours_all_paths(&key, &table, &e, &rb, &sb), Ok(()), "{what}");
            // One off in e either way: rejected by all.
            for delta in [1u8, 2] {
                let e2 = be32(&((big(&e) + delta) % &n));
                let e3 = be32(&sub_mod(&big(&e), &BigUint::from(delta), &n));
                for e in [e2, e3] {
                    assert_eq!(ours_all_paths(&key, &table, &e, &rb, &sb), Err(Rejection::Mismatch), "{what}");
                    assert!(!rustcrypto_accepts_prehash(&pk, &e, &rb, &sb), "{what}");
                }
            }
            // e + n (the same e mod n) when it fits: still valid.
            if let Some(e_plus_n) = fits32(&(big(&e) + &n)) {
                assert_eq!(ours_all_paths(&key, &table, &e_plus_n, &rb, &sb), Ok(()), "{what}: e + n");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 2. Differential: RustCrypto and libsm sign, everyone verifies
// ---------------------------------------------------------------------------------------

/// Random cases signed by RustCrypto `sm2` with the default ID.
const RUSTCRYPTO_DEFAULT_ID_CASES: usize = 3_750;
/// Random cases signed by RustCrypto `sm2` with random IDs (0..=48 printable ASCII bytes).
const RUSTCRYPTO_RANDOM_ID_CASES: usize = 3_750;
/// Random cases signed by `libsm` (which signs with the default ID only).
const LIBSM_CASES: usize = 2_500;
/// Each case is a valid signature and a tampered variant of it.
const DIFFERENTIAL_CASES: usize = RUSTCRYPTO_DEFAULT_ID_CASES + RUSTCRYPTO_RANDOM_ID_CASES + LIBSM_CASES;
const _: () = assert!(DIFFERENTIAL_CASES >= 10_000);

/// Largest batch the differential tests accumulate before verifying it as one batch.
const DIFF_BATCH_MAX: usize = 13;

/// One signature and what it signs.
#[derive(Clone)]
struct SignedCase {
    id: String,
    /// Uncompressed SEC1.
    pk: Vec<u8>,
    msg: Vec<u8>,
    r: [u8; 32],
    s: [u8; 32],
}

impl std::fmt::Display for SignedCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "id {:?} pk {} msg {} r {} s {}",
            self.id,
            hex::encode(&self.pk),
            hex::encode(&self.msg),
            hex::encode(self.r),
            hex::encode(self.s)
        )
    }
}

/// A verification waiting for the next batch, with the answer it must get.
struct BatchItem {
    key: AffinePoint,
    table: Rc<PublicKeyTable>,
    cold: bool,
    e: [u8; 32],
    r: [u8; 32],
    s: [u8; 32],
    expected: Result<(), Rejection>,
    what: String,
}

#[derive(Default)]
struct Batcher {
    items: Vec<BatchItem>,
    next_flush: usize,
    verified: usize,
}

impl Batcher {
    fn push(&mut self, rng: &mut StdRng, item: BatchItem) {
        self.items.push(item);
        if self.items.len() >= self.next_flush {
            self.flush();
            self.next_flush = rng.gen_range(1..=DIFF_BATCH_MAX);
        }
    }

    fn flush(&mut self) {
        let items: Vec<Prehashed<'_>> = self
            .items
            .iter()
            .map(|i| Prehashed {
                key: if i.cold { KeyRef::Cold(&i.key) } else { KeyRef::Table(&i.table) },
                e: &i.e,
                r: &i.r,
                s: &i.s,
            })
            .collect();
        let mut out = vec![Err(Rejection::Identity); items.len()];
        verify_batch_vartime(&items, &mut out);
        for (item, got) in self.items.iter().zip(&out) {
            assert_eq!(*got, item.expected, "batch of {}: {}", out.len(), item.what);
        }
        self.verified += out.len();
        self.items.clear();
    }
}

/// Which verifiers give a verdict on a case besides ours.
#[derive(Clone, Copy)]
struct Others {
    rustcrypto: bool,
    libsm: bool,
}

/// Our verdict (cold and table paths, which must agree; the item is also queued for a
/// batch), and RustCrypto's and libsm's when asked for. Our e is always checked against
/// libsm's SM3(Z ‖ M).
fn verdicts(
    case: &SignedCase,
    others: Others,
    ctx: &libsm::sm2::signature::SigCtx,
    rng: &mut StdRng,
    batcher: &mut Batcher,
) -> (Result<(), Rejection>, Option<bool>, Option<bool>) {
    let key = AffinePoint::from_sec1(&case.pk).expect("a valid key decodes");
    let z = z_value(case.id.as_bytes(), &key).expect("short ID");
    let e = message_digest(&z, &case.msg);
    let libsm_point = ctx.load_pubkey(&case.pk).expect("libsm takes the key");
    let libsm_e = ctx.hash(&case.id, &libsm_point, &case.msg).expect("libsm hashes");
    assert_eq!(e, libsm_e, "e differs from libsm's: {case}");

    let table = Rc::new(PublicKeyTable::with_layouts(&key, true, true));
    let ours = verify_prehashed_vartime(&key, &e, &case.r, &case.s);
    assert_eq!(
        verify_with_table_vartime(&table, &e, &case.r, &case.s),
        ours,
        "table path differs from cold path: {case}"
    );
    let rustcrypto = others.rustcrypto.then(|| rustcrypto_accepts(&case.id, &case.pk, &case.msg, &case.r, &case.s));
    let libsm = others.libsm.then(|| libsm_verdict(ctx, &case.id, &case.pk, &case.msg, &case.r, &case.s).0);
    let cold = rng.gen_bool(0.5);
    batcher.push(rng, BatchItem { key, table, cold, e, r: case.r, s: case.s, expected: ours, what: case.to_string() });
    (ours, rustcrypto, libsm)
}

/// A random tampering of a valid case: a bit of the message, r or s flipped, another key,
/// or another ID.
fn tamper(case: &SignedCase, rng: &mut StdRng) -> (SignedCase, &'static str) {
    let mut t = case.clone();
    let what = match rng.gen_range(0..5) {
        0 => {
            if t.msg.is_empty() {
                t.msg.push(rng.gen());
                "message extended"
            } else {
                let bit = rng.gen_range(0..t.msg.len() * 8);
                flip_bit(&mut t.msg, bit);
                "message bit"
            }
        }
        1 => {
            flip_bit(&mut t.r, rng.gen_range(0..256));
            "r bit"
        }
        2 => {
            flip_bit(&mut t.s, rng.gen_range(0..256));
            "s bit"
        }
        3 => {
            t.pk = rustcrypto_public_key(&random_secret(rng));
            "another key"
        }
        _ => {
            while t.id == case.id {
                t.id = if rng.gen_bool(0.3) { default_id().to_owned() } else { random_id(rng) };
            }
            "another ID"
        }
    };
    (t, what)
}

/// Valid signatures are checked by the library that did not sign them on every
/// `VALID_CROSS_CHECK_EVERY`-th case only (a libsm verification costs about ten of ours);
/// every tampered variant is judged by all three verifiers.
const VALID_CROSS_CHECK_EVERY: usize = 4;

/// Check case number `index` (valid) and a tampered variant of it.
fn check_case(
    case: &SignedCase,
    signed_by_libsm: bool,
    index: usize,
    ctx: &libsm::sm2::signature::SigCtx,
    rng: &mut StdRng,
    batcher: &mut Batcher,
) {
    let signer = if signed_by_libsm { "libsm" } else { "RustCrypto" };
    let cross = index.is_multiple_of(VALID_CROSS_CHECK_EVERY);
    let others = Others { rustcrypto: signed_by_libsm && cross, libsm: !signed_by_libsm && cross };
    let (ours, rustcrypto, libsm) = verdicts(case, others, ctx, rng, batcher);
    assert!(
        ours == Ok(()) && rustcrypto != Some(false) && libsm != Some(false),
        "valid {signer} signature: ours {ours:?}, RustCrypto {rustcrypto:?}, libsm {libsm:?}: {case}"
    );

    let (bad, how) = tamper(case, rng);
    let all = Others { rustcrypto: true, libsm: true };
    let (ours, rustcrypto, libsm) = verdicts(&bad, all, ctx, rng, batcher);
    assert!(
        ours.is_err() && rustcrypto == Some(false) && libsm == Some(false),
        "tampered ({how}) {signer} signature: ours {ours:?}, RustCrypto {rustcrypto:?}, libsm {libsm:?}: {bad}"
    );
    let want = range_rejection(&bad.r, &bad.s).unwrap_or(Rejection::Mismatch);
    assert_eq!(ours, Err(want), "tampered ({how}) {signer} signature: {bad}");
}

/// `cases` RustCrypto signatures by random keys over random messages, with the default ID
/// or random ones.
fn differential_rustcrypto(test: &str, salt: u64, cases: usize, random_ids: bool) {
    let start = Instant::now();
    let mut rng = test_rng(test, salt);
    let ctx = libsm::sm2::signature::SigCtx::new();
    let mut batcher = Batcher { next_flush: 1, ..Batcher::default() };
    for index in 0..cases {
        let id = if random_ids { random_id(&mut rng) } else { default_id().to_owned() };
        let d = random_secret(&mut rng);
        let signing = sm2::dsa::SigningKey::from_slice(&id, &d).expect("secret in range");
        let len = rng.gen_range(0..300);
        let msg = random_bytes(&mut rng, len);
        let sig: sm2::dsa::Signature = signing.sign(&msg);
        let case = SignedCase {
            pk: signing.verifying_key().to_sec1_bytes().to_vec(),
            id,
            msg,
            r: sig.r_bytes().into(),
            s: sig.s_bytes().into(),
        };
        check_case(&case, false, index, &ctx, &mut rng, &mut batcher);
    }
    batcher.flush();
    assert_eq!(batcher.verified, 2 * cases);
    eprintln!("{test}: {cases} cases (valid + tampered) in {:?}", start.elapsed());
}

#[test]
fn differential_rustcrypto_default_id() {
    differential_rustcrypto("differential_rustcrypto_default_id", 3, RUSTCRYPTO_DEFAULT_ID_CASES, false);
}

#[test]
fn differential_rustcrypto_random_ids() {
    differential_rustcrypto("differential_rustcrypto_random_ids", 4, RUSTCRYPTO_RANDOM_ID_CASES, true);
}

#[test]
fn differential_libsm_signatures() {
    let start = Instant::now();
    let mut rng = test_rng("differential_libsm_signatures", 8);
    let ctx = libsm::sm2::signature::SigCtx::new();
    let mut batcher = Batcher { next_flush: 1, ..Batcher::default() };
    for index in 0..LIBSM_CASES {
        let d = random_secret(&mut rng);
        let d_big = big(&d);
        let point = ctx.pk_from_sk(&d_big).expect("secret in range");
        let pk = ctx.serialize_pubkey(&point, false).expect("encodes");
        assert_eq!(pk, rustcrypto_public_key(&d), "libsm and RustCrypto derive different keys from {}", hex::encode(d));
        let len = rng.gen_range(0..300);
        let msg = random_bytes(&mut rng, len);
        // libsm draws its nonce from its own unseeded RNG: the failure message has the bytes.
        let sig = ctx.sign(&msg, &d_big, &point).expect("libsm signs");
        let case = SignedCase { id: default_id().to_owned(), pk, msg, r: be32(sig.get_r()), s: be32(sig.get_s()) };
        check_case(&case, true, index, &ctx, &mut rng, &mut batcher);
    }
    batcher.flush();
    assert_eq!(batcher.verified, 2 * LIBSM_CASES);
    eprintln!("differential_libsm_signatures: {LIBSM_CASES} cases (valid + tampered) in {:?}", start.elapsed());
}

// ---------------------------------------------------------------------------------------
// 3. Field and scalar arithmetic against num-bigint
// ---------------------------------------------------------------------------------------

/// Values below m that are hard on limb code: 0, 1, m-1, powers of two, all-ones limbs.
fn edge_values(m: &BigUint) -> Vec<BigUint> {
    let ones64 = pow2(64) - 1u8;
    let mut v = vec![
        BigUint::from(0u8),
        BigUint::from(1u8),
        BigUint::from(2u8),
        BigUint::from(3u8),
        m - 1u8,
        m - 2u8,
        m - 3u8,
        (m - 1u8) >> 1,
        (m + 1u8) >> 1,
        pow2(255),
        pow2(255) - 1u8,
        pow2(255) + 1u8,
        m - pow2(64),
        m - pow2(96),
        m - pow2(224),
        pow2(224),
        pow2(224) - 1u8,
        pow2(96) - 1u8,
        pow2(32),
    ];
    for k in [64u32, 128, 192] {
        v.push(pow2(k) - 1u8);
        v.push(pow2(k));
        v.push(pow2(k) + 1u8);
    }
    // Limb patterns: each 64-bit limb all ones or all zeros.
    for mask in 0u32..16 {
        let mut x = BigUint::from(0u8);
        for limb in 0..4u32 {
            if (mask >> limb) & 1 == 1 {
                x += &ones64 << (64 * limb);
            }
        }
        v.push(x);
    }
    v.retain(|x| x < m);
    v
}

/// A value below m: an edge value one time in four, else uniform bytes reduced mod m.
fn value_below(m: BigUint) -> BoxedStrategy<BigUint> {
    let edges = edge_values(&m);
    prop_oneof![
        1 => prop::sample::select(edges),
        3 => prop::array::uniform32(any::<u8>()).prop_map(move |b| big(&b) % &m),
    ]
    .boxed()
}

/// A 256-bit value at or above m.
fn value_at_or_above(m: BigUint) -> BoxedStrategy<BigUint> {
    let span = pow2(256) - &m;
    let m2 = m.clone();
    prop_oneof![
        1 => prop::sample::select(vec![m.clone(), &m + 1u8, pow2(256) - 1u8, pow2(256) - 2u8]),
        3 => prop::array::uniform32(any::<u8>()).prop_map(move |b| &m2 + big(&b) % &span),
    ]
    .boxed()
}

#[test]
fn curve_constants_are_the_standards() {
    let p = p();
    let expected_p = pow2(256) - pow2(224) - pow2(96) + pow2(64) - 1u8;
    assert_eq!(p, expected_p);
    assert_eq!(big(&A_BYTES), &p - 3u8);
    assert!(n() < p && n() > pow2(255));
    // G satisfies the curve equation (in bigint) and matches RustCrypto's generator.
    let (gx, gy) = (big(&GX_BYTES), big(&GY_BYTES));
    assert_eq!(gy.modpow(&BigUint::from(2u8), &p), curve_rhs(&gx));
    let g = AffinePoint::generator();
    assert!(g.is_on_curve());
    assert_eq!(g.x_bytes(), GX_BYTES);
    assert_eq!(g.y_bytes(), GY_BYTES);
    let rc_g = sm2::ProjectivePoint::generator().to_affine().to_sec1_point(false).as_bytes().to_vec();
    assert_eq!(rc_g, g.to_uncompressed().to_vec());
    assert_eq!(AffinePoint::from_coordinates(&GX_BYTES, &GY_BYTES), Ok(g));
    // Field constants.
    assert_eq!(fe_big(&Fe::ZERO), BigUint::from(0u8));
    assert_eq!(fe_big(&Fe::ONE), BigUint::from(1u8));
    assert_eq!(Fe::A.to_bytes(), A_BYTES);
    assert_eq!(Fe::B.to_bytes(), B_BYTES);
    assert!(Fe::ZERO.is_zero() && !Fe::ONE.is_zero());
    // -1 is not a square (p = 3 mod 4), 4 is.
    assert_eq!(fe(&(&p - 1u8)).sqrt(), None);
    let two = fe(&BigUint::from(2u8));
    let root = fe(&BigUint::from(4u8)).sqrt().expect("4 is a square");
    assert!(root == two || root == two.neg());
    assert_eq!(Fe::ZERO.sqrt(), Some(Fe::ZERO));
    assert_eq!(Fe::ZERO.invert(), Fe::ZERO, "0 maps to 0 (documented)");
    assert_eq!(Scalar::from_bytes(&N_BYTES), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn field_ring_operations_match_bigint(a in value_below(p()), b in value_below(p())) {
        let p = p();
        let (x, y) = (fe(&a), fe(&b));
        prop_assert_eq!(x.to_bytes(), be32(&a));
        prop_assert_eq!(fe_big(&x.add(&y)), (&a + &b) % &p);
        prop_assert_eq!(fe_big(&x.sub(&y)), sub_mod(&a, &b, &p));
        prop_assert_eq!(fe_big(&x.neg()), sub_mod(&BigUint::from(0u8), &a, &p));
        prop_assert_eq!(fe_big(&x.mul(&y)), &a * &b % &p);
        prop_assert_eq!(fe_big(&x.square()), &a * &a % &p);
        prop_assert_eq!(fe_big(&x.double()), (&a << 1u8) % &p);
        prop_assert_eq!(x.is_zero(), a == BigUint::from(0u8));
        prop_assert_eq!(x == y, a == b);
        prop_assert_eq!(x.add(&y).sub(&y), x);
        prop_assert_eq!(x.add(&x.neg()), Fe::ZERO);
    }

    #[test]
    fn field_invert_matches_bigint(a in value_below(p())) {
        let p = p();
        let x = fe(&a);
        let inv = x.invert();
        if a == BigUint::from(0u8) {
            prop_assert_eq!(inv, Fe::ZERO);
        } else {
            prop_assert_eq!(x.mul(&inv), Fe::ONE);
            prop_assert_eq!(fe_big(&inv), inv_mod(&a, &p));
        }
    }

    #[test]
    fn field_sqrt_of_squares_and_non_squares(a in value_below(p()), b in value_below(p())) {
        let p = p();
        // The square of a has the roots a and -a.
        let sq = &a * &a % &p;
        let root = fe(&sq).sqrt();
        prop_assert!(root.is_some(), "no root of {:x}^2", a);
        let root = fe_big(&root.unwrap_or(Fe::ZERO));
        prop_assert!(root == a || root == sub_mod(&BigUint::from(0u8), &a, &p));
        // b is a square iff Euler's criterion says so.
        match fe(&b).sqrt() {
            Some(r) => {
                prop_assert!(is_square_mod_p(&b), "root of the non-square {:x}", b);
                prop_assert_eq!(r.square(), fe(&b));
            }
            None => prop_assert!(!is_square_mod_p(&b), "no root of the square {:x}", b),
        }
    }

    #[test]
    fn field_pow_matches_bigint(a in value_below(p()), exp in prop::array::uniform4(any::<u64>())) {
        let mut e = BigUint::from(0u8);
        for limb in exp.iter().rev() {
            e = (e << 64u8) + *limb;
        }
        prop_assert_eq!(fe_big(&fe(&a).pow_vartime(&exp)), a.modpow(&e, &p()));
    }

    #[test]
    fn field_from_bytes_rejects_non_canonical(x in value_at_or_above(p())) {
        prop_assert_eq!(Fe::from_bytes(&be32(&x)), None);
    }

    #[test]
    fn scalar_operations_match_bigint(a in value_below(n()), b in value_below(n())) {
        let n = n();
        let x = Scalar::from_bytes(&be32(&a)).expect("below n");
        let y = Scalar::from_bytes(&be32(&b)).expect("below n");
        prop_assert_eq!(x.to_bytes(), be32(&a));
        prop_assert_eq!(big(&x.add(&y).to_bytes()), (&a + &b) % &n);
        prop_assert_eq!(big(&x.sub(&y).to_bytes()), sub_mod(&a, &b, &n));
        prop_assert_eq!(big(&x.neg().to_bytes()), sub_mod(&BigUint::from(0u8), &a, &n));
        prop_assert_eq!(x.is_zero(), a == BigUint::from(0u8));
        prop_assert_eq!(Scalar::reduce_bytes(&be32(&a)), x);
    }

    #[test]
    fn scalar_reduce_bytes_matches_bigint(bytes in prop::array::uniform32(any::<u8>()), high in value_at_or_above(n())) {
        let n = n();
        prop_assert_eq!(big(&Scalar::reduce_bytes(&bytes).to_bytes()), big(&bytes) % &n);
        prop_assert_eq!(big(&Scalar::reduce_bytes(&be32(&high)).to_bytes()), &high % &n);
    }

    #[test]
    fn scalar_from_bytes_rejects_out_of_range(x in value_at_or_above(n())) {
        prop_assert_eq!(Scalar::from_bytes(&be32(&x)), None);
    }
}

#[test]
fn field_and_scalar_edge_values_exhaustively() {
    // Every pair of edge values (the proptests draw them only now and then).
    let (p, n) = (p(), n());
    let edges = edge_values(&p);
    for a in &edges {
        let x = fe(a);
        assert_eq!(fe_big(&x.invert().mul(&x)), BigUint::from(u8::from(*a != BigUint::from(0u8))), "{a:x}");
        for b in &edges {
            let y = fe(b);
            assert_eq!(fe_big(&x.add(&y)), (a + b) % &p, "{a:x} + {b:x}");
            assert_eq!(fe_big(&x.sub(&y)), sub_mod(a, b, &p), "{a:x} - {b:x}");
            assert_eq!(fe_big(&x.mul(&y)), a * b % &p, "{a:x} * {b:x}");
        }
    }
    let edges = edge_values(&n);
    for a in &edges {
        let x = Scalar::from_bytes(&be32(a)).expect("below n");
        for b in &edges {
            let y = Scalar::from_bytes(&be32(b)).expect("below n");
            assert_eq!(big(&x.add(&y).to_bytes()), (a + b) % &n, "{a:x} + {b:x}");
            assert_eq!(big(&x.sub(&y).to_bytes()), sub_mod(a, b, &n), "{a:x} - {b:x}");
        }
    }
    for x in [p.clone(), &p + 1u8, pow2(256) - 1u8] {
        assert_eq!(Fe::from_bytes(&be32(&x)), None, "{x:x}");
    }
    for x in [n.clone(), &n + 1u8, pow2(256) - 1u8, p.clone()] {
        assert_eq!(Scalar::from_bytes(&be32(&x)), None, "{x:x}");
        assert_eq!(big(&Scalar::reduce_bytes(&be32(&x)).to_bytes()), &x % &n, "{x:x}");
    }
}

// ---------------------------------------------------------------------------------------
// 4. SEC1 decoding and the ID length limit
// ---------------------------------------------------------------------------------------

#[test]
fn sec1_round_trips_of_random_keys() {
    let p = p();
    let mut rng = test_rng("sec1_round_trips_of_random_keys", 5);
    for _ in 0..200 {
        let pk = rustcrypto_public_key(&random_secret(&mut rng));
        assert_eq!(pk.len(), 65);
        let x: [u8; 32] = pk[1..33].try_into().expect("32");
        let y: [u8; 32] = pk[33..].try_into().expect("32");
        let parity = if y[31] & 1 == 1 { 0x03 } else { 0x02 };
        let comp = compressed(parity, &x);

        let from_uncompressed = AffinePoint::from_sec1(&pk).expect("uncompressed decodes");
        let from_compressed = AffinePoint::from_sec1(&comp).expect("compressed decodes");
        assert_eq!(from_uncompressed, from_compressed);
        assert_eq!(AffinePoint::from_coordinates(&x, &y), Ok(from_uncompressed));
        assert!(from_uncompressed.is_on_curve());
        assert_eq!(from_uncompressed.to_uncompressed().to_vec(), pk);
        assert_eq!(from_uncompressed.to_compressed().to_vec(), comp);
        assert_eq!((from_uncompressed.x_bytes(), from_uncompressed.y_bytes()), (x, y));

        // The other parity is the negated point.
        let other = AffinePoint::from_sec1(&compressed(parity ^ 1, &x)).expect("the other root");
        assert_eq!(other.x_bytes(), x);
        assert_eq!(big(&other.y_bytes()), &p - big(&y));
        assert!(other.is_on_curve());
        assert_eq!(other.to_compressed().to_vec(), compressed(parity ^ 1, &x));
        assert_ne!(other, from_uncompressed);

        // Off the curve: y + 1 (or y - 1 at the top).
        let y_big = big(&y);
        let y_off = if y_big == &p - 1u8 { &y_big - 1u8 } else { &y_big + 1u8 };
        assert_eq!(AffinePoint::from_sec1(&uncompressed(&x, &be32(&y_off))), Err(Error::NotOnCurve));
        assert_eq!(AffinePoint::from_coordinates(&x, &be32(&y_off)), Err(Error::NotOnCurve));

        // Non-canonical y: y = p, y = 2^256 - 1, and y + p when it fits.
        let mut ys = vec![P_BYTES, [0xFF; 32]];
        ys.extend(fits32(&(&y_big + &p)));
        for y_bad in ys {
            assert_eq!(AffinePoint::from_sec1(&uncompressed(&x, &y_bad)), Err(Error::NonCanonicalCoordinate("y")));
        }
    }
}

#[test]
fn sec1_non_canonical_x() {
    let p = p();
    // A point with a small x, so that x + p fits 256 bits.
    let (x, y) = first_point_from(&BigUint::from(0u8));
    let (xb, yb) = (be32(&x), be32(&y));
    assert!(AffinePoint::from_sec1(&uncompressed(&xb, &yb)).is_ok());
    let x_plus_p = be32(&(&x + &p));
    for x_bad in [x_plus_p, P_BYTES, be32(&(&p + 1u8)), [0xFF; 32]] {
        assert_eq!(AffinePoint::from_sec1(&uncompressed(&x_bad, &yb)), Err(Error::NonCanonicalCoordinate("x")));
        assert_eq!(AffinePoint::from_coordinates(&x_bad, &yb), Err(Error::NonCanonicalCoordinate("x")));
        for prefix in [0x02, 0x03] {
            assert_eq!(AffinePoint::from_sec1(&compressed(prefix, &x_bad)), Err(Error::NonCanonicalCoordinate("x")));
        }
    }
}

#[test]
fn sec1_compressed_x_without_a_root() {
    // The first x whose x^3 + ax + b is not a square (Euler's criterion in bigint), and a few more.
    let mut found = 0;
    let mut x = BigUint::from(0u8);
    while found < 8 {
        if !is_square_mod_p(&curve_rhs(&x)) {
            for prefix in [0x02, 0x03] {
                assert_eq!(AffinePoint::from_sec1(&compressed(prefix, &be32(&x))), Err(Error::NotOnCurve), "x {x:x}");
            }
            found += 1;
        } else {
            for prefix in [0x02, 0x03] {
                let pt = AffinePoint::from_sec1(&compressed(prefix, &be32(&x))).expect("x has a root");
                assert_eq!(pt.to_compressed()[0], prefix);
                assert!(pt.is_on_curve());
            }
        }
        x += 1u8;
    }
}

#[test]
fn sec1_lengths_and_prefixes() {
    let g = AffinePoint::generator();
    let unc = g.to_uncompressed();
    let comp = g.to_compressed();
    let length_error = |bytes: &[u8]| match AffinePoint::from_sec1(bytes) {
        Err(Error::InvalidLength { got, .. }) => assert_eq!(got, bytes.len()),
        other => panic!("{} bytes with prefix {:02x?}: {other:?}", bytes.len(), bytes.first()),
    };
    length_error(&[]);
    length_error(&[0x04]);
    length_error(&[0x02]);
    length_error(&[0x03]);
    length_error(&unc[..64]);
    length_error(&unc[..33]);
    length_error(&unc[..34]);
    length_error(&[&unc[..], &[0u8][..]].concat());
    length_error(&comp[..32]);
    length_error(&[&comp[..], &[0u8][..]].concat());
    let mut as_compressed = unc.to_vec();
    as_compressed[0] = 0x02;
    length_error(&as_compressed);
    let mut as_uncompressed = comp.to_vec();
    as_uncompressed[0] = 0x04;
    length_error(&as_uncompressed);

    assert_eq!(AffinePoint::from_sec1(&[0x00]), Err(Error::Identity));
    assert_eq!(AffinePoint::from_sec1(&[0x00, 0x00]), Err(Error::InvalidPrefix(0x00)));
    for prefix in [0x05, 0x06, 0x07, 0x01, 0x08, 0xFF] {
        let mut bytes = unc.to_vec();
        bytes[0] = prefix;
        assert_eq!(AffinePoint::from_sec1(&bytes), Err(Error::InvalidPrefix(prefix)));
        let mut bytes = comp.to_vec();
        bytes[0] = prefix;
        assert_eq!(AffinePoint::from_sec1(&bytes), Err(Error::InvalidPrefix(prefix)));
        assert_eq!(AffinePoint::from_sec1(&[prefix]), Err(Error::InvalidPrefix(prefix)));
    }
}

/// Whether `bytes` is a valid SEC1 key by a bigint model (length, prefix, range, curve).
fn sec1_model_accepts(bytes: &[u8]) -> bool {
    let p = p();
    match (bytes.first(), bytes.len()) {
        (Some(0x04), 65) => {
            let (x, y) = (big(&bytes[1..33]), big(&bytes[33..]));
            x < p && y < p && (&y * &y % &p) == curve_rhs(&x)
        }
        (Some(0x02 | 0x03), 33) => {
            let x = big(&bytes[1..]);
            x < p && is_square_mod_p(&curve_rhs(&x))
        }
        _ => false,
    }
}

fn check_from_sec1(bytes: &[u8]) -> Result<(), TestCaseError> {
    let decoded = AffinePoint::from_sec1(bytes);
    prop_assert_eq!(decoded.is_ok(), sec1_model_accepts(bytes), "{}: {:?}", hex::encode(bytes), decoded);
    if let Ok(pt) = decoded {
        prop_assert!(pt.is_on_curve());
        if bytes.len() == 65 {
            prop_assert_eq!(&pt.to_uncompressed()[..], bytes);
        } else {
            prop_assert_eq!(&pt.to_compressed()[..], bytes);
        }
        prop_assert_eq!(AffinePoint::from_sec1(&pt.to_uncompressed()), Ok(pt));
        prop_assert_eq!(AffinePoint::from_sec1(&pt.to_compressed()), Ok(pt));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn from_sec1_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        check_from_sec1(&bytes)?;
    }

    #[test]
    fn from_sec1_on_well_shaped_bytes(
        prefix in prop::sample::select(vec![0x02u8, 0x03, 0x04, 0x06, 0x07, 0x00, 0x05]),
        body in prop::collection::vec(any::<u8>(), 64),
        compressed_len in any::<bool>(),
    ) {
        let len = if compressed_len { 32 } else { 64 };
        let bytes = [&[prefix][..], &body[..len]].concat();
        check_from_sec1(&bytes)?;
    }

    #[test]
    fn from_sec1_on_near_valid_keys(d in prop::array::uniform32(any::<u8>()), byte in 0usize..65, bit in 0u8..8) {
        // A valid key with one bit flipped: almost always rejected, and never a panic.
        let d = be32(&(big(&d) % (n() - 1u8) + 1u8));
        let mut pk = rustcrypto_public_key(&d);
        check_from_sec1(&pk)?;
        pk[byte] ^= 1 << bit;
        check_from_sec1(&pk)?;
    }
}

#[test]
fn z_value_id_length_limit() {
    let key = AffinePoint::generator();
    let too_long = vec![b'a'; 8192];
    assert_eq!(z_value(&too_long, &key), Err(Error::IdTooLong(8192)));
    assert_eq!(z_value(&vec![0u8; 70_000], &key), Err(Error::IdTooLong(70_000)));
    let longest = "b".repeat(8191);
    let z = z_value(longest.as_bytes(), &key).expect("8191 bytes fit ENTL");
    assert_ne!(z, z_value(&longest.as_bytes()[..8190], &key).expect("fits"));
    // Agrees with libsm's e for the longest ID, and a RustCrypto signature with it verifies.
    let msg = b"longest ID";
    let e = message_digest(&z, msg);
    let ctx = libsm::sm2::signature::SigCtx::new();
    let point = ctx.load_pubkey(&key.to_uncompressed()).expect("G");
    assert_eq!(ctx.hash(&longest, &point, msg).expect("hashes"), e);

    let d = hex32(annex_a::SECRET);
    let signing = sm2::dsa::SigningKey::from_slice(&longest, &d).expect("secret");
    let sig: sm2::dsa::Signature = signing.sign(msg);
    let key = AffinePoint::from_sec1(&signing.verifying_key().to_sec1_bytes()).expect("key");
    let e = message_digest(&z_value(longest.as_bytes(), &key).expect("fits"), msg);
    assert_eq!(verify_prehashed_vartime(&key, &e, &sig.r_bytes().into(), &sig.s_bytes().into()), Ok(()));
}

// ---------------------------------------------------------------------------------------
// 5. Batches agree with single verification
// ---------------------------------------------------------------------------------------

struct TestSigner {
    d: BigUint,
    key: AffinePoint,
    table: PublicKeyTable,
    /// (e, r, s) of valid signatures.
    sigs: Vec<([u8; 32], [u8; 32], [u8; 32])>,
}

fn signers(rng: &mut StdRng, count: usize) -> Vec<TestSigner> {
    (0..count)
        .map(|_| {
            let d_bytes = random_secret(rng);
            let id = random_id(rng);
            let signing = sm2::dsa::SigningKey::from_slice(&id, &d_bytes).expect("secret");
            let key = AffinePoint::from_sec1(&signing.verifying_key().to_sec1_bytes()).expect("key");
            let z = z_value(id.as_bytes(), &key).expect("short ID");
            let sigs = (0..6)
                .map(|_| {
                    let len = rng.gen_range(0..100);
                    let msg = random_bytes(rng, len);
                    let sig: sm2::dsa::Signature = signing.sign(&msg);
                    (message_digest(&z, &msg), sig.r_bytes().into(), sig.s_bytes().into())
                })
                .collect();
            TestSigner { d: big(&d_bytes), table: PublicKeyTable::with_layouts(&key, true, true), key, sigs }
        })
        .collect()
}

/// A random item for a signer: valid, or broken in one of many ways. Returns (e, r, s) and
/// the verdict it must get.
fn random_item(signer: &TestSigner, rng: &mut StdRng) -> ([u8; 32], [u8; 32], [u8; 32], Result<(), Rejection>) {
    let n = n();
    let (e, r, s) = signer.sigs[rng.gen_range(0..signer.sigs.len())];
    let (mut e, mut r, mut s) = (e, r, s);
    let expected = match rng.gen_range(0..11) {
        0..=3 => Ok(()),
        4 => {
            flip_bit(&mut e, rng.gen_range(0..256));
            Err(Rejection::Mismatch)
        }
        5 => {
            flip_bit(&mut r, rng.gen_range(0..256));
            Err(range_rejection(&r, &s).unwrap_or(Rejection::Mismatch))
        }
        6 => {
            flip_bit(&mut s, rng.gen_range(0..256));
            Err(range_rejection(&r, &s).unwrap_or(Rejection::Mismatch))
        }
        7 => {
            match rng.gen_range(0..4) {
                0 => r = [0; 32],
                1 => s = [0; 32],
                2 => r = N_BYTES,
                _ => s = [0xFF; 32],
            }
            Err(range_rejection(&r, &s).expect("out of range"))
        }
        8 => {
            s = be32(&(&n - big(&r)));
            Err(Rejection::TIsZero)
        }
        9 => {
            // s*G + t*P = O with P = dG: r = -s (1 + d) / d.
            let sv = big(&s);
            let rv = sub_mod(&BigUint::from(0u8), &(&sv * (&signer.d + 1u8) % &n * inv_mod(&signer.d, &n) % &n), &n);
            r = be32(&rv);
            Err(Rejection::Identity)
        }
        _ => {
            r = rng.gen();
            s = rng.gen();
            Err(range_rejection(&r, &s).unwrap_or(Rejection::Mismatch))
        }
    };
    (e, r, s, expected)
}

#[test]
fn batches_match_single_verification() {
    let mut rng = test_rng("batches_match_single_verification", 6);
    let signers = signers(&mut rng, 5);
    let mut checked = 0;
    for size in 0..=13usize {
        for _ in 0..40 {
            let mut owned = Vec::with_capacity(size);
            for _ in 0..size {
                let who = rng.gen_range(0..signers.len());
                let (e, r, s, expected) = random_item(&signers[who], &mut rng);
                owned.push((who, rng.gen_bool(0.5), e, r, s, expected));
            }
            let items: Vec<Prehashed<'_>> = owned
                .iter()
                .map(|(who, cold, e, r, s, _)| Prehashed {
                    key: if *cold { KeyRef::Cold(&signers[*who].key) } else { KeyRef::Table(&signers[*who].table) },
                    e,
                    r,
                    s,
                })
                .collect();
            // Answer slots start with a value no item should keep by accident.
            let mut out = vec![Err(Rejection::TIsZero); size];
            verify_batch_vartime(&items, &mut out);
            for (i, (who, cold, e, r, s, expected)) in owned.iter().enumerate() {
                let single = verify_prehashed_vartime(&signers[*who].key, e, r, s);
                let what = format!(
                    "batch of {size}, item {i} (cold {cold}): e {} r {} s {}",
                    hex::encode(e),
                    hex::encode(r),
                    hex::encode(s)
                );
                assert_eq!(out[i], single, "{what}");
                assert_eq!(single, *expected, "{what}");
                assert_eq!(verify_with_table_vartime(&signers[*who].table, e, r, s), single, "{what}");
                checked += 1;
            }
        }
    }
    assert!(checked > 2000, "{checked}");
}

#[test]
fn batch_of_identical_items_in_all_lanes() {
    let mut rng = test_rng("batch_of_identical_items_in_all_lanes", 7);
    let signers = signers(&mut rng, 1);
    let sg = &signers[0];
    let (e, r, s) = sg.sigs[0];
    for size in [1usize, 3, 4, 5, 8, 13] {
        for cold in [true, false] {
            let key = if cold { KeyRef::Cold(&sg.key) } else { KeyRef::Table(&sg.table) };
            let items = vec![Prehashed { key, e: &e, r: &r, s: &s }; size];
            let mut out = vec![Err(Rejection::Mismatch); size];
            verify_batch_vartime(&items, &mut out);
            assert!(out.iter().all(|v| *v == Ok(())), "size {size} cold {cold}: {out:?}");
        }
    }
    let mut out: Vec<Result<(), Rejection>> = Vec::new();
    verify_batch_vartime(&[], &mut out);
}

#[test]
#[should_panic(expected = "one answer slot per item")]
fn batch_needs_one_answer_slot_per_item() {
    let g = AffinePoint::generator();
    let z = [1u8; 32];
    let items = [Prehashed { key: KeyRef::Cold(&g), e: &z, r: &z, s: &z }];
    let mut out = [Ok(()); 2];
    verify_batch_vartime(&items, &mut out);
}
