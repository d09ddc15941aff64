//! Proposals: entries gathering admin co-signatures.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::Conn;
use crate::error::ApiError;
use entity::log_proposal;
use entity::values::ProposalStatus;

/// Stores a new proposal; `false` if the id is taken.
pub async fn insert<C: Conn>(db: &C, row: log_proposal::Model) -> Result<bool, ApiError> {
    super::insert_new(db, log_proposal::ActiveModel::from(row)).await
}

/// The proposal with this id in this account.
pub async fn by_id<C: Conn>(db: &C, account_id: &str, id: &str) -> Result<Option<log_proposal::Model>, ApiError> {
    Ok(log_proposal::Entity::find_by_id(id.to_owned()).one(db).await?.filter(|p| p.account_id == account_id))
}

/// An account's open, unexpired proposals, oldest first.
pub async fn open<C: Conn>(db: &C, account_id: &str, now: i64) -> Result<Vec<log_proposal::Model>, ApiError> {
    Ok(log_proposal::Entity::find()
        .filter(log_proposal::Column::AccountId.eq(account_id))
        .filter(log_proposal::Column::Status.eq(ProposalStatus::Open))
        .filter(log_proposal::Column::ExpiresAt.gt(now))
        .order_by_asc(log_proposal::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Replaces an open proposal's entry (one more co-signature); `false` if it is no longer open
/// or its entry changed meanwhile (`before`): a concurrent co-signer came first.
pub async fn set_entry<C: Conn>(db: &C, id: &str, before: &[u8], entry: Vec<u8>) -> Result<bool, ApiError> {
    let r = log_proposal::Entity::update_many()
        .col_expr(log_proposal::Column::Entry, Expr::value(entry))
        .filter(log_proposal::Column::Id.eq(id))
        .filter(log_proposal::Column::Status.eq(ProposalStatus::Open))
        .filter(log_proposal::Column::Entry.eq(before.to_vec()))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Closes an open proposal (applied or withdrawn); `false` if it was not open.
pub async fn close<C: Conn>(db: &C, id: &str, status: ProposalStatus, now: i64) -> Result<bool, ApiError> {
    let r = log_proposal::Entity::update_many()
        .col_expr(log_proposal::Column::Status, Expr::value(status.as_str()))
        .col_expr(log_proposal::Column::DecidedAt, Expr::value(now))
        .filter(log_proposal::Column::Id.eq(id))
        .filter(log_proposal::Column::Status.eq(ProposalStatus::Open))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}
