//! `xinlian init --validators N --out DIR`: the files of an N-validator network on one
//! machine. `DIR/genesis.toml` names every validator (SM2 key, consensus address with its
//! transport peer id, power 1) and funds each node's key; `DIR/node-I/` holds node I's
//! config, SM2 key (`node.pem`) and transport key (`transport.key`). Node I serves HTTP on
//! 127.0.0.1:(P+I) and consensus on 127.0.0.1:(Q+I).
//!
//! Data directories are written as absolute paths, so the nodes can be started from any
//! directory; moving `DIR` means editing `data_dir` in each config.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use xinlian_chain::genesis::{GenesisAccount, GenesisValidator};
use xinlian_chain::{Genesis, Signer};
use xinlian_node::config::{Config, DEFAULT_TOML};
use xinlian_node::network::write_transport_key;

/// What to make.
pub(crate) struct NetPlan<'a> {
    pub(crate) validators: usize,
    pub(crate) out: &'a Path,
    pub(crate) base_port: u16,
    pub(crate) consensus_port: u16,
}

fn quoted(p: &Path) -> String {
    p.display().to_string().replace('\\', "\\\\").replace('"', "\\\"")
}

fn port(base: u16, i: usize, what: &str) -> anyhow::Result<u16> {
    u16::try_from(i)
        .ok()
        .and_then(|i| base.checked_add(i))
        .with_context(|| format!("{what} {base} + {i} is past 65535"))
}

/// Write the network's files (module docs).
pub(crate) fn init_network(plan: &NetPlan<'_>) -> anyhow::Result<()> {
    if !(1..=64).contains(&plan.validators) {
        bail!("--validators {}: must be 1 to 64", plan.validators);
    }
    let genesis_path = plan.out.join("genesis.toml");
    if genesis_path.exists() {
        bail!("{} exists: not overwritten (remove the directory to start a new network)", genesis_path.display());
    }
    std::fs::create_dir_all(plan.out).with_context(|| format!("cannot create {}", plan.out.display()))?;
    let out = std::fs::canonicalize(plan.out).with_context(|| format!("cannot resolve {}", plan.out.display()))?;
    let mut validators = Vec::with_capacity(plan.validators);
    let mut accounts = Vec::with_capacity(plan.validators);
    let mut dirs: Vec<PathBuf> = Vec::with_capacity(plan.validators);
    for i in 0..plan.validators {
        let dir = out.join(format!("node-{i}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let rpc = port(plan.base_port, i, "--base-port")?;
        let p2p = port(plan.consensus_port, i, "--consensus-port")?;
        let text = DEFAULT_TOML
            .replacen("data_dir = \"xinlian-data\"", &format!("data_dir = \"{}\"", quoted(&dir)), 1)
            .replacen("genesis_file = \"genesis.toml\"", "genesis_file = \"../genesis.toml\"", 1)
            .replacen("listen = \"127.0.0.1:8600\"", &format!("listen = \"127.0.0.1:{rpc}\""), 1)
            // Under BFT the rounds themselves gather transactions: a shorter wait before
            // proposing halves the latency at 10k tx/s (README, "A consortium network").
            .replacen("\ninterval_ms = 200", "\ninterval_ms = 50", 1);
        let config = Config::from_toml(&text).context("the network config does not parse (a bug)")?;
        if config.block.interval_ms != 50 {
            bail!("the network config did not get its block interval (a bug)");
        }
        let config_path = dir.join("config.toml");
        std::fs::write(&config_path, &text).with_context(|| format!("cannot write {}", config_path.display()))?;
        let signer = Signer::generate()?;
        signer.write_pem_file(&config.key_path())?;
        let peer = write_transport_key(&config.transport_key_path())?;
        let pubkey = hex::encode(signer.public_key());
        validators.push(GenesisValidator {
            pubkey: pubkey.clone(),
            address: Some(format!("/ip4/127.0.0.1/tcp/{p2p}/p2p/{peer}")),
            power: 1,
        });
        accounts.push(GenesisAccount { pubkey, balance: config.genesis.node_balance });
        dirs.push(dir);
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let genesis = Genesis {
        chain_id: Config::default().node.chain_id,
        timestamp_ms: u64::try_from(now.as_millis()).unwrap_or(u64::MAX),
        validators,
        accounts,
    };
    genesis.check()?;
    std::fs::write(&genesis_path, genesis.to_toml()?)
        .with_context(|| format!("cannot write {}", genesis_path.display()))?;
    eprintln!("wrote {} ({} validators) and", genesis_path.display(), plan.validators);
    for (i, dir) in dirs.iter().enumerate() {
        eprintln!(
            "  {}: HTTP 127.0.0.1:{}, consensus 127.0.0.1:{}; start it with: xinlian run --config {}",
            dir.display(),
            port(plan.base_port, i, "--base-port")?,
            port(plan.consensus_port, i, "--consensus-port")?,
            dir.join("config.toml").display()
        );
    }
    Ok(())
}
