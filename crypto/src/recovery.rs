//! Recovery kits: key-preserving recovery without any reseal.
//!
//! A random recovery secret R (32 bytes) wraps the member's keyring; R is split t-of-n with
//! Shamir over GF(2^8) (`vsss-rs`, constant time) into [`RecoveryShare`]s:
//! - a **code share** the member writes down, encoded for people ([`RecoveryShare::to_code`]:
//!   Crockford base32 in groups, with a checksum that catches typos);
//! - a **server share**, which the server keeps encrypted under its own secret
//!   ([`encrypt_server_share`]) and releases only after an emailed token, sealed to an ephemeral key
//!   of the recovering client ([`release_share`]);
//! - **guardian shares**, sealed to colleagues ([`seal_guardian_share`]).
//!
//! Any t shares recombine to R ([`combine`]) and unwrap the *same* keyring; fewer than t reveal
//! nothing about R and fail cleanly.

use vsss_rs::Gf256;
use zeroize::{Zeroize, Zeroizing};

use crate::encoding::{Reader, Writer};
use crate::identity::{Keyring, PublicIdentity, WrapPurpose, WrappedKeyring};
use crate::seal::{EphemeralKey, SealPurpose, Sealed, open_anonymous, open_signed, seal_anonymous, seal_signed};
use crate::{CryptoRng, Error, FORMAT_V1, Result, hkdf, secret_bytes, validate_id};

/// Encoded machine share length: version ‖ kit id[4] ‖ threshold ‖ index ‖ value[32].
pub const SHARE_LEN: usize = 1 + 4 + 1 + 1 + 32;
/// Most shares in one kit.
pub const MAX_SHARES: u8 = 16;
const CODE_CHECKSUM_LEN: usize = 2;
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

secret_bytes!(
    /// The recovery secret R.
    RecoverySecret, 32
);

impl RecoverySecret {
    fn wrap_key(&self, kit_id: &[u8; 4]) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(hkdf(b"vouchsafe/v1/recovery-wrap", self.expose_secret(), &[kit_id]))
    }
}

/// One Shamir share of R. Secret: zeroized on drop, redacted `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, zeroize::ZeroizeOnDrop)]
pub struct RecoveryShare {
    kit_id: [u8; 4],
    threshold: u8,
    index: u8,
    value: [u8; 32],
}

impl core::fmt::Debug for RecoveryShare {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecoveryShare")
            .field("kit_id", &self.kit_id)
            .field("threshold", &self.threshold)
            .field("index", &self.index)
            .field("value", &"<redacted>")
            .finish()
    }
}

impl RecoveryShare {
    /// Kit the share belongs to.
    pub fn kit_id(&self) -> [u8; 4] {
        self.kit_id
    }
    /// Shares needed to recover.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }
    /// Share index (x coordinate), 1..=n.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// Machine encoding (39 bytes): `0x01 ‖ kit_id[4] ‖ threshold ‖ index ‖ value[32]`.
    pub fn expose_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new();
        w.u8(FORMAT_V1).raw(&self.kit_id).u8(self.threshold).u8(self.index).raw(&self.value);
        Zeroizing::new(w.finish())
    }

    /// Parses the machine encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "recovery share");
        r.version(FORMAT_V1)?;
        let s = Self { kit_id: r.array()?, threshold: r.u8()?, index: r.u8()?, value: r.array()? };
        r.finish()?;
        if s.threshold == 0 || s.threshold > MAX_SHARES || s.index == 0 || s.index > MAX_SHARES {
            return Err(Error::Malformed("recovery share"));
        }
        Ok(s)
    }

    /// Human encoding: the machine bytes plus a 2-byte checksum
    /// (`SHA-256("vouchsafe/v1/recovery-code\0" ‖ bytes)[..2]`), in Crockford base32
    /// (66 characters), shown as 11 groups of 6 separated by `-`.
    pub fn to_code(&self) -> Zeroizing<String> {
        let bytes = self.expose_bytes();
        let check = crate::sha256(&[b"vouchsafe/v1/recovery-code\0", &bytes]);
        let mut all = Zeroizing::new(bytes.to_vec());
        all.extend_from_slice(&check[..CODE_CHECKSUM_LEN]);
        let chars = base32_encode(&all);
        let mut out = String::with_capacity(chars.len() + chars.len() / 6);
        for (i, c) in chars.chars().enumerate() {
            if i > 0 && i % 6 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        Zeroizing::new(out)
    }

    /// Parses a code a person typed: case-insensitive, `O`→0, `I`/`L`→1, separators ignored.
    /// A typo is reported as [`Error::Checksum`].
    pub fn from_code(code: &str) -> Result<Self> {
        let bytes = Zeroizing::new(base32_decode(code)?);
        if bytes.len() != SHARE_LEN + CODE_CHECKSUM_LEN {
            return Err(Error::Checksum("wrong number of characters"));
        }
        let (body, check) = bytes.split_at(SHARE_LEN);
        let expected = crate::sha256(&[b"vouchsafe/v1/recovery-code\0", body]);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(check, &expected[..CODE_CHECKSUM_LEN])) {
            return Err(Error::Checksum("checksum mismatch"));
        }
        Self::from_bytes(body)
    }
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(CROCKFORD[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(CROCKFORD[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

fn base32_decode(s: &str) -> Result<Vec<u8>> {
    if s.len() > 256 {
        return Err(Error::Checksum("too long"));
    }
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.chars() {
        let v = match c.to_ascii_uppercase() {
            '-' | ' ' | '\t' | '\n' | '\r' => continue,
            'O' => 0,
            'I' | 'L' => 1,
            u => CROCKFORD.iter().position(|&x| char::from(x) == u).ok_or(Error::Checksum("invalid character"))? as u32,
        };
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if acc != 0 {
        return Err(Error::Checksum("invalid trailing bits"));
    }
    acc.zeroize();
    Ok(out)
}

/// A freshly made kit: what to store (public metadata + wrapped keyring) and the shares to hand out.
#[derive(Debug)]
pub struct RecoveryKit {
    /// Random kit id.
    pub kit_id: [u8; 4],
    /// Shares needed.
    pub threshold: u8,
    /// The keyring wrapped under R (stored on the server).
    pub wrapped_keyring: WrappedKeyring,
    /// Shares 1..=n. By convention: 1 = code share, 2 = server share, 3.. = guardians.
    pub shares: Vec<RecoveryShare>,
}

/// Makes R, wraps `keyring` under it, and splits R `threshold`-of-`n` (1 ≤ t ≤ n ≤ 16). With
/// t = 1 every share *is* R (a "recovery code only" kit is 1-of-1).
pub fn create_kit(keyring: &Keyring, threshold: u8, n: u8, rng: &mut impl CryptoRng) -> Result<RecoveryKit> {
    let r = RecoverySecret::random(rng);
    let mut kit_id = [0u8; 4];
    rng.fill_bytes(&mut kit_id);
    kit_from(keyring, r, kit_id, threshold, n, rng)
}

/// [`create_kit`] with a given kit id. Clients use random ids; anyone can make a kit under any
/// id (the hostile-server tests forge one this way), which is why a recovering client anchors
/// the result in the member's own code share or a guardian-read verification code.
pub fn create_kit_with_id(
    keyring: &Keyring,
    kit_id: [u8; 4],
    threshold: u8,
    n: u8,
    rng: &mut impl CryptoRng,
) -> Result<RecoveryKit> {
    let r = RecoverySecret::random(rng);
    kit_from(keyring, r, kit_id, threshold, n, rng)
}

fn kit_from(
    keyring: &Keyring,
    r: RecoverySecret,
    kit_id: [u8; 4],
    threshold: u8,
    n: u8,
    rng: &mut impl CryptoRng,
) -> Result<RecoveryKit> {
    if threshold == 0 || threshold > n || n > MAX_SHARES {
        return Err(Error::Invalid("a kit needs 1 <= threshold <= shares <= 16"));
    }
    let wrapped_keyring = keyring.wrap_with(&r.wrap_key(&kit_id), WrapPurpose::Recovery, rng);
    if threshold == 1 {
        let shares =
            (1..=n).map(|index| RecoveryShare { kit_id, threshold, index, value: *r.expose_secret() }).collect();
        return Ok(RecoveryKit { kit_id, threshold, wrapped_keyring, shares });
    }
    let ids = (1..=n).map(|i| vsss_rs::IdentifierGf256(Gf256(i)));
    let raw = Gf256::split_bytes_with_participant_ids_iter(
        usize::from(threshold),
        usize::from(n),
        r.expose_secret(),
        &mut *rng,
        ids,
    )
    .map_err(|_| Error::Shares("split failed"))?;
    let mut shares = Vec::with_capacity(raw.len());
    for mut s in raw {
        let parsed = (s.len() == 33).then(|| {
            let mut value = [0u8; 32];
            value.copy_from_slice(&s[1..]);
            RecoveryShare { kit_id, threshold, index: s[0], value }
        });
        s.zeroize();
        shares.push(parsed.ok_or(Error::Shares("split failed"))?);
    }
    Ok(RecoveryKit { kit_id, threshold, wrapped_keyring, shares })
}

/// Recombines R from at least `threshold` distinct shares of one kit.
pub fn combine(shares: &[RecoveryShare]) -> Result<RecoverySecret> {
    let first = shares.first().ok_or(Error::Shares("no shares"))?;
    let mut seen = [false; 256];
    for s in shares {
        if s.kit_id != first.kit_id || s.threshold != first.threshold {
            return Err(Error::Shares("shares come from different kits"));
        }
        if std::mem::replace(&mut seen[usize::from(s.index)], true) {
            return Err(Error::Shares("the same share was given twice"));
        }
    }
    if shares.len() < usize::from(first.threshold) {
        return Err(Error::Shares("fewer shares than the kit's threshold"));
    }
    if first.threshold == 1 {
        return Ok(RecoverySecret::from_bytes(first.value));
    }
    let raw: Vec<Vec<u8>> = shares
        .iter()
        .take(usize::from(first.threshold))
        .map(|s| {
            let mut v = Vec::with_capacity(33);
            v.push(s.index);
            v.extend_from_slice(&s.value);
            v
        })
        .collect();
    let raw = Zeroizing::new(raw);
    let mut secret = Gf256::combine_bytes(&raw[..]).map_err(|_| Error::Shares("cannot combine"))?;
    let r = RecoverySecret::try_from_slice(&secret);
    secret.zeroize();
    r
}

/// Recovers the keyring from shares and the kit's wrapped keyring. A wrong or forged share
/// makes the unwrap fail ([`Error::Decrypt`]).
pub fn recover_keyring(
    shares: &[RecoveryShare],
    wrapped: &WrappedKeyring,
    user_id: &str,
    generation: u32,
) -> Result<Keyring> {
    let r = combine(shares)?;
    let kit_id = shares.first().map(|s| s.kit_id).ok_or(Error::Shares("no shares"))?;
    Keyring::unwrap_with(wrapped, &r.wrap_key(&kit_id), WrapPurpose::Recovery, user_id, generation)
}

fn guardian_aad(owner: &str, kit_id: &[u8; 4], index: u8, guardian: &PublicIdentity) -> Vec<u8> {
    let mut w = Writer::with_label("vouchsafe/v1/guardian-share-aad");
    w.str(owner).raw(kit_id).u8(index).str(&guardian.user_id).u32(guardian.generation).raw(&guardian.fingerprint().0);
    w.finish()
}

/// Seals a guardian share to a colleague, signed by the kit's owner.
pub fn seal_guardian_share(
    share: &RecoveryShare,
    owner: &Keyring,
    guardian: &PublicIdentity,
    rng: &mut impl CryptoRng,
) -> Result<Sealed> {
    let aad = guardian_aad(owner.user_id(), &share.kit_id, share.index, guardian);
    seal_signed(SealPurpose::GuardianShare, guardian, &aad, &share.expose_bytes(), owner, rng)
}

/// Opens a guardian share addressed to `guardian`, checking the owner's signature and context.
pub fn open_guardian_share(
    sealed: &Sealed,
    owner: &PublicIdentity,
    kit_id: [u8; 4],
    index: u8,
    guardian: &Keyring,
) -> Result<RecoveryShare> {
    let aad = guardian_aad(&owner.user_id, &kit_id, index, &guardian.public());
    let pt = open_signed(SealPurpose::GuardianShare, &aad, sealed, owner, guardian)?;
    let s = RecoveryShare::from_bytes(&pt)?;
    if s.kit_id != kit_id || s.index != index {
        return Err(Error::Shares("share does not match its envelope"));
    }
    Ok(s)
}

fn release_aad(owner: &str, kit_id: &[u8; 4], index: u8, ephemeral: &[u8; 32]) -> Result<Vec<u8>> {
    validate_id(owner)?;
    let mut w = Writer::with_label("vouchsafe/v1/share-release-aad");
    w.str(owner).raw(kit_id).u8(index).raw(ephemeral);
    Ok(w.finish())
}

/// Releases a share (server or guardian) to a recovering client's ephemeral X25519 key.
pub fn release_share(
    share: &RecoveryShare,
    owner: &str,
    ephemeral: &[u8; 32],
    rng: &mut impl CryptoRng,
) -> Result<Sealed> {
    let aad = release_aad(owner, &share.kit_id, share.index, ephemeral)?;
    seal_anonymous(SealPurpose::ShareRelease, ephemeral, &aad, &share.expose_bytes(), rng)
}

/// Opens a released share with the ephemeral key the client made for this request.
pub fn open_released_share(
    sealed: &Sealed,
    owner: &str,
    kit_id: [u8; 4],
    index: u8,
    key: &EphemeralKey,
) -> Result<RecoveryShare> {
    let aad = release_aad(owner, &kit_id, index, &key.public())?;
    let s = RecoveryShare::from_bytes(&open_anonymous(SealPurpose::ShareRelease, &aad, sealed, key)?)?;
    if s.kit_id != kit_id || s.index != index {
        return Err(Error::Shares("share does not match its envelope"));
    }
    Ok(s)
}

secret_bytes!(
    /// The server's key for encrypting stored server shares at rest.
    ServerShareKey, 32
);

fn at_rest_aad(user_id: &str, kit_id: &[u8; 4]) -> Vec<u8> {
    let mut w = Writer::with_label("vouchsafe/v1/server-share-at-rest");
    w.str(user_id).raw(kit_id);
    w.finish()
}

/// Server side: encrypts a server share at rest, bound to its user and kit:
/// `0x01 ‖ nonce[24] ‖ XChaCha20-Poly1305(key, nonce, share bytes, aad)`.
pub fn encrypt_server_share(
    key: &ServerShareKey,
    user_id: &str,
    share: &RecoveryShare,
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    validate_id(user_id)?;
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.expose_secret().into());
    let aad = at_rest_aad(user_id, &share.kit_id);
    let ct = cipher
        .encrypt(&chacha20poly1305::XNonce::from(nonce), Payload { msg: &share.expose_bytes(), aad: &aad })
        .map_err(|_| Error::Invalid("share"))?;
    let mut out = vec![FORMAT_V1];
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Server side: decrypts a stored server share.
pub fn decrypt_server_share(
    key: &ServerShareKey,
    user_id: &str,
    kit_id: [u8; 4],
    blob: &[u8],
) -> Result<RecoveryShare> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let mut r = Reader::new(blob, "stored server share");
    r.version(FORMAT_V1)?;
    let nonce: [u8; 24] = r.array()?;
    let ct = r.rest();
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.expose_secret().into());
    let aad = at_rest_aad(user_id, &kit_id);
    let pt = Zeroizing::new(
        cipher
            .decrypt(&chacha20poly1305::XNonce::from(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| Error::Decrypt)?,
    );
    RecoveryShare::from_bytes(&pt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::DeterministicRng;

    #[test]
    fn any_t_shares_recover_the_same_keys() {
        let mut rng = DeterministicRng::new(6);
        let k = Keyring::generate("alice", 1, &mut rng).unwrap();
        let kit = create_kit(&k, 2, 4, &mut rng).unwrap();
        for i in 0..4 {
            for j in 0..4 {
                if i == j {
                    continue;
                }
                let got =
                    recover_keyring(&[kit.shares[i].clone(), kit.shares[j].clone()], &kit.wrapped_keyring, "alice", 1)
                        .unwrap();
                assert_eq!(got.public(), k.public());
            }
        }
        assert!(matches!(combine(&kit.shares[..1]), Err(Error::Shares(_))));
        assert!(matches!(combine(&[kit.shares[0].clone(), kit.shares[0].clone()]), Err(Error::Shares(_))));
        let other = create_kit(&k, 2, 3, &mut rng).unwrap();
        assert!(combine(&[kit.shares[0].clone(), other.shares[1].clone()]).is_err());
    }

    #[test]
    fn one_of_one_kit() {
        let mut rng = DeterministicRng::new(9);
        let k = Keyring::generate("alice", 1, &mut rng).unwrap();
        let kit = create_kit(&k, 1, 1, &mut rng).unwrap();
        let code = RecoveryShare::from_code(&kit.shares[0].to_code()).unwrap();
        assert_eq!(recover_keyring(&[code], &kit.wrapped_keyring, "alice", 1).unwrap().public(), k.public());
        assert!(create_kit(&k, 0, 1, &mut rng).is_err());
        assert!(create_kit(&k, 3, 2, &mut rng).is_err());
    }

    #[test]
    fn codes_catch_typos() {
        let mut rng = DeterministicRng::new(7);
        let k = Keyring::generate("alice", 1, &mut rng).unwrap();
        let kit = create_kit(&k, 2, 3, &mut rng).unwrap();
        let code = kit.shares[0].to_code();
        assert_eq!(code.len(), 66 + 10);
        assert_eq!(RecoveryShare::from_code(&code).unwrap(), kit.shares[0]);
        assert_eq!(RecoveryShare::from_code(&code.to_lowercase().replace('-', " ")).unwrap(), kit.shares[0]);
        // every single-character substitution is caught
        let chars: Vec<char> = code.chars().collect();
        for i in 0..chars.len() {
            if chars[i] == '-' {
                continue;
            }
            for &alt in CROCKFORD {
                let alt = char::from(alt);
                if alt == chars[i] {
                    continue;
                }
                let mut c = chars.clone();
                c[i] = alt;
                let typed: String = c.into_iter().collect();
                assert!(RecoveryShare::from_code(&typed).is_err(), "typo at {i} accepted");
            }
        }
    }

    #[test]
    fn release_and_guardian() {
        let mut rng = DeterministicRng::new(8);
        let alice = Keyring::generate("alice", 1, &mut rng).unwrap();
        let bob = Keyring::generate("bob", 1, &mut rng).unwrap();
        let kit = create_kit(&alice, 2, 3, &mut rng).unwrap();
        let sealed = seal_guardian_share(&kit.shares[2], &alice, &bob.public(), &mut rng).unwrap();
        let s = open_guardian_share(&sealed, &alice.public(), kit.kit_id, 3, &bob).unwrap();
        assert_eq!(s, kit.shares[2]);
        assert!(open_guardian_share(&sealed, &alice.public(), kit.kit_id, 2, &bob).is_err());
        let eph = EphemeralKey::random(&mut rng);
        let rel = release_share(&s, "alice", &eph.public(), &mut rng).unwrap();
        assert_eq!(open_released_share(&rel, "alice", kit.kit_id, 3, &eph).unwrap(), s);
        assert!(open_released_share(&rel, "mallory", kit.kit_id, 3, &eph).is_err());
        let key = ServerShareKey::from_bytes([1; 32]);
        let stored = encrypt_server_share(&key, "alice", &kit.shares[1], &mut rng).unwrap();
        assert_eq!(decrypt_server_share(&key, "alice", kit.kit_id, &stored).unwrap(), kit.shares[1]);
        assert!(decrypt_server_share(&key, "bob", kit.kit_id, &stored).is_err());
    }
}
