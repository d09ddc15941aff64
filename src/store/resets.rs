//! Password-reset tokens: one live reset per user, redeemed once.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Conn;
use crate::error::ApiError;
use entity::reset_token;
use entity::values::ResetState;

/// Starts a reset: the user's older live links stop working, this one is stored.
pub async fn start<C: Conn>(db: &C, row: reset_token::Model) -> Result<(), ApiError> {
    reset_token::Entity::update_many()
        .col_expr(reset_token::Column::State, Expr::value(ResetState::Superseded.as_str()))
        .filter(reset_token::Column::UserId.eq(&row.user_id))
        .filter(reset_token::Column::State.eq(ResetState::Valid))
        .exec(db)
        .await?;
    reset_token::Entity::insert(reset_token::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// The usable reset with this token hash (valid, unexpired), without using it.
pub async fn usable<C: Conn>(db: &C, token_hash: [u8; 32], now: i64) -> Result<Option<reset_token::Model>, ApiError> {
    Ok(reset_token::Entity::find()
        .filter(reset_token::Column::TokenHash.eq(token_hash.to_vec()))
        .one(db)
        .await?
        .filter(|t| t.state == ResetState::Valid && t.expires_at > now))
}

/// Redeems the reset with this token hash (once): `None` if it is not usable.
pub async fn consume<C: Conn>(db: &C, token_hash: [u8; 32], now: i64) -> Result<Option<reset_token::Model>, ApiError> {
    super::claim(
        db,
        reset_token::Entity::update_many()
            .col_expr(reset_token::Column::State, Expr::value(ResetState::Consumed.as_str()))
            .col_expr(reset_token::Column::FinishedAt, Expr::value(now))
            .filter(reset_token::Column::TokenHash.eq(token_hash.to_vec()))
            .filter(reset_token::Column::State.eq(ResetState::Valid))
            .filter(reset_token::Column::ExpiresAt.gt(now)),
    )
    .await
}

/// The reset whose "this was not me" token has this hash, in any state.
pub async fn by_cancel_token<C: Conn>(db: &C, cancel_hash: [u8; 32]) -> Result<Option<reset_token::Model>, ApiError> {
    Ok(reset_token::Entity::find().filter(reset_token::Column::CancelHash.eq(cancel_hash.to_vec())).one(db).await?)
}

/// Cancels a reset that was not completed.
pub async fn cancel<C: Conn>(db: &C, id: &str, now: i64) -> Result<(), ApiError> {
    reset_token::Entity::update_many()
        .col_expr(reset_token::Column::State, Expr::value(ResetState::Cancelled.as_str()))
        .col_expr(reset_token::Column::FinishedAt, Expr::value(now))
        .filter(reset_token::Column::Id.eq(id))
        .filter(reset_token::Column::State.is_in([ResetState::Valid, ResetState::Superseded]))
        .exec(db)
        .await?;
    Ok(())
}
