//! `/api/v1/accounts/{id}/proposals*`: entries gathering admin co-signatures (PROTOCOL.md §5.4).

use actix_web::{HttpResponse, web};
use vouchsafe_client::types::*;

use crate::api::Body;
use crate::api::auth::Bearer;
use crate::error::{ApiError, ErrorBody};
use crate::service::proposals as svc;
use crate::state::AppState;

/// Proposes an entry that needs more admin signatures than its author holds (admins).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/proposals", security(("bearer" = [])), request_body = CreateProposalRequest,
    responses((status = 201, body = ProposalInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: Body<CreateProposalRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    let body = body.for_member(&state, &path, &u.user_id).await?;
    Ok(HttpResponse::Created().json(svc::create(&state, &path, &u.user_id, body, state.clock.now()).await?))
}

/// Open proposals of an account.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/proposals", security(("bearer" = [])),
    responses((status = 200, body = [ProposalInfo]), (status = 404, body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, bearer: Bearer, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    Ok(HttpResponse::Ok().json(svc::list(&state, &path, &u.user_id, state.clock.now()).await?))
}

/// One proposal, whatever its status.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/proposals/{proposal_id}", security(("bearer" = [])),
    responses((status = 200, body = ProposalInfo), (status = 404, body = ErrorBody)))]
pub async fn show(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    Ok(HttpResponse::Ok().json(svc::get(&state, &path.0, &u.user_id, &path.1, state.clock.now()).await?))
}

/// Withdraws an open proposal (admins).
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/proposals/{proposal_id}", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn withdraw(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    svc::withdraw(&state, &path.0, &u.user_id, &path.1, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds the caller's co-signature (admins); the one that completes the proposal appends it.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/proposals/{proposal_id}/cosign", security(("bearer" = [])), request_body = CosignRequest,
    responses((status = 200, body = ProposalInfo), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cosign(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id)>,
    body: Body<CosignRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    let body = body.for_member(&state, &path.0, &u.user_id).await?;
    Ok(HttpResponse::Ok().json(svc::cosign(&state, &path.0, &u.user_id, &path.1, &body, state.clock.now()).await?))
}
