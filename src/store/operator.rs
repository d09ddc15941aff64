//! What an operator's commands (`crate::admin`) read and change: users and accounts with
//! their counts, removals, and the operator trail.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Conn;
use crate::error::ApiError;
use entity::{
    account, audit_event, guardian_share, invitation, item, log_entry, membership, operator_event, sealed_key, session,
    user,
};

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

/// The largest `column` (a Unix time) of `E`'s rows whose `key` is `value`; `None` without rows.
async fn latest<E: EntityTrait, C: Conn>(
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
pub async fn users<C: Conn>(db: &C, now: i64) -> Result<Vec<UserRow>, ApiError> {
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
pub async fn accounts<C: Conn>(db: &C) -> Result<Vec<AccountRow>, ApiError> {
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

/// The user with this id, or else this (lower-cased) e-mail.
pub async fn user_by_id_or_email<C: Conn>(db: &C, who: &str) -> Result<Option<user::Model>, ApiError> {
    let email = who.trim().to_lowercase();
    Ok(user::Entity::find()
        .filter(sea_orm::Condition::any().add(user::Column::Id.eq(who)).add(user::Column::Email.eq(email)))
        .one(db)
        .await?)
}

/// The ids of the accounts a user belongs to.
pub async fn accounts_of<C: Conn>(db: &C, user_id: &str) -> Result<Vec<String>, ApiError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.account_id)
        .collect())
}

/// How many items an account holds.
pub async fn item_count<C: Conn>(db: &C, account_id: &str) -> Result<u64, ApiError> {
    Ok(item::Entity::find().filter(item::Column::AccountId.eq(account_id)).count(db).await?)
}

/// Disables (`Some(now)`) or re-enables (`None`) a user.
pub async fn set_disabled<C: Conn>(db: &C, user_id: &str, disabled_at: Option<i64>) -> Result<(), ApiError> {
    user::Entity::update_many()
        .col_expr(user::Column::DisabledAt, Expr::value(disabled_at))
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes a user and the guardian shares others gave them; their sessions, refresh and reset
/// tokens, kit and recoveries cascade.
pub async fn delete_user<C: Conn>(db: &C, user_id: &str) -> Result<(), ApiError> {
    guardian_share::Entity::delete_many().filter(guardian_share::Column::GuardianId.eq(user_id)).exec(db).await?;
    user::Entity::delete_by_id(user_id.to_owned()).exec(db).await?;
    Ok(())
}

/// Deletes an account with its memberships, invitations, sealed keys, log and audit trail; its
/// workers cascade.
pub async fn delete_account<C: Conn>(db: &C, id: &str) -> Result<(), ApiError> {
    membership::Entity::delete_many().filter(membership::Column::AccountId.eq(id)).exec(db).await?;
    invitation::Entity::delete_many().filter(invitation::Column::AccountId.eq(id)).exec(db).await?;
    sealed_key::Entity::delete_many().filter(sealed_key::Column::AccountId.eq(id)).exec(db).await?;
    log_entry::Entity::delete_many().filter(log_entry::Column::AccountId.eq(id)).exec(db).await?;
    audit_event::Entity::delete_many().filter(audit_event::Column::AccountId.eq(id)).exec(db).await?;
    account::Entity::delete_by_id(id.to_owned()).exec(db).await?;
    Ok(())
}

/// Writes an event to the operator trail.
pub async fn record<C: Conn>(db: &C, row: operator_event::Model) -> Result<(), ApiError> {
    operator_event::Entity::insert(operator_event::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// The operator trail, newest first.
pub async fn events<C: Conn>(db: &C, limit: u64) -> Result<Vec<operator_event::Model>, ApiError> {
    Ok(operator_event::Entity::find()
        .order_by_desc(operator_event::Column::CreatedAt)
        .order_by_desc(operator_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
