//! The e-mail outbox: messages queued in the transaction that causes them, delivered later by
//! `crate::mail`'s sender (any server process), each send claimed under a lease.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Conn;
use crate::error::ApiError;
use entity::outbox;

/// Queues a message (its bodies already sealed).
pub async fn push<C: Conn>(db: &C, row: outbox::Model) -> Result<(), ApiError> {
    outbox::Entity::insert(outbox::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// Up to `limit` unsent messages due at `now`, the longest-waiting first.
pub async fn due<C: Conn>(db: &C, now: i64, limit: u64) -> Result<Vec<outbox::Model>, ApiError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::SentAt.is_null())
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// Claims a due message for one delivery attempt: its next attempt moves to `until`, if no other
/// process claimed it since it was read (its `next_attempt_at` unchanged). `false`: someone did.
pub async fn lease<C: Conn>(db: &C, row: &outbox::Model, until: i64) -> Result<bool, ApiError> {
    let claimed = outbox::Entity::update_many()
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(until))
        .filter(outbox::Column::Id.eq(&row.id))
        .filter(outbox::Column::NextAttemptAt.eq(row.next_attempt_at))
        .filter(outbox::Column::SentAt.is_null())
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Records a delivery: sent at `now`, the bodies (and the link tokens in them) blanked.
pub async fn delivered<C: Conn>(db: &C, id: &str, attempts: i32, now: i64) -> Result<(), ApiError> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(outbox::Column::SentAt, Expr::value(now))
        .col_expr(outbox::Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(outbox::Column::BodyText, Expr::value(""))
        .col_expr(outbox::Column::BodyHtml, Expr::value(""))
        .filter(outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub async fn failed<C: Conn>(db: &C, id: &str, attempts: i32, retry_at: i64, error: &str) -> Result<(), ApiError> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(retry_at))
        .col_expr(outbox::Column::LastError, Expr::value(error))
        .filter(outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Blanks the bodies of every delivered message (older versions kept them, tokens included).
pub async fn redact_delivered<C: Conn>(db: &C) -> Result<u64, ApiError> {
    let r = outbox::Entity::update_many()
        .col_expr(outbox::Column::BodyText, Expr::value(""))
        .col_expr(outbox::Column::BodyHtml, Expr::value(""))
        .filter(outbox::Column::SentAt.is_not_null())
        .filter(outbox::Column::BodyText.ne(""))
        .exec(db)
        .await?;
    Ok(r.rows_affected)
}

/// How many messages wait for delivery.
pub async fn backlog<C: Conn>(db: &C) -> Result<u64, ApiError> {
    Ok(outbox::Entity::find().filter(outbox::Column::SentAt.is_null()).count(db).await?)
}
