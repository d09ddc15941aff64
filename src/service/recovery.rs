//! Recovery kits (key-preserving): storing a kit, releasing the server share after an emailed
//! token — sealed to the recovering client's ephemeral key —, guardian releases, and completion
//! (a new password for the *same* keys; the used kit is deleted).

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::WrappedKeyring;
use vouchsafe_crypto::recovery::{
    RecoveryShare, ServerShareKey, decrypt_server_share, encrypt_server_share, release_share,
};
use vouchsafe_crypto::seal::Sealed;
use zeroize::Zeroizing;

use crate::auth::{hash_token, new_id, new_opaque_token};
use crate::error::ApiError;
use crate::service::auth::{end_sessions, new_credentials};
use crate::state::AppState;
use entity::{guardian_share, recovery_kit, recovery_session, released_share, user};

fn invalid() -> ApiError {
    ApiError::not_found("recovery.invalid", "this recovery link or session is invalid, used or expired")
}

fn share_key(state: &AppState) -> ServerShareKey {
    ServerShareKey::from_bytes(*state.secrets.server_share_key.expose_secret())
}

/// Stores (replaces) the caller's kit. The server share is validated and encrypted at rest.
pub async fn put_kit(state: &AppState, user_id: &str, req: PutKitRequest, now: i64) -> Result<KitStatus, ApiError> {
    let bad = |m: &str| ApiError::bad("recovery.invalid_kit", m.to_owned());
    let kit_id = b64::decode_array::<4>(&req.kit_id).map_err(|_| bad("kit_id: 4 bytes"))?;
    if req.threshold == 0 || req.threshold > req.share_count || req.share_count > vouchsafe_crypto::recovery::MAX_SHARES
    {
        return Err(bad("need 1 <= threshold <= share_count <= 16"));
    }
    let wrapped = b64::decode(&req.wrapped_keyring, 200).map_err(|_| bad("wrapped_keyring"))?;
    WrappedKeyring::from_bytes(&wrapped).map_err(|e| bad(&format!("wrapped_keyring: {e}")))?;
    let u = user::Entity::find_by_id(user_id.to_owned()).one(&state.db).await?.ok_or_else(invalid)?;
    if i64::from(req.generation) != i64::from(u.generation) {
        return Err(bad("the kit must wrap the current key generation"));
    }
    let mut server_index = None;
    let mut server_blob = None;
    if let Some(s) = &req.server_share {
        let bytes = Zeroizing::new(b64::decode(s, 64).map_err(|_| bad("server_share"))?);
        let share = RecoveryShare::from_bytes(&bytes).map_err(|e| bad(&format!("server_share: {e}")))?;
        if share.kit_id() != kit_id || share.threshold() != req.threshold || share.index() > req.share_count {
            return Err(bad("server_share does not belong to this kit"));
        }
        if req.threshold == 1 {
            return Err(bad("a 1-of-n kit must not give the server a share (it would be the whole secret)"));
        }
        server_index = Some(i32::from(share.index()));
        server_blob = Some(
            encrypt_server_share(&share_key(state), user_id, &share, &mut vouchsafe_crypto::os_rng())
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        );
    }
    let mut guardians = Vec::new();
    for g in &req.guardians {
        let sealed = b64::decode(&g.sealed, 2048).map_err(|_| bad("guardian sealed share"))?;
        Sealed::from_bytes(&sealed).map_err(|e| bad(&format!("guardian sealed share: {e}")))?;
        if g.index == 0 || g.index > req.share_count || Some(i32::from(g.index)) == server_index {
            return Err(bad("guardian share index"));
        }
        vouchsafe_crypto::validate_id(&g.guardian_id).map_err(|e| bad(&e.to_string()))?;
        if g.guardian_id == user_id || user::Entity::find_by_id(g.guardian_id.clone()).one(&state.db).await?.is_none() {
            return Err(bad("a guardian must be another existing user"));
        }
        guardians.push(guardian_share::ActiveModel {
            user_id: Set(user_id.to_owned()),
            idx: Set(i32::from(g.index)),
            guardian_id: Set(g.guardian_id.clone()),
            guardian_generation: Set(i32::try_from(g.guardian_generation).unwrap_or(i32::MAX)),
            sealed: Set(sealed),
        });
    }
    let uid = user_id.to_owned();
    let kit = recovery_kit::ActiveModel {
        user_id: Set(uid.clone()),
        kit_id: Set(kit_id.to_vec()),
        threshold: Set(i32::from(req.threshold)),
        share_count: Set(i32::from(req.share_count)),
        generation: Set(i32::try_from(req.generation).unwrap_or(i32::MAX)),
        wrapped_keyring: Set(wrapped),
        server_share_index: Set(server_index),
        server_share: Set(server_blob),
        created_at: Set(now),
    };
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                guardian_share::Entity::delete_many().filter(guardian_share::Column::UserId.eq(&uid)).exec(txn).await?;
                recovery_kit::Entity::delete_by_id(uid.clone()).exec(txn).await?;
                kit.insert(txn).await?;
                for g in guardians {
                    g.insert(txn).await?;
                }
                Ok(())
            })
        })
        .await?;
    kit_status(state, user_id).await
}

/// The caller's kit, without secrets.
pub async fn kit_status(state: &AppState, user_id: &str) -> Result<KitStatus, ApiError> {
    let Some(k) = recovery_kit::Entity::find_by_id(user_id.to_owned()).one(&state.db).await? else {
        return Ok(KitStatus {
            exists: false,
            threshold: 0,
            share_count: 0,
            server_share: false,
            guardians: vec![],
            created_at: 0,
        });
    };
    let gs = guardian_share::Entity::find().filter(guardian_share::Column::UserId.eq(user_id)).all(&state.db).await?;
    Ok(KitStatus {
        exists: true,
        threshold: u8::try_from(k.threshold).unwrap_or(0),
        share_count: u8::try_from(k.share_count).unwrap_or(0),
        server_share: k.server_share.is_some(),
        guardians: gs.into_iter().map(|g| g.guardian_id).collect(),
        created_at: k.created_at,
    })
}

/// Emails a recovery link if the email has a user with a kit. Runs after the 202.
pub async fn request(state: &AppState, email: &str, now: i64) -> Result<(), ApiError> {
    // A disabled user gets no links (the answer is the same 202 either way).
    let Some(u) = crate::service::auth::user_for_links(&state.db, email).await? else {
        return Ok(());
    };
    if recovery_kit::Entity::find_by_id(u.id.clone()).one(&state.db).await?.is_none() {
        return Ok(());
    }
    let (token, hash) = new_opaque_token()?;
    let link = format!("{}/recover#token={}", state.config.public_url, token.as_str());
    let minutes = state.config.reset_token_ttl_mins.clamp(5, 60);
    let msg = state
        .templates
        .message("recover", &[("email", &u.email), ("link", &link), ("minutes", &minutes.to_string())])?;
    let row = recovery_session::ActiveModel {
        id: Set(new_id()?),
        user_id: Set(u.id.clone()),
        token_hash: Set(hash.to_vec()),
        secret_hash: Set(None),
        ephemeral_pk: Set(None),
        state: Set("emailed".into()),
        created_at: Set(now),
        expires_at: Set(now + i64::try_from(minutes * 60).unwrap_or(900)),
    };
    let to = u.email.clone();
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                row.insert(txn).await?;
                crate::mail::enqueue(txn, &to, "Recover your Vouchsafe keys", msg, now).await
            })
        })
        .await?;
    state.mail_wakeup.notify_one();
    Ok(())
}

/// Redeems the emailed token (once): opens a session bound to the client's ephemeral key and
/// releases the server share sealed to that key. The link itself carries no share.
pub async fn begin(state: &AppState, req: RecoveryBeginRequest, now: i64) -> Result<RecoveryBeginResponse, ApiError> {
    if req.token.len() > 64 {
        return Err(invalid());
    }
    let eph = b64::decode_array::<32>(&req.ephemeral_public_key)
        .map_err(|_| ApiError::bad("request.invalid_field", "ephemeral_public_key: 32 bytes"))?;
    let (secret, secret_hash) = new_opaque_token()?;
    let hash = hash_token(&req.token).to_vec();
    let key = share_key(state);
    let guardian_ttl = now + 7 * 24 * 3600;
    let templates = state.templates.clone();
    let link = format!("{}/guardian", state.config.public_url);
    let (sess, kit, released, guardians) = state
        .db
        .transaction::<_, _, ApiError>(move |txn| {
            Box::pin(async move {
                let claimed = recovery_session::Entity::update_many()
                    .col_expr(recovery_session::Column::State, sea_orm::sea_query::Expr::value("open"))
                    .col_expr(
                        recovery_session::Column::SecretHash,
                        sea_orm::sea_query::Expr::value(secret_hash.to_vec()),
                    )
                    .col_expr(recovery_session::Column::EphemeralPk, sea_orm::sea_query::Expr::value(eph.to_vec()))
                    .col_expr(recovery_session::Column::ExpiresAt, sea_orm::sea_query::Expr::value(guardian_ttl))
                    .filter(recovery_session::Column::TokenHash.eq(hash.clone()))
                    .filter(recovery_session::Column::State.eq("emailed"))
                    .filter(recovery_session::Column::ExpiresAt.gt(now))
                    .exec(txn)
                    .await?;
                if claimed.rows_affected != 1 {
                    return Err(invalid());
                }
                let sess = recovery_session::Entity::find()
                    .filter(recovery_session::Column::TokenHash.eq(hash))
                    .one(txn)
                    .await?
                    .ok_or_else(invalid)?;
                let kit = recovery_kit::Entity::find_by_id(sess.user_id.clone()).one(txn).await?.ok_or_else(invalid)?;
                let mut released = Vec::new();
                if let (Some(blob), Some(_)) = (&kit.server_share, kit.server_share_index) {
                    let kit_id: [u8; 4] =
                        kit.kit_id.as_slice().try_into().map_err(|_| ApiError::Internal("kit id".into()))?;
                    let share = decrypt_server_share(&key, &sess.user_id, kit_id, blob)
                        .map_err(|e| ApiError::Internal(format!("server share: {e}")))?;
                    let sealed = release_share(&share, &sess.user_id, &eph, &mut vouchsafe_crypto::os_rng())
                        .map_err(|e| ApiError::bad("request.invalid_field", format!("ephemeral_public_key: {e}")))?;
                    released_share::ActiveModel {
                        session_id: Set(sess.id.clone()),
                        idx: Set(i32::from(share.index())),
                        sealed: Set(sealed.to_bytes()),
                        released_by: Set("server".into()),
                        created_at: Set(now),
                    }
                    .insert(txn)
                    .await?;
                    released.push(ReleasedShare {
                        index: share.index(),
                        sealed: b64::encode(&sealed.to_bytes()),
                        released_by: "server".into(),
                    });
                }
                let guardians = guardian_share::Entity::find()
                    .filter(guardian_share::Column::UserId.eq(&sess.user_id))
                    .all(txn)
                    .await?;
                // Tell each guardian, in the same transaction (the outbox delivers it).
                if !guardians.is_empty() {
                    let owner = user::Entity::find_by_id(sess.user_id.clone()).one(txn).await?.ok_or_else(invalid)?;
                    let ids: Vec<String> = guardians.iter().map(|g| g.guardian_id.clone()).collect();
                    let msg = templates.message("guardian", &[("owner", &owner.email), ("link", &link)])?;
                    for g in user::Entity::find().filter(user::Column::Id.is_in(ids)).all(txn).await? {
                        let subject = format!("{} asks for your help to recover their keys", owner.email);
                        crate::mail::enqueue(txn, &g.email, &subject, msg.clone(), now).await?;
                    }
                }
                Ok((sess, kit, released, guardians))
            })
        })
        .await?;
    Ok(RecoveryBeginResponse {
        session_id: sess.id,
        session_secret: secret.to_string(),
        user_id: sess.user_id,
        kit_id: b64::encode(&kit.kit_id),
        threshold: u8::try_from(kit.threshold).unwrap_or(0),
        generation: u32::try_from(kit.generation).unwrap_or(0),
        wrapped_keyring: b64::encode(&kit.wrapped_keyring),
        guardians: guardians.into_iter().map(|g| (u8::try_from(g.idx).unwrap_or(0), g.guardian_id)).collect(),
        released,
    })
}

async fn open_session(state: &AppState, id: &str, secret: &str, now: i64) -> Result<recovery_session::Model, ApiError> {
    if secret.len() > 64 {
        return Err(invalid());
    }
    recovery_session::Entity::find_by_id(id.to_owned())
        .one(&state.db)
        .await?
        .filter(|s| {
            s.state == "open" && s.expires_at > now && s.secret_hash.as_deref() == Some(&hash_token(secret)[..])
        })
        .ok_or_else(invalid)
}

/// Shares released to a session so far.
pub async fn shares(state: &AppState, req: &RecoverySessionRequest, now: i64) -> Result<Vec<ReleasedShare>, ApiError> {
    let s = open_session(state, &req.session_id, &req.session_secret, now).await?;
    let rows =
        released_share::Entity::find().filter(released_share::Column::SessionId.eq(&s.id)).all(&state.db).await?;
    Ok(rows
        .into_iter()
        .map(|r| ReleasedShare {
            index: u8::try_from(r.idx).unwrap_or(0),
            sealed: b64::encode(&r.sealed),
            released_by: r.released_by,
        })
        .collect())
}

/// Open recoveries for which the caller holds a guardian share.
pub async fn guardian_requests(state: &AppState, user_id: &str, now: i64) -> Result<Vec<GuardianRequest>, ApiError> {
    let held =
        guardian_share::Entity::find().filter(guardian_share::Column::GuardianId.eq(user_id)).all(&state.db).await?;
    let mut out = Vec::new();
    for g in held {
        let sessions = recovery_session::Entity::find()
            .filter(recovery_session::Column::UserId.eq(&g.user_id))
            .filter(recovery_session::Column::State.eq("open"))
            .filter(recovery_session::Column::ExpiresAt.gt(now))
            .all(&state.db)
            .await?;
        let Some(owner) = user::Entity::find_by_id(g.user_id.clone()).one(&state.db).await? else { continue };
        let Some(kit) = recovery_kit::Entity::find_by_id(g.user_id.clone()).one(&state.db).await? else { continue };
        for s in sessions {
            out.push(GuardianRequest {
                session_id: s.id,
                owner_id: owner.id.clone(),
                owner_email: owner.email.clone(),
                owner_public_keys: b64::encode(&owner.public_keys),
                kit_id: b64::encode(&kit.kit_id),
                index: u8::try_from(g.idx).unwrap_or(0),
                sealed: b64::encode(&g.sealed),
                ephemeral_public_key: b64::encode(s.ephemeral_pk.as_deref().unwrap_or_default()),
            });
        }
    }
    Ok(out)
}

/// A guardian releases their share (sealed to the session's ephemeral key).
pub async fn release(state: &AppState, user_id: &str, req: ReleaseShareRequest, now: i64) -> Result<(), ApiError> {
    let sealed = b64::decode(&req.sealed, 2048).map_err(|_| ApiError::bad("request.invalid_field", "sealed"))?;
    Sealed::from_bytes(&sealed).map_err(|e| ApiError::bad("request.invalid_field", format!("sealed: {e}")))?;
    let s = recovery_session::Entity::find_by_id(req.session_id.clone())
        .one(&state.db)
        .await?
        .filter(|s| s.state == "open" && s.expires_at > now)
        .ok_or_else(invalid)?;
    guardian_share::Entity::find_by_id((s.user_id.clone(), i32::from(req.index)))
        .one(&state.db)
        .await?
        .filter(|g| g.guardian_id == user_id)
        .ok_or_else(|| ApiError::Forbidden {
            code: "recovery.not_guardian",
            message: "you hold no share of this kit at that index".into(),
        })?;
    let row = released_share::ActiveModel {
        session_id: Set(s.id),
        idx: Set(i32::from(req.index)),
        sealed: Set(sealed),
        released_by: Set(user_id.to_owned()),
        created_at: Set(now),
    };
    match row.insert(&state.db).await {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            Err(ApiError::conflict("recovery.already_released", "this share was already released"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Sets a new password for the recovered (same) keys: sessions ended, the kit deleted (it is
/// spent), the recovery session closed. Memberships are untouched: nothing is resealed.
pub async fn complete(state: &AppState, req: RecoveryCompleteRequest, now: i64) -> Result<(), ApiError> {
    let s = open_session(state, &req.session_id, &req.session_secret, now).await?;
    let new =
        new_credentials(state, &req.new_auth_key, &req.new_kdf_salt, &req.new_kdf_params, &req.new_wrapped_keyring)
            .await?;
    let sid = s.id.clone();
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                let claimed = recovery_session::Entity::update_many()
                    .col_expr(recovery_session::Column::State, sea_orm::sea_query::Expr::value("done"))
                    .filter(recovery_session::Column::Id.eq(&sid))
                    .filter(recovery_session::Column::State.eq("open"))
                    .exec(txn)
                    .await?;
                if claimed.rows_affected != 1 {
                    return Err(invalid());
                }
                let u = user::Entity::find_by_id(s.user_id.clone()).one(txn).await?.ok_or_else(invalid)?;
                let mut am: user::ActiveModel = u.into();
                am.auth_hash = Set(new.verifier);
                am.kdf_salt = Set(new.salt.to_vec());
                am.kdf_params = Set(new.params);
                am.wrapped_keyring = Set(new.wrapped);
                am.updated_at = Set(now);
                am.update(txn).await?;
                end_sessions(txn, &s.user_id, None, "recovered", now).await?;
                guardian_share::Entity::delete_many()
                    .filter(guardian_share::Column::UserId.eq(&s.user_id))
                    .exec(txn)
                    .await?;
                recovery_kit::Entity::delete_by_id(s.user_id.clone()).exec(txn).await?;
                // Other open sessions of this kit are dead too.
                recovery_session::Entity::update_many()
                    .col_expr(recovery_session::Column::State, sea_orm::sea_query::Expr::value("done"))
                    .filter(recovery_session::Column::UserId.eq(&s.user_id))
                    .filter(recovery_session::Column::State.is_in(["emailed", "open"]))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await?;
    Ok(())
}
