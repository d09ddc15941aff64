//! `vouchsafe-crypto`: every client-side primitive and wire format of Vouchsafe.
//!
//! This crate owns the cryptography that keeps the server zero-knowledge: the password KDF,
//! identity keyrings, HPKE sealing of account master keys, per-field encryption, the signed
//! hash-chained team log and its replay, and the Shamir-split recovery kit. It performs no I/O
//! and builds for `wasm32-unknown-unknown`.
//!
//! The server links this crate only to *verify* (formats, signatures, log entries); it never
//! holds a private key of a user. The exact byte layouts are specified in `docs/PROTOCOL.md`.
//!
//! Conventions shared by every module:
//! - every binary format starts with a version/suite byte ([`FORMAT_V1`] unless noted);
//! - every secret type zeroizes on drop, has a redacted `Debug`, no `Serialize`, and hands out
//!   its raw bytes only through a method named `expose_*`;
//! - every decoder returns an [`Error`] on arbitrary input, never panics;
//! - functions that need randomness take `&mut impl CryptoRng`; production code passes
//!   [`os_rng()`].

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod at_rest;
pub mod b64;
mod encoding;
pub mod export;
pub mod field;
pub mod file;
pub mod identity;
pub mod inbox;
pub mod kdf;
pub mod log;
pub mod passkey;
pub mod recovery;
pub mod seal;
pub mod testing;
pub mod witness;

pub use encoding::{MAX_ID_LEN, validate_id};
pub use rand_core::CryptoRng;

/// The version byte of every v1 format.
pub const FORMAT_V1: u8 = 0x01;

/// The operating system's random number generator (`getrandom`; in browsers, `crypto.getRandomValues`).
pub type OsRng = rand_core::UnwrapErr<getrandom::SysRng>;

/// The operating system's random number generator.
pub fn os_rng() -> OsRng {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// Everything that can go wrong in this crate. Messages never contain secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is not a well-formed encoding of the expected type.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The version or suite byte is not one this build understands.
    #[error("unsupported {what} version {version:#04x}")]
    UnsupportedVersion { what: &'static str, version: u8 },
    /// Password KDF parameters are below the minimum (downgrade defence) or above the maximum.
    #[error("KDF parameters rejected: {0}")]
    KdfParams(&'static str),
    /// Authenticated decryption failed: wrong key, wrong context (AAD) or tampered ciphertext.
    #[error("decryption failed")]
    Decrypt,
    /// A signature did not verify.
    #[error("bad signature")]
    BadSignature,
    /// A public key is invalid (e.g. a weak Ed25519 point).
    #[error("invalid public key")]
    InvalidKey,
    /// A human-entered code has a typo (checksum mismatch) or bad characters.
    #[error("the code has a typo: {0}")]
    Checksum(&'static str),
    /// Shares cannot be combined (too few, duplicated, from different kits, or inconsistent).
    #[error("recovery shares rejected: {0}")]
    Shares(&'static str),
    /// An input is outside the accepted range.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// The team log is invalid.
    #[error("team log rejected: {0}")]
    Log(#[from] log::LogError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Declares a fixed-size secret newtype: zeroized on drop, redacted `Debug`, no `Serialize`,
/// raw bytes only through `expose_secret`.
macro_rules! secret_bytes {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// Wraps raw key bytes.
            pub fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// Parses from a slice, checking the length.
            pub fn try_from_slice(bytes: &[u8]) -> $crate::Result<Self> {
                let arr: [u8; $len] = bytes
                    .try_into()
                    .map_err(|_| $crate::Error::Malformed(stringify!($name)))?;
                Ok(Self(arr))
            }

            /// Generates a fresh random value.
            pub fn random(rng: &mut impl $crate::CryptoRng) -> Self {
                let mut b = [0u8; $len];
                rng.fill_bytes(&mut b);
                Self(b)
            }

            /// The raw secret bytes. Named so that every use is visible in review.
            pub fn expose_secret(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
            }
        }
        impl Eq for $name {}
    };
}
pub(crate) use secret_bytes;

/// `n` reduced mod 10^(5 × groups), printed as `groups` groups of five digits (most significant
/// first): how the codes people read aloud are written.
pub(crate) fn digit_groups(n: u128, groups: u32) -> String {
    let mut n = n % 10u128.pow(5 * groups);
    let mut out = Vec::with_capacity(groups as usize);
    for _ in 0..groups {
        out.push(format!("{:05}", n % 100_000));
        n /= 100_000;
    }
    out.reverse();
    out.join(" ")
}

/// Whether a shown code and what a person typed have the same digits (separators ignored).
pub fn same_digits(shown: &str, typed: &str) -> bool {
    shown.chars().filter(char::is_ascii_digit).eq(typed.chars().filter(char::is_ascii_digit))
}

/// SHA-256 of the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HKDF-SHA256 extract-and-expand into a fixed-size output.
pub(crate) fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> [u8; N] {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), ikm);
    let mut out = [0u8; N];
    // N is at most 64 everywhere in this crate, far below HKDF-SHA256's 8160-byte limit.
    if hk.expand_multi_info(info, &mut out).is_err() {
        unreachable_output_len();
    }
    out
}

#[cold]
fn unreachable_output_len() {
    // Only reachable if a caller asked for more than 255 * 32 bytes, which no caller does.
    debug_assert!(false, "HKDF output length");
}

/// A 24-byte XChaCha20 nonce from a slice.
pub(crate) fn xnonce(b: &[u8]) -> Result<chacha20poly1305::XNonce> {
    let arr: [u8; 24] = b.try_into().map_err(|_| Error::Malformed("nonce"))?;
    Ok(chacha20poly1305::XNonce::from(arr))
}

/// A fresh random id: 16 bytes from the OS generator as unpadded base64url (22 characters).
pub fn random_id() -> String {
    use rand_core::Rng;
    let mut b = [0u8; 16];
    os_rng().fill_bytes(&mut b);
    b64::encode(&b)
}
