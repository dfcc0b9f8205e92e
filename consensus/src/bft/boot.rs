//! Starting a validator: keys, the transport identity bound to the SM2 key by a signed
//! proof, members-only networking, the WAL, and the engine; then the host loop until the
//! node stops.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, NodeConfig, P2pConfig, ProtocolNames, ValueSyncConfig,
};
use arc_malachitebft_app_channel::app::net::{Multiaddr, PeerId};
use arc_malachitebft_app_channel::app::types::codec::Codec;
use arc_malachitebft_app_channel::app::types::core::LinearTimeouts;
use arc_malachitebft_app_channel::app::types::Keypair;
use arc_malachitebft_app_channel::{
    start_engine, ConsensusContext, NetworkContext, NetworkIdentity, NetworkRequest, RequestContext, Signer as _,
    SyncContext, WalContext,
};
use xinlian_chain::{BlockSigner, PublicKey};

use super::codec::XlCodec;
use super::context::XlContext;
use super::host::Host;
use super::scheme::{Sm2PrivateKey, Sm2PublicKey};
use super::signing::{Sm2Signer, Sm2Verifier};
use super::types::{Address, Validator, ValidatorSet};
use crate::app::{App, BoxFuture, Driver};
use crate::error::ConsensusError;
use crate::status::{Peer, Shared};

/// One genesis validator as consensus needs it.
#[derive(Clone, Debug)]
pub struct Member {
    /// Its SM2 public key.
    pub pubkey: PublicKey,
    /// Where it listens, with its transport identity:
    /// `/ip4/127.0.0.1/tcp/27000/p2p/12D3KooW…`.
    pub address: String,
    /// Its voting power.
    pub power: u64,
}

/// Consensus timeouts (Tendermint's: each grows by `delta_ms` per failed round).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// How long to wait for a round's proposal before prevoting nil.
    pub propose_ms: u64,
    /// How long to wait for more prevotes after seeing 2/3 of them for different values.
    pub prevote_ms: u64,
    /// The same for precommits.
    pub precommit_ms: u64,
    /// Added to each per round.
    pub delta_ms: u64,
}

/// Everything a validator needs to join its chain's consensus.
pub struct Settings {
    /// The chain id (in every signed preimage and the network's protocol names).
    pub chain_id: String,
    /// The members, in genesis order.
    pub members: Vec<Member>,
    /// This validator's SM2 key.
    pub signer: Arc<dyn BlockSigner>,
    /// This validator's Ed25519 transport secret (32 bytes).
    pub transport_secret: [u8; 32],
    /// Where to listen, when not the address genesis gives this validator (a multiaddr
    /// without `/p2p/`, e.g. `/ip4/0.0.0.0/tcp/27000`).
    pub listen: Option<String>,
    /// The consensus write-ahead log file.
    pub wal_path: PathBuf,
    /// The timeouts.
    pub timeouts: Timeouts,
}

/// The transport peer id (base58) of an Ed25519 transport secret.
pub fn peer_id(transport_secret: &[u8; 32]) -> Result<String, ConsensusError> {
    let keypair = Keypair::ed25519_from_bytes(*transport_secret)
        .map_err(|e| ConsensusError::Config(format!("transport key: {e}")))?;
    Ok(keypair.public().to_peer_id().to_base58())
}

/// A fresh Ed25519 transport secret.
pub fn generate_transport_secret() -> [u8; 32] {
    let keypair = Keypair::generate_ed25519();
    match keypair.try_into_ed25519() {
        Ok(k) => {
            let mut out = [0u8; 32];
            out.copy_from_slice(k.secret().as_ref());
            out
        }
        // generate_ed25519 makes an Ed25519 key: the other arm cannot happen.
        Err(_) => unreachable!("generate_ed25519 made another kind of key"),
    }
}

/// A member's address split into where it listens and its peer id.
fn split_address(address: &str, what: &str) -> Result<(Multiaddr, PeerId, Multiaddr), ConsensusError> {
    let (listen, peer) = address.split_once("/p2p/").ok_or_else(|| {
        ConsensusError::Config(format!("{what}: `{address}` needs its transport identity: …/p2p/<peer id>"))
    })?;
    let listen: Multiaddr =
        listen.parse().map_err(|e| ConsensusError::Config(format!("{what}: `{listen}` is not a multiaddr: {e}")))?;
    let peer: PeerId =
        peer.parse().map_err(|e| ConsensusError::Config(format!("{what}: `{peer}` is not a peer id: {e}")))?;
    let full: Multiaddr =
        address.parse().map_err(|e| ConsensusError::Config(format!("{what}: `{address}` is not a multiaddr: {e}")))?;
    Ok((listen, peer, full))
}

/// The engine's node config (ours is the node's TOML; this is its translation).
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// The BFT driver: Tendermint on Malachite among the genesis validators.
pub struct Bft {
    settings: Settings,
    status: Shared,
}

/// What `Bft::new` checked and derived.
struct Plan {
    validators: ValidatorSet,
    peer_ids: HashMap<PublicKey, Vec<u8>>,
    listen: Multiaddr,
    peers: Vec<Multiaddr>,
    me: Address,
}

impl Bft {
    /// A driver for `settings`, reporting to `status`. Checks that this node is a member and
    /// that its transport key is the one genesis binds it to.
    pub fn new(settings: Settings, status: Shared) -> Result<Bft, ConsensusError> {
        let bft = Bft { settings, status };
        bft.plan()?;
        Ok(bft)
    }

    fn plan(&self) -> Result<Plan, ConsensusError> {
        let s = &self.settings;
        let me = Address(*s.signer.public_key());
        let my_peer = peer_id(&s.transport_secret)?;
        let mut members = Vec::with_capacity(s.members.len());
        let mut peer_ids = HashMap::new();
        let mut peers = Vec::new();
        let mut listen = None;
        for (i, m) in s.members.iter().enumerate() {
            let what = format!("genesis validators[{i}].address");
            let (addr, peer, full) = split_address(&m.address, &what)?;
            let public_key = Sm2PublicKey::from_bytes(&m.pubkey)?;
            members.push(Validator { address: Address(m.pubkey), public_key, power: m.power });
            peer_ids.insert(m.pubkey, peer.to_bytes());
            if m.pubkey == me.0 {
                if peer.to_base58() != my_peer {
                    return Err(ConsensusError::Config(format!(
                        "{what}: genesis binds this validator to peer {peer}, but its transport key is peer {my_peer}"
                    )));
                }
                listen = Some(addr);
            } else {
                peers.push(full);
            }
        }
        let Some(genesis_listen) = listen else {
            return Err(ConsensusError::Config(format!(
                "this node's key {} is not a validator in the genesis file",
                hex::encode(me.0)
            )));
        };
        let listen = match &s.listen {
            Some(l) => l.parse().map_err(|e| ConsensusError::Config(format!("consensus.listen `{l}`: {e}")))?,
            None => genesis_listen,
        };
        let validators =
            ValidatorSet::new(members).ok_or_else(|| ConsensusError::Config("genesis has no validators".into()))?;
        Ok(Plan { validators, peer_ids, listen, peers, me })
    }

    fn engine_config(&self, plan: &Plan) -> EngineConfig {
        let n = plan.validators.members().len();
        let chain = &self.settings.chain_id;
        let protocol_names = ProtocolNames {
            consensus: format!("/xinlian/{chain}/consensus/1"),
            discovery_kad: format!("/xinlian/{chain}/kad/1"),
            discovery_regres: format!("/xinlian/{chain}/regres/1"),
            sync: format!("/xinlian/{chain}/sync/1"),
            validator_proof: format!("/xinlian/{chain}/validator-proof/1"),
        };
        let discovery = DiscoveryConfig {
            enabled: false,
            // Every member may share one address (a test on 127.0.0.1, or NAT).
            max_connections_per_ip: 4 * n + 8,
            ..DiscoveryConfig::default()
        };
        let p2p = P2pConfig {
            listen_addr: plan.listen.clone(),
            persistent_peers: plan.peers.clone(),
            persistent_peers_only: true,
            discovery,
            protocol_names,
            ..P2pConfig::default()
        };
        let value_sync = ValueSyncConfig {
            status_update_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            ..ValueSyncConfig::default()
        };
        EngineConfig {
            moniker: format!("xl-{}", plan.me),
            consensus: ConsensusConfig { p2p, ..ConsensusConfig::default() },
            value_sync,
        }
    }

    fn timeouts(&self) -> LinearTimeouts {
        let t = self.settings.timeouts;
        let ms = Duration::from_millis;
        LinearTimeouts {
            propose: ms(t.propose_ms),
            propose_delta: ms(t.delta_ms),
            prevote: ms(t.prevote_ms),
            prevote_delta: ms(t.delta_ms),
            precommit: ms(t.precommit_ms),
            precommit_delta: ms(t.delta_ms),
            ..LinearTimeouts::default()
        }
    }

    async fn run_inner(self, app: Arc<dyn App>) -> Result<(), ConsensusError> {
        let plan = self.plan()?;
        let s = &self.settings;
        let signer = Sm2Signer::new(Sm2PrivateKey(Arc::clone(&s.signer)), &s.chain_id);
        let verifier = Sm2Verifier::new(&s.chain_id, plan.validators.clone(), plan.peer_ids.clone());
        let keypair = Keypair::ed25519_from_bytes(s.transport_secret)
            .map_err(|e| ConsensusError::Config(format!("transport key: {e}")))?;
        let my_peer = keypair.public().to_peer_id();
        let proof = signer
            .sign_validator_proof(plan.me.0.to_vec(), my_peer.to_bytes())
            .await
            .map_err(|e| ConsensusError::Engine(format!("signing the validator proof: {e}")))?;
        let proof_bytes = XlCodec.encode(&proof)?;
        let identity =
            NetworkIdentity::new_validator(format!("xl-{}", plan.me), keypair, plan.me.to_string(), proof_bytes);
        super::wal::sanitize(&s.wal_path)?;
        tracing::info!(
            listen = %plan.listen,
            peer_id = %my_peer,
            validators = plan.validators.members().len(),
            wal = %s.wal_path.display(),
            "starting BFT consensus"
        );
        let (channels, handle) = start_engine(
            XlContext,
            self.engine_config(&plan),
            WalContext::new(s.wal_path.clone(), XlCodec),
            NetworkContext::new(identity, XlCodec),
            ConsensusContext::new_validator(plan.me, Box::new(verifier.clone()), Box::new(signer.clone())),
            SyncContext::new(XlCodec),
            RequestContext::new(32),
        )
        .await
        .map_err(|e| ConsensusError::Engine(format!("{e:#}")))?;
        let peers = tokio::spawn(watch_peers(channels.net_requests.clone(), self.status.clone()));
        let host = Host::new(Arc::clone(&app), signer, verifier, plan.validators, self.timeouts(), self.status.clone());
        let result = tokio::select! {
            r = host.run(channels) => r,
            () = app.stopping() => Ok(()),
        };
        peers.abort();
        tracing::info!("stopping BFT consensus");
        let _ = handle.actor.kill_and_wait(Some(Duration::from_secs(5))).await;
        handle.handle.abort();
        result
    }
}

/// Refresh the connected peers every two seconds.
async fn watch_peers(requests: tokio::sync::mpsc::Sender<NetworkRequest>, status: Shared) {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let Ok(Some(dump)) = NetworkRequest::dump_state(&requests).await else { continue };
        let mut peers: Vec<Peer> = dump
            .peers
            .iter()
            .map(|(id, info)| Peer {
                peer_id: id.to_base58(),
                address: info.address.to_string(),
                validator: info.consensus_public_key.clone(),
            })
            .collect();
        peers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        status.peers(peers);
    }
}

impl Driver for Bft {
    fn name(&self) -> &'static str {
        "bft"
    }

    fn run(self: Box<Self>, app: Arc<dyn App>) -> BoxFuture<'static, Result<(), ConsensusError>> {
        Box::pin(self.run_inner(app))
    }
}
