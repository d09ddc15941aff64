//! Accounts, memberships, the team log, sealed keys and invitations.
//!
//! The rows the server keeps beside the verified log (memberships, sealed keys, the key
//! version) are changed only by `crate::service::accounts`, in the transaction that stores the
//! entries causing them.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Conn;
use crate::error::ApiError;
use entity::values::{InvitationStatus, MemberRole, MembershipStatus};
use entity::{account, invitation, item, log_entry, membership, sealed_key};

/// The account with this id.
pub async fn by_id<C: Conn>(db: &C, id: &str) -> Result<Option<account::Model>, ApiError> {
    Ok(account::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// These accounts (those that exist), in no particular order.
pub async fn by_ids<C: Conn>(db: &C, ids: &[String]) -> Result<Vec<account::Model>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(account::Entity::find().filter(account::Column::Id.is_in(ids.iter().cloned())).all(db).await?)
}

/// Inserts a new account; `false` if the id is taken.
pub async fn insert<C: Conn>(db: &C, row: account::Model) -> Result<bool, ApiError> {
    super::insert_new(db, account::ActiveModel::from(row)).await
}

/// Renames an account.
pub async fn rename<C: Conn>(db: &C, id: &str, name: &str) -> Result<(), ApiError> {
    account::Entity::update_many()
        .col_expr(account::Column::Name, Expr::value(name))
        .filter(account::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Items of the account still under a key version older than `key_version`.
pub async fn items_below<C: Conn>(db: &C, account_id: &str, key_version: i32) -> Result<u64, ApiError> {
    Ok(item::Entity::find()
        .filter(item::Column::AccountId.eq(account_id))
        .filter(item::Column::KeyVersion.lt(key_version))
        .count(db)
        .await?)
}

/// Takes the account's append lock for the rest of the transaction: a write first (PostgreSQL's
/// row lock; SQLite's write lock, waiting on busy_timeout) before the log is read, so two
/// appends wait for each other instead of deadlocking. `false`: no such account.
pub async fn lock_for_append<C: Conn>(db: &C, id: &str) -> Result<bool, ApiError> {
    let touched = account::Entity::update_many()
        .col_expr(account::Column::LogLen, Expr::col(account::Column::LogLen))
        .filter(account::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(touched.rows_affected == 1)
}

/// What an append leaves in the account's row: the log length, the key version, whether a
/// rotation is due.
pub async fn set_log_state<C: Conn>(
    db: &C,
    id: &str,
    log_len: i64,
    key_version: i32,
    rotation_required: bool,
    second_factor_required: bool,
) -> Result<(), ApiError> {
    account::Entity::update_many()
        .col_expr(account::Column::LogLen, Expr::value(log_len))
        .col_expr(account::Column::KeyVersion, Expr::value(key_version))
        .col_expr(account::Column::RotationRequired, Expr::value(rotation_required))
        .col_expr(account::Column::SecondFactorRequired, Expr::value(second_factor_required))
        .filter(account::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

// ---- the log

/// Stores a verified entry; `false` if its position is taken (another append came first).
pub async fn insert_entry<C: Conn>(db: &C, row: log_entry::Model) -> Result<bool, ApiError> {
    super::insert_new(db, log_entry::ActiveModel::from(row)).await
}

/// Up to `limit` entries after position `after` (`None`: from the genesis), in order.
pub async fn entries<C: Conn>(
    db: &C,
    account_id: &str,
    after: Option<i64>,
    limit: Option<u64>,
) -> Result<Vec<log_entry::Model>, ApiError> {
    let mut q = log_entry::Entity::find().filter(log_entry::Column::AccountId.eq(account_id));
    if let Some(after) = after {
        q = q.filter(log_entry::Column::Seq.gt(after));
    }
    let q = q.order_by_asc(log_entry::Column::Seq);
    Ok(match limit {
        Some(n) => q.limit(n).all(db).await?,
        None => q.all(db).await?,
    })
}

/// The account's last entry.
pub async fn head<C: Conn>(db: &C, account_id: &str) -> Result<Option<log_entry::Model>, ApiError> {
    Ok(log_entry::Entity::find()
        .filter(log_entry::Column::AccountId.eq(account_id))
        .order_by_desc(log_entry::Column::Seq)
        .one(db)
        .await?)
}

/// The hash of the entry at `seq`, if there is one.
pub async fn entry_hash<C: Conn>(db: &C, account_id: &str, seq: i64) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(log_entry::Entity::find_by_id((account_id.to_owned(), seq))
        .select_only()
        .column(log_entry::Column::Hash)
        .into_tuple::<Vec<u8>>()
        .one(db)
        .await?)
}

// ---- memberships

/// A user's membership of an account.
pub async fn membership<C: Conn>(
    db: &C,
    account_id: &str,
    user_id: &str,
) -> Result<Option<membership::Model>, ApiError> {
    Ok(membership::Entity::find_by_id((account_id.to_owned(), user_id.to_owned())).one(db).await?)
}

/// Inserts a membership.
pub async fn insert_membership<C: Conn>(db: &C, row: membership::Model) -> Result<(), ApiError> {
    membership::Entity::insert(membership::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// A user's memberships, by account id.
pub async fn memberships_of_user<C: Conn>(db: &C, user_id: &str) -> Result<Vec<membership::Model>, ApiError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .order_by_asc(membership::Column::AccountId)
        .all(db)
        .await?)
}

/// Per account (of these), how many members have `status`; accounts with none are left out.
pub async fn count_with_status<C: Conn>(
    db: &C,
    account_ids: &[String],
    status: MembershipStatus,
) -> Result<Vec<(String, i64)>, ApiError> {
    if account_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(membership::Entity::find()
        .select_only()
        .column(membership::Column::AccountId)
        .column_as(membership::Column::UserId.count(), "n")
        .filter(membership::Column::AccountId.is_in(account_ids.iter().cloned()))
        .filter(membership::Column::Status.eq(status))
        .group_by(membership::Column::AccountId)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?)
}

/// An account's memberships, oldest first.
pub async fn members<C: Conn>(db: &C, account_id: &str) -> Result<Vec<membership::Model>, ApiError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::AccountId.eq(account_id))
        .order_by_asc(membership::Column::CreatedAt)
        .order_by_asc(membership::Column::UserId)
        .all(db)
        .await?)
}

/// An account's active owners and admins.
pub async fn admins<C: Conn>(db: &C, account_id: &str) -> Result<Vec<membership::Model>, ApiError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::AccountId.eq(account_id))
        .filter(membership::Column::Role.is_in([MemberRole::Owner, MemberRole::Admin]))
        .filter(membership::Column::Status.eq(MembershipStatus::Active))
        .all(db)
        .await?)
}

/// Sets a membership's role and status.
pub async fn set_membership<C: Conn>(
    db: &C,
    account_id: &str,
    user_id: &str,
    role: Option<MemberRole>,
    status: Option<MembershipStatus>,
    now: i64,
) -> Result<(), ApiError> {
    let mut q = membership::Entity::update_many().col_expr(membership::Column::UpdatedAt, Expr::value(now));
    if let Some(r) = role {
        q = q.col_expr(membership::Column::Role, Expr::value(r.as_str()));
    }
    if let Some(s) = status {
        q = q.col_expr(membership::Column::Status, Expr::value(s.as_str()));
    }
    q.filter(membership::Column::AccountId.eq(account_id))
        .filter(membership::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes a member: the membership and every key sealed to them.
pub async fn remove_member<C: Conn>(db: &C, account_id: &str, user_id: &str) -> Result<(), ApiError> {
    membership::Entity::delete_by_id((account_id.to_owned(), user_id.to_owned())).exec(db).await?;
    drop_sealed_keys(db, account_id, user_id).await
}

// ---- sealed keys

/// Stores a sealed key (a reseal to the same recipient generation and version replaces it).
pub async fn put_sealed_key<C: Conn>(db: &C, row: sealed_key::Model) -> Result<(), ApiError> {
    sealed_key::Entity::insert(sealed_key::ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([
                sealed_key::Column::AccountId,
                sealed_key::Column::KeyVersion,
                sealed_key::Column::RecipientId,
                sealed_key::Column::RecipientGeneration,
            ])
            .update_columns([
                sealed_key::Column::Blob,
                sealed_key::Column::SealerId,
                sealed_key::Column::SealerGeneration,
                sealed_key::Column::LogSeq,
            ])
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Deletes every key of the account sealed to `recipient_id`.
pub async fn drop_sealed_keys<C: Conn>(db: &C, account_id: &str, recipient_id: &str) -> Result<(), ApiError> {
    sealed_key::Entity::delete_many()
        .filter(sealed_key::Column::AccountId.eq(account_id))
        .filter(sealed_key::Column::RecipientId.eq(recipient_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The keys of the account sealed to one recipient generation, by key version.
pub async fn sealed_keys_for<C: Conn>(
    db: &C,
    account_id: &str,
    recipient_id: &str,
    generation: i32,
) -> Result<Vec<sealed_key::Model>, ApiError> {
    Ok(sealed_key::Entity::find()
        .filter(sealed_key::Column::AccountId.eq(account_id))
        .filter(sealed_key::Column::RecipientId.eq(recipient_id))
        .filter(sealed_key::Column::RecipientGeneration.eq(generation))
        .order_by_asc(sealed_key::Column::KeyVersion)
        .all(db)
        .await?)
}

// ---- invitations

/// Stores an invitation.
pub async fn insert_invitation<C: Conn>(db: &C, row: invitation::Model) -> Result<(), ApiError> {
    invitation::Entity::insert(invitation::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// The invitation with this id.
pub async fn invitation<C: Conn>(db: &C, id: &str) -> Result<Option<invitation::Model>, ApiError> {
    Ok(invitation::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// A new link for a pending invitation: the old token stops working.
pub async fn reissue_invitation<C: Conn>(
    db: &C,
    id: &str,
    token_hash: [u8; 32],
    expires_at: i64,
) -> Result<bool, ApiError> {
    let res = invitation::Entity::update_many()
        .col_expr(invitation::Column::TokenHash, Expr::value(token_hash.to_vec()))
        .col_expr(invitation::Column::ExpiresAt, Expr::value(expires_at))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// An account's invitations, oldest first.
pub async fn invitations<C: Conn>(db: &C, account_id: &str) -> Result<Vec<invitation::Model>, ApiError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::AccountId.eq(account_id))
        .order_by_asc(invitation::Column::CreatedAt)
        .order_by_asc(invitation::Column::Id)
        .all(db)
        .await?)
}

/// Revokes a pending invitation of the account; `false` if there is none with that id.
pub async fn revoke_invitation<C: Conn>(db: &C, account_id: &str, id: &str) -> Result<bool, ApiError> {
    let res = invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value(InvitationStatus::Revoked.as_str()))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::AccountId.eq(account_id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes every pending invitation of the account to `email`; how many there were.
pub async fn revoke_invitations_to<C: Conn>(db: &C, account_id: &str, email: &str) -> Result<u64, ApiError> {
    let res = invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value(InvitationStatus::Revoked.as_str()))
        .filter(invitation::Column::AccountId.eq(account_id))
        .filter(invitation::Column::Email.eq(email))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Redeems an invitation for `user_id` (once): `None` if the token is not a pending,
/// unexpired invitation.
pub async fn claim_invitation<C: Conn>(
    db: &C,
    token_hash: [u8; 32],
    user_id: &str,
    now: i64,
) -> Result<Option<invitation::Model>, ApiError> {
    super::claim(
        db,
        invitation::Entity::update_many()
            .col_expr(invitation::Column::Status, Expr::value(InvitationStatus::Accepted.as_str()))
            .col_expr(invitation::Column::AcceptedBy, Expr::value(user_id))
            .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
            .filter(invitation::Column::TokenHash.eq(token_hash.to_vec()))
            .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
            .filter(invitation::Column::ExpiresAt.gt(now)),
    )
    .await
}
