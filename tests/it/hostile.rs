//! The hostile-server suite: the server's part is played by rewriting real answers (a proxy in
//! front of the real server, `proxy.rs`) or rows (SQL on its database). Each test shows the
//! client's refusal *and* that nothing harmful reached the server. docs/THREAT_MODEL.md names
//! the test for each attack.

use std::collections::BTreeMap;

use serde_json::json;
use vouchsafe_client::flows;
use vouchsafe_client::recovery::{self, Recovery};
use vouchsafe_client::vault::{self, LogView, Vault};
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::Keyring;
use vouchsafe_crypto::log::{EntryBody, LogEntry, Policy, Role};

use crate::harness::{TestServer, fast_kdf};
use crate::proxy::HostileProxy;

pub(crate) const PW: &str = "correct horse battery";

pub(crate) fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())).collect()
}

pub(crate) fn refused(e: &vouchsafe_client::ClientError, what: &str) {
    let s = e.to_string();
    assert!(s.contains("refused") && s.contains(what), "expected a refusal about {what:?}, got: {s}");
}

/// Registers `email` on the real server and signs in through `via` (the proxy).
pub(crate) fn user_via(srv: &TestServer, via: &HostileProxy, email: &str) -> Vault {
    flows::register(&srv.client(), email, PW, fast_kdf()).unwrap();
    let mut c = via.client();
    let s = flows::login(&mut c, email, PW).unwrap();
    srv.vault(c, s)
}

/// alice (owner) and bob (`role`), bob confirmed; both talk through `via`.
fn pair(srv: &TestServer, via: &HostileProxy, role: Role) -> (Vault, Vault, String) {
    let mut alice = user_via(srv, via, "alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let bob = user_via(srv, via, "bob@example.com");
    alice.invite(&acct, "bob@example.com", role).unwrap();
    bob.client.accept_invitation(&srv.outbox_token("bob@example.com")).unwrap();
    let code = bob.keyring.public().verification_code().to_string();
    alice.confirm(&acct, bob.user_id(), role, &code).unwrap();
    (alice, bob, acct)
}

fn log_len(srv_client: &vouchsafe_client::Client, acct: &str) -> u64 {
    srv_client.log(acct, None).unwrap().log_len
}

// ------------------------------------------------------------------ confirm and the codes

/// Key substitution at confirm, peer code: the server swaps the invitee's keys after they
/// accepted; the admin types the code the invitee's own device shows, which no longer matches.
#[test]
fn swapped_invitee_keys_are_caught_by_the_code_the_invitee_device_computes() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let mut alice = user_via(&srv, &proxy, "alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let carol = user_via(&srv, &proxy, "carol@example.com");
    alice.invite(&acct, "carol@example.com", Role::Member).unwrap();
    carol.client.accept_invitation(&srv.outbox_token("carol@example.com")).unwrap();
    let mallory = Keyring::generate(carol.user_id(), 1, &mut vouchsafe_crypto::os_rng()).unwrap();
    srv.sql(&format!(
        "UPDATE users SET public_keys = {} WHERE id = '{}'",
        srv.blob(&mallory.public().keys_to_bytes()),
        carol.user_id()
    ));
    // The server's /me now reports the attacker's keys and code; the client never shows them.
    let me = carol.client.me().unwrap();
    assert_eq!(me.verification_code, mallory.public().verification_code().to_string());
    let own = carol.keyring.public().verification_code().to_string();
    assert_ne!(own, me.verification_code);
    proxy.clear_seen();
    let e = alice.confirm(&acct, carol.user_id(), Role::Member, &own).unwrap_err();
    refused(&e, "verification code does not match");
    assert!(!proxy.reached("POST", "/log"), "nothing was appended or sealed");
}

/// Role escalation at confirm: the server's list says "owner"; the log records the admin's choice.
#[test]
fn the_role_signed_at_confirm_is_the_admins_not_the_servers() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let mut alice = user_via(&srv, &proxy, "alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let bob = user_via(&srv, &proxy, "bob@example.com");
    alice.invite(&acct, "bob@example.com", Role::Member).unwrap();
    bob.client.accept_invitation(&srv.outbox_token("bob@example.com")).unwrap();
    proxy.on("GET", "/members".into(), |_, ans| {
        let mut v = ans.json();
        for m in v.as_array_mut().into_iter().flatten() {
            m["role"] = json!("owner");
        }
        ans.set_json(&v);
    });
    let (info, _) = alice.pending_identity(&acct, bob.user_id()).unwrap();
    assert_eq!(info.role, "owner", "the server lies");
    alice.confirm(&acct, bob.user_id(), Role::Member, &bob.keyring.public().verification_code().to_string()).unwrap();
    proxy.honest();
    let (entries, state) = alice.verified_log(&acct).unwrap();
    assert_eq!(state.member(bob.user_id()).unwrap().role, Role::Member);
    assert!(entries.iter().any(|e| matches!(&e.body, EntryBody::MemberAdded { role: Role::Member, .. })));
}

/// Ghost member and ghost worker: rows only in the database are shown as "not in the team
/// log", and a rotation seals to nobody but the log's members.
#[test]
fn ghost_rows_are_marked_and_get_no_key() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, _bob, acct) = pair(&srv, &proxy, Role::Member);
    let ghost = srv.user("ghost@example.com");
    srv.sql(&format!(
        "INSERT INTO memberships (account_id, user_id, role, status, created_at, updated_at) VALUES ('{acct}', '{}', 'admin', 'active', 0, 0)",
        ghost.user_id()
    ));
    let wk = vouchsafe_client::worker::WorkerKey::generate().unwrap();
    srv.sql(&format!(
        "INSERT INTO workers (id, account_id, name, public_keys, access, status, created_by, created_at) VALUES ('{}', '{acct}', 'ghost worker', {}, 'read_write', 'active', '{}', 0)",
        wk.worker_id(),
        srv.blob(&wk.public().keys_to_bytes()),
        alice.user_id()
    ));
    let members = alice.members_view(&acct).unwrap();
    let g = members.iter().find(|m| m.id == ghost.user_id()).expect("the server lists the ghost");
    assert_eq!(g.view, LogView::NotInLog);
    for m in &members {
        let ghostly = m.id == ghost.user_id() || m.id == wk.worker_id();
        assert_eq!(ghostly, m.view == LogView::NotInLog, "{members:?}");
    }
    let (_, state) = alice.verified_log(&acct).unwrap();
    let workers = vault::judge_workers(&state, &alice.client.workers(&acct).unwrap());
    assert_eq!(workers.iter().find(|w| w.id == wk.worker_id()).unwrap().view, LogView::NotInLog);
    // A rotation seals to the log's members only.
    proxy.clear_seen();
    alice.rotate(&acct, true, 100, |_, _| {}).unwrap();
    let appends: Vec<_> = proxy.seen().into_iter().filter(|s| s.method == "POST" && s.path.ends_with("/log")).collect();
    assert!(!appends.is_empty());
    for a in appends {
        assert!(!a.body.contains(ghost.user_id()) && !a.body.contains(wk.worker_id()), "a seal went to a ghost");
    }
}

// ------------------------------------------------------------------ the log

/// Log truncation, reordering and rewriting through the proxy are refused.
#[test]
fn truncated_reordered_or_rewritten_logs_are_refused() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, mut bob, acct) = pair(&srv, &proxy, Role::Admin);
    alice.set_policy(&acct, Policy { vouch_quorum: 2, ..Policy::default() }).unwrap();
    bob.verified_log(&acct).unwrap();
    // Reorder two entries.
    proxy.on("GET", format!("{acct}/log"), |_, ans| {
        let mut v = ans.json();
        if let Some(list) = v["entries"].as_array_mut()
            && list.len() > 2
        {
            let (a, b) = (list[1]["entry"].clone(), list[2]["entry"].clone());
            list[1]["entry"] = b;
            list[2]["entry"] = a;
        }
        ans.set_json(&v);
    });
    refused(&bob.verified_log(&acct).unwrap_err(), "out of order");
    proxy.honest();
    // Rewrite one byte of an entry (its signature no longer verifies).
    proxy.on("GET", format!("{acct}/log"), |_, ans| {
        let mut v = ans.json();
        if let Some(e) = v["entries"].as_array_mut().and_then(|l| l.get_mut(1)) {
            let mut bytes = b64::decode(e["entry"].as_str().unwrap(), 4096).unwrap();
            let n = bytes.len();
            bytes[n - 1] ^= 1;
            e["entry"] = json!(b64::encode(&bytes));
        }
        ans.set_json(&v);
    });
    refused(&bob.verified_log(&acct).unwrap_err(), "bad signature");
    proxy.honest();
    // Truncate (roll back the policy change): refused against the checkpoint.
    let keep = log_len(&bob.client, &acct) - 1;
    proxy.on("GET", format!("{acct}/log"), move |_, ans| {
        let mut v = ans.json();
        if let Some(list) = v["entries"].as_array_mut() {
            list.truncate(keep as usize);
        }
        v["log_len"] = json!(keep);
        ans.set_json(&v);
    });
    refused(&bob.verified_log(&acct).unwrap_err(), "forked");
    proxy.clear_seen();
    assert!(bob.policy(&acct).is_err(), "no weaker policy is shown");
    assert!(!proxy.reached("POST", "/log"));
}

/// Log rollback after a re-login, and policy rollback: a fresh sign-in (new session, new
/// Vault) keeps the checkpoint, so an older head is refused.
#[test]
fn a_rollback_after_a_new_sign_in_is_refused() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, bob, acct) = pair(&srv, &proxy, Role::Member);
    alice.set_policy(&acct, Policy { vouch_quorum: 2, waiting_period_secs: 86400, ..Policy::default() }).unwrap();
    alice.remove(&acct, bob.user_id()).unwrap();
    let saved = *alice.checkpoints().get(&acct).unwrap();
    // The server forces a re-login (ends the session), then serves the log from before the
    // removal and the policy change.
    alice.client.logout().unwrap();
    let before = 3; // genesis, member_added, key_sealed
    proxy.on("GET", format!("{acct}/log"), move |_, ans| {
        let mut v = ans.json();
        if let Some(list) = v["entries"].as_array_mut() {
            list.truncate(before);
        }
        v["log_len"] = json!(before);
        ans.set_json(&v);
    });
    let mut c = proxy.client();
    let s = flows::login(&mut c, "alice@example.com", PW).unwrap();
    let mut again = srv.vault(c, s);
    again.set_checkpoint(&acct, saved); // what the CLI's trust.json and the dashboard's storage keep
    refused(&again.verified_log(&acct).unwrap_err(), "forked");
    proxy.clear_seen();
    assert!(again.rotate(&acct, true, 10, |_, _| {}).is_err());
    assert!(!proxy.reached("POST", "/log"), "no fresh key went to the removed member");
    // Without a checkpoint, the first view is taken on trust, and said so.
    let mut c = proxy.client();
    let s = flows::login(&mut c, "alice@example.com", PW).unwrap();
    let mut naive = srv.vault(c, s);
    naive.verified_log(&acct).unwrap();
    assert!(naive.first_views().contains(&acct));
    assert!(!again.first_views().contains(&acct));
}

/// Master-key injection: a seal by someone the log does not know (an anonymous seal), and a
/// seal by a real member without a log entry (a colluding member) are both refused.
#[test]
fn injected_master_keys_are_refused() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, bob, acct) = pair(&srv, &proxy, Role::Member);
    let mut rng = vouchsafe_crypto::os_rng();
    let fake = vouchsafe_crypto::seal::MasterKey::generate(1, &mut rng).unwrap();
    let stranger = Keyring::generate("stranger-000001", 1, &mut rng).unwrap();
    for (sealer, log_seq) in [(&stranger, None), (&bob.keyring, None), (&bob.keyring, Some(1u64))] {
        let sealed =
            vouchsafe_crypto::seal::seal_master_key(&fake, &acct, &alice.keyring.public(), sealer, &mut rng).unwrap();
        let blob = b64::encode(&sealed.to_bytes());
        let (sid, sgen) = (sealer.user_id().to_owned(), sealer.generation());
        proxy.on("GET", format!("{acct}/keys"), move |_, ans| {
            let v = json!([{ "key_version": 1, "recipient_generation": 1, "sealer_id": sid, "sealer_generation": sgen,
                             "log_seq": log_seq, "blob": blob }]);
            ans.set_json(&v);
        });
        let e = alice.master_keys(&acct).unwrap_err();
        assert!(e.to_string().contains("refused"), "{e}");
        proxy.honest();
    }
}

// ------------------------------------------------------------------ key versions

/// The write key version comes from the verified log, and the server refuses retired versions.
#[test]
fn writes_use_the_logs_key_version_and_retired_versions_are_refused() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, bob, acct) = pair(&srv, &proxy, Role::Member);
    let old = alice.create_item(&acct, &fields(&[("n", "before")])).unwrap();
    alice.remove(&acct, bob.user_id()).unwrap();
    // Before the rotation, writing would hand bob new data: refused.
    refused(&alice.create_item(&acct, &fields(&[("n", "x")])).unwrap_err(), "rotate");
    alice.rotate(&acct, false, 100, |_, _| {}).unwrap();
    // The server says the account is still at v1: writes go under the log's v2 all the same,
    // and a rotation (which needs the server's count of items to re-encrypt) refuses.
    proxy.on("GET", format!("/accounts/{acct}"), |_, ans| {
        let mut v = ans.json();
        v["key_version"] = json!(1);
        ans.set_json(&v);
    });
    proxy.clear_seen();
    let w = alice.create_item(&acct, &fields(&[("n", "secret")])).unwrap();
    assert_eq!(w.key_version, 2);
    let put = proxy.seen().into_iter().find(|s| s.method == "PUT").unwrap();
    assert!(put.body.contains("\"key_version\":2"), "{}", put.body);
    refused(&alice.reencrypt(&acct, 10, None, |_, _| {}).unwrap_err(), "key version");
    proxy.honest();
    // The server refuses v1 writes itself: create, replace (taking a v2 item back), batch.
    let fk1 = vouchsafe_crypto::field::FieldKey::derive(&alice.master_keys(&acct).unwrap()[&1], &acct).unwrap();
    let v1 = |id: &str, rev: u64| -> BTreeMap<String, String> {
        let b = vouchsafe_crypto::field::ItemBinding::new(rev, ["n"]);
        [(
            "n".to_owned(),
            b64::encode(&fk1.seal_field(id, "n", b"v1 data", &b, &mut vouchsafe_crypto::os_rng()).unwrap()),
        )]
        .into_iter()
        .collect()
    };
    use vouchsafe_client::types::{BatchItemUpdate, BatchUpdateRequest, PutItemRequest};
    let c = &alice.client;
    let fresh = vouchsafe_crypto::random_id();
    let e = c.put_item(&acct, &fresh, &PutItemRequest { revision: None, key_version: 1, fields: v1(&fresh, 1) });
    assert_eq!(e.unwrap_err().code(), Some("item.retired_key_version"));
    let cur = c.item(&acct, &old.id).unwrap();
    assert_eq!(cur.key_version, 2);
    let e = c.put_item(
        &acct,
        &old.id,
        &PutItemRequest { revision: Some(cur.revision), key_version: 1, fields: v1(&old.id, cur.revision + 1) },
    );
    assert_eq!(e.unwrap_err().code(), Some("item.retired_key_version"));
    let batch = BatchUpdateRequest {
        items: vec![BatchItemUpdate {
            id: old.id.parse().unwrap(),
            revision: cur.revision,
            key_version: 1,
            fields: v1(&old.id, cur.revision + 1),
        }],
    };
    assert_eq!(c.update_items(&acct, &batch).unwrap_err().code(), Some("item.retired_key_version"));
    assert_eq!(c.item(&acct, &old.id).unwrap().key_version, 2, "nothing went back to v1");
}

// ------------------------------------------------------------------ items

/// Item field drop, rename, mix of revisions, revision renumbering and replay are refused, and
/// an edit never writes back a field set it could not verify.
#[test]
fn item_field_sets_and_revisions_are_verified() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, mut bob, acct) = pair(&srv, &proxy, Role::Member);
    let w1 = alice.create_item(&acct, &fields(&[("name", "Jane"), ("iban", "DE00 1234"), ("note", "VIP")])).unwrap();
    let r1 = alice.client.item(&acct, &w1.id).unwrap();
    let w2 = alice
        .update_item(&acct, &w1.id, 1, &fields(&[("name", "Jane"), ("iban", "DE99 9999"), ("note", "VIP")]))
        .unwrap();
    assert_eq!(w2.revision, 2);
    let r2 = alice.client.item(&acct, &w1.id).unwrap();
    let path = format!("/items/{}", w1.id);
    let serve = |proxy: &HostileProxy, wire: vouchsafe_client::types::ItemWire| {
        proxy.honest();
        let body = serde_json::to_string(&wire).unwrap();
        proxy.on("GET", path.clone(), move |_, ans| ans.body = body.clone());
    };
    // Dropped field.
    let mut dropped = r2.clone();
    dropped.fields.remove("iban");
    serve(&proxy, dropped);
    refused(&bob.get_item(&acct, &w1.id).unwrap_err(), "dropped");
    // Renamed field.
    let mut renamed = r2.clone();
    let v = renamed.fields.remove("note").unwrap();
    renamed.fields.insert("notes".into(), v);
    serve(&proxy, renamed);
    refused(&bob.get_item(&acct, &w1.id).unwrap_err(), "dropped");
    // Mixed revisions: rev 1's iban inside rev 2.
    let mut mixed = r2.clone();
    mixed.fields.insert("iban".into(), r1.fields["iban"].clone());
    serve(&proxy, mixed);
    refused(&bob.get_item(&acct, &w1.id).unwrap_err(), "mixed");
    // Revision renumbered: rev 1's content served as rev 2.
    let mut renumbered = r1.clone();
    renumbered.revision = 2;
    serve(&proxy, renumbered);
    refused(&bob.get_item(&acct, &w1.id).unwrap_err(), "revision");
    // Replay: bob saw rev 2; rev 1 (intact) is refused now.
    proxy.honest();
    assert_eq!(bob.get_item(&acct, &w1.id).unwrap().revision, 2);
    serve(&proxy, r1.clone());
    refused(&bob.get_item(&acct, &w1.id).unwrap_err(), "revision 1");
    // Edit laundering: bob edits while the server drops a field; the edit never happens.
    let mut dropped = r2.clone();
    dropped.fields.remove("iban");
    serve(&proxy, dropped);
    proxy.clear_seen();
    assert!(bob.get_item(&acct, &w1.id).is_err());
    assert!(!proxy.reached("PUT", "/items/"), "no field set went back");
    proxy.honest();
    assert_eq!(&alice.get_item(&acct, &w1.id).unwrap().fields["iban"][..], b"DE99 9999");
}

/// Items in the legacy format still open (marked), and `upgrade_items` rewrites them bound.
#[test]
fn legacy_items_are_marked_and_upgraded() {
    let srv = TestServer::start();
    let (mut alice, acct) = {
        let mut a = srv.user("alice@example.com");
        let acct = a.create_account("Acme").unwrap().id;
        (a, acct)
    };
    let fk = vouchsafe_crypto::field::FieldKey::derive(&alice.master_keys(&acct).unwrap()[&1], &acct).unwrap();
    let blob = fk.encrypt("legacy-item-0001", "n", b"old", &mut vouchsafe_crypto::os_rng()).unwrap();
    let req = vouchsafe_client::types::PutItemRequest {
        revision: None,
        key_version: 1,
        fields: [("n".to_owned(), b64::encode(&blob))].into_iter().collect(),
    };
    alice.client.put_item(&acct, "legacy-item-0001", &req).unwrap();
    assert!(alice.get_item(&acct, "legacy-item-0001").unwrap().legacy);
    assert_eq!(alice.upgrade_items(&acct, 10).unwrap(), 1);
    let i = alice.get_item(&acct, "legacy-item-0001").unwrap();
    assert!(!i.legacy);
    assert_eq!((&i.fields["n"][..], i.revision), (&b"old"[..], 2));
}

// ------------------------------------------------------------------ resets and time

/// A backdated (or future-dated) log entry is refused by the server: a waiting period counts
/// from when the server received the announcement.
#[test]
fn the_server_refuses_entries_outside_its_clock_window() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, bob, acct) = pair(&srv, &proxy, Role::Member);
    alice.set_policy(&acct, Policy { waiting_period_secs: 7 * 86400, ..Policy::default() }).unwrap();
    let now = u64::try_from(vouchsafe::state::Clock::now(&*srv.clock)).unwrap();
    drop(bob);
    // Eight days later, an announcement dated back to the last entry would already be past
    // its waiting period: the server refuses it.
    srv.clock.advance(8 * 86400);
    srv.client().reset_request("bob@example.com").unwrap();
    let token = srv.outbox_token("bob@example.com");
    let e = flows::reset_with_token(&srv.client(), &token, "a brand new password", fast_kdf(), now);
    assert_eq!(e.unwrap_err().code(), Some("log.stale_timestamp"));
    let later = now + 8 * 86400 + 3600;
    let e = flows::reset_with_token(&srv.client(), &token, "a brand new password", fast_kdf(), later);
    assert_eq!(e.unwrap_err().code(), Some("log.future_timestamp"));
    // Nothing happened: bob is still active in the log (alice signs in again: 8 days passed).
    let mut c = proxy.client();
    let s = flows::login(&mut c, "alice@example.com", PW).unwrap();
    let mut alice = srv.vault(c, s);
    let (_, state) = alice.verified_log(&acct).unwrap();
    assert!(Vault::pending_resets_in(&state).is_empty());
}

/// A reset announcement forged by the server (self-signed by its key, for a member who never
/// reset): shown as "on behalf of" (unconfirmed), the member's own client sees a reset it did
/// not make and vetoes it, and the vouch with the member's real code is refused.
#[test]
fn a_forged_reset_announcement_is_vetoed_and_never_vouched() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, mut bob, acct) = pair(&srv, &proxy, Role::Member);
    let (_, state) = alice.verified_log(&acct).unwrap();
    let attacker = Keyring::generate(bob.user_id(), 2, &mut vouchsafe_crypto::os_rng()).unwrap();
    let now = u64::try_from(vouchsafe::state::Clock::now(&*srv.clock)).unwrap();
    let forged = LogEntry::create(
        &acct,
        Some(state.head()),
        &attacker,
        now,
        EntryBody::ResetAnnounced { new_identity: attacker.public(), previous_generation: Some(1) },
    )
    .unwrap();
    srv.store_entry(&acct, &forged);
    srv.sql(&format!("UPDATE accounts SET log_len = {} WHERE id = '{acct}'", forged.seq + 1));
    let pending = alice.pending_resets(&acct).unwrap();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].unconfirmed, "nobody compared codes: shown as announced by the server");
    // Bob's own device: a reset for him with keys it did not make.
    let (_, bstate) = bob.verified_log(&acct).unwrap();
    assert_eq!(bob.resets_not_made_here(&bstate), Some(2));
    // Alice calls bob; he reads his (real, unchanged) code: it does not match the announced key.
    proxy.clear_seen();
    let real = bob.keyring.public().verification_code().to_string();
    refused(&alice.vouch(&acct, bob.user_id(), &real, None).unwrap_err(), "does not match");
    assert!(!proxy.reached("POST", "/log"), "no vouch was sent");
    // Bob vetoes with his current key; then even the attacker's own code gets no vouch.
    let bob_id = bob.user_id().to_owned();
    bob.veto(&acct, &bob_id).unwrap();
    let attackers_code = attacker.public().verification_code().to_string();
    assert!(alice.vouch(&acct, bob.user_id(), &attackers_code, None).is_err());
    assert!(alice.reseal(&acct, bob.user_id()).is_err(), "vetoed: nothing is resealed");
}

/// The team list's "waits for a vouch" count is the server's word: a server that claims a
/// colleague waits gets a reminder shown, and nothing more — the verified log shows no reset,
/// so there is nothing to vouch for and no vouch is sent.
#[test]
fn a_claimed_pending_vouch_is_only_a_reminder() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, bob, acct) = pair(&srv, &proxy, Role::Member);
    for path in ["/accounts".to_owned(), format!("/accounts/{acct}")] {
        proxy.on("GET", path, |_, ans| {
            let mut v = ans.json();
            match v.as_array_mut() {
                Some(list) => list.iter_mut().for_each(|a| a["awaiting_vouch"] = json!(1)),
                None => v["awaiting_vouch"] = json!(1),
            }
            ans.set_json(&v);
        });
    }
    let listed = alice.client.accounts().unwrap();
    assert_eq!(listed.iter().find(|a| a.id == acct).unwrap().awaiting_vouch, 1, "the lie reaches the client");
    assert!(alice.pending_resets(&acct).unwrap().is_empty(), "the verified log shows no reset");
    proxy.clear_seen();
    let code = bob.keyring.public().verification_code().to_string();
    let e = alice.vouch(&acct, bob.user_id(), &code, None).unwrap_err();
    assert!(e.to_string().contains("not awaiting vouches"), "{e}");
    assert!(!proxy.reached("POST", "/log"), "no vouch was sent");
}

// ------------------------------------------------------------------ recovery kits

/// A forged recovery kit (the victim's kit id, the attacker's keyring under an R the attacker
/// chose, two forged "released" shares) is refused with the real code, and without the code
/// unless the guardian-read code matches; nothing is uploaded.
#[test]
fn a_forged_recovery_kit_is_refused_before_anything_is_uploaded() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, bob, acct) = pair(&srv, &proxy, Role::Member);
    let kit = recovery::setup(&bob.client, &bob.keyring, &[], false).unwrap();
    let code = kit.code.to_string();
    let bob_id = bob.user_id().to_owned();
    drop(bob);
    // The attacker's kit for a keyring of its own, under bob's id, generation and kit id.
    let mut rng = vouchsafe_crypto::os_rng();
    let attacker = Keyring::generate(&bob_id, 1, &mut rng).unwrap();
    let kit_id = vouchsafe_crypto::recovery::RecoveryShare::from_code(&code).unwrap().kit_id();
    let forged = vouchsafe_crypto::recovery::create_kit_with_id(&attacker, kit_id, 2, 3, &mut rng).unwrap();
    let wrapped = b64::encode(forged.wrapped_keyring.as_bytes());
    let shares = std::sync::Arc::new(std::sync::Mutex::new(None::<[u8; 32]>));
    let (s1, s2) = (shares.clone(), shares.clone());
    proxy.on("POST", "/recovery/begin".into(), move |req, ans| {
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        *s1.lock().unwrap() = Some(b64::decode_array(body["ephemeral_public_key"].as_str().unwrap()).unwrap());
        let mut v = ans.json();
        v["wrapped_keyring"] = json!(wrapped);
        ans.set_json(&v);
    });
    let (f2, f3) = (forged.shares[1].clone(), forged.shares[2].clone());
    let owner = bob_id.clone();
    proxy.on("POST", "/recovery/shares".into(), move |_, ans| {
        let eph = s2.lock().unwrap().unwrap();
        let mut rng = vouchsafe_crypto::os_rng();
        let list: Vec<_> = [&f2, &f3]
            .iter()
            .map(|s| {
                let sealed = vouchsafe_crypto::recovery::release_share(s, &owner, &eph, &mut rng).unwrap();
                json!({"index": s.index(), "sealed": b64::encode(&sealed.to_bytes()), "released_by": "server"})
            })
            .collect();
        ans.set_json(&json!(list));
    });
    srv.client().recovery_request("bob@example.com").unwrap();
    let c = proxy.client();
    let r = Recovery::start(&c, &srv.outbox_token("bob@example.com")).unwrap();
    proxy.clear_seen();
    refused(&r.finish(&c, Some(&code), None, "recovered password", fast_kdf()).unwrap_err(), "forged");
    // Without the code: the code a guardian reads from their verified log does not match.
    let (_, state) = alice.verified_log(&acct).unwrap();
    let read_by_alice = state.member(&bob_id).unwrap().identity.verification_code().to_string();
    refused(&r.finish(&c, None, Some(&read_by_alice), "recovered password", fast_kdf()).unwrap_err(), "forged");
    refused(&r.finish(&c, None, None, "recovered password", fast_kdf()).unwrap_err(), "guardian");
    assert!(!proxy.reached("POST", "/recovery/complete"), "nothing was uploaded");
    // With the honest server, the same code recovers bob's own keys.
    proxy.honest();
    let mut c2 = srv.client();
    srv.client().recovery_request("bob@example.com").unwrap();
    let r = Recovery::start(&c2, &srv.outbox_token("bob@example.com")).unwrap();
    let k = r.finish(&c2, Some(&code), None, "recovered password", fast_kdf()).unwrap();
    assert_eq!(k.public().verification_code().to_string(), read_by_alice);
    flows::login(&mut c2, "bob@example.com", "recovered password").unwrap();
}

/// A guardian checks the owner's keys against their own verified log, not the server's word.
#[test]
fn a_guardian_refuses_an_owner_key_the_log_does_not_show() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, bob, acct) = pair(&srv, &proxy, Role::Member);
    let (_, state) = alice.verified_log(&acct).unwrap();
    let fake = Keyring::generate(bob.user_id(), 1, &mut vouchsafe_crypto::os_rng()).unwrap();
    let e = recovery::owner_in_log(&state, bob.user_id(), &b64::encode(&fake.public().keys_to_bytes())).unwrap_err();
    refused(&e, "do not release");
    let real =
        recovery::owner_in_log(&state, bob.user_id(), &b64::encode(&bob.keyring.public().keys_to_bytes())).unwrap();
    assert_eq!(real, bob.keyring.public());
}

// ------------------------------------------------------------------ second factors

/// The keyring a second-factor login hands over is checked exactly like a password login's: a
/// server answering the factor with another person's public keys, or a keyring wrapped for
/// someone else, is refused, and the device keeps no session to act with.
#[test]
fn a_second_factor_login_checks_the_keyring_it_is_handed() {
    use vouchsafe_client::types::SecondFactorProof;
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let bob = user_via(&srv, &proxy, "bob@example.com");
    let mallory = srv.user("mallory@example.com");
    let e = flows::enrol_totp(&bob.client, "bob@example.com", PW, None).unwrap();
    let secret = vouchsafe::totp::base32_decode(e.secret.expose()).unwrap();
    let at = |srv: &TestServer| vouchsafe::totp::step(vouchsafe::state::Clock::now(&*srv.clock));
    bob.client.confirm_factor(&e.id, &vouchsafe::totp::code(&secret, at(&srv))).unwrap();
    let mallory_keys = b64::encode(&mallory.keyring.public().keys_to_bytes());
    let theirs = mallory.client.my_keyring().unwrap();
    for (field, value) in [("public_keys", mallory_keys), ("wrapped_keyring", theirs.wrapped_keyring.clone())] {
        srv.clock.advance(vouchsafe::totp::PERIOD);
        proxy.honest();
        proxy.on("POST", "/auth/login/second-factor".into(), move |_, ans| {
            let mut v = ans.json();
            v[field] = json!(value);
            ans.set_json(&v);
        });
        let mut c = proxy.client();
        let flows::LoginStep::SecondFactor(p) = flows::begin_login(&mut c, "bob@example.com", PW).unwrap() else {
            panic!("the real server asked for the factor");
        };
        proxy.clear_seen();
        let code = vouchsafe::totp::code(&secret, at(&srv));
        let err = p
            .finish(&mut c, &SecondFactorProof { totp: Some(code.into()), recovery_code: None, webauthn: None })
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("does not match") || text.contains("decrypt") || text.contains("wrap"),
            "{field}: {text}"
        );
        assert!(c.access_token().is_none(), "{field}: no session is kept after a refused keyring");
        assert_eq!(proxy.seen().len(), 1, "{field}: nothing after the refused answer");
    }
}

// ------------------------------------------------------------------ KDF

/// KDF downgrade and upper bounds: parameters below the floor or absurdly high are refused
/// before the auth key is derived or sent.
#[test]
fn kdf_downgrades_and_absurd_parameters_are_refused_before_login() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    flows::register(&srv.client(), "alice@example.com", PW, fast_kdf()).unwrap();
    for (m, t) in [(8 * 1024u32, 1u32), (64 * 1024 * 1024, 3)] {
        proxy.honest();
        proxy.on("POST", "/auth/prelogin".into(), move |_, ans| {
            let mut v = ans.json();
            v["kdf_params"]["m_kib"] = json!(m);
            v["kdf_params"]["t"] = json!(t);
            ans.set_json(&v);
        });
        proxy.clear_seen();
        let mut c = proxy.client();
        let e = flows::login(&mut c, "alice@example.com", PW).unwrap_err();
        assert!(e.to_string().contains("KDF"), "{e}");
        assert!(!proxy.reached("POST", "/auth/login"), "no auth key was sent");
    }
}

// ------------------------------------------------------------------ the CLI

pub(crate) struct Cli {
    dir: std::path::PathBuf,
    server: String,
}

impl Cli {
    pub(crate) fn new(server: &str) -> Self {
        let dir = std::env::temp_dir().join(crate::harness::unique("vouchsafe-cli-"));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir, server: server.to_owned() }
    }
    pub(crate) fn run(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        self.run_with(args, stdin, &[("VOUCHSAFE_PASSWORD", PW)])
    }
    /// [`Self::run`] with only `env` of the secrets (password, session key) set.
    fn run_with(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (bool, String, String) {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vouchsafe"))
            .args(args)
            .env("VOUCHSAFE_PROFILE", self.dir.join("profile.json"))
            .env("VOUCHSAFE_SERVER", &self.server)
            .env_remove("VOUCHSAFE_PASSWORD")
            .env_remove("VOUCHSAFE_SESSION")
            .envs(env.iter().copied())
            .env("VOUCHSAFE_KDF_M_KIB", "19456")
            .env("VOUCHSAFE_KDF_T", "2")
            .env("VOUCHSAFE_KDF_P", "1")
            .env_remove("VOUCHSAFE_TRUST")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args, "");
        assert!(ok, "vouchsafe {args:?} failed:\n{out}\n{err}");
        out + &err
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `vouchsafe unlock` keeps the keyring sealed under a session key only the shell holds: later
/// commands need no password (and run no Argon2id); a wrong key or a changed file is refused,
/// never answered by a password prompt; `lock` and `logout` end it.
#[test]
fn the_cli_session_key_stands_in_for_the_password_until_locked() {
    let srv = TestServer::start_real_time();
    let alice = Cli::new(&srv.url);
    alice.ok(&["register", "--email", "alice@example.com"]);
    alice.ok(&["login", "--email", "alice@example.com"]);
    let out = alice.ok(&["unlock", "--minutes", "5"]);
    let key = out.lines().find_map(|l| l.strip_prefix("export VOUCHSAFE_SESSION=")).unwrap().trim().to_owned();
    let file = alice.dir.join("session.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let sealed = std::fs::read_to_string(&file).unwrap();
    assert!(!sealed.contains(&key), "the session key is not kept beside what it opens");
    // No password: the session key unlocks.
    let session = [("VOUCHSAFE_SESSION", key.as_str())];
    let (ok, out, err) = alice.run_with(&["account", "create", "Acme"], "", &session);
    assert!(ok, "{out}\n{err}");
    let acct = out.split_whitespace().nth(2).unwrap().to_owned();
    let (ok, _, err) = alice.run_with(&["item", "put", &acct, "name=Jane"], "", &session);
    assert!(ok, "{err}");
    // Another key, or a file changed underneath: refused, nothing asked.
    let other = vouchsafe_crypto::b64::encode(&[7u8; 32]);
    let (ok, _, err) = alice.run_with(&["item", "list", &acct], "", &[("VOUCHSAFE_SESSION", &other)]);
    assert!(!ok && err.contains("does not open"), "{err}");
    let mut v: serde_json::Value = serde_json::from_str(&sealed).unwrap();
    v["expires_at"] = json!(v["expires_at"].as_u64().unwrap() + 3600);
    std::fs::write(&file, v.to_string()).unwrap();
    let (ok, _, err) = alice.run_with(&["item", "list", &acct], "", &session);
    assert!(!ok && err.contains("does not open"), "a longer life written into the file is refused: {err}");
    std::fs::write(&file, &sealed).unwrap();
    let (ok, out, err) = alice.run_with(&["item", "list", &acct], "", &session);
    assert!(ok && out.contains("Jane"), "{out}\n{err}");
    // `--json` listings are one document on stdout, for scripts.
    let (ok, out, err) = alice.run_with(&["--json", "item", "list", &acct], "", &session);
    assert!(ok, "{err}");
    let items: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(items[0]["fields"]["name"], "Jane");
    assert_eq!(items[0]["revision"], 1);
    let accounts: serde_json::Value = serde_json::from_str(&alice.ok(&["--json", "account", "list"])).unwrap();
    assert_eq!(accounts[0]["id"], acct.as_str());
    let (ok, out, err) = alice.run_with(&["--json", "members", &acct], "", &session);
    assert!(ok, "{err}");
    let members: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((members[0]["view"].as_str(), members[0]["role"].as_str()), (Some("in_log"), Some("owner")));
    // Lock: the key opens nothing any more.
    alice.ok(&["lock"]);
    assert!(!file.exists());
    let (ok, _, err) = alice.run_with(&["item", "list", &acct], "", &session);
    assert!(!ok && err.contains("has ended"), "{err}");
    // Logout ends a session too.
    alice.ok(&["unlock"]);
    assert!(file.exists());
    alice.ok(&["logout"]);
    assert!(!file.exists());
}

/// The real `vouchsafe` binary: the invitee's own code comes from the device (`accept`,
/// `whoami`), checkpoints survive `login`, and server strings are printed without escapes.
#[test]
fn the_cli_computes_its_own_code_keeps_checkpoints_and_strips_escapes() {
    let srv = TestServer::start_real_time();
    let proxy = HostileProxy::start(&srv.url);
    let alice = Cli::new(&proxy.url);
    let bob = Cli::new(&proxy.url);
    alice.ok(&["register", "--email", "alice@example.com"]);
    alice.ok(&["login", "--email", "alice@example.com"]);
    let out = alice.ok(&["account", "create", "Acme"]);
    let acct = out.split_whitespace().nth(2).unwrap().to_owned();
    alice.ok(&["invite", &acct, "bob@example.com", "--role", "member"]);
    bob.ok(&["register", "--email", "bob@example.com"]);
    let login = bob.ok(&["login", "--email", "bob@example.com"]);
    let own_code: String = login.rsplit("verification code is ").next().unwrap().trim().to_owned();
    // The server swaps bob's public keys after his sign-in and lies in /me.
    let mallory = Keyring::generate("x", 1, &mut vouchsafe_crypto::os_rng()).unwrap();
    let bob_id = srv_user_id(&srv, "bob@example.com");
    let swapped =
        vouchsafe_crypto::identity::PublicIdentity::keys_from_bytes(&bob_id, &mallory.public().keys_to_bytes())
            .unwrap();
    srv.sql(&format!("UPDATE users SET public_keys = {} WHERE id = '{bob_id}'", srv.blob(&swapped.keys_to_bytes())));
    let token = srv.outbox_token("bob@example.com");
    let accepted = bob.ok(&["accept", &format!("http://x/invite#token={token}")]);
    assert!(accepted.contains(&own_code), "accept shows the device's code:\n{accepted}");
    assert!(!accepted.contains(&swapped.verification_code().to_string()));
    assert!(accepted.contains("warning"), "{accepted}");
    let whoami = bob.ok(&["whoami"]);
    assert!(whoami.contains(&own_code) && whoami.contains("warning"), "{whoami}");
    // Alice types the code bob reads from his screen: refused, nothing sealed.
    proxy.clear_seen();
    let (ok, _, err) = alice.run(&["confirm", &acct, &bob_id, "--role", "member", "--code", &own_code], "");
    assert!(!ok && err.contains("does not match"), "confirm with a swapped key: ok={ok}\n{err}");
    assert!(!proxy.reached("POST", "/log"));
    // Checkpoints survive a new sign-in: alice verifies, signs in again, and a rollback is refused.
    alice.ok(&["policy", "set", &acct, "--quorum", "2"]);
    let verified = alice.ok(&["log", "verify", &acct]);
    assert!(verified.contains("entries verified"), "{verified}");
    alice.ok(&["logout"]);
    alice.ok(&["login", "--email", "alice@example.com"]);
    proxy.on("GET", format!("{acct}/log"), |_, ans| {
        let mut v = ans.json();
        if let Some(list) = v["entries"].as_array_mut() {
            list.truncate(1);
        }
        v["log_len"] = json!(1);
        ans.set_json(&v);
    });
    let (ok, _, err) = alice.run(&["policy", "show", &acct], "");
    assert!(!ok && err.contains("forked"), "the rollback is refused after a new login:\n{err}");
    let (ok, _, err) = alice.run(&["members", &acct], "");
    assert!(!ok && err.contains("forked"), "{err}");
    proxy.honest();
    // Escape sequences in server strings (names, errors) are never printed raw.
    proxy.on("GET", "/accounts".into(), |_, ans| {
        let mut v = ans.json();
        for a in v.as_array_mut().into_iter().flatten() {
            a["name"] = json!("\u{1b}]0;pwned\u{7}\u{1b}[2JEvil\u{202e}gnp");
        }
        ans.set_json(&v);
    });
    proxy.on("GET", "/invitations".into(), |_, ans| {
        ans.status = 400;
        ans.body = json!({"error": {"code": "x\u{1b}[31m", "message": "bad \u{1b}[2J\u{9b}1m thing"}}).to_string();
    });
    let list = alice.ok(&["account", "list"]);
    assert!(
        list.contains("Evil") && !list.contains('\u{1b}') && !list.contains('\u{7}') && !list.contains('\u{202e}'),
        "{list:?}"
    );
    let (_, out, err) = alice.run(&["invitations", &acct], "");
    assert!(
        err.contains("bad") && !err.contains('\u{1b}') && !err.contains('\u{9b}') && !out.contains('\u{1b}'),
        "{err:?}"
    );
    proxy.honest();
    // The members list is the log's view; a database-only row is marked.
    let ghost = srv.user("ghost@example.com");
    srv.sql(&format!(
        "INSERT INTO memberships (account_id, user_id, role, status, created_at, updated_at) VALUES ('{acct}', '{}', 'owner', 'active', 0, 0)",
        ghost.user_id()
    ));
    let members = alice.ok(&["members", &acct]);
    let line = members.lines().find(|l| l.contains("ghost@example.com")).unwrap();
    assert!(line.contains("NOT IN THE TEAM LOG"), "{members}");
}

pub(crate) fn srv_user_id(srv: &TestServer, email: &str) -> String {
    let mut c = srv.client();
    flows::login(&mut c, email, PW).unwrap().user_id
}

/// The answers to writes and to a rotation's listing are checked too: a server that reports
/// another revision than the one written, or lists an item that needs no re-encryption, is refused.
#[test]
fn write_answers_and_rotation_listings_are_checked() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, _bob, acct) = pair(&srv, &proxy, Role::Member);
    let w = alice.create_item(&acct, &fields(&[("n", "one")])).unwrap();
    proxy.on("PUT", format!("/items/{}", w.id), |_, ans| {
        let mut v = ans.json();
        v["revision"] = json!(7);
        ans.set_json(&v);
    });
    refused(&alice.update_item(&acct, &w.id, 1, &fields(&[("n", "two")])).unwrap_err(), "revision 7");
    proxy.honest();
    // A rotation whose listing of "items under an older key" holds a current one: refused before
    // anything is re-encrypted.
    alice.rotate_key(&acct, true).unwrap();
    alice.reencrypt(&acct, 10, None, |_, _| {}).unwrap();
    let current = alice.client.item(&acct, &w.id).unwrap();
    assert_eq!(current.key_version, 2);
    let listed = serde_json::to_string(&json!({"items": [current], "next_cursor": null})).unwrap();
    proxy.on("GET", "/items".into(), move |_, ans| ans.body = listed.clone());
    proxy.clear_seen();
    refused(&alice.reencrypt(&acct, 10, None, |_, _| {}).unwrap_err(), "not under an older key version");
    assert!(!proxy.reached("POST", "/items/batch"), "nothing was re-encrypted");
}

/// A forged share the server slips in beside the genuine ones cannot block a recovery with the
/// code (the client tries the code with each released share), nor change the keys it recovers.
#[test]
fn a_forged_extra_share_does_not_block_or_steer_a_recovery() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (_alice, bob, _acct) = pair(&srv, &proxy, Role::Member);
    let kit = recovery::setup(&bob.client, &bob.keyring, &[], false).unwrap();
    let code = kit.code.to_string();
    let (bob_id, bob_keys) = (bob.user_id().to_owned(), bob.keyring.public());
    drop(bob);
    let kit_id = vouchsafe_crypto::recovery::RecoveryShare::from_code(&code).unwrap().kit_id();
    let eph = std::sync::Arc::new(std::sync::Mutex::new(None::<[u8; 32]>));
    let e1 = eph.clone();
    proxy.on("POST", "/recovery/begin".into(), move |req, _| {
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        *e1.lock().unwrap() = Some(b64::decode_array(body["ephemeral_public_key"].as_str().unwrap()).unwrap());
    });
    let owner = bob_id.clone();
    proxy.on("POST", "/recovery/shares".into(), move |_, ans| {
        // A made-up share 3 of the same kit, listed before the genuine server share.
        let mut raw = vec![1u8];
        raw.extend_from_slice(&kit_id);
        raw.extend_from_slice(&[2, 3]);
        raw.extend_from_slice(&[0x5a; 32]);
        let fake = vouchsafe_crypto::recovery::RecoveryShare::from_bytes(&raw).unwrap();
        let key = eph.lock().unwrap().unwrap();
        let sealed =
            vouchsafe_crypto::recovery::release_share(&fake, &owner, &key, &mut vouchsafe_crypto::os_rng()).unwrap();
        let mut list = ans.json();
        let forged = json!({"index": 3, "sealed": b64::encode(&sealed.to_bytes()), "released_by": "server"});
        list.as_array_mut().unwrap().insert(0, forged);
        ans.set_json(&list);
    });
    srv.client().recovery_request("bob@example.com").unwrap();
    let c = proxy.client();
    let r = Recovery::start(&c, &srv.outbox_token("bob@example.com")).unwrap();
    assert_eq!(r.released(&c).unwrap().len(), 2, "the forged share is there");
    let keys = r.finish(&c, Some(&code), None, "recovered password", fast_kdf()).unwrap();
    assert_eq!(keys.public(), bob_keys, "the same keys, whatever the forged share said");
}

// ------------------------------------------------------------------ provisioning

/// A server that lies about who was deprovisioned can make an admin's client remove a member
/// the log names — in a signed entry every member sees — and nothing else: a made-up user gets
/// no entry, and the rotation that follows seals the new key to nobody the log does not keep.
#[test]
fn a_lie_about_deprovisioning_can_only_remove_and_the_removal_is_signed_and_seen() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, bob, acct) = pair(&srv, &proxy, Role::Member);
    let ghost = "ghost-user-00000000001";
    let bob_id = bob.user_id().to_owned();
    proxy.on("GET", "/members".into(), move |_, ans| {
        let mut v = ans.json();
        if let Some(list) = v.as_array_mut() {
            for m in list.iter_mut() {
                if m["user_id"] == json!(bob_id) {
                    m["status"] = json!("deprovisioned");
                }
            }
            let mut fake = list[0].clone();
            fake["user_id"] = json!(ghost);
            fake["status"] = json!("deprovisioned");
            list.push(fake);
        }
        ans.set_json(&v);
    });
    proxy.clear_seen();
    let report = alice.rotate(&acct, false, 100, |_, _| {}).unwrap();
    assert_eq!(report.removed, vec![bob.user_id().to_owned()], "the ghost is not in the log: nothing to remove");
    proxy.honest();
    let appended: Vec<String> =
        proxy.seen().into_iter().filter(|s| s.method == "POST" && s.path.ends_with("/log")).map(|s| s.body).collect();
    assert!(appended.iter().all(|b| !b.contains(ghost)), "no entry names the ghost");
    assert!(appended.iter().all(|b| !b.contains(&format!("\"recipient_id\":\"{}\"", bob.user_id()))), "no seal to bob");
    // The removal is in the signed log, with alice as its author, for every member to see.
    let (entries, state) = alice.verified_log(&acct).unwrap();
    let removal = entries
        .iter()
        .find(|e| matches!(&e.body, EntryBody::MemberRemoved { user_id } if user_id == bob.user_id()))
        .unwrap();
    assert_eq!(removal.author, alice.user_id());
    assert!(state.member(bob.user_id()).is_none() && state.key_version() == 2);
}
