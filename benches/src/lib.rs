//! Benchmarks: shared helpers for the criterion benches (`benches/benches/*.rs`), and
//! [`runner`], the `xinlian bench` report runner, with the software baselines it measures
//! against (libsm, RustCrypto sm2/sm3, efficient-sm2) as its dependencies.

pub mod runner;
