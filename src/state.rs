//! Shared application state and the clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::auth::TokenSigner;
use crate::config::{Config, ServerSecrets};

/// Where "now" comes from. Service functions take `now` as a parameter; handlers read the
/// clock once per request.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Unix seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock tests can move.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl AppState {
    /// Where `/metrics` is served, if anywhere.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr.get().copied()
    }
}

impl ManualClock {
    /// Starts at `t`.
    pub fn new(t: i64) -> Self {
        Self(AtomicI64::new(t))
    }
    /// Moves forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Everything a handler needs.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Database.
    pub db: crate::store::Db,
    /// Per-address rate limits ([`crate::limits`]).
    pub limiter: crate::limits::Limiter,
    /// Items: rows and the rights to them ([`crate::store::items`]).
    pub store: crate::store::Store,
    /// Configuration.
    pub config: Arc<Config>,
    /// Server secrets.
    pub secrets: Arc<ServerSecrets>,
    /// Access tokens.
    pub tokens: Arc<TokenSigner>,
    /// Mail templates (built-ins plus the operator's overrides, read at start-up).
    pub templates: crate::mail::Templates,
    /// Argon2 threads (each holds one 19 MiB buffer).
    pub argon: Arc<crate::auth::ArgonPool>,
    /// Verifier checked for unknown emails, so a login takes the same time either way.
    pub dummy_verifier: Arc<String>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Wakes the email sender after a message is queued.
    pub mail_wakeup: Arc<tokio::sync::Notify>,
    /// Prometheus metrics (served on `metrics_bind` only).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The address `/metrics` was bound to (known once the server is bound).
    pub metrics_addr: Arc<std::sync::OnceLock<std::net::SocketAddr>>,
    /// The WebAuthn relying party (`public_url`'s host and origin); none when `public_url`
    /// names an IP address, where browsers offer no passkeys.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
}

/// The UTC calendar date and time of unix seconds `t`: (year, month, day, hour, minute,
/// second) — Howard Hinnant's civil-from-days.
pub fn civil(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}
