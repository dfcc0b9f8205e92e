//! `Block::decode`: a block as the store keeps it and peers send it.
//!
//! Canonical like the transaction codec: a block that decodes encodes back to the input.

use xinlian_chain::types::Block;

/// One input.
pub fn run(data: &[u8]) {
    match Block::decode(data) {
        Ok(block) => {
            assert_eq!(block.encode(), data, "a decoded block does not encode back to its bytes");
            assert_eq!(usize::try_from(block.header.tx_count).ok(), Some(block.txs.len()));
        }
        Err(e) => crate::assert_named("block", &e.to_string()),
    }
}
