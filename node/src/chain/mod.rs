//! The chain: executing transactions into state writes and a state root, building and
//! checking blocks.
//!
//! Owns: execution rules (`executor`), the genesis block and block assembly (`builder`),
//! and the checks a stored or received block must pass (`validator`).
//! Never: storage layout (`store`), admission (`node`), HTTP (`rpc`).

pub mod builder;
pub mod executor;
pub mod validator;
