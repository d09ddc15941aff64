//! Second factors: authenticator apps (TOTP, RFC 6238) and single-use recovery codes; the login
//! challenge a right password leaves when one is enrolled; enrolment, listing, renaming, removal
//! (after a fresh check of a factor), and the e-mail each change sends.
//!
//! TOTP secrets are sealed under the server's `mfa.key` (never in the database in clear);
//! recovery codes are kept as HMAC-SHA-256 under a key derived from it, so a copy of the
//! database alone neither yields codes nor lets anyone test guesses offline. Wrong answers are
//! counted per person (`second_factor_failures_per_account` per window) across logins, removals
//! and resets; a login challenge also dies after a few wrong answers.

use hmac::{KeyInit as _, Mac};
use vouchsafe_client::types::*;
use zeroize::Zeroizing;

use crate::auth::{self as tokens_, hash_token, new_id, new_opaque_token};
use crate::error::ApiError;
use crate::service::auth::{argon, keyring_of, open_session, signed_in};
use crate::state::AppState;
use crate::store::{counters, mfa, users};
use crate::totp;
use entity::{login_challenge, second_factor, user};

/// Seconds a login challenge stays good.
pub const CHALLENGE_TTL: i64 = 300;
/// Wrong answers one login challenge takes before it dies.
const CHALLENGE_FAILURES: i32 = 3;
/// Seconds an enrolment waits for its confirming code.
const ENROL_TTL: i64 = 900;
/// Recovery codes per set.
pub const RECOVERY_CODES: usize = 10;
/// Factors per person.
const MAX_FACTORS: usize = 10;
const SECRET_PURPOSE: &str = "vouchsafe/v1/totp-secret";
const CODE_PURPOSE: &[u8] = b"vouchsafe/v1/recovery-code";
/// What the authenticator app shows as the issuer.
const ISSUER: &str = "Vouchsafe";

/// What answered a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Used {
    /// The authenticator app.
    Totp,
    /// A recovery code; this many are left.
    RecoveryCode(u64),
    /// A passkey or security key.
    Webauthn,
}

fn sealed_context(user_id: &str, factor_id: &str) -> Vec<u8> {
    format!("{user_id}/{factor_id}").into_bytes()
}

fn seal_secret(state: &AppState, user_id: &str, factor_id: &str, secret: &[u8]) -> Result<Vec<u8>, ApiError> {
    vouchsafe_crypto::at_rest::seal(
        state.secrets.mfa_key.expose_secret(),
        SECRET_PURPOSE,
        &sealed_context(user_id, factor_id),
        secret,
        &mut vouchsafe_crypto::os_rng(),
    )
    .map_err(|e| ApiError::Internal(format!("second factor secret: {e}")))
}

fn open_secret(state: &AppState, f: &second_factor::Model) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    vouchsafe_crypto::at_rest::open(
        state.secrets.mfa_key.expose_secret(),
        SECRET_PURPOSE,
        &sealed_context(&f.user_id, &f.id),
        &f.secret,
    )
    .map_err(|_| ApiError::Internal("a second factor does not open under mfa.key (was the key file replaced?)".into()))
}

/// A recovery code as typed, normalised: lower case, without spaces or dashes.
fn normalise_code(typed: &str) -> Zeroizing<String> {
    Zeroizing::new(typed.chars().filter(|c| !matches!(c, ' ' | '-')).flat_map(char::to_lowercase).collect())
}

/// The stored form of a person's recovery code.
fn code_hash(state: &AppState, user_id: &str, code: &str) -> Result<[u8; 32], ApiError> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(state.secrets.mfa_key.expose_secret())
        .map_err(|_| ApiError::Internal("mfa key".into()))?;
    mac.update(CODE_PURPOSE);
    mac.update(&[0]);
    mac.update(user_id.as_bytes());
    mac.update(&[0]);
    mac.update(normalise_code(code).as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

/// A fresh set of recovery codes: ten characters of base32 (50 bits) each, shown `abcde-fghij`.
fn new_codes() -> Result<Vec<Secret>, ApiError> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut b = Zeroizing::new([0u8; 7]);
            getrandom::fill(&mut b[..]).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
            let s = Zeroizing::new(totp::base32(&b[..]).to_lowercase());
            Ok(Secret::from(format!("{}-{}", &s[..5], &s[5..10])))
        })
        .collect()
}

/// Stores a fresh set of codes for the person (the old ones stop working) and returns them.
async fn replace_codes<C: crate::store::Conn>(
    db: &C,
    state: &AppState,
    user_id: &str,
    now: i64,
) -> Result<Vec<Secret>, ApiError> {
    let codes = new_codes()?;
    let hashes = codes.iter().map(|c| code_hash(state, user_id, c.expose())).collect::<Result<Vec<_>, _>>()?;
    mfa::replace_codes(db, user_id, &hashes, now).await?;
    Ok(codes)
}

fn fail_key(user_id: &str) -> String {
    format!("second-factor-fail:{user_id}")
}

fn wrong() -> ApiError {
    ApiError::Forbidden {
        code: "auth.second_factor_wrong",
        message: "that code is wrong, used already or expired; try the next one".into(),
    }
}

/// Checks a second factor of the person: the app's code (each step once) or a recovery code
/// (each once). Wrong answers are counted; past the limit every check is refused until the
/// window ends, right or wrong.
pub async fn check(state: &AppState, user_id: &str, proof: &SecondFactorProof, now: i64) -> Result<Used, ApiError> {
    let rl = &state.config.rate_limits;
    let key = fail_key(user_id);
    if counters::current(&state.db, &key, rl.window_secs, now).await?
        >= i64::from(rl.second_factor_failures_per_account)
    {
        return Err(ApiError::RateLimited { retry_after: tokens_::retry_after(rl.window_secs, now) });
    }
    let used = match (&proof.totp, &proof.recovery_code, &proof.webauthn) {
        (None, None, Some(a)) => match crate::service::passkeys::check(state, user_id, a, now).await {
            Ok(()) => Some(Used::Webauthn),
            Err(e @ ApiError::Forbidden { .. }) => {
                counters::bump(&state.db, &key, rl.window_secs, now).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        },
        (Some(code), None, None) => {
            let mut ok = false;
            for f in mfa::confirmed(&state.db, user_id).await?.iter().filter(|f| f.kind == "totp") {
                // A secret that does not open (mfa.key replaced) matches nothing: the person
                // signs in with a recovery code, or resets saying the factor is lost.
                let Ok(secret) = open_secret(state, f) else {
                    tracing::error!(factor = %f.id, "a second factor does not open under mfa.key");
                    continue;
                };
                if let Some(step) = totp::matching_step(&secret, code.expose(), now, f.last_step)
                    && mfa::take_step(&state.db, &f.id, step, now, false).await?
                {
                    ok = true;
                    break;
                }
            }
            ok.then_some(Used::Totp)
        }
        (None, Some(code), None) => {
            let hash = code_hash(state, user_id, code.expose())?;
            if mfa::use_code(&state.db, user_id, hash, now).await? {
                Some(Used::RecoveryCode(mfa::codes_left(&state.db, user_id).await?))
            } else {
                None
            }
        }
        _ => {
            return Err(ApiError::bad(
                "auth.second_factor_missing",
                "give exactly one second factor: totp (the app's code), webauthn (a passkey's answer) or recovery_code",
            ));
        }
    };
    match used {
        Some(u) => {
            if let Used::RecoveryCode(left) = u {
                notify(
                    state,
                    user_id,
                    &format!("A recovery code was used to sign in or confirm a change; {left} left."),
                    now,
                )
                .await?;
            }
            Ok(u)
        }
        None => {
            counters::bump(&state.db, &key, rl.window_secs, now).await?;
            Err(wrong())
        }
    }
}

/// E-mails the person that their second factors changed.
async fn notify(state: &AppState, user_id: &str, what: &str, now: i64) -> Result<(), ApiError> {
    let Some(u) = users::by_id(&state.db, user_id).await? else { return Ok(()) };
    let msg = state.templates.message("second_factor", &[("email", &u.email), ("what", what)])?;
    crate::mail::enqueue(&state.db, &u.email, "Your Vouchsafe second factors changed", msg, now).await?;
    state.mail_wakeup.notify_one();
    Ok(())
}

/// The answer to a right password: a session, or a challenge when a second factor is enrolled.
pub async fn after_password(
    state: &AppState,
    u: user::Model,
    user_agent: Option<String>,
    now: i64,
) -> Result<LoginAnswer, ApiError> {
    if !mfa::has_any(&state.db, &u.id).await? {
        let tokens = open_session(state, &u.id, user_agent, now).await?;
        return Ok(LoginAnswer::Session(Box::new(LoginResponse { tokens, keyring: keyring_of(u)? })));
    }
    mfa::prune_challenges(&state.db, &u.id, now).await?;
    let (token, hash) = new_opaque_token()?;
    let row = login_challenge::Model {
        token_hash: hash.to_vec(),
        user_id: u.id.clone(),
        user_agent: user_agent.map(|a| a.chars().take(255).collect()),
        failures: 0,
        created_at: now,
        expires_at: now + CHALLENGE_TTL,
        used_at: None,
    };
    mfa::add_challenge(&state.db, row).await?;
    let factors = mfa::confirmed(&state.db, &u.id).await?;
    let mut methods = Vec::new();
    for kind in ["totp", "webauthn"] {
        if factors.iter().any(|f| f.kind == kind) {
            methods.push(kind.to_owned());
        }
    }
    if mfa::codes_left(&state.db, &u.id).await? > 0 {
        methods.push("recovery_code".to_owned());
    }
    Ok(LoginAnswer::SecondFactor(SecondFactorRequired {
        second_factor: SecondFactorChallenge {
            challenge: Secret::from(token.to_string()),
            methods,
            expires_in: CHALLENGE_TTL,
        },
    }))
}

/// `POST /auth/login/second-factor`: the challenge and a factor → the session and keyring.
pub async fn finish_login(
    state: &AppState,
    req: SecondFactorLoginRequest,
    now: i64,
) -> Result<LoginResponse, ApiError> {
    let gone = || {
        ApiError::unauthorized("auth.challenge_invalid", "this sign-in expired or was used; enter your password again")
    };
    if req.challenge.expose().len() > 64 {
        return Err(gone());
    }
    let hash = hash_token(req.challenge.expose());
    let ch = mfa::live_challenge(&state.db, hash, CHALLENGE_FAILURES, now).await?.ok_or_else(gone)?;
    if let Err(e) = check(state, &ch.user_id, &req.second_factor, now).await {
        if matches!(e, ApiError::Forbidden { code: "auth.second_factor_wrong" | "auth.passkey_refused", .. }) {
            mfa::challenge_failed(&state.db, hash).await?;
        }
        return Err(e);
    }
    let ch = mfa::claim_challenge(&state.db, hash, now).await?.ok_or_else(gone)?;
    let u = users::by_id(&state.db, &ch.user_id).await?.ok_or_else(gone)?;
    if u.disabled_at.is_some() {
        return Err(ApiError::Forbidden {
            code: "auth.user_disabled",
            message: "this user is disabled; ask the server's operator".into(),
        });
    }
    let tokens = open_session(state, &u.id, ch.user_agent, now).await?;
    Ok(LoginResponse { tokens, keyring: keyring_of(u)? })
}

fn check_name(name: &str) -> Result<String, ApiError> {
    crate::service::accounts::checked_name(name, "auth.invalid_factor_name")
}

/// Before an enrolment: the password again (a stolen session alone cannot add a factor), stale
/// enrolments dropped, room for one more.
async fn before_enrolment(
    state: &AppState,
    user_id: &str,
    auth_key: &Secret,
    now: i64,
) -> Result<user::Model, ApiError> {
    let key =
        Zeroizing::new(vouchsafe_crypto::b64::decode_array::<32>(auth_key.expose()).map_err(|_| {
            ApiError::bad("request.invalid_field", "auth_key: expected 32 bytes as unpadded base64url")
        })?);
    let u = signed_in(state, user_id).await?;
    let stored = u.auth_hash.clone();
    if !argon(state, move |m| tokens_::verify_auth_key(m, &stored, &key[..])).await? {
        return Err(ApiError::Forbidden { code: "auth.wrong_password", message: "the password is wrong".into() });
    }
    mfa::drop_unconfirmed(&state.db, user_id, now - ENROL_TTL).await?;
    if mfa::confirmed(&state.db, user_id).await?.len() >= MAX_FACTORS {
        return Err(ApiError::conflict("auth.too_many_factors", format!("at most {MAX_FACTORS} second factors")));
    }
    Ok(u)
}

/// Starts a passkey or security-key enrolment, after checking the password again.
pub async fn enrol_webauthn(
    state: &AppState,
    user_id: &str,
    req: WebauthnEnrolRequest,
    now: i64,
) -> Result<WebauthnEnrolment, ApiError> {
    let name = check_name(req.name.as_deref().unwrap_or("Passkey"))?;
    let u = before_enrolment(state, user_id, &req.auth_key, now).await?;
    let (row, mut out) = crate::service::passkeys::enrol(state, &u, name, new_id()?, now).await?;
    mfa::add(&state.db, row).await?;
    out.expires_in = ENROL_TTL;
    Ok(out)
}

/// Starts an authenticator-app enrolment, after checking the password again.
pub async fn enrol_totp(
    state: &AppState,
    user_id: &str,
    req: TotpEnrolRequest,
    now: i64,
) -> Result<TotpEnrolment, ApiError> {
    let name = check_name(req.name.as_deref().unwrap_or("Authenticator app"))?;
    let u = before_enrolment(state, user_id, &req.auth_key, now).await?;
    let mut secret = Zeroizing::new([0u8; totp::SECRET_LEN]);
    getrandom::fill(&mut secret[..]).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    let id = new_id()?;
    let row = second_factor::Model {
        secret: seal_secret(state, user_id, &id, &secret[..])?,
        id: id.clone(),
        user_id: user_id.to_owned(),
        kind: "totp".into(),
        name,
        last_step: 0,
        confirmed_at: None,
        created_at: now,
        last_used_at: None,
        credential: None,
        credential_id: None,
        prf_wrap: None,
        pending: None,
    };
    mfa::add(&state.db, row).await?;
    Ok(TotpEnrolment {
        id,
        secret: Secret::from(totp::base32(&secret[..])),
        otpauth_uri: Secret::from(totp::otpauth_uri(ISSUER, &u.email, &secret[..])),
        expires_in: ENROL_TTL,
    })
}

fn info(f: &second_factor::Model) -> SecondFactorInfo {
    SecondFactorInfo {
        id: f.id.clone(),
        kind: f.kind.clone(),
        name: f.name.clone(),
        created_at: f.created_at,
        last_used_at: f.last_used_at,
        unlock: f.prf_wrap.is_some(),
    }
}

fn no_factor() -> ApiError {
    ApiError::not_found("auth.no_such_factor", "no such second factor")
}

/// Confirms an enrolment with the app's current code; the first factor comes with recovery codes.
pub async fn confirm(
    state: &AppState,
    user_id: &str,
    id: &str,
    req: ConfirmFactorRequest,
    now: i64,
) -> Result<ConfirmedFactor, ApiError> {
    let f = mfa::by_id(&state.db, user_id, id).await?.filter(|f| f.confirmed_at.is_none()).ok_or_else(no_factor)?;
    if f.created_at < now - ENROL_TTL {
        mfa::delete(&state.db, user_id, id).await?;
        return Err(ApiError::not_found("auth.no_such_factor", "this enrolment expired; start again"));
    }
    let first = !mfa::has_any(&state.db, user_id).await?;
    let what = match (f.kind.as_str(), &req) {
        ("totp", ConfirmFactorRequest { code: Some(code), credential: None, prf_wrap: None }) => {
            let secret = open_secret(state, &f)?;
            let Some(step) = totp::matching_step(&secret, code.expose(), now, f.last_step) else {
                return Err(ApiError::Forbidden {
                    code: "auth.second_factor_wrong",
                    message: "that code does not match; check the phone's clock and type the code the app shows now"
                        .into(),
                });
            };
            if !mfa::take_step(&state.db, id, step, now, true).await? {
                return Err(no_factor());
            }
            format!("An authenticator app (\u{201c}{}\u{201d}) was added as a second factor.", f.name)
        }
        ("webauthn", ConfirmFactorRequest { code: None, credential: Some(c), prf_wrap }) => {
            if !crate::service::passkeys::confirm(state, &f, c, prf_wrap.as_deref(), now).await? {
                return Err(no_factor());
            }
            let unlock = if prf_wrap.is_some() { " It can also unlock your keys in the dashboard." } else { "" };
            format!("A passkey (\u{201c}{}\u{201d}) was added as a second factor.{unlock}", f.name)
        }
        ("totp", _) => {
            return Err(ApiError::bad("request.invalid_field", "confirm an authenticator app with its code"));
        }
        _ => {
            return Err(ApiError::bad(
                "request.invalid_field",
                "confirm a passkey with the browser's answer (credential) and, optionally, prf_wrap",
            ));
        }
    };
    let recovery_codes = if first { replace_codes(&state.db, state, user_id, now).await? } else { Vec::new() };
    notify(state, user_id, &what, now).await?;
    let f = mfa::by_id(&state.db, user_id, id).await?.ok_or_else(no_factor)?;
    Ok(ConfirmedFactor { factor: info(&f), recovery_codes })
}

/// The person's confirmed factors and how many recovery codes are left.
pub async fn list(state: &AppState, user_id: &str) -> Result<SecondFactors, ApiError> {
    let factors = mfa::confirmed(&state.db, user_id).await?.iter().map(info).collect();
    let left = mfa::codes_left(&state.db, user_id).await?;
    Ok(SecondFactors { factors, recovery_codes_left: u32::try_from(left).unwrap_or(u32::MAX) })
}

/// `POST /auth/login/second-factor/webauthn`: a passkey check for a live login challenge.
pub async fn login_passkey_options(
    state: &AppState,
    req: WebauthnLoginOptionsRequest,
    now: i64,
) -> Result<WebauthnCeremony, ApiError> {
    let gone = || {
        ApiError::unauthorized("auth.challenge_invalid", "this sign-in expired or was used; enter your password again")
    };
    if req.challenge.expose().len() > 64 {
        return Err(gone());
    }
    let ch = mfa::live_challenge(&state.db, hash_token(req.challenge.expose()), CHALLENGE_FAILURES, now)
        .await?
        .ok_or_else(gone)?;
    crate::service::passkeys::begin_check(state, &ch.user_id, now).await
}

/// Renames a factor.
pub async fn rename(state: &AppState, user_id: &str, id: &str, req: RenameFactorRequest) -> Result<(), ApiError> {
    let name = check_name(&req.name)?;
    if mfa::rename(&state.db, user_id, id, &name).await? { Ok(()) } else { Err(no_factor()) }
}

/// Removes a factor after a fresh check (of this factor or another, or a recovery code); with
/// the last one, the recovery codes go too.
pub async fn remove(
    state: &AppState,
    user_id: &str,
    id: &str,
    proof: SecondFactorProof,
    now: i64,
) -> Result<(), ApiError> {
    let f = mfa::by_id(&state.db, user_id, id).await?.filter(|f| f.confirmed_at.is_some()).ok_or_else(no_factor)?;
    check(state, user_id, &proof, now).await?;
    mfa::delete(&state.db, user_id, id).await?;
    let last = !mfa::has_any(&state.db, user_id).await?;
    if last {
        mfa::replace_codes(&state.db, user_id, &[], now).await?;
    }
    let kind = if f.kind == "webauthn" { "passkey" } else { "authenticator app" };
    let what = if last {
        format!(
            "The {kind} \u{201c}{}\u{201d} was removed. It was the last second factor: a password alone signs in now.",
            f.name
        )
    } else {
        format!("The {kind} \u{201c}{}\u{201d} was removed.", f.name)
    };
    notify(state, user_id, &what, now).await
}

/// New recovery codes after a fresh check; the old ones stop working.
pub async fn new_recovery_codes(
    state: &AppState,
    user_id: &str,
    proof: SecondFactorProof,
    now: i64,
) -> Result<RecoveryCodes, ApiError> {
    if !mfa::has_any(&state.db, user_id).await? {
        return Err(ApiError::conflict("auth.no_second_factor", "enrol a second factor first"));
    }
    check(state, user_id, &proof, now).await?;
    let recovery_codes = replace_codes(&state.db, state, user_id, now).await?;
    notify(state, user_id, "A new set of recovery codes was made; the old codes no longer work.", now).await?;
    Ok(RecoveryCodes { recovery_codes })
}

/// At a reset or a kit recovery of `user_id`: with a second factor enrolled, its fresh check
/// (the factors stay), or the person's word that it is lost (true: remove them, with
/// [`drop_after_recovery`], in the recovery's transaction). Without one, nothing is asked.
pub async fn at_recovery(
    state: &AppState,
    user_id: &str,
    proof: Option<&SecondFactorProof>,
    lost: bool,
    now: i64,
) -> Result<bool, ApiError> {
    if !mfa::has_any(&state.db, user_id).await? {
        return Ok(false);
    }
    match (proof, lost) {
        (Some(p), false) => check(state, user_id, p, now).await.map(|_| false),
        (None, true) => Ok(true),
        _ => Err(ApiError::bad(
            "auth.second_factor_required",
            "this person has a second factor: give its code (second_factor), or say it is lost \
             (lost_second_factor) — then it is removed and enrolled again afterwards",
        )),
    }
}

/// Removes every factor of a person who lost them, in the recovery's transaction, and tells them.
pub async fn drop_after_recovery<C: crate::store::Conn>(
    txn: &C,
    templates: &crate::mail::Templates,
    u: &user::Model,
    now: i64,
) -> Result<(), ApiError> {
    mfa::delete_all(txn, &u.id).await?;
    let what = "Every second factor and recovery code was removed while the password was reset or the keys \
                recovered (they were reported lost). Enrol an authenticator app again once you are back in.";
    let msg = templates.message("second_factor", &[("email", &u.email), ("what", what)])?;
    crate::mail::enqueue(txn, &u.email, "Your Vouchsafe second factors were removed", msg, now).await
}

/// The refusal of an item or key read to a member without a second factor, in an account whose
/// log requires one: what to do, in plain words.
pub fn required_refusal() -> ApiError {
    ApiError::Forbidden {
        code: "account.second_factor_required",
        message: "this team requires a second factor: set up an authenticator app (dashboard: Settings → Second \
                  factors; CLI: vouchsafe mfa totp enrol), then try again"
            .into(),
    }
}
