//! Recovery kits: the same keys come back from any t shares, nothing is resealed; fewer shares,
//! the server share alone or the emailed token alone reveal nothing.

use std::collections::BTreeMap;

use vouchsafe_client::flows;
use vouchsafe_client::recovery::{self, Recovery};
use vouchsafe_client::vault::Vault;
use vouchsafe_crypto::log::Role;

use crate::harness::{TestServer, fast_kdf};

fn team(srv: &TestServer) -> (Vault, Vault, Vault, String, String) {
    let mut alice = srv.user("alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let mut others = Vec::new();
    for email in ["bob@example.com", "carol@example.com"] {
        let v = srv.user(email);
        alice.invite(&acct, email, Role::Member).unwrap();
        v.client.accept_invitation(&srv.outbox_token(email)).unwrap();
        let code = v.keyring.public().verification_code().to_string();
        alice.confirm(&acct, v.user_id(), Role::Member, &code).unwrap();
        others.push(v);
    }
    let f: BTreeMap<String, Vec<u8>> = [("n".to_owned(), b"customer".to_vec())].into_iter().collect();
    let item = alice.create_item(&acct, &f).unwrap().id;
    let carol = others.pop().unwrap();
    let bob = others.pop().unwrap();
    (alice, bob, carol, acct, item)
}

fn recovery_token(srv: &TestServer, email: &str) -> String {
    srv.client().recovery_request(email).unwrap();
    srv.outbox_token(email)
}

#[test]
fn code_plus_server_share_restores_the_same_keys() {
    let srv = TestServer::start_smtp();
    let (_alice, bob, _carol, acct, item) = team(&srv);
    let kit = recovery::setup(&bob.client, &bob.keyring, &[], false).unwrap();
    assert_eq!((kit.status.threshold, kit.status.share_count, kit.status.server_share), (2, 2, true));
    let old_public = bob.keyring.public();
    let code = kit.code.to_string();
    drop(bob);
    // Bob forgot his password. The emailed token alone gives only the server share…
    let token = recovery_token(&srv, "bob@example.com");
    let c = srv.client();
    let r = Recovery::start(&c, &token).unwrap();
    assert_eq!(r.released(&c).unwrap().len(), 1);
    assert_eq!(
        c.recovery_begin(&vouchsafe_client::types::RecoveryBeginRequest {
            token: token.clone().into(),
            ephemeral_public_key: vouchsafe_crypto::b64::encode(&[9; 32])
        })
        .unwrap_err()
        .status(),
        Some(404),
        "single use"
    );
    // …which alone recovers nothing.
    let alone = vouchsafe_crypto::recovery::combine(&r.released(&c).unwrap()).unwrap_err();
    assert!(matches!(alone, vouchsafe_crypto::Error::Shares(_)));
    // With the code: the same keys, a new password, no reseal needed.
    let keys = r.finish(&c, Some(&code.to_lowercase()), None, "recovered password", fast_kdf()).unwrap();
    assert_eq!(keys.public(), old_public);
    let mut c = srv.client();
    let s = flows::login(&mut c, "bob@example.com", "recovered password").unwrap();
    let mut bob = srv.vault(c, s);
    assert_eq!(bob.keyring.public(), old_public);
    assert_eq!(bob.client.account(&acct).unwrap().status, "active");
    assert_eq!(&bob.get_item(&acct, &item).unwrap().fields["n"][..], b"customer");
    // The used kit is gone; a new one replaces it and the old code no longer fits.
    assert!(!bob.client.kit().unwrap().exists);
    let new_kit = recovery::setup(&bob.client, &bob.keyring, &[], false).unwrap();
    assert_ne!(new_kit.code.to_string(), code);
    let r2 = Recovery::start(&srv.client(), &recovery_token(&srv, "bob@example.com")).unwrap();
    assert!(r2.finish(&srv.client(), Some(&code), None, "x password 123", fast_kdf()).is_err());
}

#[test]
fn guardians_release_after_comparing_the_device_code() {
    let srv = TestServer::start_smtp();
    let (alice, bob, carol, acct, item) = team(&srv);
    let guardians = [carol.keyring.public(), alice.keyring.public()];
    let kit = recovery::setup(&bob.client, &bob.keyring, &guardians, false).unwrap();
    assert_eq!((kit.status.threshold, kit.status.share_count), (2, 4));
    let old_public = bob.keyring.public();
    drop(bob);
    // Bob lost his password *and* his code: server share + one guardian.
    let c = srv.client();
    let r = Recovery::start(&c, &recovery_token(&srv, "bob@example.com")).unwrap();
    assert_eq!(r.guardians().len(), 2);
    // Each guardian is told, by real SMTP, with a link to the dashboard's guardian page.
    for g in ["carol@example.com", "alice@example.com"] {
        let mail = (0..5).map(|_| srv.outbox_mail(g)).find(|m| m.contains("asks for your help")).unwrap();
        assert!(mail.contains("bob@example.com") && mail.contains("/guardian"), "{mail}");
        assert!(!mail.contains("#token="), "a guardian's link carries no token");
    }
    let requests = carol.client.guardian_requests().unwrap();
    assert_eq!(requests.len(), 1);
    // A wrong device code (e.g. an attacker's device) is refused.
    // Carol checks bob's keys against her verified team log, never against what the server says.
    let mut carol = carol;
    let (_, state) = carol.verified_log(&acct).unwrap();
    let owner = recovery::owner_in_log(&state, &requests[0].owner_id, &requests[0].owner_public_keys).unwrap();
    let e = recovery::release_as_guardian(
        &carol.client,
        &carol.keyring,
        &requests[0],
        &owner,
        "00000 00000 00000 00000 00000 00000",
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
    recovery::release_as_guardian(&carol.client, &carol.keyring, &requests[0], &owner, &r.device_code()).unwrap();
    // Someone who is not a guardian cannot release anything.
    let mallory = srv.user("mallory@example.com");
    assert!(mallory.client.guardian_requests().unwrap().is_empty());
    assert_eq!(r.released(&c).unwrap().len(), 2);
    // Without the code, the device needs the code carol reads from her log for bob.
    let e = r.finish(&c, None, None, "recovered password", fast_kdf()).unwrap_err();
    assert!(e.to_string().contains("ask a guardian"), "{e}");
    let read_by_carol = owner.verification_code().to_string();
    let keys = r.finish(&c, None, Some(&read_by_carol), "recovered password", fast_kdf()).unwrap();
    assert_eq!(keys.public(), old_public);
    let mut c = srv.client();
    let s = flows::login(&mut c, "bob@example.com", "recovered password").unwrap();
    let mut bob = srv.vault(c, s);
    bob.get_item(&acct, &item).unwrap();
}

#[test]
fn a_code_only_kit_and_t_minus_one_shares() {
    let srv = TestServer::start_smtp();
    let (_alice, bob, _carol, _acct, _) = team(&srv);
    // 1-of-1: the code alone (and the server holds nothing).
    let kit = recovery::setup(&bob.client, &bob.keyring, &[], true).unwrap();
    assert!(!kit.status.server_share);
    let old = bob.keyring.public();
    let code = kit.code.to_string();
    let c = srv.client();
    let r = Recovery::start(&c, &recovery_token(&srv, "bob@example.com")).unwrap();
    assert!(r.released(&c).unwrap().is_empty(), "the server has no share to release");
    assert_eq!(r.finish(&c, Some(&code), None, "recovered password", fast_kdf()).unwrap().public(), old);
    // A typo in the code is caught, not silently wrong.
    let mut c = srv.client();
    let s = flows::login(&mut c, "bob@example.com", "recovered password").unwrap();
    let bob = srv.vault(c, s);
    let kit = recovery::setup(&bob.client, &bob.keyring, &[], false).unwrap();
    let mut typo: Vec<char> = kit.code.chars().collect();
    typo[3] = if typo[3] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    let r = Recovery::start(&srv.client(), &recovery_token(&srv, "bob@example.com")).unwrap();
    let e = r.finish(&srv.client(), Some(&typo), None, "another password 1", fast_kdf()).unwrap_err();
    assert!(e.to_string().contains("typo"), "{e}");
}
