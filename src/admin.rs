//! `vouchsafe admin`: what an operator does to users and accounts, with no key power — records
//! only, never keys, seals, items' content or the team logs. Every action is written to the
//! operator trail (`operator_events`, `vouchsafe admin events`) and, where it concerns an
//! account, to that account's audit trail, which its admins read.

use entity::{account, audit_event, operator_event, user};

use crate::auth::new_id;
use crate::error::ApiError;
use crate::state::AppState;
pub use crate::store::operator::{AccountRow, UserRow, accounts, events, users};
use crate::store::{Conn, accounts, operator};

/// Who runs the command, as the trail records it.
pub fn actor() -> String {
    let user = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let who = if host.is_empty() { user } else { format!("{user}@{host}") };
    who.chars().take(200).collect()
}

/// A user by id or e-mail.
pub async fn find_user<C: Conn>(db: &C, who: &str) -> Result<user::Model, ApiError> {
    operator::user_by_id_or_email(db, who)
        .await?
        .ok_or_else(|| ApiError::not_found("admin.no_such_user", format!("no user with id or e-mail {who:?}")))
}

async fn record<C: Conn>(
    db: &C,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    now: i64,
) -> Result<(), ApiError> {
    let row = operator_event::Model {
        id: new_id()?,
        actor: actor.chars().take(200).collect(),
        action: action.to_owned(),
        target: target.chars().take(254).collect(),
        detail: detail.chars().take(500).collect(),
        created_at: now,
    };
    operator::record(db, row).await
}

/// The same action in the audit trail of each account concerned (its admins see operators' acts).
async fn record_in_accounts<C: Conn>(
    db: &C,
    accounts: &[String],
    target: &str,
    action: &str,
    now: i64,
) -> Result<(), ApiError> {
    for a in accounts {
        let row = audit_event::Model {
            id: new_id()?,
            account_id: a.clone(),
            actor_id: target.chars().take(64).collect(),
            actor_kind: entity::values::ActorKind::Operator,
            action: action.to_owned(),
            item_count: 0,
            created_at: now,
        };
        crate::store::workers::audit(db, row).await?;
    }
    Ok(())
}

/// Disables a user: every session ends at once (access tokens stop working), sign-in is
/// refused (`403 auth.user_disabled`, said only after the password was right) and no reset or
/// recovery e-mail is sent. Memberships, keys and seals are untouched.
pub async fn disable_user(state: &AppState, who: &str, actor: &str, now: i64) -> Result<user::Model, ApiError> {
    set_disabled(state, who, actor, Some(now), now).await
}

/// Re-enables a disabled user (they sign in again with their password).
pub async fn enable_user(state: &AppState, who: &str, actor: &str, now: i64) -> Result<user::Model, ApiError> {
    set_disabled(state, who, actor, None, now).await
}

async fn set_disabled(
    state: &AppState,
    who: &str,
    actor: &str,
    disabled_at: Option<i64>,
    now: i64,
) -> Result<user::Model, ApiError> {
    let u = find_user(&state.db, who).await?;
    let (id, actor) = (u.id.clone(), actor.to_owned());
    let (action, in_accounts) = match disabled_at {
        Some(_) => ("user.disabled", "operator.user_disabled"),
        None => ("user.enabled", "operator.user_enabled"),
    };
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            operator::set_disabled(txn, &id, disabled_at).await?;
            if disabled_at.is_some() {
                crate::store::sessions::end_all(txn, &id, None, "disabled_by_operator", now).await?;
            }
            record(txn, &actor, action, &id, "", now).await?;
            record_in_accounts(txn, &operator::accounts_of(txn, &id).await?, &id, in_accounts, now).await
        })
    })
    .await?;
    Ok(u)
}

/// Deletes a user who belongs to no account (their sessions, tokens, kit and the guardian
/// shares others gave them go with them). A member is refused: their team's admins remove
/// them first, with a signed log entry, so no team's log names someone the server forgot.
pub async fn delete_user(state: &AppState, who: &str, actor: &str, now: i64) -> Result<user::Model, ApiError> {
    let u = find_user(&state.db, who).await?;
    let member_of = operator::accounts_of(&state.db, &u.id).await?;
    if !member_of.is_empty() {
        return Err(ApiError::conflict(
            "admin.user_is_member",
            format!(
                "{} still belongs to {} account(s) ({}); their admins remove them first",
                u.email,
                member_of.len(),
                member_of.join(", ")
            ),
        ));
    }
    let (id, actor, email) = (u.id.clone(), actor.to_owned(), u.email.clone());
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            operator::delete_user(txn, &id).await?;
            record(txn, &actor, "user.deleted", &id, &email, now).await
        })
    })
    .await?;
    Ok(u)
}

/// Deletes an account that holds no items (its members, log, sealed keys, invitations and
/// workers go with it).
pub async fn delete_account(state: &AppState, id: &str, actor: &str, now: i64) -> Result<account::Model, ApiError> {
    let a = accounts::by_id(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("admin.no_such_account", format!("no account {id:?}")))?;
    let items = operator::item_count(&state.db, id).await?;
    if items > 0 {
        return Err(ApiError::conflict(
            "admin.account_not_empty",
            format!("{} holds {items} item(s); only an empty account can be deleted", a.name),
        ));
    }
    let (id, actor, name) = (a.id.clone(), actor.to_owned(), a.name.clone());
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            operator::delete_account(txn, &id).await?;
            record(txn, &actor, "account.deleted", &id, &name, now).await
        })
    })
    .await?;
    Ok(a)
}

/// Sends a pending invitation again with a new link (the old one stops working).
pub async fn resend_invitation(
    state: &AppState,
    invitation_id: &str,
    actor: &str,
    now: i64,
) -> Result<(vouchsafe_client::types::InvitationInfo, String), ApiError> {
    let (inv, account_name) = crate::service::accounts::resend_invitation(state, invitation_id, now).await?;
    let account: Vec<String> =
        accounts::invitation(&state.db, &inv.id).await?.map(|i| i.account_id).into_iter().collect();
    record(&state.db, actor, "invitation.resent", &inv.id, &inv.email, now).await?;
    record_in_accounts(&state.db, &account, &inv.id, "operator.invitation_resent", now).await?;
    Ok((inv, account_name))
}
