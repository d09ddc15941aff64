//! Passkey unlock: one more wrapped copy of a keyring (purpose 3), under a key derived from the
//! output of a passkey's WebAuthn PRF extension.
//!
//! ```text
//! prf_input = SHA256(label("vouchsafe/v1/passkey-prf-input"))          (eval.first, constant)
//! wrap_key  = HKDF-SHA256(salt = "vouchsafe/v1/passkey-wrap", ikm = prf_output[32],
//!                         info = credential_id)
//! wrap      = the keyring wrap of PROTOCOL §2 with purpose 3
//! ```
//!
//! The PRF output never leaves the client; the server keeps the wrap beside the credential and
//! hands it out after a verified assertion of that credential. The input is a constant so a
//! server cannot make the client evaluate its passkey on inputs of the server's choosing; the
//! credential id in the HKDF info keeps one credential's wrap from opening under another's key.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::encoding::Writer;
use crate::identity::{Keyring, WrapPurpose, WrappedKeyring};
use crate::{CryptoRng, Error, Result, hkdf, sha256};

/// Longest credential id WebAuthn allows (bytes).
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// The PRF input (`eval.first`) every Vouchsafe client asks its passkey for.
pub fn prf_input() -> [u8; 32] {
    sha256(&[&Writer::with_label("vouchsafe/v1/passkey-prf-input").finish()])
}

/// A passkey's PRF output (32 bytes). Zeroized on drop; `Debug` redacted.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrfOutput([u8; 32]);

impl PrfOutput {
    /// From the bytes the authenticator returned (`results.first`); must be 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let b: [u8; 32] = bytes.try_into().map_err(|_| Error::Malformed("PRF output (32 bytes)"))?;
        Ok(Self(b))
    }
}

impl std::fmt::Debug for PrfOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrfOutput(<redacted>)")
    }
}

fn checked(credential_id: &[u8]) -> Result<()> {
    if credential_id.is_empty() || credential_id.len() > MAX_CREDENTIAL_ID_LEN {
        return Err(Error::Malformed("credential id (1 to 1023 bytes)"));
    }
    Ok(())
}

fn wrap_key(prf: &PrfOutput, credential_id: &[u8]) -> zeroize::Zeroizing<[u8; 32]> {
    zeroize::Zeroizing::new(hkdf(b"vouchsafe/v1/passkey-wrap", &prf.0, &[credential_id]))
}

impl Keyring {
    /// Wraps the keyring for unlocking with the passkey `credential_id` (purpose 3).
    pub fn wrap_for_passkey(
        &self,
        prf: &PrfOutput,
        credential_id: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<WrappedKeyring> {
        checked(credential_id)?;
        Ok(self.wrap_with(&wrap_key(prf, credential_id), WrapPurpose::Passkey, rng))
    }

    /// Opens a passkey wrap; fails for another credential, PRF output, user or generation.
    pub fn unwrap_with_passkey(
        wrapped: &WrappedKeyring,
        prf: &PrfOutput,
        credential_id: &[u8],
        user_id: &str,
        generation: u32,
    ) -> Result<Self> {
        checked(credential_id)?;
        Self::unwrap_with(wrapped, &wrap_key(prf, credential_id), WrapPurpose::Passkey, user_id, generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kdf::Kek;
    use crate::testing::DeterministicRng;

    #[test]
    fn binds_credential_output_and_purpose() {
        let mut rng = DeterministicRng::new(7);
        let k = Keyring::generate("alice", 1, &mut rng).unwrap();
        let prf = PrfOutput::from_slice(&[5; 32]).unwrap();
        let w = k.wrap_for_passkey(&prf, b"cred-1", &mut rng).unwrap();
        let back = Keyring::unwrap_with_passkey(&w, &prf, b"cred-1", "alice", 1).unwrap();
        assert_eq!(back.public(), k.public());
        assert!(Keyring::unwrap_with_passkey(&w, &prf, b"cred-2", "alice", 1).is_err());
        assert!(
            Keyring::unwrap_with_passkey(&w, &PrfOutput::from_slice(&[6; 32]).unwrap(), b"cred-1", "alice", 1).is_err()
        );
        assert!(Keyring::unwrap_with_passkey(&w, &prf, b"cred-1", "alice", 2).is_err());
        assert!(Keyring::unwrap_with_passkey(&w, &prf, b"cred-1", "bob", 1).is_err());
        // The same key bytes as a password KEK: the purpose in the AAD refuses it.
        let kek = Kek::from_bytes(*wrap_key(&prf, b"cred-1"));
        assert!(Keyring::unwrap(&w, &kek, "alice", 1).is_err());
        assert!(k.wrap_for_passkey(&prf, b"", &mut rng).is_err());
        assert!(PrfOutput::from_slice(&[1; 31]).is_err());
        assert!(format!("{prf:?}").contains("redacted"));
    }
}
