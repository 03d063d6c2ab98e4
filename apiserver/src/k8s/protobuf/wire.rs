//! Low-level protobuf wire-format reader: varints, fixed-width numbers and
//! length-delimited slices over an untrusted byte buffer, with bounds checks.

use super::ProtobufError;

/// Protobuf wire types.
pub(crate) const VARINT: u8 = 0;
/// 64-bit fixed width.
pub(crate) const FIXED64: u8 = 1;
/// Length-delimited (strings, bytes, messages, packed repeated).
pub(crate) const LEN: u8 = 2;
/// 32-bit fixed width.
pub(crate) const FIXED32: u8 = 5;

/// A cursor over a protobuf-encoded message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Whether all bytes have been consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Reads a base-128 varint (at most 10 bytes).
    pub(crate) fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(ProtobufError::Truncated("varint"));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(ProtobufError::Malformed("varint overflows 64 bits".into()));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::Malformed(
            "varint longer than 10 bytes".into(),
        ))
    }

    /// Reads a field key: (field number, wire type).
    pub(crate) fn key(&mut self) -> Result<(u32, u8), ProtobufError> {
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| {
            ProtobufError::Malformed(format!("field number {} out of range", key >> 3))
        })?;
        if tag == 0 {
            return Err(ProtobufError::Malformed("field number 0".into()));
        }
        Ok((tag, (key & 7) as u8))
    }

    /// Reads `n` raw bytes.
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtobufError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(ProtobufError::Truncated(what))?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or(ProtobufError::Truncated(what))?;
        self.pos = end;
        Ok(out)
    }

    /// Reads a length-delimited slice.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], ProtobufError> {
        let len = self.varint()?;
        let len =
            usize::try_from(len).map_err(|_| ProtobufError::Truncated("length-delimited field"))?;
        self.take(len, "length-delimited field")
    }

    /// Reads a little-endian 64-bit value.
    pub(crate) fn fixed64(&mut self) -> Result<u64, ProtobufError> {
        let b = self.take(8, "fixed64")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Skips a value of wire type `wire_type`.
    pub(crate) fn skip(&mut self, wire_type: u8) -> Result<(), ProtobufError> {
        match wire_type {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8, "fixed64").map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => self.take(4, "fixed32").map(drop),
            other => Err(ProtobufError::Malformed(format!(
                "unsupported wire type {other}"
            ))),
        }
    }
}
