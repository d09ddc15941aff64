//! Recovery kits, guardians' shares, recoveries opened by e-mailed links, and the shares
//! released to them.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Conn;
use crate::error::ApiError;
use entity::values::RecoveryState;
use entity::{guardian_share, recovery_kit, recovery_session, released_share};

/// A user's kit.
pub async fn kit<C: Conn>(db: &C, user_id: &str) -> Result<Option<recovery_kit::Model>, ApiError> {
    Ok(recovery_kit::Entity::find_by_id(user_id.to_owned()).one(db).await?)
}

/// Replaces a user's kit and its guardians' shares.
pub async fn put_kit<C: Conn>(
    db: &C,
    kit: recovery_kit::Model,
    guardians: Vec<guardian_share::Model>,
) -> Result<(), ApiError> {
    delete_kit(db, &kit.user_id).await?;
    recovery_kit::Entity::insert(recovery_kit::ActiveModel::from(kit)).exec_without_returning(db).await?;
    if !guardians.is_empty() {
        guardian_share::Entity::insert_many(guardians.into_iter().map(guardian_share::ActiveModel::from))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Deletes a user's kit and its guardians' shares (a used kit is spent).
pub async fn delete_kit<C: Conn>(db: &C, user_id: &str) -> Result<(), ApiError> {
    guardian_share::Entity::delete_many().filter(guardian_share::Column::UserId.eq(user_id)).exec(db).await?;
    recovery_kit::Entity::delete_by_id(user_id.to_owned()).exec(db).await?;
    Ok(())
}

/// The guardians' shares of a user's kit.
pub async fn guardians_of<C: Conn>(db: &C, user_id: &str) -> Result<Vec<guardian_share::Model>, ApiError> {
    Ok(guardian_share::Entity::find().filter(guardian_share::Column::UserId.eq(user_id)).all(db).await?)
}

/// The shares a guardian holds (of other users' kits).
pub async fn held_by<C: Conn>(db: &C, guardian_id: &str) -> Result<Vec<guardian_share::Model>, ApiError> {
    Ok(guardian_share::Entity::find().filter(guardian_share::Column::GuardianId.eq(guardian_id)).all(db).await?)
}

/// One guardian share of a kit.
pub async fn guardian_share<C: Conn>(
    db: &C,
    user_id: &str,
    idx: i32,
) -> Result<Option<guardian_share::Model>, ApiError> {
    Ok(guardian_share::Entity::find_by_id((user_id.to_owned(), idx)).one(db).await?)
}

/// Stores a recovery whose link was e-mailed.
pub async fn insert_session<C: Conn>(db: &C, row: recovery_session::Model) -> Result<(), ApiError> {
    recovery_session::Entity::insert(recovery_session::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// Opens the recovery whose link has this token hash (once): binds it to the client's
/// ephemeral key and session secret and gives it `expires_at`. `None`: not an unused,
/// unexpired link.
pub async fn open<C: Conn>(
    db: &C,
    token_hash: [u8; 32],
    secret_hash: [u8; 32],
    ephemeral_pk: [u8; 32],
    expires_at: i64,
    now: i64,
) -> Result<Option<recovery_session::Model>, ApiError> {
    super::claim(
        db,
        recovery_session::Entity::update_many()
            .col_expr(recovery_session::Column::State, Expr::value(RecoveryState::Open.as_str()))
            .col_expr(recovery_session::Column::SecretHash, Expr::value(secret_hash.to_vec()))
            .col_expr(recovery_session::Column::EphemeralPk, Expr::value(ephemeral_pk.to_vec()))
            .col_expr(recovery_session::Column::ExpiresAt, Expr::value(expires_at))
            .filter(recovery_session::Column::TokenHash.eq(token_hash.to_vec()))
            .filter(recovery_session::Column::State.eq(RecoveryState::Emailed))
            .filter(recovery_session::Column::ExpiresAt.gt(now)),
    )
    .await
}

/// The recovery with this id, if it is open and unexpired.
pub async fn open_session<C: Conn>(db: &C, id: &str, now: i64) -> Result<Option<recovery_session::Model>, ApiError> {
    Ok(recovery_session::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .filter(|s| s.state == RecoveryState::Open && s.expires_at > now))
}

/// A user's open, unexpired recoveries.
pub async fn open_sessions_of<C: Conn>(
    db: &C,
    user_id: &str,
    now: i64,
) -> Result<Vec<recovery_session::Model>, ApiError> {
    Ok(recovery_session::Entity::find()
        .filter(recovery_session::Column::UserId.eq(user_id))
        .filter(recovery_session::Column::State.eq(RecoveryState::Open))
        .filter(recovery_session::Column::ExpiresAt.gt(now))
        .all(db)
        .await?)
}

/// Completes an open recovery (once) and ends the user's other recoveries; `false` if it was
/// not open any more.
pub async fn finish<C: Conn>(db: &C, id: &str, user_id: &str) -> Result<bool, ApiError> {
    let done = super::claim(
        db,
        recovery_session::Entity::update_many()
            .col_expr(recovery_session::Column::State, Expr::value(RecoveryState::Done.as_str()))
            .filter(recovery_session::Column::Id.eq(id))
            .filter(recovery_session::Column::State.eq(RecoveryState::Open)),
    )
    .await?;
    if done.is_none() {
        return Ok(false);
    }
    recovery_session::Entity::update_many()
        .col_expr(recovery_session::Column::State, Expr::value(RecoveryState::Done.as_str()))
        .filter(recovery_session::Column::UserId.eq(user_id))
        .filter(recovery_session::Column::State.is_in([RecoveryState::Emailed, RecoveryState::Open]))
        .exec(db)
        .await?;
    Ok(true)
}

/// Stores a share released to a recovery; `false` if that index was released already.
pub async fn release<C: Conn>(db: &C, row: released_share::Model) -> Result<bool, ApiError> {
    super::insert_new(db, released_share::ActiveModel::from(row)).await
}

/// The shares released to a recovery so far.
pub async fn released<C: Conn>(db: &C, session_id: &str) -> Result<Vec<released_share::Model>, ApiError> {
    Ok(released_share::Entity::find().filter(released_share::Column::SessionId.eq(session_id)).all(db).await?)
}
