//! The checks a block must pass before it is taken as the next block: what a peer runs on a
//! block it receives, and what the node runs on its own head block at start-up.

use xinlian_accel::{prepare, PreparedVerify, Verdict, VerifyRequest};
use xinlian_kernels::sm2::DEFAULT_ID;

use super::builder::tx_root;
use crate::error::NodeError;
use crate::types::{Block, Hash};

/// The proposer's signature over the header verifies (through `verify`: the node passes its
/// accel dispatcher, never a backend), and the header's tx count and tx root match the
/// transactions. (Transaction signatures are the admission path's: a block's transactions were
/// verified when they entered this node's mempool.)
pub fn check_sealed(block: &Block, verify: &dyn Fn(PreparedVerify) -> Verdict) -> Result<(), NodeError> {
    let h = &block.header;
    if h.tx_count as usize != block.txs.len() {
        return Err(NodeError::Corrupt(format!(
            "block {}: header says {} txs, the block has {}",
            h.height,
            h.tx_count,
            block.txs.len()
        )));
    }
    if tx_root(&block.txs) != h.tx_root {
        return Err(NodeError::Corrupt(format!("block {}: tx root does not match its transactions", h.height)));
    }
    let bytes = h.signing_bytes();
    let verdict =
        match prepare(&VerifyRequest { pubkey: &h.proposer, id: DEFAULT_ID, msg: &bytes, sig: &block.signature }, None)
        {
            Ok(item) => verify(item),
            Err(v) => v,
        };
    if verdict != Verdict::Valid {
        return Err(NodeError::Corrupt(format!("block {}: proposer signature {verdict}", h.height)));
    }
    Ok(())
}

/// `block` follows the block with hash `prev_hash` at `prev_height`, not earlier in time.
pub fn check_link(block: &Block, prev_height: u64, prev_hash: &Hash, prev_timestamp_ms: u64) -> Result<(), NodeError> {
    let h = &block.header;
    if h.height != prev_height + 1 {
        return Err(NodeError::Corrupt(format!("block {} follows block {prev_height}", h.height)));
    }
    if &h.prev_hash != prev_hash {
        return Err(NodeError::Corrupt(format!("block {}: prev_hash is not block {prev_height}'s hash", h.height)));
    }
    if h.timestamp_ms < prev_timestamp_ms {
        return Err(NodeError::Corrupt(format!("block {}: timestamp goes backwards", h.height)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::builder;
    use crate::config::Config;
    use crate::keys::Signer;

    fn verify(item: PreparedVerify) -> Verdict {
        xinlian_accel::backends::cpu::verify_one(&item)
    }

    #[test]
    fn genesis_is_sealed_and_tampering_is_caught() {
        let signer = Signer::generate().unwrap();
        let (block, _) = builder::genesis(&Config::default(), &signer, 1).unwrap();
        check_sealed(&block, &verify).unwrap();
        let mut bad = block.clone();
        bad.header.timestamp_ms += 1;
        assert!(check_sealed(&bad, &verify).unwrap_err().to_string().contains("proposer signature"));
        let mut bad = block.clone();
        bad.header.tx_count = 1;
        assert!(check_sealed(&bad, &verify).unwrap_err().to_string().contains("header says 1 txs"));
        let next = builder::sign(
            crate::types::BlockHeader { height: 1, prev_hash: block.hash(), ..block.header.clone() },
            &signer,
            Vec::new(),
        );
        check_link(&next, 0, &block.hash(), 1).unwrap();
        assert!(check_link(&next, 0, &[0; 32], 1).is_err());
        assert!(check_link(&next, 1, &block.hash(), 1).is_err());
    }
}
