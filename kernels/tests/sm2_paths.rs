//! Every verification path gives the same answers: the portable lanes, the AVX-512 IFMA
//! lanes (where the CPU has them; otherwise `verify_batch_with_path` falls back and the test
//! compares the portable path with itself, which it says), and one-at-a-time verification.
//! Includes keys chosen so that the IFMA path meets its rare cases (equal x coordinates,
//! the identity) and must hand them to the portable formulas.

use std::io::Write as _;

use rand::{Rng, SeedableRng};
use sm2::dsa::signature::Signer;
use xinlian_kernels::sm2 as xsm2;
use xinlian_kernels::sm2::{
    available_verify_paths, verify_batch_with_path, AffinePoint, KeyRef, Prehashed, PublicKeyTable, Rejection,
    VerifyPath,
};

const N: [u8; 32] = xsm2::curve::N_BYTES;

fn be_add(a: &[u8; 32], b: &[u8; 32]) -> ([u8; 32], bool) {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let t = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = u8::try_from(t & 0xFF).expect("one byte");
        carry = t >> 8;
    }
    (out, carry != 0)
}

fn be_sub(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut t = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = 0;
        if t < 0 {
            t += 256;
            borrow = 1;
        }
        out[i] = u8::try_from(t).expect("0 <= t < 256 after the borrow");
    }
    out
}

/// (a + b) mod n for a, b < n.
fn add_mod_n(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let (s, carry) = be_add(a, b);
    if carry || s >= N {
        be_sub(&s, &N)
    } else {
        s
    }
}

fn key_of(sk: &[u8; 32]) -> (sm2::dsa::SigningKey, AffinePoint) {
    let signing = sm2::dsa::SigningKey::from_slice("1234567812345678", sk).expect("0 < sk < n");
    let point = AffinePoint::from_sec1(&signing.verifying_key().to_sec1_bytes()).expect("valid key");
    (signing, point)
}

struct Case {
    key: AffinePoint,
    table: PublicKeyTable,
    e: [u8; 32],
    r: [u8; 32],
    s: [u8; 32],
}

fn cases(seed: u64, count: usize) -> Vec<Case> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for i in 0..count {
        let mut sk = [0u8; 32];
        rng.fill(&mut sk);
        sk[0] &= 0x7F;
        sk[31] |= 1;
        let (signing, key) = key_of(&sk);
        let msg: Vec<u8> = (0..rng.gen_range(0..100)).map(|_| rng.gen()).collect();
        let sig: sm2::dsa::Signature = signing.sign(&msg);
        let z = xsm2::z_value(xsm2::DEFAULT_ID, &key).expect("id");
        let mut e = xsm2::message_digest(&z, &msg);
        let mut r: [u8; 32] = sig.r_bytes().into();
        let mut s: [u8; 32] = sig.s_bytes().into();
        match i % 5 {
            0 | 1 => {}
            2 => e[rng.gen_range(0..32)] ^= 1 << rng.gen_range(0..8),
            3 => {
                r = add_mod_n(&r, &{
                    let mut one = [0u8; 32];
                    one[31] = 1;
                    one
                })
            }
            _ => s = be_sub(&N, &r), // t = r + s = n: TIsZero
        }
        let table = PublicKeyTable::with_layouts(&key, true, true);
        out.push(Case { key, table, e, r, s });
    }
    out
}

fn run(items: &[Prehashed<'_>], path: VerifyPath) -> Vec<Result<(), Rejection>> {
    let mut out = vec![Ok(()); items.len()];
    verify_batch_with_path(items, &mut out, path);
    out
}

/// The answers of the single-item entry points, item by item.
fn one_at_a_time(items: &[Prehashed<'_>]) -> Vec<Result<(), Rejection>> {
    items
        .iter()
        .map(|it| match it.key {
            KeyRef::Cold(k) => xsm2::verify_prehashed_vartime(k, it.e, it.r, it.s),
            KeyRef::Table(t) => xsm2::verify_with_table_vartime(t, it.e, it.r, it.s),
        })
        .collect()
}

#[test]
fn paths_agree_on_random_mixed_batches() {
    let paths = available_verify_paths();
    if !paths.contains(&VerifyPath::Ifma) {
        // Written to stderr itself, past libtest's capture of `eprintln!`, so that the part
        // skipped shows in a plain `cargo test` run.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED paths_agree_on_random_mixed_batches (the IFMA path): this CPU has no AVX-512 IFMA"
        );
    }
    let cases = cases(11, 200);
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    for size in [1usize, 7, 8, 9, 16, 17, 24, 40, 200] {
        let items: Vec<Prehashed<'_>> = (0..size)
            .map(|_| {
                let c = &cases[rng.gen_range(0..cases.len())];
                let key = if rng.gen_bool(0.5) { KeyRef::Cold(&c.key) } else { KeyRef::Table(&c.table) };
                Prehashed { key, e: &c.e, r: &c.r, s: &c.s }
            })
            .collect();
        let one_by_one = one_at_a_time(&items);
        for &path in &paths {
            assert_eq!(run(&items, path), one_by_one, "size {size}, path {path:?}");
        }
        // The mix really has both answers.
        if size >= 40 {
            assert!(one_by_one.iter().any(|r| r.is_ok()) && one_by_one.iter().any(|r| r.is_err()));
        }
    }
}

/// Keys that are small multiples of G, and signatures built (from the equation, no private
/// key needed) so that s*G + t*P lands on the identity or meets table entries with equal x.
#[test]
fn paths_agree_on_degenerate_sums() {
    let mut small = Vec::new();
    for k in [1u8, 2, 3, 8, 16] {
        let mut sk = [0u8; 32];
        sk[31] = k;
        small.push((k, key_of(&sk).1));
    }
    // 2^32 G: equal to chunk 1's base of G's split tables.
    let mut sk = [0u8; 32];
    sk[27] = 1;
    small.push((0, key_of(&sk).1));

    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let mut cases = Vec::new();
    for (k, key) in &small {
        for variant in 0..4 {
            let mut s = [0u8; 32];
            rng.fill(&mut s[8..]);
            s[31] |= 1;
            let r: [u8; 32] = match variant {
                // With P = kG, s + k*t = s + k*(r + s) = 0  <=>  r = -(s + k s)/k; for k = 1: r = n - 2s.
                0 if *k == 1 => be_sub(&N, &add_mod_n(&s, &s)),
                // Small r and s: the sums stay among small multiples of G.
                1 => {
                    let mut r = [0u8; 32];
                    r[31] = rng.gen_range(1..=255);
                    s = [0u8; 32];
                    s[31] = rng.gen_range(1..=255);
                    r
                }
                _ => {
                    let mut r = [0u8; 32];
                    rng.fill(&mut r[4..]);
                    r
                }
            };
            let e: [u8; 32] = rng.gen();
            cases.push((*key, PublicKeyTable::with_layouts(key, true, true), e, r, s));
        }
    }
    let mut items = Vec::new();
    for (key, table, e, r, s) in &cases {
        items.push(Prehashed { key: KeyRef::Cold(key), e, r, s });
        items.push(Prehashed { key: KeyRef::Table(table), e, r, s });
    }
    let one_by_one = one_at_a_time(&items);
    assert!(one_by_one.contains(&Err(Rejection::Identity)), "the r = n - 2s case with P = G must reach the identity");
    for path in available_verify_paths() {
        assert_eq!(run(&items, path), one_by_one, "path {path:?}");
    }
}
