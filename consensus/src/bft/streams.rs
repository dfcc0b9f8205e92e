//! Proposal streams: a proposer's block cut into parts, and the parts reassembled on the
//! other side. Parts may arrive out of order and through different neighbours; a stream is
//! keyed by the peer that published it and its stream id.
//!
//! Bounded: at most [`MAX_STREAMS`] open streams (the oldest is dropped), at most
//! [`MAX_PARTS`] parts in one.

use std::collections::{BTreeMap, HashMap, VecDeque};

use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::core::Round;
use arc_malachitebft_app_channel::app::types::PeerId;
use bytes::Bytes;

use super::codec::MAX_CHUNK;
use super::types::{Address, Height, ProposalPart};

/// Most streams being assembled at once.
pub(crate) const MAX_STREAMS: usize = 64;
/// Most parts in one stream (a 64 MiB block in 256 KiB chunks, plus header and signature).
pub(crate) const MAX_PARTS: u64 = 260;
/// The chunk size a proposer cuts blocks into.
pub(crate) const CHUNK: usize = 256 << 10;

const _: () = assert!(CHUNK <= MAX_CHUNK);

/// A whole proposal as its stream carried it.
#[derive(Debug)]
pub(crate) struct Assembled {
    pub(crate) height: Height,
    pub(crate) round: Round,
    pub(crate) pol_round: Round,
    pub(crate) proposer: Address,
    pub(crate) block_bytes: Vec<u8>,
    pub(crate) signature: [u8; 64],
}

#[derive(Default)]
struct Stream {
    parts: BTreeMap<u64, ProposalPart>,
    end: Option<u64>,
}

/// Streams being assembled.
#[derive(Default)]
pub(crate) struct Streams {
    open: HashMap<(PeerId, Bytes), Stream>,
    order: VecDeque<(PeerId, Bytes)>,
}

impl Streams {
    /// Take one message; the whole proposal once its last part is in. A malformed stream
    /// (no header first, a second header, parts past the end) is dropped, with the reason.
    pub(crate) fn insert(
        &mut self,
        publisher: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Result<Option<Assembled>, String> {
        if msg.sequence >= MAX_PARTS {
            return Err(format!("part {} is past the limit of {MAX_PARTS} parts", msg.sequence));
        }
        let key = (publisher, msg.stream_id.to_bytes());
        if !self.open.contains_key(&key) {
            if self.open.len() >= MAX_STREAMS {
                if let Some(oldest) = self.order.pop_front() {
                    self.open.remove(&oldest);
                }
            }
            self.order.push_back(key.clone());
        }
        let stream = self.open.entry(key.clone()).or_default();
        match msg.content {
            StreamContent::Data(part) => {
                stream.parts.insert(msg.sequence, part);
            }
            StreamContent::Fin => stream.end = Some(msg.sequence),
        }
        let complete = stream.end.is_some_and(|end| stream.parts.len() as u64 == end);
        if !complete {
            return Ok(None);
        }
        let stream = self.open.remove(&key).unwrap_or_default();
        self.order.retain(|k| k != &key);
        assemble(stream).map(Some)
    }

    /// Forget every stream (a new height began; older proposals are of no use).
    pub(crate) fn clear(&mut self) {
        self.open.clear();
        self.order.clear();
    }
}

fn assemble(stream: Stream) -> Result<Assembled, String> {
    let mut parts = stream.parts.into_values();
    let Some(ProposalPart::Init { height, round, pol_round, proposer }) = parts.next() else {
        return Err("the stream does not start with its header".into());
    };
    let mut block_bytes = Vec::new();
    let mut signature = None;
    for part in parts {
        match (part, signature) {
            (ProposalPart::Data(chunk), None) => block_bytes.extend_from_slice(&chunk),
            (ProposalPart::Fin(sig), None) => signature = Some(sig),
            (ProposalPart::Init { .. }, _) => return Err("a second header in one stream".into()),
            (ProposalPart::Relay(_), _) => return Err("a relay batch inside a proposal stream".into()),
            (_, Some(_)) => return Err("parts after the signature".into()),
        }
    }
    let signature = signature.ok_or("the stream has no signature part")?;
    Ok(Assembled { height, round, pol_round, proposer, block_bytes, signature })
}

/// The messages that stream `block_bytes` as (height, round)'s proposal: header, chunks,
/// signature, end.
pub(crate) fn stream_of(
    id: StreamId,
    header: ProposalPart,
    block_bytes: &[u8],
    signature: [u8; 64],
) -> Vec<StreamMessage<ProposalPart>> {
    let mut parts = vec![header];
    parts.extend(block_bytes.chunks(CHUNK).map(|c| ProposalPart::Data(c.to_vec())));
    parts.push(ProposalPart::Fin(signature));
    let mut out: Vec<_> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| StreamMessage::new(id.clone(), i as u64, StreamContent::Data(p)))
        .collect();
    out.push(StreamMessage::new(id, out.len() as u64, StreamContent::Fin));
    out
}
