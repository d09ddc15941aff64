//! The team dashboard: static assets compiled into the binary (`web/assets`, rebuilt from source by
//! `web/build.sh`), served with a strict Content-Security-Policy. The pages hold no server-side
//! state; all cryptography runs in the browser (the wasm engine in a Web Worker).

use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

/// No inline script or style, nothing from another origin; `wasm-unsafe-eval` lets the page compile
/// its own WebAssembly (and nothing else).
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
     connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    body: &'static [u8],
}

/// A file of `web/assets`, compiled in under its own name (so the name and the file cannot drift).
macro_rules! asset {
    ($name:literal) => {
        Asset { name: $name, body: include_bytes!(concat!("../web/assets/", $name)) }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html"),
    asset!("app.js"),
    asset!("worker.js"),
    asset!("style.css"),
    asset!("pkg/vouchsafe_web.js"),
    asset!("pkg/vouchsafe_web_bg.wasm"),
];

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

fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS.iter().map(|a| format!("\"{}\"", vouchsafe_crypto::b64::encode(&Sha256::digest(a.body)[..12]))).collect()
    })
}

/// The API's JSON 404, for a dashboard path or file that does not exist.
fn missing() -> HttpResponse {
    actix_web::ResponseError::error_response(&crate::error::ApiError::not_found("route.not_found", "no such file"))
}

fn serve(req: &HttpRequest, index: usize) -> HttpResponse {
    let (Some(asset), Some(tag)) = (ASSETS.get(index), etags().get(index)) else { return missing() };
    let mut res = if req.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == tag.as_bytes()) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok().content_type(content_type(asset.name)).body(asset.body)
    };
    let h = res.headers_mut();
    for (k, v) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-cache"),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    res
}

async fn page(req: HttpRequest) -> HttpResponse {
    serve(&req, 0)
}

async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let name = path.into_inner();
    match ASSETS.iter().position(|a| a.name == name && a.name != "index.html") {
        Some(i) => serve(&req, i),
        None => missing(),
    }
}

/// Registers the dashboard's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for p in PAGES {
        cfg.route(p, web::get().to(page));
    }
    cfg.route("/accounts/{tail:.*}", web::get().to(page)).route("/assets/{name:.*}", web::get().to(asset));
}
