//! A small load generator against a running server: logins (Argon2-bound) and authenticated
//! `GET /api/v1/me`. Reports requests/s and latency percentiles. Not a test: numbers go in
//! docs/BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release -- serve &            # or any server URL
//! cargo run --release -p vouchsafe-client --example loadgen -- http://127.0.0.1:8080 4 10
//! ```
//! Arguments: server URL, client threads (default 4), seconds per phase (default 10).

// A benchmark: it measures wall time.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use vouchsafe_client::flows;
use vouchsafe_client::types::{LoginAnswer, LoginRequest};
use vouchsafe_crypto::b64;
use vouchsafe_crypto::kdf::{KdfParams, Salt, derive_password_keys};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut lat: Vec<Duration>, errors: usize, elapsed: Duration) {
    lat.sort();
    let n = lat.len();
    println!(
        "{name:>8}: {n} ok, {errors} errors in {:.1} s = {:.0} req/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn phase<F>(threads: usize, secs: u64, work: F) -> (Vec<Duration>, usize, Duration)
where
    F: Fn(usize) -> bool + Sync,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let work = &work;
                s.spawn(move || {
                    let mut lat = Vec::new();
                    let mut errors = 0;
                    while Instant::now() < deadline {
                        let t0 = Instant::now();
                        if work(t) { lat.push(t0.elapsed()) } else { errors += 1 }
                    }
                    (lat, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let elapsed = start.elapsed();
    let mut all = Vec::new();
    let mut errors = 0;
    for (l, e) in results {
        all.extend(l);
        errors += e;
    }
    (all, errors, elapsed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let threads: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4);
    let secs: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10);
    let params = KdfParams { alg: 1, m_kib: 19 * 1024, t: 2, p: 1 };
    let run = vouchsafe_crypto::random_id();
    let password = "load test password";

    // One user per thread; the client-side KDF runs once per user, outside the measurement.
    let mut users = Vec::new();
    for t in 0..threads {
        let c = vouchsafe_client::Client::new(&url);
        let email = format!("load-{run}-{t}@example.com").to_lowercase();
        flows::register(&c, &email, password, params)?;
        let pre = c.prelogin(&email)?;
        let salt = Salt::try_from_slice(&b64::decode(&pre.kdf_salt, 16)?)?;
        let keys = derive_password_keys(password.as_bytes(), &salt, &pre.kdf_params)?;
        users.push((email, b64::encode(keys.auth_key.expose_secret())));
    }
    println!("server {url}, {threads} client threads, {secs} s per phase");

    let (lat, err, el) = phase(threads, secs, |t| {
        let c = vouchsafe_client::Client::new(&url);
        c.login(&LoginRequest { email: users[t].0.clone(), auth_key: users[t].1.clone().into() }).is_ok()
    });
    report("login", lat, err, el);

    let clients: Vec<vouchsafe_client::Client> = users
        .iter()
        .map(|(email, key)| {
            let mut c = vouchsafe_client::Client::new(&url);
            let r = c.login(&LoginRequest { email: email.clone(), auth_key: key.clone().into() });
            c.set_access_token(
                r.ok().and_then(LoginAnswer::session).map(|r| r.tokens.access_token.expose().to_owned()),
            );
            c
        })
        .collect();
    let (lat, err, el) = phase(threads, secs, |t| clients[t].me().is_ok());
    report("GET /me", lat, err, el);
    Ok(())
}
