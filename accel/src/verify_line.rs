//! One line of `xinlian verify`'s input: a JSON object `{pubkey, msg, sig, id?}`, hex fields.
//!
//! Owns: turning the line's untrusted bytes into a [`VerifyRequest`] and preparing it. Never:
//! reading files or writing verdicts (the cli's `verify` command does). Kept in accel, beside
//! [`prepare`], so the fuzz targets (`fuzz/`) exercise exactly this code without the cli.

use std::borrow::Cow;

use serde::Deserialize;
use xinlian_kernels::sm2::DEFAULT_ID;

use crate::cache::KeyCache;
use crate::verdict::{prepare, PreparedVerify, Verdict, VerifyRequest};

/// One input line. Fields it does not know are ignored: vector files (Wycheproof's) carry
/// `comment`, `result`, `tcId` beside the inputs. A misspelt required field (`"pubky"`) still
/// makes the line malformed, as the required one is then missing.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    pubkey: Cow<'a, str>,
    #[serde(borrow)]
    msg: Cow<'a, str>,
    #[serde(borrow)]
    sig: Cow<'a, str>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
}

/// Decode and prepare one line (a trailing `\r` is dropped). `Err` is the line's verdict,
/// already reached: `Malformed` naming what is wrong, or `Invalid` for r or s out of range.
pub fn prepare_json_line(raw: &[u8], cache: &KeyCache) -> Result<PreparedVerify, Verdict> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(Verdict::Malformed("empty line".to_string()));
    }
    // JSON text is UTF-8. serde_json checks that only in the strings it keeps, so without this
    // a line whose ignored field (`comment`) holds bytes that are not UTF-8 would pass.
    let raw = std::str::from_utf8(raw).map_err(|e| Verdict::Malformed(format!("not UTF-8, so not JSON: {e}")))?;
    let line: Line<'_> = serde_json::from_str(raw)
        .map_err(|e| Verdict::Malformed(format!("not a JSON object {{pubkey, msg, sig, id?}}: {e}")))?;
    let unhex =
        |field: &str, value: &str| hex::decode(value).map_err(|e| Verdict::Malformed(format!("{field}: not hex: {e}")));
    let pubkey = unhex("pubkey", &line.pubkey)?;
    let msg = unhex("msg", &line.msg)?;
    let sig = unhex("sig", &line.sig)?;
    let id = line.id.as_deref().map_or(DEFAULT_ID, str::as_bytes);
    prepare(&VerifyRequest { pubkey: &pubkey, id, msg: &msg, sig: &sig }, Some(cache))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::KeyCacheConfig;

    /// Found by the `verify_line` fuzz target: bytes that are not UTF-8 inside a field the
    /// line format ignores were accepted, though such a line is not JSON.
    #[test]
    fn a_line_that_is_not_utf8_is_malformed_even_in_an_ignored_field() {
        let cache = KeyCache::new(KeyCacheConfig::default());
        let g = "0432c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0";
        let good = format!(r#"{{"pubkey":"{g}","msg":"00","sig":"{}","comment":"x"}}"#, "11".repeat(64));
        assert!(prepare_json_line(good.as_bytes(), &cache).is_ok(), "the well-formed line prepares");
        // The same line with the comment's one character replaced by the byte 0xff.
        let bad: Vec<u8> = good.bytes().map(|b| if b == b'x' { 0xff } else { b }).collect();
        match prepare_json_line(&bad, &cache) {
            Err(Verdict::Malformed(why)) => assert!(why.contains("not UTF-8"), "{why}"),
            other => panic!("a line with a 0xff byte gave {other:?}"),
        }
    }
}
