//! SCIM 2.0 provisioning over HTTP, as an identity provider speaks it (the Python SCIM client
//! in `tests/scim` drives the same routes in CI): invitations go out over real SMTP, and no
//! provisioning step ever gives a key.

use serde_json::{Value, json};
use vouchsafe_client::types::{CreateApiTokenRequest, Scope};
use vouchsafe_crypto::log::Role;

use crate::harness::TestServer;

struct Scim<'a> {
    srv: &'a TestServer,
    base: String,
    token: String,
}

impl Scim<'_> {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(method, path, body, &[])
    }

    fn call_with(&self, method: &str, path: &str, body: Option<Value>, extra: &[(&str, &str)]) -> (u16, Value) {
        let auth = format!("Bearer {}", self.token);
        let mut headers = vec![("Authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        let text = body.map(|b| b.to_string());
        let r = self
            .srv
            .client()
            .raw(
                method,
                &format!("{}{path}", self.base),
                text.as_deref().map(|t| ("application/scim+json", t)),
                &headers,
            )
            .unwrap();
        (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
    }
}

fn scim_error(answer: (u16, Value), status: u16, scim_type: Option<&str>) {
    let (s, v) = answer;
    assert_eq!(s, status, "{v}");
    assert_eq!(v["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(v["status"], status.to_string());
    assert_eq!(v["scimType"].as_str(), scim_type, "{v}");
}

#[test]
fn an_identity_provider_invites_updates_and_deprovisions_and_never_grants_a_key() {
    let srv = TestServer::start_smtp();
    let mut alice = srv.user("alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let item = alice.create_item(&acct, &[("n".to_owned(), b"v".to_vec())].into_iter().collect()).unwrap();
    let req = CreateApiTokenRequest { name: "Entra ID".into(), scopes: vec![Scope::Scim], expires_in_days: None };
    let token = alice.client.create_token(&acct, &req).unwrap().token.expose().to_owned();
    let scim = Scim { srv: &srv, base: format!("/scim/v2/{acct}"), token };

    let (s, spc) = scim.call("GET", "/ServiceProviderConfig", None);
    assert_eq!(
        (s, spc["patch"]["supported"].clone(), spc["bulk"]["supported"].clone()),
        (200, json!(true), json!(false))
    );
    let (_, types) = scim.call("GET", "/ResourceTypes", None);
    assert_eq!(types["Resources"][0]["name"], "User");
    assert_eq!(types["totalResults"], 1, "no Groups");
    scim_error(scim.call("GET", "/Groups", None), 404, None);

    // Create → an invitation over SMTP; the resource says the person has no access yet.
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "Bob@Example.com", "externalId": "00u-bob", "active": true,
        "name": {"givenName": "Bob", "familyName": "B."},
        "emails": [{"value": "bob@example.com", "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Support"},
        "favouriteColour": "unknown attributes are ignored"
    });
    let (s, bob_res) = scim.call("POST", "/Users", Some(body.clone()));
    assert_eq!(s, 201, "{bob_res}");
    let ext = &bob_res["urn:ietf:params:scim:schemas:extension:vouchsafe:2.0:User"];
    assert_eq!((ext["status"].as_str(), ext["keyAccess"].as_bool()), (Some("invited"), Some(false)));
    assert_eq!(bob_res["userName"], "bob@example.com");
    assert!(bob_res.get("favouriteColour").is_none());
    let id = bob_res["id"].as_str().unwrap().to_owned();
    let mail = srv.outbox_mail("bob@example.com");
    assert!(mail.contains("Entra ID"), "the invitation says who invited");
    scim_error(scim.call("POST", "/Users", Some(body)), 409, Some("uniqueness"));
    scim_error(scim.call("POST", "/Users", Some(json!({"userName": "not an e-mail"}))), 400, Some("invalidValue"));

    // Get, filter, page.
    let (s, got) = scim.call("GET", &format!("/Users/{id}"), None);
    assert_eq!((s, got["meta"]["version"].clone()), (200, bob_res["meta"]["version"].clone()));
    let (_, found) = scim.call("GET", "/Users?filter=userName%20eq%20%22bob%40example.com%22", None);
    assert_eq!((found["totalResults"].clone(), found["Resources"][0]["id"].clone()), (json!(1), json!(id)));
    let (_, none) = scim.call("GET", "/Users?filter=externalId%20eq%20%22nobody%22", None);
    assert_eq!(none["totalResults"], 0);
    scim_error(scim.call("GET", "/Users?filter=userName%20co%20%22bob%22", None), 400, Some("invalidFilter"));

    // Bob accepts and is confirmed by a person comparing codes; only then he holds the key.
    let mut bob = srv.user("bob@example.com");
    bob.client.accept_invitation(&vouchsafe_test_token(&mail)).unwrap();
    let (_, got) = scim.call("GET", &format!("/Users/{id}"), None);
    assert_eq!(got["urn:ietf:params:scim:schemas:extension:vouchsafe:2.0:User"]["status"], "accepted");
    let code = bob.keyring.public().verification_code().to_string();
    alice.confirm(&acct, bob.user_id(), Role::Member, &code).unwrap();
    let (_, got) = scim.call("GET", &format!("/Users/{id}"), None);
    assert_eq!(got["urn:ietf:params:scim:schemas:extension:vouchsafe:2.0:User"]["keyAccess"], true);
    assert!(bob.get_item(&acct, &item.id).is_ok());

    // PATCH as Entra sends it: capitalised op, a string boolean → deprovisioned at once.
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Bob B."},
            {"op": "Replace", "path": "active", "value": "False"}
        ]
    });
    let (s, patched) = scim.call("PATCH", &format!("/Users/{id}"), Some(patch));
    assert_eq!(s, 200, "{patched}");
    assert_eq!((patched["active"].clone(), patched["displayName"].clone()), (json!(false), json!("Bob B.")));
    assert_eq!(patched["urn:ietf:params:scim:schemas:extension:vouchsafe:2.0:User"]["status"], "deprovisioned");
    assert_eq!(bob.client.item(&acct, &item.id).unwrap_err().status(), Some(403));
    assert!(alice.client.account(&acct).unwrap().rotation_required);
    assert!(srv.outbox_mail("alice@example.com").contains("deprovisioned"));
    let bad = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "password", "value": "x"}]});
    scim_error(scim.call("PATCH", &format!("/Users/{id}"), Some(bad)), 400, Some("invalidPath"));

    // PUT of a new person, then DELETE: the invitation is revoked with the resource.
    let (s, carol) = scim.call("POST", "/Users", Some(json!({"userName": "carol@example.com"})));
    assert_eq!(s, 201);
    let carol_id = carol["id"].as_str().unwrap().to_owned();
    let (s, put) = scim.call(
        "PUT",
        &format!("/Users/{carol_id}"),
        Some(json!({"userName": "carol@example.com", "externalId": "00u-carol", "active": true})),
    );
    assert_eq!((s, put["externalId"].clone()), (200, json!("00u-carol")));
    // If-Match: a write against a version that moved on is refused (412); the current one goes.
    let stale = carol["meta"]["version"].as_str().unwrap().to_owned();
    let current = put["meta"]["version"].as_str().unwrap().to_owned();
    let again = json!({"userName": "carol@example.com", "externalId": "00u-carol2", "active": true});
    let answer = scim.call_with("PUT", &format!("/Users/{carol_id}"), Some(again.clone()), &[("If-Match", &stale)]);
    scim_error(answer, 412, None);
    let (s, _) = scim.call_with("PUT", &format!("/Users/{carol_id}"), Some(again), &[("If-Match", &current)]);
    assert_eq!(s, 200);
    let (s, _) = scim.call("DELETE", &format!("/Users/{carol_id}"), None);
    assert_eq!(s, 204);
    scim_error(scim.call("GET", &format!("/Users/{carol_id}"), None), 404, None);
    let invitations = alice.client.invitations(&acct).unwrap();
    assert!(invitations.iter().filter(|i| i.email == "carol@example.com").all(|i| i.status == "revoked"));

    // The token is SCIM's only; a person's session or another scope is refused, in SCIM's words.
    let person = Scim { srv: &srv, base: scim.base.clone(), token: alice.client.access_token().unwrap().to_owned() };
    scim_error(person.call("GET", "/Users", None), 403, None);
    let audit = alice.client.audit(&acct).unwrap();
    assert!(audit.iter().any(|a| a.action == "scim.users.create" && a.actor_name.as_deref() == Some("Entra ID")));
    // The admin's next rotation removes Bob in the signed log.
    let report = alice.rotate(&acct, false, 100, |_, _| {}).unwrap();
    assert_eq!(report.removed, vec![bob.user_id().to_owned()]);
}

fn vouchsafe_test_token(mail: &str) -> String {
    crate::harness::token_in(mail).unwrap()
}

/// NUL and other control characters are the caller's error wherever SCIM takes a string (a
/// PostgreSQL `text` cannot hold NUL, SQLite's can: the answer must not depend on the store).
#[test]
fn nul_in_a_scim_string_is_a_400_on_every_store() {
    let srv = TestServer::start_smtp();
    let mut alice = srv.user("alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let req = CreateApiTokenRequest { name: "Okta".into(), scopes: vec![Scope::Scim], expires_in_days: None };
    let token = alice.client.create_token(&acct, &req).unwrap().token.expose().to_owned();
    let scim = Scim { srv: &srv, base: format!("/scim/v2/{acct}"), token };

    let with_nul = json!({"userName": "dan@example.com", "externalId": "00u\u{0}dan"});
    scim_error(scim.call("POST", "/Users", Some(with_nul)), 400, Some("invalidValue"));
    let filter = "/Users?filter=externalId%20eq%20%22a%5Cu0000b%22";
    scim_error(scim.call("GET", filter, None), 400, Some("invalidFilter"));
    let filter = "/Users?filter=userName%20eq%20%22a%00b%22";
    scim_error(scim.call("GET", filter, None), 400, Some("invalidFilter"));
    scim_error(scim.call("GET", "/Users/abc%00def", None), 404, None);
    // A kept attribute with a NUL inside is refused as well, and nothing was created meanwhile.
    let kept = json!({"userName": "dan@example.com", "displayName": "Dan\u{0}"});
    scim_error(scim.call("POST", "/Users", Some(kept)), 400, Some("invalidValue"));
    let (s, list) = scim.call("GET", "/Users", None);
    assert_eq!((s, list["totalResults"].clone()), (200, json!(0)), "{list}");
    // The same person without the NUL goes in.
    let (s, dan) = scim.call("POST", "/Users", Some(json!({"userName": "dan@example.com", "externalId": "00u-dan"})));
    assert_eq!(s, 201, "{dan}");
}
