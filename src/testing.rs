//! What the services' unit tests share: a whole server state — migrations, secrets, Argon2
//! threads, both SQLite paths — over a fresh SQLite file in its own directory, with a clock the
//! test moves. (A file, not `:memory:`: the item store reads through its own connections, which
//! an in-memory database cannot share.)

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::state::{AppState, ManualClock};

/// What a test returns: `?` on any error fails it with the error.
pub type Test = Result<(), Box<dyn std::error::Error>>;

/// The code a refused call gets ("accepted" if it was not refused).
pub fn code<T>(r: Result<T, crate::error::ApiError>) -> &'static str {
    r.err().map_or("accepted", |e| e.code())
}

/// What a client sends to create an account, signed by `signer`, whose genesis names
/// `creator` (the caller, unless a test forges it), stamped `now`; and the genesis entry.
pub fn account_request(
    signer: &Person,
    creator: &Person,
    now: i64,
) -> Result<(vouchsafe_client::types::CreateAccountRequest, vouchsafe_crypto::log::LogEntry), Box<dyn std::error::Error>>
{
    use vouchsafe_crypto::b64;
    use vouchsafe_crypto::log::{EntryBody, LogEntry};
    let mut rng = vouchsafe_crypto::os_rng();
    let account_id = vouchsafe_client::types::Id::random();
    let genesis = LogEntry::create(
        &account_id,
        None,
        &signer.keyring,
        u64::try_from(now)?,
        EntryBody::Genesis { creator: creator.keyring.public(), policy: Default::default() },
    )?;
    let mk = vouchsafe_crypto::seal::MasterKey::generate(1, &mut rng)?;
    let sealed =
        vouchsafe_crypto::seal::seal_master_key(&mk, &account_id, &signer.keyring.public(), &signer.keyring, &mut rng)?;
    let req = vouchsafe_client::types::CreateAccountRequest {
        account_id,
        name: "  Support  ".into(),
        genesis: b64::encode(&genesis.to_bytes()),
        sealed_key: b64::encode(&sealed.to_bytes()),
    };
    Ok((req, genesis))
}

/// A test's server state; its directory is removed when it is dropped.
pub struct TestState {
    /// The state services take.
    pub state: AppState,
    /// The clock behind `state.clock`.
    pub clock: Arc<ManualClock>,
    dir: PathBuf,
}

impl TestState {
    /// A fresh database (migrated) and fresh secrets; the clock at a fixed time.
    pub async fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("vouchsafe-unit-{}", crate::auth::new_id()?));
        let mut config = Config { data_dir: dir.clone(), argon2_concurrency: 2, ..Config::default() };
        config.finish()?;
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let state = crate::app::build_state(config, clock.clone()).await?;
        Ok(Self { state, clock, dir })
    }

    /// The clock's time.
    pub fn now(&self) -> i64 {
        crate::state::Clock::now(&*self.clock)
    }
}

impl Drop for TestState {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A person the tests sign up: what their client would hold.
pub struct Person {
    /// User id.
    pub user_id: String,
    /// E-mail.
    pub email: String,
    /// The auth key their password derives (unpadded base64url), what login sends.
    pub auth_key: String,
    /// Their keys.
    pub keyring: vouchsafe_crypto::identity::Keyring,
    /// What sign-up sent.
    pub registration: vouchsafe_client::types::RegisterRequest,
}

/// The lowest KDF cost the server accepts (tests derive keys many times).
pub fn cheap_kdf() -> vouchsafe_crypto::kdf::KdfParams {
    vouchsafe_crypto::kdf::KdfParams { alg: 1, m_kib: vouchsafe_crypto::kdf::MIN_M_KIB, t: 2, p: 1 }
}

/// New credentials for a password: (auth key, salt, wrapped keyring), unpadded base64url, for
/// `keyring` — what a password change, reset or recovery sends.
pub fn credentials(
    keyring: &vouchsafe_crypto::identity::Keyring,
    password: &str,
) -> Result<(String, String, String), Box<dyn std::error::Error>> {
    use vouchsafe_crypto::b64;
    let mut rng = vouchsafe_crypto::os_rng();
    let salt = vouchsafe_crypto::kdf::new_salt(&mut rng);
    let keys = vouchsafe_crypto::kdf::derive_password_keys(password.as_bytes(), &salt, &cheap_kdf())?;
    let wrapped = keyring.wrap(&keys.kek, &mut rng);
    Ok((b64::encode(keys.auth_key.expose_secret()), b64::encode(salt.expose_secret()), b64::encode(wrapped.as_bytes())))
}

/// A person with fresh keys (generation 1) and a password, not yet signed up.
pub fn person(email: &str) -> Result<Person, Box<dyn std::error::Error>> {
    use vouchsafe_crypto::b64;
    let user_id = vouchsafe_crypto::random_id();
    let keyring = vouchsafe_crypto::identity::Keyring::generate(&user_id, 1, &mut vouchsafe_crypto::os_rng())?;
    let (auth_key, kdf_salt, wrapped_keyring) = credentials(&keyring, "correct horse battery")?;
    let registration = vouchsafe_client::types::RegisterRequest {
        user_id: vouchsafe_client::types::Id::parse(user_id.as_str())?,
        email: email.into(),
        auth_key: auth_key.clone().into(),
        kdf_salt,
        kdf_params: cheap_kdf(),
        public_keys: b64::encode(&keyring.public().keys_to_bytes()),
        wrapped_keyring,
    };
    Ok(Person { user_id, email: email.into(), auth_key, keyring, registration })
}

/// Signs a person up and in: their person and a session's tokens.
pub async fn signed_up(
    t: &TestState,
    email: &str,
) -> Result<(Person, vouchsafe_client::types::TokenResponse), Box<dyn std::error::Error>> {
    let p = person(email)?;
    crate::service::auth::register(&t.state, p.registration.clone(), t.now()).await?;
    let login = vouchsafe_client::types::LoginRequest { email: p.email.clone(), auth_key: p.auth_key.clone().into() };
    let tokens =
        crate::service::auth::login(&t.state, login, None, t.now()).await?.session().ok_or("second factor")?.tokens;
    Ok((p, tokens))
}
