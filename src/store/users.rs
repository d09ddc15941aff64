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

impl Store {
    /// The KDF of the user with this (normalized) e-mail, if there is one: one primary-key-like
    /// lookup (the address is unique), on SQLite on the calling thread's connection.
    pub async fn kdf_of(&self, email: &str) -> Result<Option<Kdf>, ApiError> {
        match self {
            Store::Sqlite(hot) => hot.read(|c| {
                Ok(c.prepare_cached("SELECT kdf_salt, kdf_params FROM users WHERE email = ?1")?
                    .query_row([email], |r| Ok(Kdf { salt: r.get(0)?, params: r.get(1)? }))
                    .optional()?)
            }),
            Store::Postgres(pg) => {
                let row = sqlx::query("SELECT kdf_salt, kdf_params FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&pg.pool)
                    .await?;
                Ok(row.map(|r| Ok::<_, sqlx::Error>(Kdf { salt: r.try_get(0)?, params: r.try_get(1)? })).transpose()?)
            }
        }
    }
}
