//! Differential: our SM2 verification (`kernels`, the CPU reference every backend must match)
//! against RustCrypto's `sm2` on the same (key, ID, message, r, s), as Firedancer checks its
//! ed25519 against dalek.
//!
//! A full verification costs both libraries a few hundred microseconds under coverage
//! instrumentation, so the first byte sorts inputs into three kinds and most stay cheap:
//! - below [`SIGNED`] (1 in 8): one of sixteen signatures RustCrypto made at start-up (four
//!   keys, four messages), then one mutation the input picks (none, a flipped signature or
//!   message byte, a byte appended to the message, another key, s or r replaced by n − s or
//!   n − r, r and s swapped, s + 1). Unmutated, both must accept.
//! - below [`VERIFIED`] (1 in 16): arbitrary bytes as a SEC1 key (33 or 65 bytes), r ‖ s, an
//!   ID and a message, verified by both when both take the key (a compressed key is on the
//!   curve half the time).
//! - the rest: the same arbitrary key and r ‖ s, but only the cheap judgements are compared:
//!   does each library take the key, and are r and s in [1, n − 1].
//!
//! One difference is by design, not a bug: RustCrypto takes the "compact" form (prefix `05`,
//! x only), which SEC1 does not define; we take `04` and `02|03` only (DESIGN.md, "Standards
//! it speaks"), so a key is compared only when its prefix is one of those.

use std::sync::OnceLock;

use sm2::dsa::signature::Verifier;
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::elliptic_curve::PrimeField;
use xinlian_kernels::sm2::{check_scalars, message_digest, verify_prehashed_vartime, z_value, AffinePoint, DEFAULT_ID};
use xinlian_kernels::sm3;

/// First bytes below this take the signed path: 32 of 256.
const SIGNED: u8 = 32;
/// First bytes below this (and not below [`SIGNED`]) verify arbitrary inputs fully: 16 of 256.
const VERIFIED: u8 = 48;
/// The SEC1 prefixes we take: uncompressed and compressed (not RustCrypto's compact `05`).
const SEC1_PREFIXES: [u8; 3] = [0x02, 0x03, 0x04];
/// RustCrypto's distinguishing ID is a `&str`; ours is bytes. The default, as text.
const DEFAULT_ID_STR: &str = "1234567812345678";

/// One input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode < SIGNED {
        signed(mode, rest);
    } else {
        arbitrary(mode, rest, mode < VERIFIED);
    }
}

/// A signature RustCrypto made, to be mutated.
struct SignedCase {
    key: usize,
    msg: Vec<u8>,
    r: [u8; 32],
    s: [u8; 32],
}

/// Four verifying keys from fixed secrets (SM3 of a label and the index: in range, nonzero),
/// SEC1 uncompressed, and sixteen signatures by them.
struct Cases {
    keys: Vec<Box<[u8]>>,
    signed: Vec<SignedCase>,
}

fn cases() -> &'static Cases {
    static CASES: OnceLock<Cases> = OnceLock::new();
    CASES.get_or_init(|| {
        let signers: Vec<SigningKey> = (0u8..4)
            .map(|i| {
                let d = sm3::digest(&[b"xinlian fuzz key ".as_slice(), &[i]].concat());
                SigningKey::from_slice(DEFAULT_ID_STR, &d).expect("SM3 of a label is a valid secret")
            })
            .collect();
        let messages: [&[u8]; 4] = [b"", b"a", b"message digest", &[0xA5; 200]];
        let signed = (0..16)
            .map(|i| {
                let (key, msg) = (i % 4, messages[i / 4]);
                let sig: Signature = sm2::dsa::signature::Signer::sign(&signers[key], msg);
                SignedCase { key, msg: msg.to_vec(), r: sig.r_bytes().into(), s: sig.s_bytes().into() }
            })
            .collect();
        Cases { keys: signers.iter().map(|k| k.verifying_key().to_sec1_bytes()).collect(), signed }
    })
}

fn signed(mode: u8, rest: &[u8]) {
    let [case, mutation, pos, val, ..] = rest else {
        return;
    };
    let Cases { keys, signed } = cases();
    let case = &signed[usize::from(*case) % signed.len()];
    let (mut r, mut s, mut msg, mut key) = (case.r, case.s, case.msg.clone(), case.key);
    match mutation % 9 {
        0 => {}
        1 => {
            let i = usize::from(*pos) % 64;
            let target = if i < 32 { &mut r[i] } else { &mut s[i - 32] };
            *target ^= val | 1;
        }
        2 => match msg.get_mut(usize::from(*pos)) {
            Some(b) => *b ^= val | 1,
            None => msg.push(*val),
        },
        3 => msg.push(*val),
        4 => key = (key + 1) % keys.len(),
        5 => s = negate(&s),
        6 => r = negate(&r),
        7 => std::mem::swap(&mut r, &mut s),
        _ => s = add_one(&s),
    }
    let (ours, theirs) = compare(&keys[key], DEFAULT_ID, &msg, &r, &s);
    if mutation % 9 == 0 {
        assert!(ours && theirs, "a RustCrypto signature was refused (mode {mode})");
    }
}

fn arbitrary(mode: u8, rest: &[u8], verify: bool) {
    let key_len = if mode & 1 == 1 { 33 } else { 65 };
    let Some((pk, rest)) = rest.split_at_checked(key_len) else {
        return;
    };
    let Some((rs, rest)) = rest.split_first_chunk::<64>() else {
        return;
    };
    let (id_len, rest) = rest.split_first().map_or((0, rest), |(&n, rest)| (usize::from(n % 32), rest));
    let (id, msg) = rest.split_at(id_len.min(rest.len()));
    // RustCrypto takes the ID as text: an ID that is not UTF-8 is the default one for both.
    let id = std::str::from_utf8(id).map_or(DEFAULT_ID, str::as_bytes);
    let (r, s) = rs.split_at(32);
    let (r, s): ([u8; 32], [u8; 32]) = (r.try_into().expect("32 bytes"), s.try_into().expect("32 bytes"));
    if verify {
        compare(pk, id, msg, &r, &s);
    } else {
        compare_cheap(pk, &r, &s);
    }
}

/// Key decoding and the range of r and s only: no curve arithmetic beyond a square root.
fn compare_cheap(pk: &[u8], r: &[u8; 32], s: &[u8; 32]) {
    if !pk.first().is_some_and(|p| SEC1_PREFIXES.contains(p)) {
        assert!(AffinePoint::from_sec1(pk).is_err(), "a key with prefix {:02x?} was taken", pk.first());
        return;
    }
    let ours = AffinePoint::from_sec1(pk).is_ok();
    let theirs = sm2::PublicKey::from_sec1_bytes(pk).is_ok();
    assert_eq!(ours, theirs, "key {}: we take it: {ours}, RustCrypto: {theirs}", hex::encode(pk));
    let ours = check_scalars(r, s).is_ok();
    let theirs = Signature::from_scalars(*r, *s).is_ok();
    assert_eq!(
        ours,
        theirs,
        "r {} s {}: in range for us: {ours}, for RustCrypto: {theirs}",
        hex::encode(r),
        hex::encode(s)
    );
}

/// Both verdicts, after asserting they agree (on the key, then on the signature).
fn compare(pk: &[u8], id: &[u8], msg: &[u8], r: &[u8; 32], s: &[u8; 32]) -> (bool, bool) {
    let id_text = std::str::from_utf8(id).expect("IDs here are UTF-8");
    if !pk.first().is_some_and(|p| SEC1_PREFIXES.contains(p)) {
        assert!(AffinePoint::from_sec1(pk).is_err(), "a key with prefix {:02x?} was taken", pk.first());
        return (false, false);
    }
    let ours_key = AffinePoint::from_sec1(pk);
    let theirs_key = VerifyingKey::from_sec1_bytes(id_text, pk);
    assert_eq!(
        ours_key.is_ok(),
        theirs_key.is_ok(),
        "key {}: ours {ours_key:?}, RustCrypto's differs",
        hex::encode(pk)
    );
    let (Ok(key), Ok(vk)) = (ours_key, theirs_key) else {
        return (false, false);
    };
    let z = z_value(id, &key).expect("an ID under 32 bytes");
    let ours = verify_prehashed_vartime(&key, &message_digest(&z, msg), r, s).is_ok();
    let theirs = Signature::from_scalars(*r, *s).is_ok_and(|sig| vk.verify(msg, &sig).is_ok());
    assert_eq!(
        ours,
        theirs,
        "verdicts differ: ours {ours}, RustCrypto {theirs} (key {}, id {id_text:?}, msg {}, r {}, s {})",
        hex::encode(pk),
        hex::encode(msg),
        hex::encode(r),
        hex::encode(s)
    );
    (ours, theirs)
}

fn scalar(v: &[u8; 32]) -> sm2::Scalar {
    Option::from(sm2::Scalar::from_repr((*v).into())).expect("a signature's r and s are below n")
}

/// n − v (v is a signature's r or s, in [1, n−1]).
fn negate(v: &[u8; 32]) -> [u8; 32] {
    (-scalar(v)).to_repr().into()
}

/// v + 1 mod n.
fn add_one(v: &[u8; 32]) -> [u8; 32] {
    (scalar(v) + sm2::Scalar::ONE).to_repr().into()
}
