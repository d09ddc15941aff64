//! WebAuthn: passkeys and security keys as second factors, and passkey sign-in that unlocks the
//! keys (the PRF extension, PROTOCOL §2 purpose 3).
//!
//! The relying party is `public_url` (its host is the RP id, its origin the only origin
//! allowed). Attestation, assertion, user verification (required) and the signature counter are
//! checked by `webauthn-rs`; this module keeps its ceremony states server-side (in
//! `webauthn_ceremonies`, single use, short-lived, only a hash of the token kept) and the
//! credentials in `second_factors`. The PRF output never reaches the server: the client wraps
//! the keyring under it and the server stores the wrap, handing it out only after an assertion
//! of that very credential.

use std::sync::Arc;

use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::WrappedKeyring;
use webauthn_rs::prelude::*;

use crate::auth::{hash_token, new_opaque_token};
use crate::error::ApiError;
use crate::service::auth::{keyring_of, open_session};
use crate::state::AppState;
use crate::store::{mfa, users};
use entity::{second_factor, webauthn_ceremony};

/// Seconds a ceremony stays good (the browser's own timeout is 5 minutes).
pub const CEREMONY_TTL: i64 = 300;
/// A ceremony that checks a person's factor (at a login, a removal, a reset).
const FACTOR: &str = "factor";
/// A passkey sign-in (the passkey says who it is).
const UNLOCK: &str = "unlock";

/// The relying party for `public_url`, or none where passkeys cannot work (an IP address).
pub fn relying_party(public_url: &str) -> Option<Arc<Webauthn>> {
    let origin = Url::parse(public_url).ok()?;
    let host = origin.domain()?.to_owned();
    match WebauthnBuilder::new(&host, &origin).and_then(|b| b.rp_name("Vouchsafe").build()) {
        Ok(w) => Some(Arc::new(w)),
        Err(e) => {
            tracing::warn!(error = %e, "passkeys are off: public_url names no host WebAuthn accepts");
            None
        }
    }
}

fn rp(state: &AppState) -> Result<&Webauthn, ApiError> {
    state.webauthn.as_deref().ok_or_else(|| {
        ApiError::conflict(
            "webauthn.unavailable",
            "passkeys need the server's public_url to name a host (like localhost or vault.example.com), not an IP address",
        )
    })
}

/// The WebAuthn user handle of a person: 16 bytes of a hash of their id (no other use).
pub fn user_handle(user_id: &str) -> Uuid {
    use sha2::Digest;
    let h = sha2::Sha256::new().chain_update(b"vouchsafe/v1/webauthn-user\0").chain_update(user_id).finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    Uuid::from_bytes(b)
}

fn internal(what: &str) -> impl Fn(serde_json::Error) -> ApiError + '_ {
    move |e| ApiError::Internal(format!("{what}: {e}"))
}

fn bad_credential(e: serde_json::Error) -> ApiError {
    ApiError::bad("webauthn.invalid_credential", format!("credential: not a WebAuthn credential as JSON ({e})"))
}

/// A refusal by the WebAuthn checks, saying which (no secret is in these messages).
fn refused(e: &WebauthnError) -> ApiError {
    let why = match e {
        WebauthnError::InvalidRPOrigin | WebauthnError::InvalidRPIDHash => {
            "it was made for another site (origin or RP id)".to_owned()
        }
        WebauthnError::MismatchedChallenge => "it answers another challenge".to_owned(),
        WebauthnError::CredentialPossibleCompromise => {
            "its signature counter went back: the passkey may have been cloned".to_owned()
        }
        WebauthnError::UserNotVerified => "the authenticator did not verify the user (PIN or biometrics)".to_owned(),
        other => other.to_string(),
    };
    ApiError::Forbidden { code: "auth.passkey_refused", message: format!("the passkey's answer was refused: {why}") }
}

fn passkey_of(f: &second_factor::Model) -> Result<Passkey, ApiError> {
    let c = f.credential.as_deref().ok_or_else(|| ApiError::Internal("a passkey without its credential".into()))?;
    serde_json::from_str(c).map_err(internal("stored passkey"))
}

async fn passkeys_of(state: &AppState, user_id: &str) -> Result<Vec<(second_factor::Model, Passkey)>, ApiError> {
    let mut out = Vec::new();
    for f in mfa::confirmed(&state.db, user_id).await?.into_iter().filter(|f| f.kind == "webauthn") {
        let p = passkey_of(&f)?;
        out.push((f, p));
    }
    Ok(out)
}

/// Starts a passkey enrolment (the password was checked again by the caller).
pub async fn enrol(
    state: &AppState,
    u: &entity::user::Model,
    name: String,
    id: String,
    now: i64,
) -> Result<(second_factor::Model, WebauthnEnrolment), ApiError> {
    let w = rp(state)?;
    let exclude: Vec<CredentialID> =
        passkeys_of(state, &u.id).await?.iter().map(|(_, p)| p.cred_id().clone()).collect();
    let (ccr, reg) = w
        .start_passkey_registration(user_handle(&u.id), &u.email, &u.email, Some(exclude))
        .map_err(|e| ApiError::Internal(format!("webauthn registration: {e}")))?;
    let row = second_factor::Model {
        id: id.clone(),
        user_id: u.id.clone(),
        kind: "webauthn".into(),
        name,
        secret: Vec::new(),
        last_step: 0,
        confirmed_at: None,
        created_at: now,
        last_used_at: None,
        credential: None,
        credential_id: None,
        prf_wrap: None,
        pending: Some(serde_json::to_string(&reg).map_err(internal("registration state"))?),
    };
    let options = serde_json::to_value(&ccr).map_err(internal("registration options"))?;
    Ok((row, WebauthnEnrolment { id, options, expires_in: 0 }))
}

/// Checks an enrolment's answer and stores the credential (and its PRF wrap): false when the
/// enrolment was confirmed or removed meanwhile.
pub async fn confirm(
    state: &AppState,
    f: &second_factor::Model,
    credential: &serde_json::Value,
    prf_wrap: Option<&str>,
    now: i64,
) -> Result<bool, ApiError> {
    let w = rp(state)?;
    let wrap = prf_wrap
        .map(|s| {
            b64::decode(s, 200).ok().and_then(|b| WrappedKeyring::from_bytes(&b).ok()).ok_or_else(|| {
                ApiError::bad("request.invalid_field", "prf_wrap: expected a wrapped keyring (105 bytes) as base64url")
            })
        })
        .transpose()?;
    let reg: RegisterPublicKeyCredential = serde_json::from_value(credential.clone()).map_err(bad_credential)?;
    let pending = f.pending.as_deref().ok_or_else(|| ApiError::Internal("an enrolment without its state".into()))?;
    let state_: PasskeyRegistration = serde_json::from_str(pending).map_err(internal("registration state"))?;
    let passkey = w.finish_passkey_registration(&reg, &state_).map_err(|e| refused(&e))?;
    let cred_id = passkey.cred_id().to_vec();
    if mfa::by_credential(&state.db, &cred_id).await?.is_some() {
        return Err(ApiError::conflict("auth.passkey_taken", "this passkey is registered already"));
    }
    let json = serde_json::to_string(&passkey).map_err(internal("passkey"))?;
    mfa::confirm_credential(&state.db, &f.id, json, cred_id, wrap.map(|w| w.as_bytes().to_vec()), now).await
}

async fn ceremony(
    state: &AppState,
    user_id: Option<&str>,
    purpose: &str,
    st: String,
    mut options: serde_json::Value,
    now: i64,
) -> Result<WebauthnCeremony, ApiError> {
    let (token, hash) = new_opaque_token()?;
    let row = webauthn_ceremony::Model {
        token_hash: hash.to_vec(),
        user_id: user_id.map(str::to_owned),
        purpose: purpose.to_owned(),
        state: st,
        created_at: now,
        expires_at: now + CEREMONY_TTL,
        used_at: None,
    };
    mfa::add_ceremony(&state.db, row, now).await?;
    // A modal request, not the autofill ("conditional") one the library sets for discovery.
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    Ok(WebauthnCeremony { ceremony: Secret::from(token.to_string()), options, expires_in: CEREMONY_TTL })
}

/// A ceremony that checks one of the person's passkeys (a login's second step, a removal, new
/// recovery codes, a reset).
pub async fn begin_check(state: &AppState, user_id: &str, now: i64) -> Result<WebauthnCeremony, ApiError> {
    let w = rp(state)?;
    let keys: Vec<Passkey> = passkeys_of(state, user_id).await?.into_iter().map(|(_, p)| p).collect();
    if keys.is_empty() {
        return Err(ApiError::conflict("auth.no_passkey", "no passkey is set up as a second factor"));
    }
    let (rcr, st) = w.start_passkey_authentication(&keys).map_err(|e| ApiError::Internal(format!("webauthn: {e}")))?;
    let st = serde_json::to_string(&st).map_err(internal("authentication state"))?;
    let options = serde_json::to_value(&rcr).map_err(internal("authentication options"))?;
    ceremony(state, Some(user_id), FACTOR, st, options, now).await
}

/// Checks a passkey's answer to a check ceremony of `user_id`: `Ok(false)` for a wrong answer
/// (counted by the caller), the refusal's reason in `Err` for one the checks refused.
pub async fn check(state: &AppState, user_id: &str, a: &WebauthnAssertion, now: i64) -> Result<(), ApiError> {
    let w = rp(state)?;
    let cred: PublicKeyCredential = serde_json::from_value(a.credential.clone()).map_err(bad_credential)?;
    let gone = || ApiError::Forbidden {
        code: "auth.second_factor_wrong",
        message: "this passkey check expired or was answered already; try again".into(),
    };
    if a.ceremony.expose().len() > 64 {
        return Err(gone());
    }
    let row = mfa::claim_ceremony(&state.db, hash_token(a.ceremony.expose()), FACTOR, now)
        .await?
        .filter(|c| c.user_id.as_deref() == Some(user_id))
        .ok_or_else(gone)?;
    let st: PasskeyAuthentication = serde_json::from_str(&row.state).map_err(internal("authentication state"))?;
    let f = mfa::by_credential(&state.db, cred.get_credential_id())
        .await?
        .filter(|f| f.user_id == user_id)
        .ok_or_else(|| ApiError::Forbidden {
            code: "auth.second_factor_wrong",
            message: "this passkey is not one of your second factors".into(),
        })?;
    let result = w.finish_passkey_authentication(&cred, &st).map_err(|e| refused(&e))?;
    used(state, &f, &result, now).await
}

async fn used(state: &AppState, f: &second_factor::Model, r: &AuthenticationResult, now: i64) -> Result<(), ApiError> {
    let mut p = passkey_of(f)?;
    let changed = p.update_credential(r) == Some(true);
    let json = if changed { Some(serde_json::to_string(&p).map_err(internal("passkey"))?) } else { None };
    mfa::used_credential(&state.db, &f.id, json, now).await
}

/// `POST /auth/passkey/options`: a sign-in ceremony for any passkey that unlocks the keys.
pub async fn begin_unlock(state: &AppState, now: i64) -> Result<WebauthnCeremony, ApiError> {
    let w = rp(state)?;
    let (rcr, st) = w.start_discoverable_authentication().map_err(|e| ApiError::Internal(format!("webauthn: {e}")))?;
    let st = serde_json::to_string(&st).map_err(internal("authentication state"))?;
    let options = serde_json::to_value(&rcr).map_err(internal("authentication options"))?;
    ceremony(state, None, UNLOCK, st, options, now).await
}

/// `POST /auth/passkey/login`: the passkey's answer → a session, the keyring and its PRF wrap.
pub async fn finish_unlock(
    state: &AppState,
    a: WebauthnAssertion,
    user_agent: Option<String>,
    now: i64,
) -> Result<PasskeyLoginResponse, ApiError> {
    let w = rp(state)?;
    let cred: PublicKeyCredential = serde_json::from_value(a.credential).map_err(bad_credential)?;
    let gone =
        || ApiError::unauthorized("auth.challenge_invalid", "this passkey sign-in expired or was used; try again");
    if a.ceremony.expose().len() > 64 {
        return Err(gone());
    }
    let row = mfa::claim_ceremony(&state.db, hash_token(a.ceremony.expose()), UNLOCK, now).await?.ok_or_else(gone)?;
    let st: DiscoverableAuthentication = serde_json::from_str(&row.state).map_err(internal("authentication state"))?;
    let unknown = || {
        ApiError::unauthorized(
            "auth.passkey_unknown",
            "this passkey does not unlock a Vouchsafe login here; sign in with the password",
        )
    };
    let (handle, cred_id) = w.identify_discoverable_authentication(&cred).map_err(|_| unknown())?;
    let f = mfa::by_credential(&state.db, cred_id).await?.ok_or_else(unknown)?;
    let wrap = f.prf_wrap.clone().ok_or_else(unknown)?;
    if handle != user_handle(&f.user_id) {
        return Err(unknown());
    }
    let key = passkey_of(&f)?;
    let result = w.finish_discoverable_authentication_v2(&cred, st, &key).map_err(|e| {
        let ApiError::Forbidden { code, message } = refused(&e) else { return unknown() };
        ApiError::unauthorized(code, message)
    })?;
    let u = users::by_id(&state.db, &f.user_id).await?.ok_or_else(unknown)?;
    if u.disabled_at.is_some() {
        return Err(ApiError::Forbidden {
            code: "auth.user_disabled",
            message: "this user is disabled; ask the server's operator".into(),
        });
    }
    used(state, &f, &result, now).await?;
    let tokens = open_session(state, &u.id, user_agent, now).await?;
    Ok(PasskeyLoginResponse {
        session: LoginResponse { tokens, keyring: keyring_of(u)? },
        factor_id: f.id,
        prf_wrap: b64::encode(&wrap),
    })
}
