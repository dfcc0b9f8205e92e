//! The crypto math of xinlian, and nothing else.
//!
//! ```text
//!   bytes ──> sm3::{digest, Sm3, digest_batch}          SM3 (GB/T 32905), scalar and SIMD multi-buffer
//!   bytes ──> sm2::point::AffinePoint::from_sec1          SEC1 public keys, checked on the curve
//!   (Z, M) ─> sm2::verify::{z_value, message_digest}     Z = SM3(ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA), e = SM3(Z‖M)
//!   (P, e, r, s) ─> sm2::verify::verify_prehashed_vartime   GB/T 32918.2 steps B1, B2, B5-B7
//!                        └─ sm2::{field, scalar, point, table}: 4x64-bit limbs, Jacobian points,
//!                           wNAF with precomputed tables for G and (optionally) per public key;
//!                           sm2::path: portable or AVX-512 IFMA lanes, chosen once per process
//! ```
//!
//! This crate knows no device, no thread, no I/O: pure functions over bytes and limbs.
//! Verification handles public data only, so it runs in variable time and says so
//! (`_vartime`). Nothing here signs; signing belongs to a constant-time library.
//! The OpenCL C twins of this math live in `kernels/cl/`.

// Limb arithmetic truncates u128 products to u64 halves, and moves between signed window
// digits and unsigned limbs, by design and everywhere; each such conversion is bounded by the
// representation it sits in (see the module docs of field, scalar and ifma).
#![allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap, clippy::cast_sign_loss)]
// Lane loops index several parallel arrays (digits, tables, accumulators) by the same lane;
// zipping four or five of them reads worse than the index.
#![allow(clippy::needless_range_loop)]

pub mod cl;
pub mod merkle;
pub mod sm2;
pub mod sm3;

/// Why bytes could not be taken as an SM2 public key or a distinguishing ID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The encoding has the wrong length.
    #[error("{what}: expected {expected}, got {got} bytes")]
    InvalidLength {
        /// What was being decoded.
        what: &'static str,
        /// The lengths that would have been accepted.
        expected: &'static str,
        /// The length given.
        got: usize,
    },
    /// The SEC1 prefix byte is not 02, 03 or 04.
    #[error("public key: unsupported SEC1 prefix 0x{0:02x} (expected 02, 03 or 04)")]
    InvalidPrefix(u8),
    /// A coordinate is not below p.
    #[error("public key: coordinate {0} is not below p")]
    NonCanonicalCoordinate(&'static str),
    /// The point does not satisfy the curve equation (or, compressed, x has no y).
    #[error("public key: point is not on the SM2 curve")]
    NotOnCurve,
    /// The point at infinity is not a public key.
    #[error("public key: the point at infinity is not a valid key")]
    Identity,
    /// The distinguishing ID is longer than ENTL (16 bits of bit length) can say.
    #[error("distinguishing ID is {0} bytes; at most 8191 fit ENTL")]
    IdTooLong(usize),
}
