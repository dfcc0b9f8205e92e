//! The app side of Malachite: answers every `AppMsg` by calling the node's propose /
//! validate / commit (MALACHITE.md §6 has the message table).
//!
//! The engine waits for most answers, one message at a time, so nothing here waits on
//! consensus. Blocks proposed or received and checked wait in `candidates` (by hash) until
//! one is decided; a decided block is committed, with its certificate, before `Decided` is
//! answered, so the engine never announces a height this node has not stored.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use arc_malachitebft_app_channel::app::consensus::{ProposedValue, Role, VoteExtensionError};
use arc_malachitebft_app_channel::app::engine::host::{Next, SyncedValueOutcome};
use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::core::{
    CommitCertificate as EngineCertificate, Context as _, HeightParams, LinearTimeouts, Round, Validity,
};
use arc_malachitebft_app_channel::app::types::sync::RawDecidedValue;
use arc_malachitebft_app_channel::app::types::{LocallyProposedValue, PeerId};
use arc_malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use bytes::Bytes;
use xinlian_chain::cert::CommitSignature;
use xinlian_chain::{Block, CommitCertificate};

use super::codec::plain_commit_cert_from_chain;
use super::context::XlContext;
use super::scheme::Sm2Signature;
use super::signing::{Sm2Signer, Sm2Verifier};
use super::streams::{stream_of, Assembled, Streams};
use super::types::{Address, BlockHash, BlockRef, Height, ProposalPart, ValidatorSet};
use crate::app::App;
use crate::error::ConsensusError;
use crate::status::Shared;

type Ctx = XlContext;

/// The most blocks one sync answer carries, and about the most bytes (below the engine's
/// 10 MiB response limit).
const SYNC_BATCH: u64 = 16;
const SYNC_BYTES: usize = 8 << 20;
/// How often admitted transactions are relayed, and the most in one batch.
const RELAY_EVERY: Duration = Duration::from_millis(50);
const RELAY_BATCH: usize = 2048;
/// Peers' relayed batches being admitted at once; more are dropped (their transactions still
/// arrive in blocks). Each holds at most one gossip message (4 MiB) and what it decodes to.
pub const RELAY_IN_FLIGHT: usize = 8;

/// A block this node proposed or checked, waiting for a decision.
struct Candidate {
    block: Block,
    value: ProposedValue<Ctx>,
}

/// The host's state and what it talks to.
pub(crate) struct Host {
    pub(crate) app: Arc<dyn App>,
    pub(crate) signer: Sm2Signer,
    pub(crate) verifier: Sm2Verifier,
    pub(crate) validators: ValidatorSet,
    pub(crate) timeouts: LinearTimeouts,
    pub(crate) status: Shared,
    candidates: HashMap<BlockHash, Candidate>,
    mine: HashMap<(Height, Round), BlockHash>,
    streams: Streams,
    /// Whole streams for a height not started yet, checked when it starts.
    future: Vec<Assembled>,
    current: Height,
    committed: bool,
    stream_nonce: u64,
    relay_slots: Arc<tokio::sync::Semaphore>,
}

impl Host {
    pub(crate) fn new(
        app: Arc<dyn App>,
        signer: Sm2Signer,
        verifier: Sm2Verifier,
        validators: ValidatorSet,
        timeouts: LinearTimeouts,
        status: Shared,
    ) -> Host {
        Host {
            app,
            signer,
            verifier,
            validators,
            timeouts,
            status,
            candidates: HashMap::new(),
            mine: HashMap::new(),
            streams: Streams::default(),
            future: Vec::new(),
            current: Height(0),
            committed: false,
            stream_nonce: 0,
            relay_slots: Arc::new(tokio::sync::Semaphore::new(RELAY_IN_FLIGHT)),
        }
    }

    fn params(&self) -> HeightParams<Ctx> {
        HeightParams::new(self.validators.clone(), self.timeouts, None)
    }

    /// Answer the engine until it stops (then the channel closes: an error, as a node's
    /// consensus must not stop while the node runs).
    pub(crate) async fn run(mut self, mut channels: Channels<Ctx>) -> Result<(), ConsensusError> {
        let mut relay = tokio::time::interval(RELAY_EVERY);
        relay.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = channels.consensus.recv() => match msg {
                    Some(msg) => self.handle(msg, &channels.network).await,
                    None => break,
                },
                _ = relay.tick() => self.relay(&channels.network).await,
            }
        }
        Err(ConsensusError::Engine("the consensus engine stopped".into()))
    }

    /// Send what this node admitted since the last tick to the peers, in one-part streams.
    async fn relay(&mut self, network: &tokio::sync::mpsc::Sender<NetworkMsg<Ctx>>) {
        loop {
            let txs = self.app.take_relay(RELAY_BATCH);
            if txs.is_empty() {
                return;
            }
            let full = txs.len() == RELAY_BATCH;
            self.stream_nonce += 1;
            let mut id = b"relay".to_vec();
            id.extend_from_slice(&self.stream_nonce.to_be_bytes());
            let msg =
                StreamMessage::new(StreamId::new(Bytes::from(id)), 0, StreamContent::Data(ProposalPart::Relay(txs)));
            publish(network, vec![msg]).await;
            if !full {
                return;
            }
        }
    }

    /// A peer's relayed batch: admitted off the engine's loop (signature checks take time),
    /// at most [`RELAY_IN_FLIGHT`] at once, so a flooding peer cannot grow this node's memory.
    fn relayed(&self, from: PeerId, txs: Vec<Vec<u8>>) {
        let Ok(slot) = Arc::clone(&self.relay_slots).try_acquire_owned() else {
            tracing::debug!(peer = %from, txs = txs.len(), "relayed batch dropped: admission is busy");
            return;
        };
        let app = Arc::clone(&self.app);
        tokio::spawn(async move {
            let _slot = slot;
            let n = txs.len();
            let admitted = app.admit_relayed(txs).await;
            tracing::debug!(peer = %from, received = n, admitted, "relayed transactions");
        });
    }

    async fn handle(&mut self, msg: AppMsg<Ctx>, network: &tokio::sync::mpsc::Sender<NetworkMsg<Ctx>>) {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                self.current = Height(self.app.height() + 1);
                tracing::info!(
                    height = self.current.0,
                    validators = self.validators.members().len(),
                    "consensus ready"
                );
                let _ = reply.send((self.current, self.params()));
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                let values = self.started_round(height, round, proposer, role).await;
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue { height, round, timeout, reply } => {
                if let Some((value, parts)) = self.get_value(height, round, timeout).await {
                    let _ = reply.send(value);
                    publish(network, parts).await;
                }
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                // Extensions are disabled on xinlian chains: any that arrives is refused.
                let verdicts =
                    extensions.into_iter().map(|(a, _)| (a, Err(VoteExtensionError::InvalidVoteExtension))).collect();
                let _ = reply.send(verdicts);
            }
            AppMsg::RestreamProposal { height, round, valid_round, address, value_id } => {
                if let Some(parts) = self.restream(height, round, valid_round, address, value_id) {
                    publish(network, parts).await;
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let value = self.received_part(published_by.unwrap_or(from), part).await;
                let _ = reply.send(value);
            }
            AppMsg::Decided { certificate, reply, .. } => {
                self.committed = self.decided(&certificate).await;
                let _ = reply.send(());
            }
            AppMsg::Finalized { certificate, reply, .. } => {
                let _ = reply.send(self.finalized(&certificate));
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(range).await);
            }
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                let _ = reply.send(self.synced_value(height, round, proposer, value_bytes).await);
            }
        }
    }

    async fn started_round(
        &mut self,
        height: Height,
        round: Round,
        proposer: Address,
        role: Role,
    ) -> Vec<ProposedValue<Ctx>> {
        if height != self.current {
            self.current = height;
            self.streams.clear();
        }
        self.status.round(height.0, round.as_i64(), proposer.0, matches!(role, Role::Proposer));
        let waiting: Vec<Assembled> = std::mem::take(&mut self.future);
        for a in waiting {
            if a.height == height {
                self.check_assembled(a).await;
            } else if a.height > height {
                self.future.push(a);
            }
        }
        self.candidates
            .values()
            .filter(|c| c.value.height == height && c.value.round == round)
            .map(|c| c.value.clone())
            .collect()
    }

    /// Our proposal for (height, round): the same one if asked again (a second, different
    /// block would be equivocation), else a new block from the mempool, empty when nothing
    /// arrives within half the propose timeout.
    async fn get_value(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
    ) -> Option<(LocallyProposedValue<Ctx>, Vec<StreamMessage<ProposalPart>>)> {
        if let Some(hash) = self.mine.get(&(height, round)).copied() {
            let parts = self.stream(height, round, Round::Nil, hash)?;
            return Some((LocallyProposedValue::new(height, round, BlockRef(hash)), parts));
        }
        let wait = (timeout / 2).min(Duration::from_secs(1));
        let _ = tokio::time::timeout(wait, self.app.wait_for_work()).await;
        let block = match self.app.propose(height.0, true).await {
            Ok(Some(block)) => block,
            Ok(None) => {
                tracing::info!(height = height.0, "no block to propose: the node is stopping");
                return None;
            }
            Err(e) => {
                tracing::error!(height = height.0, error = %e, "could not build a block to propose");
                return None;
            }
        };
        let hash = BlockHash(block.hash());
        let value = ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer: self.signer.address(),
            value: BlockRef(hash),
            validity: Validity::Valid,
        };
        tracing::info!(height = height.0, round = round.as_i64(), txs = block.txs.len(), hash = %hash, "proposing");
        self.candidates.insert(hash, Candidate { block, value });
        self.mine.insert((height, round), hash);
        let parts = self.stream(height, round, Round::Nil, hash)?;
        Some((LocallyProposedValue::new(height, round, BlockRef(hash)), parts))
    }

    /// The stream of candidate `hash` as this node's proposal for (height, round).
    fn stream(
        &mut self,
        height: Height,
        round: Round,
        pol_round: Round,
        hash: BlockHash,
    ) -> Option<Vec<StreamMessage<ProposalPart>>> {
        let candidate = self.candidates.get(&hash)?;
        let signature = match self.signer.sign_parts(height, round, pol_round, &hash) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(height = height.0, error = %e, "could not sign the proposal stream");
                return None;
            }
        };
        self.stream_nonce += 1;
        let mut id = Vec::with_capacity(20);
        id.extend_from_slice(&height.0.to_be_bytes());
        id.extend_from_slice(&u32::try_from(round.as_i64()).unwrap_or(0).to_be_bytes());
        id.extend_from_slice(&self.stream_nonce.to_be_bytes());
        let header = ProposalPart::Init { height, round, pol_round, proposer: self.signer.address() };
        Some(stream_of(StreamId::new(Bytes::from(id)), header, &candidate.block.encode(), signature.0))
    }

    fn restream(
        &mut self,
        height: Height,
        round: Round,
        valid_round: Round,
        address: Address,
        hash: BlockHash,
    ) -> Option<Vec<StreamMessage<ProposalPart>>> {
        // Only our own proposals are streamed by us; another's is its own to send.
        if address != self.signer.address() {
            return None;
        }
        self.stream(height, round, valid_round, hash)
    }

    async fn received_part(
        &mut self,
        publisher: PeerId,
        part: StreamMessage<ProposalPart>,
    ) -> Option<ProposedValue<Ctx>> {
        let part = match part.content {
            StreamContent::Data(ProposalPart::Relay(txs)) => {
                self.relayed(publisher, txs);
                return None;
            }
            _ => part,
        };
        let assembled = match self.streams.insert(publisher, part) {
            Ok(Some(a)) => a,
            Ok(None) => return None,
            Err(reason) => {
                tracing::warn!(peer = %publisher, %reason, "dropped a proposal stream");
                return None;
            }
        };
        if assembled.height > self.current {
            self.future.push(assembled);
            return None;
        }
        if assembled.height < self.current {
            return None;
        }
        self.check_assembled(assembled).await
    }

    /// A whole proposal for the current height: authenticate the stream, then check the block
    /// through the node. An unauthenticated stream gets no answer (nobody may put a value in
    /// another's name); a well-signed bad block gets `Invalid`, so this node votes nil.
    async fn check_assembled(&mut self, a: Assembled) -> Option<ProposedValue<Ctx>> {
        let expected = XlContext.select_proposer(&self.validators, a.height, a.round).address;
        if a.proposer != expected {
            tracing::warn!(height = a.height.0, round = a.round.as_i64(), proposer = %a.proposer, "a proposal from a validator whose round it is not");
            return None;
        }
        let block = match Block::decode(&a.block_bytes) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(height = a.height.0, proposer = %a.proposer, error = %e, "a proposal whose block does not decode");
                return None;
            }
        };
        let hash = BlockHash(block.hash());
        if !self.verifier.verify_parts(a.height, a.round, a.pol_round, &hash, &a.proposer, &Sm2Signature(a.signature)) {
            tracing::warn!(height = a.height.0, proposer = %a.proposer, "a proposal stream with a bad signature");
            return None;
        }
        let validity = match self.candidates.get(&hash) {
            Some(c) => c.value.validity,
            None => self.validity(&block, a.height).await,
        };
        let value = ProposedValue {
            height: a.height,
            round: a.round,
            valid_round: a.pol_round,
            proposer: a.proposer,
            value: BlockRef(hash),
            validity,
        };
        self.candidates.insert(hash, Candidate { block, value: value.clone() });
        Some(value)
    }

    /// The node's verdict on a block for `height` (the node logs why it refuses one).
    async fn validity(&self, block: &Block, height: Height) -> Validity {
        if block.header.height != height.0 {
            tracing::warn!(height = height.0, block_height = block.header.height, "a proposal for another height");
            return Validity::Invalid;
        }
        Validity::from_bool(self.app.validate(block).await.is_ok())
    }

    /// Commit the decided block; `false` when it could not be stored.
    async fn decided(&mut self, cert: &EngineCertificate<Ctx>) -> bool {
        let height = cert.height.0;
        let Some(candidate) = self.candidates.remove(&cert.value_id) else {
            tracing::error!(height, hash = %cert.value_id, "decided a block this node does not hold; it will catch up from peers");
            return false;
        };
        let certificate = CommitCertificate {
            height,
            round: u32::try_from(cert.round.as_i64()).unwrap_or(0),
            block_hash: cert.value_id.0,
            signatures: cert
                .commit_signatures
                .iter()
                .map(|s| CommitSignature { validator: s.address.0, signature: s.signature.0 })
                .collect(),
        };
        let proposer = candidate.block.header.proposer;
        match self.app.commit(candidate.block, certificate).await {
            Ok(()) => {
                self.status.decided(height, proposer);
                true
            }
            Err(e) => {
                tracing::error!(height, error = %e, "could not commit a decided block");
                false
            }
        }
    }

    fn finalized(&mut self, cert: &EngineCertificate<Ctx>) -> Next<Ctx> {
        if !self.committed {
            return Next::Restart(cert.height, self.params());
        }
        self.committed = false;
        let next = Height(cert.height.0 + 1);
        self.candidates.retain(|_, c| c.value.height >= next);
        self.mine.retain(|(h, _), _| *h >= next);
        self.current = next;
        Next::Start(next, self.params())
    }

    async fn decided_values(&self, range: RangeInclusive<Height>) -> Vec<RawDecidedValue<Ctx>> {
        let tip = self.app.height();
        let start = range.start().0.max(1);
        let end = range.end().0.min(tip).min(start.saturating_add(SYNC_BATCH - 1));
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for h in start..=end {
            let (block, cert) = match self.app.decided(h).await {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(height = h, error = %e, "could not read a block a peer asked for");
                    break;
                }
            };
            let encoded = block.encode();
            bytes += encoded.len();
            if !out.is_empty() && bytes > SYNC_BYTES {
                break;
            }
            out.push(RawDecidedValue::new(Bytes::from(encoded), plain_commit_cert_from_chain(&cert)));
        }
        out
    }

    async fn synced_value(
        &mut self,
        height: Height,
        round: Round,
        proposer: Address,
        value_bytes: Bytes,
    ) -> SyncedValueOutcome<Ctx> {
        let block = match Block::decode(&value_bytes) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(height = height.0, error = %e, "a synced block does not decode");
                return SyncedValueOutcome::PeerFault;
            }
        };
        let hash = BlockHash(block.hash());
        let validity = match self.candidates.get(&hash) {
            Some(c) => c.value.validity,
            None => self.validity(&block, height).await,
        };
        let value = ProposedValue { height, round, valid_round: Round::Nil, proposer, value: BlockRef(hash), validity };
        self.candidates.insert(hash, Candidate { block, value: value.clone() });
        SyncedValueOutcome::Verdict(value)
    }
}

async fn publish(network: &tokio::sync::mpsc::Sender<NetworkMsg<Ctx>>, parts: Vec<StreamMessage<ProposalPart>>) {
    for part in parts {
        if network.send(NetworkMsg::PublishProposalPart(part)).await.is_err() {
            tracing::error!("the network actor is gone: a proposal was not sent");
            return;
        }
    }
}
