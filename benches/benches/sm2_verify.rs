//! SM2 verification: xinlian against libsm, RustCrypto `sm2` and `efficient-sm2`, same
//! signatures, same run, so every ratio comes from one process.
//!
//! `cargo bench -p xinlian-benches --bench sm2_verify`
//!
//! Groups:
//! - `verify_cold`: a new key every call (decode the key, Z, e, verify), as a node sees
//!   senders it has not met.
//! - `verify_prehashed`: e = SM3(Z ‖ M) given, key decoded: the curve arithmetic alone
//!   (efficient-sm2's `verify_digest` is its fastest entry point); xinlian one at a time and
//!   in batches of 256 on each path this CPU has (portable, AVX-512 IFMA).
//! - `verify_hot`: one key over and over; xinlian with its per-key table (one at a time, and
//!   in batches on each path this CPU has).
//! - `field`: the multiplication, squaring and inversion underneath.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sm2::dsa::signature::hazmat::PrehashVerifier;
use sm2::dsa::signature::{Signer, Verifier};
use xinlian_kernels::sm2::field::Fe;
use xinlian_kernels::sm2::{self as xsm2, AffinePoint, PublicKeyTable};
use xinlian_kernels::sm3;

const ID: &str = "1234567812345678";
const POOL: usize = 256;

struct Case {
    pk: [u8; 65],
    msg: Vec<u8>,
    r: [u8; 32],
    s: [u8; 32],
    e: [u8; 32],
}

fn cases() -> Vec<Case> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    (0..POOL)
        .map(|i| {
            let sk: [u8; 32] = loop {
                let mut b = [0u8; 32];
                rng.fill(&mut b);
                b[0] &= 0x7F; // below n
                if b != [0; 32] {
                    break b;
                }
            };
            let signing = sm2::dsa::SigningKey::from_slice(ID, &sk).expect("key below n");
            let msg = format!("transaction {i}: put key-{i} = value-{i}").into_bytes();
            let sig: sm2::dsa::Signature = signing.sign(&msg);
            let pk: [u8; 65] = signing.verifying_key().to_sec1_bytes()[..].try_into().expect("65 bytes");
            let key = AffinePoint::from_sec1(&pk).expect("valid key");
            let z = xsm2::z_value(xsm2::DEFAULT_ID, &key).expect("id fits");
            let e = xsm2::message_digest(&z, &msg);
            Case { pk, msg, r: sig.r_bytes().into(), s: sig.s_bytes().into(), e }
        })
        .collect()
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

fn verify_cold(c: &mut Criterion) {
    let cases = cases();
    xsm2::warm_up();
    let mut g = c.benchmark_group("verify_cold");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("xinlian", |b| {
        b.iter(|| {
            let case = &cases[i % POOL];
            i += 1;
            let key = AffinePoint::from_sec1(&case.pk).expect("valid");
            let z = xsm2::z_value(xsm2::DEFAULT_ID, &key).expect("id");
            let e = xsm2::message_digest(&z, &case.msg);
            black_box(xsm2::verify_prehashed_vartime(&key, &e, &case.r, &case.s)).expect("valid");
        })
    });
    g.bench_function("rustcrypto-sm2", |b| {
        b.iter(|| {
            let case = &cases[i % POOL];
            i += 1;
            let vk = sm2::dsa::VerifyingKey::from_sec1_bytes(ID, &case.pk).expect("valid");
            let sig = sm2::dsa::Signature::from_scalars(case.r, case.s).expect("range");
            black_box(vk.verify(&case.msg, &sig)).expect("valid");
        })
    });
    let ctx = libsm::sm2::signature::SigCtx::new();
    g.bench_function("libsm", |b| {
        b.iter(|| {
            let case = &cases[i % POOL];
            i += 1;
            let pk = ctx.load_pubkey(&case.pk).expect("valid");
            let sig = libsm::sm2::signature::Signature::new(&case.r, &case.s);
            assert!(black_box(ctx.verify(&case.msg, &pk, &sig).expect("verify")));
        })
    });
    g.bench_function("efficient-sm2", |b| {
        b.iter(|| {
            let case = &cases[i % POOL];
            i += 1;
            let pk = efficient_sm2::PublicKey::new(&case.pk[1..33], &case.pk[33..]);
            let sig = efficient_sm2::Signature::new(&case.r, &case.s).expect("range");
            black_box(sig.verify(&pk, &case.msg)).expect("valid");
        })
    });
    g.finish();
}

fn verify_prehashed(c: &mut Criterion) {
    let cases = cases();
    xsm2::warm_up();
    let keys: Vec<AffinePoint> = cases.iter().map(|c| AffinePoint::from_sec1(&c.pk).expect("valid")).collect();
    let mut g = c.benchmark_group("verify_prehashed");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("xinlian", |b| {
        b.iter(|| {
            let k = i % POOL;
            i += 1;
            let case = &cases[k];
            black_box(xsm2::verify_prehashed_vartime(&keys[k], &case.e, &case.r, &case.s)).expect("valid");
        })
    });
    // The batch entry point (what the cpu backend calls): lanes side by side.
    let batch: Vec<xsm2::Prehashed<'_>> = cases
        .iter()
        .zip(&keys)
        .map(|(c, k)| xsm2::Prehashed { key: xsm2::KeyRef::Cold(k), e: &c.e, r: &c.r, s: &c.s })
        .collect();
    let mut out = vec![Ok(()); POOL];
    g.throughput(Throughput::Elements(POOL as u64));
    for path in xsm2::available_verify_paths() {
        let name = match path {
            xsm2::VerifyPath::Portable => "xinlian-batch-portable",
            xsm2::VerifyPath::Ifma => "xinlian-batch-ifma",
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                xsm2::verify_batch_with_path(black_box(&batch), &mut out, path);
                assert!(out.iter().all(|r| r.is_ok()));
            })
        });
    }
    g.throughput(Throughput::Elements(1));
    let eff: Vec<_> = cases.iter().map(|c| efficient_sm2::PublicKey::new(&c.pk[1..33], &c.pk[33..])).collect();
    g.bench_function("efficient-sm2", |b| {
        b.iter(|| {
            let k = i % POOL;
            i += 1;
            let case = &cases[k];
            let sig = efficient_sm2::Signature::new(&case.r, &case.s).expect("range");
            black_box(sig.verify_digest(&eff[k], &case.e)).expect("valid");
        })
    });
    let rc: Vec<_> = cases.iter().map(|c| sm2::dsa::VerifyingKey::from_sec1_bytes(ID, &c.pk).expect("valid")).collect();
    g.bench_function("rustcrypto-sm2", |b| {
        b.iter(|| {
            let k = i % POOL;
            i += 1;
            let case = &cases[k];
            let sig = sm2::dsa::Signature::from_scalars(case.r, case.s).expect("range");
            black_box(rc[k].verify_prehash(&case.e, &sig)).expect("valid");
        })
    });
    let ctx = libsm::sm2::signature::SigCtx::new();
    let ls: Vec<_> = cases.iter().map(|c| ctx.load_pubkey(&c.pk).expect("valid")).collect();
    g.bench_function("libsm", |b| {
        b.iter(|| {
            let k = i % POOL;
            i += 1;
            let case = &cases[k];
            let sig = libsm::sm2::signature::Signature::new(&case.r, &case.s);
            assert!(black_box(ctx.verify_raw(&case.e, &ls[k], &sig).expect("verify")));
        })
    });
    g.finish();
}

fn verify_hot(c: &mut Criterion) {
    let cases = cases();
    xsm2::warm_up();
    // One signer, many messages: sign POOL messages with one key.
    let signing = sm2::dsa::SigningKey::from_slice(ID, &[0x42; 32]).expect("key");
    let pk: [u8; 65] = signing.verifying_key().to_sec1_bytes()[..].try_into().expect("65");
    let key = AffinePoint::from_sec1(&pk).expect("valid");
    let z = xsm2::z_value(xsm2::DEFAULT_ID, &key).expect("id");
    let sigs: Vec<([u8; 32], [u8; 32], [u8; 32])> = cases
        .iter()
        .map(|c| {
            let sig: sm2::dsa::Signature = signing.sign(&c.msg);
            (xsm2::message_digest(&z, &c.msg), sig.r_bytes().into(), sig.s_bytes().into())
        })
        .collect();
    let table = PublicKeyTable::with_layouts(&key, true, true);
    let mut g = c.benchmark_group("verify_hot");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("xinlian-table", |b| {
        b.iter(|| {
            let (e, r, s) = &sigs[i % POOL];
            i += 1;
            black_box(xsm2::verify_with_table_vartime(&table, e, r, s)).expect("valid");
        })
    });
    let batch: Vec<xsm2::Prehashed<'_>> =
        sigs.iter().map(|(e, r, s)| xsm2::Prehashed { key: xsm2::KeyRef::Table(&table), e, r, s }).collect();
    let mut out = vec![Ok(()); POOL];
    g.throughput(Throughput::Elements(POOL as u64));
    for path in xsm2::available_verify_paths() {
        let name = match path {
            xsm2::VerifyPath::Portable => "xinlian-table-batch-portable",
            xsm2::VerifyPath::Ifma => "xinlian-table-batch-ifma",
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                xsm2::verify_batch_with_path(black_box(&batch), &mut out, path);
                assert!(out.iter().all(|r| r.is_ok()));
            })
        });
    }
    g.throughput(Throughput::Elements(1));
    g.bench_function("xinlian-no-table", |b| {
        b.iter(|| {
            let (e, r, s) = &sigs[i % POOL];
            i += 1;
            black_box(xsm2::verify_prehashed_vartime(&key, e, r, s)).expect("valid");
        })
    });
    let eff = efficient_sm2::PublicKey::new(&pk[1..33], &pk[33..]);
    g.bench_function("efficient-sm2", |b| {
        b.iter(|| {
            let (e, r, s) = &sigs[i % POOL];
            i += 1;
            let sig = efficient_sm2::Signature::new(r, s).expect("range");
            black_box(sig.verify_digest(&eff, e)).expect("valid");
        })
    });
    g.bench_function("table-build", |b| b.iter(|| black_box(PublicKeyTable::with_layouts(&key, true, true))));
    g.finish();
}

fn field(c: &mut Criterion) {
    let a = Fe::from_bytes(&sm3::digest(b"a")).unwrap_or(Fe::ONE);
    let b2 = Fe::from_bytes(&sm3::digest(b"b")).unwrap_or(Fe::ONE);
    let mut g = c.benchmark_group("field");
    g.bench_function("mul", |b| b.iter(|| black_box(black_box(a).mul(&black_box(b2)))));
    g.bench_function("square", |b| b.iter(|| black_box(black_box(a).square())));
    // 1,000 dependent multiplications: latency, which is what the point formulas feel.
    g.bench_function("mul_chain_1000", |b| {
        b.iter(|| {
            let mut x = black_box(a);
            for _ in 0..1000 {
                x = x.mul(&b2);
            }
            black_box(x)
        })
    });
    // 4 x 250 independent multiplications interleaved: throughput.
    g.bench_function("mul_4chains_1000", |b| {
        b.iter(|| {
            let mut x = [black_box(a), black_box(b2), black_box(a).add(&b2), black_box(a).sub(&b2)];
            for _ in 0..250 {
                for v in x.iter_mut() {
                    *v = v.mul(&b2);
                }
            }
            black_box(x)
        })
    });
    g.bench_function("square_chain_1000", |b| {
        b.iter(|| {
            let mut x = black_box(a);
            for _ in 0..1000 {
                x = x.square();
            }
            black_box(x)
        })
    });
    g.bench_function("add_chain_1000", |b| {
        b.iter(|| {
            let mut x = black_box(a);
            for _ in 0..1000 {
                x = x.add(&b2);
            }
            black_box(x)
        })
    });
    g.bench_function("invert", |b| b.iter(|| black_box(black_box(a).invert())));
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = verify_cold, verify_prehashed, verify_hot, field
}
criterion_main!(benches);
