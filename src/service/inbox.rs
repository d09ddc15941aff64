//! The account inbox: what third parties (providers, with an `inbox:deposit` token) deposit,
//! sealed by them to the inbox key the team log endorses, and what members and granted
//! workers list, open (in their clients) and file or delete.
//!
//! The server checks shapes only — a seal is an anonymous HPKE seal of the right length to an
//! inbox key that exists, a body has a record's format and size — and keeps the bytes. It can
//! open nothing: the inbox secret exists only wrapped under the account's master key.

use sha2::{Digest, Sha256};
use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::inbox::{SEAL_LEN, check_record_body};
use vouchsafe_crypto::seal::Sealed;

use crate::error::ApiError;
use crate::principal::Principal;
use crate::service::items::refused;
use crate::service::tokens::Grant;
use crate::state::AppState;
use crate::store::{inbox, tokens};
use entity::values::DepositKind;

/// Largest page of deposits.
pub const MAX_PAGE: u64 = 500;

fn no_inbox() -> ApiError {
    ApiError::not_found("inbox.no_key", "this account has no inbox key yet: an admin creates one first")
}

fn not_found() -> ApiError {
    ApiError::not_found("deposit.not_found", "no such deposit")
}

/// A provider's deposit id (its idempotency key): 1 to 64 characters of `[A-Za-z0-9_-]`.
pub fn check_deposit_id(id: &str) -> Result<(), ApiError> {
    vouchsafe_crypto::validate_id(id).map_err(|_| {
        ApiError::bad("deposit.invalid_id", "a deposit id is 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'")
    })
}

/// Checks that `who` may read (or, with `write`, change) the account's inbox: the items' rule.
async fn allowed(state: &AppState, account_id: &str, who: &Principal, write: bool, now: i64) -> Result<(), ApiError> {
    state.store.access(account_id, who, write, now).await?.map(|_| ()).map_err(|no| refused(who, no, 0))
}

fn key_response(account_id: &str, k: entity::inbox_key::Model, provider_id: Option<String>) -> InboxKeyResponse {
    InboxKeyResponse {
        account_id: account_id.to_owned(),
        inbox_version: u32::try_from(k.inbox_version).unwrap_or(0),
        public_key: b64::encode(&k.public_key),
        provider_id,
    }
}

/// The inbox key deposits go to now, for a provider (whose token was checked for the account).
pub async fn key_for_provider(state: &AppState, grant: &Grant) -> Result<InboxKeyResponse, ApiError> {
    let k = inbox::newest_key(&state.db, &grant.account_id).await?.ok_or_else(no_inbox)?;
    Ok(key_response(&grant.account_id, k, Some(grant.id.clone())))
}

/// The same, for a member or worker.
pub async fn key_for(
    state: &AppState,
    account_id: &str,
    who: &Principal,
    now: i64,
) -> Result<InboxKeyResponse, ApiError> {
    allowed(state, account_id, who, false, now).await?;
    let k = inbox::newest_key(&state.db, account_id).await?.ok_or_else(no_inbox)?;
    Ok(key_response(account_id, k, None))
}

/// Stores a deposit and, when it is new, the provider's use of its token (last use, audit
/// event) in one transaction: one commit per deposit, and never a deposit without its audit
/// event. Measured against three autocommits (docs/PERFORMANCE.md, 2026-12-06): ~10 % fewer
/// deposits per second and a longer tail on SQLite, but a WAL that stays small under load
/// (6 MiB against 100 MiB after 8 s). `Ok(false)`: the id was taken.
async fn insert_recorded(
    state: &AppState,
    grant: &Grant,
    row: entity::deposit::Model,
    action: &'static str,
    now: i64,
) -> Result<bool, ApiError> {
    let grant = grant.clone();
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            let new = inbox::insert_deposit(txn, row).await?;
            if new {
                crate::service::tokens::record(txn, &grant, action, 1, now).await?;
            }
            Ok(new)
        })
    })
    .await
}

/// Takes a provider's deposit. `Ok(true)`: new; `Ok(false)`: the same bytes were deposited under
/// this id before (a retry); other bytes under the id → 409.
pub async fn deposit(
    state: &AppState,
    grant: &Grant,
    deposit_id: &str,
    req: PutDepositRequest,
    now: i64,
) -> Result<(bool, DepositReceipt), ApiError> {
    check_deposit_id(deposit_id)?;
    if req.kind != "record" {
        return Err(ApiError::bad("deposit.invalid_kind", "this route takes kind \"record\""));
    }
    let seal = b64::decode(&req.seal, SEAL_LEN).map_err(|e| ApiError::bad("deposit.bad_seal", e.to_string()))?;
    match Sealed::from_bytes(&seal) {
        Ok(s) if !s.is_signed() && seal.len() == SEAL_LEN => {}
        Ok(_) => {
            return Err(ApiError::bad(
                "deposit.bad_seal",
                format!("a deposit's seal is an anonymous seal (suite 2) of {SEAL_LEN} bytes"),
            ));
        }
        Err(e) => return Err(ApiError::bad("deposit.bad_seal", e.to_string())),
    }
    let body = b64::decode(&req.body, vouchsafe_crypto::inbox::MAX_RECORD_BODY)
        .map_err(|e| ApiError::bad("deposit.bad_body", e.to_string()))?;
    check_record_body(&body).map_err(|e| ApiError::bad("deposit.bad_body", e.to_string()))?;
    let inbox_version = i32::try_from(req.inbox_version).unwrap_or(i32::MAX);
    if inbox::key(&state.db, &grant.account_id, inbox_version).await?.is_none() {
        return Err(ApiError::bad("deposit.unknown_inbox_key", "the account has no inbox key of that version"));
    }
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(req.inbox_version.to_be_bytes());
    h.update(&seal);
    h.update(&body);
    let content_hash = h.finalize().to_vec();
    let row = entity::deposit::Model {
        account_id: grant.account_id.clone(),
        provider_id: grant.id.clone(),
        id: deposit_id.to_owned(),
        kind: DepositKind::Record,
        inbox_version,
        seal,
        size: i64::try_from(body.len()).unwrap_or(i64::MAX),
        body: Some(body),
        content_hash: content_hash.clone(),
        sealed_by_server: false,
        created_at: now,
        filed_at: None,
    };
    let receipt = |created_at| DepositReceipt { id: deposit_id.to_owned(), provider_id: grant.id.clone(), created_at };
    if insert_recorded(state, grant, row, "inbox.deposit", now).await? {
        return Ok((true, receipt(now)));
    }
    crate::service::tokens::record(&state.db, grant, "inbox.deposit", 1, now).await?;
    match inbox::deposit(&state.db, &grant.account_id, &grant.id, deposit_id).await? {
        Some(d) if d.content_hash == content_hash => Ok((false, receipt(d.created_at))),
        _ => Err(ApiError::conflict(
            "deposit.conflict",
            "a deposit with this id and other content exists: choose a new id for new content",
        )),
    }
}

/// Takes a provider's plaintext record and seals it to the newest inbox key on arrival (a
/// token with `inbox:plaintext`). The plaintext lives only in this request's memory (zeroized
/// when dropped); what is stored is what a sealing provider would have sent, marked
/// `sealed_by_server`. Nothing is kept to compare a retry with: a used id is a 409.
pub async fn deposit_plaintext(
    state: &AppState,
    grant: &Grant,
    deposit_id: &str,
    req: PlaintextDepositRequest,
    now: i64,
) -> Result<DepositReceipt, ApiError> {
    use vouchsafe_crypto::inbox::{self as ib, DepositContext, InboxKey, MAX_RECORD_FIELDS, MAX_RECORD_VALUE};
    check_deposit_id(deposit_id)?;
    if req.fields.is_empty() || req.fields.len() > MAX_RECORD_FIELDS {
        return Err(ApiError::bad("deposit.invalid_record", "a record has 1 to 64 fields"));
    }
    let mut record = ib::Record::new();
    for (name, value) in req.fields {
        vouchsafe_crypto::field::validate_field_name(&name)
            .map_err(|e| ApiError::bad("deposit.invalid_record", format!("field name: {e}")))?;
        if value.expose().len() > MAX_RECORD_VALUE {
            return Err(ApiError::bad("deposit.invalid_record", "a field holds at most 64 KiB"));
        }
        record.insert(name, zeroize::Zeroizing::new(value.expose().as_bytes().to_vec()));
    }
    let k = inbox::newest_key(&state.db, &grant.account_id).await?.ok_or_else(no_inbox)?;
    let public = <[u8; 32]>::try_from(k.public_key.as_slice())
        .map_err(|_| ApiError::Internal("a stored inbox key is not 32 bytes".into()))?;
    let key = InboxKey { version: u32::try_from(k.inbox_version).unwrap_or(0), public };
    let ctx = DepositContext { account_id: &grant.account_id, provider_id: &grant.id, deposit_id };
    let mut rng = vouchsafe_crypto::os_rng();
    let sealing = |e: vouchsafe_crypto::Error| ApiError::bad("deposit.invalid_record", e.to_string());
    let (content, sealed) = ib::seal_content_key(&ctx, &key, ib::DepositKind::Record, &mut rng).map_err(sealing)?;
    let body = ib::seal_record(&ctx, &content, &record, &mut rng).map_err(sealing)?;
    drop(record);
    let row = entity::deposit::Model {
        account_id: grant.account_id.clone(),
        provider_id: grant.id.clone(),
        id: deposit_id.to_owned(),
        kind: DepositKind::Record,
        inbox_version: k.inbox_version,
        seal: sealed.to_bytes(),
        size: i64::try_from(body.len()).unwrap_or(i64::MAX),
        body: Some(body),
        content_hash: vec![0; 32],
        sealed_by_server: true,
        created_at: now,
        filed_at: None,
    };
    if !insert_recorded(state, grant, row, "inbox.deposit_plaintext", now).await? {
        return Err(ApiError::conflict(
            "deposit.conflict",
            "this deposit id is used (the server keeps nothing of plaintext to tell a retry from new content)",
        ));
    }
    Ok(DepositReceipt { id: deposit_id.to_owned(), provider_id: grant.id.clone(), created_at: now })
}

/// The inbox keys, their wraps and the deposit count (members, workers).
pub async fn view(state: &AppState, account_id: &str, who: &Principal, now: i64) -> Result<InboxView, ApiError> {
    allowed(state, account_id, who, false, now).await?;
    let inbox_keys = inbox::keys(&state.db, account_id)
        .await?
        .into_iter()
        .map(|k| InboxKeyWire {
            inbox_version: u32::try_from(k.inbox_version).unwrap_or(0),
            public_key: b64::encode(&k.public_key),
            log_seq: u64::try_from(k.log_seq).unwrap_or(0),
        })
        .collect();
    let wraps = inbox::wraps(&state.db, account_id)
        .await?
        .into_iter()
        .map(|w| InboxWrapUpload {
            inbox_version: u32::try_from(w.inbox_version).unwrap_or(0),
            key_version: u32::try_from(w.key_version).unwrap_or(0),
            blob: b64::encode(&w.blob),
        })
        .collect();
    Ok(InboxView { inbox_keys, wraps, deposit_count: inbox::deposit_count(&state.db, account_id).await? })
}

async fn provider_names(
    state: &AppState,
    account_id: &str,
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    Ok(tokens::of_account(&state.db, account_id).await?.into_iter().map(|t| (t.id, t.name)).collect())
}

fn summary(names: &std::collections::HashMap<String, String>, d: inbox::Listed) -> DepositSummary {
    DepositSummary {
        provider_name: names.get(&d.provider_id).cloned().unwrap_or_default(),
        provider_id: d.provider_id,
        id: d.id,
        kind: d.kind.as_str().to_owned(),
        inbox_version: u32::try_from(d.inbox_version).unwrap_or(0),
        size: u64::try_from(d.size).unwrap_or(0),
        sealed_by_server: d.sealed_by_server,
        created_at: d.created_at,
    }
}

/// A cursor: `provider_id:deposit_id` of the last deposit of the previous page.
pub fn parse_cursor(c: &str) -> Result<(&str, &str), ApiError> {
    let bad = || ApiError::bad("request.invalid_query", "cursor must be a next_cursor this route gave");
    let (p, i) = c.split_once(':').ok_or_else(bad)?;
    if vouchsafe_crypto::validate_id(p).is_err() || vouchsafe_crypto::validate_id(i).is_err() {
        return Err(bad());
    }
    Ok((p, i))
}

/// A page of deposits, in (provider, id) order after `cursor` (members, workers).
pub async fn page(
    state: &AppState,
    account_id: &str,
    who: &Principal,
    cursor: Option<&str>,
    limit: u64,
    now: i64,
) -> Result<DepositPage, ApiError> {
    allowed(state, account_id, who, false, now).await?;
    let after = cursor.map(parse_cursor).transpose()?;
    let limit = limit.clamp(1, MAX_PAGE);
    let mut rows = inbox::deposit_page(&state.db, account_id, after, limit + 1).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = if more { rows.last().map(|d| format!("{}:{}", d.provider_id, d.id)) } else { None };
    let names = provider_names(state, account_id).await?;
    Ok(DepositPage { deposits: rows.into_iter().map(|d| summary(&names, d)).collect(), next_cursor })
}

/// One deposit with its content (members, workers: a worker's read is audited).
pub async fn get(
    state: &AppState,
    account_id: &str,
    who: &Principal,
    provider_id: &str,
    deposit_id: &str,
    now: i64,
) -> Result<DepositWire, ApiError> {
    allowed(state, account_id, who, false, now).await?;
    check_deposit_id(deposit_id)?;
    let d = inbox::deposit(&state.db, account_id, provider_id, deposit_id)
        .await?
        .filter(|d| d.filed_at.is_none())
        .ok_or_else(not_found)?;
    if who.is_worker() {
        crate::service::workers::audit(&state.db, account_id, who.id(), who.kind(), "inbox.read", 1, now).await?;
    }
    let names = provider_names(state, account_id).await?;
    let seal = b64::encode(&d.seal);
    let body = b64::encode(d.body.as_deref().unwrap_or_default());
    let listed = inbox::Listed {
        provider_id: d.provider_id,
        id: d.id,
        kind: d.kind,
        inbox_version: d.inbox_version,
        size: d.size,
        sealed_by_server: d.sealed_by_server,
        created_at: d.created_at,
    };
    Ok(DepositWire { summary: summary(&names, listed), seal, body })
}

/// Files a deposit (once its content is an item, or unwanted): its content is deleted and its
/// id stays taken. Members, and workers granted writes.
pub async fn delete(
    state: &AppState,
    account_id: &str,
    who: &Principal,
    provider_id: &str,
    deposit_id: &str,
    now: i64,
) -> Result<(), ApiError> {
    allowed(state, account_id, who, true, now).await?;
    check_deposit_id(deposit_id)?;
    if !inbox::file_deposit(&state.db, account_id, provider_id, deposit_id, now).await? {
        return Err(not_found());
    }
    Ok(())
}
