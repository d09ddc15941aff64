//! Users, as the unauthenticated first step of a sign-in reads them.

use rusqlite::OptionalExtension;
use sea_orm::sqlx::{self, Row as _};

use super::Store;
use crate::error::ApiError;

/// An e-mail's KDF salt and parameters (as stored: JSON).
#[derive(Debug)]
pub struct Kdf {
    /// The salt.
    pub salt: Vec<u8>,
    /// The parameters, as JSON.
    pub params: String,
}

/// The KDF lookup of a sign-in's first step. It reads one row whether or not the address has a
/// user — the row at or after the address in e-mail order, else the first one — and only then
/// says whether that row is the address's: a miss does the same index descents and row read as
/// a hit, so the answer's timing does not tell them apart. (No row at all: no users yet.)
const KDF_OF: &str = "SELECT kdf_salt, kdf_params, email = $1 FROM ( \
     SELECT * FROM (SELECT kdf_salt, kdf_params, email, 0 AS o FROM users WHERE email >= $1 ORDER BY email LIMIT 1) a \
     UNION ALL \
     SELECT * FROM (SELECT kdf_salt, kdf_params, email, 1 AS o FROM users ORDER BY email LIMIT 1) b \
     ) x ORDER BY o LIMIT 1";

impl Store {
    /// The KDF of the user with this (normalized) e-mail, if there is one (`KDF_OF`: the same
    /// work for a miss), on SQLite on the calling thread's connection.
    pub async fn kdf_of(&self, email: &str) -> Result<Option<Kdf>, ApiError> {
        let row = match self {
            Store::Sqlite(hot) => hot.read(|c| {
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| KDF_OF.replace("$1", "?1"));
                Ok(c.prepare_cached(&SQL)?
                    .query_row([email], |r| Ok((Kdf { salt: r.get(0)?, params: r.get(1)? }, r.get::<_, bool>(2)?)))
                    .optional()?)
            })?,
            Store::Postgres(pg) => {
                let row = sqlx::query(KDF_OF).bind(email).fetch_optional(&pg.pool).await?;
                row.map(|r| Ok::<_, sqlx::Error>((Kdf { salt: r.try_get(0)?, params: r.try_get(1)? }, r.try_get(2)?)))
                    .transpose()?
            }
        };
        Ok(row.and_then(|(kdf, mine)| mine.then_some(kdf)))
    }
}

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Conn;
use entity::user;

/// A password's server-side material: the verifier (Argon2id of the auth key), the KDF salt and
/// parameters (JSON), and the keyring wrapped under the password's key.
pub struct Credentials {
    /// PHC verifier.
    pub verifier: String,
    /// KDF salt.
    pub salt: [u8; 16],
    /// KDF parameters as stored.
    pub params: String,
    /// Wrapped keyring.
    pub wrapped: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").finish_non_exhaustive()
    }
}

/// A new key generation that replaces the user's public keys (a password reset).
#[derive(Debug)]
pub struct NewKeys {
    /// The generation.
    pub generation: u32,
    /// The public keys, as the client sent them.
    pub public_keys: Vec<u8>,
}

/// The user with this id.
pub async fn by_id<C: Conn>(db: &C, id: &str) -> Result<Option<user::Model>, ApiError> {
    Ok(user::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// The user with this (normalized) e-mail.
pub async fn by_email<C: Conn>(db: &C, email: &str) -> Result<Option<user::Model>, ApiError> {
    Ok(user::Entity::find().filter(user::Column::Email.eq(email)).one(db).await?)
}

/// The users with these ids (those that exist), in no particular order.
pub async fn by_ids<C: Conn>(db: &C, ids: Vec<String>) -> Result<Vec<user::Model>, ApiError> {
    Ok(user::Entity::find().filter(user::Column::Id.is_in(ids)).all(db).await?)
}

/// The user an e-mailed link (reset, recovery) may go to: one with this address who is not
/// disabled.
pub async fn for_links<C: Conn>(db: &C, email: &str) -> Result<Option<user::Model>, ApiError> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .filter(user::Column::DisabledAt.is_null())
        .one(db)
        .await?)
}

/// Inserts a new user; `false` if the e-mail or the id is taken (also by a concurrent sign-up).
pub async fn insert<C: Conn>(db: &C, row: user::Model) -> Result<bool, ApiError> {
    super::insert_new(db, user::ActiveModel::from(row)).await
}

/// Sets a user's password (every way there is: change, reset, recovery) — verifier, salt,
/// parameters and wrapped keyring together — and, for a reset, the new key generation (which
/// also lifts a "this was not me" veto: it belonged to the reset before). `false` if there is
/// no such user.
pub async fn set_credentials<C: Conn>(
    db: &C,
    user_id: &str,
    creds: Credentials,
    keys: Option<NewKeys>,
    now: i64,
) -> Result<bool, ApiError> {
    let mut q = user::Entity::update_many()
        .col_expr(user::Column::AuthHash, Expr::value(creds.verifier))
        .col_expr(user::Column::KdfSalt, Expr::value(creds.salt.to_vec()))
        .col_expr(user::Column::KdfParams, Expr::value(creds.params))
        .col_expr(user::Column::WrappedKeyring, Expr::value(creds.wrapped))
        .col_expr(user::Column::UpdatedAt, Expr::value(now));
    if let Some(k) = keys {
        let generation = i32::try_from(k.generation).map_err(|_| ApiError::Internal("generation".into()))?;
        q = q
            .col_expr(user::Column::Generation, Expr::value(generation))
            .col_expr(user::Column::PublicKeys, Expr::value(k.public_keys))
            .col_expr(user::Column::ResetVetoedAt, Expr::value(Option::<i64>::None));
    }
    Ok(q.filter(user::Column::Id.eq(user_id)).exec(db).await?.rows_affected == 1)
}

/// Records that the member disowned a completed reset: reseals to its key are refused.
pub async fn veto_reset<C: Conn>(db: &C, user_id: &str, now: i64) -> Result<(), ApiError> {
    user::Entity::update_many()
        .col_expr(user::Column::ResetVetoedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
