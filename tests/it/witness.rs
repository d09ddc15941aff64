//! The hostile-server suite, witnessing: members' signed checkpoints catch a server that forks
//! the team log (shows two members two histories), withholds entries, or hides members'
//! confirmations. The server's part is played by a proxy per member that rewrites real answers
//! (and answers appends and checkpoint uploads itself, as a forking server would).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use vouchsafe_client::flows;
use vouchsafe_client::vault::Vault;
use vouchsafe_crypto::log::{Policy, Role};

use crate::harness::TestServer;
use crate::hostile::{PW, fields, refused, user_via};
use crate::proxy::HostileProxy;

/// alice (owner, through `pa`) and bob (`role`, through `pb`), bob confirmed, both synced.
fn team(srv: &TestServer, pa: &HostileProxy, pb: &HostileProxy, role: Role) -> (Vault, Vault, String) {
    let mut alice = user_via(srv, pa, "alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let mut bob = user_via(srv, pb, "bob@example.com");
    alice.invite(&acct, "bob@example.com", role).unwrap();
    bob.client.accept_invitation(&srv.outbox_token("bob@example.com")).unwrap();
    alice.confirm(&acct, bob.user_id(), role, &bob.keyring.public().verification_code().to_string()).unwrap();
    alice.verified_log(&acct).unwrap();
    bob.verified_log(&acct).unwrap();
    (alice, bob, acct)
}

/// What a forking server keeps for the member it serves a branch.
#[derive(Default)]
struct Branch {
    /// The member's own appends after the fork point, answered by the proxy, never stored.
    entries: Vec<String>,
    /// The member's latest checkpoint upload, answered by the proxy.
    checkpoint: Option<String>,
}

fn query_after(path: &str) -> Option<u64> {
    path.split_once('?')?.1.split('&').find_map(|kv| kv.strip_prefix("after=")?.parse().ok())
}

/// Makes `via` serve a branch of `acct`'s log forking after position `n`: the real entries
/// after `n` are hidden, and the member's appends and checkpoints are answered by the proxy.
fn serve_branch(via: &HostileProxy, acct: &str, n: u64) -> Arc<Mutex<Branch>> {
    let branch: Arc<Mutex<Branch>> = Arc::default();
    let b = branch.clone();
    via.on("GET", format!("/accounts/{acct}/log"), move |req, ans| {
        let after = query_after(&req.path);
        let b = b.lock().unwrap();
        let mut v = ans.json();
        let mut entries: Vec<Value> = v["entries"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["seq"].as_u64().unwrap() <= n)
            .collect();
        for (i, e) in b.entries.iter().enumerate() {
            let seq = n + 1 + i as u64;
            if after.is_none_or(|a| seq > a) {
                entries.push(json!({ "seq": seq, "entry": e }));
            }
        }
        v["entries"] = json!(entries);
        v["log_len"] = json!(n + 1 + b.entries.len() as u64);
        ans.set_json(&v);
    });
    let b = branch.clone();
    via.on("POST", format!("/accounts/{acct}/log"), move |req, ans| {
        let sent: Value = serde_json::from_str(&req.body).unwrap();
        let mut b = b.lock().unwrap();
        for e in sent["entries"].as_array().unwrap() {
            b.entries.push(e.as_str().unwrap().to_owned());
        }
        *ans = crate::proxy::Answer {
            status: 200,
            body: json!({ "log_len": n + 1 + b.entries.len() as u64 }).to_string(),
        };
    });
    let b = branch.clone();
    via.on("PUT", format!("/accounts/{acct}/checkpoints"), move |req, ans| {
        let sent: Value = serde_json::from_str(&req.body).unwrap();
        b.lock().unwrap().checkpoint = sent["checkpoint"].as_str().map(str::to_owned);
        *ans = crate::proxy::Answer { status: 204, body: String::new() };
    });
    branch
}

/// Replaces `user`'s checkpoint in `via`'s checkpoint listings with what `with` returns (if any).
fn swap_checkpoint(via: &HostileProxy, acct: &str, user: &str, with: impl Fn() -> Option<String> + Send + 'static) {
    let user = user.to_owned();
    via.on("GET", format!("/accounts/{acct}/checkpoints"), move |_, ans| {
        let Some(cp) = with() else { return };
        let mut v = ans.json();
        for w in v.as_array_mut().unwrap() {
            if w["user_id"] == user.as_str() {
                w["checkpoint"] = json!(cp);
            }
        }
        ans.set_json(&v);
    });
}

/// The checkpoint the server holds for `user` now (as the real server lists it).
fn held_checkpoint(v: &Vault, acct: &str, user: &str) -> String {
    let listed = v.client.checkpoints(acct).unwrap();
    listed.into_iter().find(|w| w.user_id.as_str() == user).unwrap().checkpoint.unwrap()
}

/// A fork: the server shows alice and bob two histories from the same point, each with an entry
/// their own client made (alice's policy change is stored; bob's is answered by his proxy and
/// never stored). While bob writes, his proxy also hides alice's newer checkpoint from him;
/// after that it passes checkpoints on. Each detects the fork at their next sync, records it,
/// and refuses to write in the account from then on: nothing more reaches the server.
#[test]
fn a_fork_of_two_live_branches_is_detected_by_both_after_one_sync() {
    let srv = TestServer::start();
    let (pa, pb) = (HostileProxy::start(&srv.url), HostileProxy::start(&srv.url));
    let (mut alice, mut bob, acct) = team(&srv, &pa, &pb, Role::Admin);
    let n = alice.checkpoints()[&acct].seq;
    let alice_before = held_checkpoint(&alice, &acct, alice.user_id());

    let branch = serve_branch(&pb, &acct, n);
    let hide = Arc::new(Mutex::new(true));
    let (h, before) = (hide.clone(), alice_before.clone());
    swap_checkpoint(&pb, &acct, alice.user_id(), move || (*h.lock().unwrap()).then(|| before.clone()));
    let b = branch.clone();
    swap_checkpoint(&pa, &acct, bob.user_id(), move || b.lock().unwrap().checkpoint.clone());

    // Two live branches: alice makes the waiting period a day, bob requires two vouches.
    alice.set_policy(&acct, Policy { waiting_period_secs: 86_400, ..Policy::default() }).unwrap();
    bob.set_policy(&acct, Policy { vouch_quorum: 2, ..Policy::default() }).unwrap();
    assert_eq!(branch.lock().unwrap().entries.len(), 1, "bob's entry went to his branch only");
    assert!(branch.lock().unwrap().checkpoint.is_some(), "bob published his head");
    *hide.lock().unwrap() = false;

    // One sync each.
    let e = alice.verified_log(&acct).unwrap_err();
    refused(&e, "different histories");
    let e = bob.verified_log(&acct).unwrap_err();
    refused(&e, "different histories");
    let fa = alice.forks()[&acct].clone();
    let fb = bob.forks()[&acct].clone();
    assert_eq!((fa.witness.as_str(), fb.witness.as_str()), (bob.user_id(), alice.user_id()));
    assert_eq!((fa.theirs.seq, fb.theirs.seq), (n + 1, n + 1));
    assert_eq!((fa.ours.hash, fa.theirs.hash), (fb.theirs.hash, fb.ours.hash), "the two heads, both ways");
    assert_ne!(fa.ours.hash, fa.theirs.hash);

    // Frozen: even an honest-looking server now gets nothing from either.
    pa.honest();
    pb.honest();
    pa.clear_seen();
    pb.clear_seen();
    for v in [&mut alice, &mut bob] {
        refused(&v.create_item(&acct, &fields(&[("name", "Ada")])).unwrap_err(), "different histories");
        refused(&v.set_policy(&acct, Policy::default()).unwrap_err(), "different histories");
        refused(&v.verified_log(&acct).unwrap_err(), "different histories");
    }
    for p in [&pa, &pb] {
        assert!(!p.reached("PUT", "/items/"), "no item write reached the server");
        assert!(!p.reached("POST", "/log"), "no log write reached the server");
    }
}

/// Withholding: the server hides alice's latest entry from bob but passes checkpoints on;
/// alice's checkpoint names a position bob cannot reach, so bob refuses to act on the shorter
/// history (and a write he attempts never reaches the server).
#[test]
fn a_withheld_entry_is_detected_via_another_members_checkpoint() {
    let srv = TestServer::start();
    let (pa, pb) = (HostileProxy::start(&srv.url), HostileProxy::start(&srv.url));
    let (mut alice, mut bob, acct) = team(&srv, &pa, &pb, Role::Member);
    let n = bob.checkpoints()[&acct].seq;
    alice.set_policy(&acct, Policy { vouch_quorum: 1, waiting_period_secs: 3600, ..Policy::default() }).unwrap();
    // Control: served honestly, bob sees alice confirm the new head.
    bob.verified_log(&acct).unwrap();
    assert_eq!(bob.witness_report(&acct).unwrap().confirmed[alice.user_id()], n + 1);

    alice.set_policy(&acct, Policy::default()).unwrap();
    let _hidden = serve_branch(&pb, &acct, n + 1);
    pb.clear_seen();
    let e = bob.create_item(&acct, &fields(&[("name", "Ada")])).unwrap_err();
    refused(&e, "withholds log entries");
    assert!(e.to_string().contains(alice.user_id()), "{e}");
    assert!(!pb.reached("PUT", "/items/"), "the write never reached the server");
    // The refetch asked once more before refusing.
    let reads = pb.seen().iter().filter(|s| s.method == "GET" && s.path.contains("/log")).count();
    assert!(reads >= 2, "{reads}");
    // Served in full again, bob goes on.
    pb.honest();
    bob.verified_log(&acct).unwrap();
}

/// Hidden confirmations: the server keeps showing alice bob's first checkpoint while bob goes on
/// working. At the configured age (on the server's fixed clock) alice is told; carol, who has
/// not been active since her checkpoint, is not reported.
#[test]
fn a_stale_checkpoint_of_an_active_member_is_reported_at_the_configured_age() {
    let srv = TestServer::start();
    let (pa, pb) = (HostileProxy::start(&srv.url), HostileProxy::start(&srv.url));
    let (mut alice, mut bob, acct) = team(&srv, &pa, &pb, Role::Admin);
    let mut carol = user_via(&srv, &pa, "carol@example.com");
    alice.invite(&acct, "carol@example.com", Role::Member).unwrap();
    carol.client.accept_invitation(&srv.outbox_token("carol@example.com")).unwrap();
    alice
        .confirm(&acct, carol.user_id(), Role::Member, &carol.keyring.public().verification_code().to_string())
        .unwrap();
    carol.verified_log(&acct).unwrap();
    bob.verified_log(&acct).unwrap();
    alice.verified_log(&acct).unwrap();
    assert!(alice.witness_report(&acct).unwrap().stale.is_empty());
    let first = held_checkpoint(&alice, &acct, bob.user_id());
    swap_checkpoint(&pa, &acct, bob.user_id(), move || Some(first.clone()));
    alice.set_checkpoint_max_age(3 * 86_400);

    let relogin = |v: &mut Vault, via: &HostileProxy, email: &str| {
        let mut c = via.client();
        flows::login(&mut c, email, PW).unwrap();
        v.client = c;
    };
    // Two days on, bob works (signs in, changes the policy, syncs: his client re-signs).
    srv.clock.advance(2 * 86_400);
    relogin(&mut bob, &pb, "bob@example.com");
    bob.set_policy(&acct, Policy { waiting_period_secs: 600, ..Policy::default() }).unwrap();
    bob.verified_log(&acct).unwrap();
    // Just under three days since bob's first checkpoint: nothing to report yet.
    srv.clock.advance(86_400 - 30);
    relogin(&mut alice, &pa, "alice@example.com");
    alice.verified_log(&acct).unwrap();
    assert!(alice.witness_report(&acct).unwrap().stale.is_empty(), "{:?}", alice.witness_report(&acct));
    // Past it: bob, active since, is reported; carol, idle, is not.
    srv.clock.advance(60);
    alice.verified_log(&acct).unwrap();
    let report = alice.witness_report(&acct).unwrap();
    assert_eq!(report.stale.len(), 1, "{report:?}");
    assert_eq!(report.stale[0].user_id, bob.user_id());
    assert_eq!(report.stale[0].message("bob@example.com"), "bob@example.com has not confirmed the history for 3 days");
    assert!(report.confirmed.contains_key(carol.user_id()));
    // The real server holds bob's current checkpoint: an honest listing clears the warning.
    pa.honest();
    alice.verified_log(&acct).unwrap();
    assert!(alice.witness_report(&acct).unwrap().stale.is_empty());
}
