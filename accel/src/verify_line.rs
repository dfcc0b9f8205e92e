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
    let line: Line<'_> = serde_json::from_slice(raw)
        .map_err(|e| Verdict::Malformed(format!("not a JSON object {{pubkey, msg, sig, id?}}: {e}")))?;
    let unhex =
        |field: &str, value: &str| hex::decode(value).map_err(|e| Verdict::Malformed(format!("{field}: not hex: {e}")));
    let pubkey = unhex("pubkey", &line.pubkey)?;
    let msg = unhex("msg", &line.msg)?;
    let sig = unhex("sig", &line.sig)?;
    let id = line.id.as_deref().map_or(DEFAULT_ID, str::as_bytes);
    prepare(&VerifyRequest { pubkey: &pubkey, id, msg: &msg, sig: &sig }, Some(cache))
}
