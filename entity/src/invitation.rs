use sea_orm::entity::prelude::*;

/// An emailed invitation; the token is stored only as SHA-256. Status: `pending`, `accepted`, `revoked`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub email: String,
    pub role: crate::values::MemberRole,
    pub token_hash: Vec<u8>,
    pub invited_by: String,
    pub status: crate::values::InvitationStatus,
    pub accepted_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
