//! Recovery kits (key-preserving): storing a kit, releasing the server share after an emailed
//! token — sealed to the recovering client's ephemeral key —, guardian releases, and completion
//! (a new password for the *same* keys; the used kit is deleted).

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
use crate::service::auth::new_credentials;
use crate::state::AppState;
use crate::store::{recovery, sessions, users};
use entity::values::RecoveryState;
use entity::{guardian_share, recovery_kit, recovery_session, released_share};

/// Who released a share the server held.
const RELEASED_BY_SERVER: &str = "server";

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
    let u = users::by_id(&state.db, user_id).await?.ok_or_else(invalid)?;
    if i64::from(req.generation) != i64::from(u.generation) {
        return Err(bad("the kit must wrap the current key generation"));
    }
    let mut server_index = None;
    let mut server_blob = None;
    if let Some(s) = &req.server_share {
        let bytes = Zeroizing::new(b64::decode(s.expose(), 64).map_err(|_| bad("server_share"))?);
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
        if *g.guardian_id == *user_id || users::by_id(&state.db, &g.guardian_id).await?.is_none() {
            return Err(bad("a guardian must be another existing user"));
        }
        guardians.push(guardian_share::Model {
            user_id: user_id.to_owned(),
            idx: i32::from(g.index),
            guardian_id: g.guardian_id.to_string(),
            guardian_generation: i32::try_from(g.guardian_generation)
                .map_err(|_| bad("guardian_generation out of range"))?,
            sealed,
        });
    }
    let kit = recovery_kit::Model {
        user_id: user_id.to_owned(),
        kit_id: kit_id.to_vec(),
        threshold: i32::from(req.threshold),
        share_count: i32::from(req.share_count),
        generation: i32::try_from(req.generation).map_err(|_| bad("generation out of range"))?,
        wrapped_keyring: wrapped,
        server_share_index: server_index,
        server_share: server_blob,
        created_at: now,
    };
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move { recovery::put_kit(txn, kit, guardians).await })
    })
    .await?;
    kit_status(state, user_id).await
}

/// The caller's kit, without secrets.
pub async fn kit_status(state: &AppState, user_id: &str) -> Result<KitStatus, ApiError> {
    let Some(k) = recovery::kit(&state.db, user_id).await? else {
        return Ok(KitStatus {
            exists: false,
            threshold: 0,
            share_count: 0,
            server_share: false,
            guardians: vec![],
            created_at: 0,
        });
    };
    let gs = recovery::guardians_of(&state.db, user_id).await?;
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
    let Some(u) = users::for_links(&state.db, email).await? else {
        return Ok(());
    };
    if recovery::kit(&state.db, &u.id).await?.is_none() {
        return Ok(());
    }
    let (token, hash) = new_opaque_token()?;
    let link = format!("{}/recover#token={}", state.config.public_url, token.as_str());
    let minutes = state.config.reset_token_ttl_mins.clamp(5, 60);
    let msg = state
        .templates
        .message("recover", &[("email", &u.email), ("link", &link), ("minutes", &minutes.to_string())])?;
    let row = recovery_session::Model {
        id: new_id()?,
        user_id: u.id,
        token_hash: hash.to_vec(),
        secret_hash: None,
        ephemeral_pk: None,
        state: RecoveryState::Emailed,
        created_at: now,
        expires_at: now + i64::try_from(minutes * 60).unwrap_or(900),
    };
    let to = u.email;
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            recovery::insert_session(txn, row).await?;
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
    if req.token.expose().len() > 64 {
        return Err(invalid());
    }
    let eph = b64::decode_array::<32>(&req.ephemeral_public_key)
        .map_err(|_| ApiError::bad("request.invalid_field", "ephemeral_public_key: 32 bytes"))?;
    let (secret, secret_hash) = new_opaque_token()?;
    let hash = hash_token(req.token.expose());
    let key = share_key(state);
    let guardian_ttl = now + 7 * 24 * 3600;
    let templates = state.templates.clone();
    let link = format!("{}/guardian", state.config.public_url);
    let (sess, kit, released, guardians) = crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            let sess = recovery::open(txn, hash, secret_hash, eph, guardian_ttl, now).await?.ok_or_else(invalid)?;
            let kit = recovery::kit(txn, &sess.user_id).await?.ok_or_else(invalid)?;
            let mut released = Vec::new();
            if let (Some(blob), Some(_)) = (&kit.server_share, kit.server_share_index) {
                let kit_id: [u8; 4] =
                    kit.kit_id.as_slice().try_into().map_err(|_| ApiError::Internal("kit id".into()))?;
                let share = decrypt_server_share(&key, &sess.user_id, kit_id, blob)
                    .map_err(|e| ApiError::Internal(format!("server share: {e}")))?;
                let sealed = release_share(&share, &sess.user_id, &eph, &mut vouchsafe_crypto::os_rng())
                    .map_err(|e| ApiError::bad("request.invalid_field", format!("ephemeral_public_key: {e}")))?;
                let row = released_share::Model {
                    session_id: sess.id.clone(),
                    idx: i32::from(share.index()),
                    sealed: sealed.to_bytes(),
                    released_by: RELEASED_BY_SERVER.into(),
                    created_at: now,
                };
                recovery::release(txn, row).await?;
                released.push(ReleasedShare {
                    index: share.index(),
                    sealed: b64::encode(&sealed.to_bytes()),
                    released_by: RELEASED_BY_SERVER.into(),
                });
            }
            let guardians = recovery::guardians_of(txn, &sess.user_id).await?;
            // Tell each guardian, in the same transaction (the outbox delivers it).
            if !guardians.is_empty() {
                let owner = users::by_id(txn, &sess.user_id).await?.ok_or_else(invalid)?;
                let ids: Vec<String> = guardians.iter().map(|g| g.guardian_id.clone()).collect();
                let msg = templates.message("guardian", &[("owner", &owner.email), ("link", &link)])?;
                for g in users::by_ids(txn, ids).await? {
                    let subject = format!("{} asks for your help to recover their keys", owner.email);
                    crate::mail::enqueue(txn, &g.email, &subject, msg.clone(), now).await?;
                }
            }
            Ok((sess, kit, released, guardians))
        })
    })
    .await?;
    let second_factor = crate::store::mfa::has_any(&state.db, &sess.user_id).await?;
    Ok(RecoveryBeginResponse {
        session_id: sess.id,
        session_secret: secret.to_string().into(),
        user_id: sess.user_id,
        kit_id: b64::encode(&kit.kit_id),
        threshold: u8::try_from(kit.threshold).unwrap_or(0),
        generation: u32::try_from(kit.generation).unwrap_or(0),
        wrapped_keyring: b64::encode(&kit.wrapped_keyring),
        guardians: guardians.into_iter().map(|g| (u8::try_from(g.idx).unwrap_or(0), g.guardian_id)).collect(),
        released,
        second_factor,
    })
}

async fn open_session(state: &AppState, id: &str, secret: &str, now: i64) -> Result<recovery_session::Model, ApiError> {
    if secret.len() > 64 {
        return Err(invalid());
    }
    recovery::open_session(&state.db, id, now)
        .await?
        .filter(|s| s.secret_hash.as_deref() == Some(&hash_token(secret)[..]))
        .ok_or_else(invalid)
}

/// Shares released to a session so far.
pub async fn shares(state: &AppState, req: &RecoverySessionRequest, now: i64) -> Result<Vec<ReleasedShare>, ApiError> {
    let s = open_session(state, &req.session_id, req.session_secret.expose(), now).await?;
    let rows = recovery::released(&state.db, &s.id).await?;
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
    let held = recovery::held_by(&state.db, user_id).await?;
    let mut out = Vec::new();
    for g in held {
        let sessions = recovery::open_sessions_of(&state.db, &g.user_id, now).await?;
        let Some(owner) = users::by_id(&state.db, &g.user_id).await? else { continue };
        let Some(kit) = recovery::kit(&state.db, &g.user_id).await? else { continue };
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
    let s = recovery::open_session(&state.db, &req.session_id, now).await?.ok_or_else(invalid)?;
    recovery::guardian_share(&state.db, &s.user_id, i32::from(req.index))
        .await?
        .filter(|g| g.guardian_id == user_id)
        .ok_or_else(|| ApiError::Forbidden {
        code: "recovery.not_guardian",
        message: "you hold no share of this kit at that index".into(),
    })?;
    let row = released_share::Model {
        session_id: s.id,
        idx: i32::from(req.index),
        sealed,
        released_by: user_id.to_owned(),
        created_at: now,
    };
    if !recovery::release(&state.db, row).await? {
        return Err(ApiError::conflict("recovery.already_released", "this share was already released"));
    }
    Ok(())
}

/// Sets a new password for the recovered (same) keys: sessions ended, the kit deleted (it is
/// spent), the recovery session closed. Memberships are untouched: nothing is resealed.
pub async fn complete(state: &AppState, req: RecoveryCompleteRequest, now: i64) -> Result<(), ApiError> {
    let s = open_session(state, &req.session_id, req.session_secret.expose(), now).await?;
    let drop_factors =
        crate::service::mfa::at_recovery(state, &s.user_id, req.second_factor.as_ref(), req.lost_second_factor, now)
            .await?;
    let templates = state.templates.clone();
    let new = new_credentials(
        state,
        req.new_auth_key.expose(),
        &req.new_kdf_salt,
        &req.new_kdf_params,
        &req.new_wrapped_keyring,
    )
    .await?;
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            if !recovery::finish(txn, &s.id, &s.user_id).await? {
                return Err(invalid());
            }
            if !users::set_credentials(txn, &s.user_id, new, None, now).await? {
                return Err(invalid());
            }
            sessions::end_all(txn, &s.user_id, None, "recovered", now).await?;
            if drop_factors && let Some(u) = users::by_id(txn, &s.user_id).await? {
                crate::service::mfa::drop_after_recovery(txn, &templates, &u, now).await?;
            }
            recovery::delete_kit(txn, &s.user_id).await
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Test, TestState, cheap_kdf, code, credentials, signed_up};
    use vouchsafe_crypto::recovery::{create_kit, open_released_share};
    use vouchsafe_crypto::seal::EphemeralKey;

    /// A 2-of-2 kit of `keyring`: share 1 stays with the member (returned), share 2 goes to
    /// the server.
    fn kit_request(
        keyring: &vouchsafe_crypto::identity::Keyring,
    ) -> Result<(PutKitRequest, RecoveryShare), Box<dyn std::error::Error>> {
        let kit = create_kit(keyring, 2, 2, &mut vouchsafe_crypto::os_rng())?;
        let req = PutKitRequest {
            kit_id: b64::encode(&kit.kit_id),
            threshold: 2,
            share_count: 2,
            generation: 1,
            wrapped_keyring: b64::encode(kit.wrapped_keyring.as_bytes()),
            server_share: Some(b64::encode(&kit.shares[1].expose_bytes()).into()),
            guardians: vec![],
        };
        let mine = RecoveryShare::from_bytes(&kit.shares[0].expose_bytes())?;
        Ok((req, mine))
    }

    #[actix_web::test]
    async fn a_kit_is_checked_before_it_is_stored() -> Test {
        let t = TestState::new().await?;
        let (ann, _) = signed_up(&t, "ann@example.com").await?;
        let (good, _) = kit_request(&ann.keyring)?;
        let stale = PutKitRequest { generation: 2, ..good.clone() };
        assert_eq!(code(put_kit(&t.state, &ann.user_id, stale, t.now()).await), "recovery.invalid_kit");
        let too_many = PutKitRequest { threshold: 3, ..good.clone() };
        assert_eq!(code(put_kit(&t.state, &ann.user_id, too_many, t.now()).await), "recovery.invalid_kit");
        // A share of another kit is not this kit's server share.
        let (other, _) = kit_request(&ann.keyring)?;
        let mixed = PutKitRequest { server_share: other.server_share, ..good.clone() };
        assert_eq!(code(put_kit(&t.state, &ann.user_id, mixed, t.now()).await), "recovery.invalid_kit");
        assert!(!kit_status(&t.state, &ann.user_id).await?.exists);
        let status = put_kit(&t.state, &ann.user_id, good, t.now()).await?;
        assert!(status.exists && status.server_share);
        assert_eq!((status.threshold, status.share_count), (2, 2));
        Ok(())
    }

    #[actix_web::test]
    async fn a_recovery_link_opens_once_releases_the_server_share_to_its_key_and_completes_once() -> Test {
        let t = TestState::new().await?;
        let (ann, tokens) = signed_up(&t, "ann@example.com").await?;
        let (req, _) = kit_request(&ann.keyring)?;
        let kit_id = b64::decode_array::<4>(&req.kit_id)?;
        put_kit(&t.state, &ann.user_id, req, t.now()).await?;
        // The link's token, as the e-mail would carry it.
        let (token, hash) = new_opaque_token()?;
        let row = recovery_session::Model {
            id: new_id()?,
            user_id: ann.user_id.clone(),
            token_hash: hash.to_vec(),
            secret_hash: None,
            ephemeral_pk: None,
            state: RecoveryState::Emailed,
            created_at: t.now(),
            expires_at: t.now() + 600,
        };
        recovery::insert_session(&t.state.db, row).await?;
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw)?;
        let eph = EphemeralKey::from_bytes(raw);
        let begin_req = || RecoveryBeginRequest {
            token: token.to_string().into(),
            ephemeral_public_key: b64::encode(&eph.public()),
        };
        let opened = begin(&t.state, begin_req(), t.now()).await?;
        assert_eq!(code(begin(&t.state, begin_req(), t.now()).await), "recovery.invalid");
        let [released] = &opened.released[..] else { return Err("one share released".into()) };
        let sealed = Sealed::from_bytes(&b64::decode(&released.sealed, 2048)?)?;
        let share = open_released_share(&sealed, &ann.user_id, kit_id, released.index, &eph)?;
        assert_eq!(share.index(), 2);
        // The session's secret is what proves the client; a wrong one is refused.
        let (new_auth_key, new_kdf_salt, new_wrapped_keyring) = credentials(&ann.keyring, "a new long password")?;
        let session_id = Id::parse(opened.session_id.as_str())?;
        let complete_req = |secret: &str| RecoveryCompleteRequest {
            session_id: session_id.clone(),
            session_secret: secret.into(),
            new_auth_key: new_auth_key.clone().into(),
            new_kdf_salt: new_kdf_salt.clone(),
            new_kdf_params: cheap_kdf(),
            new_wrapped_keyring: new_wrapped_keyring.clone(),
            second_factor: None,
            lost_second_factor: false,
        };
        assert_eq!(code(complete(&t.state, complete_req("wrong"), t.now()).await), "recovery.invalid");
        complete(&t.state, complete_req(opened.session_secret.expose()), t.now()).await?;
        assert_eq!(
            code(complete(&t.state, complete_req(opened.session_secret.expose()), t.now()).await),
            "recovery.invalid"
        );
        // The kit is spent, every session ended, the new password signs in.
        assert!(!kit_status(&t.state, &ann.user_id).await?.exists);
        assert!(!crate::service::auth::session_is_live(&t.state, &ann.user_id, &tokens.session_id, t.now()).await?);
        let login = LoginRequest { email: ann.email.clone(), auth_key: new_auth_key.clone().into() };
        crate::service::auth::login(&t.state, login, None, t.now()).await?;
        Ok(())
    }

    #[actix_web::test]
    async fn only_a_guardian_of_the_index_releases_a_share() -> Test {
        let t = TestState::new().await?;
        let (ann, _) = signed_up(&t, "ann@example.com").await?;
        let (bob, _) = signed_up(&t, "bob@example.com").await?;
        let (req, _) = kit_request(&ann.keyring)?;
        put_kit(&t.state, &ann.user_id, req, t.now()).await?;
        let s = recovery_session::Model {
            id: new_id()?,
            user_id: ann.user_id.clone(),
            token_hash: new_opaque_token()?.1.to_vec(),
            secret_hash: Some(new_opaque_token()?.1.to_vec()),
            ephemeral_pk: Some(vec![9; 32]),
            state: RecoveryState::Open,
            created_at: t.now(),
            expires_at: t.now() + 600,
        };
        recovery::insert_session(&t.state.db, s.clone()).await?;
        // A well-formed seal of some share: who may release is checked first.
        let eph = EphemeralKey::from_bytes([9; 32]).public();
        let seal = release_share(&kit_request(&bob.keyring)?.1, &ann.user_id, &eph, &mut vouchsafe_crypto::os_rng())?;
        let blob = b64::encode(&seal.to_bytes());
        let release_req = ReleaseShareRequest { session_id: Id::parse(s.id.as_str())?, index: 1, sealed: blob };
        assert_eq!(code(release(&t.state, &bob.user_id, release_req, t.now()).await), "recovery.not_guardian");
        assert!(guardian_requests(&t.state, &bob.user_id, t.now()).await?.is_empty());
        Ok(())
    }
}
