//! Encryption at rest of what the *server* must read back itself — queued e-mail bodies, whose
//! links carry single-use tokens — under a key file kept beside the server's other keys (never in
//! the database). Not for user data: the server holds this key.
//!
//! ```text
//! blob = 0x01 ‖ nonce[24] ‖ XChaCha20-Poly1305(key, nonce, plaintext, label(purpose) ‖ bytes(context))
//! ```
//!
//! The context (e.g. the outbox row id and the part) binds a blob to its place: one moved to
//! another row or part does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use zeroize::Zeroizing;

use crate::encoding::{Reader, Writer};
use crate::{CryptoRng, Error, FORMAT_V1, Result};

fn aad(purpose: &str, context: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_label(purpose);
    w.raw(context);
    w.finish()
}

/// Encrypts `plaintext` under `key` for `purpose` (a constant label) and `context`.
pub fn seal(
    key: &[u8; 32],
    purpose: &str,
    context: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.into());
    let ct = cipher
        .encrypt(&chacha20poly1305::XNonce::from(nonce), Payload { msg: plaintext, aad: &aad(purpose, context) })
        .map_err(|_| Error::Invalid("too long to seal"))?;
    let mut out = Vec::with_capacity(1 + 24 + ct.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts a [`seal`]ed blob; fails for another key, purpose or context, or any change.
pub fn open(key: &[u8; 32], purpose: &str, context: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut r = Reader::new(blob, "sealed at rest");
    r.version(FORMAT_V1)?;
    let nonce: [u8; 24] = r.array()?;
    let ct = r.rest();
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(&chacha20poly1305::XNonce::from(nonce), Payload { msg: ct, aad: &aad(purpose, context) })
        .map(Zeroizing::new)
        .map_err(|_| Error::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::DeterministicRng;

    #[test]
    fn binds_key_purpose_and_context() {
        let mut rng = DeterministicRng::new(3);
        let key = [7u8; 32];
        let blob = seal(&key, "vouchsafe/v1/outbox", b"row1/text", b"reset #token=abc", &mut rng).unwrap();
        assert_eq!(&open(&key, "vouchsafe/v1/outbox", b"row1/text", &blob).unwrap()[..], b"reset #token=abc");
        assert!(open(&[8u8; 32], "vouchsafe/v1/outbox", b"row1/text", &blob).is_err());
        assert!(open(&key, "vouchsafe/v1/other", b"row1/text", &blob).is_err());
        assert!(open(&key, "vouchsafe/v1/outbox", b"row2/text", &blob).is_err());
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 1;
            assert!(open(&key, "vouchsafe/v1/outbox", b"row1/text", &b).is_err(), "flip at {i}");
        }
        assert!(!blob.windows(5).any(|w| w == b"token"), "no plaintext in the blob");
    }
}
