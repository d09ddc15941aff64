//! Identity keyrings: per member and per key generation, an X25519 key pair (sealing) and an
//! Ed25519 key pair (signing).
//!
//! The private halves travel only as a [`WrappedKeyring`]: XChaCha20-Poly1305 under the
//! password KEK (or the recovery secret's wrap key), with an AAD that binds the user id, the
//! generation and the purpose, so a wrapped keyring cannot be replayed for another user or
//! generation. The public halves form a [`PublicIdentity`], whose [`Fingerprint`] is shown to
//! people as a [`VerificationCode`] to compare out of band.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use crate::encoding::{Reader, Writer};
use crate::kdf::Kek;
use crate::{CryptoRng, Error, FORMAT_V1, Result, sha256, validate_id};

/// Length of an encoded [`PublicIdentity`] body without the id (version + generation + 2 keys).
const PUBLIC_KEYS_LEN: usize = 1 + 4 + 32 + 32;

/// A member's (or worker's) public keys for one key generation.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicIdentity {
    /// User (or worker) id the keys belong to.
    pub user_id: String,
    /// Key generation, starting at 1; a password reset creates generation + 1.
    pub generation: u32,
    /// X25519 public key (sealing target).
    pub x25519: [u8; 32],
    /// Ed25519 public key (signature verification).
    pub ed25519: [u8; 32],
}

impl core::fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PublicIdentity")
            .field("user_id", &self.user_id)
            .field("generation", &self.generation)
            .field("fingerprint", &self.fingerprint().to_hex())
            .finish()
    }
}

/// SHA-256 over the user id, generation and both public keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
    /// The human verification code for this fingerprint.
    pub fn verification_code(&self) -> VerificationCode {
        VerificationCode::from_fingerprint(self)
    }
}

impl core::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

/// Six groups of five digits (≈ 99.6 bits), read aloud by two people to compare keys.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerificationCode(String);

impl VerificationCode {
    /// `u128` from the fingerprint's first 16 bytes, reduced mod 10^30, printed as 6 × 5 digits.
    pub fn from_fingerprint(fp: &Fingerprint) -> Self {
        let mut first = [0u8; 16];
        first.copy_from_slice(&fp.0[..16]);
        Self(crate::digit_groups(u128::from_be_bytes(first), 6))
    }
    /// As displayed: `"01234 56789 …"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Compares with what a person typed, ignoring spaces, dashes and other separators.
    pub fn matches(&self, typed: &str) -> bool {
        crate::same_digits(&self.0, typed)
    }
}

impl core::fmt::Display for VerificationCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PublicIdentity {
    /// Checks the id and that the Ed25519 key is a valid, non-weak point.
    pub fn validate(&self) -> Result<()> {
        validate_id(&self.user_id)?;
        if self.generation == 0 {
            return Err(Error::Invalid("generation starts at 1"));
        }
        self.verifying_key().map(|_| ())
    }

    /// The Ed25519 verifying key (rejects weak / small-order keys).
    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        let vk = VerifyingKey::from_bytes(&self.ed25519).map_err(|_| Error::InvalidKey)?;
        if vk.is_weak() {
            return Err(Error::InvalidKey);
        }
        Ok(vk)
    }

    /// `SHA-256("vouchsafe/v1/fingerprint\0" ‖ str(user_id) ‖ u32 generation ‖ x25519 ‖ ed25519)`.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut w = Writer::with_label("vouchsafe/v1/fingerprint");
        w.str(&self.user_id).u32(self.generation).raw(&self.x25519).raw(&self.ed25519);
        Fingerprint(sha256(&[w.as_slice()]))
    }

    /// The verification code people compare.
    pub fn verification_code(&self) -> VerificationCode {
        self.fingerprint().verification_code()
    }

    /// Verifies a strict Ed25519 signature by this identity.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> Result<()> {
        let vk = self.verifying_key()?;
        vk.verify_strict(msg, &Signature::from_bytes(sig)).map_err(|_| Error::BadSignature)
    }

    /// Wire form without the id (the id travels beside it):
    /// `0x01 ‖ u32 generation ‖ x25519[32] ‖ ed25519[32]` (69 bytes).
    pub fn keys_to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(FORMAT_V1).u32(self.generation).raw(&self.x25519).raw(&self.ed25519);
        w.finish()
    }

    /// Parses [`Self::keys_to_bytes`] for `user_id`, validating everything.
    pub fn keys_from_bytes(user_id: &str, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != PUBLIC_KEYS_LEN {
            return Err(Error::Malformed("public keys"));
        }
        let mut r = Reader::new(bytes, "public keys");
        r.version(FORMAT_V1)?;
        let id = Self { user_id: user_id.to_owned(), generation: r.u32()?, x25519: r.array()?, ed25519: r.array()? };
        r.finish()?;
        id.validate()?;
        Ok(id)
    }

    /// Self-contained wire form: `0x01 ‖ u32 generation ‖ x25519 ‖ ed25519 ‖ str(user_id)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(&self.keys_to_bytes()).str(&self.user_id);
        w.finish()
    }

    /// Parses [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "public identity");
        let keys = r.take(PUBLIC_KEYS_LEN)?;
        let user_id = r.id()?;
        r.finish()?;
        Self::keys_from_bytes(&user_id, keys)
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.raw(&self.to_bytes());
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let keys = r.take(PUBLIC_KEYS_LEN)?;
        let user_id = r.id()?;
        Self::keys_from_bytes(&user_id, keys)
    }
}

/// A member's private keys for one generation. Zeroized on drop, redacted `Debug`, no `Serialize`.
pub struct Keyring {
    user_id: String,
    generation: u32,
    x25519: StaticSecret,
    ed25519: SigningKey,
}

impl core::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keyring")
            .field("user_id", &self.user_id)
            .field("generation", &self.generation)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

/// Why a keyring is wrapped; part of the AAD, so a wrap made for one purpose never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapPurpose {
    /// Under the password KEK.
    Password = 1,
    /// Under the recovery secret's wrap key.
    Recovery = 2,
    /// Under a key derived from a passkey's PRF output (`crate::passkey`).
    Passkey = 3,
}

/// Plaintext layout inside a wrap: x25519 secret ‖ ed25519 seed.
const KEYRING_PLAINTEXT_LEN: usize = 64;
/// Encoded wrapped keyring: version ‖ nonce[24] ‖ ciphertext[64 + 16].
pub const WRAPPED_KEYRING_LEN: usize = 1 + 24 + KEYRING_PLAINTEXT_LEN + 16;

/// A keyring encrypted under a 32-byte wrap key. Opaque to the server.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WrappedKeyring(Vec<u8>);

impl WrappedKeyring {
    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// Checks length and version (the server does this before storing).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != WRAPPED_KEYRING_LEN {
            return Err(Error::Malformed("wrapped keyring"));
        }
        if bytes[0] != FORMAT_V1 {
            return Err(Error::UnsupportedVersion { what: "wrapped keyring", version: bytes[0] });
        }
        Ok(Self(bytes.to_vec()))
    }
}

fn wrap_aad(user_id: &str, generation: u32, purpose: WrapPurpose) -> Vec<u8> {
    let mut w = Writer::with_label("vouchsafe/v1/keyring-wrap");
    w.u8(purpose as u8).str(user_id).u32(generation);
    w.finish()
}

impl Keyring {
    /// Generates fresh key pairs for `user_id` at `generation` (≥ 1).
    pub fn generate(user_id: &str, generation: u32, rng: &mut impl CryptoRng) -> Result<Self> {
        validate_id(user_id)?;
        if generation == 0 {
            return Err(Error::Invalid("generation starts at 1"));
        }
        Ok(Self {
            user_id: user_id.to_owned(),
            generation,
            x25519: StaticSecret::random_from_rng(rng),
            ed25519: SigningKey::generate(rng),
        })
    }

    /// Rebuilds a keyring from its secret bytes (x25519 secret, ed25519 seed).
    pub fn from_secret_bytes(user_id: &str, generation: u32, x25519: [u8; 32], ed25519_seed: [u8; 32]) -> Result<Self> {
        validate_id(user_id)?;
        let mut seed = ed25519_seed;
        let ed = SigningKey::from_bytes(&seed);
        seed.zeroize();
        Ok(Self { user_id: user_id.to_owned(), generation, x25519: StaticSecret::from(x25519), ed25519: ed })
    }

    /// User id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
    /// Key generation.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The public half.
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            user_id: self.user_id.clone(),
            generation: self.generation,
            x25519: XPublic::from(&self.x25519).to_bytes(),
            ed25519: self.ed25519.verifying_key().to_bytes(),
        }
    }

    /// Ed25519 signature.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.ed25519.sign(msg).to_bytes()
    }

    /// The X25519 secret as raw bytes (for HPKE). Named so every use is visible in review.
    pub(crate) fn expose_x25519(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.x25519.to_bytes())
    }

    /// The secret key bytes, `x25519_secret ‖ ed25519_seed`, for a worker's key file (which the
    /// operator stores like any other secret). Named so every use is visible in review.
    pub fn expose_secret_bytes(&self) -> Zeroizing<[u8; 64]> {
        let mut out = Zeroizing::new([0u8; 64]);
        out[..32].copy_from_slice(&self.x25519.to_bytes());
        out[32..].copy_from_slice(self.ed25519.as_bytes());
        out
    }

    /// Wraps under the password KEK.
    pub fn wrap(&self, kek: &Kek, rng: &mut impl CryptoRng) -> WrappedKeyring {
        self.wrap_with(kek.expose_secret(), WrapPurpose::Password, rng)
    }

    /// Unwraps with the password KEK; fails on a wrong password or a wrap of another user/generation.
    pub fn unwrap(wrapped: &WrappedKeyring, kek: &Kek, user_id: &str, generation: u32) -> Result<Self> {
        Self::unwrap_with(wrapped, kek.expose_secret(), WrapPurpose::Password, user_id, generation)
    }

    /// `0x01 ‖ nonce[24] ‖ XChaCha20-Poly1305(key, nonce, x25519 ‖ ed25519_seed, aad)`.
    pub(crate) fn wrap_with(&self, key: &[u8; 32], purpose: WrapPurpose, rng: &mut impl CryptoRng) -> WrappedKeyring {
        let mut nonce = [0u8; 24];
        rng.fill_bytes(&mut nonce);
        let mut pt = Zeroizing::new([0u8; KEYRING_PLAINTEXT_LEN]);
        pt[..32].copy_from_slice(&self.x25519.to_bytes());
        pt[32..].copy_from_slice(self.ed25519.as_bytes());
        let aad = wrap_aad(&self.user_id, self.generation, purpose);
        let cipher = XChaCha20Poly1305::new(key.into());
        // Encryption only fails for inputs longer than 2^38 bytes; ours is 64.
        let ct = cipher.encrypt(&XNonce::from(nonce), Payload { msg: &pt[..], aad: &aad }).unwrap_or_default();
        let mut out = Vec::with_capacity(WRAPPED_KEYRING_LEN);
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        WrappedKeyring(out)
    }

    pub(crate) fn unwrap_with(
        wrapped: &WrappedKeyring,
        key: &[u8; 32],
        purpose: WrapPurpose,
        user_id: &str,
        generation: u32,
    ) -> Result<Self> {
        validate_id(user_id)?;
        let wrapped = WrappedKeyring::from_bytes(&wrapped.0)?;
        let bytes = wrapped.as_bytes();
        let aad = wrap_aad(user_id, generation, purpose);
        let cipher = XChaCha20Poly1305::new(key.into());
        let pt = Zeroizing::new(
            cipher
                .decrypt(&crate::xnonce(&bytes[1..25])?, Payload { msg: &bytes[25..], aad: &aad })
                .map_err(|_| Error::Decrypt)?,
        );
        if pt.len() != KEYRING_PLAINTEXT_LEN {
            return Err(Error::Decrypt);
        }
        let mut x = [0u8; 32];
        let mut e = [0u8; 32];
        x.copy_from_slice(&pt[..32]);
        e.copy_from_slice(&pt[32..]);
        let k = Self::from_secret_bytes(user_id, generation, x, e);
        x.zeroize();
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::DeterministicRng;

    #[test]
    fn wrap_roundtrip_and_binding() {
        let mut rng = DeterministicRng::new(1);
        let k = Keyring::generate("alice", 1, &mut rng).unwrap();
        let kek = Kek::from_bytes([9; 32]);
        let w = k.wrap(&kek, &mut rng);
        let back = Keyring::unwrap(&w, &kek, "alice", 1).unwrap();
        assert_eq!(back.public(), k.public());
        assert_eq!(Keyring::unwrap(&w, &kek, "bob", 1).unwrap_err(), Error::Decrypt);
        assert_eq!(Keyring::unwrap(&w, &kek, "alice", 2).unwrap_err(), Error::Decrypt);
        assert!(Keyring::unwrap(&w, &Kek::from_bytes([8; 32]), "alice", 1).is_err());
        assert!(Keyring::unwrap_with(&w, &[9; 32], WrapPurpose::Recovery, "alice", 1).is_err());
        for i in 0..w.as_bytes().len() {
            let mut b = w.as_bytes().to_vec();
            b[i] ^= 0x01;
            let r = WrappedKeyring::from_bytes(&b).and_then(|w| Keyring::unwrap(&w, &kek, "alice", 1));
            assert!(r.is_err(), "flip at {i} accepted");
        }
        assert!(format!("{k:?}").contains("<redacted>"));
    }

    #[test]
    fn identity_encoding_and_code() {
        let mut rng = DeterministicRng::new(2);
        let p = Keyring::generate("alice", 3, &mut rng).unwrap().public();
        assert_eq!(PublicIdentity::from_bytes(&p.to_bytes()).unwrap(), p);
        let code = p.verification_code();
        assert_eq!(code.as_str().len(), 35);
        assert!(code.matches(&code.as_str().replace(' ', "-")));
        let mut q = p.clone();
        q.generation = 4;
        assert_ne!(q.verification_code(), code);
        let mut weak = p.clone();
        weak.ed25519 = [0; 32];
        weak.ed25519[0] = 1; // identity point: weak
        assert!(weak.validate().is_err());
    }
}
