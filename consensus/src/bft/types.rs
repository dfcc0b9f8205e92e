//! The chain's values in Malachite's shapes: height, validator address and set, the value a
//! proposal carries (a block's SM3 hash), proposals, votes and proposal parts.
//!
//! A validator's address is its SM2 public key (65 bytes, uncompressed): certificates then
//! name signers by the key the chain's own `CommitCertificate` stores, with no lookup table.

use std::fmt;
use std::sync::Arc;

use arc_malachitebft_app_channel::app::types::core::{self as core, NilOrVal, Round, SignedExtension, VoteType};
use xinlian_chain::{Hash, PublicKey};

use super::context::XlContext;
use super::scheme::Sm2PublicKey;

/// A block height (block 0 is genesis; consensus decides from 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl core::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: its SM2 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub PublicKey);

impl fmt::Display for Address {
    /// The first 8 bytes of the key after the SEC1 tag, hex: short enough for logs, and the
    /// network layer takes it as the validator's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0[1..9]))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl core::Address for Address {}

/// A block's SM3 hash: the id consensus votes on.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockHash(pub Hash);

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({self})")
    }
}

/// The value a proposal carries: only the block's hash. It rides in every proposal, vote
/// and WAL entry, so it stays small; the block itself travels as proposal parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockRef(pub BlockHash);

impl core::Value for BlockRef {
    type Id = BlockHash;

    fn id(&self) -> BlockHash {
        self.0
    }
}

/// One member of the validator set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Its address (the key's bytes).
    pub address: Address,
    /// Its SM2 public key, decoded.
    pub public_key: Sm2PublicKey,
    /// Its voting power (at least 1).
    pub power: u64,
}

impl core::Validator<XlContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &Sm2PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> u64 {
        self.power
    }
}

/// The validator set, in genesis file order (every node reads the same file, so every node
/// sees the same order, and round-robin proposer selection agrees).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    members: Arc<Vec<Validator>>,
}

impl ValidatorSet {
    /// The set of `members`, in the order given; `None` when empty (consensus needs one).
    pub fn new(members: Vec<Validator>) -> Option<ValidatorSet> {
        (!members.is_empty()).then(|| ValidatorSet { members: Arc::new(members) })
    }

    /// The members in order.
    pub fn members(&self) -> &[Validator] {
        &self.members
    }

    /// The member with this public key.
    pub fn by_key(&self, key: &PublicKey) -> Option<&Validator> {
        self.members.iter().find(|v| &v.address.0 == key)
    }
}

impl core::ValidatorSet<XlContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.members.len()
    }

    fn total_voting_power(&self) -> u64 {
        // Genesis checks that powers add up below 2^64.
        self.members.iter().map(|v| v.power).fold(0u64, u64::saturating_add)
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.by_key(&address.0)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.members.get(index)
    }
}

/// A proposal: who proposes which block at (height, round), and the round of the polka it
/// re-proposes (`pol_round`), if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The proposed block's hash.
    pub value: BlockRef,
    /// The proof-of-lock round, `Round::Nil` for a fresh value.
    pub pol_round: Round,
    /// The proposer.
    pub proposer: Address,
}

impl core::Proposal<XlContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockRef {
        &self.value
    }

    fn take_value(self) -> BlockRef {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub kind: VoteType,
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockHash>,
    /// Who votes.
    pub voter: Address,
    /// Vote extensions are disabled on this chain: always `None` (the codec refuses one).
    pub extension: Option<SignedExtension<XlContext>>,
}

impl core::Vote<XlContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.kind
    }

    fn validator_address(&self) -> &Address {
        &self.voter
    }

    fn extension(&self) -> Option<&SignedExtension<XlContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<XlContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<XlContext>) -> Self {
        Vote { extension: Some(extension), ..self }
    }
}

/// One piece of a proposal's stream: `Init` names who proposes for (height, round), `Data`
/// carries a chunk of the encoded block, `Fin` is the proposer's SM2 signature over
/// (height, round, block hash), which authenticates the whole stream.
///
/// `Relay` is not part of a proposal: it is a batch of transactions a peer admitted from its
/// clients, sent alone in a stream of its own on the same gossip channel (the engine's
/// channel API offers the app no other), each checked by the receiver as a client's would be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// The stream's header.
    Init {
        /// The height.
        height: Height,
        /// The round.
        round: Round,
        /// The proof-of-lock round.
        pol_round: Round,
        /// The proposer.
        proposer: Address,
    },
    /// A chunk of the encoded block.
    Data(Vec<u8>),
    /// The proposer's signature over the stream (see `signing::parts_preimage`).
    Fin([u8; 64]),
    /// Encoded transactions relayed by a peer (untrusted: each is admitted as a client's).
    Relay(Vec<Vec<u8>>),
}

impl core::ProposalPart<XlContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin(_))
    }
}
