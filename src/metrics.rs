//! Prometheus metrics (text format) for operators: requests by route template and status,
//! latency histograms, Argon2 queue depth and wait, outbox depth and delivery failures, database
//! pool use, rate-limit rejections. Served at `/metrics` only on `metrics_bind` (off by default),
//! never on the public listener. Labels hold route *templates* (`/api/v1/accounts/{id}`), never
//! ids, e-mails or tokens.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~4 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// Every metric the server keeps, registered once.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: HistogramFamily,
    rate_limited: Family<Labels, Counter>,
    /// Argon2 jobs queued or running.
    pub argon_depth: Gauge,
    /// Seconds an Argon2 job waited for a thread.
    pub argon_wait: Histogram,
    /// Delivery attempts that failed.
    pub outbox_failures: Counter,
    outbox_depth: Gauge,
    pool_size: Gauge,
    pool_idle: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vouchsafe");
        let requests = Family::<Labels, Counter>::default();
        let latency = HistogramFamily::new_with_constructor(latency_histogram);
        let rate_limited = Family::<Labels, Counter>::default();
        let argon_depth = Gauge::default();
        let argon_wait = Histogram::new(exponential_buckets(0.000_5, 2.0, 14));
        let outbox_failures = Counter::default();
        let outbox_depth = Gauge::default();
        let pool_size = Gauge::default();
        let pool_idle = Gauge::default();
        registry.register("http_requests", "HTTP requests by route template, method and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by route template", latency.clone());
        registry.register("rate_limited", "Requests refused by a rate limit (429), by route", rate_limited.clone());
        registry.register("argon2_queue_depth", "Argon2 jobs queued or running", argon_depth.clone());
        registry.register("argon2_wait_seconds", "Time an Argon2 job waited for a thread", argon_wait.clone());
        registry.register("outbox_failures", "E-mail delivery attempts that failed", outbox_failures.clone());
        registry.register("outbox_depth", "E-mails waiting to be delivered", outbox_depth.clone());
        registry.register("db_pool_connections", "Connections open in the database pool", pool_size.clone());
        registry.register("db_pool_idle_connections", "Idle connections in the database pool", pool_idle.clone());
        Self {
            registry,
            requests,
            latency,
            rate_limited,
            argon_depth,
            argon_wait,
            outbox_failures,
            outbox_depth,
            pool_size,
            pool_idle,
        }
    }

    /// Records one answered request. `route` is the matched template (or `unmatched`).
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let route = route.to_owned();
        self.requests
            .get_or_create(&vec![
                ("route", route.clone()),
                ("method", method.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.latency.get_or_create(&vec![("route", route.clone()), ("method", method.to_owned())]).observe(seconds);
        if status == 429 {
            self.rate_limited.get_or_create(&vec![("route", route)]).inc();
        }
    }

    /// Sets the values read at scrape time and encodes everything.
    pub fn render(&self, outbox_depth: i64, pool: Option<(u32, usize)>) -> String {
        self.outbox_depth.set(outbox_depth);
        if let Some((size, idle)) = pool {
            self.pool_size.set(i64::from(size));
            self.pool_idle.set(i64::try_from(idle).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// `GET /metrics` on the metrics listener.
pub async fn metrics(state: actix_web::web::Data<crate::state::AppState>) -> actix_web::HttpResponse {
    let depth = crate::store::outbox::backlog(&state.db).await.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let pool = crate::store::pool::usage(&state.db);
    actix_web::HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(state.metrics.render(depth, pool))
}
