//! HTTP layer: thin handlers (extract → one service call → map), the authenticated-user
//! extractor, rate-limit guards, and `configure()` shared by production and tests.

pub mod accounts;
pub mod auth;
pub mod health;
pub mod recovery;
pub mod reset;
pub mod workers;

use actix_web::web;
use utoipa::OpenApi;

use crate::error;

/// The OpenAPI document, generated from the handlers and wire types.
#[derive(OpenApi)]
#[openapi(
    info(title = "Vouchsafe API", description = "End-to-end-encrypted team vault with social recovery. All binary values are unpadded base64url."),
    paths(
        auth::prelogin, auth::register, auth::login, auth::refresh, auth::logout, auth::sessions,
        auth::revoke_session, auth::me, auth::my_keyring, auth::change_password, health::healthz, health::readyz,
        accounts::create, accounts::list, accounts::show, accounts::rename, accounts::read_log, accounts::append,
        accounts::keys, accounts::members, accounts::invite, accounts::invitations, accounts::revoke_invitation,
        accounts::accept, accounts::list_items, reset::request, reset::begin, reset::complete, reset::cancel,
        recovery::put_kit, recovery::kit, recovery::request, recovery::begin, recovery::shares, recovery::complete,
        recovery::guardian_requests, recovery::release, workers::register, workers::list, workers::audit,
        workers::challenge, workers::token, accounts::get_item, accounts::put_item, accounts::delete_item, accounts::update_items
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
            );
        }
    }
}

/// Registers every route, extractor config and error handler.
pub fn configure(max_body: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::JsonConfig::default().limit(max_body).error_handler(error::json_error))
            .app_data(web::PathConfig::default().error_handler(error::path_error))
            .app_data(web::QueryConfig::default().error_handler(error::query_error))
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz))
            .route("/api/openapi.json", web::get().to(openapi_json))
            .service(
                web::scope("/api/v1")
                    .route("/auth/prelogin", web::post().to(auth::prelogin))
                    .route("/auth/register", web::post().to(auth::register))
                    .route("/auth/login", web::post().to(auth::login))
                    .route("/auth/refresh", web::post().to(auth::refresh))
                    .route("/auth/logout", web::post().to(auth::logout))
                    .route("/auth/sessions", web::get().to(auth::sessions))
                    .route("/auth/sessions/{id}", web::delete().to(auth::revoke_session))
                    .route("/auth/password", web::post().to(auth::change_password))
                    .route("/auth/reset/request", web::post().to(reset::request))
                    .route("/auth/reset/begin", web::post().to(reset::begin))
                    .route("/auth/reset/complete", web::post().to(reset::complete))
                    .route("/auth/reset/cancel", web::post().to(reset::cancel))
                    .route("/recovery/kit", web::put().to(recovery::put_kit))
                    .route("/recovery/kit", web::get().to(recovery::kit))
                    .route("/recovery/request", web::post().to(recovery::request))
                    .route("/recovery/begin", web::post().to(recovery::begin))
                    .route("/recovery/shares", web::post().to(recovery::shares))
                    .route("/recovery/complete", web::post().to(recovery::complete))
                    .route("/recovery/guardian-requests", web::get().to(recovery::guardian_requests))
                    .route("/recovery/release", web::post().to(recovery::release))
                    .route("/accounts/{id}/workers", web::post().to(workers::register))
                    .route("/accounts/{id}/workers", web::get().to(workers::list))
                    .route("/accounts/{id}/audit", web::get().to(workers::audit))
                    .route("/workers/challenge", web::post().to(workers::challenge))
                    .route("/workers/token", web::post().to(workers::token))
                    .route("/me", web::get().to(auth::me))
                    .route("/me/keyring", web::get().to(auth::my_keyring))
                    .route("/accounts", web::post().to(accounts::create))
                    .route("/accounts", web::get().to(accounts::list))
                    .route("/accounts/{id}", web::get().to(accounts::show))
                    .route("/accounts/{id}", web::patch().to(accounts::rename))
                    .route("/accounts/{id}/log", web::get().to(accounts::read_log))
                    .route("/accounts/{id}/log", web::post().to(accounts::append))
                    .route("/accounts/{id}/keys", web::get().to(accounts::keys))
                    .route("/accounts/{id}/members", web::get().to(accounts::members))
                    .route("/accounts/{id}/invitations", web::post().to(accounts::invite))
                    .route("/accounts/{id}/invitations", web::get().to(accounts::invitations))
                    .route("/accounts/{id}/invitations/{invitation_id}", web::delete().to(accounts::revoke_invitation))
                    .route("/accounts/{id}/items", web::get().to(accounts::list_items))
                    .route("/accounts/{id}/items/batch", web::post().to(accounts::update_items))
                    .route("/accounts/{id}/items/{item_id}", web::get().to(accounts::get_item))
                    .route("/accounts/{id}/items/{item_id}", web::put().to(accounts::put_item))
                    .route("/accounts/{id}/items/{item_id}", web::delete().to(accounts::delete_item))
                    .route("/invitations/accept", web::post().to(accounts::accept)),
            )
            .service(
                utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}").url("/api/docs/openapi.json", ApiDoc::openapi()),
            );
    }
}

async fn openapi_json() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(ApiDoc::openapi())
}
