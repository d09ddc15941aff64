//! HTTP layer: thin handlers (extract → one service call → map), the authenticated-user
//! extractor, rate-limit guards, and `configure()` shared by production and tests.

pub mod accounts;
pub mod auth;
pub mod health;
pub mod inbox;
pub mod mfa;
pub mod openapi;
pub mod proposals;
pub mod recovery;
pub mod reset;
pub mod scim;
pub mod workers;

use actix_web::{FromRequest, web};
use utoipa::OpenApi;

use self::openapi::ApiDoc;

use crate::error;
use crate::error::ApiError;

/// A JSON request body: `Content-Type: application/json` (or `+json`), at most the server's
/// `max_body_bytes` (413), and no NUL character anywhere in its text — a PostgreSQL `text`
/// cannot hold one and SQLite's can, so NUL is refused here, for every route and every store,
/// instead of reaching a column. Every route with a JSON body takes it through this extractor.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &actix_web::HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let json = matches!(actix_web::HttpMessage::mime_type(req), Ok(Some(m))
            if m.subtype() == actix_web::mime::JSON || m.suffix() == Some(actix_web::mime::JSON));
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json {
                return Err(ApiError::UnsupportedMediaType("expected Content-Type: application/json".into()));
            }
            let bytes = bytes.await.map_err(|e| match e.as_error::<actix_web::error::PayloadError>() {
                Some(actix_web::error::PayloadError::Overflow) => ApiError::PayloadTooLarge,
                _ => ApiError::bad("request.invalid_json", "could not read the request body"),
            })?;
            parse_json(&bytes).map(Json)
        })
    }
}

/// Reads a JSON body's bytes (see [`Json`]).
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_nul_escape(bytes) {
        return Err(nul_refused("request.nul_character"));
    }
    serde_json::from_slice(bytes).map_err(|e| error::deserialize_error(&e))
}

/// Whether JSON text holds a `\u0000` escape (raw control bytes are invalid JSON already):
/// a `u0000` after an odd run of backslashes, so an escaped backslash followed by the text
/// `u0000` is not one.
pub fn has_nul_escape(bytes: &[u8]) -> bool {
    let mut run = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\\' {
            run += 1;
            continue;
        }
        if run % 2 == 1 && b == b'u' && bytes.get(i + 1..i + 5) == Some(b"0000") {
            return true;
        }
        run = 0;
    }
    false
}

/// The refusal of a NUL character, under `code`.
pub fn nul_refused(code: &'static str) -> ApiError {
    ApiError::bad(code, "text may not contain the NUL character (\\u0000)")
}

/// A JSON request body on a secured route, whose errors wait: the handler checks the caller's
/// token (401) — and, for an account's routes, its membership (404) — before it looks at the
/// body ([`Body::into_inner`]), so nobody learns anything from body checks they may not make.
pub struct Body<T>(Result<T, ApiError>);

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &actix_web::HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let json = Json::<T>::from_request(req, payload);
        Box::pin(async move { Ok(Body(json.await.map(Json::into_inner))) })
    }
}

impl<T> Body<T> {
    /// The body, or why it was refused — call once the caller's rights are checked.
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }

    /// The body for a member of `account_id`: a refused body is reported only to a member
    /// (anyone else gets the 404 the account's routes give non-members).
    pub async fn for_member(
        self,
        state: &crate::state::AppState,
        account_id: &str,
        user_id: &str,
    ) -> Result<T, ApiError> {
        match self.0 {
            Ok(t) => Ok(t),
            Err(e) => Err(for_member(state, account_id, user_id, e).await),
        }
    }
}

/// `refused` — a body or query the caller sent — as a member of `account_id` may see it; anyone
/// else gets the account's 404 instead, so body checks reveal nothing to non-members.
pub async fn for_member(
    state: &crate::state::AppState,
    account_id: &str,
    user_id: &str,
    refused: ApiError,
) -> ApiError {
    match crate::service::accounts::membership_of(&state.db, account_id, user_id).await {
        Ok(_) => refused,
        Err(e) => e,
    }
}

/// Registers every route, extractor config and error handler.
pub fn configure(max_body: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        // One body limit for every route: JSON bodies (`Json`) and SCIM's read their bytes here.
        cfg.app_data(web::PayloadConfig::new(max_body))
            .app_data(web::PathConfig::default().error_handler(error::path_error))
            .app_data(web::QueryConfig::default().error_handler(error::query_error))
            .service(resource("/healthz", "GET").route(web::get().to(health::healthz)))
            .service(resource("/readyz", "GET").route(web::get().to(health::readyz)))
            .service(resource("/api/openapi.json", "GET").route(web::get().to(openapi_json)))
            .configure(scim::configure)
            .service(
                web::scope("/api/v1")
                    .service(resource("/auth/prelogin", "POST").route(web::post().to(auth::prelogin)))
                    .service(resource("/auth/register", "POST").route(web::post().to(auth::register)))
                    .service(resource("/auth/login", "POST").route(web::post().to(auth::login)))
                    .service(resource("/auth/login/second-factor", "POST").route(web::post().to(mfa::login)))
                    .service(
                        resource("/auth/login/second-factor/webauthn", "POST")
                            .route(web::post().to(mfa::login_webauthn_options)),
                    )
                    .service(resource("/auth/passkey/options", "POST").route(web::post().to(mfa::passkey_options)))
                    .service(resource("/auth/passkey/login", "POST").route(web::post().to(mfa::passkey_login)))
                    .service(resource("/auth/second-factors", "GET").route(web::get().to(mfa::list)))
                    .service(resource("/auth/second-factors/totp", "POST").route(web::post().to(mfa::enrol_totp)))
                    .service(
                        resource("/auth/second-factors/webauthn", "POST").route(web::post().to(mfa::enrol_webauthn)),
                    )
                    .service(
                        resource("/auth/second-factors/webauthn/check", "POST")
                            .route(web::post().to(mfa::webauthn_check)),
                    )
                    .service(
                        resource("/auth/second-factors/recovery-codes", "POST")
                            .route(web::post().to(mfa::recovery_codes)),
                    )
                    .service(resource("/auth/second-factors/{id}", "PATCH").route(web::patch().to(mfa::rename)))
                    .service(resource("/auth/second-factors/{id}/confirm", "POST").route(web::post().to(mfa::confirm)))
                    .service(resource("/auth/second-factors/{id}/remove", "POST").route(web::post().to(mfa::remove)))
                    .service(resource("/auth/refresh", "POST").route(web::post().to(auth::refresh)))
                    .service(resource("/auth/logout", "POST").route(web::post().to(auth::logout)))
                    .service(resource("/auth/sessions", "GET").route(web::get().to(auth::sessions)))
                    .service(resource("/auth/sessions/{id}", "DELETE").route(web::delete().to(auth::revoke_session)))
                    .service(resource("/auth/password", "POST").route(web::post().to(auth::change_password)))
                    .service(resource("/auth/reset/request", "POST").route(web::post().to(reset::request)))
                    .service(resource("/auth/reset/begin", "POST").route(web::post().to(reset::begin)))
                    .service(resource("/auth/reset/complete", "POST").route(web::post().to(reset::complete)))
                    .service(resource("/auth/reset/cancel", "POST").route(web::post().to(reset::cancel)))
                    .service(
                        resource("/recovery/kit", "PUT, GET")
                            .route(web::put().to(recovery::put_kit))
                            .route(web::get().to(recovery::kit)),
                    )
                    .service(resource("/recovery/request", "POST").route(web::post().to(recovery::request)))
                    .service(resource("/recovery/begin", "POST").route(web::post().to(recovery::begin)))
                    .service(resource("/recovery/shares", "POST").route(web::post().to(recovery::shares)))
                    .service(resource("/recovery/complete", "POST").route(web::post().to(recovery::complete)))
                    .service(
                        resource("/recovery/guardian-requests", "GET")
                            .route(web::get().to(recovery::guardian_requests)),
                    )
                    .service(resource("/recovery/release", "POST").route(web::post().to(recovery::release)))
                    .service(
                        resource("/accounts/{id}/workers", "POST, GET")
                            .route(web::post().to(workers::register))
                            .route(web::get().to(workers::list)),
                    )
                    .service(resource("/accounts/{id}/audit", "GET").route(web::get().to(workers::audit)))
                    .service(resource("/workers/challenge", "POST").route(web::post().to(workers::challenge)))
                    .service(resource("/workers/token", "POST").route(web::post().to(workers::token)))
                    .service(resource("/me", "GET").route(web::get().to(auth::me)))
                    .service(resource("/me/keyring", "GET").route(web::get().to(auth::my_keyring)))
                    .service(
                        resource("/accounts", "POST, GET")
                            .route(web::post().to(accounts::create))
                            .route(web::get().to(accounts::list)),
                    )
                    .service(
                        resource("/accounts/{id}", "GET, PATCH")
                            .route(web::get().to(accounts::show))
                            .route(web::patch().to(accounts::rename)),
                    )
                    .service(
                        resource("/accounts/{id}/log", "GET, POST")
                            .route(web::get().to(accounts::read_log))
                            .route(web::post().to(accounts::append)),
                    )
                    .service(
                        resource("/accounts/{id}/checkpoints", "GET, PUT")
                            .route(web::get().to(accounts::checkpoints))
                            .route(web::put().to(accounts::put_checkpoint)),
                    )
                    .service(
                        resource("/accounts/{id}/proposals", "POST, GET")
                            .route(web::post().to(proposals::create))
                            .route(web::get().to(proposals::list)),
                    )
                    .service(
                        resource("/accounts/{id}/proposals/{proposal_id}", "GET, DELETE")
                            .route(web::get().to(proposals::show))
                            .route(web::delete().to(proposals::withdraw)),
                    )
                    .service(
                        resource("/accounts/{id}/proposals/{proposal_id}/cosign", "POST")
                            .route(web::post().to(proposals::cosign)),
                    )
                    .service(resource("/accounts/{id}/keys", "GET").route(web::get().to(accounts::keys)))
                    .service(resource("/accounts/{id}/members", "GET").route(web::get().to(accounts::members)))
                    .service(
                        resource("/accounts/{id}/invitations", "POST, GET")
                            .route(web::post().to(accounts::invite))
                            .route(web::get().to(accounts::invitations)),
                    )
                    .service(
                        resource("/accounts/{id}/invitations/{invitation_id}", "DELETE")
                            .route(web::delete().to(accounts::revoke_invitation)),
                    )
                    .service(
                        resource("/accounts/{id}/members/{user_id}", "DELETE")
                            .route(web::delete().to(accounts::deprovision)),
                    )
                    .service(
                        resource("/accounts/{id}/tokens", "POST, GET")
                            .route(web::post().to(accounts::create_token))
                            .route(web::get().to(accounts::list_tokens)),
                    )
                    .service(
                        resource("/accounts/{id}/tokens/{token_id}", "DELETE")
                            .route(web::delete().to(accounts::revoke_token)),
                    )
                    .service(resource("/accounts/{id}/inbox", "GET").route(web::get().to(inbox::view)))
                    .service(resource("/accounts/{id}/inbox/key", "GET").route(web::get().to(inbox::key)))
                    .service(resource("/accounts/{id}/inbox/deposits", "GET").route(web::get().to(inbox::list)))
                    .service(
                        resource("/accounts/{id}/inbox/deposits/{deposit_id}", "PUT")
                            .route(web::put().to(inbox::deposit)),
                    )
                    .service(
                        resource("/accounts/{id}/inbox/plaintext/{deposit_id}", "PUT")
                            .route(web::put().to(inbox::deposit_plaintext)),
                    )
                    .service(
                        resource("/accounts/{id}/inbox/deposits/{provider_id}/{deposit_id}", "GET, DELETE")
                            .route(web::get().to(inbox::get))
                            .route(web::delete().to(inbox::file)),
                    )
                    .service(resource("/accounts/{id}/items", "GET").route(web::get().to(accounts::list_items)))
                    .service(
                        resource("/accounts/{id}/items/batch", "POST").route(web::post().to(accounts::update_items)),
                    )
                    .service(
                        resource("/accounts/{id}/items/{item_id}", "GET, PUT, DELETE")
                            .route(web::get().to(accounts::get_item))
                            .route(web::put().to(accounts::put_item))
                            .route(web::delete().to(accounts::delete_item)),
                    )
                    .service(resource("/invitations/accept", "POST").route(web::post().to(accounts::accept))),
            )
            .service(
                utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}").url("/api/docs/openapi.json", ApiDoc::openapi()),
            );
    }
}

/// A path's resource: its routes, and a 405 JSON error (with `Allow`) for any other method.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<actix_web::HttpResponse, _>(error::ApiError::MethodNotAllowed { allow })
    }))
}

/// The document, rendered once.
async fn openapi_json() -> actix_web::HttpResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default());
    actix_web::HttpResponse::Ok().content_type("application/json").body(doc.as_str())
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn a_nul_escape_is_found_and_an_escaped_backslash_is_not_one() {
        for yes in [&br#""\u0000""#[..], br#"{"a":"x\\\u0000"}"#, br#"\u0000"#] {
            assert!(has_nul_escape(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [&br#""\\u0000""#[..], br#""\u000""#, br#""u0000""#, br#""\u0001""#, b""] {
            assert!(!has_nul_escape(no), "{}", String::from_utf8_lossy(no));
        }
    }
}
