//! Storage: RocksDB, one write batch per block.
//!
//! Owns: the column families and their keys, committing a block with its tx index, receipts,
//! state writes and the new head in one atomic, synced write batch, and reading them back.
//! Never: deciding what a block contains (`chain`), or serving HTTP (`rpc`).
//!
//! Column families (every integer big-endian):
//! - `blocks`: height:u64 -> `Block::encode`
//! - `txs`:    tx id -> `TxLocation::encode` (height, index, receipt)
//! - `state`:  `d` ‖ key -> value (Put records); `a` ‖ pubkey:65 -> `Account::encode`
//! - `certs`:  height:u64 -> `CommitCertificate::encode` (who decided the block)
//! - `meta`:   `head` -> height:u64 ‖ hash:32 ‖ state_root:32 ‖ timestamp_ms:u64;
//!   `chain_id` -> the chain id
//!
//! Crash safety: a block is visible only through `meta/head`, written in the same batch as
//! everything it points to, with `sync = true`, so after a crash (SIGKILL or power loss) the
//! database holds either all of a block or none of it, and every block that was reported
//! committed is there.

use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};

use xinlian_chain::state::{account_key, data_key, StateView};
use xinlian_chain::{Account, Block, ChainError, CommitCertificate, Hash, PublicKey, Receipt, TxLocation};

use crate::config::StorageSection;
use crate::error::NodeError;

const CF_BLOCKS: &str = "blocks";
const CF_TXS: &str = "txs";
const CF_STATE: &str = "state";
const CF_CERTS: &str = "certs";
const CF_META: &str = "meta";
const HEAD: &[u8] = b"head";
const CHAIN_ID: &[u8] = b"chain_id";

/// The latest committed block, as `meta/head` records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: Hash,
    /// The state root after it.
    pub state_root: Hash,
    /// Its timestamp.
    pub timestamp_ms: u64,
}

impl Head {
    fn encode(&self) -> [u8; 80] {
        let mut out = [0u8; 80];
        out[..8].copy_from_slice(&self.height.to_be_bytes());
        out[8..40].copy_from_slice(&self.hash);
        out[40..72].copy_from_slice(&self.state_root);
        out[72..].copy_from_slice(&self.timestamp_ms.to_be_bytes());
        out
    }

    fn decode(b: &[u8]) -> Result<Head, NodeError> {
        let b: &[u8; 80] =
            b.try_into().map_err(|_| NodeError::Corrupt(format!("meta/head is {} bytes, not 80", b.len())))?;
        let mut height = [0u8; 8];
        height.copy_from_slice(&b[..8]);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&b[8..40]);
        let mut state_root = [0u8; 32];
        state_root.copy_from_slice(&b[40..72]);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[72..]);
        Ok(Head { height: u64::from_be_bytes(height), hash, state_root, timestamp_ms: u64::from_be_bytes(ts) })
    }
}

/// The node's database.
pub struct Store {
    db: DB,
    fault: AtomicU8,
}

/// An injected fault for tx-index reads ([`Store::inject_read_fault`]): what a failing disk
/// or a bug in the read path looks like to the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFault {
    /// Reads return an I/O error.
    Error,
    /// Reads panic.
    Panic,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.db.path().display())
    }
}

impl Store {
    /// Open (creating if needed) the database in `dir`, and check that its head block is there
    /// and hashes to what the head says.
    pub fn open(dir: &Path, limits: &StorageSection) -> Result<Store, NodeError> {
        std::fs::create_dir_all(dir).map_err(|source| NodeError::Io { path: dir.display().to_string(), source })?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // The memory bound (README, "Memory"): RocksDB's defaults give each of the five column
        // families 64 MiB memtables (two of them) and leave index and filter blocks outside any
        // cache, so the resident set grew with every load. One budget for all memtables, one
        // shared cache holding index and filter blocks too, and a cap on open table files.
        opts.set_db_write_buffer_size(limits.write_buffer_bytes);
        opts.set_max_open_files(i32::try_from(limits.max_open_files).unwrap_or(i32::MAX));
        let cache = rocksdb::Cache::new_lru_cache(limits.block_cache_bytes);
        // Point lookups of tx ids at admission (replay checks) mostly miss: a bloom filter
        // answers those without touching the files.
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        table.set_block_cache(&cache);
        table.set_cache_index_and_filter_blocks(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        let mut cf_opts = Options::default();
        cf_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        cf_opts.set_block_based_table_factory(&table);
        // Each column family's memtable is a quarter of the budget, so the db-wide limit, not
        // one busy family, decides when to flush.
        cf_opts.set_write_buffer_size((limits.write_buffer_bytes / 4).max(1 << 20));
        cf_opts.set_max_write_buffer_number(2);
        let cfs = [CF_BLOCKS, CF_TXS, CF_STATE, CF_CERTS, CF_META]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, cf_opts.clone()));
        let db = DB::open_cf_descriptors(&opts, dir.join("db"), cfs).map_err(|e| {
            let msg = e.into_string();
            let hint =
                if msg.contains("lock") { " (is another xinlian node running on this data directory?)" } else { "" };
            NodeError::StorageOpen { path: dir.display().to_string(), reason: format!("{msg}{hint}") }
        })?;
        let store = Store { db, fault: AtomicU8::new(0) };
        if let Some(head) = store.head()? {
            let block = store
                .block(head.height)?
                .ok_or_else(|| NodeError::Corrupt(format!("head block {} is missing", head.height)))?;
            if block.hash() != head.hash {
                return Err(NodeError::Corrupt(format!("head block {} does not hash to the head's hash", head.height)));
            }
        }
        Ok(store)
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, NodeError> {
        self.db.cf_handle(name).ok_or_else(|| NodeError::Corrupt(format!("column family {name} is missing")))
    }

    /// The latest committed block (`None` before genesis).
    pub fn head(&self) -> Result<Option<Head>, NodeError> {
        self.db.get_cf(self.cf(CF_META)?, HEAD)?.map(|b| Head::decode(&b)).transpose()
    }

    /// The chain id this database was made for.
    pub fn chain_id(&self) -> Result<Option<String>, NodeError> {
        self.db
            .get_cf(self.cf(CF_META)?, CHAIN_ID)?
            .map(|b| String::from_utf8(b).map_err(|_| NodeError::Corrupt("meta/chain_id is not UTF-8".into())))
            .transpose()
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>, NodeError> {
        self.db
            .get_cf(self.cf(CF_BLOCKS)?, height.to_be_bytes())?
            .map(|b| Block::decode(&b).map_err(|e| NodeError::Corrupt(format!("block {height}: {e}"))))
            .transpose()
    }

    /// The certificate of the block at `height` (blocks committed before certificates were
    /// stored have none).
    pub fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, NodeError> {
        self.db
            .get_cf(self.cf(CF_CERTS)?, height.to_be_bytes())?
            .map(|b| {
                CommitCertificate::decode(&b).map_err(|e| NodeError::Corrupt(format!("certificate {height}: {e}")))
            })
            .transpose()
    }

    /// Fault injection for tests: make tx-index reads fail from now on (`None` heals them).
    #[doc(hidden)]
    pub fn inject_read_fault(&self, fault: Option<ReadFault>) {
        let code = match fault {
            None => 0,
            Some(ReadFault::Error) => 1,
            Some(ReadFault::Panic) => 2,
        };
        self.fault.store(code, Ordering::Relaxed);
    }

    /// Where a committed transaction is, and its receipt.
    pub fn tx_location(&self, id: &Hash) -> Result<Option<TxLocation>, NodeError> {
        match self.fault.load(Ordering::Relaxed) {
            0 => {}
            1 => {
                let source = std::io::Error::other("injected read fault");
                return Err(NodeError::Io { path: "tx index".into(), source });
            }
            _ => panic!("injected read fault (panic)"),
        }
        self.db
            .get_cf(self.cf(CF_TXS)?, id)?
            .map(|b| TxLocation::decode(&b).map_err(|e| NodeError::Corrupt(format!("tx {}: {e}", hex::encode(id)))))
            .transpose()
    }

    /// A raw state value.
    pub fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError> {
        Ok(self.db.get_cf(self.cf(CF_STATE)?, key)?)
    }

    /// A `Put` record's value.
    pub fn data(&self, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError> {
        self.state(&data_key(key))
    }

    /// An account (zero balance and nonce when it has never been touched).
    pub fn account(&self, pubkey: &PublicKey) -> Result<Account, NodeError> {
        match self.state(&account_key(pubkey))? {
            Some(b) => Account::decode(&b).map_err(|e| NodeError::Corrupt(e.to_string())),
            None => Ok(Account::default()),
        }
    }

    /// Commit a block: the block, its tx index (`ids`, the transactions' ids in block order, as
    /// the node computed them at admission) with receipts, its state writes (`None` deletes) and
    /// the new head, and its commit certificate, in one synced write batch. `chain_id` is
    /// recorded with genesis.
    pub fn commit(
        &self,
        block: &Block,
        ids: &[Hash],
        receipts: &[Receipt],
        writes: &[(Vec<u8>, Option<Vec<u8>>)],
        certificate: Option<&CommitCertificate>,
        chain_id: Option<&str>,
    ) -> Result<Head, NodeError> {
        if receipts.len() != block.txs.len() || ids.len() != block.txs.len() {
            return Err(NodeError::Block {
                height: block.header.height,
                reason: format!(
                    "{} receipts and {} ids for {} transactions",
                    receipts.len(),
                    ids.len(),
                    block.txs.len()
                ),
            });
        }
        let height = block.header.height;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_BLOCKS)?, height.to_be_bytes(), block.encode());
        let txs = self.cf(CF_TXS)?;
        for (i, (id, receipt)) in ids.iter().zip(receipts).enumerate() {
            debug_assert_eq!(*id, block.txs[i].id(), "tx {i}: the id given is not the tx's");
            let index = u32::try_from(i)
                .map_err(|_| NodeError::Block { height, reason: "more than 2^32 txs in a block".into() })?;
            batch.put_cf(txs, id, TxLocation { height, index, receipt: receipt.clone() }.encode());
        }
        let state = self.cf(CF_STATE)?;
        for (k, v) in writes {
            match v {
                Some(v) => batch.put_cf(state, k, v),
                None => batch.delete_cf(state, k),
            }
        }
        let head = Head {
            height,
            hash: block.hash(),
            state_root: block.header.state_root,
            timestamp_ms: block.header.timestamp_ms,
        };
        if let Some(c) = certificate {
            batch.put_cf(self.cf(CF_CERTS)?, height.to_be_bytes(), c.encode());
        }
        let meta = self.cf(CF_META)?;
        batch.put_cf(meta, HEAD, head.encode());
        if let Some(id) = chain_id {
            batch.put_cf(meta, CHAIN_ID, id.as_bytes());
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo)?;
        Ok(head)
    }
}

impl StateView for Store {
    fn account(&self, key: &PublicKey) -> Result<Account, ChainError> {
        Store::account(self, key).map_err(|e| ChainError::State(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xinlian_chain::builder;
    use xinlian_chain::{BlockHeader, Genesis, Payload, Signer, Transaction};

    #[test]
    fn a_committed_block_is_all_there_after_reopening() {
        let dir = std::env::temp_dir().join(format!("xinlian-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let signer = Signer::generate().unwrap();
        let (genesis, ex) =
            Genesis::single("c", 5, signer.public_key(), &[(*signer.public_key(), 1_000)]).block().unwrap();
        let head0 = {
            let store = Store::open(&dir, &StorageSection::default()).unwrap();
            assert_eq!(store.head().unwrap(), None);
            let writes: Vec<_> = ex.writes.into_iter().collect();
            store.commit(&genesis, &[], &[], &writes, None, Some("c")).unwrap()
        };
        let mut tx = Transaction {
            chain_id: "c".into(),
            nonce: 1,
            sender: *signer.public_key(),
            payload: Payload::Put { key: b"k".to_vec(), value: b"v".to_vec() },
            signature: [0; 64],
        };
        tx.signature = signer.sign(&tx.signing_bytes());
        let header = BlockHeader { height: 1, prev_hash: head0.hash, tx_count: 1, ..genesis.header.clone() };
        let block = builder::sign(header, &signer, vec![tx.clone()]);
        let receipt = Receipt { ok: true, error: None };
        {
            let store = Store::open(&dir, &StorageSection::default()).unwrap();
            let bad = store.commit(&block, &[tx.id()], &[], &[], None, None);
            assert!(bad.unwrap_err().to_string().contains("0 receipts and 1 ids for 1 transactions"));
            assert_eq!(store.head().unwrap(), Some(head0), "a refused commit writes nothing");
            store
                .commit(
                    &block,
                    &[tx.id()],
                    std::slice::from_ref(&receipt),
                    &[(data_key(b"k"), Some(b"v".to_vec()))],
                    Some(&CommitCertificate::solo(1, block.hash())),
                    None,
                )
                .unwrap();
        }
        let store = Store::open(&dir, &StorageSection::default()).unwrap();
        assert_eq!(store.chain_id().unwrap().as_deref(), Some("c"));
        assert_eq!(store.head().unwrap().unwrap().hash, block.hash());
        assert_eq!(store.block(1).unwrap().unwrap(), block);
        assert_eq!(store.tx_location(&tx.id()).unwrap().unwrap(), TxLocation { height: 1, index: 0, receipt });
        assert_eq!(store.data(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(store.account(signer.public_key()).unwrap().balance, 1_000);
        assert_eq!(store.certificate(1).unwrap(), Some(CommitCertificate::solo(1, block.hash())));
        assert_eq!(store.certificate(0).unwrap(), None);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
