//! SM2 signature encodings: strict DER (`SEQUENCE { r INTEGER, s INTEGER }`) or raw r ‖ s.
//!
//! Owns: the one decoder of signature bytes, shared by accel's `prepare` and the chain's
//! transaction codec. Never: panics, whatever the bytes.

use super::verify::Rejection;

/// Why signature bytes do not give (r, s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// Not DER nor 64 raw bytes: the message says what is wrong.
    Malformed(String),
    /// Well-formed DER whose integer cannot be below n (more than 32 bytes): B1 or B2.
    OutOfRange(Rejection),
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::Malformed(why) => f.write_str(why),
            SignatureError::OutOfRange(r) => write!(f, "signature: {r}"),
        }
    }
}

/// A signature as DER or raw r ‖ s. DER is tried first when the bytes start with a SEQUENCE
/// tag and parse completely; otherwise exactly 64 bytes are raw r ‖ s. DER must be strict
/// (minimal lengths and integers, nothing trailing): OpenSSL and every SM2 library emit that.
pub fn decode(sig: &[u8]) -> Result<([u8; 32], [u8; 32]), SignatureError> {
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
        Err(SignatureError::Malformed(der))
    } else {
        Err(SignatureError::Malformed(format!("signature: {} bytes is neither raw r‖s (64 bytes) nor DER", sig.len())))
    }
}

/// Outer `Err`: not DER (with why). Inner result: DER whose integers do not fit 32 bytes is
/// a well-formed but out-of-range signature (step B1/B2).
type DerResult = Result<([u8; 32], [u8; 32]), SignatureError>;

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
        (None, _) => Err(SignatureError::OutOfRange(Rejection::ROutOfRange)),
        (_, None) => Err(SignatureError::OutOfRange(Rejection::SOutOfRange)),
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
