//! SM3 (GB/T 32905-2016 / GM/T 0004-2012).
//!
//! Owns: the compression function, the streaming hasher, one-shot and multi-buffer
//! hashing. Never: I/O, threads.

mod scalar;
mod simd;

/// Size of an SM3 digest in bytes.
pub const DIGEST_SIZE: usize = 32;
/// Size of an SM3 message block in bytes.
pub const BLOCK_SIZE: usize = 64;

/// An SM3 digest.
pub type Digest = [u8; DIGEST_SIZE];

pub use scalar::{digest, Sm3};
pub use simd::{available_paths, digest_batch, digest_batch_with, selected_path, simd_lanes, SimdPath, SIMD_PATH_ENV};
