//! SCIM 2.0 over HTTP (RFC 7644) under `/scim/v2/{account_id}/`: discovery (`ServiceProviderConfig`,
//! `ResourceTypes`, `Schemas`) and `Users`, for an API token with the `scim` scope. Bodies and
//! answers are `application/scim+json` (plain JSON is accepted); errors are SCIM error
//! messages with `scimType`. The policy is [`crate::service::scim`].

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use serde_json::{Value, json};
use vouchsafe_client::types::{Id, Scope};

use crate::api::auth::{Bearer, Caller};
use crate::error::ApiError;
use crate::service::scim::{self as svc, EXT, USER};
use crate::service::tokens::Grant;
use crate::state::AppState;

/// SCIM's media type.
pub const MEDIA: &str = "application/scim+json";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// An [`ApiError`] answered as a SCIM error message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScimError(ApiError);

impl From<ApiError> for ScimError {
    fn from(e: ApiError) -> Self {
        ScimError(e)
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let scim_type = match self.0.code() {
            "scim.uniqueness" => Some("uniqueness"),
            "scim.invalid_filter" => Some("invalidFilter"),
            "scim.invalid_path" => Some("invalidPath"),
            "scim.invalid_value" => Some("invalidValue"),
            "scim.invalid_syntax" | "request.invalid_json" => Some("invalidSyntax"),
            "scim.mutability" => Some("mutability"),
            "scim.no_target" => Some("noTarget"),
            "request.too_large" => Some("tooMany"),
            _ => None,
        };
        // The message a JSON error would carry (internal details are logged there, not sent).
        let plain = self.0.error_response();
        let detail = match &self.0 {
            ApiError::Internal(_) => "internal error".to_owned(),
            ApiError::Unavailable(_) => "service unavailable".to_owned(),
            other => other.to_string(),
        };
        let mut body =
            json!({ "schemas": [ERROR], "status": self.status_code().as_u16().to_string(), "detail": detail });
        if let Some(t) = scim_type {
            body["scimType"] = json!(t);
        }
        let mut resp = HttpResponse::build(self.status_code());
        for (name, value) in plain.headers() {
            if name != actix_web::http::header::CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
                resp.insert_header((name.clone(), value.clone()));
            }
        }
        resp.content_type(MEDIA).body(body.to_string())
    }
}

type Res = Result<HttpResponse, ScimError>;

fn scim(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).content_type(MEDIA).insert_header(("Cache-Control", "no-store")).body(body.to_string())
}

fn with_etag(status: StatusCode, (body, etag): (Value, String)) -> HttpResponse {
    let mut r = scim(status, &body);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&etag) {
        r.headers_mut().insert(actix_web::http::header::ETAG, v);
    }
    r
}

/// The account of the path, if it is an id at all (a SCIM 404 otherwise).
fn account(raw: &str) -> Result<Id, ScimError> {
    Id::parse(raw).map_err(|_| ScimError(ApiError::not_found("account.not_found", "no such account")))
}

/// The caller: an API token with the `scim` scope on this account; nobody else uses SCIM.
async fn grant(state: &AppState, bearer: Bearer, account_id: &str) -> Result<Grant, ScimError> {
    match bearer.caller(state, account_id, Scope::Scim).await? {
        Caller::Token(g) => Ok(g),
        Caller::Person(_) => Err(ScimError(ApiError::Forbidden {
            code: "scim.token_only",
            message: "SCIM takes an API token with the scim scope (vouchsafe token create --scope scim)".into(),
        })),
    }
}

/// A request body as JSON (read only once the caller was checked); larger than the server's
/// limit (`max_body_bytes`) → 413.
fn body(bytes: &Result<web::Bytes, actix_web::Error>) -> Result<Value, ScimError> {
    let bytes = bytes.as_ref().map_err(|_| ScimError(ApiError::PayloadTooLarge))?;
    if crate::api::has_nul_escape(bytes) {
        return Err(ScimError(crate::api::nul_refused("scim.invalid_value")));
    }
    serde_json::from_slice(bytes)
        .map_err(|_| ScimError(ApiError::bad("scim.invalid_syntax", "the body is not a JSON object")))
}

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(state: web::Data<AppState>, bearer: Bearer, path: web::Path<String>) -> Res {
    let acct = account(&path)?;
    grant(&state, bearer, &acct).await?;
    let base = svc::base(&state, &acct);
    Ok(scim(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": svc::MAX_RESULTS },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "API token",
                "description": "An account's API token with the scim scope, as Authorization: Bearer vst_…",
                "primary": true
            }],
            "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") }
        }),
    ))
}

fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A person the account invites; provisioning never gives key access (an admin confirms with a code). Groups are not offered.",
        "schema": USER,
        "schemaExtensions": [{ "schema": EXT, "required": false }],
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") }
    })
}

fn list_of(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [svc::LIST],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources
    })
}

/// `GET /ResourceTypes`.
pub async fn resource_types(state: web::Data<AppState>, bearer: Bearer, path: web::Path<String>) -> Res {
    let acct = account(&path)?;
    grant(&state, bearer, &acct).await?;
    Ok(scim(StatusCode::OK, &list_of(vec![user_resource_type(&svc::base(&state, &acct))])))
}

/// `GET /ResourceTypes/{name}`.
pub async fn resource_type(state: web::Data<AppState>, bearer: Bearer, path: web::Path<(String, String)>) -> Res {
    let acct = account(&path.0)?;
    grant(&state, bearer, &acct).await?;
    if path.1 != "User" {
        return Err(ScimError(ApiError::not_found("scim.not_found", "the only resource type is User")));
    }
    Ok(scim(StatusCode::OK, &user_resource_type(&svc::base(&state, &acct))))
}

fn attr(name: &str, kind: &str, description: &str, mutability: &str, extra: Value) -> Value {
    let mut a = json!({
        "name": name, "type": kind, "multiValued": false, "description": description, "required": false,
        "caseExact": false, "mutability": mutability, "returned": "default", "uniqueness": "none"
    });
    if let (Some(a), Value::Object(more)) = (a.as_object_mut(), extra) {
        a.extend(more);
    }
    a
}

fn schemas(base: &str) -> Vec<Value> {
    let rw = "readWrite";
    let sub = |n: &str, d: &str| attr(n, "string", d, rw, json!({}));
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER,
        "name": "User",
        "description": "A person of the account (the e-mail they are invited with is their userName).",
        "attributes": [
            attr("userName", "string", "The person's e-mail address (their Vouchsafe sign-in).", rw,
                json!({ "required": true, "uniqueness": "server" })),
            attr("name", "complex", "The person's name.", rw, json!({ "subAttributes": [
                sub("formatted", "Full name."), sub("familyName", "Family name."), sub("givenName", "Given name."),
                sub("middleName", "Middle name."), sub("honorificPrefix", "Prefix."), sub("honorificSuffix", "Suffix.")
            ]})),
            attr("displayName", "string", "Name shown.", rw, json!({})),
            attr("nickName", "string", "Nickname.", rw, json!({})),
            attr("title", "string", "Title.", rw, json!({})),
            attr("userType", "string", "Kind of user.", rw, json!({})),
            attr("preferredLanguage", "string", "Preferred language.", rw, json!({})),
            attr("locale", "string", "Locale.", rw, json!({})),
            attr("timezone", "string", "Time zone.", rw, json!({})),
            attr("active", "boolean", "false deprovisions the person at once (no more reads).", rw, json!({})),
            attr("emails", "complex", "E-mail addresses.", rw, json!({ "multiValued": true, "subAttributes": [
                sub("value", "Address."), sub("display", "Shown."), sub("type", "work, home, other."),
                attr("primary", "boolean", "The primary one.", rw, json!({}))
            ]})),
            attr("phoneNumbers", "complex", "Phone numbers.", rw, json!({ "multiValued": true, "subAttributes": [
                sub("value", "Number."), sub("display", "Shown."), sub("type", "work, mobile, other."),
                attr("primary", "boolean", "The primary one.", rw, json!({}))
            ]}))
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{USER}") }
    });
    let ext = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": EXT,
        "name": "VouchsafeUser",
        "description": "Where the person stands in the account. Provisioning never gives key access.",
        "attributes": [
            attr("status", "string", "invited, accepted, active, awaiting_vouch, deprovisioned, invitation_expired, not_invited or inactive.", "readOnly", json!({})),
            attr("keyAccess", "boolean", "Whether the person holds the account's key (only after an admin confirmed them with a code).", "readOnly", json!({})),
            attr("note", "string", "The status in words.", "readOnly", json!({}))
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{EXT}") }
    });
    vec![user, ext]
}

/// `GET /Schemas`.
pub async fn all_schemas(state: web::Data<AppState>, bearer: Bearer, path: web::Path<String>) -> Res {
    let acct = account(&path)?;
    grant(&state, bearer, &acct).await?;
    Ok(scim(StatusCode::OK, &list_of(schemas(&svc::base(&state, &acct)))))
}

/// `GET /Schemas/{urn}`.
pub async fn one_schema(state: web::Data<AppState>, bearer: Bearer, path: web::Path<(String, String)>) -> Res {
    let acct = account(&path.0)?;
    grant(&state, bearer, &acct).await?;
    schemas(&svc::base(&state, &acct))
        .into_iter()
        .find(|s| s["id"] == path.1.as_str())
        .map(|s| scim(StatusCode::OK, &s))
        .ok_or_else(|| ScimError(ApiError::not_found("scim.not_found", "no such schema")))
}

/// `GET /Users` query.
#[derive(Deserialize)]
pub struct ListQuery {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<i64>,
    count: Option<i64>,
}

/// `GET /Users`.
pub async fn list_users(state: web::Data<AppState>, bearer: Bearer, path: web::Path<String>, req: HttpRequest) -> Res {
    let acct = account(&path)?;
    let g = grant(&state, bearer, &acct).await?;
    let q = web::Query::<ListQuery>::from_query(req.query_string())
        .map_err(|_| ScimError(ApiError::bad("scim.invalid_value", "startIndex and count are integers")))?;
    let now = state.clock.now();
    let list = svc::list(&state, &g, q.filter.as_deref(), q.start_index, q.count, now).await?;
    crate::service::tokens::record(&state.db, &g, "scim.users.list", 1, now).await?;
    Ok(scim(StatusCode::OK, &list))
}

/// `POST /Users`.
pub async fn create_user(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> Res {
    let acct = account(&path)?;
    let g = grant(&state, bearer, &acct).await?;
    let now = state.clock.now();
    let out = svc::create(&state, &g, &body(&bytes)?, now).await?;
    crate::service::tokens::record(&state.db, &g, "scim.users.create", 1, now).await?;
    let mut r = with_etag(StatusCode::CREATED, out.clone());
    if let Some(loc) = out.0["meta"]["location"].as_str()
        && let Ok(v) = actix_web::http::header::HeaderValue::from_str(loc)
    {
        r.headers_mut().insert(actix_web::http::header::LOCATION, v);
    }
    Ok(r)
}

/// `GET /Users/{id}`.
pub async fn get_user(state: web::Data<AppState>, bearer: Bearer, path: web::Path<(String, String)>) -> Res {
    let acct = account(&path.0)?;
    let g = grant(&state, bearer, &acct).await?;
    Ok(with_etag(StatusCode::OK, svc::get(&state, &g, &path.1, state.clock.now()).await?))
}

/// The request's `If-Match`, if any.
fn if_match(req: &HttpRequest) -> Option<&str> {
    req.headers().get(actix_web::http::header::IF_MATCH).and_then(|v| v.to_str().ok())
}

/// `PUT /Users/{id}`.
pub async fn replace_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    bearer: Bearer,
    path: web::Path<(String, String)>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> Res {
    write_user(state, req, bearer, path, bytes, svc::Write::Replace).await
}

/// `PATCH /Users/{id}`.
pub async fn patch_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    bearer: Bearer,
    path: web::Path<(String, String)>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> Res {
    write_user(state, req, bearer, path, bytes, svc::Write::Patch).await
}

async fn write_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    bearer: Bearer,
    path: web::Path<(String, String)>,
    bytes: Result<web::Bytes, actix_web::Error>,
    kind: svc::Write,
) -> Res {
    let acct = account(&path.0)?;
    let g = grant(&state, bearer, &acct).await?;
    let now = state.clock.now();
    let out = svc::write(&state, &g, &path.1, kind, &body(&bytes)?, if_match(&req), now).await?;
    crate::service::tokens::record(&state.db, &g, kind.action(), 1, now).await?;
    Ok(with_etag(StatusCode::OK, out))
}

/// `DELETE /Users/{id}`.
pub async fn delete_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    bearer: Bearer,
    path: web::Path<(String, String)>,
) -> Res {
    let acct = account(&path.0)?;
    let g = grant(&state, bearer, &acct).await?;
    let now = state.clock.now();
    svc::delete(&state, &g, &path.1, if_match(&req), now).await?;
    crate::service::tokens::record(&state.db, &g, "scim.users.delete", 1, now).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Anything else under `/scim/v2/…` (Groups, Bulk, /Me): a SCIM 404.
pub async fn unsupported() -> Res {
    Err(ScimError(ApiError::not_found("scim.not_found", "not offered here (Users only; no Groups, Bulk or /Me)")))
}

/// A path of the SCIM service: its routes, and a SCIM 405 (with `Allow`) for other methods.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ScimError(ApiError::MethodNotAllowed { allow }))
    }))
}

/// Registers the SCIM service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2/{account_id}")
            .service(resource("/ServiceProviderConfig", "GET").route(web::get().to(service_provider_config)))
            .service(resource("/ResourceTypes", "GET").route(web::get().to(resource_types)))
            .service(resource("/ResourceTypes/{name}", "GET").route(web::get().to(resource_type)))
            .service(resource("/Schemas", "GET").route(web::get().to(all_schemas)))
            .service(resource("/Schemas/{urn}", "GET").route(web::get().to(one_schema)))
            .service(
                resource("/Users", "GET, POST").route(web::get().to(list_users)).route(web::post().to(create_user)),
            )
            .service(
                resource("/Users/{id}", "GET, PUT, PATCH, DELETE")
                    .route(web::get().to(get_user))
                    .route(web::put().to(replace_user))
                    .route(web::patch().to(patch_user))
                    .route(web::delete().to(delete_user)),
            )
            .default_service(web::to(unsupported)),
    );
}
