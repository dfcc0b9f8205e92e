//! What a driver reports for the node's `GET /status`: where consensus is, who proposes,
//! which peers are connected. Written by the driver, read by the node.

use std::sync::{Arc, Mutex, PoisonError};

use xinlian_chain::PublicKey;

/// One connected peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its transport identity (libp2p peer id, base58).
    pub peer_id: String,
    /// The address it is connected on.
    pub address: String,
    /// Its SM2 validator key, when it proved one (a member's signed proof).
    pub validator: Option<Vec<u8>>,
}

/// A snapshot of the driver's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsensusStatus {
    /// The height being decided.
    pub height: u64,
    /// Its current round (-1 before the first round starts).
    pub round: i64,
    /// Who proposes this round.
    pub round_proposer: Option<PublicKey>,
    /// Whether this node proposes this round.
    pub proposing: bool,
    /// The last decided height this node committed, and who proposed that block.
    pub last_decided: Option<(u64, PublicKey)>,
    /// Connected peers (refreshed every few seconds).
    pub peers: Vec<Peer>,
}

/// The shared status a driver updates.
#[derive(Clone, Debug, Default)]
pub struct Shared(Arc<Mutex<ConsensusStatus>>);

impl Shared {
    /// A copy of the current status.
    pub fn snapshot(&self) -> ConsensusStatus {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn update(&self, f: impl FnOnce(&mut ConsensusStatus)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// A round began.
    pub(crate) fn round(&self, height: u64, round: i64, proposer: PublicKey, proposing: bool) {
        self.update(|s| {
            s.height = height;
            s.round = round;
            s.round_proposer = Some(proposer);
            s.proposing = proposing;
        });
    }

    /// A block was decided and committed.
    pub(crate) fn decided(&self, height: u64, proposer: PublicKey) {
        self.update(|s| s.last_decided = Some((height, proposer)));
    }

    /// The connected peers changed.
    pub(crate) fn peers(&self, peers: Vec<Peer>) {
        self.update(|s| s.peers = peers);
    }
}
