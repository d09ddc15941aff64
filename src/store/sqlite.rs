//! The hot paths on SQLite — item reads, lists and writes — without sqlx.
//!
//! sqlx runs every SQLite connection on a thread of its own and hands each statement and row
//! across a channel; for a one-row read those hand-offs cost more than SQLite's own work (see
//! `docs/PERFORMANCE.md`). Here instead:
//!
//! - **Reads** run on the calling thread, on a connection that thread owns (opened on first use,
//!   `query_only`, statements cached). The work is bounded — a primary-key lookup, or one page
//!   of at most [`crate::service::items::MAX_PAGE`] rows walked in key order — and a WAL reader
//!   never waits for a writer.
//! - **Writes** go to one writer thread that owns the only write connection of this module. It
//!   takes every job queued while the previous commit ran and commits them together (group
//!   commit), each job in its own savepoint so that one failing job leaves the others intact.
//!   A caller hears back only after the commit: an acknowledged write survives a process crash
//!   (WAL, `synchronous = NORMAL`).
//!
//! Everything else still goes through sea-orm (and all of it on PostgreSQL). Both connect to the
//! same file; SQLite's locking orders the two writers.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::ApiError;

/// Most jobs committed together.
const MAX_GROUP: usize = 256;
/// Queued jobs before callers wait for room (back-pressure instead of unbounded memory).
const QUEUE: usize = 4096;
/// How long a statement waits for a lock held by the other writer (sea-orm) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's read connections, one per open store (tests run several in one process).
    static READERS: RefCell<Vec<Reader>> = const { RefCell::new(Vec::new()) };
}

struct Reader {
    store: u64,
    /// Dead once the store is dropped: the connection is closed at the next lookup.
    alive: Weak<()>,
    conn: Connection,
}

/// The SQLite hot paths of one database file.
#[derive(Clone)]
pub struct Hot {
    id: u64,
    path: Arc<PathBuf>,
    alive: Arc<()>,
    jobs: mpsc::SyncSender<Box<dyn Job>>,
}

impl std::fmt::Debug for Hot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hot").field("path", &self.path).finish_non_exhaustive()
    }
}

/// The file of a `sqlite:` URL; `None` for another database or an in-memory one (a second
/// connection to "the same" in-memory URL would be a different, empty database).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path.starts_with(":memory:") || query.split('&').any(|kv| kv == "mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

fn open(path: &Path, write: bool) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(32);
    // 16 MiB of page cache per connection; temporary b-trees (savepoints) in memory.
    conn.execute_batch("PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;")?;
    if write {
        // WAL is already set (sea-orm connects first; the mode is stored in the file); saying it
        // again makes `synchronous = NORMAL` safe to rely on: no acknowledged commit is lost on a
        // process crash.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
    } else {
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    Ok(conn)
}

impl Hot {
    /// Opens the writer (the file must exist and be migrated) and starts its thread.
    pub fn open(path: &Path) -> Result<Self, String> {
        let conn = open(path, true).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let (jobs, rx) = mpsc::sync_channel::<Box<dyn Job>>(QUEUE);
        std::thread::Builder::new()
            .name("vouchsafe-writer".into())
            .spawn(move || writer(conn, rx))
            .map_err(|e| format!("cannot start the writer thread: {e}"))?;
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            path: Arc::new(path.to_owned()),
            alive: Arc::new(()),
            jobs,
        })
    }

    /// Runs `f` on this thread's read connection. Keep `f` bounded: it runs on the caller's
    /// (async) thread.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, ApiError>) -> Result<T, ApiError> {
        READERS.with(|cell| {
            let mut readers = cell.borrow_mut();
            let i = match readers.iter().position(|r| r.store == self.id) {
                Some(i) => i,
                None => {
                    // Connections of stores dropped since (tests) are closed here.
                    readers.retain(|r| r.alive.strong_count() > 0);
                    let conn = open(&self.path, false)?;
                    readers.push(Reader { store: self.id, alive: Arc::downgrade(&self.alive), conn });
                    readers.len() - 1
                }
            };
            f(&readers[i].conn)
        })
    }

    /// Runs `f` inside the writer's next group commit and answers once that commit is durable.
    /// An `Err` from `f` rolls back only what `f` wrote.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Box::new(Pending { f: Some(f), result: None, tx });
        // A full queue makes the caller wait without blocking its async thread.
        let mut job: Box<dyn Job> = job;
        loop {
            match self.jobs.try_send(job) {
                Ok(()) => break,
                Err(mpsc::TrySendError::Full(j)) => {
                    job = j;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(mpsc::TrySendError::Disconnected(_)) => {
                    return Err(ApiError::Unavailable("the writer thread has stopped".into()));
                }
            }
        }
        rx.await.map_err(|_| ApiError::Internal("the writer dropped a job".into()))?
    }
}

/// A queued write: run inside a savepoint, answered after the commit.
trait Job: Send {
    /// Runs the write; `false` if it failed (its savepoint is rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: the job's own result if the commit succeeded.
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

struct Pending<T, F> {
    f: Option<F>,
    result: Option<Result<T, ApiError>>,
    tx: tokio::sync::oneshot::Sender<Result<T, ApiError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, ApiError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        // A panicking job fails alone (its savepoint is rolled back); the writer thread lives on.
        let r = match self.f.take() {
            Some(f) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(ApiError::Internal("write job panicked".into()))),
            None => Err(ApiError::Internal("write job ran twice".into())),
        };
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), String>) {
        let answer = match (commit, self.result) {
            (Ok(()), Some(r)) => r,
            (Ok(()), None) => Err(ApiError::Internal("write job did not run".into())),
            // The database refused the transaction (locked past the busy timeout, disk full):
            // nothing of it was written; the client may retry.
            (Err(e), _) => Err(ApiError::Unavailable(format!("database commit: {e}"))),
        };
        // The caller may have gone away (client disconnected); the write stands either way.
        let _ = self.tx.send(answer);
    }
}

fn writer(conn: Connection, rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let outcome = commit_group(&conn, &mut group);
        match &outcome {
            Ok(()) => tracing::debug!(jobs = group.len(), "group committed"),
            Err(e) => tracing::error!(error = %e, jobs = group.len(), "group commit failed"),
        }
        for job in group.drain(..) {
            job.finish(outcome.clone());
        }
    }
}

fn commit_group(conn: &Connection, group: &mut [Box<dyn Job>]) -> Result<(), String> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
    let ran = (|| -> rusqlite::Result<()> {
        for job in group.iter_mut() {
            conn.execute_batch("SAVEPOINT job")?;
            if job.run(conn) {
                conn.execute_batch("RELEASE job")?;
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
            }
        }
        conn.execute_batch("COMMIT")
    })();
    if let Err(e) = ran {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite:///data/v.db?mode=rwc"), Some(PathBuf::from("/data/v.db")));
        assert_eq!(sqlite_path("sqlite://data/v.db"), Some(PathBuf::from("data/v.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://shared.db?mode=memory&cache=shared"), None);
        assert_eq!(sqlite_path("sqlite://memory-notes.db?mode=rwc"), Some(PathBuf::from("memory-notes.db")));
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }

    #[tokio::test]
    async fn group_commit_keeps_good_jobs_and_rolls_back_failed_ones() {
        let dir = std::env::temp_dir().join(format!("vouchsafe-hot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let c = Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (k INTEGER PRIMARY KEY)").unwrap();
        drop(c);
        let hot = Hot::open(&path).unwrap();
        let mut tasks = Vec::new();
        for k in 0..200i64 {
            let hot = hot.clone();
            tasks.push(tokio::spawn(async move {
                hot.write(move |c| {
                    c.execute("INSERT INTO t (k) VALUES (?1)", [k])?;
                    if k % 3 == 0 { Err(ApiError::bad("test.odd", "rolled back")) } else { Ok(k) }
                })
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        let count: i64 = hot.read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)).unwrap();
        assert_eq!(ok, 133);
        assert_eq!(count, 133, "failed jobs leave nothing behind, the others all commit");
        let bad: i64 =
            hot.read(|c| Ok(c.query_row("SELECT count(*) FROM t WHERE k % 3 = 0", [], |r| r.get(0))?)).unwrap();
        assert_eq!(bad, 0);
        // A job that panics fails alone; the writer keeps serving.
        let boom = hot.write(|c| -> Result<(), ApiError> {
            c.execute("INSERT INTO t (k) VALUES (1000)", [])?;
            panic!("job bug")
        });
        assert!(matches!(boom.await, Err(ApiError::Internal(_))));
        hot.write(|c| Ok(c.execute("INSERT INTO t (k) VALUES (1001)", [])?)).await.unwrap();
        let after: Vec<i64> = hot
            .read(|c| {
                let mut st = c.prepare("SELECT k FROM t WHERE k >= 1000")?;
                let ks = st.query_map([], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
                Ok(ks)
            })
            .unwrap();
        assert_eq!(after, [1001]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
