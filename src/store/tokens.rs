//! API tokens: an account's provisioning clients' secrets, kept as SHA-256 hashes.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::Conn;
use crate::error::ApiError;
use entity::api_token;

/// Stores a new token.
pub async fn insert<C: Conn>(db: &C, row: api_token::Model) -> Result<(), ApiError> {
    api_token::Entity::insert(api_token::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// The token whose secret hashes to `hash` (revoked and expired ones included: the caller
/// says why it is refused).
pub async fn by_hash<C: Conn>(db: &C, hash: &[u8; 32]) -> Result<Option<api_token::Model>, ApiError> {
    Ok(api_token::Entity::find().filter(api_token::Column::TokenHash.eq(hash.to_vec())).one(db).await?)
}

/// An account's tokens, oldest first (revoked ones included).
pub async fn of_account<C: Conn>(db: &C, account_id: &str) -> Result<Vec<api_token::Model>, ApiError> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::AccountId.eq(account_id))
        .order_by_asc(api_token::Column::CreatedAt)
        .order_by_asc(api_token::Column::Id)
        .all(db)
        .await?)
}

/// Revokes a live token of the account; `false` if there is none with that id.
pub async fn revoke<C: Conn>(db: &C, account_id: &str, id: &str, now: i64) -> Result<bool, ApiError> {
    let res = api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(now))
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::AccountId.eq(account_id))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records a use.
pub async fn touch<C: Conn>(db: &C, id: &str, now: i64) -> Result<(), ApiError> {
    api_token::Entity::update_many()
        .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
        .filter(api_token::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
