//! The connection pool: opening it (SQLite or PostgreSQL, chosen by the URL), migrations,
//! what `/metrics` reports of it, and closing it.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend};

use super::Db;

/// Opens the pool. SQLite gets WAL, foreign keys, a busy timeout and `synchronous = NORMAL`;
/// connections are pinged only after 30 s idle (sqlx's default pings before every use: a
/// second round trip per query; a restarted database shows there first).
pub async fn connect(url: &str) -> Result<Db, sea_orm::DbErr> {
    let sqlite = url.starts_with("sqlite:");
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).max_connections(if sqlite { 8 } else { 20 });
    opts.test_before_acquire_if_idle_for(Duration::from_secs(30));
    opts.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
    });
    Database::connect(opts).await
}

/// Runs pending migrations.
pub async fn migrate(db: &Db) -> Result<(), sea_orm::DbErr> {
    Migrator::up(db, None).await
}

/// Whether the pool is PostgreSQL's.
pub fn is_postgres(db: &Db) -> bool {
    db.get_database_backend() == DatabaseBackend::Postgres
}

/// The pool's connections: (open, idle).
pub fn usage(db: &Db) -> Option<(u32, usize)> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let p = db.get_sqlite_connection_pool();
            Some((p.size(), p.num_idle()))
        }
        DatabaseBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            Some((p.size(), p.num_idle()))
        }
        _ => None,
    }
}

/// Closes the pool while the runtime still runs: anything still holding the pool (the limiter's
/// reconciliation, a batch in flight) gives its connections back first. A connection still
/// checked out when the runtime is gone could not be returned (sqlx needs the runtime for it).
pub async fn close(db: &Db) {
    if let Err(e) = db.close_by_ref().await {
        tracing::warn!(error = %e, "closing the database pool");
    }
}

/// SQLite: after a graceful stop, moves everything from the write-ahead log into the database
/// file and empties the log, so the `.db` file alone is a complete copy.
pub async fn checkpoint(db: &Db) {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return;
    }
    match db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await {
        Ok(_) => tracing::info!("write-ahead log checkpointed into the database file"),
        Err(e) => tracing::warn!(error = %e, "could not checkpoint the write-ahead log"),
    }
}
