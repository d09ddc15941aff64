use sea_orm::entity::prelude::*;

/// A master key version sealed (HPKE + sealer signature) to one member generation; opaque to the server.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sealed_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_version: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recipient_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recipient_generation: i32,
    pub sealer_id: String,
    pub sealer_generation: i32,
    pub blob: Vec<u8>,
    pub log_seq: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
