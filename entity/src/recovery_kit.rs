use sea_orm::entity::prelude::*;

/// A member's recovery kit: keyring wrapped under R, the server share encrypted at rest.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recovery_kits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub kit_id: Vec<u8>,
    pub threshold: i32,
    pub share_count: i32,
    pub generation: i32,
    pub wrapped_keyring: Vec<u8>,
    pub server_share_index: Option<i32>,
    pub server_share: Option<Vec<u8>>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
