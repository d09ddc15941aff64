//! Multi-step flows: the client does all cryptography; the server only sees the auth key,
//! public keys and the wrapped keyring.

use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::{Keyring, PublicIdentity, WrappedKeyring};
use vouchsafe_crypto::kdf::{KdfParams, Salt, derive_password_keys, new_salt};

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
pub fn login(client: &mut Client, email: &str, password: &str) -> Result<Session, ClientError> {
    let (auth_key, keys) = auth_key_for(client, email, password)?;
    let resp = client.login(&LoginRequest { email: email.into(), auth_key: auth_key.into() })?;
    let keyring = open_keyring(&resp.keyring, &keys.kek)?;
    client.set_access_token(Some(resp.tokens.access_token.expose().to_owned()));
    Ok(Session { user_id: resp.keyring.user_id, tokens: resp.tokens, keyring })
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
