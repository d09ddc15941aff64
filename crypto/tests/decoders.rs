//! Property test: every decoder returns an error (never panics) on random bytes and on valid
//! encodings that were mutated (bit flips, truncation, extension, byte insertion/removal).
//! Iterations per decoder: `VOUCHSAFE_PROPTEST_CASES` (default 3000). The same decoders have
//! `cargo fuzz` targets under `crypto/fuzz`.

use vouchsafe_crypto::field::{FieldKey, blob_key_version};
use vouchsafe_crypto::identity::{Keyring, PublicIdentity, WrappedKeyring};
use vouchsafe_crypto::kdf::Kek;
use vouchsafe_crypto::log::{EntryBody, LogEntry, Policy, TeamState};
use vouchsafe_crypto::recovery::{
    RecoveryShare, ServerShareKey, create_kit, decrypt_server_share, encrypt_server_share,
};
use vouchsafe_crypto::seal::{MasterKey, Sealed, open_master_key, seal_master_key};
use vouchsafe_crypto::testing::DeterministicRng;
use vouchsafe_crypto::{CryptoRng, b64};

fn cases() -> usize {
    std::env::var("VOUCHSAFE_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000)
}

fn below(rng: &mut impl CryptoRng, n: usize) -> usize {
    if n == 0 { 0 } else { (rng.next_u64() % n as u64) as usize }
}

fn mutate(rng: &mut impl CryptoRng, valid: &[u8]) -> Vec<u8> {
    let mut v = valid.to_vec();
    for _ in 0..=below(rng, 3) {
        match below(rng, 6) {
            0 if !v.is_empty() => {
                let i = below(rng, v.len());
                v[i] ^= 1 << below(rng, 8);
            }
            1 => v.truncate(below(rng, v.len() + 1)),
            2 => {
                let n = below(rng, 40);
                let mut extra = vec![0u8; n];
                rng.fill_bytes(&mut extra);
                v.extend_from_slice(&extra);
            }
            3 => {
                let i = below(rng, v.len() + 1);
                v.insert(i, rng.next_u32() as u8);
            }
            4 if !v.is_empty() => {
                let i = below(rng, v.len());
                v.remove(i);
            }
            _ => {
                let i = below(rng, v.len() + 1);
                v.insert(i, 0xff);
            }
        }
    }
    v
}

fn random(rng: &mut impl CryptoRng) -> Vec<u8> {
    let mut v = vec![0u8; below(rng, 300)];
    rng.fill_bytes(&mut v);
    v
}

/// Runs `decode` on random and mutated inputs of a valid sample.
fn fuzz(name: &str, valid: &[u8], mut decode: impl FnMut(&[u8]) -> bool) {
    let mut rng = DeterministicRng::new(name.len() as u64 * 7919);
    assert!(decode(valid), "{name}: the valid sample must decode");
    for _ in 0..cases() {
        let input = if below(&mut rng, 4) == 0 { random(&mut rng) } else { mutate(&mut rng, valid) };
        // Structure-only decoders may accept a mutation that is still well-formed; what matters
        // here is that nothing panics. Authenticated formats are checked strictly below.
        let _ = decode(&input);
    }
}

#[test]
fn decoders_never_panic() {
    let mut rng = DeterministicRng::new(1);
    let alice = Keyring::generate("alice", 1, &mut rng).unwrap();
    let bob = Keyring::generate("bob", 1, &mut rng).unwrap();
    let kek = Kek::from_bytes([3; 32]);
    let wrapped = alice.wrap(&kek, &mut rng);
    fuzz("wrapped keyring", wrapped.as_bytes(), |b| {
        WrappedKeyring::from_bytes(b).and_then(|w| Keyring::unwrap(&w, &kek, "alice", 1)).is_ok()
    });
    let pi = alice.public().to_bytes();
    fuzz("public identity", &pi, |b| PublicIdentity::from_bytes(b).is_ok());
    fuzz("public keys", &alice.public().keys_to_bytes(), |b| PublicIdentity::keys_from_bytes("alice", b).is_ok());

    let mk = MasterKey::generate(1, &mut rng).unwrap();
    let sealed = seal_master_key(&mk, "acct", &bob.public(), &alice, &mut rng).unwrap().to_bytes();
    fuzz("sealed", &sealed, |b| {
        Sealed::from_bytes(b).and_then(|s| open_master_key(&s, "acct", 1, &alice.public(), &bob)).is_ok()
    });

    let fk = FieldKey::derive(&mk, "acct").unwrap();
    let field = fk.encrypt("item", "name", b"Jane Doe", &mut rng).unwrap();
    fuzz("field", &field, |b| {
        let _ = blob_key_version(b);
        fk.decrypt("item", "name", b).is_ok()
    });

    let genesis = LogEntry::create(
        "acct",
        None,
        &alice,
        1,
        EntryBody::Genesis { creator: alice.public(), policy: Policy::default() },
    )
    .unwrap();
    let head = TeamState::replay("acct", std::slice::from_ref(&genesis)).unwrap().head();
    let added = LogEntry::create(
        "acct",
        Some(head),
        &alice,
        2,
        EntryBody::MemberAdded { member: bob.public(), role: vouchsafe_crypto::log::Role::Admin },
    )
    .unwrap();
    fuzz("log entry", &added.to_bytes(), |b| match LogEntry::from_bytes(b) {
        Ok(e) => TeamState::replay("acct", &[genesis.clone(), e]).is_ok(),
        Err(_) => false,
    });

    let kit = create_kit(&alice, 2, 3, &mut rng).unwrap();
    fuzz("share", &kit.shares[1].expose_bytes(), |b| RecoveryShare::from_bytes(b).is_ok());
    let code = kit.shares[0].to_code();
    fuzz("code", code.as_bytes(), |b| {
        std::str::from_utf8(b).map(|s| RecoveryShare::from_code(s).is_ok()).unwrap_or(false)
    });
    let key = ServerShareKey::from_bytes([5; 32]);
    let stored = encrypt_server_share(&key, "alice", &kit.shares[1], &mut rng).unwrap();
    fuzz("stored server share", &stored, |b| decrypt_server_share(&key, "alice", kit.kit_id, b).is_ok());
    fuzz("base64", b64::encode(&sealed).as_bytes(), |b| {
        std::str::from_utf8(b).map(|s| b64::decode(s, 4096).is_ok()).unwrap_or(false)
    });
}

/// For authenticated formats, no mutation other than the identity is ever accepted.
#[test]
fn authenticated_formats_accept_only_the_original() {
    let mut rng = DeterministicRng::new(2);
    let alice = Keyring::generate("alice", 1, &mut rng).unwrap();
    let bob = Keyring::generate("bob", 1, &mut rng).unwrap();
    let mk = MasterKey::generate(1, &mut rng).unwrap();
    let sealed = seal_master_key(&mk, "acct", &bob.public(), &alice, &mut rng).unwrap().to_bytes();
    let fk = FieldKey::derive(&mk, "acct").unwrap();
    let field = fk.encrypt("item", "name", b"Jane Doe", &mut rng).unwrap();
    let mut r = DeterministicRng::new(3);
    for _ in 0..cases() {
        let m = mutate(&mut r, &sealed);
        if m != sealed {
            assert!(
                Sealed::from_bytes(&m).and_then(|s| open_master_key(&s, "acct", 1, &alice.public(), &bob)).is_err()
            );
        }
        let m = mutate(&mut r, &field);
        if m != field {
            assert!(fk.decrypt("item", "name", &m).is_err());
        }
    }
}
