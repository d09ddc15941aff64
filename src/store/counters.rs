//! Rate-limit counters: one row per key, counting the events of its current fixed window.

use sea_orm::{DatabaseBackend, Statement};

use super::Conn;
use crate::error::ApiError;

fn placeholders(backend: DatabaseBackend, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| match backend {
            DatabaseBackend::Postgres => format!("${i}"),
            _ => "?".to_owned(),
        })
        .collect()
}

/// The start of the window of length `window` seconds that holds `now`.
pub fn window_start(window: u64, now: i64) -> i64 {
    let window = i64::try_from(window.max(1)).unwrap_or(900);
    now - now.rem_euclid(window)
}

/// Increments the counter of `key` in the current window and returns the new count.
pub async fn bump<C: Conn>(db: &C, key: &str, window: u64, now: i64) -> Result<i64, ApiError> {
    add(db, key, window_start(window, now), 1).await
}

/// Adds `n` to the counter of `key` in the window starting at `start` (a counter of an older
/// window starts over) and returns the new count.
pub async fn add<C: Conn>(db: &C, key: &str, start: i64, n: i64) -> Result<i64, ApiError> {
    let backend = db.get_database_backend();
    let p = placeholders(backend, 3);
    let sql = format!(
        "INSERT INTO rate_limits (key, window_start, count) VALUES ({}, {}, {}) \
         ON CONFLICT (key) DO UPDATE SET \
         count = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.count + excluded.count \
         ELSE excluded.count END, \
         window_start = excluded.window_start \
         RETURNING count",
        p[0], p[1], p[2]
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [key.into(), start.into(), n.into()]))
        .await?
        .ok_or_else(|| ApiError::Internal("rate limit upsert returned nothing".into()))?;
    Ok(row.try_get::<i64>("", "count")?)
}

/// The count of `key` in the window starting at `start` (0 if none, or another window's).
pub async fn count_in<C: Conn>(db: &C, key: &str, start: i64) -> Result<i64, ApiError> {
    let backend = db.get_database_backend();
    let p = placeholders(backend, 2);
    let sql = format!("SELECT count FROM rate_limits WHERE key = {} AND window_start = {}", p[0], p[1]);
    let row = db.query_one_raw(Statement::from_sql_and_values(backend, sql, [key.into(), start.into()])).await?;
    Ok(match row {
        Some(r) => r.try_get::<i64>("", "count")?,
        None => 0,
    })
}

/// The count of `key` in the current window (0 if none).
pub async fn current<C: Conn>(db: &C, key: &str, window: u64, now: i64) -> Result<i64, ApiError> {
    count_in(db, key, window_start(window, now)).await
}

/// In one transaction, adds each key's pending hits to its window's row (or, with none pending,
/// only reads it): `(key, window start, pending)` in, `(key, pending, total)` out. The writes
/// come first: on SQLite a transaction that has read cannot start writing once another
/// connection has committed (`SQLITE_BUSY` at once, without the busy timeout — seen as a failed
/// reconciliation in the browser suite), while one that writes first waits for the lock.
pub async fn reconcile(db: &super::Db, mut due: Vec<(String, i64, i64)>) -> Result<Vec<(String, i64, i64)>, ApiError> {
    due.sort_by_key(|(_, _, pending)| *pending == 0);
    super::transaction(db, move |txn| {
        Box::pin(async move {
            let mut totals = Vec::with_capacity(due.len());
            for (key, start, pending) in due {
                let total = if pending > 0 {
                    add(txn, &key, start, pending).await?
                } else {
                    count_in(txn, &key, start).await?
                };
                totals.push((key, pending, total));
            }
            Ok(totals)
        })
    })
    .await
}
