//! SCIM `User` resources: what identity providers provisioned into an account.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Conn;
use crate::error::ApiError;
use entity::scim_user;

/// What a list may be filtered by (`attribute eq "value"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `id eq`.
    Id(String),
    /// `userName eq` (normalised e-mail).
    UserName(String),
    /// `externalId eq`.
    ExternalId(String),
}

/// Stores a new resource; `false` if the account has one with that `userName`.
pub async fn insert<C: Conn>(db: &C, row: scim_user::Model) -> Result<bool, ApiError> {
    super::insert_new(db, scim_user::ActiveModel::from(row)).await
}

/// One resource of the account.
pub async fn by_id<C: Conn>(db: &C, account_id: &str, id: &str) -> Result<Option<scim_user::Model>, ApiError> {
    // Not an id we made (a NUL or anything else): no such resource, on every store.
    if vouchsafe_client::types::Id::parse(id).is_err() {
        return Ok(None);
    }
    Ok(scim_user::Entity::find_by_id(id.to_owned()).filter(scim_user::Column::AccountId.eq(account_id)).one(db).await?)
}

/// The account's resources matching `filter`, oldest first: (total, the page from `offset`).
pub async fn list<C: Conn>(
    db: &C,
    account_id: &str,
    filter: Option<&Filter>,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<scim_user::Model>), ApiError> {
    let mut q = scim_user::Entity::find().filter(scim_user::Column::AccountId.eq(account_id));
    q = match filter {
        None => q,
        Some(Filter::Id(v)) => q.filter(scim_user::Column::Id.eq(v.as_str())),
        Some(Filter::UserName(v)) => q.filter(scim_user::Column::UserName.eq(v.as_str())),
        Some(Filter::ExternalId(v)) => q.filter(scim_user::Column::ExternalId.eq(v.as_str())),
    };
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(scim_user::Column::CreatedAt)
        .order_by_asc(scim_user::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((total, rows))
}

/// Replaces a resource if it is still at `version` (its new version is one more); `false` if
/// it moved on or is gone.
pub async fn update<C: Conn>(db: &C, row: &scim_user::Model, version: i64) -> Result<bool, ApiError> {
    let res = scim_user::Entity::update_many()
        .col_expr(scim_user::Column::UserName, Expr::value(row.user_name.clone()))
        .col_expr(scim_user::Column::ExternalId, Expr::value(row.external_id.clone()))
        .col_expr(scim_user::Column::Active, Expr::value(row.active))
        .col_expr(scim_user::Column::Attributes, Expr::value(row.attributes.clone()))
        .col_expr(scim_user::Column::InvitationId, Expr::value(row.invitation_id.clone()))
        .col_expr(scim_user::Column::Version, Expr::value(version + 1))
        .col_expr(scim_user::Column::UpdatedAt, Expr::value(row.updated_at))
        .filter(scim_user::Column::Id.eq(row.id.as_str()))
        .filter(scim_user::Column::Version.eq(version))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes a resource; `false` if there was none.
pub async fn delete<C: Conn>(db: &C, account_id: &str, id: &str) -> Result<bool, ApiError> {
    let res = scim_user::Entity::delete_many()
        .filter(scim_user::Column::Id.eq(id))
        .filter(scim_user::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
