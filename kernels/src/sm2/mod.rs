//! SM2 signature verification over the recommended curve (GB/T 32918, GM/T 0003).
//!
//! Layers, bottom up: [`field`] (mod p) and [`scalar`] (mod n), [`point`] (the group law,
//! SEC1), [`path`] (portable or AVX-512 IFMA, chosen once per process), [`table`]
//! (precomputed odd multiples for G and for hot keys), [`verify`] (steps B1-B7, Z and e).

pub mod curve;
pub mod field;
#[cfg(target_arch = "x86_64")]
mod ifma;
pub mod path;
pub mod point;
pub mod scalar;
pub mod table;
pub mod verify;

pub use path::{available_verify_paths, verify_path, VerifyPath, IFMA_ENV};
pub use point::AffinePoint;
pub use table::{warm_up, PublicKeyTable};
pub use verify::{
    check_scalars, message_digest, verify_batch_vartime, verify_batch_with_path, verify_prehashed_vartime,
    verify_with_table_vartime, z_value, CheckedScalars, KeyRef, Prehashed, Rejection, DEFAULT_ID,
};
