//! Configuration: defaults → optional TOML file → `VOUCHSAFE_*` environment variables.
//!
//! Unknown keys in the file are rejected. Server secrets (token signing key, prelogin secret,
//! server-share key) come from the config/environment or a `*_file`, or are generated into the
//! data folder on first start with mode 0600. Secrets are redacted in `Debug`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use zeroize::Zeroizing;

/// A 32-byte server secret. Redacted `Debug`, zeroized on drop.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Secret32([u8; 32]);

impl Secret32 {
    /// The raw bytes. Named so every use is visible in review.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
    /// Wraps bytes (tests).
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }
}

impl std::fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}

/// A string secret from configuration: redacted in `Debug`.
#[derive(Clone, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(transparent)]
pub struct RedactedString(pub String);

impl std::fmt::Debug for RedactedString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How logs are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Mail transport.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `outbox` (write .eml files; the default) or `smtp`.
    pub transport: Option<String>,
    /// Outbox folder (default: `<data_dir>/outbox`).
    pub outbox_dir: Option<PathBuf>,
    /// SMTP host.
    pub smtp_host: Option<String>,
    /// SMTP port.
    pub smtp_port: Option<u16>,
    /// `starttls`, `tls` or `none`.
    pub smtp_security: Option<String>,
    /// SMTP user.
    pub smtp_username: Option<String>,
    /// SMTP password (prefer `smtp_password_file`); redacted in `Debug`.
    pub smtp_password: Option<RedactedString>,
    /// File holding the SMTP password.
    pub smtp_password_file: Option<PathBuf>,
    /// From address.
    pub from: Option<String>,
    /// Folder with `<name>.txt` / `<name>.html` templates overriding the built-in ones.
    pub templates_dir: Option<PathBuf>,
    /// Invitation lifetime in hours (default 72, clamped 1–720).
    pub invite_ttl_hours: Option<u64>,
}

/// Rate limits: requests per window per client address, and failed logins per account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Window length in seconds.
    pub window_secs: u64,
    /// Per client address and window: prelogin.
    pub prelogin_per_ip: u32,
    /// Per client address and window: login.
    pub login_per_ip: u32,
    /// Per client address and window: register.
    pub register_per_ip: u32,
    /// Per client address and window: refresh.
    pub refresh_per_ip: u32,
    /// Per client address and window: reset requests and token redemptions.
    pub reset_per_ip: u32,
    /// Per email and window: reset requests.
    pub reset_per_email: u32,
    /// Failed logins per account and window before logins to it are refused.
    pub login_failures_per_account: u32,
    /// Wrong second-factor codes per account and window before second-factor checks for it
    /// (login, removal, reset) are refused.
    pub second_factor_failures_per_account: u32,
    /// Requests per API token and window (SCIM clients sync in bursts).
    pub api_token_per_window: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            window_secs: 900,
            prelogin_per_ip: 300,
            login_per_ip: 100,
            register_per_ip: 30,
            refresh_per_ip: 300,
            reset_per_ip: 60,
            reset_per_email: 5,
            login_failures_per_account: 10,
            second_factor_failures_per_account: 5,
            api_token_per_window: 3000,
        }
    }
}

/// The file/environment view: every field optional.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct FileConfig {
    bind: Option<SocketAddr>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    migrate_on_start: Option<bool>,
    access_token_ttl_secs: Option<u64>,
    session_ttl_secs: Option<u64>,
    reset_token_ttl_mins: Option<u64>,
    trusted_proxies: Option<Vec<IpAddr>>,
    log_format: Option<LogFormat>,
    argon2_concurrency: Option<usize>,
    max_body_bytes: Option<usize>,
    metrics_bind: Option<SocketAddr>,
    token_key_file: Option<PathBuf>,
    prelogin_secret_file: Option<PathBuf>,
    server_share_key_file: Option<PathBuf>,
    outbox_key_file: Option<PathBuf>,
    mfa_key_file: Option<PathBuf>,
    mail: Option<MailConfig>,
    rate_limits: Option<RateLimits>,
}

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address (`127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// Public base URL used in emails and as the token issuer.
    pub public_url: String,
    /// Data folder: SQLite file, generated secrets, outbox.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: SQLite file in the data folder.
    pub database_url: String,
    /// Run migrations at start-up.
    pub migrate_on_start: bool,
    /// Access token lifetime (default 900 s).
    pub access_token_ttl_secs: u64,
    /// Session (refresh family) lifetime (default 30 days).
    pub session_ttl_secs: u64,
    /// Reset token lifetime in minutes (default 10, clamped 5–60).
    pub reset_token_ttl_mins: u64,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Log format.
    pub log_format: LogFormat,
    /// Concurrent Argon2 computations (each takes 19 MiB).
    pub argon2_concurrency: usize,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Where `/metrics` (Prometheus text format) is served; `None` (the default): nowhere. It
    /// is never served on `bind`.
    pub metrics_bind: Option<SocketAddr>,
    /// Mail settings.
    pub mail: MailConfig,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Where secrets come from when not generated.
    pub token_key_file: Option<PathBuf>,
    /// See [`Self::token_key_file`].
    pub prelogin_secret_file: Option<PathBuf>,
    /// See [`Self::token_key_file`].
    pub server_share_key_file: Option<PathBuf>,
    /// See [`Self::token_key_file`]: encrypts queued e-mail bodies (they carry link tokens).
    pub outbox_key_file: Option<PathBuf>,
    /// See [`Self::token_key_file`]: seals second-factor (TOTP) secrets and keys recovery-code
    /// hashes.
    pub mfa_key_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        let data_dir = PathBuf::from("./data");
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://localhost:8080".into(),
            database_url: String::new(),
            data_dir,
            migrate_on_start: true,
            access_token_ttl_secs: 900,
            session_ttl_secs: 30 * 24 * 3600,
            // OWASP ASVS 5.0 caps out-of-band codes at 10 minutes.
            reset_token_ttl_mins: 10,
            trusted_proxies: Vec::new(),
            log_format: LogFormat::Text,
            argon2_concurrency: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(1),
            max_body_bytes: 256 * 1024,
            metrics_bind: None,
            mail: MailConfig::default(),
            rate_limits: RateLimits::default(),
            token_key_file: None,
            prelogin_secret_file: None,
            server_share_key_file: None,
            outbox_key_file: None,
            mfa_key_file: None,
        }
    }
}

/// A configuration error, with a message meant for the operator.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Where the environment's values come from: the process's environment, or a test's map.
type EnvSource<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `VOUCHSAFE_<name>`, if set and not empty.
fn env_var(env: EnvSource<'_>, name: &str) -> Option<String> {
    env(&format!("VOUCHSAFE_{name}")).filter(|v| !v.is_empty())
}

fn parse_env<T: std::str::FromStr>(env: EnvSource<'_>, name: &str) -> Result<Option<T>, ConfigError> {
    match env_var(env, name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| ConfigError(format!("VOUCHSAFE_{name}={v:?} is not a valid value"))),
    }
}

impl Config {
    /// Defaults, then `file` (if given), then the environment (`VOUCHSAFE_*`, plus `DATABASE_URL`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(file, &|k| std::env::var(k).ok())
    }

    /// [`Config::load`] with the environment read from `env`: the one merge — defaults, then the
    /// file, then the environment — that both the server and the tests run.
    fn load_with(file: Option<&Path>, env: EnvSource<'_>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
            let f: FileConfig = toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
            c.apply(f);
        }
        let from_env = FileConfig {
            bind: parse_env(env, "BIND")?,
            public_url: env_var(env, "PUBLIC_URL"),
            data_dir: env_var(env, "DATA_DIR").map(PathBuf::from),
            database_url: env_var(env, "DATABASE_URL").or_else(|| env("DATABASE_URL").filter(|v| !v.is_empty())),
            migrate_on_start: parse_env(env, "MIGRATE_ON_START")?,
            access_token_ttl_secs: parse_env(env, "ACCESS_TOKEN_TTL_SECS")?,
            session_ttl_secs: parse_env(env, "SESSION_TTL_SECS")?,
            reset_token_ttl_mins: parse_env(env, "RESET_TOKEN_TTL_MINS")?,
            trusted_proxies: match env_var(env, "TRUSTED_PROXIES") {
                None => None,
                Some(v) => Some(
                    v.split(',')
                        .map(|s| {
                            s.trim().parse().map_err(|_| {
                                ConfigError(format!("VOUCHSAFE_TRUSTED_PROXIES: {s:?} is not an IP address"))
                            })
                        })
                        .collect::<Result<_, _>>()?,
                ),
            },
            log_format: match env_var(env, "LOG_FORMAT").as_deref() {
                None => None,
                Some("json") => Some(LogFormat::Json),
                Some("text") => Some(LogFormat::Text),
                Some(v) => return Err(ConfigError(format!("VOUCHSAFE_LOG_FORMAT={v:?}: use text or json"))),
            },
            argon2_concurrency: parse_env(env, "ARGON2_CONCURRENCY")?,
            max_body_bytes: parse_env(env, "MAX_BODY_BYTES")?,
            metrics_bind: parse_env(env, "METRICS_BIND")?,
            token_key_file: env_var(env, "TOKEN_KEY_FILE").map(PathBuf::from),
            prelogin_secret_file: env_var(env, "PRELOGIN_SECRET_FILE").map(PathBuf::from),
            server_share_key_file: env_var(env, "SERVER_SHARE_KEY_FILE").map(PathBuf::from),
            outbox_key_file: env_var(env, "OUTBOX_KEY_FILE").map(PathBuf::from),
            mfa_key_file: env_var(env, "MFA_KEY_FILE").map(PathBuf::from),
            mail: None,
            rate_limits: None,
        };
        c.apply(from_env);
        if let Some(t) = env_var(env, "MAIL_TRANSPORT") {
            c.mail.transport = Some(t);
        }
        if let Some(d) = env_var(env, "MAIL_OUTBOX_DIR") {
            c.mail.outbox_dir = Some(PathBuf::from(d));
        }
        if let Some(d) = env_var(env, "MAIL_TEMPLATES_DIR") {
            c.mail.templates_dir = Some(PathBuf::from(d));
        }
        for (name, slot) in [
            ("SMTP_HOST", &mut c.mail.smtp_host),
            ("SMTP_SECURITY", &mut c.mail.smtp_security),
            ("SMTP_USERNAME", &mut c.mail.smtp_username),
            ("MAIL_FROM", &mut c.mail.from),
        ] {
            if let Some(v) = env_var(env, name) {
                *slot = Some(v);
            }
        }
        if let Some(p) = parse_env(env, "SMTP_PORT")? {
            c.mail.smtp_port = Some(p);
        }
        if let Some(f) = env_var(env, "SMTP_PASSWORD_FILE") {
            c.mail.smtp_password_file = Some(PathBuf::from(f));
        }
        c.finish()?;
        Ok(c)
    }

    fn apply(&mut self, f: FileConfig) {
        // Every key of `FileConfig` is named here once: the destructuring has no `..`, so a key
        // that is added and not applied fails to compile.
        macro_rules! apply {
            (set: $($f:ident),*; some: $($o:ident),*) => {
                let FileConfig { $($f,)* $($o,)* } = f;
                $( if let Some(v) = $f { self.$f = v; } )*
                $( if $o.is_some() { self.$o = $o; } )*
            };
        }
        apply!(
            set: bind, public_url, data_dir, database_url, migrate_on_start, access_token_ttl_secs, session_ttl_secs,
                reset_token_ttl_mins, trusted_proxies, log_format, argon2_concurrency, max_body_bytes, mail, rate_limits;
            some: metrics_bind, token_key_file, prelogin_secret_file, server_share_key_file, outbox_key_file,
                mfa_key_file
        );
    }

    /// Fills derived defaults and checks ranges.
    pub fn finish(&mut self) -> Result<(), ConfigError> {
        if self.database_url.is_empty() {
            self.database_url = format!("sqlite://{}?mode=rwc", self.data_dir.join("vouchsafe.db").display());
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError("database_url must start with sqlite: or postgres://".into()));
        }
        self.public_url = self.public_url.trim_end_matches('/').to_owned();
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err(ConfigError("public_url must be an http(s) URL".into()));
        }
        self.access_token_ttl_secs = self.access_token_ttl_secs.clamp(60, 3600);
        self.session_ttl_secs = self.session_ttl_secs.clamp(3600, 365 * 24 * 3600);
        self.reset_token_ttl_mins = self.reset_token_ttl_mins.clamp(5, 60);
        self.argon2_concurrency = self.argon2_concurrency.clamp(1, 64);
        self.max_body_bytes = self.max_body_bytes.clamp(16 * 1024, 16 * 1024 * 1024);
        Ok(())
    }
}

/// The server's own secrets.
#[derive(Debug, Clone)]
pub struct ServerSecrets {
    /// HMAC key of access tokens.
    pub token_key: Secret32,
    /// Derives stable fake prelogin answers for unknown emails.
    pub prelogin_secret: Secret32,
    /// Encrypts stored recovery server shares.
    pub server_share_key: Secret32,
    /// Encrypts queued e-mail bodies (their links carry tokens) until they are delivered.
    pub outbox_key: Secret32,
    /// Seals second-factor secrets and keys the hashes of second-factor recovery codes.
    pub mfa_key: Secret32,
}

impl ServerSecrets {
    /// Loads each secret from its configured file, or from `<data_dir>/<name>`, generating it
    /// there (mode 0600) on first start.
    pub fn load_or_generate(c: &Config) -> Result<Self, ConfigError> {
        create_private_dir(&c.data_dir)?;
        let load = |configured: &Option<PathBuf>, name: &str| -> Result<Secret32, ConfigError> {
            match configured {
                Some(p) => read_secret(p),
                None => {
                    let p = c.data_dir.join(name);
                    if p.exists() { read_secret(&p) } else { generate_secret(&p) }
                }
            }
        };
        Ok(Self {
            token_key: load(&c.token_key_file, "token.key")?,
            prelogin_secret: load(&c.prelogin_secret_file, "prelogin.key")?,
            server_share_key: load(&c.server_share_key_file, "server-share.key")?,
            outbox_key: load(&c.outbox_key_file, "outbox.key")?,
            mfa_key: load(&c.mfa_key_file, "mfa.key")?,
        })
    }
}

/// Creates `dir` (and its parents) and makes it private to the server's user (mode 0700): it
/// holds the database, the key files and the mail outbox.
pub fn create_private_dir(dir: &Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(dir).map_err(|e| ConfigError(format!("cannot create folder {}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| ConfigError(format!("cannot make {} private: {e}", dir.display())))?;
    }
    Ok(())
}

fn read_secret(p: &Path) -> Result<Secret32, ConfigError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(p).map_err(|e| ConfigError(format!("cannot read secret {}: {e}", p.display())))?,
    );
    let bytes = Zeroizing::new(
        vouchsafe_crypto::b64::decode(text.trim(), 32)
            .map_err(|_| ConfigError(format!("{} must hold 32 bytes as unpadded base64url", p.display())))?,
    );
    let arr: [u8; 32] =
        bytes.as_slice().try_into().map_err(|_| ConfigError(format!("{} must hold exactly 32 bytes", p.display())))?;
    Ok(Secret32(arr))
}

fn generate_secret(p: &Path) -> Result<Secret32, ConfigError> {
    use std::io::Write;
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| ConfigError(format!("no randomness: {e}")))?;
    let text = Zeroizing::new(vouchsafe_crypto::b64::encode(&b));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(p).map_err(|e| ConfigError(format!("cannot create secret {}: {e}", p.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .map_err(|e| ConfigError(format!("cannot write secret {}: {e}", p.display())))?;
    Ok(Secret32(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_and_secrets_redacted() {
        let dir = std::env::temp_dir().join(format!("vs-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.toml");
        std::fs::write(&p, "bind = \"127.0.0.1:9\"\nnope = 1\n").unwrap();
        let err = Config::load(Some(&p)).unwrap_err();
        assert!(err.0.contains("nope"), "{err}");
        std::fs::write(&p, format!("bind = \"127.0.0.1:9\"\ndata_dir = {:?}\n", dir.display().to_string())).unwrap();
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(c.bind.port(), 9);
        let s = ServerSecrets::load_or_generate(&c).unwrap();
        assert!(!format!("{s:?}").contains(&format!("{:?}", s.token_key.expose_secret())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("token.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = ServerSecrets::load_or_generate(&c).unwrap();
        assert_eq!(again.token_key.expose_secret(), s.token_key.expose_secret());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn every_file_key_is_applied() {
        let dir = std::env::temp_dir().join(format!("vs-config-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.toml");
        std::fs::write(
            &p,
            r#"
bind = "127.0.0.1:9"
public_url = "https://vault.example.com"
data_dir = "/srv/vouchsafe"
database_url = "postgres://u@db/vs"
migrate_on_start = false
access_token_ttl_secs = 600
session_ttl_secs = 3600
reset_token_ttl_mins = 7
trusted_proxies = ["10.0.0.1"]
log_format = "json"
argon2_concurrency = 3
max_body_bytes = 100000
metrics_bind = "127.0.0.1:9090"
token_key_file = "/k/token"
prelogin_secret_file = "/k/prelogin"
server_share_key_file = "/k/share"
outbox_key_file = "/k/outbox"
[mail]
transport = "smtp"
[rate_limits]
login_per_ip = 7
api_token_per_window = 11
"#,
        )
        .unwrap();
        let c = Config::load(Some(&p)).unwrap();
        let d = Config::default();
        assert_eq!(c.bind.port(), 9);
        assert_eq!(c.public_url, "https://vault.example.com");
        assert_eq!(c.data_dir, PathBuf::from("/srv/vouchsafe"));
        assert_eq!(c.database_url, "postgres://u@db/vs");
        assert!(!c.migrate_on_start && d.migrate_on_start);
        assert_eq!((c.access_token_ttl_secs, c.session_ttl_secs), (600, 3600));
        assert_eq!(c.reset_token_ttl_mins, 7, "reset_token_ttl_mins is applied");
        assert_eq!(c.trusted_proxies, vec!["10.0.0.1".parse::<IpAddr>().unwrap()]);
        assert!(matches!(c.log_format, LogFormat::Json));
        assert_eq!((c.argon2_concurrency, c.max_body_bytes), (3, 100_000));
        assert_eq!(c.metrics_bind, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(c.token_key_file, Some(PathBuf::from("/k/token")));
        assert_eq!(c.prelogin_secret_file, Some(PathBuf::from("/k/prelogin")));
        assert_eq!(c.server_share_key_file, Some(PathBuf::from("/k/share")));
        assert_eq!(c.outbox_key_file, Some(PathBuf::from("/k/outbox")));
        assert_eq!(c.mail.transport.as_deref(), Some("smtp"));
        assert_eq!((c.rate_limits.login_per_ip, c.rate_limits.api_token_per_window), (7, 11));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn every_environment_key_is_applied_over_the_file() {
        let dir = std::env::temp_dir().join(format!("vs-config-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.toml");
        std::fs::write(&p, "bind = \"127.0.0.1:9\"\nreset_token_ttl_mins = 7\n[mail]\ntransport = \"outbox\"\n")
            .unwrap();
        let vars: std::collections::HashMap<&str, &str> = [
            ("VOUCHSAFE_BIND", "127.0.0.1:10"),
            ("VOUCHSAFE_PUBLIC_URL", "https://env.example.com/"),
            ("VOUCHSAFE_DATA_DIR", "/env/data"),
            ("VOUCHSAFE_DATABASE_URL", "postgres://u@env/vs"),
            ("VOUCHSAFE_MIGRATE_ON_START", "false"),
            ("VOUCHSAFE_ACCESS_TOKEN_TTL_SECS", "700"),
            ("VOUCHSAFE_SESSION_TTL_SECS", "7200"),
            ("VOUCHSAFE_RESET_TOKEN_TTL_MINS", "8"),
            ("VOUCHSAFE_TRUSTED_PROXIES", "10.0.0.1, 10.0.0.2"),
            ("VOUCHSAFE_LOG_FORMAT", "json"),
            ("VOUCHSAFE_ARGON2_CONCURRENCY", "5"),
            ("VOUCHSAFE_MAX_BODY_BYTES", "200000"),
            ("VOUCHSAFE_METRICS_BIND", "127.0.0.1:9091"),
            ("VOUCHSAFE_TOKEN_KEY_FILE", "/e/token"),
            ("VOUCHSAFE_PRELOGIN_SECRET_FILE", "/e/prelogin"),
            ("VOUCHSAFE_SERVER_SHARE_KEY_FILE", "/e/share"),
            ("VOUCHSAFE_OUTBOX_KEY_FILE", "/e/outbox"),
            ("VOUCHSAFE_MAIL_TRANSPORT", "smtp"),
            ("VOUCHSAFE_MAIL_OUTBOX_DIR", "/e/outbox-dir"),
            ("VOUCHSAFE_MAIL_TEMPLATES_DIR", "/e/templates"),
            ("VOUCHSAFE_SMTP_HOST", "smtp.example.com"),
            ("VOUCHSAFE_SMTP_SECURITY", "tls"),
            ("VOUCHSAFE_SMTP_USERNAME", "mailer"),
            ("VOUCHSAFE_MAIL_FROM", "Vault <v@example.com>"),
            ("VOUCHSAFE_SMTP_PORT", "2525"),
            ("VOUCHSAFE_SMTP_PASSWORD_FILE", "/e/smtp-password"),
        ]
        .into_iter()
        .collect();
        let env = |k: &str| vars.get(k).map(|v| (*v).to_owned());
        let c = Config::load_with(Some(&p), &env).unwrap();
        assert_eq!(c.bind.port(), 10, "the environment wins over the file");
        assert_eq!(c.public_url, "https://env.example.com");
        assert_eq!(c.data_dir, PathBuf::from("/env/data"));
        assert_eq!(c.database_url, "postgres://u@env/vs");
        assert!(!c.migrate_on_start);
        assert_eq!((c.access_token_ttl_secs, c.session_ttl_secs, c.reset_token_ttl_mins), (700, 7200, 8));
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(matches!(c.log_format, LogFormat::Json));
        assert_eq!((c.argon2_concurrency, c.max_body_bytes), (5, 200_000));
        assert_eq!(c.metrics_bind, Some("127.0.0.1:9091".parse().unwrap()));
        assert_eq!(c.token_key_file, Some(PathBuf::from("/e/token")));
        assert_eq!(c.prelogin_secret_file, Some(PathBuf::from("/e/prelogin")));
        assert_eq!(c.server_share_key_file, Some(PathBuf::from("/e/share")));
        assert_eq!(c.outbox_key_file, Some(PathBuf::from("/e/outbox")));
        let m = &c.mail;
        assert_eq!(m.transport.as_deref(), Some("smtp"));
        assert_eq!(m.outbox_dir, Some(PathBuf::from("/e/outbox-dir")));
        assert_eq!(m.templates_dir, Some(PathBuf::from("/e/templates")));
        assert_eq!(m.smtp_host.as_deref(), Some("smtp.example.com"));
        assert_eq!(m.smtp_security.as_deref(), Some("tls"));
        assert_eq!(m.smtp_username.as_deref(), Some("mailer"));
        assert_eq!(m.from.as_deref(), Some("Vault <v@example.com>"));
        assert_eq!(m.smtp_port, Some(2525));
        assert_eq!(m.smtp_password_file, Some(PathBuf::from("/e/smtp-password")));
        // The bare `DATABASE_URL` counts when `VOUCHSAFE_DATABASE_URL` is not set; a bad value
        // is refused with its name.
        let bare = |k: &str| (k == "DATABASE_URL").then(|| "postgres://u@bare/vs".to_owned());
        assert_eq!(Config::load_with(None, &bare).unwrap().database_url, "postgres://u@bare/vs");
        let bad = |k: &str| (k == "VOUCHSAFE_SMTP_PORT").then(|| "many".to_owned());
        let e = Config::load_with(None, &bad).unwrap_err().to_string();
        assert!(e.contains("VOUCHSAFE_SMTP_PORT"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
