use sea_orm::entity::prelude::*;

/// A member's latest signed checkpoint of an account's log, as their client encoded it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "log_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub generation: i32,
    pub seq: i64,
    /// The signer's clock when they signed.
    pub signed_at: i64,
    pub checkpoint: Vec<u8>,
    pub received_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
