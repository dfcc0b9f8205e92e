//! The conformance suite: every backend built must give the CPU reference's answers, byte for
//! byte. [`backends()`] holds the cpu backend on one and on two threads, every OpenCL device
//! found (POCL in CI, where a missing device is a failure), a simulated card served
//! in-process, and the SDF backend on the soft card `libxinlian_sdf_sim.so` (a second,
//! independent implementation: RustCrypto); every test here runs on each of them unchanged.
//!
//! The references: [`verify_one`] for verdicts, [`sm3::digest`] for digests and
//! [`merkle::root`] for Merkle roots. What is checked:
//! - the known-answer self-test passes on every backend;
//! - the SM2 example of GB/T 32918.5 Annex A through [`prepare`] (DER and raw signature,
//!   compressed and uncompressed key, with and without a key cache) gives its Z, its e, and
//!   `Valid`; the same with a changed message gives `Invalid(Mismatch)`;
//! - 10,770 random RustCrypto-signed signatures, valid and tampered (flipped message bit,
//!   r+1, s+1, r=0, s=0, r=n, n-r, another key, another ID), DER and raw, compressed and
//!   uncompressed keys, some with per-key tables, mixed in batches of 1, 2, 3, 7, 64 and
//!   1000: the reference gives `Valid` exactly for the untampered ones, and every backend
//!   (and every kernels verification path this CPU has) gives the reference's verdicts;
//! - malformed keys, signatures and IDs give `Malformed` with a reason naming the part;
//!   SEC1 decoding accepts exactly the points RustCrypto accepts; proptests feed arbitrary
//!   and mutated bytes to [`prepare`] (never a panic);
//! - SM3 via `sm3_batch` on every length 0..=10,000 (one batch, and random sub-batches);
//! - Merkle: folding `merkle_level` up to one node gives [`merkle::root`], 1..=1000 leaves.
//!
//! Random inputs come from seeded RNGs; the seed (override: `XINLIAN_TEST_SEED`) is in every
//! failure message.

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use std::sync::Arc;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sm2::dsa::signature::Signer as _;
use xinlian_accel::backends::cpu::verify_one;
use xinlian_accel::self_test::{ANNEX_A_E, ANNEX_A_MSG, ANNEX_A_PUBKEY, ANNEX_A_R, ANNEX_A_S, ANNEX_A_Z};
use xinlian_accel::{
    prepare, Backend, CpuBackend, Digest, KeyCache, KeyCacheConfig, MessageBatch, PreparedVerify, Verdict,
    VerifyRequest,
};
use xinlian_kernels::sm2::curve::{N_BYTES, P_BYTES};
use xinlian_kernels::sm2::{self as xsm2, AffinePoint, PublicKeyTable, Rejection};
use xinlian_kernels::{merkle, sm3};

/// Every backend built. New backends go here; every test below runs on each.
pub(crate) fn backends() -> Vec<Box<dyn Backend>> {
    let mut all: Vec<Box<dyn Backend>> = vec![Box::new(CpuBackend::new(1)), Box::new(CpuBackend::new(2))];
    // OpenCL: the shared backend when a device is found; none found fails under `CI` and
    // prints `SKIPPED <test>: ...` otherwise (see opencl::backend).
    all.extend(crate::opencl::conformance_backend());
    // The card: hw-sim's pcie-2019 on a thread of this process, no faults, fast pacing.
    all.push(crate::card::conformance_backend());
    // SDF: the soft card (RustCrypto math) through dlopen, one for the whole process.
    all.push(crate::sdf::conformance_backend());
    all
}

/// The default distinguishing ID, as RustCrypto takes it.
pub(crate) const ID: &str = "1234567812345678";

/// The base seed: `XINLIAN_TEST_SEED` if set, else a fixed one. Tests mix in their own salt.
pub(crate) fn seed(salt: u64) -> u64 {
    let base =
        std::env::var("XINLIAN_TEST_SEED").ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(0x5EED_C0DE_2024);
    base ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A seeded RNG and a label for failure messages.
pub(crate) fn rng(salt: u64) -> (StdRng, String) {
    let s = seed(salt);
    (StdRng::seed_from_u64(s), format!("seed {s} (salt {salt}; rerun with XINLIAN_TEST_SEED to vary)"))
}

/// 32-byte big-endian a + b mod 2^256.
pub(crate) fn add_be(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum.to_be_bytes()[1];
        carry = sum >> 8;
    }
    out
}

/// 32-byte big-endian a - b mod 2^256.
pub(crate) fn sub_be(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = u8::try_from(d).unwrap();
    }
    out
}

/// The number 1, 32 bytes big-endian.
pub(crate) const ONE: [u8; 32] = {
    let mut one = [0u8; 32];
    one[31] = 1;
    one
};

/// Strict DER `SEQUENCE { INTEGER r, INTEGER s }` of any two 32-byte values (zero included,
/// which RustCrypto refuses to encode).
pub(crate) fn der_sig(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    fn int(v: &[u8; 32]) -> Vec<u8> {
        let contents = der_int(v);
        let mut out = vec![0x02, u8::try_from(contents.len()).unwrap()];
        out.extend(contents);
        out
    }
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
    out.extend(body);
    out
}

/// The contents of the minimal DER INTEGER for a non-negative 32-byte value.
pub(crate) fn der_int(v: &[u8; 32]) -> Vec<u8> {
    let first = v.iter().position(|&b| b != 0).unwrap_or(31);
    let digits = &v[first..];
    let mut out = Vec::with_capacity(33);
    if digits[0] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(digits);
    out
}

/// Raw r ‖ s.
pub(crate) fn raw_sig(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    [&r[..], &s[..]].concat()
}

/// A signing key (RustCrypto, constant time) with its public key in both SEC1 forms.
pub(crate) struct Keypair {
    secret: [u8; 32],
    key: sm2::dsa::SigningKey,
    /// `04 ‖ x ‖ y`.
    pub(crate) uncompressed: Vec<u8>,
    /// `02|03 ‖ x`.
    pub(crate) compressed: Vec<u8>,
}

impl Keypair {
    /// From a secret scalar; `None` if it is 0 or not below n.
    pub(crate) fn from_secret(secret: [u8; 32]) -> Option<Keypair> {
        let key = sm2::dsa::SigningKey::from_slice(ID, &secret).ok()?;
        let uncompressed = key.verifying_key().to_sec1_bytes().to_vec();
        assert_eq!(uncompressed.len(), 65, "RustCrypto writes uncompressed SEC1");
        let compressed =
            AffinePoint::from_sec1(&uncompressed).expect("RustCrypto's public key decodes").to_compressed().to_vec();
        Some(Keypair { secret, key, uncompressed, compressed })
    }

    /// A random key pair.
    pub(crate) fn random(rng: &mut StdRng) -> Keypair {
        loop {
            let mut secret = [0u8; 32];
            rng.fill(&mut secret[..]);
            if secret < N_BYTES {
                if let Some(k) = Keypair::from_secret(secret) {
                    return k;
                }
            }
        }
    }

    /// (r, s) over `msg` with the default ID.
    pub(crate) fn sign(&self, msg: &[u8]) -> ([u8; 32], [u8; 32]) {
        let sig: sm2::dsa::Signature = self.key.sign(msg);
        (sig.r_bytes().into(), sig.s_bytes().into())
    }

    /// (r, s) over `msg` with another distinguishing ID.
    pub(crate) fn sign_with_id(&self, id: &str, msg: &[u8]) -> ([u8; 32], [u8; 32]) {
        let key = sm2::dsa::SigningKey::from_slice(id, &self.secret).expect("same secret, other ID");
        let sig: sm2::dsa::Signature = key.sign(msg);
        (sig.r_bytes().into(), sig.s_bytes().into())
    }

    /// The decoded public key.
    pub(crate) fn point(&self) -> AffinePoint {
        AffinePoint::from_sec1(&self.uncompressed).expect("valid key")
    }
}

/// How a case's signature was damaged (or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tamper {
    /// A correct signature.
    None,
    /// One bit of the message flipped (an empty message gets a byte instead).
    FlipMsgBit,
    /// r + 1.
    RPlusOne,
    /// s + 1.
    SPlusOne,
    /// r = 0.
    RZero,
    /// s = 0.
    SZero,
    /// r = n.
    REqualsN,
    /// r replaced by n - r.
    NMinusR,
    /// Checked against a different public key.
    OtherKey,
    /// Checked with a different distinguishing ID than it was signed with.
    OtherId,
}

/// Every tampering kind (not `None`).
pub(crate) const TAMPERS: [Tamper; 9] = [
    Tamper::FlipMsgBit,
    Tamper::RPlusOne,
    Tamper::SPlusOne,
    Tamper::RZero,
    Tamper::SZero,
    Tamper::REqualsN,
    Tamper::NMinusR,
    Tamper::OtherKey,
    Tamper::OtherId,
];

/// One signature check as untrusted bytes, with what we know it should give.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) pubkey: Vec<u8>,
    pub(crate) id: Vec<u8>,
    pub(crate) msg: Vec<u8>,
    pub(crate) sig: Vec<u8>,
    pub(crate) tamper: Tamper,
    pub(crate) der: bool,
    pub(crate) compressed: bool,
}

impl Case {
    pub(crate) fn request(&self) -> VerifyRequest<'_> {
        VerifyRequest { pubkey: &self.pubkey, id: &self.id, msg: &self.msg, sig: &self.sig }
    }

    /// What the verdict must be, where the tampering fixes it exactly.
    pub(crate) fn exact_verdict(&self) -> Option<Verdict> {
        match self.tamper {
            Tamper::None => Some(Verdict::Valid),
            Tamper::RZero | Tamper::REqualsN => Some(Verdict::Invalid(Rejection::ROutOfRange)),
            Tamper::SZero => Some(Verdict::Invalid(Rejection::SOutOfRange)),
            _ => None,
        }
    }

    /// Checks `v` against what the construction of the case says; `Err` says why not.
    pub(crate) fn check(&self, v: &Verdict) -> Result<(), String> {
        let ok = match (self.exact_verdict(), v) {
            (Some(want), got) => want == *got,
            (None, got) => matches!(got, Verdict::Invalid(_)),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{:?} (der {}, compressed {}) gave {v:?}", self.tamper, self.der, self.compressed))
        }
    }
}

/// A random message of 0..300 bytes.
fn random_msg(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.gen_range(0..300);
    let mut m = vec![0u8; len];
    rng.fill(&mut m[..]);
    m
}

/// A random printable ID of 0..40 characters, never the default one.
fn random_id(rng: &mut StdRng) -> String {
    loop {
        let len = rng.gen_range(0..40);
        let id: String = (0..len).map(|_| char::from(rng.gen_range(b' '..=b'~'))).collect();
        if id != ID {
            return id;
        }
    }
}

/// A random case with the given tampering, signed by `signer`; `other` is a different key.
pub(crate) fn make_case(rng: &mut StdRng, signer: &Keypair, other: &Keypair, tamper: Tamper) -> Case {
    let mut msg = random_msg(rng);
    // Valid cases use a non-default ID a quarter of the time (Z with other IDs).
    let sign_id = if tamper == Tamper::None && rng.gen_ratio(1, 4) { random_id(rng) } else { ID.to_string() };
    let (mut r, mut s) = signer.sign_with_id(&sign_id, &msg);
    let mut id = sign_id.into_bytes();
    let compressed = rng.gen::<bool>();
    let der = rng.gen::<bool>();
    let mut keypair = signer;
    match tamper {
        Tamper::None => {}
        Tamper::FlipMsgBit => {
            if msg.is_empty() {
                msg.push(rng.gen());
            } else {
                let i = rng.gen_range(0..msg.len());
                msg[i] ^= 1 << rng.gen_range(0..8);
            }
        }
        Tamper::RPlusOne => r = add_be(&r, &ONE),
        Tamper::SPlusOne => s = add_be(&s, &ONE),
        Tamper::RZero => r = [0; 32],
        Tamper::SZero => s = [0; 32],
        Tamper::REqualsN => r = N_BYTES,
        Tamper::NMinusR => r = sub_be(&N_BYTES, &r),
        Tamper::OtherKey => keypair = other,
        Tamper::OtherId => {
            // Arbitrary bytes, not only text: the ID is bytes to us.
            let len = rng.gen_range(0..40);
            id = vec![0u8; len];
            rng.fill(&mut id[..]);
            if id == ID.as_bytes() {
                id.push(0);
            }
        }
    }
    Case {
        pubkey: if compressed { keypair.compressed.clone() } else { keypair.uncompressed.clone() },
        id,
        msg,
        sig: if der { der_sig(&r, &s) } else { raw_sig(&r, &s) },
        tamper,
        der,
        compressed,
    }
}

/// `n` random cases: half valid, half tampered (kinds uniform), each with a fresh key.
pub(crate) fn random_cases(rng: &mut StdRng, n: usize) -> Vec<Case> {
    let mut prev = Keypair::random(rng);
    (0..n)
        .map(|_| {
            let signer = Keypair::random(rng);
            let tamper = if rng.gen::<bool>() { Tamper::None } else { TAMPERS[rng.gen_range(0..TAMPERS.len())] };
            let case = make_case(rng, &signer, &prev, tamper);
            prev = signer;
            case
        })
        .collect()
}

/// Asserts that `backend` gives `want` for `items`, naming the first difference.
pub(crate) fn assert_backend_agrees(
    backend: &dyn Backend,
    items: &[PreparedVerify],
    want: &[Verdict],
    what: &dyn Fn(usize) -> String,
) {
    let name = &backend.info().name;
    let threads = backend.info().parallelism;
    let got = backend
        .verify_batch(items)
        .unwrap_or_else(|e| panic!("{name} ({threads} threads): batch of {} failed: {e}", items.len()));
    assert_eq!(got.len(), want.len(), "{name} ({threads} threads): {} verdicts for {} items", got.len(), items.len());
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "{name} ({threads} threads), batch of {}: item {i} got {:?}, reference {:?}: {}",
            items.len(),
            got[i],
            want[i],
            what(i)
        );
    }
}

fn unhex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

#[test]
fn self_test_passes_on_every_backend() {
    for b in backends() {
        b.self_test().unwrap_or_else(|e| panic!("{}: {e}", b.info().name));
    }
}

#[test]
fn empty_inputs_give_empty_answers() {
    for b in backends() {
        let name = &b.info().name;
        assert_eq!(b.verify_batch(&[]).unwrap(), Vec::<Verdict>::new(), "{name}: verify");
        assert_eq!(b.sm3_batch(&MessageBatch::new()).unwrap(), Vec::<Digest>::new(), "{name}: sm3");
        assert_eq!(b.merkle_level(&[]).unwrap(), Vec::<Digest>::new(), "{name}: merkle");
    }
}

/// GB/T 32918.5 Annex A through `prepare`, in every encoding, with and without a cache.
#[test]
fn annex_a_example_through_prepare() {
    let pk = hex::decode(ANNEX_A_PUBKEY).unwrap();
    let point = AffinePoint::from_sec1(&pk).unwrap();
    let compressed = point.to_compressed();
    let (r, s) = (unhex32(ANNEX_A_R), unhex32(ANNEX_A_S));
    let der = der_sig(&r, &s);
    // Our DER writer agrees with RustCrypto's.
    let theirs = sm2::dsa::Signature::from_scalars(r, s).unwrap().to_der();
    assert_eq!(der, theirs.as_bytes(), "DER encoding of the Annex A signature");
    let raw = raw_sig(&r, &s);
    assert_eq!(xsm2::z_value(xsm2::DEFAULT_ID, &point).unwrap(), unhex32(ANNEX_A_Z), "Z of Annex A");

    let cache = KeyCache::new(KeyCacheConfig { table_after: 2, ..KeyCacheConfig::default() });
    let backends = backends();
    // Three rounds through the cache: miss, hit, hit with a table.
    for round in 0..3 {
        for key in [&pk[..], &compressed[..]] {
            for sig in [&der[..], &raw[..]] {
                for cached in [None, Some(&cache)] {
                    let ctx = format!(
                        "round {round}, key {} bytes, sig {} bytes, cache {}",
                        key.len(),
                        sig.len(),
                        cached.is_some()
                    );
                    let req = VerifyRequest { pubkey: key, id: xsm2::DEFAULT_ID, msg: ANNEX_A_MSG, sig };
                    let item = prepare(&req, cached).unwrap_or_else(|v| panic!("{ctx}: {v:?}"));
                    assert_eq!(item.e, unhex32(ANNEX_A_E), "{ctx}: e");
                    assert_eq!((item.r, item.s), (r, s), "{ctx}: r, s");
                    assert_eq!(item.key, point, "{ctx}: key");
                    let bad = prepare(&VerifyRequest { msg: b"message digesT", ..req }, cached).unwrap();
                    let items = [item, bad];
                    let want = [Verdict::Valid, Verdict::Invalid(Rejection::Mismatch)];
                    let reference: Vec<_> = items.iter().map(verify_one).collect();
                    assert_eq!(reference, want, "{ctx}: reference");
                    for b in &backends {
                        assert_backend_agrees(b.as_ref(), &items, &want, &|_| ctx.clone());
                    }
                }
            }
        }
    }
}

/// The batch sizes the random signatures are cut into, in turn.
const BATCH_SIZES: [usize; 6] = [1, 2, 3, 7, 64, 1000];

/// 10 rounds of every batch size: 10,770 signatures.
#[test]
fn random_signatures_match_the_reference_on_every_backend() {
    let (mut rng, label) = rng(1);
    let rounds = 10;
    let total: usize = BATCH_SIZES.iter().sum::<usize>() * rounds;
    let cases = random_cases(&mut rng, total);
    let backends = backends();
    let mut counts = [0usize; 10];
    let mut with_table = 0;
    let mut start = 0;
    for size in BATCH_SIZES.iter().cycle().take(BATCH_SIZES.len() * rounds) {
        let batch = &cases[start..start + size];
        let items: Vec<PreparedVerify> = batch
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut item = prepare(&c.request(), None)
                    .unwrap_or_else(|v| panic!("{label}: case {}: {c:?} did not prepare: {v:?}", start + i));
                // One item in eight carries its key's table (a hot key), mixed with cold ones.
                if rng.gen_ratio(1, 8) {
                    item.table = Some(Arc::new(PublicKeyTable::with_layouts(&item.key, true, true)));
                    with_table += 1;
                }
                item
            })
            .collect();
        let reference: Vec<Verdict> = items.iter().map(verify_one).collect();
        for (i, (c, v)) in batch.iter().zip(&reference).enumerate() {
            c.check(v).unwrap_or_else(|e| panic!("{label}: case {}: reference: {e}", start + i));
            if items[i].table.is_some() {
                let cold = PreparedVerify { table: None, ..items[i].clone() };
                assert_eq!(&verify_one(&cold), v, "{label}: case {}: table and cold paths differ", start + i);
            }
            let kind = TAMPERS.iter().position(|&t| t == c.tamper).map_or(0, |k| k + 1);
            counts[kind] += 1;
        }
        for b in &backends {
            assert_backend_agrees(b.as_ref(), &items, &reference, &|i| {
                format!("{label}: case {}: {:?}", start + i, batch[i])
            });
        }
        // Every verification path of the kernels this CPU has (portable, AVX-512 IFMA) gives
        // the same answers: the reference itself runs on only one of them.
        let prehashed: Vec<xsm2::Prehashed<'_>> = items
            .iter()
            .map(|item| xsm2::Prehashed {
                key: match &item.table {
                    Some(t) => xsm2::KeyRef::Table(t),
                    None => xsm2::KeyRef::Cold(&item.key),
                },
                e: &item.e,
                r: &item.r,
                s: &item.s,
            })
            .collect();
        for path in xsm2::available_verify_paths() {
            let mut out = vec![Ok(()); prehashed.len()];
            xsm2::verify_batch_with_path(&prehashed, &mut out, path);
            for (i, (got, want)) in out.iter().zip(&reference).enumerate() {
                let got = got.map_or_else(Verdict::Invalid, |()| Verdict::Valid);
                assert_eq!(&got, want, "{label}: kernels path {path:?}, case {}: {:?}", start + i, batch[i]);
            }
        }
        start += size;
    }
    assert_eq!(start, total);
    // Every kind was drawn often enough to mean something.
    assert!(counts[0] > total / 3, "{label}: only {} valid cases", counts[0]);
    for (k, &n) in counts.iter().enumerate().skip(1) {
        assert!(n > 200, "{label}: only {n} cases of {:?}", TAMPERS[k - 1]);
    }
    assert!(with_table > 500, "{label}: only {with_table} items with tables");
}

/// A raw signature whose r starts with 0x30 (the DER SEQUENCE tag) is still raw r ‖ s.
#[test]
fn raw_signature_starting_with_the_der_tag_is_raw() {
    let (mut rng, label) = rng(2);
    let kp = Keypair::random(&mut rng);
    let mut found = 0;
    for i in 0u32..20_000 {
        let msg = format!("message {i}");
        let (r, s) = kp.sign(msg.as_bytes());
        if r[0] != 0x30 {
            continue;
        }
        let sig = raw_sig(&r, &s);
        let req = VerifyRequest { pubkey: &kp.uncompressed, id: xsm2::DEFAULT_ID, msg: msg.as_bytes(), sig: &sig };
        let item = prepare(&req, None).unwrap_or_else(|v| panic!("{label}: {msg}: {v:?}"));
        assert_eq!(verify_one(&item), Verdict::Valid, "{label}: {msg}");
        for b in backends() {
            assert_backend_agrees(b.as_ref(), std::slice::from_ref(&item), &[Verdict::Valid], &|_| label.clone());
        }
        found += 1;
        if found == 3 {
            return;
        }
    }
    panic!("{label}: no r starting with 0x30 in 20,000 signatures");
}

/// `prepare` must refuse `req` as malformed, with a reason naming `part`; with a cache too.
fn assert_malformed(req: &VerifyRequest<'_>, part: &str, what: &str) {
    let cache = KeyCache::new(KeyCacheConfig::default());
    for cached in [None, Some(&cache)] {
        match prepare(req, cached) {
            Err(Verdict::Malformed(reason)) => {
                assert!(!reason.trim().is_empty(), "{what}: empty reason");
                assert!(reason.contains(part), "{what}: reason {reason:?} does not name the {part}");
            }
            Err(other) => panic!("{what}: {other:?}, expected Malformed naming the {part}"),
            Ok(item) => {
                panic!("{what}: accepted as {item:?}, expected Malformed naming the {part}")
            }
        }
    }
    assert_eq!(cache.len(), 0, "{what}: a malformed request was cached");
}

#[test]
fn malformed_keys_are_refused_naming_the_key() {
    let (mut rng, label) = rng(3);
    let kp = Keypair::random(&mut rng);
    let msg = b"transfer 10 to bob";
    let (r, s) = kp.sign(msg);
    let sig = der_sig(&r, &s);
    let unc = kp.uncompressed.clone();
    let com = kp.compressed.clone();

    let mut off_curve = unc.clone();
    off_curve[64] ^= 1;
    let mut x_is_p = vec![0x04];
    x_is_p.extend_from_slice(&P_BYTES);
    x_is_p.extend_from_slice(&unc[33..]);
    let mut y_is_p = unc[..33].to_vec();
    y_is_p.extend_from_slice(&P_BYTES);
    let mut compressed_x_is_p = vec![0x02];
    compressed_x_is_p.extend_from_slice(&P_BYTES);
    let mut compressed_all_ff = vec![0x03];
    compressed_all_ff.extend_from_slice(&[0xFF; 32]);
    let with_prefix = |p: u8, body: &[u8]| [&[p][..], body].concat();

    let cases: Vec<(String, Vec<u8>)> = vec![
        ("empty key".into(), vec![]),
        ("prefix only".into(), vec![0x04]),
        ("identity 00".into(), vec![0x00]),
        ("uncompressed, 64 bytes".into(), unc[..64].to_vec()),
        ("uncompressed, 66 bytes".into(), [&unc[..], &[0]].concat()),
        ("compressed, 32 bytes".into(), com[..32].to_vec()),
        ("compressed, 34 bytes".into(), [&com[..], &[0]].concat()),
        ("raw x ‖ y without prefix".into(), unc[1..].to_vec()),
        ("prefix 05".into(), with_prefix(0x05, &unc[1..])),
        ("prefix 00, 65 bytes".into(), with_prefix(0x00, &unc[1..])),
        ("hybrid prefix 06".into(), with_prefix(0x06, &unc[1..])),
        ("hybrid prefix 07".into(), with_prefix(0x07, &unc[1..])),
        ("compressed prefix 04".into(), with_prefix(0x04, &com[1..])),
        ("uncompressed prefix 02".into(), with_prefix(0x02, &unc[1..])),
        ("off-curve point (y ^ 1)".into(), off_curve),
        ("x = p".into(), x_is_p),
        ("y = p".into(), y_is_p),
        ("compressed x = p".into(), compressed_x_is_p),
        ("compressed x = 2^256 - 1".into(), compressed_all_ff),
        ("all-zero uncompressed".into(), with_prefix(0x04, &[0; 64])),
    ];
    for (what, key) in &cases {
        let req = VerifyRequest { pubkey: key, id: xsm2::DEFAULT_ID, msg, sig: &sig };
        assert_malformed(&req, "key", &format!("{label}: {what}"));
    }
}

/// Our SEC1 decoding accepts exactly the encodings RustCrypto accepts, and decodes them to the
/// same point (compressed x with and without a square root, both parities).
#[test]
fn sec1_decoding_agrees_with_rustcrypto() {
    let (mut rng, label) = rng(4);
    let mut accepted = 0;
    let mut refused = 0;
    for i in 0u32..600 {
        let mut enc = vec![if i % 2 == 0 { 0x02 } else { 0x03 }; 33];
        if i < 64 {
            enc[1..].fill(0);
            enc[32] = u8::try_from(i / 2).unwrap();
        } else {
            rng.fill(&mut enc[1..]);
        }
        if i % 5 == 4 {
            // Uncompressed with a random y: almost never on the curve.
            let mut y = [0u8; 32];
            rng.fill(&mut y[..]);
            enc[0] = 0x04;
            enc.extend_from_slice(&y);
        }
        let ours = AffinePoint::from_sec1(&enc);
        let theirs = sm2::dsa::VerifyingKey::from_sec1_bytes(ID, &enc);
        match (&ours, &theirs) {
            (Ok(p), Ok(k)) => {
                accepted += 1;
                assert_eq!(&p.to_uncompressed()[..], &k.to_sec1_bytes()[..], "{label}: {}", hex::encode(&enc));
            }
            (Err(_), Err(_)) => refused += 1,
            _ => panic!("{label}: {} ours {:?}, RustCrypto ok {}", hex::encode(&enc), ours, theirs.is_ok()),
        }
        let req = VerifyRequest { pubkey: &enc, id: xsm2::DEFAULT_ID, msg: b"m", sig: &[1; 64] };
        if ours.is_err() {
            assert_malformed(&req, "key", &format!("{label}: {}", hex::encode(&enc)));
        }
    }
    assert!(accepted > 100 && refused > 100, "{label}: {accepted} accepted, {refused} refused");
}

#[test]
fn malformed_signatures_are_refused_naming_the_signature() {
    let (mut rng, label) = rng(5);
    let kp = Keypair::random(&mut rng);
    let msg = b"transfer 10 to bob";
    let (r, s) = kp.sign(msg);
    let der = der_sig(&r, &s);
    let run = |sig: &[u8], what: &str| {
        let rq = VerifyRequest { pubkey: &kp.uncompressed, id: xsm2::DEFAULT_ID, msg, sig };
        assert_malformed(&rq, "signature", &format!("{label}: {what}: {}", hex::encode(sig)));
    };

    // Truncated DER at every cut. A 64-byte cut is not malformed: 64 bytes are raw r ‖ s
    // when they do not parse as DER (a raw r may start with 0x30), and that raw signature
    // is simply wrong.
    let backends = backends();
    for cut in 0..der.len() {
        if cut == 64 {
            let rq = VerifyRequest { pubkey: &kp.uncompressed, id: xsm2::DEFAULT_ID, msg, sig: &der[..cut] };
            let item = prepare(&rq, None).unwrap_or_else(|v| panic!("{label}: 64-byte cut: {v:?}"));
            let v = verify_one(&item);
            assert!(matches!(v, Verdict::Invalid(_)), "{label}: 64-byte cut gave {v:?}");
            for b in &backends {
                assert_backend_agrees(b.as_ref(), std::slice::from_ref(&item), std::slice::from_ref(&v), &|_| {
                    label.clone()
                });
            }
        } else {
            run(&der[..cut], &format!("DER cut at {cut} of {}", der.len()));
        }
    }
    // Raw of the wrong length.
    let raw = raw_sig(&r, &s);
    for len in [1, 31, 32, 33, 63, 65, 96, 128] {
        let mut sig = raw.clone();
        sig.resize(len, 0x5A);
        if sig[0] == 0x30 {
            sig[0] = 0x31;
        }
        run(&sig, &format!("raw, {len} bytes"));
    }
    // DER with trailing bytes.
    run(&[&der[..], &[0]].concat(), "DER + 00");
    run(&[&der[..], &[0x30, 0x00]].concat(), "DER + empty SEQUENCE");
    // Hand-made DER: (r INTEGER contents, s INTEGER contents).
    let build = |ri: &[u8], si: &[u8]| {
        let mut body = vec![0x02, u8::try_from(ri.len()).unwrap()];
        body.extend_from_slice(ri);
        body.push(0x02);
        body.push(u8::try_from(si.len()).unwrap());
        body.extend_from_slice(si);
        let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
        out.extend(body);
        out
    };
    let (ri, si) = (der_int(&r), der_int(&s));
    assert_eq!(build(&ri, &si), der, "hand-made DER of the signature itself");
    let mut neg = r;
    neg[0] |= 0x80;
    run(&build(&neg, &si), "negative r");
    let mut neg_s = s;
    neg_s[0] |= 0x80;
    run(&build(&ri, &neg_s), "negative s");
    run(&build(&[0xFF], &si), "r = -1");
    run(&build(&[], &si), "empty r");
    run(&build(&ri, &[]), "empty s");
    let mut padded = vec![0u8];
    padded.extend_from_slice(&[0x12; 32]);
    run(&build(&padded, &si), "r with a non-minimal leading zero");
    run(&build(&[0, 0, 0x80], &si), "r with two leading zeros");
    // Wrong tags, wrong lengths, long forms.
    let mut bad_tag = der.clone();
    bad_tag[0] = 0x31;
    run(&bad_tag, "SET instead of SEQUENCE");
    let mut bad_int = der.clone();
    bad_int[2] = 0x03;
    run(&bad_int, "BIT STRING instead of INTEGER r");
    let mut long_len = vec![0x30, 0x81, der[1]];
    long_len.extend_from_slice(&der[2..]);
    run(&long_len, "SEQUENCE length 0x81 below 0x80 (non-minimal)");
    let mut len_82 = vec![0x30, 0x82, 0x00, der[1]];
    len_82.extend_from_slice(&der[2..]);
    run(&len_82, "SEQUENCE length form 0x82");
    let mut short_seq = der.clone();
    short_seq[1] -= 1;
    run(&short_seq, "SEQUENCE length one short");
    let mut long_seq = der.clone();
    long_seq[1] += 1;
    run(&long_seq, "SEQUENCE length one long");
    let three = {
        let mut body = der[2..].to_vec();
        body.extend_from_slice(&[0x02, 0x01, 0x01]);
        let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
        out.extend(body);
        out
    };
    run(&three, "three INTEGERs");
    run(&[], "empty signature");
    run(&[0x30], "lone SEQUENCE tag");
    run(&[0x30, 0x00], "empty SEQUENCE");

    // Well-formed DER whose integers do not fit 32 bytes: Invalid (out of range), not Malformed.
    let mut r33 = vec![0x01];
    r33.extend_from_slice(&r);
    let mut s33 = vec![0x01];
    s33.extend_from_slice(&s);
    let mut r34 = vec![0x00, 0x80];
    r34.extend_from_slice(&r);
    for (sig, want, what) in [
        (build(&r33, &si), Rejection::ROutOfRange, "33-byte r"),
        (build(&ri, &s33), Rejection::SOutOfRange, "33-byte s"),
        (build(&r34, &si), Rejection::ROutOfRange, "r with 33 digits after its 00 pad"),
    ] {
        let rq = VerifyRequest { pubkey: &kp.uncompressed, id: xsm2::DEFAULT_ID, msg, sig: &sig };
        assert_eq!(prepare(&rq, None).unwrap_err(), Verdict::Invalid(want), "{label}: {what}: {}", hex::encode(&sig));
    }
    // Edge values that are well-formed: r = 0 (DER 02 01 00, and raw zeros) is Invalid.
    for sig in [der_sig(&[0; 32], &s), raw_sig(&[0; 32], &s), raw_sig(&[0; 32], &[0; 32])] {
        let rq = VerifyRequest { pubkey: &kp.uncompressed, id: xsm2::DEFAULT_ID, msg, sig: &sig };
        let item = prepare(&rq, None).unwrap_or_else(|v| panic!("{label}: r = 0: {v:?}"));
        assert_eq!(verify_one(&item), Verdict::Invalid(Rejection::ROutOfRange), "{label}");
    }
}

#[test]
fn ids_longer_than_entl_allows_are_refused_naming_the_id() {
    let (mut rng, label) = rng(6);
    let kp = Keypair::random(&mut rng);
    let msg = b"hello";
    // The longest ID that fits ENTL works end to end, signed by RustCrypto.
    let long_id = "i".repeat(8191);
    let (r, s) = kp.sign_with_id(&long_id, msg);
    let sig = raw_sig(&r, &s);
    for key in [&kp.uncompressed, &kp.compressed] {
        let req = VerifyRequest { pubkey: key, id: long_id.as_bytes(), msg, sig: &sig };
        let item = prepare(&req, None).unwrap_or_else(|v| panic!("{label}: 8191-byte ID: {v:?}"));
        for b in backends() {
            assert_backend_agrees(b.as_ref(), std::slice::from_ref(&item), &[Verdict::Valid], &|_| label.clone());
        }
        for len in [8192, 8193, 65_536, 100_000] {
            let id = vec![b'i'; len];
            let req = VerifyRequest { id: &id, ..req };
            assert_malformed(&req, "ID", &format!("{label}: {len}-byte ID"));
        }
    }
}

/// One valid signature in every encoding, for the mutation proptest.
struct Sample {
    uncompressed: Vec<u8>,
    compressed: Vec<u8>,
    der: Vec<u8>,
    raw: Vec<u8>,
}

fn sample() -> &'static Sample {
    static SAMPLE: std::sync::OnceLock<Sample> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        let (mut rng, _) = rng(7);
        let kp = Keypair::random(&mut rng);
        let (r, s) = kp.sign(b"sample");
        Sample { der: der_sig(&r, &s), raw: raw_sig(&r, &s), uncompressed: kp.uncompressed, compressed: kp.compressed }
    })
}

/// `prepare` on any bytes: no panic; `Malformed` has a reason; what is accepted verifies the
/// same on every backend as on the reference (only `Valid` or `Invalid`).
fn check_any(
    pubkey: &[u8],
    id: &[u8],
    msg: &[u8],
    sig: &[u8],
    backends: &[Box<dyn Backend>],
) -> Result<(), TestCaseError> {
    let req = VerifyRequest { pubkey, id, msg, sig };
    let cache = KeyCache::new(KeyCacheConfig::default());
    let plain = prepare(&req, None);
    let cached = prepare(&req, Some(&cache));
    match (&plain, &cached) {
        (Ok(a), Ok(b)) => prop_assert_eq!((a.key, a.e, a.r, a.s), (b.key, b.e, b.r, b.s)),
        (Err(a), Err(b)) => prop_assert_eq!(a, b),
        _ => prop_assert!(false, "cache changed the outcome: {:?} vs {:?}", plain, cached),
    }
    match plain {
        Err(Verdict::Malformed(reason)) => prop_assert!(!reason.trim().is_empty()),
        Err(Verdict::Invalid(r)) => {
            prop_assert!(matches!(r, Rejection::ROutOfRange | Rejection::SOutOfRange))
        }
        Err(Verdict::Valid) => prop_assert!(false, "prepare answered Valid early"),
        Ok(item) => {
            let want = verify_one(&item);
            prop_assert!(!matches!(want, Verdict::Malformed(_)));
            for b in backends {
                let got =
                    b.verify_batch(std::slice::from_ref(&item)).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&got[..], std::slice::from_ref(&want), "{}", b.info().name);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary bytes for every part, IDs up to past the ENTL limit.
    #[test]
    fn prepare_never_panics_on_arbitrary_bytes(
        pubkey in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..80),
            (prop::sample::select(vec![0x02u8, 0x03, 0x04]), prop::collection::vec(any::<u8>(), 64))
                .prop_map(|(p, b)| if p == 0x04 { [&[p][..], &b[..]].concat() } else { [&[p][..], &b[..32]].concat() }),
        ],
        id in prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..40),
            1 => prop::collection::vec(any::<u8>(), 8185..8200),
        ],
        msg in prop::collection::vec(any::<u8>(), 0..100),
        sig in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..80),
            prop::collection::vec(any::<u8>(), 64),
            (0usize..75, prop::collection::vec(any::<u8>(), 0..75))
                .prop_map(|(n, b)| { let mut v = vec![0x30, u8::try_from(n).unwrap_or(0)]; v.extend(b); v }),
        ],
    ) {
        check_any(&pubkey, &id, &msg, &sig, &backends())?;
    }

    /// A valid request with a few bytes changed, cut or extended: close to the edges.
    #[test]
    fn prepare_never_panics_on_mutated_requests(
        compressed in any::<bool>(),
        der in any::<bool>(),
        key_edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        sig_edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        key_len in prop::option::weighted(0.15, 0usize..70),
        sig_len in prop::option::weighted(0.15, 0usize..80),
    ) {
        let Sample { uncompressed: unc, compressed: com, der: d, raw } = sample();
        let mut pubkey = if compressed { com.clone() } else { unc.clone() };
        let mut sig = if der { d.clone() } else { raw.clone() };
        for (i, b) in key_edits {
            let i = i.index(pubkey.len());
            pubkey[i] = b;
        }
        for (i, b) in sig_edits {
            let i = i.index(sig.len());
            sig[i] = b;
        }
        if let Some(n) = key_len {
            pubkey.resize(n, 0xA5);
        }
        if let Some(n) = sig_len {
            sig.resize(n, 0x02);
        }
        check_any(&pubkey, xsm2::DEFAULT_ID, b"sample", &sig, &backends())?;
    }
}

/// SM3 of every length 0..=10,000 (every padding boundary: 55/56/64 mod 64), as one batch and
/// as random sub-batches in random order.
#[test]
fn sm3_batch_matches_the_reference_on_every_length() {
    let (mut rng, label) = rng(8);
    let mut buf = vec![0u8; 20_000];
    rng.fill(&mut buf[..]);
    let msgs: Vec<&[u8]> = (0..=10_000usize)
        .map(|len| {
            let off = rng.gen_range(0..=buf.len() - len);
            &buf[off..off + len]
        })
        .collect();
    let reference: Vec<Digest> = msgs.iter().map(|m| sm3::digest(m)).collect();
    let whole: MessageBatch = msgs.iter().copied().collect();
    let mut order: Vec<usize> = (0..msgs.len()).collect();
    order.shuffle(&mut rng);
    let mut subs: Vec<Vec<usize>> = Vec::new();
    let mut rest = &order[..];
    while !rest.is_empty() {
        let n = match rng.gen_range(0..10) {
            0 => rng.gen_range(200..=2000),
            1..=3 => rng.gen_range(1..=3),
            _ => rng.gen_range(1..=40),
        }
        .min(rest.len());
        subs.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    for b in backends() {
        let name = format!("{} ({} threads)", b.info().name, b.info().parallelism);
        let got = b.sm3_batch(&whole).unwrap();
        assert_eq!(got.len(), reference.len(), "{name}: one batch");
        if let Some(i) = (0..got.len()).find(|&i| got[i] != reference[i]) {
            panic!("{name}: one batch of 10,001: length {i} differs");
        }
        for sub in &subs {
            let batch: MessageBatch = sub.iter().map(|&i| msgs[i]).collect();
            let got = b.sm3_batch(&batch).unwrap();
            assert_eq!(got.len(), sub.len(), "{name}: {label}");
            for (d, &i) in got.iter().zip(sub) {
                assert_eq!(*d, reference[i], "{name}: {label}: length {i} in a sub-batch of {}", sub.len());
            }
        }
    }
}

/// For 1..=1000 leaves, folding the backend's `merkle_level` to one node gives the root.
#[test]
fn merkle_levels_fold_to_the_reference_root() {
    let (mut rng, label) = rng(9);
    let leaves: Vec<Digest> = (0..1000)
        .map(|_| {
            let mut tx = vec![0u8; rng.gen_range(0..200)];
            rng.fill(&mut tx[..]);
            merkle::leaf_hash(&tx)
        })
        .collect();
    let roots: Vec<Digest> = (1..=leaves.len()).map(|n| merkle::root(&leaves[..n])).collect();
    for b in backends() {
        let name = format!("{} ({} threads)", b.info().name, b.info().parallelism);
        for n in 1..=leaves.len() {
            let mut level = leaves[..n].to_vec();
            let mut depth = 0;
            while level.len() > 1 {
                let next = b.merkle_level(&level).unwrap();
                assert_eq!(next.len(), level.len().div_ceil(2), "{name}: {label}: {n} leaves, depth {depth}");
                level = next;
                depth += 1;
            }
            assert_eq!(level[0], roots[n - 1], "{name}: {label}: root of {n} leaves");
        }
    }
}
