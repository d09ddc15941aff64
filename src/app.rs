//! Wiring: database connection (SQLite or PostgreSQL chosen from the URL), migrations, state,
//! middleware, and the HTTP server with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, web};
use tracing::Instrument;

use crate::store::{Db, Store};

use crate::auth::TokenSigner;
use crate::config::{Config, ConfigError, ServerSecrets};
use crate::state::{AppState, Clock, SystemClock};

/// Start-up errors, with messages for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Database connection or migration.
    #[error("database: {0}")]
    Database(String),
    /// Bind or server error.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Connects to the configured database ([`crate::store::pool::connect`]).
pub async fn connect(config: &Config) -> Result<Db, StartError> {
    if config.database_url.starts_with("sqlite:") {
        crate::config::create_private_dir(&config.data_dir)?;
    }
    crate::store::pool::connect(&config.database_url)
        .await
        .map_err(|e| StartError::Database(format!("cannot connect to {}: {e}", redact_url(&config.database_url))))
}

/// Hides a password in a database URL for log lines.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Runs pending migrations.
pub async fn migrate(db: &Db) -> Result<(), StartError> {
    crate::store::pool::migrate(db).await.map_err(|e| StartError::Database(format!("migration failed: {e}")))
}

/// Builds the state (secrets loaded or generated, Argon2 pool, dummy verifier).
pub async fn build_state(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
    let secrets = ServerSecrets::load_or_generate(&config)?;
    let db = connect(&config).await?;
    if config.migrate_on_start {
        migrate(&db).await?;
    }
    let store = match crate::store::sqlite::sqlite_path(&config.database_url) {
        Some(path) => {
            make_private(&path)?;
            Store::Sqlite(crate::store::sqlite::Hot::open(&path).map_err(StartError::Database)?)
        }
        None if crate::store::pool::is_postgres(&db) => Store::Postgres(crate::store::items::Pg::over(&db)),
        None => {
            return Err(StartError::Database(
                "SQLite needs a file (an in-memory database cannot be shared by the server's connections)".into(),
            ));
        }
    };
    let limiter = crate::limits::Limiter::default();
    limiter.spawn_sync(db.clone(), config.rate_limits.window_secs, clock.clone());
    // Bodies that older versions kept after delivery (with their link tokens) go now.
    let redacted =
        crate::store::outbox::redact_delivered(&db).await.map_err(|e| StartError::Database(e.to_string()))?;
    if redacted > 0 {
        tracing::info!(rows = redacted, "blanked the bodies of delivered e-mails");
    }
    let tokens = TokenSigner::new(secrets.token_key.expose_secret(), &config.public_url, config.access_token_ttl_secs);
    // The verifier for unknown emails is made on the same Argon2 threads as every other.
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let argon = Arc::new(crate::auth::ArgonPool::new(
        config.argon2_concurrency,
        metrics.argon_depth.clone(),
        metrics.argon_wait.clone(),
    ));
    let dummy = argon
        .run(|mem| crate::auth::hash_auth_key(mem, &[0u8; 32]))
        .await
        .and_then(|r| r)
        .map_err(|e| StartError::Database(format!("startup: {e}")))?;
    let templates = crate::mail::Templates::load(&config.mail, secrets.outbox_key.clone())
        .map_err(|e| StartError::Config(crate::config::ConfigError(e)))?;
    let webauthn = crate::service::passkeys::relying_party(&config.public_url);
    Ok(AppState {
        webauthn,
        db,
        store,
        limiter,
        templates,
        argon,
        config: Arc::new(config),
        secrets: Arc::new(secrets),
        tokens: Arc::new(tokens),
        dummy_verifier: Arc::new(dummy),
        clock,
        mail_wakeup: Arc::new(tokio::sync::Notify::new()),
        metrics,
        metrics_addr: Arc::default(),
    })
}

/// A request id: a counter through SipHash under a key drawn once per process, so ids are unique
/// and reveal nothing (not the request count) without a system call per request.
fn request_id_value() -> String {
    use std::hash::BuildHasher;
    static KEY: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:016x}", KEY.get_or_init(std::hash::RandomState::new).hash_one(n))
}

/// Gives each request an id (`X-Request-Id`) and a tracing span; logs method, path, status and
/// duration — never bodies, tokens or query strings.
async fn request_id(
    req: ServiceRequest,
    next: Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let id = request_id_value();
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.path());
    // The request's latency, for the metrics (not the server's notion of "now").
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // The metrics listener answers `/metrics` and nothing else; the public one never `/metrics`.
    let on_metrics = req.app_data::<MetricsListener>().is_some_and(|m| m.0);
    if on_metrics != (req.path() == "/metrics") {
        let (http, _) = req.into_parts();
        let resp = actix_web::ResponseError::error_response(&crate::error::ApiError::not_found(
            "route.not_found",
            "no such route",
        ));
        return Ok(ServiceResponse::new(http, resp).map_into_right_body());
    }
    let method = req.method().as_str().to_owned();
    let res = next.call(req).instrument(span.clone()).await?;
    let mut res = res.map_into_left_body();
    // Counted only when metrics are served (`metrics_bind`): otherwise they cost nothing.
    if let Some(s) = &state
        && !on_metrics
        && s.config.metrics_bind.is_some()
    {
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        s.metrics.observe(&route, &method, res.status().as_u16(), started.elapsed().as_secs_f64());
    }
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&id) {
        res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), v);
    }
    span.in_scope(|| tracing::info!(status = res.status().as_u16(), ms = started.elapsed().as_millis() as u64, "done"));
    Ok(res)
}

/// A running server.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Where `/metrics` is served, if `metrics_bind` is set.
    pub metrics_addr: Option<SocketAddr>,
    /// Stops the server.
    pub handle: ServerHandle,
    /// Completes when the server has stopped.
    pub server: actix_web::dev::Server,
}

/// Which listener a request came in on: the metrics one answers `/metrics` and nothing else.
#[derive(Clone, Copy)]
struct MetricsListener(bool);

/// Binds and starts the server (call inside an actix/tokio runtime). SIGTERM/SIGINT stop it
/// gracefully: requests in flight finish (up to 30 s). Connections run through
/// [`crate::conn::Guarded`], so even requests the HTTP layer refuses get a JSON error.
pub fn start(state: AppState) -> Result<Running, StartError> {
    let max_body = state.config.max_body_bytes;
    let transport = crate::mail::Transport::from_config(&state.config.mail, &state.config.data_dir)
        .map_err(|e| StartError::Config(ConfigError(e)))?;
    crate::mail::spawn_sender(state.clone(), Arc::new(transport));
    let public = std::net::TcpListener::bind(state.config.bind)?;
    let addr = public.local_addr()?;
    let metrics = state.config.metrics_bind.map(std::net::TcpListener::bind).transpose()?;
    let metrics_addr = metrics.as_ref().map(std::net::TcpListener::local_addr).transpose()?;
    if let Some(m) = metrics_addr {
        let _ = state.metrics_addr.set(m);
    }
    let data = web::Data::new(state);
    let app = move |on_metrics: bool| {
        App::new()
            .app_data(data.clone())
            .app_data(MetricsListener(on_metrics))
            .wrap(from_fn(request_id))
            .route("/metrics", web::get().to(crate::metrics::metrics))
            .configure(crate::api::configure(max_body))
            .configure(crate::web::configure)
            .default_service(web::to(crate::web::fallback))
    };
    let service = move |on_metrics: bool| {
        let app = app.clone();
        move || {
            use actix_service::ServiceFactoryExt;
            let http = actix_http::HttpService::build()
                .keep_alive(actix_http::KeepAlive::Timeout(Duration::from_secs(5)))
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1(actix_service::map_config(app(on_metrics), |_| actix_web::dev::AppConfig::default()));
            actix_service::fn_service(|io: actix_rt::net::TcpStream| async move {
                let peer = io.peer_addr().ok();
                Ok::<_, actix_http::error::DispatchError>((crate::conn::Guarded::new(io), peer))
            })
            .and_then(http)
        }
    };
    let mut builder = actix_server::Server::build().shutdown_timeout(30).listen("vouchsafe", public, service(false))?;
    if let Some(m) = metrics {
        builder = builder.listen("vouchsafe-metrics", m, service(true))?;
    }
    let server = builder.run();
    Ok(Running { addr, metrics_addr, handle: server.handle(), server })
}

/// `vouchsafe serve`.
pub async fn serve(config: Config) -> Result<(), StartError> {
    tracing::info!(bind = %config.bind, database = %redact_url(&config.database_url), "starting");
    let state = build_state(config, Arc::new(SystemClock)).await?;
    let (db, limiter, clock) = (state.db.clone(), state.limiter.clone(), state.clock.clone());
    let window = state.config.rate_limits.window_secs;
    let running = start(state)?;
    tracing::info!(addr = %running.addr, "listening; API docs at /api/docs/");
    running.server.await?;
    // Nothing writes after the checkpoint: the last counts first.
    limiter.finish(&db, window, clock.now()).await;
    crate::store::pool::checkpoint(&db).await;
    crate::store::pool::close(&db).await;
    tracing::info!("stopped");
    Ok(())
}

/// The SQLite database file is the server's alone (mode 0600); SQLite gives its `-wal` and
/// `-shm` files the same mode.
fn make_private(path: &std::path::Path) -> Result<(), StartError> {
    #[cfg(unix)]
    for p in [path.to_path_buf(), path.with_extension("db-wal"), path.with_extension("db-shm")] {
        use std::os::unix::fs::PermissionsExt;
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StartError::Database(format!("cannot make {} private: {e}", p.display())))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
