//! Backend workers: a key pair made where the worker runs, a password-less login by signed
//! challenge, and a stream of decrypted records. A worker reads only what the account's admins
//! granted in the team log, and every read is in the admins' audit trail.

use std::path::Path;

use serde::{Deserialize, Serialize};
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::{Keyring, PublicIdentity};
use zeroize::Zeroizing;

use crate::types::*;
use crate::vault::{Item, Vault};
use crate::{Client, ClientError};

#[derive(Serialize, Deserialize)]
struct KeyFile {
    version: u8,
    worker_id: String,
    secret: String,
}

/// A worker's private keys. Zeroized on drop; `Debug` shows only the id.
pub struct WorkerKey {
    keyring: Keyring,
}

impl std::fmt::Debug for WorkerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerKey").field("worker_id", &self.keyring.user_id()).finish_non_exhaustive()
    }
}

impl WorkerKey {
    /// A new worker id and key pair.
    pub fn generate() -> Result<Self, ClientError> {
        Ok(Self { keyring: Keyring::generate(&vouchsafe_crypto::random_id(), 1, &mut vouchsafe_crypto::os_rng())? })
    }

    /// Worker id.
    pub fn worker_id(&self) -> &str {
        self.keyring.user_id()
    }

    /// Public keys to register.
    pub fn public(&self) -> PublicIdentity {
        self.keyring.public()
    }

    /// The key file's contents (JSON with the secret keys): keep it like any other secret.
    pub fn to_file_string(&self) -> Result<Zeroizing<String>, ClientError> {
        let f = KeyFile {
            version: 1,
            worker_id: self.worker_id().into(),
            secret: b64::encode(&self.keyring.expose_secret_bytes()[..]),
        };
        serde_json::to_string(&f).map(Zeroizing::new).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Parses a key file's contents.
    pub fn parse(text: &str) -> Result<Self, ClientError> {
        let f: KeyFile =
            serde_json::from_str(text).map_err(|_| ClientError::Protocol("not a worker key file".into()))?;
        if f.version != 1 {
            return Err(ClientError::Protocol("unsupported worker key file version".into()));
        }
        let secret = Zeroizing::new(b64::decode_array::<64>(&f.secret)?);
        let mut x = [0u8; 32];
        let mut e = [0u8; 32];
        x.copy_from_slice(&secret[..32]);
        e.copy_from_slice(&secret[32..]);
        Ok(Self { keyring: Keyring::from_secret_bytes(&f.worker_id, 1, x, e)? })
    }

    /// Writes the key file with mode 0600 (refuses to overwrite).
    pub fn save(&self, path: &Path) -> Result<(), ClientError> {
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut f =
            o.open(path).map_err(|e| ClientError::Protocol(format!("cannot create {}: {e}", path.display())))?;
        f.write_all(self.to_file_string()?.as_bytes()).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Loads from `$VOUCHSAFE_WORKER_KEY` (the contents) or the file at `path`.
    pub fn load(path: Option<&Path>) -> Result<Self, ClientError> {
        if let Ok(text) = std::env::var("VOUCHSAFE_WORKER_KEY") {
            return Self::parse(&Zeroizing::new(text));
        }
        let path = path.ok_or_else(|| {
            ClientError::Protocol("no worker key: set VOUCHSAFE_WORKER_KEY or give a key file".into())
        })?;
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| ClientError::Protocol(format!("cannot read {}: {e}", path.display())))?,
        );
        Self::parse(&text)
    }
}

/// A signed-in worker.
pub struct Worker {
    vault: Vault,
    account_id: String,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("account_id", &self.account_id).finish_non_exhaustive()
    }
}

impl Worker {
    /// Logs in by signing a single-use challenge with the worker's Ed25519 key.
    pub fn connect(server: &str, key: WorkerKey) -> Result<Self, ClientError> {
        let mut client = Client::new(server);
        let ch = client.worker_challenge(key.worker_id())?;
        let nonce = b64::decode(&ch.nonce, 32)?;
        let sig = key.keyring.sign(&worker_auth_message(key.worker_id(), &ch.challenge_id, &nonce));
        let t = client.worker_token(&WorkerTokenRequest {
            challenge_id: Id::parse(ch.challenge_id)?,
            signature: b64::encode(&sig),
        })?;
        client.set_access_token(Some(t.access_token.expose().to_owned()));
        Ok(Self { vault: Vault::from_keyring(client, key.keyring), account_id: t.account_id })
    }

    /// The account this worker serves.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The underlying vault (to write items, if granted read-write).
    pub fn vault(&mut self) -> &mut Vault {
        &mut self.vault
    }

    /// Files every record in the account's inbox as an item (a worker granted read-write;
    /// see [`Vault::import_inbox`]).
    pub fn import_inbox(&mut self, progress: &mut dyn FnMut(u64)) -> Result<crate::vault::InboxImport, ClientError> {
        let account = self.account_id.clone();
        self.vault.import_inbox(&account, progress)
    }

    /// Every record of the account, decrypted, page by page (with its revision).
    pub fn records(&mut self, page: u32) -> Records<'_> {
        Records { worker: self, page, cursor: None, buffer: Vec::new(), done: false }
    }
}

/// Iterator over decrypted records.
pub struct Records<'a> {
    worker: &'a mut Worker,
    page: u32,
    cursor: Option<String>,
    buffer: Vec<Item>,
    done: bool,
}

impl Iterator for Records<'_> {
    type Item = Result<Item, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() && !self.done {
            let account = self.worker.account_id.clone();
            match self.worker.vault.list_items(&account, self.cursor.as_deref(), self.page) {
                Ok((mut items, next)) => {
                    items.reverse();
                    self.buffer = items;
                    self.done = next.is_none();
                    self.cursor = next;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.buffer.pop().map(Ok)
    }
}
