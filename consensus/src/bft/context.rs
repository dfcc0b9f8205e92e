//! The Malachite context: which types the engine runs on, who proposes, and how proposals
//! and votes are built. Every method is a pure function of its arguments: the engine calls
//! `new_precommit` for other validators' addresses when it checks a certificate.

use arc_malachitebft_app_channel::app::types::core::{Context, LinearTimeouts, NilOrVal, Round, VoteType};

use super::scheme::Sm2Scheme;
use super::types::{Address, BlockHash, BlockRef, Height, Proposal, ProposalPart, Validator, ValidatorSet, Vote};

/// The xinlian chain's consensus context (a marker type; the validator set travels in
/// each height's parameters).
#[derive(Clone, Copy, Debug, Default)]
pub struct XlContext;

impl XlContext {
    /// Round-robin over the genesis order: validator `(h - 1 + r) mod n` proposes round `r`
    /// of height `h`, so each height starts with the next validator and a failed round
    /// moves on to the next one.
    pub fn proposer_index(set_len: usize, height: Height, round: Round) -> usize {
        let n = set_len.max(1) as u64;
        let r = u64::from(round.as_u32().unwrap_or(0));
        let h = height.0.saturating_sub(1);
        // The result is below n, which came from a usize.
        usize::try_from((h % n + r % n) % n).unwrap_or(0)
    }
}

impl Context for XlContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockRef;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Sm2Scheme;

    fn select_proposer<'a>(&self, set: &'a ValidatorSet, height: Height, round: Round) -> &'a Validator {
        let members = set.members();
        // ValidatorSet::new refuses an empty set, so the index is in range.
        &members[Self::proposer_index(members.len(), height, round)]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockRef,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal { height, round, value, pol_round, proposer: address }
    }

    fn new_prevote(&self, height: Height, round: Round, value_id: NilOrVal<BlockHash>, address: Address) -> Vote {
        Vote { kind: VoteType::Prevote, height, round, value: value_id, voter: address, extension: None }
    }

    fn new_precommit(&self, height: Height, round: Round, value_id: NilOrVal<BlockHash>, address: Address) -> Vote {
        Vote { kind: VoteType::Precommit, height, round, value: value_id, voter: address, extension: None }
    }
}
