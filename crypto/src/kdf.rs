//! Password → keys.
//!
//! `Argon2id(password, salt, params)` gives 32 bytes of input keying material; HKDF-SHA256 splits
//! it into an [`AuthKey`] (sent to the server, which stores only `Argon2id(auth key)`) and a
//! [`Kek`] (key-encryption key: wraps the identity keyring; never leaves the client).
//!
//! The server stores and returns the parameters. A malicious server could hand out weak ones to
//! make an offline attack cheaper, so [`KdfParams::validate`] refuses anything below the floor
//! (m = 19 MiB, t = 2) and, so a hostile server cannot freeze a browser, above a ceiling.

use serde::{Deserialize, Serialize};

use crate::{CryptoRng, Error, FORMAT_V1, Result, hkdf, secret_bytes};

/// Salt length for the password KDF.
pub const SALT_LEN: usize = 16;
/// Floor on Argon2 memory, KiB (19 MiB, OWASP's minimum for Argon2id).
pub const MIN_M_KIB: u32 = 19 * 1024;
/// Floor on Argon2 passes.
pub const MIN_T: u32 = 2;
/// Ceiling on Argon2 memory, KiB (1 GiB).
pub const MAX_M_KIB: u32 = 1024 * 1024;
/// Ceiling on Argon2 passes.
pub const MAX_T: u32 = 16;
/// Ceiling on Argon2 lanes.
pub const MAX_P: u32 = 16;

/// Argon2id parameters as stored beside the salt. `alg` is the suite byte: 1 = Argon2id v1.3
/// followed by HKDF-SHA256 (the only suite of v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Suite: 1 = Argon2id v0x13 + HKDF-SHA256.
    pub alg: u8,
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    /// m = 64 MiB, t = 3, p = 4.
    fn default() -> Self {
        Self { alg: FORMAT_V1, m_kib: 64 * 1024, t: 3, p: 4 }
    }
}

impl KdfParams {
    /// Refuses unknown suites, parameters below the floor (downgrade defence) and above the ceiling.
    pub fn validate(&self) -> Result<()> {
        if self.alg != FORMAT_V1 {
            return Err(Error::UnsupportedVersion { what: "KDF suite", version: self.alg });
        }
        if self.m_kib < MIN_M_KIB {
            return Err(Error::KdfParams("memory below 19 MiB"));
        }
        if self.t < MIN_T {
            return Err(Error::KdfParams("fewer than 2 passes"));
        }
        if self.p == 0 || self.p > MAX_P {
            return Err(Error::KdfParams("lanes must be 1 to 16"));
        }
        if self.m_kib > MAX_M_KIB || self.t > MAX_T {
            return Err(Error::KdfParams("above the accepted maximum"));
        }
        if self.m_kib < 8 * self.p {
            return Err(Error::KdfParams("memory below 8 KiB per lane"));
        }
        Ok(())
    }
}

secret_bytes!(
    /// Password-derived login credential. The server stores only `Argon2id(auth key)`.
    AuthKey, 32
);
secret_bytes!(
    /// Password-derived key-encryption key; wraps the identity keyring. Never leaves the client.
    Kek, 32
);
secret_bytes!(
    /// Per-user random salt for the password KDF (not secret, but no reason to leak it either).
    Salt, SALT_LEN
);

/// The two keys derived from a password.
#[derive(Debug)]
pub struct PasswordKeys {
    /// Sent to the server to log in.
    pub auth_key: AuthKey,
    /// Stays on the client.
    pub kek: Kek,
}

const HKDF_SALT: &[u8] = b"vouchsafe/v1/password-kdf";

/// Derives the auth key and the KEK from a password. Fails on weak or oversized parameters.
///
/// ```text
/// ikm      = Argon2id(password, salt, m, t, p, out = 32)
/// auth_key = HKDF-SHA256(salt = "vouchsafe/v1/password-kdf", ikm, info = "vouchsafe/v1/auth-key", 32)
/// kek      = HKDF-SHA256(salt = "vouchsafe/v1/password-kdf", ikm, info = "vouchsafe/v1/kek", 32)
/// ```
pub fn derive_password_keys(password: &[u8], salt: &Salt, params: &KdfParams) -> Result<PasswordKeys> {
    let ikm = argon2id(password, salt, params)?;
    let auth_key = AuthKey(hkdf(HKDF_SALT, &ikm[..], &[b"vouchsafe/v1/auth-key"]));
    let kek = Kek(hkdf(HKDF_SALT, &ikm[..], &[b"vouchsafe/v1/kek"]));
    Ok(PasswordKeys { auth_key, kek })
}

fn argon2id(password: &[u8], salt: &Salt, params: &KdfParams) -> Result<zeroize::Zeroizing<[u8; 32]>> {
    params.validate()?;
    let argon_params = argon2::Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|_| Error::KdfParams("rejected by Argon2"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut ikm = zeroize::Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password, salt.expose_secret(), &mut ikm[..])
        .map_err(|_| Error::Invalid("password or salt length"))?;
    Ok(ikm)
}

/// The key of a password-protected export file (`vouchsafe/v1/export`): another HKDF label over
/// the same Argon2id, so an export's password never yields a login key.
///
/// ```text
/// file_key = HKDF-SHA256(salt = "vouchsafe/v1/password-kdf", Argon2id(password, salt, m, t, p),
///                        info = "vouchsafe/v1/export-key", 32)
/// ```
pub fn derive_file_key(password: &[u8], salt: &Salt, params: &KdfParams) -> Result<zeroize::Zeroizing<[u8; 32]>> {
    let ikm = argon2id(password, salt, params)?;
    Ok(zeroize::Zeroizing::new(hkdf(HKDF_SALT, &ikm[..], &[b"vouchsafe/v1/export-key"])))
}

/// A fresh random salt.
pub fn new_salt(rng: &mut impl CryptoRng) -> Salt {
    Salt::random(rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> KdfParams {
        KdfParams { alg: 1, m_kib: MIN_M_KIB, t: 2, p: 1 }
    }

    #[test]
    fn downgrade_is_refused() {
        let salt = Salt::from_bytes([7; 16]);
        for bad in [
            KdfParams { m_kib: MIN_M_KIB - 1, ..fast() },
            KdfParams { t: 1, ..fast() },
            KdfParams { p: 0, ..fast() },
            KdfParams { alg: 2, ..fast() },
            KdfParams { m_kib: MAX_M_KIB + 1, ..fast() },
        ] {
            assert!(derive_password_keys(b"pw", &salt, &bad).is_err(), "{bad:?}");
        }
        assert!(derive_password_keys(b"pw", &salt, &fast()).is_ok());
    }

    #[test]
    fn keys_differ_and_depend_on_every_input() {
        let salt = Salt::from_bytes([7; 16]);
        let a = derive_password_keys(b"correct horse", &salt, &fast()).unwrap();
        assert_ne!(a.auth_key.expose_secret(), a.kek.expose_secret());
        let b = derive_password_keys(b"correct horsf", &salt, &fast()).unwrap();
        assert_ne!(a.auth_key, b.auth_key);
        let c = derive_password_keys(b"correct horse", &Salt::from_bytes([8; 16]), &fast()).unwrap();
        assert_ne!(a.kek, c.kek);
        assert_eq!(format!("{:?}", a.kek), "Kek(<redacted>)");
    }
}
