//! `vouchsafe backup` and `vouchsafe restore`. SQLite: a consistent snapshot of the live
//! database (`VACUUM INTO`, one read transaction: the server keeps serving, writers are not
//! blocked), and a restore into a fresh data folder after an integrity check. PostgreSQL: the
//! `pg_dump` / `pg_restore` recipe. Key files are not part of the snapshot — they are not in the
//! database by design — and must be backed up beside it.

use std::path::{Path, PathBuf};

use crate::config::Config;

/// The key files a full restore also needs, and what each protects.
pub const KEY_FILES: &[(&str, &str)] = &[
    ("server-share.key", "recovery kits' server shares (without it, kits need the code plus a guardian)"),
    ("outbox.key", "e-mails still queued at the time of the backup"),
    ("mfa.key", "members' authenticator-app (TOTP) enrolments and second-factor recovery codes"),
    ("token.key", "access tokens (without it, everyone signs in again)"),
    ("prelogin.key", "the stable answers for unknown e-mails"),
];

fn sqlite_file(config: &Config) -> Result<PathBuf, String> {
    crate::store::sqlite::sqlite_path(&config.database_url).ok_or_else(|| {
        format!(
            "the database is PostgreSQL: back it up with\n  pg_dump --format=custom --file=vouchsafe.dump '{}'\n\
             and restore into an empty database with\n  pg_restore --no-owner --dbname='<new database URL>' vouchsafe.dump\n\
             (then copy the key files of the data folder: {})",
            crate::app::redact_url(&config.database_url),
            KEY_FILES.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Creates `path` empty with mode 0600 (refusing to overwrite anything).
fn create_private_file(path: &Path) -> Result<(), String> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map(|_| ()).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// Writes a consistent snapshot of the configured SQLite database to `out` (mode 0600) while the
/// server may be running. Returns the snapshot's size in bytes.
pub fn backup(config: &Config, out: &Path) -> Result<u64, String> {
    let db = sqlite_file(config)?;
    if !db.exists() {
        return Err(format!("no database at {}", db.display()));
    }
    create_private_file(out)?;
    let run = || -> rusqlite::Result<()> {
        let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        c.busy_timeout(std::time::Duration::from_secs(30))?;
        c.execute("VACUUM INTO ?1", [out.to_string_lossy()])?;
        Ok(())
    };
    if let Err(e) = run() {
        let _ = std::fs::remove_file(out);
        return Err(format!("backup failed: {e}"));
    }
    std::fs::metadata(out).map(|m| m.len()).map_err(|e| e.to_string())
}

/// Restores a snapshot made by [`backup`] as the configured database, which must not exist yet
/// (restore into a fresh data folder). The snapshot is checked first; migrations run at the
/// next start as usual.
pub fn restore(config: &Config, from: &Path) -> Result<PathBuf, String> {
    let db = sqlite_file(config)?;
    for p in [db.clone(), db.with_extension("db-wal"), db.with_extension("db-shm")] {
        if std::fs::metadata(&p).is_ok_and(|m| m.len() > 0) {
            return Err(format!(
                "{} exists: restore into a fresh data folder (the current one stays untouched)",
                p.display()
            ));
        }
    }
    let check = || -> rusqlite::Result<(String, i64)> {
        let c = rusqlite::Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let tables: i64 = c.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('accounts', 'users', 'items')",
            [],
            |r| r.get(0),
        )?;
        Ok((ok, tables))
    };
    match check() {
        Ok((ok, 3)) if ok == "ok" => {}
        Ok((ok, _)) if ok != "ok" => return Err(format!("{} is damaged: {ok}", from.display())),
        Ok(_) => return Err(format!("{} is not a Vouchsafe backup", from.display())),
        Err(e) => return Err(format!("{} is not a readable SQLite database: {e}", from.display())),
    }
    if let Some(dir) = db.parent() {
        crate::config::create_private_dir(dir).map_err(|e| e.to_string())?;
    }
    let _ = std::fs::remove_file(&db); // an empty file left by an earlier attempt
    create_private_file(&db)?;
    // Streamed into the 0600 file (`fs::copy` would give it the snapshot's mode, and reading it
    // whole would hold a large database in memory).
    let mut src = std::fs::File::open(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&db)
        .map_err(|e| format!("cannot write {}: {e}", db.display()))?;
    std::io::copy(&mut src, &mut dst).map_err(|e| format!("cannot write {}: {e}", db.display()))?;
    dst.sync_all().map_err(|e| format!("cannot write {}: {e}", db.display()))?;
    Ok(db)
}
