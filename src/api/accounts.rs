//! `/api/v1/accounts/*` and `/api/v1/invitations/accept`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use vouchsafe_client::types::*;

use crate::api::Body;
use crate::api::auth::Bearer;
use crate::error::{ApiError, ErrorBody};
use crate::service::{accounts as svc, items, tokens};
use crate::state::AppState;

/// `?after=&limit=` of the log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Return entries with `seq` greater than this.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub after: Option<u64>,
    /// At most this many (default 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

/// A query value outside its documented range is refused, never silently clamped.
fn in_range<T: PartialOrd + std::fmt::Display>(name: &str, v: T, min: T, max: T) -> Result<T, ApiError> {
    if v < min || v > max {
        return Err(ApiError::bad("request.invalid_query", format!("{name} must be {min} to {max}")));
    }
    Ok(v)
}

impl LogQuery {
    /// `(after, limit)`, checked.
    fn checked(&self) -> Result<(Option<u64>, u64), ApiError> {
        let after = self.after.map(|a| in_range("after", a, 0, i64::MAX as u64)).transpose()?;
        Ok((after, in_range("limit", self.limit.unwrap_or(1000), 1, 1000)?))
    }
}

/// `?cursor=&limit=&below_version=` of items.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    /// The `next_cursor` of the previous page (an item id).
    #[param(value_type = Option<Id>)]
    pub cursor: Option<String>,
    /// Page size (default 100, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// Only items under a key version lower than this.
    #[param(minimum = 1, maximum = 2147483647)]
    pub below_version: Option<u32>,
}

impl ItemQuery {
    /// `(limit, below_version)`, checked; the cursor must be an id, as every `next_cursor` is.
    fn checked(&self) -> Result<(u64, Option<u32>), ApiError> {
        if let Some(c) = &self.cursor
            && Id::parse(c.as_str()).is_err()
        {
            return Err(ApiError::bad("item.bad_cursor", format!("cursor: {}", Id::RULE)));
        }
        let below = self.below_version.map(|v| in_range("below_version", v, 1, i32::MAX as u32)).transpose()?;
        Ok((in_range("limit", self.limit.unwrap_or(100), 1, 500)?, below))
    }
}

/// Creates an account.
#[utoipa::path(post, path = "/api/v1/accounts", security(("bearer" = [])), request_body = CreateAccountRequest,
    responses((status = 201, body = AccountInfo), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<CreateAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    Ok(HttpResponse::Created().json(svc::create(&state, &u.user_id, body.into_inner()?, state.clock.now()).await?))
}

/// The caller's accounts.
#[utoipa::path(get, path = "/api/v1/accounts", security(("bearer" = [])), responses((status = 200, body = [AccountInfo])))]
pub async fn list(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    Ok(HttpResponse::Ok().json(svc::list(&state, &u.user_id).await?))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", security(("bearer" = [])),
    responses((status = 200, body = AccountInfo), (status = 404, body = ErrorBody)))]
pub async fn show(state: web::Data<AppState>, bearer: Bearer, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    Ok(HttpResponse::Ok().json(svc::info(&state, &path, &u.user_id).await?))
}

/// Renames (admins).
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", security(("bearer" = [])), request_body = RenameAccountRequest,
    responses((status = 200, body = AccountInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rename(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: Body<RenameAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    let body = body.for_member(&state, &path, &u.user_id).await?;
    Ok(HttpResponse::Ok().json(svc::rename(&state, &path, &u.user_id, &body.name).await?))
}

/// Reads the team log.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/log", security(("bearer" = [])), params(LogQuery),
    responses((status = 200, body = LogPage), (status = 404, body = ErrorBody)))]
pub async fn read_log(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    q: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    let (after, limit) = match q.checked() {
        Ok(v) => v,
        Err(e) => return Err(crate::api::for_member(&state, &path, &u.user_id, e).await),
    };
    Ok(HttpResponse::Ok().json(svc::read_log(&state, &path, &u.user_id, after, limit).await?))
}

/// Appends signed entries (checked before storing; 409 if the log moved on).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/log", security(("bearer" = [])), request_body = AppendRequest,
    responses((status = 200, body = AppendResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn append(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: Body<AppendRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    let body = body.for_member(&state, &path, &u.user_id).await?;
    Ok(HttpResponse::Ok().json(svc::append(&state, &path, &u.user_id, body, state.clock.now()).await?))
}

/// Every member's latest signed checkpoint of the log, and when each was last active.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/checkpoints", security(("bearer" = [])),
    responses((status = 200, body = [CheckpointWire]), (status = 404, body = ErrorBody)))]
pub async fn checkpoints(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    Ok(HttpResponse::Ok().json(crate::service::checkpoints::list(&state, &path, &u.user_id).await?))
}

/// Stores the caller's signed checkpoint (the head their client verified) as their latest.
#[utoipa::path(put, path = "/api/v1/accounts/{id}/checkpoints", security(("bearer" = [])), request_body = PutCheckpointRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn put_checkpoint(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: Body<PutCheckpointRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    let body = body.for_member(&state, &path, &u.user_id).await?;
    crate::service::checkpoints::put(&state, &path, &u.user_id, &body, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Master keys sealed to the caller.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/keys", security(("bearer" = [])),
    responses((status = 200, body = [SealedKeyWire]), (status = 403, description = "Membership not active, a read-only worker writing, or the team requires a second factor the member has not set up.", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn keys(state: web::Data<AppState>, bearer: Bearer, path: web::Path<Id>) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    Ok(HttpResponse::Ok().json(svc::my_keys(&state, &path, &u.user_id).await?))
}

/// Members and accepted invitees.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/members", security(("bearer" = [])),
    responses((status = 200, body = [MemberInfo]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn members(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let c = bearer.caller(&state, &path, Scope::MembersRead).await?;
    let members = svc::members(&state, &path, c.actor()).await?;
    c.record(&state, "members.list", members.len() as u64).await?;
    Ok(HttpResponse::Ok().json(members))
}

/// Invites an email (admins). Inviting an address again replaces its open invitation (the
/// earlier link stops working); accepting closes any other open one.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/invitations", security(("bearer" = [])), request_body = InviteRequest,
    responses((status = 201, body = InvitationInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn invite(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: Body<InviteRequest>,
) -> Result<HttpResponse, ApiError> {
    let c = bearer.caller(&state, &path, Scope::InvitationsWrite).await?;
    let body = c.body(&state, &path, body).await?;
    let invitation = svc::invite(&state, &path, c.actor(), body, state.clock.now()).await?;
    c.record(&state, "invitations.create", 1).await?;
    Ok(HttpResponse::Created().json(invitation))
}

/// Invitations (admins).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/invitations", security(("bearer" = [])),
    responses((status = 200, body = [InvitationInfo]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn invitations(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let c = bearer.caller(&state, &path, Scope::InvitationsWrite).await?;
    let invitations = svc::invitations(&state, &path, c.actor(), state.clock.now()).await?;
    c.record(&state, "invitations.list", invitations.len() as u64).await?;
    Ok(HttpResponse::Ok().json(invitations))
}

/// Revokes a pending invitation (admins).
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/invitations/{invitation_id}", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, ApiError> {
    let c = bearer.caller(&state, &path.0, Scope::InvitationsWrite).await?;
    svc::revoke_invitation(&state, &path.0, c.actor(), &path.1).await?;
    c.record(&state, "invitations.revoke", 1).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deprovisions a member (admins; API tokens with `members:deprovision`): no more reads at
/// once, no sealed key left, the account marked for rotation, the other admins e-mailed. The
/// log still names them until an admin's client removes them and rotates the key.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/members/{user_id}", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn deprovision(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, ApiError> {
    let c = bearer.caller(&state, &path.0, Scope::MembersDeprovision).await?;
    svc::deprovision(&state, &path.0, c.actor(), &path.1, state.clock.now()).await?;
    c.record(&state, "members.deprovision", 1).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Creates an API token (admins, in a person's session); the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/tokens", security(("bearer" = [])), request_body = CreateApiTokenRequest,
    responses((status = 201, body = CreatedApiToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_token(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: Body<CreateApiTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    let body = body.for_member(&state, &path, &u.user_id).await?;
    let created = tokens::create(&state, &path, &u.user_id, body, state.clock.now()).await?;
    Ok(HttpResponse::Created().insert_header(("Cache-Control", "no-store")).json(created))
}

/// The account's API tokens (admins), revoked ones included; never a secret.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/tokens", security(("bearer" = [])),
    responses((status = 200, body = [ApiTokenInfo]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_tokens(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    Ok(HttpResponse::Ok().json(tokens::list(&state, &path, &u.user_id).await?))
}

/// Revokes an API token (admins): it stops working at once.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/tokens/{token_id}", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check_person(&state).await?;
    tokens::revoke(&state, &path.0, &u.user_id, &path.1, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accepts an invitation with the token from the email link's fragment.
#[utoipa::path(post, path = "/api/v1/invitations/accept", security(("bearer" = [])), request_body = AcceptInvitationRequest,
    responses((status = 200, body = AcceptInvitationResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn accept(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<AcceptInvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let u = bearer.check(&state).await?;
    Ok(HttpResponse::Ok()
        .json(svc::accept(&state, &u.user_id, body.into_inner()?.token.expose(), state.clock.now()).await?))
}

/// Lists items.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/items", security(("bearer" = [])), params(ItemQuery),
    responses((status = 200, body = ItemPage), (status = 403, description = "Membership not active, a read-only worker writing, or the team requires a second factor the member has not set up.", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_items(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    q: web::Query<ItemQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let (limit, below) = match q.checked() {
        Ok(v) => v,
        // The caller's rights before the query's: a non-member learns nothing from it.
        Err(e) => {
            let u = bearer.check(&state).await?;
            return Err(crate::api::for_member(&state, &path, &u.user_id, e).await);
        }
    };
    let who = bearer.principal()?;
    Ok(json_body(items::list(&state, &path, &who, q.cursor.as_deref(), limit, below, now).await?))
}

/// A response whose JSON body was written already.
fn json_body(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok().content_type(actix_web::http::header::ContentType::json()).body(body)
}

/// Reads an item.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/items/{item_id}", security(("bearer" = [])),
    responses((status = 200, body = ItemWire), (status = 403, description = "Membership not active, a read-only worker writing, or the team requires a second factor the member has not set up.", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_item(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, ApiError> {
    let who = bearer.principal()?;
    Ok(json_body(items::get(&state, &path.0, &who, &path.1, state.clock.now()).await?))
}

/// An item write whose body was refused: the token first (401), then the membership (404 for
/// anyone else), and only a member sees the body error.
async fn refuse_body(state: &AppState, account_id: &str, bearer: Bearer, body_error: ApiError) -> ApiError {
    let u = match bearer.check(state).await {
        Ok(u) => u,
        Err(e) => return e,
    };
    crate::api::for_member(state, account_id, &u.user_id, body_error).await
}

/// Creates or updates an item (stale revision, or fields under a retired key version → 409).
#[utoipa::path(put, path = "/api/v1/accounts/{id}/items/{item_id}", security(("bearer" = [])), request_body = PutItemRequest,
    responses((status = 200, body = ItemWire), (status = 400, body = ErrorBody), (status = 403, description = "Membership not active, a read-only worker writing, or the team requires a second factor the member has not set up.", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn put_item(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id)>,
    body: Body<PutItemRequest>,
) -> Result<HttpResponse, ApiError> {
    // Field checks (no database work), then rights, key version and write in one statement of
    // the store; a body refused is shown only to a member, after the token.
    let prepared = match body.into_inner().and_then(|b| items::prepare_put(&path.1, b)) {
        Ok(p) => p,
        Err(e) => return Err(refuse_body(&state, &path.0, bearer, e).await),
    };
    let who = bearer.principal()?;
    Ok(json_body(items::put(&state, &path.0, &who, prepared, state.clock.now()).await?))
}

/// Deletes an item.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/items/{item_id}", security(("bearer" = [])),
    responses((status = 204), (status = 403, description = "Membership not active, a read-only worker writing, or the team requires a second factor the member has not set up.", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_item(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, ApiError> {
    let who = bearer.principal()?;
    items::delete(&state, &path.0, &who, &path.1, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Updates up to 500 items in one transaction (compare-and-set on each revision); every item
/// must be under the account's current key version (a retired one → 409).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/items/batch", security(("bearer" = [])), request_body = BatchUpdateRequest,
    responses((status = 200, body = BatchUpdateResponse), (status = 400, body = ErrorBody), (status = 403, description = "Membership not active, a read-only worker writing, or the team requires a second factor the member has not set up.", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_items(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
    body: Body<BatchUpdateRequest>,
) -> Result<HttpResponse, ApiError> {
    // As for single writes.
    let prepared = match body.into_inner().and_then(items::prepare_batch) {
        Ok(p) => p,
        Err(e) => return Err(refuse_body(&state, &path, bearer, e).await),
    };
    let who = bearer.principal()?;
    Ok(HttpResponse::Ok().json(items::update_batch(&state, &path, &who, prepared, state.clock.now()).await?))
}
