//! `vouchsafe-load`: starts `vouchsafe serve` (release build, fresh data folder, SQLite by default
//! or `--database-url postgres://…`), loads it from this process over loopback, and prints per
//! scenario: requests/s, p50/p99 latency, errors, and the server's resident memory (current and
//! peak, from /proc). `/healthz` is measured in the same run as the framework's ceiling.
//!
//! ```sh
//! cargo build --release -p vouchsafe -p vouchsafe-load && target/release/vouchsafe-load
//! target/release/vouchsafe-load --quick            # a short smoke run (CI)
//! target/release/vouchsafe-load --database-url postgres://… --servers 2   # two servers, one database
//! ```
//! With `--servers N`, N `serve` processes share one database (and the first one's key files, as
//! servers behind one load balancer do); the HTTP scenarios spread their connections over them
//! and report the combined rate.
//! A benchmark, not a test: it asserts nothing about timings.

// A benchmark: it measures wall time and waits for servers to start.
#![allow(clippy::disallowed_methods)]

mod http;
mod sync;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vouchsafe_client::Client;
use vouchsafe_client::flows;
use vouchsafe_client::types::{LoginRequest, PutItemRequest};
use vouchsafe_client::vault::Vault;
use vouchsafe_crypto::field::FieldKey;
use vouchsafe_crypto::kdf::KdfParams;

struct Server {
    child: Child,
    url: String,
    /// The data folder (the SQLite file and its WAL live there).
    dir: std::path::PathBuf,
}

/// What the report reads off the running server: its memory, and the size of SQLite's WAL (a
/// WAL that never restarts grows without bound and slows every read down).
struct Probe {
    pid: u32,
    wal: Option<std::path::PathBuf>,
    /// The latest `/healthz` rate: each scenario is also printed as a share of it, which
    /// compares across the run even when the machine's speed drifts.
    ceiling: std::cell::Cell<f64>,
}

impl Probe {
    fn rss_mib(&self) -> f64 {
        proc_kib(self.pid, "VmRSS:") as f64 / 1024.0
    }
    fn wal_mib(&self) -> Option<f64> {
        let meta = std::fs::metadata(self.wal.as_ref()?).ok()?;
        Some(meta.len() as f64 / (1024.0 * 1024.0))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn proc_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn start_server(bin: &str, db: Option<&str>, k: usize, keys_from: Option<&std::path::Path>) -> Server {
    let dir = std::env::temp_dir().join(format!("vouchsafe-load-{}-{k}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    if let Some(from) = keys_from {
        for key in ["token.key", "prelogin.key", "server-share.key", "outbox.key"] {
            std::fs::copy(from.join(key), dir.join(key)).expect("copy the first server's key files");
        }
    }
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port");
    let config = dir.join("load.toml");
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:{port}\"\ndata_dir = {:?}\nlog_format = \"text\"\n\n[rate_limits]\nprelogin_per_ip = 100000000\nlogin_per_ip = 100000000\nregister_per_ip = 100000000\nrefresh_per_ip = 100000000\nreset_per_ip = 100000000\napi_token_per_window = 100000000\n",
            dir.display().to_string()
        ),
    )
    .expect("config");
    let mut cmd = Command::new(bin);
    cmd.arg("--config")
        .arg(&config)
        .arg("serve")
        .env("VOUCHSAFE_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = db {
        cmd.env("DATABASE_URL", url);
    }
    let child = cmd.spawn().expect("start the server (build it first: cargo build --release --bin vouchsafe)");
    let url = format!("http://127.0.0.1:{port}");
    // From here on, dropping `server` kills and reaps the child on every path.
    let server = Server { child, url, dir };
    let c = Client::new(&server.url);
    for _ in 0..200 {
        if c.raw("GET", "/healthz", None, &[]).is_ok_and(|r| r.status == 200) {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not start");
}

struct Report {
    name: String,
    conns: usize,
    ok: usize,
    errors: usize,
    secs: f64,
    p50: f64,
    p99: f64,
    rss_mib: f64,
}

/// `VOUCHSAFE_LOAD_ONLY=text`: only the scenarios whose name contains `text` run (the others
/// report nothing) — to profile one scenario's server side.
fn skipped(name: &str) -> bool {
    std::env::var("VOUCHSAFE_LOAD_ONLY").is_ok_and(|only| !name.contains(only.as_str()))
}

fn run(name: &str, conns: usize, secs: f64, probe: &Probe, work: impl Fn(usize, usize) -> bool + Sync) -> Report {
    if skipped(name) {
        return report(name, conns, Vec::new(), 0, 0.0, probe);
    }
    let stop = AtomicBool::new(false);
    let errors = AtomicUsize::new(0);
    let start = Instant::now();
    let lat: Vec<Duration> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..conns)
            .map(|t| {
                let (work, stop, errors) = (&work, &stop, &errors);
                s.spawn(move || {
                    let mut l = Vec::new();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let t0 = Instant::now();
                        if work(t, i) {
                            l.push(t0.elapsed());
                        } else {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        i += 1;
                    }
                    l
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
        hs.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    report(name, conns, lat, errors.load(Ordering::Relaxed), start.elapsed().as_secs_f64(), probe)
}

/// Like [`run`], for plain GETs on many keep-alive connections from one async thread.
fn run_async(
    name: &str,
    conns: usize,
    secs: f64,
    probe: &Probe,
    addr: &[String],
    work: http::Work<'_>,
    token: Option<&str>,
) -> Report {
    if skipped(name) {
        return report(name, conns, Vec::new(), 0, 0.0, probe);
    }
    let start = Instant::now();
    let (lat, errors) = http::hammer(addr, conns, secs, work, token);
    report(name, conns, lat, errors, start.elapsed().as_secs_f64(), probe)
}

/// Sorts the latencies, prints one line, and returns the figures.
fn report(name: &str, conns: usize, mut lat: Vec<Duration>, errors: usize, secs: f64, probe: &Probe) -> Report {
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len().max(1) - 1) as f64 * p) as usize).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    let r = Report {
        name: name.into(),
        conns,
        ok: lat.len(),
        errors,
        secs,
        p50: pct(0.5),
        p99: pct(0.99),
        rss_mib: probe.rss_mib(),
    };
    let wal = probe.wal_mib().map(|w| format!("  wal {w:>6.1} MiB")).unwrap_or_default();
    let rate = r.ok as f64 / r.secs;
    if probe.ceiling.get() == 0.0 || name.starts_with("healthz") {
        probe.ceiling.set(rate);
    }
    println!(
        "{:<34} {:>4} conn {:>9.0} req/s ({:>5.3} of healthz)  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {:>4}  rss {:>6.1} MiB{wal}",
        r.name,
        r.conns,
        rate,
        rate / probe.ceiling.get(),
        r.p50,
        r.p99,
        r.errors,
        r.rss_mib,
    );
    r
}

struct Team {
    vault: Vault,
    account: String,
    key: FieldKey,
    ids: Vec<String>,
}

/// A new item's fields (revision 1), encrypted as clients do (format v2: bound to the
/// revision and the set of field names).
fn fields_for(key: &FieldKey, id: &str, i: usize) -> BTreeMap<String, String> {
    let mut rng = vouchsafe_crypto::os_rng();
    let mut f = BTreeMap::new();
    let binding = vouchsafe_crypto::field::ItemBinding::new(1, ["name", "email", "notes"]);
    for (name, value) in
        [("name", format!("Customer {i}")), ("email", format!("customer{i}@example.com")), ("notes", "x".repeat(200))]
    {
        let blob = key.seal_field(id, name, value.as_bytes(), &binding, &mut rng).expect("encrypt");
        f.insert(name.to_owned(), vouchsafe_crypto::b64::encode(&blob));
    }
    f
}

fn team(url: &str, n_items: usize, tag: &str) -> Team {
    let params = KdfParams { alg: 1, m_kib: 19 * 1024, t: 2, p: 1 };
    let email = format!("{tag}-{}@example.com", vouchsafe_crypto::random_id().to_lowercase());
    flows::register(&Client::new(url), &email, "load password 123", params).expect("register");
    let mut c = Client::new(url);
    let s = flows::login(&mut c, &email, "load password 123").expect("login");
    let mut vault = Vault::new(c, s);
    let account = vault.create_account(tag).expect("account").id;
    let mk = vault.master_keys(&account).expect("keys").remove(&1).expect("v1");
    let key = FieldKey::derive(&mk, &account).expect("field key");
    let mut ids = Vec::with_capacity(n_items);
    for i in 0..n_items {
        let id = vouchsafe_crypto::random_id();
        vault
            .client
            .put_item(
                &account,
                &id,
                &PutItemRequest { revision: None, key_version: 1, fields: fields_for(&key, &id, i) },
            )
            .expect("seed item");
        ids.push(id);
    }
    Team { vault, account, key, ids }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let db = args.iter().position(|a| a == "--database-url").and_then(|i| args.get(i + 1)).cloned();
    let bin = args
        .iter()
        .position(|a| a == "--server-bin")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "target/release/vouchsafe".into());
    let secs = if quick { 1.0 } else { 8.0 };
    let (n1k, n10k) = if quick { (100, 300) } else { (1_000, 10_000) };
    let servers: usize = args
        .iter()
        .position(|a| a == "--servers")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    if servers > 1 && db.is_none() {
        eprintln!("--servers needs --database-url (one database the servers share)");
        std::process::exit(2);
    }
    let srv = start_server(&bin, db.as_deref(), 1, None);
    let others: Vec<Server> = (2..=servers).map(|k| start_server(&bin, db.as_deref(), k, Some(&srv.dir))).collect();
    let pid = srv.child.id();
    let probe = Probe { pid, wal: db.is_none().then(|| srv.dir.join("vouchsafe.db-wal")), ceiling: Default::default() };
    let probe = &probe;
    let url = srv.url.clone();
    println!(
        "vouchsafe-load against {url} (pid {pid}){}; {} s per scenario{}",
        if others.is_empty() {
            String::new()
        } else {
            format!(" and {} more server(s) over the same database", others.len())
        },
        secs,
        if quick { ", quick" } else { "" }
    );

    let addr: Vec<String> =
        std::iter::once(&srv).chain(&others).map(|s| s.url.trim_start_matches("http://").to_owned()).collect();
    let hammer = |name: &str, conns: usize, work: http::Work<'_>, token: Option<&str>| {
        run_async(name, conns, secs, probe, &addr, work, token)
    };
    let mut reports = vec![hammer("healthz (framework ceiling)", 64, http::Work::Get(&["/healthz".to_owned()]), None)];

    let mut small = team(&url, n1k, "small");
    let c = small.vault.client.clone();
    reports.push(run("prelogin", 16, secs, probe, |_, _| c.prelogin("nobody@example.com").is_ok()));
    let small_email = email_of(&small);
    // The same over raw connections (the blocking client above costs more CPU than the server's
    // answer): an unknown and a known address, whose answers must not differ in timing.
    let prelogin_of =
        |email: &str| vec![("/api/v1/auth/prelogin".to_owned(), serde_json::json!({ "email": email }).to_string())];
    let unknown = prelogin_of("nobody@example.com");
    reports.push(hammer("prelogin, unknown e-mail (raw)", 64, http::Work::Post(&unknown), None));
    let known = prelogin_of(&small_email);
    reports.push(hammer("prelogin, known e-mail (raw)", 64, http::Work::Post(&known), None));
    // Both at once, 32 connections each: the same moment of the machine for the two, so their
    // difference is the server's and not this machine's drift between scenarios.
    let (kname, uname) = ("prelogin, known e-mail, side by side", "prelogin, unknown e-mail, side by side");
    if !skipped(kname) {
        let start = Instant::now();
        let (k, u) = std::thread::scope(|s| {
            let k = s.spawn(|| http::hammer(&addr, 32, secs, http::Work::Post(&known), None));
            let u = s.spawn(|| http::hammer(&addr, 32, secs, http::Work::Post(&unknown), None));
            (k.join().unwrap_or_default(), u.join().unwrap_or_default())
        });
        let took = start.elapsed().as_secs_f64();
        reports.push(report(kname, 32, k.0, k.1, took, probe));
        reports.push(report(uname, 32, u.0, u.1, took, probe));
    }
    let auth = auth_key(&c, &small_email);
    reports.push(run("login (Argon2id m=19MiB t=2)", 16, secs, probe, |_, _| {
        c.login(&LoginRequest { email: small_email.clone(), auth_key: auth.clone().into() }).is_ok()
    }));
    let ids = &small.ids;
    let token = c.access_token().unwrap_or_default().to_owned();
    let item_paths: Vec<String> =
        ids.iter().map(|id| format!("/api/v1/accounts/{}/items/{id}", small.account)).collect();
    reports.push(hammer("read one item", 64, http::Work::Get(&item_paths), Some(&token)));
    // Each create is encrypted by the generator as a client would (3 fields), sent as JSON.
    let (acct, key) = (small.account.clone(), small.key);
    let make: http::MakePut = std::sync::Arc::new(move |n| {
        let id = vouchsafe_crypto::random_id();
        let body = PutItemRequest { revision: None, key_version: 1, fields: fields_for(&key, &id, n) };
        (format!("/api/v1/accounts/{acct}/items/{id}"), serde_json::to_string(&body).unwrap_or_default())
    });
    reports.push(hammer("create item", 16, http::Work::Put(make), Some(&token)));
    // A provider's deposits: each record (3 small fields) sealed to the inbox key by the
    // generator, as the provider SDK does, and PUT with the provider's token.
    let inbox_key = small.vault.create_inbox_key(&small.account).expect("inbox key");
    let req = vouchsafe_client::types::CreateApiTokenRequest {
        name: "load provider".into(),
        scopes: vec![vouchsafe_client::types::Scope::InboxDeposit],
        expires_in_days: None,
    };
    let provider = c.create_token(&small.account, &req).expect("provider token");
    let (acct, provider_id) = (small.account.clone(), provider.info.id.clone());
    let make: http::MakePut = std::sync::Arc::new(move |n| {
        let id = vouchsafe_crypto::random_id();
        let record: vouchsafe_crypto::inbox::Record = [
            ("name", format!("Customer {n}")),
            ("email", format!("customer{n}@example.com")),
            ("score", (n % 850).to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), zeroize::Zeroizing::new(v.into_bytes())))
        .collect();
        let body = vouchsafe_client::inbox::seal_record(&acct, &provider_id, &id, &inbox_key, &record)
            .map(|r| serde_json::to_string(&r).unwrap_or_default())
            .unwrap_or_default();
        (format!("/api/v1/accounts/{acct}/inbox/deposits/{id}"), body)
    });
    reports.push(hammer("deposit a record (provider)", 16, http::Work::Put(make), Some(provider.token.expose())));
    // Back to exactly n1k items for the list scenario.
    let list_team = team(&url, n1k, "list");
    let lc = list_team.vault.client.clone();
    let list_path = format!("/api/v1/accounts/{}/items", list_team.account);
    let list_token = lc.access_token().unwrap_or_default().to_owned();
    reports.push(hammer(&format!("list all {n1k} items"), 16, http::Work::Walk(&list_path), Some(&list_token)));
    let big = team(&url, n10k, "big");
    let big_path = format!("/api/v1/accounts/{}/items", big.account);
    let big_token = big.vault.client.access_token().unwrap_or_default().to_owned();
    reports.push(hammer(&format!("list all {n10k} items"), 1, http::Work::Walk(&big_path), Some(&big_token)));
    // Mixed: logins while reads run.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let cc = c.clone();
        let auth = auth.clone();
        let small_email = small_email.clone();
        let stop = &stop;
        s.spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = cc.login(&LoginRequest { email: small_email.clone(), auth_key: auth.clone().into() });
            }
        });
        reports.push(hammer("read one item while logins run", 64, http::Work::Get(&item_paths), Some(&token)));
        stop.store(true, Ordering::Relaxed);
    });
    // The reference reads again, then 10× as much data in other accounts, the ceiling again
    // (the machine's speed drifts over minutes), and the same reads and lists.
    reports.push(hammer("read one item (again)", 64, http::Work::Get(&item_paths), Some(&token)));
    for k in 0..10 {
        let _ = team(&url, n1k, &format!("other{k}"));
    }
    reports.push(hammer("healthz (again)", 64, http::Work::Get(&["/healthz".to_owned()]), None));
    reports.push(hammer("read one item, 10x other data", 64, http::Work::Get(&item_paths), Some(&token)));
    reports.push(hammer(
        &format!("list all {n1k} items, 10x other data"),
        16,
        http::Work::Walk(&list_path),
        Some(&list_token),
    ));
    // What witnessing adds to a sync of a 50-member team with a 10,000-entry log.
    if !skipped("sync") {
        sync::run(&url, &srv.dir, quick);
    }
    // Rotation of the big account (client + server).
    let mut rot = big;
    let t0 = Instant::now();
    let r = rot.vault.rotate(&rot.account, true, 500, |_, _| {}).expect("rotate");
    println!("rotate {} items (client + server): {:.2} s", r.items_reencrypted, t0.elapsed().as_secs_f64());
    println!("peak server RSS over the run: {:.1} MiB", proc_kib(pid, "VmHWM:") as f64 / 1024.0);
    if let Some(wal) = probe.wal_mib() {
        let db = std::fs::metadata(srv.dir.join("vouchsafe.db")).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0));
        println!("SQLite at the end: database {db:.1} MiB, WAL {wal:.1} MiB");
    }
    let errors: usize = reports.iter().map(|r| r.errors).sum();
    println!("{} scenarios, {} requests, {errors} errors", reports.len(), reports.iter().map(|r| r.ok).sum::<usize>());
}

fn email_of(t: &Team) -> String {
    t.vault.client.me().map(|m| m.email).unwrap_or_default()
}

fn auth_key(c: &Client, email: &str) -> String {
    let pre = c.prelogin(email).expect("prelogin");
    let salt =
        vouchsafe_crypto::kdf::Salt::try_from_slice(&vouchsafe_crypto::b64::decode(&pre.kdf_salt, 16).expect("salt"))
            .expect("salt");
    let keys = vouchsafe_crypto::kdf::derive_password_keys(b"load password 123", &salt, &pre.kdf_params).expect("kdf");
    vouchsafe_crypto::b64::encode(keys.auth_key.expose_secret())
}
