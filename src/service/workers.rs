//! Backend workers: registration (public keys only), the challenge-response login that yields a
//! short-lived worker token, and the audit trail of their reads. Granting and revoking happen in
//! the team log (admin-signed entries), see [`crate::service::accounts::append`].

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::PublicIdentity;

use crate::auth::new_id;
use crate::error::ApiError;
use crate::service::accounts::{active_admin, active_member};
use crate::state::AppState;
use entity::values::{WorkerAccess, WorkerStatus};
use entity::{audit_event, user, worker, worker_challenge};

fn to_info(w: worker::Model) -> WorkerInfo {
    WorkerInfo {
        id: w.id,
        name: w.name,
        access: w.access.as_str().to_owned(),
        status: w.status.as_str().to_owned(),
        public_keys: b64::encode(&w.public_keys),
        created_by: w.created_by,
        created_at: w.created_at,
    }
}

/// The worker `id` if it is granted (active).
async fn granted(state: &AppState, id: &str) -> Result<Option<worker::Model>, ApiError> {
    Ok(worker::Entity::find_by_id(id.to_owned()).one(&state.db).await?.filter(|w| w.status == WorkerStatus::Active))
}

/// Whether `id` is a granted (active) worker.
pub async fn is_active(state: &AppState, id: &str) -> Result<bool, ApiError> {
    Ok(granted(state, id).await?.is_some())
}

/// Records an audit event.
pub async fn audit<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    actor: &str,
    kind: &str,
    action: &str,
    count: u64,
    now: i64,
) -> Result<(), ApiError> {
    audit_event::ActiveModel {
        id: Set(new_id()?),
        account_id: Set(account_id.to_owned()),
        actor_id: Set(actor.to_owned()),
        actor_kind: Set(kind.to_owned()),
        action: Set(action.to_owned()),
        item_count: Set(i64::try_from(count).unwrap_or(i64::MAX)),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Registers a worker's public keys (admins). It reads nothing until granted in the log.
pub async fn register(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    req: RegisterWorkerRequest,
    now: i64,
) -> Result<WorkerInfo, ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    if req.worker_id.len() < 16 {
        return Err(ApiError::bad("request.invalid_id", "worker ids are random ids of 16 to 64 characters"));
    }
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::bad("worker.invalid_name", "name must be 1 to 200 characters"));
    }
    let keys = b64::decode(&req.public_keys, 100).map_err(|_| ApiError::bad("request.invalid_field", "public_keys"))?;
    let identity = PublicIdentity::keys_from_bytes(&req.worker_id, &keys)
        .map_err(|e| ApiError::bad("request.invalid_field", format!("public_keys: {e}")))?;
    if identity.generation != 1 {
        return Err(ApiError::bad("request.invalid_field", "worker keys are generation 1"));
    }
    if user::Entity::find_by_id(req.worker_id.clone()).one(&state.db).await?.is_some() {
        return Err(ApiError::conflict("worker.exists", "this id is taken"));
    }
    let row = worker::Model {
        id: req.worker_id,
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        public_keys: keys,
        access: WorkerAccess::None,
        status: WorkerStatus::Pending,
        created_by: user_id.to_owned(),
        created_at: now,
    };
    match worker::ActiveModel::from(row.clone()).insert(&state.db).await {
        Ok(_) => Ok(to_info(row)),
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            Err(ApiError::conflict("worker.exists", "this id is taken"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Workers of an account (members).
pub async fn list(state: &AppState, account_id: &str, user_id: &str) -> Result<Vec<WorkerInfo>, ApiError> {
    active_member(&state.db, account_id, user_id).await?;
    Ok(worker::Entity::find()
        .filter(worker::Column::AccountId.eq(account_id))
        .order_by_asc(worker::Column::CreatedAt)
        .all(&state.db)
        .await?
        .into_iter()
        .map(to_info)
        .collect())
}

/// The audit trail (admins), newest first.
pub async fn audit_trail(state: &AppState, account_id: &str, user_id: &str) -> Result<Vec<AuditEvent>, ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    Ok(audit_event::Entity::find()
        .filter(audit_event::Column::AccountId.eq(account_id))
        .order_by_desc(audit_event::Column::CreatedAt)
        .limit(1000)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|e| AuditEvent {
            actor_id: e.actor_id,
            actor_kind: e.actor_kind,
            action: e.action,
            item_count: u64::try_from(e.item_count).unwrap_or(0),
            created_at: e.created_at,
        })
        .collect())
}

fn auth_failed() -> ApiError {
    ApiError::unauthorized("worker.auth_failed", "unknown or revoked worker, or a bad signature")
}

/// A single-use challenge (an unknown worker gets one too, so the answer reveals nothing).
pub async fn challenge(state: &AppState, worker_id: &str, now: i64) -> Result<WorkerChallengeResponse, ApiError> {
    vouchsafe_crypto::validate_id(worker_id).map_err(|e| ApiError::bad("request.invalid_id", e.to_string()))?;
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    let id = new_id()?;
    worker_challenge::ActiveModel {
        id: Set(id.clone()),
        worker_id: Set(worker_id.to_owned()),
        nonce: Set(nonce.to_vec()),
        expires_at: Set(now + 120),
        used: Set(false),
    }
    .insert(&state.db)
    .await?;
    Ok(WorkerChallengeResponse { challenge_id: id, nonce: b64::encode(&nonce) })
}

/// Verifies the signed challenge (once) and issues a worker token.
pub async fn token(state: &AppState, req: &WorkerTokenRequest, now: i64) -> Result<WorkerTokenResponse, ApiError> {
    let sig = b64::decode_array::<64>(&req.signature)
        .map_err(|_| ApiError::bad("request.invalid_field", "signature: 64 bytes"))?;
    let claimed = worker_challenge::Entity::update_many()
        .col_expr(worker_challenge::Column::Used, sea_orm::sea_query::Expr::value(true))
        .filter(worker_challenge::Column::Id.eq(&req.challenge_id))
        .filter(worker_challenge::Column::Used.eq(false))
        .filter(worker_challenge::Column::ExpiresAt.gt(now))
        .exec(&state.db)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(auth_failed());
    }
    let ch =
        worker_challenge::Entity::find_by_id(req.challenge_id.clone()).one(&state.db).await?.ok_or_else(auth_failed)?;
    let w = worker::Entity::find_by_id(ch.worker_id.clone())
        .one(&state.db)
        .await?
        .filter(|w| w.status == WorkerStatus::Active)
        .ok_or_else(auth_failed)?;
    let identity = PublicIdentity::keys_from_bytes(&w.id, &w.public_keys)
        .map_err(|e| ApiError::Internal(format!("stored keys: {e}")))?;
    identity.verify(&worker_auth_message(&w.id, &ch.id, &ch.nonce), &sig).map_err(|_| auth_failed())?;
    Ok(WorkerTokenResponse {
        access_token: state.tokens.issue_worker(&w.id, now)?,
        expires_in: state.tokens.ttl(),
        account_id: w.account_id,
    })
}
