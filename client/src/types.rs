//! Wire types of the REST API v1 — the single definition shared by the server, this client,
//! the CLI and the tests. Binary values are unpadded base64url strings.

use serde::{Deserialize, Serialize};
use vouchsafe_crypto::kdf::KdfParams;

/// `POST /api/v1/auth/prelogin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PreloginRequest {
    /// The account email.
    pub email: String,
}

/// Salt and KDF parameters (stable fake ones for unknown emails).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreloginResponse {
    /// 16-byte salt, base64url.
    pub kdf_salt: String,
    /// Argon2id parameters.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub kdf_params: KdfParams,
}

/// `POST /api/v1/auth/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Client-chosen random id (16–64 characters of `[A-Za-z0-9_-]`); bound into the keyring wrap.
    pub user_id: String,
    /// Email.
    pub email: String,
    /// 32-byte auth key derived from the password, base64url. The server stores only Argon2id of it.
    pub auth_key: String,
    /// 16-byte KDF salt, base64url.
    pub kdf_salt: String,
    /// KDF parameters (refused below the floor).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub kdf_params: KdfParams,
    /// Public keys (69 bytes, generation 1), base64url.
    pub public_keys: String,
    /// Keyring wrapped under the KEK (105 bytes), base64url.
    pub wrapped_keyring: String,
}

/// The created user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterResponse {
    /// User id.
    pub user_id: String,
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email.
    pub email: String,
    /// Auth key, base64url.
    pub auth_key: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").field("email", &self.email).field("auth_key", &"<redacted>").finish()
    }
}

/// Tokens of a session.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access token lifetime, seconds.
    pub expires_in: i64,
    /// Opaque 256-bit refresh token; single use, rotated on every refresh.
    pub refresh_token: String,
    /// Session id.
    pub session_id: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse").field("session_id", &self.session_id).finish_non_exhaustive()
    }
}

/// Login result: tokens plus what the client needs to unwrap its keyring.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    /// Tokens.
    #[serde(flatten)]
    pub tokens: TokenResponse,
    /// User id.
    pub user_id: String,
    /// Current key generation.
    pub generation: u32,
    /// Public keys, base64url.
    pub public_keys: String,
    /// Wrapped keyring, base64url.
    pub wrapped_keyring: String,
    /// KDF salt, base64url.
    pub kdf_salt: String,
    /// KDF parameters.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub kdf_params: KdfParams,
}

/// `POST /api/v1/auth/refresh`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The current refresh token.
    pub refresh_token: String,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshRequest(<redacted>)")
    }
}

/// One session of the signed-in user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// Session id.
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last refresh.
    pub last_used_at: i64,
    /// Unix seconds when it ends at the latest.
    pub expires_at: i64,
    /// Whether this is the session making the request.
    pub current: bool,
    /// The client's User-Agent at login.
    pub user_agent: Option<String>,
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeResponse {
    /// User id.
    pub user_id: String,
    /// Email.
    pub email: String,
    /// Key generation.
    pub generation: u32,
    /// Public keys, base64url.
    pub public_keys: String,
    /// Verification code of the current keys.
    pub verification_code: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// `POST /api/v1/auth/password`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    /// Auth key from the current password.
    pub current_auth_key: String,
    /// Auth key from the new password.
    pub new_auth_key: String,
    /// New KDF salt.
    pub new_kdf_salt: String,
    /// New KDF parameters.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub new_kdf_params: KdfParams,
    /// The same keyring, wrapped under the new KEK.
    pub new_wrapped_keyring: String,
    /// End every other session.
    #[serde(default)]
    pub end_other_sessions: bool,
}

impl std::fmt::Debug for PasswordChangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChangeRequest")
            .field("end_other_sessions", &self.end_other_sessions)
            .finish_non_exhaustive()
    }
}

/// The JSON error body of every 4xx/5xx.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: String,
    /// Message.
    pub message: String,
}
