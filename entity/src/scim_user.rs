use sea_orm::entity::prelude::*;

/// A SCIM `User` an identity provider provisioned into an account: its `userName` (the
/// e-mail, normalised), `externalId`, `active`, the other attributes it sent (`name`,
/// `displayName`, `emails`… as JSON, nothing secret), and the invitation it caused.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub attributes: String,
    pub invitation_id: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
