use sea_orm::entity::prelude::*;

/// A member's second factor. `kind` is `totp` (a sealed RFC 6238 secret) or `webauthn` (a
/// passkey or security key: `credential`, `credential_id`, and `prf_wrap` when it unlocks the
/// keyring too); a factor with no `confirmed_at` is an enrolment not yet confirmed, and never counts.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "second_factors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub name: String,
    /// Sealed under the server's `mfa.key`.
    pub secret: Vec<u8>,
    pub last_step: i64,
    pub confirmed_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// WebAuthn: the credential as the library keeps it (JSON).
    pub credential: Option<String>,
    /// WebAuthn: the credential id.
    pub credential_id: Option<Vec<u8>>,
    /// WebAuthn: the keyring wrapped under the passkey's PRF output (purpose 3).
    pub prf_wrap: Option<Vec<u8>>,
    /// WebAuthn: the registration state of an enrolment not yet confirmed (JSON).
    pub pending: Option<String>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactor")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
