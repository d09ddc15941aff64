//! Item field encryption: each field value on its own.
//!
//! ```text
//! field_key = HKDF-SHA256(salt = "vouchsafe/v1/field-key", ikm = master key,
//!                         info = str(account_id) ‖ u32 key_version)
//! aad       = "vouchsafe/v1/field\0" ‖ str(account_id) ‖ str(item_id) ‖ str(field_name) ‖ u32 key_version
//! blob      = 0x01 ‖ u32 key_version ‖ nonce[24] ‖ XChaCha20-Poly1305(field_key, nonce, value, aad)
//! ```
//!
//! The AAD makes a ciphertext useless anywhere but in the item and field it was written for, so a
//! server that moves or swaps fields is detected on decryption.

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

    /// Encrypts one field value.
    pub fn encrypt(&self, item_id: &str, field: &str, value: &[u8], rng: &mut impl CryptoRng) -> Result<Vec<u8>> {
        validate_id(item_id)?;
        validate_field_name(field)?;
        if value.len() > MAX_FIELD_VALUE {
            return Err(Error::Invalid("field value larger than 1 MiB"));
        }
        let mut nonce = [0u8; 24];
        rng.fill_bytes(&mut nonce);
        let aad = field_aad(&self.account_id, item_id, field, self.version);
        let mut out = Vec::with_capacity(value.len() + OVERHEAD);
        out.push(FORMAT_V1);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(value);
        let tag = self
            .cipher
            .encrypt_inout_detached(&XNonce::from(nonce), &aad, (&mut out[29..]).into())
            .map_err(|_| Error::Invalid("field value too long"))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Decrypts one field value; fails if it was written for another account, item, field or key.
    pub fn decrypt(&self, item_id: &str, field: &str, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let version = blob_key_version(blob)?;
        if version != self.version {
            return Err(Error::Invalid("field was encrypted under another key version"));
        }
        if blob.len() > MAX_FIELD_VALUE + OVERHEAD {
            return Err(Error::Malformed("encrypted field"));
        }
        let aad = field_aad(&self.account_id, item_id, field, self.version);
        let (body, tag) = blob[29..].split_at(blob.len() - 29 - 16);
        let mut pt = Zeroizing::new(body.to_vec());
        let tag = chacha20poly1305::Tag::try_from(tag).map_err(|_| Error::Malformed("encrypted field"))?;
        self.cipher
            .decrypt_inout_detached(&crate::xnonce(&blob[5..29])?, &aad, (&mut pt[..]).into(), &tag)
            .map_err(|_| Error::Decrypt)?;
        Ok(pt)
    }
}

/// Reads the key version of an encrypted field (so a reader can pick the right key during rotation).
pub fn blob_key_version(blob: &[u8]) -> Result<u32> {
    if blob.len() < OVERHEAD {
        return Err(Error::Malformed("encrypted field"));
    }
    let mut r = Reader::new(blob, "encrypted field");
    r.version(FORMAT_V1)?;
    r.u32()
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
}
