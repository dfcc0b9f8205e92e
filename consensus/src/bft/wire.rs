//! Byte-level helpers for the consensus codec: a writer, and a reader that bounds every
//! length and names the field that is wrong when bytes from a peer or the WAL do not decode.
//!
//! Integers are big-endian. A round is 00 (nil) or 01 ‖ u32.

use arc_malachitebft_app_channel::app::types::core::{NilOrVal, Round};

use super::scheme::Sm2Signature;
use super::types::{Address, BlockHash, Height};
use crate::error::ConsensusError;

/// Appends fields.
#[derive(Debug, Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn raw(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }
    /// A length (u32) then the bytes. Every caller's bytes are bounded far below 2^32.
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.raw(v);
    }
    pub(crate) fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    pub(crate) fn height(&mut self, h: Height) {
        self.u64(h.0);
    }
    pub(crate) fn round(&mut self, r: Round) {
        match r.as_u32() {
            None => self.u8(0),
            Some(r) => {
                self.u8(1);
                self.u32(r);
            }
        }
    }
    pub(crate) fn address(&mut self, a: &Address) {
        self.raw(&a.0);
    }
    pub(crate) fn hash(&mut self, h: &BlockHash) {
        self.raw(&h.0);
    }
    pub(crate) fn signature(&mut self, s: &Sm2Signature) {
        self.raw(&s.0);
    }
    pub(crate) fn nil_or_hash(&mut self, v: &NilOrVal<BlockHash>) {
        match v {
            NilOrVal::Nil => self.u8(0),
            NilOrVal::Val(h) => {
                self.u8(1);
                self.hash(h);
            }
        }
    }
}

/// Reads fields from bytes that may be anything.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { bytes, pos: 0, what }
    }

    pub(crate) fn bad(&self, field: &str, why: impl std::fmt::Display) -> ConsensusError {
        ConsensusError::Decode(format!("{} at byte {}: {field}: {why}", self.what, self.pos))
    }

    pub(crate) fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], ConsensusError> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(self.bad(field, format_args!("needs {n} bytes, {left} left")));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], ConsensusError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &str) -> Result<u8, ConsensusError> {
        Ok(self.array::<1>(field)?[0])
    }
    pub(crate) fn u32(&mut self, field: &str) -> Result<u32, ConsensusError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }
    pub(crate) fn u64(&mut self, field: &str) -> Result<u64, ConsensusError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub(crate) fn bytes(&mut self, max: usize, field: &str) -> Result<&'a [u8], ConsensusError> {
        let n = self.count(max, field)?;
        self.take(n, field)
    }

    /// A count of at most `max`.
    pub(crate) fn count(&mut self, max: usize, field: &str) -> Result<usize, ConsensusError> {
        let n = usize::try_from(self.u32(field)?).unwrap_or(usize::MAX);
        if n > max {
            return Err(self.bad(field, format_args!("{n} is more than the limit {max}")));
        }
        Ok(n)
    }

    pub(crate) fn height(&mut self, field: &str) -> Result<Height, ConsensusError> {
        self.u64(field).map(Height)
    }

    pub(crate) fn round(&mut self, field: &str) -> Result<Round, ConsensusError> {
        match self.u8(field)? {
            0 => Ok(Round::Nil),
            1 => {
                let r = self.u32(field)?;
                // Round::new takes u32 but the engine works in i64; anything past i32 is nonsense.
                if r > i32::MAX as u32 {
                    return Err(self.bad(field, format_args!("round {r} is out of range")));
                }
                Ok(Round::new(r))
            }
            t => Err(self.bad(field, format_args!("round tag {t} is neither 0 (nil) nor 1"))),
        }
    }

    pub(crate) fn address(&mut self, field: &str) -> Result<Address, ConsensusError> {
        let a = self.array::<65>(field)?;
        if a[0] != 0x04 {
            return Err(self.bad(field, "an address is an uncompressed SM2 key (starts 04)"));
        }
        Ok(Address(a))
    }

    pub(crate) fn hash(&mut self, field: &str) -> Result<BlockHash, ConsensusError> {
        self.array(field).map(BlockHash)
    }

    pub(crate) fn signature(&mut self, field: &str) -> Result<Sm2Signature, ConsensusError> {
        self.array(field).map(Sm2Signature)
    }

    pub(crate) fn nil_or_hash(&mut self, field: &str) -> Result<NilOrVal<BlockHash>, ConsensusError> {
        match self.u8(field)? {
            0 => Ok(NilOrVal::Nil),
            1 => self.hash(field).map(NilOrVal::Val),
            t => Err(self.bad(field, format_args!("value tag {t} is neither 0 (nil) nor 1"))),
        }
    }

    /// The message's version byte, which must be `want`.
    pub(crate) fn version(&mut self, want: u8) -> Result<(), ConsensusError> {
        let v = self.u8("version")?;
        if v != want {
            return Err(self.bad("version", format_args!("{v}, this node reads {want}")));
        }
        Ok(())
    }

    /// All bytes were read.
    pub(crate) fn finish(self) -> Result<(), ConsensusError> {
        let left = self.bytes.len() - self.pos;
        if left != 0 {
            return Err(self.bad("end", format_args!("{left} bytes left over")));
        }
        Ok(())
    }
}
