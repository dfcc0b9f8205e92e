//! Blocks: tx roots, and signing a header into a block.

use xinlian_kernels::merkle;

use crate::error::ChainError;
use crate::keys::{BlockSigner, Signer};
use crate::types::{Block, BlockHeader, Hash, Transaction};

/// The leaf hashes of the tx root: SM3(00 ‖ tx id) per transaction.
pub fn tx_leaves(txs: &[Transaction]) -> Vec<Hash> {
    txs.iter().map(|tx| merkle::leaf_hash(&tx.id())).collect()
}

/// The tx root of transactions whose ids are known, on the CPU.
pub fn tx_root_of_ids(ids: &[Hash]) -> Hash {
    let leaves: Vec<Hash> = ids.iter().map(|id| merkle::leaf_hash(id)).collect();
    merkle::root(&leaves)
}

/// The tx root on the CPU (the node computes it through accel; this is the reference).
pub fn tx_root(txs: &[Transaction]) -> Hash {
    merkle::root(&tx_leaves(txs))
}

/// Sign a header and put the block together.
pub fn sign(header: BlockHeader, signer: &Signer, txs: Vec<Transaction>) -> Block {
    let signature = signer.sign(&header.signing_bytes());
    Block { header, signature, txs }
}

/// Sign a header with any [`BlockSigner`] (a card's can fail) and put the block together.
pub fn try_sign(header: BlockHeader, signer: &dyn BlockSigner, txs: Vec<Transaction>) -> Result<Block, ChainError> {
    let signature = signer.try_sign(&header.signing_bytes())?;
    Ok(Block { header, signature, txs })
}
