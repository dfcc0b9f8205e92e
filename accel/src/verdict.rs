//! Verdicts, and the one place where a request's bytes become a backend's input.
//!
//! Owns: [`Verdict`], [`PreparedVerify`] (what a backend receives: a decoded key, e, r, s),
//! the signature's decoding (DER or raw r ‖ s), and [`prepare`], which turns untrusted bytes
//! into a `PreparedVerify` or a verdict; the key and Z come from `signer` (through the
//! [`KeyCache`] when one is given), and a key that does not decode is `Malformed` here.
//! Decoding and hashing happen once, here, before any routing, so a `Malformed` verdict never
//! depends on which backend ran.
//! Never: panics on any input, whatever the bytes.

use std::fmt;
use std::sync::Arc;

use xinlian_kernels::sm2::{self, AffinePoint, PublicKeyTable, Rejection};

use crate::cache::KeyCache;
use crate::signer;

/// The answer for one signature. A value, never an error.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The signature verifies.
    Valid,
    /// Well-formed, but the signature does not verify (wrong key, message, ID, or r/s out of range).
    Invalid(Rejection),
    /// The bytes are not a key, signature or request at all.
    Malformed(String),
}

impl Verdict {
    /// `"valid"`, `"invalid"` or `"malformed"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid(_) => "invalid",
            Verdict::Malformed(_) => "malformed",
        }
    }

    /// Why it is not valid (`None` for `Valid`).
    pub fn reason(&self) -> Option<String> {
        match self {
            Verdict::Valid => None,
            Verdict::Invalid(r) => Some(r.to_string()),
            Verdict::Malformed(m) => Some(m.clone()),
        }
    }

    /// Whether this is `Valid`.
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            None => f.write_str(self.kind()),
            Some(r) => write!(f, "{}: {r}", self.kind()),
        }
    }
}

/// A decoded signature check, ready for any backend: the key (with its table when the key
/// is hot), e = SM3(Z ‖ M), and r, s as 32-byte big-endian integers below 2^256.
#[derive(Clone, Debug)]
pub struct PreparedVerify {
    /// The public key, on the curve.
    pub key: AffinePoint,
    /// The key's precomputed table, when the key cache judged it hot.
    pub table: Option<Arc<PublicKeyTable>>,
    /// e = SM3(Z ‖ M).
    pub e: [u8; 32],
    /// r, big-endian (range checked by the verification itself, step B1).
    pub r: [u8; 32],
    /// s, big-endian (step B2).
    pub s: [u8; 32],
}

/// A signature check as it arrives: untrusted bytes.
#[derive(Clone, Copy, Debug)]
pub struct VerifyRequest<'a> {
    /// SEC1 public key (65 bytes uncompressed or 33 compressed).
    pub pubkey: &'a [u8],
    /// The distinguishing ID ([`sm2::DEFAULT_ID`] when the sender gave none).
    pub id: &'a [u8],
    /// The signed message M.
    pub msg: &'a [u8],
    /// DER `SEQUENCE { r INTEGER, s INTEGER }`, or raw 64-byte r ‖ s.
    pub sig: &'a [u8],
}

/// Decode and hash a request. `Err` holds the verdict already reached: `Malformed` for bytes
/// that are not a key or signature, `Invalid` for an r or s too large for 32 bytes (out of
/// [1, n-1], step B1/B2, known before any curve arithmetic).
pub fn prepare(req: &VerifyRequest<'_>, cache: Option<&KeyCache>) -> Result<PreparedVerify, Verdict> {
    let (r, s) = decode_signature(req.sig)?;
    let decoded = match cache {
        Some(cache) => cache.lookup(req.pubkey, req.id),
        None => signer::decode(req.pubkey, req.id).map(|(key, z)| (key, z, None)),
    };
    let (key, z, table) = decoded.map_err(|e| Verdict::Malformed(e.to_string()))?;
    let e = sm2::message_digest(&z, req.msg);
    Ok(PreparedVerify { key, table, e, r, s })
}

/// A signature as DER or raw r ‖ s. DER is tried first when the bytes start with a SEQUENCE
/// tag and parse completely; otherwise exactly 64 bytes are raw r ‖ s. DER must be strict
/// (minimal lengths and integers, nothing trailing): OpenSSL and every SM2 library emit that.
pub fn decode_signature(sig: &[u8]) -> Result<([u8; 32], [u8; 32]), Verdict> {
    let der = if sig.first() == Some(&0x30) {
        match decode_der(sig) {
            Ok(rs) => return rs,
            Err(e) => e,
        }
    } else {
        "signature: does not start with a DER SEQUENCE (0x30)".to_string()
    };
    if sig.len() == 64 {
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&sig[..32]);
        s.copy_from_slice(&sig[32..]);
        return Ok((r, s));
    }
    if sig.first() == Some(&0x30) {
        Err(Verdict::Malformed(der))
    } else {
        Err(Verdict::Malformed(format!("signature: {} bytes is neither raw r‖s (64 bytes) nor DER", sig.len())))
    }
}

/// Outer `Err`: not DER (with why). Inner result: DER whose integers do not fit 32 bytes is
/// a well-formed but out-of-range signature (Invalid, step B1/B2).
type DerResult = Result<([u8; 32], [u8; 32]), Verdict>;

fn decode_der(sig: &[u8]) -> Result<DerResult, String> {
    let (body, rest) = der_tlv(sig, 0x30, "SEQUENCE")?;
    if !rest.is_empty() {
        return Err(format!("signature: {} bytes trailing after the DER SEQUENCE", rest.len()));
    }
    let (r, body) = der_tlv(body, 0x02, "INTEGER r")?;
    let (s, body) = der_tlv(body, 0x02, "INTEGER s")?;
    if !body.is_empty() {
        return Err("signature: unexpected data after s inside the DER SEQUENCE".to_string());
    }
    let r = der_unsigned(r, "r")?;
    let s = der_unsigned(s, "s")?;
    Ok(match (r, s) {
        (Some(r), Some(s)) => Ok((r, s)),
        (None, _) => Err(Verdict::Invalid(Rejection::ROutOfRange)),
        (_, None) => Err(Verdict::Invalid(Rejection::SOutOfRange)),
    })
}

/// One DER TLV with the expected tag; returns (contents, remainder).
fn der_tlv<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let truncated = || format!("signature: DER {what} is truncated");
    let (&t, input) = input.split_first().ok_or_else(truncated)?;
    if t != tag {
        return Err(format!("signature: expected DER {what} (tag 0x{tag:02x}), found tag 0x{t:02x}"));
    }
    let (&len0, input) = input.split_first().ok_or_else(truncated)?;
    let (len, input) = match len0 {
        0..=0x7F => (usize::from(len0), input),
        0x81 => {
            let (&l, input) = input.split_first().ok_or_else(truncated)?;
            if l < 0x80 {
                return Err(format!("signature: DER {what} length is not minimally encoded"));
            }
            (usize::from(l), input)
        }
        _ => return Err(format!("signature: DER {what} length form 0x{len0:02x} is not allowed here")),
    };
    if input.len() < len {
        return Err(truncated());
    }
    Ok(input.split_at(len))
}

/// A DER INTEGER's contents as a non-negative 32-byte value. `Ok(None)`: well-formed but too
/// large for 32 bytes (so certainly not below n).
fn der_unsigned(bytes: &[u8], name: &str) -> Result<Option<[u8; 32]>, String> {
    match bytes {
        [] => return Err(format!("signature: DER INTEGER {name} is empty")),
        [first, ..] if first & 0x80 != 0 => return Err(format!("signature: DER INTEGER {name} is negative")),
        [0, second, ..] if second & 0x80 == 0 => {
            return Err(format!("signature: DER INTEGER {name} has a non-minimal leading zero"))
        }
        _ => {}
    }
    let digits = if bytes[0] == 0 && bytes.len() > 1 { &bytes[1..] } else { bytes };
    if digits.len() > 32 {
        return Ok(None);
    }
    let mut out = [0u8; 32];
    out[32 - digits.len()..].copy_from_slice(digits);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        let mut body = vec![0x02, u8::try_from(r.len()).unwrap()];
        body.extend_from_slice(r);
        body.push(0x02);
        body.push(u8::try_from(s.len()).unwrap());
        body.extend_from_slice(s);
        let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
        out.extend(body);
        out
    }

    #[test]
    fn der_and_raw_decode_to_the_same_integers() {
        let mut r = [0u8; 32];
        r[0] = 0x80; // high bit: DER needs a 0x00 pad
        r[31] = 1;
        let mut s = [0u8; 32];
        s[5] = 0x12;
        s[31] = 9;
        let mut padded_r = vec![0u8];
        padded_r.extend_from_slice(&r);
        let sig = der(&padded_r, &s[5..]);
        assert_eq!(decode_signature(&sig), Ok((r, s)));
        let mut raw = r.to_vec();
        raw.extend_from_slice(&s);
        assert_eq!(decode_signature(&raw), Ok((r, s)));
    }

    #[test]
    fn bad_der_is_malformed_with_a_reason() {
        let good = der(&[1], &[2]);
        for cut in 0..good.len() {
            let v = decode_signature(&good[..cut]);
            assert!(matches!(v, Err(Verdict::Malformed(_))), "cut {cut}: {v:?}");
        }
        let cases: [(&[u8], &str); 5] = [
            (&[0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01], "negative"),
            (&[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01], "non-minimal"),
            (&[0x30, 0x06, 0x02, 0x00, 0x02, 0x02, 0x01, 0x01], "empty"),
            (&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00], "trailing"),
            (&[0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], "neither"),
        ];
        for (bytes, word) in cases {
            match decode_signature(bytes) {
                Err(Verdict::Malformed(m)) => assert!(m.contains(word), "{m} should mention {word}"),
                other => panic!("{bytes:02x?}: {other:?}"),
            }
        }
    }

    #[test]
    fn oversized_integers_are_invalid_not_malformed() {
        let big = [0x7Fu8; 33];
        assert_eq!(decode_signature(&der(&big, &[1])), Err(Verdict::Invalid(Rejection::ROutOfRange)));
        assert_eq!(decode_signature(&der(&[1], &big)), Err(Verdict::Invalid(Rejection::SOutOfRange)));
    }
}
