//! The team dashboard: static assets compiled into the binary (`web/assets`, rebuilt from source by
//! `web/build.sh`), served with a strict Content-Security-Policy. The pages hold no server-side
//! state; all cryptography runs in the browser (the wasm engine in a Web Worker).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

/// No inline script or style, nothing from another origin; `wasm-unsafe-eval` lets the page compile
/// its own WebAssembly (and nothing else).
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
     connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// A file of `web/assets` as `build.rs` prepared it: references rewritten to hashed names, and
/// compressed with brotli and gzip at build time.
struct Built {
    /// Its path under `web/assets`.
    source: &'static str,
    /// The name it is served under for good: `app.<hash>.js` (`index.html` keeps its name).
    name: &'static str,
    /// The content hash, quoted.
    etag: &'static str,
    plain: &'static [u8],
    gzip: &'static [u8],
    brotli: &'static [u8],
}

const ASSETS: &[Built] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// Paths the dashboard renders (email links open `/invite`, `/reset`, `/reset/cancel`, `/recover`).
const PAGES: &[&str] =
    &["/", "/signin", "/signup", "/kit", "/settings", "/invite", "/reset", "/reset/cancel", "/recover", "/guardian"];

/// The encodings the request accepts (`q=0` refuses one), best first: brotli, gzip, none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

fn encoding(req: &HttpRequest) -> Encoding {
    let Some(accept) = req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return Encoding::Identity;
    };
    let accepts = |name: &str| {
        accept.split(',').any(|part| {
            let mut it = part.split(';');
            let token = it.next().unwrap_or("").trim();
            let refused = it
                .any(|p| p.trim().strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)));
            token.eq_ignore_ascii_case(name) && !refused
        })
    };
    if accepts("br") {
        Encoding::Brotli
    } else if accepts("gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// `immutable`: a hashed name, whose bytes never change.
fn serve(req: &HttpRequest, asset: &Built, status: actix_web::http::StatusCode, immutable: bool) -> HttpResponse {
    let enc = encoding(req);
    let (body, coding, suffix) = match enc {
        Encoding::Brotli => (asset.brotli, Some("br"), "-br"),
        Encoding::Gzip => (asset.gzip, Some("gzip"), "-gz"),
        Encoding::Identity => (asset.plain, None, ""),
    };
    // One tag per representation (RFC 9110 §8.8.3: a compressed body is another representation).
    let tag = format!("{}{suffix}\"", asset.etag.trim_end_matches('"'));
    let fresh = req.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == tag.as_bytes());
    let mut res = if fresh && status.is_success() {
        HttpResponse::NotModified().finish()
    } else {
        let mut b = HttpResponse::build(status);
        b.content_type(content_type(asset.name));
        if let Some(c) = coding {
            b.insert_header((header::CONTENT_ENCODING, c));
        }
        b.body(body)
    };
    let h = res.headers_mut();
    for (k, v) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::VARY, "Accept-Encoding"),
        (header::CACHE_CONTROL, if immutable { "public, max-age=31536000, immutable" } else { "no-cache" }),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    res
}

fn index() -> Option<&'static Built> {
    ASSETS.iter().find(|a| a.source == "index.html")
}

/// The API's JSON 404, for a file that does not exist.
fn missing() -> HttpResponse {
    actix_web::ResponseError::error_response(&crate::error::ApiError::not_found("route.not_found", "no such file"))
}

async fn page(req: HttpRequest) -> HttpResponse {
    index().map_or_else(missing, |i| serve(&req, i, actix_web::http::StatusCode::OK, false))
}

async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let name = path.into_inner();
    if let Some(a) = ASSETS.iter().find(|a| a.name == name && a.source != "index.html") {
        return serve(&req, a, actix_web::http::StatusCode::OK, true);
    }
    // The unhashed names stay reachable (revalidated on every use).
    match ASSETS.iter().find(|a| a.source == name && a.source != "index.html") {
        Some(a) => serve(&req, a, actix_web::http::StatusCode::OK, false),
        None => missing(),
    }
}

/// Anything no route matched: under `/api/` (or not a GET), the API's JSON 404; elsewhere the
/// dashboard with status 404, which shows its own "not found" page.
pub async fn fallback(req: HttpRequest) -> HttpResponse {
    let p = req.path();
    let get = req.method() == actix_web::http::Method::GET || req.method() == actix_web::http::Method::HEAD;
    if !get || p.starts_with("/api/") || p == "/api" || p.starts_with("/assets/") {
        return actix_web::ResponseError::error_response(&crate::error::ApiError::not_found(
            "route.not_found",
            "no such route",
        ));
    }
    index().map_or_else(missing, |i| serve(&req, i, actix_web::http::StatusCode::NOT_FOUND, false))
}

/// Registers the dashboard's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for p in PAGES {
        cfg.route(p, web::get().to(page));
    }
    // A team's page and its tabs, as the dashboard's router knows them (anything else under
    // /teams is the fallback's 404 page).
    for base in ["/teams", "/accounts"] {
        cfg.route(&format!("{base}/{{id:[A-Za-z0-9_-]+}}"), web::get().to(page))
            .route(&format!("{base}/{{id:[A-Za-z0-9_-]+}}/{{tab:items|inbox|members|recovery}}"), web::get().to(page));
    }
    cfg.route("/assets/{name:.*}", web::get().to(asset));
}
