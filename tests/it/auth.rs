//! Sign-up, login, refresh rotation and reuse detection, password change, sessions, expiry,
//! rate limits and enumeration resistance.

use vouchsafe_client::flows;
use vouchsafe_client::types::*;

use crate::harness::{TestServer, fast_kdf};

const PW: &str = "correct horse battery staple";

#[test]
fn signup_login_me_without_the_password_reaching_the_server() {
    let srv = TestServer::start();
    let c = srv.client();
    let id = flows::register(&c, "Alice@Example.com", PW, fast_kdf()).unwrap();
    let mut c = srv.client();
    let s = flows::login(&mut c, "alice@example.com", PW).unwrap();
    assert_eq!(s.user_id, id);
    let me = c.me().unwrap();
    assert_eq!(me.email, "alice@example.com");
    assert_eq!(me.generation, 1);
    assert_eq!(me.verification_code, s.keyring.public().verification_code().to_string());
    // Wrong password: same 401 as an unknown email.
    let mut c2 = srv.client();
    let wrong = flows::login(&mut c2, "alice@example.com", "not the password").unwrap_err();
    let unknown = flows::login(&mut c2, "nobody@example.com", PW).unwrap_err();
    assert_eq!(wrong.code(), Some("auth.invalid_credentials"));
    assert_eq!(unknown.code(), wrong.code());
    // Nothing the server stored contains the password or the KEK-derived material in clear.
    let db = std::fs::read(srv.data_dir.join("test.db")).unwrap_or_default();
    let wal = std::fs::read(srv.data_dir.join("test.db-wal")).unwrap_or_default();
    for hay in [&db, &wal] {
        assert!(!hay.windows(PW.len()).any(|w| w == PW.as_bytes()));
    }
}

#[test]
fn duplicate_registration_is_a_conflict() {
    let srv = TestServer::start();
    let c = srv.client();
    flows::register(&c, "bob@example.com", PW, fast_kdf()).unwrap();
    let e = flows::register(&c, "BOB@example.com", PW, fast_kdf()).unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert_eq!(e.code(), Some("auth.already_registered"));
}

#[test]
fn prelogin_does_not_reveal_who_has_an_account() {
    let srv = TestServer::start();
    let c = srv.client();
    flows::register(&c, "carol@example.com", PW, fast_kdf()).unwrap();
    let real = c.prelogin("carol@example.com").unwrap();
    let fake1 = c.prelogin("mallory@example.com").unwrap();
    let fake2 = c.prelogin("MALLORY@example.com ").unwrap();
    assert_eq!(fake1.kdf_salt, fake2.kdf_salt, "fake answers are stable");
    assert_eq!(fake1.kdf_salt.len(), real.kdf_salt.len());
    assert_ne!(fake1.kdf_salt, c.prelogin("eve@example.com").unwrap().kdf_salt);
    assert_eq!(real.kdf_params, fast_kdf());
    assert_eq!(fake1.kdf_params, vouchsafe_crypto::kdf::KdfParams::default());
    let raw_real = c
        .raw("POST", "/api/v1/auth/prelogin", Some(("application/json", r#"{"email":"carol@example.com"}"#)), &[])
        .unwrap();
    let raw_fake = c
        .raw("POST", "/api/v1/auth/prelogin", Some(("application/json", r#"{"email":"zed@example.com"}"#)), &[])
        .unwrap();
    assert_eq!(raw_real.status, raw_fake.status);
    let keys = |b: &str| {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        v.as_object().unwrap().keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(keys(&raw_real.body), keys(&raw_fake.body));
}

#[test]
fn refresh_rotates_and_reuse_revokes_the_family() {
    let srv = TestServer::start();
    let mut c = srv.client();
    flows::register(&c, "dave@example.com", PW, fast_kdf()).unwrap();
    let s = flows::login(&mut c, "dave@example.com", PW).unwrap();
    let first = s.tokens.refresh_token.clone();
    srv.clock.advance(10);
    let second = c.refresh(first.expose()).unwrap();
    assert_ne!(second.refresh_token, first);
    assert_eq!(second.session_id, s.tokens.session_id);
    c.set_access_token(Some(second.access_token.clone().expose().to_owned()));
    c.me().unwrap();
    // The rotated token is presented again: a thief or a replay. The whole session ends.
    let e = c.refresh(first.expose()).unwrap_err();
    assert_eq!(e.code(), Some("auth.refresh_token_reused"));
    assert_eq!(c.refresh(second.refresh_token.expose()).unwrap_err().code(), Some("auth.invalid_refresh_token"));
    assert_eq!(c.me().unwrap_err().code(), Some("auth.session_ended"));
    assert_eq!(c.refresh("not-a-token").unwrap_err().status(), Some(401));
}

#[test]
fn access_tokens_expire_and_sessions_end_at_once() {
    let srv = TestServer::start();
    let mut a = srv.client();
    flows::register(&a, "erin@example.com", PW, fast_kdf()).unwrap();
    let sa = flows::login(&mut a, "erin@example.com", PW).unwrap();
    let mut b = srv.client();
    let sb = flows::login(&mut b, "erin@example.com", PW).unwrap();
    let list = a.sessions().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s.current).count(), 1);
    // End b's session from a: b's still-unexpired access token is refused immediately.
    a.revoke_session(&sb.tokens.session_id).unwrap();
    assert_eq!(b.me().unwrap_err().code(), Some("auth.session_ended"));
    assert_eq!(a.revoke_session(&sb.tokens.session_id).unwrap_err().status(), Some(404));
    // Another user cannot end a's session.
    let mut m = srv.client();
    flows::register(&m, "mallory@example.com", PW, fast_kdf()).unwrap();
    flows::login(&mut m, "mallory@example.com", PW).unwrap();
    assert_eq!(m.revoke_session(&sa.tokens.session_id).unwrap_err().status(), Some(404));
    a.me().unwrap();
    // Expiry follows the server clock.
    srv.clock.advance(901);
    assert_eq!(a.me().unwrap_err().code(), Some("auth.invalid_token"));
    let t = a.refresh(sa.tokens.refresh_token.expose()).unwrap();
    a.set_access_token(Some(t.access_token.expose().to_owned()));
    a.me().unwrap();
    a.logout().unwrap();
    assert_eq!(a.me().unwrap_err().code(), Some("auth.session_ended"));
    assert_eq!(a.refresh(t.refresh_token.expose()).unwrap_err().status(), Some(401));
}

#[test]
fn password_change_rewraps_and_can_end_other_sessions() {
    let srv = TestServer::start();
    let mut a = srv.client();
    flows::register(&a, "frank@example.com", PW, fast_kdf()).unwrap();
    let sa = flows::login(&mut a, "frank@example.com", PW).unwrap();
    let mut other = srv.client();
    flows::login(&mut other, "frank@example.com", PW).unwrap();
    // Wrong current password.
    let e = flows::change_password(
        &a,
        "frank@example.com",
        &sa.keyring,
        "wrong password",
        "new password 123",
        fast_kdf(),
        true,
    )
    .unwrap_err();
    assert_eq!(e.status(), Some(403));
    flows::change_password(&a, "frank@example.com", &sa.keyring, PW, "new password 123", fast_kdf(), true).unwrap();
    assert_eq!(other.me().unwrap_err().code(), Some("auth.session_ended"));
    a.me().unwrap();
    let mut c = srv.client();
    assert_eq!(flows::login(&mut c, "frank@example.com", PW).unwrap_err().code(), Some("auth.invalid_credentials"));
    let s2 = flows::login(&mut c, "frank@example.com", "new password 123").unwrap();
    assert_eq!(s2.keyring.public(), sa.keyring.public(), "same keys, new wrap");
}

#[test]
fn failed_logins_are_limited_per_account() {
    let srv = TestServer::start();
    let mut c = srv.client();
    flows::register(&c, "gina@example.com", PW, fast_kdf()).unwrap();
    for _ in 0..10 {
        assert_eq!(flows::login(&mut c, "gina@example.com", "wrong password").unwrap_err().status(), Some(401));
    }
    let e = flows::login(&mut c, "gina@example.com", PW).unwrap_err();
    assert_eq!(e.status(), Some(429));
    let vouchsafe_client::ClientError::Api { retry_after, .. } = e else { panic!() };
    assert!(retry_after.unwrap() >= 1);
    srv.clock.advance(901);
    flows::login(&mut c, "gina@example.com", PW).unwrap();
}

#[test]
fn per_address_limits_ignore_spoofed_forwarded_for() {
    let srv = TestServer::start_with(|c| c.rate_limits.prelogin_per_ip = 5);
    let c = srv.client();
    for i in 0..5 {
        let r = c
            .raw(
                "POST",
                "/api/v1/auth/prelogin",
                Some(("application/json", r#"{"email":"x@example.com"}"#)),
                &[("X-Forwarded-For", &format!("10.0.0.{i}"))],
            )
            .unwrap();
        assert_eq!(r.status, 200);
    }
    let r = c
        .raw(
            "POST",
            "/api/v1/auth/prelogin",
            Some(("application/json", r#"{"email":"x@example.com"}"#)),
            &[("X-Forwarded-For", "10.9.9.9")],
        )
        .unwrap();
    assert_eq!(r.status, 429, "a client that is not a trusted proxy cannot pick its address");
    assert!(r.retry_after.is_some());
    let v: ErrorBody = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v.error.code, "rate_limited");
}

#[test]
fn trusted_proxy_forwarded_for_is_used() {
    let srv = TestServer::start_with(|c| {
        c.rate_limits.prelogin_per_ip = 2;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    });
    let c = srv.client();
    let call = |ip: &str| {
        c.raw(
            "POST",
            "/api/v1/auth/prelogin",
            Some(("application/json", r#"{"email":"x@example.com"}"#)),
            &[("X-Forwarded-For", ip)],
        )
        .unwrap()
        .status
    };
    assert_eq!((call("198.51.100.1"), call("198.51.100.1"), call("198.51.100.1")), (200, 200, 429));
    assert_eq!(call("198.51.100.2"), 200, "another client behind the proxy has its own budget");
}

/// Link tokens never rest in the database in clear: a queued message's bodies are sealed under
/// `outbox.key` (a file, not a row), and a delivered one's bodies are blanked. Outbox files are 0600.
#[test]
fn queued_mail_is_sealed_and_delivered_mail_is_blanked() {
    // SMTP to a port nobody listens on: the reset mail stays queued.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let srv = TestServer::start_smtp_to(closed);
    vouchsafe_client::flows::register(&srv.client(), "q@example.com", "correct horse battery", fast_kdf()).unwrap();
    srv.client().reset_request("q@example.com").unwrap();
    let rows = || srv.query("SELECT body_text, body_html FROM outbox", 2);
    // The reset request answers at once (same time whether the e-mail exists); the row follows.
    let mut queued = rows();
    for _ in 0..100 {
        if !queued.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        queued = rows();
    }
    assert_eq!(queued.len(), 1);
    for body in &queued[0] {
        assert!(body.starts_with("sealed:") && !body.contains("token") && !body.contains("reset"), "{body}");
    }
    // The default outbox transport delivers: the row keeps no body, the file is private.
    let srv = TestServer::start();
    vouchsafe_client::flows::register(&srv.client(), "d@example.com", "correct horse battery", fast_kdf()).unwrap();
    srv.client().reset_request("d@example.com").unwrap();
    let token = srv.outbox_token("d@example.com");
    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = srv.query("SELECT body_text, body_html FROM outbox WHERE sent_at IS NOT NULL", 2);
        if !delivered.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(delivered, vec![vec![String::new(), String::new()]]);
    let all = srv.query("SELECT id, to_addr, subject, body_text, body_html FROM outbox", 5);
    assert!(all.iter().flatten().all(|c| !c.contains(&token)), "the token rests nowhere in the table");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in std::fs::read_dir(srv.data_dir.join("outbox")).unwrap().flatten() {
            if f.path().extension().is_some_and(|e| e == "eml") {
                assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
            }
        }
        assert_eq!(std::fs::metadata(srv.data_dir.join("outbox")).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

/// A message claimed by a process that died mid-delivery is tried again once its short lease
/// (the send timeout plus a margin) is over — not minutes later.
#[test]
fn mail_in_flight_when_a_process_died_is_retried_after_the_lease() {
    let srv = TestServer::start();
    let now = vouchsafe::state::Clock::now(&*srv.clock);
    // The row as a process that claimed it and died leaves it (older rows may hold plaintext).
    srv.sql(&format!(
        "INSERT INTO outbox (id, to_addr, subject, body_text, body_html, attempts, next_attempt_at, sent_at, last_error, created_at) \
         VALUES ('crashed-claim-0001', 'late@example.com', 'Hello', 'in flight', '<p>in flight</p>', 0, {}, NULL, NULL, {now})",
        now + vouchsafe::mail::SEND_LEASE_SECS
    ));
    let sent = || srv.query("SELECT id FROM outbox WHERE sent_at IS NOT NULL", 1).len();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(sent(), 0, "still leased");
    srv.clock.advance(vouchsafe::mail::SEND_LEASE_SECS);
    assert!(srv.outbox_mail("late@example.com").contains("in flight"));
    // The file is written before the row is marked sent.
    for _ in 0..100 {
        if sent() == 1 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the delivery was not recorded");
}

/// `/metrics` (Prometheus text format) is served on `metrics_bind` only: requests by route
/// template and status, Argon2 wait, outbox depth, pool use, rate-limit rejections — and no
/// e-mail address, id or token in any label.
#[test]
fn metrics_are_scraped_on_their_own_listener() {
    let srv = TestServer::start_with(|c| {
        c.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
        c.rate_limits.login_per_ip = 2;
    });
    let metrics_url = srv.metrics_url.clone().expect("a metrics listener");
    vouchsafe_client::flows::register(&srv.client(), "metrics@example.com", "correct horse battery", fast_kdf())
        .unwrap();
    let mut c = srv.client();
    flows::login(&mut c, "metrics@example.com", "correct horse battery").unwrap();
    let me = c.me().unwrap();
    flows::login(&mut srv.client(), "metrics@example.com", "correct horse battery").unwrap();
    assert_eq!(flows::login(&mut srv.client(), "metrics@example.com", "x").unwrap_err().status(), Some(429));
    let scrape = vouchsafe_client::Client::new(&metrics_url).raw("GET", "/metrics", None, &[]).unwrap();
    assert_eq!(scrape.status, 200);
    let text = scrape.body;
    for want in [
        r#"vouchsafe_http_requests_total{route="/api/v1/auth/login",method="POST",status="200"} 2"#,
        r#"vouchsafe_http_requests_total{route="/api/v1/me",method="GET",status="200"} 1"#,
        r#"vouchsafe_rate_limited_total{route="/api/v1/auth/login"} 1"#,
        "vouchsafe_http_request_duration_seconds_bucket{",
        "vouchsafe_argon2_wait_seconds_count ",
        "vouchsafe_argon2_queue_depth 0",
        "vouchsafe_outbox_depth ",
        "vouchsafe_db_pool_connections ",
        "vouchsafe_outbox_failures_total 0",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(!text.contains("metrics@example.com") && !text.contains(&me.user_id), "no personal data in labels");
    // Not on the public listener; nothing but /metrics on the metrics one.
    assert_eq!(srv.client().raw("GET", "/metrics", None, &[]).unwrap().status, 404);
    assert_eq!(vouchsafe_client::Client::new(&metrics_url).raw("GET", "/healthz", None, &[]).unwrap().status, 404);
}

/// Per-address limits are decided in memory (no database write per request) and reconciled
/// through the database: two servers over one database share each address's budget.
#[test]
fn servers_over_one_database_share_each_address_budget() {
    let a = TestServer::start_with(|c| c.rate_limits.prelogin_per_ip = 6);
    let url = a.db_url.clone();
    let b = TestServer::start_with(move |c| {
        c.rate_limits.prelogin_per_ip = 6;
        c.database_url = url;
    });
    let call = |s: &TestServer| s.client().prelogin("x@example.com").map(|_| ()).map_err(|e| e.status());
    for _ in 0..3 {
        assert_eq!(call(&a), Ok(()));
        assert_eq!(call(&b), Ok(()));
    }
    // Each server counted three of its own; once both have reconciled (every SYNC), each knows
    // of all six, and the seventh request is refused on either.
    std::thread::sleep(4 * vouchsafe::limits::SYNC);
    assert_eq!(call(&a), Err(Some(429)));
    assert_eq!(call(&b), Err(Some(429)));
    let rows = a.query("SELECT CAST(count AS TEXT) FROM rate_limits WHERE key LIKE 'prelogin:ip:%'", 1);
    assert_eq!(rows, vec![vec!["6".to_owned()]], "the shared row holds every process's hits, refusals not counted");
}
