//! The node's configuration: one TOML file, every section optional, every key defaulted.
//!
//! `xinlian run` with no `--config` uses [`Config::default`] (the embedded default);
//! `xinlian init` writes [`DEFAULT_TOML`], the same values with a comment on each key.
//! Unknown keys are refused (a typo must not silently fall back to a default).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xinlian_accel::config::AccelConfig;

use crate::error::NodeError;
use xinlian_chain::types::{canonical_key, check_chain_id};

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[node]`.
    pub node: NodeSection,
    /// `[rpc]`.
    pub rpc: RpcSection,
    /// `[mempool]`.
    pub mempool: MempoolSection,
    /// `[block]`.
    pub block: BlockSection,
    /// `[storage]`.
    pub storage: StorageSection,
    /// `[genesis]`.
    pub genesis: GenesisSection,
    /// `[consensus]`.
    pub consensus: ConsensusSection,
    /// `[accel]`: the acceleration layer (see `xinlian_accel::config`).
    pub accel: AccelConfig,
}

/// `[node]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeSection {
    /// The chain this node runs; transactions for another chain are refused.
    pub chain_id: String,
    /// Where RocksDB and the node key live (relative paths are relative to the working directory).
    pub data_dir: PathBuf,
    /// The node's signing key (PKCS#8 PEM), relative to `data_dir`; made on first start.
    pub key_file: PathBuf,
    /// The node key in a crypto card instead of `key_file`: `sdf:LIB_PATH#INDEX` (the vendor's
    /// GM/T 0018 library and the key's index in the card). Its access password comes from
    /// `key_password_file` or the environment variable `key_password_env`, never from the
    /// command line.
    pub key: Option<String>,
    /// A file whose first line is the card key's access password.
    pub key_password_file: Option<PathBuf>,
    /// An environment variable holding the card key's access password.
    pub key_password_env: Option<String>,
    /// The chain's genesis file, relative to `data_dir`. Every node of a chain has the same
    /// one; when it is missing, the first start makes a one-validator genesis from
    /// `[genesis]` with this node's key.
    pub genesis_file: PathBuf,
}

impl Default for NodeSection {
    fn default() -> NodeSection {
        NodeSection {
            chain_id: "xinlian-dev".into(),
            data_dir: "xinlian-data".into(),
            key_file: "node.pem".into(),
            key: None,
            key_password_file: None,
            key_password_env: None,
            genesis_file: "genesis.toml".into(),
        }
    }
}

/// `[rpc]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcSection {
    /// Address the HTTP API listens on.
    pub listen: String,
    /// Largest request body accepted, in bytes (a larger one gets 413).
    pub max_body_bytes: usize,
    /// Most transactions in one `POST /tx` array.
    pub max_txs_per_request: usize,
    /// How long a connection may take to send a complete request head (request line and
    /// headers), in milliseconds, counted from when it opened or from the end of its previous
    /// response: an idle keep-alive connection is closed after this long too.
    pub header_timeout_ms: u64,
    /// How long a request may take to send its whole body once its head has arrived, in
    /// milliseconds; a slower one gets 408 and its connection is closed.
    pub body_timeout_ms: u64,
    /// Most connections open at once; beyond it the node stops accepting until one closes
    /// (the timeouts above bound how long that takes).
    pub max_connections: usize,
    /// Most request-body bytes held at once, over all connections (bodies being read, then
    /// decoded and admitted); a request waits for room.
    pub max_inflight_body_bytes: usize,
}

impl Default for RpcSection {
    fn default() -> RpcSection {
        RpcSection {
            listen: "127.0.0.1:8600".into(),
            max_body_bytes: 8 << 20,
            max_txs_per_request: 10_000,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            max_connections: 4_096,
            max_inflight_body_bytes: 32 << 20,
        }
    }
}

/// `[mempool]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MempoolSection {
    /// Most transactions waiting for a block; beyond it `POST /tx` answers 503.
    pub max_txs: usize,
    /// Most bytes the waiting transactions may hold (`node::mempool::footprint`); beyond it
    /// `POST /tx` answers 503 too.
    pub max_bytes: usize,
    /// Rejected tx ids remembered for `GET /tx/{id}` (oldest forgotten first).
    pub remember_rejected: usize,
}

impl Default for MempoolSection {
    fn default() -> MempoolSection {
        MempoolSection { max_txs: 100_000, max_bytes: 128 << 20, remember_rejected: 100_000 }
    }
}

/// `[block]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockSection {
    /// A block is cut this long after the first waiting transaction arrived, in milliseconds.
    pub interval_ms: u64,
    /// ... or as soon as this many transactions wait.
    pub max_txs: usize,
    /// Most bytes of transactions in one block (`node::mempool::footprint`): what bounds the
    /// memory a block takes while it is built, executed and committed.
    pub max_bytes: usize,
    /// A peer's block whose timestamp is further ahead of this node's clock than this, in
    /// milliseconds, is refused.
    pub max_future_ms: u64,
    /// On Ctrl-C or SIGTERM, how long the node goes on committing what it already admitted
    /// (in as many blocks as that takes) before it exits, in milliseconds.
    pub drain_on_stop_ms: u64,
}

impl Default for BlockSection {
    fn default() -> BlockSection {
        BlockSection {
            interval_ms: 200,
            max_txs: 5_000,
            max_bytes: 16 << 20,
            max_future_ms: 5_000,
            drain_on_stop_ms: 10_000,
        }
    }
}

/// `[storage]`: RocksDB's memory and files.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSection {
    /// Memtables of all column families together, in bytes: past it RocksDB flushes the
    /// largest to disk.
    pub write_buffer_bytes: usize,
    /// The block cache shared by all column families, index and filter blocks included.
    pub block_cache_bytes: usize,
    /// Most table files RocksDB keeps open.
    pub max_open_files: u32,
}

impl Default for StorageSection {
    fn default() -> StorageSection {
        StorageSection { write_buffer_bytes: 64 << 20, block_cache_bytes: 32 << 20, max_open_files: 512 }
    }
}

/// `[consensus]`: how this node agrees with the other validators. A genesis with one
/// validator runs solo (every block this node makes is decided at once); with several, BFT
/// (Tendermint on Malachite) among them, over the addresses the genesis gives.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsensusSection {
    /// The node's transport key (Ed25519, hex), relative to `data_dir`: its peer id is the
    /// one after `/p2p/` in its genesis address. `xinlian init --validators` writes it.
    pub transport_key_file: PathBuf,
    /// The consensus write-ahead log, relative to `data_dir`.
    pub wal_file: PathBuf,
    /// Where to listen for peers, when not the address the genesis gives this validator
    /// (a multiaddr without `/p2p/`, e.g. `/ip4/0.0.0.0/tcp/27000`).
    pub listen: Option<String>,
    /// How long a round waits for its proposal before voting nil, in milliseconds.
    pub propose_timeout_ms: u64,
    /// How long to wait for the rest of the prevotes once 2/3 disagree, in milliseconds.
    pub prevote_timeout_ms: u64,
    /// The same for precommits.
    pub precommit_timeout_ms: u64,
    /// Added to each timeout per failed round, in milliseconds.
    pub timeout_delta_ms: u64,
}

impl Default for ConsensusSection {
    fn default() -> ConsensusSection {
        ConsensusSection {
            transport_key_file: "transport.key".into(),
            wal_file: "consensus.wal".into(),
            listen: None,
            propose_timeout_ms: 2_000,
            prevote_timeout_ms: 500,
            precommit_timeout_ms: 500,
            timeout_delta_ms: 500,
        }
    }
}

/// `[genesis]`: what a first start puts in the genesis file it makes when there is none
/// (`node.genesis_file`). Ignored once the genesis file exists.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenesisSection {
    /// Balance credited to the node's own key.
    pub node_balance: u64,
    /// Further accounts and their balances.
    pub accounts: Vec<GenesisAccount>,
}

impl Default for GenesisSection {
    fn default() -> GenesisSection {
        GenesisSection { node_balance: 1_000_000_000_000, accounts: Vec::new() }
    }
}

/// One `[[genesis.accounts]]` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// SEC1 public key, hex.
    pub pubkey: String,
    /// Its balance.
    pub balance: u64,
}

/// The commented default file `xinlian init` writes. Its values are [`Config::default`]'s
/// (a test checks that they agree).
pub const DEFAULT_TOML: &str = r#"# xinlian node configuration. Every key is optional; the values shown are the defaults.

[node]
# The chain this node runs: transactions signed for another chain id are refused.
chain_id = "xinlian-dev"
# RocksDB and the node key live here (relative to the working directory).
data_dir = "xinlian-data"
# The node's signing key (PKCS#8 PEM), relative to data_dir; made on first start.
key_file = "node.pem"
# The node key in a crypto card instead (README, "The node key in a crypto card"):
# key = "sdf:/opt/vendor/libsdf.so#1"
# key_password_file = "/etc/xinlian/card-key.pass"   # or: key_password_env = "XINLIAN_KEY_PASSWORD"
# The chain's genesis file, relative to data_dir: every node of the chain has the same one.
# When missing, the first start makes a one-validator genesis from [genesis] below.
genesis_file = "genesis.toml"

[rpc]
# The HTTP API.
listen = "127.0.0.1:8600"
# Largest request body, in bytes.
max_body_bytes = 8388608
# Most transactions in one POST /tx array.
max_txs_per_request = 10000
# A connection must send a whole request head (request line and headers) within this many
# milliseconds of opening or of its previous response; an idle keep-alive connection is
# closed after this long.
header_timeout_ms = 10000
# ... and then the whole body within this many milliseconds, or it gets 408 and is closed.
body_timeout_ms = 30000
# Most connections open at once; beyond it the node stops accepting until one closes. The
# node raises its open-file limit to fit (README, "Slow and idle clients").
max_connections = 4096
# Most request-body bytes held at once over all connections; a request waits for room.
max_inflight_body_bytes = 33554432

[mempool]
# Most transactions waiting for a block; when full, POST /tx answers 503 (retry later).
max_txs = 100000
# ... or when the waiting transactions would hold more than this many bytes.
max_bytes = 134217728
# How many rejected tx ids GET /tx/{id} still reports as rejected.
remember_rejected = 100000

[block]
# A block is cut this many milliseconds after the first waiting transaction arrived...
interval_ms = 200
# ... or as soon as this many transactions wait.
max_txs = 5000
# Most bytes of transactions in one block (what a block costs in memory while it is made).
max_bytes = 16777216
# A peer's block stamped further ahead of this node's clock than this is refused.
max_future_ms = 5000
# On Ctrl-C or SIGTERM: how long to go on committing what was already admitted before exiting.
drain_on_stop_ms = 10000

[storage]
# RocksDB's memtables, all column families together, in bytes (past it the largest is flushed).
write_buffer_bytes = 67108864
# RocksDB's block cache, shared, index and filter blocks included, in bytes.
block_cache_bytes = 33554432
# Most table files RocksDB keeps open.
max_open_files = 512

[genesis]
# Used only when the genesis file is missing (first start): the genesis made then funds the
# node's own key with this balance.
node_balance = 1000000000000
# More funded accounts:
# [[genesis.accounts]]
# pubkey = "04..."
# balance = 1000

[consensus]
# One validator in the genesis: solo. Several: BFT among them (README, "A consortium network").
# The transport key (Ed25519, hex), relative to data_dir; its peer id is the one after /p2p/
# in this validator's genesis address.
transport_key_file = "transport.key"
# The consensus write-ahead log, relative to data_dir.
wal_file = "consensus.wal"
# Listen here instead of the address in the genesis file (a multiaddr without /p2p/):
# listen = "/ip4/0.0.0.0/tcp/27000"
# A round waits this long (ms) for its proposal before voting nil...
propose_timeout_ms = 2000
# ... and this long for the rest of the prevotes or precommits once 2/3 disagree.
prevote_timeout_ms = 500
precommit_timeout_ms = 500
# Each timeout grows by this much per failed round.
timeout_delta_ms = 500

[accel]
# The acceleration layer. Empty: every backend found (OpenCL devices, a card at the default
# BAR path), the CPU always last. See README.md, "The [accel] config section".
"#;

impl Config {
    /// Parse a TOML document; the error names the key that is wrong.
    pub fn from_toml(text: &str) -> Result<Config, NodeError> {
        let config: Config = toml::from_str(text).map_err(|e| NodeError::config("config file", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Read and parse a file.
    pub fn from_file(path: &Path) -> Result<Config, NodeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| NodeError::Io { path: path.display().to_string(), source })?;
        Config::from_toml(&text).map_err(|e| match e {
            NodeError::Config { key, reason } => {
                NodeError::config(key.replace("config file", &path.display().to_string()), reason)
            }
            other => other,
        })
    }

    /// Values the types cannot express.
    pub fn validate(&self) -> Result<(), NodeError> {
        check_chain_id(&self.node.chain_id).map_err(|e| NodeError::config("node.chain_id", e.to_string()))?;
        self.listen_addr()?;
        let positive = [
            ("rpc.max_body_bytes", self.rpc.max_body_bytes),
            ("rpc.max_txs_per_request", self.rpc.max_txs_per_request),
            ("rpc.max_connections", self.rpc.max_connections),
            ("rpc.max_inflight_body_bytes", self.rpc.max_inflight_body_bytes),
            ("mempool.max_bytes", self.mempool.max_bytes),
            ("block.max_bytes", self.block.max_bytes),
            ("storage.write_buffer_bytes", self.storage.write_buffer_bytes),
            ("storage.block_cache_bytes", self.storage.block_cache_bytes),
            ("storage.max_open_files", self.storage.max_open_files as usize),
            ("mempool.max_txs", self.mempool.max_txs),
            ("block.max_txs", self.block.max_txs),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(NodeError::config(name, "must be at least 1"));
            }
        }
        if self.block.interval_ms == 0 || self.block.interval_ms > 600_000 {
            return Err(NodeError::config(
                "block.interval_ms",
                format!("{}: must be 1 to 600000", self.block.interval_ms),
            ));
        }
        for (name, v) in
            [("rpc.header_timeout_ms", self.rpc.header_timeout_ms), ("rpc.body_timeout_ms", self.rpc.body_timeout_ms)]
        {
            if v == 0 || v > 3_600_000 {
                return Err(NodeError::config(name, format!("{v}: must be 1 to 3600000")));
            }
        }
        if self.rpc.max_inflight_body_bytes < self.rpc.max_body_bytes {
            return Err(NodeError::config(
                "rpc.max_inflight_body_bytes",
                format!(
                    "{} is less than rpc.max_body_bytes ({}): a largest request could never be read",
                    self.rpc.max_inflight_body_bytes, self.rpc.max_body_bytes
                ),
            ));
        }
        if !(16..=1_000_000).contains(&self.storage.max_open_files) {
            return Err(NodeError::config(
                "storage.max_open_files",
                format!("{}: must be 16 to 1000000", self.storage.max_open_files),
            ));
        }
        for (name, v) in [
            ("consensus.propose_timeout_ms", self.consensus.propose_timeout_ms),
            ("consensus.prevote_timeout_ms", self.consensus.prevote_timeout_ms),
            ("consensus.precommit_timeout_ms", self.consensus.precommit_timeout_ms),
        ] {
            if v == 0 || v > 600_000 {
                return Err(NodeError::config(name, format!("{v}: must be 1 to 600000")));
            }
        }
        if self.consensus.timeout_delta_ms > 600_000 {
            return Err(NodeError::config("consensus.timeout_delta_ms", "must be at most 600000"));
        }
        if u32::try_from(self.block.max_txs).is_err() {
            return Err(NodeError::config("block.max_txs", "must fit in 32 bits"));
        }
        for (i, a) in self.genesis.accounts.iter().enumerate() {
            let key = format!("genesis.accounts[{i}].pubkey");
            let bytes = hex::decode(&a.pubkey).map_err(|e| NodeError::config(&key, format!("not hex ({e})")))?;
            canonical_key(&bytes, "public key").map_err(|e| NodeError::config(&key, e.to_string()))?;
        }
        self.accel.validate().map_err(|e| match e {
            // Its message starts with the field's name: name it as the file does.
            xinlian_accel::AccelError::Config(msg) => {
                let (field, rest) = msg.split_once([' ', ':']).unwrap_or((msg.as_str(), ""));
                NodeError::config(format!("accel.{field}"), rest.trim_start_matches(['=', ':', ' ']))
            }
            other => NodeError::config("accel", other.to_string()),
        })?;
        Ok(())
    }

    /// `rpc.listen` as a socket address.
    pub fn listen_addr(&self) -> Result<SocketAddr, NodeError> {
        self.rpc
            .listen
            .parse()
            .map_err(|e| NodeError::config("rpc.listen", format!("{:?}: not an address:port ({e})", self.rpc.listen)))
    }

    /// The node key's path.
    pub fn key_path(&self) -> PathBuf {
        self.node.data_dir.join(&self.node.key_file)
    }

    /// The transport key's path.
    pub fn transport_key_path(&self) -> PathBuf {
        self.node.data_dir.join(&self.consensus.transport_key_file)
    }

    /// The consensus WAL's path.
    pub fn wal_path(&self) -> PathBuf {
        self.node.data_dir.join(&self.consensus.wal_file)
    }

    /// The genesis file's path.
    pub fn genesis_path(&self) -> PathBuf {
        self.node.data_dir.join(&self.node.genesis_file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commented_file_is_the_default() {
        let parsed = Config::from_toml(DEFAULT_TOML).unwrap();
        let default = Config::default();
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
        assert_eq!(Config::from_toml("").unwrap().rpc.listen, "127.0.0.1:8600");
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = Config::from_toml("[node]\nchain_id = \"a b\"\n").unwrap_err().to_string();
        assert!(e.contains("chain_id"), "{e}");
        let e = Config::from_toml("[rpc]\nlisten = \"nowhere\"\n").unwrap_err().to_string();
        assert!(e.contains("rpc.listen"), "{e}");
        let e = Config::from_toml("[block]\ninterval_ms = 0\n").unwrap_err().to_string();
        assert!(e.contains("block.interval_ms"), "{e}");
        let e = Config::from_toml("[mempool]\nmax_tx = 5\n").unwrap_err().to_string();
        assert!(e.contains("max_tx"), "{e}");
        let e = Config::from_toml("[accel]\nrecheck_valid_rate = 1.5\n").unwrap_err().to_string();
        assert!(e.contains("accel.recheck_valid_rate"), "{e}");
        let e = Config::from_toml("[[genesis.accounts]]\npubkey = \"04zz\"\nbalance = 1\n").unwrap_err().to_string();
        assert!(e.contains("genesis.accounts[0].pubkey"), "{e}");
    }
}
