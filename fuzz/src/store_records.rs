//! The store's other records, as RocksDB hands them back: `Account`, `TxLocation` (the tx
//! index) and `CommitCertificate`. A damaged disk or a bug elsewhere can put any bytes there.
//!
//! The first byte picks the decoder; the rest is its input.

use xinlian_chain::cert::CommitCertificate;
use xinlian_chain::types::{Account, TxLocation};

/// One input.
pub fn run(data: &[u8]) {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => account(bytes),
        1 => tx_location(bytes),
        _ => certificate(bytes),
    }
}

fn account(bytes: &[u8]) {
    match Account::decode(bytes) {
        Ok(a) => assert_eq!(a.encode().as_slice(), bytes, "account does not encode back"),
        Err(e) => assert!(e.to_string().starts_with("account: "), "{e}"),
    }
}

/// Not canonical on purpose: `ok` is any non-zero byte and the reason is read lossily (a
/// reason is for people). So: what decodes must survive encode → decode unchanged, and the
/// canonical inputs (ok 0 or 1, UTF-8 reason) must come back byte for byte.
fn tx_location(bytes: &[u8]) {
    match TxLocation::decode(bytes) {
        Ok(loc) => {
            let again = TxLocation::decode(&loc.encode()).expect("an encoded location decodes");
            assert_eq!(again, loc, "tx location changes through encode → decode");
            let canonical = bytes.get(12).is_some_and(|&ok| ok <= 1) && std::str::from_utf8(&bytes[13..]).is_ok();
            if canonical {
                assert_eq!(loc.encode(), bytes, "a canonical tx location does not encode back");
            }
        }
        Err(e) => assert!(e.to_string().starts_with("tx index entry: "), "{e}"),
    }
}

fn certificate(bytes: &[u8]) {
    match CommitCertificate::decode(bytes) {
        Ok(c) => assert_eq!(c.encode(), bytes, "certificate does not encode back"),
        Err(e) => assert!(e.to_string().starts_with("certificate: "), "{e}"),
    }
}
