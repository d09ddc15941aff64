//! The storage layer: where the server's rows are read and written.
//!
//! - [`items`]: the item store — one interface over SQLite and PostgreSQL, every read and write
//!   checking the caller's rights in the same statement (one definition of access).
//! - [`users`]: what the unauthenticated sign-in step reads (an e-mail's KDF salt and
//!   parameters).
//! - [`sqlite`]: SQLite without sqlx — reads on the calling thread's connection, writes
//!   group-committed on one writer thread.
//!
//! The rest of the server's rows are still read through sea-orm in `crate::service`; they move
//! here module by module.

pub mod batch;
pub mod items;
pub mod sqlite;

pub mod users;

/// Where the server's rows live: the handle every store module's methods are on.
#[derive(Clone, Debug)]
pub enum Store {
    /// A SQLite file, without sqlx.
    Sqlite(sqlite::Hot),
    /// PostgreSQL.
    Postgres(items::Pg),
}
