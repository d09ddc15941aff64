//! Second factors over HTTP: authenticator apps (TOTP) at login, recovery codes, removal after
//! a fresh check, the lockout, what is stored, and the interplay with a password reset and a
//! kit recovery. The server's manual clock drives the 30-second steps.

use vouchsafe::totp;
use vouchsafe_client::flows::{self, LoginStep};
use vouchsafe_client::types::{FactorAtRecovery, SecondFactorProof, Secret, TotpEnrolment};
use vouchsafe_client::vault::Vault;
use vouchsafe_client::{Client, ClientError};

use crate::harness::{TestServer, fast_kdf};

const PW: &str = "correct horse battery";

fn now(srv: &TestServer) -> i64 {
    vouchsafe::state::Clock::now(&*srv.clock)
}

fn secret_of(e: &TotpEnrolment) -> Vec<u8> {
    totp::base32_decode(e.secret.expose()).unwrap()
}

/// The app's code now.
fn app_code(srv: &TestServer, secret: &[u8]) -> String {
    totp::code(secret, totp::step(now(srv)))
}

fn by_app(code: &str) -> SecondFactorProof {
    SecondFactorProof { totp: Some(code.into()), recovery_code: None, webauthn: None }
}

fn by_code(code: &str) -> SecondFactorProof {
    SecondFactorProof { totp: None, recovery_code: Some(code.into()), webauthn: None }
}

/// Enrols and confirms an authenticator app for `who`; its secret and the recovery codes.
fn enrol(srv: &TestServer, who: &Vault, email: &str) -> (Vec<u8>, Vec<Secret>) {
    let e = flows::enrol_totp(&who.client, email, PW, Some("Phone")).unwrap();
    let secret = secret_of(&e);
    let done = who.client.confirm_factor(&e.id, &app_code(srv, &secret)).unwrap();
    // A code is good once: the next login must wait for the next step.
    srv.clock.advance(totp::PERIOD);
    (secret, done.recovery_codes)
}

fn pending(srv: &TestServer, email: &str, password: &str) -> (Client, flows::PendingLogin) {
    let mut c = srv.client();
    match flows::begin_login(&mut c, email, password).unwrap() {
        LoginStep::SecondFactor(p) => (c, p),
        LoginStep::Done(_) => panic!("signed in without the second factor"),
    }
}

fn code_of(e: &ClientError) -> Option<&str> {
    e.code()
}

#[test]
fn an_authenticator_app_guards_the_login_and_each_code_works_once() {
    let srv = TestServer::start_smtp();
    let alice = srv.user("alice@example.com");
    // Enrolment asks for the password again.
    let wrong = flows::enrol_totp(&alice.client, "alice@example.com", "not the password", None).unwrap_err();
    assert_eq!(code_of(&wrong), Some("auth.wrong_password"));
    let e = flows::enrol_totp(&alice.client, "alice@example.com", PW, Some("Phone")).unwrap();
    assert!(e.otpauth_uri.expose().starts_with("otpauth://totp/Vouchsafe:alice%40example.com?secret="));
    let secret = secret_of(&e);
    assert_eq!(secret.len(), totp::SECRET_LEN);
    // Until confirmed it is no factor: the password alone still signs in.
    assert!(flows::login(&mut srv.client(), "alice@example.com", PW).is_ok());
    let bad = alice.client.confirm_factor(&e.id, "000000").unwrap_err();
    assert_eq!((bad.status(), code_of(&bad)), (Some(403), Some("auth.second_factor_wrong")));
    let done = alice.client.confirm_factor(&e.id, &app_code(&srv, &secret)).unwrap();
    assert_eq!(done.recovery_codes.len(), 10);
    assert!(srv.outbox_mail("alice@example.com").contains("was added as a second factor"));

    // Stored sealed: neither the secret nor a recovery code is in the database.
    let stored = if srv.db_url.starts_with("postgres") {
        srv.query("SELECT encode(secret, 'hex') FROM second_factors", 1)
    } else {
        srv.query("SELECT lower(hex(secret)) FROM second_factors", 1)
    };
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0][0].contains(&hex) && stored[0][0].len() > hex.len() + 32, "sealed, not in clear");
    let dump = srv.query("SELECT user_id FROM recovery_codes", 1);
    assert_eq!(dump.len(), 10);
    if !srv.db_url.starts_with("postgres") {
        let mut bytes = std::fs::read(srv.data_dir.join("test.db")).unwrap();
        bytes.extend(std::fs::read(srv.data_dir.join("test.db-wal")).unwrap_or_default());
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(e.secret.expose()) && !text.contains(&done.recovery_codes[0].expose()[..5]));
    }

    // The password alone no longer signs in: no token, no keyring before the factor.
    let e2 = flows::login(&mut srv.client(), "alice@example.com", PW).unwrap_err();
    assert!(matches!(e2, ClientError::SecondFactorRequired { .. }), "{e2}");
    let raw = srv
        .client()
        .raw("POST", "/api/v1/auth/login", Some(("application/json", &login_body(&srv, "alice@example.com", PW))), &[])
        .unwrap();
    assert_eq!(raw.status, 200);
    assert!(!raw.body.contains("access_token") && !raw.body.contains("wrapped_keyring"), "{}", raw.body);
    assert!(raw.body.contains("\"methods\":[\"totp\",\"recovery_code\"]"), "{}", raw.body);

    // The confirming code was used already (same step); the next step's works once.
    srv.clock.advance(totp::PERIOD);
    let (mut c, p) = pending(&srv, "alice@example.com", PW);
    let wrong = p.finish(&mut c, &by_app("123456")).unwrap_err();
    assert_eq!((wrong.status(), code_of(&wrong)), (Some(403), Some("auth.second_factor_wrong")));
    let code = app_code(&srv, &secret);
    let s = p.finish(&mut c, &by_app(&code)).unwrap();
    assert_eq!(s.keyring.public(), alice.keyring.public());
    // The challenge is spent, and the code too (another login in the same step).
    assert_eq!(code_of(&p.finish(&mut c, &by_app(&code)).unwrap_err()), Some("auth.challenge_invalid"));
    let (mut c2, p2) = pending(&srv, "alice@example.com", PW);
    assert_eq!(code_of(&p2.finish(&mut c2, &by_app(&code)).unwrap_err()), Some("auth.second_factor_wrong"));
    // A code from two steps ago is too old; the previous step's still counts (clock drift),
    // unless a newer or the same step was used already.
    srv.clock.advance(totp::PERIOD);
    let old = totp::code(&secret, totp::step(now(&srv)) - 2);
    assert_eq!(code_of(&p2.finish(&mut c2, &by_app(&old)).unwrap_err()), Some("auth.second_factor_wrong"));
    let used = totp::code(&secret, totp::step(now(&srv)) - 1);
    assert_eq!(used, code);
    assert_eq!(code_of(&p2.finish(&mut c2, &by_app(&used)).unwrap_err()), Some("auth.second_factor_wrong"));
    srv.clock.advance(totp::PERIOD);
    let (mut c3, p3) = pending(&srv, "alice@example.com", PW);
    let previous = totp::code(&secret, totp::step(now(&srv)) - 1);
    assert!(p3.finish(&mut c3, &by_app(&previous)).is_ok());
    // A challenge lives five minutes.
    srv.clock.advance(totp::PERIOD);
    let (mut c4, p4) = pending(&srv, "alice@example.com", PW);
    srv.clock.advance(vouchsafe::service::mfa::CHALLENGE_TTL + 1);
    let late = p4.finish(&mut c4, &by_app(&app_code(&srv, &secret))).unwrap_err();
    assert_eq!((late.status(), code_of(&late)), (Some(401), Some("auth.challenge_invalid")));
    // Malformed answers: both factors, none, a made-up challenge.
    let (mut c5, p5) = pending(&srv, "alice@example.com", PW);
    let both =
        SecondFactorProof { totp: Some("123456".into()), recovery_code: Some("abcde-fghij".into()), webauthn: None };
    assert_eq!(code_of(&p5.finish(&mut c5, &both).unwrap_err()), Some("auth.second_factor_missing"));
    assert_eq!(
        code_of(&p5.finish(&mut c5, &SecondFactorProof::default()).unwrap_err()),
        Some("auth.second_factor_missing")
    );
    let forged = vouchsafe_client::types::SecondFactorLoginRequest {
        challenge: "x".repeat(43).into(),
        second_factor: by_app("123456"),
    };
    assert_eq!(code_of(&srv.client().login_second_factor(&forged).unwrap_err()), Some("auth.challenge_invalid"));
}

fn login_body(srv: &TestServer, email: &str, password: &str) -> String {
    let pre = srv.client().prelogin(email).unwrap();
    let salt = vouchsafe_crypto::kdf::Salt::try_from_slice(&vouchsafe_crypto::b64::decode(&pre.kdf_salt, 16).unwrap())
        .unwrap();
    let keys = vouchsafe_crypto::kdf::derive_password_keys(password.as_bytes(), &salt, &pre.kdf_params).unwrap();
    let key = vouchsafe_crypto::b64::encode(keys.auth_key.expose_secret());
    format!(r#"{{"email":"{email}","auth_key":"{key}"}}"#)
}

#[test]
fn wrong_codes_lock_the_second_factor_for_the_window() {
    let srv = TestServer::start();
    let bob = srv.user("bob@example.com");
    let (secret, _) = enrol(&srv, &bob, "bob@example.com");
    // Five wrong codes, over several challenges (each dies after three).
    for i in 0..5 {
        let (mut c, p) = pending(&srv, "bob@example.com", PW);
        let e = p.finish(&mut c, &by_app(&format!("{:06}", 111_111 * (i % 9 + 1) % 1_000_000))).unwrap_err();
        assert_eq!(code_of(&e), Some("auth.second_factor_wrong"), "attempt {i}");
    }
    // Now even the right code is refused until the window ends.
    let (mut c, p) = pending(&srv, "bob@example.com", PW);
    let e = p.finish(&mut c, &by_app(&app_code(&srv, &secret))).unwrap_err();
    assert_eq!(e.status(), Some(429), "{e}");
    srv.clock.advance(900);
    let (mut c, p) = pending(&srv, "bob@example.com", PW);
    assert!(p.finish(&mut c, &by_app(&app_code(&srv, &secret))).is_ok());
    // A challenge takes three wrong answers, then is dead even for the right one.
    srv.clock.advance(totp::PERIOD);
    let (mut c, p) = pending(&srv, "bob@example.com", PW);
    for _ in 0..3 {
        assert_eq!(code_of(&p.finish(&mut c, &by_app("000000")).unwrap_err()), Some("auth.second_factor_wrong"));
    }
    assert_eq!(
        code_of(&p.finish(&mut c, &by_app(&app_code(&srv, &secret))).unwrap_err()),
        Some("auth.challenge_invalid")
    );
}

#[test]
fn recovery_codes_work_once_and_removal_needs_a_fresh_check() {
    let srv = TestServer::start_smtp();
    let carol = srv.user("carol@example.com");
    let (secret, codes) = enrol(&srv, &carol, "carol@example.com");
    let _ = srv.outbox_mail("carol@example.com");
    // A recovery code signs in once (typed in capitals and without the dash, too).
    let typed = codes[0].expose().replace('-', "").to_uppercase();
    let (mut c, p) = pending(&srv, "carol@example.com", PW);
    let s = p.finish(&mut c, &by_code(&typed)).unwrap();
    assert!(srv.outbox_mail("carol@example.com").contains("9 left"));
    let (mut c2, p2) = pending(&srv, "carol@example.com", PW);
    assert_eq!(
        code_of(&p2.finish(&mut c2, &by_code(codes[0].expose())).unwrap_err()),
        Some("auth.second_factor_wrong")
    );
    let me = srv.vault(c, s);
    let list = me.client.second_factors().unwrap();
    assert_eq!((list.factors.len(), list.recovery_codes_left), (1, 9));
    assert_eq!((list.factors[0].kind.as_str(), list.factors[0].name.as_str()), ("totp", "Phone"));
    let id = list.factors[0].id.clone();
    me.client.rename_factor(&id, "Work phone").unwrap();
    assert_eq!(code_of(&me.client.rename_factor(&id, "").unwrap_err()), Some("auth.invalid_factor_name"));
    assert_eq!(me.client.second_factors().unwrap().factors[0].name, "Work phone");

    // New codes need a fresh check; the old ones stop working.
    let fresh = me.client.new_recovery_codes(&by_code(codes[1].expose())).unwrap().recovery_codes;
    assert_eq!(fresh.len(), 10);
    let (mut c3, p3) = pending(&srv, "carol@example.com", PW);
    assert_eq!(
        code_of(&p3.finish(&mut c3, &by_code(codes[2].expose())).unwrap_err()),
        Some("auth.second_factor_wrong")
    );

    // Removal: no check → 400, a wrong one → 403, nothing removed; the app's code → removed.
    assert_eq!(
        code_of(&me.client.remove_factor(&id, &SecondFactorProof::default()).unwrap_err()),
        Some("auth.second_factor_missing")
    );
    assert_eq!(
        code_of(&me.client.remove_factor(&id, &by_app("000000")).unwrap_err()),
        Some("auth.second_factor_wrong")
    );
    assert_eq!(me.client.second_factors().unwrap().factors.len(), 1);
    assert_eq!(me.client.remove_factor("AAAAAAAAAAAAAAAAAAAAAA", &by_app("000000")).unwrap_err().status(), Some(404));
    srv.clock.advance(totp::PERIOD);
    me.client.remove_factor(&id, &by_app(&app_code(&srv, &secret))).unwrap();
    let mail =
        (0..4).map(|_| srv.outbox_mail("carol@example.com")).find(|m| m.contains("was removed")).unwrap_or_default();
    assert!(mail.contains("last second factor"), "{mail}");
    let list = me.client.second_factors().unwrap();
    assert_eq!((list.factors.len(), list.recovery_codes_left), (0, 0));
    assert!(flows::login(&mut srv.client(), "carol@example.com", PW).is_ok());
}

#[test]
fn a_reset_asks_for_the_second_factor_and_a_lost_one_is_removed() {
    let srv = TestServer::start_smtp();
    let dan = srv.user("dan@example.com");
    let (secret, codes) = enrol(&srv, &dan, "dan@example.com");
    drop(dan);
    let at = |srv: &TestServer| u64::try_from(now(srv)).unwrap();
    srv.client().reset_request("dan@example.com").unwrap();
    let token = srv.outbox_token("dan@example.com");
    assert!(srv.client().reset_begin(&token).unwrap().second_factor);
    // Without the factor (or the word that it is lost), nothing changes and the link stays good.
    let e = flows::reset_with_token(&srv.client(), &token, "a new long password", fast_kdf(), at(&srv)).unwrap_err();
    assert_eq!((e.status(), code_of(&e)), (Some(400), Some("auth.second_factor_required")));
    let wrong = FactorAtRecovery::Proof(by_app("000000"));
    let e =
        flows::reset_with_token_and_factor(&srv.client(), &token, "a new long password", fast_kdf(), at(&srv), &wrong)
            .unwrap_err();
    assert_eq!(code_of(&e), Some("auth.second_factor_wrong"));
    assert!(flows::login(&mut srv.client(), "dan@example.com", PW).is_err(), "the old password needs the factor still");
    // With the app's code: reset, and the factor stays.
    let right = FactorAtRecovery::Proof(by_app(&app_code(&srv, &secret)));
    flows::reset_with_token_and_factor(&srv.client(), &token, "a new long password", fast_kdf(), at(&srv), &right)
        .unwrap();
    let e = flows::login(&mut srv.client(), "dan@example.com", "a new long password").unwrap_err();
    assert!(matches!(e, ClientError::SecondFactorRequired { .. }), "{e}");
    let (mut c, p) = pending(&srv, "dan@example.com", "a new long password");
    assert!(p.finish(&mut c, &by_code(codes[0].expose())).is_ok());

    // Lost phone and codes: the next reset removes the factors, says so, and the password alone
    // signs in (the keys are new: colleagues vouch before any data comes back).
    srv.client().reset_request("dan@example.com").unwrap();
    let token = srv.outbox_token("dan@example.com");
    flows::reset_with_token_and_factor(
        &srv.client(),
        &token,
        "a third long password",
        fast_kdf(),
        at(&srv),
        &FactorAtRecovery::Lost,
    )
    .unwrap();
    let mail = (0..8)
        .map(|_| srv.outbox_mail("dan@example.com"))
        .find(|m| m.contains("were removed") || m.contains("was removed"));
    assert!(mail.is_some(), "the member is told the factors went");
    let mut c = srv.client();
    let s = flows::login(&mut c, "dan@example.com", "a third long password").unwrap();
    assert_eq!(s.keyring.generation(), 3);
    assert_eq!(c.second_factors().unwrap().factors.len(), 0);
}

#[test]
fn a_team_that_requires_a_second_factor_refuses_reads_to_members_without_one() {
    let srv = TestServer::start_smtp();
    let (mut alice, bob, acct) = crate::harness::team_of_two(&srv);
    let fields = [("name".to_owned(), b"Ada".to_vec())].into_iter().collect();
    let item = alice.create_item(&acct, &fields).unwrap().id;
    let mut bob = bob;
    assert!(bob.get_item(&acct, &item).is_ok());
    // A member cannot set the policy (the server replays the log: only admins).
    assert!(bob.set_second_factor_required(&acct, true).is_err());
    assert!(!alice.second_factor_required(&acct).unwrap());

    enrol(&srv, &alice, "alice@example.com");
    assert!(alice.set_second_factor_required(&acct, true).unwrap().is_none(), "one admin signs it");
    assert!(alice.second_factor_required(&acct).unwrap(), "the verified log says so");
    assert!(bob.client.account(&acct).unwrap().second_factor_required);
    // Bob, without a factor: no item, no list, no write, no key — in words that say what to do.
    for e in [
        bob.client.item(&acct, &item).unwrap_err(),
        bob.client.items(&acct, None, 10, None).unwrap_err(),
        bob.client.sealed_keys(&acct).unwrap_err(),
    ] {
        assert_eq!((e.status(), e.code()), (Some(403), Some("account.second_factor_required")), "{e}");
        assert!(e.to_string().contains("vouchsafe mfa totp enrol"), "{e}");
    }
    let e = bob.create_item(&acct, &fields).unwrap_err();
    assert_eq!(e.code(), Some("account.second_factor_required"), "{e}");
    // The admins see who is not compliant; members do not see others' factors.
    let seen = alice.client.members(&acct).unwrap();
    let of = |list: &[vouchsafe_client::types::MemberInfo], id: &str| {
        list.iter().find(|m| m.user_id == id).unwrap().second_factor
    };
    assert_eq!((of(&seen, alice.user_id()), of(&seen, bob.user_id())), (Some(true), Some(false)));
    assert_eq!(of(&bob.client.members(&acct).unwrap(), alice.user_id()), None);
    // Alice, compliant, reads as before; Bob enrols and reads again.
    assert!(alice.get_item(&acct, &item).is_ok());
    enrol(&srv, &bob, "bob@example.com");
    assert!(bob.get_item(&acct, &item).is_ok());
    // Lifted by another signed entry: a member without a factor reads again.
    alice.set_second_factor_required(&acct, false).unwrap();
    assert!(!bob.client.account(&acct).unwrap().second_factor_required);
}
