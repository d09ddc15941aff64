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

/// Starts a passkey or security-key enrolment (the password again); confirm it with the
/// browser's answer to the options.
#[utoipa::path(post, path = "/api/v1/auth/second-factors/webauthn", security(("bearer" = [])),
    request_body = WebauthnEnrolRequest,
    responses((status = 201, body = WebauthnEnrolment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, description = "Too many factors, or passkeys are off (public_url is an IP address).", body = ErrorBody)))]
pub async fn enrol_webauthn(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<WebauthnEnrolRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    let out = svc::enrol_webauthn(&state, &u.user_id, body.into_inner()?, state.clock.now()).await?;
    Ok(HttpResponse::Created().insert_header(("Cache-Control", "no-store")).json(out))
}

/// A passkey check for the signed-in person (to remove a factor or make new recovery codes):
/// answer it in `second_factor.webauthn`.
#[utoipa::path(post, path = "/api/v1/auth/second-factors/webauthn/check", security(("bearer" = [])),
    responses((status = 200, body = WebauthnCeremony), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "No passkey is set up.", body = ErrorBody)))]
pub async fn webauthn_check(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    let out = crate::service::passkeys::begin_check(&state, &u.user_id, state.clock.now()).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(out))
}

/// A passkey check for a login's challenge: answer it at `/auth/login/second-factor`.
#[utoipa::path(post, path = "/api/v1/auth/login/second-factor/webauthn", request_body = WebauthnLoginOptionsRequest,
    responses((status = 200, body = WebauthnCeremony), (status = 400, body = ErrorBody),
        (status = 401, description = "The challenge expired, was used, or took too many wrong answers.", body = ErrorBody),
        (status = 409, description = "No passkey is set up.", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login_webauthn_options(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<WebauthnLoginOptionsRequest>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, &req, "login", state.config.rate_limits.login_per_ip)?;
    let out = svc::login_passkey_options(&state, body.into_inner(), state.clock.now()).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(out))
}

/// A passkey sign-in's options: any passkey set up to unlock the keys may answer.
#[utoipa::path(post, path = "/api/v1/auth/passkey/options",
    responses((status = 200, body = WebauthnCeremony), (status = 409, description = "Passkeys are off.", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn passkey_options(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    limit(&state, &req, "login", state.config.rate_limits.login_per_ip)?;
    let out = crate::service::passkeys::begin_unlock(&state, state.clock.now()).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(out))
}

/// Signs in with a passkey that unlocks the keys: a session, the keyring and its PRF wrap (the
/// client opens it with the passkey's PRF output, which the server never sees).
#[utoipa::path(post, path = "/api/v1/auth/passkey/login", request_body = WebauthnAssertion,
    responses((status = 200, body = PasskeyLoginResponse), (status = 400, body = ErrorBody),
        (status = 401, description = "The ceremony expired or was used, the passkey is unknown or does not unlock, or its answer was refused.", body = ErrorBody),
        (status = 403, description = "The user is disabled.", body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn passkey_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<WebauthnAssertion>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, &req, "login", state.config.rate_limits.login_per_ip)?;
    let out = crate::service::passkeys::finish_unlock(
        &state,
        body.into_inner(),
        crate::api::auth::user_agent(&req),
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(out))
}
