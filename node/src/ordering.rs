//! Ordering: who decides that a proposed block is the next one. One node today (solo);
//! BFT consensus arrives behind this same trait.

use crate::error::NodeError;
use crate::types::Block;

/// Decides the chain's next block.
pub trait Ordering: Send + Sync {
    /// A short name for logs and `/status`.
    fn name(&self) -> &'static str;
    /// Take a proposal built on the current head; return the block once it is final (the
    /// node then commits it). A BFT implementation runs its rounds here.
    fn decide(&self, proposal: Block) -> Result<Block, NodeError>;
}

/// One node, the only proposer: every proposal is final at once.
#[derive(Debug, Default)]
pub struct Solo;

impl Ordering for Solo {
    fn name(&self) -> &'static str {
        "solo"
    }

    fn decide(&self, proposal: Block) -> Result<Block, NodeError> {
        Ok(proposal)
    }
}
