//! The client subcommands of the `vouchsafe` binary. The profile (server URL, email, tokens,
//! the public keys unlocked at sign-in — never private keys or passwords) lives in
//! `<config dir>/vouchsafe/profile.json`, mode 0600. What this device has verified — the last
//! team-log head per account and the highest item revisions seen — lives beside it in
//! `trust.json`, per (server, user), and survives logins, logouts and profile rewrites: a server
//! that forces a new sign-in cannot then roll a team's history back.
//!
//! One module per command group holds the group's arguments and actions together ([`server`],
//! [`session`], [`team`], [`items`], [`inbox`], [`recovery`], [`workers`]); this module holds what they
//! share: the profile, the prompts ([`read_password`], [`read_new_password`], [`read_line`]),
//! `--json` output, and opening the vault.

use std::path::PathBuf;

pub mod inbox;
pub mod items;
pub mod mfa;
pub mod recovery;
pub mod server;
pub mod session;
pub mod team;
pub mod workers;

use serde::{Deserialize, Serialize};
use vouchsafe_client::flows;
use vouchsafe_client::{Client, ClientError};
use vouchsafe_crypto::kdf::KdfParams;
use zeroize::Zeroizing;

/// Stored between CLI invocations.
#[derive(Default, Serialize, Deserialize)]
pub struct Profile {
    /// Server base URL.
    pub server: String,
    /// Email of the signed-in user.
    pub email: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// Current refresh token (rotated on every use).
    pub refresh_token: Option<String>,
    /// The user's own public keys (base64url), as unlocked from the keyring at sign-in: the
    /// verification code this user reads to others is computed from these, never from the
    /// server's `/me`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_keys: Option<String>,
    /// Profiles written before `trust.json` kept checkpoints here; they move there on load.
    #[serde(default, skip_serializing)]
    pub checkpoints: std::collections::BTreeMap<String, (u64, String)>,
}

/// What this device verified for one (server, user): kept across sign-ins.
#[derive(Default, Serialize, Deserialize)]
pub struct View {
    /// Last verified team-log head per account (`seq`, base64url hash): a later log that does
    /// not extend it is a fork or a rollback and is refused.
    #[serde(default)]
    pub checkpoints: BTreeMap<String, (u64, String)>,
    /// Highest revision seen per account and item: an older one served later is a replay.
    #[serde(default)]
    pub revisions: BTreeMap<String, BTreeMap<String, u64>>,
    /// Accounts frozen on this device: another member's signed checkpoint contradicted the
    /// history this device verified (evidence; kept until the person removes it).
    #[serde(default)]
    pub forks: BTreeMap<String, vouchsafe_client::vault::ForkRecord>,
    /// Teams verified with the admin who added this user (`vouchsafe verify-team`).
    #[serde(default)]
    pub verified_teams: std::collections::BTreeSet<String>,
    /// Teams whose codes did not match at `verify-team`: frozen on this device.
    #[serde(default)]
    pub rejected_teams: std::collections::BTreeSet<String>,
}

/// `trust.json`: a [`View`] per `"<server> <user id>"`. Not secret (heads and revision numbers),
/// written with mode 0600 like the profile.
#[derive(Default, Serialize, Deserialize)]
pub struct Trust {
    /// Views by `"<server> <user id>"`.
    #[serde(default)]
    pub views: BTreeMap<String, View>,
}

/// Where `trust.json` lives: beside the profile (`VOUCHSAFE_TRUST` overrides).
pub fn trust_path() -> PathBuf {
    if let Ok(p) = std::env::var("VOUCHSAFE_TRUST") {
        return PathBuf::from(p);
    }
    profile_path().with_file_name("trust.json")
}

impl Trust {
    /// Loads the file, or an empty one if there is none. A file that exists but does not parse
    /// is an error: silently starting over would forget every checkpoint.
    pub fn load() -> Result<Self, String> {
        let p = trust_path();
        match std::fs::read_to_string(&p) {
            Ok(t) => serde_json::from_str(&t)
                .map_err(|e| format!("{} is damaged ({e}); move it away to start over", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", p.display())),
        }
    }
    /// Saves with mode 0600.
    pub fn save(&self) -> Result<(), String> {
        write_private(&trust_path(), &serde_json::to_string_pretty(self).map_err(|e| e.to_string())?)
    }
    fn key(server: &str, user_id: &str) -> String {
        format!("{} {user_id}", server.trim_end_matches('/'))
    }
    /// The view of `user_id` on `server`.
    pub fn view(&mut self, server: &str, user_id: &str) -> &mut View {
        self.views.entry(Self::key(server, user_id)).or_default()
    }
}

/// Writes `text` to `p` with mode 0600, creating the folder.
pub(crate) fn write_private(p: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(p).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", p.display()))
}

/// A server-supplied (or team-supplied) string made safe to print: control characters
/// (terminal escape sequences start with one) and bidirectional overrides become `�`.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
            if c.is_control() || bidi { '\u{fffd}' } else { c }
        })
        .collect()
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile").field("server", &self.server).field("email", &self.email).finish_non_exhaustive()
    }
}

/// Where the profile lives (`VOUCHSAFE_PROFILE` overrides).
pub fn profile_path() -> PathBuf {
    if let Ok(p) = std::env::var("VOUCHSAFE_PROFILE") {
        return PathBuf::from(p);
    }
    dirs::config_dir().unwrap_or_else(|| PathBuf::from(".")).join("vouchsafe").join("profile.json")
}

impl Profile {
    /// Loads the profile, or an empty one. Checkpoints an older profile kept move to `trust.json`.
    pub fn load() -> Self {
        let mut p: Self = std::fs::read_to_string(profile_path())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        if !p.checkpoints.is_empty()
            && let Some(uid) = p.user_id.clone()
            && let Ok(mut trust) = Trust::load()
        {
            let view = trust.view(&p.server, &uid);
            for (a, h) in std::mem::take(&mut p.checkpoints) {
                view.checkpoints.entry(a).or_insert(h);
            }
            if trust.save().is_ok() {
                let _ = p.save();
            }
        }
        p
    }
    /// Saves with mode 0600.
    pub fn save(&self) -> Result<(), String> {
        write_private(&profile_path(), &serde_json::to_string_pretty(self).map_err(|e| e.to_string())?)
    }

    /// The user's own identity, from the keys unlocked at sign-in (not from the server).
    pub fn identity(&self) -> Result<vouchsafe_crypto::identity::PublicIdentity, String> {
        let (Some(uid), Some(keys)) = (&self.user_id, &self.public_keys) else {
            return Err("sign in again (`vouchsafe login`) so this device knows your own keys".into());
        };
        let bytes = vouchsafe_crypto::b64::decode(keys, 100).map_err(|e| e.to_string())?;
        vouchsafe_crypto::identity::PublicIdentity::keys_from_bytes(uid, &bytes).map_err(|e| e.to_string())
    }
}

/// Reads a password: `--password-file`, then `$VOUCHSAFE_PASSWORD` (or the named variable),
/// then an interactive prompt.
pub fn read_password(prompt: &str, file: Option<&PathBuf>, env_name: &str) -> Result<Zeroizing<String>, String> {
    if let Some(f) = file {
        let t = Zeroizing::new(std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?);
        return Ok(Zeroizing::new(t.trim_end_matches(['\n', '\r']).to_owned()));
    }
    if let Ok(v) = std::env::var(env_name) {
        return Ok(Zeroizing::new(v));
    }
    rpassword::prompt_password(prompt).map(Zeroizing::new).map_err(|e| format!("cannot read the password: {e}"))
}

/// A new password (from `file`, `env_name` or a prompt), refused when shorter than
/// [`vouchsafe_client::flows::MIN_PASSWORD`] characters.
pub fn read_new_password(prompt: &str, file: Option<&PathBuf>, env_name: &str) -> Result<Zeroizing<String>, String> {
    let pw = read_password(prompt, file, env_name)?;
    vouchsafe_client::flows::check_new_password(&pw)?;
    Ok(pw)
}

fn explain(e: ClientError) -> String {
    match &e {
        ClientError::Api { code, message, .. } => format!("{} ({})", clean(message), clean(code)),
        _ => clean(&e.to_string()),
    }
}

/// A client signed in from the profile: refreshes the access token (rotating the refresh
/// token and saving it).
pub fn signed_in(profile: &mut Profile) -> Result<Client, String> {
    let rt = profile.refresh_token.clone().ok_or("not signed in: run `vouchsafe login`")?;
    let mut client = Client::new(&profile.server);
    let t = client.refresh(&rt).map_err(|e| format!("session ended, sign in again: {}", explain(e)))?;
    profile.refresh_token = Some(t.refresh_token.clone().expose().to_owned());
    profile.save()?;
    client.set_access_token(Some(t.access_token.expose().to_owned()));
    Ok(client)
}

/// `vouchsafe register`.
pub fn register(server: &str, email: &str, password: &str, params: KdfParams) -> Result<(), String> {
    let client = Client::new(server);
    let id = flows::register(&client, email, password, params).map_err(explain)?;
    println!("registered {email} (user id {id}); now run `vouchsafe login --email {email}`");
    Ok(())
}

/// `vouchsafe login`: a second factor, when the account has one, from `factor` or typed at the
/// terminal.
pub fn login(
    server: &str,
    email: &str,
    password: &str,
    factor: Option<vouchsafe_client::types::SecondFactorProof>,
) -> Result<(), String> {
    let mut client = Client::new(server);
    let s = flows::login_with(&mut client, email, password, |methods| match factor {
        Some(p) => Ok(p),
        None => mfa::ask_proof(methods).map_err(|_| ClientError::SecondFactorRequired { methods: methods.to_vec() }),
    })
    .map_err(explain)?;
    let profile = Profile {
        server: server.to_owned(),
        email: Some(email.to_owned()),
        user_id: Some(s.user_id.clone()),
        refresh_token: Some(s.tokens.refresh_token.clone().expose().to_owned()),
        public_keys: Some(vouchsafe_crypto::b64::encode(&s.keyring.public().keys_to_bytes())),
        checkpoints: Default::default(),
    };
    profile.save()?;
    println!("signed in as {}; your verification code is {}", clean(email), s.keyring.public().verification_code());
    Ok(())
}

/// `vouchsafe logout`.
pub fn logout() -> Result<(), String> {
    let mut p = Profile::load();
    if let Ok(c) = signed_in(&mut p) {
        c.logout().map_err(explain)?;
    }
    p.refresh_token = None;
    p.save()?;
    let _ = lock_quietly();
    println!("signed out");
    Ok(())
}

/// `vouchsafe whoami`: the code comes from the keys this device unlocked, never from `/me`.
pub fn whoami() -> Result<(), String> {
    let mut p = Profile::load();
    let c = signed_in(&mut p)?;
    let me = c.me().map_err(explain)?;
    let mine = p.identity()?;
    println!(
        "{} ({})\nkey generation {}\nverification code {}",
        clean(&me.email),
        clean(&me.user_id),
        mine.generation,
        mine.verification_code()
    );
    warn_if_server_disagrees(&me, &mine);
    Ok(())
}

/// Says so when the server reports other keys for this user than the ones unlocked here.
pub fn warn_if_server_disagrees(
    me: &vouchsafe_client::types::MeResponse,
    mine: &vouchsafe_crypto::identity::PublicIdentity,
) {
    let reported = vouchsafe_crypto::b64::decode(&me.public_keys, 100).ok();
    if me.user_id != mine.user_id || reported.as_deref() != Some(&mine.keys_to_bytes()[..]) {
        eprintln!(
            "warning: the server reports other keys for you than the ones this device unlocked at sign-in; \
             the code above is computed from yours. If you did not reset your password, tell an admin."
        );
    }
}

/// `vouchsafe sessions [--revoke ID]`.
pub fn sessions(revoke: Option<&str>) -> Result<(), String> {
    let mut p = Profile::load();
    let c = signed_in(&mut p)?;
    if let Some(id) = revoke {
        c.revoke_session(id).map_err(explain)?;
        println!("session {id} ended");
        return Ok(());
    }
    let sessions = c.sessions().map_err(explain)?;
    if json() {
        return print_json(&sessions);
    }
    for s in sessions {
        println!(
            "{}{}  created {}  last used {}  {}",
            clean(&s.id),
            if s.current { " (this one)" } else { "" },
            s.created_at,
            s.last_used_at,
            clean(&s.device())
        );
    }
    Ok(())
}

/// `vouchsafe password change`.
pub fn password_change(current: &str, new: &str, end_others: bool, params: KdfParams) -> Result<(), String> {
    let mut p = Profile::load();
    let email = p.email.clone().ok_or("not signed in: run `vouchsafe login`")?;
    let mut client = Client::new(&p.server);
    let s = flows::login(&mut client, &email, current).map_err(explain)?;
    flows::change_password(&client, &email, &s.keyring, current, new, params, end_others).map_err(explain)?;
    client.logout().ok();
    let mut fresh = Client::new(&p.server);
    let s2 = flows::login(&mut fresh, &email, new).map_err(explain)?;
    p.refresh_token = Some(s2.tokens.refresh_token.clone().expose().to_owned());
    p.public_keys = Some(vouchsafe_crypto::b64::encode(&s2.keyring.public().keys_to_bytes()));
    p.save()?;
    println!("password changed{}", if end_others { "; other sessions ended" } else { "" });
    Ok(())
}

// ------------------------------------------------------------------ team vault commands

use std::collections::BTreeMap;
use vouchsafe_client::vault::Vault;
use vouchsafe_crypto::log::{LogHead, Role};

/// Signs in from the profile and unlocks the keys with the password (the wrapped keyring is
/// authenticated under the password's key, so the server cannot substitute one); restores what
/// this device verified before (checkpoints, item revisions).
pub fn unlocked(profile: &mut Profile, password: &str) -> Result<Vault, String> {
    let client = signed_in(profile)?;
    let keyring = flows::unlock(&client, password).map_err(explain)?;
    with_keyring(profile, client, keyring)
}

// ---------------------------------------------------------------- session key (`unlock`)

/// What `session.json` binds its sealed keyring to.
const SESSION_PURPOSE: &str = "vouchsafe/v1/cli-session";
/// The environment variable holding the session key.
pub const SESSION_ENV: &str = "VOUCHSAFE_SESSION";

/// `session.json`: the keyring sealed under a session key that only the shell holds
/// (`VOUCHSAFE_SESSION`), bound to the server, user, key generation and expiry.
#[derive(Serialize, Deserialize)]
struct SessionFile {
    server: String,
    user_id: String,
    generation: u32,
    expires_at: u64,
    /// `at_rest::seal(session key, SESSION_PURPOSE, context, keyring secret bytes)`, base64url.
    sealed: String,
}

fn session_context(server: &str, user_id: &str, generation: u32, expires_at: u64) -> Vec<u8> {
    let mut c = Vec::new();
    for part in [server.as_bytes(), user_id.as_bytes()] {
        c.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        c.extend_from_slice(part);
    }
    c.extend_from_slice(&generation.to_be_bytes());
    c.extend_from_slice(&expires_at.to_be_bytes());
    c
}

/// Where `session.json` lives: beside the profile.
pub fn session_path() -> PathBuf {
    profile_path().with_file_name("session.json")
}

/// `vouchsafe unlock`: unlocks the keys once (Argon2id) and keeps them sealed under a fresh
/// session key for `minutes`; prints the `export` line for the shell.
pub fn unlock(password: &str, minutes: u64) -> Result<(), String> {
    let mut p = Profile::load();
    let client = signed_in(&mut p)?;
    let keyring = flows::unlock(&client, password).map_err(explain)?;
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut key[..]).map_err(|e| format!("no randomness: {e}"))?;
    let expires_at = vouchsafe_client::unix_now() + minutes.clamp(1, 24 * 60) * 60;
    let ctx = session_context(&p.server, keyring.user_id(), keyring.generation(), expires_at);
    let secret = keyring.expose_secret_bytes();
    let sealed =
        vouchsafe_crypto::at_rest::seal(&key, SESSION_PURPOSE, &ctx, &secret[..], &mut vouchsafe_crypto::os_rng())
            .map_err(|e| e.to_string())?;
    let file = SessionFile {
        server: p.server.clone(),
        user_id: keyring.user_id().to_owned(),
        generation: keyring.generation(),
        expires_at,
        sealed: vouchsafe_crypto::b64::encode(&sealed),
    };
    write_private(&session_path(), &serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?)?;
    println!("export {SESSION_ENV}={}", vouchsafe_crypto::b64::encode(&key[..]));
    eprintln!(
        "keys unlocked for {} min: run the line above (or `eval \"$(vouchsafe unlock)\"`); `vouchsafe lock` ends it",
        minutes.clamp(1, 24 * 60)
    );
    Ok(())
}

/// `vouchsafe lock`: the sealed keyring is deleted; the session key opens nothing any more.
pub fn lock() -> Result<(), String> {
    if lock_quietly()? {
        println!("locked: commands ask for the password again (unset {SESSION_ENV})");
    } else {
        println!("no unlocked session");
    }
    Ok(())
}

fn lock_quietly() -> Result<bool, String> {
    match std::fs::remove_file(session_path()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("cannot remove {}: {e}", session_path().display())),
    }
}

/// The keyring of the unlocked session, if `VOUCHSAFE_SESSION` is set: refused (not silently
/// replaced by a password prompt) when the session ended, expired, or belongs to another server
/// or user, or when its keys are not the ones this device signed in with.
fn session_keyring(profile: &Profile) -> Result<Option<vouchsafe_crypto::identity::Keyring>, String> {
    let Ok(encoded) = std::env::var(SESSION_ENV) else { return Ok(None) };
    let ended = || format!("the unlocked session has ended: run `vouchsafe unlock` again, or unset {SESSION_ENV}");
    let key = Zeroizing::new(
        vouchsafe_crypto::b64::decode_array::<32>(encoded.trim())
            .map_err(|_| format!("{SESSION_ENV} is not a session key"))?,
    );
    let text = Zeroizing::new(std::fs::read_to_string(session_path()).map_err(|_| ended())?);
    let f: SessionFile = serde_json::from_str(&text).map_err(|_| ended())?;
    if vouchsafe_client::unix_now() >= f.expires_at {
        let _ = lock_quietly();
        return Err(ended());
    }
    if f.server != profile.server || Some(&f.user_id) != profile.user_id.as_ref() {
        return Err(format!(
            "the unlocked session is for another server or user: run `vouchsafe unlock` again, or unset {SESSION_ENV}"
        ));
    }
    let sealed = vouchsafe_crypto::b64::decode(&f.sealed, 256).map_err(|_| ended())?;
    let ctx = session_context(&f.server, &f.user_id, f.generation, f.expires_at);
    let secret = vouchsafe_crypto::at_rest::open(&key, SESSION_PURPOSE, &ctx, &sealed).map_err(|_| {
        format!("{SESSION_ENV} does not open this session (another shell's key, or the file was changed)")
    })?;
    let (x, ed) = secret.split_at(32.min(secret.len()));
    let (x, ed): ([u8; 32], [u8; 32]) = match (x.try_into(), ed.try_into()) {
        (Ok(x), Ok(ed)) => (x, ed),
        _ => return Err(ended()),
    };
    let keyring = vouchsafe_crypto::identity::Keyring::from_secret_bytes(&f.user_id, f.generation, x, ed)
        .map_err(|e| e.to_string())?;
    if keyring.public() != profile.identity()? {
        return Err(
            "the unlocked session's keys are not the ones this device signed in with: run `vouchsafe unlock` again"
                .into(),
        );
    }
    Ok(Some(keyring))
}

/// The vault for a command that needs the keys: from the unlocked session if
/// `VOUCHSAFE_SESSION` is set (no Argon2id), else unlocked with the password `password` reads.
pub fn vault(
    profile: &mut Profile,
    password: impl FnOnce() -> Result<Zeroizing<String>, String>,
) -> Result<Vault, String> {
    if let Some(keyring) = session_keyring(profile)? {
        let client = signed_in(profile)?;
        return with_keyring(profile, client, keyring);
    }
    let pw = password()?;
    unlocked(profile, &pw)
}

/// The vault over `keyring`, with what this device verified before restored.
fn with_keyring(
    profile: &Profile,
    client: Client,
    keyring: vouchsafe_crypto::identity::Keyring,
) -> Result<Vault, String> {
    let mut v = Vault::from_keyring(client, keyring);
    let uid = v.user_id().to_owned();
    let mut trust = Trust::load()?;
    let view = trust.view(&profile.server, &uid);
    for (acct, (seq, hash)) in &view.checkpoints {
        if let Ok(h) = vouchsafe_crypto::b64::decode_array::<32>(hash) {
            v.set_checkpoint(acct, LogHead { seq: *seq, hash: h });
        }
    }
    for (acct, items) in &view.revisions {
        for (item, rev) in items {
            v.set_seen_revision(acct, item, *rev);
        }
    }
    for acct in &view.verified_teams {
        v.set_verified_team(acct);
    }
    for acct in &view.rejected_teams {
        v.set_rejected_team(acct);
    }
    for (acct, f) in &view.forks {
        v.set_fork(vouchsafe_client::vault::Fork::from_record(acct, f));
    }
    Ok(v)
}

/// Checkpoints of `server`/`user_id` as the vault wants them.
pub fn checkpoints_of(server: &str, user_id: &str) -> Result<BTreeMap<String, LogHead>, String> {
    let mut trust = Trust::load()?;
    Ok(trust
        .view(server, user_id)
        .checkpoints
        .iter()
        .filter_map(|(a, (seq, h))| {
            vouchsafe_crypto::b64::decode_array::<32>(h).ok().map(|hash| (a.clone(), LogHead { seq: *seq, hash }))
        })
        .collect())
}

/// Records a verified head for `server`/`user_id`.
pub fn save_checkpoint(server: &str, user_id: &str, account: &str, head: LogHead) -> Result<(), String> {
    let mut trust = Trust::load()?;
    trust
        .view(server, user_id)
        .checkpoints
        .insert(account.to_owned(), (head.seq, vouchsafe_crypto::b64::encode(&head.hash)));
    trust.save()
}

/// Saves what the vault verified (heads, item revisions, forks) into `trust.json`, and tells
/// the person about each team whose history this device saw for the first time and each
/// member whose confirmation of the history is overdue.
pub fn save_checkpoints(profile: &mut Profile, v: &Vault) -> Result<(), String> {
    let mut trust = Trust::load()?;
    let view = trust.view(&profile.server, v.user_id());
    for (acct, head) in v.checkpoints() {
        view.checkpoints.insert(acct.clone(), (head.seq, vouchsafe_crypto::b64::encode(&head.hash)));
    }
    for ((acct, item), rev) in v.seen_revisions() {
        let e = view.revisions.entry(acct.clone()).or_default().entry(item.clone()).or_insert(0);
        *e = (*e).max(*rev);
    }
    for (acct, f) in v.forks() {
        view.forks.insert(acct.clone(), f.record());
    }
    view.verified_teams.extend(v.verified_teams().iter().cloned());
    view.rejected_teams.extend(v.rejected_teams().iter().cloned());
    for acct in v.first_views() {
        first_view_note(acct);
    }
    for acct in v.unverified_teams() {
        eprintln!(
            "note: team {0} is not verified on this device: compare codes with the admin who added you \
             (`vouchsafe verify-team {0}`)",
            clean(acct)
        );
    }
    for (acct, report) in v.witness_reports() {
        for s in &report.stale {
            eprintln!("warning: team {}: {}", clean(acct), s.message(&format!("member {}", clean(&s.user_id))));
        }
    }
    trust.save()
}

/// Says what a proposal needs next.
pub fn print_proposed(account: &str, r: &vouchsafe_client::types::ProposalInfo) {
    println!(
        "proposed {} ({} of {} admin signatures); other admins co-sign it with\n  vouchsafe proposal cosign {} {}",
        r.id,
        r.signatures,
        r.needed,
        clean(account),
        r.id
    );
}

/// Said once per team, the first time this device verifies its history.
pub fn first_view_note(account: &str) {
    eprintln!(
        "note: first view of team {}'s history on this device: there is no earlier checkpoint to compare it with, \
         so it is taken as the server shows it (from now on, a rewrite or rollback is refused)",
        clean(account)
    );
}

/// Parses `name=value` pairs, or one JSON object of strings.
pub fn parse_fields(args: &[String]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    if let [one] = args
        && one.trim_start().starts_with('{')
    {
        let m: BTreeMap<String, String> = serde_json::from_str(one).map_err(|e| format!("fields JSON: {e}"))?;
        return Ok(m.into_iter().map(|(k, v)| (k, v.into_bytes())).collect());
    }
    args.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
                .ok_or_else(|| format!("{a:?}: expected name=value"))
        })
        .collect()
}

/// Prints an item's fields.
pub fn print_item(item: &vouchsafe_client::vault::Item) {
    println!(
        "{}  (revision {}, key v{}){}",
        clean(&item.id),
        item.revision,
        item.key_version,
        if item.legacy {
            "  [legacy format: its set of fields cannot be verified; run `vouchsafe item upgrade`]"
        } else {
            ""
        }
    );
    for (k, v) in &item.fields {
        println!("  {} = {}", clean(k), clean(&String::from_utf8_lossy(v)));
    }
}

static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--json`: listings print one JSON document instead of text.
pub fn set_json(on: bool) {
    JSON.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether `--json` was given.
pub fn json() -> bool {
    JSON.load(std::sync::atomic::Ordering::Relaxed)
}

/// Prints `v` as JSON on stdout (serde escapes every control character of a server string).
pub fn print_json(v: &impl Serialize) -> Result<(), String> {
    println!("{}", serde_json::to_string_pretty(v).map_err(|e| e.to_string())?);
    Ok(())
}

/// A decrypted item for `--json` (field values as UTF-8, lossy).
pub fn item_json(item: &vouchsafe_client::vault::Item) -> serde_json::Value {
    let fields: BTreeMap<&str, String> =
        item.fields.iter().map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v).into_owned())).collect();
    serde_json::json!({
        "id": item.id,
        "revision": item.revision,
        "key_version": item.key_version,
        "legacy": item.legacy,
        "fields": fields,
    })
}

/// Parses a role name.
pub fn role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("{s:?}: role must be owner, admin or member"))
}

/// A text progress bar on stderr.
pub fn progress_bar(done: u64, total: u64) {
    use std::io::Write;
    let width = 30u64;
    let filled = (done.min(total) * width).checked_div(total).unwrap_or(width);
    eprint!("\r[{}{}] {done}/{total} items", "#".repeat(filled as usize), ".".repeat((width - filled) as usize));
    let _ = std::io::stderr().flush();
    if done >= total {
        eprintln!();
    }
}

/// Shown to the admin before confirming.
pub fn explain_err(e: ClientError) -> String {
    explain(e)
}

/// One line from standard input (a code or a role the person types).
pub fn read_line() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| e.to_string())?;
    Ok(line)
}

/// Prints the server's list of members (or workers) as the verified team log judges it: role,
/// status and code from the log; rows the log does not endorse are marked. Needs no password:
/// the log is public data checked against this device's checkpoint, which is then saved.
pub fn print_judged(
    profile: &Profile,
    client: &Client,
    account: &str,
    judge: impl FnOnce(&vouchsafe_crypto::log::TeamState) -> Vec<vouchsafe_client::vault::ListedPrincipal>,
    members: bool,
) -> Result<(), String> {
    use vouchsafe_client::vault::{LogView, fetch_verified_log};
    let uid = profile.user_id.clone().ok_or("not signed in: run `vouchsafe login`")?;
    let checkpoint = checkpoints_of(&profile.server, &uid)?.get(account).copied();
    let (_, state) = fetch_verified_log(client, account, checkpoint).map_err(explain)?;
    save_checkpoint(&profile.server, &uid, account, state.head())?;
    if checkpoint.is_none() {
        first_view_note(account);
    }
    let rows = judge(&state);
    if json() {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| {
                let mut v = serde_json::json!({ "id": row.id, "label": row.label });
                match &row.view {
                    LogView::InLog { role, status, code } => {
                        v["view"] = "in_log".into();
                        v["role"] = role.to_string().into();
                        v["status"] = status.to_string().into();
                        v["code"] = code.to_string().into();
                    }
                    LogView::AwaitingConfirmation { code } => {
                        v["view"] = "awaiting_confirmation".into();
                        v["code"] = code.to_string().into();
                    }
                    LogView::NotInLog => v["view"] = "not_in_log".into(),
                }
                v
            })
            .collect();
        print_json(&rows)?;
    }
    for row in rows.iter().filter(|_| !json()) {
        let (id, label) = (clean(&row.id), clean(&row.label));
        match &row.view {
            LogView::InLog { role, status, code } => println!("{id}  {label}  {role}  {status}  {code}"),
            LogView::AwaitingConfirmation { code } => println!(
                "{id}  {label}  awaiting confirmation  {code}  (code of the keys the server reports: compare it with the person)"
            ),
            LogView::NotInLog => println!(
                "{id}  {label}  NOT IN THE TEAM LOG  (the server lists it, the signed log does not: no key goes to it)"
            ),
        }
    }
    if members
        && let Some(me) = state.member(&uid)
        && let vouchsafe_crypto::log::MemberStatus::AwaitingVouch(p) = &me.status
        && profile.identity().is_ok_and(|mine| mine.generation != p.new_identity.generation)
        && !p.vetoed
    {
        reset_warning(account, &uid);
    }
    Ok(())
}

fn reset_warning(account: &str, user_id: &str) {
    eprintln!(
        "WARNING: team {} shows a password reset announced for YOU, with keys this device did not make. If you did not \
         reset your password, veto it now: `vouchsafe vouch veto {} {}`",
        clean(account),
        clean(account),
        clean(user_id)
    );
}

/// Warns when the verified log shows a reset for this member that this keyring did not make.
pub fn warn_reset_not_made_here(v: &Vault, state: &vouchsafe_crypto::log::TeamState, account: &str) {
    if v.resets_not_made_here(state).is_some() {
        reset_warning(account, v.user_id());
    }
}

// ---------------------------------------------------------------- helpers of the command groups

/// KDF parameters for new passwords: defaults, or `VOUCHSAFE_KDF_M_KIB`/`_T`/`_P` (never below the floor).
pub fn kdf_params() -> KdfParams {
    let mut p = KdfParams::default();
    let get = |n: &str| std::env::var(n).ok().and_then(|v| v.parse::<u32>().ok());
    if let Some(m) = get("VOUCHSAFE_KDF_M_KIB") {
        p.m_kib = m;
    }
    if let Some(t) = get("VOUCHSAFE_KDF_T") {
        p.t = t;
    }
    if let Some(pp) = get("VOUCHSAFE_KDF_P") {
        p.p = pp;
    }
    p
}

/// The token from a link (`…#token=XYZ`) or the bare token.
pub fn token_of(s: &str) -> &str {
    s.rsplit("token=").next().unwrap_or(s).trim()
}

pub fn password() -> Result<zeroize::Zeroizing<String>, String> {
    read_password("Password (to unlock your keys): ", None, "VOUCHSAFE_PASSWORD")
}

/// `YYYY-MM-DD HH:MM` UTC from Unix seconds (no time-zone database needed).
pub fn when(t: i64) -> String {
    let (y, m, d, hh, mm, _) = crate::state::civil(t);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}")
}
