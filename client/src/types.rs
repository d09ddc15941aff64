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
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Email))]
    pub email: String,
}

/// Salt and KDF parameters (stable fake ones for unknown emails).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreloginResponse {
    /// 16-byte salt, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes16))]
    pub kdf_salt: String,
    /// Argon2id parameters.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::KdfParams))]
    pub kdf_params: KdfParams,
}

/// A secret string on the wire — an auth key, a token, a session secret: sent as itself, never
/// shown by `Debug` (`<redacted>`), wiped from memory when dropped. Every wire type's secret is
/// one of these, so no hand-written `Debug` can forget a field.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(zeroize::Zeroizing::new(s))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::from(s.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::from)
    }
}

/// A random id — of a user, an account, an item, an invitation, a session, a worker: 16 to 64
/// characters of `[A-Za-z0-9_-]` (clients make them from 16 random bytes, 22 characters).
/// Checked once, when it is read ([`Id::parse`], or deserialization); everything after holds a
/// valid one. A bad id is refused with one message everywhere ([`Id::RULE`]), which the server
/// answers with `400 request.invalid_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Id(String);

impl Id {
    /// Fewest characters of a random id (16 random bytes make 22).
    pub const MIN_LEN: usize = 16;
    /// The rule, as every refusal states it (the server recognises it in a body's parse error).
    pub const RULE: &'static str = "an id must be 16 to 64 characters of A-Z, a-z, 0-9, '-' and '_'";

    /// `s` if it is a valid id.
    pub fn parse(s: impl Into<String>) -> Result<Self, InvalidId> {
        let s = s.into();
        if s.len() < Self::MIN_LEN || vouchsafe_crypto::validate_id(&s).is_err() {
            return Err(InvalidId);
        }
        Ok(Self(s))
    }

    /// A fresh random id (16 random bytes).
    pub fn random() -> Self {
        Self(vouchsafe_crypto::random_id())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Id {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <crate::schema::Id as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Id {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Id")
    }
}

/// An id that breaks [`Id::RULE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", Id::RULE)]
pub struct InvalidId;

impl TryFrom<String> for Id {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, InvalidId> {
        Self::parse(s)
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.0
    }
}

impl std::ops::Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Id {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        Self::parse(s)
    }
}

/// `POST /api/v1/auth/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Client-chosen random id (16–64 characters of `[A-Za-z0-9_-]`); bound into the keyring wrap.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub user_id: Id,
    /// Email.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Email))]
    pub email: String,
    /// 32-byte auth key derived from the password, base64url. The server stores only Argon2id of it.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub auth_key: Secret,
    /// 16-byte KDF salt, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes16))]
    pub kdf_salt: String,
    /// KDF parameters (refused below the floor).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::KdfParams))]
    pub kdf_params: KdfParams,
    /// Public keys (69 bytes, generation 1), base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::PublicKeys))]
    pub public_keys: String,
    /// Keyring wrapped under the KEK (105 bytes), base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::WrappedKeyring))]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Email))]
    pub email: String,
    /// Auth key, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub auth_key: Secret,
}

/// Tokens of a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// Short-lived JWT for `Authorization: Bearer`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub access_token: Secret,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access token lifetime, seconds.
    pub expires_in: i64,
    /// Opaque 256-bit refresh token; single use, rotated on every refresh.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub refresh_token: Secret,
    /// Session id.
    pub session_id: String,
}

/// Login result: tokens plus what the client needs to unwrap its keyring.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    /// Tokens.
    #[serde(flatten)]
    pub tokens: TokenResponse,
    /// Keyring and KDF parameters.
    #[serde(flatten)]
    pub keyring: KeyringResponse,
}

/// What `POST /api/v1/auth/login` answers: a session, or — when the person has a second factor
/// — a challenge the factor turns into one (`POST /api/v1/auth/login/second-factor`). No token
/// and no keyring is given before the factor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum LoginAnswer {
    /// Signed in.
    Session(Box<LoginResponse>),
    /// The password was right; a second factor is needed.
    SecondFactor(SecondFactorRequired),
}

impl LoginAnswer {
    /// The session, if the login needed no second factor.
    pub fn session(self) -> Option<LoginResponse> {
        match self {
            Self::Session(s) => Some(*s),
            Self::SecondFactor(_) => None,
        }
    }
}

/// The body of a login that needs a second factor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecondFactorRequired {
    /// The challenge.
    pub second_factor: SecondFactorChallenge,
}

/// A single-use challenge left by a right password, good for a few minutes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecondFactorChallenge {
    /// Opaque, single use.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub challenge: Secret,
    /// What the person may answer with: `totp`, `webauthn`, `recovery_code`.
    pub methods: Vec<String>,
    /// Seconds the challenge stays good.
    pub expires_in: i64,
}

/// A second factor, freshly checked: exactly one of the fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SecondFactorProof {
    /// The authenticator app's current code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::TotpCode>))]
    pub totp: Option<Secret>,
    /// One of the recovery codes shown at enrolment (each works once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::RecoveryCode>))]
    pub recovery_code: Option<Secret>,
    /// A passkey's answer to a ceremony (`/auth/login/second-factor/webauthn` at a login,
    /// `/auth/second-factors/webauthn/check` when signed in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn: Option<WebauthnAssertion>,
}

/// `POST /api/v1/auth/login/second-factor`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SecondFactorLoginRequest {
    /// The login's challenge.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Token))]
    pub challenge: Secret,
    /// The factor.
    pub second_factor: SecondFactorProof,
}

/// `POST /api/v1/auth/second-factors/totp`: starts an authenticator-app enrolment. The password
/// is asked again (a stolen session alone cannot enrol a factor the person does not hold).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TotpEnrolRequest {
    /// The auth key of the current password, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub auth_key: Secret,
    /// A name for the factor ("Phone"); default "Authenticator app".
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Name>))]
    pub name: Option<String>,
}

/// An enrolment to confirm with a code from the app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpEnrolment {
    /// The factor's id (confirm it at `/auth/second-factors/{id}/confirm`).
    pub id: String,
    /// The secret in base32, for typing into the app.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub secret: Secret,
    /// `otpauth://totp/…`, for a QR code.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub otpauth_uri: Secret,
    /// Seconds the enrolment may wait for its confirmation.
    pub expires_in: i64,
}

/// `POST /api/v1/auth/second-factors/{id}/confirm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfirmFactorRequest {
    /// An authenticator app: its current code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::TotpCode>))]
    pub code: Option<Secret>,
    /// A passkey or security key: the browser's answer to the enrolment's options
    /// (`PublicKeyCredential` as JSON, binary fields base64url), without any PRF results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub credential: Option<serde_json::Value>,
    /// A passkey with the PRF extension: the keyring wrapped under its PRF output (purpose 3,
    /// PROTOCOL §2), so it can unlock the keys; base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::WrappedKeyring>))]
    pub prf_wrap: Option<String>,
}

impl ConfirmFactorRequest {
    /// Confirms an authenticator app with its code.
    pub fn totp(code: impl Into<Secret>) -> Self {
        Self { code: Some(code.into()), credential: None, prf_wrap: None }
    }
}

/// `POST /api/v1/auth/second-factors/webauthn`: starts a passkey or security-key enrolment
/// (the password again, as for an app).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebauthnEnrolRequest {
    /// The auth key of the current password, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub auth_key: Secret,
    /// A name for it ("Laptop"); default "Passkey".
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Name>))]
    pub name: Option<String>,
}

/// A passkey enrolment: the options for `navigator.credentials.create`; confirm with the answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebauthnEnrolment {
    /// The factor's id (confirm it at `/auth/second-factors/{id}/confirm`).
    pub id: String,
    /// `{"publicKey": PublicKeyCredentialCreationOptions}`, binary fields base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub options: serde_json::Value,
    /// Seconds the enrolment may wait for its confirmation.
    pub expires_in: i64,
}

/// A WebAuthn challenge to answer with `navigator.credentials.get`: single use, short-lived.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebauthnCeremony {
    /// Opaque, single use; sent back with the answer.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ceremony: Secret,
    /// `{"publicKey": PublicKeyCredentialRequestOptions}`, binary fields base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub options: serde_json::Value,
    /// Seconds it stays good.
    pub expires_in: i64,
}

/// A passkey's answer to a [`WebauthnCeremony`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebauthnAssertion {
    /// The ceremony answered.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Token))]
    pub ceremony: Secret,
    /// `PublicKeyCredential` as JSON (binary fields base64url), without any PRF results.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: serde_json::Value,
}

/// `POST /api/v1/auth/login/second-factor/webauthn`: a passkey check for a login's challenge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebauthnLoginOptionsRequest {
    /// The login's challenge.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Token))]
    pub challenge: Secret,
}

/// `POST /api/v1/auth/passkey/login`: signed in by a passkey that unlocks the keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyLoginResponse {
    /// Tokens and the keyring as a password login gives them.
    #[serde(flatten)]
    pub session: LoginResponse,
    /// The factor the passkey is.
    pub factor_id: String,
    /// The keyring wrapped under the passkey's PRF output (purpose 3), base64url.
    pub prf_wrap: String,
}

/// A confirmed factor; with the first one, the recovery codes (shown this once).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfirmedFactor {
    /// The factor.
    pub factor: SecondFactorInfo,
    /// Single-use recovery codes, when this is the person's first factor (else empty).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub recovery_codes: Vec<Secret>,
}

/// One second factor of the signed-in person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecondFactorInfo {
    /// Id.
    pub id: String,
    /// `totp` or `webauthn`.
    pub kind: String,
    /// The person's name for it.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of its last use at a login or a check.
    pub last_used_at: Option<i64>,
    /// A passkey that also unlocks the keys (it holds a PRF wrap of the keyring).
    #[serde(default)]
    pub unlock: bool,
}

/// `GET /api/v1/auth/second-factors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecondFactors {
    /// Confirmed factors, oldest first.
    pub factors: Vec<SecondFactorInfo>,
    /// Recovery codes not used yet.
    pub recovery_codes_left: u32,
}

/// `PATCH /api/v1/auth/second-factors/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RenameFactorRequest {
    /// The new name.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
}

/// `POST /api/v1/auth/second-factors/recovery-codes`: new codes (the old ones stop working).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    /// Shown this once.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub recovery_codes: Vec<Secret>,
}

/// `POST /api/v1/auth/refresh`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The current refresh token.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Token))]
    pub refresh_token: Secret,
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

impl SessionInfo {
    /// A person's name for the device that opened the session — "Chrome 143 on Linux",
    /// "Vouchsafe CLI 0.1.0" — read from the User-Agent; "Unknown device" when there is none.
    pub fn device(&self) -> String {
        self.user_agent.as_deref().map_or_else(|| "Unknown device".to_owned(), device_name)
    }
}

/// The version after `token` (`Chrome/143.0` → `143`), major part only.
fn major_after<'a>(ua: &'a str, token: &str) -> Option<&'a str> {
    let rest = &ua[ua.find(token)? + token.len()..];
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Browser (or program) and operating system from a User-Agent string. Only the few
/// names people recognise; anything else is named by its first product token.
pub fn device_name(ua: &str) -> String {
    if let Some(v) = ua.strip_prefix("vouchsafe-client/") {
        return format!("Vouchsafe CLI {}", v.split_whitespace().next().unwrap_or(""));
    }
    // Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
    const BROWSERS: [(&str, &str); 8] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("HeadlessChrome/", "Chrome"),
        ("Chrome/", "Chrome"),
    ];
    let browser =
        BROWSERS.iter().find_map(|(token, name)| major_after(ua, token).map(|v| format!("{name} {v}"))).or_else(|| {
            ua.contains("Safari/")
                .then(|| major_after(ua, "Version/").map_or("Safari".to_owned(), |v| format!("Safari {v}")))
        });
    const SYSTEMS: [(&str, &str); 8] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    let system = SYSTEMS.iter().find(|(token, _)| ua.contains(token)).map(|(_, name)| *name);
    let product = || {
        let first = ua.split_whitespace().next().unwrap_or("").replace('/', " ");
        let clean: String = first.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(40).collect();
        if clean.is_empty() { "Unknown device".to_owned() } else { clean }
    };
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b,
        (None, Some(s)) => format!("A program on {s}"),
        (None, None) => product(),
    }
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
    /// Verification code of the keys the server holds. Kept for compatibility; clients never
    /// show it: a person's own code is computed on their device from the keys it unlocked.
    pub verification_code: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// `POST /api/v1/auth/password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    /// Auth key from the current password.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub current_auth_key: Secret,
    /// Auth key from the new password.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub new_auth_key: Secret,
    /// New KDF salt.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes16))]
    pub new_kdf_salt: String,
    /// New KDF parameters.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::KdfParams))]
    pub new_kdf_params: KdfParams,
    /// The same keyring, wrapped under the new KEK.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::WrappedKeyring))]
    pub new_wrapped_keyring: String,
    /// End every other session.
    #[serde(default)]
    pub end_other_sessions: bool,
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

// ------------------------------------------------------------------ accounts, log, items

/// `POST /api/v1/accounts`: the creator's client made the genesis entry and sealed key v1 to itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// Client-chosen random id (16–64 characters); bound into the log and every AAD.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub account_id: Id,
    /// Display name (metadata the server can read; keep customer data out of it).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// The signed genesis log entry, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::LogEntry))]
    pub genesis: String,
    /// Master key v1 sealed by the creator to the creator, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Sealed))]
    pub sealed_key: String,
}

/// An account as its member sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountInfo {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The caller's role.
    pub role: String,
    /// The caller's status.
    pub status: String,
    /// Current master key version.
    pub key_version: u32,
    /// A member or worker was removed and no rotation has happened since.
    pub rotation_required: bool,
    /// Whether the account's log requires every member to have a second factor (the server
    /// refuses item and key reads to members without one). Clients read it from the verified log.
    #[serde(default)]
    pub second_factor_required: bool,
    /// Items still encrypted under an older key version.
    pub items_to_rotate: u64,
    /// Members who reset their password and wait for colleagues' vouches (the server's word:
    /// a reminder to open the team page, where the log is verified before anyone vouches).
    #[serde(default)]
    pub awaiting_vouch: u64,
    /// Number of log entries.
    pub log_len: u64,
    /// Unix seconds.
    pub created_at: i64,
}

/// `PATCH /api/v1/accounts/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RenameAccountRequest {
    /// New name.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
}

/// One stored log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntryWire {
    /// Position.
    pub seq: u64,
    /// The encoded entry, base64url.
    pub entry: String,
}

/// `GET /api/v1/accounts/{id}/log?after=N`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogPage {
    /// Entries in order.
    pub entries: Vec<LogEntryWire>,
    /// Total number of entries.
    pub log_len: u64,
}

/// A sealed master key uploaded with the `key_sealed` entry that announces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealedKeyUpload {
    /// Recipient user or worker id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub recipient_id: Id,
    /// Recipient key generation.
    pub recipient_generation: u32,
    /// Master key version.
    pub key_version: u32,
    /// The sealed blob, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Sealed))]
    pub blob: String,
}

/// `POST /api/v1/accounts/{id}/log`: entries to append in order (one transaction), with the
/// sealed keys their `key_sealed` entries announce.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// Encoded entries, base64url; the first must follow the current head.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schema::LogEntry>, min_items = 1, max_items = 200))]
    pub entries: Vec<String>,
    /// Sealed keys.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 200))]
    pub sealed_keys: Vec<SealedKeyUpload>,
    /// Inbox secrets wrapped under a master key version: required for an `inbox_key` entry
    /// (under the key version current after the append), and what a rotation re-wraps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 200))]
    pub inbox_wraps: Vec<InboxWrapUpload>,
}

/// An inbox secret wrapped under a master key version (opaque to the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InboxWrapUpload {
    /// The inbox key's version (as its `inbox_key` entry endorses it).
    pub inbox_version: u32,
    /// The master key version it is wrapped under.
    pub key_version: u32,
    /// The wrap, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::InboxWrap))]
    pub blob: String,
}

/// After an append.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppendResponse {
    /// Number of entries now.
    pub log_len: u64,
}

/// `PUT /api/v1/accounts/{id}/checkpoints`: the caller's signed checkpoint of the log
/// (PROTOCOL.md §5.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutCheckpointRequest {
    /// The encoded, signed checkpoint, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Checkpoint))]
    pub checkpoint: String,
}

/// One member's (or worker's) latest checkpoint, as the server keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointWire {
    /// The signer (a member's or worker's id, as stored).
    pub user_id: String,
    /// The encoded, signed checkpoint, base64url; absent if they never sent one.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Checkpoint>))]
    pub checkpoint: Option<String>,
    /// When the server last saw them active (a session refreshed), Unix seconds: the server's
    /// claim, used only to decide whether a missing or old checkpoint is worth a warning.
    pub last_active_at: Option<i64>,
}

/// `POST /api/v1/accounts/{id}/proposals`: an entry that needs more admin signatures than its
/// author holds, signed by its author (PROTOCOL.md §5.4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateProposalRequest {
    /// A random id the client chooses.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub proposal_id: Id,
    /// The encoded entry, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::LogEntry))]
    pub entry: String,
    /// How long other admins have to co-sign (default 7 days, at most 30).
    #[cfg_attr(feature = "openapi", schema(minimum = 60, maximum = 2592000))]
    pub expires_in_secs: Option<u64>,
}

/// `POST /api/v1/accounts/{id}/proposals/{proposal_id}/cosign`: the caller's signature over
/// the proposal's exact unsigned entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CosignRequest {
    /// The key generation that signs.
    pub generation: u32,
    /// Ed25519 over the entry's signing input, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Signature))]
    pub signature: String,
}

/// A proposal as the server keeps it. Clients decode and check `entry` themselves: the server's
/// counts and status are only hints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProposalInfo {
    /// Id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub id: Id,
    /// Who proposed it (the entry's author).
    pub author: String,
    /// The log position it takes.
    pub seq: u64,
    /// The entry kind (`policy_changed`, `worker_granted`).
    pub kind: String,
    /// The encoded entry with the co-signatures so far, base64url.
    pub entry: String,
    /// `open`, `applied`, `withdrawn`, `expired`, or `superseded` (the log moved on first).
    pub status: String,
    /// Admin signatures so far (the author's included) and needed.
    pub signatures: u32,
    /// Needed by the current policy.
    pub needed: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds: no co-signature is taken after this.
    pub expires_at: i64,
}

/// A master key sealed to the caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealedKeyWire {
    /// Master key version.
    pub key_version: u32,
    /// The caller's generation it is sealed to.
    pub recipient_generation: u32,
    /// Who sealed it.
    pub sealer_id: String,
    /// The sealer's generation.
    pub sealer_generation: u32,
    /// Log position of the `key_sealed` entry announcing it (absent for the creator's own v1).
    pub log_seq: Option<u64>,
    /// The sealed blob, base64url.
    pub blob: String,
}

/// `POST /api/v1/accounts/{id}/invitations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Invitee email.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Email))]
    pub email: String,
    /// `member`, `admin` or `owner`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Role))]
    pub role: String,
}

/// An invitation as admins see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationInfo {
    /// Id.
    pub id: String,
    /// Invitee email.
    pub email: String,
    /// Role on joining.
    pub role: String,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
    /// Inviting user id.
    pub invited_by: String,
    /// User who accepted.
    pub accepted_by: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// `POST /api/v1/invitations/accept` (signed in).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the link's fragment.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Token))]
    pub token: Secret,
}

/// After accepting.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptInvitationResponse {
    /// The account joined (status `accepted` until an admin confirms).
    pub account_id: String,
}

/// A member (or accepted invitee) of an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberInfo {
    /// User id.
    pub user_id: String,
    /// Email.
    pub email: String,
    /// Role.
    pub role: String,
    /// `accepted` (awaiting confirmation), `active`, `awaiting_vouch`.
    pub status: String,
    /// Current key generation.
    pub generation: u32,
    /// Current public keys as the server has them, base64url. Clients check them against the log
    /// and the verification code the person reads out, never trust them alone.
    pub public_keys: String,
    /// Whether the member has a second factor; told to the account's admins only (for the
    /// second-factor policy: who is not compliant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor: Option<bool>,
}

impl MemberInfo {
    /// The public keys the server reports for this member (compare their code with the person
    /// before trusting them; the verified team log is the authority for active members).
    pub fn identity(&self) -> Result<vouchsafe_crypto::identity::PublicIdentity, crate::ClientError> {
        let keys = vouchsafe_crypto::b64::decode(&self.public_keys, 100)?;
        Ok(vouchsafe_crypto::identity::PublicIdentity::keys_from_bytes(&self.user_id, &keys)?)
    }
}

/// An item: field name → encrypted value (base64url).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemWire {
    /// Client-chosen id.
    pub id: String,
    /// Key version the fields are encrypted under.
    pub key_version: u32,
    /// Revision, starting at 1.
    pub revision: u64,
    /// Encrypted fields.
    pub fields: std::collections::BTreeMap<String, String>,
    /// Creator.
    pub created_by: String,
    /// Last writer.
    pub updated_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// `PUT /api/v1/accounts/{id}/items/{item_id}`: create (`revision` absent) or update (`revision`
/// = the revision read; a stale one → 409).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutItemRequest {
    /// Revision being replaced; absent to create.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 9223372036854775807_i64))]
    pub revision: Option<u64>,
    /// Key version of every field.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2147483647))]
    pub key_version: u32,
    /// Encrypted fields.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::ItemFields))]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// A page of items.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemPage {
    /// Items in id order.
    pub items: Vec<ItemWire>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/me/keyring`: what a signed-in client needs to unlock its keys with the password.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyringResponse {
    /// User id.
    pub user_id: String,
    /// Key generation.
    pub generation: u32,
    /// Public keys, base64url.
    pub public_keys: String,
    /// Keyring wrapped under the KEK, base64url.
    pub wrapped_keyring: String,
    /// KDF salt, base64url.
    pub kdf_salt: String,
    /// KDF parameters.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::KdfParams))]
    pub kdf_params: KdfParams,
}

// ------------------------------------------------------------------ password reset

/// `POST /api/v1/auth/reset/request` (always 202).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The account email.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Email))]
    pub email: String,
}

/// A token from a reset email (`/reset#token=…`) or its "this was not me" link.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetTokenRequest {
    /// The token.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Token))]
    pub token: Secret,
}

/// Where each of the member's team logs stands, so the client can sign its announcements.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResetAccountHead {
    /// Account id.
    pub account_id: String,
    /// Sequence number of the last entry.
    pub seq: u64,
    /// Its hash, base64url.
    pub hash: String,
    /// Its timestamp.
    pub timestamp: u64,
}

/// `POST /api/v1/auth/reset/begin`: checks the token (without using it up).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResetBeginResponse {
    /// User id.
    pub user_id: String,
    /// Current key generation (the reset creates the next one).
    pub generation: u32,
    /// The accounts whose logs get a "reset announced" entry.
    pub accounts: Vec<ResetAccountHead>,
    /// Whether the person has a second factor: completing asks for it (or for
    /// `lost_second_factor`).
    #[serde(default)]
    pub second_factor: bool,
}

/// One "reset announced" entry, signed by the new key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetAnnouncement {
    /// Account id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub account_id: String,
    /// The encoded entry, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::LogEntry))]
    pub entry: String,
}

/// `POST /api/v1/auth/reset/complete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetCompleteRequest {
    /// The emailed token.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Token))]
    pub token: Secret,
    /// New auth key.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub new_auth_key: Secret,
    /// New KDF salt.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes16))]
    pub new_kdf_salt: String,
    /// New KDF parameters.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::KdfParams))]
    pub new_kdf_params: KdfParams,
    /// New public keys (generation + 1).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::PublicKeys))]
    pub new_public_keys: String,
    /// New keyring wrapped under the new KEK.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::WrappedKeyring))]
    pub new_wrapped_keyring: String,
    /// One announcement per account of the member.
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub announcements: Vec<ResetAnnouncement>,
    /// The second factor, when the person has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor: Option<SecondFactorProof>,
    /// The person has lost every second factor and its recovery codes: they are removed (and
    /// e-mailed); enrol again afterwards.
    #[serde(default)]
    pub lost_second_factor: bool,
}

// ------------------------------------------------------------------ recovery kits

/// A guardian share as uploaded by its owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GuardianShareUpload {
    /// Share index.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 16))]
    pub index: u8,
    /// Guardian user id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub guardian_id: Id,
    /// Guardian key generation.
    pub guardian_generation: u32,
    /// Signed seal of the share to the guardian, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Sealed))]
    pub sealed: String,
}

/// `PUT /api/v1/recovery/kit`: replaces the caller's kit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutKitRequest {
    /// Kit id (4 bytes), base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes4))]
    pub kit_id: String,
    /// Shares needed.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 16))]
    pub threshold: u8,
    /// Shares made.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 16))]
    pub share_count: u8,
    /// Keyring generation the kit wraps.
    pub generation: u32,
    /// Keyring wrapped under R, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::WrappedKeyring))]
    pub wrapped_keyring: String,
    /// The server's share (one share: alone it reveals nothing), base64url; absent for a kit
    /// without a server share.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Share>))]
    pub server_share: Option<Secret>,
    /// Guardian shares.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 16))]
    pub guardians: Vec<GuardianShareUpload>,
}

/// The caller's kit, without secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KitStatus {
    /// Whether a kit exists.
    pub exists: bool,
    /// Shares needed.
    pub threshold: u8,
    /// Shares made.
    pub share_count: u8,
    /// Whether the server holds a share.
    pub server_share: bool,
    /// Guardian user ids.
    pub guardians: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// `POST /api/v1/recovery/begin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecoveryBeginRequest {
    /// The emailed token.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Token))]
    pub token: Secret,
    /// The recovering client's ephemeral X25519 public key, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub ephemeral_public_key: String,
}

/// A share released to the session's ephemeral key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleasedShare {
    /// Share index.
    pub index: u8,
    /// Anonymous seal to the ephemeral key, base64url.
    pub sealed: String,
    /// `server` or the guardian's user id.
    pub released_by: String,
}

/// The opened recovery session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryBeginResponse {
    /// Session id.
    pub session_id: String,
    /// Secret for the session's later calls (sent in bodies only).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub session_secret: Secret,
    /// User id.
    pub user_id: String,
    /// Kit id, base64url.
    pub kit_id: String,
    /// Shares needed.
    pub threshold: u8,
    /// Keyring generation.
    pub generation: u32,
    /// Keyring wrapped under R, base64url.
    pub wrapped_keyring: String,
    /// Guardians who can release a share: (index, user id).
    pub guardians: Vec<(u8, String)>,
    /// Shares released so far (the server's, at once).
    pub released: Vec<ReleasedShare>,
    /// Whether the person has a second factor: completing asks for it (or for
    /// `lost_second_factor`).
    #[serde(default)]
    pub second_factor: bool,
}

/// Session id + secret (`POST /api/v1/recovery/shares`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecoverySessionRequest {
    /// Session id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub session_id: Id,
    /// Session secret.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Token))]
    pub session_secret: Secret,
}

/// `POST /api/v1/recovery/complete`: the same keys, a new password.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecoveryCompleteRequest {
    /// Session id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub session_id: Id,
    /// Session secret.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Token))]
    pub session_secret: Secret,
    /// New auth key.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub new_auth_key: Secret,
    /// New KDF salt.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes16))]
    pub new_kdf_salt: String,
    /// New KDF parameters.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::KdfParams))]
    pub new_kdf_params: KdfParams,
    /// The recovered keyring wrapped under the new KEK.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::WrappedKeyring))]
    pub new_wrapped_keyring: String,
    /// The second factor, when the person has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor: Option<SecondFactorProof>,
    /// The person has lost every second factor: they are removed (and e-mailed).
    #[serde(default)]
    pub lost_second_factor: bool,
}

/// What a reset or a kit recovery says about the person's second factor.
#[derive(Debug, Clone, Default)]
pub enum FactorAtRecovery {
    /// None enrolled (or not asked yet: the server says so if one is).
    #[default]
    NotEnrolled,
    /// A fresh check: the factors stay.
    Proof(SecondFactorProof),
    /// Lost with its recovery codes: the factors are removed, to be enrolled again.
    Lost,
}

impl FactorAtRecovery {
    /// The request's two fields.
    pub fn fields(&self) -> (Option<SecondFactorProof>, bool) {
        match self {
            Self::NotEnrolled => (None, false),
            Self::Proof(p) => (Some(p.clone()), false),
            Self::Lost => (None, true),
        }
    }
}

/// An open recovery a guardian can help with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuardianRequest {
    /// Session id.
    pub session_id: String,
    /// The member recovering.
    pub owner_id: String,
    /// Their email.
    pub owner_email: String,
    /// Their public keys (the kit owner's, which signed the share), base64url.
    pub owner_public_keys: String,
    /// Kit id, base64url.
    pub kit_id: String,
    /// Share index held by the caller.
    pub index: u8,
    /// The share sealed to the caller, base64url.
    pub sealed: String,
    /// The recovering client's ephemeral key, base64url (compare its code with the member).
    pub ephemeral_public_key: String,
}

/// `POST /api/v1/recovery/release`: a guardian releases their share to the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReleaseShareRequest {
    /// Session id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub session_id: Id,
    /// Share index.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 16))]
    pub index: u8,
    /// Anonymous seal to the session's ephemeral key, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Sealed))]
    pub sealed: String,
}

// ------------------------------------------------------------------ workers

/// `POST /api/v1/accounts/{id}/workers`: registers a worker's public keys (admins). It can read
/// nothing until admins sign its grant into the team log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterWorkerRequest {
    /// The worker's random id (made by `vouchsafe worker init`).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub worker_id: Id,
    /// A name for people.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// The worker's public keys (generation 1), base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::PublicKeys))]
    pub public_keys: String,
}

/// A worker as members see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerInfo {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `read` or `read_write` once granted.
    pub access: String,
    /// `pending`, `active` or `revoked`.
    pub status: String,
    /// Public keys, base64url.
    pub public_keys: String,
    /// Registering admin.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// `POST /api/v1/workers/challenge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkerChallengeRequest {
    /// Worker id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub worker_id: Id,
}

/// A single-use challenge to sign.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerChallengeResponse {
    /// Challenge id.
    pub challenge_id: String,
    /// 32 random bytes, base64url.
    pub nonce: String,
}

/// `POST /api/v1/workers/token`: the Ed25519 signature over
/// `"vouchsafe/v1/worker-auth\0" ‖ str(worker_id) ‖ str(challenge_id) ‖ nonce`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkerTokenRequest {
    /// Challenge id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub challenge_id: Id,
    /// Signature, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Signature))]
    pub signature: String,
}

/// A short-lived access token with the worker role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerTokenResponse {
    /// Bearer token.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub access_token: Secret,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// The account the worker belongs to.
    pub account_id: String,
}

/// One audit event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Who.
    pub actor_id: String,
    /// `worker`, `member`, `api_token`, or `operator` (a server operator's `vouchsafe admin`;
    /// `actor_id` is then what they acted on: a user or an invitation).
    pub actor_kind: String,
    /// The API token's name, for `api_token` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// What (`items.read`, `items.write`).
    pub action: String,
    /// How many items.
    pub item_count: u64,
    /// Unix seconds.
    pub created_at: i64,
}

/// What an API token may do, each on its own documented routes of its one account. No scope
/// reaches items, keys, the log or anything of a person's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    /// Invite (as `member` or `admin`, never `owner`), list and revoke invitations.
    #[serde(rename = "invitations:write")]
    InvitationsWrite,
    /// List members (ids, e-mails, roles, statuses; public keys included, as members see them).
    #[serde(rename = "members:read")]
    MembersRead,
    /// Deprovision a member: no more reads at once, the account marked for rotation.
    #[serde(rename = "members:deprovision")]
    MembersDeprovision,
    /// The SCIM 2.0 service under `/scim/v2/{account_id}/`.
    #[serde(rename = "scim")]
    Scim,
    /// A provider's: read the inbox key and deposit into the account's inbox — nothing else
    /// (not even its own deposits once made). Given alone, never beside another scope.
    #[serde(rename = "inbox:deposit")]
    InboxDeposit,
    /// A provider's that cannot seal: it may also send a record in plaintext (over HTTPS),
    /// which the server seals to the inbox key on arrival and keeps nothing of in clear — the
    /// deposit is marked as seen by the server in transit. Only beside `inbox:deposit`.
    #[serde(rename = "inbox:plaintext")]
    InboxPlaintext,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 6] = [
        Scope::InvitationsWrite,
        Scope::MembersRead,
        Scope::MembersDeprovision,
        Scope::Scim,
        Scope::InboxDeposit,
        Scope::InboxPlaintext,
    ];

    /// The scope as written on the wire and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::InvitationsWrite => "invitations:write",
            Scope::MembersRead => "members:read",
            Scope::MembersDeprovision => "members:deprovision",
            Scope::Scim => "scim",
            Scope::InboxDeposit => "inbox:deposit",
            Scope::InboxPlaintext => "inbox:plaintext",
        }
    }

    /// Whether this is one of a provider's scopes (which a token carries only with each other).
    pub fn is_provider(self) -> bool {
        matches!(self, Scope::InboxDeposit | Scope::InboxPlaintext)
    }

    /// The scope written `s`, if any.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// `POST /api/v1/accounts/{id}/tokens` (admins, in a person's session).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiTokenRequest {
    /// What the token is for ("Okta", "HR sync"): shown in the list and the audit trail.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Name))]
    pub name: String,
    /// At least one scope.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 6))]
    pub scopes: Vec<Scope>,
    /// Days until it stops working (1–3650); none: until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650))]
    pub expires_in_days: Option<u32>,
}

/// An API token as admins see it (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiTokenInfo {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<Scope>,
    /// The admin who created it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; none: until revoked.
    pub expires_at: Option<i64>,
    /// Unix seconds of the last use.
    pub last_used_at: Option<i64>,
    /// Unix seconds; set once revoked.
    pub revoked_at: Option<i64>,
}

/// A new API token: its secret, shown this once (`vst_` and 43 characters: 256 random bits).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiToken {
    /// The secret, for `Authorization: Bearer …`; the server keeps only its SHA-256.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub token: Secret,
    /// The token.
    pub info: ApiTokenInfo,
}

/// `GET /api/v1/accounts/{id}/inbox/key`: the inbox key deposits are sealed to now, as the
/// server serves it. A provider compares its code with the one it pinned (the server could
/// serve any key); a member's client takes inbox keys from the verified log instead.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxKeyResponse {
    /// The account.
    pub account_id: String,
    /// The inbox key's version.
    pub inbox_version: u32,
    /// X25519 public key, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub public_key: String,
    /// The caller's provider id (its token's id), bound into every deposit's AAD; absent for
    /// a member or worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
}

/// `PUT /api/v1/accounts/{id}/inbox/deposits/{deposit_id}` (providers): content sealed to the
/// inbox key. Idempotent: the same id with the same bytes again answers 200, with other bytes
/// 409 `deposit.conflict`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutDepositRequest {
    /// `record` (a file deposit streams its body: not this route).
    pub kind: String,
    /// The inbox key version it is sealed to.
    pub inbox_version: u32,
    /// The content key, sealed anonymously (HPKE) to the inbox key, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::DepositSeal))]
    pub seal: String,
    /// The record encrypted under the content key, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::DepositBody))]
    pub body: String,
}

/// `PUT /api/v1/accounts/{id}/inbox/plaintext/{deposit_id}` (a provider's token with
/// `inbox:plaintext`): a record in clear, which the server seals to the inbox key on arrival.
/// The server keeps nothing to compare it with: a used id is a 409, retry or not.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlaintextDepositRequest {
    /// Field names (as item field names) and their text, 1 to 64 fields of at most 64 KiB.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::PlaintextFields))]
    pub fields: std::collections::BTreeMap<String, Secret>,
}

/// What the server says of a deposit it took.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DepositReceipt {
    /// The deposit id.
    pub id: String,
    /// The provider id.
    pub provider_id: String,
    /// Unix seconds it first arrived.
    pub created_at: i64,
}

/// A deposit in the inbox, as members and workers list it (no content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DepositSummary {
    /// The provider (its token's id).
    pub provider_id: String,
    /// The provider token's name, as the server knows it (not endorsed by the log).
    pub provider_name: String,
    /// The provider's id of the deposit.
    pub id: String,
    /// `record` or `file`.
    pub kind: String,
    /// The inbox key version it is sealed to.
    pub inbox_version: u32,
    /// Size of the encrypted body, bytes.
    pub size: u64,
    /// Whether the server sealed it on arrival (the provider sent plaintext: the server saw it
    /// in transit).
    pub sealed_by_server: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// A deposit with its content (`GET …/inbox/deposits/{provider_id}/{deposit_id}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DepositWire {
    /// What the list shows.
    #[serde(flatten)]
    pub summary: DepositSummary,
    /// The sealed content key, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::DepositSeal))]
    pub seal: String,
    /// The encrypted record, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::DepositBody))]
    pub body: String,
}

/// A page of an inbox's deposits, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DepositPage {
    /// Deposits.
    pub deposits: Vec<DepositSummary>,
    /// For the next page (`?cursor=`), if there may be more.
    pub next_cursor: Option<String>,
}

/// An inbox key as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxKeyWire {
    /// Its version.
    pub inbox_version: u32,
    /// X25519 public key, base64url.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Bytes32))]
    pub public_key: String,
    /// The log entry that endorsed it.
    pub log_seq: u64,
}

/// `GET /api/v1/accounts/{id}/inbox` (members, workers): the inbox keys, their wraps, and how
/// many deposits wait.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxView {
    /// Inbox keys, oldest first.
    pub inbox_keys: Vec<InboxKeyWire>,
    /// Their secrets, wrapped under master key versions.
    pub wraps: Vec<InboxWrapUpload>,
    /// Deposits waiting.
    pub deposit_count: u64,
}

/// The bytes a worker signs to log in.
pub fn worker_auth_message(worker_id: &str, challenge_id: &str, nonce: &[u8]) -> Vec<u8> {
    let mut m = b"vouchsafe/v1/worker-auth\0".to_vec();
    for part in [worker_id.as_bytes(), challenge_id.as_bytes()] {
        m.extend_from_slice(&u16::try_from(part.len()).unwrap_or(u16::MAX).to_be_bytes());
        m.extend_from_slice(part);
    }
    m.extend_from_slice(nonce);
    m
}

/// One update in a batch: compare-and-set on `revision`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BatchItemUpdate {
    /// Item id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Id))]
    pub id: Id,
    /// The revision read.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 9223372036854775807_i64))]
    pub revision: u64,
    /// Key version of every field.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2147483647))]
    pub key_version: u32,
    /// Encrypted fields.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::ItemFields))]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// `POST /api/v1/accounts/{id}/items/batch`: up to 500 updates in one transaction (what a
/// rotation sends per page).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BatchUpdateRequest {
    /// Updates, one per item id (a repeated id is `400 item.duplicate_id`).
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500))]
    pub items: Vec<BatchItemUpdate>,
}

/// Per item: `updated`, `stale` (the revision moved on) or `missing`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchUpdateResponse {
    /// Outcome per item, in request order.
    pub results: Vec<String>,
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn a_secret_goes_on_the_wire_as_itself_and_never_into_debug() {
        let s = Secret::from("tok-SECRET-123");
        assert_eq!(serde_json::to_string(&s).ok().as_deref(), Some("\"tok-SECRET-123\""));
        let back: Secret = serde_json::from_str("\"tok-SECRET-123\"").unwrap_or_default();
        assert_eq!(back.expose(), "tok-SECRET-123");
        assert_eq!(format!("{s:?}"), "<redacted>");
        let req = LoginRequest { email: "a@example.com".into(), auth_key: "AUTHKEY-SECRET".into() };
        let shown = format!("{req:?}");
        assert!(!shown.contains("AUTHKEY-SECRET") && shown.contains("a@example.com"), "{shown}");
    }
}

#[cfg(test)]
mod device_tests {
    use super::device_name;

    #[test]
    fn sessions_are_named_by_browser_and_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/143.0.0.0 Safari/537.36",
                "Chrome 143 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
                "Edge 131 on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox 133 on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari 18 on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome 131 on Android",
            ),
            ("vouchsafe-client/0.1.0", "Vouchsafe CLI 0.1.0"),
            ("curl/8.5.0", "curl 8.5.0"),
            ("", "Unknown device"),
        ];
        for (ua, want) in cases {
            assert_eq!(device_name(ua), want, "{ua}");
        }
    }
}
