//! `/api/v1/accounts/{id}/inbox*`: the inbox key, providers' deposits, and members' and
//! workers' view of them.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use vouchsafe_client::types::*;

use crate::api::Body;
use crate::api::auth::Bearer;
use crate::error::{ApiError, ErrorBody};
use crate::service::inbox as svc;
use crate::state::AppState;

/// `?cursor=&limit=` of deposits.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DepositQuery {
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<vouchsafe_client::schema::DepositCursor>)]
    pub cursor: Option<String>,
    /// Page size (default 100, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// The inbox key deposits are sealed to now: for a provider's token (`inbox:deposit`, which
/// also learns its provider id), a member or a worker. A provider compares its fingerprint
/// code with the one it was given; the server could serve any key.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/inbox/key", security(("bearer" = [])),
    responses((status = 200, body = InboxKeyResponse), (status = 403, body = ErrorBody), (status = 404, description = "No such account, or it has no inbox key (`inbox.no_key`).", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn key(state: web::Data<AppState>, bearer: Bearer, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let key = match bearer.grant_or_principal(&state, &path, Scope::InboxDeposit).await? {
        Ok(grant) => {
            let key = svc::key_for_provider(&state, &grant).await?;
            crate::service::tokens::record(&state.db, &grant, "inbox.key", 1, now).await?;
            key
        }
        Err(who) => svc::key_for(&state, &path, &who, now).await?,
    };
    Ok(HttpResponse::Ok().json(key))
}

/// Deposits a sealed record (providers' tokens only). 201 when new; 200 when the same bytes
/// were deposited under this id before; 409 `deposit.conflict` for other bytes.
#[utoipa::path(put, path = "/api/v1/accounts/{id}/inbox/deposits/{deposit_id}", security(("bearer" = [])), request_body = PutDepositRequest,
    responses((status = 201, body = DepositReceipt), (status = 200, body = DepositReceipt), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn deposit(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, String)>,
    body: Body<PutDepositRequest>,
) -> Result<HttpResponse, ApiError> {
    let grant = bearer.grant(&state, &path.0, Scope::InboxDeposit).await?;
    let now = state.clock.now();
    // The service records the token's use (with the deposit, in one transaction).
    let (created, receipt) = svc::deposit(&state, &grant, &path.1, body.into_inner()?, now).await?;
    Ok(if created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(receipt))
}

/// Deposits a record sent in plaintext, sealed by the server on arrival (providers' tokens
/// with `inbox:plaintext`; the deposit is marked `sealed_by_server`). A used id is a 409.
#[utoipa::path(put, path = "/api/v1/accounts/{id}/inbox/plaintext/{deposit_id}", security(("bearer" = [])), request_body = PlaintextDepositRequest,
    responses((status = 201, body = DepositReceipt), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn deposit_plaintext(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, String)>,
    body: Body<PlaintextDepositRequest>,
) -> Result<HttpResponse, ApiError> {
    let grant = bearer.grant(&state, &path.0, Scope::InboxPlaintext).await?;
    let now = state.clock.now();
    let receipt = svc::deposit_plaintext(&state, &grant, &path.1, body.into_inner()?, now).await?;
    Ok(HttpResponse::Created().json(receipt))
}

/// The inbox: its keys, their wraps, how many deposits wait (members, workers).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/inbox", security(("bearer" = [])),
    responses((status = 200, body = InboxView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn view(state: web::Data<AppState>, bearer: Bearer, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    let who = bearer.principal()?;
    Ok(HttpResponse::Ok().json(svc::view(&state, &path, &who, state.clock.now()).await?))
}

/// Deposits waiting, without content, by provider and id (members, workers).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/inbox/deposits", security(("bearer" = [])), params(DepositQuery),
    responses((status = 200, body = DepositPage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    q: web::Query<DepositQuery>,
) -> Result<HttpResponse, ApiError> {
    let who = bearer.principal()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=svc::MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad("request.invalid_query", "limit must be 1 to 500"));
    }
    let page = svc::page(&state, &path, &who, q.cursor.as_deref(), limit, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One deposit with its sealed content (members, workers; a worker's read is audited).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/inbox/deposits/{provider_id}/{deposit_id}", security(("bearer" = [])),
    responses((status = 200, body = DepositWire), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id, String)>,
) -> Result<HttpResponse, ApiError> {
    let who = bearer.principal()?;
    Ok(HttpResponse::Ok().json(svc::get(&state, &path.0, &who, &path.1, &path.2, state.clock.now()).await?))
}

/// Files a deposit — deletes its content, keeps its id taken (members; workers granted writes).
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/inbox/deposits/{provider_id}/{deposit_id}", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn file(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id, String)>,
) -> Result<HttpResponse, ApiError> {
    let who = bearer.principal()?;
    svc::delete(&state, &path.0, &who, &path.1, &path.2, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
