//! API tokens: what an account's admins give provisioning clients (an HR system, an identity
//! provider's SCIM connector, a script) so they can invite and deprovision members without
//! being a person. A token is one account's, carries scopes ([`Scope`]), may expire, is stored
//! only as SHA-256, and is refused everywhere its scopes do not name — above all on items, keys,
//! the log and a person's own routes: provisioning can never give anyone a key.

use vouchsafe_client::types::*;

use crate::auth::{hash_token, new_id, new_opaque_token};
use crate::error::ApiError;
use crate::service::accounts::active_admin;
use crate::state::AppState;
use crate::store::{Conn, tokens, workers};
use entity::api_token;
use entity::values::ActorKind;

/// What every token's secret begins with, so that scanners and people recognise one.
pub const PREFIX: &str = "vst_";
const MAX_NAME: usize = 200;
const MAX_DAYS: u32 = 3650;

/// A token, resolved and checked for one request on its account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Token id.
    pub id: String,
    /// Its account.
    pub account_id: String,
    /// Its name (what the audit trail shows).
    pub name: String,
}

/// Who acts on a route a token may use: a person in a session (whose membership the service
/// checks), or a token already checked for the account and the route's scope.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    /// A person: their user id.
    Person(&'a str),
    /// An API token.
    Token(&'a Grant),
}

/// Whether a presented bearer secret is an API token (rather than an access token).
pub fn is_api_token(bearer: &str) -> bool {
    bearer.starts_with(PREFIX)
}

fn scopes_of(row: &api_token::Model) -> Vec<Scope> {
    row.scopes.split(' ').filter_map(Scope::parse).collect()
}

fn to_info(row: api_token::Model) -> ApiTokenInfo {
    ApiTokenInfo {
        scopes: scopes_of(&row),
        id: row.id,
        name: row.name,
        created_by: row.created_by,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    }
}

/// Creates a token (admins, in a person's session); its secret is in the answer only.
pub async fn create(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    req: CreateApiTokenRequest,
    now: i64,
) -> Result<CreatedApiToken, ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    let name = req.name.trim();
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::bad("token.invalid_name", "name a token in 1 to 200 bytes, without control characters"));
    }
    let mut scopes = req.scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(ApiError::bad("token.no_scope", "give the token at least one scope"));
    }
    if scopes.iter().any(|s| s.is_provider())
        && (!scopes.iter().all(|s| s.is_provider()) || !scopes.contains(&Scope::InboxDeposit))
    {
        return Err(ApiError::bad(
            "token.provider_scopes",
            "a provider's token carries inbox:deposit (and, to send plaintext, inbox:plaintext) and nothing else: \
             make another token for the rest",
        ));
    }
    let expires_at = match req.expires_in_days {
        None => None,
        Some(d) if (1..=MAX_DAYS).contains(&d) => Some(now + i64::from(d) * 86_400),
        Some(_) => return Err(ApiError::bad("token.invalid_expiry", "a token expires in 1 to 3650 days, or never")),
    };
    let (secret, _) = new_opaque_token()?;
    let token = zeroize::Zeroizing::new(format!("{PREFIX}{}", secret.as_str()));
    let row = api_token::Model {
        id: new_id()?,
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        scopes: scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
        token_hash: hash_token(&token).to_vec(),
        created_by: user_id.to_owned(),
        created_at: now,
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    tokens::insert(&state.db, row.clone()).await?;
    Ok(CreatedApiToken { token: Secret::from(token.as_str()), info: to_info(row) })
}

/// An account's tokens (admins), revoked ones included.
pub async fn list(state: &AppState, account_id: &str, user_id: &str) -> Result<Vec<ApiTokenInfo>, ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    Ok(tokens::of_account(&state.db, account_id).await?.into_iter().map(to_info).collect())
}

/// Revokes a token (admins): it stops working at once.
pub async fn revoke(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    token_id: &str,
    now: i64,
) -> Result<(), ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    if !tokens::revoke(&state.db, account_id, token_id, now).await? {
        return Err(ApiError::not_found("token.not_found", "no such live token in this account"));
    }
    Ok(())
}

/// The token a request presented, checked for `account_id` and `scope`: unknown, revoked or
/// expired → 401; another account's → the 404 of an account one is not in; without the scope
/// → 403; over its rate → 429.
pub async fn resolve(
    state: &AppState,
    presented: &str,
    account_id: &str,
    scope: Scope,
    now: i64,
) -> Result<Grant, ApiError> {
    let row = tokens::by_hash(&state.db, &hash_token(presented))
        .await?
        .ok_or_else(|| ApiError::unauthorized("auth.invalid_token", "unknown API token"))?;
    if row.revoked_at.is_some() {
        return Err(ApiError::unauthorized("auth.token_revoked", "this API token was revoked"));
    }
    if row.expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::unauthorized("auth.token_expired", "this API token has expired"));
    }
    if row.account_id != account_id {
        return Err(ApiError::not_found("account.not_found", "no such account"));
    }
    if !scopes_of(&row).contains(&scope) {
        return Err(ApiError::Forbidden {
            code: "token.scope_missing",
            message: format!("this API token lacks the scope {}", scope.as_str()),
        });
    }
    let limits = &state.config.rate_limits;
    state.limiter.hit(&format!("token:{}", row.id), limits.api_token_per_window, limits.window_secs, now)?;
    Ok(Grant { id: row.id, account_id: row.account_id, name: row.name })
}

/// Records what a token did (its last use, and an event in the account's audit trail).
pub async fn record<C: Conn>(db: &C, grant: &Grant, action: &str, count: u64, now: i64) -> Result<(), ApiError> {
    tokens::touch(db, &grant.id, now).await?;
    workers::audit(
        db,
        entity::audit_event::Model {
            id: new_id()?,
            account_id: grant.account_id.clone(),
            actor_id: grant.id.clone(),
            actor_kind: ActorKind::ApiToken,
            action: action.to_owned(),
            item_count: i64::try_from(count).unwrap_or(i64::MAX),
            created_at: now,
        },
    )
    .await
}
