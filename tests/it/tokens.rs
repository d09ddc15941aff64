//! API tokens for provisioning clients: scoped to one account and a few routes, never a key.

use std::collections::BTreeMap;

use vouchsafe_client::types::{CreateApiTokenRequest, PutItemRequest, Scope};
use vouchsafe_client::vault::Vault;
use vouchsafe_client::{Client, ClientError};
use vouchsafe_crypto::log::{EntryBody, Role};

use crate::harness::TestServer;

fn fields(v: &str) -> BTreeMap<String, Vec<u8>> {
    [("name".to_owned(), v.as_bytes().to_vec())].into_iter().collect()
}

/// alice (owner) and bob (member, confirmed) in one account.
fn team(srv: &TestServer) -> (Vault, Vault, String) {
    crate::harness::team_of_two(srv)
}

fn token(srv: &TestServer, admin: &Vault, acct: &str, name: &str, scopes: &[Scope]) -> (String, String) {
    let req = CreateApiTokenRequest { name: name.into(), scopes: scopes.to_vec(), expires_in_days: None };
    let t = admin.client.create_token(acct, &req).unwrap();
    let _ = srv;
    (t.token.expose().to_owned(), t.info.id)
}

fn as_token(srv: &TestServer, secret: &str) -> Client {
    let mut c = srv.client();
    c.set_access_token(Some(secret.to_owned()));
    c
}

fn refused(r: Result<impl std::fmt::Debug, ClientError>, status: u16, code: &str) {
    let e = r.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(status), Some(code)), "{e}");
}

#[test]
fn a_token_does_what_its_scopes_say_on_its_own_account_and_nothing_else() {
    let srv = TestServer::start();
    let (mut alice, bob, acct) = team(&srv);
    let item = alice.create_item(&acct, &fields("Jane")).unwrap();
    let (inviter, inviter_id) = token(&srv, &alice, &acct, "HR sync", &[Scope::InvitationsWrite]);
    let (reader, _) = token(&srv, &alice, &acct, "Directory", &[Scope::MembersRead]);
    // Everything a token may carry together (a provider's scope goes alone: tests/it/inbox.rs).
    let all: Vec<Scope> = Scope::ALL.into_iter().filter(|s| !s.is_provider()).collect();
    let (every, _) = token(&srv, &alice, &acct, "Everything", &all);

    // A recognisable secret of 256 random bits, kept only as its hash.
    assert!(inviter.starts_with("vst_") && inviter.len() == 47, "{inviter}");
    let rows = srv.query("SELECT id, name, scopes, created_by FROM api_tokens", 4);
    assert_eq!(rows.len(), 3);
    for row in &rows {
        for cell in row {
            assert!(!cell.contains(&inviter[4..]) && !cell.contains(&reader[4..]) && !cell.contains(&every[4..]));
        }
    }

    // invitations:write: invite, list, revoke — and the e-mail says who invited.
    let c = as_token(&srv, &inviter);
    let inv = c.invite(&acct, "dan@example.com", "member").unwrap();
    assert_eq!(inv.status, "pending");
    assert!(srv.outbox_mail("dan@example.com").contains("HR sync"));
    let other = c.invite(&acct, "erin@example.com", "admin").unwrap();
    assert_eq!(c.invitations(&acct).unwrap().len(), 3, "bob's, dan's and erin's");
    c.revoke_invitation(&acct, &other.id).unwrap();
    refused(c.invite(&acct, "owner@example.com", "owner"), 403, "account.forbidden");
    refused(c.members(&acct), 403, "token.scope_missing");
    refused(c.deprovision(&acct, bob.user_id()), 403, "token.scope_missing");

    // members:read lists members and nothing else.
    let r = as_token(&srv, &reader);
    assert_eq!(r.members(&acct).unwrap().len(), 2);
    refused(r.invite(&acct, "fay@example.com", "member"), 403, "token.scope_missing");
    refused(r.invitations(&acct), 403, "token.scope_missing");

    // No scope reaches items, keys, the log, the account itself or a person's routes.
    let e = as_token(&srv, &every);
    let put = PutItemRequest { revision: None, key_version: 1, fields: BTreeMap::new() };
    refused(e.items(&acct, None, 10, None), 403, "auth.api_token_not_allowed");
    refused(e.item(&acct, &item.id), 403, "auth.api_token_not_allowed");
    refused(e.put_item(&acct, "abcdefghijklmnopqrstuv", &put), 403, "auth.api_token_not_allowed");
    refused(e.delete_item(&acct, &item.id), 403, "auth.api_token_not_allowed");
    refused(e.log(&acct, None), 403, "auth.api_token_not_allowed");
    refused(e.sealed_keys(&acct), 403, "auth.api_token_not_allowed");
    refused(e.account(&acct), 403, "auth.api_token_not_allowed");
    refused(e.accounts(), 403, "auth.api_token_not_allowed");
    refused(e.me(), 403, "auth.api_token_not_allowed");
    refused(e.sessions(), 403, "auth.api_token_not_allowed");
    refused(e.audit(&acct), 403, "auth.api_token_not_allowed");
    refused(e.tokens(&acct), 403, "auth.api_token_not_allowed");
    let req = CreateApiTokenRequest { name: "more".into(), scopes: Scope::ALL.to_vec(), expires_in_days: None };
    refused(e.create_token(&acct, &req), 403, "auth.api_token_not_allowed");
    refused(e.accept_invitation("whatever"), 403, "auth.api_token_not_allowed");

    // Another account is out of reach (as if it did not exist); a made-up token is a 401.
    let other_acct = alice.create_account("Other").unwrap().id;
    refused(c.invite(&other_acct, "gus@example.com", "member"), 404, "account.not_found");
    refused(as_token(&srv, &format!("vst_{}", "A".repeat(43))).invitations(&acct), 401, "auth.invalid_token");

    // Only a person who is an admin manages tokens.
    let req = CreateApiTokenRequest { name: "mine".into(), scopes: vec![Scope::MembersRead], expires_in_days: None };
    refused(bob.client.create_token(&acct, &req), 403, "account.forbidden");
    refused(bob.client.tokens(&acct), 403, "account.forbidden");
    let bad = CreateApiTokenRequest { name: " ".into(), scopes: vec![Scope::MembersRead], expires_in_days: None };
    refused(alice.client.create_token(&acct, &bad), 400, "token.invalid_name");
    let none = CreateApiTokenRequest { name: "n".into(), scopes: vec![], expires_in_days: None };
    refused(alice.client.create_token(&acct, &none), 400, "token.no_scope");

    // Every use is in the audit trail under the token's name; the list shows the last use.
    let audit = alice.client.audit(&acct).unwrap();
    let by_inviter: Vec<&str> = audit.iter().filter(|a| a.actor_id == inviter_id).map(|a| a.action.as_str()).collect();
    for action in ["invitations.create", "invitations.list", "invitations.revoke"] {
        assert!(by_inviter.contains(&action), "{action} in {by_inviter:?}");
    }
    assert!(audit.iter().filter(|a| a.actor_kind == "api_token").all(|a| a.actor_name.is_some()));
    assert!(audit.iter().any(|a| a.actor_name.as_deref() == Some("Directory") && a.action == "members.list"));
    let listed = alice.client.tokens(&acct).unwrap();
    let hr = listed.iter().find(|t| t.id == inviter_id).unwrap();
    assert!(hr.last_used_at.is_some() && hr.revoked_at.is_none());
    assert_eq!(hr.scopes, vec![Scope::InvitationsWrite]);

    // Revoked: refused at once.
    alice.client.revoke_token(&acct, &inviter_id).unwrap();
    refused(c.invitations(&acct), 401, "auth.token_revoked");
    refused(alice.client.revoke_token(&acct, &inviter_id), 404, "token.not_found");
}

#[test]
fn an_expired_token_is_refused() {
    let srv = TestServer::start();
    let (alice, _bob, acct) = team(&srv);
    let req =
        CreateApiTokenRequest { name: "short".into(), scopes: vec![Scope::MembersRead], expires_in_days: Some(1) };
    let t = alice.client.create_token(&acct, &req).unwrap();
    let c = as_token(&srv, t.token.expose());
    assert_eq!(c.members(&acct).unwrap().len(), 2);
    let bad = CreateApiTokenRequest { name: "long".into(), scopes: vec![Scope::MembersRead], expires_in_days: Some(0) };
    refused(alice.client.create_token(&acct, &bad), 400, "token.invalid_expiry");
    srv.clock.advance(86_399);
    assert_eq!(c.members(&acct).unwrap().len(), 2, "a second before it expires");
    srv.clock.advance(1);
    refused(c.members(&acct), 401, "auth.token_expired");
}

#[test]
fn a_deprovisioned_member_reads_nothing_at_once_and_the_next_rotation_removes_them() {
    let srv = TestServer::start();
    let (mut alice, mut bob, acct) = team(&srv);
    let item = alice.create_item(&acct, &fields("Jane")).unwrap();
    assert_eq!(bob.get_item(&acct, &item.id).unwrap().fields["name"].to_vec(), b"Jane".to_vec());
    let (secret, _) = token(&srv, &alice, &acct, "Okta", &[Scope::MembersDeprovision]);
    let c = as_token(&srv, &secret);
    // The last owner cannot go: nobody could rotate.
    refused(c.deprovision(&acct, alice.user_id()), 409, "member.last_admin");
    refused(c.deprovision(&acct, "abcdefghijklmnopqrstuv"), 404, "member.not_found");
    c.deprovision(&acct, bob.user_id()).unwrap();
    c.deprovision(&acct, bob.user_id()).unwrap();

    // At once: no item, no sealed key; the admins are told, the account shows a rotation due.
    assert_eq!(bob.client.item(&acct, &item.id).unwrap_err().status(), Some(403));
    assert_eq!(bob.client.sealed_keys(&acct).unwrap_err().status(), Some(403));
    let sealed =
        srv.query(&format!("SELECT recipient_id FROM sealed_keys WHERE recipient_id = '{}'", bob.user_id()), 1);
    assert!(sealed.is_empty(), "no key sealed to bob is left");
    assert_eq!(bob.client.account(&acct).unwrap().status, "deprovisioned");
    assert!(srv.outbox_mail("alice@example.com").contains("deprovisioned"));
    assert!(alice.client.account(&acct).unwrap().rotation_required);
    let listed = alice.client.members(&acct).unwrap();
    assert_eq!(listed.iter().find(|m| m.user_id == bob.user_id()).unwrap().status, "deprovisioned");
    // The log cannot give them anything back meanwhile.
    let e = alice.set_role(&acct, bob.user_id(), Role::Admin).unwrap_err();
    assert_eq!(e.code(), Some("member.deprovisioned"), "{e}");

    // The admin's next rotation removes them in the signed log and makes a key they never had.
    let report = alice.rotate(&acct, false, 100, |_, _| {}).unwrap();
    assert_eq!(report.removed, vec![bob.user_id().to_owned()]);
    assert!(report.new_version && report.key_version == 2);
    let (entries, state) = alice.verified_log(&acct).unwrap();
    assert!(state.member(bob.user_id()).is_none());
    assert!(
        entries.iter().any(|e| matches!(&e.body, EntryBody::MemberRemoved { user_id } if user_id == bob.user_id()))
    );
    let info = alice.client.account(&acct).unwrap();
    assert!(!info.rotation_required && info.items_to_rotate == 0);
    assert!(alice.client.members(&acct).unwrap().iter().all(|m| m.user_id != bob.user_id()));
    // Once removed, they can be invited again like anyone.
    alice.invite(&acct, "bob@example.com", Role::Member).unwrap();
}
