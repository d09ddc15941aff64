use sea_orm::entity::prelude::*;

/// A team account. `log_len` is the number of verified log entries stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub created_by: String,
    pub key_version: i32,
    pub rotation_required: bool,
    /// Every member must have a second factor (the log's last `second_factor_policy`).
    pub second_factor_required: bool,
    pub log_len: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
