//! Precomputed tables of odd multiples, for the base point G and for hot public keys.
//!
//! Owns: `SplitTable` (the layout and how it is built), the process-wide table for G, and
//! [`PublicKeyTable`] (a per-key table the accel layer caches for signers seen often).
//! Never: secret scalars (lookups index by public wNAF digits, in variable time).
//!
//! Layout: the 256-bit scalar is cut into `chunks` pieces of `256 / chunks` bits. For chunk
//! c the table holds the odd multiples 1, 3, ..., 2^(w-1) - 1 of 2^(c * 256/chunks) * B in
//! affine form. Each chunk is recoded in width-w NAF on its own, and all chunks share one
//! doubling chain of 256/chunks + 1 steps: k*B = sum over chunks of (chunk value) * 2^(c*L) B.
//! With more chunks the doublings shrink (the cost that dominates verification) while the
//! number of additions stays about 256 / (w + 1); memory grows as chunks * 2^(w-2) points.

use std::sync::OnceLock;

use super::path::{verify_path, VerifyPath};
use super::point::{AffinePoint, JacobianPoint};

/// Chunks of the G table: a doubling chain of 33 when the key side is also split 8 ways.
pub(crate) const G_CHUNKS: usize = 8;
/// wNAF width of the G table: 8 chunks x 32 points x 64 bytes = 16 KiB.
pub(crate) const G_WIDTH: u32 = 7;
/// Chunks of a per-key table.
pub(crate) const KEY_CHUNKS: usize = 8;
/// wNAF width of a per-key table: 8 chunks x 16 points x 64 bytes = 8 KiB per key.
pub(crate) const KEY_WIDTH: u32 = 6;

/// Odd multiples of 2^(c*L) * B for every chunk c, affine.
#[derive(Clone, Debug)]
pub(crate) struct SplitTable {
    pub(crate) chunks: usize,
    pub(crate) width: u32,
    /// `chunks` runs of `2^(width-2)` points: chunk c, multiple 2j+1 at `c * per_chunk + j`.
    pub(crate) points: Vec<AffinePoint>,
}

impl SplitTable {
    pub(crate) fn new(base: &AffinePoint, chunks: usize, width: u32) -> SplitTable {
        assert!(256 % chunks == 0 && (2..=8).contains(&width));
        let chunk_bits = 256 / chunks;
        let per_chunk = 1usize << (width - 2);
        let mut jacobian = Vec::with_capacity(chunks * per_chunk);
        let mut chunk_base = JacobianPoint::from_affine(base);
        for c in 0..chunks {
            if c > 0 {
                for _ in 0..chunk_bits {
                    chunk_base = chunk_base.double();
                }
            }
            let twice = chunk_base.double();
            let mut m = chunk_base;
            jacobian.push(m);
            for _ in 1..per_chunk {
                m = m.add(&twice);
                jacobian.push(m);
            }
        }
        // None of these is the identity: every multiple is below the group order n.
        let points = JacobianPoint::batch_to_affine(&jacobian);
        SplitTable { chunks, width, points }
    }

    #[inline(always)]
    pub(crate) fn per_chunk(&self) -> usize {
        1usize << (self.width - 2)
    }

    #[inline(always)]
    pub(crate) fn chunk_bits(&self) -> usize {
        256 / self.chunks
    }

    /// The point for digit `d` (odd, non-zero) of chunk `c`: d * 2^(c*L) * B.
    #[inline(always)]
    pub(crate) fn lookup(&self, c: usize, d: i8) -> AffinePoint {
        let idx = c * self.per_chunk() + (usize::from(d.unsigned_abs()) >> 1);
        let p = self.points[idx];
        if d < 0 {
            p.neg()
        } else {
            p
        }
    }

    fn memory_bytes(&self) -> usize {
        self.points.len() * core::mem::size_of::<AffinePoint>()
    }
}

/// The table for G, built on first use (well under a millisecond) and shared by every thread.
pub(crate) fn base_table() -> &'static SplitTable {
    static TABLE: OnceLock<SplitTable> = OnceLock::new();
    TABLE.get_or_init(|| SplitTable::new(&AffinePoint::generator(), G_CHUNKS, G_WIDTH))
}

/// Build the G table now rather than on the first verification (for benches and servers
/// that want the first request to be as fast as the rest).
pub fn warm_up() {
    let _ = base_table();
    #[cfg(target_arch = "x86_64")]
    if verify_path() == VerifyPath::Ifma {
        super::ifma::warm_up();
    }
}

/// A public key with its precomputed table: verification against it needs well under half
/// the work of a cold key (a 33-step doubling chain instead of 256).
///
/// The table is held in the layout of the verification path in use: the portable layout
/// (8 KiB; building it costs about two portable cold verifications) or the AVX-512 IFMA layout
/// (5 KiB; about four IFMA cold verifications). A path that finds no table in its own layout
/// verifies the key as a cold one, with the same answer. Size: [`PublicKeyTable::memory_bytes`].
#[derive(Clone, Debug)]
pub struct PublicKeyTable {
    pub(crate) key: AffinePoint,
    /// The portable layout (odd multiples, 8 chunks, wNAF width 6).
    pub(crate) table: Option<SplitTable>,
    /// The AVX-512 IFMA layout (multiples 1..8, 8 chunks, 52-bit limbs).
    pub(crate) ifma: Option<Vec<u64>>,
}

impl PublicKeyTable {
    /// Precompute the table for `key` in the layout of the path in use ([`verify_path`]).
    pub fn new(key: &AffinePoint) -> PublicKeyTable {
        let ifma = verify_path() == VerifyPath::Ifma;
        PublicKeyTable::with_layouts(key, !ifma, ifma)
    }

    /// Precompute the table in the layouts asked for (for tests and benches that run both
    /// paths; `ifma` is ignored where that path cannot run).
    pub fn with_layouts(key: &AffinePoint, portable: bool, ifma: bool) -> PublicKeyTable {
        #[cfg(target_arch = "x86_64")]
        let ifma = (ifma && super::ifma::available()).then(|| super::ifma::key_table(key));
        #[cfg(not(target_arch = "x86_64"))]
        let ifma = {
            let _ = ifma;
            None
        };
        PublicKeyTable { key: *key, table: portable.then(|| SplitTable::new(key, KEY_CHUNKS, KEY_WIDTH)), ifma }
    }

    /// The public key this table is for.
    pub fn key(&self) -> &AffinePoint {
        &self.key
    }

    /// Heap bytes held by the table (for cache memory bounds).
    pub fn memory_bytes(&self) -> usize {
        self.table.as_ref().map_or(0, SplitTable::memory_bytes) + self.ifma.as_ref().map_or(0, |t| t.len() * 8)
    }
}
