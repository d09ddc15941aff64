//! The API's one error type: stable codes, one mapping to HTTP status, JSON bodies
//! `{"error":{"code","message"}}`. Internal details go to the log, never to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// An API error with a stable code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a value is invalid.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: missing, invalid or expired credentials.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: authenticated but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 409: conflicts with the current state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 405: the path exists, the method does not; `allow` lists the methods that do.
    #[error("method not allowed here; allowed: {allow}")]
    MethodNotAllowed { allow: &'static str },
    /// 412: an `If-Match` that names another version than the current one.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429, with the seconds to wait.
    #[error("too many requests")]
    RateLimited { retry_after: u64 },
    /// 500: details are logged, not returned.
    #[error("internal error")]
    Internal(String),
    /// 503.
    #[error("service unavailable")]
    Unavailable(String),
}

impl ApiError {
    /// 400 helper.
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }
    /// 401 helper.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized { code, message: message.into() }
    }
    /// 404 helper.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound { code, message: message.into() }
    }
    /// 409 helper.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. } => code,
            Self::MethodNotAllowed { .. } => "route.method_not_allowed",
            Self::PreconditionFailed(_) => "request.precondition_failed",
            Self::PayloadTooLarge => "request.too_large",
            Self::UnsupportedMediaType(_) => "request.unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

/// JSON error body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `auth.invalid_credentials`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "internal error".to_owned()
            }
            Self::Unavailable(detail) => {
                tracing::warn!(error = %detail, "unavailable");
                "service unavailable".to_owned()
            }
            other => other.to_string(),
        };
        let mut resp = HttpResponse::build(self.status_code());
        if let Self::RateLimited { retry_after } = self {
            resp.insert_header(("Retry-After", retry_after.to_string()));
        }
        if let Self::MethodNotAllowed { allow } = self {
            resp.insert_header(("Allow", *allow));
        }
        resp.insert_header(("Cache-Control", "no-store"));
        resp.json(ErrorBody { error: ErrorDetail { code: self.code().to_owned(), message } })
    }
}

/// A body that is not the JSON a route takes.
pub fn deserialize_error(e: &serde_json::Error) -> ApiError {
    let text = e.to_string();
    // An id member that breaks the rule is refused with the code a bad path id gets.
    if text.starts_with(vouchsafe_client::types::Id::RULE) {
        return ApiError::bad("request.invalid_id", sanitize(&text));
    }
    ApiError::bad("request.invalid_json", format!("invalid request body: {}", sanitize(&text)))
}

/// Maps path extractor failures: every path parameter is an [`Id`](vouchsafe_client::types::Id),
/// so a bad one gets the one code of a bad id.
pub fn path_error(_err: actix_web::error::PathError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::bad("request.invalid_id", vouchsafe_client::types::Id::RULE).into()
}

/// Maps query extractor failures.
pub fn query_error(_err: actix_web::error::QueryPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::bad("request.invalid_query", "invalid query parameters").into()
}

/// serde messages name fields and types, not values, but cap their length anyway.
fn sanitize(s: &str) -> String {
    s.chars().take(200).collect()
}
