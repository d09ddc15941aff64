//! The OpenAPI document (`/api/openapi.json`), generated from the handlers and wire types, and
//! completed with the answers every operation of a kind can give: 401 wherever a token is
//! needed, 400 wherever a path, query or body is read, 413 and 415 wherever a body is. CI runs
//! schemathesis against it (`tests/api/schemathesis.sh`): the server must answer only what is
//! written here.

use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

use super::{accounts, auth, health, inbox, mfa, proposals, recovery, reset, workers};

/// The OpenAPI document, generated from the handlers and wire types.
#[derive(OpenApi)]
#[openapi(
    info(title = "Vouchsafe API", description = "End-to-end-encrypted team vault with social recovery. All binary values are unpadded base64url."),
    paths(
        auth::prelogin, auth::register, auth::login, auth::refresh, auth::logout, auth::sessions,
        auth::revoke_session, auth::me, auth::my_keyring, auth::change_password, health::healthz, health::readyz,
        accounts::create, accounts::list, accounts::show, accounts::rename, accounts::read_log, accounts::append,
        accounts::keys, accounts::checkpoints, accounts::put_checkpoint, accounts::members, accounts::invite, accounts::invitations, accounts::revoke_invitation,
        accounts::accept, accounts::list_items, reset::request, reset::begin, reset::complete, reset::cancel,
        recovery::put_kit, recovery::kit, recovery::request, recovery::begin, recovery::shares, recovery::complete,
        recovery::guardian_requests, recovery::release, workers::register, workers::list, workers::audit,
        workers::challenge, workers::token, accounts::get_item, accounts::put_item, accounts::delete_item, accounts::update_items,
        accounts::deprovision, accounts::create_token, accounts::list_tokens, accounts::revoke_token,
        proposals::create, proposals::list, proposals::show, proposals::withdraw, proposals::cosign,
        mfa::login, mfa::list, mfa::enrol_totp, mfa::confirm, mfa::rename, mfa::remove, mfa::recovery_codes,
        mfa::enrol_webauthn, mfa::webauthn_check, mfa::login_webauthn_options, mfa::passkey_options, mfa::passkey_login,
        inbox::key, inbox::deposit, inbox::deposit_plaintext, inbox::view, inbox::list, inbox::get, inbox::file
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail, vouchsafe_client::schema::Id, vouchsafe_client::schema::DepositId, vouchsafe_client::schema::DepositCursor)),
    modifiers(&BearerAuth, &CommonResponses)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "An access token (a JWT from login, refresh or a worker's challenge), or on the invitation, member, SCIM \
                             and inbox routes an account's API token (`vst_…`) with the scope the route names.",
                        ))
                        .build(),
                ),
            );
        }
    }
}

/// Adds the statuses that follow from an operation's shape (see the module docs).
struct CommonResponses;

impl CommonResponses {
    fn complete(op: &mut Operation) {
        let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
        let has_body = op.request_body.is_some();
        let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
        // Every path parameter is an id (account, item, invitation, session).
        for p in op.parameters.iter_mut().flatten() {
            if let RefOr::T(p) = p
                && p.parameter_in == ParameterIn::Path
            {
                let schema = if p.name == "deposit_id" { "DepositId" } else { "Id" };
                p.schema = Some(RefOr::Ref(Ref::from_schema_name(schema)));
            }
        }
        let mut add = |status: &str, description: &str| {
            op.responses.responses.entry(status.to_owned()).or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
                        .build(),
                )
            });
        };
        if secured {
            add("401", "No access token, or one that is invalid, expired or of an ended session.");
        }
        if has_body || has_params {
            add("400", "A path parameter, query value or body member is invalid.");
        }
        if has_body {
            add("413", "The body is larger than the server accepts.");
            add("415", "The body is not `application/json`.");
        }
    }
}

impl CommonResponses {
    /// Declares every `{name}` of the path that the operation does not (an `Id` path
    /// parameter: the handlers read them as `web::Path<Id>`, which utoipa cannot see through).
    fn declare_path_ids(path: &str, op: &mut Operation) {
        use utoipa::openapi::Required;
        use utoipa::openapi::path::ParameterBuilder;
        for name in path.split('{').skip(1).filter_map(|s| s.split_once('}').map(|(n, _)| n)) {
            let params = op.parameters.get_or_insert_with(Vec::new);
            let declared = params
                .iter()
                .any(|p| matches!(p, RefOr::T(p) if p.name == name && p.parameter_in == ParameterIn::Path));
            if !declared {
                params.push(RefOr::T(
                    ParameterBuilder::new().name(name).parameter_in(ParameterIn::Path).required(Required::True).build(),
                ));
            }
        }
    }
}

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                Self::declare_path_ids(path, op);
                Self::complete(op);
            }
        }
    }
}
