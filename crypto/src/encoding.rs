//! Canonical, deterministic binary encoding used for AADs, signature inputs and wire formats.
//!
//! Integers are big-endian; variable-length byte strings and ids carry a `u16` length prefix;
//! fixed-size values (keys, hashes, signatures) are written raw. Every signing or AAD input
//! starts with a NUL-terminated ASCII label, so no two purposes can share an input.

use crate::{Error, Result};

/// Longest id (user, account, item, worker) accepted anywhere, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Checks that an id is 1..=64 bytes of `[A-Za-z0-9_-]`.
pub fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(Error::Invalid("id must be 1 to 64 characters"));
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(Error::Invalid("id may contain only A-Z, a-z, 0-9, '-' and '_'"));
    }
    Ok(())
}

#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_label(label: &str) -> Self {
        let mut w = Self::new();
        w.label(label);
        w
    }
    pub fn label(&mut self, label: &str) -> &mut Self {
        self.buf.extend_from_slice(label.as_bytes());
        self.buf.push(0);
        self
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// `u16` length prefix + bytes. Callers bound lengths well below 65 535.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        let len = u16::try_from(v.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(&v[..usize::from(len)]);
        self
    }
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }
    fn err(&self) -> Error {
        Error::Malformed(self.what)
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(self.err());
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        s.try_into().map_err(|_| self.err())
    }
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = u16::from_be_bytes(self.array()?);
        self.take(usize::from(len))
    }
    /// A length-prefixed id; validated with [`validate_id`].
    pub fn id(&mut self) -> Result<String> {
        let b = self.bytes()?;
        let s = core::str::from_utf8(b).map_err(|_| self.err())?;
        validate_id(s).map_err(|_| self.err())?;
        Ok(s.to_owned())
    }
    /// Expects a specific version byte.
    pub fn version(&mut self, expected: u8) -> Result<()> {
        let v = self.u8()?;
        if v != expected {
            return Err(Error::UnsupportedVersion { what: self.what, version: v });
        }
        Ok(())
    }
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }
    /// Fails unless every byte was consumed (no trailing garbage: one value, one encoding).
    pub fn finish(self) -> Result<()> {
        if self.buf.is_empty() { Ok(()) } else { Err(self.err()) }
    }
}
