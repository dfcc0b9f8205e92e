//! Assembling a node from its parts: the data directory, the acceleration layer, the
//! signer, the genesis and the consensus driver. Several nodes can be built in one process
//! (tests run three), each with its own data directory.
//!
//! What a part left unset becomes (so that `xinlian run` with no arguments works):
//! - signer: the key file in the data directory, made on first start;
//! - genesis: the genesis file in the data directory; on first start with no file, a
//!   one-validator genesis with this node's key, funded from `[genesis]`, written there;
//! - accel: the `[accel]` section, opened;
//! - driver: solo when the genesis has one validator, BFT among them when it has
//!   several (`crate::network`).
//!
//! Checks before the node runs: the configured chain id is the genesis's; the database was
//! made from this genesis (block 0's hash) and for this chain id; the head block is sealed
//! (tx root, proposer signature through accel).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use xinlian_accel::config::Accel;
use xinlian_chain::check::check_sealed;
use xinlian_chain::{BlockSigner, Genesis, Hash, Signer, Transaction};
use xinlian_consensus::Driver;

use crate::config::Config;
use crate::error::NodeError;
use crate::node::{now_ms, Node, Parts};
use crate::store::{Head, Store};

/// Builds a [`Node`].
pub struct NodeBuilder {
    config: Config,
    accel: Option<Accel>,
    signer: Option<Arc<dyn BlockSigner>>,
    genesis: Option<Genesis>,
    driver: Option<Box<dyn Driver>>,
}

impl NodeBuilder {
    /// A builder over `config` (its data directory, unless [`NodeBuilder::data_dir`] says another).
    pub fn new(config: Config) -> NodeBuilder {
        NodeBuilder { config, accel: None, signer: None, genesis: None, driver: None }
    }

    /// The data directory (RocksDB, and the key and genesis files when those are not given).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> NodeBuilder {
        self.config.node.data_dir = dir.into();
        self
    }

    /// An acceleration layer already open (else `[accel]` is opened).
    pub fn accel(mut self, accel: Accel) -> NodeBuilder {
        self.accel = Some(accel);
        self
    }

    /// The node's signing key (else `node.key`, or the key file).
    pub fn signer(mut self, signer: impl BlockSigner + 'static) -> NodeBuilder {
        self.signer = Some(Arc::new(signer));
        self
    }

    /// The chain's genesis (else the genesis file).
    pub fn genesis(mut self, genesis: Genesis) -> NodeBuilder {
        self.genesis = Some(genesis);
        self
    }

    /// The consensus driver (else solo or BFT, by the genesis).
    pub fn driver(mut self, driver: Box<dyn Driver>) -> NodeBuilder {
        self.driver = Some(driver);
        self
    }

    /// Open everything and check it (module docs). Call it inside a tokio runtime.
    pub fn build(self) -> Result<Arc<Node>, NodeError> {
        let config = self.config;
        config.validate()?;
        let dir = config.node.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| NodeError::Io { path: dir.display().to_string(), source })?;
        let signer = match self.signer {
            Some(s) => s,
            None => match &config.node.key {
                Some(spec) => Arc::new(crate::card_key::CardKey::open(spec, &config.node)?) as Arc<dyn BlockSigner>,
                None => Arc::new(key_file(&config.key_path())?),
            },
        };
        let genesis = match self.genesis {
            Some(g) => {
                g.check()?;
                g
            }
            None => genesis_file(&config, signer.public_key())?,
        };
        if genesis.chain_id != config.node.chain_id {
            return Err(NodeError::WrongChain {
                path: config.genesis_path().display().to_string(),
                expected: format!("{:?} (node.chain_id)", config.node.chain_id),
                found: format!("{:?}", genesis.chain_id),
            });
        }
        let validators = genesis.validator_set()?.into_iter().map(|v| v.pubkey).collect();
        let accel = match self.accel {
            Some(a) => a,
            None => config.accel.open()?,
        };
        for w in accel.warnings() {
            tracing::warn!("accel: {w}");
        }
        let store = Arc::new(Store::open(&dir, &config.storage)?);
        let head = open_chain(&store, &genesis, &dir, &accel)?;
        let consensus = xinlian_consensus::Shared::default();
        let driver = match self.driver {
            Some(d) => d,
            None => crate::network::driver(&config, &genesis, &signer, consensus.clone())?,
        };
        Ok(Node::from_parts(Parts { config, genesis, validators, store, accel, signer, head, driver, consensus }))
    }
}

/// The key file, made (and logged) on first start.
fn key_file(path: &Path) -> Result<Signer, NodeError> {
    if path.exists() {
        return Ok(Signer::from_pem_file(path)?);
    }
    let s = Signer::generate()?;
    s.write_pem_file(path)?;
    tracing::info!(path = %path.display(), pubkey = %hex::encode(s.public_key()), "made a node key");
    Ok(s)
}

/// The genesis file; on first start without one, a one-validator genesis from `[genesis]`.
fn genesis_file(config: &Config, node_key: &xinlian_chain::PublicKey) -> Result<Genesis, NodeError> {
    let path = config.genesis_path();
    let io = |source| NodeError::Io { path: path.display().to_string(), source };
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(io)?;
        return Genesis::from_toml(&text).map_err(|e| NodeError::config(path.display().to_string(), e.to_string()));
    }
    let mut accounts = vec![(*node_key, config.genesis.node_balance)];
    for a in &config.genesis.accounts {
        let bytes = hex::decode(&a.pubkey).map_err(|e| NodeError::config("genesis.accounts", e.to_string()))?;
        accounts.push((xinlian_chain::types::canonical_key(&bytes, "genesis.accounts")?, a.balance));
    }
    let genesis = Genesis::single(&config.node.chain_id, now_ms(), node_key, &accounts);
    genesis.check()?;
    std::fs::write(&path, genesis.to_toml()?).map_err(io)?;
    tracing::info!(path = %path.display(), "made a one-validator genesis file: give it to every node of this chain");
    Ok(genesis)
}

/// Commit block 0 into a new database, or check an existing one against the genesis and
/// its head block's seal.
fn open_chain(store: &Store, genesis: &Genesis, dir: &Path, accel: &Accel) -> Result<Head, NodeError> {
    let (block0, ex) = genesis.block()?;
    let wrong = |found: String| NodeError::WrongChain {
        path: dir.display().to_string(),
        expected: format!("{:?} with genesis {}", genesis.chain_id, short(&block0.hash())),
        found,
    };
    if let Some(id) = store.chain_id()? {
        if id != genesis.chain_id {
            return Err(wrong(format!("{id:?}")));
        }
    }
    let Some(head) = store.head()? else {
        let writes: Vec<_> = ex.writes.into_iter().collect();
        return store.commit(&block0, &[], &[], &writes, None, Some(&genesis.chain_id));
    };
    let stored0 = store.block(0)?.ok_or_else(|| NodeError::Corrupt("block 0 is missing".into()))?;
    if stored0.hash() != block0.hash() {
        return Err(wrong(format!("{:?} with genesis {}", genesis.chain_id, short(&stored0.hash()))));
    }
    if head.height > 0 {
        let block = store.block(head.height)?.ok_or_else(|| NodeError::Corrupt("head block missing".into()))?;
        let ids: Vec<Hash> = block.txs.iter().map(Transaction::id).collect();
        let seal = check_sealed(&block, &ids).map_err(|r| NodeError::Corrupt(r.to_string()))?;
        let req = xinlian_accel::VerifyRequest {
            pubkey: &seal.pubkey,
            id: xinlian_kernels::sm2::DEFAULT_ID,
            msg: &seal.msg,
            sig: &seal.sig,
        };
        let verdict = match xinlian_accel::prepare(&req, None) {
            Ok(item) => accel.dispatcher().dispatcher().verify_batch(&[item]).pop(),
            Err(v) => Some(v),
        };
        if verdict != Some(xinlian_accel::Verdict::Valid) {
            return Err(NodeError::Corrupt(format!("block {}: proposer signature {verdict:?}", head.height)));
        }
    }
    Ok(head)
}

fn short(h: &Hash) -> String {
    hex::encode(&h[..8])
}
