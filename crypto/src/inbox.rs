//! The account inbox: how content from third parties (data providers, partner systems) arrives
//! encrypted, with no member's device present.
//!
//! An admin makes an X25519 **inbox key** for the account. Its public key is endorsed in the
//! team log (entry kind 15, `inbox_key`); its secret is kept by the server only **wrapped under
//! the account's master key**, so every holder of the master key (members, granted workers) can
//! open it and the server cannot. A provider is given the inbox key's **fingerprint code** out of
//! band and pins it; its client refuses any other inbox key the server may serve.
//!
//! ```text
//! fingerprint  = SHA-256("vouchsafe/v1/inbox-fingerprint\0" ‖ str(account) ‖ u32 inbox_version ‖ x25519_pk[32])
//! code         = 30 digits from the fingerprint (as for member keys)
//! wrap_key     = HKDF-SHA256(salt = "vouchsafe/v1/inbox-wrap", ikm = master key (version v),
//!                            info = str(account) ‖ u32 inbox_version ‖ u32 v)
//! wrap_aad     = "vouchsafe/v1/inbox-wrap\0" ‖ str(account) ‖ u32 inbox_version ‖ x25519_pk[32] ‖ u32 v
//! wrap         = 0x01 ‖ u32 v ‖ nonce[24] ‖ XChaCha20-Poly1305(wrap_key, nonce, inbox_secret[32], wrap_aad)
//! ```
//!
//! A **deposit** is a fresh 32-byte content key sealed anonymously (HPKE, [`SealPurpose::Deposit`])
//! to the inbox key, beside a body encrypted under that content key:
//!
//! ```text
//! seal_aad   = "vouchsafe/v1/deposit\0" ‖ str(account) ‖ str(provider) ‖ str(deposit) ‖ u32 inbox_version
//!              ‖ inbox_pk[32] ‖ u8 kind                                       (kind 1 record, 2 file)
//! record     = 0x01 ‖ u8 n ‖ n × (str(name) ‖ u32 len ‖ value)        names sorted, distinct; n 1..=64
//! body       = 0x01 ‖ nonce[24] ‖ XChaCha20-Poly1305(content_key, nonce, record, body_aad)
//! body_aad   = "vouchsafe/v1/deposit-record\0" ‖ str(account) ‖ str(provider) ‖ str(deposit)
//! ```
//!
//! A file deposit's body is the file stream of [`crate::file`] under the content key. The
//! provider id (the server's id of the provider's token) and the deposit id are in every AAD: a
//! server that moves a deposit to another id, provider or account makes it fail to open.

use std::collections::BTreeMap;

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use zeroize::Zeroizing;

use crate::encoding::{Reader, Writer};
use crate::field::validate_field_name;
use crate::identity::{Fingerprint, VerificationCode};
use crate::seal::{MasterKey, SealPurpose, Sealed, open_anonymous_with, seal_anonymous};
use crate::{CryptoRng, Error, FORMAT_V1, Result, hkdf, secret_bytes, validate_id};

/// Most fields in one deposited record.
pub const MAX_RECORD_FIELDS: usize = 64;
/// Largest value of one deposited field (64 KiB, as for item fields).
pub const MAX_RECORD_VALUE: usize = 64 * 1024;
/// Length of a wrapped inbox secret.
pub const WRAP_LEN: usize = 1 + 4 + 24 + 32 + 16;
/// Length of a deposit's seal: suite, HPKE encapsulated key, the 32-byte content key and tag.
pub const SEAL_LEN: usize = 1 + 32 + 32 + 16;
/// Overhead of a record body: version + nonce + tag.
pub const BODY_OVERHEAD: usize = 1 + 24 + 16;

secret_bytes!(
    /// The X25519 secret of an account's inbox key.
    InboxSecret, 32
);

secret_bytes!(
    /// The per-deposit content key the provider seals to the inbox key.
    ContentKey, 32
);

impl InboxSecret {
    /// The X25519 public key.
    pub fn public(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*self.expose_secret())).to_bytes()
    }
}

/// What a deposit holds: a record of named fields, or a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepositKind {
    /// Named text or binary fields, like an item's.
    Record = 1,
    /// One file (name, type and contents).
    File = 2,
}

impl DepositKind {
    /// The word the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Record => "record",
            Self::File => "file",
        }
    }
}

/// An inbox public key, as the log endorses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxKey {
    /// 1 for an account's first inbox key, then one more per replacement.
    pub version: u32,
    /// X25519 public key.
    pub public: [u8; 32],
}

impl InboxKey {
    /// The fingerprint of this inbox key of `account_id`.
    pub fn fingerprint(&self, account_id: &str) -> Fingerprint {
        let mut w = Writer::with_label("vouchsafe/v1/inbox-fingerprint");
        w.str(account_id).u32(self.version).raw(&self.public);
        Fingerprint(crate::sha256(&[w.as_slice()]))
    }

    /// The code an admin gives a provider, and the provider's client compares.
    pub fn code(&self, account_id: &str) -> VerificationCode {
        self.fingerprint(account_id).verification_code()
    }
}

fn wrap_cipher(mk: &MasterKey, account_id: &str, inbox_version: u32) -> XChaCha20Poly1305 {
    let mut info = Writer::new();
    info.str(account_id).u32(inbox_version).u32(mk.version);
    let key = Zeroizing::new(hkdf::<32>(b"vouchsafe/v1/inbox-wrap", mk.key.expose_secret(), &[info.as_slice()]));
    XChaCha20Poly1305::new((&*key).into())
}

fn wrap_aad(account_id: &str, key: &InboxKey, key_version: u32) -> Vec<u8> {
    let mut w = Writer::with_label("vouchsafe/v1/inbox-wrap");
    w.str(account_id).u32(key.version).raw(&key.public).u32(key_version);
    w.finish()
}

/// A fresh inbox key of `version` (its secret, and the public key to endorse).
pub fn generate(version: u32, rng: &mut impl CryptoRng) -> Result<(InboxSecret, InboxKey)> {
    if version == 0 {
        return Err(Error::Invalid("inbox versions start at 1"));
    }
    let secret = InboxSecret::random(rng);
    let key = InboxKey { version, public: secret.public() };
    Ok((secret, key))
}

/// Wraps an inbox secret under master key `mk` (for the server to keep).
pub fn wrap(
    secret: &InboxSecret,
    key: &InboxKey,
    account_id: &str,
    mk: &MasterKey,
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>> {
    validate_id(account_id)?;
    if secret.public() != key.public {
        return Err(Error::Invalid("the inbox secret is not that key's"));
    }
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let aad = wrap_aad(account_id, key, mk.version);
    let ct = wrap_cipher(mk, account_id, key.version)
        .encrypt(&nonce.into(), Payload { msg: secret.expose_secret(), aad: &aad })
        .map_err(|_| Error::Invalid("inbox wrap"))?;
    let mut w = Writer::new();
    w.u8(FORMAT_V1).u32(mk.version).raw(&nonce).raw(&ct);
    Ok(w.finish())
}

/// The master key version a wrap is under (to pick the key during a rotation).
pub fn wrap_key_version(blob: &[u8]) -> Result<u32> {
    if blob.len() != WRAP_LEN {
        return Err(Error::Malformed("inbox wrap"));
    }
    let mut r = Reader::new(blob, "inbox wrap");
    r.version(FORMAT_V1)?;
    r.u32()
}

/// Opens a wrap of the inbox key `key` (which the client took from its verified log) with the
/// master key it names; fails for another account, inbox version or master key version, and if
/// the secret inside is not the endorsed public key's.
pub fn unwrap(blob: &[u8], key: &InboxKey, account_id: &str, mk: &MasterKey) -> Result<InboxSecret> {
    if wrap_key_version(blob)? != mk.version {
        return Err(Error::Invalid("the inbox wrap is under another key version"));
    }
    let aad = wrap_aad(account_id, key, mk.version);
    let pt = Zeroizing::new(
        wrap_cipher(mk, account_id, key.version)
            .decrypt(&crate::xnonce(&blob[5..29])?, Payload { msg: &blob[29..], aad: &aad })
            .map_err(|_| Error::Decrypt)?,
    );
    let secret = InboxSecret::try_from_slice(&pt).map_err(|_| Error::Decrypt)?;
    if secret.public() != key.public {
        return Err(Error::Decrypt);
    }
    Ok(secret)
}

/// Where a deposit belongs: every AAD of the deposit binds all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositContext<'a> {
    /// The account.
    pub account_id: &'a str,
    /// The provider (its token's id).
    pub provider_id: &'a str,
    /// The provider-chosen deposit id.
    pub deposit_id: &'a str,
}

impl DepositContext<'_> {
    fn validate(&self) -> Result<()> {
        validate_id(self.account_id)?;
        validate_id(self.provider_id)?;
        validate_id(self.deposit_id)
    }

    fn seal_aad(&self, key: &InboxKey, kind: DepositKind) -> Vec<u8> {
        let mut w = Writer::with_label("vouchsafe/v1/deposit");
        w.str(self.account_id)
            .str(self.provider_id)
            .str(self.deposit_id)
            .u32(key.version)
            .raw(&key.public)
            .u8(kind as u8);
        w.finish()
    }

    fn record_aad(&self) -> Vec<u8> {
        let mut w = Writer::with_label("vouchsafe/v1/deposit-record");
        w.str(self.account_id).str(self.provider_id).str(self.deposit_id);
        w.finish()
    }

    /// The file-stream container name of a file deposit (see [`crate::file`]).
    pub fn file_container(&self) -> String {
        format!("deposit:{}:{}", self.provider_id, self.deposit_id)
    }
}

/// A fresh content key, sealed to the inbox key for this deposit: `(key, seal)`.
pub fn seal_content_key(
    ctx: &DepositContext<'_>,
    key: &InboxKey,
    kind: DepositKind,
    rng: &mut impl CryptoRng,
) -> Result<(ContentKey, Sealed)> {
    ctx.validate()?;
    let content = ContentKey::random(rng);
    let sealed =
        seal_anonymous(SealPurpose::Deposit, &key.public, &ctx.seal_aad(key, kind), content.expose_secret(), rng)?;
    Ok((content, sealed))
}

/// Opens a deposit's seal with the inbox secret.
pub fn open_content_key(
    ctx: &DepositContext<'_>,
    secret: &InboxSecret,
    inbox_version: u32,
    kind: DepositKind,
    sealed: &Sealed,
) -> Result<ContentKey> {
    ctx.validate()?;
    let key = InboxKey { version: inbox_version, public: secret.public() };
    let pt = open_anonymous_with(SealPurpose::Deposit, &ctx.seal_aad(&key, kind), sealed, secret.expose_secret())?;
    ContentKey::try_from_slice(&pt).map_err(|_| Error::Decrypt)
}

/// A record's fields, by name. Values are secret: zeroized on drop.
pub type Record = BTreeMap<String, Zeroizing<Vec<u8>>>;

fn encode_record(record: &Record) -> Result<Zeroizing<Vec<u8>>> {
    if record.is_empty() || record.len() > MAX_RECORD_FIELDS {
        return Err(Error::Invalid("a record has 1 to 64 fields"));
    }
    let mut out = Zeroizing::new(Vec::new());
    out.push(FORMAT_V1);
    out.push(u8::try_from(record.len()).map_err(|_| Error::Invalid("a record has 1 to 64 fields"))?);
    for (name, value) in record {
        validate_field_name(name)?;
        if value.len() > MAX_RECORD_VALUE {
            return Err(Error::Invalid("a record field holds at most 64 KiB"));
        }
        let mut w = Writer::new();
        w.str(name).u32(u32::try_from(value.len()).unwrap_or(u32::MAX));
        out.extend_from_slice(w.as_slice());
        out.extend_from_slice(value);
    }
    Ok(out)
}

fn decode_record(bytes: &[u8]) -> Result<Record> {
    let mut r = Reader::new(bytes, "deposited record");
    r.version(FORMAT_V1)?;
    let n = usize::from(r.u8()?);
    if n == 0 || n > MAX_RECORD_FIELDS {
        return Err(Error::Malformed("deposited record"));
    }
    let mut record = Record::new();
    let mut last: Option<String> = None;
    for _ in 0..n {
        let name = core::str::from_utf8(r.bytes()?).map_err(|_| Error::Malformed("deposited record"))?.to_owned();
        validate_field_name(&name).map_err(|_| Error::Malformed("deposited record"))?;
        // Strictly increasing names: one record, one encoding.
        if last.as_ref().is_some_and(|l| *l >= name) {
            return Err(Error::Malformed("deposited record"));
        }
        let len = usize::try_from(r.u32()?).map_err(|_| Error::Malformed("deposited record"))?;
        if len > MAX_RECORD_VALUE {
            return Err(Error::Malformed("deposited record"));
        }
        let value = Zeroizing::new(r.take(len)?.to_vec());
        last = Some(name.clone());
        record.insert(name, value);
    }
    r.finish()?;
    Ok(record)
}

/// The largest record body: every field at its largest.
pub const MAX_RECORD_BODY: usize =
    BODY_OVERHEAD + 2 + MAX_RECORD_FIELDS * (2 + crate::field::MAX_FIELD_NAME + 4 + MAX_RECORD_VALUE);

/// Encrypts a record under the deposit's content key.
pub fn seal_record(
    ctx: &DepositContext<'_>,
    content: &ContentKey,
    record: &Record,
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>> {
    ctx.validate()?;
    let pt = encode_record(record)?;
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let ct = XChaCha20Poly1305::new(content.expose_secret().into())
        .encrypt(&nonce.into(), Payload { msg: &pt, aad: &ctx.record_aad() })
        .map_err(|_| Error::Invalid("record too long"))?;
    let mut out = Vec::with_capacity(1 + 24 + ct.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Checks a record body's shape (what the server can check without a key).
pub fn check_record_body(body: &[u8]) -> Result<()> {
    if body.len() < BODY_OVERHEAD || body.len() > MAX_RECORD_BODY {
        return Err(Error::Malformed("deposited record body"));
    }
    if body[0] != FORMAT_V1 {
        return Err(Error::UnsupportedVersion { what: "deposited record body", version: body[0] });
    }
    Ok(())
}

/// Decrypts and decodes a record body.
pub fn open_record(ctx: &DepositContext<'_>, content: &ContentKey, body: &[u8]) -> Result<Record> {
    ctx.validate()?;
    check_record_body(body)?;
    let pt = Zeroizing::new(
        XChaCha20Poly1305::new(content.expose_secret().into())
            .decrypt(&crate::xnonce(&body[1..25])?, Payload { msg: &body[25..], aad: &ctx.record_aad() })
            .map_err(|_| Error::Decrypt)?,
    );
    decode_record(&pt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_record_body_and_the_seal_length_are_what_the_constants_say() {
        assert_eq!(MAX_RECORD_BODY, 4_202_923);
        let key = generate(1, &mut crate::os_rng()).unwrap().1;
        let ctx = DepositContext { account_id: "acct", provider_id: "prov", deposit_id: "d1" };
        let (_, sealed) = seal_content_key(&ctx, &key, DepositKind::Record, &mut crate::os_rng()).unwrap();
        assert_eq!(sealed.to_bytes().len(), SEAL_LEN);
    }
    use crate::testing::DeterministicRng;

    fn record(pairs: &[(&str, &str)]) -> Record {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Zeroizing::new(v.as_bytes().to_vec()))).collect()
    }

    #[test]
    fn wrap_binds_account_versions_and_public_key() {
        let mut rng = DeterministicRng::new(11);
        let mk = MasterKey::generate(2, &mut rng).unwrap();
        let (secret, key) = generate(1, &mut rng).unwrap();
        let blob = wrap(&secret, &key, "acct", &mk, &mut rng).unwrap();
        assert_eq!(blob.len(), WRAP_LEN);
        assert_eq!(wrap_key_version(&blob).unwrap(), 2);
        assert_eq!(unwrap(&blob, &key, "acct", &mk).unwrap(), secret);
        assert!(unwrap(&blob, &key, "acct2", &mk).is_err());
        assert!(unwrap(&blob, &InboxKey { version: 2, ..key }, "acct", &mk).is_err());
        let (_, other) = generate(1, &mut rng).unwrap();
        assert!(unwrap(&blob, &other, "acct", &mk).is_err(), "a swapped public key");
        let mk3 = MasterKey::generate(3, &mut rng).unwrap();
        assert!(unwrap(&blob, &key, "acct", &mk3).is_err());
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 1;
            assert!(unwrap(&b, &key, "acct", &mk).is_err(), "flip at {i} accepted");
        }
        assert!(wrap(&secret, &other, "acct", &mk, &mut rng).is_err());
        assert!(generate(0, &mut rng).is_err());
        assert!(format!("{secret:?}").contains("redacted"));
    }

    #[test]
    fn fingerprint_binds_account_and_version() {
        let mut rng = DeterministicRng::new(12);
        let (_, key) = generate(1, &mut rng).unwrap();
        let code = key.code("acct");
        assert!(code.matches(code.as_str()));
        assert!(!key.code("acct2").matches(code.as_str()));
        assert!(!InboxKey { version: 2, ..key }.code("acct").matches(code.as_str()));
    }

    #[test]
    fn deposit_roundtrip_and_context() {
        let mut rng = DeterministicRng::new(13);
        let (secret, key) = generate(3, &mut rng).unwrap();
        let ctx = DepositContext { account_id: "acct", provider_id: "prov", deposit_id: "d-1" };
        let (content, sealed) = seal_content_key(&ctx, &key, DepositKind::Record, &mut rng).unwrap();
        let rec = record(&[("name", "Ada"), ("email", "ada@example.com")]);
        let body = seal_record(&ctx, &content, &rec, &mut rng).unwrap();
        check_record_body(&body).unwrap();
        let opened = open_content_key(&ctx, &secret, 3, DepositKind::Record, &sealed).unwrap();
        let back = open_record(&ctx, &opened, &body).unwrap();
        assert_eq!(back, rec);
        // Every part of the context is bound.
        for other in [
            DepositContext { account_id: "acct2", ..ctx.clone() },
            DepositContext { provider_id: "prov2", ..ctx.clone() },
            DepositContext { deposit_id: "d-2", ..ctx.clone() },
        ] {
            assert!(open_content_key(&other, &secret, 3, DepositKind::Record, &sealed).is_err());
            assert!(open_record(&other, &opened, &body).is_err());
        }
        assert!(open_content_key(&ctx, &secret, 2, DepositKind::Record, &sealed).is_err());
        assert!(open_content_key(&ctx, &secret, 3, DepositKind::File, &sealed).is_err());
        let (stranger, _) = generate(3, &mut rng).unwrap();
        assert!(open_content_key(&ctx, &stranger, 3, DepositKind::Record, &sealed).is_err());
        for i in 0..body.len() {
            let mut b = body.clone();
            b[i] ^= 2;
            assert!(open_record(&ctx, &opened, &b).is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn record_encoding_is_checked() {
        let mut rng = DeterministicRng::new(14);
        let ctx = DepositContext { account_id: "acct", provider_id: "prov", deposit_id: "d" };
        let content = ContentKey::random(&mut rng);
        assert!(seal_record(&ctx, &content, &Record::new(), &mut rng).is_err());
        let big: Record = [("x".to_owned(), Zeroizing::new(vec![0; MAX_RECORD_VALUE + 1]))].into();
        assert!(seal_record(&ctx, &content, &big, &mut rng).is_err());
        let bad_name = record(&[("a\nb", "x")]);
        assert!(seal_record(&ctx, &content, &bad_name, &mut rng).is_err());
        // Unsorted or repeated names are not an encoding.
        let unsorted = [1u8, 2, 0, 1, b'b', 0, 0, 0, 0, 0, 1, b'a', 0, 0, 0, 0];
        assert!(decode_record(&unsorted).is_err());
        let sorted = [1u8, 2, 0, 1, b'a', 0, 0, 0, 0, 0, 1, b'b', 0, 0, 0, 0];
        assert_eq!(decode_record(&sorted).unwrap().len(), 2);
        assert!(decode_record(&[1, 0]).is_err());
        assert!(decode_record(&[sorted.as_slice(), &[0]].concat()).is_err(), "trailing bytes");
        assert!(check_record_body(&[2; 64]).is_err());
        assert!(check_record_body(&[1; 10]).is_err());
    }
}
