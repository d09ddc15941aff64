//! Authentication primitives of the server: access tokens (JWT, HS256 pinned), refresh tokens
//! (opaque 256-bit, stored as SHA-256), the Argon2id verifier of auth keys (off the async
//! executor, bounded concurrency), client addresses behind trusted proxies, and database-backed
//! rate limits.

use std::net::IpAddr;
use std::sync::OnceLock;

use hmac::{Hmac, KeyInit as _, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::signature::{Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::ApiError;

// ---------------------------------------------------------------- JWT (HS256 only)

struct Hs256(Hmac<Sha256>);

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, jsonwebtoken::signature::Error> {
        let mut m = self.0.clone();
        m.update(msg);
        Ok(m.finalize().into_bytes().to_vec())
    }
}
impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}
impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), jsonwebtoken::signature::Error> {
        let mut m = self.0.clone();
        m.update(msg);
        m.verify_slice(sig).map_err(|_| jsonwebtoken::signature::Error::new())
    }
}
impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn hs256(key: &[u8], alg: &Algorithm) -> jsonwebtoken::errors::Result<Hs256> {
    if *alg != Algorithm::HS256 {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into());
    }
    Hmac::<Sha256>::new_from_slice(key).map(Hs256).map_err(|_| jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into())
}

/// The only algorithm this server signs or accepts; RSA/EC/EdDSA code is not even linked.
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: |alg, key| Ok(Box::new(hs256(key.as_bytes(), alg)?)),
    verifier_factory: |alg, key| Ok(Box::new(hs256(key.try_get_as_bytes()?, alg)?)),
    key_utils: KeyUtils::new_unimplemented(),
};

fn install_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Fails only if already installed, which is what we want either way.
        let _ = PROVIDER.install_default();
    });
}

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the public URL.
    pub iss: String,
    /// Audience: `vouchsafe-api`.
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Session id: the token dies with its session.
    pub sid: String,
    /// Token type: `access`.
    pub typ: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
}

const AUDIENCE: &str = "vouchsafe-api";

/// Signs and checks access tokens.
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    ttl: i64,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer for `issuer` with the server's token key.
    pub fn new(key: &[u8; 32], issuer: &str, ttl_secs: u64) -> Self {
        install_provider();
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            issuer: issuer.to_owned(),
            ttl: i64::try_from(ttl_secs).unwrap_or(900),
        }
    }

    /// Lifetime in seconds.
    pub fn ttl(&self) -> i64 {
        self.ttl
    }

    /// Issues an access token for a session.
    pub fn issue(&self, user_id: &str, session_id: &str, now: i64) -> Result<String, ApiError> {
        self.issue_typed(user_id, session_id, "access", now)
    }

    /// Issues a worker's access token (checked against the worker's status on every request).
    pub fn issue_worker(&self, worker_id: &str, now: i64) -> Result<String, ApiError> {
        self.issue_typed(worker_id, "worker", "worker", now)
    }

    fn issue_typed(&self, sub: &str, sid: &str, typ: &str, now: i64) -> Result<String, ApiError> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.into(),
            sub: sub.into(),
            sid: sid.into(),
            typ: typ.into(),
            iat: now,
            nbf: now,
            exp: now + self.ttl,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("jwt encode: {e}")))
    }

    /// Verifies signature (HS256 only), issuer, audience, type, and `nbf`/`exp` against `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, ApiError> {
        let invalid = || ApiError::unauthorized("auth.invalid_token", "invalid or expired access token");
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[AUDIENCE]);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        // Time is checked below against the caller's clock, not the library's.
        v.validate_exp = false;
        v.validate_nbf = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).map_err(|_| invalid())?;
        let c = data.claims;
        if !(c.typ == "access" || c.typ == "worker") || c.nbf > now || c.exp <= now {
            return Err(invalid());
        }
        Ok(c)
    }
}

// ---------------------------------------------------------------- opaque tokens

/// A fresh 256-bit opaque token (unpadded base64url) and its SHA-256.
pub fn new_opaque_token() -> Result<(Zeroizing<String>, [u8; 32]), ApiError> {
    let mut b = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut b[..]).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    let token = Zeroizing::new(vouchsafe_crypto::b64::encode(&b[..]));
    let hash = hash_token(&token);
    Ok((token, hash))
}

/// SHA-256 of a presented token (what the database stores).
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A random id: 16 bytes, unpadded base64url (22 characters).
pub fn new_id() -> Result<String, ApiError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    Ok(vouchsafe_crypto::b64::encode(&b))
}

// ---------------------------------------------------------------- Argon2 verifier

const VERIFIER_M_KIB: u32 = 19 * 1024;
const VERIFIER_T: u32 = 2;
const VERIFIER_P: u32 = 1;

fn argon2() -> Result<argon2::Argon2<'static>, ApiError> {
    let params = argon2::Params::new(VERIFIER_M_KIB, VERIFIER_T, VERIFIER_P, Some(32))
        .map_err(|e| ApiError::Internal(format!("argon2 params: {e}")))?;
    Ok(argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
}

/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (standard base64 without padding); `mem` holds
/// Argon2's blocks (an [`ArgonPool`] thread's reused buffer — run it there, never on the executor).
pub fn hash_auth_key(mem: &mut Vec<argon2::Block>, auth_key: &[u8]) -> Result<String, ApiError> {
    use base64::Engine;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    let mut out = [0u8; 32];
    let a = argon2()?;
    mem.resize(a.params().block_count(), argon2::Block::default());
    a.hash_password_into_with_memory(auth_key, &salt, &mut out, &mut mem[..])
        .map_err(|e| ApiError::Internal(format!("argon2: {e}")))?;
    let b = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(format!("$argon2id$v=19$m={VERIFIER_M_KIB},t={VERIFIER_T},p={VERIFIER_P}${}${}", b.encode(salt), b.encode(out)))
}

/// Constant-time check of an auth key against a stored PHC string; `mem` as for [`hash_auth_key`].
pub fn verify_auth_key(mem: &mut Vec<argon2::Block>, phc: &str, auth_key: &[u8]) -> Result<bool, ApiError> {
    use base64::Engine;
    use subtle::ConstantTimeEq;
    let bad = || ApiError::Internal("stored verifier is malformed".into());
    let parts: Vec<&str> = phc.split('$').collect();
    let [_, "argon2id", "v=19", params, salt, hash] = parts.as_slice() else { return Err(bad()) };
    let mut m = 0;
    let mut t = 0;
    let mut p = 0;
    for kv in params.split(',') {
        match kv.split_once('=') {
            Some(("m", v)) => m = v.parse().map_err(|_| bad())?,
            Some(("t", v)) => t = v.parse().map_err(|_| bad())?,
            Some(("p", v)) => p = v.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }
    }
    let b = base64::engine::general_purpose::STANDARD_NO_PAD;
    let salt = b.decode(salt).map_err(|_| bad())?;
    let expected = b.decode(hash).map_err(|_| bad())?;
    let params = argon2::Params::new(m, t, p, Some(expected.len())).map_err(|_| bad())?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    mem.resize(a.params().block_count(), argon2::Block::default());
    a.hash_password_into_with_memory(auth_key, &salt, &mut out, &mut mem[..]).map_err(|_| bad())?;
    Ok(out.ct_eq(&expected).into())
}

/// A job for an Argon2 thread: gets the thread's reusable block buffer.
type ArgonJob = Box<dyn FnOnce(&mut Vec<argon2::Block>) + Send>;

/// A fixed set of threads for Argon2 work, off the async executor. Each thread keeps one block
/// buffer (19 MiB) and reuses it, so memory stays flat at `threads × 19 MiB` however many logins
/// arrive: a flood queues, it does not allocate. The threads run at a lower CPU priority
/// ([`ARGON_NICE`]): when the machine is busy, requests that are already authenticated go first,
/// so a wave of logins (or a password-guessing flood) does not stall reads and writes.
pub struct ArgonPool {
    tx: std::sync::Mutex<std::sync::mpsc::Sender<ArgonJob>>,
    /// Jobs queued or running.
    depth: prometheus_client::metrics::gauge::Gauge,
    /// Seconds each job waited for a thread.
    wait: prometheus_client::metrics::histogram::Histogram,
}

impl std::fmt::Debug for ArgonPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArgonPool")
    }
}

impl ArgonPool {
    /// Starts `threads` workers; `depth` and `wait` are the metrics it keeps up to date.
    pub fn new(
        threads: usize,
        depth: prometheus_client::metrics::gauge::Gauge,
        wait: prometheus_client::metrics::histogram::Histogram,
    ) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<ArgonJob>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                lower_priority();
                let mut mem = Vec::new();
                loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(&mut mem),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start an Argon2 thread");
            }
        }
        Self { tx: std::sync::Mutex::new(tx), depth, wait }
    }

    /// Runs `f` on a pool thread and waits for it without blocking the executor.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<argon2::Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (otx, orx) = tokio::sync::oneshot::channel();
        // The queue wait, for the metrics.
        #[allow(clippy::disallowed_methods)]
        let queued = std::time::Instant::now();
        let (depth, wait) = (self.depth.clone(), self.wait.clone());
        let job: ArgonJob = Box::new(move |mem| {
            wait.observe(queued.elapsed().as_secs_f64());
            let _ = otx.send(f(mem));
            depth.dec();
        });
        self.depth.inc();
        let sent = self
            .tx
            .lock()
            .map_err(|_| ApiError::Unavailable("argon2 pool poisoned".into()))
            .and_then(|tx| tx.send(job).map_err(|_| ApiError::Unavailable("argon2 pool stopped".into())));
        if let Err(e) = sent {
            self.depth.dec();
            return Err(e);
        }
        orx.await.map_err(|_| ApiError::Internal("argon2 job dropped".into()))
    }
}

/// The nice value of the Argon2 threads (0 is the default, 19 the lowest priority).
pub const ARGON_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`ARGON_NICE`] (Linux: the nice value is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority only reads its integer arguments; `who = 0` is the calling thread.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, ARGON_NICE) };
        if rc != 0 {
            tracing::warn!("cannot lower the priority of an Argon2 thread");
        }
    }
}

// ---------------------------------------------------------------- client address

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` hop that is not itself a trusted proxy. A client cannot spoof
/// its address by sending the header directly.
pub fn client_ip(req: &actix_web::HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for v in req.headers().get_all("x-forwarded-for") {
        let Ok(s) = v.to_str() else { return Some(peer) };
        for part in s.split(',') {
            match part.trim().parse() {
                Ok(ip) => hops.push(ip),
                Err(_) => return Some(peer),
            }
        }
    }
    Some(hops.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer))
}

// ---------------------------------------------------------------- rate limits

/// The rate-limit key of an e-mail address for `purpose`: a hash, so the table holds no
/// address and every key fits its column whatever the address's length.
pub fn email_key(purpose: &str, email: &str) -> String {
    use sha2::Digest;
    format!("{purpose}:email:{}", vouchsafe_crypto::b64::encode(&sha2::Sha256::digest(email.as_bytes())[..16]))
}

/// Counts one event for `key` in the current fixed window (atomically, in the database) and
/// refuses with 429 + `Retry-After` when `limit` is exceeded.
pub async fn hit_rate_limit<C: crate::store::Conn>(
    db: &C,
    key: &str,
    limit: u32,
    window: u64,
    now: i64,
) -> Result<(), ApiError> {
    let count = crate::store::counters::bump(db, key, window, now).await?;
    if count > i64::from(limit) {
        return Err(ApiError::RateLimited { retry_after: retry_after(window, now) });
    }
    Ok(())
}

/// Seconds until the current window ends.
pub fn retry_after(window: u64, now: i64) -> u64 {
    let window = i64::try_from(window.max(1)).unwrap_or(900);
    u64::try_from(window - now.rem_euclid(window)).unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_roundtrip_and_rejections() {
        let s = TokenSigner::new(&[7; 32], "http://x", 900);
        let t = s.issue("u1", "s1", 1000).unwrap();
        let c = s.verify(&t, 1001).unwrap();
        assert_eq!((c.sub.as_str(), c.sid.as_str()), ("u1", "s1"));
        assert!(s.verify(&t, 1900).is_err(), "expired");
        assert!(s.verify(&t, 999).is_err(), "not yet valid");
        let other = TokenSigner::new(&[8; 32], "http://x", 900);
        assert!(other.verify(&t, 1001).is_err(), "other key");
        let other_iss = TokenSigner::new(&[7; 32], "http://y", 900);
        assert!(other_iss.verify(&t, 1001).is_err(), "other issuer");
        // alg=none and HS512 are refused
        let parts: Vec<&str> = t.split('.').collect();
        let none = format!("{}.{}.", vouchsafe_crypto::b64::encode(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
        assert!(s.verify(&none, 1001).is_err());
        let hs512 =
            format!("{}.{}.{}", vouchsafe_crypto::b64::encode(br#"{"alg":"HS512","typ":"JWT"}"#), parts[1], parts[2]);
        assert!(s.verify(&hs512, 1001).is_err());
    }

    #[test]
    fn verifier_roundtrip() {
        let mem = &mut Vec::new();
        let h = hash_auth_key(mem, &[1; 32]).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_auth_key(mem, &h, &[1; 32]).unwrap());
        assert!(!verify_auth_key(mem, &h, &[2; 32]).unwrap());
        assert!(verify_auth_key(mem, "$argon2id$garbage", &[1; 32]).is_err());
    }
}
