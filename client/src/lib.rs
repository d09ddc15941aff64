//! `vouchsafe-client`: a typed, blocking REST client for the Vouchsafe API v1, and the
//! multi-step flows (register, login, password change) built on `vouchsafe-crypto`.
//! Used by the CLI, the integration tests and backend workers.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod flows;
pub mod inbox;
pub mod recovery;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod types;
pub mod vault;
pub mod worker;

mod transport;
pub use transport::unix_now;

use serde::Serialize;
use serde::de::DeserializeOwned;
use types::*;

impl From<InvalidId> for ClientError {
    fn from(e: InvalidId) -> Self {
        ClientError::Protocol(e.to_string())
    }
}

/// What can go wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable error code.
        code: String,
        /// Message.
        message: String,
        /// `Retry-After` seconds, for 429.
        retry_after: Option<u64>,
    },
    /// Network or HTTP failure.
    #[error("cannot reach the server: {0}")]
    Transport(String),
    /// The answer was not what the API promises.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// A cryptographic check failed (wrong password, tampered data, weak parameters…).
    #[error(transparent)]
    Crypto(#[from] vouchsafe_crypto::Error),
    /// Not signed in.
    #[error("not signed in")]
    NotSignedIn,
    /// The password was right, and the account has a second factor: sign in again with it.
    #[error("this sign-in needs a second factor ({}): the authenticator app's code or a recovery code", .methods.join(" or "))]
    SecondFactorRequired {
        /// What the server takes: `totp`, `recovery_code`.
        methods: Vec<String>,
    },
}

impl ClientError {
    /// The API error code, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
    /// The HTTP status, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A raw HTTP answer (for callers that need status and body as they are).
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status.
    pub status: u16,
    /// Body text.
    pub body: String,
    /// `Retry-After`, if present.
    pub retry_after: Option<String>,
}

/// A connection to one server, optionally signed in (holding an access token).
#[derive(Clone)]
pub struct Client {
    base: String,
    #[cfg(not(target_arch = "wasm32"))]
    agent: ureq::Agent,
    access_token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).field("signed_in", &self.access_token.is_some()).finish()
    }
}

impl Client {
    /// A client for `base_url` (e.g. `https://vault.example.com`).
    pub fn new(base_url: &str) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            #[cfg(not(target_arch = "wasm32"))]
            agent: transport::agent(),
            access_token: None,
        }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Uses this access token for authenticated calls.
    pub fn set_access_token(&mut self, token: Option<String>) {
        self.access_token = token;
    }

    /// The current access token.
    pub fn access_token(&self) -> Option<&str> {
        self.access_token.as_deref()
    }

    /// Sends a request with an optional raw body and extra headers; returns status and body as is.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
        headers: &[(&str, &str)],
    ) -> Result<RawResponse, ClientError> {
        let url = format!("{}{}", self.base, path);
        let mut all: Vec<(&str, String)> = headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        if let Some(t) = &self.access_token
            && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        {
            all.push(("Authorization", format!("Bearer {t}")));
        }
        if let Some((content_type, _)) = body {
            all.push(("Content-Type", content_type.to_owned()));
        }
        transport::send(self, method, &url, &all, body.map(|(_, b)| b))
    }

    fn call<R: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<R, ClientError> {
        let text = match body {
            Some(b) => Some(serde_json::to_string(b).map_err(|e| ClientError::Protocol(e.to_string()))?),
            None => None,
        };
        let resp = self.raw(method, path, text.as_deref().map(|t| ("application/json", t)), &[])?;
        if (200..300).contains(&resp.status) {
            let body = if resp.body.is_empty() { "null" } else { &resp.body };
            return serde_json::from_str(body).map_err(|e| ClientError::Protocol(format!("{path}: {e}")));
        }
        match serde_json::from_str::<ErrorBody>(&resp.body) {
            Ok(e) => Err(ClientError::Api {
                status: resp.status,
                code: e.error.code,
                message: e.error.message,
                retry_after: resp.retry_after.and_then(|r| r.parse().ok()),
            }),
            Err(_) => Err(ClientError::Protocol(format!("{path}: HTTP {} without an error body", resp.status))),
        }
    }

    fn authed(&self) -> Result<(), ClientError> {
        if self.access_token.is_some() { Ok(()) } else { Err(ClientError::NotSignedIn) }
    }

    /// `POST /api/v1/auth/prelogin`.
    pub fn prelogin(&self, email: &str) -> Result<PreloginResponse, ClientError> {
        self.call("POST", "/api/v1/auth/prelogin", Some(&PreloginRequest { email: email.into() }))
    }
    /// `POST /api/v1/auth/register`.
    pub fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, ClientError> {
        self.call("POST", "/api/v1/auth/register", Some(req))
    }
    /// `POST /api/v1/auth/login`.
    pub fn login(&self, req: &LoginRequest) -> Result<LoginAnswer, ClientError> {
        self.call("POST", "/api/v1/auth/login", Some(req))
    }
    /// `POST /api/v1/auth/login/second-factor`.
    pub fn login_second_factor(&self, req: &SecondFactorLoginRequest) -> Result<LoginResponse, ClientError> {
        self.call("POST", "/api/v1/auth/login/second-factor", Some(req))
    }
    /// `GET /api/v1/auth/second-factors`.
    pub fn second_factors(&self) -> Result<SecondFactors, ClientError> {
        self.authed()?;
        self.call("GET", "/api/v1/auth/second-factors", None::<&()>)
    }
    /// `POST /api/v1/auth/second-factors/totp`.
    pub fn enrol_totp(&self, req: &TotpEnrolRequest) -> Result<TotpEnrolment, ClientError> {
        self.authed()?;
        self.call("POST", "/api/v1/auth/second-factors/totp", Some(req))
    }
    /// `POST /api/v1/auth/second-factors/{id}/confirm`.
    pub fn confirm_factor(&self, id: &str, code: &str) -> Result<ConfirmedFactor, ClientError> {
        self.authed()?;
        let path = format!("/api/v1/auth/second-factors/{}/confirm", seg(id));
        self.call("POST", &path, Some(&ConfirmFactorRequest::totp(code)))
    }
    /// `POST /api/v1/auth/second-factors/webauthn`.
    pub fn enrol_webauthn(&self, req: &WebauthnEnrolRequest) -> Result<WebauthnEnrolment, ClientError> {
        self.authed()?;
        self.call("POST", "/api/v1/auth/second-factors/webauthn", Some(req))
    }
    /// `POST /api/v1/auth/second-factors/{id}/confirm` for a passkey: the browser's answer
    /// (its PRF results, if any, are dropped here, whatever the caller passed) and the PRF wrap.
    pub fn confirm_webauthn(
        &self,
        id: &str,
        credential: &serde_json::Value,
        prf_wrap: Option<&str>,
    ) -> Result<ConfirmedFactor, ClientError> {
        self.authed()?;
        let path = format!("/api/v1/auth/second-factors/{}/confirm", seg(id));
        let req = ConfirmFactorRequest {
            code: None,
            credential: Some(flows::without_prf_results(credential)),
            prf_wrap: prf_wrap.map(str::to_owned),
        };
        self.call("POST", &path, Some(&req))
    }
    /// `POST /api/v1/auth/second-factors/webauthn/check`.
    pub fn webauthn_check(&self) -> Result<WebauthnCeremony, ClientError> {
        self.authed()?;
        self.call("POST", "/api/v1/auth/second-factors/webauthn/check", None::<&()>)
    }
    /// `POST /api/v1/auth/login/second-factor/webauthn`.
    pub fn login_webauthn_options(&self, challenge: &Secret) -> Result<WebauthnCeremony, ClientError> {
        let req = WebauthnLoginOptionsRequest { challenge: challenge.clone() };
        self.call("POST", "/api/v1/auth/login/second-factor/webauthn", Some(&req))
    }
    /// `POST /api/v1/auth/passkey/options`.
    pub fn passkey_options(&self) -> Result<WebauthnCeremony, ClientError> {
        self.call("POST", "/api/v1/auth/passkey/options", None::<&()>)
    }
    /// `POST /api/v1/auth/passkey/login` (PRF results dropped from the answer here).
    pub fn passkey_login(
        &self,
        ceremony: &Secret,
        credential: &serde_json::Value,
    ) -> Result<PasskeyLoginResponse, ClientError> {
        let req = WebauthnAssertion { ceremony: ceremony.clone(), credential: flows::without_prf_results(credential) };
        self.call("POST", "/api/v1/auth/passkey/login", Some(&req))
    }
    /// `PATCH /api/v1/auth/second-factors/{id}`.
    pub fn rename_factor(&self, id: &str, name: &str) -> Result<(), ClientError> {
        self.authed()?;
        let path = format!("/api/v1/auth/second-factors/{}", seg(id));
        self.call::<Option<serde_json::Value>>("PATCH", &path, Some(&RenameFactorRequest { name: name.into() }))
            .map(|_| ())
    }
    /// `POST /api/v1/auth/second-factors/{id}/remove`.
    pub fn remove_factor(&self, id: &str, proof: &SecondFactorProof) -> Result<(), ClientError> {
        self.authed()?;
        let path = format!("/api/v1/auth/second-factors/{}/remove", seg(id));
        self.call::<Option<serde_json::Value>>("POST", &path, Some(proof)).map(|_| ())
    }
    /// `POST /api/v1/auth/second-factors/recovery-codes`.
    pub fn new_recovery_codes(&self, proof: &SecondFactorProof) -> Result<RecoveryCodes, ClientError> {
        self.authed()?;
        self.call("POST", "/api/v1/auth/second-factors/recovery-codes", Some(proof))
    }
    /// `POST /api/v1/auth/refresh`.
    pub fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, ClientError> {
        self.call("POST", "/api/v1/auth/refresh", Some(&RefreshRequest { refresh_token: refresh_token.into() }))
    }
    /// `POST /api/v1/auth/logout`.
    pub fn logout(&self) -> Result<(), ClientError> {
        self.authed()?;
        self.call::<Option<serde_json::Value>>("POST", "/api/v1/auth/logout", None::<&()>).map(|_| ())
    }
    /// `GET /api/v1/auth/sessions`.
    pub fn sessions(&self) -> Result<Vec<SessionInfo>, ClientError> {
        self.authed()?;
        self.call("GET", "/api/v1/auth/sessions", None::<&()>)
    }
    /// `DELETE /api/v1/auth/sessions/{id}`.
    pub fn revoke_session(&self, id: &str) -> Result<(), ClientError> {
        self.authed()?;
        let path = format!(
            "/api/v1/auth/sessions/{}",
            id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_', "")
        );
        self.call::<Option<serde_json::Value>>("DELETE", &path, None::<&()>).map(|_| ())
    }
    /// `GET /api/v1/me`.
    pub fn me(&self) -> Result<MeResponse, ClientError> {
        self.authed()?;
        self.call("GET", "/api/v1/me", None::<&()>)
    }
    /// `POST /api/v1/auth/password`.
    pub fn change_password(&self, req: &PasswordChangeRequest) -> Result<(), ClientError> {
        self.authed()?;
        self.call::<Option<serde_json::Value>>("POST", "/api/v1/auth/password", Some(req)).map(|_| ())
    }

    /// `POST /api/v1/auth/reset/request` (always 202).
    pub fn reset_request(&self, email: &str) -> Result<(), ClientError> {
        self.call::<Option<serde_json::Value>>(
            "POST",
            "/api/v1/auth/reset/request",
            Some(&ResetRequest { email: email.into() }),
        )
        .map(|_| ())
    }
    /// `POST /api/v1/auth/reset/begin`.
    pub fn reset_begin(&self, token: &str) -> Result<ResetBeginResponse, ClientError> {
        self.call("POST", "/api/v1/auth/reset/begin", Some(&ResetTokenRequest { token: token.into() }))
    }
    /// `POST /api/v1/auth/reset/complete`.
    pub fn reset_complete(&self, req: &ResetCompleteRequest) -> Result<(), ClientError> {
        self.call::<Option<serde_json::Value>>("POST", "/api/v1/auth/reset/complete", Some(req)).map(|_| ())
    }
    /// `POST /api/v1/auth/reset/cancel` ("this was not me").
    pub fn reset_cancel(&self, token: &str) -> Result<(), ClientError> {
        self.call::<Option<serde_json::Value>>(
            "POST",
            "/api/v1/auth/reset/cancel",
            Some(&ResetTokenRequest { token: token.into() }),
        )
        .map(|_| ())
    }
    /// `PUT /api/v1/recovery/kit`.
    pub fn put_kit(&self, req: &PutKitRequest) -> Result<KitStatus, ClientError> {
        self.authed()?;
        self.call("PUT", "/api/v1/recovery/kit", Some(req))
    }
    /// `GET /api/v1/recovery/kit`.
    pub fn kit(&self) -> Result<KitStatus, ClientError> {
        self.authed()?;
        self.call("GET", "/api/v1/recovery/kit", None::<&()>)
    }
    /// `POST /api/v1/recovery/request` (always 202).
    pub fn recovery_request(&self, email: &str) -> Result<(), ClientError> {
        self.call::<Option<serde_json::Value>>(
            "POST",
            "/api/v1/recovery/request",
            Some(&ResetRequest { email: email.into() }),
        )
        .map(|_| ())
    }
    /// `POST /api/v1/recovery/begin`.
    pub fn recovery_begin(&self, req: &RecoveryBeginRequest) -> Result<RecoveryBeginResponse, ClientError> {
        self.call("POST", "/api/v1/recovery/begin", Some(req))
    }
    /// `POST /api/v1/recovery/shares`.
    pub fn recovery_shares(&self, req: &RecoverySessionRequest) -> Result<Vec<ReleasedShare>, ClientError> {
        self.call("POST", "/api/v1/recovery/shares", Some(req))
    }
    /// `POST /api/v1/recovery/complete`.
    pub fn recovery_complete(&self, req: &RecoveryCompleteRequest) -> Result<(), ClientError> {
        self.call::<Option<serde_json::Value>>("POST", "/api/v1/recovery/complete", Some(req)).map(|_| ())
    }
    /// `GET /api/v1/recovery/guardian-requests`.
    pub fn guardian_requests(&self) -> Result<Vec<GuardianRequest>, ClientError> {
        self.authed()?;
        self.call("GET", "/api/v1/recovery/guardian-requests", None::<&()>)
    }
    /// `POST /api/v1/recovery/release`.
    pub fn release_share(&self, req: &ReleaseShareRequest) -> Result<(), ClientError> {
        self.authed()?;
        self.call::<Option<serde_json::Value>>("POST", "/api/v1/recovery/release", Some(req)).map(|_| ())
    }
    /// `POST /api/v1/accounts/{id}/workers`.
    pub fn register_worker(&self, id: &str, req: &RegisterWorkerRequest) -> Result<WorkerInfo, ClientError> {
        self.authed()?;
        self.call("POST", &format!("/api/v1/accounts/{}/workers", seg(id)), Some(req))
    }
    /// `GET /api/v1/accounts/{id}/workers`.
    pub fn workers(&self, id: &str) -> Result<Vec<WorkerInfo>, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/workers", seg(id)), None::<&()>)
    }
    /// `GET /api/v1/accounts/{id}/audit`.
    pub fn audit(&self, id: &str) -> Result<Vec<AuditEvent>, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/audit", seg(id)), None::<&()>)
    }
    /// `POST /api/v1/workers/challenge`.
    pub fn worker_challenge(&self, worker_id: &str) -> Result<WorkerChallengeResponse, ClientError> {
        self.call(
            "POST",
            "/api/v1/workers/challenge",
            Some(&WorkerChallengeRequest { worker_id: Id::parse(worker_id)? }),
        )
    }
    /// `POST /api/v1/workers/token`.
    pub fn worker_token(&self, req: &WorkerTokenRequest) -> Result<WorkerTokenResponse, ClientError> {
        self.call("POST", "/api/v1/workers/token", Some(req))
    }
    /// `GET /api/v1/me/keyring`.
    pub fn my_keyring(&self) -> Result<KeyringResponse, ClientError> {
        self.authed()?;
        self.call("GET", "/api/v1/me/keyring", None::<&()>)
    }
    /// `POST /api/v1/accounts`.
    pub fn create_account(&self, req: &CreateAccountRequest) -> Result<AccountInfo, ClientError> {
        self.authed()?;
        self.call("POST", "/api/v1/accounts", Some(req))
    }
    /// `GET /api/v1/accounts`.
    pub fn accounts(&self) -> Result<Vec<AccountInfo>, ClientError> {
        self.authed()?;
        self.call("GET", "/api/v1/accounts", None::<&()>)
    }
    /// `GET /api/v1/accounts/{id}`.
    pub fn account(&self, id: &str) -> Result<AccountInfo, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}", seg(id)), None::<&()>)
    }
    /// `PATCH /api/v1/accounts/{id}`.
    pub fn rename_account(&self, id: &str, name: &str) -> Result<AccountInfo, ClientError> {
        self.authed()?;
        self.call("PATCH", &format!("/api/v1/accounts/{}", seg(id)), Some(&RenameAccountRequest { name: name.into() }))
    }
    /// `GET /api/v1/accounts/{id}/log?after=`.
    pub fn log(&self, id: &str, after: Option<u64>) -> Result<LogPage, ClientError> {
        self.authed()?;
        let q = after.map(|a| format!("?after={a}")).unwrap_or_default();
        self.call("GET", &format!("/api/v1/accounts/{}/log{q}", seg(id)), None::<&()>)
    }
    /// `POST /api/v1/accounts/{id}/log`.
    pub fn append(&self, id: &str, req: &AppendRequest) -> Result<AppendResponse, ClientError> {
        self.authed()?;
        self.call("POST", &format!("/api/v1/accounts/{}/log", seg(id)), Some(req))
    }
    /// `POST /api/v1/accounts/{id}/proposals`.
    pub fn create_proposal(&self, id: &str, req: &CreateProposalRequest) -> Result<ProposalInfo, ClientError> {
        self.authed()?;
        self.call("POST", &format!("/api/v1/accounts/{}/proposals", seg(id)), Some(req))
    }
    /// `GET /api/v1/accounts/{id}/proposals`.
    pub fn proposals(&self, id: &str) -> Result<Vec<ProposalInfo>, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/proposals", seg(id)), None::<&()>)
    }
    /// `GET /api/v1/accounts/{id}/proposals/{proposal_id}`.
    pub fn proposal(&self, id: &str, proposal_id: &str) -> Result<ProposalInfo, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/proposals/{}", seg(id), seg(proposal_id)), None::<&()>)
    }
    /// `POST /api/v1/accounts/{id}/proposals/{proposal_id}/cosign`.
    pub fn cosign_proposal(
        &self,
        id: &str,
        proposal_id: &str,
        req: &CosignRequest,
    ) -> Result<ProposalInfo, ClientError> {
        self.authed()?;
        self.call("POST", &format!("/api/v1/accounts/{}/proposals/{}/cosign", seg(id), seg(proposal_id)), Some(req))
    }
    /// `DELETE /api/v1/accounts/{id}/proposals/{proposal_id}`.
    pub fn withdraw_proposal(&self, id: &str, proposal_id: &str) -> Result<(), ClientError> {
        self.authed()?;
        self.call::<Option<serde_json::Value>>(
            "DELETE",
            &format!("/api/v1/accounts/{}/proposals/{}", seg(id), seg(proposal_id)),
            None::<&()>,
        )
        .map(|_| ())
    }
    /// `GET /api/v1/accounts/{id}/checkpoints`.
    pub fn checkpoints(&self, id: &str) -> Result<Vec<CheckpointWire>, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/checkpoints", seg(id)), None::<&()>)
    }
    /// `PUT /api/v1/accounts/{id}/checkpoints`.
    pub fn put_checkpoint(&self, id: &str, req: &PutCheckpointRequest) -> Result<(), ClientError> {
        self.authed()?;
        self.call::<Option<serde_json::Value>>("PUT", &format!("/api/v1/accounts/{}/checkpoints", seg(id)), Some(req))
            .map(|_| ())
    }
    /// `GET /api/v1/accounts/{id}/keys`.
    pub fn sealed_keys(&self, id: &str) -> Result<Vec<SealedKeyWire>, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/keys", seg(id)), None::<&()>)
    }
    /// `GET /api/v1/accounts/{id}/members`.
    pub fn members(&self, id: &str) -> Result<Vec<MemberInfo>, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/members", seg(id)), None::<&()>)
    }
    /// `POST /api/v1/accounts/{id}/invitations`.
    pub fn invite(&self, id: &str, email: &str, role: &str) -> Result<InvitationInfo, ClientError> {
        self.authed()?;
        self.call(
            "POST",
            &format!("/api/v1/accounts/{}/invitations", seg(id)),
            Some(&InviteRequest { email: email.into(), role: role.into() }),
        )
    }
    /// `GET /api/v1/accounts/{id}/invitations`.
    pub fn invitations(&self, id: &str) -> Result<Vec<InvitationInfo>, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/invitations", seg(id)), None::<&()>)
    }
    /// `DELETE /api/v1/accounts/{id}/invitations/{invitation_id}`.
    pub fn revoke_invitation(&self, id: &str, invitation_id: &str) -> Result<(), ClientError> {
        self.authed()?;
        self.call::<Option<serde_json::Value>>(
            "DELETE",
            &format!("/api/v1/accounts/{}/invitations/{}", seg(id), seg(invitation_id)),
            None::<&()>,
        )
        .map(|_| ())
    }
    /// `DELETE /api/v1/accounts/{id}/members/{user_id}`: deprovisions a member.
    pub fn deprovision(&self, id: &str, user_id: &str) -> Result<(), ClientError> {
        self.authed()?;
        self.call::<Option<serde_json::Value>>(
            "DELETE",
            &format!("/api/v1/accounts/{}/members/{}", seg(id), seg(user_id)),
            None::<&()>,
        )
        .map(|_| ())
    }
    /// `POST /api/v1/accounts/{id}/tokens`.
    pub fn create_token(&self, id: &str, req: &CreateApiTokenRequest) -> Result<CreatedApiToken, ClientError> {
        self.authed()?;
        self.call("POST", &format!("/api/v1/accounts/{}/tokens", seg(id)), Some(req))
    }
    /// `GET /api/v1/accounts/{id}/tokens`.
    pub fn tokens(&self, id: &str) -> Result<Vec<ApiTokenInfo>, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/tokens", seg(id)), None::<&()>)
    }
    /// `DELETE /api/v1/accounts/{id}/tokens/{token_id}`.
    pub fn revoke_token(&self, id: &str, token_id: &str) -> Result<(), ClientError> {
        self.authed()?;
        self.call::<Option<serde_json::Value>>(
            "DELETE",
            &format!("/api/v1/accounts/{}/tokens/{}", seg(id), seg(token_id)),
            None::<&()>,
        )
        .map(|_| ())
    }
    /// `POST /api/v1/invitations/accept`.
    pub fn accept_invitation(&self, token: &str) -> Result<AcceptInvitationResponse, ClientError> {
        self.authed()?;
        self.call("POST", "/api/v1/invitations/accept", Some(&AcceptInvitationRequest { token: token.into() }))
    }
    /// `GET /api/v1/accounts/{id}/items`.
    pub fn items(
        &self,
        id: &str,
        cursor: Option<&str>,
        limit: u32,
        below_version: Option<u32>,
    ) -> Result<ItemPage, ClientError> {
        self.authed()?;
        let mut q = format!("?limit={limit}");
        if let Some(c) = cursor {
            q.push_str(&format!("&cursor={}", seg(c)));
        }
        if let Some(v) = below_version {
            q.push_str(&format!("&below_version={v}"));
        }
        self.call("GET", &format!("/api/v1/accounts/{}/items{q}", seg(id)), None::<&()>)
    }
    /// `GET /api/v1/accounts/{id}/items/{item_id}`.
    pub fn item(&self, id: &str, item_id: &str) -> Result<ItemWire, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/items/{}", seg(id), seg(item_id)), None::<&()>)
    }
    /// `PUT /api/v1/accounts/{id}/items/{item_id}`.
    pub fn put_item(&self, id: &str, item_id: &str, req: &PutItemRequest) -> Result<ItemWire, ClientError> {
        self.authed()?;
        self.call("PUT", &format!("/api/v1/accounts/{}/items/{}", seg(id), seg(item_id)), Some(req))
    }
    /// `POST /api/v1/accounts/{id}/items/batch`.
    pub fn update_items(&self, id: &str, req: &BatchUpdateRequest) -> Result<BatchUpdateResponse, ClientError> {
        self.authed()?;
        self.call("POST", &format!("/api/v1/accounts/{}/items/batch", seg(id)), Some(req))
    }
    /// `DELETE /api/v1/accounts/{id}/items/{item_id}`.
    pub fn delete_item(&self, id: &str, item_id: &str) -> Result<(), ClientError> {
        self.authed()?;
        self.call::<Option<serde_json::Value>>(
            "DELETE",
            &format!("/api/v1/accounts/{}/items/{}", seg(id), seg(item_id)),
            None::<&()>,
        )
        .map(|_| ())
    }
    /// `GET /api/v1/accounts/{id}/inbox/key` (a provider's token, a member or a worker).
    pub fn inbox_key(&self, id: &str) -> Result<InboxKeyResponse, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/inbox/key", seg(id)), None::<&()>)
    }
    /// `PUT /api/v1/accounts/{id}/inbox/deposits/{deposit_id}` (a provider's token).
    pub fn put_deposit(
        &self,
        id: &str,
        deposit_id: &str,
        req: &PutDepositRequest,
    ) -> Result<DepositReceipt, ClientError> {
        self.authed()?;
        self.call("PUT", &format!("/api/v1/accounts/{}/inbox/deposits/{}", seg(id), seg(deposit_id)), Some(req))
    }
    /// `PUT /api/v1/accounts/{id}/inbox/plaintext/{deposit_id}` (a provider's token with
    /// `inbox:plaintext`: the server sees the record in transit and seals it).
    pub fn put_plaintext_deposit(
        &self,
        id: &str,
        deposit_id: &str,
        req: &PlaintextDepositRequest,
    ) -> Result<DepositReceipt, ClientError> {
        self.authed()?;
        self.call("PUT", &format!("/api/v1/accounts/{}/inbox/plaintext/{}", seg(id), seg(deposit_id)), Some(req))
    }
    /// `GET /api/v1/accounts/{id}/inbox`.
    pub fn inbox(&self, id: &str) -> Result<InboxView, ClientError> {
        self.authed()?;
        self.call("GET", &format!("/api/v1/accounts/{}/inbox", seg(id)), None::<&()>)
    }
    /// `GET /api/v1/accounts/{id}/inbox/deposits`.
    pub fn deposits(&self, id: &str, cursor: Option<&str>, limit: u32) -> Result<DepositPage, ClientError> {
        self.authed()?;
        let mut q = format!("?limit={limit}");
        if let Some(c) = cursor {
            // A cursor is `provider:deposit`, both in the id alphabet.
            let c: String = c.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':')).collect();
            q.push_str(&format!("&cursor={}", c.replace(':', "%3A")));
        }
        self.call("GET", &format!("/api/v1/accounts/{}/inbox/deposits{q}", seg(id)), None::<&()>)
    }
    /// `GET /api/v1/accounts/{id}/inbox/deposits/{provider_id}/{deposit_id}`.
    pub fn deposit(&self, id: &str, provider_id: &str, deposit_id: &str) -> Result<DepositWire, ClientError> {
        self.authed()?;
        let path = format!("/api/v1/accounts/{}/inbox/deposits/{}/{}", seg(id), seg(provider_id), seg(deposit_id));
        self.call("GET", &path, None::<&()>)
    }
    /// `DELETE /api/v1/accounts/{id}/inbox/deposits/{provider_id}/{deposit_id}` (files it).
    pub fn file_deposit(&self, id: &str, provider_id: &str, deposit_id: &str) -> Result<(), ClientError> {
        self.authed()?;
        let path = format!("/api/v1/accounts/{}/inbox/deposits/{}/{}", seg(id), seg(provider_id), seg(deposit_id));
        self.call::<Option<serde_json::Value>>("DELETE", &path, None::<&()>).map(|_| ())
    }
}

/// Keeps a path segment to the id alphabet, so a hostile id cannot change the route.
fn seg(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}
