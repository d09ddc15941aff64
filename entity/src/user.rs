use sea_orm::entity::prelude::*;

/// A user: zero-knowledge login verifier, KDF salt/params, current public keys and the
/// keyring wrapped under the password KEK (opaque to the server).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub email: String,
    /// PHC string of Argon2id(auth key).
    pub auth_hash: String,
    pub kdf_salt: Vec<u8>,
    /// JSON of the client KDF parameters.
    pub kdf_params: String,
    pub generation: i32,
    pub public_keys: Vec<u8>,
    pub wrapped_keyring: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set when the member answered "this was not me" after a reset was completed: reseals to the
    /// reset's new key are refused until they reset again.
    pub reset_vetoed_at: Option<i64>,
    /// Set while an operator has disabled the user (`vouchsafe admin disable-user`): no sign-in
    /// and no e-mailed links until re-enabled.
    pub disabled_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::session::Entity")]
    Session,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
