//! Members' latest signed log checkpoints (one row per account and signer).

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::Conn;
use crate::error::ApiError;
use entity::{log_checkpoint, session};

/// Stores a checkpoint as its signer's latest, unless the stored one is newer: a higher
/// position, or the same position signed later. An older checkpoint replayed (by its signer's
/// stale device, or anyone holding a copy) cannot push a newer one out.
pub async fn put<C: Conn>(db: &C, row: log_checkpoint::Model) -> Result<(), ApiError> {
    use log_checkpoint::Column as C;
    let (seq, signed_at) = (row.seq, row.signed_at);
    let stored = |c: C| Expr::col((log_checkpoint::Entity, c));
    let newer = stored(C::Seq).lt(seq).or(stored(C::Seq).eq(seq).and(stored(C::SignedAt).lt(signed_at)));
    log_checkpoint::Entity::insert(log_checkpoint::ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([C::AccountId, C::UserId])
                .update_columns([C::Generation, C::Seq, C::SignedAt, C::Checkpoint, C::ReceivedAt])
                .action_and_where(newer)
                .to_owned(),
        )
        .try_insert()
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// An account's checkpoints, one per signer.
pub async fn of_account<C: Conn>(db: &C, account_id: &str) -> Result<Vec<log_checkpoint::Model>, ApiError> {
    Ok(log_checkpoint::Entity::find().filter(log_checkpoint::Column::AccountId.eq(account_id)).all(db).await?)
}

/// When each of these users last refreshed a session (the server's notion of "active").
pub async fn last_active<C: Conn>(db: &C, user_ids: &[String]) -> Result<Vec<(String, i64)>, ApiError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(session::Entity::find()
        .select_only()
        .column(session::Column::UserId)
        .column_as(session::Column::LastUsedAt.max(), "last")
        .filter(session::Column::UserId.is_in(user_ids.iter().cloned()))
        .group_by(session::Column::UserId)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?)
}
