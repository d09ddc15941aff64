use sea_orm::entity::prelude::*;

/// A password-reset token (SHA-256 only) and its "this was not me" cancel token.
/// State: `valid` → `consumed` | `cancelled`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reset_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub token_hash: Vec<u8>,
    pub cancel_hash: Vec<u8>,
    pub state: crate::values::ResetState,
    pub created_at: i64,
    pub expires_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
