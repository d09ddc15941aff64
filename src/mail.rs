//! Email: templates (text + HTML, compiled in, overridable from a folder), the outbox table, and
//! the background sender that delivers with retries and backoff — to `.eml` files in an outbox
//! folder (development default) or over SMTP (STARTTLS/TLS, auth). Messages are queued in the
//! same transaction as the change that causes them, so an SMTP outage loses nothing.
//! Links (and their tokens) are never logged.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::config::MailConfig;
use crate::error::ApiError;
use crate::state::AppState;
use entity::outbox;

/// Built-in templates: (name, text, html).
const BUILTIN: &[(&str, &str, &str)] = &[
    ("invite", include_str!("../templates/invite.txt"), include_str!("../templates/invite.html")),
    ("reset", include_str!("../templates/reset.txt"), include_str!("../templates/reset.html")),
    ("reset_done", include_str!("../templates/reset_done.txt"), include_str!("../templates/reset_done.html")),
    ("reset_admin", include_str!("../templates/reset_admin.txt"), include_str!("../templates/reset_admin.html")),
    ("recover", include_str!("../templates/recover.txt"), include_str!("../templates/recover.html")),
    ("guardian", include_str!("../templates/guardian.txt"), include_str!("../templates/guardian.html")),
    (
        "access_restored",
        include_str!("../templates/access_restored.txt"),
        include_str!("../templates/access_restored.html"),
    ),
];

/// The templates in force: the built-ins, each overridable (text and HTML separately) by a file
/// `NAME.txt` / `NAME.html` in the operator's `templates_dir`. Read once at start-up, so rendering
/// never touches the disk — it runs inside the transactions that queue the mail. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Templates(Arc<Vec<(&'static str, String, String)>>);

impl Templates {
    /// Loads the operator's overrides; a file that exists but cannot be read is an error (better
    /// at start-up than a silently different email).
    pub fn load(config: &MailConfig) -> Result<Self, String> {
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
        Ok(Self(Arc::new(all)))
    }

    /// Renders `{{key}}` placeholders; values are HTML-escaped in the HTML part.
    pub fn render(&self, name: &str, vars: &[(&str, &str)]) -> Result<(String, String), ApiError> {
        let (_, text, html) = self
            .0
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

/// Queues a message in the caller's transaction.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    to: &str,
    subject: &str,
    text: String,
    html: String,
    now: i64,
) -> Result<(), ApiError> {
    outbox::ActiveModel {
        id: Set(crate::auth::new_id()?),
        to_addr: Set(to.to_owned()),
        subject: Set(subject.chars().take(255).collect()),
        body_text: Set(text),
        body_html: Set(html),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
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
                Ok(Self::Smtp(b.timeout(Some(Duration::from_secs(30))).build()))
            }
            other => Err(format!("mail.transport {other:?}: use outbox or smtp")),
        }
    }

    async fn deliver(&self, msg: &Message, id: &str) -> Result<(), String> {
        match self {
            Self::Outbox(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
                let path = dir.join(format!("{id}.eml"));
                std::fs::write(&path, msg.formatted()).map_err(|e| e.to_string())?;
                tracing::info!(path = %path.display(), "email written to the outbox folder");
                Ok(())
            }
            Self::Smtp(t) => t.send(msg.clone()).await.map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}

fn build(from: &str, row: &outbox::Model) -> Result<Message, String> {
    let from: Mailbox = from.parse().map_err(|e| format!("mail.from: {e}"))?;
    let to: Mailbox = row.to_addr.parse().map_err(|e| format!("recipient: {e}"))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(row.subject.clone())
        .multipart(MultiPart::alternative_plain_html(row.body_text.clone(), row.body_html.clone()))
        .map_err(|e| e.to_string())
}

/// Backoff after `attempts` failures: 5 s, 10 s, 20 s … capped at one hour.
pub fn backoff(attempts: i32) -> i64 {
    5i64.saturating_mul(1i64 << attempts.clamp(0, 10)).min(3600)
}

/// Sends what is due once; returns how many were delivered. Each row is claimed first (its next
/// attempt pushed 5 minutes out), so several server processes never send the same message twice
/// at the same time.
pub async fn send_due(state: &AppState, transport: &Transport) -> Result<usize, ApiError> {
    let now = state.clock.now();
    let due = outbox::Entity::find()
        .filter(outbox::Column::SentAt.is_null())
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .limit(20)
        .all(&state.db)
        .await?;
    let from = state.config.mail.from.clone().unwrap_or_else(|| "Vouchsafe <vouchsafe@localhost>".into());
    let mut sent = 0;
    for row in due {
        let claimed = outbox::Entity::update_many()
            .col_expr(outbox::Column::NextAttemptAt, sea_orm::sea_query::Expr::value(now + 300))
            .filter(outbox::Column::Id.eq(&row.id))
            .filter(outbox::Column::NextAttemptAt.eq(row.next_attempt_at))
            .filter(outbox::Column::SentAt.is_null())
            .exec(&state.db)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        let result = match build(&from, &row) {
            Ok(msg) => transport.deliver(&msg, &row.id).await,
            Err(e) => Err(e),
        };
        let mut m: outbox::ActiveModel = row.clone().into();
        m.attempts = Set(row.attempts + 1);
        match result {
            Ok(()) => {
                m.sent_at = Set(Some(now));
                m.last_error = Set(None);
                sent += 1;
            }
            Err(e) => {
                tracing::warn!(id = %row.id, attempts = row.attempts + 1, error = %e, "email delivery failed; will retry");
                m.next_attempt_at = Set(now + backoff(row.attempts));
                m.last_error = Set(Some(e.chars().take(500).collect()));
            }
        }
        m.update(&state.db).await?;
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
        let builtin = Templates::load(&MailConfig::default()).unwrap();
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
        let custom = Templates::load(&c).unwrap();
        // Loaded once: a later change on disk does not reach rendering (no I/O per message).
        std::fs::write(dir.join("invite.txt"), "Changed {{account}}").unwrap();
        let (t, h) = custom.render("invite", &[("account", "Acme")]).unwrap();
        assert_eq!(t, "Custom Acme");
        assert!(h.contains("Acme"), "the HTML part falls back to the built-in template");
        // An override that exists but cannot be read stops the start, naming the file.
        std::fs::remove_file(dir.join("invite.txt")).unwrap();
        std::fs::create_dir(dir.join("invite.txt")).unwrap();
        assert!(Templates::load(&c).unwrap_err().contains("invite.txt"));
        std::fs::remove_dir_all(dir).ok();
        assert_eq!((backoff(0), backoff(1), backoff(20)), (5, 10, 3600));
    }
}
