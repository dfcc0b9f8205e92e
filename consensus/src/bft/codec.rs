//! The one codec for everything Malachite sends or stores: gossip, sync and the WAL.
//!
//! Hand-written, canonical, bounded: each message starts with a version byte ([`VERSION`]),
//! every count and length has a limit, and bytes left over are an error. WAL entries are
//! this codec's bytes, so a change here must keep reading version 1 (MALACHITE.md §8).
//! Vote extensions are disabled on xinlian chains: one on the wire is refused.

use arc_malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use arc_malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, PolkaSignature, Round, RoundCertificate,
    RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use arc_malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use arc_malachitebft_app_channel::app::types::PeerId;
use arc_malachitebft_sync::{ValueRequest, ValueResponse};
use bytes::Bytes;

use super::context::XlContext;
use super::scheme::Sm2Signature;
use super::types::{Address, BlockHash, BlockRef, Height, Proposal, ProposalPart, Vote};
use super::wire::{Reader, Writer};
use crate::error::ConsensusError;

/// The version byte every message starts with.
pub const VERSION: u8 = 1;
/// The most signatures a certificate may carry (far above any consortium's validator count).
pub const MAX_SIGNERS: usize = 1024;
/// The largest chunk of a block in one proposal part (below gossip's 4 MiB message limit).
pub const MAX_CHUNK: usize = 1 << 20;
/// The largest encoded block a sync response may carry.
pub const MAX_BLOCK: usize = 64 << 20;
/// The most blocks in one sync response.
pub const MAX_SYNC_VALUES: usize = 1024;
/// The most transactions in one relayed batch.
pub const MAX_RELAY_TXS: usize = 4096;
/// The largest relayed transaction (far above any the node admits).
pub const MAX_RELAY_TX: usize = 256 << 10;
/// Longest stream id, peer id and proof key.
const MAX_ID: usize = 128;

/// The codec (one type for network, sync and WAL).
#[derive(Clone, Copy, Debug, Default)]
pub struct XlCodec;

type Ctx = XlContext;

fn put_vote(w: &mut Writer, v: &SignedMessage<Ctx, Vote>) {
    let vote = &v.message;
    w.u8(match vote.kind {
        VoteType::Prevote => 0,
        VoteType::Precommit => 1,
    });
    w.height(vote.height);
    w.round(vote.round);
    w.nil_or_hash(&vote.value);
    w.address(&vote.voter);
    w.signature(&v.signature);
}

fn get_vote_type(r: &mut Reader<'_>, field: &str) -> Result<VoteType, ConsensusError> {
    match r.u8(field)? {
        0 => Ok(VoteType::Prevote),
        1 => Ok(VoteType::Precommit),
        t => Err(r.bad(field, format_args!("vote type {t} is neither 0 (prevote) nor 1 (precommit)"))),
    }
}

fn get_vote(r: &mut Reader<'_>) -> Result<SignedMessage<Ctx, Vote>, ConsensusError> {
    let kind = get_vote_type(r, "vote.kind")?;
    let height = r.height("vote.height")?;
    let round = r.round("vote.round")?;
    let value = r.nil_or_hash("vote.value")?;
    let voter = r.address("vote.voter")?;
    let signature = r.signature("vote.signature")?;
    Ok(SignedMessage::new(Vote { kind, height, round, value, voter, extension: None }, signature))
}

fn put_proposal(w: &mut Writer, p: &SignedMessage<Ctx, Proposal>) {
    let m = &p.message;
    w.height(m.height);
    w.round(m.round);
    w.hash(&m.value.0);
    w.round(m.pol_round);
    w.address(&m.proposer);
    w.signature(&p.signature);
}

fn get_proposal(r: &mut Reader<'_>) -> Result<SignedMessage<Ctx, Proposal>, ConsensusError> {
    let height = r.height("proposal.height")?;
    let round = r.round("proposal.round")?;
    let value = BlockRef(r.hash("proposal.value")?);
    let pol_round = r.round("proposal.pol_round")?;
    let proposer = r.address("proposal.proposer")?;
    let signature = r.signature("proposal.signature")?;
    Ok(SignedMessage::new(Proposal { height, round, value, pol_round, proposer }, signature))
}

fn put_part(w: &mut Writer, p: &ProposalPart) {
    match p {
        ProposalPart::Init { height, round, pol_round, proposer } => {
            w.u8(0);
            w.height(*height);
            w.round(*round);
            w.round(*pol_round);
            w.address(proposer);
        }
        ProposalPart::Data(chunk) => {
            w.u8(1);
            w.bytes(chunk);
        }
        ProposalPart::Fin(sig) => {
            w.u8(2);
            w.raw(sig);
        }
        ProposalPart::Relay(txs) => {
            w.u8(3);
            w.count(txs.len());
            for tx in txs {
                w.bytes(tx);
            }
        }
    }
}

fn get_part(r: &mut Reader<'_>) -> Result<ProposalPart, ConsensusError> {
    match r.u8("part.tag")? {
        0 => Ok(ProposalPart::Init {
            height: r.height("part.init.height")?,
            round: r.round("part.init.round")?,
            pol_round: r.round("part.init.pol_round")?,
            proposer: r.address("part.init.proposer")?,
        }),
        1 => Ok(ProposalPart::Data(r.bytes(MAX_CHUNK, "part.data")?.to_vec())),
        2 => Ok(ProposalPart::Fin(r.array("part.fin.signature")?)),
        3 => {
            let n = r.count(MAX_RELAY_TXS, "part.relay.count")?;
            let mut txs = Vec::with_capacity(n);
            for _ in 0..n {
                txs.push(r.bytes(MAX_RELAY_TX, "part.relay.tx")?.to_vec());
            }
            Ok(ProposalPart::Relay(txs))
        }
        t => Err(r.bad("part.tag", format_args!("{t} is not 0 (init), 1 (data), 2 (fin) or 3 (relay)"))),
    }
}

fn put_polka(w: &mut Writer, c: &PolkaCertificate<Ctx>) {
    w.height(c.height);
    w.round(c.round);
    w.hash(&c.value_id);
    w.count(c.polka_signatures.len());
    for s in &c.polka_signatures {
        w.address(&s.address);
        w.signature(&s.signature);
    }
}

fn get_polka(r: &mut Reader<'_>) -> Result<PolkaCertificate<Ctx>, ConsensusError> {
    let height = r.height("polka.height")?;
    let round = r.round("polka.round")?;
    let value_id = r.hash("polka.value")?;
    let n = r.count(MAX_SIGNERS, "polka.signatures")?;
    let mut polka_signatures = Vec::with_capacity(n);
    for _ in 0..n {
        let address = r.address("polka.address")?;
        let signature = r.signature("polka.signature")?;
        polka_signatures.push(PolkaSignature { address, signature });
    }
    Ok(PolkaCertificate { height, round, value_id, polka_signatures })
}

fn put_round_cert(w: &mut Writer, c: &RoundCertificate<Ctx>) {
    w.height(c.height);
    w.round(c.round);
    w.u8(match c.cert_type {
        RoundCertificateType::Skip => 0,
        RoundCertificateType::Precommit => 1,
    });
    w.count(c.round_signatures.len());
    for s in &c.round_signatures {
        w.u8(match s.vote_type {
            VoteType::Prevote => 0,
            VoteType::Precommit => 1,
        });
        w.nil_or_hash(&s.value_id);
        w.address(&s.address);
        w.signature(&s.signature);
    }
}

fn get_round_cert(r: &mut Reader<'_>) -> Result<RoundCertificate<Ctx>, ConsensusError> {
    let height = r.height("round_cert.height")?;
    let round = r.round("round_cert.round")?;
    let cert_type = match r.u8("round_cert.type")? {
        0 => RoundCertificateType::Skip,
        1 => RoundCertificateType::Precommit,
        t => return Err(r.bad("round_cert.type", format_args!("{t} is neither 0 (skip) nor 1 (precommit)"))),
    };
    let n = r.count(MAX_SIGNERS, "round_cert.signatures")?;
    let mut round_signatures = Vec::with_capacity(n);
    for _ in 0..n {
        let vote_type = get_vote_type(r, "round_cert.vote_type")?;
        let value_id = r.nil_or_hash("round_cert.value")?;
        let address = r.address("round_cert.address")?;
        let signature = r.signature("round_cert.signature")?;
        round_signatures.push(RoundSignature { vote_type, value_id, address, signature });
    }
    Ok(RoundCertificate { height, round, cert_type, round_signatures })
}

fn put_commit_cert(w: &mut Writer, c: &ExtendedCommitCertificate<Ctx>) {
    w.height(c.height);
    w.round(c.round);
    w.hash(&c.value_id);
    w.count(c.commit_signatures.len());
    for s in &c.commit_signatures {
        w.address(&s.address);
        w.signature(&s.signature);
    }
}

fn get_commit_cert(r: &mut Reader<'_>) -> Result<ExtendedCommitCertificate<Ctx>, ConsensusError> {
    let height = r.height("commit_cert.height")?;
    let round = r.round("commit_cert.round")?;
    let value_id = r.hash("commit_cert.value")?;
    let n = r.count(MAX_SIGNERS, "commit_cert.signatures")?;
    let mut commit_signatures = Vec::with_capacity(n);
    for _ in 0..n {
        let address = r.address("commit_cert.address")?;
        let signature = r.signature("commit_cert.signature")?;
        commit_signatures.push(ExtendedCommitSignature { address, signature, extension: None });
    }
    Ok(ExtendedCommitCertificate { height, round, value_id, commit_signatures })
}

/// The engine's form of a chain certificate (signers are named by key; extensions are
/// disabled, so none is lost).
pub(crate) fn plain_commit_cert_from_chain(c: &xinlian_chain::CommitCertificate) -> ExtendedCommitCertificate<Ctx> {
    ExtendedCommitCertificate {
        height: Height(c.height),
        round: Round::new(c.round),
        value_id: BlockHash(c.block_hash),
        commit_signatures: c
            .signatures
            .iter()
            .map(|s| ExtendedCommitSignature {
                address: Address(s.validator),
                signature: Sm2Signature(s.signature),
                extension: None,
            })
            .collect(),
    }
}

fn get_peer(r: &mut Reader<'_>, field: &str) -> Result<PeerId, ConsensusError> {
    let bytes = r.bytes(MAX_ID, field)?;
    PeerId::from_bytes(bytes).map_err(|e| r.bad(field, e))
}

/// Implements `Codec<$t>` from a writer and a reader function.
macro_rules! codec {
    ($t:ty, $what:literal, |$w:ident, $m:ident| $put:block, |$r:ident| $get:block) => {
        impl Codec<$t> for XlCodec {
            type Error = ConsensusError;

            fn decode(&self, bytes: Bytes) -> Result<$t, ConsensusError> {
                let mut $r = Reader::new(&bytes, $what);
                $r.version(VERSION)?;
                let out = $get;
                $r.finish()?;
                Ok(out)
            }

            fn encode(&self, $m: &$t) -> Result<Bytes, ConsensusError> {
                let mut $w = Writer::default();
                $w.u8(VERSION);
                $put;
                Ok(Bytes::from($w.0))
            }
        }
    };
}

codec!(ProposalPart, "proposal part", |w, m| { put_part(&mut w, m) }, |r| { get_part(&mut r)? });

codec!(
    StreamMessage<ProposalPart>,
    "proposal stream message",
    |w, m| {
        w.bytes(&m.stream_id.to_bytes());
        w.u64(m.sequence);
        match &m.content {
            StreamContent::Data(part) => {
                w.u8(0);
                put_part(&mut w, part);
            }
            StreamContent::Fin => w.u8(1),
        }
    },
    |r| {
        let stream_id = StreamId::new(Bytes::copy_from_slice(r.bytes(MAX_ID, "stream.id")?));
        let sequence = r.u64("stream.sequence")?;
        let content = match r.u8("stream.content")? {
            0 => StreamContent::Data(get_part(&mut r)?),
            1 => StreamContent::Fin,
            t => return Err(r.bad("stream.content", format_args!("{t} is neither 0 (data) nor 1 (fin)"))),
        };
        StreamMessage::new(stream_id, sequence, content)
    }
);

codec!(
    SignedConsensusMsg<Ctx>,
    "consensus message",
    |w, m| {
        match m {
            SignedConsensusMsg::Vote(v) => {
                if v.message.extension.is_some() {
                    return Err(ConsensusError::Decode("vote: extensions are disabled on xinlian chains".into()));
                }
                w.u8(0);
                put_vote(&mut w, v);
            }
            SignedConsensusMsg::Proposal(p) => {
                w.u8(1);
                put_proposal(&mut w, p);
            }
        }
    },
    |r| {
        match r.u8("consensus.tag")? {
            0 => SignedConsensusMsg::Vote(get_vote(&mut r)?),
            1 => SignedConsensusMsg::Proposal(get_proposal(&mut r)?),
            t => return Err(r.bad("consensus.tag", format_args!("{t} is neither 0 (vote) nor 1 (proposal)"))),
        }
    }
);

codec!(
    LivenessMsg<Ctx>,
    "liveness message",
    |w, m| {
        match m {
            LivenessMsg::Vote(v) => {
                w.u8(0);
                put_vote(&mut w, v);
            }
            LivenessMsg::PolkaCertificate(c) => {
                w.u8(1);
                put_polka(&mut w, c);
            }
            LivenessMsg::SkipRoundCertificate(c) => {
                w.u8(2);
                put_round_cert(&mut w, c);
            }
        }
    },
    |r| {
        match r.u8("liveness.tag")? {
            0 => LivenessMsg::Vote(get_vote(&mut r)?),
            1 => LivenessMsg::PolkaCertificate(get_polka(&mut r)?),
            2 => LivenessMsg::SkipRoundCertificate(get_round_cert(&mut r)?),
            t => return Err(r.bad("liveness.tag", format_args!("{t} is not 0, 1 or 2"))),
        }
    }
);

codec!(
    ValidatorProof<Ctx>,
    "validator proof",
    |w, m| {
        w.bytes(&m.public_key);
        w.bytes(&m.peer_id);
        w.raw(&m.signature.0);
    },
    |r| {
        let public_key = r.bytes(MAX_ID, "proof.public_key")?.to_vec();
        let peer_id = r.bytes(MAX_ID, "proof.peer_id")?.to_vec();
        let signature = r.signature("proof.signature")?;
        ValidatorProof::new(public_key, peer_id, signature)
    }
);

codec!(
    Status<Ctx>,
    "sync status",
    |w, m| {
        w.bytes(&m.peer_id.to_bytes());
        w.height(m.tip_height);
        w.height(m.history_min_height);
    },
    |r| {
        Status {
            peer_id: get_peer(&mut r, "status.peer_id")?,
            tip_height: r.height("status.tip")?,
            history_min_height: r.height("status.history_min")?,
        }
    }
);

codec!(
    Request<Ctx>,
    "sync request",
    |w, m| {
        let Request::ValueRequest(req) = m;
        w.u8(0);
        w.height(*req.range.start());
        w.height(*req.range.end());
    },
    |r| {
        if r.u8("request.tag")? != 0 {
            return Err(r.bad("request.tag", "only 0 (value request) exists"));
        }
        let start = r.height("request.start")?;
        let end = r.height("request.end")?;
        Request::ValueRequest(ValueRequest::new(start..=end))
    }
);

fn put_response(w: &mut Writer, m: &Response<Ctx>) {
    let Response::ValueResponse(resp) = m;
    w.u8(0);
    w.height(resp.start_height);
    w.count(resp.values.len());
    for v in &resp.values {
        w.bytes(&v.value_bytes);
        put_commit_cert(w, &v.certificate);
    }
}

codec!(Response<Ctx>, "sync response", |w, m| { put_response(&mut w, m) }, |r| {
    if r.u8("response.tag")? != 0 {
        return Err(r.bad("response.tag", "only 0 (value response) exists"));
    }
    let start_height = r.height("response.start")?;
    let n = r.count(MAX_SYNC_VALUES, "response.values")?;
    let mut values = Vec::with_capacity(n.min(16));
    for _ in 0..n {
        let value_bytes = Bytes::copy_from_slice(r.bytes(MAX_BLOCK, "response.block")?);
        let certificate = get_commit_cert(&mut r)?;
        values.push(RawDecidedValue::new(value_bytes, certificate));
    }
    Response::ValueResponse(ValueResponse::new(start_height, values))
});

impl HasEncodedLen<Response<Ctx>> for XlCodec {
    fn encoded_len(&self, msg: &Response<Ctx>) -> Result<usize, ConsensusError> {
        let Response::ValueResponse(resp) = msg;
        // version, tag, start, count; per value: length, bytes, cert head, signatures.
        Ok(1 + 1
            + 8
            + 4
            + resp
                .values
                .iter()
                .map(|v| 4 + v.value_bytes.len() + 8 + 5 + 32 + 4 + v.certificate.commit_signatures.len() * (65 + 64))
                .sum::<usize>())
    }
}

codec!(
    ProposedValue<Ctx>,
    "proposed value",
    |w, m| {
        w.height(m.height);
        w.round(m.round);
        w.round(m.valid_round);
        w.address(&m.proposer);
        w.hash(&m.value.0);
        w.u8(u8::from(m.validity.is_valid()));
    },
    |r| {
        ProposedValue {
            height: r.height("value.height")?,
            round: r.round("value.round")?,
            valid_round: r.round("value.valid_round")?,
            proposer: r.address("value.proposer")?,
            value: BlockRef(r.hash("value.hash")?),
            validity: match r.u8("value.validity")? {
                0 => Validity::Invalid,
                1 => Validity::Valid,
                t => return Err(r.bad("value.validity", format_args!("{t} is neither 0 nor 1"))),
            },
        }
    }
);

codec!(PolkaCertificate<Ctx>, "polka certificate", |w, m| { put_polka(&mut w, m) }, |r| { get_polka(&mut r)? });
