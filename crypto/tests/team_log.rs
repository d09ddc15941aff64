//! Team log replay: the happy paths and every kind of forgery a malicious server (or member)
//! could try.

use vouchsafe_crypto::identity::Keyring;
use vouchsafe_crypto::log::{
    EntryBody, LogEntry, LogError, LogHead, MemberStatus, Policy, Role, TeamState, VoucherRule, WorkerAccess,
};
use vouchsafe_crypto::seal::{MasterKey, seal_master_key};
use vouchsafe_crypto::testing::DeterministicRng;

const ACCT: &str = "acct1";

struct Team {
    rng: DeterministicRng,
    log: Vec<LogEntry>,
    alice: Keyring,
    bob: Keyring,
    carol: Keyring,
    mk: MasterKey,
}

fn seal_body(mk: &MasterKey, rng: &mut DeterministicRng, to: &Keyring, sealer: &Keyring) -> EntryBody {
    let sealed = seal_master_key(mk, ACCT, &to.public(), sealer, rng).unwrap();
    EntryBody::KeySealed {
        recipient: to.user_id().into(),
        generation: to.generation(),
        fingerprint: to.public().fingerprint().0,
        key_version: 1,
        sealed_hash: sealed.hash(),
    }
}

impl Team {
    fn head(&self) -> Option<LogHead> {
        let s = TeamState::replay(ACCT, &self.log).unwrap();
        Some(s.head())
    }
    fn entry(&self, author: &Keyring, body: EntryBody) -> LogEntry {
        let ts = self.log.last().map_or(1_000, |e| e.timestamp + 1);
        LogEntry::create(ACCT, self.head(), author, ts, body).unwrap()
    }
    fn push(&mut self, author_is: &str, body: EntryBody) {
        let author = match author_is {
            "alice" => &self.alice,
            "bob" => &self.bob,
            _ => &self.carol,
        };
        let e = self.entry(author, body);
        self.log.push(e);
        TeamState::replay(ACCT, &self.log).unwrap();
    }
    fn state(&self) -> TeamState {
        TeamState::replay(ACCT, &self.log).unwrap()
    }
    fn try_append(&self, e: LogEntry) -> Result<TeamState, LogError> {
        let mut s = self.state();
        s.apply(&e)?;
        Ok(s)
    }
}

/// alice (owner) creates the account, adds bob (member) and carol (admin), seals to both.
fn team() -> Team {
    let mut rng = DeterministicRng::new(42);
    let alice = Keyring::generate("alice", 1, &mut rng).unwrap();
    let bob = Keyring::generate("bob", 1, &mut rng).unwrap();
    let carol = Keyring::generate("carol", 1, &mut rng).unwrap();
    let mk = MasterKey::generate(1, &mut rng).unwrap();
    let genesis = LogEntry::create(
        ACCT,
        None,
        &alice,
        1_000,
        EntryBody::Genesis { creator: alice.public(), policy: Policy::default() },
    )
    .unwrap();
    let mut t = Team { rng, log: vec![genesis], alice, bob, carol, mk };
    t.push("alice", EntryBody::MemberAdded { member: t.bob.public(), role: Role::Member });
    t.push("alice", EntryBody::MemberAdded { member: t.carol.public(), role: Role::Admin });
    let body = seal_body(&t.mk, &mut t.rng, &t.bob, &t.alice);
    t.push("alice", body);
    let body = seal_body(&t.mk, &mut t.rng, &t.carol, &t.alice);
    t.push("alice", body);
    t
}

#[test]
fn replay_yields_members_roles_keys_policy() {
    let t = team();
    let s = t.state();
    assert_eq!(s.members().len(), 3);
    assert_eq!(s.member("alice").unwrap().role, Role::Owner);
    assert_eq!(s.member("carol").unwrap().role, Role::Admin);
    assert_eq!(s.member("bob").unwrap().identity, t.bob.public());
    assert_eq!(s.key_version(), 1);
    assert!(s.holds("bob", 1) && s.holds("carol", 1));
    assert_eq!(*s.policy(), Policy::default());
    assert_eq!(s.head().seq, 4);
    // wire roundtrip
    for e in &t.log {
        assert_eq!(LogEntry::from_bytes(&e.to_bytes()).unwrap(), *e);
    }
}

#[test]
fn bad_signature_is_rejected() {
    let t = team();
    for i in 0..t.log.len() {
        let mut log = t.log.clone();
        log[i].signature[5] ^= 1;
        // entries after i no longer chain either; the first error must be the signature
        assert_eq!(TeamState::replay(ACCT, &log).unwrap_err(), LogError::BadSignature(i as u64), "entry {i}");
    }
}

#[test]
fn broken_or_reordered_chain_is_rejected() {
    let t = team();
    let mut dropped = t.log.clone();
    dropped.remove(2);
    assert_eq!(TeamState::replay(ACCT, &dropped).unwrap_err(), LogError::BrokenChain(3));
    let mut swapped = t.log.clone();
    swapped.swap(1, 2);
    assert!(matches!(TeamState::replay(ACCT, &swapped).unwrap_err(), LogError::BrokenChain(_)));
    assert_eq!(TeamState::replay("other", &t.log).unwrap_err(), LogError::WrongAccount(0));
    assert!(TeamState::replay(ACCT, &[]).is_err());
    // a second genesis in the middle
    let g2 = t.entry(&t.alice, EntryBody::Genesis { creator: t.alice.public(), policy: Policy::default() });
    assert!(t.try_append(g2).is_err());
}

#[test]
fn fork_against_checkpoint_is_detected() {
    let t = team();
    let checkpoint = t.state().head();
    // The server rewrites history: a different entry 4 (bob sealed by alice again, other blob).
    let mut forked = t.log[..4].to_vec();
    let s = TeamState::replay(ACCT, &forked).unwrap();
    let mut rng = DeterministicRng::new(99);
    let sealed = seal_master_key(&t.mk, ACCT, &t.carol.public(), &t.alice, &mut rng).unwrap();
    let e = LogEntry::create(
        ACCT,
        Some(s.head()),
        &t.alice,
        5_000,
        EntryBody::KeySealed {
            recipient: "carol".into(),
            generation: 1,
            fingerprint: t.carol.public().fingerprint().0,
            key_version: 1,
            sealed_hash: sealed.hash(),
        },
    )
    .unwrap();
    forked.push(e);
    // The forked log is internally valid (alice did sign it) but it is not the one we verified.
    assert!(TeamState::replay(ACCT, &forked).is_ok());
    assert_eq!(TeamState::replay_extending(ACCT, &forked, checkpoint).unwrap_err(), LogError::Fork(4));
    assert!(TeamState::replay_extending(ACCT, &t.log, checkpoint).is_ok());
}

#[test]
fn plain_member_cannot_add_members_or_lower_quorum() {
    let mut t = team();
    let mut rng = DeterministicRng::new(7);
    let mallory = Keyring::generate("mallory", 1, &mut rng).unwrap();
    let e = t.entry(&t.bob, EntryBody::MemberAdded { member: mallory.public(), role: Role::Member });
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::Unauthorized(5, _)));
    // raise the quorum as alice, then bob tries to lower it
    t.push("alice", EntryBody::PolicyChanged { policy: Policy { vouch_quorum: 2, ..Policy::default() } });
    let e = t.entry(&t.bob, EntryBody::PolicyChanged { policy: Policy::default() });
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::Unauthorized(6, _)));
    // an admin may not make an owner; a member may not change roles
    let e = t.entry(&t.carol, EntryBody::RoleChanged { user_id: "bob".into(), role: Role::Owner });
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::Unauthorized(..)));
    let e = t.entry(&t.bob, EntryBody::RoleChanged { user_id: "bob".into(), role: Role::Admin });
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::Unauthorized(..)));
    // the last owner cannot be demoted or removed
    let e = t.entry(&t.alice, EntryBody::MemberRemoved { user_id: "alice".into() });
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::Invalid(..)));
}

#[test]
fn server_cannot_inject_ghost_member_or_swap_keys() {
    let t = team();
    let mut rng = DeterministicRng::new(8);
    // A ghost: the server signs with a key of its own and claims to be alice.
    let fake_alice = Keyring::generate("alice", 1, &mut rng).unwrap();
    let ghost = Keyring::generate("ghost", 1, &mut rng).unwrap();
    let e = t.entry(&fake_alice, EntryBody::MemberAdded { member: ghost.public(), role: Role::Admin });
    assert_eq!(t.try_append(e).unwrap_err(), LogError::BadSignature(5));
    // A seal to a key the log does not endorse (bob's id, server's key).
    let fake_bob = Keyring::generate("bob", 1, &mut rng).unwrap();
    let sealed = seal_master_key(&t.mk, ACCT, &fake_bob.public(), &t.alice, &mut rng).unwrap();
    let e = t.entry(
        &t.alice,
        EntryBody::KeySealed {
            recipient: "bob".into(),
            generation: 1,
            fingerprint: fake_bob.public().fingerprint().0,
            key_version: 1,
            sealed_hash: sealed.hash(),
        },
    );
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::UnendorsedKey(5, _)));
    // And the client-side check refuses to seal to it in the first place.
    let s = t.state();
    assert!(matches!(s.check_seal_recipient(&fake_bob.public(), 1, 2_000), Err(LogError::UnendorsedKey(..))));
    assert!(matches!(s.check_seal_recipient(&ghost.public(), 1, 2_000), Err(LogError::UnendorsedKey(..))));
    assert!(s.check_seal_recipient(&t.bob.public(), 1, 2_000).is_ok());
    assert!(s.check_seal_recipient(&t.bob.public(), 2, 2_000).is_err());
}

fn reset_bob(t: &mut Team, policy: Option<Policy>) -> Keyring {
    if let Some(p) = policy {
        t.push("alice", EntryBody::PolicyChanged { policy: p });
    }
    let mut rng = DeterministicRng::new(77);
    let bob2 = Keyring::generate("bob", 2, &mut rng).unwrap();
    let e = t.entry(&bob2, EntryBody::ResetAnnounced { new_identity: bob2.public(), previous_generation: Some(1) });
    t.log.push(e);
    bob2
}

#[test]
fn a_reset_names_the_generation_it_replaces() {
    let t = team();
    let mut rng = DeterministicRng::new(78);
    let bob2 = Keyring::generate("bob", 2, &mut rng).unwrap();
    for wrong in [0, 2, 7] {
        let e =
            t.entry(&bob2, EntryBody::ResetAnnounced { new_identity: bob2.public(), previous_generation: Some(wrong) });
        assert!(matches!(t.try_append(e).unwrap_err(), LogError::Invalid(_, m) if m.contains("replaces")), "{wrong}");
    }
    // The named form round-trips as kind 13; the legacy form (7) still reads.
    let e = t.entry(&bob2, EntryBody::ResetAnnounced { new_identity: bob2.public(), previous_generation: Some(1) });
    assert_eq!(e.body.kind(), 13);
    assert_eq!(LogEntry::from_bytes(&e.to_bytes()).unwrap(), e);
    let s = t.try_append(e).unwrap();
    let MemberStatus::AwaitingVouch(p) = &s.member("bob").unwrap().status else { panic!("not awaiting") };
    assert_eq!((p.replaces_generation, p.new_identity.generation), (1, 2));
    let legacy = t.entry(&bob2, EntryBody::ResetAnnounced { new_identity: bob2.public(), previous_generation: None });
    assert_eq!(legacy.body.kind(), 7);
    assert!(t.try_append(legacy).is_ok());
}

fn vouch_body(t: &Team, user: &str, new_fp: [u8; 32]) -> EntryBody {
    let s = t.state();
    let MemberStatus::AwaitingVouch(p) = &s.member(user).unwrap().status else { panic!("not awaiting") };
    EntryBody::Vouch { user_id: user.into(), reset_hash: p.reset_hash, new_fingerprint: new_fp }
}

#[test]
fn reset_vouch_reseal() {
    let mut t = team();
    let bob2 = reset_bob(&mut t, Some(Policy { vouch_quorum: 2, ..Policy::default() }));
    let s = t.state();
    assert!(matches!(s.member("bob").unwrap().status, MemberStatus::AwaitingVouch(_)));
    assert!(!s.holds("bob", 1));
    // Reseal before quorum: refused by the client check and by replay.
    assert!(matches!(s.check_seal_recipient(&bob2.public(), 1, 9_999), Err(LogError::Unauthorized(..))));
    let body = seal_body(&t.mk, &mut t.rng, &bob2, &t.alice);
    let e = t.entry(&t.alice, body.clone());
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::Unauthorized(..)));
    // A vouch that binds another key is rejected.
    let mut rng = DeterministicRng::new(5);
    let other = Keyring::generate("bob", 2, &mut rng).unwrap();
    let bad = vouch_body(&t, "bob", other.public().fingerprint().0);
    let e = t.entry(&t.carol, bad);
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::VouchMismatch(_)));
    // A vouch naming another reset request is rejected.
    let e = t.entry(
        &t.carol,
        EntryBody::Vouch { user_id: "bob".into(), reset_hash: [9; 32], new_fingerprint: bob2.public().fingerprint().0 },
    );
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::VouchMismatch(_)));
    // Two distinct vouchers; the same one twice does not count.
    let good = vouch_body(&t, "bob", bob2.public().fingerprint().0);
    t.push("carol", good.clone());
    let e = t.entry(&t.carol, good.clone());
    assert!(t.try_append(e).is_err());
    // Bob cannot vouch for himself (his new key is not an active member key anyway).
    let e = t.entry(&bob2, good.clone());
    assert!(t.try_append(e).is_err());
    t.push("alice", good);
    // Now a reseal to the exact new key is endorsed, and activates bob's generation 2.
    assert_eq!(
        t.state().check_seal_recipient(&bob2.public(), 1, 99_999).unwrap(),
        vouchsafe_crypto::log::SealTarget::Reseal
    );
    t.push("alice", body);
    let s = t.state();
    assert_eq!(s.member("bob").unwrap().status, MemberStatus::Active);
    assert_eq!(s.member("bob").unwrap().identity, bob2.public());
    assert!(s.holds("bob", 1));
}

#[test]
fn waiting_period_and_veto() {
    let mut t = team();
    let bob2 = reset_bob(&mut t, Some(Policy { waiting_period_secs: 3600, ..Policy::default() }));
    let v = vouch_body(&t, "bob", bob2.public().fingerprint().0);
    t.push("carol", v);
    let announced = t.log[t.log.len() - 2].timestamp;
    let s = t.state();
    assert!(s.check_seal_recipient(&bob2.public(), 1, announced + 3599).is_err());
    assert!(s.check_seal_recipient(&bob2.public(), 1, announced + 3600).is_ok());
    // An entry timestamped inside the waiting period cannot reseal.
    let body = seal_body(&t.mk, &mut t.rng, &bob2, &t.carol);
    let early = LogEntry::create(ACCT, t.head(), &t.carol, announced + 10, body.clone()).unwrap();
    assert!(matches!(t.try_append(early).unwrap_err(), LogError::Unauthorized(..)));
    // The member's *old* key vetoes (the real bob did not ask for this reset).
    let MemberStatus::AwaitingVouch(p) = &s.member("bob").unwrap().status else { panic!() };
    let veto = LogEntry::create(
        ACCT,
        t.head(),
        &t.bob,
        announced + 20,
        EntryBody::Veto { user_id: "bob".into(), reset_hash: p.reset_hash },
    )
    .unwrap();
    t.log.push(veto);
    let late = LogEntry::create(ACCT, t.head(), &t.carol, announced + 7200, body).unwrap();
    assert!(matches!(t.try_append(late).unwrap_err(), LogError::Unauthorized(..)));
    // Timestamps never go backwards.
    let back = LogEntry::create(ACCT, t.head(), &t.alice, 10, EntryBody::KeyRotated { key_version: 2 }).unwrap();
    assert!(t.try_append(back).is_err());
}

#[test]
fn removal_requires_rotation_and_admin_quorum_for_workers() {
    let mut t = team();
    t.push("alice", EntryBody::MemberRemoved { user_id: "bob".into() });
    let s = t.state();
    assert!(s.rotation_required());
    assert!(s.member("bob").is_none());
    assert!(s.check_seal_recipient(&t.bob.public(), 1, 9_999).is_err());
    // bob's key no longer signs anything
    let e = t.entry(&t.bob, EntryBody::KeyRotated { key_version: 2 });
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::UnendorsedKey(..)));
    t.push("alice", EntryBody::KeyRotated { key_version: 2 });
    assert!(!t.state().rotation_required());
    assert_eq!(t.state().key_version(), 2);

    // Two admins must sign worker grants.
    t.push(
        "alice",
        EntryBody::PolicyChanged {
            policy: Policy { admin_approvals: 2, vouchers: VoucherRule::AdminsOnly, ..Policy::default() },
        },
    );
    let mut rng = DeterministicRng::new(3);
    let worker = Keyring::generate("worker-1", 1, &mut rng).unwrap();
    let grant = EntryBody::WorkerGranted { worker: worker.public(), access: WorkerAccess::Read };
    let e = t.entry(&t.alice, grant.clone());
    assert!(matches!(t.try_append(e.clone()).unwrap_err(), LogError::Unauthorized(..)));
    let mut cosigned = e.clone();
    cosigned.cosign(&t.alice); // the author again does not count
    assert!(t.try_append(cosigned).is_err());
    let mut cosigned = e;
    cosigned.cosign(&t.carol);
    let s = t.try_append(cosigned).unwrap();
    assert!(s.workers().contains_key("worker-1"));
    // A lowered policy also needs two admins now.
    let e = t.entry(&t.alice, EntryBody::PolicyChanged { policy: Policy::default() });
    assert!(matches!(t.try_append(e).unwrap_err(), LogError::Unauthorized(..)));
}

#[test]
fn inbox_keys_are_endorsed_by_admins_in_order() {
    let mut t = team();
    let (_, k1) = vouchsafe_crypto::inbox::generate(1, &mut t.rng).unwrap();
    let (_, k2) = vouchsafe_crypto::inbox::generate(2, &mut t.rng).unwrap();
    let body =
        |k: &vouchsafe_crypto::inbox::InboxKey| EntryBody::InboxKey { inbox_version: k.version, public_key: k.public };
    // A plain member cannot endorse one; nor can a first key skip version 1.
    assert!(matches!(t.try_append(t.entry(&t.bob, body(&k1))), Err(LogError::Unauthorized(..))));
    assert!(t.try_append(t.entry(&t.alice, body(&k2))).is_err());
    assert_eq!(t.state().inbox_key(), None);
    t.push("carol", body(&k1));
    assert_eq!(t.state().inbox_key(), Some(k1));
    // The same key again, or the same version again, is refused; the next version replaces it.
    assert!(t.try_append(t.entry(&t.alice, EntryBody::InboxKey { inbox_version: 2, public_key: k1.public })).is_err());
    assert!(t.try_append(t.entry(&t.alice, body(&k1))).is_err());
    assert!(t.try_append(t.entry(&t.alice, EntryBody::InboxKey { inbox_version: 2, public_key: [0; 32] })).is_err());
    t.push("alice", body(&k2));
    let s = t.state();
    assert_eq!(s.inbox_key(), Some(k2));
    assert_eq!(s.inbox_keys().len(), 2);
    // It survives the wire encoding.
    let last = t.log.last().unwrap();
    assert_eq!(LogEntry::from_bytes(&last.to_bytes()).unwrap(), *last);
    assert_eq!(last.body.kind(), 15);
}
