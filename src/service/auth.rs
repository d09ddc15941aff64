//! Sign-up, login, refresh-token rotation with reuse detection, sessions, password change.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::{PublicIdentity, WrappedKeyring};
use vouchsafe_crypto::kdf::KdfParams;
use zeroize::Zeroizing;

use crate::auth::{self, hash_token, new_id, new_opaque_token};
use crate::error::ApiError;
use crate::state::AppState;
use entity::{refresh_token, session, user};

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

/// The user an e-mailed link (reset, recovery) may go to: one with this address who is not
/// disabled.
pub async fn user_for_links<C: ConnectionTrait>(db: &C, email: &str) -> Result<Option<user::Model>, ApiError> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .filter(user::Column::DisabledAt.is_null())
        .one(db)
        .await?)
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

/// A new password's server-side material, validated: verifier (Argon2id of the auth key), salt,
/// KDF parameters (JSON) and the keyring wrapped under the new KEK.
pub struct NewCredentials {
    /// PHC verifier.
    pub verifier: String,
    /// KDF salt.
    pub salt: [u8; 16],
    /// KDF parameters as stored.
    pub params: String,
    /// Wrapped keyring.
    pub wrapped: Vec<u8>,
}

/// Validates and prepares a new password (change, reset, recovery); Argon2 runs off the executor.
pub async fn new_credentials(
    state: &AppState,
    auth_key: &str,
    salt: &str,
    params: &KdfParams,
    wrapped: &str,
) -> Result<NewCredentials, ApiError> {
    let key = Zeroizing::new(decode_exact::<32>("new_auth_key", auth_key)?);
    let salt = decode_exact::<16>("new_kdf_salt", salt)?;
    validate_kdf(params)?;
    let wrapped = validate_wrapped(wrapped)?;
    let params = serde_json::to_string(params).map_err(|e| ApiError::Internal(e.to_string()))?;
    let verifier = argon(state, move |m| auth::hash_auth_key(m, &key[..])).await?;
    Ok(NewCredentials { verifier, salt, params, wrapped })
}

/// Ends every live session of a user (except `keep`), recording why.
pub async fn end_sessions<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    keep: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<(), ApiError> {
    let mut q = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(session::Column::RevokeReason, sea_orm::sea_query::Expr::value(reason))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(k) = keep {
        q = q.filter(session::Column::Id.ne(k));
    }
    q.exec(db).await?;
    Ok(())
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
    Ok(match found {
        Some(u) => PreloginResponse {
            kdf_salt: b64::encode(&u.salt),
            kdf_params: serde_json::from_str(&u.params).map_err(|e| ApiError::Internal(format!("kdf params: {e}")))?,
        },
        None => PreloginResponse { kdf_salt: b64::encode(&fake[..16]), kdf_params: KdfParams::default() },
    })
}

/// Creates a user. Duplicate email or id → 409 `auth.already_registered`.
pub async fn register(state: &AppState, req: RegisterRequest, now: i64) -> Result<RegisterResponse, ApiError> {
    let email = normalize_email(&req.email)?;
    if req.user_id.len() < 16 {
        return Err(ApiError::bad("auth.invalid_user_id", "user_id must be a random id of 16 to 64 characters"));
    }
    vouchsafe_crypto::validate_id(&req.user_id).map_err(|e| ApiError::bad("auth.invalid_user_id", e.to_string()))?;
    let auth_key = Zeroizing::new(decode_exact::<32>("auth_key", &req.auth_key)?);
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
    if user::Entity::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?.is_some() {
        return Err(already());
    }
    let verifier = argon(state, move |m| auth::hash_auth_key(m, &auth_key[..])).await?;
    let model = user::ActiveModel {
        id: Set(req.user_id.clone()),
        email: Set(email),
        auth_hash: Set(verifier),
        kdf_salt: Set(salt.to_vec()),
        kdf_params: Set(serde_json::to_string(&req.kdf_params).map_err(|e| ApiError::Internal(e.to_string()))?),
        generation: Set(1),
        public_keys: Set(pk_bytes),
        wrapped_keyring: Set(wrapped),
        created_at: Set(now),
        updated_at: Set(now),
        reset_vetoed_at: Set(None),
        disabled_at: Set(None),
    };
    // A concurrent registration of the same email or id loses on the unique constraint.
    match model.insert(&state.db).await {
        Ok(_) => Ok(RegisterResponse { user_id: req.user_id }),
        Err(e) if is_unique_violation(&e) => Err(already()),
        Err(e) => Err(e.into()),
    }
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

async fn create_session<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    user_id: &str,
    user_agent: Option<String>,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    let sid = new_id()?;
    let expires = now + i64::try_from(state.config.session_ttl_secs).unwrap_or(30 * 24 * 3600);
    session::ActiveModel {
        id: Set(sid.clone()),
        user_id: Set(user_id.to_owned()),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(expires),
        revoked_at: Set(None),
        revoke_reason: Set(None),
        user_agent: Set(user_agent.map(|u| u.chars().take(255).collect())),
    }
    .insert(db)
    .await?;
    let (refresh, hash) = new_opaque_token()?;
    refresh_token::ActiveModel {
        token_hash: Set(hash.to_vec()),
        session_id: Set(sid.clone()),
        created_at: Set(now),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(TokenResponse {
        access_token: state.tokens.issue(user_id, &sid, now)?,
        token_type: "Bearer".into(),
        expires_in: state.tokens.ttl(),
        refresh_token: refresh.to_string(),
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
) -> Result<LoginResponse, ApiError> {
    let invalid = || ApiError::unauthorized("auth.invalid_credentials", "email or password is wrong");
    let email = normalize_email(&req.email).map_err(|_| invalid())?;
    let auth_key = Zeroizing::new(decode_exact::<32>("auth_key", &req.auth_key)?);
    let found = user::Entity::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?;
    let rl = &state.config.rate_limits;
    let fail_key = auth::email_key("login-fail", &email);
    if auth::current_count(&state.db, &fail_key, rl.window_secs, now).await? >= i64::from(rl.login_failures_per_account)
    {
        return Err(ApiError::RateLimited { retry_after: auth::retry_after(rl.window_secs, now) });
    }
    let verifier = found.as_ref().map_or_else(|| state.dummy_verifier.as_str().to_owned(), |u| u.auth_hash.clone());
    let ok = argon(state, move |m| auth::verify_auth_key(m, &verifier, &auth_key[..])).await?;
    let Some(u) = found.filter(|_| ok) else {
        auth::bump(&state.db, &fail_key, rl.window_secs, now).await?;
        return Err(invalid());
    };
    // Said only to someone who knows the password.
    if u.disabled_at.is_some() {
        return Err(ApiError::Forbidden {
            code: "auth.user_disabled",
            message: "this user is disabled; ask the server's operator".into(),
        });
    }
    let tokens = create_session(&state.db, state, &u.id, user_agent, now).await?;
    Ok(LoginResponse { tokens, keyring: keyring_of(u)? })
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
    state
        .db
        .transaction::<_, Result<TokenResponse, ApiError>, ApiError>(move |txn| {
            Box::pin(async move {
                // Claim first (a write, so SQLite takes its write lock before any read): the
                // token is single-use even under concurrent refreshes.
                let claimed = refresh_token::Entity::update_many()
                    .col_expr(refresh_token::Column::UsedAt, sea_orm::sea_query::Expr::value(now))
                    .filter(refresh_token::Column::TokenHash.eq(hash.to_vec()))
                    .filter(refresh_token::Column::UsedAt.is_null())
                    .exec(txn)
                    .await?;
                let Some(rt) = refresh_token::Entity::find_by_id(hash.to_vec()).one(txn).await? else {
                    return Ok(Err(invalid()));
                };
                let Some(sess) = session::Entity::find_by_id(rt.session_id.clone()).one(txn).await? else {
                    return Ok(Err(invalid()));
                };
                if sess.revoked_at.is_some() || sess.expires_at <= now {
                    return Ok(Err(invalid()));
                }
                if claimed.rows_affected != 1 {
                    tracing::warn!(session = %sess.id, "refresh token reuse: revoking the session");
                    revoke(txn, &sess.id, "refresh_token_reuse", now).await?;
                    return Ok(Err(ApiError::unauthorized(
                        "auth.refresh_token_reused",
                        "refresh token was already used; the session has been ended",
                    )));
                }
                let (new_token, new_hash) = new_opaque_token()?;
                refresh_token::ActiveModel {
                    token_hash: Set(new_hash.to_vec()),
                    session_id: Set(sess.id.clone()),
                    created_at: Set(now),
                    used_at: Set(None),
                }
                .insert(txn)
                .await?;
                let mut s: session::ActiveModel = sess.clone().into();
                s.last_used_at = Set(now);
                s.update(txn).await?;
                Ok(Ok(TokenResponse {
                    access_token: st.tokens.issue(&sess.user_id, &sess.id, now)?,
                    token_type: "Bearer".into(),
                    expires_in: st.tokens.ttl(),
                    refresh_token: new_token.to_string(),
                    session_id: sess.id,
                }))
            })
        })
        .await?
}

async fn revoke<C: ConnectionTrait>(db: &C, session_id: &str, reason: &str, now: i64) -> Result<(), ApiError> {
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(session::Column::RevokeReason, sea_orm::sea_query::Expr::value(reason))
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Whether a session is live (not revoked, not expired) and belongs to `user_id`.
pub async fn session_is_live(state: &AppState, user_id: &str, session_id: &str, now: i64) -> Result<bool, ApiError> {
    Ok(session::Entity::find().filter(live_session(user_id, session_id, now)).one(&state.db).await?.is_some())
}

/// What makes a session live — this user's, not revoked, not expired — as a condition on the
/// sessions table, behind [`session_is_live`]; the item store states the same in SQL
/// (`crate::store::items`).
pub fn live_session(user_id: &str, session_id: &str, now: i64) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(session::Column::Id.eq(session_id))
        .add(session::Column::UserId.eq(user_id))
        .add(session::Column::RevokedAt.is_null())
        .add(session::Column::ExpiresAt.gt(now))
}

/// Ends the calling session.
pub async fn logout(state: &AppState, session_id: &str, now: i64) -> Result<(), ApiError> {
    revoke(&state.db, session_id, "logout", now).await
}

/// The user's live sessions, newest first.
pub async fn sessions(state: &AppState, user_id: &str, current: &str, now: i64) -> Result<Vec<SessionInfo>, ApiError> {
    let rows = session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::CreatedAt)
        .order_by_asc(session::Column::Id)
        .all(&state.db)
        .await?;
    Ok(rows
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
    let found = session::Entity::find_by_id(session_id.to_owned()).one(&state.db).await?;
    match found {
        Some(s) if s.user_id == user_id && s.revoked_at.is_none() => {
            revoke(&state.db, session_id, "revoked_by_user", now).await
        }
        _ => Err(ApiError::not_found("auth.session_not_found", "no such session")),
    }
}

/// The signed-in user.
pub async fn me(state: &AppState, user_id: &str) -> Result<MeResponse, ApiError> {
    let u = user::Entity::find_by_id(user_id.to_owned())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::unauthorized("auth.invalid_token", "user no longer exists"))?;
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
    let u = user::Entity::find_by_id(user_id.to_owned())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::unauthorized("auth.invalid_token", "user no longer exists"))?;
    keyring_of(u)
}

fn keyring_of(u: user::Model) -> Result<KeyringResponse, ApiError> {
    Ok(KeyringResponse {
        user_id: u.id,
        generation: u32::try_from(u.generation).unwrap_or(0),
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
    let current = Zeroizing::new(decode_exact::<32>("current_auth_key", &req.current_auth_key)?);
    let u = user::Entity::find_by_id(user_id.to_owned())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::unauthorized("auth.invalid_token", "user no longer exists"))?;
    let stored = u.auth_hash.clone();
    if !argon(state, move |m| auth::verify_auth_key(m, &stored, &current[..])).await? {
        // Not a 401: the session is fine, the re-authentication failed (and `invalid_credentials`
        // stays the login's 401).
        return Err(ApiError::Forbidden {
            code: "auth.wrong_password",
            message: "the current password is wrong".into(),
        });
    }
    let new =
        new_credentials(state, &req.new_auth_key, &req.new_kdf_salt, &req.new_kdf_params, &req.new_wrapped_keyring)
            .await?;
    let (uid, sid, end_others) = (user_id.to_owned(), session_id.to_owned(), req.end_other_sessions);
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                let mut m: user::ActiveModel = u.into();
                m.auth_hash = Set(new.verifier);
                m.kdf_salt = Set(new.salt.to_vec());
                m.kdf_params = Set(new.params);
                m.wrapped_keyring = Set(new.wrapped);
                m.updated_at = Set(now);
                m.update(txn).await?;
                if end_others {
                    end_sessions(txn, &uid, Some(&sid), "password_changed", now).await?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(())
}
