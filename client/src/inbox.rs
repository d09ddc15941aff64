//! The account inbox, from both sides.
//!
//! - **Providers** (a partner system with an `inbox:deposit` token) seal each deposit to the
//!   account's inbox key — after comparing that key's fingerprint code with the one the admin
//!   gave them out of band ([`pinned_inbox_key`]): a server that serves another key gets
//!   nothing, not even the deposit's id. [`deposit_record`] is the whole provider SDK for
//!   records.
//! - **Members and workers** open the inbox secret from its wrap under a master key version
//!   they hold, checking it against the inbox key the *verified log* endorses (never the one
//!   the server lists), then open deposits with it ([`open_secrets`], [`open_record`]).

use std::collections::BTreeMap;

use vouchsafe_crypto::b64;
use vouchsafe_crypto::inbox::{self, DepositContext, DepositKind, InboxKey, InboxSecret, Record};
use vouchsafe_crypto::log::TeamState;
use vouchsafe_crypto::seal::{MasterKey, Sealed};

use crate::types::*;
use crate::{Client, ClientError};

fn refused(msg: impl Into<String>) -> ClientError {
    ClientError::Protocol(format!("refused: {}", msg.into()))
}

/// The inbox key the server serves, accepted only if its fingerprint code is `pinned` (the
/// code the account's admin gave this provider); with the provider id the server assigned.
pub fn pinned_inbox_key(client: &Client, account_id: &str, pinned: &str) -> Result<(InboxKey, String), ClientError> {
    let served = client.inbox_key(account_id)?;
    if served.account_id != account_id {
        return Err(refused("the server answered for another account"));
    }
    let public = b64::decode_array::<32>(&served.public_key)?;
    let key = InboxKey { version: served.inbox_version, public };
    if !key.code(account_id).matches(pinned) {
        return Err(refused(format!(
            "the server's inbox key (version {}) is not the one you pinned: its code is {}; ask the account's \
             admin which code is right, and deposit nothing until then",
            key.version,
            key.code(account_id).as_str()
        )));
    }
    let provider_id = served.provider_id.ok_or_else(|| refused("the server did not say which provider we are"))?;
    vouchsafe_crypto::validate_id(&provider_id)?;
    Ok((key, provider_id))
}

/// Seals `record` to the account's inbox key — which must be the one `pinned` names — and
/// deposits it under `deposit_id` (a retry with the same record is answered, not stored twice;
/// the seal is fresh each time, so a retry of a *lost* answer should reuse [`seal_record`]'s
/// request instead).
pub fn deposit_record(
    client: &Client,
    account_id: &str,
    pinned: &str,
    deposit_id: &str,
    record: &Record,
) -> Result<DepositReceipt, ClientError> {
    let (key, provider_id) = pinned_inbox_key(client, account_id, pinned)?;
    let req = seal_record(account_id, &provider_id, deposit_id, &key, record)?;
    client.put_deposit(account_id, deposit_id, &req)
}

/// The request that deposits `record` sealed to `key` (see [`deposit_record`]).
pub fn seal_record(
    account_id: &str,
    provider_id: &str,
    deposit_id: &str,
    key: &InboxKey,
    record: &Record,
) -> Result<PutDepositRequest, ClientError> {
    let ctx = DepositContext { account_id, provider_id, deposit_id };
    let mut rng = vouchsafe_crypto::os_rng();
    let (content, sealed) = inbox::seal_content_key(&ctx, key, DepositKind::Record, &mut rng)?;
    let body = inbox::seal_record(&ctx, &content, record, &mut rng)?;
    Ok(PutDepositRequest {
        kind: DepositKind::Record.as_str().to_owned(),
        inbox_version: key.version,
        seal: b64::encode(&sealed.to_bytes()),
        body: b64::encode(&body),
    })
}

/// The inbox secrets we can open: each inbox key the verified log endorses, from a wrap under
/// a master key version in `masters`. A wrap that does not open to the endorsed key is refused.
pub fn open_secrets(
    account_id: &str,
    state: &TeamState,
    view: &InboxView,
    masters: &BTreeMap<u32, MasterKey>,
) -> Result<BTreeMap<u32, InboxSecret>, ClientError> {
    let mut out = BTreeMap::new();
    for (version, public) in state.inbox_keys() {
        let key = InboxKey { version: *version, public: *public };
        // The newest master key version first: the wrap a rotation made.
        let mut wraps: Vec<&InboxWrapUpload> = view.wraps.iter().filter(|w| w.inbox_version == *version).collect();
        wraps.sort_by_key(|w| std::cmp::Reverse(w.key_version));
        for w in wraps {
            let Some(mk) = masters.get(&w.key_version) else { continue };
            let blob = b64::decode(&w.blob, inbox::WRAP_LEN)?;
            let secret = inbox::unwrap(&blob, &key, account_id, mk).map_err(|_| {
                refused(format!("inbox key {version}'s wrap does not open to the key the log endorses"))
            })?;
            out.insert(*version, secret);
            break;
        }
    }
    Ok(out)
}

/// Opens a deposited record with the inbox secrets; `provider_id` and `deposit_id` are the
/// ones it was asked for (its seal binds them: a deposit moved by the server fails to open).
pub fn open_record(
    account_id: &str,
    secrets: &BTreeMap<u32, InboxSecret>,
    wire: &DepositWire,
    provider_id: &str,
    deposit_id: &str,
) -> Result<Record, ClientError> {
    if wire.summary.kind != DepositKind::Record.as_str() {
        return Err(refused(format!("deposit {deposit_id} is a {}, not a record", wire.summary.kind)));
    }
    let secret = secrets.get(&wire.summary.inbox_version).ok_or_else(|| {
        refused(format!("no inbox key {} that you can open is endorsed by the log", wire.summary.inbox_version))
    })?;
    let ctx = DepositContext { account_id, provider_id, deposit_id };
    let sealed = Sealed::from_bytes(&b64::decode(&wire.seal, inbox::SEAL_LEN)?)?;
    let content = inbox::open_content_key(&ctx, secret, wire.summary.inbox_version, DepositKind::Record, &sealed)?;
    let body = b64::decode(&wire.body, inbox::MAX_RECORD_BODY)?;
    Ok(inbox::open_record(&ctx, &content, &body)?)
}

/// Wraps every inbox secret in `secrets` under `mk` (what a rotation sends with its entries).
pub fn rewrap(
    account_id: &str,
    state: &TeamState,
    secrets: &BTreeMap<u32, InboxSecret>,
    mk: &MasterKey,
) -> Result<Vec<InboxWrapUpload>, ClientError> {
    let mut rng = vouchsafe_crypto::os_rng();
    let mut out = Vec::new();
    for (version, secret) in secrets {
        let Some(public) = state.inbox_keys().get(version) else { continue };
        let key = InboxKey { version: *version, public: *public };
        out.push(InboxWrapUpload {
            inbox_version: *version,
            key_version: mk.version,
            blob: b64::encode(&inbox::wrap(secret, &key, account_id, mk, &mut rng)?),
        });
    }
    Ok(out)
}
