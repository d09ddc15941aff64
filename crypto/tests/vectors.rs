//! Test vectors: deterministic inputs and outputs for every construction, committed in
//! `tests/vectors.json`. A format change makes this test fail; regenerate deliberately with
//! `VOUCHSAFE_REGEN_VECTORS=1 cargo test -p vouchsafe-crypto --test vectors` and bump the
//! version byte of the format you changed.

use serde_json::{Value, json};
use vouchsafe_crypto::b64;
use vouchsafe_crypto::field::{FieldKey, ItemBinding};
use vouchsafe_crypto::file::{self, Encryptor, FileContext, FileKey, FileMeta};
use vouchsafe_crypto::identity::{Keyring, PublicIdentity, WrappedKeyring};
use vouchsafe_crypto::inbox::{self, DepositContext, DepositKind, InboxKey, InboxSecret};
use vouchsafe_crypto::kdf::{KdfParams, Kek, Salt, derive_password_keys};
use vouchsafe_crypto::log::{EntryBody, LogEntry, Policy, TeamState};
use vouchsafe_crypto::passkey::{PrfOutput, prf_input};
use vouchsafe_crypto::recovery::{RecoveryShare, create_kit, recover_keyring};
use vouchsafe_crypto::seal::{
    MasterKey, MasterKeyBytes, Sealed, open_master_key, seal_master_key, verify_master_key_seal,
};
use vouchsafe_crypto::testing::DeterministicRng;
use vouchsafe_crypto::witness::{Checkpoint, HistoryCode, Witness};

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

fn generate() -> Value {
    let params = KdfParams { alg: 1, m_kib: 19 * 1024, t: 2, p: 1 };
    let salt = Salt::from_bytes([0x5a; 16]);
    let pk = derive_password_keys(b"correct horse battery staple", &salt, &params).unwrap();

    let alice = Keyring::from_secret_bytes("alice", 1, seed(1), seed(2)).unwrap();
    let bob = Keyring::from_secret_bytes("bob", 1, seed(3), seed(4)).unwrap();
    let mut rng = DeterministicRng::new(2026);
    let wrapped = alice.wrap(&pk.kek, &mut rng);

    let mk = MasterKey { version: 1, key: MasterKeyBytes::from_bytes(seed(9)) };
    let sealed = seal_master_key(&mk, "acct1", &bob.public(), &alice, &mut rng).unwrap();

    let fk = FieldKey::derive(&mk, "acct1").unwrap();
    let field = fk.encrypt("item1", "email", b"jane@example.com", &mut rng).unwrap();

    let genesis = LogEntry::create(
        "acct1",
        None,
        &alice,
        1_767_225_600,
        EntryBody::Genesis { creator: alice.public(), policy: Policy::default() },
    )
    .unwrap();
    let state = TeamState::replay("acct1", std::slice::from_ref(&genesis)).unwrap();
    let added = LogEntry::create(
        "acct1",
        Some(state.head()),
        &alice,
        1_767_225_601,
        EntryBody::MemberAdded { member: bob.public(), role: vouchsafe_crypto::log::Role::Member },
    )
    .unwrap();

    let kit = create_kit(&alice, 2, 3, &mut rng).unwrap();
    // Made last, so the vectors above keep their values.
    let binding = ItemBinding::new(3, ["email", "name"]);
    let field_v2 = fk.seal_field("item1", "email", b"jane@example.com", &binding, &mut rng).unwrap();
    let mut two = state.clone();
    two.apply(&added).unwrap();
    let checkpoint = Checkpoint::sign("acct1", two.head(), 1_767_225_700, &bob).unwrap();
    // A proposal: bob made admin, two admins required, then alice's policy change co-signed by bob.
    let mut gov = two.clone();
    let next = |st: &mut TeamState, ts: u64, body: EntryBody| {
        let e = LogEntry::create("acct1", Some(st.head()), &alice, ts, body).unwrap();
        st.apply(&e).unwrap();
        e
    };
    let promoted = next(
        &mut gov,
        1_767_225_800,
        EntryBody::RoleChanged { user_id: "bob".into(), role: vouchsafe_crypto::log::Role::Admin },
    );
    let two_admins = Policy { admin_approvals: 2, ..Policy::default() };
    let require_two = next(&mut gov, 1_767_225_801, EntryBody::PolicyChanged { policy: two_admins });
    let proposed = LogEntry::create(
        "acct1",
        Some(gov.head()),
        &alice,
        1_767_225_900,
        EntryBody::PolicyChanged { policy: Policy { vouch_quorum: 2, ..two_admins } },
    )
    .unwrap();
    let mut cosigned = proposed.clone();
    cosigned.cosign(&bob);
    let prf = PrfOutput::from_slice(&seed(7)).unwrap();
    let passkey_wrap = alice.wrap_for_passkey(&prf, b"credential-1", &mut rng).unwrap();
    // The inbox (after genesis and member_added): alice endorses inbox key 1, wrapped under the
    // master key above; provider prov1 deposits a record, and a small file stream.
    let inbox_secret = InboxSecret::from_bytes(seed(11));
    let inbox_key = InboxKey { version: 1, public: inbox_secret.public() };
    let inbox_entry = LogEntry::create(
        "acct1",
        Some(two.head()),
        &alice,
        1_767_226_000,
        EntryBody::InboxKey { inbox_version: 1, public_key: inbox_key.public },
    )
    .unwrap();
    let inbox_wrap = inbox::wrap(&inbox_secret, &inbox_key, "acct1", &mk, &mut rng).unwrap();
    let dctx = DepositContext { account_id: "acct1", provider_id: "prov1", deposit_id: "dep-1" };
    let (content_key, deposit_seal) =
        inbox::seal_content_key(&dctx, &inbox_key, DepositKind::Record, &mut rng).unwrap();
    let record: inbox::Record = [("email", "jane@example.com"), ("name", "Jane")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), zeroize::Zeroizing::new(v.as_bytes().to_vec())))
        .collect();
    let deposit_body = inbox::seal_record(&dctx, &content_key, &record, &mut rng).unwrap();
    let file_key = FileKey::from_bytes(seed(12));
    let fctx = FileContext { account_id: "acct1", container: "item:item1", file_id: "file1" };
    let (mut enc, mut file_stream) = Encryptor::with_chunk_size(&file_key, &fctx, 1024, &mut rng).unwrap();
    file_stream.extend_from_slice(&enc.update(&file_plaintext()).unwrap());
    file_stream.extend_from_slice(&enc.finish().unwrap());
    let meta = FileMeta { name: "contract.pdf".into(), media_type: "application/pdf".into(), size: 2500 };
    let file_meta = file::seal_meta(&file_key, &fctx, &meta, &mut rng).unwrap();

    json!({
        "comment": "Vouchsafe v1 test vectors. Binary values are unpadded base64url. See docs/PROTOCOL.md.",
        "kdf": {
            "password_utf8": "correct horse battery staple",
            "salt": b64::encode(salt.expose_secret()),
            "params": params,
            "auth_key": b64::encode(pk.auth_key.expose_secret()),
            "kek": b64::encode(pk.kek.expose_secret()),
        },
        "identity": {
            "user_id": "alice", "generation": 1,
            "x25519_secret": b64::encode(&seed(1)), "ed25519_seed": b64::encode(&seed(2)),
            "public_keys": b64::encode(&alice.public().keys_to_bytes()),
            "public_identity": b64::encode(&alice.public().to_bytes()),
            "fingerprint_hex": alice.public().fingerprint().to_hex(),
            "verification_code": alice.public().verification_code().as_str(),
            "wrapped_keyring_under_kek": b64::encode(wrapped.as_bytes()),
        },
        "seal": {
            "account_id": "acct1", "key_version": 1,
            "master_key": b64::encode(&seed(9)),
            "sealer": "alice (identity above)",
            "recipient": { "user_id": "bob", "generation": 1, "x25519_secret": b64::encode(&seed(3)), "ed25519_seed": b64::encode(&seed(4)) },
            "sealed": b64::encode(&sealed.to_bytes()),
            "sealed_hash": b64::encode(&sealed.hash()),
        },
        "field": {
            "account_id": "acct1", "key_version": 1, "item_id": "item1", "field": "email",
            "plaintext_utf8": "jane@example.com",
            "blob": b64::encode(&field),
        },
        "field_v2": {
            "account_id": "acct1", "key_version": 1, "item_id": "item1", "field": "email",
            "revision": 3, "field_names": ["email", "name"],
            "field_set": b64::encode(&binding.field_set),
            "plaintext_utf8": "jane@example.com",
            "blob": b64::encode(&field_v2),
        },
        "log": {
            "genesis": b64::encode(&genesis.to_bytes()),
            "genesis_hash": b64::encode(&genesis.hash()),
            "member_added": b64::encode(&added.to_bytes()),
            "member_added_hash": b64::encode(&added.hash()),
        },
        "witness": {
            "comment": "bob's checkpoint of the log above (genesis, member_added), and its history code",
            "seq": 1,
            "head_hash": b64::encode(&two.head().hash),
            "time": 1_767_225_700,
            "checkpoint": b64::encode(&checkpoint.to_bytes()),
            "history_code": HistoryCode::of("acct1", two.head()).as_str(),
        },
        "proposal": {
            "comment": "after the log above: alice makes bob admin, requires two admins, then proposes vouch_quorum 2; bob co-signs",
            "role_changed": b64::encode(&promoted.to_bytes()),
            "policy_two_admins": b64::encode(&require_two.to_bytes()),
            "proposed": b64::encode(&proposed.to_bytes()),
            "signing_input": b64::encode(&proposed.signing_input()),
            "bob_cosignature": b64::encode(&cosigned.cosignatures[0].signature),
            "cosigned": b64::encode(&cosigned.to_bytes()),
        },
        "recovery": {
            "threshold": 2,
            "wrapped_keyring_under_r": b64::encode(kit.wrapped_keyring.as_bytes()),
            "shares": kit.shares.iter().map(|s| b64::encode(&s.expose_bytes())).collect::<Vec<_>>(),
            "code_share_1": kit.shares[0].to_code().as_str(),
        },
        "passkey": {
            "comment": "alice's keyring (identity above) wrapped for passkey unlock (purpose 3)",
            "prf_input": b64::encode(&prf_input()),
            "prf_output": b64::encode(&seed(7)),
            "credential_id": b64::encode(b"credential-1"),
            "wrapped_keyring": b64::encode(passkey_wrap.as_bytes()),
        },
        "inbox": {
            "comment": "after the log above (genesis, member_added): alice endorses inbox key 1; its secret wrapped under the master key of 'seal'; provider prov1 deposits record dep-1",
            "inbox_secret": b64::encode(&seed(11)),
            "inbox_public": b64::encode(&inbox_key.public),
            "fingerprint_hex": inbox_key.fingerprint("acct1").to_hex(),
            "code": inbox_key.code("acct1").as_str(),
            "inbox_key_entry": b64::encode(&inbox_entry.to_bytes()),
            "wrap": b64::encode(&inbox_wrap),
            "provider_id": "prov1", "deposit_id": "dep-1", "kind": "record",
            "content_key": b64::encode(content_key.expose_secret()),
            "seal": b64::encode(&deposit_seal.to_bytes()),
            "record": { "email": "jane@example.com", "name": "Jane" },
            "body": b64::encode(&deposit_body),
        },
        "file": {
            "comment": "2500 bytes, byte i = i mod 251, in chunks of 1024 (two full, one final of 452)",
            "account_id": "acct1", "container": "item:item1", "file_id": "file1", "chunk_size": 1024,
            "file_key": b64::encode(&seed(12)),
            "stream": b64::encode(&file_stream),
            "meta": b64::encode(&file_meta),
            "name": "contract.pdf", "media_type": "application/pdf", "size": 2500,
        },
    })
}

fn file_plaintext() -> Vec<u8> {
    (0..2500u32).map(|i| (i % 251) as u8).collect()
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_else(|| panic!("missing {path:?}"))
}

#[test]
fn vectors_match() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors.json");
    let fresh = generate();
    if std::env::var_os("VOUCHSAFE_REGEN_VECTORS").is_some() {
        std::fs::write(path, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
    }
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors.json is committed")).unwrap();
    assert_eq!(stored, fresh, "a wire format changed; see the comment at the top of this file");

    // And the stored values decode and open with only the documented inputs.
    let v = &stored;
    let alice = Keyring::from_secret_bytes("alice", 1, [1; 32], [2; 32]).unwrap();
    let bob = Keyring::from_secret_bytes("bob", 1, [3; 32], [4; 32]).unwrap();
    let kek = Kek::from_bytes(b64::decode_array(s(v, &["kdf", "kek"])).unwrap());
    let wrapped =
        WrappedKeyring::from_bytes(&b64::decode(s(v, &["identity", "wrapped_keyring_under_kek"]), 200).unwrap())
            .unwrap();
    assert_eq!(Keyring::unwrap(&wrapped, &kek, "alice", 1).unwrap().public(), alice.public());
    let pw = WrappedKeyring::from_bytes(&b64::decode(s(v, &["passkey", "wrapped_keyring"]), 200).unwrap()).unwrap();
    let prf = PrfOutput::from_slice(&b64::decode(s(v, &["passkey", "prf_output"]), 32).unwrap()).unwrap();
    assert_eq!(Keyring::unwrap_with_passkey(&pw, &prf, b"credential-1", "alice", 1).unwrap().public(), alice.public());
    let pi = PublicIdentity::from_bytes(&b64::decode(s(v, &["identity", "public_identity"]), 200).unwrap()).unwrap();
    assert_eq!(pi, alice.public());
    let sealed = Sealed::from_bytes(&b64::decode(s(v, &["seal", "sealed"]), 500).unwrap()).unwrap();
    verify_master_key_seal(&sealed, "acct1", 1, &bob.public(), &alice.public()).unwrap();
    let mk = open_master_key(&sealed, "acct1", 1, &alice.public(), &bob).unwrap();
    assert_eq!(mk.key.expose_secret(), &[9; 32]);
    let fk = FieldKey::derive(&mk, "acct1").unwrap();
    let blob = b64::decode(s(v, &["field", "blob"]), 500).unwrap();
    assert_eq!(&fk.decrypt("item1", "email", &blob).unwrap()[..], b"jane@example.com");
    let blob2 = b64::decode(s(v, &["field_v2", "blob"]), 500).unwrap();
    let b = ItemBinding::new(3, ["name", "email"]);
    assert_eq!(b64::encode(&b.field_set), s(v, &["field_v2", "field_set"]));
    assert_eq!(&fk.open_field("item1", "email", &blob2, &b).unwrap()[..], b"jane@example.com");
    let entries: Vec<LogEntry> = ["genesis", "member_added"]
        .iter()
        .map(|k| LogEntry::from_bytes(&b64::decode(s(v, &["log", k]), 5000).unwrap()).unwrap())
        .collect();
    let st = TeamState::replay("acct1", &entries).unwrap();
    assert_eq!(st.member("bob").unwrap().identity, bob.public());
    let cp = Checkpoint::from_bytes(&b64::decode(s(v, &["witness", "checkpoint"]), 400).unwrap()).unwrap();
    cp.verify(st.checkpoint_signer("bob", 1).unwrap()).unwrap();
    assert_eq!(st.witness(cp.head), Witness::OnOurChain);
    assert_eq!(HistoryCode::of("acct1", st.head()).as_str(), s(v, &["witness", "history_code"]));
    let mut gov = st.clone();
    for k in ["role_changed", "policy_two_admins"] {
        gov.apply(&LogEntry::from_bytes(&b64::decode(s(v, &["proposal", k]), 5000).unwrap()).unwrap()).unwrap();
    }
    let proposed = LogEntry::from_bytes(&b64::decode(s(v, &["proposal", "proposed"]), 5000).unwrap()).unwrap();
    let a = gov.check_proposal(&proposed).unwrap();
    assert_eq!((a.have, a.needed, a.complete()), (1, 2, false));
    assert!(gov.clone().apply(&proposed).is_err(), "one admin is not enough");
    let cosigned = LogEntry::from_bytes(&b64::decode(s(v, &["proposal", "cosigned"]), 5000).unwrap()).unwrap();
    assert_eq!(cosigned.signing_input(), proposed.signing_input(), "co-signing changes nothing signed");
    assert!(gov.check_proposal(&cosigned).unwrap().complete());
    gov.apply(&cosigned).unwrap();
    assert_eq!(gov.policy().vouch_quorum, 2);
    let code = RecoveryShare::from_code(s(v, &["recovery", "code_share_1"])).unwrap();
    let share3 =
        RecoveryShare::from_bytes(&b64::decode(v["recovery"]["shares"][2].as_str().unwrap(), 100).unwrap()).unwrap();
    let wr =
        WrappedKeyring::from_bytes(&b64::decode(s(v, &["recovery", "wrapped_keyring_under_r"]), 200).unwrap()).unwrap();
    assert_eq!(recover_keyring(&[code, share3], &wr, "alice", 1).unwrap().public(), alice.public());

    // The inbox: the endorsed key from the log entry, its wrap opened with the master key, the
    // deposit opened with the unwrapped secret.
    let d = |k: &str| b64::decode(s(v, &["inbox", k]), 5000).unwrap();
    let mut inbox_state = st.clone();
    inbox_state.apply(&LogEntry::from_bytes(&d("inbox_key_entry")).unwrap()).unwrap();
    let endorsed = inbox_state.inbox_key().unwrap();
    assert_eq!(endorsed.code("acct1").as_str(), s(v, &["inbox", "code"]));
    let secret = inbox::unwrap(&d("wrap"), &endorsed, "acct1", &mk).unwrap();
    assert_eq!(secret.expose_secret(), &[11; 32]);
    let dctx = DepositContext { account_id: "acct1", provider_id: "prov1", deposit_id: "dep-1" };
    let seal = Sealed::from_bytes(&d("seal")).unwrap();
    let ck = inbox::open_content_key(&dctx, &secret, 1, DepositKind::Record, &seal).unwrap();
    let rec = inbox::open_record(&dctx, &ck, &d("body")).unwrap();
    assert_eq!(&rec["email"][..], b"jane@example.com");
    assert_eq!(&rec["name"][..], b"Jane");

    let fk = FileKey::from_bytes(b64::decode_array(s(v, &["file", "file_key"])).unwrap());
    let fctx = FileContext { account_id: "acct1", container: "item:item1", file_id: "file1" };
    let stream = b64::decode(s(v, &["file", "stream"]), 10_000).unwrap();
    assert_eq!(&file::decrypt(&fk, &fctx, &stream).unwrap()[..], &file_plaintext()[..]);
    let meta = file::open_meta(&fk, &fctx, &b64::decode(s(v, &["file", "meta"]), 1000).unwrap()).unwrap();
    assert_eq!((meta.name.as_str(), meta.media_type.as_str(), meta.size), ("contract.pdf", "application/pdf", 2500));
}
