//! Sealing: HPKE (RFC 9180) Base mode, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
//! ChaCha20Poly1305, to a recipient's X25519 key.
//!
//! A *signed* seal also carries the sealer's Ed25519 signature over
//! `label ‖ info ‖ AAD ‖ enc ‖ ciphertext`, so the server can check who sealed what without any
//! secret ([`verify_master_key_seal`]) and the recipient refuses a seal not made by the member
//! the AAD names. An *anonymous* seal (no signature) is used only where the sender has no
//! identity key: the server releasing its recovery share to a client's ephemeral key.
//!
//! `info` is a constant per [`SealPurpose`]; the AAD binds the context (for the master key:
//! account, key version, recipient user/generation/fingerprint and sealer user/generation/fingerprint).

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

use crate::encoding::{Reader, Writer};
use crate::identity::{Keyring, PublicIdentity};
use crate::{CryptoRng, Error, Result, secret_bytes, validate_id};

type Kem = X25519HkdfSha256;

/// Suite byte of a signed seal (HPKE X25519/HKDF-SHA256/ChaCha20Poly1305 + Ed25519 signature).
pub const SUITE_SIGNED_V1: u8 = 0x01;
/// Suite byte of an anonymous seal (same HPKE suite, no signature).
pub const SUITE_ANON_V1: u8 = 0x02;
/// Largest plaintext accepted for sealing.
pub const MAX_SEAL_PLAINTEXT: usize = 1024;

/// What a seal is for; selects the HPKE `info` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealPurpose {
    /// An account master key (one key version) to a member or worker.
    MasterKey,
    /// A recovery-kit guardian share to a colleague.
    GuardianShare,
    /// A recovery share released (by the server or a guardian) to a recovering client's ephemeral key.
    ShareRelease,
    /// A deposit's content key, sealed by a third-party provider to an account's inbox key.
    Deposit,
}

impl SealPurpose {
    /// The HPKE `info` string.
    pub fn info(self) -> &'static [u8] {
        match self {
            Self::MasterKey => b"vouchsafe/v1/seal/master-key",
            Self::GuardianShare => b"vouchsafe/v1/seal/guardian-share",
            Self::ShareRelease => b"vouchsafe/v1/seal/share-release",
            Self::Deposit => b"vouchsafe/v1/seal/deposit",
        }
    }
}

/// An HPKE-sealed payload: `suite ‖ enc[32] ‖ (signature[64] if signed) ‖ ciphertext`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Sealed {
    suite: u8,
    enc: [u8; 32],
    signature: Option<[u8; 64]>,
    ciphertext: Vec<u8>,
}

impl Sealed {
    /// Encodes to bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(self.suite).raw(&self.enc);
        if let Some(sig) = &self.signature {
            w.raw(sig);
        }
        w.raw(&self.ciphertext);
        w.finish()
    }

    /// Decodes, checking suite and lengths.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "sealed blob");
        let suite = r.u8()?;
        let enc = r.array()?;
        let signature = match suite {
            SUITE_SIGNED_V1 => Some(r.array()?),
            SUITE_ANON_V1 => None,
            v => return Err(Error::UnsupportedVersion { what: "seal suite", version: v }),
        };
        let ciphertext = r.rest().to_vec();
        if ciphertext.len() < 16 || ciphertext.len() > MAX_SEAL_PLAINTEXT + 16 {
            return Err(Error::Malformed("sealed blob"));
        }
        Ok(Self { suite, enc, signature, ciphertext })
    }

    /// Whether this seal carries a sealer signature.
    pub fn is_signed(&self) -> bool {
        self.signature.is_some()
    }

    /// SHA-256 of the encoding; the team log's "key sealed" entries carry it.
    pub fn hash(&self) -> [u8; 32] {
        crate::sha256(&[b"vouchsafe/v1/sealed-hash\0", &self.to_bytes()])
    }
}

fn signature_input(purpose: SealPurpose, aad: &[u8], enc: &[u8; 32], ct: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_label("vouchsafe/v1/seal-signature");
    w.bytes(purpose.info()).bytes(aad).raw(enc).bytes(ct);
    w.finish()
}

fn hpke_seal(
    purpose: SealPurpose,
    recipient_x25519: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<([u8; 32], Vec<u8>)> {
    if plaintext.len() > MAX_SEAL_PLAINTEXT {
        return Err(Error::Invalid("plaintext too long to seal"));
    }
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(recipient_x25519).map_err(|_| Error::InvalidKey)?;
    let (encapped, ct) = hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeS::Base,
        &pk,
        purpose.info(),
        plaintext,
        aad,
        rng,
    )
    .map_err(|_| Error::InvalidKey)?;
    let enc: [u8; 32] = encapped.to_bytes().as_slice().try_into().map_err(|_| Error::InvalidKey)?;
    Ok((enc, ct))
}

fn hpke_open(
    purpose: SealPurpose,
    recipient_secret: &[u8; 32],
    aad: &[u8],
    enc: &[u8; 32],
    ct: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(recipient_secret).map_err(|_| Error::InvalidKey)?;
    let encapped = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| Error::Decrypt)?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(&OpModeR::Base, &sk, &encapped, purpose.info(), ct, aad)
        .map(Zeroizing::new)
        .map_err(|_| Error::Decrypt)
}

/// Seals `plaintext` to `recipient` and signs it with `sealer`.
pub fn seal_signed(
    purpose: SealPurpose,
    recipient: &PublicIdentity,
    aad: &[u8],
    plaintext: &[u8],
    sealer: &Keyring,
    rng: &mut impl CryptoRng,
) -> Result<Sealed> {
    let (enc, ciphertext) = hpke_seal(purpose, &recipient.x25519, aad, plaintext, rng)?;
    let signature = sealer.sign(&signature_input(purpose, aad, &enc, &ciphertext));
    Ok(Sealed { suite: SUITE_SIGNED_V1, enc, signature: Some(signature), ciphertext })
}

/// Checks the sealer's signature (strict Ed25519). Needs no secret.
pub fn verify_signed(purpose: SealPurpose, aad: &[u8], sealed: &Sealed, sealer: &PublicIdentity) -> Result<()> {
    let sig = sealed.signature.as_ref().ok_or(Error::BadSignature)?;
    sealer.verify(&signature_input(purpose, aad, &sealed.enc, &sealed.ciphertext), sig)
}

/// Verifies the signature, then opens with `me`'s X25519 key.
pub fn open_signed(
    purpose: SealPurpose,
    aad: &[u8],
    sealed: &Sealed,
    sealer: &PublicIdentity,
    me: &Keyring,
) -> Result<Zeroizing<Vec<u8>>> {
    verify_signed(purpose, aad, sealed, sealer)?;
    hpke_open(purpose, &me.expose_x25519(), aad, &sealed.enc, &sealed.ciphertext)
}

/// Seals without a signature, to a bare X25519 public key.
pub fn seal_anonymous(
    purpose: SealPurpose,
    recipient_x25519: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Sealed> {
    let (enc, ciphertext) = hpke_seal(purpose, recipient_x25519, aad, plaintext, rng)?;
    Ok(Sealed { suite: SUITE_ANON_V1, enc, signature: None, ciphertext })
}

/// Opens an anonymous seal with an [`EphemeralKey`].
pub fn open_anonymous(
    purpose: SealPurpose,
    aad: &[u8],
    sealed: &Sealed,
    key: &EphemeralKey,
) -> Result<Zeroizing<Vec<u8>>> {
    open_anonymous_with(purpose, aad, sealed, key.expose_secret())
}

/// Opens an anonymous seal with a raw X25519 secret (an ephemeral key, an inbox key).
pub(crate) fn open_anonymous_with(
    purpose: SealPurpose,
    aad: &[u8],
    sealed: &Sealed,
    secret: &[u8; 32],
) -> Result<Zeroizing<Vec<u8>>> {
    if sealed.is_signed() {
        return Err(Error::Malformed("expected an anonymous seal"));
    }
    hpke_open(purpose, secret, aad, &sealed.enc, &sealed.ciphertext)
}

secret_bytes!(
    /// A one-off X25519 secret made by a client to receive one anonymous seal (server-share release).
    EphemeralKey, 32
);

/// The verification code of an ephemeral public key: a guardian compares it with the code on the
/// recovering member's screen before releasing a share to that key.
pub fn ephemeral_code(public: &[u8; 32]) -> crate::identity::VerificationCode {
    let fp = crate::identity::Fingerprint(crate::sha256(&[b"vouchsafe/v1/ephemeral-fingerprint\0", public]));
    fp.verification_code()
}

impl EphemeralKey {
    /// The X25519 public key to send to the sealer.
    pub fn public(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*self.expose_secret())).to_bytes()
    }
}

secret_bytes!(
    /// The 32 secret bytes of one account master key version.
    MasterKeyBytes, 32
);

/// An account master key: 32 random bytes per (account, key version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKey {
    /// Key version, starting at 1, incremented by each rotation.
    pub version: u32,
    /// The key.
    pub key: MasterKeyBytes,
}

impl MasterKey {
    /// A fresh random master key for `version`.
    pub fn generate(version: u32, rng: &mut impl CryptoRng) -> Result<Self> {
        if version == 0 {
            return Err(Error::Invalid("key versions start at 1"));
        }
        Ok(Self { version, key: MasterKeyBytes::random(rng) })
    }
}

/// The AAD of a master-key seal:
/// `"vouchsafe/v1/master-key-aad\0" ‖ str(account) ‖ u32 version ‖ str(recipient) ‖ u32 gen ‖ fp[32]
///  ‖ str(sealer) ‖ u32 gen ‖ fp[32]`.
pub fn master_key_aad(
    account_id: &str,
    key_version: u32,
    recipient: &PublicIdentity,
    sealer: &PublicIdentity,
) -> Result<Vec<u8>> {
    validate_id(account_id)?;
    let mut w = Writer::with_label("vouchsafe/v1/master-key-aad");
    w.str(account_id)
        .u32(key_version)
        .str(&recipient.user_id)
        .u32(recipient.generation)
        .raw(&recipient.fingerprint().0)
        .str(&sealer.user_id)
        .u32(sealer.generation)
        .raw(&sealer.fingerprint().0);
    Ok(w.finish())
}

/// Seals a master key version to `recipient`, signed by `sealer`.
pub fn seal_master_key(
    mk: &MasterKey,
    account_id: &str,
    recipient: &PublicIdentity,
    sealer: &Keyring,
    rng: &mut impl CryptoRng,
) -> Result<Sealed> {
    let aad = master_key_aad(account_id, mk.version, recipient, &sealer.public())?;
    seal_signed(SealPurpose::MasterKey, recipient, &aad, mk.key.expose_secret(), sealer, rng)
}

/// What the server runs before storing a master-key seal: the signature must be by `sealer` over
/// exactly this account, version and recipient.
pub fn verify_master_key_seal(
    sealed: &Sealed,
    account_id: &str,
    key_version: u32,
    recipient: &PublicIdentity,
    sealer: &PublicIdentity,
) -> Result<()> {
    let aad = master_key_aad(account_id, key_version, recipient, sealer)?;
    verify_signed(SealPurpose::MasterKey, &aad, sealed, sealer)
}

/// Opens a master-key seal addressed to `me`, checking it was sealed by `sealer` for this
/// account and version.
pub fn open_master_key(
    sealed: &Sealed,
    account_id: &str,
    key_version: u32,
    sealer: &PublicIdentity,
    me: &Keyring,
) -> Result<MasterKey> {
    let aad = master_key_aad(account_id, key_version, &me.public(), sealer)?;
    let pt = open_signed(SealPurpose::MasterKey, &aad, sealed, sealer, me)?;
    Ok(MasterKey { version: key_version, key: MasterKeyBytes::try_from_slice(&pt).map_err(|_| Error::Decrypt)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::DeterministicRng;

    #[test]
    fn master_key_roundtrip_and_rejections() {
        let mut rng = DeterministicRng::new(3);
        let alice = Keyring::generate("alice", 1, &mut rng).unwrap();
        let bob = Keyring::generate("bob", 1, &mut rng).unwrap();
        let carol = Keyring::generate("carol", 1, &mut rng).unwrap();
        let mk = MasterKey::generate(1, &mut rng).unwrap();
        let s = seal_master_key(&mk, "acct", &bob.public(), &alice, &mut rng).unwrap();
        verify_master_key_seal(&s, "acct", 1, &bob.public(), &alice.public()).unwrap();
        assert_eq!(open_master_key(&s, "acct", 1, &alice.public(), &bob).unwrap(), mk);
        // wrong member, wrong version, wrong account, wrong sealer
        assert!(open_master_key(&s, "acct", 1, &alice.public(), &carol).is_err());
        assert!(open_master_key(&s, "acct", 2, &alice.public(), &bob).is_err());
        assert!(open_master_key(&s, "acct2", 1, &alice.public(), &bob).is_err());
        assert_eq!(open_master_key(&s, "acct", 1, &carol.public(), &bob).unwrap_err(), Error::BadSignature);
        assert!(verify_master_key_seal(&s, "acct", 1, &carol.public(), &alice.public()).is_err());
        let bytes = s.to_bytes();
        assert_eq!(Sealed::from_bytes(&bytes).unwrap(), s);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x80;
            let r = Sealed::from_bytes(&b).and_then(|s| open_master_key(&s, "acct", 1, &alice.public(), &bob));
            assert!(r.is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn anonymous_roundtrip() {
        let mut rng = DeterministicRng::new(4);
        let eph = EphemeralKey::random(&mut rng);
        let s = seal_anonymous(SealPurpose::ShareRelease, &eph.public(), b"ctx", b"share", &mut rng).unwrap();
        assert_eq!(&open_anonymous(SealPurpose::ShareRelease, b"ctx", &s, &eph).unwrap()[..], b"share");
        assert!(open_anonymous(SealPurpose::ShareRelease, b"ctx2", &s, &eph).is_err());
        assert!(open_anonymous(SealPurpose::GuardianShare, b"ctx", &s, &eph).is_err());
        assert!(seal_anonymous(SealPurpose::ShareRelease, &[0; 32], b"", b"x", &mut rng).is_err());
    }
}
