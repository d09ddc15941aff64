//! Item field encryption: each field value on its own.
//!
//! ```text
//! field_key = HKDF-SHA256(salt = "vouchsafe/v1/field-key", ikm = master key,
//!                         info = str(account_id) ‖ u32 key_version)
//! v2 (written by every client now):
//! field_set = SHA-256("vouchsafe/v2/field-set\0" ‖ u32 n ‖ n × str(name))   names sorted, distinct
//! aad       = "vouchsafe/v2/field\0" ‖ str(account_id) ‖ str(item_id) ‖ str(field_name)
//!             ‖ u32 key_version ‖ u64 revision ‖ field_set[32]
//! blob      = 0x02 ‖ u32 key_version ‖ nonce[24] ‖ XChaCha20-Poly1305(field_key, nonce, value, aad)
//! v1 (legacy, read only until the item is rewritten):
//! aad       = "vouchsafe/v1/field\0" ‖ str(account_id) ‖ str(item_id) ‖ str(field_name) ‖ u32 key_version
//! blob      = 0x01 ‖ u32 key_version ‖ nonce[24] ‖ XChaCha20-Poly1305(field_key, nonce, value, aad)
//! ```
//!
//! The AAD makes a ciphertext useless anywhere but in the item and field it was written for, so a
//! server that moves or swaps fields is detected on decryption. v2 also binds the item's revision
//! and the whole set of its field names ([`ItemBinding`]): a server that drops or renames a field,
//! mixes fields of two revisions, or serves an old revision under a newer number is detected too.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::encoding::{Reader, Writer};
use crate::seal::MasterKey;
use crate::{CryptoRng, Error, FORMAT_V1, Result, hkdf, secret_bytes, validate_id};

/// Longest field name, bytes.
pub const MAX_FIELD_NAME: usize = 128;
/// Largest field value, bytes (1 MiB).
pub const MAX_FIELD_VALUE: usize = 1024 * 1024;
/// Encoding overhead: version + key version + nonce + tag.
pub const OVERHEAD: usize = 1 + 4 + 24 + 16;

secret_bytes!(
    /// The field-encryption key of one (account, key version).
    FieldKeyBytes, 32
);

/// A derived field key, with the context it was derived for. Keep one per key version and reuse it.
pub struct FieldKey {
    account_id: String,
    version: u32,
    cipher: XChaCha20Poly1305,
    _key: FieldKeyBytes,
}

impl core::fmt::Debug for FieldKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FieldKey")
            .field("account_id", &self.account_id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Checks a field name: 1..=128 bytes of UTF-8 without control characters.
pub fn validate_field_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_FIELD_NAME {
        return Err(Error::Invalid("field name must be 1 to 128 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Invalid("field name contains a control character"));
    }
    Ok(())
}

fn field_aad(account_id: &str, item_id: &str, field: &str, version: u32) -> Vec<u8> {
    let mut w = Writer::with_label("vouchsafe/v1/field");
    w.str(account_id).str(item_id).str(field).u32(version);
    w.finish()
}

/// The format byte of a v2 field blob (bound to the item's revision and field set).
pub const FIELD_FORMAT_V2: u8 = 0x02;

/// What a v2 field is bound to besides its account, item, name and key version: the revision the
/// item has once this write lands, and the hash of the item's complete set of field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemBinding {
    /// The item's revision (1 for a new item; `r + 1` when replacing revision `r`).
    pub revision: u64,
    /// `SHA-256("vouchsafe/v2/field-set\0" ‖ u32 n ‖ n × str(name))` over the sorted names.
    pub field_set: [u8; 32],
}

impl ItemBinding {
    /// The binding of an item with these field names at `revision` (order and repeats do not matter).
    pub fn new<'a>(revision: u64, names: impl IntoIterator<Item = &'a str>) -> Self {
        let set: std::collections::BTreeSet<&str> = names.into_iter().collect();
        let mut w = Writer::with_label("vouchsafe/v2/field-set");
        w.u32(u32::try_from(set.len()).unwrap_or(u32::MAX));
        for n in set {
            w.str(n);
        }
        Self { revision, field_set: crate::sha256(&[&w.finish()]) }
    }

    fn aad(&self, account_id: &str, item_id: &str, field: &str, version: u32) -> Vec<u8> {
        let mut w = Writer::with_label("vouchsafe/v2/field");
        w.str(account_id).str(item_id).str(field).u32(version).u64(self.revision).raw(&self.field_set);
        w.finish()
    }
}

impl FieldKey {
    /// Derives the field key of `mk` for `account_id`.
    pub fn derive(mk: &MasterKey, account_id: &str) -> Result<Self> {
        validate_id(account_id)?;
        let mut info = Writer::new();
        info.str(account_id).u32(mk.version);
        let key =
            FieldKeyBytes::from_bytes(hkdf(b"vouchsafe/v1/field-key", mk.key.expose_secret(), &[info.as_slice()]));
        let cipher = XChaCha20Poly1305::new(key.expose_secret().into());
        Ok(Self { account_id: account_id.to_owned(), version: mk.version, cipher, _key: key })
    }

    /// The key version this key belongs to.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Encrypts one field value in the v2 format, bound to the item's revision and field set.
    pub fn seal_field(
        &self,
        item_id: &str,
        field: &str,
        value: &[u8],
        binding: &ItemBinding,
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>> {
        validate_id(item_id)?;
        validate_field_name(field)?;
        let aad = binding.aad(&self.account_id, item_id, field, self.version);
        self.encrypt_with(FIELD_FORMAT_V2, &aad, value, rng)
    }

    /// Decrypts a v2 field; fails for a v1 blob, or if the item, field, key version, revision
    /// or set of field names differs from the one it was written for.
    pub fn open_field(
        &self,
        item_id: &str,
        field: &str,
        blob: &[u8],
        binding: &ItemBinding,
    ) -> Result<Zeroizing<Vec<u8>>> {
        if blob_format(blob)? != FIELD_FORMAT_V2 {
            return Err(Error::Invalid("field is not in the v2 format"));
        }
        let aad = binding.aad(&self.account_id, item_id, field, self.version);
        self.decrypt_with(&aad, blob)
    }

    /// Encrypts one field value in the legacy v1 format (not bound to the revision or field
    /// set). Clients write [`Self::seal_field`]; this stays for test vectors and old data.
    pub fn encrypt(&self, item_id: &str, field: &str, value: &[u8], rng: &mut impl CryptoRng) -> Result<Vec<u8>> {
        validate_id(item_id)?;
        validate_field_name(field)?;
        let aad = field_aad(&self.account_id, item_id, field, self.version);
        self.encrypt_with(FORMAT_V1, &aad, value, rng)
    }

    fn encrypt_with(&self, format: u8, aad: &[u8], value: &[u8], rng: &mut impl CryptoRng) -> Result<Vec<u8>> {
        if value.len() > MAX_FIELD_VALUE {
            return Err(Error::Invalid("field value larger than 1 MiB"));
        }
        let mut nonce = [0u8; 24];
        rng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(value.len() + OVERHEAD);
        out.push(format);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(value);
        let tag = self
            .cipher
            .encrypt_inout_detached(&XNonce::from(nonce), aad, (&mut out[29..]).into())
            .map_err(|_| Error::Invalid("field value too long"))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Decrypts one legacy (v1) field value; fails if it was written for another account, item,
    /// field or key.
    pub fn decrypt(&self, item_id: &str, field: &str, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if blob_format(blob)? != FORMAT_V1 {
            return Err(Error::Invalid("field is not in the v1 format"));
        }
        let aad = field_aad(&self.account_id, item_id, field, self.version);
        self.decrypt_with(&aad, blob)
    }

    fn decrypt_with(&self, aad: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let version = blob_key_version(blob)?;
        if version != self.version {
            return Err(Error::Invalid("field was encrypted under another key version"));
        }
        if blob.len() > MAX_FIELD_VALUE + OVERHEAD {
            return Err(Error::Malformed("encrypted field"));
        }
        let (body, tag) = blob[29..].split_at(blob.len() - 29 - 16);
        let mut pt = Zeroizing::new(body.to_vec());
        let tag = chacha20poly1305::Tag::try_from(tag).map_err(|_| Error::Malformed("encrypted field"))?;
        self.cipher
            .decrypt_inout_detached(&crate::xnonce(&blob[5..29])?, aad, (&mut pt[..]).into(), &tag)
            .map_err(|_| Error::Decrypt)?;
        Ok(pt)
    }
}

/// Reads the key version of an encrypted field (so a reader can pick the right key during rotation).
pub fn blob_key_version(blob: &[u8]) -> Result<u32> {
    blob_format(blob)?;
    let mut r = Reader::new(&blob[1..], "encrypted field");
    r.u32()
}

/// The format byte of an encrypted field: [`FORMAT_V1`] (legacy) or [`FIELD_FORMAT_V2`].
pub fn blob_format(blob: &[u8]) -> Result<u8> {
    if blob.len() < OVERHEAD {
        return Err(Error::Malformed("encrypted field"));
    }
    match blob[0] {
        v @ (FORMAT_V1 | FIELD_FORMAT_V2) => Ok(v),
        v => Err(Error::UnsupportedVersion { what: "encrypted field", version: v }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::DeterministicRng;

    #[test]
    fn field_binding() {
        let mut rng = DeterministicRng::new(5);
        let mk = MasterKey::generate(1, &mut rng).unwrap();
        let k = FieldKey::derive(&mk, "acct").unwrap();
        let blob = k.encrypt("item1", "email", b"a@example.com", &mut rng).unwrap();
        assert_eq!(&k.decrypt("item1", "email", &blob).unwrap()[..], b"a@example.com");
        assert!(k.decrypt("item2", "email", &blob).is_err());
        assert!(k.decrypt("item1", "phone", &blob).is_err());
        let other = FieldKey::derive(&mk, "acct2").unwrap();
        assert!(other.decrypt("item1", "email", &blob).is_err());
        let mk2 = MasterKey::generate(2, &mut rng).unwrap();
        assert!(FieldKey::derive(&mk2, "acct").unwrap().decrypt("item1", "email", &blob).is_err());
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 4;
            assert!(k.decrypt("item1", "email", &b).is_err(), "flip at {i} accepted");
        }
        assert!(k.decrypt("item1", "email", &blob[..blob.len() - 1]).is_err());
        let empty = k.encrypt("item1", "note", b"", &mut rng).unwrap();
        assert_eq!(k.decrypt("item1", "note", &empty).unwrap().len(), 0);
    }

    #[test]
    fn v2_binds_revision_and_field_set() {
        let mut rng = DeterministicRng::new(6);
        let mk = MasterKey::generate(3, &mut rng).unwrap();
        let k = FieldKey::derive(&mk, "acct").unwrap();
        let b = ItemBinding::new(4, ["name", "email"]);
        let blob = k.seal_field("item1", "email", b"a@example.com", &b, &mut rng).unwrap();
        assert_eq!(blob_format(&blob).unwrap(), FIELD_FORMAT_V2);
        assert_eq!(blob_key_version(&blob).unwrap(), 3);
        assert_eq!(&k.open_field("item1", "email", &blob, &b).unwrap()[..], b"a@example.com");
        // Order of names does not matter; the set does.
        assert!(k.open_field("item1", "email", &blob, &ItemBinding::new(4, ["email", "name"])).is_ok());
        assert!(k.open_field("item1", "email", &blob, &ItemBinding::new(4, ["email"])).is_err(), "field dropped");
        assert!(k.open_field("item1", "email", &blob, &ItemBinding::new(4, ["email", "nom"])).is_err(), "renamed");
        assert!(k.open_field("item1", "email", &blob, &ItemBinding::new(5, ["name", "email"])).is_err(), "revision");
        assert!(k.open_field("item1", "name", &blob, &b).is_err());
        assert!(k.open_field("item2", "email", &blob, &b).is_err());
        // A v2 blob is no v1 blob, and the reverse.
        assert!(k.decrypt("item1", "email", &blob).is_err());
        let v1 = k.encrypt("item1", "email", b"x", &mut rng).unwrap();
        assert!(k.open_field("item1", "email", &v1, &b).is_err());
        let mut other = blob.clone();
        other[0] = 3;
        assert!(blob_key_version(&other).is_err());
    }
}
