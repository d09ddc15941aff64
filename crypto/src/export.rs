//! Password-protected export files: what a member downloads to move a team's items elsewhere or
//! keep an offline copy. The password is the member's choice for this file (never their login
//! password's role: another HKDF label, [`crate::kdf::derive_file_key`]).
//!
//! ```text
//! context = label("vouchsafe/v1/export") ‖ u8(alg) ‖ u32(m_kib) ‖ u32(t) ‖ u32(p) ‖ bytes(salt)
//! blob    = 0x01 ‖ nonce[24] ‖ XChaCha20-Poly1305(file_key, nonce, plaintext, context)
//! ```
//!
//! The parameters and salt are bound, so a file whose header was edited (weaker parameters,
//! another salt) does not open. The plaintext is the dashboard's JSON (PROTOCOL.md §4.2).

use zeroize::Zeroizing;

use crate::encoding::Writer;
use crate::kdf::{KdfParams, Salt, derive_file_key};
use crate::{CryptoRng, Result, at_rest};

/// The purpose label.
pub const PURPOSE: &str = "vouchsafe/v1/export";

fn context(params: &KdfParams, salt: &Salt) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(params.alg).u32(params.m_kib).u32(params.t).u32(params.p).bytes(salt.expose_secret());
    w.finish()
}

/// Encrypts `plaintext` under `password`; answers the salt (to store beside the blob) and the blob.
pub fn seal(
    password: &[u8],
    params: &KdfParams,
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<(Salt, Vec<u8>)> {
    let salt = Salt::random(rng);
    let key = derive_file_key(password, &salt, params)?;
    let blob = at_rest::seal(&key, PURPOSE, &context(params, &salt), plaintext, rng)?;
    Ok((salt, blob))
}

/// Decrypts an export; fails for a wrong password or any change to parameters, salt or blob.
pub fn open(password: &[u8], params: &KdfParams, salt: &Salt, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let key = derive_file_key(password, salt, params)?;
    at_rest::open(&key, PURPOSE, &context(params, salt), blob)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::DeterministicRng as TestRng;

    #[test]
    fn an_export_opens_with_its_password_and_nothing_else() {
        let params = KdfParams { alg: 1, m_kib: 19 * 1024, t: 2, p: 1 };
        let mut rng = TestRng::new(7);
        let (salt, blob) = seal(b"file password 1", &params, b"{\"items\":[]}", &mut rng).unwrap();
        assert_eq!(&open(b"file password 1", &params, &salt, &blob).unwrap()[..], b"{\"items\":[]}");
        assert!(open(b"file password 2", &params, &salt, &blob).is_err());
        let weaker = KdfParams { m_kib: 19 * 1024 + 1, ..params };
        assert!(open(b"file password 1", &weaker, &salt, &blob).is_err(), "the parameters are bound");
        let other = Salt::random(&mut rng);
        assert!(open(b"file password 1", &params, &other, &blob).is_err(), "the salt is bound");
        let mut cut = blob.clone();
        cut.truncate(blob.len() - 1);
        assert!(open(b"file password 1", &params, &salt, &cut).is_err());
    }
}
