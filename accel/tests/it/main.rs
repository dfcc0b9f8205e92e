//! accel integration tests, one binary (reth style): modules beside this file.

mod cache;
mod card;
mod config;
mod conformance;
mod dispatch;
mod logs;
mod opencl;
mod sdf;
mod skip;
