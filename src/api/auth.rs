//! `/api/v1/auth/*` and `/api/v1/me`.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use vouchsafe_client::types::*;

use crate::auth::client_ip;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Principal;
use crate::service::auth as svc;
use crate::service::tokens;
use crate::state::AppState;

/// The signed-in user of a request: a valid access token whose session is still live.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// User id.
    pub user_id: String,
    /// Session id.
    pub session_id: String,
}

/// The bearer secret a request presented, verified as far as it can be without the database:
/// an access token's signature, issuer, audience and expiry (the request's [`Principal`],
/// resolved once), or an API token's shape (checked against its hash by [`Bearer::caller`]).
pub struct Bearer(Result<Presented, ApiError>);

enum Presented {
    Access(Principal),
    ApiToken(zeroize::Zeroizing<String>),
}

/// Who is calling a route an API token may use.
pub enum Caller {
    /// A person (session checked; the service checks their membership).
    Person(AuthUser),
    /// An API token, checked for the account and the route's scope.
    Token(tokens::Grant),
}

impl Caller {
    /// The caller as services take it.
    pub fn actor(&self) -> tokens::Actor<'_> {
        match self {
            Caller::Person(u) => tokens::Actor::Person(&u.user_id),
            Caller::Token(g) => tokens::Actor::Token(g),
        }
    }

    /// A request body as this caller may see it refused: a person who is not a member gets the
    /// account's 404 instead (see [`crate::api::Body::for_member`]); a token was checked for
    /// the account already.
    pub async fn body<T>(&self, state: &AppState, account_id: &str, body: crate::api::Body<T>) -> Result<T, ApiError> {
        match self {
            Caller::Person(u) => body.for_member(state, account_id, &u.user_id).await,
            Caller::Token(_) => body.into_inner(),
        }
    }

    /// Records a token's use in the account's audit trail (a person's use is not an event).
    pub async fn record(&self, state: &AppState, action: &str, count: u64) -> Result<(), ApiError> {
        match self {
            Caller::Person(_) => Ok(()),
            Caller::Token(g) => tokens::record(&state.db, g, action, count, state.clock.now()).await,
        }
    }
}

fn token_not_allowed() -> ApiError {
    ApiError::Forbidden {
        code: "auth.api_token_not_allowed",
        message: "an API token works only on the invitation and member routes its scopes name".into(),
    }
}

impl FromRequest for Bearer {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let missing =
            || ApiError::unauthorized("auth.missing_token", "an access token is required (Authorization: Bearer …)");
        let res = (|| {
            let state =
                req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::Internal("state missing".into()))?;
            let h = req.headers().get("authorization").ok_or_else(missing)?.to_str().map_err(|_| missing())?;
            let token = h.strip_prefix("Bearer ").ok_or_else(missing)?.trim();
            if tokens::is_api_token(token) {
                return Ok(Presented::ApiToken(zeroize::Zeroizing::new(token.to_owned())));
            }
            let c = state.tokens.verify(token, state.clock.now())?;
            Ok(Presented::Access(if c.typ == "worker" {
                Principal::Worker { worker_id: c.sub }
            } else {
                Principal::Member { user_id: c.sub, session_id: c.sid }
            }))
        })();
        ready(Ok(Bearer(res)))
    }
}

impl Bearer {
    /// The principal of a verified access token; whether its session (or grant) is still live
    /// is not checked yet — the item store checks it in the same statement as the data. An API
    /// token has none: 403.
    pub fn principal(self) -> Result<Principal, ApiError> {
        match self.0? {
            Presented::Access(p) => Ok(p),
            Presented::ApiToken(_) => Err(token_not_allowed()),
        }
    }

    /// [`Self::check`] for a person's own routes (sessions, password, keyring, recovery kit):
    /// a worker's token is refused there with 403, not looked up as if it were a user.
    pub async fn check_person(self, state: &AppState) -> Result<AuthUser, ApiError> {
        if matches!(&self.0, Ok(Presented::Access(Principal::Worker { .. }))) {
            return Err(ApiError::Forbidden {
                code: "auth.person_only",
                message: "a worker's token cannot use a person's routes".into(),
            });
        }
        self.check(state).await
    }

    /// Checks the session in the database: ending a session kills its access tokens at once.
    /// An API token is refused (403): this is not one of its routes.
    pub async fn check(self, state: &AppState) -> Result<AuthUser, ApiError> {
        match self.principal()? {
            Principal::Worker { worker_id } => {
                // A worker has no session: its token lives while the worker is granted.
                if !crate::service::workers::is_active(state, &worker_id).await? {
                    return Err(ApiError::unauthorized(
                        "auth.worker_revoked",
                        "this worker is not (or no longer) granted",
                    ));
                }
                Ok(AuthUser { user_id: worker_id, session_id: String::new() })
            }
            Principal::Member { user_id, session_id } => {
                if !svc::session_is_live(state, &user_id, &session_id, state.clock.now()).await? {
                    return Err(ApiError::unauthorized("auth.session_ended", "this session has ended"));
                }
                Ok(AuthUser { user_id, session_id })
            }
        }
    }

    /// For a route only API tokens with `scope` use (a provider's deposit): the token, checked
    /// ([`tokens::resolve`]); a person's or worker's token is refused (403).
    pub async fn grant(self, state: &AppState, account_id: &str, scope: Scope) -> Result<tokens::Grant, ApiError> {
        match self.0? {
            Presented::ApiToken(t) => tokens::resolve(state, &t, account_id, scope, state.clock.now()).await,
            Presented::Access(_) => Err(ApiError::Forbidden {
                code: "auth.api_token_required",
                message: format!("only an API token with the scope {} may do this", scope.as_str()),
            }),
        }
    }

    /// For a route both API tokens with `scope` and members or workers use: the token, checked,
    /// or the principal (whose rights the store checks with the data).
    pub async fn grant_or_principal(
        self,
        state: &AppState,
        account_id: &str,
        scope: Scope,
    ) -> Result<Result<tokens::Grant, Principal>, ApiError> {
        match self.0? {
            Presented::ApiToken(t) => Ok(Ok(tokens::resolve(state, &t, account_id, scope, state.clock.now()).await?)),
            Presented::Access(p) => Ok(Err(p)),
        }
    }

    /// For a route an API token may use with `scope` on `account_id`: the token, checked
    /// ([`tokens::resolve`]), or a person or worker as [`Self::check`] checks them.
    pub async fn caller(self, state: &AppState, account_id: &str, scope: Scope) -> Result<Caller, ApiError> {
        match self.0 {
            Ok(Presented::ApiToken(t)) => {
                Ok(Caller::Token(tokens::resolve(state, &t, account_id, scope, state.clock.now()).await?))
            }
            other => Ok(Caller::Person(Bearer(other).check(state).await?)),
        }
    }
}

/// Counts one request of `route` for the client's address (trusted-proxy aware); 429 over
/// `per_ip`. Decided in memory, reconciled across processes ([`crate::limits`]).
pub fn limit(state: &AppState, req: &HttpRequest, route: &str, per_ip: u32) -> Result<(), ApiError> {
    let ip = client_ip(req, &state.config.trusted_proxies).map_or_else(|| "unknown".to_owned(), |i| i.to_string());
    state.limiter.hit(&format!("{route}:ip:{ip}"), per_ip, state.config.rate_limits.window_secs, state.clock.now())
}

pub(crate) fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers().get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Salt and KDF parameters for an email (fake but stable for unknown emails).
#[utoipa::path(post, path = "/api/v1/auth/prelogin", request_body = PreloginRequest,
    responses((status = 200, body = PreloginResponse), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn prelogin(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<PreloginRequest>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, &req, "prelogin", state.config.rate_limits.prelogin_per_ip)?;
    Ok(HttpResponse::Ok().json(svc::prelogin(&state, &body.email).await?))
}

/// Creates a user from client-derived credentials and keys.
#[utoipa::path(post, path = "/api/v1/auth/register", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, &req, "register", state.config.rate_limits.register_per_ip)?;
    let out = svc::register(&state, body.into_inner(), state.clock.now()).await?;
    Ok(HttpResponse::Created().json(out))
}

/// Logs in with the auth key; returns tokens and the wrapped keyring — or, when the person has
/// a second factor, only a challenge for `/auth/login/second-factor`.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest,
    responses((status = 200, body = LoginAnswer), (status = 401, body = ErrorBody),
        (status = 403, description = "The user is disabled (said only after a correct auth key).", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, &req, "login", state.config.rate_limits.login_per_ip)?;
    let out = svc::login(&state, body.into_inner(), user_agent(&req), state.clock.now()).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(out))
}

/// Rotates the refresh token.
#[utoipa::path(post, path = "/api/v1/auth/refresh", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::api::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    limit(&state, &req, "refresh", state.config.rate_limits.refresh_per_ip)?;
    let out = svc::refresh(&state, body.refresh_token.expose(), state.clock.now()).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(out))
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn logout(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let user = bearer.check_person(&state).await?;
    svc::logout(&state, &user.session_id, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists live sessions.
#[utoipa::path(get, path = "/api/v1/auth/sessions", security(("bearer" = [])),
    responses((status = 200, body = [SessionInfo]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn sessions(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let user = bearer.check_person(&state).await?;
    Ok(HttpResponse::Ok().json(svc::sessions(&state, &user.user_id, &user.session_id, state.clock.now()).await?))
}

/// Ends one session (its access tokens stop working at once).
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", security(("bearer" = [])),
    params(("id" = String, Path, description = "session id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_session(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let user = bearer.check_person(&state).await?;
    svc::revoke_session(&state, &user.user_id, &path, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn me(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let user = bearer.check_person(&state).await?;
    Ok(HttpResponse::Ok().json(svc::me(&state, &user.user_id).await?))
}

/// Changes the password (re-wrapped keyring; optionally ends other sessions).
#[utoipa::path(post, path = "/api/v1/auth/password", security(("bearer" = [])), request_body = PasswordChangeRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn change_password(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: crate::api::Body<PasswordChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = bearer.check_person(&state).await?;
    svc::change_password(&state, &user.user_id, &user.session_id, body.into_inner()?, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The wrapped keyring and KDF parameters (to unlock the keys with the password).
#[utoipa::path(get, path = "/api/v1/me/keyring", security(("bearer" = [])),
    responses((status = 200, body = KeyringResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn my_keyring(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let user = bearer.check_person(&state).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(svc::my_keyring(&state, &user.user_id).await?))
}
