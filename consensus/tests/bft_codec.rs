//! The consensus codec: every message round-trips, and any other bytes are an error that
//! names the field, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a failed unwrap is a failed test")]

use arc_malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use arc_malachitebft_app_channel::app::types::core::{
    Context as _, ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature,
    Round, RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use arc_malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use arc_malachitebft_app_channel::app::types::PeerId;
use arc_malachitebft_sync::{ValueRequest, ValueResponse};
use bytes::Bytes;
use proptest::prelude::*;
use xinlian_consensus::bft::codec::XlCodec;
use xinlian_consensus::bft::context::XlContext;
use xinlian_consensus::bft::scheme::Sm2Signature;
use xinlian_consensus::bft::types::{Address, BlockHash, BlockRef, Height, ProposalPart};

fn addr(b: u8) -> Address {
    let mut a = [b; 65];
    a[0] = 4;
    Address(a)
}

fn sig(b: u8) -> Sm2Signature {
    Sm2Signature([b; 64])
}

/// Encode, decode, compare; then every cut and a trailing byte must fail.
fn check<T>(msg: T) -> Bytes
where
    T: std::fmt::Debug + PartialEq,
    XlCodec: Codec<T>,
{
    let bytes = XlCodec.encode(&msg).expect("encodes");
    assert_eq!(XlCodec.decode(bytes.clone()).expect("decodes"), msg);
    for cut in 0..bytes.len() {
        assert!(Codec::<T>::decode(&XlCodec, bytes.slice(..cut)).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    let e = Codec::<T>::decode(&XlCodec, Bytes::from(longer)).unwrap_err().to_string();
    assert!(e.contains("left over"), "{e}");
    bytes
}

fn vote(kind: VoteType, value: NilOrVal<BlockHash>) -> SignedMessage<XlContext, xinlian_consensus::bft::types::Vote> {
    let v = match kind {
        VoteType::Prevote => XlContext.new_prevote(Height(3), Round::new(2), value, addr(1)),
        VoteType::Precommit => XlContext.new_precommit(Height(3), Round::new(2), value, addr(1)),
    };
    SignedMessage::new(v, sig(9))
}

#[test]
fn every_message_round_trips() {
    check(SignedConsensusMsg::Vote(vote(VoteType::Prevote, NilOrVal::Nil)));
    check(SignedConsensusMsg::Vote(vote(VoteType::Precommit, NilOrVal::Val(BlockHash([5; 32])))));
    let p = XlContext.new_proposal(Height(8), Round::new(1), BlockRef(BlockHash([2; 32])), Round::new(0), addr(3));
    check(SignedConsensusMsg::<XlContext>::Proposal(SignedMessage::new(p, sig(4))));
    check(LivenessMsg::Vote(vote(VoteType::Prevote, NilOrVal::Nil)));
    let polka = PolkaCertificate {
        height: Height(4),
        round: Round::new(0),
        value_id: BlockHash([1; 32]),
        polka_signatures: vec![PolkaSignature { address: addr(1), signature: sig(1) }],
    };
    check(polka.clone());
    check(LivenessMsg::PolkaCertificate(polka));
    check(LivenessMsg::<XlContext>::SkipRoundCertificate(RoundCertificate {
        height: Height(4),
        round: Round::new(3),
        cert_type: RoundCertificateType::Skip,
        round_signatures: vec![
            RoundSignature {
                vote_type: VoteType::Prevote,
                value_id: NilOrVal::Nil,
                address: addr(1),
                signature: sig(2),
            },
            RoundSignature {
                vote_type: VoteType::Precommit,
                value_id: NilOrVal::Val(BlockHash([6; 32])),
                address: addr(2),
                signature: sig(3),
            },
        ],
    }));
    let init = ProposalPart::Init { height: Height(2), round: Round::new(0), pol_round: Round::Nil, proposer: addr(7) };
    check(init.clone());
    check(ProposalPart::Data(vec![1, 2, 3]));
    check(ProposalPart::Fin([8; 64]));
    let id = StreamId::new(Bytes::from_static(b"stream"));
    check(StreamMessage::new(id.clone(), 0, StreamContent::Data(init)));
    check(StreamMessage::<ProposalPart>::new(id, 5, StreamContent::Fin));
    check(ValidatorProof::<XlContext>::new(vec![4; 65], b"peer".to_vec(), sig(5)));
    let peer = PeerId::from_bytes(&[0, 4, 1, 2, 3, 4]).expect("an identity multihash");
    check(Status::<XlContext> { peer_id: peer, tip_height: Height(10), history_min_height: Height(1) });
    check(Request::<XlContext>::ValueRequest(ValueRequest::new(Height(3)..=Height(7))));
    let cert = ExtendedCommitCertificate {
        height: Height(3),
        round: Round::new(1),
        value_id: BlockHash([4; 32]),
        commit_signatures: vec![ExtendedCommitSignature { address: addr(2), signature: sig(6), extension: None }],
    };
    let response = Response::ValueResponse(ValueResponse::new(
        Height(3),
        vec![RawDecidedValue::new(Bytes::from_static(b"a block"), cert)],
    ));
    let bytes = check(response.clone());
    assert_eq!(XlCodec.encoded_len(&response).expect("a length"), bytes.len());
    check(ProposedValue::<XlContext> {
        height: Height(3),
        round: Round::new(0),
        valid_round: Round::Nil,
        proposer: addr(1),
        value: BlockRef(BlockHash([9; 32])),
        validity: Validity::Invalid,
    });
}

#[test]
fn bad_bytes_name_the_field() {
    let good = XlCodec.encode(&SignedConsensusMsg::Vote(vote(VoteType::Prevote, NilOrVal::Nil))).expect("encodes");
    let mut wrong_version = good.to_vec();
    wrong_version[0] = 9;
    let e = Codec::<SignedConsensusMsg<XlContext>>::decode(&XlCodec, Bytes::from(wrong_version)).unwrap_err();
    assert!(e.to_string().contains("version"), "{e}");
    let mut wrong_kind = good.to_vec();
    wrong_kind[2] = 7;
    let e = Codec::<SignedConsensusMsg<XlContext>>::decode(&XlCodec, Bytes::from(wrong_kind)).unwrap_err();
    assert!(e.to_string().contains("vote.kind"), "{e}");
    // A count far past the limit is refused before anything is allocated for it.
    let mut polka = XlCodec
        .encode(&PolkaCertificate::<XlContext> {
            height: Height(1),
            round: Round::new(0),
            value_id: BlockHash([0; 32]),
            polka_signatures: vec![],
        })
        .expect("encodes")
        .to_vec();
    let n = polka.len();
    polka[n - 4..].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = Codec::<PolkaCertificate<XlContext>>::decode(&XlCodec, Bytes::from(polka)).unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let b = Bytes::from(bytes);
        let _ = Codec::<SignedConsensusMsg<XlContext>>::decode(&XlCodec, b.clone());
        let _ = Codec::<LivenessMsg<XlContext>>::decode(&XlCodec, b.clone());
        let _ = Codec::<StreamMessage<ProposalPart>>::decode(&XlCodec, b.clone());
        let _ = Codec::<ValidatorProof<XlContext>>::decode(&XlCodec, b.clone());
        let _ = Codec::<Status<XlContext>>::decode(&XlCodec, b.clone());
        let _ = Codec::<Request<XlContext>>::decode(&XlCodec, b.clone());
        let _ = Codec::<Response<XlContext>>::decode(&XlCodec, b.clone());
        let _ = Codec::<ProposedValue<XlContext>>::decode(&XlCodec, b);
    }
}
