//! SEC1 public keys (`AffinePoint::from_sec1`): every key a client or vector file sends.
//!
//! A key that decodes is on the curve and re-encodes in its own form (65 bytes `04 ‖ x ‖ y`
//! or 33 bytes `02|03 ‖ x`) to exactly the input; its two forms decode to the same point; and
//! the chain's `canonical_key` agrees with the decoder.

use xinlian_chain::types::canonical_key;
use xinlian_kernels::sm2::AffinePoint;

/// One input.
pub fn run(data: &[u8]) {
    let decoded = AffinePoint::from_sec1(data);
    let canonical = canonical_key(data, "key");
    match decoded {
        Ok(p) => {
            let (full, short) = (p.to_uncompressed(), p.to_compressed());
            match data.len() {
                65 => assert_eq!(full.as_slice(), data, "uncompressed key does not encode back"),
                33 => assert_eq!(short.as_slice(), data, "compressed key does not encode back"),
                n => panic!("a {n}-byte key decoded"),
            }
            let from_short = AffinePoint::from_sec1(&short).expect("a point's compressed form decodes");
            assert_eq!(from_short.to_uncompressed(), full, "the two forms give different points");
            assert_eq!(canonical.as_ref().ok(), Some(&full), "canonical_key disagrees with from_sec1");
        }
        Err(e) => {
            crate::assert_named("sec1", &e.to_string());
            let chain = canonical.expect_err("canonical_key took a key from_sec1 refused").to_string();
            assert!(chain.starts_with("key: "), "chain error does not name the key: {chain}");
        }
    }
}
