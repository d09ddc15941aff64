//! Password reset by emailed token. Restores the login and creates a new key generation —
//! never the data by itself: each membership then awaits vouches (or a recovery kit).
//!
//! `request` always answers the same way at the same speed: the work runs after the response.
//! Tokens are 256-bit, stored only as SHA-256, live 15 minutes (clamped 5–60), are redeemed once,
//! atomically (`valid` → `consumed`), and come with a "this was not me" cancel token.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::PublicIdentity;
use vouchsafe_crypto::log::{EntryBody, LogEntry};

use crate::auth::{hash_token, new_id, new_opaque_token};
use crate::error::ApiError;
use crate::mail::Templates;
use crate::service::accounts::append_in;
use crate::service::auth::{end_sessions, new_credentials, normalize_email};
use crate::state::AppState;
use entity::values::{MemberRole, MembershipStatus};
use entity::{account, log_entry, membership, reset_token, user};

fn invalid() -> ApiError {
    ApiError::not_found("reset.invalid_token", "this reset link is invalid, used, cancelled or expired")
}

fn ttl_secs(state: &AppState) -> i64 {
    i64::try_from(state.config.reset_token_ttl_mins.clamp(5, 60) * 60).unwrap_or(900)
}

/// Starts a reset for `email` if it has a user (else does nothing). Runs after the 202.
pub async fn request(state: &AppState, email: &str, now: i64) -> Result<(), ApiError> {
    // A disabled user gets no links (the answer is the same 202 either way).
    let Some(u) = crate::service::auth::user_for_links(&state.db, email).await? else {
        return Ok(());
    };
    let (token, hash) = new_opaque_token()?;
    let (cancel, cancel_hash) = new_opaque_token()?;
    let minutes = state.config.reset_token_ttl_mins.clamp(5, 60).to_string();
    let link = format!("{}/reset#token={}", state.config.public_url, token.as_str());
    let cancel_link = format!("{}/reset/cancel#token={}", state.config.public_url, cancel.as_str());
    let msg = state.templates.message(
        "reset",
        &[("email", &u.email), ("link", &link), ("cancel_link", &cancel_link), ("minutes", &minutes)],
    )?;
    let uid = u.id.clone();
    let to = u.email.clone();
    let expires = now + ttl_secs(state);
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                // One live reset per user: older links stop working.
                reset_token::Entity::update_many()
                    .col_expr(reset_token::Column::State, sea_orm::sea_query::Expr::value("superseded"))
                    .filter(reset_token::Column::UserId.eq(&uid))
                    .filter(reset_token::Column::State.eq("valid"))
                    .exec(txn)
                    .await?;
                reset_token::ActiveModel {
                    id: Set(new_id()?),
                    user_id: Set(uid),
                    token_hash: Set(hash.to_vec()),
                    cancel_hash: Set(cancel_hash.to_vec()),
                    state: Set("valid".into()),
                    created_at: Set(now),
                    expires_at: Set(expires),
                    finished_at: Set(None),
                }
                .insert(txn)
                .await?;
                crate::mail::enqueue(txn, &to, "Reset your Vouchsafe password", msg, now).await
            })
        })
        .await?;
    state.mail_wakeup.notify_one();
    Ok(())
}

/// Validates a reset token without using it, and returns the log heads the client must extend.
pub async fn begin(state: &AppState, token: &str, now: i64) -> Result<ResetBeginResponse, ApiError> {
    if token.len() > 64 {
        return Err(invalid());
    }
    let t = reset_token::Entity::find()
        .filter(reset_token::Column::TokenHash.eq(hash_token(token).to_vec()))
        .one(&state.db)
        .await?
        .filter(|t| t.state == "valid" && t.expires_at > now)
        .ok_or_else(invalid)?;
    let u = user::Entity::find_by_id(t.user_id.clone()).one(&state.db).await?.ok_or_else(invalid)?;
    let ms = membership::Entity::find()
        .filter(membership::Column::UserId.eq(&u.id))
        .filter(membership::Column::Status.is_in([MembershipStatus::Active, MembershipStatus::AwaitingVouch]))
        .order_by_asc(membership::Column::AccountId)
        .all(&state.db)
        .await?;
    let mut accounts = Vec::with_capacity(ms.len());
    for m in ms {
        let last = log_entry::Entity::find()
            .filter(log_entry::Column::AccountId.eq(&m.account_id))
            .order_by_desc(log_entry::Column::Seq)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::Internal("account without a log".into()))?;
        let e = LogEntry::from_bytes(&last.entry).map_err(|e| ApiError::Internal(format!("stored entry: {e}")))?;
        accounts.push(ResetAccountHead {
            account_id: m.account_id,
            seq: e.seq,
            hash: b64::encode(&e.hash()),
            timestamp: e.timestamp,
        });
    }
    Ok(ResetBeginResponse { user_id: u.id, generation: u32::try_from(u.generation).unwrap_or(0), accounts })
}

/// Completes a reset in one transaction: token consumed, password and keys replaced (new
/// generation), every session ended, each membership awaiting vouch with a "reset announced"
/// entry signed by the new key, and emails to the member and the accounts' admins.
pub async fn complete(state: &AppState, req: ResetCompleteRequest, now: i64) -> Result<(), ApiError> {
    if req.token.len() > 64 || req.announcements.len() > 500 {
        return Err(invalid());
    }
    let keys = b64::decode(&req.new_public_keys, 100)
        .map_err(|_| ApiError::bad("request.invalid_field", "new_public_keys"))?;
    let mut announcements = Vec::with_capacity(req.announcements.len());
    for a in &req.announcements {
        let bytes = b64::decode(&a.entry, vouchsafe_crypto::log::MAX_ENTRY_LEN)
            .map_err(|e| ApiError::bad("log.malformed", e.to_string()))?;
        announcements.push((
            a.account_id.clone(),
            LogEntry::from_bytes(&bytes).map_err(|e| ApiError::bad("log.malformed", e.to_string()))?,
        ));
    }
    let new =
        new_credentials(state, &req.new_auth_key, &req.new_kdf_salt, &req.new_kdf_params, &req.new_wrapped_keyring)
            .await?;
    let hash = hash_token(&req.token).to_vec();
    let templates = state.templates.clone();
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                let claimed = reset_token::Entity::update_many()
                    .col_expr(reset_token::Column::State, sea_orm::sea_query::Expr::value("consumed"))
                    .col_expr(reset_token::Column::FinishedAt, sea_orm::sea_query::Expr::value(now))
                    .filter(reset_token::Column::TokenHash.eq(hash.clone()))
                    .filter(reset_token::Column::State.eq("valid"))
                    .filter(reset_token::Column::ExpiresAt.gt(now))
                    .exec(txn)
                    .await?;
                if claimed.rows_affected != 1 {
                    return Err(invalid());
                }
                let t = reset_token::Entity::find()
                    .filter(reset_token::Column::TokenHash.eq(hash))
                    .one(txn)
                    .await?
                    .ok_or_else(invalid)?;
                let u = user::Entity::find_by_id(t.user_id.clone()).one(txn).await?.ok_or_else(invalid)?;
                let new_identity = PublicIdentity::keys_from_bytes(&u.id, &keys)
                    .map_err(|e| ApiError::bad("request.invalid_field", format!("new_public_keys: {e}")))?;
                if i64::from(new_identity.generation) != i64::from(u.generation) + 1 {
                    return Err(ApiError::bad("reset.bad_generation", "the new keys must be the next key generation"));
                }
                // Each membership gets its announcement, checked like any other log append.
                let ms = membership::Entity::find()
                    .filter(membership::Column::UserId.eq(&u.id))
                    .filter(
                        membership::Column::Status.is_in([MembershipStatus::Active, MembershipStatus::AwaitingVouch]),
                    )
                    .all(txn)
                    .await?;
                for m in &ms {
                    let entry = announcements.iter().find(|(aid, _)| *aid == m.account_id).map(|(_, e)| e).ok_or_else(
                        || ApiError::conflict("reset.stale", "an account is missing its announcement; begin again"),
                    )?;
                    if !matches!(&entry.body, EntryBody::ResetAnnounced { new_identity: n, .. } if *n == new_identity) {
                        return Err(ApiError::bad("log.rejected", "the announcement must carry exactly the new keys"));
                    }
                    append_in(txn, &m.account_id, &u.id, std::slice::from_ref(entry), &[], &templates, now)
                        .await
                        .map_err(|e| match e {
                            ApiError::Conflict { .. } => {
                                ApiError::conflict("reset.stale", "a team log moved on; begin again")
                            }
                            other => other,
                        })?;
                }
                let mut am: user::ActiveModel = u.clone().into();
                am.auth_hash = Set(new.verifier);
                am.kdf_salt = Set(new.salt.to_vec());
                am.kdf_params = Set(new.params);
                am.generation = Set(i32::try_from(new_identity.generation).unwrap_or(i32::MAX));
                am.public_keys = Set(keys);
                am.wrapped_keyring = Set(new.wrapped);
                am.reset_vetoed_at = Set(None);
                am.updated_at = Set(now);
                am.update(txn).await?;
                end_sessions(txn, &u.id, None, "password_reset", now).await?;
                notify(txn, &u, &ms, &templates, now).await
            })
        })
        .await?;
    state.mail_wakeup.notify_one();
    Ok(())
}

async fn notify<C: ConnectionTrait>(
    txn: &C,
    u: &user::Model,
    ms: &[membership::Model],
    mail: &Templates,
    now: i64,
) -> Result<(), ApiError> {
    // The "not me" link of the reset email keeps working after completion (it vetoes reseals);
    // this notice points the member to the same action without carrying a token.
    let msg = mail.message(
        "reset_done",
        &[("email", &u.email), ("cancel_link", "the \"this was not me\" link in the reset email")],
    )?;
    crate::mail::enqueue(txn, &u.email, "Your Vouchsafe password was reset", msg, now).await?;
    for m in ms {
        let Some(a) = account::Entity::find_by_id(m.account_id.clone()).one(txn).await? else { continue };
        let admins = membership::Entity::find()
            .filter(membership::Column::AccountId.eq(&m.account_id))
            .filter(membership::Column::Role.is_in([MemberRole::Owner, MemberRole::Admin]))
            .filter(membership::Column::Status.eq(MembershipStatus::Active))
            .all(txn)
            .await?;
        for adm in admins {
            if adm.user_id == u.id {
                continue;
            }
            let Some(admin) = user::Entity::find_by_id(adm.user_id.clone()).one(txn).await? else { continue };
            let msg = mail.message("reset_admin", &[("member", &u.email), ("account", &a.name), ("waiting", "")])?;
            crate::mail::enqueue(txn, &admin.email, &format!("{} reset their Vouchsafe password", u.email), msg, now)
                .await?;
        }
    }
    Ok(())
}

/// "This was not me": cancels a valid reset, or — if it was already completed — vetoes every
/// reseal to the reset's new key (server-side; admins can also veto in the team log).
pub async fn cancel(state: &AppState, token: &str, now: i64) -> Result<(), ApiError> {
    if token.len() > 64 {
        return Err(invalid());
    }
    let t = reset_token::Entity::find()
        .filter(reset_token::Column::CancelHash.eq(hash_token(token).to_vec()))
        .one(&state.db)
        .await?
        .ok_or_else(invalid)?;
    match t.state.as_str() {
        "valid" | "superseded" => {
            reset_token::Entity::update_many()
                .col_expr(reset_token::Column::State, sea_orm::sea_query::Expr::value("cancelled"))
                .col_expr(reset_token::Column::FinishedAt, sea_orm::sea_query::Expr::value(now))
                .filter(reset_token::Column::Id.eq(&t.id))
                .exec(&state.db)
                .await?;
        }
        "consumed" => {
            user::Entity::update_many()
                .col_expr(user::Column::ResetVetoedAt, sea_orm::sea_query::Expr::value(now))
                .filter(user::Column::Id.eq(&t.user_id))
                .exec(&state.db)
                .await?;
            tracing::warn!(user = %t.user_id, "a completed reset was disowned by its member; reseals are refused");
        }
        _ => {}
    }
    Ok(())
}

/// Normalizes the email for a request, or `None` if it cannot be an address (still 202).
pub fn request_email(email: &str) -> Option<String> {
    normalize_email(email).ok()
}
