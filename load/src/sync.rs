//! The sync benchmark: what witnessing (checking every member's signed checkpoint, PROTOCOL.md
//! §5.3) adds to a client's sync of a large team — 50 members and 10,000 log entries (`--quick`:
//! 10 and 1,000). A sync before witnessing fetched, verified and replayed the log; now it also
//! lists the checkpoints, checks each against its chain and re-signs its own when due. The two
//! run alternately against the same server and data, so drift hits both alike.

use std::time::{Duration, Instant};

use vouchsafe_client::Client;
use vouchsafe_client::flows;
use vouchsafe_client::types::{AppendRequest, PutCheckpointRequest};
use vouchsafe_client::vault::{Vault, fetch_verified_log};
use vouchsafe_crypto::b64;
use vouchsafe_crypto::kdf::KdfParams;
use vouchsafe_crypto::log::{EntryBody, LogEntry, Policy, Role};
use vouchsafe_crypto::witness::Checkpoint;

const PASSWORD: &str = "load password 123";

/// The token of the newest invitation mailed to `email` (the outbox folder of the server).
fn invitation_token(data_dir: &std::path::Path, email: &str) -> String {
    for _ in 0..400 {
        for f in std::fs::read_dir(data_dir.join("outbox")).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(f.path()).unwrap_or_default();
            if !text.contains(&format!("To: {email}")) {
                continue;
            }
            let flat = text.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
            if let Some(i) = flat.find("#token=") {
                let rest = &flat[i + "#token=".len()..];
                return rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("no invitation to {email} in the outbox");
}

fn signed_in(url: &str, email: &str) -> Vault {
    flows::register(&Client::new(url), email, PASSWORD, KdfParams { alg: 1, m_kib: 19 * 1024, t: 2, p: 1 })
        .expect("register");
    let mut c = Client::new(url);
    let s = flows::login(&mut c, email, PASSWORD).expect("login");
    Vault::new(c, s)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Builds the team and prints the paired figures.
pub fn run(url: &str, data_dir: &std::path::Path, quick: bool) {
    let (members, entries, rounds) = if quick { (10, 1_000, 3) } else { (50, 10_000, 5) };
    let tag = vouchsafe_crypto::random_id().to_lowercase();
    let t0 = Instant::now();
    let mut owner = signed_in(url, &format!("sync-owner-{tag}@example.com"));
    let acct = owner.create_account("sync").expect("account").id;
    let mut others = Vec::with_capacity(members);
    for i in 1..members {
        let email = format!("sync-{i}-{tag}@example.com");
        let v = signed_in(url, &email);
        owner.invite(&acct, &email, Role::Member).expect("invite");
        v.client.accept_invitation(&invitation_token(data_dir, &email)).expect("accept");
        let code = v.keyring.public().verification_code().to_string();
        owner.confirm(&acct, v.user_id(), Role::Member, &code).expect("confirm");
        others.push(v);
    }
    let (_, mut state) = owner.verified_log(&acct).expect("log");
    while (state.head().seq as usize) + 1 < entries {
        let n = (entries - 1 - state.head().seq as usize).min(200);
        let mut batch = Vec::with_capacity(n);
        for i in 0..n {
            let ts = vouchsafe_client::unix_now().max(state.last_timestamp());
            let policy = Policy { waiting_period_secs: (i % 1000) as u64, ..Policy::default() };
            let e =
                LogEntry::create(&acct, Some(state.head()), &owner.keyring, ts, EntryBody::PolicyChanged { policy })
                    .expect("entry");
            state.apply(&e).expect("apply");
            batch.push(b64::encode(&e.to_bytes()));
        }
        owner
            .client
            .append(&acct, &AppendRequest { entries: batch, sealed_keys: vec![], inbox_wraps: vec![] })
            .expect("append");
    }
    let head = state.head();
    for v in &others {
        let cp = Checkpoint::sign(&acct, head, vouchsafe_client::unix_now(), &v.keyring).expect("checkpoint");
        v.client
            .put_checkpoint(&acct, &PutCheckpointRequest { checkpoint: b64::encode(&cp.to_bytes()) })
            .expect("put checkpoint");
    }
    println!(
        "sync benchmark: {members} members, {} log entries, seeded in {:.1} s",
        head.seq + 1,
        t0.elapsed().as_secs_f64()
    );
    owner.verified_log(&acct).expect("first sync publishes the owner's checkpoint");
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        fetch_verified_log(&owner.client, &acct, Some(head)).expect("sync without witnessing");
        before.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        owner.verified_log(&acct).expect("sync with witnessing");
        after.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let confirmed = owner.witness_report(&acct).map_or(0, |r| r.confirmed.len());
    let (b, a) = (median(before.clone()), median(after.clone()));
    println!(
        "sync (fetch + verify + replay): median {b:.1} ms {before:.1?}\nsync with witnessing ({confirmed} checkpoints on our chain): median {a:.1} ms {after:.1?}\nwitnessing overhead: {:+.1} %",
        (a / b - 1.0) * 100.0
    );
}
