//! `/api/v1/auth/reset/*`: request (always 202), begin, complete, cancel ("this was not me").

use actix_web::{HttpRequest, HttpResponse, web};
use vouchsafe_client::types::*;

use crate::auth::hit_rate_limit;
use crate::error::{ApiError, ErrorBody};
use crate::service::reset as svc;
use crate::state::AppState;

async fn per_ip(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    crate::api::auth::limit(state, req, "reset", state.config.rate_limits.reset_per_ip)
}

/// Starts a password reset. Always 202, at the same speed, whether or not the email has a user:
/// the work (token, email) happens after the response.
#[utoipa::path(post, path = "/api/v1/auth/reset/request", request_body = ResetRequest,
    responses((status = 202), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn request(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    per_ip(&state, &req).await?;
    accepted_then(&state, "reset", &body.email, |st, email, now| async move { svc::request(&st, &email, now).await })
        .await
}

/// Answers 202 at once and does `job` afterwards (for a well-formed email within its per-email
/// limit), so neither the answer nor its timing says whether the email has a user. Over the
/// per-email limit the answer is still 202 (a 429 would help mail bombing, not the caller).
pub async fn accepted_then<F, Fut>(
    state: &AppState,
    purpose: &str,
    email: &str,
    job: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(AppState, String, i64) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), ApiError>> + 'static,
{
    let accepted = HttpResponse::Accepted().json(serde_json::json!({ "status": "accepted" }));
    let Some(email) = svc::request_email(email) else {
        return Ok(accepted);
    };
    let now = state.clock.now();
    let rl = &state.config.rate_limits;
    let key = crate::auth::email_key(purpose, &email);
    if hit_rate_limit(&state.db, &key, rl.reset_per_email, rl.window_secs, now).await.is_err() {
        return Ok(accepted);
    }
    let st = state.clone();
    let purpose = purpose.to_owned();
    actix_web::rt::spawn(async move {
        if let Err(e) = job(st, email, now).await {
            tracing::warn!(error = ?e, purpose = %purpose, "emailed request failed");
        }
    });
    Ok(accepted)
}

/// Checks a reset token (without using it) and returns the team-log heads to extend.
#[utoipa::path(post, path = "/api/v1/auth/reset/begin", request_body = ResetTokenRequest,
    responses((status = 200, body = ResetBeginResponse), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn begin(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<ResetTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    per_ip(&state, &req).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(svc::begin(&state, body.token.expose(), state.clock.now()).await?))
}

/// Completes the reset: new password and key generation, sessions ended, announcements logged.
#[utoipa::path(post, path = "/api/v1/auth/reset/complete", request_body = ResetCompleteRequest,
    responses((status = 204), (status = 400, body = ErrorBody),
        (status = 403, description = "The second factor's code is wrong or used already.", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn complete(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<ResetCompleteRequest>,
) -> Result<HttpResponse, ApiError> {
    per_ip(&state, &req).await?;
    svc::complete(&state, body.into_inner(), state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// "This was not me".
#[utoipa::path(post, path = "/api/v1/auth/reset/cancel", request_body = ResetTokenRequest,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<ResetTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    per_ip(&state, &req).await?;
    svc::cancel(&state, body.token.expose(), state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
