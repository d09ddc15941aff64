//! Workers: registration and listing per account, the audit trail, and the worker login.

use actix_web::{HttpRequest, HttpResponse, web};
use vouchsafe_client::types::*;

use crate::api::auth::Bearer;
use crate::error::{ApiError, ErrorBody};
use crate::service::workers as svc;
use crate::state::AppState;

/// Registers a worker's public keys (admins).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/workers", security(("bearer" = [])), request_body = RegisterWorkerRequest,
    responses((status = 201, body = WorkerInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn register(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: crate::api::Body<RegisterWorkerRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    let body = body.for_member(&state, &path, &u.user_id).await?;
    Ok(HttpResponse::Created().json(svc::register(&state, &path, &u.user_id, body, state.clock.now()).await?))
}

/// Workers of an account.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/workers", security(("bearer" = [])),
    responses((status = 200, body = [WorkerInfo]), (status = 404, body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, bearer: Bearer, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    Ok(HttpResponse::Ok().json(svc::list(&state, &path, &u.user_id).await?))
}

/// The audit trail (admins).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/audit", security(("bearer" = [])),
    responses((status = 200, body = [AuditEvent]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn audit(state: web::Data<AppState>, bearer: Bearer, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    Ok(HttpResponse::Ok().json(svc::audit_trail(&state, &path, &u.user_id).await?))
}

async fn per_ip(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    crate::api::auth::limit(state, req, "worker", state.config.rate_limits.login_per_ip)
}

/// A login challenge for a worker.
#[utoipa::path(post, path = "/api/v1/workers/challenge", request_body = WorkerChallengeRequest,
    responses((status = 200, body = WorkerChallengeResponse), (status = 429, body = ErrorBody)))]
pub async fn challenge(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<WorkerChallengeRequest>,
) -> Result<HttpResponse, ApiError> {
    per_ip(&state, &req).await?;
    Ok(HttpResponse::Ok().json(svc::challenge(&state, &body.worker_id, state.clock.now()).await?))
}

/// Exchanges a signed challenge for a short-lived worker token.
#[utoipa::path(post, path = "/api/v1/workers/token", request_body = WorkerTokenRequest,
    responses((status = 200, body = WorkerTokenResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<WorkerTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    per_ip(&state, &req).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(svc::token(&state, &body, state.clock.now()).await?))
}
