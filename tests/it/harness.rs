//! Starts a real server on 127.0.0.1:0 in its own thread and runtime, with a manual clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;

use vouchsafe::config::{Config, RateLimits};
use vouchsafe::state::ManualClock;
use vouchsafe_client::Client;
use vouchsafe_crypto::kdf::KdfParams;

/// Fast, still-accepted KDF parameters (the floor) so tests do not spend minutes in Argon2.
pub fn fast_kdf() -> KdfParams {
    KdfParams { alg: 1, m_kib: 19 * 1024, t: 2, p: 1 }
}

pub const T0: i64 = 1_800_000_000;

pub struct TestServer {
    pub url: String,
    pub clock: Arc<ManualClock>,
    pub data_dir: PathBuf,
    pub db_url: String,
    /// `http://…` of the metrics listener, when `metrics_bind` was configured.
    pub metrics_url: Option<String>,
    handle: actix_web::dev::ServerHandle,
    /// When set, mail goes over SMTP to this listener instead of the outbox folder.
    smtp: Option<crate::smtp::SmtpListener>,
    seen_smtp: std::sync::Mutex<std::collections::HashSet<usize>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", vouchsafe_crypto::random_id().to_lowercase().replace(['-', '_'], "x"))
}

/// A fresh database URL: a new PostgreSQL database when `VOUCHSAFE_TEST_DATABASE_URL` is set,
/// else a new SQLite file.
pub async fn fresh_database(data_dir: &std::path::Path) -> String {
    match std::env::var("VOUCHSAFE_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            use sea_orm::ConnectionTrait;
            let name = unique("vs_test_");
            let admin = sea_orm::Database::connect(&base).await.expect("connect to the test PostgreSQL");
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
            let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
            format!("{prefix}/{name}")
        }
        _ => format!("sqlite://{}?mode=rwc", data_dir.join("test.db").display()),
    }
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// A server whose (manual) clock starts at the real time: for clients that stamp log
    /// entries with the system clock, such as the `vouchsafe` binary.
    pub fn start_real_time() -> Self {
        let srv = Self::start();
        let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        srv.clock.advance(real - T0);
        srv
    }

    pub fn start_with(tweak: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        // Server warnings show up in a failing test's output.
        let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
        let data_dir = std::env::temp_dir().join(unique("vouchsafe-test-"));
        std::fs::create_dir_all(&data_dir).unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let (tx, rx) = mpsc::channel();
        let dir = data_dir.clone();
        let clk = clock.clone();
        let thread = std::thread::spawn(move || {
            let sys = actix_web::rt::System::new();
            sys.block_on(async move {
                let mut config = Config {
                    bind: "127.0.0.1:0".parse().unwrap(),
                    data_dir: dir.clone(),
                    database_url: fresh_database(&dir).await,
                    rate_limits: RateLimits::default(),
                    argon2_concurrency: 2,
                    ..Config::default()
                };
                tweak(&mut config);
                config.finish().unwrap();
                let db_url = config.database_url.clone();
                let state = vouchsafe::app::build_state(config, clk).await.expect("server state");
                let running = vouchsafe::app::start(state).expect("server starts");
                tx.send((running.addr, running.metrics_addr, running.handle.clone(), db_url)).unwrap();
                let _ = running.server.await;
            });
        });
        let (addr, metrics, handle, db_url) = rx.recv().expect("server started");
        TestServer {
            url: format!("http://{addr}"),
            metrics_url: metrics.map(|m| format!("http://{m}")),
            clock,
            data_dir,
            db_url,
            handle,
            smtp: None,
            seen_smtp: Default::default(),
            thread: Some(thread),
        }
    }

    /// A server that sends mail over plain SMTP to 127.0.0.1:`port` (listening or not).
    pub fn start_smtp_to(port: u16) -> Self {
        Self::start_with(move |c| {
            c.mail.transport = Some("smtp".into());
            c.mail.smtp_host = Some("127.0.0.1".into());
            c.mail.smtp_port = Some(port);
            c.mail.smtp_security = Some("none".into());
        })
    }

    /// A server that delivers every email over a real SMTP conversation to a test listener.
    pub fn start_smtp() -> Self {
        let smtp = crate::smtp::SmtpListener::start();
        let mut srv = Self::start_smtp_to(smtp.port);
        srv.smtp = Some(smtp);
        srv
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Not graceful: tests keep idle keep-alive connections open.
        drop(self.handle.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl TestServer {
    /// Registers and signs in a user, returning their vault.
    pub fn user(&self, email: &str) -> vouchsafe_client::vault::Vault {
        let c = self.client();
        vouchsafe_client::flows::register(&c, email, "correct horse battery", fast_kdf()).unwrap();
        let mut c = self.client();
        let s = vouchsafe_client::flows::login(&mut c, email, "correct horse battery").unwrap();
        self.vault(c, s)
    }

    /// A vault whose log timestamps come from the server's (manual) clock, as a real client's
    /// clock agrees with a real server's: the server refuses entries more than 5 minutes off.
    pub fn vault(&self, c: Client, s: vouchsafe_client::flows::Session) -> vouchsafe_client::vault::Vault {
        let mut v = vouchsafe_client::vault::Vault::new(c, s);
        let clock = self.clock.clone();
        v.set_time_source(Arc::new(move || u64::try_from(vouchsafe::state::Clock::now(&*clock)).unwrap_or(0)));
        v
    }

    /// Waits for an email to `to` in the outbox folder and returns the token of its link.
    pub fn outbox_token(&self, to: &str) -> String {
        // Skip notices without a link (e.g. "access restored").
        loop {
            if let Some(t) = token_in(&self.outbox_mail(to)) {
                return t;
            }
        }
    }

    /// Waits for the next unseen email to `to` (SMTP listener or outbox folder) and returns its text.
    pub fn outbox_mail(&self, to: &str) -> String {
        if let Some(smtp) = &self.smtp {
            for _ in 0..200 {
                {
                    let msgs = smtp.messages.lock().unwrap();
                    let mut seen = self.seen_smtp.lock().unwrap();
                    if let Some((i, m)) =
                        msgs.iter().enumerate().find(|(i, m)| !seen.contains(i) && m.to.iter().any(|t| t.contains(to)))
                    {
                        seen.insert(i);
                        return m.data.clone();
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            panic!("no email to {to} arrived over SMTP");
        }
        let dir = self.data_dir.join("outbox");
        for _ in 0..200 {
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for f in rd.flatten() {
                    let text = std::fs::read_to_string(f.path()).unwrap_or_default();
                    if f.path().extension().is_some_and(|e| e == "eml")
                        && text.contains(&format!("To: {to}"))
                        && !self.seen(&f.path())
                    {
                        return text;
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no email to {to} in the outbox");
    }

    fn seen(&self, path: &std::path::Path) -> bool {
        let marker = path.with_extension("seen");
        if marker.exists() {
            return true;
        }
        std::fs::write(marker, b"").unwrap();
        false
    }

    /// Runs a query and returns its rows' columns as text (`NULL` as the empty string).
    pub fn query(&self, sql: &str, columns: usize) -> Vec<Vec<String>> {
        let url = self.db_url.clone();
        let sql = sql.to_owned();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                use sea_orm::ConnectionTrait;
                let db = sea_orm::Database::connect(&url).await.unwrap();
                let stmt = sea_orm::Statement::from_string(db.get_database_backend(), sql);
                db.query_all_raw(stmt)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| {
                        (0..columns)
                            .map(|i| r.try_get_by_index::<Option<String>>(i).unwrap().unwrap_or_default())
                            .collect()
                    })
                    .collect()
            })
        })
        .join()
        .unwrap()
    }

    /// Writes a log entry straight into the database, as a hostile server would.
    pub fn store_entry(&self, acct: &str, e: &vouchsafe_crypto::log::LogEntry) {
        self.sql(&format!(
            "INSERT INTO log_entries (account_id, seq, entry, hash, author, kind, created_at) VALUES ('{acct}', {}, {}, {}, '{}', '{}', 0)",
            e.seq,
            self.blob(&e.to_bytes()),
            self.blob(&e.hash()),
            e.author,
            e.body.kind_name()
        ));
    }

    /// A binary literal in this database's SQL dialect.
    pub fn blob(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        if self.db_url.starts_with("postgres") { format!("decode('{hex}', 'hex')") } else { format!("X'{hex}'") }
    }

    /// Runs SQL against the server's database.
    pub fn sql(&self, sql: &str) {
        let url = self.db_url.clone();
        let sql = sql.to_owned();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                use sea_orm::ConnectionTrait;
                let db = sea_orm::Database::connect(&url).await.unwrap();
                db.execute_unprepared(&sql).await.unwrap();
            })
        })
        .join()
        .unwrap();
    }
}

/// The token in a `…#token=XYZ` link (quoted-printable soft breaks undone).
pub fn token_in(text: &str) -> Option<String> {
    // Undo quoted-printable: soft line breaks and the encoded '='.
    let flat = text.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let i = flat.find("#token=")? + "#token=".len();
    Some(flat[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect())
}

/// alice (owner) and bob (member, confirmed after comparing his code) in one account "Acme".
pub fn team_of_two(srv: &TestServer) -> (vouchsafe_client::vault::Vault, vouchsafe_client::vault::Vault, String) {
    use vouchsafe_crypto::log::Role;
    let mut alice = srv.user("alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let bob = srv.user("bob@example.com");
    alice.invite(&acct, "bob@example.com", Role::Member).unwrap();
    bob.client.accept_invitation(&srv.outbox_token("bob@example.com")).unwrap();
    let code = bob.keyring.public().verification_code().to_string();
    alice.confirm(&acct, bob.user_id(), Role::Member, &code).unwrap();
    (alice, bob, acct)
}
