//! Members' signed checkpoints of the team log (PROTOCOL.md §5.6).
//!
//! The server keeps each member's latest checkpoint and hands every member all of them; the
//! checks that matter are the clients' (a checkpoint off their own chain is a fork). The server
//! checks what it can so that an honest server never serves a bad one: the signer is the caller
//! with their current keys, and the head is an entry of the stored log.

use vouchsafe_client::types::{CheckpointWire, PutCheckpointRequest};
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::PublicIdentity;
use vouchsafe_crypto::witness::{Checkpoint, MAX_CHECKPOINT_LEN};

use crate::error::ApiError;
use crate::service::accounts::{MAX_CLOCK_SKEW_SECS, membership_of};
use crate::state::AppState;
use crate::store::{accounts, checkpoints, users, workers};
use entity::log_checkpoint;
use entity::values::{MembershipStatus, WorkerStatus};

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad(code, message)
}

/// The caller's current public keys (a member's or a worker's).
async fn signer_keys(state: &AppState, user_id: &str) -> Result<PublicIdentity, ApiError> {
    let (id, keys) = match users::by_id(&state.db, user_id).await? {
        Some(u) => (u.id, u.public_keys),
        None => match workers::by_id(&state.db, user_id).await? {
            Some(w) => (w.id, w.public_keys),
            None => return Err(ApiError::unauthorized("auth.invalid_token", "user no longer exists")),
        },
    };
    PublicIdentity::keys_from_bytes(&id, &keys).map_err(|e| ApiError::Internal(format!("stored keys: {e}")))
}

/// Stores the caller's checkpoint of `account_id` as their latest (an older one than the stored
/// one is accepted and ignored).
pub async fn put(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    req: &PutCheckpointRequest,
    now: i64,
) -> Result<(), ApiError> {
    let m = membership_of(&state.db, account_id, user_id).await?;
    if m.status == MembershipStatus::Deprovisioned {
        return Err(ApiError::Forbidden { code: "account.forbidden", message: "your membership was removed".into() });
    }
    let bytes = b64::decode(&req.checkpoint, MAX_CHECKPOINT_LEN)
        .map_err(|e| bad("checkpoint.malformed", format!("checkpoint: {e}")))?;
    let cp = Checkpoint::from_bytes(&bytes).map_err(|e| bad("checkpoint.malformed", e.to_string()))?;
    if cp.account_id != account_id {
        return Err(bad("checkpoint.wrong_account", "the checkpoint names another account"));
    }
    if cp.user_id != user_id {
        return Err(bad("checkpoint.wrong_signer", "send your own checkpoint, signed with your keys"));
    }
    let keys = signer_keys(state, user_id).await?;
    if cp.generation != keys.generation || cp.verify(&keys).is_err() {
        return Err(bad("checkpoint.bad_signature", "the checkpoint is not signed with your current keys"));
    }
    let time = i64::try_from(cp.time).unwrap_or(i64::MAX);
    if time > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
        return Err(bad("checkpoint.future_timestamp", "checkpoint time is ahead of the server clock"));
    }
    let seq = i64::try_from(cp.head.seq).unwrap_or(i64::MAX);
    match accounts::entry_hash(&state.db, account_id, seq).await? {
        Some(h) if h == cp.head.hash => {}
        _ => {
            return Err(ApiError::conflict(
                "checkpoint.not_on_log",
                "the checkpoint's head is not an entry of this account's log",
            ));
        }
    }
    checkpoints::put(
        &state.db,
        log_checkpoint::Model {
            account_id: account_id.to_owned(),
            user_id: user_id.to_owned(),
            generation: i32::try_from(cp.generation).unwrap_or(i32::MAX),
            seq,
            signed_at: time,
            checkpoint: bytes,
            received_at: now,
        },
    )
    .await
}

/// Every member's and active worker's latest checkpoint (or none), with when the server last
/// saw them active.
pub async fn list(state: &AppState, account_id: &str, user_id: &str) -> Result<Vec<CheckpointWire>, ApiError> {
    membership_of(&state.db, account_id, user_id).await?;
    let mut ids: Vec<String> = accounts::members(&state.db, account_id)
        .await?
        .into_iter()
        .filter(|m| m.status != MembershipStatus::Deprovisioned)
        .map(|m| m.user_id)
        .collect();
    ids.extend(
        workers::of_account(&state.db, account_id, false)
            .await?
            .into_iter()
            .filter(|w| w.status == WorkerStatus::Active)
            .map(|w| w.id),
    );
    let mut stored: std::collections::HashMap<String, Vec<u8>> =
        checkpoints::of_account(&state.db, account_id).await?.into_iter().map(|c| (c.user_id, c.checkpoint)).collect();
    let active: std::collections::HashMap<String, i64> =
        checkpoints::last_active(&state.db, &ids).await?.into_iter().collect();
    Ok(ids
        .into_iter()
        .map(|id| CheckpointWire {
            checkpoint: stored.remove(&id).map(|c| b64::encode(&c)),
            last_active_at: active.get(&id).copied(),
            user_id: id,
        })
        .collect())
}
