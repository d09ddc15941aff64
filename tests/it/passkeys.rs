//! Passkeys (WebAuthn) over HTTP, answered by a real WebAuthn client and software authenticator
//! (1Password's `passkey` crates, with PRF): enrolment, the login's second step, a check for a
//! removal, passkey sign-in that unlocks the keys, and the refusals — malformed JSON, another
//! origin, a replayed answer, a counter gone back, an unknown passkey. The server runs with
//! `public_url = http://localhost:8080`, the origin the authenticator signs for.

use passkey::authenticator::{
    Authenticator, CredentialStore, DiscoverabilitySupport, StoreInfo, UiHint, UserCheck, UserValidationMethod,
};
use passkey::client::{Client as WebauthnClient, DefaultClientData};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey::types::ctap2::make_credential::{Options, PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity};
use passkey::types::ctap2::{Aaguid, Ctap2Error, StatusCode};
use passkey::types::webauthn::{
    AuthenticationExtensionsPrfInputs, AuthenticationExtensionsPrfValues, CredentialCreationOptions,
    CredentialRequestOptions, PublicKeyCredentialDescriptor, ResidentKeyRequirement,
};
use passkey::types::{Bytes, Passkey};
use serde_json::Value;
use vouchsafe_client::flows::{self, LoginStep, PrfOutput};
use vouchsafe_client::types::SecondFactorProof;
use vouchsafe_client::vault::Vault;

use crate::harness::TestServer;

const PW: &str = "correct horse battery";
const ORIGIN: &str = "http://localhost:8080";

struct Touch;

#[async_trait::async_trait]
impl UserValidationMethod for Touch {
    type PasskeyItem = Passkey;
    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck { presence, verification })
    }
    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
    fn is_presence_enabled(&self) -> bool {
        true
    }
}

/// Bytes as the browser's `toJSON()` gives them: base64url without padding.
fn b64(b: &[u8]) -> String {
    passkey::types::encoding::base64url(b)
}

/// The authenticator's passkeys: found by the allowed ids, or all of the RP's when none are
/// named (a discoverable sign-in).
#[derive(Default)]
struct Store(Vec<Passkey>);

#[async_trait::async_trait]
impl CredentialStore for Store {
    type PasskeyItem = Passkey;
    async fn find_credentials(
        &self,
        ids: Option<&[PublicKeyCredentialDescriptor]>,
        rp_id: &str,
        _user_handle: Option<&[u8]>,
    ) -> Result<Vec<Passkey>, StatusCode> {
        let named: Vec<&[u8]> = ids.into_iter().flatten().map(|d| d.id.as_slice()).collect();
        let found: Vec<Passkey> = self
            .0
            .iter()
            .filter(|p| p.rp_id == rp_id && (named.is_empty() || named.contains(&p.credential_id.as_slice())))
            .cloned()
            .collect();
        if found.is_empty() { Err(Ctap2Error::NoCredentials.into()) } else { Ok(found) }
    }
    async fn save_credential(
        &mut self,
        cred: Passkey,
        _user: PublicKeyCredentialUserEntity,
        _rp: PublicKeyCredentialRpEntity,
        _options: Options,
    ) -> Result<(), StatusCode> {
        self.0.push(cred);
        Ok(())
    }
    async fn update_credential(&mut self, cred: &Passkey) -> Result<(), StatusCode> {
        for p in self.0.iter_mut().filter(|p| p.credential_id == cred.credential_id) {
            *p = cred.clone();
        }
        Ok(())
    }
    async fn get_info(&self) -> StoreInfo {
        StoreInfo { discoverability: DiscoverabilitySupport::Full }
    }
}

/// A person's authenticator (with PRF and a signature counter) behind a WebAuthn client.
struct Device {
    client: WebauthnClient<Store, Touch, RustCryptoBackend, public_suffix::PublicSuffixList, ()>,
    rt: tokio::runtime::Runtime,
}

impl Device {
    fn new() -> Self {
        let mut auth = Authenticator::new(Aaguid::new_empty(), Store::default(), Touch, RustCryptoBackend)
            .hmac_secret(passkey::authenticator::extensions::HmacSecretConfig::new_with_uv_only());
        auth.set_make_credentials_with_signature_counter(true);
        let client = WebauthnClient::new(auth).allows_insecure_localhost(true);
        Self { client, rt: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap() }
    }

    /// `navigator.credentials.create` for the server's options, asking for PRF and a
    /// discoverable credential, as the dashboard does.
    fn create(&mut self, options: &Value) -> Value {
        self.create_from(options, ORIGIN)
    }

    fn create_from(&mut self, options: &Value, origin: &str) -> Value {
        let mut o: CredentialCreationOptions = serde_json::from_value(options.clone()).unwrap();
        let sel = o.public_key.authenticator_selection.get_or_insert_with(Default::default);
        sel.resident_key = Some(ResidentKeyRequirement::Required);
        sel.require_resident_key = true;
        o.public_key.extensions.get_or_insert_with(Default::default).prf =
            Some(AuthenticationExtensionsPrfInputs { eval: None, eval_by_credential: None });
        let url = url::Url::parse(origin).unwrap();
        let cred = self.rt.block_on(self.client.register(&url, o, DefaultClientData)).unwrap();
        let r = &cred.response;
        serde_json::json!({
            "id": cred.id, "rawId": b64(&cred.raw_id), "type": "public-key",
            "response": {"clientDataJSON": b64(&r.client_data_json), "attestationObject": b64(&r.attestation_object),
                "transports": ["internal"]},
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get` from `origin`, with the PRF input: the answer and the output.
    fn get_from(&mut self, options: &Value, origin: &str) -> (Value, Option<PrfOutput>) {
        let mut o: CredentialRequestOptions = serde_json::from_value(options.clone()).unwrap();
        o.public_key.extensions.get_or_insert_with(Default::default).prf = Some(AuthenticationExtensionsPrfInputs {
            eval: Some(AuthenticationExtensionsPrfValues {
                first: Bytes::from(flows::prf_input().to_vec()),
                second: None,
            }),
            eval_by_credential: None,
        });
        let url = url::Url::parse(origin).unwrap();
        let cred = self.rt.block_on(self.client.authenticate(&url, o, DefaultClientData)).unwrap();
        let prf = cred
            .client_extension_results
            .prf
            .as_ref()
            .and_then(|p| p.results.as_ref())
            .map(|r| PrfOutput::from_slice(&r.first).unwrap());
        let r = &cred.response;
        let json = serde_json::json!({
            "id": cred.id, "rawId": b64(&cred.raw_id), "type": "public-key",
            "response": {"clientDataJSON": b64(&r.client_data_json), "authenticatorData": b64(&r.authenticator_data),
                "signature": b64(&r.signature), "userHandle": r.user_handle.as_ref().map(|h| b64(h))},
            // What a browser reports: PRF enabled, the output kept on the device.
            "clientExtensionResults": {},
        });
        (json, prf)
    }

    fn get(&mut self, options: &Value) -> (Value, Option<PrfOutput>) {
        self.get_from(options, ORIGIN)
    }

    /// Sets every stored credential's signature counter (a clone would lag behind).
    fn set_counter(&mut self, n: u32) {
        for p in self.client.authenticator_mut().store_mut().0.iter_mut() {
            p.counter = Some(n);
        }
    }
}

fn server() -> TestServer {
    TestServer::start_with(|c| c.public_url = ORIGIN.into())
}

/// Enrols a passkey for `who` that also unlocks the keys; its factor id.
fn enrol(who: &Vault, email: &str, device: &mut Device) -> String {
    let e = flows::enrol_webauthn(&who.client, email, PW, Some("Laptop")).unwrap();
    let created = device.create(&e.options);
    // The dashboard reads the PRF output with a local assertion right after creating it.
    let local = serde_json::json!({"publicKey": {"challenge": "AAAAAAAAAAAAAAAAAAAAAA", "rpId": "localhost",
        "allowCredentials": [{"type": "public-key", "id": created["rawId"]}], "userVerification": "required"}});
    let (_, prf) = device.get(&local);
    let cred_id = flows::credential_id_of(&created).unwrap();
    let wrap = flows::passkey_wrap(&who.keyring, &prf.expect("PRF output"), &cred_id).unwrap();
    let done = who.client.confirm_webauthn(&e.id, &created, Some(&wrap)).unwrap();
    assert_eq!((done.factor.kind.as_str(), done.factor.unlock), ("webauthn", true));
    done.factor.id
}

#[test]
fn a_passkey_is_a_second_factor_and_unlocks_the_keys_alone() {
    let srv = server();
    let alice = srv.user("alice@example.com");
    let mut device = Device::new();
    let id = enrol(&alice, "alice@example.com", &mut device);
    assert!(srv.outbox_mail("alice@example.com").contains("can also unlock your keys"));

    // The password alone no longer signs in; the passkey answers the login's challenge.
    let mut c = srv.client();
    let LoginStep::SecondFactor(p) = flows::begin_login(&mut c, "alice@example.com", PW).unwrap() else {
        panic!("signed in without the second factor")
    };
    assert_eq!(p.methods(), ["webauthn", "recovery_code"]);
    let ceremony = p.passkey_options(&c).unwrap();
    let (answer, _) = device.get(&ceremony.options);
    let s = p.finish(&mut c, &flows::passkey_proof(&ceremony, &answer)).unwrap();
    assert_eq!(s.keyring.public(), alice.keyring.public());
    // The same answer again (a replay) is refused: the ceremony was used.
    let LoginStep::SecondFactor(p2) = flows::begin_login(&mut c, "alice@example.com", PW).unwrap() else { panic!() };
    let replay = p2.finish(&mut c, &flows::passkey_proof(&ceremony, &answer)).unwrap_err();
    assert_eq!((replay.status(), replay.code()), (Some(403), Some("auth.second_factor_wrong")));

    // Passkey sign-in: no e-mail, no password; the keyring opens under the PRF output.
    let mut fresh = srv.client();
    let ceremony = fresh.passkey_options().unwrap();
    assert!(
        ceremony.options["publicKey"]
            .get("allowCredentials")
            .is_none_or(|a| a.as_array().is_some_and(|a| a.is_empty()))
    );
    let (answer, prf) = device.get(&ceremony.options);
    let s = flows::passkey_login(&mut fresh, &ceremony, &answer, &prf.unwrap()).unwrap();
    assert_eq!(s.keyring.public(), alice.keyring.public());
    assert!(fresh.second_factors().is_ok(), "the passkey sign-in gives a working session");

    // The PRF output never reached the server: not in the stored rows.
    let rows = srv.query("SELECT credential FROM second_factors", 1);
    assert!(rows.iter().all(|r| !r[0].contains("results")), "{rows:?}");

    // Removal needs a fresh check: a passkey answer to a check ceremony.
    let check = alice.client.webauthn_check().unwrap();
    let (answer, _) = device.get(&check.options);
    alice.client.remove_factor(&id, &flows::passkey_proof(&check, &answer)).unwrap();
    let m = srv.outbox_mail("alice@example.com");
    assert!(m.contains("The passkey =E2=80=9CLaptop=E2=80=9D was removed"), "{m}");
    // Its wrap went with it: the passkey no longer signs in.
    let ceremony = fresh.passkey_options().unwrap();
    let (answer, prf) = device.get(&ceremony.options);
    let gone = flows::passkey_login(&mut srv.client(), &ceremony, &answer, &prf.unwrap()).unwrap_err();
    assert_eq!((gone.status(), gone.code()), (Some(401), Some("auth.passkey_unknown")));
    assert_eq!(srv.query("SELECT CAST(count(*) AS TEXT) FROM second_factors WHERE prf_wrap IS NOT NULL", 1)[0][0], "0");
}

#[test]
fn passkey_answers_that_do_not_hold_are_refused_and_change_nothing() {
    let srv = server();
    let alice = srv.user("alice@example.com");
    let mut device = Device::new();
    let _id = enrol(&alice, "alice@example.com", &mut device);

    // Malformed JSON for the credential: a clear 400.
    let check = alice.client.webauthn_check().unwrap();
    let bad = SecondFactorProof {
        webauthn: Some(vouchsafe_client::types::WebauthnAssertion {
            ceremony: check.ceremony.clone(),
            credential: serde_json::json!({"id": 5, "response": "nope"}),
        }),
        ..Default::default()
    };
    let e = alice.client.new_recovery_codes(&bad).unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(400), Some("webauthn.invalid_credential")));

    // An answer made for another origin (a phishing site): refused.
    let check = alice.client.webauthn_check().unwrap();
    let (answer, _) = device.get_from(&check.options, "http://phish.localhost:8080");
    let e = alice.client.new_recovery_codes(&flows::passkey_proof(&check, &answer)).unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(403), Some("auth.passkey_refused")), "{e}");

    // A counter that went back (a cloned passkey): refused, with the reason.
    let check = alice.client.webauthn_check().unwrap();
    let (answer, _) = device.get(&check.options);
    alice.client.new_recovery_codes(&flows::passkey_proof(&check, &answer)).unwrap();
    device.set_counter(0);
    let check = alice.client.webauthn_check().unwrap();
    let (answer, _) = device.get(&check.options);
    let e = alice.client.new_recovery_codes(&flows::passkey_proof(&check, &answer)).unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(403), Some("auth.passkey_refused")));
    assert!(e.to_string().contains("counter"), "{e}");

    // An answer to one person's ceremony does not check another person's factor.
    let bob = srv.user("bob@example.com");
    let check = alice.client.webauthn_check().unwrap();
    let (answer, _) = device.get(&check.options);
    let e = bob.client.new_recovery_codes(&flows::passkey_proof(&check, &answer)).unwrap_err();
    assert_eq!(e.status(), Some(409), "bob has no factor: {e}");

    // A passkey the server does not know signs nobody in.
    let mut other = Device::new();
    let e2 = flows::enrol_webauthn(&bob.client, "bob@example.com", PW, None).unwrap();
    let _unconfirmed = other.create(&e2.options);
    let ceremony = srv.client().passkey_options().unwrap();
    let (answer, prf) = other.get(&ceremony.options);
    let e = flows::passkey_login(&mut srv.client(), &ceremony, &answer, &prf.unwrap()).unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(401), Some("auth.passkey_unknown")));

    // A confirmation with an answer to another enrolment's options: refused, nothing stored.
    let e3 = flows::enrol_webauthn(&bob.client, "bob@example.com", PW, None).unwrap();
    let e = bob.client.confirm_webauthn(&e3.id, &other.create(&e2.options), None).unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(403), Some("auth.passkey_refused")));
    assert!(bob.client.second_factors().unwrap().factors.is_empty());
    // A wrap that is no wrapped keyring: 400.
    let e4 = flows::enrol_webauthn(&bob.client, "bob@example.com", PW, None).unwrap();
    let e = bob.client.confirm_webauthn(&e4.id, &other.create(&e4.options), Some("AAAA")).unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(400), Some("request.invalid_field")));
    assert!(bob.client.second_factors().unwrap().factors.is_empty());
}

/// An answer signed for another relying party (rpIdHash of `login.example.com`) is refused,
/// even though it comes from a credential the server knows.
#[test]
fn an_answer_for_another_relying_party_is_refused() {
    let srv = server();
    let alice = srv.user("alice@example.com");
    let mut device = Device::new();
    enrol(&alice, "alice@example.com", &mut device);
    // The phishing site's own registration of the same person's authenticator.
    let mut opts = flows::enrol_webauthn(&alice.client, "alice@example.com", PW, None).unwrap().options;
    opts["publicKey"]["rp"]["id"] = "login.example.com".into();
    device.create_from(&opts, "https://login.example.com");
    let mut check = alice.client.webauthn_check().unwrap();
    check.options["publicKey"]["rpId"] = "login.example.com".into();
    check.options["publicKey"]["allowCredentials"] = serde_json::json!([]);
    let (answer, _) = device.get_from(&check.options, "https://login.example.com");
    let e = alice.client.new_recovery_codes(&flows::passkey_proof(&check, &answer)).unwrap_err();
    assert_eq!(e.status().map(|s| s / 100), Some(4), "{e}");
    assert!(matches!(e.code(), Some("auth.passkey_refused" | "auth.second_factor_wrong")), "{e}");
}

/// Hostile server: the passkey sign-in's answer carries another credential's wrap, or the
/// right wrap beside someone else's public keys. The client opens the wrap only with its own
/// passkey's PRF output and credential id, compares the keys, and keeps no session.
#[test]
fn a_passkey_sign_in_refuses_a_swapped_wrap_or_swapped_keys() {
    use crate::proxy::HostileProxy;
    let srv = server();
    let proxy = HostileProxy::start(&srv.url);
    let alice = srv.user("alice@example.com");
    let mallory = srv.user("mallory@example.com");
    let (mut laptop, mut phone) = (Device::new(), Device::new());
    enrol(&alice, "alice@example.com", &mut laptop);
    enrol(&alice, "alice@example.com", &mut phone);
    // The phone's wrap, as the server holds it (an honest sign-in fetches it).
    let ceremony = srv.client().passkey_options().unwrap();
    let (answer, _) = phone.get(&ceremony.options);
    let phone_wrap = srv.client().passkey_login(&ceremony.ceremony, &answer).unwrap().prf_wrap;
    let mallory_keys = vouchsafe_crypto::b64::encode(&mallory.keyring.public().keys_to_bytes());

    // Every field of the answer the client acts on: the wrap, the keys it must match, and the
    // user id the wrap is bound to (another person's keys, offered as alice's).
    let mallory_id = mallory.keyring.user_id().to_owned();
    for (field, value) in [("prf_wrap", phone_wrap), ("public_keys", mallory_keys), ("user_id", mallory_id)] {
        proxy.honest();
        proxy.on("POST", "/auth/passkey/login".into(), move |_, ans| {
            let mut v = ans.json();
            v[field] = value.clone().into();
            ans.set_json(&v);
        });
        let mut c = proxy.client();
        let ceremony = c.passkey_options().unwrap();
        let (answer, prf) = laptop.get(&ceremony.options);
        proxy.clear_seen();
        let e = flows::passkey_login(&mut c, &ceremony, &answer, &prf.unwrap()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("does not open") || text.contains("does not match"), "{field}: {text}");
        assert!(c.access_token().is_none(), "{field}: no session after the refusal");
        assert_eq!(proxy.seen().len(), 1, "{field}: nothing sent after the refused answer");
    }
    // Honest again: the laptop opens alice's keys.
    proxy.honest();
    let mut c = proxy.client();
    let ceremony = c.passkey_options().unwrap();
    let (answer, prf) = laptop.get(&ceremony.options);
    let s = flows::passkey_login(&mut c, &ceremony, &answer, &prf.unwrap()).unwrap();
    assert_eq!(s.keyring.public(), alice.keyring.public());
}
