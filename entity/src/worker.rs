use sea_orm::entity::prelude::*;

/// A backend worker of one account: `pending` (registered) → `active` (granted in the log) → `revoked`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub public_keys: Vec<u8>,
    pub access: crate::values::WorkerAccess,
    pub status: crate::values::WorkerStatus,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
