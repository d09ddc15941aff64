//! Password reset by email and social recovery by vouching.

use std::collections::BTreeMap;
use std::sync::Arc;

use vouchsafe_client::flows;
use vouchsafe_client::vault::Vault;
use vouchsafe_crypto::log::{EntryBody, LogEntry, Policy, Role};

use crate::harness::{TestServer, fast_kdf};

const NEW_PW: &str = "a brand new password";

fn fields(v: &str) -> BTreeMap<String, Vec<u8>> {
    [("n".to_owned(), v.as_bytes().to_vec())].into_iter().collect()
}

fn clocked(srv: &TestServer, mut v: Vault) -> Vault {
    let clock = srv.clock.clone();
    v.set_time_source(Arc::new(move || u64::try_from(vouchsafe::state::Clock::now(&*clock)).unwrap_or(0)));
    v
}

/// alice (owner), bob (member), carol (admin), all active; one item by alice.
fn team(srv: &TestServer) -> (Vault, Vault, Vault, String, String) {
    let mut alice = clocked(srv, srv.user("alice@example.com"));
    let acct = alice.create_account("Acme").unwrap().id;
    let mut others = Vec::new();
    for (email, role) in [("bob@example.com", Role::Member), ("carol@example.com", Role::Admin)] {
        let v = clocked(srv, srv.user(email));
        alice.invite(&acct, email, role).unwrap();
        v.client.accept_invitation(&srv.outbox_token(email)).unwrap();
        let code = v.keyring.public().verification_code().to_string();
        alice.confirm(&acct, v.user_id(), role, &code).unwrap();
        others.push(v);
    }
    let item = alice.create_item(&acct, &fields("customer record")).unwrap().id;
    let carol = others.pop().unwrap();
    let bob = others.pop().unwrap();
    (alice, bob, carol, acct, item)
}

/// Bob forgets his password and resets it by email; returns his new (signed-in) vault.
fn forget_and_reset(srv: &TestServer, email: &str) -> Vault {
    srv.client().reset_request(email).unwrap();
    let token = srv.outbox_token(email);
    let now = u64::try_from(vouchsafe::state::Clock::now(&*srv.clock)).unwrap();
    flows::reset_with_token(&srv.client(), &token, NEW_PW, fast_kdf(), now).unwrap();
    let mut c = srv.client();
    let s = flows::login(&mut c, email, NEW_PW).unwrap();
    clocked(srv, Vault::new(c, s))
}

#[test]
fn forget_reset_vouch_and_read_old_items_with_new_keys() {
    let srv = TestServer::start_smtp();
    let (mut alice, bob, mut carol, acct, item) = team(&srv);
    let old_bob_session = bob.client.clone();
    let mut bob = forget_and_reset(&srv, "bob@example.com");
    assert_eq!(bob.keyring.generation(), 2);
    // Every old session ended; the old password is dead; data is not back by email alone.
    assert_eq!(old_bob_session.me().unwrap_err().code(), Some("auth.session_ended"));
    assert!(flows::login(&mut srv.client(), "bob@example.com", "correct horse battery").is_err());
    assert_eq!(bob.client.account(&acct).unwrap().status, "awaiting_vouch");
    assert_eq!(bob.get_item(&acct, &item).unwrap_err().status(), Some(403));
    // The member and every admin were told.
    assert!(srv.outbox_mail("bob@example.com").contains("was reset"));
    assert!(srv.outbox_mail("alice@example.com").contains("reset their password"));
    assert!(srv.outbox_mail("carol@example.com").contains("reset their password"));
    // Colleagues' team lists say someone waits (a reminder; the vouch itself reads the log).
    let listed = |v: &Vault| v.client.accounts().unwrap().into_iter().find(|a| a.id == acct).unwrap().awaiting_vouch;
    assert_eq!((listed(&carol), carol.client.account(&acct).unwrap().awaiting_vouch), (1, 1));
    // Carol sees the request with the code from the log, compares it with Bob's screen, vouches.
    let pending = carol.pending_resets(&acct).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].code, bob.keyring.public().verification_code().to_string());
    let bob_code = bob.keyring.public().verification_code().to_string();
    assert!(carol.vouch(&acct, bob.user_id(), &bob_code, None).unwrap(), "quorum 1, no waiting: resealed");
    assert_eq!(bob.client.account(&acct).unwrap().status, "active");
    assert_eq!(listed(&carol), 0, "no one waits any more");
    assert_eq!(String::from_utf8(bob.get_item(&acct, &item).unwrap().fields["n"].to_vec()).unwrap(), "customer record");
    assert!(srv.outbox_mail("bob@example.com").contains("restored"));
    // Every step is in the log, and a full replay verifies.
    let (entries, state) = alice.verified_log(&acct).unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e.body.kind_name()).collect();
    assert!(kinds.ends_with(&["reset_announced", "vouch", "key_sealed"]), "{kinds:?}");
    assert_eq!(state.member(bob.user_id()).unwrap().identity, bob.keyring.public());
}

/// The voucher also types the team history code the member's device showed at the reset, and
/// it must be the one her verified log has at the announcement. A code from another history —
/// what the member's device shows when the server served it a log the voucher never saw — or
/// none at all is refused before anything reaches the server; the member's real one passes.
#[test]
fn a_vouch_compares_the_history_code_the_member_read() {
    let srv = TestServer::start_smtp();
    let (_alice, bob, mut carol, acct, _item) = team(&srv);
    srv.client().reset_request("bob@example.com").unwrap();
    let token = srv.outbox_token("bob@example.com");
    let now = u64::try_from(vouchsafe::state::Clock::now(&*srv.clock)).unwrap();
    let done = flows::reset_with_token(&srv.client(), &token, NEW_PW, fast_kdf(), now).unwrap();
    let read = done.history_codes.iter().find(|(a, _)| *a == acct).map(|(_, h)| h.to_string()).unwrap();
    let bob_code = done.keyring.public().verification_code().to_string();
    // Another history: the code of the log one entry short of the announcement.
    let (entries, _) = carol.verified_log(&acct).unwrap();
    let earlier = &entries[entries.len() - 2];
    let other = vouchsafe_crypto::witness::HistoryCode::of(
        &acct,
        vouchsafe_crypto::log::LogHead { seq: earlier.seq, hash: earlier.hash() },
    )
    .to_string();
    assert_ne!(other, read);
    let before = carol.client.log(&acct, None).unwrap().log_len;
    for wrong in [other.as_str(), ""] {
        let e = carol.vouch(&acct, bob.user_id(), &bob_code, Some(wrong)).unwrap_err();
        assert!(e.to_string().contains("history code"), "{e}");
    }
    assert_eq!(carol.client.log(&acct, None).unwrap().log_len, before, "no vouch was appended");
    assert!(carol.vouch(&acct, bob.user_id(), &bob_code, Some(&read)).unwrap(), "the member's own code: resealed");
}

#[test]
fn quorum_waiting_period_duplicates_and_veto() {
    let srv = TestServer::start_smtp();
    let (mut alice, _bob, mut carol, acct, item) = team(&srv);
    alice.set_policy(&acct, Policy { vouch_quorum: 2, waiting_period_secs: 600, ..Policy::default() }).unwrap();
    let mut bob = forget_and_reset(&srv, "bob@example.com");
    let code = bob.keyring.public().verification_code().to_string();
    assert!(!carol.vouch(&acct, bob.user_id(), &code, None).unwrap(), "one of two vouches");
    // The same voucher twice does not count.
    assert!(carol.vouch(&acct, bob.user_id(), &code, None).is_err());
    assert!(!alice.vouch(&acct, bob.user_id(), &code, None).unwrap(), "quorum met, waiting period not over");
    let e = carol.reseal(&acct, bob.user_id()).unwrap_err();
    assert!(e.to_string().contains("waiting period"), "{e}");
    let p = carol.pending_resets(&acct).unwrap();
    assert_eq!((p[0].vouchers.len(), p[0].resealable_at - p[0].announced_at), (2, 600));
    srv.clock.advance(600);
    carol.reseal(&acct, bob.user_id()).unwrap();
    bob.get_item(&acct, &item).unwrap();

    // A veto stops a reset, whatever the vouches.
    alice.set_policy(&acct, Policy::default()).unwrap();
    let bob2 = forget_and_reset(&srv, "bob@example.com");
    alice.veto(&acct, bob2.user_id()).unwrap();
    let code2 = bob2.keyring.public().verification_code().to_string();
    assert!(carol.vouch(&acct, bob2.user_id(), &code2, None).is_err(), "vetoed resets take no vouches");
    assert!(carol.reseal(&acct, bob2.user_id()).is_err());
    assert!(alice.pending_resets(&acct).unwrap()[0].vetoed);
    // A member cannot vouch for themselves, a non-member cannot see the request.
    let mut bob2 = bob2;
    assert!(bob2.vouch(&acct, bob2.user_id().to_owned().as_str(), &code2, None).is_err());
}

#[test]
fn voucher_catches_a_server_that_swaps_the_new_key() {
    let srv = TestServer::start_smtp();
    let (mut alice, bob, mut carol, acct, _) = team(&srv);
    // The server (it has the email token path, or just its database) announces a reset for Bob
    // with keys it made itself. That entry is well-formed: only the code comparison catches it.
    let (_, state) = alice.verified_log(&acct).unwrap();
    let mut rng = vouchsafe_crypto::testing::DeterministicRng::new(9);
    let fake = vouchsafe_crypto::identity::Keyring::generate(bob.user_id(), 2, &mut rng).unwrap();
    let forged = LogEntry::create(
        &acct,
        Some(state.head()),
        &fake,
        state.last_timestamp(),
        EntryBody::ResetAnnounced { new_identity: fake.public(), previous_generation: None },
    )
    .unwrap();
    srv.sql(&format!(
        "INSERT INTO log_entries (account_id, seq, entry, hash, author, kind, created_at) VALUES ('{acct}', {}, {}, {}, '{}', 'reset_announced', 0)",
        forged.seq,
        srv.blob(&forged.to_bytes()),
        srv.blob(&forged.hash()),
        bob.user_id()
    ));
    srv.sql(&format!("UPDATE accounts SET log_len = log_len + 1 WHERE id = '{acct}'"));
    // The real Bob reads the code of his real key (he still has generation 1 here; any real
    // key of his has a code the server cannot predict).
    let real_code = bob.keyring.public().verification_code().to_string();
    let e = carol.vouch(&acct, bob.user_id(), &real_code, None).unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
    // And nobody can reseal to the forged key without vouches.
    assert!(alice.reseal(&acct, bob.user_id()).is_err());
}

#[test]
fn reset_tokens_expire_are_single_use_and_cancellable() {
    let srv = TestServer::start_smtp();
    let (_alice, _bob, _carol, _acct, _) = team(&srv);
    let c = srv.client();
    // Unknown email: the same 202.
    let known = c
        .raw("POST", "/api/v1/auth/reset/request", Some(("application/json", r#"{"email":"bob@example.com"}"#)), &[])
        .unwrap();
    let unknown = c
        .raw("POST", "/api/v1/auth/reset/request", Some(("application/json", r#"{"email":"nobody@example.com"}"#)), &[])
        .unwrap();
    assert_eq!((known.status, known.body.clone()), (unknown.status, unknown.body.clone()));
    assert_eq!(known.status, 202);
    let mail = srv.outbox_mail("bob@example.com");
    let token = crate::harness::token_in(&mail).unwrap();
    let cancel = {
        let flat = mail.replace("=\r\n", "").replace("=3D", "=");
        let i = flat.find("/reset/cancel#token=").unwrap() + "/reset/cancel#token=".len();
        flat[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect::<String>()
    };
    assert_ne!(token, cancel);
    // "This was not me" before use: the link is dead.
    c.reset_cancel(&cancel).unwrap();
    assert_eq!(c.reset_begin(&token).unwrap_err().status(), Some(404));
    // Expiry (10 minutes by default).
    c.reset_request("bob@example.com").unwrap();
    let token = srv.outbox_token("bob@example.com");
    srv.clock.advance(10 * 60 - 1);
    c.reset_begin(&token).unwrap();
    srv.clock.advance(2);
    assert_eq!(c.reset_begin(&token).unwrap_err().status(), Some(404));
    // 50 concurrent redemptions of one token: exactly one wins.
    c.reset_request("bob@example.com").unwrap();
    let token = srv.outbox_token("bob@example.com");
    let now = u64::try_from(vouchsafe::state::Clock::now(&*srv.clock)).unwrap();
    let begin = c.reset_begin(&token).unwrap();
    let mut rng = vouchsafe_crypto::os_rng();
    let keyring =
        vouchsafe_crypto::identity::Keyring::generate(&begin.user_id, begin.generation + 1, &mut rng).unwrap();
    let salt = vouchsafe_crypto::kdf::new_salt(&mut rng);
    let keys = vouchsafe_crypto::kdf::derive_password_keys(NEW_PW.as_bytes(), &salt, &fast_kdf()).unwrap();
    let b64 = vouchsafe_crypto::b64::encode;
    let req = vouchsafe_client::types::ResetCompleteRequest {
        token: token.clone().into(),
        new_auth_key: b64(keys.auth_key.expose_secret()).into(),
        new_kdf_salt: b64(salt.expose_secret()),
        new_kdf_params: fast_kdf(),
        new_public_keys: b64(&keyring.public().keys_to_bytes()),
        new_wrapped_keyring: b64(keyring.wrap(&keys.kek, &mut rng).as_bytes()),
        announcements: begin
            .accounts
            .iter()
            .map(|a| vouchsafe_client::types::ResetAnnouncement {
                account_id: a.account_id.clone(),
                entry: b64(&LogEntry::create(
                    &a.account_id,
                    Some(vouchsafe_crypto::log::LogHead {
                        seq: a.seq,
                        hash: vouchsafe_crypto::b64::decode_array(&a.hash).unwrap(),
                    }),
                    &keyring,
                    now.max(a.timestamp),
                    EntryBody::ResetAnnounced {
                        new_identity: keyring.public(),
                        previous_generation: Some(begin.generation),
                    },
                )
                .unwrap()
                .to_bytes()),
            })
            .collect(),
        second_factor: None,
        lost_second_factor: false,
    };
    let results: Vec<Result<(), vouchsafe_client::ClientError>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..50).map(|_| s.spawn(|| srv.client().reset_complete(&req))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        results.iter().filter_map(|r| r.as_ref().err().map(|e| e.to_string())).collect::<Vec<_>>()
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || r.as_ref().err().and_then(|e| e.status()).is_some_and(|s| s == 404 || s == 429))
    );
    // Reused: the winner's token is now dead.
    assert_eq!(srv.client().reset_complete(&req).unwrap_err().status(), Some(404));
    // Exactly one announcement landed.
    let mut c = srv.client();
    let s = flows::login(&mut c, "bob@example.com", NEW_PW).unwrap();
    assert_eq!(s.keyring.generation(), 2);
}

#[test]
fn not_me_after_completion_blocks_the_reseal() {
    let srv = TestServer::start_smtp();
    let (_alice, _bob, mut carol, acct, _) = team(&srv);
    srv.client().reset_request("bob@example.com").unwrap();
    let mail = srv.outbox_mail("bob@example.com");
    let token = crate::harness::token_in(&mail).unwrap();
    let flat = mail.replace("=\r\n", "").replace("=3D", "=");
    let i = flat.find("/reset/cancel#token=").unwrap() + "/reset/cancel#token=".len();
    let cancel: String =
        flat[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    // An attacker with access to Bob's mailbox completes the reset…
    let now = u64::try_from(vouchsafe::state::Clock::now(&*srv.clock)).unwrap();
    let attacker_keys =
        flows::reset_with_token(&srv.client(), &token, "attacker password", fast_kdf(), now).unwrap().keyring;
    // …the real Bob sees the notice and clicks "this was not me".
    srv.client().reset_cancel(&cancel).unwrap();
    // Even a colleague tricked into vouching cannot reseal.
    let code = attacker_keys.public().verification_code().to_string();
    let e = carol.vouch(&acct, attacker_keys.user_id(), &code, None).unwrap_err();
    assert_eq!(e.code(), Some("reset.vetoed"), "{e}");
}

#[test]
fn operator_templates_apply_to_reset_notices_too() {
    let dir = std::env::temp_dir().join(crate::harness::unique("vs-templates-"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("reset_done.txt"), "ACME IT: the password of {{email}} was reset.").unwrap();
    let d = dir.clone();
    let srv = TestServer::start_with(move |c| c.mail.templates_dir = Some(d));
    let (_alice, _bob, _carol, _acct, _) = team(&srv);
    forget_and_reset(&srv, "bob@example.com");
    let mut found = false;
    for _ in 0..5 {
        let m = srv.outbox_mail("bob@example.com");
        if m.contains("ACME IT: the password of bob@example.com was reset.") {
            found = true;
            break;
        }
    }
    assert!(found, "the operator's reset_done template was used");
    std::fs::remove_dir_all(dir).ok();
}
