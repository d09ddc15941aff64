//! Team accounts end to end: invitations by email, confirmation with verification codes, items,
//! removal and rotation, isolation, a malicious server, and concurrent appends.

use std::collections::BTreeMap;

use vouchsafe_client::vault::Vault;
use vouchsafe_crypto::log::{EntryBody, LogEntry, Role};

use crate::harness::{TestServer, token_in};
use crate::smtp::SmtpListener;

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect()
}

fn text(item: &vouchsafe_client::vault::Item, f: &str) -> String {
    String::from_utf8(item.fields[f].to_vec()).unwrap()
}

/// alice creates a team and brings in `others` (email, role) through invite → accept → confirm.
fn team(srv: &TestServer, others: &[(&str, Role)]) -> (Vault, String, Vec<Vault>) {
    let mut alice = srv.user("alice@example.com");
    let acct = alice.create_account("Acme support").unwrap().id;
    let mut vaults = Vec::new();
    for (email, role) in others {
        let v = srv.user(email);
        alice.invite(&acct, email, *role).unwrap();
        let token = srv.outbox_token(email);
        assert_eq!(v.client.accept_invitation(&token).unwrap().account_id, acct);
        // The person reads their code out loud; alice types it.
        let code = v.keyring.public().verification_code().to_string();
        alice.confirm(&acct, v.user_id(), *role, &code).unwrap();
        vaults.push(v);
    }
    (alice, acct, vaults)
}

#[test]
fn three_people_share_encrypted_items() {
    let srv = TestServer::start();
    let (mut alice, acct, mut rest) =
        team(&srv, &[("bob@example.com", Role::Member), ("carol@example.com", Role::Admin)]);
    let a = alice.create_item(&acct, &fields(&[("name", "Jane Doe"), ("email", "jane@example.com")])).unwrap();
    let b = rest[0].create_item(&acct, &fields(&[("name", "John Roe")])).unwrap();
    let c = rest[1].create_item(&acct, &fields(&[("phone", "+1 555 0100")])).unwrap();
    let (r0, r1) = rest.split_at_mut(1);
    for v in [&mut alice, &mut r0[0], &mut r1[0]] {
        assert_eq!(text(&v.get_item(&acct, &a.id).unwrap(), "email"), "jane@example.com");
        assert_eq!(text(&v.get_item(&acct, &b.id).unwrap(), "name"), "John Roe");
        assert_eq!(text(&v.get_item(&acct, &c.id).unwrap(), "phone"), "+1 555 0100");
        let (all, _) = v.list_items(&acct, None, 100).unwrap();
        assert_eq!(all.len(), 3);
    }
    // Update with revisions: a stale one is a 409.
    let item = rest[0].get_item(&acct, &a.id).unwrap();
    rest[0].update_item(&acct, &a.id, item.revision, &fields(&[("name", "Jane Q. Doe")])).unwrap();
    let stale = alice.update_item(&acct, &a.id, item.revision, &fields(&[("name", "x")])).unwrap_err();
    assert_eq!(stale.code(), Some("item.stale_revision"));
    assert_eq!(text(&alice.get_item(&acct, &a.id).unwrap(), "name"), "Jane Q. Doe");
    // Members see roles and statuses; the account lists for each of them.
    let members = alice.client.members(&acct).unwrap();
    assert_eq!(members.len(), 3);
    assert!(members.iter().all(|m| m.status == "active"));
    assert_eq!(rest[1].client.accounts().unwrap()[0].role, "admin");
    // The server stored no plaintext.
    let db = std::fs::read(srv.data_dir.join("test.db")).unwrap_or_default();
    let wal = std::fs::read(srv.data_dir.join("test.db-wal")).unwrap_or_default();
    for needle in ["jane@example.com", "John Roe", "+1 555 0100"] {
        for hay in [&db, &wal] {
            assert!(!hay.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} stored in clear");
        }
    }
    // Pagination is stable and complete.
    for _ in 0..7 {
        alice.create_item(&acct, &fields(&[("n", "x")])).unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = alice.list_items(&acct, cursor.as_deref(), 3).unwrap();
        seen.extend(page.into_iter().map(|i| i.id));
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((seen.len(), sorted), (10, seen.clone()));
}

#[test]
fn invitation_email_over_real_smtp_and_single_use_token() {
    let smtp = SmtpListener::start();
    let port = smtp.port;
    let srv = TestServer::start_with(move |c| {
        c.mail.transport = Some("smtp".into());
        c.mail.smtp_host = Some("127.0.0.1".into());
        c.mail.smtp_port = Some(port);
        c.mail.smtp_security = Some("none".into());
        c.mail.from = Some("Vouchsafe <noreply@vault.example>".into());
    });
    let mut alice = srv.user("alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let inv = alice.invite(&acct, "dan@example.com", Role::Member).unwrap();
    assert_eq!(inv.status, "pending");
    let msg = smtp.wait_for("dan@example.com");
    assert!(msg.from.contains("noreply@vault.example"));
    assert!(msg.data.contains("Acme"));
    let token = token_in(&msg.data).expect("link with token");
    assert_eq!(token.len(), 43, "256-bit token");
    assert!(msg.data.contains(&format!("{}/invite#token=", srv.url)) || msg.data.contains("/invite#token="));
    let dan = srv.user("dan@example.com");
    // Someone else cannot use dan's link.
    let eve = srv.user("eve@example.com");
    assert_eq!(eve.client.accept_invitation(&token).unwrap_err().code(), Some("invitation.wrong_user"));
    dan.client.accept_invitation(&token).unwrap();
    assert_eq!(dan.client.accept_invitation(&token).unwrap_err().status(), Some(404), "single use");
    let list = alice.client.invitations(&acct).unwrap();
    assert_eq!(list[0].status, "accepted");
    assert_eq!(list[0].accepted_by.as_deref(), Some(dan.user_id()));
    // Revoked and expired links do not work.
    alice.invite(&acct, "fay@example.com", Role::Member).unwrap();
    let inv2 = alice.client.invitations(&acct).unwrap().into_iter().find(|i| i.email == "fay@example.com").unwrap();
    let fay_token = token_in(&smtp.wait_for("fay@example.com").data).unwrap();
    alice.client.revoke_invitation(&acct, &inv2.id).unwrap();
    let fay = srv.user("fay@example.com");
    assert_eq!(fay.client.accept_invitation(&fay_token).unwrap_err().status(), Some(404));
    alice.invite(&acct, "gus@example.com", Role::Member).unwrap();
    let gus_token = token_in(&smtp.wait_for("gus@example.com").data).unwrap();
    srv.clock.advance(73 * 3600);
    let gus = srv.user("gus@example.com");
    assert_eq!(gus.client.accept_invitation(&gus_token).unwrap_err().status(), Some(404), "expired");
}

#[test]
fn an_smtp_outage_loses_no_invitation() {
    // A port with nothing listening on it (yet).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let srv = TestServer::start_smtp_to(port);
    let mut alice = srv.user("alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    alice.invite(&acct, "hal@example.com", Role::Member).unwrap();
    // The sender tries, fails, and schedules a retry.
    let mut failed = false;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let r = alice.client.raw("GET", &format!("/api/v1/accounts/{acct}/invitations"), None, &[]).unwrap();
        assert_eq!(r.status, 200);
        if outbox_attempts(&srv) > 0 {
            failed = true;
            break;
        }
    }
    assert!(failed, "the first delivery attempt should have failed");
    // SMTP comes back; after the backoff the message goes out.
    let smtp = SmtpListener::start_on(port);
    srv.clock.advance(3600);
    let msg = smtp.wait_for("hal@example.com");
    assert!(token_in(&msg.data).is_some());
}

fn outbox_attempts(srv: &TestServer) -> i64 {
    let url = srv.db_url.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            use sea_orm::{ConnectionTrait, Statement};
            let db = sea_orm::Database::connect(&url).await.unwrap();
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT MAX(attempts) AS a FROM outbox",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<Option<i32>>("", "a").unwrap().map(i64::from).unwrap_or(0)
        })
    })
    .join()
    .unwrap()
}

#[test]
fn remove_rotate_and_resume() {
    let srv = TestServer::start();
    let (mut alice, acct, mut rest) =
        team(&srv, &[("bob@example.com", Role::Member), ("carol@example.com", Role::Admin)]);
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(alice.create_item(&acct, &fields(&[("n", &format!("customer {i}"))])).unwrap().id);
    }
    // Bob keeps his v1 key (as a thief would).
    let bob_v1 = rest[0].master_keys(&acct).unwrap().remove(&1).unwrap();
    alice.remove(&acct, rest[0].user_id()).unwrap();
    assert!(alice.client.account(&acct).unwrap().rotation_required);
    assert_eq!(rest[0].client.items(&acct, None, 10, None).unwrap_err().status(), Some(404));
    assert_eq!(rest[0].client.item(&acct, &ids[0]).unwrap_err().status(), Some(404));
    // Interrupted rotation: new key made, only 10 items re-encrypted.
    let r = alice.rotate_key(&acct, false).unwrap();
    assert!(r.new_version);
    assert_eq!(r.key_version, 2);
    assert_eq!(alice.reencrypt(&acct, 4, Some(10), |_, _| {}).unwrap(), 10);
    assert_eq!(alice.client.account(&acct).unwrap().items_to_rotate, 15);
    // Reads keep working during the rotation (mixed versions).
    for id in &ids {
        rest[1].get_item(&acct, id).unwrap();
    }
    // Carol resumes it.
    let mut last = (0, 0);
    let r = rest[1].rotate(&acct, false, 7, |d, t| last = (d, t)).unwrap();
    assert!(!r.new_version);
    assert_eq!((r.items_reencrypted, last), (15, (15, 15)));
    assert_eq!(alice.client.account(&acct).unwrap().items_to_rotate, 0);
    // Written after the rotation: bob's old key opens nothing.
    let fresh = alice.create_item(&acct, &fields(&[("n", "after removal")])).unwrap();
    let fk = vouchsafe_crypto::field::FieldKey::derive(&bob_v1, &acct).unwrap();
    for w in [&fresh, &alice.client.item(&acct, &ids[0]).unwrap()] {
        assert_eq!(w.key_version, 2);
        let blob = vouchsafe_crypto::b64::decode(&w.fields["n"], 1000).unwrap();
        assert!(fk.decrypt(&w.id, "n", &blob).is_err());
    }
    assert_eq!(text(&rest[1].get_item(&acct, &fresh.id).unwrap(), "n"), "after removal");
    // An ended session reads nothing, at once (the one-query read path checks it too).
    rest[1].client.logout().unwrap();
    assert_eq!(rest[1].client.item(&acct, &fresh.id).unwrap_err().code(), Some("auth.session_ended"));
}

/// method, path, (content type, body)
type Route<'a> = (&'a str, String, Option<(&'a str, &'a str)>);

#[test]
fn members_of_one_account_get_404_for_another() {
    let srv = TestServer::start();
    let (mut alice, acct, _) = team(&srv, &[]);
    let item = alice.create_item(&acct, &fields(&[("n", "secret")])).unwrap();
    let inv = alice.invite(&acct, "zed@example.com", Role::Member).unwrap();
    let mut mallory = srv.user("mallory@example.com");
    let own = mallory.create_account("Mallory Inc").unwrap().id;
    mallory.create_item(&own, &fields(&[("n", "x")])).unwrap();
    let routes: Vec<Route> = vec![
        ("GET", format!("/api/v1/accounts/{acct}"), None),
        ("PATCH", format!("/api/v1/accounts/{acct}"), Some(("application/json", r#"{"name":"pwned"}"#))),
        ("GET", format!("/api/v1/accounts/{acct}/log"), None),
        ("POST", format!("/api/v1/accounts/{acct}/log"), Some(("application/json", r#"{"entries":["AQ"]}"#))),
        ("GET", format!("/api/v1/accounts/{acct}/keys"), None),
        ("GET", format!("/api/v1/accounts/{acct}/members"), None),
        ("GET", format!("/api/v1/accounts/{acct}/invitations"), None),
        (
            "POST",
            format!("/api/v1/accounts/{acct}/invitations"),
            Some(("application/json", r#"{"email":"m2@example.com","role":"admin"}"#)),
        ),
        ("DELETE", format!("/api/v1/accounts/{acct}/invitations/{}", inv.id), None),
        ("GET", format!("/api/v1/accounts/{acct}/items"), None),
        ("GET", format!("/api/v1/accounts/{acct}/items/{}", item.id), None),
        (
            "PUT",
            format!("/api/v1/accounts/{acct}/items/{}", item.id),
            Some(("application/json", r#"{"revision":1,"key_version":1,"fields":{}}"#)),
        ),
        ("DELETE", format!("/api/v1/accounts/{acct}/items/{}", item.id), None),
    ];
    for (method, path, body) in &routes {
        let r = mallory.client.raw(method, path, *body, &[]).unwrap();
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        assert!(r.body.contains("\"code\""), "{method} {path}: JSON error");
    }
    // Nothing changed.
    assert_eq!(alice.client.account(&acct).unwrap().name, "Acme support");
    assert_eq!(text(&alice.get_item(&acct, &item.id).unwrap(), "n"), "secret");
    // A plain member gets 403 for admin routes of their own account.
    let mut owner = srv.user("olga@example.com");
    let acct2 = owner.create_account("Two").unwrap().id;
    let mut max = srv.user("max@example.com");
    owner.invite(&acct2, "max@example.com", Role::Member).unwrap();
    max.client.accept_invitation(&srv.outbox_token("max@example.com")).unwrap();
    let code = max.keyring.public().verification_code().to_string();
    owner.confirm(&acct2, max.user_id(), Role::Member, &code).unwrap();
    assert_eq!(max.client.invite(&acct2, "x@example.com", "member").unwrap_err().status(), Some(403));
    assert_eq!(max.client.rename_account(&acct2, "mine").unwrap_err().status(), Some(403));
    let e = max.remove(&acct2, owner.user_id()).unwrap_err();
    assert_eq!(e.code(), Some("log.rejected"), "{e}");
    assert_eq!(owner.client.members(&acct2).unwrap().len(), 2);
}

#[test]
fn malicious_server_cannot_make_clients_seal_to_the_wrong_key() {
    let srv = TestServer::start();
    let (mut alice, acct, _) = team(&srv, &[("bob@example.com", Role::Member)]);
    // 1. Key substitution: the server swaps an accepted invitee's public keys for its own.
    let carol = srv.user("carol@example.com");
    alice.invite(&acct, "carol@example.com", Role::Member).unwrap();
    carol.client.accept_invitation(&srv.outbox_token("carol@example.com")).unwrap();
    srv.user("mallory@example.com");
    srv.sql(&format!(
        "UPDATE users SET public_keys = (SELECT public_keys FROM users WHERE email = 'mallory@example.com') WHERE id = '{}'",
        carol.user_id()
    ));
    let real_code = carol.keyring.public().verification_code().to_string();
    let e = alice.confirm(&acct, carol.user_id(), Role::Member, &real_code).unwrap_err();
    assert!(e.to_string().contains("verification code does not match"), "{e}");
    srv.sql(&format!(
        "UPDATE users SET public_keys = {} WHERE id = '{}'",
        srv.blob(&carol.keyring.public().keys_to_bytes()),
        carol.user_id()
    ));
    // 2. Dropped entry: the server hides entry 1 (bob's addition).
    let (entries, _) = alice.verified_log(&acct).unwrap();
    srv.sql(&format!("DELETE FROM log_entries WHERE account_id = '{acct}' AND seq = 1"));
    let e = alice.confirm(&acct, carol.user_id(), Role::Member, &real_code).unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");
    restore(&srv, &acct, &entries[1]);
    // 3. Injected member: an entry signed by a key the server made, claiming to be alice.
    let mut rng = vouchsafe_crypto::testing::DeterministicRng::new(1);
    let fake_alice = vouchsafe_crypto::identity::Keyring::generate(alice.user_id(), 1, &mut rng).unwrap();
    let ghost = vouchsafe_crypto::identity::Keyring::generate("ghost-member-0001", 1, &mut rng).unwrap();
    let (_, state) = alice.verified_log(&acct).unwrap();
    let forged = LogEntry::create(
        &acct,
        Some(state.head()),
        &fake_alice,
        state.last_timestamp() + 1,
        EntryBody::MemberAdded { member: ghost.public(), role: Role::Admin },
    )
    .unwrap();
    restore(&srv, &acct, &forged);
    let e = alice.confirm(&acct, carol.user_id(), Role::Member, &real_code).unwrap_err();
    assert!(e.to_string().contains("bad signature"), "{e}");
    srv.sql(&format!("DELETE FROM log_entries WHERE account_id = '{acct}' AND seq = {}", forged.seq));
    // 4. Fork / rollback: alice has verified the head; the server serves an older log.
    alice.confirm(&acct, carol.user_id(), Role::Member, &real_code).unwrap();
    let (entries, state) = alice.verified_log(&acct).unwrap();
    let last = state.head().seq;
    srv.sql(&format!("DELETE FROM log_entries WHERE account_id = '{acct}' AND seq = {last}"));
    let e = alice.verified_log(&acct).unwrap_err();
    assert!(e.to_string().contains("forked"), "{e}");
    // …or a different entry at that position (a valid signature by alice, but not the one she saw).
    let (_, prefix) = {
        let mut s = vouchsafe_crypto::log::TeamState::replay(&acct, &entries[..entries.len() - 1]).unwrap();
        let alt = LogEntry::create(
            &acct,
            Some(s.head()),
            &alice.keyring,
            entries[entries.len() - 1].timestamp,
            EntryBody::RoleChanged { user_id: carol.user_id().into(), role: Role::Admin },
        )
        .unwrap();
        s.apply(&alt).unwrap();
        restore(&srv, &acct, &alt);
        ((), s)
    };
    let _ = prefix;
    let e = alice.verified_log(&acct).unwrap_err();
    assert!(e.to_string().contains("forked"), "{e}");
}

fn restore(srv: &TestServer, acct: &str, e: &LogEntry) {
    srv.store_entry(acct, e);
}

#[test]
fn concurrent_appends_one_wins_the_other_retries() {
    let srv = TestServer::start();
    let (mut alice, acct, mut rest) =
        team(&srv, &[("bob@example.com", Role::Member), ("carol@example.com", Role::Admin)]);
    // Raw: two entries built on the same head, sent at once → exactly one is stored.
    let (_, state) = alice.verified_log(&acct).unwrap();
    let e1 = LogEntry::create(
        &acct,
        Some(state.head()),
        &alice.keyring,
        state.last_timestamp() + 1,
        EntryBody::RoleChanged { user_id: rest[0].user_id().into(), role: Role::Admin },
    )
    .unwrap();
    let (_, cstate) = rest[1].verified_log(&acct).unwrap();
    let e2 = LogEntry::create(
        &acct,
        Some(cstate.head()),
        &rest[1].keyring,
        cstate.last_timestamp() + 1,
        EntryBody::RoleChanged { user_id: rest[0].user_id().into(), role: Role::Member },
    )
    .unwrap();
    let reqs = [(alice.client.clone(), e1), (rest[1].client.clone(), e2)];
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = reqs
            .iter()
            .map(|(c, e)| {
                let acct = acct.clone();
                s.spawn(move || {
                    c.append(
                        &acct,
                        &vouchsafe_client::types::AppendRequest {
                            entries: vec![vouchsafe_crypto::b64::encode(&e.to_bytes())],
                            sealed_keys: vec![],
                            inbox_wraps: vec![],
                        },
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results.iter().filter(|r| matches!(r, Err(e) if e.code() == Some("log.conflict"))).count();
    assert_eq!((ok, conflicts), (1, 1), "{results:?}");
    // High level: both admins change roles at once; the loser re-reads and retries.
    let bob_id = rest[0].user_id().to_owned();
    let (_, before) = alice.verified_log(&acct).unwrap();
    let second = &mut rest[1..];
    std::thread::scope(|s| {
        let a = s.spawn(|| alice.set_role(&acct, &bob_id, Role::Admin));
        let c = s.spawn(|| second[0].set_role(&acct, &bob_id, Role::Member));
        a.join().unwrap().unwrap();
        c.join().unwrap().unwrap();
    });
    let (entries, after) = alice.verified_log(&acct).unwrap();
    assert_eq!(after.head().seq, before.head().seq + 2, "both landed, nothing lost or duplicated");
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..entries.len() as u64).collect::<Vec<_>>());
}

#[test]
fn batch_updates_compare_and_set_each_item() {
    let srv = TestServer::start();
    let (mut alice, acct, _) = team(&srv, &[]);
    let a = alice.create_item(&acct, &fields(&[("n", "a")])).unwrap();
    let b = alice.create_item(&acct, &fields(&[("n", "b")])).unwrap();
    // b moves on before the batch lands.
    alice.update_item(&acct, &b.id, b.revision, &fields(&[("n", "b2")])).unwrap();
    let upd = |w: &vouchsafe_client::types::ItemWire, id: &str| vouchsafe_client::types::BatchItemUpdate {
        id: id.parse().unwrap(),
        revision: w.revision,
        key_version: 1,
        fields: w.fields.clone(),
    };
    let req = vouchsafe_client::types::BatchUpdateRequest {
        items: vec![upd(&a, &a.id), upd(&b, &b.id), upd(&a, "no-such-item-00000001")],
    };
    let r = alice.client.update_items(&acct, &req).unwrap();
    assert_eq!(r.results, ["updated", "stale", "missing"]);
    // The raw batch re-sent rev 1's blobs: the server took them (it cannot read them), and a
    // client refuses them as rev 2 (they are bound to rev 1) — see `hostile::item_field_sets_…`.
    assert_eq!(alice.client.item(&acct, &a.id).unwrap().revision, 2);
    assert!(alice.get_item(&acct, &a.id).is_err());
    assert_eq!(text(&alice.get_item(&acct, &b.id).unwrap(), "n"), "b2", "the stale update changed nothing");
    let too_many = vouchsafe_client::types::BatchUpdateRequest { items: vec![upd(&a, &a.id); 501] };
    assert_eq!(alice.client.update_items(&acct, &too_many).unwrap_err().code(), Some("item.batch_too_large"));
    // An id named twice: refused whole, nothing written.
    let b_now = alice.client.item(&acct, &b.id).unwrap();
    let twice = vouchsafe_client::types::BatchUpdateRequest { items: vec![upd(&b_now, &b.id), upd(&b_now, &b.id)] };
    assert_eq!(alice.client.update_items(&acct, &twice).unwrap_err().code(), Some("item.duplicate_id"));
    assert_eq!(alice.client.item(&acct, &b.id).unwrap().revision, b_now.revision);
}

/// Item writes on SQLite run on one writer thread that commits concurrent writes together; each
/// write checks session, membership and key version inside that transaction.
#[test]
fn group_committed_writes_stay_apart_and_check_access() {
    use vouchsafe_client::types::PutItemRequest;
    let srv = TestServer::start();
    let (mut alice, acct, rest) = team(&srv, &[("bob@example.com", Role::Member), ("carol@example.com", Role::Member)]);
    let a = alice.create_item(&acct, &fields(&[("n", "a")])).unwrap();
    let again = PutItemRequest { revision: None, key_version: 1, fields: a.fields.clone() };
    // The same id twice: 409, the first write stands.
    assert_eq!(alice.client.put_item(&acct, &a.id, &again).unwrap_err().code(), Some("item.exists"));
    // Fields claiming a key version the account does not have yet.
    let mut v2 = a.fields.clone();
    for value in v2.values_mut() {
        let mut blob = vouchsafe_crypto::b64::decode(value, 10_000).unwrap();
        blob[1..5].copy_from_slice(&2u32.to_be_bytes());
        *value = vouchsafe_crypto::b64::encode(&blob);
    }
    let future = PutItemRequest { revision: Some(1), key_version: 2, fields: v2 };
    assert_eq!(alice.client.put_item(&acct, &a.id, &future).unwrap_err().code(), Some("item.bad_key_version"));
    // Sixteen concurrent creates of one new id: exactly one wins; sixteen concurrent updates of
    // one revision: exactly one wins, the others are told to re-read.
    let fresh = vouchsafe_crypto::random_id();
    let update = PutItemRequest { revision: Some(1), key_version: 1, fields: a.fields.clone() };
    let (created, updated): (Vec<_>, Vec<_>) = std::thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|_| {
                let c = alice.client.clone();
                let (acct, fresh, again, update, aid) = (&acct, &fresh, &again, &update, &a.id);
                s.spawn(move || (c.put_item(acct, fresh, again), c.put_item(acct, aid, update)))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).unzip()
    });
    assert_eq!(created.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(created.iter().filter_map(|r| r.as_ref().err()).all(|e| e.code() == Some("item.exists")));
    assert_eq!(updated.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(updated.iter().filter_map(|r| r.as_ref().err()).all(|e| e.code() == Some("item.stale_revision")));
    assert_eq!(alice.client.item(&acct, &a.id).unwrap().revision, 2);
    assert_eq!(alice.client.items(&acct, None, 10, None).unwrap().items.len(), 2);
    // Carol signs out: her writes and lists are refused at once.
    rest[1].client.logout().unwrap();
    for e in [
        rest[1].client.put_item(&acct, &vouchsafe_crypto::random_id(), &again).unwrap_err(),
        rest[1].client.put_item(&acct, &a.id, &update).unwrap_err(),
        rest[1].client.items(&acct, None, 10, None).unwrap_err(),
    ] {
        assert_eq!(e.code(), Some("auth.session_ended"));
    }
    // Bob is removed: his writes find nothing.
    alice.remove(&acct, rest[0].user_id()).unwrap();
    let e = rest[0].client.put_item(&acct, &vouchsafe_crypto::random_id(), &again).unwrap_err();
    assert_eq!(e.status(), Some(404));
}

/// Reads and creates that arrive together are answered together on PostgreSQL (one statement
/// per batch) and group-committed on SQLite: each caller still gets exactly its own answer —
/// the member their item, an ended session a 401, a stranger the account's 404, a missing id
/// the item's 404, a write under a version the account does not have a 400 — however the
/// requests were batched.
#[test]
fn concurrent_reads_and_creates_each_get_their_own_answer() {
    use vouchsafe_client::types::PutItemRequest;
    let srv = TestServer::start();
    let (mut alice, acct, rest) = team(&srv, &[("bob@example.com", Role::Member)]);
    let items: Vec<_> = (0..4).map(|i| alice.create_item(&acct, &fields(&[("n", &i.to_string())])).unwrap()).collect();
    let stranger = srv.user("stranger@example.com");
    let ended = rest[0].client.clone();
    ended.logout().unwrap();
    let template = PutItemRequest { revision: None, key_version: 1, fields: items[0].fields.clone() };
    let mut future = template.clone();
    future.key_version = 2;
    for value in future.fields.values_mut() {
        let mut blob = vouchsafe_crypto::b64::decode(value, 10_000).unwrap();
        blob[1..5].copy_from_slice(&2u32.to_be_bytes());
        *value = vouchsafe_crypto::b64::encode(&blob);
    }
    let created = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..8 {
            let (a, e, x) = (alice.client.clone(), ended.clone(), stranger.client.clone());
            let (acct, items, template, future, created) = (&acct, &items, &template, &future, &created);
            s.spawn(move || {
                for round in 0..25 {
                    let it = &items[(t + round) % items.len()];
                    let got = a.item(acct, &it.id).unwrap();
                    assert_eq!((got.id.as_str(), got.revision, &got.fields), (it.id.as_str(), 1, &it.fields));
                    let code = |r: Result<_, vouchsafe_client::ClientError>| {
                        r.map(|_| ()).unwrap_err().code().map(str::to_owned)
                    };
                    assert_eq!(code(e.item(acct, &it.id)).as_deref(), Some("auth.session_ended"));
                    assert_eq!(code(x.item(acct, &it.id)).as_deref(), Some("account.not_found"));
                    assert_eq!(code(a.item(acct, &vouchsafe_crypto::random_id())).as_deref(), Some("item.not_found"));
                    let id = vouchsafe_crypto::random_id();
                    let made = a.put_item(acct, &id, template).unwrap();
                    assert_eq!((made.id.as_str(), made.revision), (id.as_str(), 1));
                    created.lock().unwrap().push(id);
                    assert_eq!(
                        code(e.put_item(acct, &vouchsafe_crypto::random_id(), template)).as_deref(),
                        Some("auth.session_ended")
                    );
                    assert_eq!(
                        code(x.put_item(acct, &vouchsafe_crypto::random_id(), template)).as_deref(),
                        Some("account.not_found")
                    );
                    assert_eq!(
                        code(a.put_item(acct, &vouchsafe_crypto::random_id(), future)).as_deref(),
                        Some("item.bad_key_version")
                    );
                }
            });
        }
    });
    // Exactly the acknowledged creates exist, and nothing the refused callers sent.
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = alice.client.items(&acct, cursor.as_deref(), 500, None).unwrap();
        listed.extend(page.items.into_iter().map(|i| i.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut expected: Vec<String> = created.into_inner().unwrap();
    expected.extend(items.iter().map(|i| i.id.clone()));
    expected.sort();
    assert_eq!(listed, expected);
}

/// Inviting an address twice leaves one open invitation (the newer; the first link stops
/// working), and once the person accepts, no open invitation of theirs is left behind.
#[test]
fn inviting_again_replaces_the_open_invitation() {
    let srv = TestServer::start();
    let mut alice = srv.user("alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    alice.invite(&acct, "dan@example.com", Role::Member).unwrap();
    let first = srv.outbox_token("dan@example.com");
    alice.invite(&acct, "dan@example.com", Role::Admin).unwrap();
    let second = srv.outbox_token("dan@example.com");
    let dans: Vec<_> =
        alice.client.invitations(&acct).unwrap().into_iter().filter(|i| i.email == "dan@example.com").collect();
    let mut statuses: Vec<(&str, &str)> = dans.iter().map(|i| (i.role.as_str(), i.status.as_str())).collect();
    statuses.sort();
    assert_eq!(statuses, [("admin", "pending"), ("member", "revoked")], "the newer one is open: {dans:?}");
    let dan = srv.user("dan@example.com");
    assert_eq!(dan.client.accept_invitation(&first).unwrap_err().code(), Some("invitation.invalid"));
    dan.client.accept_invitation(&second).unwrap();
    let open = alice.client.invitations(&acct).unwrap().into_iter().filter(|i| i.status == "pending").count();
    assert_eq!(open, 0);
    let e = alice.invite(&acct, "dan@example.com", Role::Member).unwrap_err();
    assert_eq!(e.code(), Some("invitation.already_member"));
}
