//! The backends. Every one has the shape of [`cpu`], the exemplar.

pub mod card;
pub mod cpu;
pub mod opencl;
pub mod sdf;
