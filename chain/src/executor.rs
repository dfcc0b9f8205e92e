//! Execution: transactions in block order over the committed state, giving receipts, the
//! state writes, and the state root.
//!
//! Rules: every transaction in a block counts in its sender's nonce (how many of its
//! transactions are committed), whether it succeeds or not. `Put` writes its value under its
//! key. `Transfer` moves the amount when the sender's balance covers it, else it fails with
//! a receipt naming both figures; a transfer that would overflow the receiver fails too.
//! A failed transaction changes nothing but its sender's nonce.
//!
//! State root: `SM3(02 ‖ previous state root ‖ writes)`, the writes in key order, each
//! `len(key):u32 ‖ key ‖ 00` (deleted) or `len(key):u32 ‖ key ‖ 01 ‖ len(value):u32 ‖ value`.
//! It commits to the whole history of state writes, so two nodes that agree on it agree on
//! the state; a Merkle state tree (proofs of single keys) can replace it behind this function.

use std::collections::HashMap;

use xinlian_kernels::sm3;

use crate::error::ChainError;
use crate::state::{account_key, data_key, StateView, Writes};
use crate::types::{Account, Hash, Payload, PublicKey, Receipt, Transaction};

/// What executing a block's transactions gives.
#[derive(Clone, Debug)]
pub struct Execution {
    /// One per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// Every state key written.
    pub writes: Writes,
    /// The state root after the block.
    pub state_root: Hash,
}

/// Execute `txs` in order over `state`, after the state root `prev_root`.
pub fn execute(state: &dyn StateView, prev_root: &Hash, txs: &[Transaction]) -> Result<Execution, ChainError> {
    let mut accounts: HashMap<PublicKey, Account> = HashMap::new();
    let mut writes = Writes::new();
    let mut receipts = Vec::with_capacity(txs.len());
    for tx in txs {
        let mut sender = load(state, &mut accounts, &tx.sender)?;
        sender.nonce = sender.nonce.saturating_add(1);
        let receipt = match &tx.payload {
            Payload::Put { key, value } => {
                writes.insert(data_key(key), Some(value.clone()));
                accounts.insert(tx.sender, sender);
                ok()
            }
            Payload::Transfer { to, amount } => {
                if sender.balance < *amount {
                    accounts.insert(tx.sender, sender);
                    failed(format!("insufficient balance: has {}, needs {amount}", sender.balance))
                } else if to == &tx.sender {
                    accounts.insert(tx.sender, sender);
                    ok()
                } else {
                    let mut receiver = load(state, &mut accounts, to)?;
                    match receiver.balance.checked_add(*amount) {
                        None => {
                            accounts.insert(tx.sender, sender);
                            failed(format!("the receiver's balance {} would overflow", receiver.balance))
                        }
                        Some(b) => {
                            receiver.balance = b;
                            sender.balance -= amount;
                            accounts.insert(tx.sender, sender);
                            accounts.insert(*to, receiver);
                            ok()
                        }
                    }
                }
            }
        };
        receipts.push(receipt);
    }
    for (key, account) in &accounts {
        writes.insert(account_key(key), Some(account.encode().to_vec()));
    }
    let state_root = state_root(prev_root, &writes);
    Ok(Execution { receipts, writes, state_root })
}

fn load(
    state: &dyn StateView,
    cache: &mut HashMap<PublicKey, Account>,
    key: &PublicKey,
) -> Result<Account, ChainError> {
    if let Some(a) = cache.get(key) {
        return Ok(*a);
    }
    let a = state.account(key)?;
    cache.insert(*key, a);
    Ok(a)
}

fn ok() -> Receipt {
    Receipt { ok: true, error: None }
}

fn failed(why: String) -> Receipt {
    Receipt { ok: false, error: Some(why) }
}

/// `SM3(02 ‖ prev_root ‖ writes in key order)` (module docs).
pub fn state_root(prev_root: &Hash, writes: &Writes) -> Hash {
    let mut buf = Vec::with_capacity(33 + writes.len() * 96);
    buf.push(0x02);
    buf.extend_from_slice(prev_root);
    for (k, v) in writes {
        buf.extend_from_slice(&u32::try_from(k.len()).unwrap_or(u32::MAX).to_be_bytes());
        buf.extend_from_slice(k);
        match v {
            None => buf.push(0),
            Some(v) => {
                buf.push(1);
                buf.extend_from_slice(&u32::try_from(v.len()).unwrap_or(u32::MAX).to_be_bytes());
                buf.extend_from_slice(v);
            }
        }
    }
    sm3::digest(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Signer;

    struct Mem(HashMap<PublicKey, Account>);

    impl StateView for Mem {
        fn account(&self, key: &PublicKey) -> Result<Account, ChainError> {
            Ok(self.0.get(key).copied().unwrap_or_default())
        }
    }

    fn tx(from: &Signer, nonce: u64, payload: Payload) -> Transaction {
        let mut t =
            Transaction { chain_id: "t".into(), nonce, sender: *from.public_key(), payload, signature: [0; 64] };
        t.signature = from.sign(&t.signing_bytes());
        t
    }

    fn account(writes: &Writes, key: &PublicKey) -> Account {
        Account::decode(writes[&account_key(key)].as_deref().unwrap()).unwrap()
    }

    #[test]
    fn transfers_move_balances_and_fail_when_short() {
        let a = Signer::generate().unwrap();
        let b = Signer::generate().unwrap();
        let state = Mem([(*a.public_key(), Account { balance: 10, nonce: 0 })].into_iter().collect());
        let txs = [
            tx(&a, 1, Payload::Transfer { to: *b.public_key(), amount: 7 }),
            tx(&a, 2, Payload::Transfer { to: *b.public_key(), amount: 7 }),
            tx(&b, 1, Payload::Put { key: b"k".to_vec(), value: b"v".to_vec() }),
            tx(&b, 2, Payload::Transfer { to: *a.public_key(), amount: 2 }),
        ];
        let ex = execute(&state, &[0; 32], &txs).unwrap();
        assert!(ex.receipts[0].ok);
        assert_eq!(ex.receipts[1].error.as_deref(), Some("insufficient balance: has 3, needs 7"));
        assert!(ex.receipts[2].ok && ex.receipts[3].ok);
        assert_eq!(account(&ex.writes, a.public_key()), Account { balance: 5, nonce: 2 });
        assert_eq!(account(&ex.writes, b.public_key()), Account { balance: 5, nonce: 2 });
        assert_eq!(ex.writes[&data_key(b"k")].as_deref(), Some(&b"v"[..]));
        // The root depends on the previous root and on every write.
        let again = execute(&state, &[0; 32], &txs).unwrap();
        assert_eq!(again.state_root, ex.state_root);
        assert_ne!(execute(&state, &[1; 32], &txs).unwrap().state_root, ex.state_root);
        assert_ne!(execute(&state, &[0; 32], &txs[..3]).unwrap().state_root, ex.state_root);
    }

    #[test]
    fn overflow_and_self_transfer() {
        let a = Signer::generate().unwrap();
        let b = Signer::generate().unwrap();
        let state = Mem([
            (*a.public_key(), Account { balance: 10, nonce: 0 }),
            (*b.public_key(), Account { balance: u64::MAX, nonce: 0 }),
        ]
        .into_iter()
        .collect());
        let txs = [
            tx(&a, 1, Payload::Transfer { to: *b.public_key(), amount: 1 }),
            tx(&a, 2, Payload::Transfer { to: *a.public_key(), amount: 10 }),
        ];
        let ex = execute(&state, &[0; 32], &txs).unwrap();
        assert!(ex.receipts[0].error.as_deref().unwrap().contains("overflow"));
        assert!(ex.receipts[1].ok);
        assert_eq!(account(&ex.writes, a.public_key()), Account { balance: 10, nonce: 2 });
    }
}
