//! The storage layer: where the server's rows are read and written.
//!
//! - [`items`]: the item store — one interface over SQLite and PostgreSQL, every read and write
//!   checking the caller's rights in the same statement (one definition of access).
//! - [`sqlite`]: SQLite without sqlx — reads on the calling thread's connection, writes
//!   group-committed on one writer thread.
//!
//! The rest of the server's rows are still read through sea-orm in `crate::service`; they move
//! here module by module.

pub mod batch;
pub mod items;
pub mod sqlite;

pub use items::ItemStore;
