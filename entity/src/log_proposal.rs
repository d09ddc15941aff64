use sea_orm::entity::prelude::*;

/// An entry that needs more admin signatures than its author holds, with the co-signatures
/// gathered so far (the encoded entry carries them).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "log_proposals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub author: String,
    /// The position it takes (it extends the head it was proposed on, or nothing).
    pub seq: i64,
    pub kind: String,
    pub entry: Vec<u8>,
    /// Admin signatures the policy needed when it was proposed.
    pub needed: i32,
    pub status: crate::values::ProposalStatus,
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
