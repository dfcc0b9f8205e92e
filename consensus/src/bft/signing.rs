//! Votes, proposals, proposal streams and validator proofs signed with the validators' SM2
//! keys (Malachite's `Signer` / `Verifier`).
//!
//! Every preimage starts with a domain tag and the chain id, so a signature made for one
//! kind of message, or for another chain, never verifies as another. A vote's preimage is a
//! pure function of (kind, height, round, value, voter): the engine rebuilds votes from a
//! certificate's (address, signature) pairs and checks them here. Extensions are disabled
//! and never signed.
//!
//! A bad signature is `Ok(Invalid)`; `Err` is kept for the signer's own failure (a card that
//! does not answer), which is never a verdict on the message.

use std::collections::HashMap;

use arc_malachitebft_app_channel::app::types::core::{
    NilOrVal, Round, SignedMessage, ValidatorProof, VoteExtensionScope, VoteType,
};
use arc_malachitebft_signing::{Error, Signer, VerificationResult, Verifier};
use async_trait::async_trait;
use xinlian_chain::PublicKey;

use super::context::XlContext;
use super::scheme::{Sm2PrivateKey, Sm2PublicKey, Sm2Signature};
use super::types::{Address, BlockHash, Height, Proposal, ValidatorSet, Vote};

const VOTE_TAG: &[u8] = b"xinlian/vote/v1";
const PROPOSAL_TAG: &[u8] = b"xinlian/proposal/v1";
const PARTS_TAG: &[u8] = b"xinlian/parts/v1";

fn start(tag: &[u8], chain_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(192);
    out.extend_from_slice(tag);
    // Chain ids are at most 64 bytes (chain::types::check_chain_id).
    out.push(u8::try_from(chain_id.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(chain_id.as_bytes());
    out
}

/// `Round::Nil` as 00, `Round::Some(r)` as 01 ‖ r:u32.
pub(crate) fn put_round(out: &mut Vec<u8>, round: Round) {
    match round.as_u32() {
        None => out.push(0),
        Some(r) => {
            out.push(1);
            out.extend_from_slice(&r.to_be_bytes());
        }
    }
}

/// Tag ‖ chain ‖ kind (00 prevote, 01 precommit) ‖ height:u64 ‖ round ‖ value (00 nil,
/// 01 ‖ hash) ‖ voter:65.
pub(crate) fn vote_preimage(chain_id: &str, vote: &Vote) -> Vec<u8> {
    let mut out = start(VOTE_TAG, chain_id);
    out.push(match vote.kind {
        VoteType::Prevote => 0,
        VoteType::Precommit => 1,
    });
    out.extend_from_slice(&vote.height.0.to_be_bytes());
    put_round(&mut out, vote.round);
    match &vote.value {
        NilOrVal::Nil => out.push(0),
        NilOrVal::Val(hash) => {
            out.push(1);
            out.extend_from_slice(&hash.0);
        }
    }
    out.extend_from_slice(&vote.voter.0);
    out
}

/// Tag ‖ chain ‖ height:u64 ‖ round ‖ hash ‖ pol_round ‖ proposer:65.
pub(crate) fn proposal_preimage(chain_id: &str, p: &Proposal) -> Vec<u8> {
    let mut out = start(PROPOSAL_TAG, chain_id);
    out.extend_from_slice(&p.height.0.to_be_bytes());
    put_round(&mut out, p.round);
    out.extend_from_slice(&p.value.0 .0);
    put_round(&mut out, p.pol_round);
    out.extend_from_slice(&p.proposer.0);
    out
}

/// What a proposal stream's `Fin` part signs: tag ‖ chain ‖ height:u64 ‖ round ‖ pol_round
/// ‖ block hash ‖ proposer:65. It binds the streamed block to the proposer of (height, round).
pub(crate) fn parts_preimage(
    chain_id: &str,
    height: Height,
    round: Round,
    pol_round: Round,
    hash: &BlockHash,
    proposer: &Address,
) -> Vec<u8> {
    let mut out = start(PARTS_TAG, chain_id);
    out.extend_from_slice(&height.0.to_be_bytes());
    put_round(&mut out, round);
    put_round(&mut out, pol_round);
    out.extend_from_slice(&hash.0);
    out.extend_from_slice(&proposer.0);
    out
}

/// Signs for this node's validator key.
#[derive(Clone)]
pub struct Sm2Signer {
    key: Sm2PrivateKey,
    chain_id: String,
}

impl Sm2Signer {
    /// A signer over `key` for `chain_id`.
    pub fn new(key: Sm2PrivateKey, chain_id: &str) -> Sm2Signer {
        Sm2Signer { key, chain_id: chain_id.to_string() }
    }

    /// This validator's address.
    pub fn address(&self) -> Address {
        Address(*self.key.0.public_key())
    }

    /// Sign raw bytes; a signer's failure is an error.
    pub(crate) fn sign_bytes(&self, msg: &[u8]) -> Result<Sm2Signature, Error> {
        self.key.0.try_sign(msg).map(Sm2Signature).map_err(Error::from_source)
    }

    /// The `Fin` signature of a proposal stream.
    pub(crate) fn sign_parts(
        &self,
        height: Height,
        round: Round,
        pol_round: Round,
        hash: &BlockHash,
    ) -> Result<Sm2Signature, Error> {
        self.sign_bytes(&parts_preimage(&self.chain_id, height, round, pol_round, hash, &self.address()))
    }
}

#[async_trait]
impl Signer<XlContext> for Sm2Signer {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<XlContext, Vote>, Error> {
        let signature = self.sign_bytes(&vote_preimage(&self.chain_id, &vote))?;
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(&self, proposal: Proposal) -> Result<SignedMessage<XlContext, Proposal>, Error> {
        let signature = self.sign_bytes(&proposal_preimage(&self.chain_id, &proposal))?;
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        _scope: VoteExtensionScope<XlContext>,
        _extension: (),
    ) -> Result<SignedMessage<XlContext, ()>, Error> {
        // Extensions are disabled in every height's parameters; the engine never asks.
        Err(Error::from_source("vote extensions are disabled on xinlian chains"))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<XlContext>, Error> {
        let signature = self.sign_bytes(&ValidatorProof::<XlContext>::signing_bytes(&public_key, &peer_id))?;
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Checks members' signatures. Holds the genesis set and, where genesis binds one, each
/// member's transport peer id: a proof for a key outside the set, or for a peer id other
/// than the one genesis binds, is `Invalid`, and the network layer drops that peer.
#[derive(Clone)]
pub struct Sm2Verifier {
    chain_id: String,
    validators: ValidatorSet,
    peer_ids: HashMap<PublicKey, Vec<u8>>,
}

impl Sm2Verifier {
    /// A verifier for `chain_id`'s `validators`; `peer_ids` maps members' keys to the peer
    /// id bytes genesis binds them to.
    pub fn new(chain_id: &str, validators: ValidatorSet, peer_ids: HashMap<PublicKey, Vec<u8>>) -> Sm2Verifier {
        Sm2Verifier { chain_id: chain_id.to_string(), validators, peer_ids }
    }

    /// Whether a stream's `Fin` signature is `proposer`'s (who must be a member).
    pub(crate) fn verify_parts(
        &self,
        height: Height,
        round: Round,
        pol_round: Round,
        hash: &BlockHash,
        proposer: &Address,
        signature: &Sm2Signature,
    ) -> bool {
        let Some(member) = self.validators.by_key(&proposer.0) else { return false };
        let msg = parts_preimage(&self.chain_id, height, round, pol_round, hash, proposer);
        member.public_key.verify_vartime(&msg, signature)
    }

    fn proof_is_valid(&self, proof: &ValidatorProof<XlContext>) -> bool {
        let Ok(key) = Sm2PublicKey::from_bytes(&proof.public_key) else { return false };
        if self.validators.by_key(key.bytes()).is_none() {
            return false;
        }
        if let Some(bound) = self.peer_ids.get(key.bytes()) {
            if bound != &proof.peer_id {
                return false;
            }
        }
        key.verify_vartime(&proof.preimage(), &proof.signature)
    }
}

#[async_trait]
impl Verifier<XlContext> for Sm2Verifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Sm2Signature,
        public_key: &Sm2PublicKey,
    ) -> Result<VerificationResult, Error> {
        let ok = public_key.verify_vartime(&vote_preimage(&self.chain_id, vote), signature);
        Ok(VerificationResult::from_bool(ok))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Sm2Signature,
        public_key: &Sm2PublicKey,
    ) -> Result<VerificationResult, Error> {
        let ok = public_key.verify_vartime(&proposal_preimage(&self.chain_id, proposal), signature);
        Ok(VerificationResult::from_bool(ok))
    }

    async fn verify_signed_vote_extension(
        &self,
        _scope: &VoteExtensionScope<XlContext>,
        _extension: &(),
        _signature: &Sm2Signature,
        _public_key: &Sm2PublicKey,
    ) -> Result<VerificationResult, Error> {
        // Extensions are disabled: none is ever valid.
        Ok(VerificationResult::Invalid)
    }

    async fn verify_validator_proof(&self, proof: &ValidatorProof<XlContext>) -> Result<VerificationResult, Error> {
        Ok(VerificationResult::from_bool(self.proof_is_valid(proof)))
    }
}
