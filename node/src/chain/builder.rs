//! Blocks: the genesis block, and assembling and signing a block from executed transactions.

use std::collections::BTreeMap;

use xinlian_kernels::merkle;

use super::executor::{state_root, Execution, Writes};
use crate::config::Config;
use crate::error::NodeError;
use crate::keys::Signer;
use crate::store::account_key;
use crate::types::{canonical_key, Account, Block, BlockHeader, Hash, Transaction};

/// The leaf hashes of the tx root: SM3(00 ‖ tx id) per transaction.
pub fn tx_leaves(txs: &[Transaction]) -> Vec<Hash> {
    txs.iter().map(|tx| merkle::leaf_hash(&tx.id())).collect()
}

/// The tx root on the CPU (the node computes it through accel; this is the reference).
pub fn tx_root(txs: &[Transaction]) -> Hash {
    merkle::root(&tx_leaves(txs))
}

/// Block 0: no transactions; the state is the configured balances, the node's key first.
pub fn genesis(config: &Config, signer: &Signer, timestamp_ms: u64) -> Result<(Block, Execution), NodeError> {
    let mut balances: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    balances.insert(account_key(signer.public_key()), config.genesis.node_balance);
    for (i, a) in config.genesis.accounts.iter().enumerate() {
        let what = format!("genesis.accounts[{i}].pubkey");
        let bytes = hex::decode(&a.pubkey).map_err(|e| NodeError::Config(format!("{what}: not hex ({e})")))?;
        let key = canonical_key(&bytes, &what)?;
        let entry = balances.entry(account_key(&key)).or_insert(0);
        *entry = entry
            .checked_add(a.balance)
            .ok_or_else(|| NodeError::Config(format!("{what}: balances add up to more than 2^64")))?;
    }
    let writes: Writes =
        balances.into_iter().map(|(k, balance)| (k, Some(Account { balance, nonce: 0 }.encode().to_vec()))).collect();
    let execution = Execution { receipts: Vec::new(), state_root: state_root(&[0; 32], &writes), writes };
    let header = BlockHeader {
        height: 0,
        prev_hash: [0; 32],
        tx_root: merkle::root(&[]),
        state_root: execution.state_root,
        timestamp_ms,
        proposer: *signer.public_key(),
        tx_count: 0,
    };
    Ok((sign(header, signer, Vec::new()), execution))
}

/// Sign a header and put the block together.
pub fn sign(header: BlockHeader, signer: &Signer, txs: Vec<Transaction>) -> Block {
    let signature = signer.sign(&header.signing_bytes());
    Block { header, signature, txs }
}
