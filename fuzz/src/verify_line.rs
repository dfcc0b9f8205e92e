//! `xinlian verify` input lines (`accel::verify_line::prepare_json_line`).
//!
//! Checked: a refused line gets a reason; a line that prepares gives the same key, e, r and s
//! as preparing its fields again without the key cache (the cache is shared across inputs, so
//! a stale or mixed-up entry would show), and e is SM3(Z ‖ M) computed here from the kernels.

use std::sync::OnceLock;

use serde::Deserialize;
use xinlian_accel::verify_line::prepare_json_line;
use xinlian_accel::{prepare, KeyCache, KeyCacheConfig, Verdict, VerifyRequest};
use xinlian_kernels::sm2::{message_digest, z_value, DEFAULT_ID};

/// The line's fields, read again here to prepare them without the cache.
#[derive(Deserialize)]
struct Fields {
    pubkey: String,
    msg: String,
    sig: String,
    id: Option<String>,
}

fn cache() -> &'static KeyCache {
    static CACHE: OnceLock<KeyCache> = OnceLock::new();
    // Tables after the second sighting: the fuzzer repeats keys, so the table path runs too.
    CACHE.get_or_init(|| KeyCache::new(KeyCacheConfig { max_entries: 64, max_table_bytes: 1 << 20, table_after: 2 }))
}

/// One input.
pub fn run(data: &[u8]) {
    let prepared = match prepare_json_line(data, cache()) {
        Ok(p) => p,
        Err(Verdict::Malformed(why)) => return crate::assert_named("line", &why),
        Err(Verdict::Invalid(_)) => return,
        Err(Verdict::Valid) => panic!("preparing a line gave a final `valid`"),
    };
    // Only the four fields: a field the format ignores may hold what a `Value` cannot (a lone
    // surrogate escape, which JSON's grammar allows).
    let line: Fields =
        serde_json::from_slice(data.strip_suffix(b"\r").unwrap_or(data)).expect("a prepared line is JSON");
    let unhex = |value: &str| hex::decode(value).expect("a prepared line's fields are hex");
    let (pubkey, msg, sig) = (unhex(&line.pubkey), unhex(&line.msg), unhex(&line.sig));
    let id = line.id.as_deref().map_or(DEFAULT_ID, str::as_bytes);
    let fresh = prepare(&VerifyRequest { pubkey: &pubkey, id, msg: &msg, sig: &sig }, None)
        .expect("the same fields prepare without the cache");
    assert_eq!(fresh.key, prepared.key, "the cache gave another key");
    assert_eq!((fresh.e, fresh.r, fresh.s), (prepared.e, prepared.r, prepared.s), "the cache changed e, r or s");
    let z = z_value(id, &prepared.key).expect("the ID was accepted");
    assert_eq!(message_digest(&z, &msg), prepared.e, "e is not SM3(Z ‖ M)");
}
