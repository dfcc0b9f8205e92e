//! Blocks: re-sealing a tampered block, as a malicious proposer would.

use xinlian_chain::{builder, Block, Signer};

/// `block` with its header's tx root and count recomputed from its transactions and signed
/// again by `proposer`: a block that passes the seal checks whatever was changed inside.
pub fn reseal(mut block: Block, proposer: &Signer) -> Block {
    block.header.tx_root = builder::tx_root(&block.txs);
    block.header.tx_count = u32::try_from(block.txs.len()).unwrap();
    block.header.proposer = *proposer.public_key();
    builder::sign(block.header, proposer, block.txs)
}
