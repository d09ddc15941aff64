//! Item throughput and rotation time against a running server (see docs/BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release -p vouchsafe-client --example itembench -- http://127.0.0.1:8080 4 10 10000
//! ```
//! Arguments: server URL, client threads, seconds per phase, items to rotate.

// A benchmark: it measures wall time.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vouchsafe_client::flows;
use vouchsafe_client::vault::Vault;
use vouchsafe_crypto::kdf::KdfParams;

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

fn vault(url: &str, email: &str) -> Vault {
    let params = KdfParams { alg: 1, m_kib: 19 * 1024, t: 2, p: 1 };
    let c = vouchsafe_client::Client::new(url);
    flows::register(&c, email, "bench password 123", params).expect("register");
    let mut c = vouchsafe_client::Client::new(url);
    let s = flows::login(&mut c, email, "bench password 123").expect("login");
    Vault::new(c, s)
}

fn fields(i: usize) -> BTreeMap<String, Vec<u8>> {
    let mut f = BTreeMap::new();
    f.insert("name".to_owned(), format!("Customer {i}").into_bytes());
    f.insert("email".to_owned(), format!("customer{i}@example.com").into_bytes());
    f.insert("notes".to_owned(), vec![b'x'; 200]);
    f
}

fn phase(name: &str, threads: usize, secs: u64, work: impl Fn(usize, usize) -> bool + Sync) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut all: Vec<Duration> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let work = &work;
                s.spawn(move || {
                    let mut lat = Vec::new();
                    let mut i = 0;
                    while Instant::now() < deadline {
                        let t0 = Instant::now();
                        if work(t, i) {
                            lat.push(t0.elapsed());
                        }
                        i += 1;
                    }
                    lat
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let el = start.elapsed().as_secs_f64();
    let n = all.len();
    println!(
        "{name:>12}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms ({n} requests)",
        n as f64 / el,
        pct(&mut all, 0.5),
        pct(&mut all, 0.99)
    );
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let url = a.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let threads: usize = a.get(2).and_then(|x| x.parse().ok()).unwrap_or(4);
    let secs: u64 = a.get(3).and_then(|x| x.parse().ok()).unwrap_or(10);
    let rotate_n: usize = a.get(4).and_then(|x| x.parse().ok()).unwrap_or(10_000);
    let run = vouchsafe_crypto::random_id().to_lowercase();
    let email = format!("owner-{run}@example.com");
    let mut owner = vault(&url, &email);
    let acct = owner.create_account("bench").expect("account").id;
    // One signed-in vault (own session, same keys) per thread.
    let vaults: Vec<std::sync::Mutex<Vault>> = (0..threads)
        .map(|_| {
            let mut c = vouchsafe_client::Client::new(&url);
            let s = flows::login(&mut c, &email, "bench password 123").expect("login");
            std::sync::Mutex::new(Vault::new(c, s))
        })
        .collect();
    let client = owner.client.clone();
    let ids: Vec<std::sync::Mutex<Vec<String>>> = (0..threads).map(|_| std::sync::Mutex::new(Vec::new())).collect();
    phase("create", threads, secs, |t, i| {
        let w = vaults[t].lock().map(|mut v| v.create_item(&acct, &fields(t * 1_000_000 + i)));
        match w {
            Ok(Ok(w)) => {
                if let Ok(mut v) = ids[t].lock() {
                    v.push(w.id);
                }
                true
            }
            _ => false,
        }
    });
    let all_ids: Vec<String> = ids.iter().flat_map(|m| m.lock().map(|v| v.clone()).unwrap_or_default()).collect();
    phase("read", threads, secs, |t, i| {
        let id = &all_ids[(t * 7919 + i) % all_ids.len()];
        client.item(&acct, id).is_ok()
    });
    phase("list 100", threads, secs, |_, _| client.items(&acct, None, 100, None).is_ok());
    let existing = all_ids.len();
    let start = Instant::now();
    for i in existing..rotate_n {
        owner.create_item(&acct, &fields(i)).expect("create");
    }
    println!("filled to {} items in {:.1} s", rotate_n.max(existing), start.elapsed().as_secs_f64());
    let start = Instant::now();
    let r = owner.rotate(&acct, true, 200, |_, _| {}).expect("rotate");
    println!(
        "rotation to key v{}: {} items re-encrypted in {:.1} s",
        r.key_version,
        r.items_reencrypted,
        start.elapsed().as_secs_f64()
    );
}
