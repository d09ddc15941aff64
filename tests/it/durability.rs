//! A process crash loses no acknowledged write: the real binary is killed with SIGKILL while
//! clients are writing, restarted on the same data folder, and every item it acknowledged is
//! there (SQLite in WAL mode with `synchronous = NORMAL`; item writes are group-committed and
//! answered only after their commit).

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vouchsafe_client::Client;
use vouchsafe_client::vault::Vault;

use crate::harness::{fast_kdf, unique};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `vouchsafe serve` on a fresh port over `dir`; returns the process and its URL.
fn serve(dir: &std::path::Path) -> (Killed, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
    let config = dir.join("crash.toml");
    std::fs::write(&config, format!("bind = \"127.0.0.1:{port}\"\ndata_dir = {:?}\n", dir.display().to_string()))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_vouchsafe"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("VOUCHSAFE_LOG", "error")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let child = Killed(child);
    let url = format!("http://127.0.0.1:{port}");
    let c = Client::new(&url);
    for _ in 0..400 {
        if c.raw("GET", "/healthz", None, &[]).is_ok_and(|r| r.status == 200) {
            return (child, url);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the server did not start");
}

fn sign_in(url: &str) -> Vault {
    let mut c = Client::new(url);
    let s = vouchsafe_client::flows::login(&mut c, "crash@example.com", "correct horse battery").unwrap();
    Vault::new(c, s)
}

#[test]
fn acknowledged_writes_survive_a_killed_process() {
    let dir = std::env::temp_dir().join(unique("vouchsafe-crash-"));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut server, url) = serve(&dir);
    vouchsafe_client::flows::register(&Client::new(&url), "crash@example.com", "correct horse battery", fast_kdf())
        .unwrap();
    let mut alice = sign_in(&url);
    let acct = alice.create_account("Crash test").unwrap().id;
    let keys = alice.master_keys(&acct).unwrap();
    let key = vouchsafe_crypto::field::FieldKey::derive(&keys[&1], &acct).unwrap();
    let acked = Mutex::new(BTreeSet::new());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..8 {
            let (c, key, acct, acked, stop) = (alice.client.clone(), &key, &acct, &acked, &stop);
            s.spawn(move || {
                let mut rng = vouchsafe_crypto::os_rng();
                while !stop.load(Ordering::Relaxed) {
                    let id = vouchsafe_crypto::random_id();
                    let blob = key.encrypt(&id, "n", b"survives", &mut rng).unwrap();
                    let fields = [("n".to_owned(), vouchsafe_crypto::b64::encode(&blob))].into();
                    let req = vouchsafe_client::types::PutItemRequest { revision: None, key_version: 1, fields };
                    match c.put_item(acct, &id, &req) {
                        Ok(_) => {
                            acked.lock().unwrap().insert(id);
                        }
                        // The server is gone: what was in flight may or may not have landed.
                        Err(_) => break,
                    }
                }
            });
        }
        // Kill the process mid-stream, once it has acknowledged a good number of writes.
        while acked.lock().unwrap().len() < 300 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = server.0.kill();
        let _ = server.0.wait();
        stop.store(true, Ordering::Relaxed);
    });
    let acked = acked.into_inner().unwrap();
    let (_server, url) = serve(&dir);
    let alice = sign_in(&url);
    let mut stored = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = alice.client.items(&acct, cursor.as_deref(), 500, None).unwrap();
        stored.extend(page.items.into_iter().map(|i| i.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged writes lost", lost.len(), acked.len());
    assert!(acked.len() >= 300);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A graceful stop (SIGTERM) checkpoints the write-ahead log into the database file, so the
/// `.db` file alone is a complete copy; the data folder, the database and the key files are the
/// server's alone (0700 / 0600).
#[test]
fn a_graceful_stop_leaves_a_complete_private_database_file() {
    let dir = std::env::temp_dir().join(unique("vouchsafe-stop-"));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut child, url) = serve(&dir);
    vouchsafe_client::flows::register(&Client::new(&url), "stop@example.com", "correct horse battery", fast_kdf())
        .unwrap();
    let data = dir.clone();
    let wal = data.join("vouchsafe.db-wal");
    assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0, "the write went to the WAL first");
    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0, "the WAL was checkpointed and emptied");
    let db = std::fs::read(data.join("vouchsafe.db")).unwrap();
    assert!(db.len() > 4096 && db.windows(16).any(|w| w == b"stop@example.com"), "the data is in the .db file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        for f in ["vouchsafe.db", "token.key", "prelogin.key", "server-share.key", "outbox.key"] {
            assert_eq!(mode(&data.join(f)), 0o600, "{f}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `vouchsafe backup` under write load, `vouchsafe restore` into a fresh data folder: every item
/// acknowledged before the backup started is there (SQLite; PostgreSQL has pg_dump).
#[test]
fn a_backup_under_write_load_restores_every_acknowledged_item() {
    if std::env::var("VOUCHSAFE_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        return; // the PostgreSQL path prints the pg_dump recipe; nothing to snapshot here
    }
    let srv = crate::harness::TestServer::start();
    let mut writer = srv.user("writer@example.com");
    let acct = writer.create_account("Backed up").unwrap().id;
    let acked = std::sync::Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let (a2, s2, acct2) = (acked.clone(), stop.clone(), acct.clone());
    let load = std::thread::spawn(move || {
        let mut i = 0;
        while !s2.load(Ordering::SeqCst) {
            let f = [("n".to_owned(), format!("record {i}").into_bytes())].into_iter().collect();
            a2.lock().unwrap().push(writer.create_item(&acct2, &f).unwrap().id);
            i += 1;
        }
    });
    while acked.lock().unwrap().len() < 30 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let before: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let dir = std::env::temp_dir().join(unique("vouchsafe-backup-"));
    std::fs::create_dir_all(&dir).unwrap();
    let snapshot = dir.join("snapshot.db");
    let cli = |args: &[&str], data_dir: &std::path::Path, db: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vouchsafe"));
        c.args(args)
            .env("VOUCHSAFE_DATA_DIR", data_dir)
            .env_remove("DATABASE_URL")
            .env_remove("VOUCHSAFE_DATABASE_URL");
        if let Some(db) = db {
            c.env("VOUCHSAFE_DATABASE_URL", db);
        }
        let out = c.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = cli(&["backup", "--out", snapshot.to_str().unwrap()], &dir.join("unused"), Some(&srv.db_url));
    assert!(ok && out.contains("server-share.key"), "{out}");
    std::thread::sleep(Duration::from_millis(100)); // writes go on after the snapshot
    stop.store(true, Ordering::SeqCst);
    load.join().unwrap();
    assert!(acked.lock().unwrap().len() > before.len(), "writes went on during the backup");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&snapshot).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Refused over an existing file, and into a data folder that has a database.
    let (ok, out) = cli(&["backup", "--out", snapshot.to_str().unwrap()], &dir.join("unused"), Some(&srv.db_url));
    assert!(!ok && out.contains("exists"), "{out}");
    let fresh = dir.join("fresh");
    let (ok, out) = cli(&["restore", "--from", snapshot.to_str().unwrap()], &fresh, None);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["restore", "--from", snapshot.to_str().unwrap()], &fresh, None);
    assert!(!ok && out.contains("fresh data folder"), "{out}");
    // A server on the restored file: every acknowledged item is there and decrypts.
    let db = format!("sqlite://{}?mode=rwc", fresh.join("vouchsafe.db").display());
    let restored = crate::harness::TestServer::start_with(move |c| c.database_url = db);
    let mut c = restored.client();
    let s = vouchsafe_client::flows::login(&mut c, "writer@example.com", "correct horse battery").unwrap();
    let mut v = restored.vault(c, s);
    let mut found = BTreeSet::new();
    let mut cursor = None;
    loop {
        let (items, next) = v.list_items(&acct, cursor.as_deref(), 500).unwrap();
        found.extend(items.into_iter().map(|i| i.id));
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert!(before.is_subset(&found), "{} acknowledged before the backup, {} restored", before.len(), found.len());
    std::fs::remove_dir_all(&dir).ok();
}
