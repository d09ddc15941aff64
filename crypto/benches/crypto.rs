//! Criterion benchmarks of every construction, each beside the bare primitive it wraps, so the
//! overhead of our framing (AAD encoding, signatures, key derivation) is visible as a ratio.
//!
//! Run: `cargo bench -p vouchsafe-crypto`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeS};
use std::hint::black_box;
use vouchsafe_crypto::field::{FieldKey, ItemBinding};
use vouchsafe_crypto::identity::Keyring;
use vouchsafe_crypto::kdf::{KdfParams, Salt, derive_password_keys};
use vouchsafe_crypto::log::{EntryBody, LogEntry, Policy, Role, TeamState};
use vouchsafe_crypto::seal::{
    MasterKey, SealPurpose, Sealed, open_master_key, open_signed, seal_master_key, seal_signed, verify_master_key_seal,
};
use vouchsafe_crypto::testing::DeterministicRng;
use vouchsafe_crypto::witness::{Checkpoint, Witness};

type Kem = X25519HkdfSha256;

fn seal(c: &mut Criterion) {
    let mut rng = DeterministicRng::new(1);
    let alice = Keyring::generate("alice", 1, &mut rng).unwrap();
    let bob = Keyring::generate("bob", 1, &mut rng).unwrap();
    let mk = MasterKey::generate(1, &mut rng).unwrap();
    let bob_pub = bob.public();
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&bob_pub.x25519).unwrap();
    let sealed = seal_master_key(&mk, "acct", &bob_pub, &alice, &mut rng).unwrap();

    let mut g = c.benchmark_group("seal_master_key");
    g.bench_function("bare_hpke_seal", |b| {
        b.iter(|| {
            hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, Kem>(
                &OpModeS::Base,
                &pk,
                b"info",
                black_box(&[7u8; 32]),
                b"aad-of-similar-length-aad-of-similar-length-aad-of-similar-length-aad-of-similar-len",
                &mut rng,
            )
            .unwrap()
        })
    });
    g.bench_function("vouchsafe_seal_signed", |b| {
        b.iter(|| seal_master_key(black_box(&mk), "acct", &bob_pub, &alice, &mut rng).unwrap())
    });
    g.bench_function("vouchsafe_verify_only_server", |b| {
        b.iter(|| verify_master_key_seal(black_box(&sealed), "acct", 1, &bob_pub, &alice.public()).unwrap())
    });
    g.bench_function("vouchsafe_open_verified", |b| {
        b.iter(|| open_master_key(black_box(&sealed), "acct", 1, &alice.public(), &bob).unwrap())
    });
    g.finish();

    // Overhead of signing + framing on larger payloads (guardian-share sized and up to the 1 KiB cap).
    let mut g = c.benchmark_group("seal_payload");
    for size in [32usize, 1024] {
        let pt = vec![1u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("bare_hpke_seal", size), &pt, |b, pt| {
            b.iter(|| {
                hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, Kem>(
                    &OpModeS::Base,
                    &pk,
                    b"info",
                    pt,
                    b"aad",
                    &mut rng,
                )
                .unwrap()
            })
        });
        g.bench_with_input(BenchmarkId::new("vouchsafe_seal_signed", size), &pt, |b, pt| {
            b.iter(|| seal_signed(SealPurpose::GuardianShare, &bob_pub, b"aad", pt, &alice, &mut rng).unwrap())
        });
        let ours = seal_signed(SealPurpose::GuardianShare, &bob_pub, b"aad", &pt, &alice, &mut rng).unwrap();
        let ours = Sealed::from_bytes(&ours.to_bytes()).unwrap();
        let alice_pub = alice.public();
        g.bench_with_input(BenchmarkId::new("vouchsafe_open_signed", size), &ours, |b, s| {
            b.iter(|| open_signed(SealPurpose::GuardianShare, b"aad", s, &alice_pub, &bob).unwrap())
        });
    }
    g.finish();
}

fn field(c: &mut Criterion) {
    let mut rng = DeterministicRng::new(2);
    let mk = MasterKey::generate(1, &mut rng).unwrap();
    let fk = FieldKey::derive(&mk, "acct").unwrap();
    let bare = XChaCha20Poly1305::new(&[3u8; 32].into());
    let mut g = c.benchmark_group("field");
    for size in [32usize, 1024, 64 * 1024] {
        let value = vec![0x42u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("bare_xchacha_encrypt", size), &value, |b, v| {
            b.iter(|| {
                let mut nonce = [0u8; 24];
                rand_fill(&mut rng, &mut nonce);
                bare.encrypt(&XNonce::from(nonce), Payload { msg: v, aad: b"acct|item|field|1" }).unwrap()
            })
        });
        g.bench_with_input(BenchmarkId::new("vouchsafe_encrypt", size), &value, |b, v| {
            b.iter(|| fk.encrypt("item-0001", "email", v, &mut rng).unwrap())
        });
        let blob = fk.encrypt("item-0001", "email", &value, &mut rng).unwrap();
        let bare_ct =
            bare.encrypt(&XNonce::from([1u8; 24]), Payload { msg: &value, aad: b"acct|item|field|1" }).unwrap();
        g.bench_with_input(BenchmarkId::new("bare_xchacha_decrypt", size), &bare_ct, |b, ct| {
            b.iter(|| bare.decrypt(&XNonce::from([1u8; 24]), Payload { msg: ct, aad: b"acct|item|field|1" }).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("vouchsafe_decrypt", size), &blob, |b, blob| {
            b.iter(|| fk.decrypt("item-0001", "email", blob).unwrap())
        });
        // v2: bound to the revision and the item's field set (what clients write now).
        let binding = ItemBinding::new(7, ["name", "email", "notes"]);
        g.bench_with_input(BenchmarkId::new("vouchsafe_seal_field_v2", size), &value, |b, v| {
            b.iter(|| fk.seal_field("item-0001", "email", v, &binding, &mut rng).unwrap())
        });
        let blob2 = fk.seal_field("item-0001", "email", &value, &binding, &mut rng).unwrap();
        g.bench_with_input(BenchmarkId::new("vouchsafe_open_field_v2", size), &blob2, |b, blob| {
            b.iter(|| fk.open_field("item-0001", "email", blob, &binding).unwrap())
        });
    }
    g.bench_function("item_binding_3_fields", |b| {
        b.iter(|| ItemBinding::new(black_box(7), black_box(["name", "email", "notes"])))
    });
    g.finish();
}

fn rand_fill(rng: &mut DeterministicRng, b: &mut [u8]) {
    use vouchsafe_crypto::CryptoRng;
    fn fill(r: &mut impl CryptoRng, b: &mut [u8]) {
        r.fill_bytes(b)
    }
    fill(rng, b)
}

fn log_replay(c: &mut Criterion) {
    let mut rng = DeterministicRng::new(3);
    let alice = Keyring::generate("alice", 1, &mut rng).unwrap();
    let mut log = vec![
        LogEntry::create(
            "acct",
            None,
            &alice,
            1,
            EntryBody::Genesis { creator: alice.public(), policy: Policy::default() },
        )
        .unwrap(),
    ];
    let mut state = TeamState::replay("acct", &log).unwrap();
    const N: u64 = 200;
    for i in 0..N {
        let m = Keyring::generate(&format!("m{i}"), 1, &mut rng).unwrap();
        let e = LogEntry::create(
            "acct",
            Some(state.head()),
            &alice,
            2 + i,
            EntryBody::MemberAdded { member: m.public(), role: Role::Member },
        )
        .unwrap();
        state.apply(&e).unwrap();
        log.push(e);
    }
    let mut g = c.benchmark_group("log_replay");
    g.throughput(Throughput::Elements(N + 1));
    g.bench_function("replay_201_entries", |b| b.iter(|| TeamState::replay("acct", black_box(&log)).unwrap()));
    let bytes: Vec<Vec<u8>> = log.iter().map(LogEntry::to_bytes).collect();
    g.bench_function("decode_and_replay_201_entries", |b| {
        b.iter(|| {
            let entries: Vec<LogEntry> = bytes.iter().map(|b| LogEntry::from_bytes(b).unwrap()).collect();
            TeamState::replay("acct", &entries).unwrap()
        })
    });
    g.finish();
}

/// What witnessing adds to a sync of a 50-member account with a 10,000-entry log: the client
/// already decodes and replays the log; checking every member's checkpoint is one decode, one
/// signature and one hash comparison each.
fn witness(c: &mut Criterion) {
    const MEMBERS: usize = 50;
    const ENTRIES: usize = 10_000;
    let mut rng = DeterministicRng::new(4);
    let mut members = vec![Keyring::generate("alice", 1, &mut rng).unwrap()];
    let mut log = vec![
        LogEntry::create(
            "acct",
            None,
            &members[0],
            1,
            EntryBody::Genesis { creator: members[0].public(), policy: Policy::default() },
        )
        .unwrap(),
    ];
    let mut state = TeamState::replay("acct", &log).unwrap();
    while log.len() < ENTRIES {
        let body = if members.len() < MEMBERS {
            let m = Keyring::generate(&format!("m{}", members.len()), 1, &mut rng).unwrap();
            let body = EntryBody::MemberAdded { member: m.public(), role: Role::Member };
            members.push(m);
            body
        } else {
            let waiting = (log.len() % 1000) as u64;
            EntryBody::PolicyChanged { policy: Policy { waiting_period_secs: waiting, ..Policy::default() } }
        };
        let e = LogEntry::create("acct", Some(state.head()), &members[0], 2 + log.len() as u64, body).unwrap();
        state.apply(&e).unwrap();
        log.push(e);
    }
    // Each member confirmed some recent head.
    let checkpoints: Vec<Vec<u8>> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let seq = (ENTRIES - 1 - i) as u64;
            let head = vouchsafe_crypto::log::LogHead { seq, hash: state.hash_at(seq).unwrap() };
            Checkpoint::sign("acct", head, 5_000, m).unwrap().to_bytes()
        })
        .collect();
    let bytes: Vec<Vec<u8>> = log.iter().map(LogEntry::to_bytes).collect();
    let mut g = c.benchmark_group("witness");
    g.sample_size(10);
    g.bench_function("sync_decode_and_replay_10000_entries", |b| {
        b.iter(|| {
            let entries: Vec<LogEntry> = bytes.iter().map(|b| LogEntry::from_bytes(b).unwrap()).collect();
            TeamState::replay("acct", &entries).unwrap()
        })
    });
    g.bench_function("check_50_checkpoints", |b| {
        b.iter(|| {
            let mut on_chain = 0;
            for raw in &checkpoints {
                let cp = Checkpoint::from_bytes(black_box(raw)).unwrap();
                let signer = state.checkpoint_signer(&cp.user_id, cp.generation).unwrap();
                cp.verify(signer).unwrap();
                on_chain += usize::from(state.witness(cp.head) == Witness::OnOurChain);
            }
            assert_eq!(on_chain, MEMBERS);
        })
    });
    g.finish();
}

fn kdf(c: &mut Criterion) {
    let mut g = c.benchmark_group("kdf");
    g.sample_size(10);
    let salt = Salt::from_bytes([1; 16]);
    for (name, p) in [
        ("argon2id_m19MiB_t2_p1_floor", KdfParams { alg: 1, m_kib: 19 * 1024, t: 2, p: 1 }),
        ("argon2id_m64MiB_t3_p4_default", KdfParams::default()),
    ] {
        g.bench_function(name, |b| b.iter(|| derive_password_keys(b"correct horse", &salt, &p).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, seal, field, log_replay, witness, kdf);
criterion_main!(benches);
