use sea_orm::entity::prelude::*;

/// Content a provider deposited into an account's inbox: a content key sealed to the inbox key
/// and the body encrypted under it; opaque to the server.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deposits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: crate::values::DepositKind,
    pub inbox_version: i32,
    pub seal: Vec<u8>,
    pub body: Option<Vec<u8>>,
    pub size: i64,
    pub content_hash: Vec<u8>,
    pub sealed_by_server: bool,
    pub created_at: i64,
    pub filed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
