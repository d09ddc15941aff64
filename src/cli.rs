//! The client subcommands of the `vouchsafe` binary. The profile (server URL, email, tokens —
//! never keys or passwords) lives in `<config dir>/vouchsafe/profile.json`, mode 0600.

use std::path::PathBuf;

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
    /// Last verified team-log head per account (`seq`, base64url hash): a later log that does
    /// not extend it is a fork and is refused.
    #[serde(default)]
    pub checkpoints: std::collections::BTreeMap<String, (u64, String)>,
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
    /// Loads the profile, or an empty one.
    pub fn load() -> Self {
        std::fs::read_to_string(profile_path()).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
    }
    /// Saves with mode 0600.
    pub fn save(&self) -> Result<(), String> {
        use std::io::Write;
        let p = profile_path();
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut f = o.open(&p).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        f.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", p.display()))
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

fn explain(e: ClientError) -> String {
    match &e {
        ClientError::Api { code, message, .. } => format!("{message} ({code})"),
        _ => e.to_string(),
    }
}

/// A client signed in from the profile: refreshes the access token (rotating the refresh
/// token and saving it).
pub fn signed_in(profile: &mut Profile) -> Result<Client, String> {
    let rt = profile.refresh_token.clone().ok_or("not signed in: run `vouchsafe login`")?;
    let mut client = Client::new(&profile.server);
    let t = client.refresh(&rt).map_err(|e| format!("session ended, sign in again: {}", explain(e)))?;
    profile.refresh_token = Some(t.refresh_token.clone());
    profile.save()?;
    client.set_access_token(Some(t.access_token));
    Ok(client)
}

/// `vouchsafe register`.
pub fn register(server: &str, email: &str, password: &str, params: KdfParams) -> Result<(), String> {
    let client = Client::new(server);
    let id = flows::register(&client, email, password, params).map_err(explain)?;
    println!("registered {email} (user id {id}); now run `vouchsafe login --email {email}`");
    Ok(())
}

/// `vouchsafe login`.
pub fn login(server: &str, email: &str, password: &str) -> Result<(), String> {
    let mut client = Client::new(server);
    let s = flows::login(&mut client, email, password).map_err(explain)?;
    let profile = Profile {
        server: server.to_owned(),
        email: Some(email.to_owned()),
        user_id: Some(s.user_id.clone()),
        refresh_token: Some(s.tokens.refresh_token.clone()),
        checkpoints: Default::default(),
    };
    profile.save()?;
    println!("signed in as {email}; your verification code is {}", s.keyring.public().verification_code());
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
    println!("signed out");
    Ok(())
}

/// `vouchsafe whoami`.
pub fn whoami() -> Result<(), String> {
    let mut p = Profile::load();
    let c = signed_in(&mut p)?;
    let me = c.me().map_err(explain)?;
    println!(
        "{} ({})\nkey generation {}\nverification code {}",
        me.email, me.user_id, me.generation, me.verification_code
    );
    Ok(())
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
    for s in c.sessions().map_err(explain)? {
        println!(
            "{}{}  created {}  last used {}  {}",
            s.id,
            if s.current { " (this one)" } else { "" },
            s.created_at,
            s.last_used_at,
            s.user_agent.unwrap_or_default()
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
    p.refresh_token = Some(s2.tokens.refresh_token.clone());
    p.save()?;
    println!("password changed{}", if end_others { "; other sessions ended" } else { "" });
    Ok(())
}

// ------------------------------------------------------------------ team vault commands

use std::collections::BTreeMap;
use vouchsafe_client::vault::Vault;
use vouchsafe_crypto::log::{LogHead, Role};

/// Signs in from the profile and unlocks the keys with the password; restores checkpoints.
pub fn unlocked(profile: &mut Profile, password: &str) -> Result<Vault, String> {
    let client = signed_in(profile)?;
    let keyring = flows::unlock(&client, password).map_err(explain)?;
    let mut v = Vault::from_keyring(client, keyring);
    for (acct, (seq, hash)) in &profile.checkpoints {
        if let Ok(h) = vouchsafe_crypto::b64::decode_array::<32>(hash) {
            v.set_checkpoint(acct, LogHead { seq: *seq, hash: h });
        }
    }
    Ok(v)
}

/// Saves the vault's verified heads into the profile.
pub fn save_checkpoints(profile: &mut Profile, v: &Vault) -> Result<(), String> {
    for (acct, head) in v.checkpoints() {
        profile.checkpoints.insert(acct.clone(), (head.seq, vouchsafe_crypto::b64::encode(&head.hash)));
    }
    profile.save()
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
    println!("{}  (revision {}, key v{})", item.id, item.revision, item.key_version);
    for (k, v) in &item.fields {
        println!("  {k} = {}", String::from_utf8_lossy(v));
    }
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
