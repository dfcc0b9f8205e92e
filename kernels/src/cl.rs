//! The OpenCL C twins of this crate's math (`kernels/cl/*.cl`), as source text.
//!
//! Owns: the order in which the `.cl` files are put together into one program (each layer
//! uses the ones before it). Never: anything about devices; the accel crate's OpenCL backend
//! builds and runs this source.
//!
//! ```text
//!   sm3.cl ─> merkle.cl                       SM3 (GB/T 32905) per message; one Merkle level
//!   fp.cl ─> point.cl ─> sm2_verify.cl        GF(p) 4x64 Montgomery; Jacobian a = -3; B6-B7
//! ```
//!
//! Kernels: `sm3_digest_batch`, `merkle_parent_level`, `sm2_build_g_table`, `sm2_verify_batch`.
//! The source is portable OpenCL C 1.2 (64-bit integers and `mul_hi` only).

/// The `.cl` files in build order, as (file name, source).
pub const FILES: [(&str, &str); 5] = [
    ("sm3.cl", include_str!("../cl/sm3.cl")),
    ("merkle.cl", include_str!("../cl/merkle.cl")),
    ("fp.cl", include_str!("../cl/fp.cl")),
    ("point.cl", include_str!("../cl/point.cl")),
    ("sm2_verify.cl", include_str!("../cl/sm2_verify.cl")),
];

/// The whole program: [`FILES`] in order, each preceded by a `#line` so that build logs name
/// the file and line.
pub fn program_source() -> String {
    let mut out = String::new();
    for (name, text) in FILES {
        out.push_str(&format!("#line 1 \"{name}\"\n"));
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Names of the kernels in [`program_source`].
pub const KERNEL_NAMES: [&str; 4] =
    ["sm3_digest_batch", "merkle_parent_level", "sm2_build_g_table", "sm2_verify_batch"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_is_in_the_source() {
        let src = program_source();
        for name in KERNEL_NAMES {
            assert!(src.contains(&format!("__kernel void {name}(")), "{name}");
        }
    }
}
