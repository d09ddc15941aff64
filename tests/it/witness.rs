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

/// Joining verifies the team: the server shows a new member a team it made up (a genesis and
/// a `member_added` signed by its own key under the real admin's user id). The joiner's client
/// computes the adding admin's code and the history code from what it was served; they do not
/// match what the real admin reads out at confirm, so the comparison is refused and the account
/// is frozen on that device: no item write reaches the server. A joiner served the real team
/// computes exactly the admin's codes, and the team is verified.
#[test]
fn a_made_up_team_shown_to_a_joiner_is_refused_at_the_code_comparison() {
    use vouchsafe_crypto::log::{EntryBody, LogEntry, TeamState};
    let srv = TestServer::start();
    let (pa, pc) = (HostileProxy::start(&srv.url), HostileProxy::start(&srv.url));
    let mut alice = user_via(&srv, &pa, "alice@example.com");
    let acct = alice.create_account("Acme").unwrap().id;
    let mut carol = user_via(&srv, &pc, "carol@example.com");
    let mut dave = user_via(&srv, &pa, "dave@example.com");
    let mut intros = Vec::new();
    for v in [&carol, &dave] {
        let email = if v.user_id() == carol.user_id() { "carol@example.com" } else { "dave@example.com" };
        alice.invite(&acct, email, Role::Member).unwrap();
        v.client.accept_invitation(&srv.outbox_token(email)).unwrap();
        let code = v.keyring.public().verification_code().to_string();
        intros.push(alice.confirm(&acct, v.user_id(), Role::Member, &code).unwrap());
    }
    let (for_carol, for_dave) = (intros[0].clone(), intros[1].clone());
    assert_eq!(for_carol.admin_code, alice.keyring.public().verification_code());
    assert_eq!(alice.introduction(&acct, dave.user_id()).unwrap(), for_dave, "the admin can show it again");

    // The honest path: dave computes what alice reads out.
    dave.verified_log(&acct).unwrap();
    assert!(dave.unverified_teams().contains(&acct), "unverified until compared");
    let dave_id = dave.user_id().to_owned();
    assert_eq!(dave.introduction(&acct, &dave_id).unwrap(), for_dave);
    dave.verify_team(&acct, for_dave.admin_code.as_str(), for_dave.history_code.as_str()).unwrap();
    assert!(!dave.unverified_teams().contains(&acct) && dave.verified_teams().contains(&acct));
    dave.create_item(&acct, &fields(&[("name", "Ada")])).unwrap();

    // The made-up team carol is shown: the server's key, alice's user id.
    let mallory =
        vouchsafe_crypto::identity::Keyring::generate(alice.user_id(), 1, &mut vouchsafe_crypto::os_rng()).unwrap();
    let t = 1_800_000_000;
    let genesis = LogEntry::create(
        &acct,
        None,
        &mallory,
        t,
        EntryBody::Genesis { creator: mallory.public(), policy: Policy::default() },
    )
    .unwrap();
    let mut state = TeamState::replay(&acct, std::slice::from_ref(&genesis)).unwrap();
    let added = LogEntry::create(
        &acct,
        Some(state.head()),
        &mallory,
        t,
        EntryBody::MemberAdded { member: carol.keyring.public(), role: Role::Member },
    )
    .unwrap();
    state.apply(&added).unwrap();
    let made_up: Vec<Value> = [&genesis, &added]
        .iter()
        .map(|e| json!({ "seq": e.seq, "entry": vouchsafe_crypto::b64::encode(&e.to_bytes()) }))
        .collect();
    pc.on("GET", format!("/accounts/{acct}/log"), move |req, ans| {
        let after = query_after(&req.path);
        let entries: Vec<&Value> =
            made_up.iter().filter(|e| after.is_none_or(|a| e["seq"].as_u64().unwrap() > a)).collect();
        ans.set_json(&json!({ "entries": entries, "log_len": 2 }));
    });
    pc.on("GET", format!("/accounts/{acct}/checkpoints"), |_, ans| ans.set_json(&json!([])));
    carol.verified_log(&acct).unwrap();
    assert!(carol.unverified_teams().contains(&acct));
    let carol_id = carol.user_id().to_owned();
    let shown = carol.introduction(&acct, &carol_id).unwrap();
    assert_eq!(shown.admin_id, alice.user_id(), "the made-up team claims alice added carol");
    assert_ne!(shown.admin_code, for_carol.admin_code);
    assert_ne!(shown.history_code, for_carol.history_code);
    pc.clear_seen();
    let e = carol.verify_team(&acct, for_carol.admin_code.as_str(), for_carol.history_code.as_str()).unwrap_err();
    refused(&e, "admin's code read out to you does not match");
    assert!(carol.rejected_teams().contains(&acct) && !carol.verified_teams().contains(&acct));
    // Frozen, even once the server turns honest.
    pc.honest();
    refused(&carol.create_item(&acct, &fields(&[("name", "Ada")])).unwrap_err(), "did not match");
    refused(&carol.verified_log(&acct).unwrap_err(), "did not match");
    assert!(!pc.reached("PUT", "/items/") && !pc.reached("POST", "/log"), "nothing was written");
}

/// At vouch, both sides see the same team history code: the resetting member's device computes
/// it from the announcement it signed, the voucher's client from its own verified log.
#[test]
fn the_history_code_at_vouch_is_the_one_the_resetting_device_showed() {
    let srv = TestServer::start();
    let (pa, pb) = (HostileProxy::start(&srv.url), HostileProxy::start(&srv.url));
    let (mut alice, bob, acct) = team(&srv, &pa, &pb, Role::Member);
    drop(bob);
    srv.client().reset_request("bob@example.com").unwrap();
    let token = srv.outbox_token("bob@example.com");
    let now = u64::try_from(vouchsafe::state::Clock::now(&*srv.clock)).unwrap();
    let done = flows::reset_with_token(&srv.client(), &token, "a brand new password", crate::harness::fast_kdf(), now)
        .unwrap();
    let (shown_acct, shown) = &done.history_codes[0];
    assert_eq!(shown_acct, &acct);
    let pending = alice.pending_resets(&acct).unwrap();
    assert_eq!(pending[0].code, done.keyring.public().verification_code().to_string());
    assert_eq!(pending[0].history_code.as_ref(), Some(shown));
}

/// The ceremony with the real `vouchsafe` binary: `confirm` prints the admin's code and the team
/// history code; the joiner's `verify-team` compares them. A wrong code freezes the team on that
/// device (kept in `trust.json`, so a later command is refused too); the right codes verify it
/// and the "not verified" note goes away.
#[test]
fn the_cli_joiner_compares_the_admins_codes() {
    use crate::hostile::{Cli, srv_user_id};
    let srv = TestServer::start_real_time();
    let proxy = HostileProxy::start(&srv.url);
    let (alice, bob, carol) = (Cli::new(&proxy.url), Cli::new(&proxy.url), Cli::new(&proxy.url));
    alice.ok(&["register", "--email", "alice@example.com"]);
    alice.ok(&["login", "--email", "alice@example.com"]);
    let acct = alice.ok(&["account", "create", "Acme"]).split_whitespace().nth(2).unwrap().to_owned();
    let mut read_out = Vec::new();
    for (cli, email) in [(&bob, "bob@example.com"), (&carol, "carol@example.com")] {
        alice.ok(&["invite", &acct, email, "--role", "member"]);
        cli.ok(&["register", "--email", email]);
        let login = cli.ok(&["login", "--email", email]);
        let code: String = login.rsplit("verification code is ").next().unwrap().trim().to_owned();
        cli.ok(&["accept", &format!("http://x/invite#token={}", srv.outbox_token(email))]);
        let id = srv_user_id(&srv, email);
        let out = alice.ok(&["confirm", &acct, &id, "--role", "member", "--code", &code]);
        let pick = |label: &str| out.lines().find_map(|l| l.trim().strip_prefix(label)).unwrap().trim().to_owned();
        read_out.push((pick("your code:"), pick("team history code:")));
        let again = alice.ok(&["introduce", &acct, &id]);
        assert!(again.contains(&read_out.last().unwrap().1), "{again}");
    }
    let (bob_codes, carol_codes) = (&read_out[0], &read_out[1]);
    assert_ne!(bob_codes.1, carol_codes.1, "each joiner's entry has its own history code");

    // Unverified until compared.
    let put = carol.ok(&["item", "put", &acct, "name=Ada"]);
    assert!(put.contains("not verified on this device"), "{put}");
    let done = carol.ok(&["verify-team", &acct, "--admin-code", &carol_codes.0, "--history-code", &carol_codes.1]);
    assert!(done.contains("team verified"), "{done}");
    let put = carol.ok(&["item", "put", &acct, "name=Grace"]);
    assert!(!put.contains("not verified"), "{put}");

    // Bob types a history code that is not his team's: refused, and frozen for later commands.
    let (ok, _, err) =
        bob.run(&["verify-team", &acct, "--admin-code", &bob_codes.0, "--history-code", &carol_codes.1], "");
    assert!(!ok && err.contains("team history code read out to you does not match"), "{err}");
    proxy.clear_seen();
    let (ok, _, err) = bob.run(&["item", "put", &acct, "name=Ada"], "");
    assert!(!ok && err.contains("did not match"), "{err}");
    assert!(!proxy.reached("PUT", "/items/"));
}

/// Proposals: under a 2-of-3 admin policy, a policy change proposed by alice is shown to bob
/// decoded (what it changes, who signed), co-signed from bob's machine and applied; a proposal
/// the server altered after alice signed it is refused by carol's client (nothing is sent); an
/// expired one cannot be co-signed, by the client or the API.
#[test]
fn a_two_of_three_policy_change_is_proposed_cosigned_and_applied_across_machines() {
    let srv = TestServer::start();
    let (pa, pb, pc) = (HostileProxy::start(&srv.url), HostileProxy::start(&srv.url), HostileProxy::start(&srv.url));
    let (mut alice, mut bob, acct) = team(&srv, &pa, &pb, Role::Admin);
    let mut carol = user_via(&srv, &pc, "carol@example.com");
    alice.invite(&acct, "carol@example.com", Role::Admin).unwrap();
    carol.client.accept_invitation(&srv.outbox_token("carol@example.com")).unwrap();
    alice
        .confirm(&acct, carol.user_id(), Role::Admin, &carol.keyring.public().verification_code().to_string())
        .unwrap();
    alice.set_policy(&acct, Policy { admin_approvals: 2, ..Policy::default() }).unwrap();
    let two = Policy { admin_approvals: 2, ..Policy::default() };

    // One admin alone cannot change it any more.
    let e = alice.set_policy(&acct, Policy { vouch_quorum: 2, ..two }).unwrap_err();
    assert!(e.to_string().contains("admin signatures"), "{e}");
    let p = alice.propose_policy(&acct, Policy { vouch_quorum: 2, ..two }, None).unwrap();
    assert_eq!((p.status.as_str(), p.signatures, p.needed), ("open", 1, 2));

    // Bob sees exactly what it does, and co-signs from his machine: it applies.
    let views = bob.proposals(&acct).unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].summary, "policy change: vouches needed 1 → 2");
    assert_eq!(views[0].signers, vec![alice.user_id().to_owned()]);
    assert!(views[0].refused.is_none(), "{:?}", views[0].refused);
    let done = bob.cosign(&acct, p.id.as_ref()).unwrap();
    assert_eq!(done.status, "applied");
    assert_eq!(alice.policy(&acct).unwrap().vouch_quorum, 2);
    assert!(alice.proposals(&acct).unwrap().is_empty(), "applied proposals are no longer listed");
    let (entries, _) = carol.verified_log(&acct).unwrap();
    let last = entries.last().unwrap();
    assert_eq!((last.author.as_str(), last.cosignatures.len()), (alice.user_id(), 1));
    assert_eq!(last.cosignatures[0].user_id, bob.user_id());

    // Tampered: the server shows carol alice's next proposal with another waiting period.
    let p = alice.propose_policy(&acct, Policy { vouch_quorum: 2, waiting_period_secs: 86_400, ..two }, None).unwrap();
    let id = p.id.to_string();
    let alter = move |v: &mut Value| {
        let raw = vouchsafe_crypto::b64::decode(v["entry"].as_str().unwrap(), 4096).unwrap();
        let mut e = vouchsafe_crypto::log::LogEntry::from_bytes(&raw).unwrap();
        e.body = vouchsafe_crypto::log::EntryBody::PolicyChanged { policy: Policy { vouch_quorum: 1, ..two } };
        v["entry"] = json!(vouchsafe_crypto::b64::encode(&e.to_bytes()));
    };
    pc.on("GET", format!("/accounts/{acct}/proposals"), move |_, ans| {
        let mut v = ans.json();
        v.as_array_mut().unwrap().iter_mut().for_each(alter);
        ans.set_json(&v);
    });
    pc.on("GET", format!("/accounts/{acct}/proposals/{id}"), move |_, ans| {
        let mut v = ans.json();
        alter(&mut v);
        ans.set_json(&v);
    });
    let views = carol.proposals(&acct).unwrap();
    assert!(views[0].refused.as_deref().is_some_and(|r| r.contains("altered")), "{:?}", views[0].refused);
    pc.clear_seen();
    refused(&carol.cosign(&acct, p.id.as_ref()).unwrap_err(), "altered");
    assert!(!pc.reached("POST", "/cosign"), "no co-signature was sent");
    pc.honest();
    alice.withdraw_proposal(&acct, p.id.as_ref()).unwrap();
    refused(&carol.cosign(&acct, p.id.as_ref()).unwrap_err(), "withdrawn");

    // Expired: a one-minute proposal, co-signed after two minutes.
    let p = alice.propose_policy(&acct, Policy { vouch_quorum: 3, ..two }, Some(60)).unwrap();
    srv.clock.advance(120);
    refused(&carol.cosign(&acct, p.id.as_ref()).unwrap_err(), "expired");
    assert!(carol.proposals(&acct).unwrap().is_empty());
    // Straight to the API with a valid signature: refused too.
    let shown = carol.client.proposal(&acct, p.id.as_ref()).unwrap();
    let raw = vouchsafe_crypto::b64::decode(&shown.entry, 4096).unwrap();
    let entry = vouchsafe_crypto::log::LogEntry::from_bytes(&raw).unwrap();
    let signature = vouchsafe_crypto::b64::encode(&carol.keyring.sign(&entry.signing_input()));
    let req = vouchsafe_client::types::CosignRequest { generation: 1, signature };
    let e = carol.client.cosign_proposal(&acct, p.id.as_ref(), &req).unwrap_err();
    assert_eq!(e.code(), Some("proposal.expired"));
    assert_eq!(alice.policy(&acct).unwrap().vouch_quorum, 2, "nothing applied");

    // A server that answers "applied" for a co-signature that did not complete it: bob's
    // client checks its own log, which does not show the entry, and says so.
    let three = Policy { admin_approvals: 3, vouch_quorum: 2, ..two };
    let p = alice.propose_policy(&acct, three, None).unwrap();
    assert_eq!(carol.cosign(&acct, p.id.as_ref()).unwrap().status, "applied");
    let p = alice.propose_policy(&acct, Policy { vouch_quorum: 3, ..three }, None).unwrap();
    pb.on("POST", format!("/proposals/{}/cosign", p.id), |_, ans| {
        let mut v = ans.json();
        v["status"] = json!("applied");
        ans.set_json(&v);
    });
    refused(&bob.cosign(&acct, p.id.as_ref()).unwrap_err(), "the log does not show it");
    assert_eq!(alice.policy(&acct).unwrap().vouch_quorum, 2, "still one signature short");
}

/// The same with the real binary: under two admin approvals `policy set` proposes, the other
/// admin's `proposal list` shows what it does and `proposal cosign` applies it.
#[test]
fn the_cli_proposes_and_cosigns_a_policy_change() {
    use crate::hostile::{Cli, srv_user_id};
    let srv = TestServer::start_real_time();
    let (alice, bob) = (Cli::new(&srv.url), Cli::new(&srv.url));
    alice.ok(&["register", "--email", "alice@example.com"]);
    alice.ok(&["login", "--email", "alice@example.com"]);
    let acct = alice.ok(&["account", "create", "Acme"]).split_whitespace().nth(2).unwrap().to_owned();
    alice.ok(&["invite", &acct, "bob@example.com", "--role", "admin"]);
    bob.ok(&["register", "--email", "bob@example.com"]);
    let login = bob.ok(&["login", "--email", "bob@example.com"]);
    let code: String = login.rsplit("verification code is ").next().unwrap().trim().to_owned();
    bob.ok(&["accept", &format!("http://x/invite#token={}", srv.outbox_token("bob@example.com"))]);
    let bob_id = srv_user_id(&srv, "bob@example.com");
    alice.ok(&["confirm", &acct, &bob_id, "--role", "admin", "--code", &code]);
    alice.ok(&["policy", "set", &acct, "--admin-approvals", "2"]);
    let out = alice.ok(&["policy", "set", &acct, "--quorum", "2"]);
    assert!(out.contains("1 of 2 admin signatures"), "{out}");
    let id = out.split("proposed ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let listed = bob.ok(&["proposal", "list", &acct]);
    assert!(listed.contains(&id) && listed.contains("vouches needed 1 → 2") && !listed.contains("REFUSED"), "{listed}");
    let done = bob.ok(&["proposal", "cosign", &acct, &id]);
    assert!(done.contains("applied"), "{done}");
    assert!(alice.ok(&["policy", "show", &acct]).contains("vouch quorum 2"));
    assert!(bob.ok(&["proposal", "list", &acct]).contains("no open proposals"));
}
