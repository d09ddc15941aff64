//! Unpadded base64url, the encoding of every binary value in Vouchsafe's JSON.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{Error, Result};

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url, refusing inputs that would decode to more than `max_len` bytes
/// (checked before decoding, so an oversized input costs nothing).
pub fn decode(s: &str, max_len: usize) -> Result<Vec<u8>> {
    if s.len() > max_len.saturating_mul(4).div_ceil(3) {
        return Err(Error::Invalid("base64 value too long"));
    }
    URL_SAFE_NO_PAD.decode(s.as_bytes()).map_err(|_| Error::Malformed("base64url (unpadded)"))
}

/// Decodes unpadded base64url into exactly `N` bytes.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N]> {
    let v = decode(s, N)?;
    v.try_into().map_err(|_| Error::Invalid("wrong length"))
}
