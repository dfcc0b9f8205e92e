//! A cursor over untrusted bytes for the binary codecs: every read names its field.

use crate::error::ChainError;

/// A cursor over untrusted bytes: every read names its field in the error.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { bytes, pos: 0, what }
    }

    pub(crate) fn error(&self, msg: &str) -> ChainError {
        ChainError::Codec(format!("{}: {msg}", self.what))
    }

    pub(crate) fn bytes(&mut self, n: usize, field: &str) -> Result<&'a [u8], ChainError> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(self.error(&format!("{field}: needs {n} bytes at offset {}, only {left} left", self.pos)));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], ChainError> {
        let b = self.bytes(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &str) -> Result<u8, ChainError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &str) -> Result<u16, ChainError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &str) -> Result<u32, ChainError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &str) -> Result<u64, ChainError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.pos..];
        self.pos = self.bytes.len();
        out
    }

    pub(crate) fn finish(&self) -> Result<(), ChainError> {
        let left = self.bytes.len() - self.pos;
        if left == 0 {
            Ok(())
        } else {
            Err(self.error(&format!("{left} bytes left over after the last field")))
        }
    }
}
