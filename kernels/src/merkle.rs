//! The SM3 Merkle tree that block transaction roots use. Every backend computes exactly this.
//!
//! ```text
//!   leaf  = SM3(0x00 ‖ data)                 domain-separated from inner nodes, so a leaf
//!   inner = SM3(0x01 ‖ left ‖ right)         can never pass for an inner node or back
//!   odd   = a level of odd length carries its last node up unchanged (no duplication:
//!           duplicating the last node, as Bitcoin does, lets two lists share a root)
//!   root of no leaves = SM3 of the empty string
//!
//!   level 0: L0 L1 L2 L3 L4        level 1: H(L0,L1) H(L2,L3) L4
//!   level 2: H(H01,H23) L4         level 3: root = H(H0123, L4)
//! ```
//!
//! Owns: the tree's definition. Never: storage, I/O.

use crate::sm3::{digest, digest_batch, Digest, Sm3};

/// Prefix of a leaf hash.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an inner-node hash.
pub const NODE_PREFIX: u8 = 0x01;

/// The leaf hash of `data`: SM3(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Digest {
    let mut h = Sm3::new();
    h.update(&[LEAF_PREFIX]);
    h.update(data);
    h.finalize()
}

/// The inner-node hash SM3(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut buf = [0u8; 65];
    buf[0] = NODE_PREFIX;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    digest(&buf)
}

/// The level above `nodes`: pairs hashed with [`node_hash`], an odd last node carried up.
/// Pairs are hashed in SIMD lanes with [`digest_batch`].
pub fn parent_level(nodes: &[Digest]) -> Vec<Digest> {
    let pairs: Vec<[u8; 65]> = nodes
        .chunks_exact(2)
        .map(|pair| {
            let mut buf = [0u8; 65];
            buf[0] = NODE_PREFIX;
            buf[1..33].copy_from_slice(&pair[0]);
            buf[33..].copy_from_slice(&pair[1]);
            buf
        })
        .collect();
    let refs: Vec<&[u8]> = pairs.iter().map(|b| &b[..]).collect();
    let mut out = digest_batch(&refs);
    if nodes.len() % 2 == 1 {
        out.push(nodes[nodes.len() - 1]);
    }
    out
}

/// The root over leaf hashes (already [`leaf_hash`]ed).
pub fn root(leaf_hashes: &[Digest]) -> Digest {
    if leaf_hashes.is_empty() {
        return digest(&[]);
    }
    let mut level = leaf_hashes.to_vec();
    while level.len() > 1 {
        level = parent_level(&level);
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_leaves_match_the_drawing() {
        let l: Vec<Digest> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
        let h01 = node_hash(&l[0], &l[1]);
        let h23 = node_hash(&l[2], &l[3]);
        let h0123 = node_hash(&h01, &h23);
        assert_eq!(root(&l), node_hash(&h0123, &l[4]));
        assert_eq!(root(&l[..1]), l[0]);
        assert_eq!(root(&[]), digest(b""));
    }

    #[test]
    fn leaf_and_node_are_domain_separated() {
        let a = leaf_hash(b"x");
        let b = leaf_hash(b"y");
        let mut joined = Vec::new();
        joined.extend_from_slice(&a);
        joined.extend_from_slice(&b);
        assert_ne!(leaf_hash(&joined), node_hash(&a, &b));
    }
}
