//! The account inbox: an admin's inbox key (endorsed in the log, its secret wrapped under the
//! master key), providers' tokens that may only deposit, records sealed by the provider, and
//! members who open and file them. The hostile-server cases (a swapped inbox key, a spliced
//! deposit, a bad wrap) play the server through the proxy and show the refusal and that
//! nothing harmful reached the server.

use vouchsafe_client::types::{CreateApiTokenRequest, PutDepositRequest, Scope};
use vouchsafe_client::vault::Vault;
use vouchsafe_client::{Client, ClientError, inbox};
use vouchsafe_crypto::inbox::Record;
use vouchsafe_crypto::log::{EntryBody, LogEntry, Role};
use zeroize::Zeroizing;

use crate::harness::TestServer;
use crate::hostile::user_via;
use crate::proxy::HostileProxy;

fn record(pairs: &[(&str, &str)]) -> Record {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), Zeroizing::new(v.as_bytes().to_vec()))).collect()
}

fn refused<T: std::fmt::Debug>(r: Result<T, ClientError>, status: u16, code: &str) {
    let e = r.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(status), Some(code)), "{e}");
}

/// A provider's token (`inbox:deposit`) and its id.
fn provider(admin: &Vault, acct: &str, name: &str) -> (String, String) {
    let req = CreateApiTokenRequest { name: name.into(), scopes: vec![Scope::InboxDeposit], expires_in_days: None };
    let t = admin.client.create_token(acct, &req).unwrap();
    (t.token.expose().to_owned(), t.info.id)
}

fn as_token(c: Client, secret: &str) -> Client {
    let mut c = c;
    c.set_access_token(Some(secret.to_owned()));
    c
}

/// alice (owner) and bob (member), both through `via`, with an inbox key; its code.
fn team_with_inbox(srv: &TestServer, via: &HostileProxy) -> (Vault, Vault, String, String) {
    let mut alice = user_via(srv, via, "alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let bob = user_via(srv, via, "bob@example.com");
    alice.invite(&acct, "bob@example.com", Role::Member).unwrap();
    bob.client.accept_invitation(&srv.outbox_token("bob@example.com")).unwrap();
    let code = bob.keyring.public().verification_code().to_string();
    alice.confirm(&acct, bob.user_id(), Role::Member, &code).unwrap();
    let key = alice.create_inbox_key(&acct).unwrap();
    assert_eq!(key.version, 1);
    let code = key.code(&acct).as_str().to_owned();
    (alice, bob, acct, code)
}

#[test]
fn a_provider_deposits_a_sealed_record_that_a_member_opens_and_files_as_an_item() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (alice, mut bob, acct, code) = team_with_inbox(&srv, &proxy);
    // bob sees the same code from his own verified log: the admin can read it to a provider.
    assert_eq!(bob.inbox_key(&acct).unwrap().unwrap().code(&acct).as_str(), code);
    let (secret, provider_id) = provider(&alice, &acct, "Credit bureau");
    let p = as_token(srv.client(), &secret);

    let rec = record(&[("name", "Jane Roe"), ("ssn", "078-05-1120"), ("score", "712")]);
    let receipt = inbox::deposit_record(&p, &acct, &code, "report-2026-0001", &rec).unwrap();
    assert_eq!((receipt.id.as_str(), receipt.provider_id.as_str()), ("report-2026-0001", provider_id.as_str()));

    // Nothing the provider sent is readable in the database.
    let rows = srv.query("SELECT provider_id, id, kind FROM deposits", 3);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0], [provider_id.clone(), "report-2026-0001".to_owned(), "record".to_owned()]);
    if !srv.db_url.starts_with("postgres") {
        let db = std::fs::read(srv.data_dir.join("test.db")).unwrap_or_default();
        let wal = std::fs::read(srv.data_dir.join("test.db-wal")).unwrap_or_default();
        for needle in ["Jane Roe", "078-05-1120"] {
            for bytes in [&db, &wal] {
                assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} in the database");
            }
        }
    }

    // bob lists, opens and files it; the item holds the fields, the inbox is empty.
    let page = bob.deposits(&acct, None, 100).unwrap();
    assert_eq!(page.deposits.len(), 1);
    let d = &page.deposits[0];
    assert_eq!((d.provider_name.as_str(), d.kind.as_str(), d.sealed_by_server), ("Credit bureau", "record", false));
    assert_eq!(bob.client.inbox(&acct).unwrap().deposit_count, 1);
    let (_, opened) = bob.open_deposit(&acct, &provider_id, "report-2026-0001").unwrap();
    assert_eq!(opened, rec);
    let item = bob.file_deposit(&acct, &provider_id, "report-2026-0001").unwrap();
    let got = bob.get_item(&acct, &item.id).unwrap();
    assert_eq!(got.fields.get("ssn").map(|v| v.as_slice()), Some(&b"078-05-1120"[..]));
    assert_eq!(bob.client.inbox(&acct).unwrap().deposit_count, 0);
    assert!(bob.deposits(&acct, None, 100).unwrap().deposits.is_empty());
    refused(bob.client.deposit(&acct, &provider_id, "report-2026-0001"), 404, "deposit.not_found");

    // The id stays taken: the same request again is answered (200), other content is a 409.
    let key = inbox::pinned_inbox_key(&p, &acct, &code).unwrap().0;
    let req = inbox::seal_record(&acct, &provider_id, "report-2026-0002", &key, &rec).unwrap();
    let first = p.put_deposit(&acct, "report-2026-0002", &req).unwrap();
    let again = p.raw(
        "PUT",
        &format!("/api/v1/accounts/{acct}/inbox/deposits/report-2026-0002"),
        Some(("application/json", &serde_json::to_string(&req).unwrap())),
        &[],
    );
    assert_eq!(again.unwrap().status, 200);
    assert_eq!(p.put_deposit(&acct, "report-2026-0002", &req).unwrap().created_at, first.created_at);
    refused(inbox::deposit_record(&p, &acct, &code, "report-2026-0002", &rec), 409, "deposit.conflict");
    refused(inbox::deposit_record(&p, &acct, &code, "report-2026-0001", &rec), 409, "deposit.conflict");

    // Every deposit is in the audit trail under the provider's name.
    let audit = alice.client.audit(&acct).unwrap();
    assert!(audit.iter().any(|a| a.action == "inbox.deposit" && a.actor_name.as_deref() == Some("Credit bureau")));
}

#[test]
fn a_provider_token_only_deposits_into_its_own_account() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, bob, acct, code) = team_with_inbox(&srv, &proxy);
    let (secret, provider_id) = provider(&alice, &acct, "Partner");
    let p = as_token(srv.client(), &secret);
    inbox::deposit_record(&p, &acct, &code, "d1", &record(&[("a", "1")])).unwrap();

    // It reads nothing: not the inbox, its deposits (its own included), items, the log or members.
    refused(p.inbox(&acct), 403, "auth.api_token_not_allowed");
    refused(p.deposits(&acct, None, 10), 403, "auth.api_token_not_allowed");
    refused(p.deposit(&acct, &provider_id, "d1"), 403, "auth.api_token_not_allowed");
    refused(p.file_deposit(&acct, &provider_id, "d1"), 403, "auth.api_token_not_allowed");
    refused(p.items(&acct, None, 10, None), 403, "auth.api_token_not_allowed");
    refused(p.log(&acct, None), 403, "auth.api_token_not_allowed");
    refused(p.sealed_keys(&acct), 403, "auth.api_token_not_allowed");
    refused(p.members(&acct), 403, "token.scope_missing");
    refused(p.invitations(&acct), 403, "token.scope_missing");

    // Another account is as if it did not exist, even one with an inbox.
    let other = alice.create_account("Other").unwrap().id;
    alice.create_inbox_key(&other).unwrap();
    refused(p.inbox_key(&other), 404, "account.not_found");
    let key = alice.inbox_key(&other).unwrap().unwrap();
    let req = inbox::seal_record(&other, &provider_id, "d2", &key, &record(&[("a", "1")])).unwrap();
    refused(p.put_deposit(&other, "d2", &req), 404, "account.not_found");

    // A person cannot deposit (only a provider's token), nor make a provider token with more.
    let req = inbox::seal_record(&acct, bob.user_id(), "d3", &key, &record(&[("a", "1")])).unwrap();
    refused(bob.client.put_deposit(&acct, "d3", &req), 403, "auth.api_token_required");
    let both = CreateApiTokenRequest {
        name: "both".into(),
        scopes: vec![Scope::InboxDeposit, Scope::MembersRead],
        expires_in_days: None,
    };
    refused(alice.client.create_token(&acct, &both), 400, "token.provider_scopes");

    // Revoked: refused at once.
    alice.client.revoke_token(&acct, &provider_id).unwrap();
    refused(inbox::deposit_record(&p, &acct, &code, "d4", &record(&[("a", "1")])), 401, "auth.token_revoked");
    // The deposit made before stays for the members, under the provider's name.
    assert_eq!(bob.deposits(&acct, None, 10).unwrap().deposits[0].provider_name, "Partner");
}

#[test]
fn deposits_are_checked_before_they_are_stored() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (alice, _bob, acct, code) = team_with_inbox(&srv, &proxy);
    let (secret, provider_id) = provider(&alice, &acct, "Partner");
    let p = as_token(srv.client(), &secret);
    let key = inbox::pinned_inbox_key(&p, &acct, &code).unwrap().0;
    let good = inbox::seal_record(&acct, &provider_id, "d1", &key, &record(&[("a", "1")])).unwrap();
    let put = |id: &str, body: &str| {
        p.raw("PUT", &format!("/api/v1/accounts/{acct}/inbox/deposits/{id}"), Some(("application/json", body)), &[])
            .unwrap()
    };
    let with = |f: &dyn Fn(&mut PutDepositRequest)| {
        let mut r = good.clone();
        f(&mut r);
        serde_json::to_string(&r).unwrap()
    };
    let code_of = |r: &vouchsafe_client::RawResponse| {
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["error"]["code"].as_str().unwrap_or("").to_owned()
    };
    let signed_suite = |r: &mut PutDepositRequest| {
        let mut s = vouchsafe_crypto::b64::decode(&r.seal, 200).unwrap();
        s[0] = 0x01;
        r.seal = vouchsafe_crypto::b64::encode(&s);
    };
    let cases: Vec<(String, u16, &str)> = vec![
        (with(&signed_suite), 400, "deposit.bad_seal"),
        (with(&|r| r.seal = "!!".into()), 400, "deposit.bad_seal"),
        (with(&|r| r.body = "not base64!".into()), 400, "deposit.bad_body"),
        (with(&|r| r.body = vouchsafe_crypto::b64::encode(&[2u8; 64])), 400, "deposit.bad_body"),
        (with(&|r| r.inbox_version = 7), 400, "deposit.unknown_inbox_key"),
        (with(&|r| r.kind = "file".into()), 400, "deposit.invalid_kind"),
        (r#"{"kind":"record"}"#.to_owned(), 400, "request.invalid_json"),
        (
            format!(r#"{{"kind":"record","inbox_version":1,"seal":"","body":"{}"}}"#, "A".repeat(300_000)),
            413,
            "request.too_large",
        ),
    ];
    for (body, status, code) in &cases {
        let r = put("d1", body);
        assert_eq!((r.status, code_of(&r).as_str()), (*status, *code), "{}", &body[..body.len().min(120)]);
    }
    let r = put("bad.id", &serde_json::to_string(&good).unwrap());
    assert_eq!((r.status, code_of(&r).as_str()), (400, "deposit.invalid_id"));
    // Nothing was stored; the good one then goes in.
    assert!(srv.query("SELECT id FROM deposits", 1).is_empty());
    assert_eq!(put("d1", &serde_json::to_string(&good).unwrap()).status, 201);
}

#[test]
fn an_inbox_key_needs_its_wrap_and_a_rotation_rewraps_it() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, mut bob, acct, code) = team_with_inbox(&srv, &proxy);
    let (secret, provider_id) = provider(&alice, &acct, "Partner");
    let p = as_token(srv.client(), &secret);
    inbox::deposit_record(&p, &acct, &code, "before", &record(&[("a", "1")])).unwrap();

    // An inbox_key entry without its wrap is refused: nobody could open what goes to it.
    let (_, state) = alice.verified_log(&acct).unwrap();
    let (_, key2) = vouchsafe_crypto::inbox::generate(2, &mut vouchsafe_crypto::os_rng()).unwrap();
    let e = LogEntry::create(
        &acct,
        Some(state.head()),
        &alice.keyring,
        state.last_timestamp() + 1,
        EntryBody::InboxKey { inbox_version: 2, public_key: key2.public },
    )
    .unwrap();
    let req = vouchsafe_client::types::AppendRequest {
        entries: vec![vouchsafe_crypto::b64::encode(&e.to_bytes())],
        sealed_keys: vec![],
        inbox_wraps: vec![],
    };
    refused(alice.client.append(&acct, &req), 400, "inbox.wrap_missing");

    // A rotation wraps the inbox secret under the new key version and drops the older wrap.
    let report = alice.rotate(&acct, true, 100, |_, _| {}).unwrap();
    assert_eq!(report.key_version, 2);
    let wraps: Vec<(u32, u32)> =
        bob.client.inbox(&acct).unwrap().wraps.iter().map(|w| (w.inbox_version, w.key_version)).collect();
    assert_eq!(wraps, vec![(1, 2)]);
    inbox::deposit_record(&p, &acct, &code, "after", &record(&[("b", "2")])).unwrap();
    for (id, field) in [("before", "a"), ("after", "b")] {
        assert!(bob.open_deposit(&acct, &provider_id, id).unwrap().1.contains_key(field));
    }

    // A new inbox key: providers pinned to the old code are refused until given the new one.
    let key = alice.create_inbox_key(&acct).unwrap();
    assert_eq!(key.version, 2);
    let e = inbox::deposit_record(&p, &acct, &code, "stale", &record(&[("c", "3")])).unwrap_err();
    assert!(e.to_string().contains("not the one you pinned"), "{e}");
    inbox::deposit_record(&p, &acct, key.code(&acct).as_str(), "fresh", &record(&[("c", "3")])).unwrap();
    assert!(bob.open_deposit(&acct, &provider_id, "fresh").unwrap().1.contains_key("c"));
}

#[test]
fn hostile_server_a_provider_pinned_to_the_code_refuses_a_swapped_inbox_key_and_sends_nothing() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (alice, _bob, acct, code) = team_with_inbox(&srv, &proxy);
    let (secret, _) = provider(&alice, &acct, "Partner");
    let p = as_token(proxy.client(), &secret);
    // The server serves a key it holds the secret of.
    let (_, evil) = vouchsafe_crypto::inbox::generate(1, &mut vouchsafe_crypto::os_rng()).unwrap();
    let evil_pk = vouchsafe_crypto::b64::encode(&evil.public);
    proxy.on("GET", "/inbox/key".into(), move |_, ans| {
        let mut v = ans.json();
        v["public_key"] = serde_json::json!(evil_pk);
        ans.set_json(&v);
    });
    proxy.clear_seen();
    let e = inbox::deposit_record(&p, &acct, &code, "d1", &record(&[("ssn", "078-05-1120")])).unwrap_err();
    assert!(e.to_string().contains("not the one you pinned"), "{e}");
    assert!(!proxy.reached("PUT", "/inbox/deposits/"), "nothing was deposited");
    assert!(proxy.seen().iter().all(|s| !s.body.contains("078-05-1120")));
    // Another version number with the same key is another code too.
    proxy.honest();
    proxy.on("GET", "/inbox/key".into(), |_, ans| {
        let mut v = ans.json();
        v["inbox_version"] = serde_json::json!(2);
        ans.set_json(&v);
    });
    assert!(inbox::deposit_record(&p, &acct, &code, "d1", &record(&[("a", "1")])).is_err());
    assert!(!proxy.reached("PUT", "/inbox/deposits/"));
}

#[test]
fn hostile_server_a_spliced_deposit_or_a_forged_wrap_is_refused_and_nothing_is_filed() {
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (alice, mut bob, acct, code) = team_with_inbox(&srv, &proxy);
    let (secret, provider_id) = provider(&alice, &acct, "Partner");
    let p = as_token(srv.client(), &secret);
    inbox::deposit_record(&p, &acct, &code, "jane", &record(&[("name", "Jane")])).unwrap();
    inbox::deposit_record(&p, &acct, &code, "john", &record(&[("name", "John")])).unwrap();

    // The server answers "jane" with john's seal and body: the AAD binds the id.
    let john = bob.client.deposit(&acct, &provider_id, "john").unwrap();
    proxy.on("GET", "/inbox/deposits/".to_owned() + &provider_id + "/jane", move |_, ans| {
        let mut v = ans.json();
        v["seal"] = serde_json::json!(john.seal);
        v["body"] = serde_json::json!(john.body);
        ans.set_json(&v);
    });
    proxy.clear_seen();
    assert!(bob.open_deposit(&acct, &provider_id, "jane").is_err());
    assert!(bob.file_deposit(&acct, &provider_id, "jane").is_err());
    assert!(!proxy.reached("PUT", "/items/"), "nothing was filed");
    assert!(!proxy.reached("DELETE", "/inbox/deposits/"), "nothing was taken out of the inbox");

    // The server lists another inbox key and a wrap it made of its own secret: the client
    // takes the key from the verified log, and the forged wrap does not open under the master key.
    proxy.honest();
    let (evil_secret, evil) = vouchsafe_crypto::inbox::generate(1, &mut vouchsafe_crypto::os_rng()).unwrap();
    let fake_mk = vouchsafe_crypto::seal::MasterKey::generate(1, &mut vouchsafe_crypto::os_rng()).unwrap();
    let forged =
        vouchsafe_crypto::inbox::wrap(&evil_secret, &evil, &acct, &fake_mk, &mut vouchsafe_crypto::os_rng()).unwrap();
    let (evil_pk, forged) = (vouchsafe_crypto::b64::encode(&evil.public), vouchsafe_crypto::b64::encode(&forged));
    let served_pk = evil_pk.clone();
    proxy.on("GET", "/inbox".into(), move |_, ans| {
        let mut v = ans.json();
        v["inbox_keys"][0]["public_key"] = serde_json::json!(evil_pk);
        v["wraps"][0]["blob"] = serde_json::json!(forged);
        ans.set_json(&v);
    });
    // The key the server serves providers is its own too: the code a member reads out to a
    // provider still comes from the verified log.
    proxy.on("GET", "/inbox/key".into(), move |_, ans| {
        let mut v = ans.json();
        v["public_key"] = serde_json::json!(served_pk);
        ans.set_json(&v);
    });
    assert_eq!(bob.inbox_key(&acct).unwrap().unwrap().code(&acct).as_str(), code);
    assert_ne!(evil.code(&acct).as_str(), code);
    let e = bob.open_deposit(&acct, &provider_id, "jane").unwrap_err();
    assert!(e.to_string().contains("does not open to the key the log endorses"), "{e}");
    assert!(!proxy.reached("PUT", "/items/") && !proxy.reached("DELETE", "/inbox/deposits/"));
    proxy.honest();
    assert_eq!(bob.open_deposit(&acct, &provider_id, "jane").unwrap().1, record(&[("name", "Jane")]));
}

#[test]
fn a_granted_worker_imports_the_inbox_and_a_read_only_one_cannot() {
    use vouchsafe_client::worker::{Worker, WorkerKey};
    use vouchsafe_crypto::log::WorkerAccess;
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (mut alice, mut bob, acct, code) = team_with_inbox(&srv, &proxy);
    let (secret, provider_id) = provider(&alice, &acct, "Partner");
    let p = as_token(srv.client(), &secret);
    for i in 0..3 {
        let rec = record(&[("name", &format!("customer {i}")), ("iban", &format!("DE00 0000 {i}"))]);
        inbox::deposit_record(&p, &acct, &code, &format!("c{i}"), &rec).unwrap();
    }

    // A read-only worker opens deposits but files none (its item write is refused first).
    let key = WorkerKey::generate().unwrap();
    let public = key.public();
    alice
        .grant_worker(&acct, "reader", &public, WorkerAccess::Read, &public.verification_code().to_string(), &[])
        .unwrap();
    let mut reader = Worker::connect(&srv.url, key).unwrap();
    refused(reader.import_inbox(&mut |_| {}), 403, "worker.read_only");
    assert_eq!(bob.client.inbox(&acct).unwrap().deposit_count, 3);

    // A read-write worker files all three; each read is in the audit trail.
    let key = WorkerKey::generate().unwrap();
    let public = key.public();
    let worker_id = key.worker_id().to_owned();
    alice
        .grant_worker(&acct, "importer", &public, WorkerAccess::ReadWrite, &public.verification_code().to_string(), &[])
        .unwrap();
    let mut w = Worker::connect(&srv.url, key).unwrap();
    let mut seen = 0;
    let report = w.import_inbox(&mut |n| seen = n).unwrap();
    assert_eq!((report.items.len(), report.left.len(), seen), (3, 0, 3));
    assert_eq!(bob.client.inbox(&acct).unwrap().deposit_count, 0);
    let mut names: Vec<String> = report
        .items
        .iter()
        .map(|id| String::from_utf8(bob.get_item(&acct, id).unwrap().fields["name"].to_vec()).unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["customer 0", "customer 1", "customer 2"]);
    let audit = alice.client.audit(&acct).unwrap();
    assert_eq!(audit.iter().filter(|a| a.actor_id == worker_id && a.action == "inbox.read").count(), 3);
    // Filed deposits stay filed: the provider's retry is answered, not stored again.
    refused(bob.client.deposit(&acct, &provider_id, "c0"), 404, "deposit.not_found");
}

#[test]
fn a_plaintext_provider_is_sealed_on_arrival_and_nothing_of_it_is_kept_in_clear() {
    use vouchsafe_client::types::{PlaintextDepositRequest, Secret};
    let srv = TestServer::start();
    let proxy = HostileProxy::start(&srv.url);
    let (alice, mut bob, acct, _) = team_with_inbox(&srv, &proxy);
    let (sealing, _) = provider(&alice, &acct, "Sealing partner");
    let req = CreateApiTokenRequest {
        name: "Legacy webhook".into(),
        scopes: vec![Scope::InboxDeposit, Scope::InboxPlaintext],
        expires_in_days: None,
    };
    let t = alice.client.create_token(&acct, &req).unwrap();
    let (plain, plain_id) = (as_token(srv.client(), t.token.expose()), t.info.id);
    let fields = |v: &str| PlaintextDepositRequest {
        fields: [("name".to_owned(), Secret::from("Ada Lovelace")), ("passport".to_owned(), Secret::from(v))]
            .into_iter()
            .collect(),
    };
    // Only with the opt-in scope; plaintext scope only beside inbox:deposit.
    refused(
        as_token(srv.client(), &sealing).put_plaintext_deposit(&acct, "p1", &fields("X")),
        403,
        "token.scope_missing",
    );
    let alone = CreateApiTokenRequest { name: "n".into(), scopes: vec![Scope::InboxPlaintext], expires_in_days: None };
    refused(alice.client.create_token(&acct, &alone), 400, "token.provider_scopes");
    refused(bob.client.put_plaintext_deposit(&acct, "p1", &fields("X")), 403, "auth.api_token_required");

    let secret_value = "P<UTOPIA-C01X00T47";
    plain.put_plaintext_deposit(&acct, "p1", &fields(secret_value)).unwrap();
    refused(plain.put_plaintext_deposit(&acct, "p1", &fields(secret_value)), 409, "deposit.conflict");
    let bad = PlaintextDepositRequest { fields: Default::default() };
    refused(plain.put_plaintext_deposit(&acct, "p2", &bad), 400, "deposit.invalid_record");

    // Members open it like any other, marked as seen by the server in transit.
    let listed = bob.deposits(&acct, None, 10).unwrap().deposits;
    assert!(listed[0].sealed_by_server && listed[0].provider_name == "Legacy webhook");
    let (_, opened) = bob.open_deposit(&acct, &plain_id, "p1").unwrap();
    assert_eq!(opened.get("passport").map(|v| v.as_slice()), Some(secret_value.as_bytes()));

    // Nothing of it in clear anywhere in the data folder (database, WAL, outbox, key files).
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() { files(&p, out) } else { out.push(p) }
        }
    }
    let mut all = Vec::new();
    files(&srv.data_dir, &mut all);
    assert!(!all.is_empty());
    for f in all {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for needle in [secret_value, "Ada Lovelace"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} in {}", f.display());
        }
    }
}
