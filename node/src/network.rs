//! Which consensus driver a node runs, from its genesis: solo when the genesis has one
//! validator, BFT among the validators when it has several. And the transport key file.

use std::path::Path;
use std::sync::Arc;

use xinlian_chain::{BlockSigner, Genesis};
use xinlian_consensus::bft::{self, Bft, Member, Settings, Timeouts};
use xinlian_consensus::{Driver, Shared, Solo};

use crate::config::Config;
use crate::error::NodeError;

/// The driver for this node (module docs).
pub(crate) fn driver(
    config: &Config,
    genesis: &Genesis,
    signer: &Arc<dyn BlockSigner>,
    status: Shared,
) -> Result<Box<dyn Driver>, NodeError> {
    let validators = genesis.validator_set()?;
    if validators.len() == 1 {
        if &validators[0].pubkey != signer.public_key() {
            return Err(NodeError::config(
                "genesis validators",
                format!(
                    "this node's key {} is not the chain's one validator; a node that only follows is not supported yet",
                    hex::encode(signer.public_key())
                ),
            ));
        }
        return Ok(Box::new(Solo));
    }
    let mut members = Vec::with_capacity(validators.len());
    for (i, v) in validators.iter().enumerate() {
        let address = v.address.clone().ok_or_else(|| {
            NodeError::config(
                format!("genesis validators[{i}].address"),
                "a chain of several validators needs each one's consensus address (…/p2p/<peer id>)",
            )
        })?;
        members.push(Member { pubkey: v.pubkey, address, power: v.power });
    }
    let c = &config.consensus;
    let settings = Settings {
        chain_id: genesis.chain_id.clone(),
        members,
        signer: Arc::clone(signer),
        transport_secret: read_transport_key(&config.transport_key_path())?,
        listen: c.listen.clone(),
        wal_path: config.wal_path(),
        timeouts: Timeouts {
            propose_ms: c.propose_timeout_ms,
            prevote_ms: c.prevote_timeout_ms,
            precommit_ms: c.precommit_timeout_ms,
            delta_ms: c.timeout_delta_ms,
        },
    };
    Ok(Box::new(Bft::new(settings, status).map_err(|e| NodeError::config("consensus", e.to_string()))?))
}

/// Read a transport key file: 64 hex digits (one line).
pub fn read_transport_key(path: &Path) -> Result<[u8; 32], NodeError> {
    let io = |source| NodeError::Io { path: path.display().to_string(), source };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let bytes = hex::decode(text.trim())
        .map_err(|e| NodeError::config(path.display().to_string(), format!("transport key: not hex ({e})")))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        NodeError::config(path.display().to_string(), format!("transport key: want 32 bytes, got {}", bytes.len()))
    })
}

/// Make a transport key file (owner-only where the platform allows); its peer id.
pub fn write_transport_key(path: &Path) -> Result<String, NodeError> {
    let secret = bft::generate_transport_secret();
    let io = |source| NodeError::Io { path: path.display().to_string(), source };
    std::fs::write(path, format!("{}\n", hex::encode(secret))).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    bft::peer_id(&secret).map_err(|e| NodeError::config("transport key", e.to_string()))
}
