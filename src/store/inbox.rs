//! The account inbox: inbox keys the log endorsed, their secrets wrapped under master key
//! versions (opaque), and the deposits providers sealed to them.

use sea_orm::sea_query::{Condition, Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Conn, insert_new};
use crate::error::ApiError;
use entity::{deposit, inbox_key, inbox_wrap};

/// Stores an inbox key the log endorsed (inside the append's transaction).
pub async fn put_key<C: Conn>(db: &C, row: inbox_key::Model) -> Result<(), ApiError> {
    inbox_key::Entity::insert(inbox_key::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// An account's inbox keys, oldest first.
pub async fn keys<C: Conn>(db: &C, account_id: &str) -> Result<Vec<inbox_key::Model>, ApiError> {
    Ok(inbox_key::Entity::find()
        .filter(inbox_key::Column::AccountId.eq(account_id))
        .order_by_asc(inbox_key::Column::InboxVersion)
        .all(db)
        .await?)
}

/// The account's newest inbox key, if it has one.
pub async fn newest_key<C: Conn>(db: &C, account_id: &str) -> Result<Option<inbox_key::Model>, ApiError> {
    Ok(inbox_key::Entity::find()
        .filter(inbox_key::Column::AccountId.eq(account_id))
        .order_by_desc(inbox_key::Column::InboxVersion)
        .one(db)
        .await?)
}

/// One inbox key.
pub async fn key<C: Conn>(db: &C, account_id: &str, version: i32) -> Result<Option<inbox_key::Model>, ApiError> {
    Ok(inbox_key::Entity::find_by_id((account_id.to_owned(), version)).one(db).await?)
}

/// Stores a wrap; `Ok(false)` if one under the same inbox and key versions exists (the caller
/// compares it).
pub async fn put_wrap<C: Conn>(db: &C, row: inbox_wrap::Model) -> Result<bool, ApiError> {
    insert_new(db, inbox_wrap::ActiveModel::from(row)).await
}

/// One wrap.
pub async fn wrap<C: Conn>(
    db: &C,
    account_id: &str,
    inbox_version: i32,
    key_version: i32,
) -> Result<Option<inbox_wrap::Model>, ApiError> {
    Ok(inbox_wrap::Entity::find_by_id((account_id.to_owned(), inbox_version, key_version)).one(db).await?)
}

/// An account's wraps, by inbox version then key version.
pub async fn wraps<C: Conn>(db: &C, account_id: &str) -> Result<Vec<inbox_wrap::Model>, ApiError> {
    Ok(inbox_wrap::Entity::find()
        .filter(inbox_wrap::Column::AccountId.eq(account_id))
        .order_by_asc(inbox_wrap::Column::InboxVersion)
        .order_by_asc(inbox_wrap::Column::KeyVersion)
        .all(db)
        .await?)
}

/// Stores a deposit; `Ok(false)` if the provider already deposited one with that id. A
/// conflict is no error (`ON CONFLICT DO NOTHING`), so this runs inside a transaction with
/// other writes on either database.
pub async fn insert_deposit<C: Conn>(db: &C, row: deposit::Model) -> Result<bool, ApiError> {
    use deposit::Column as D;
    let n = deposit::Entity::insert(deposit::ActiveModel::from(row))
        .on_conflict(OnConflict::columns([D::AccountId, D::ProviderId, D::Id]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(n == 1)
}

/// One deposit (filed ones included: their content is gone).
pub async fn deposit<C: Conn>(
    db: &C,
    account_id: &str,
    provider_id: &str,
    id: &str,
) -> Result<Option<deposit::Model>, ApiError> {
    Ok(deposit::Entity::find_by_id((account_id.to_owned(), provider_id.to_owned(), id.to_owned())).one(db).await?)
}

/// A deposit's listing columns (everything but its seal and body).
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct Listed {
    /// Provider id.
    pub provider_id: String,
    /// Deposit id.
    pub id: String,
    /// What it holds.
    pub kind: entity::values::DepositKind,
    /// Inbox key version.
    pub inbox_version: i32,
    /// Encrypted size.
    pub size: i64,
    /// Sealed by the server on arrival.
    pub sealed_by_server: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// Up to `limit` deposits after `(provider_id, id)` in key order, without their contents.
pub async fn deposit_page<C: Conn>(
    db: &C,
    account_id: &str,
    after: Option<(&str, &str)>,
    limit: u64,
) -> Result<Vec<Listed>, ApiError> {
    use deposit::Column as D;
    let mut q = deposit::Entity::find().filter(D::AccountId.eq(account_id)).filter(D::FiledAt.is_null());
    if let Some((p, i)) = after {
        q = q.filter(
            Condition::any().add(D::ProviderId.gt(p)).add(Condition::all().add(D::ProviderId.eq(p)).add(D::Id.gt(i))),
        );
    }
    Ok(q.select_only()
        .columns([D::ProviderId, D::Id, D::Kind, D::InboxVersion, D::Size, D::SealedByServer, D::CreatedAt])
        .order_by_asc(D::ProviderId)
        .order_by_asc(D::Id)
        .limit(limit)
        .into_model::<Listed>()
        .all(db)
        .await?)
}

/// How many deposits wait in the account's inbox.
pub async fn deposit_count<C: Conn>(db: &C, account_id: &str) -> Result<u64, ApiError> {
    Ok(deposit::Entity::find()
        .filter(deposit::Column::AccountId.eq(account_id))
        .filter(deposit::Column::FiledAt.is_null())
        .count(db)
        .await?)
}

/// Files a deposit: its seal and content are deleted, its id stays taken; `false` if there was
/// no unfiled deposit with that id.
pub async fn file_deposit<C: Conn>(
    db: &C,
    account_id: &str,
    provider_id: &str,
    id: &str,
    now: i64,
) -> Result<bool, ApiError> {
    use deposit::Column as D;
    let res = deposit::Entity::update_many()
        .col_expr(D::FiledAt, Expr::value(now))
        .col_expr(D::Body, Expr::value(Option::<Vec<u8>>::None))
        .col_expr(D::Seal, Expr::value(Vec::<u8>::new()))
        .filter(D::AccountId.eq(account_id))
        .filter(D::ProviderId.eq(provider_id))
        .filter(D::Id.eq(id))
        .filter(D::FiledAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes the wraps under key versions older than `key_version` of inbox keys that have one
/// under it (what a removed member's old master key could open, once nobody needs it).
pub async fn drop_older_wraps<C: Conn>(db: &C, account_id: &str, key_version: i32) -> Result<(), ApiError> {
    let covered = wraps(db, account_id)
        .await?
        .into_iter()
        .filter(|w| w.key_version == key_version)
        .map(|w| w.inbox_version)
        .collect::<Vec<_>>();
    if covered.is_empty() {
        return Ok(());
    }
    inbox_wrap::Entity::delete_many()
        .filter(inbox_wrap::Column::AccountId.eq(account_id))
        .filter(inbox_wrap::Column::InboxVersion.is_in(covered))
        .filter(inbox_wrap::Column::KeyVersion.lt(key_version))
        .exec(db)
        .await?;
    Ok(())
}
