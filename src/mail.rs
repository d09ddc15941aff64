//! Email: templates (text + HTML, compiled in, overridable from a folder), the outbox table, and
//! the background sender that delivers with retries and backoff — to `.eml` files in an outbox
//! folder (development default) or over SMTP (STARTTLS/TLS, auth). Messages are queued in the
//! same transaction as the change that causes them, so an SMTP outage loses nothing.
//! Links (and their tokens) are never logged, and never rest in the database in clear: queued
//! bodies are sealed under the outbox key file (`outbox.key`, beside the other server keys) and
//! blanked once delivered.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use zeroize::Zeroizing;

use crate::config::{MailConfig, Secret32};
use crate::error::ApiError;
use crate::state::AppState;
use entity::outbox;

/// Built-in templates: (name, text, html).
const BUILTIN: &[(&str, &str, &str)] = &[
    ("invite", include_str!("../templates/invite.txt"), include_str!("../templates/invite.html")),
    ("reset", include_str!("../templates/reset.txt"), include_str!("../templates/reset.html")),
    ("reset_done", include_str!("../templates/reset_done.txt"), include_str!("../templates/reset_done.html")),
    ("second_factor", include_str!("../templates/second_factor.txt"), include_str!("../templates/second_factor.html")),
    ("reset_admin", include_str!("../templates/reset_admin.txt"), include_str!("../templates/reset_admin.html")),
    ("recover", include_str!("../templates/recover.txt"), include_str!("../templates/recover.html")),
    ("guardian", include_str!("../templates/guardian.txt"), include_str!("../templates/guardian.html")),
    ("deprovisioned", include_str!("../templates/deprovisioned.txt"), include_str!("../templates/deprovisioned.html")),
    (
        "access_restored",
        include_str!("../templates/access_restored.txt"),
        include_str!("../templates/access_restored.html"),
    ),
];

/// The templates in force: the built-ins, each overridable (text and HTML separately) by a file
/// `NAME.txt` / `NAME.html` in the operator's `templates_dir`. Read once at start-up, so rendering
/// never touches the disk — it runs inside the transactions that queue the mail. Cheap to clone.
/// Holds the outbox key too: a rendered [`Mail`] seals itself when it is queued.
#[derive(Clone)]
pub struct Templates {
    all: Arc<Vec<(&'static str, String, String)>>,
    key: Arc<Secret32>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("count", &self.all.len()).finish_non_exhaustive()
    }
}

/// A rendered message, not yet queued: plaintext (zeroized on drop) and the key that seals it.
#[derive(Clone)]
pub struct Mail {
    text: Zeroizing<String>,
    html: Zeroizing<String>,
    key: Arc<Secret32>,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mail(..)")
    }
}

const OUTBOX_PURPOSE: &str = "vouchsafe/v1/outbox";
/// Marks a sealed body in the outbox table (older rows may hold plaintext until delivered).
const SEALED: &str = "sealed:";

fn seal_part(key: &Secret32, id: &str, part: &str, text: &str) -> Result<String, ApiError> {
    let context = format!("{id}/{part}");
    let blob = vouchsafe_crypto::at_rest::seal(
        key.expose_secret(),
        OUTBOX_PURPOSE,
        context.as_bytes(),
        text.as_bytes(),
        &mut vouchsafe_crypto::os_rng(),
    )
    .map_err(|e| ApiError::Internal(format!("outbox body: {e}")))?;
    Ok(format!("{SEALED}{}", vouchsafe_crypto::b64::encode(&blob)))
}

fn open_part(key: &Secret32, id: &str, part: &str, stored: &str) -> Result<String, String> {
    let Some(b64) = stored.strip_prefix(SEALED) else { return Ok(stored.to_owned()) };
    let blob = vouchsafe_crypto::b64::decode(b64, 4 * 1024 * 1024).map_err(|e| format!("outbox body: {e}"))?;
    let context = format!("{id}/{part}");
    let pt = vouchsafe_crypto::at_rest::open(key.expose_secret(), OUTBOX_PURPOSE, context.as_bytes(), &blob)
        .map_err(|_| "outbox body does not open under outbox.key (was the key file replaced?)".to_owned())?;
    String::from_utf8(pt.to_vec()).map_err(|_| "outbox body is not UTF-8".to_owned())
}

impl Templates {
    /// Loads the operator's overrides; a file that exists but cannot be read is an error (better
    /// at start-up than a silently different email). `key` seals queued bodies.
    pub fn load(config: &MailConfig, key: Secret32) -> Result<Self, String> {
        let read = |name: &str, ext: &str, builtin: &str| -> Result<String, String> {
            let Some(dir) = &config.templates_dir else { return Ok(builtin.to_owned()) };
            let path = dir.join(format!("{name}.{ext}"));
            match std::fs::read_to_string(&path) {
                Ok(t) => Ok(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(builtin.to_owned()),
                Err(e) => Err(format!("mail template {}: {e}", path.display())),
            }
        };
        let all = BUILTIN
            .iter()
            .map(|(name, text, html)| Ok((*name, read(name, "txt", text)?, read(name, "html", html)?)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { all: Arc::new(all), key: Arc::new(key) })
    }

    /// Renders a message to queue with [`enqueue`].
    pub fn message(&self, name: &str, vars: &[(&str, &str)]) -> Result<Mail, ApiError> {
        let (text, html) = self.render(name, vars)?;
        Ok(Mail { text: Zeroizing::new(text), html: Zeroizing::new(html), key: self.key.clone() })
    }

    /// Renders `{{key}}` placeholders; values are HTML-escaped in the HTML part.
    pub fn render(&self, name: &str, vars: &[(&str, &str)]) -> Result<(String, String), ApiError> {
        let (_, text, html) = self
            .all
            .iter()
            .find(|(n, _, _)| *n == name)
            .ok_or_else(|| ApiError::Internal(format!("no template {name}")))?;
        let (mut t, mut h) = (text.clone(), html.clone());
        for (k, v) in vars {
            let key = format!("{{{{{k}}}}}");
            t = t.replace(&key, v);
            h = h.replace(&key, &html_escape(v));
        }
        Ok((t, h))
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Queues a message in the caller's transaction, its bodies sealed under the outbox key.
pub async fn enqueue<C: crate::store::Conn>(
    db: &C,
    to: &str,
    subject: &str,
    mail: Mail,
    now: i64,
) -> Result<(), ApiError> {
    let id = crate::auth::new_id()?;
    let row = outbox::Model {
        body_text: seal_part(&mail.key, &id, "text", &mail.text)?,
        body_html: seal_part(&mail.key, &id, "html", &mail.html)?,
        id,
        to_addr: to.to_owned(),
        subject: subject.chars().take(255).collect(),
        attempts: 0,
        next_attempt_at: now,
        sent_at: None,
        last_error: None,
        created_at: now,
    };
    crate::store::outbox::push(db, row).await
}

/// Where messages go.
pub enum Transport {
    /// `.eml` files in a folder.
    Outbox(PathBuf),
    /// SMTP.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Transport {
    /// From the configuration.
    pub fn from_config(c: &MailConfig, data_dir: &std::path::Path) -> Result<Self, String> {
        match c.transport.as_deref().unwrap_or("outbox") {
            "outbox" => Ok(Self::Outbox(c.outbox_dir.clone().unwrap_or_else(|| data_dir.join("outbox")))),
            "smtp" => {
                let host = c.smtp_host.clone().ok_or("mail.smtp_host is required for the smtp transport")?;
                let mut b = match c.smtp_security.as_deref().unwrap_or("starttls") {
                    "starttls" => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host).map_err(|e| e.to_string())?
                    }
                    "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(|e| e.to_string())?,
                    "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
                    other => return Err(format!("mail.smtp_security {other:?}: use starttls, tls or none")),
                };
                if let Some(p) = c.smtp_port {
                    b = b.port(p);
                }
                let password = match (&c.smtp_password, &c.smtp_password_file) {
                    (_, Some(f)) => Some(
                        std::fs::read_to_string(f)
                            .map_err(|e| format!("cannot read {}: {e}", f.display()))?
                            .trim_end()
                            .to_owned(),
                    ),
                    (Some(p), None) => Some(p.0.clone()),
                    _ => None,
                };
                if let (Some(u), Some(p)) = (&c.smtp_username, password) {
                    b = b.credentials(Credentials::new(u.clone(), p));
                }
                Ok(Self::Smtp(b.timeout(Some(Duration::from_secs(SMTP_TIMEOUT_SECS))).build()))
            }
            other => Err(format!("mail.transport {other:?}: use outbox or smtp")),
        }
    }

    async fn deliver(&self, msg: &Message, id: &str) -> Result<(), String> {
        match self {
            Self::Outbox(dir) => {
                use std::io::Write;
                crate::config::create_private_dir(dir).map_err(|e| e.to_string())?;
                let path = dir.join(format!("{id}.eml"));
                let mut o = std::fs::OpenOptions::new();
                o.write(true).create(true).truncate(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    o.mode(0o600);
                }
                o.open(&path).and_then(|mut f| f.write_all(&msg.formatted())).map_err(|e| e.to_string())?;
                tracing::info!(path = %path.display(), "email written to the outbox folder");
                Ok(())
            }
            Self::Smtp(t) => t.send(msg.clone()).await.map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}

fn build(from: &str, row: &outbox::Model, key: &Secret32) -> Result<Message, String> {
    let from: Mailbox = from.parse().map_err(|e| format!("mail.from: {e}"))?;
    let to: Mailbox = row.to_addr.parse().map_err(|e| format!("recipient: {e}"))?;
    let text = open_part(key, &row.id, "text", &row.body_text)?;
    let html = open_part(key, &row.id, "html", &row.body_html)?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(row.subject.clone())
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| e.to_string())
}

/// Longest an SMTP conversation may take.
const SMTP_TIMEOUT_SECS: u64 = 30;

/// How long a claimed message stays claimed: longer than any delivery attempt can take (the SMTP
/// timeout plus a margin), so two processes never send it at once — and short, so a message
/// that was in flight when its process died is tried again within this time after a restart.
pub const SEND_LEASE_SECS: i64 = SMTP_TIMEOUT_SECS as i64 + 5;

/// Backoff after `attempts` failures: 5 s, 10 s, 20 s … capped at one hour.
pub fn backoff(attempts: i32) -> i64 {
    5i64.saturating_mul(1i64 << attempts.clamp(0, 10)).min(3600)
}

/// Sends what is due once; returns how many were delivered. Each row is claimed first (its next
/// attempt pushed [`SEND_LEASE_SECS`] out), so several server processes never send the same
/// message twice at the same time.
pub async fn send_due(state: &AppState, transport: &Transport) -> Result<usize, ApiError> {
    let now = state.clock.now();
    let due = crate::store::outbox::due(&state.db, now, 20).await?;
    let from = state.config.mail.from.clone().unwrap_or_else(|| "Vouchsafe <vouchsafe@localhost>".into());
    let mut sent = 0;
    for row in due {
        if !crate::store::outbox::lease(&state.db, &row, now + SEND_LEASE_SECS).await? {
            continue;
        }
        let result = match build(&from, &row, &state.templates.key) {
            Ok(msg) => transport.deliver(&msg, &row.id).await,
            Err(e) => Err(e),
        };
        let attempts = row.attempts + 1;
        match result {
            Ok(()) => {
                crate::store::outbox::delivered(&state.db, &row.id, attempts, now).await?;
                sent += 1;
            }
            Err(e) => {
                tracing::warn!(id = %row.id, attempts, error = %e, "email delivery failed; will retry");
                state.metrics.outbox_failures.inc();
                let error: String = e.chars().take(500).collect();
                crate::store::outbox::failed(&state.db, &row.id, attempts, now + backoff(row.attempts), &error).await?;
            }
        }
    }
    Ok(sent)
}

/// Runs the sender until the process ends: every second, or sooner when woken.
pub fn spawn_sender(state: AppState, transport: Arc<Transport>) {
    actix_web::rt::spawn(async move {
        loop {
            if let Err(e) = send_due(&state, &transport).await {
                tracing::warn!(error = %e, "outbox pass failed");
            }
            tokio::select! {
                _ = state.mail_wakeup.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_escape_and_can_be_overridden() {
        let key = || Secret32::from_bytes([5; 32]);
        let builtin = Templates::load(&MailConfig::default(), key()).unwrap();
        let (t, h) = builtin
            .render(
                "invite",
                &[
                    ("account", "A&B <x>"),
                    ("link", "https://v/invite#token=abc"),
                    ("inviter", "i"),
                    ("role", "member"),
                    ("expires", "soon"),
                ],
            )
            .unwrap();
        assert!(t.contains("A&B <x>") && t.contains("https://v/invite#token=abc"));
        assert!(h.contains("A&amp;B &lt;x&gt;") && !h.contains("<x>"));
        assert!(!t.contains("{{"), "every placeholder filled");
        let dir = std::env::temp_dir().join(format!("vs-tpl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("invite.txt"), "Custom {{account}}").unwrap();
        let c = MailConfig { templates_dir: Some(dir.clone()), ..MailConfig::default() };
        let custom = Templates::load(&c, key()).unwrap();
        // Loaded once: a later change on disk does not reach rendering (no I/O per message).
        std::fs::write(dir.join("invite.txt"), "Changed {{account}}").unwrap();
        let (t, h) = custom.render("invite", &[("account", "Acme")]).unwrap();
        assert_eq!(t, "Custom Acme");
        assert!(h.contains("Acme"), "the HTML part falls back to the built-in template");
        // An override that exists but cannot be read stops the start, naming the file.
        std::fs::remove_file(dir.join("invite.txt")).unwrap();
        std::fs::create_dir(dir.join("invite.txt")).unwrap();
        assert!(Templates::load(&c, key()).unwrap_err().contains("invite.txt"));
        std::fs::remove_dir_all(dir).ok();
        assert_eq!((backoff(0), backoff(1), backoff(20)), (5, 10, 3600));
    }
}
