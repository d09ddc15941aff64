//! Backend workers, their single-use login challenges, and the audit trail.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Conn;
use crate::error::ApiError;
use entity::values::{WorkerAccess, WorkerStatus};
use entity::{audit_event, worker, worker_challenge};

/// The worker with this id.
pub async fn by_id<C: Conn>(db: &C, id: &str) -> Result<Option<worker::Model>, ApiError> {
    Ok(worker::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// Registers a worker; `false` if the id is taken.
pub async fn insert<C: Conn>(db: &C, row: worker::Model) -> Result<bool, ApiError> {
    super::insert_new(db, worker::ActiveModel::from(row)).await
}

/// An account's workers, oldest first; `with_revoked: false` leaves revoked ones out.
pub async fn of_account<C: Conn>(db: &C, account_id: &str, with_revoked: bool) -> Result<Vec<worker::Model>, ApiError> {
    let mut q = worker::Entity::find().filter(worker::Column::AccountId.eq(account_id));
    if !with_revoked {
        q = q.filter(worker::Column::Status.ne(WorkerStatus::Revoked));
    }
    Ok(q.order_by_asc(worker::Column::CreatedAt).all(db).await?)
}

/// Grants a worker (the log's `worker_granted`): active, with this access.
pub async fn grant<C: Conn>(db: &C, id: &str, access: WorkerAccess) -> Result<(), ApiError> {
    set(db, id, WorkerStatus::Active, Some(access)).await
}

/// Revokes a worker (the log's `worker_revoked`).
pub async fn revoke<C: Conn>(db: &C, id: &str) -> Result<(), ApiError> {
    set(db, id, WorkerStatus::Revoked, None).await
}

async fn set<C: Conn>(db: &C, id: &str, status: WorkerStatus, access: Option<WorkerAccess>) -> Result<(), ApiError> {
    let mut q = worker::Entity::update_many().col_expr(worker::Column::Status, Expr::value(status.as_str()));
    if let Some(a) = access {
        q = q.col_expr(worker::Column::Access, Expr::value(a.as_str()));
    }
    q.filter(worker::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// Stores a login challenge.
pub async fn insert_challenge<C: Conn>(db: &C, row: worker_challenge::Model) -> Result<(), ApiError> {
    worker_challenge::Entity::insert(worker_challenge::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// Uses a login challenge (once): `None` if it is unknown, used or expired.
pub async fn claim_challenge<C: Conn>(db: &C, id: &str, now: i64) -> Result<Option<worker_challenge::Model>, ApiError> {
    super::claim(
        db,
        worker_challenge::Entity::update_many()
            .col_expr(worker_challenge::Column::Used, Expr::value(true))
            .filter(worker_challenge::Column::Id.eq(id))
            .filter(worker_challenge::Column::Used.eq(false))
            .filter(worker_challenge::Column::ExpiresAt.gt(now)),
    )
    .await
}

/// Records an audit event.
pub async fn audit<C: Conn>(db: &C, row: audit_event::Model) -> Result<(), ApiError> {
    audit_event::Entity::insert(audit_event::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// An account's audit trail, newest first, at most `limit` events.
pub async fn audit_trail<C: Conn>(db: &C, account_id: &str, limit: u64) -> Result<Vec<audit_event::Model>, ApiError> {
    Ok(audit_event::Entity::find()
        .filter(audit_event::Column::AccountId.eq(account_id))
        .order_by_desc(audit_event::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?)
}
