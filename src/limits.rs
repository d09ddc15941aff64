//! Per-address rate limits, decided in memory and shared through the database.
//!
//! Every request of a limited route (prelogin, login, register, refresh, reset, recovery, worker
//! login) used to write its counter row before it was answered — a database write on the path
//! an attacker floods. Here each server process decides from its own counters: a hit is counted
//! in memory and refused once the window's count (its own hits plus what the other processes
//! had reported at the last reconciliation) reaches the limit. Every [`SYNC`] a background task
//! adds each key's new hits to its row in one transaction (`rate_limits`, as before) and reads
//! back the total, which includes the other processes' hits. Several servers over one database
//! thus share one budget per address, up to one interval of each other's hits; a single server
//! counts exactly.
//!
//! The per-account limits (failed logins, reset requests per e-mail) stay in the database and
//! exact: they protect an account, not the server, and their routes are rare or Argon2-bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::store::Db;

use crate::error::ApiError;

/// How often counts are reconciled through the database.
pub const SYNC: Duration = Duration::from_millis(500);

/// One key's counter in the current window.
#[derive(Debug, Clone, Copy)]
struct Slot {
    window_start: i64,
    /// The window's total as the database last reported it (every process's reported hits).
    shared: i64,
    /// This process's hits since then.
    pending: i64,
}

/// The in-memory counters of one server process.
#[derive(Debug, Clone, Default)]
pub struct Limiter {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
    /// Ends the reconciliation task ([`Self::finish`]).
    stop: Arc<tokio::sync::Notify>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

use crate::store::counters::window_start;

impl Limiter {
    /// Counts one hit of `key`; 429 with `Retry-After` once the window holds `limit` of them.
    /// No database work: the count is reconciled by [`Self::sync`].
    pub fn hit(&self, key: &str, limit: u32, window: u64, now: i64) -> Result<(), ApiError> {
        let start = window_start(window, now);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = match slots.get_mut(key) {
            Some(s) => s,
            None => slots.entry(key.to_owned()).or_insert(Slot { window_start: start, shared: 0, pending: 0 }),
        };
        if slot.window_start != start {
            *slot = Slot { window_start: start, shared: 0, pending: 0 };
        }
        if slot.shared + slot.pending >= i64::from(limit) {
            return Err(ApiError::RateLimited { retry_after: crate::auth::retry_after(window, now) });
        }
        slot.pending += 1;
        Ok(())
    }

    /// Adds every key's new hits to its row and reads back the totals, in one transaction
    /// (a key without new hits is only read: an idle server writes nothing); forgets keys
    /// whose window ended (their rows are reset by the next hit of a new window).
    pub async fn sync(&self, db: &Db, window: u64, now: i64) -> Result<(), ApiError> {
        let current = window_start(window, now);
        let due: Vec<(String, i64, i64)> = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.retain(|_, s| s.window_start == current);
            slots.iter().map(|(k, s)| (k.clone(), s.window_start, s.pending)).collect()
        };
        if due.is_empty() {
            return Ok(());
        }
        let totals = crate::store::counters::reconcile(db, due).await?;
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, sent, total) in totals {
            if let Some(s) = slots.get_mut(&key).filter(|s| s.window_start == current) {
                // Hits counted while the transaction ran stay pending for the next one.
                s.pending -= sent;
                s.shared = total;
            }
        }
        Ok(())
    }

    /// Reconciles every [`SYNC`] until [`Self::finish`] (on the current actix runtime).
    pub fn spawn_sync(&self, db: Db, window: u64, clock: Arc<dyn crate::state::Clock>) {
        let me = self.clone();
        let task = actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(SYNC);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = me.stop.notified() => break,
                }
                if let Err(e) = me.sync(&db, window, clock.now()).await {
                    tracing::warn!(error = %e, "rate-limit reconciliation failed");
                }
            }
        });
        *self.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
    }

    /// Stops the reconciliation task (waiting for a sync in progress) and reports what is left,
    /// so that nothing writes after a graceful stop's checkpoint.
    pub async fn finish(&self, db: &Db, window: u64, now: i64) {
        self.stop.notify_one();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        if let Err(e) = self.sync(db, window, now).await {
            tracing::warn!(error = %e, "final rate-limit reconciliation failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_limit_then_refuses_until_the_next_one() {
        let l = Limiter::default();
        for _ in 0..3 {
            assert!(l.hit("k", 3, 60, 1_000).is_ok());
        }
        match l.hit("k", 3, 60, 1_010) {
            Err(ApiError::RateLimited { retry_after }) => assert_eq!(retry_after, 10, "the window is 960..1 020"),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(l.hit("other", 3, 60, 1_010).is_ok(), "each key has its own budget");
        assert!(l.hit("k", 3, 60, 1_020).is_ok(), "a new window starts over");
    }

    #[test]
    fn what_others_reported_counts_against_the_budget() {
        let l = Limiter::default();
        assert!(l.hit("k", 5, 60, 0).is_ok());
        {
            let mut slots = l.slots.lock().unwrap();
            let s = slots.get_mut("k").unwrap();
            // As after a reconciliation: ours flushed, four hits in all (three from elsewhere).
            s.pending = 0;
            s.shared = 4;
        }
        assert!(l.hit("k", 5, 60, 1).is_ok());
        assert!(l.hit("k", 5, 60, 2).is_err());
    }
}
