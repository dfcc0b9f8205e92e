//! Proposal streams: a proposer's block cut into parts, and the parts reassembled on the
//! other side. Parts may arrive out of order and through different neighbours; a stream is
//! keyed by the peer that published it and its stream id.
//!
//! Bounded: at most [`MAX_STREAMS`] open streams and [`MAX_OPEN_BYTES`] of chunks in them (the
//! oldest streams are dropped first), at most [`MAX_PARTS`] parts in one.

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
/// Most chunk bytes held in open streams together: one largest stream and then some.
pub const MAX_OPEN_BYTES: usize = 72 << 20;
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
    bytes: usize,
}

/// Streams being assembled.
#[derive(Default)]
pub(crate) struct Streams {
    open: HashMap<(PeerId, Bytes), Stream>,
    order: VecDeque<(PeerId, Bytes)>,
    bytes: usize,
}

fn part_bytes(part: &ProposalPart) -> usize {
    match part {
        ProposalPart::Data(chunk) => chunk.len(),
        _ => 0,
    }
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
                if let Some(oldest) = self.order.front().cloned() {
                    self.remove(&oldest);
                }
            }
            self.order.push_back(key.clone());
        }
        let stream = self.open.entry(key.clone()).or_default();
        match msg.content {
            StreamContent::Data(part) => {
                let added = part_bytes(&part);
                if let Some(old) = stream.parts.insert(msg.sequence, part) {
                    // A part sent twice replaces itself: count it once.
                    stream.bytes -= part_bytes(&old);
                    self.bytes -= part_bytes(&old);
                }
                stream.bytes += added;
                self.bytes += added;
            }
            StreamContent::Fin => stream.end = Some(msg.sequence),
        }
        let complete = stream.end.is_some_and(|end| stream.parts.len() as u64 == end);
        if !complete {
            return self.shed(&key).map(|()| None);
        }
        let stream = self.remove(&key).unwrap_or_default();
        assemble(stream).map(Some)
    }

    fn remove(&mut self, key: &(PeerId, Bytes)) -> Option<Stream> {
        let stream = self.open.remove(key)?;
        self.order.retain(|k| k != key);
        self.bytes -= stream.bytes;
        Some(stream)
    }

    /// Over [`MAX_OPEN_BYTES`]: drop the oldest other streams, then this one.
    fn shed(&mut self, keep: &(PeerId, Bytes)) -> Result<(), String> {
        while self.bytes > MAX_OPEN_BYTES {
            let Some(oldest) = self.order.iter().find(|k| *k != keep).cloned() else {
                self.remove(keep);
                return Err(format!("the stream holds more than {MAX_OPEN_BYTES} bytes"));
            };
            self.remove(&oldest);
        }
        Ok(())
    }

    /// Forget every stream (a new height began; older proposals are of no use).
    pub(crate) fn clear(&mut self) {
        self.open.clear();
        self.order.clear();
        self.bytes = 0;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

    use xinlian_chain::Signer;

    use super::*;

    fn peer() -> PeerId {
        let id = arc_malachitebft_app_channel::app::types::Keypair::generate_ed25519().public().to_peer_id();
        PeerId::from_bytes(&id.to_bytes()).unwrap()
    }

    fn header() -> ProposalPart {
        let key = Signer::generate().unwrap();
        ProposalPart::Init {
            height: Height(7),
            round: Round::new(1),
            pol_round: Round::Nil,
            proposer: Address(*key.public_key()),
        }
    }

    fn stream(id: u8, block: &[u8]) -> Vec<StreamMessage<ProposalPart>> {
        stream_of(StreamId::new(Bytes::from(vec![id])), header(), block, [9; 64])
    }

    #[test]
    fn parts_in_any_order_give_back_the_block() {
        let block: Vec<u8> = (0..(CHUNK * 2 + 17)).map(|i| u8::try_from(i % 251).unwrap()).collect();
        let mut msgs = stream(1, &block);
        msgs.reverse();
        let (mut streams, from) = (Streams::default(), peer());
        let mut done = None;
        for m in msgs {
            if let Some(a) = streams.insert(from, m).unwrap() {
                done = Some(a);
            }
        }
        let a = done.unwrap();
        assert_eq!((a.height, a.round, a.block_bytes, a.signature), (Height(7), Round::new(1), block, [9; 64]));
        assert_eq!(streams.bytes, 0);
    }

    #[test]
    fn a_malformed_stream_is_refused_with_its_reason() {
        let mut msgs = stream(2, b"block");
        msgs.insert(1, StreamMessage::new(msgs[0].stream_id.clone(), 1, StreamContent::Data(header())));
        for (i, m) in msgs.iter_mut().enumerate() {
            m.sequence = i as u64;
        }
        let (mut streams, from) = (Streams::default(), peer());
        let results: Vec<_> = msgs.into_iter().map(|m| streams.insert(from, m)).collect();
        assert_eq!(results.last().unwrap().as_ref().unwrap_err(), "a second header in one stream");
        let relay = StreamMessage::new(
            StreamId::new(Bytes::from_static(b"x")),
            0,
            StreamContent::Data(ProposalPart::Relay(vec![])),
        );
        let fin = StreamMessage::new(StreamId::new(Bytes::from_static(b"x")), 1, StreamContent::Fin);
        assert!(streams.insert(from, relay).unwrap().is_none());
        assert!(streams.insert(from, fin).unwrap_err().contains("header"));
        let far = StreamMessage::new(StreamId::new(Bytes::from_static(b"y")), MAX_PARTS, StreamContent::Fin);
        assert!(streams.insert(from, far).unwrap_err().contains("limit"));
    }

    #[test]
    fn open_streams_stay_under_their_byte_and_count_bounds() {
        let (mut streams, from) = (Streams::default(), peer());
        // Unfinished streams of 1 MiB each: never more than the bound held.
        for id in 0..200u32 {
            let sid = StreamId::new(Bytes::from(id.to_be_bytes().to_vec()));
            streams.insert(from, StreamMessage::new(sid.clone(), 0, StreamContent::Data(header()))).unwrap();
            for seq in 1..5 {
                let chunk = ProposalPart::Data(vec![0; CHUNK]);
                streams.insert(from, StreamMessage::new(sid.clone(), seq, StreamContent::Data(chunk))).unwrap();
            }
            assert!(streams.bytes <= MAX_OPEN_BYTES && streams.open.len() <= MAX_STREAMS);
            assert_eq!(streams.bytes, streams.open.values().map(|s| s.bytes).sum::<usize>());
        }
        // One stream alone past the bound (in the largest chunks the codec takes) is dropped,
        // with the reason.
        let sid = StreamId::new(Bytes::from_static(b"big"));
        let mut last = Ok(None);
        for seq in 1..=(MAX_OPEN_BYTES / MAX_CHUNK + 1) as u64 {
            let chunk = ProposalPart::Data(vec![0; MAX_CHUNK]);
            last = streams.insert(from, StreamMessage::new(sid.clone(), seq, StreamContent::Data(chunk)));
        }
        assert!(last.unwrap_err().contains("more than"));
        assert_eq!(streams.bytes, streams.open.values().map(|s| s.bytes).sum::<usize>());
    }
}
