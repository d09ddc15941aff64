//! `vouchsafe admin`: what an operator does to users and accounts, with no key power — records
//! only, never keys, seals, items' content or the team logs. Every action is written to the
//! operator trail (`operator_events`, `vouchsafe admin events`) and, where it concerns an
//! account, to that account's audit trail, which its admins read.

use entity::{
    account, audit_event, invitation, item, log_entry, membership, operator_event, sealed_key, session, user,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, TransactionTrait,
};

use crate::auth::new_id;
use crate::error::ApiError;
use crate::state::AppState;

/// A user as the operator sees them.
#[derive(Debug, serde::Serialize)]
pub struct UserRow {
    /// Id.
    pub id: String,
    /// E-mail.
    pub email: String,
    /// Accounts the user belongs to.
    pub accounts: u64,
    /// Live sessions.
    pub sessions: u64,
    /// Unix seconds of the last sign-in or refresh (or the registration).
    pub last_active: i64,
    /// When an operator disabled the user.
    pub disabled_at: Option<i64>,
}

/// An account as the operator sees it.
#[derive(Debug, serde::Serialize)]
pub struct AccountRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Members (any status).
    pub members: u64,
    /// Items.
    pub items: u64,
    /// Unix seconds of the last item write or log entry (or the creation).
    pub last_active: i64,
}

/// Who runs the command, as the trail records it.
pub fn actor() -> String {
    let user = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let who = if host.is_empty() { user } else { format!("{user}@{host}") };
    who.chars().take(200).collect()
}

/// The largest `column` (a Unix time) of `E`'s rows whose `key` is `value`; `None` without rows.
async fn latest<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    column: E::Column,
    key: E::Column,
    value: &str,
) -> Result<Option<i64>, ApiError> {
    Ok(E::find()
        .select_only()
        .column_as(column.max(), "m")
        .filter(key.eq(value))
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten())
}

/// Every user, with counts and last activity.
pub async fn users<C: ConnectionTrait>(db: &C, now: i64) -> Result<Vec<UserRow>, ApiError> {
    let mut out = Vec::new();
    for u in user::Entity::find().order_by_asc(user::Column::Email).all(db).await? {
        let accounts = membership::Entity::find().filter(membership::Column::UserId.eq(&u.id)).count(db).await?;
        let live = session::Entity::find()
            .filter(session::Column::UserId.eq(&u.id))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now));
        let sessions = live.count(db).await?;
        let last =
            latest::<session::Entity, _>(db, session::Column::LastUsedAt, session::Column::UserId, &u.id).await?;
        out.push(UserRow {
            last_active: last.unwrap_or(u.created_at).max(u.updated_at),
            id: u.id,
            email: u.email,
            accounts,
            sessions,
            disabled_at: u.disabled_at,
        });
    }
    Ok(out)
}

/// Every account, with counts and last activity.
pub async fn accounts<C: ConnectionTrait>(db: &C) -> Result<Vec<AccountRow>, ApiError> {
    let mut out = Vec::new();
    for a in account::Entity::find().order_by_asc(account::Column::CreatedAt).all(db).await? {
        let members = membership::Entity::find().filter(membership::Column::AccountId.eq(&a.id)).count(db).await?;
        let items = item::Entity::find().filter(item::Column::AccountId.eq(&a.id)).count(db).await?;
        let last_item = latest::<item::Entity, _>(db, item::Column::UpdatedAt, item::Column::AccountId, &a.id).await?;
        let last_log =
            latest::<log_entry::Entity, _>(db, log_entry::Column::CreatedAt, log_entry::Column::AccountId, &a.id)
                .await?;
        out.push(AccountRow {
            last_active: a.created_at.max(last_item.unwrap_or(0)).max(last_log.unwrap_or(0)),
            id: a.id,
            name: a.name,
            members,
            items,
        });
    }
    Ok(out)
}

/// A user by id or e-mail.
pub async fn find_user<C: ConnectionTrait>(db: &C, who: &str) -> Result<user::Model, ApiError> {
    let email = who.trim().to_lowercase();
    user::Entity::find()
        .filter(sea_orm::Condition::any().add(user::Column::Id.eq(who)).add(user::Column::Email.eq(email)))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("admin.no_such_user", format!("no user with id or e-mail {who:?}")))
}

async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    now: i64,
) -> Result<(), ApiError> {
    entity::operator_event::ActiveModel {
        id: Set(new_id()?),
        actor: Set(actor.chars().take(200).collect()),
        action: Set(action.to_owned()),
        target: Set(target.chars().take(254).collect()),
        detail: Set(detail.chars().take(500).collect()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The same action in the audit trail of each account concerned (its admins see operators' acts).
async fn record_in_accounts<C: ConnectionTrait>(
    db: &C,
    accounts: &[String],
    target: &str,
    action: &str,
    now: i64,
) -> Result<(), ApiError> {
    for a in accounts {
        audit_event::ActiveModel {
            id: Set(new_id()?),
            account_id: Set(a.clone()),
            actor_id: Set(target.chars().take(64).collect()),
            actor_kind: Set("operator".into()),
            action: Set(action.to_owned()),
            item_count: Set(0),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

async fn accounts_of<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<Vec<String>, ApiError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.account_id)
        .collect())
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
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                user::Entity::update_many()
                    .col_expr(user::Column::DisabledAt, Expr::value(disabled_at))
                    .filter(user::Column::Id.eq(&id))
                    .exec(txn)
                    .await?;
                if disabled_at.is_some() {
                    crate::service::auth::end_sessions(txn, &id, None, "disabled_by_operator", now).await?;
                }
                record(txn, &actor, action, &id, "", now).await?;
                record_in_accounts(txn, &accounts_of(txn, &id).await?, &id, in_accounts, now).await
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
    let member_of = accounts_of(&state.db, &u.id).await?;
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
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                entity::guardian_share::Entity::delete_many()
                    .filter(entity::guardian_share::Column::GuardianId.eq(&id))
                    .exec(txn)
                    .await?;
                // Sessions, refresh and reset tokens, the kit and its sessions cascade.
                user::Entity::delete_by_id(id.clone()).exec(txn).await?;
                record(txn, &actor, "user.deleted", &id, &email, now).await
            })
        })
        .await?;
    Ok(u)
}

/// Deletes an account that holds no items (its members, log, sealed keys, invitations and
/// workers go with it).
pub async fn delete_account(state: &AppState, id: &str, actor: &str, now: i64) -> Result<account::Model, ApiError> {
    let a = account::Entity::find_by_id(id.to_owned())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("admin.no_such_account", format!("no account {id:?}")))?;
    let items = item::Entity::find().filter(item::Column::AccountId.eq(id)).count(&state.db).await?;
    if items > 0 {
        return Err(ApiError::conflict(
            "admin.account_not_empty",
            format!("{} holds {items} item(s); only an empty account can be deleted", a.name),
        ));
    }
    let (id, actor, name) = (a.id.clone(), actor.to_owned(), a.name.clone());
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                membership::Entity::delete_many().filter(membership::Column::AccountId.eq(&id)).exec(txn).await?;
                invitation::Entity::delete_many().filter(invitation::Column::AccountId.eq(&id)).exec(txn).await?;
                sealed_key::Entity::delete_many().filter(sealed_key::Column::AccountId.eq(&id)).exec(txn).await?;
                log_entry::Entity::delete_many().filter(log_entry::Column::AccountId.eq(&id)).exec(txn).await?;
                audit_event::Entity::delete_many().filter(audit_event::Column::AccountId.eq(&id)).exec(txn).await?;
                // Workers cascade.
                account::Entity::delete_by_id(id.clone()).exec(txn).await?;
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
    let account: Vec<String> = invitation::Entity::find_by_id(inv.id.clone())
        .one(&state.db)
        .await?
        .map(|i| i.account_id)
        .into_iter()
        .collect();
    record(&state.db, actor, "invitation.resent", &inv.id, &inv.email, now).await?;
    record_in_accounts(&state.db, &account, &inv.id, "operator.invitation_resent", now).await?;
    Ok((inv, account_name))
}

/// The operator trail, newest first.
pub async fn events<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<operator_event::Model>, ApiError> {
    Ok(operator_event::Entity::find()
        .order_by_desc(operator_event::Column::CreatedAt)
        .order_by_desc(operator_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
