use sea_orm::entity::prelude::*;

/// An inbox secret wrapped under one master key version; opaque to the server.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox_wraps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub inbox_version: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_version: i32,
    pub blob: Vec<u8>,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
