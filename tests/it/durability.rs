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
