//! A table of bad inputs: each gets a 4xx JSON error with a stable code, never a 5xx, and
//! changes nothing.

use vouchsafe_client::flows;
use vouchsafe_client::types::ErrorBody;

use crate::harness::{TestServer, fast_kdf};

/// method, path, (content type, body), headers, expected status, expected code
type Case<'a> = (&'a str, &'a str, Option<(&'a str, String)>, Vec<(&'a str, String)>, u16, &'a str);

#[test]
fn bad_inputs_get_4xx_json() {
    let srv = TestServer::start();
    let mut c = srv.client();
    flows::register(&c, "h@example.com", "correct horse battery", fast_kdf()).unwrap();
    let s = flows::login(&mut c, "h@example.com", "correct horse battery").unwrap();
    let good_keys = vouchsafe_crypto::b64::encode(&s.keyring.public().keys_to_bytes());
    let k32 = "A".repeat(43);
    let k16 = "A".repeat(22);
    let wrapped = vouchsafe_crypto::b64::encode(&[1u8; 105]);
    let reg = |auth: &str, salt: &str, params: &str, keys: &str, wrapped: &str, id: &str, email: &str| {
        format!(
            r#"{{"user_id":"{id}","email":"{email}","auth_key":"{auth}","kdf_salt":"{salt}","kdf_params":{params},"public_keys":"{keys}","wrapped_keyring":"{wrapped}"}}"#
        )
    };
    let ok_params = r#"{"alg":1,"m_kib":19456,"t":2,"p":1}"#;
    let id = "abcdefghijklmnopqrstuv";
    let huge = format!(r#"{{"email":"{}@x.com"}}"#, "a".repeat(300 * 1024));
    let cases: Vec<Case> = vec![
        ("POST", "/api/v1/auth/prelogin", Some(("application/json", "{".into())), vec![], 400, "request.invalid_json"),
        (
            "POST",
            "/api/v1/auth/prelogin",
            Some(("text/plain", r#"{"email":"a@b.co"}"#.into())),
            vec![],
            415,
            "request.unsupported_media_type",
        ),
        ("POST", "/api/v1/auth/prelogin", Some(("application/json", huge)), vec![], 413, "request.too_large"),
        // NUL is refused in any JSON text, before any store sees it (PostgreSQL cannot hold it).
        (
            "POST",
            "/api/v1/auth/prelogin",
            Some(("application/json", r#"{"email":"a\u0000@b.co"}"#.into())),
            vec![],
            400,
            "request.nul_character",
        ),
        (
            "POST",
            "/api/v1/auth/prelogin",
            Some(("application/json; charset=utf-8", r#"{"email":"a@b.co\\\u0000"}"#.into())),
            vec![],
            400,
            "request.nul_character",
        ),
        // An escaped backslash before the text u0000 is not a NUL: the e-mail check refuses it.
        (
            "POST",
            "/api/v1/auth/prelogin",
            Some(("application/json", r#"{"email":"a\\u0000@b"}"#.into())),
            vec![],
            400,
            "auth.invalid_email",
        ),
        (
            "POST",
            "/api/v1/auth/prelogin",
            Some(("application/json", r#"{"email":"a@b.co","x":1}"#.into())),
            vec![],
            400,
            "request.invalid_json",
        ),
        (
            "POST",
            "/api/v1/auth/prelogin",
            Some(("application/json", r#"{"email":"not-an-email"}"#.into())),
            vec![],
            400,
            "auth.invalid_email",
        ),
        (
            "POST",
            "/api/v1/auth/prelogin",
            Some(("application/json", r#"{"email":42}"#.into())),
            vec![],
            400,
            "request.invalid_json",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            Some(("application/json", reg("short", &k16, ok_params, &good_keys, &wrapped, id, "n1@example.com"))),
            vec![],
            400,
            "request.invalid_field",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            Some(("application/json", reg("!!!", &k16, ok_params, &good_keys, &wrapped, id, "n2@example.com"))),
            vec![],
            400,
            "request.invalid_field",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            Some(("application/json", reg(&k32, &k32, ok_params, &good_keys, &wrapped, id, "n3@example.com"))),
            vec![],
            400,
            "request.invalid_field",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            Some((
                "application/json",
                reg(&k32, &k16, r#"{"alg":1,"m_kib":1024,"t":1,"p":1}"#, &good_keys, &wrapped, id, "n4@example.com"),
            )),
            vec![],
            400,
            "auth.weak_kdf_params",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            Some((
                "application/json",
                reg(&k32, &k16, r#"{"alg":9,"m_kib":19456,"t":2,"p":1}"#, &good_keys, &wrapped, id, "n5@example.com"),
            )),
            vec![],
            400,
            "auth.weak_kdf_params",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            Some(("application/json", reg(&k32, &k16, ok_params, &k32, &wrapped, id, "n6@example.com"))),
            vec![],
            400,
            "request.invalid_field",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            Some(("application/json", reg(&k32, &k16, ok_params, &good_keys, &k32, id, "n7@example.com"))),
            vec![],
            400,
            "request.invalid_field",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            Some(("application/json", reg(&k32, &k16, ok_params, &good_keys, &wrapped, "short", "n8@example.com"))),
            vec![],
            400,
            "request.invalid_id",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            Some((
                "application/json",
                reg(&k32, &k16, ok_params, &good_keys, &wrapped, "has spaces in it here", "n9@example.com"),
            )),
            vec![],
            400,
            "request.invalid_id",
        ),
        (
            "POST",
            "/api/v1/auth/login",
            Some(("application/json", r#"{"email":"h@example.com","auth_key":"AAAA"}"#.into())),
            vec![],
            400,
            "request.invalid_field",
        ),
        (
            "POST",
            "/api/v1/auth/refresh",
            Some(("application/json", format!(r#"{{"refresh_token":"{}"}}"#, "x".repeat(5000)))),
            vec![],
            401,
            "auth.invalid_refresh_token",
        ),
        ("GET", "/api/v1/me", None, vec![("Authorization", "Bearer nonsense".into())], 401, "auth.invalid_token"),
        ("GET", "/api/v1/me", None, vec![("Authorization", "Basic Zm9vOmJhcg==".into())], 401, "auth.missing_token"),
        (
            "GET",
            "/api/v1/me",
            None,
            vec![("Authorization", "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.".into())],
            401,
            "auth.invalid_token",
        ),
        // Item writes check the token before the body: a bad body without a valid token is a 401.
        (
            "PUT",
            "/api/v1/accounts/acct0000000000000000/items/item0000000000000000",
            Some(("application/json", r#"{"key_version":0,"fields":{"bad name!":"x"}}"#.into())),
            vec![("Authorization", "Bearer nonsense".into())],
            401,
            "auth.invalid_token",
        ),
        (
            "POST",
            "/api/v1/accounts/acct0000000000000000/items/batch",
            Some(("application/json", r#"{"items":[{"id":"x","revision":1,"key_version":0,"fields":{}}]}"#.into())),
            vec![("Authorization", "Basic Zm9vOmJhcg==".into())],
            401,
            "auth.missing_token",
        ),
        ("GET", "/api/v1/nope", None, vec![], 404, "route.not_found"),
        // A path that exists with a method it does not take: 405 (with `Allow`), not 404.
        ("DELETE", "/api/v1/auth/login", None, vec![], 405, "route.method_not_allowed"),
        (
            "PATCH",
            "/api/v1/accounts/acct0000000000000000/items/item0000000000000000",
            None,
            vec![],
            405,
            "route.method_not_allowed",
        ),
        // A bad id gets one answer wherever it is: in a path, or as a body's member.
        ("DELETE", "/api/v1/auth/sessions/..%2F..", None, vec![], 400, "request.invalid_id"),
        ("DELETE", "/api/v1/auth/sessions/abcdefghijklmnopqrstuv", None, vec![], 404, "auth.session_not_found"),
        ("GET", "/api/v1/accounts/short", None, vec![], 400, "request.invalid_id"),
        (
            "GET",
            "/api/v1/accounts/acct0000000000000000/items/not%20an%20id%20at%20all",
            None,
            vec![],
            400,
            "request.invalid_id",
        ),
        (
            "POST",
            "/api/v1/accounts/acct0000000000000000/workers",
            Some(("application/json", "{}".into())),
            vec![],
            404,
            "account.not_found",
        ),
        (
            "POST",
            "/api/v1/accounts",
            Some((
                "application/json",
                r#"{"account_id":"short","name":"n","genesis":"AAAA","sealed_key":"AAAA"}"#.into(),
            )),
            vec![],
            400,
            "request.invalid_id",
        ),
        (
            "POST",
            "/api/v1/workers/challenge",
            Some(("application/json", format!(r#"{{"worker_id":"{}"}}"#, "w".repeat(65)))),
            vec![],
            400,
            "request.invalid_id",
        ),
        // The token before the body on every secured route: a bad body without one is a 401.
        (
            "POST",
            "/api/v1/auth/password",
            Some(("application/json", r#"{"current_auth_key":"x"}"#.into())),
            vec![("Authorization", "Basic Zm9vOmJhcg==".into())],
            401,
            "auth.missing_token",
        ),
        (
            "POST",
            "/api/v1/accounts",
            Some(("application/json", "{not json".into())),
            vec![("Authorization", "Bearer nonsense".into())],
            401,
            "auth.invalid_token",
        ),
    ];
    for (method, path, body, headers, status, code) in cases {
        let hdrs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let uses_auth = hdrs.iter().any(|(k, _)| *k == "Authorization");
        let mut client = c.clone();
        if uses_auth {
            client.set_access_token(None);
        }
        let r = client.raw(method, path, body.as_ref().map(|(t, b)| (*t, b.as_str())), &hdrs).unwrap();
        let parsed: Result<ErrorBody, _> = serde_json::from_str(&r.body);
        assert!(parsed.is_ok(), "{method} {path}: not a JSON error body: {}", &r.body[..r.body.len().min(200)]);
        let e = parsed.unwrap();
        assert_eq!((r.status, e.error.code.as_str()), (status, code), "{method} {path}: {}", e.error.message);
        assert!(r.status < 500);
    }
    let r = c.raw("PUT", "/api/v1/accounts", None, &[]).unwrap();
    assert_eq!(r.status, 405);
    let r = c.raw("DELETE", "/healthz", None, &[]).unwrap();
    assert_eq!(r.status, 405);
    // Nothing changed: the user still logs in, no extra users were created.
    let mut c2 = srv.client();
    flows::login(&mut c2, "h@example.com", "correct horse battery").unwrap();
    for n in 1..=9 {
        let fresh = c.prelogin(&format!("n{n}@example.com")).unwrap();
        assert_eq!(fresh.kdf_params, vouchsafe_crypto::kdf::KdfParams::default(), "n{n} must not exist");
    }
}

#[test]
fn openapi_and_docs_are_served() {
    let srv = TestServer::start();
    let c = srv.client();
    let r = c.raw("GET", "/api/openapi.json", None, &[]).unwrap();
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/me",
        "/api/v1/auth/sessions/{id}",
        "/api/v1/accounts/{id}/log",
        "/api/v1/accounts/{id}/items/{item_id}",
    ] {
        assert!(v["paths"][p].is_object(), "{p} missing from the OpenAPI document");
    }
    let docs = c.raw("GET", "/api/docs/", None, &[]).unwrap();
    assert_eq!(docs.status, 200);
    assert!(docs.body.contains("swagger"), "the docs page is served from the binary");
    assert_eq!(c.raw("GET", "/readyz", None, &[]).unwrap().status, 200);
}

/// Item field errors say what is wrong: no fields, bad base64url, too large.
#[test]
fn the_openapi_document_is_as_strict_as_the_server() {
    let srv = TestServer::start();
    let c = srv.client();
    let r = c.raw("GET", "/api/openapi.json", None, &[]).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let statuses = op["responses"].as_object().unwrap();
            let has = |s: &str| statuses.contains_key(s);
            let secured = op.get("security").and_then(|s| s.as_array()).is_some_and(|s| !s.is_empty());
            assert!(!secured || has("401"), "{method} {path}: 401");
            if op.get("requestBody").is_some() {
                assert!(has("400") && has("413") && has("415"), "{method} {path}: body statuses");
            }
            for p in op.get("parameters").and_then(|p| p.as_array()).into_iter().flatten() {
                assert!(has("400"), "{method} {path}: parameter statuses");
                if p["in"] == "path" {
                    // Ids are the server's 16-to-64-character ids, but for a provider's own id of
                    // a deposit (1 to 64).
                    let want = if p["name"] == "deposit_id" { "DepositId" } else { "Id" };
                    assert_eq!(p["schema"]["$ref"], format!("#/components/schemas/{want}"), "{method} {path}");
                }
            }
        }
    }
    assert_eq!(operations, 76);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Id"]["pattern"], "^[A-Za-z0-9_-]{16,64}$");
    assert_eq!(schemas["KdfParams"]["properties"]["m_kib"]["minimum"], 19 * 1024);
    assert_eq!(schemas["KdfParams"]["additionalProperties"], false);
    assert_eq!(schemas["Bytes32"]["pattern"], "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$");
    assert_eq!(schemas["RegisterRequest"]["properties"]["kdf_params"]["$ref"], "#/components/schemas/KdfParams");
    assert_eq!(schemas["RegisterRequest"]["additionalProperties"], false);
    // Every pattern is one the values the server makes and takes match — and near misses do not.
    let matches =
        |schema: &str, v: &str| regex::Regex::new(schemas[schema]["pattern"].as_str().unwrap()).unwrap().is_match(v);
    let key = vouchsafe_crypto::b64::encode(&[7u8; 32]);
    assert!(matches("Bytes32", &key) && !matches("Bytes32", &key[1..]) && !matches("Bytes32", &format!("{key}A")));
    let salt = vouchsafe_crypto::b64::encode(&[0xffu8; 16]);
    assert!(matches("Bytes16", &salt) && !matches("Bytes16", &format!("{}B", &salt[..21])));
    let sig = vouchsafe_crypto::b64::encode(&[0xa5u8; 64]);
    assert!(matches("Signature", &sig) && !matches("Signature", &key));
    let id = vouchsafe::auth::new_id().unwrap();
    assert!(matches("Id", &id) && !matches("Id", "short") && !matches("Id", &format!("{id}!")));
    assert!(
        matches("Email", "alice@example.com") && !matches("Email", "alice@example") && !matches("Email", "a b@c.de")
    );
    assert!(matches("Name", "Acme support") && !matches("Name", "   ") && !matches("Name", "tab\there"));
    for n in [1usize, 2, 3, 4, 100] {
        let blob = vouchsafe_crypto::b64::encode(&vec![0x5a; n]);
        assert!(matches("Sealed", &blob), "{n} bytes");
    }
    assert!(!matches("Sealed", "abcde"), "5 characters are no base64url");
    let seal = vouchsafe_crypto::b64::encode(&[0x5au8; vouchsafe_crypto::inbox::SEAL_LEN]);
    assert!(matches("DepositSeal", &seal) && !matches("DepositSeal", &key));
    let wrap = vouchsafe_crypto::b64::encode(&[0x5au8; vouchsafe_crypto::inbox::WRAP_LEN]);
    assert!(matches("InboxWrap", &wrap) && !matches("InboxWrap", &seal));
    assert!(matches("DepositId", "invoice-42") && !matches("DepositId", "a.b") && !matches("DepositId", ""));
}

#[test]
fn item_field_errors_name_what_is_wrong() {
    use vouchsafe_client::types::PutItemRequest;
    let srv = TestServer::start();
    let mut alice = srv.user("fields@example.com");
    let acct = alice.create_account("Fields").unwrap().id;
    let id = vouchsafe_crypto::random_id();
    let put = |fields: &[(&str, String)]| {
        let fields = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        alice.client.put_item(&acct, &id, &PutItemRequest { revision: None, key_version: 1, fields }).unwrap_err()
    };
    for (fields, code) in [
        (vec![], "item.no_fields"),
        (vec![("n", "not base64!".to_owned())], "item.malformed_field"),
        (vec![("n", "A".repeat(100 * 1024))], "item.field_too_large"),
    ] {
        let e = put(&fields);
        assert_eq!((e.status(), e.code()), (Some(400), Some(code)), "{e}");
    }
    // The caller's rights come before the body: a non-member's malformed write is a 404, an
    // ended session's a 401.
    let mallory = srv.user("mallory-fields@example.com");
    let bad = PutItemRequest { revision: None, key_version: 1, fields: Default::default() };
    assert_eq!(mallory.client.put_item(&acct, &id, &bad).unwrap_err().status(), Some(404));
    // The same for the account's other routes with a body: a non-member's malformed log append,
    // invitation, rename or worker registration is a 404, a member's a 400.
    for (method, route) in [("POST", "log"), ("POST", "invitations"), ("PATCH", ""), ("POST", "workers")] {
        let path = format!("/api/v1/accounts/{acct}/{route}").trim_end_matches('/').to_owned();
        let r = mallory.client.raw(method, &path, Some(("application/json", "{\"x\":")), &[]).unwrap();
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        let r = alice.client.raw(method, &path, Some(("application/json", "{\"x\":")), &[]).unwrap();
        assert_eq!(r.status, 400, "{method} {path}: {}", r.body);
    }
    // Query values outside their documented range are refused, not clamped (members only see it).
    for q in [
        "items?limit=9223372036854775808",
        "items?limit=0",
        "items?limit=501",
        "items?below_version=2147483648",
        // A cursor is an item id (as every next_cursor is): bytes PostgreSQL's text refuses
        // (NUL) or anything else are the caller's error, not the database's.
        "items?cursor=%28%C2%BB%00%C3%92%7B&limit=118",
        "items?cursor=short",
        "items?cursor=",
        "log?limit=1001",
        "log?after=9223372036854775808",
    ] {
        let path = format!("/api/v1/accounts/{acct}/{q}");
        let r = alice.client.raw("GET", &path, None, &[]).unwrap();
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(mallory.client.raw("GET", &path, None, &[]).unwrap().status, 404, "{path}");
    }
    assert_eq!(
        alice
            .client
            .raw("GET", &format!("/api/v1/accounts/{acct}/items?limit=500&below_version=2147483647"), None, &[])
            .unwrap()
            .status,
        200
    );
    alice.client.logout().unwrap();
    assert_eq!(alice.client.put_item(&acct, &id, &bad).unwrap_err().code(), Some("auth.session_ended"));
    let r = alice
        .client
        .raw("POST", &format!("/api/v1/accounts/{acct}/log"), Some(("application/json", "{")), &[])
        .unwrap();
    assert_eq!(r.status, 401, "an ended session's malformed body: {}", r.body);
}

/// Sends `bytes` on a fresh connection and reads everything until the server closes it.
fn raw_exchange(srv: &TestServer, bytes: &[u8]) -> String {
    use std::io::{Read, Write};
    let addr = srv.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    // The server may answer (and close) before it has read everything: a reset then is fine.
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The responses in a byte stream: (status, body) each, framed by Content-Length.
fn responses(text: &str) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find("\r\n\r\n") {
        let head = &rest[..end];
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let len = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        let body_start = end + 4;
        let body_end = (body_start + len).min(rest.len());
        out.push((status, rest[body_start..body_end].to_owned()));
        rest = &rest[body_end..];
    }
    out
}

#[test]
fn requests_the_http_layer_refuses_get_json_errors_after_earlier_answers() {
    let srv = TestServer::start();
    let ok = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let many_headers: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let huge_header = format!("X-Big: {}\r\n", "a".repeat(1024 * 1024));
    let long_uri = format!("/{}", "a".repeat(64 * 1024));
    let cases: Vec<(String, u16, &str)> = vec![
        ("GARBAGE\r\n\r\n".into(), 400, "request."),
        (format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"), 431, "request.head_too_large"),
        (format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{huge_header}\r\n"), 431, "request.head_too_large"),
        (format!("GET {long_uri} HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "request.invalid_uri"),
        ("POST /api/v1/auth/prelogin HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".into(), 400, "request.invalid_header"),
        (
            "POST /api/v1/auth/prelogin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .into(),
            400,
            "request.invalid_header",
        ),
        ("GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n".into(), 400, "request."),
    ];
    for (req, status, code) in &cases {
        let got = responses(&raw_exchange(&srv, req.as_bytes()));
        assert_eq!(got.len(), 1, "{:.60}: {got:?}", req);
        assert_eq!(got[0].0, *status, "{:.60}", req);
        let body: ErrorBody = serde_json::from_str(&got[0].1).unwrap_or_else(|e| panic!("{:.60}: {e}: {got:?}", req));
        assert!(body.error.code.starts_with(code), "{:.60}: {}", req, body.error.code);
    }
    // On a kept-alive connection, earlier requests — pipelined or not — are answered first, in
    // order, and the refused one last.
    let got = responses(&raw_exchange(&srv, format!("{ok}{ok}GARBAGE\r\n\r\n").as_bytes()));
    assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), vec![200, 200, 400], "{got:?}");
    // A body that cannot be decoded is answered once, by the handler that reads it.
    let bad_chunks = "POST /api/v1/auth/prelogin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
    let got = responses(&raw_exchange(&srv, bad_chunks.as_bytes()));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, 400);
    assert!(serde_json::from_str::<ErrorBody>(&got[0].1).is_ok(), "{got:?}");
    // Well-formed requests, a body in pieces and HTTP/1.0 pass as before.
    let body = r#"{"email":"a@example.com"}"#;
    let chunked = format!(
        "POST /api/v1/auth/prelogin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let got = responses(&raw_exchange(&srv, format!("{chunked}{ok}").as_bytes()));
    assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), vec![200, 200], "{got:?}");
    let got = responses(&raw_exchange(&srv, b"GET /healthz HTTP/1.0\r\n\r\nGARBAGE\r\n\r\n"));
    assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), vec![200, 400], "{got:?}");
    assert!(serde_json::from_str::<ErrorBody>(&got[1].1).is_ok(), "{got:?}");
}
