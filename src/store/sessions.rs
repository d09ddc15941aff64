//! Sign-in sessions and their refresh tokens (one rotation family per session).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::Conn;
use crate::error::ApiError;
use entity::{refresh_token, session};

/// What a presented refresh token turned out to be.
#[derive(Debug)]
pub enum Refresh {
    /// No such token, or its session is gone.
    Unknown,
    /// Claimed now (it was unused): its session, to rotate.
    Claimed(session::Model),
    /// It had been used before — a copy is being replayed: its session.
    Reused(session::Model),
}

/// Whether a session is live at `now`: not ended, not expired. The item store states the same
/// rule in SQL (`crate::store::items`), in the statement that reads or writes.
pub fn is_live(s: &session::Model, now: i64) -> bool {
    s.revoked_at.is_none() && s.expires_at > now
}

/// Opens a session with its first refresh token (only its hash is stored).
pub async fn open<C: Conn>(db: &C, row: session::Model, refresh_hash: [u8; 32]) -> Result<(), ApiError> {
    let (id, now) = (row.id.clone(), row.created_at);
    session::Entity::insert(session::ActiveModel::from(row)).exec_without_returning(db).await?;
    add_refresh(db, &id, refresh_hash, now).await
}

async fn add_refresh<C: Conn>(db: &C, session_id: &str, hash: [u8; 32], now: i64) -> Result<(), ApiError> {
    let row = refresh_token::Model {
        token_hash: hash.to_vec(),
        session_id: session_id.to_owned(),
        created_at: now,
        used_at: None,
    };
    refresh_token::Entity::insert(refresh_token::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// Claims a refresh token (single use) and says what it was.
pub async fn claim_refresh<C: Conn>(db: &C, hash: [u8; 32], now: i64) -> Result<Refresh, ApiError> {
    let claimed = super::claim(
        db,
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
            .filter(refresh_token::Column::TokenHash.eq(hash.to_vec()))
            .filter(refresh_token::Column::UsedAt.is_null()),
    )
    .await?;
    let (token, fresh) = match claimed {
        Some(t) => (t, true),
        None => match refresh_token::Entity::find_by_id(hash.to_vec()).one(db).await? {
            Some(t) => (t, false),
            None => return Ok(Refresh::Unknown),
        },
    };
    Ok(match by_id(db, &token.session_id).await? {
        None => Refresh::Unknown,
        Some(s) if fresh => Refresh::Claimed(s),
        Some(s) => Refresh::Reused(s),
    })
}

/// The next refresh token of a session (the previous one was claimed): stored, and the session
/// marked used at `now`.
pub async fn rotate<C: Conn>(db: &C, session_id: &str, hash: [u8; 32], now: i64) -> Result<(), ApiError> {
    add_refresh(db, session_id, hash, now).await?;
    session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .filter(session::Column::Id.eq(session_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The session with this id.
pub async fn by_id<C: Conn>(db: &C, id: &str) -> Result<Option<session::Model>, ApiError> {
    Ok(session::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// Whether `session_id` is a live session of `user_id`.
pub async fn is_live_of<C: Conn>(db: &C, user_id: &str, session_id: &str, now: i64) -> Result<bool, ApiError> {
    Ok(by_id(db, session_id).await?.is_some_and(|s| s.user_id == user_id && is_live(&s, now)))
}

/// A user's live sessions, newest first.
pub async fn live_of<C: Conn>(db: &C, user_id: &str, now: i64) -> Result<Vec<session::Model>, ApiError> {
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::CreatedAt)
        .order_by_asc(session::Column::Id)
        .all(db)
        .await?)
}

/// Ends one session (if it has not ended), recording why.
pub async fn end<C: Conn>(db: &C, session_id: &str, reason: &str, now: i64) -> Result<(), ApiError> {
    end_where(db, session::Column::Id.eq(session_id), reason, now).await
}

/// Ends every live session of a user except `keep`, recording why (a password change, reset or
/// recovery, a user disabled by the operator).
pub async fn end_all<C: Conn>(
    db: &C,
    user_id: &str,
    keep: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<(), ApiError> {
    let mut which = sea_orm::Condition::all().add(session::Column::UserId.eq(user_id));
    if let Some(k) = keep {
        which = which.add(session::Column::Id.ne(k));
    }
    end_where(db, which, reason, now).await
}

async fn end_where<C: Conn>(
    db: &C,
    which: impl sea_orm::sea_query::IntoCondition,
    reason: &str,
    now: i64,
) -> Result<(), ApiError> {
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .col_expr(session::Column::RevokeReason, Expr::value(reason))
        .filter(which)
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
