//! Operators' `vouchsafe admin`, run as the real binary on the server's database and data
//! folder while the server runs: no key power, effects at once, every action on record.

use std::process::Command;

use vouchsafe_crypto::log::Role;

use crate::harness::TestServer;

/// Runs `vouchsafe admin ARGS` against the test server's database and data folder.
fn admin(srv: &TestServer, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vouchsafe"))
        .arg("admin")
        .args(args)
        .env("VOUCHSAFE_DATA_DIR", &srv.data_dir)
        .env("VOUCHSAFE_DATABASE_URL", &srv.db_url)
        .env("VOUCHSAFE_ARGON2_CONCURRENCY", "1")
        .env_remove("DATABASE_URL")
        .env("USER", "ops-alice")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn operators_list_disable_resend_and_delete_on_the_record() {
    // The binary stamps with the system clock; so does this server.
    let srv = TestServer::start_real_time();
    let mut alice = srv.user("alice@example.com");
    let acct = alice.create_account("Acme support").unwrap().id;
    let bob = srv.user("bob@example.com");

    // Listing: users with their counts, accounts with theirs; nothing secret is printed.
    let (ok, users) = admin(&srv, &["users"]);
    assert!(ok, "{users}");
    assert!(users.contains("alice@example.com") && users.contains("bob@example.com"), "{users}");
    let alice_row = users.lines().find(|l| l.contains("alice@example.com")).unwrap().to_owned();
    assert!(alice_row.split_whitespace().nth(2) == Some("1") && alice_row.ends_with("active"), "{alice_row}");
    let (ok, accounts) = admin(&srv, &["accounts"]);
    assert!(ok && accounts.contains(&acct) && accounts.contains("Acme support"), "{accounts}");

    // Disabling ends bob's sessions at once and refuses his next sign-in (after the password).
    bob.client.me().unwrap();
    let (ok, out) = admin(&srv, &["disable-user", "bob@example.com"]);
    assert!(ok, "{out}");
    assert_eq!(bob.client.me().unwrap_err().status(), Some(401));
    let mut c = srv.client();
    let e = vouchsafe_client::flows::login(&mut c, "bob@example.com", "correct horse battery").unwrap_err();
    assert_eq!(e.code(), Some("auth.user_disabled"));
    let mut c = srv.client();
    let e = vouchsafe_client::flows::login(&mut c, "bob@example.com", "wrong password").unwrap_err();
    assert_eq!(e.code(), Some("auth.invalid_credentials"), "a wrong password learns nothing");
    let (_, users) = admin(&srv, &["users"]);
    assert!(users.lines().any(|l| l.contains("bob@example.com") && l.contains("disabled")), "{users}");
    let (ok, out) = admin(&srv, &["enable-user", bob.user_id()]);
    assert!(ok, "{out}");
    let mut c = srv.client();
    vouchsafe_client::flows::login(&mut c, "bob@example.com", "correct horse battery").unwrap();

    // Resending an invitation: a new link works, the old one no longer does.
    let inv = alice.invite(&acct, "carol@example.com", Role::Member).unwrap();
    let old = srv.outbox_token("carol@example.com");
    let (ok, out) = admin(&srv, &["resend-invitation", &inv.id]);
    assert!(ok && out.contains("carol@example.com"), "{out}");
    // The server's clock is a test clock set at start: bring it up to the binary's.
    srv.clock.advance(5);
    let new = srv.outbox_token("carol@example.com");
    assert_ne!(old, new);
    let carol = srv.user("carol@example.com");
    assert_eq!(carol.client.accept_invitation(&old).unwrap_err().status(), Some(404));
    assert_eq!(carol.client.accept_invitation(&new).unwrap().account_id, acct);
    let (ok, out) = admin(&srv, &["resend-invitation", &inv.id]);
    assert!(!ok && out.contains("no such pending invitation"), "an accepted invitation is not resent: {out}");

    // A member is not deleted (the team removes them with a signed entry first); an account
    // with items is not deleted; an empty one and a user of no account are.
    let (ok, out) = admin(&srv, &["delete-user", "carol@example.com"]);
    assert!(!ok && out.contains(&acct), "{out}");
    alice.create_item(&acct, &[("name".to_owned(), b"Jane".to_vec())].into_iter().collect()).unwrap();
    let (ok, out) = admin(&srv, &["delete-account", &acct]);
    assert!(!ok && out.contains("1 item"), "{out}");
    let empty = alice.create_account("Empty team").unwrap().id;
    let (ok, out) = admin(&srv, &["delete-account", &empty]);
    assert!(ok, "{out}");
    assert_eq!(alice.client.account(&empty).unwrap_err().status(), Some(404));
    let (ok, out) = admin(&srv, &["delete-user", "bob@example.com"]);
    assert!(ok, "{out}");
    let mut c = srv.client();
    let e = vouchsafe_client::flows::login(&mut c, "bob@example.com", "correct horse battery").unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(srv.query(&format!("SELECT id FROM sessions WHERE user_id = '{}'", bob.user_id()), 1).is_empty());

    // Everything is on the operator trail, with who ran it; the account's admins see what
    // concerned their account.
    let (ok, events) = admin(&srv, &["events"]);
    assert!(ok, "{events}");
    for action in ["user.disabled", "user.enabled", "invitation.resent", "account.deleted", "user.deleted"] {
        assert!(events.lines().any(|l| l.contains(action) && l.contains("ops-alice")), "{action}: {events}");
    }
    let audit = alice.client.audit(&acct).unwrap();
    assert!(audit.iter().any(|e| e.actor_kind == "operator" && e.action == "operator.invitation_resent"));

    // Without the server's data folder the tool refuses rather than make keys of its own.
    let out = Command::new(env!("CARGO_BIN_EXE_vouchsafe"))
        .args(["admin", "users"])
        .env("VOUCHSAFE_DATA_DIR", srv.data_dir.join("elsewhere"))
        .env("VOUCHSAFE_DATABASE_URL", &srv.db_url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("outbox.key"));
}
