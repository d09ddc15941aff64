//! The storage layer: the only code that reads and writes the server's rows (sea-orm, sqlx and
//! rusqlite stay behind this module). Services keep the policy and call these functions with a
//! connection or a transaction ([`transaction`]) and `now`; they get rows back as the entity
//! types, whose closed sets are enums from the column on (`entity::values`).
//!
//! - [`items`]: the item store — one interface over SQLite and PostgreSQL, every read and write
//!   checking the caller's rights in the same statement (one definition of access).
//! - [`users`], [`sessions`], [`resets`], [`recovery`], [`accounts`], [`workers`]: the rest of
//!   the schema, one module per group of tables. A single-use token is claimed in one
//!   `UPDATE … RETURNING` (one private `claim`), so two concurrent redemptions cannot both win.
//! - [`checkpoints`]: members' latest signed checkpoints of each account's log; [`proposals`]:
//!   entries gathering admin co-signatures.
//! - [`tokens`]: API tokens (hashes, scopes, last use); [`scim`]: SCIM `User` resources;
//!   [`inbox`]: inbox keys, their wraps, and providers' deposits.
//! - [`counters`] (rate limits), [`outbox`] (queued e-mail), [`operator`] (what `vouchsafe
//!   admin` reads and removes), [`pool`] (connecting, migrations, closing) and [`backup`] (SQLite
//!   snapshots and restores).
//! - [`sqlite`]: SQLite without sqlx — reads on the calling thread's connection, writes
//!   group-committed on one writer thread; [`batch`]: PostgreSQL's coalescing of concurrent
//!   reads and creates.

pub mod accounts;
pub mod backup;
pub mod batch;
pub mod checkpoints;
pub mod counters;
pub mod inbox;
pub mod items;
pub mod mfa;
pub mod operator;
pub mod outbox;
pub mod pool;
pub mod proposals;
pub mod recovery;
pub mod resets;
pub mod scim;
pub mod sessions;
pub mod sqlite;
pub mod tokens;
pub mod users;
pub mod workers;

use std::future::Future;
use std::pin::Pin;

use sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait};

use crate::error::ApiError;

/// Where the server's rows live: the handle every store module's methods are on.
#[derive(Clone, Debug)]
pub enum Store {
    /// A SQLite file, without sqlx.
    Sqlite(sqlite::Hot),
    /// PostgreSQL.
    Postgres(items::Pg),
}

/// The database connection (pool) the store's functions take.
pub type Db = sea_orm::DatabaseConnection;
/// An open transaction.
pub type Tx = sea_orm::DatabaseTransaction;

/// A connection or a transaction: what every store function reads and writes through.
pub trait Conn: ConnectionTrait {}
impl<T: ConnectionTrait> Conn for T {}

/// The work of one transaction: given it, a future borrowing it.
pub type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'c>>;

/// Runs `f` in one transaction: committed if it returns `Ok`, rolled back otherwise.
pub async fn transaction<T, F>(db: &Db, f: F) -> Result<T, ApiError>
where
    T: Send,
    F: for<'c> FnOnce(&'c Tx) -> TxFuture<'c, T> + Send,
{
    Ok(db.transaction::<_, T, ApiError>(f).await?)
}

/// Whether an error is a unique-constraint violation (a row with that key exists).
fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// Inserts a row; `Ok(false)` if a row with one of its unique keys exists.
async fn insert_new<A, C>(db: &C, row: A) -> Result<bool, ApiError>
where
    A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
    C: Conn,
{
    match <A::Entity as EntityTrait>::insert(row).exec_without_returning(db).await {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Claims a single-use row: the update's filter says what still makes it claimable (unused,
/// unexpired), and the one statement both changes it and returns it, so of two concurrent
/// claims exactly one gets the row. `None`: nothing was claimable.
async fn claim<E, C>(db: &C, update: sea_orm::UpdateMany<E>) -> Result<Option<E::Model>, ApiError>
where
    E: EntityTrait,
    C: Conn,
{
    let mut rows = update.exec_with_returning(db).await?;
    if rows.len() > 1 {
        return Err(ApiError::Internal("a single-use claim matched more than one row".into()));
    }
    Ok(rows.pop())
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<sea_orm::TransactionError<ApiError>> for ApiError {
    fn from(e: sea_orm::TransactionError<ApiError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(api) => api,
        }
    }
}
