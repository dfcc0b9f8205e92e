//! The backends. Every one has the shape of [`cpu`], the exemplar.

pub mod cpu;
