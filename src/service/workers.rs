//! Backend workers: registration (public keys only), the challenge-response login that yields a
//! short-lived worker token, and the audit trail of their reads. Granting and revoking happen in
//! the team log (admin-signed entries), see [`crate::service::accounts::append`].

use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::PublicIdentity;

use crate::auth::new_id;
use crate::error::ApiError;
use crate::service::accounts::{active_admin, active_member};
use crate::state::AppState;
use crate::store::{Conn, users, workers};
use entity::values::{ActorKind, WorkerAccess, WorkerStatus};
use entity::{audit_event, worker, worker_challenge};

/// Most events an audit trail answers with.
const AUDIT_TRAIL_MAX: u64 = 1000;
/// How long a worker's login challenge may be answered.
const CHALLENGE_TTL_SECS: i64 = 120;

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
    Ok(workers::by_id(&state.db, id).await?.filter(|w| w.status == WorkerStatus::Active))
}

/// Whether `id` is a granted (active) worker.
pub async fn is_active(state: &AppState, id: &str) -> Result<bool, ApiError> {
    Ok(granted(state, id).await?.is_some())
}

/// Records an audit event.
pub async fn audit<C: Conn>(
    db: &C,
    account_id: &str,
    actor: &str,
    kind: ActorKind,
    action: &str,
    count: u64,
    now: i64,
) -> Result<(), ApiError> {
    let row = audit_event::Model {
        id: new_id()?,
        account_id: account_id.to_owned(),
        actor_id: actor.to_owned(),
        actor_kind: kind,
        action: action.to_owned(),
        item_count: i64::try_from(count).unwrap_or(i64::MAX),
        created_at: now,
    };
    workers::audit(db, row).await
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
    if users::by_id(&state.db, &req.worker_id).await?.is_some() {
        return Err(ApiError::conflict("worker.exists", "this id is taken"));
    }
    let row = worker::Model {
        id: req.worker_id.into(),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        public_keys: keys,
        access: WorkerAccess::None,
        status: WorkerStatus::Pending,
        created_by: user_id.to_owned(),
        created_at: now,
    };
    if !workers::insert(&state.db, row.clone()).await? {
        return Err(ApiError::conflict("worker.exists", "this id is taken"));
    }
    Ok(to_info(row))
}

/// Workers of an account (members).
pub async fn list(state: &AppState, account_id: &str, user_id: &str) -> Result<Vec<WorkerInfo>, ApiError> {
    active_member(&state.db, account_id, user_id).await?;
    Ok(workers::of_account(&state.db, account_id, true).await?.into_iter().map(to_info).collect())
}

/// The audit trail (admins), newest first.
pub async fn audit_trail(state: &AppState, account_id: &str, user_id: &str) -> Result<Vec<AuditEvent>, ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    // API tokens are never deleted (revoking keeps the row), so each event's token has a name.
    let names: std::collections::HashMap<String, String> =
        crate::store::tokens::of_account(&state.db, account_id).await?.into_iter().map(|t| (t.id, t.name)).collect();
    Ok(workers::audit_trail(&state.db, account_id, AUDIT_TRAIL_MAX)
        .await?
        .into_iter()
        .map(|e| AuditEvent {
            actor_name: (e.actor_kind == ActorKind::ApiToken).then(|| names.get(&e.actor_id).cloned()).flatten(),
            actor_id: e.actor_id,
            actor_kind: e.actor_kind.as_str().to_owned(),
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
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    let id = new_id()?;
    let row = worker_challenge::Model {
        id: id.clone(),
        worker_id: worker_id.to_owned(),
        nonce: nonce.to_vec(),
        expires_at: now + CHALLENGE_TTL_SECS,
        used: false,
    };
    workers::insert_challenge(&state.db, row).await?;
    Ok(WorkerChallengeResponse { challenge_id: id, nonce: b64::encode(&nonce) })
}

/// Verifies the signed challenge (once) and issues a worker token.
pub async fn token(state: &AppState, req: &WorkerTokenRequest, now: i64) -> Result<WorkerTokenResponse, ApiError> {
    let sig = b64::decode_array::<64>(&req.signature)
        .map_err(|_| ApiError::bad("request.invalid_field", "signature: 64 bytes"))?;
    let ch = workers::claim_challenge(&state.db, &req.challenge_id, now).await?.ok_or_else(auth_failed)?;
    let w = granted(state, &ch.worker_id).await?.ok_or_else(auth_failed)?;
    let identity = PublicIdentity::keys_from_bytes(&w.id, &w.public_keys)
        .map_err(|e| ApiError::Internal(format!("stored keys: {e}")))?;
    identity.verify(&worker_auth_message(&w.id, &ch.id, &ch.nonce), &sig).map_err(|_| auth_failed())?;
    Ok(WorkerTokenResponse {
        access_token: state.tokens.issue_worker(&w.id, now)?.into(),
        expires_in: state.tokens.ttl(),
        account_id: w.account_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Test, TestState, account_request, code, signed_up};
    use vouchsafe_crypto::identity::Keyring;

    fn registration(keys: &Keyring, id: &str) -> Result<RegisterWorkerRequest, InvalidId> {
        Ok(RegisterWorkerRequest {
            worker_id: Id::parse(id)?,
            name: "indexer".into(),
            public_keys: b64::encode(&keys.public().keys_to_bytes()),
        })
    }

    /// A worker registered (pending) in a fresh account of Ann's: (state, worker keys, account).
    async fn registered() -> Result<(TestState, Keyring, String, String), Box<dyn std::error::Error>> {
        let t = TestState::new().await?;
        let (ann, _) = signed_up(&t, "ann@example.com").await?;
        let (req, _) = account_request(&ann, &ann, t.now())?;
        let account_id = req.account_id.to_string();
        crate::service::accounts::create(&t.state, &ann.user_id, req, t.now()).await?;
        let id = vouchsafe_crypto::random_id();
        let keys = Keyring::generate(&id, 1, &mut vouchsafe_crypto::os_rng())?;
        register(&t.state, &account_id, &ann.user_id, registration(&keys, &id)?, t.now()).await?;
        Ok((t, keys, account_id, ann.user_id))
    }

    #[actix_web::test]
    async fn only_an_admin_registers_a_worker_under_a_free_id() -> Test {
        let (t, keys, account_id, ann) = registered().await?;
        let (bob, _) = signed_up(&t, "bob@example.com").await?;
        let other = Keyring::generate(&bob.user_id, 1, &mut vouchsafe_crypto::os_rng())?;
        // Not a member: the account does not exist for Bob.
        assert_eq!(
            code(register(&t.state, &account_id, &bob.user_id, registration(&other, &bob.user_id)?, t.now()).await),
            "account.not_found"
        );
        // A person's id is not a worker's.
        assert_eq!(
            code(register(&t.state, &account_id, &ann, registration(&other, &bob.user_id)?, t.now()).await),
            "worker.exists"
        );
        let taken = keys.public().user_id.clone();
        assert_eq!(
            code(register(&t.state, &account_id, &ann, registration(&keys, &taken)?, t.now()).await),
            "worker.exists"
        );
        let listed = list(&t.state, &account_id, &ann).await?;
        assert_eq!(
            listed.iter().map(|w| (w.status.as_str(), w.access.as_str())).collect::<Vec<_>>(),
            [("pending", "none")]
        );
        Ok(())
    }

    #[actix_web::test]
    async fn a_challenge_is_answered_once_in_time_by_a_granted_worker() -> Test {
        let (t, keys, _, _) = registered().await?;
        let id = keys.public().user_id.clone();
        let answer = |c: &WorkerChallengeResponse,
                      k: &Keyring|
         -> Result<WorkerTokenRequest, Box<dyn std::error::Error>> {
            let nonce = b64::decode(&c.nonce, 32)?;
            let sig = k.sign(&worker_auth_message(&id, &c.challenge_id, &nonce));
            Ok(WorkerTokenRequest { challenge_id: Id::parse(c.challenge_id.as_str())?, signature: b64::encode(&sig) })
        };
        // Registered is not granted.
        let c = challenge(&t.state, &id, t.now()).await?;
        assert_eq!(code(token(&t.state, &answer(&c, &keys)?, t.now()).await), "worker.auth_failed");
        workers::grant(&t.state.db, &id, WorkerAccess::Read).await?;
        assert!(is_active(&t.state, &id).await?);
        // A used challenge (even by a refused answer) is gone.
        assert_eq!(code(token(&t.state, &answer(&c, &keys)?, t.now()).await), "worker.auth_failed");
        let c = challenge(&t.state, &id, t.now()).await?;
        let impostor = Keyring::generate(&id, 1, &mut vouchsafe_crypto::os_rng())?;
        assert_eq!(code(token(&t.state, &answer(&c, &impostor)?, t.now()).await), "worker.auth_failed");
        let c = challenge(&t.state, &id, t.now()).await?;
        t.clock.advance(CHALLENGE_TTL_SECS);
        assert_eq!(code(token(&t.state, &answer(&c, &keys)?, t.now()).await), "worker.auth_failed");
        let c = challenge(&t.state, &id, t.now()).await?;
        let granted = token(&t.state, &answer(&c, &keys)?, t.now()).await?;
        assert!(!granted.access_token.expose().is_empty());
        assert_eq!(code(token(&t.state, &answer(&c, &keys)?, t.now()).await), "worker.auth_failed");
        workers::revoke(&t.state.db, &id).await?;
        let c = challenge(&t.state, &id, t.now()).await?;
        assert_eq!(code(token(&t.state, &answer(&c, &keys)?, t.now()).await), "worker.auth_failed");
        Ok(())
    }
}
