//! Backend workers: opt-in, granted in the signed log, audited, revocable.

use std::collections::BTreeMap;

use vouchsafe_client::vault::Vault;
use vouchsafe_client::worker::{Worker, WorkerKey};
use vouchsafe_crypto::log::{Policy, Role, WorkerAccess};

use crate::harness::TestServer;

fn fields(v: &str) -> BTreeMap<String, Vec<u8>> {
    [("name".to_owned(), v.as_bytes().to_vec())].into_iter().collect()
}

fn team(srv: &TestServer) -> (Vault, Vault, String) {
    let mut alice = srv.user("alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let carol = srv.user("carol@example.com");
    alice.invite(&acct, "carol@example.com", Role::Admin).unwrap();
    carol.client.accept_invitation(&srv.outbox_token("carol@example.com")).unwrap();
    let code = carol.keyring.public().verification_code().to_string();
    alice.confirm(&acct, carol.user_id(), Role::Admin, &code).unwrap();
    (alice, carol, acct)
}

fn new_worker() -> (WorkerKey, String) {
    let key = WorkerKey::generate().unwrap();
    let text = key.to_file_string().unwrap().to_string();
    (WorkerKey::parse(&text).unwrap(), text)
}

#[test]
fn a_granted_worker_reads_what_members_wrote_and_is_audited() {
    let srv = TestServer::start();
    let (mut alice, mut carol, acct) = team(&srv);
    alice.create_item(&acct, &fields("Jane")).unwrap();
    carol.create_item(&acct, &fields("John")).unwrap();
    let (key, _) = new_worker();
    let public = key.public();
    let code = public.verification_code().to_string();
    // A wrong code (e.g. a key swapped on the way) is refused.
    assert!(alice.grant_worker(&acct, "reindexer", &public, WorkerAccess::Read, "12345", &[]).is_err());
    alice.grant_worker(&acct, "reindexer", &public, WorkerAccess::Read, &code, &[]).unwrap();
    let mut w = Worker::connect(&srv.url, key).unwrap();
    assert_eq!(w.account_id(), acct);
    let names: Vec<String> =
        w.records(1).map(|r| String::from_utf8(r.unwrap().fields["name"].to_vec()).unwrap()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"Jane".to_owned()) && names.contains(&"John".to_owned()));
    // Read-only: writing is refused.
    let e = w.vault().create_item(&acct, &fields("x")).unwrap_err();
    assert_eq!(e.code(), Some("worker.read_only"));
    // A person's own routes are not a worker's: a clear 403, not "user no longer exists".
    for e in [
        w.vault().client.me().unwrap_err(),
        w.vault().client.sessions().unwrap_err(),
        w.vault().client.kit().unwrap_err(),
    ] {
        assert_eq!((e.status(), e.code()), (Some(403), Some("auth.person_only")), "{e}");
    }
    // Admins see every read (who, when, how many); members see the worker, marked.
    let audit = alice.client.audit(&acct).unwrap();
    let total: u64 =
        audit.iter().filter(|e| e.actor_kind == "worker" && e.action == "items.read").map(|e| e.item_count).sum();
    assert_eq!(total, 2);
    let members = carol.client.members(&acct).unwrap();
    let listed = members.iter().find(|m| m.role == "worker").unwrap();
    assert_eq!(listed.status, "active");
    assert_eq!(listed.email, "reindexer");
}

#[test]
fn ungranted_or_revoked_workers_read_nothing_new() {
    let srv = TestServer::start();
    let (mut alice, _carol, acct) = team(&srv);
    alice.create_item(&acct, &fields("before")).unwrap();
    // Registered but never granted: no login.
    let (key, _) = new_worker();
    alice
        .client
        .register_worker(
            &acct,
            &vouchsafe_client::types::RegisterWorkerRequest {
                worker_id: key.worker_id().parse().unwrap(),
                name: "pending".into(),
                public_keys: vouchsafe_crypto::b64::encode(&key.public().keys_to_bytes()),
            },
        )
        .unwrap();
    assert_eq!(Worker::connect(&srv.url, key).unwrap_err().code(), Some("worker.auth_failed"));
    // Granted, then revoked and rotated.
    let (key, text) = new_worker();
    let public = key.public();
    alice
        .grant_worker(&acct, "export", &public, WorkerAccess::Read, &public.verification_code().to_string(), &[])
        .unwrap();
    let mut w = Worker::connect(&srv.url, key).unwrap();
    let old_keys = w.vault().master_keys(&acct).unwrap();
    assert_eq!(w.records(10).count(), 1);
    alice.revoke_worker(&acct, public.user_id.as_str()).unwrap();
    assert!(alice.client.account(&acct).unwrap().rotation_required);
    alice.rotate(&acct, false, 100, |_, _| {}).unwrap();
    let fresh = alice.create_item(&acct, &fields("after")).unwrap();
    // Its token is dead, a new login fails, and its old key opens nothing written after.
    assert_eq!(w.vault().client.items(&acct, None, 10, None).unwrap_err().code(), Some("auth.worker_revoked"));
    assert!(Worker::connect(&srv.url, WorkerKey::parse(&text).unwrap()).is_err());
    let fk = vouchsafe_crypto::field::FieldKey::derive(&old_keys[&1], &acct).unwrap();
    let blob = vouchsafe_crypto::b64::decode(&fresh.fields["name"], 1000).unwrap();
    assert!(fk.decrypt(&fresh.id, "name", &blob).is_err());
}

#[test]
fn a_worker_the_server_injects_gets_no_key() {
    let srv = TestServer::start();
    let (mut alice, _carol, acct) = team(&srv);
    alice.create_item(&acct, &fields("secret")).unwrap();
    // The server marks a worker of its own as active, without any signed grant.
    let (key, _) = new_worker();
    srv.sql(&format!(
        "INSERT INTO workers (id, account_id, name, public_keys, access, status, created_by, created_at) VALUES ('{}', '{acct}', 'ghost', {}, 'read', 'active', 'x', 0)",
        key.worker_id(),
        srv.blob(&key.public().keys_to_bytes())
    ));
    // Members rotate (as after any removal): no member's client seals to the ghost.
    alice.rotate(&acct, true, 100, |_, _| {}).unwrap();
    let mut ghost = Worker::connect(&srv.url, key).unwrap();
    assert!(ghost.vault().master_keys(&acct).unwrap().is_empty(), "the log endorses no such worker");
    let first = ghost.records(10).next().unwrap();
    assert!(first.is_err(), "it can fetch ciphertext but decrypt nothing");
    // And a grant entry the admins did not sign is refused by the log.
    let (_, state) = alice.verified_log(&acct).unwrap();
    assert!(state.workers().is_empty());
}

#[test]
fn a_two_admin_policy_rejects_a_grant_signed_by_one() {
    let srv = TestServer::start();
    let (mut alice, carol, acct) = team(&srv);
    alice.set_policy(&acct, Policy { admin_approvals: 2, ..Policy::default() }).unwrap();
    let (key, _) = new_worker();
    let public = key.public();
    let code = public.verification_code().to_string();
    let e = alice.grant_worker(&acct, "etl", &public, WorkerAccess::Read, &code, &[]).unwrap_err();
    assert!(e.to_string().contains("admin signatures"), "{e}");
    alice.grant_worker(&acct, "etl", &public, WorkerAccess::ReadWrite, &code, &[&carol.keyring]).unwrap();
    let mut w = Worker::connect(&srv.url, key).unwrap();
    w.vault().create_item(&acct, &fields("written by a worker")).unwrap();
    assert_eq!(alice.list_items(&acct, None, 10).unwrap().0.len(), 1);
}
