//! Signature bytes (`kernels::sm2::signature::decode` and accel's `decode_signature` over it):
//! strict DER `SEQUENCE { r INTEGER, s INTEGER }` or raw 64-byte r ‖ s.
//!
//! Strict DER is canonical: what decodes as DER must be exactly the minimal DER of (r, s),
//! written here independently; anything else that decodes must be the 64 raw bytes. accel's
//! verdict must match the kernel's result kind for kind.

use xinlian_accel::verdict::decode_signature;
use xinlian_accel::Verdict;
use xinlian_kernels::sm2::signature::{decode, SignatureError};

/// One input.
pub fn run(data: &[u8]) {
    let kernel = decode(data);
    let accel = decode_signature(data);
    match (&kernel, &accel) {
        (Ok(k), Ok(a)) => {
            assert_eq!(k, a, "accel and kernels decode different (r, s)");
            let (r, s) = k;
            let raw: Vec<u8> = r.iter().chain(s.iter()).copied().collect();
            assert!(
                minimal_der(r, s) == data || raw == data,
                "decoded (r, s) is neither the input's minimal DER nor its raw bytes"
            );
        }
        (Err(SignatureError::Malformed(why)), Err(Verdict::Malformed(accel_why))) => {
            assert_eq!(why, accel_why, "accel reports another reason");
            assert!(why.starts_with("signature: "), "reason does not name the signature: {why}");
        }
        (Err(SignatureError::OutOfRange(k)), Err(Verdict::Invalid(a))) => {
            assert_eq!(k, a, "accel and kernels name different range errors");
            assert!(data.first() == Some(&0x30), "a non-DER input was judged out of range");
        }
        _ => panic!("accel and kernels disagree: {kernel:?} vs {accel:?}"),
    }
}

/// DER of a non-negative 32-byte big-endian integer: no leading zero bytes except one before
/// a set high bit; zero is `02 01 00`.
fn der_integer(v: &[u8; 32]) -> Vec<u8> {
    let first = v.iter().position(|&b| b != 0).unwrap_or(31);
    let digits = &v[first..];
    let mut out = vec![0x02];
    let pad = digits[0] & 0x80 != 0;
    out.push(u8::try_from(digits.len() + usize::from(pad)).expect("at most 33 bytes"));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(digits);
    out
}

fn minimal_der(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    let mut body = der_integer(r);
    body.extend(der_integer(s));
    let mut out = vec![0x30, u8::try_from(body.len()).expect("at most 70 bytes")];
    out.extend(body);
    out
}
