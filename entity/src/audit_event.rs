use sea_orm::entity::prelude::*;

/// What a principal did (e.g. a worker read N items), visible to the account's admins.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub actor_id: String,
    pub actor_kind: crate::values::ActorKind,
    pub action: String,
    pub item_count: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
