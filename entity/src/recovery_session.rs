use sea_orm::entity::prelude::*;

/// A recovery opened by an emailed token (`emailed` → `open` → `done`); shares are released to its ephemeral key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recovery_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub token_hash: Vec<u8>,
    pub secret_hash: Option<Vec<u8>>,
    pub ephemeral_pk: Option<Vec<u8>>,
    pub state: crate::values::RecoveryState,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
