//! Password reset by emailed token. Restores the login and creates a new key generation —
//! never the data by itself: each membership then awaits vouches (or a recovery kit).
//!
//! `request` always answers the same way at the same speed: the work runs after the response.
//! Tokens are 256-bit, stored only as SHA-256, live 15 minutes (clamped 5–60), are redeemed once,
//! atomically (`valid` → `consumed`), and come with a "this was not me" cancel token.

use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::PublicIdentity;
use vouchsafe_crypto::log::{EntryBody, LogEntry};

use crate::auth::{hash_token, new_id, new_opaque_token};
use crate::error::ApiError;
use crate::mail::Templates;
use crate::service::accounts::{Clock, append_in};
use crate::service::auth::{new_credentials, normalize_email};
use crate::state::AppState;
use crate::store::users::NewKeys;
use crate::store::{Conn, accounts, resets, sessions, users};
use entity::values::{MembershipStatus, ResetState};
use entity::{membership, reset_token, user};

/// The memberships a reset concerns: those that hold (or await) the keys.
fn concerned(m: &membership::Model) -> bool {
    matches!(m.status, MembershipStatus::Active | MembershipStatus::AwaitingVouch)
}

fn invalid() -> ApiError {
    ApiError::not_found("reset.invalid_token", "this reset link is invalid, used, cancelled or expired")
}

fn ttl_secs(state: &AppState) -> i64 {
    i64::try_from(state.config.reset_token_ttl_mins.clamp(5, 60) * 60).unwrap_or(900)
}

/// Starts a reset for `email` if it has a user (else does nothing). Runs after the 202.
pub async fn request(state: &AppState, email: &str, now: i64) -> Result<(), ApiError> {
    // A disabled user gets no links (the answer is the same 202 either way).
    let Some(u) = users::for_links(&state.db, email).await? else {
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
    let row = reset_token::Model {
        id: new_id()?,
        user_id: u.id,
        token_hash: hash.to_vec(),
        cancel_hash: cancel_hash.to_vec(),
        state: ResetState::Valid,
        created_at: now,
        expires_at: now + ttl_secs(state),
        finished_at: None,
    };
    let to = u.email;
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            // One live reset per user: older links stop working.
            resets::start(txn, row).await?;
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
    let t = resets::usable(&state.db, hash_token(token), now).await?.ok_or_else(invalid)?;
    let u = users::by_id(&state.db, &t.user_id).await?.ok_or_else(invalid)?;
    let ms: Vec<_> = accounts::memberships_of_user(&state.db, &u.id).await?.into_iter().filter(concerned).collect();
    let mut accounts = Vec::with_capacity(ms.len());
    for m in ms {
        let last = accounts::head(&state.db, &m.account_id)
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
    let generation = u32::try_from(u.generation).map_err(|_| ApiError::Internal("stored generation".into()))?;
    let second_factor = crate::store::mfa::has_any(&state.db, &u.id).await?;
    Ok(ResetBeginResponse { user_id: u.id, generation, accounts, second_factor })
}

/// Completes a reset in one transaction: token consumed, password and keys replaced (new
/// generation), every session ended, each membership awaiting vouch with a "reset announced"
/// entry signed by the new key, and emails to the member and the accounts' admins.
pub async fn complete(state: &AppState, req: ResetCompleteRequest, now: i64) -> Result<(), ApiError> {
    if req.token.expose().len() > 64 || req.announcements.len() > 500 {
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
    let new = new_credentials(
        state,
        req.new_auth_key.expose(),
        &req.new_kdf_salt,
        &req.new_kdf_params,
        &req.new_wrapped_keyring,
    )
    .await?;
    let hash = hash_token(req.token.expose());
    // The second factor, checked before the token is used (a wrong code leaves the link good).
    let holder = resets::usable(&state.db, hash, now).await?.ok_or_else(invalid)?;
    let drop_factors = crate::service::mfa::at_recovery(
        state,
        &holder.user_id,
        req.second_factor.as_ref(),
        req.lost_second_factor,
        now,
    )
    .await?;
    let templates = state.templates.clone();
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            let t = resets::consume(txn, hash, now).await?.ok_or_else(invalid)?;
            let u = users::by_id(txn, &t.user_id).await?.ok_or_else(invalid)?;
            if drop_factors {
                crate::service::mfa::drop_after_recovery(txn, &templates, &u, now).await?;
            }
            let new_identity = PublicIdentity::keys_from_bytes(&u.id, &keys)
                .map_err(|e| ApiError::bad("request.invalid_field", format!("new_public_keys: {e}")))?;
            if i64::from(new_identity.generation) != i64::from(u.generation) + 1 {
                return Err(ApiError::bad("reset.bad_generation", "the new keys must be the next key generation"));
            }
            // Each membership gets its announcement, checked like any other log append.
            let ms: Vec<_> = accounts::memberships_of_user(txn, &u.id).await?.into_iter().filter(concerned).collect();
            for m in &ms {
                let entry =
                    announcements.iter().find(|(aid, _)| *aid == m.account_id).map(|(_, e)| e).ok_or_else(|| {
                        ApiError::conflict("reset.stale", "an account is missing its announcement; begin again")
                    })?;
                if !matches!(&entry.body, EntryBody::ResetAnnounced { new_identity: n, .. } if *n == new_identity) {
                    return Err(ApiError::bad("log.rejected", "the announcement must carry exactly the new keys"));
                }
                append_in(txn, &m.account_id, &u.id, std::slice::from_ref(entry), &[], &templates, now, Clock::Checked)
                    .await
                    .map_err(|e| match e {
                        ApiError::Conflict { .. } => {
                            ApiError::conflict("reset.stale", "a team log moved on; begin again")
                        }
                        other => other,
                    })?;
            }
            let generation = new_identity.generation;
            users::set_credentials(txn, &u.id, new, Some(NewKeys { generation, public_keys: keys }), now).await?;
            // The keys are new: a passkey's wrap of the old keyring unlocks nothing now.
            crate::store::mfa::drop_wraps(txn, &u.id).await?;
            sessions::end_all(txn, &u.id, None, "password_reset", now).await?;
            notify(txn, &u, &ms, &templates, now).await
        })
    })
    .await?;
    state.mail_wakeup.notify_one();
    Ok(())
}

async fn notify<C: Conn>(
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
        let Some(a) = accounts::by_id(txn, &m.account_id).await? else { continue };
        for adm in accounts::admins(txn, &m.account_id).await? {
            if adm.user_id == u.id {
                continue;
            }
            let Some(admin) = users::by_id(txn, &adm.user_id).await? else { continue };
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
    let Some(t) = resets::by_cancel_token(&state.db, hash_token(token)).await? else {
        return Err(invalid());
    };
    match t.state {
        ResetState::Valid | ResetState::Superseded => resets::cancel(&state.db, &t.id, now).await?,
        ResetState::Consumed => {
            users::veto_reset(&state.db, &t.user_id, now).await?;
            tracing::warn!(user = %t.user_id, "a completed reset was disowned by its member; reseals are refused");
        }
        ResetState::Cancelled => {}
    }
    Ok(())
}

/// Normalizes the email for a request, or `None` if it cannot be an address (still 202).
pub fn request_email(email: &str) -> Option<String> {
    normalize_email(email).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Test, TestState, cheap_kdf, code, credentials, signed_up};
    use vouchsafe_crypto::identity::Keyring;

    /// A reset of `user_id` as `request` starts it: (link token, "not me" token).
    async fn reset_link(t: &TestState, user_id: &str) -> Result<(String, String), ApiError> {
        let (token, hash) = new_opaque_token()?;
        let (cancel, cancel_hash) = new_opaque_token()?;
        let row = reset_token::Model {
            id: new_id()?,
            user_id: user_id.into(),
            token_hash: hash.to_vec(),
            cancel_hash: cancel_hash.to_vec(),
            state: ResetState::Valid,
            created_at: t.now(),
            expires_at: t.now() + ttl_secs(&t.state),
            finished_at: None,
        };
        resets::start(&t.state.db, row).await?;
        Ok((token.to_string(), cancel.to_string()))
    }

    fn complete_req(token: &str, keys: &Keyring) -> Result<ResetCompleteRequest, Box<dyn std::error::Error>> {
        let (new_auth_key, new_kdf_salt, new_wrapped_keyring) = credentials(keys, "a new long password")?;
        Ok(ResetCompleteRequest {
            token: token.into(),
            new_auth_key: new_auth_key.into(),
            new_kdf_salt,
            new_kdf_params: cheap_kdf(),
            new_public_keys: b64::encode(&keys.public().keys_to_bytes()),
            new_wrapped_keyring,
            announcements: vec![],
            second_factor: None,
            lost_second_factor: false,
        })
    }

    #[actix_web::test]
    async fn a_reset_link_is_used_once_for_the_next_key_generation() -> Test {
        let t = TestState::new().await?;
        let (ann, tokens) = signed_up(&t, "ann@example.com").await?;
        let (token, _) = reset_link(&t, &ann.user_id).await?;
        let begun = begin(&t.state, &token, t.now()).await?;
        assert_eq!((begun.user_id.as_str(), begun.generation, begun.accounts.len()), (ann.user_id.as_str(), 1, 0));
        // Skipping a generation is refused, and the refusal leaves the link usable.
        let skip = Keyring::generate(&ann.user_id, 3, &mut vouchsafe_crypto::os_rng())?;
        assert_eq!(code(complete(&t.state, complete_req(&token, &skip)?, t.now()).await), "reset.bad_generation");
        begin(&t.state, &token, t.now()).await?;
        let next = Keyring::generate(&ann.user_id, 2, &mut vouchsafe_crypto::os_rng())?;
        complete(&t.state, complete_req(&token, &next)?, t.now()).await?;
        assert_eq!(code(complete(&t.state, complete_req(&token, &next)?, t.now()).await), "reset.invalid_token");
        assert_eq!(code(begin(&t.state, &token, t.now()).await), "reset.invalid_token");
        assert!(!crate::service::auth::session_is_live(&t.state, &ann.user_id, &tokens.session_id, t.now()).await?);
        let me = crate::service::auth::me(&t.state, &ann.user_id).await?;
        assert_eq!((me.generation, me.public_keys), (2, b64::encode(&next.public().keys_to_bytes())));
        Ok(())
    }

    #[actix_web::test]
    async fn a_newer_reset_replaces_the_older_link_and_links_expire() -> Test {
        let t = TestState::new().await?;
        let (ann, _) = signed_up(&t, "ann@example.com").await?;
        let (first, _) = reset_link(&t, &ann.user_id).await?;
        let (second, _) = reset_link(&t, &ann.user_id).await?;
        assert_eq!(code(begin(&t.state, &first, t.now()).await), "reset.invalid_token");
        begin(&t.state, &second, t.now()).await?;
        t.clock.advance(ttl_secs(&t.state));
        assert_eq!(code(begin(&t.state, &second, t.now()).await), "reset.invalid_token");
        let next = Keyring::generate(&ann.user_id, 2, &mut vouchsafe_crypto::os_rng())?;
        assert_eq!(code(complete(&t.state, complete_req(&second, &next)?, t.now()).await), "reset.invalid_token");
        Ok(())
    }

    #[actix_web::test]
    async fn this_was_not_me_cancels_a_pending_reset_and_vetoes_a_completed_one() -> Test {
        let t = TestState::new().await?;
        let (ann, _) = signed_up(&t, "ann@example.com").await?;
        let (token, not_me) = reset_link(&t, &ann.user_id).await?;
        cancel(&t.state, &not_me, t.now()).await?;
        assert_eq!(code(begin(&t.state, &token, t.now()).await), "reset.invalid_token");
        let (token, not_me) = reset_link(&t, &ann.user_id).await?;
        let next = Keyring::generate(&ann.user_id, 2, &mut vouchsafe_crypto::os_rng())?;
        complete(&t.state, complete_req(&token, &next)?, t.now()).await?;
        assert_eq!(users::by_id(&t.state.db, &ann.user_id).await?.and_then(|u| u.reset_vetoed_at), None);
        cancel(&t.state, &not_me, t.now()).await?;
        assert_eq!(users::by_id(&t.state.db, &ann.user_id).await?.and_then(|u| u.reset_vetoed_at), Some(t.now()));
        assert_eq!(code(cancel(&t.state, "unknown", t.now()).await), "reset.invalid_token");
        Ok(())
    }

    #[actix_web::test]
    async fn a_request_for_an_unknown_address_changes_nothing() -> Test {
        let t = TestState::new().await?;
        let (ann, _) = signed_up(&t, "ann@example.com").await?;
        request(&t.state, "nobody@example.com", t.now()).await?;
        let (token, _) = reset_link(&t, &ann.user_id).await?;
        request(&t.state, "nobody@example.com", t.now()).await?;
        begin(&t.state, &token, t.now()).await?;
        // A request for Ann replaces her link.
        request(&t.state, &ann.email, t.now()).await?;
        assert_eq!(code(begin(&t.state, &token, t.now()).await), "reset.invalid_token");
        Ok(())
    }
}
