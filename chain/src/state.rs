//! The state's key layout and what execution reads it through.
//!
//! Owns: how records and accounts are keyed in the state (`d` ‖ key, `a` ‖ pubkey:65), the
//! [`StateView`] trait execution reads through, and [`Writes`]. Never: storage (the node's
//! RocksDB store implements [`StateView`]).

use std::collections::BTreeMap;

use crate::error::ChainError;
use crate::types::{Account, PublicKey};

/// State writes in key order: `None` deletes.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The state key of a `Put` record.
pub fn data_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(b'd');
    k.extend_from_slice(key);
    k
}

/// The state key of an account.
pub fn account_key(pubkey: &PublicKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(66);
    k.push(b'a');
    k.extend_from_slice(pubkey);
    k
}

/// Where execution reads the committed state from.
pub trait StateView {
    /// An account (zero when never touched).
    fn account(&self, key: &PublicKey) -> Result<Account, ChainError>;
}
