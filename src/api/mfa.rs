//! Second factors: the login's second step, enrolment, listing, renaming, removal, new
//! recovery codes (`crate::service::mfa`).

use actix_web::{HttpRequest, HttpResponse, web};
use vouchsafe_client::types::*;

use crate::api::auth::{Bearer, limit};
use crate::api::{Body, Json};
use crate::error::{ApiError, ErrorBody};
use crate::service::mfa as svc;
use crate::state::AppState;

/// A login's second step: the challenge and a second factor → tokens and the wrapped keyring.
#[utoipa::path(post, path = "/api/v1/auth/login/second-factor", request_body = SecondFactorLoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, body = ErrorBody),
        (status = 401, description = "The challenge expired, was used, or took too many wrong codes.", body = ErrorBody),
        (status = 403, description = "The code is wrong or used already, or the user is disabled.", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<SecondFactorLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, &req, "login", state.config.rate_limits.login_per_ip)?;
    let out = svc::finish_login(&state, body.into_inner(), state.clock.now()).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(out))
}

/// The signed-in person's second factors.
#[utoipa::path(get, path = "/api/v1/auth/second-factors", security(("bearer" = [])),
    responses((status = 200, body = SecondFactors), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    Ok(HttpResponse::Ok().json(svc::list(&state, &u.user_id).await?))
}

/// Starts an authenticator-app enrolment (the password again); confirm it with a code.
#[utoipa::path(post, path = "/api/v1/auth/second-factors/totp", security(("bearer" = [])), request_body = TotpEnrolRequest,
    responses((status = 201, body = TotpEnrolment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn enrol_totp(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<TotpEnrolRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    let out = svc::enrol_totp(&state, &u.user_id, body.into_inner()?, state.clock.now()).await?;
    Ok(HttpResponse::Created().insert_header(("Cache-Control", "no-store")).json(out))
}

/// Confirms an enrolment with the app's current code (the first factor brings recovery codes).
#[utoipa::path(post, path = "/api/v1/auth/second-factors/{id}/confirm", security(("bearer" = [])),
    params(("id" = String, Path, description = "factor id")), request_body = ConfirmFactorRequest,
    responses((status = 200, body = ConfirmedFactor), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn confirm(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: Body<ConfirmFactorRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    let out = svc::confirm(&state, &u.user_id, &path, body.into_inner()?, state.clock.now()).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(out))
}

/// Renames a factor.
#[utoipa::path(patch, path = "/api/v1/auth/second-factors/{id}", security(("bearer" = [])),
    params(("id" = String, Path, description = "factor id")), request_body = RenameFactorRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rename(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: Body<RenameFactorRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    svc::rename(&state, &u.user_id, &path, body.into_inner()?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a factor, after a fresh check of a factor (e-mailed to the person).
#[utoipa::path(post, path = "/api/v1/auth/second-factors/{id}/remove", security(("bearer" = [])),
    params(("id" = String, Path, description = "factor id")), request_body = SecondFactorProof,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn remove(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: Body<SecondFactorProof>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    svc::remove(&state, &u.user_id, &path, body.into_inner()?, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new set of recovery codes, after a fresh check (the old codes stop working).
#[utoipa::path(post, path = "/api/v1/auth/second-factors/recovery-codes", security(("bearer" = [])),
    request_body = SecondFactorProof,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn recovery_codes(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<SecondFactorProof>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    let out = svc::new_recovery_codes(&state, &u.user_id, body.into_inner()?, state.clock.now()).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(out))
}
