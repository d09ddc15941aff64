//! Sign-up, login, refresh-token rotation with reuse detection, sessions, password change.

use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::{PublicIdentity, WrappedKeyring};
use vouchsafe_crypto::kdf::KdfParams;
use zeroize::Zeroizing;

use crate::auth::{self, hash_token, new_id, new_opaque_token};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::counters;
use crate::store::sessions::{self, Refresh};
use crate::store::users::{self, Credentials};
use entity::{session, user};

/// Normalises and checks an email address (trim, lower-case, basic shape, ≤ 254 bytes).
pub fn normalize_email(email: &str) -> Result<String, ApiError> {
    let e = email.trim().to_lowercase();
    let bad = || ApiError::bad("auth.invalid_email", "not a valid email address");
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty() || domain.len() < 3 || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(e)
}

fn decode_exact<const N: usize>(field: &'static str, v: &str) -> Result<[u8; N], ApiError> {
    b64::decode_array::<N>(v).map_err(|_| {
        ApiError::bad("request.invalid_field", format!("{field}: expected {N} bytes as unpadded base64url"))
    })
}

fn validate_kdf(p: &KdfParams) -> Result<(), ApiError> {
    p.validate().map_err(|e| ApiError::bad("auth.weak_kdf_params", e.to_string()))
}

fn validate_wrapped(v: &str) -> Result<Vec<u8>, ApiError> {
    let bytes =
        b64::decode(v, 200).map_err(|_| ApiError::bad("request.invalid_field", "wrapped_keyring: not base64url"))?;
    WrappedKeyring::from_bytes(&bytes)
        .map_err(|e| ApiError::bad("request.invalid_field", format!("wrapped_keyring: {e}")))?;
    Ok(bytes)
}

/// Validates and prepares a new password (change, reset, recovery); Argon2 runs off the executor.
pub async fn new_credentials(
    state: &AppState,
    auth_key: &str,
    salt: &str,
    params: &KdfParams,
    wrapped: &str,
) -> Result<Credentials, ApiError> {
    let key = Zeroizing::new(decode_exact::<32>("new_auth_key", auth_key)?);
    let salt = decode_exact::<16>("new_kdf_salt", salt)?;
    validate_kdf(params)?;
    let wrapped = validate_wrapped(wrapped)?;
    let params = serde_json::to_string(params).map_err(|e| ApiError::Internal(e.to_string()))?;
    let verifier = argon(state, move |m| auth::hash_auth_key(m, &key[..])).await?;
    Ok(Credentials { verifier, salt, params, wrapped })
}

/// Runs Argon2 on a blocking thread, holding one of the bounded slots.
pub async fn argon<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut Vec<argon2::Block>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    state.argon.run(f).await?
}

/// Salt and parameters; stable fakes for unknown emails (HMAC of the email under a server secret),
/// after the same database lookup, so the answer's shape and timing do not reveal membership.
pub async fn prelogin(state: &AppState, email: &str) -> Result<PreloginResponse, ApiError> {
    use hmac::{KeyInit, Mac};
    let email = normalize_email(email)?;
    let found = state.store.kdf_of(&email).await?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(state.secrets.prelogin_secret.expose_secret())
        .map_err(|_| ApiError::Internal("hmac key".into()))?;
    mac.update(b"vouchsafe/prelogin-fake-salt\0");
    mac.update(email.as_bytes());
    let fake = mac.finalize().into_bytes();
    // One path for both: the stored salt and parameters or the fake ones, then the same
    // encoding and parsing, so the two answers cost the same.
    let (salt, params): (&[u8], &str) = match &found {
        Some(u) => (&u.salt, &u.params),
        None => (&fake[..16], default_kdf_json()?),
    };
    Ok(PreloginResponse {
        kdf_salt: b64::encode(salt),
        kdf_params: serde_json::from_str(params).map_err(|e| ApiError::Internal(format!("kdf params: {e}")))?,
    })
}

/// The default KDF parameters as stored (JSON), what an unknown e-mail's answer is parsed from.
fn default_kdf_json() -> Result<&'static str, ApiError> {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(j) = JSON.get() {
        return Ok(j);
    }
    let j = serde_json::to_string(&KdfParams::default()).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(JSON.get_or_init(|| j))
}

/// Creates a user. Duplicate email or id → 409 `auth.already_registered`.
pub async fn register(state: &AppState, req: RegisterRequest, now: i64) -> Result<RegisterResponse, ApiError> {
    let email = normalize_email(&req.email)?;
    let auth_key = Zeroizing::new(decode_exact::<32>("auth_key", req.auth_key.expose())?);
    let salt = decode_exact::<16>("kdf_salt", &req.kdf_salt)?;
    validate_kdf(&req.kdf_params)?;
    let pk_bytes = b64::decode(&req.public_keys, 100)
        .map_err(|_| ApiError::bad("request.invalid_field", "public_keys: not base64url"))?;
    let identity = PublicIdentity::keys_from_bytes(&req.user_id, &pk_bytes)
        .map_err(|e| ApiError::bad("request.invalid_field", format!("public_keys: {e}")))?;
    if identity.generation != 1 {
        return Err(ApiError::bad("request.invalid_field", "public_keys: a new user starts at generation 1"));
    }
    let wrapped = validate_wrapped(&req.wrapped_keyring)?;
    let already = || ApiError::conflict("auth.already_registered", "this email (or id) is already registered");
    if users::by_email(&state.db, &email).await?.is_some() {
        return Err(already());
    }
    let verifier = argon(state, move |m| auth::hash_auth_key(m, &auth_key[..])).await?;
    let row = user::Model {
        id: req.user_id.to_string(),
        email,
        auth_hash: verifier,
        kdf_salt: salt.to_vec(),
        kdf_params: serde_json::to_string(&req.kdf_params).map_err(|e| ApiError::Internal(e.to_string()))?,
        generation: 1,
        public_keys: pk_bytes,
        wrapped_keyring: wrapped,
        created_at: now,
        updated_at: now,
        reset_vetoed_at: None,
        disabled_at: None,
    };
    // A concurrent registration of the same email or id loses on the unique constraint.
    if !users::insert(&state.db, row).await? {
        return Err(already());
    }
    Ok(RegisterResponse { user_id: req.user_id.into() })
}

/// A new session's tokens: the access token and the first refresh token.
pub(crate) async fn open_session(
    state: &AppState,
    user_id: &str,
    user_agent: Option<String>,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    let sid = new_id()?;
    let expires = now + i64::try_from(state.config.session_ttl_secs).unwrap_or(30 * 24 * 3600);
    let row = session::Model {
        id: sid.clone(),
        user_id: user_id.to_owned(),
        created_at: now,
        last_used_at: now,
        expires_at: expires,
        revoked_at: None,
        revoke_reason: None,
        user_agent: user_agent.map(|u| u.chars().take(255).collect()),
    };
    let (refresh, hash) = new_opaque_token()?;
    sessions::open(&state.db, row, hash).await?;
    tokens(state, user_id, sid, &refresh, now)
}

fn tokens(state: &AppState, user_id: &str, sid: String, refresh: &str, now: i64) -> Result<TokenResponse, ApiError> {
    Ok(TokenResponse {
        access_token: state.tokens.issue(user_id, &sid, now)?.into(),
        token_type: "Bearer".into(),
        expires_in: state.tokens.ttl(),
        refresh_token: refresh.to_owned().into(),
        session_id: sid,
    })
}

/// Verifies the auth key and opens a session. Unknown email and wrong key look the same
/// (same Argon2 work, same 401). Failed attempts are counted per account in the database.
pub async fn login(
    state: &AppState,
    req: LoginRequest,
    user_agent: Option<String>,
    now: i64,
) -> Result<LoginAnswer, ApiError> {
    let invalid = || ApiError::unauthorized("auth.invalid_credentials", "email or password is wrong");
    let email = normalize_email(&req.email).map_err(|_| invalid())?;
    let auth_key = Zeroizing::new(decode_exact::<32>("auth_key", req.auth_key.expose())?);
    let found = users::by_email(&state.db, &email).await?;
    let rl = &state.config.rate_limits;
    let fail_key = auth::email_key("login-fail", &email);
    if counters::current(&state.db, &fail_key, rl.window_secs, now).await? >= i64::from(rl.login_failures_per_account) {
        return Err(ApiError::RateLimited { retry_after: auth::retry_after(rl.window_secs, now) });
    }
    let verifier = found.as_ref().map_or_else(|| state.dummy_verifier.as_str().to_owned(), |u| u.auth_hash.clone());
    let ok = argon(state, move |m| auth::verify_auth_key(m, &verifier, &auth_key[..])).await?;
    let Some(u) = found.filter(|_| ok) else {
        counters::bump(&state.db, &fail_key, rl.window_secs, now).await?;
        return Err(invalid());
    };
    // Said only to someone who knows the password.
    if u.disabled_at.is_some() {
        return Err(ApiError::Forbidden {
            code: "auth.user_disabled",
            message: "this user is disabled; ask the server's operator".into(),
        });
    }
    crate::service::mfa::after_password(state, u, user_agent, now).await
}

/// Rotates a refresh token. Presenting an already-rotated token revokes the whole session
/// (someone copied it); presenting an unknown one is a plain 401.
pub async fn refresh(state: &AppState, token: &str, now: i64) -> Result<TokenResponse, ApiError> {
    let invalid = || ApiError::unauthorized("auth.invalid_refresh_token", "invalid or expired refresh token");
    if token.len() > 64 {
        return Err(invalid());
    }
    let hash = hash_token(token);
    let st = state.clone();
    // The inner Result lets a detected reuse commit its revocation and still answer 401.
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            // Claim first (a write, so SQLite takes its write lock before any read): the token
            // is single-use even under concurrent refreshes.
            let sess = match sessions::claim_refresh(txn, hash, now).await? {
                Refresh::Unknown => return Ok(Err(invalid())),
                Refresh::Claimed(s) | Refresh::Reused(s) if !sessions::is_live(&s, now) => return Ok(Err(invalid())),
                Refresh::Reused(s) => {
                    tracing::warn!(session = %s.id, "refresh token reuse: revoking the session");
                    sessions::end(txn, &s.id, "refresh_token_reuse", now).await?;
                    return Ok(Err(ApiError::unauthorized(
                        "auth.refresh_token_reused",
                        "refresh token was already used; the session has been ended",
                    )));
                }
                Refresh::Claimed(s) => s,
            };
            let (new_token, new_hash) = new_opaque_token()?;
            sessions::rotate(txn, &sess.id, new_hash, now).await?;
            Ok(tokens(&st, &sess.user_id, sess.id, &new_token, now))
        })
    })
    .await?
}

/// Whether a session is live (not revoked, not expired) and belongs to `user_id`.
pub async fn session_is_live(state: &AppState, user_id: &str, session_id: &str, now: i64) -> Result<bool, ApiError> {
    sessions::is_live_of(&state.db, user_id, session_id, now).await
}

/// Ends the calling session.
pub async fn logout(state: &AppState, session_id: &str, now: i64) -> Result<(), ApiError> {
    sessions::end(&state.db, session_id, "logout", now).await
}

/// The user's live sessions, newest first.
pub async fn sessions(state: &AppState, user_id: &str, current: &str, now: i64) -> Result<Vec<SessionInfo>, ApiError> {
    Ok(sessions::live_of(&state.db, user_id, now)
        .await?
        .into_iter()
        .map(|s| SessionInfo {
            current: s.id == current,
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent,
        })
        .collect())
}

/// Ends one of the user's sessions; another user's session id is a 404.
pub async fn revoke_session(state: &AppState, user_id: &str, session_id: &str, now: i64) -> Result<(), ApiError> {
    match sessions::by_id(&state.db, session_id).await? {
        Some(s) if s.user_id == user_id && s.revoked_at.is_none() => {
            sessions::end(&state.db, session_id, "revoked_by_user", now).await
        }
        _ => Err(ApiError::not_found("auth.session_not_found", "no such session")),
    }
}

/// The signed-in user (a user removed meanwhile: the token is no longer good).
pub(crate) async fn signed_in(state: &AppState, user_id: &str) -> Result<user::Model, ApiError> {
    users::by_id(&state.db, user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("auth.invalid_token", "user no longer exists"))
}

/// The signed-in user.
pub async fn me(state: &AppState, user_id: &str) -> Result<MeResponse, ApiError> {
    let u = signed_in(state, user_id).await?;
    let identity = PublicIdentity::keys_from_bytes(&u.id, &u.public_keys)
        .map_err(|e| ApiError::Internal(format!("stored keys: {e}")))?;
    Ok(MeResponse {
        user_id: u.id,
        email: u.email,
        generation: identity.generation,
        public_keys: b64::encode(&u.public_keys),
        verification_code: identity.verification_code().to_string(),
        created_at: u.created_at,
    })
}

/// The signed-in user's wrapped keyring and KDF parameters.
pub async fn my_keyring(state: &AppState, user_id: &str) -> Result<KeyringResponse, ApiError> {
    keyring_of(signed_in(state, user_id).await?)
}

pub(crate) fn keyring_of(u: user::Model) -> Result<KeyringResponse, ApiError> {
    Ok(KeyringResponse {
        user_id: u.id,
        generation: u32::try_from(u.generation).map_err(|_| ApiError::Internal("stored generation".into()))?,
        public_keys: b64::encode(&u.public_keys),
        wrapped_keyring: b64::encode(&u.wrapped_keyring),
        kdf_salt: b64::encode(&u.kdf_salt),
        kdf_params: serde_json::from_str(&u.kdf_params).map_err(|e| ApiError::Internal(format!("kdf params: {e}")))?,
    })
}

/// Changes the password: needs the current auth key; stores the new verifier, salt, params and
/// re-wrapped keyring in one transaction; optionally ends every other session.
pub async fn change_password(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    req: PasswordChangeRequest,
    now: i64,
) -> Result<(), ApiError> {
    let current = Zeroizing::new(decode_exact::<32>("current_auth_key", req.current_auth_key.expose())?);
    let u = signed_in(state, user_id).await?;
    let stored = u.auth_hash.clone();
    if !argon(state, move |m| auth::verify_auth_key(m, &stored, &current[..])).await? {
        // Not a 401: the session is fine, the re-authentication failed (and `invalid_credentials`
        // stays the login's 401).
        return Err(ApiError::Forbidden {
            code: "auth.wrong_password",
            message: "the current password is wrong".into(),
        });
    }
    let new = new_credentials(
        state,
        req.new_auth_key.expose(),
        &req.new_kdf_salt,
        &req.new_kdf_params,
        &req.new_wrapped_keyring,
    )
    .await?;
    let (uid, sid, end_others) = (user_id.to_owned(), session_id.to_owned(), req.end_other_sessions);
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            users::set_credentials(txn, &uid, new, None, now).await?;
            if end_others {
                sessions::end_all(txn, &uid, Some(&sid), "password_changed", now).await?;
            }
            Ok(())
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Test, TestState, cheap_kdf, code, credentials, person, signed_up};

    fn login_req(email: &str, auth_key: &str) -> LoginRequest {
        LoginRequest { email: email.into(), auth_key: auth_key.into() }
    }

    #[actix_web::test]
    async fn a_refresh_token_works_once_and_its_replay_ends_the_session() -> Test {
        let t = TestState::new().await?;
        let (p, first) = signed_up(&t, "ann@example.com").await?;
        let second = refresh(&t.state, first.refresh_token.expose(), t.now()).await?;
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_eq!(second.session_id, first.session_id);
        assert!(session_is_live(&t.state, &p.user_id, &second.session_id, t.now()).await?);
        // The first token again: someone holds a copy; the whole session ends.
        assert_eq!(code(refresh(&t.state, first.refresh_token.expose(), t.now()).await), "auth.refresh_token_reused");
        assert!(!session_is_live(&t.state, &p.user_id, &second.session_id, t.now()).await?);
        assert_eq!(code(refresh(&t.state, second.refresh_token.expose(), t.now()).await), "auth.invalid_refresh_token");
        assert_eq!(code(refresh(&t.state, "not-a-token", t.now()).await), "auth.invalid_refresh_token");
        assert_eq!(code(refresh(&t.state, &"x".repeat(65), t.now()).await), "auth.invalid_refresh_token");
        Ok(())
    }

    #[actix_web::test]
    async fn a_session_past_its_end_cannot_be_refreshed() -> Test {
        let t = TestState::new().await?;
        let (p, tokens) = signed_up(&t, "ann@example.com").await?;
        t.clock.advance(i64::try_from(t.state.config.session_ttl_secs)? + 1);
        assert!(!session_is_live(&t.state, &p.user_id, &tokens.session_id, t.now()).await?);
        assert_eq!(code(refresh(&t.state, tokens.refresh_token.expose(), t.now()).await), "auth.invalid_refresh_token");
        Ok(())
    }

    #[actix_web::test]
    async fn unknown_email_and_wrong_key_look_the_same_and_failures_are_counted() -> Test {
        let t = TestState::new().await?;
        let (p, _) = signed_up(&t, "ann@example.com").await?;
        let wrong = b64::encode(&[7u8; 32]);
        assert_eq!(
            code(login(&t.state, login_req("nobody@example.com", &wrong), None, t.now()).await),
            "auth.invalid_credentials"
        );
        let allowed = t.state.config.rate_limits.login_failures_per_account;
        for _ in 0..allowed {
            assert_eq!(
                code(login(&t.state, login_req(&p.email, &wrong), None, t.now()).await),
                "auth.invalid_credentials"
            );
        }
        // The account's budget is spent: even the right key waits for the window.
        assert_eq!(code(login(&t.state, login_req(&p.email, &p.auth_key), None, t.now()).await), "rate_limited");
        t.clock.advance(i64::try_from(t.state.config.rate_limits.window_secs)?);
        assert_eq!(code(login(&t.state, login_req(&p.email, &p.auth_key), None, t.now()).await), "accepted");
        Ok(())
    }

    #[actix_web::test]
    async fn sign_up_refuses_a_taken_email_or_id_and_a_short_id() -> Test {
        let t = TestState::new().await?;
        let (p, _) = signed_up(&t, "ann@example.com").await?;
        let again = person("ANN@example.com ")?;
        assert_eq!(code(register(&t.state, again.registration, t.now()).await), "auth.already_registered");
        let mut same_id = person("bob@example.com")?;
        same_id.registration.user_id = Id::parse(p.user_id.as_str())?;
        // Keys name their user: the id must match them, so a copied id is refused as a field.
        assert_ne!(code(register(&t.state, same_id.registration, t.now()).await), "accepted");
        Ok(())
    }

    #[actix_web::test]
    async fn a_password_change_needs_the_current_one_and_may_end_the_other_sessions() -> Test {
        let t = TestState::new().await?;
        let (p, here) = signed_up(&t, "ann@example.com").await?;
        let elsewhere = login(&t.state, login_req(&p.email, &p.auth_key), None, t.now())
            .await?
            .session()
            .ok_or("second factor")?
            .tokens;
        let (new_auth_key, new_kdf_salt, new_wrapped_keyring) = credentials(&p.keyring, "a new long password")?;
        let change = |current: &str| PasswordChangeRequest {
            current_auth_key: current.into(),
            new_auth_key: new_auth_key.clone().into(),
            new_kdf_salt: new_kdf_salt.clone(),
            new_kdf_params: cheap_kdf(),
            new_wrapped_keyring: new_wrapped_keyring.clone(),
            end_other_sessions: true,
        };
        let wrong = b64::encode(&[1u8; 32]);
        assert_eq!(
            code(change_password(&t.state, &p.user_id, &here.session_id, change(&wrong), t.now()).await),
            "auth.wrong_password"
        );
        assert!(session_is_live(&t.state, &p.user_id, &elsewhere.session_id, t.now()).await?);
        change_password(&t.state, &p.user_id, &here.session_id, change(&p.auth_key), t.now()).await?;
        assert!(session_is_live(&t.state, &p.user_id, &here.session_id, t.now()).await?);
        assert!(!session_is_live(&t.state, &p.user_id, &elsewhere.session_id, t.now()).await?);
        assert_eq!(
            code(login(&t.state, login_req(&p.email, &p.auth_key), None, t.now()).await),
            "auth.invalid_credentials"
        );
        let k = login(&t.state, login_req(&p.email, &new_auth_key), None, t.now())
            .await?
            .session()
            .ok_or("second factor")?
            .keyring;
        assert_eq!(k.wrapped_keyring, new_wrapped_keyring);
        assert_eq!(k.kdf_salt, new_kdf_salt);
        Ok(())
    }

    #[actix_web::test]
    async fn a_member_ends_only_their_own_sessions() -> Test {
        let t = TestState::new().await?;
        let (ann, ann_s) = signed_up(&t, "ann@example.com").await?;
        let (bob, bob_s) = signed_up(&t, "bob@example.com").await?;
        assert_eq!(
            code(revoke_session(&t.state, &ann.user_id, &bob_s.session_id, t.now()).await),
            "auth.session_not_found"
        );
        assert!(session_is_live(&t.state, &bob.user_id, &bob_s.session_id, t.now()).await?);
        let listed = sessions(&t.state, &ann.user_id, &ann_s.session_id, t.now()).await?;
        assert_eq!(listed.len(), 1);
        assert!(listed[0].current);
        revoke_session(&t.state, &ann.user_id, &ann_s.session_id, t.now()).await?;
        assert!(sessions(&t.state, &ann.user_id, &ann_s.session_id, t.now()).await?.is_empty());
        assert_eq!(
            code(revoke_session(&t.state, &ann.user_id, &ann_s.session_id, t.now()).await),
            "auth.session_not_found"
        );
        Ok(())
    }

    #[actix_web::test]
    async fn prelogin_answers_an_unknown_address_like_a_known_one() -> Test {
        let t = TestState::new().await?;
        let (p, _) = signed_up(&t, "ann@example.com").await?;
        let known = prelogin(&t.state, " ANN@example.com").await?;
        assert_eq!(known.kdf_salt, p.registration.kdf_salt);
        assert_eq!(known.kdf_params, cheap_kdf());
        let unknown = prelogin(&t.state, "nobody@example.com").await?;
        // Stable for the same address (asking twice reveals nothing), different per address.
        assert_eq!(unknown.kdf_salt, prelogin(&t.state, "Nobody@Example.com").await?.kdf_salt);
        assert_ne!(unknown.kdf_salt, prelogin(&t.state, "nobody2@example.com").await?.kdf_salt);
        assert_eq!(b64::decode(&unknown.kdf_salt, 16)?.len(), 16);
        assert_eq!(unknown.kdf_params, KdfParams::default());
        // The lookup reads a neighbour row for a miss: before, between and after the users in
        // e-mail order, and a prefix of a user's address, are all misses.
        let (bob, _) = signed_up(&t, "bob@example.com").await?;
        for miss in ["aaa@example.com", "ann@example.co", "azz@example.com", "zzz@example.com"] {
            let answer = prelogin(&t.state, miss).await?;
            assert_eq!(answer.kdf_params, KdfParams::default(), "{miss}");
            assert_ne!(answer.kdf_salt, p.registration.kdf_salt, "{miss}");
            assert_ne!(answer.kdf_salt, bob.registration.kdf_salt, "{miss}");
        }
        assert_eq!(prelogin(&t.state, "bob@example.com").await?.kdf_salt, bob.registration.kdf_salt);
        Ok(())
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM ").ok().as_deref(), Some("ann@example.com"));
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "ann@.example.com", "a n@example.com"] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
