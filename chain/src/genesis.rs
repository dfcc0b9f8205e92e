//! Genesis: the file every node of a chain shares, and block 0 as a pure function of it.
//!
//! Owns: the genesis file's format (TOML), its checks, its canonical bytes, and block 0.
//! Never: clocks or node keys. Two nodes given the same file make the same block 0; a node
//! given another file makes another block 0 (and refuses a data directory made from it).
//!
//! ```toml
//! chain_id = "xinlian-dev"
//! timestamp_ms = 1764547200000
//!
//! [[validators]]                 # who may propose and vote: at least one
//! pubkey = "04…"                 # SEC1 SM2 public key, hex (33 or 65 bytes)
//! address = "127.0.0.1:27000"    # optional: where its consensus endpoint listens
//! power = 1                      # optional, default 1
//!
//! [[accounts]]                   # funded accounts
//! pubkey = "04…"
//! balance = 1000000000000
//! ```
//!
//! Block 0: height 0, `prev_hash` = SM3 of the file's canonical bytes (so the block hash
//! covers chain id, timestamp, validators and accounts), the tx root of no transactions, the
//! state root of the funded accounts, the file's timestamp, and no proposer (65 zero bytes,
//! signature 64 zero bytes): nobody signs block 0, every node recomputes it.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use xinlian_kernels::{merkle, sm3};

use crate::error::ChainError;
use crate::executor::{state_root, Execution};
use crate::state::{account_key, Writes};
use crate::types::{canonical_key, check_chain_id, Account, Block, BlockHeader, Hash, PublicKey};

/// The genesis file's magic in its canonical bytes.
pub const GENESIS_MAGIC: &[u8; 4] = b"XLGN";

/// The whole genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain's id: transactions signed for another are refused.
    pub chain_id: String,
    /// Block 0's timestamp (milliseconds since the Unix epoch).
    pub timestamp_ms: u64,
    /// The validator set.
    pub validators: Vec<GenesisValidator>,
    /// Funded accounts.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
}

/// One `[[validators]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// SEC1 SM2 public key, hex.
    pub pubkey: String,
    /// Where its consensus endpoint listens (`host:port`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Voting power (at least 1).
    #[serde(default = "one")]
    pub power: u64,
}

fn one() -> u64 {
    1
}

/// One `[[accounts]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// SEC1 SM2 public key, hex.
    pub pubkey: String,
    /// Its balance.
    pub balance: u64,
}

/// A validator as the chain uses it: the decoded key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Its SM2 public key, uncompressed.
    pub pubkey: PublicKey,
    /// Its consensus address, when the file gives one.
    pub address: Option<String>,
    /// Its voting power.
    pub power: u64,
}

fn key_of(hex_key: &str, what: &str) -> Result<PublicKey, ChainError> {
    let bytes = hex::decode(hex_key.trim_start_matches("0x"))
        .map_err(|e| ChainError::Genesis(format!("{what}: not hex ({e})")))?;
    canonical_key(&bytes, what).map_err(|e| ChainError::Genesis(e.to_string()))
}

impl Genesis {
    /// A one-validator genesis, as `xinlian run` makes on first start: `validator` is the
    /// node's key; `accounts` are funded in order (the same key twice adds up).
    pub fn single(chain_id: &str, timestamp_ms: u64, validator: &PublicKey, accounts: &[(PublicKey, u64)]) -> Genesis {
        Genesis {
            chain_id: chain_id.to_string(),
            timestamp_ms,
            validators: vec![GenesisValidator { pubkey: hex::encode(validator), address: None, power: 1 }],
            accounts: accounts
                .iter()
                .map(|(k, balance)| GenesisAccount { pubkey: hex::encode(k), balance: *balance })
                .collect(),
        }
    }

    /// Parse a TOML genesis file and check it.
    pub fn from_toml(text: &str) -> Result<Genesis, ChainError> {
        let g: Genesis = toml::from_str(text).map_err(|e| ChainError::Genesis(e.to_string()))?;
        g.check()?;
        Ok(g)
    }

    /// The file's text.
    pub fn to_toml(&self) -> Result<String, ChainError> {
        let body = toml::to_string(self).map_err(|e| ChainError::Genesis(e.to_string()))?;
        Ok(format!("# xinlian genesis: every node of the chain needs this same file.\n\n{body}"))
    }

    /// Everything the types cannot say: a valid chain id, at least one validator, no key
    /// twice among validators, powers at least 1 and summing below 2^64, balances likewise.
    pub fn check(&self) -> Result<(), ChainError> {
        check_chain_id(&self.chain_id).map_err(|e| ChainError::Genesis(e.to_string()))?;
        self.validator_set()?;
        self.balances()?;
        Ok(())
    }

    /// The validators, decoded, in file order.
    pub fn validator_set(&self) -> Result<Vec<Validator>, ChainError> {
        if self.validators.is_empty() {
            return Err(ChainError::Genesis("validators: at least one is needed".into()));
        }
        let mut seen = HashSet::new();
        let mut total: u64 = 0;
        let mut out = Vec::with_capacity(self.validators.len());
        for (i, v) in self.validators.iter().enumerate() {
            let what = format!("validators[{i}].pubkey");
            let pubkey = key_of(&v.pubkey, &what)?;
            if !seen.insert(pubkey) {
                return Err(ChainError::Genesis(format!("{what}: the same key is already a validator")));
            }
            if v.power == 0 {
                return Err(ChainError::Genesis(format!("validators[{i}].power: must be at least 1")));
            }
            total = total
                .checked_add(v.power)
                .ok_or_else(|| ChainError::Genesis("validators: powers add up to more than 2^64".into()))?;
            if let Some(a) = &v.address {
                if a.is_empty() || a.len() > 255 {
                    return Err(ChainError::Genesis(format!("validators[{i}].address: 1 to 255 characters")));
                }
            }
            out.push(Validator { pubkey, address: v.address.clone(), power: v.power });
        }
        Ok(out)
    }

    /// The funded accounts, keyed by their state key; the same key twice adds up.
    fn balances(&self) -> Result<BTreeMap<Vec<u8>, u64>, ChainError> {
        let mut balances = BTreeMap::new();
        for (i, a) in self.accounts.iter().enumerate() {
            let what = format!("accounts[{i}].pubkey");
            let key = key_of(&a.pubkey, &what)?;
            let entry = balances.entry(account_key(&key)).or_insert(0u64);
            *entry = entry
                .checked_add(a.balance)
                .ok_or_else(|| ChainError::Genesis(format!("{what}: balances add up to more than 2^64")))?;
        }
        Ok(balances)
    }

    /// The canonical bytes block 0 commits to: `"XLGN" ‖ 01 ‖ len(chain_id):u8 ‖ chain_id ‖
    /// timestamp_ms:u64 ‖ n:u32 ‖ n × (pubkey:65 ‖ power:u64 ‖ len(address):u16 ‖ address)
    /// ‖ m:u32 ‖ m × (pubkey:65 ‖ balance:u64)`, integers big-endian, entries in file order.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, ChainError> {
        let validators = self.validator_set()?;
        let mut out = Vec::with_capacity(64 + validators.len() * 100 + self.accounts.len() * 73);
        out.extend_from_slice(GENESIS_MAGIC);
        out.push(1);
        out.push(u8::try_from(self.chain_id.len()).map_err(|_| ChainError::Genesis("chain_id too long".into()))?);
        out.extend_from_slice(self.chain_id.as_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        let count = |n: usize, what: &str| {
            u32::try_from(n).map_err(|_| ChainError::Genesis(format!("{what}: more than 2^32 entries")))
        };
        out.extend_from_slice(&count(validators.len(), "validators")?.to_be_bytes());
        for v in &validators {
            out.extend_from_slice(&v.pubkey);
            out.extend_from_slice(&v.power.to_be_bytes());
            let addr = v.address.as_deref().unwrap_or("").as_bytes();
            // Checked to be at most 255 bytes by validator_set.
            out.extend_from_slice(&u16::try_from(addr.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(addr);
        }
        out.extend_from_slice(&count(self.accounts.len(), "accounts")?.to_be_bytes());
        for (i, a) in self.accounts.iter().enumerate() {
            out.extend_from_slice(&key_of(&a.pubkey, &format!("accounts[{i}].pubkey"))?);
            out.extend_from_slice(&a.balance.to_be_bytes());
        }
        Ok(out)
    }

    /// SM3 of [`Genesis::canonical_bytes`]: block 0's `prev_hash`.
    pub fn digest(&self) -> Result<Hash, ChainError> {
        Ok(sm3::digest(&self.canonical_bytes()?))
    }

    /// Block 0 and the state it starts the chain with (module docs).
    pub fn block(&self) -> Result<(Block, Execution), ChainError> {
        let writes: Writes = self
            .balances()?
            .into_iter()
            .map(|(k, balance)| (k, Some(Account { balance, nonce: 0 }.encode().to_vec())))
            .collect();
        let execution = Execution { receipts: Vec::new(), state_root: state_root(&[0; 32], &writes), writes };
        let header = BlockHeader {
            height: 0,
            prev_hash: self.digest()?,
            tx_root: merkle::root(&[]),
            state_root: execution.state_root,
            timestamp_ms: self.timestamp_ms,
            proposer: [0; 65],
            tx_count: 0,
        };
        Ok((Block { header, signature: [0; 64], txs: Vec::new() }, execution))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Signer;

    fn sample() -> Genesis {
        let a = Signer::generate().unwrap();
        let b = Signer::generate().unwrap();
        let mut g = Genesis::single("t-1", 1_700_000_000_000, a.public_key(), &[(*a.public_key(), 10)]);
        g.validators.push(GenesisValidator {
            pubkey: hex::encode(b.public_key()),
            address: Some("127.0.0.1:9".into()),
            power: 2,
        });
        g
    }

    #[test]
    fn block_zero_is_a_function_of_the_file_and_every_field_counts() {
        let g = sample();
        let text = g.to_toml().unwrap();
        let again = Genesis::from_toml(&text).unwrap();
        assert_eq!(again, g);
        let h = g.block().unwrap().0.hash();
        assert_eq!(again.block().unwrap().0.hash(), h);
        let mut changed = [g.clone(), g.clone(), g.clone(), g.clone(), g.clone()];
        changed[0].chain_id = "t-2".into();
        changed[1].timestamp_ms += 1;
        changed[2].validators[1].power = 3;
        changed[3].validators[1].address = None;
        changed[4].accounts[0].balance = 11;
        for c in &changed {
            assert_ne!(c.block().unwrap().0.hash(), h, "{c:?}");
        }
    }

    #[test]
    fn bad_files_are_refused_naming_the_field() {
        let g = sample();
        let mut dup = g.clone();
        dup.validators[1].pubkey = dup.validators[0].pubkey.clone();
        assert!(dup.check().unwrap_err().to_string().contains("validators[1].pubkey"));
        let mut none = g.clone();
        none.validators.clear();
        assert!(none.check().unwrap_err().to_string().contains("at least one"));
        let mut zero = g.clone();
        zero.validators[0].power = 0;
        assert!(zero.check().unwrap_err().to_string().contains("validators[0].power"));
        let mut off = g.clone();
        off.accounts[0].pubkey = format!("04{}", "11".repeat(64));
        assert!(off.check().unwrap_err().to_string().contains("accounts[0].pubkey"));
        assert!(Genesis::from_toml("chain_id = \"x\"\ntimestamp_ms = 1\nvalidators = []\nextra = 1")
            .unwrap_err()
            .to_string()
            .contains("extra"));
    }
}
