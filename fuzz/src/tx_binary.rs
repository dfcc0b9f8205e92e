//! `Transaction::decode`: the bytes of a transaction as blocks and peers carry them.
//!
//! The encoding is canonical (fixed widths, one payload form, nothing trailing), so whatever
//! decodes must encode back to exactly the input.

use xinlian_chain::types::Transaction;

/// One input.
pub fn run(data: &[u8]) {
    match Transaction::decode(data) {
        Ok(tx) => {
            assert_eq!(tx.encode(), data, "a decoded transaction does not encode back to its bytes");
            assert_eq!(Transaction::decode(&tx.encode()).ok().as_ref(), Some(&tx));
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("transaction: ") || msg.contains(": "), "error names no field: {msg}");
        }
    }
}
