//! SM2 signing of votes, proposals and validator proofs: what verifies and what does not.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a failed unwrap is a failed test")]

use std::collections::HashMap;
use std::sync::Arc;

use arc_malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, Context as _, NilOrVal, Round, ValidatorProof,
};
use arc_malachitebft_app_channel::{Signer as _, Verifier as _, VerifierExt as _};
use xinlian_chain::Signer;
use xinlian_consensus::bft::context::XlContext;
use xinlian_consensus::bft::scheme::{Sm2PrivateKey, Sm2PublicKey};
use xinlian_consensus::bft::signing::{Sm2Signer, Sm2Verifier};
use xinlian_consensus::bft::types::{Address, BlockHash, BlockRef, Height, Validator, ValidatorSet};

struct Net {
    signers: Vec<Sm2Signer>,
    set: ValidatorSet,
}

fn net(n: usize, chain: &str) -> Net {
    let keys: Vec<Signer> = (0..n).map(|_| Signer::generate().expect("key")).collect();
    let set = ValidatorSet::new(
        keys.iter()
            .map(|k| Validator {
                address: Address(*k.public_key()),
                public_key: Sm2PublicKey::from_bytes(k.public_key()).expect("key"),
                power: 1,
            })
            .collect(),
    )
    .expect("a set");
    let signers = keys.into_iter().map(|k| Sm2Signer::new(Sm2PrivateKey(Arc::new(k)), chain)).collect();
    Net { signers, set }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

#[test]
fn votes_verify_only_for_their_own_content_key_and_chain() {
    rt().block_on(async {
        let n = net(2, "chain-a");
        let verifier = Sm2Verifier::new("chain-a", n.set.clone(), HashMap::new());
        let other_chain = Sm2Verifier::new("chain-b", n.set.clone(), HashMap::new());
        let me = n.signers[0].address();
        let vote = XlContext.new_precommit(Height(5), Round::new(1), NilOrVal::Val(BlockHash([7; 32])), me);
        let signed = n.signers[0].sign_vote(vote.clone()).await.expect("signs");
        let key = n.set.members()[0].public_key;
        let other_key = n.set.members()[1].public_key;
        assert!(verifier.verify_signed_vote(&vote, &signed.signature, &key).await.unwrap().is_valid());
        assert!(verifier.verify_signed_vote(&vote, &signed.signature, &other_key).await.unwrap().is_invalid());
        assert!(other_chain.verify_signed_vote(&vote, &signed.signature, &key).await.unwrap().is_invalid());
        let changed = [
            XlContext.new_prevote(Height(5), Round::new(1), NilOrVal::Val(BlockHash([7; 32])), me),
            XlContext.new_precommit(Height(6), Round::new(1), NilOrVal::Val(BlockHash([7; 32])), me),
            XlContext.new_precommit(Height(5), Round::new(2), NilOrVal::Val(BlockHash([7; 32])), me),
            XlContext.new_precommit(Height(5), Round::new(1), NilOrVal::Nil, me),
            XlContext.new_precommit(Height(5), Round::new(1), NilOrVal::Val(BlockHash([8; 32])), me),
        ];
        for v in changed {
            assert!(verifier.verify_signed_vote(&v, &signed.signature, &key).await.unwrap().is_invalid(), "{v:?}");
        }
        let proposal = XlContext.new_proposal(Height(5), Round::new(0), BlockRef(BlockHash([1; 32])), Round::Nil, me);
        let sp = n.signers[0].sign_proposal(proposal.clone()).await.expect("signs");
        assert!(verifier.verify_signed_proposal(&proposal, &sp.signature, &key).await.unwrap().is_valid());
        // A vote's signature never passes as a proposal's (domain tags differ).
        assert!(verifier.verify_signed_proposal(&proposal, &signed.signature, &key).await.unwrap().is_invalid());
    });
}

#[test]
fn a_commit_certificate_needs_two_thirds_of_good_signatures() {
    rt().block_on(async {
        let n = net(4, "chain-a");
        let verifier = Sm2Verifier::new("chain-a", n.set.clone(), HashMap::new());
        let value = BlockHash([3; 32]);
        let mut sigs = Vec::new();
        for s in &n.signers {
            let v = XlContext.new_precommit(Height(9), Round::new(0), NilOrVal::Val(value), s.address());
            sigs.push(CommitSignature::new(s.address(), s.sign_vote(v).await.expect("signs").signature));
        }
        let cert = |sigs: Vec<CommitSignature<XlContext>>| CommitCertificate {
            height: Height(9),
            round: Round::new(0),
            value_id: value,
            commit_signatures: sigs,
        };
        let threshold = Default::default();
        assert!(verifier
            .verify_commit_certificate(&XlContext, &cert(sigs[..3].to_vec()), &n.set, threshold)
            .await
            .is_ok());
        assert!(verifier
            .verify_commit_certificate(&XlContext, &cert(sigs[..2].to_vec()), &n.set, threshold)
            .await
            .is_err());
        let mut forged = sigs[..3].to_vec();
        forged[2].signature = forged[1].signature;
        assert!(verifier.verify_commit_certificate(&XlContext, &cert(forged), &n.set, threshold).await.is_err());
    });
}

#[test]
fn a_validator_proof_holds_only_for_a_member_and_its_bound_peer() {
    rt().block_on(async {
        let n = net(2, "chain-a");
        let outsider = net(1, "chain-a");
        let me = n.signers[0].address();
        let mut bound = HashMap::new();
        bound.insert(me.0, b"peer-0".to_vec());
        let verifier = Sm2Verifier::new("chain-a", n.set.clone(), bound);
        let proof = n.signers[0].sign_validator_proof(me.0.to_vec(), b"peer-0".to_vec()).await.expect("signs");
        assert!(verifier.verify_validator_proof(&proof).await.unwrap().is_valid());
        let wrong_peer = n.signers[0].sign_validator_proof(me.0.to_vec(), b"peer-9".to_vec()).await.expect("signs");
        assert!(verifier.verify_validator_proof(&wrong_peer).await.unwrap().is_invalid());
        let stranger = outsider.signers[0].address();
        let theirs = outsider.signers[0].sign_validator_proof(stranger.0.to_vec(), b"p".to_vec()).await.expect("signs");
        assert!(verifier.verify_validator_proof(&theirs).await.unwrap().is_invalid(), "a key outside genesis");
        let stolen = ValidatorProof::new(me.0.to_vec(), b"peer-0".to_vec(), theirs.signature);
        assert!(
            verifier.verify_validator_proof(&stolen).await.unwrap().is_invalid(),
            "a member's key, another's signature"
        );
        let garbage = ValidatorProof::new(vec![4; 10], b"peer-0".to_vec(), proof.signature);
        assert!(verifier.verify_validator_proof(&garbage).await.unwrap().is_invalid());
    });
}

#[test]
fn proposers_take_turns_by_height_and_round() {
    let n = net(4, "c");
    let members = n.set.members();
    let pick = |h, r| XlContext.select_proposer(&n.set, Height(h), Round::new(r)).address;
    assert_eq!(pick(1, 0), members[0].address);
    assert_eq!(pick(2, 0), members[1].address);
    assert_eq!(pick(5, 0), members[0].address);
    assert_eq!(pick(1, 1), members[1].address);
    assert_eq!(pick(4, 3), members[2].address);
    assert_eq!(XlContext::proposer_index(4, Height(u64::MAX), Round::new(u32::MAX)), 1, "no overflow at the ends");
}
