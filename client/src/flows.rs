//! Multi-step flows: the client does all cryptography; the server only sees the auth key,
//! public keys and the wrapped keyring.

use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::{Keyring, PublicIdentity, WrappedKeyring};
use vouchsafe_crypto::kdf::{KdfParams, Salt, derive_password_keys, new_salt};
pub use vouchsafe_crypto::passkey::{PrfOutput, prf_input};

use crate::types::*;
use crate::{Client, ClientError};

/// A signed-in member: tokens plus the unwrapped keyring (private keys; zeroized on drop).
#[derive(Debug)]
pub struct Session {
    /// User id.
    pub user_id: String,
    /// Tokens.
    pub tokens: TokenResponse,
    /// Private keys of the current generation.
    pub keyring: Keyring,
}

/// The fewest characters a new password may have (every client: CLI, dashboard, library).
pub const MIN_PASSWORD: usize = 10;

/// Refuses a new password shorter than [`MIN_PASSWORD`] characters.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(format!("choose a password of at least {MIN_PASSWORD} characters"));
    }
    Ok(())
}

/// Creates an account: random user id, salt, keys (generation 1), wrapped keyring.
pub fn register(client: &Client, email: &str, password: &str, params: KdfParams) -> Result<String, ClientError> {
    let mut rng = vouchsafe_crypto::os_rng();
    let user_id = Id::random();
    let salt = new_salt(&mut rng);
    let keys = derive_password_keys(password.as_bytes(), &salt, &params)?;
    let keyring = Keyring::generate(&user_id, 1, &mut rng)?;
    let wrapped = keyring.wrap(&keys.kek, &mut rng);
    let out = client.register(&RegisterRequest {
        user_id,
        email: email.into(),
        auth_key: b64::encode(keys.auth_key.expose_secret()).into(),
        kdf_salt: b64::encode(salt.expose_secret()),
        kdf_params: params,
        public_keys: b64::encode(&keyring.public().keys_to_bytes()),
        wrapped_keyring: b64::encode(wrapped.as_bytes()),
    })?;
    Ok(out.user_id)
}

/// Derives the auth key for `email` (prelogin parameters are checked against the floor, so a
/// server cannot downgrade the KDF).
fn auth_key_for(
    client: &Client,
    email: &str,
    password: &str,
) -> Result<(String, vouchsafe_crypto::kdf::PasswordKeys), ClientError> {
    let pre = client.prelogin(email)?;
    let salt = Salt::try_from_slice(&b64::decode(&pre.kdf_salt, 16)?)?;
    let keys = derive_password_keys(password.as_bytes(), &salt, &pre.kdf_params)?;
    Ok((b64::encode(keys.auth_key.expose_secret()), keys))
}

/// Logs in and unwraps the keyring, checking it matches the public keys the server returned.
/// An account with a second factor answers [`ClientError::SecondFactorRequired`]: use
/// [`begin_login`] and [`PendingLogin::finish`] (or [`login_with`]) for it.
pub fn login(client: &mut Client, email: &str, password: &str) -> Result<Session, ClientError> {
    match begin_login(client, email, password)? {
        LoginStep::Done(s) => Ok(*s),
        LoginStep::SecondFactor(p) => Err(ClientError::SecondFactorRequired { methods: p.methods().to_vec() }),
    }
}

/// Logs in, answering a second-factor challenge (if the account has one) with `factor`.
pub fn login_with(
    client: &mut Client,
    email: &str,
    password: &str,
    factor: impl FnOnce(&[String]) -> Result<SecondFactorProof, ClientError>,
) -> Result<Session, ClientError> {
    match begin_login(client, email, password)? {
        LoginStep::Done(s) => Ok(*s),
        LoginStep::SecondFactor(p) => {
            let proof = factor(p.methods())?;
            p.finish(client, &proof)
        }
    }
}

/// Where a password login stands.
pub enum LoginStep {
    /// Signed in.
    Done(Box<Session>),
    /// The password was right; the account's second factor comes next.
    SecondFactor(PendingLogin),
}

/// A password login waiting for its second factor: holds the key-encryption key derived from
/// the password (wiped on drop) until the server hands over the wrapped keyring.
pub struct PendingLogin {
    kek: vouchsafe_crypto::kdf::Kek,
    challenge: SecondFactorChallenge,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin").field("methods", &self.challenge.methods).finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// What the server takes: `totp`, `recovery_code`.
    pub fn methods(&self) -> &[String] {
        &self.challenge.methods
    }

    /// Answers the challenge with a second factor. A wrong code leaves the login pending (the
    /// server allows a few tries per challenge); anything else ends it.
    pub fn finish(&self, client: &mut Client, proof: &SecondFactorProof) -> Result<Session, ClientError> {
        let req =
            SecondFactorLoginRequest { challenge: self.challenge.challenge.clone(), second_factor: proof.clone() };
        let resp = client.login_second_factor(&req)?;
        signed_in(client, resp, &self.kek)
    }
}

impl PendingLogin {
    /// A passkey check for this login: hand its options to the authenticator, then answer with
    /// [`passkey_proof`] and [`PendingLogin::finish`].
    pub fn passkey_options(&self, client: &Client) -> Result<WebauthnCeremony, ClientError> {
        client.login_webauthn_options(&self.challenge.challenge)
    }
}

/// A second-factor proof from a passkey's answer to `ceremony` (any PRF results dropped).
pub fn passkey_proof(ceremony: &WebauthnCeremony, credential: &serde_json::Value) -> SecondFactorProof {
    SecondFactorProof {
        webauthn: Some(WebauthnAssertion {
            ceremony: ceremony.ceremony.clone(),
            credential: without_prf_results(credential),
        }),
        ..Default::default()
    }
}

/// A WebAuthn credential as JSON without its PRF results: the PRF output is the passkey's
/// unlock secret and never goes to the server (only `enabled` may).
pub fn without_prf_results(credential: &serde_json::Value) -> serde_json::Value {
    let mut c = credential.clone();
    for key in ["clientExtensionResults", "extensions"] {
        if let Some(prf) = c.get_mut(key).and_then(|e| e.get_mut("prf")).and_then(|p| p.as_object_mut()) {
            prf.remove("results");
        }
    }
    c
}

/// The credential id (raw bytes) of a WebAuthn credential as JSON (`rawId`, base64url): the
/// client's own reading of what its authenticator answered, never the server's word.
pub fn credential_id_of(credential: &serde_json::Value) -> Result<Vec<u8>, ClientError> {
    let raw = credential
        .get("rawId")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ClientError::Protocol("the passkey's answer has no rawId".into()))?;
    Ok(b64::decode(raw, vouchsafe_crypto::passkey::MAX_CREDENTIAL_ID_LEN)?)
}

/// The keyring wrapped for unlocking with a passkey (purpose 3), base64url, for
/// [`Client::confirm_webauthn`].
pub fn passkey_wrap(keyring: &Keyring, prf: &PrfOutput, credential_id: &[u8]) -> Result<String, ClientError> {
    let w = keyring.wrap_for_passkey(prf, credential_id, &mut vouchsafe_crypto::os_rng())?;
    Ok(b64::encode(w.as_bytes()))
}

/// Starts a passkey enrolment: the password is checked again by the server.
pub fn enrol_webauthn(
    client: &Client,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> Result<WebauthnEnrolment, ClientError> {
    let (auth_key, _) = auth_key_for(client, email, password)?;
    client.enrol_webauthn(&WebauthnEnrolRequest { auth_key: auth_key.into(), name: name.map(str::to_owned) })
}

/// Signs in with a passkey that unlocks the keys: `credential` is the authenticator's answer to
/// `ceremony` (from [`Client::passkey_options`]) and `prf` its PRF output for
/// [`vouchsafe_crypto::passkey::prf_input`]. The keyring opens only under this credential's
/// PRF output and must match the public keys the server gave; the caller then checks them
/// against each team's verified log, as after a password login.
pub fn passkey_login(
    client: &mut Client,
    ceremony: &WebauthnCeremony,
    credential: &serde_json::Value,
    prf: &PrfOutput,
) -> Result<Session, ClientError> {
    let credential_id = credential_id_of(credential)?;
    let resp = client.passkey_login(&ceremony.ceremony, credential)?;
    let k = &resp.session.keyring;
    let wrapped = WrappedKeyring::from_bytes(&b64::decode(&resp.prf_wrap, 200)?)?;
    let keyring = Keyring::unwrap_with_passkey(&wrapped, prf, &credential_id, &k.user_id, k.generation)
        .map_err(|_| ClientError::Protocol("the passkey's copy of the keys does not open with this passkey".into()))?;
    let public = PublicIdentity::keys_from_bytes(&k.user_id, &b64::decode(&k.public_keys, 100)?)?;
    if keyring.public() != public {
        return Err(ClientError::Protocol("the keyring does not match the public keys on the server".into()));
    }
    let resp = resp.session;
    client.set_access_token(Some(resp.tokens.access_token.expose().to_owned()));
    Ok(Session { user_id: resp.keyring.user_id, tokens: resp.tokens, keyring })
}

/// Logs in with the password: signed in, or waiting for the second factor.
pub fn begin_login(client: &mut Client, email: &str, password: &str) -> Result<LoginStep, ClientError> {
    let (auth_key, keys) = auth_key_for(client, email, password)?;
    match client.login(&LoginRequest { email: email.into(), auth_key: auth_key.into() })? {
        LoginAnswer::Session(resp) => Ok(LoginStep::Done(Box::new(signed_in(client, *resp, &keys.kek)?))),
        LoginAnswer::SecondFactor(sf) => {
            Ok(LoginStep::SecondFactor(PendingLogin { kek: keys.kek, challenge: sf.second_factor }))
        }
    }
}

fn signed_in(
    client: &mut Client,
    resp: LoginResponse,
    kek: &vouchsafe_crypto::kdf::Kek,
) -> Result<Session, ClientError> {
    let keyring = open_keyring(&resp.keyring, kek)?;
    client.set_access_token(Some(resp.tokens.access_token.expose().to_owned()));
    Ok(Session { user_id: resp.keyring.user_id, tokens: resp.tokens, keyring })
}

/// Starts an authenticator-app enrolment: the password is checked again by the server.
pub fn enrol_totp(
    client: &Client,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> Result<TotpEnrolment, ClientError> {
    let (auth_key, _) = auth_key_for(client, email, password)?;
    client.enrol_totp(&TotpEnrolRequest { auth_key: auth_key.into(), name: name.map(str::to_owned) })
}

/// Changes the password: re-wraps the same keyring under the new KEK.
pub fn change_password(
    client: &Client,
    email: &str,
    keyring: &Keyring,
    current_password: &str,
    new_password: &str,
    params: KdfParams,
    end_other_sessions: bool,
) -> Result<(), ClientError> {
    let (current_auth_key, _) = auth_key_for(client, email, current_password)?;
    let mut rng = vouchsafe_crypto::os_rng();
    let salt = new_salt(&mut rng);
    let keys = derive_password_keys(new_password.as_bytes(), &salt, &params)?;
    client.change_password(&PasswordChangeRequest {
        current_auth_key: current_auth_key.into(),
        new_auth_key: b64::encode(keys.auth_key.expose_secret()).into(),
        new_kdf_salt: b64::encode(salt.expose_secret()),
        new_kdf_params: params,
        new_wrapped_keyring: b64::encode(keyring.wrap(&keys.kek, &mut rng).as_bytes()),
        end_other_sessions,
    })
}

/// Unlocks the keyring of an already signed-in client with the password (no new session).
pub fn unlock(client: &Client, password: &str) -> Result<Keyring, ClientError> {
    let k = client.my_keyring()?;
    let salt = Salt::try_from_slice(&b64::decode(&k.kdf_salt, 16)?)?;
    let keys = derive_password_keys(password.as_bytes(), &salt, &k.kdf_params)?;
    open_keyring(&k, &keys.kek)
}

/// Unwraps the keyring and checks it matches the public keys the server holds.
fn open_keyring(k: &KeyringResponse, kek: &vouchsafe_crypto::kdf::Kek) -> Result<Keyring, ClientError> {
    let wrapped = WrappedKeyring::from_bytes(&b64::decode(&k.wrapped_keyring, 200)?)?;
    let keyring = Keyring::unwrap(&wrapped, kek, &k.user_id, k.generation)?;
    let public = PublicIdentity::keys_from_bytes(&k.user_id, &b64::decode(&k.public_keys, 100)?)?;
    if keyring.public() != public {
        return Err(ClientError::Protocol("the keyring does not match the public keys on the server".into()));
    }
    Ok(keyring)
}

/// Completes a password reset with the emailed token: a new password and a **new key
/// generation** (the old keys are gone); every team log gets a "reset announced" entry signed by
/// the new keys, and the memberships await vouches. `now` stamps the entries (Unix seconds).
pub fn reset_with_token(
    client: &Client,
    token: &str,
    new_password: &str,
    params: KdfParams,
    now: u64,
) -> Result<ResetDone, ClientError> {
    reset_with_token_and_factor(client, token, new_password, params, now, &FactorAtRecovery::NotEnrolled)
}

/// [`reset_with_token`] for a person with a second factor: its fresh check, or the word that it
/// is lost (then it is removed, and the person enrols again after the vouch).
pub fn reset_with_token_and_factor(
    client: &Client,
    token: &str,
    new_password: &str,
    params: KdfParams,
    now: u64,
    factor: &FactorAtRecovery,
) -> Result<ResetDone, ClientError> {
    let mut rng = vouchsafe_crypto::os_rng();
    let begin = client.reset_begin(token)?;
    let keyring = Keyring::generate(&begin.user_id, begin.generation + 1, &mut rng)?;
    let salt = new_salt(&mut rng);
    let keys = derive_password_keys(new_password.as_bytes(), &salt, &params)?;
    let mut announcements = Vec::with_capacity(begin.accounts.len());
    let mut history_codes = Vec::with_capacity(begin.accounts.len());
    for a in &begin.accounts {
        let head = vouchsafe_crypto::log::LogHead { seq: a.seq, hash: b64::decode_array(&a.hash)? };
        let e = vouchsafe_crypto::log::LogEntry::create(
            &a.account_id,
            Some(head),
            &keyring,
            now.max(a.timestamp),
            vouchsafe_crypto::log::EntryBody::ResetAnnounced {
                new_identity: keyring.public(),
                previous_generation: Some(begin.generation),
            },
        )?;
        history_codes.push((
            a.account_id.clone(),
            vouchsafe_crypto::witness::HistoryCode::of(
                &a.account_id,
                vouchsafe_crypto::log::LogHead { seq: e.seq, hash: e.hash() },
            ),
        ));
        announcements.push(ResetAnnouncement { account_id: a.account_id.clone(), entry: b64::encode(&e.to_bytes()) });
    }
    client.reset_complete(&ResetCompleteRequest {
        token: token.into(),
        new_auth_key: b64::encode(keys.auth_key.expose_secret()).into(),
        new_kdf_salt: b64::encode(salt.expose_secret()),
        new_kdf_params: params,
        new_public_keys: b64::encode(&keyring.public().keys_to_bytes()),
        new_wrapped_keyring: b64::encode(keyring.wrap(&keys.kek, &mut rng).as_bytes()),
        announcements,
        second_factor: factor.fields().0,
        lost_second_factor: factor.fields().1,
    })?;
    Ok(ResetDone { keyring, history_codes })
}

/// A completed reset: the new keys, and per account the team history code at the reset
/// announcement this device signed — read it, with the new verification code, to the colleague
/// who vouches (their client shows the code of the announcement in their verified log).
#[derive(Debug)]
pub struct ResetDone {
    /// The new keyring.
    pub keyring: Keyring,
    /// (account id, history code at the announcement).
    pub history_codes: Vec<(String, vouchsafe_crypto::witness::HistoryCode)>,
}
