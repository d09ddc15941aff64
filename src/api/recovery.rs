//! `/api/v1/recovery/*`: kits, emailed recovery, guardian releases.

use actix_web::{HttpRequest, HttpResponse, web};
use vouchsafe_client::types::*;

use crate::api::auth::Bearer;
use crate::error::{ApiError, ErrorBody};
use crate::service::recovery as svc;
use crate::state::AppState;

async fn per_ip(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    crate::api::auth::limit(state, req, "recovery", state.config.rate_limits.reset_per_ip)
}

/// Stores (replaces) the caller's recovery kit.
#[utoipa::path(put, path = "/api/v1/recovery/kit", security(("bearer" = [])), request_body = PutKitRequest,
    responses((status = 200, body = KitStatus), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn put_kit(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: crate::api::Body<PutKitRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    Ok(HttpResponse::Ok().json(svc::put_kit(&state, &u.user_id, body.into_inner()?, state.clock.now()).await?))
}

/// The caller's kit, without secrets.
#[utoipa::path(get, path = "/api/v1/recovery/kit", security(("bearer" = [])), responses((status = 200, body = KitStatus), (status = 403, body = ErrorBody)))]
pub async fn kit(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    Ok(HttpResponse::Ok().json(svc::kit_status(&state, &u.user_id).await?))
}

/// Emails a recovery link (always 202, at the same speed).
#[utoipa::path(post, path = "/api/v1/recovery/request", request_body = ResetRequest,
    responses((status = 202), (status = 429, body = ErrorBody)))]
pub async fn request(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    per_ip(&state, &req).await?;
    crate::api::reset::accepted_then(&state, "recovery", &body.email, |st, email, now| async move {
        svc::request(&st, &email, now).await
    })
    .await
}

/// Redeems the emailed token; releases the server share sealed to the ephemeral key.
#[utoipa::path(post, path = "/api/v1/recovery/begin", request_body = RecoveryBeginRequest,
    responses((status = 200, body = RecoveryBeginResponse), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn begin(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<RecoveryBeginRequest>,
) -> Result<HttpResponse, ApiError> {
    per_ip(&state, &req).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(svc::begin(&state, body.into_inner(), state.clock.now()).await?))
}

/// Shares released to the session so far.
#[utoipa::path(post, path = "/api/v1/recovery/shares", request_body = RecoverySessionRequest,
    responses((status = 200, body = [ReleasedShare]), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn shares(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<RecoverySessionRequest>,
) -> Result<HttpResponse, ApiError> {
    per_ip(&state, &req).await?;
    Ok(HttpResponse::Ok().json(svc::shares(&state, &body, state.clock.now()).await?))
}

/// Sets a new password for the recovered keys.
#[utoipa::path(post, path = "/api/v1/recovery/complete", request_body = RecoveryCompleteRequest,
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 403, description = "The second factor's code is wrong or used already.", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn complete(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<RecoveryCompleteRequest>,
) -> Result<HttpResponse, ApiError> {
    per_ip(&state, &req).await?;
    svc::complete(&state, body.into_inner(), state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Open recoveries the caller can help with as a guardian.
#[utoipa::path(get, path = "/api/v1/recovery/guardian-requests", security(("bearer" = [])),
    responses((status = 200, body = [GuardianRequest]), (status = 403, body = ErrorBody)))]
pub async fn guardian_requests(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    Ok(HttpResponse::Ok().json(svc::guardian_requests(&state, &u.user_id, state.clock.now()).await?))
}

/// A guardian releases their share to a recovery session.
#[utoipa::path(post, path = "/api/v1/recovery/release", security(("bearer" = [])), request_body = ReleaseShareRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn release(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: crate::api::Body<ReleaseShareRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    svc::release(&state, &u.user_id, body.into_inner()?, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
