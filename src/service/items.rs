//! Encrypted items: the server checks shapes, sizes, key versions and revisions; it cannot read
//! a field value. Rows and rights are the item store's ([`crate::store::items`]); this module is
//! the policy around them: what a valid item is, which key version a write must be under, what
//! each refusal tells the caller, and the audit of what workers read.

use std::collections::BTreeMap;

use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::field::{OVERHEAD, blob_key_version, validate_field_name};

use crate::error::ApiError;
use crate::principal::Principal;
use crate::state::AppState;
use crate::store::items::{Cas, Denied, Fields, PageQuery, Refusal, Replacement};

/// Most fields per item.
pub const MAX_FIELDS: usize = 64;
/// Largest encrypted field value (64 KiB of plaintext + overhead).
pub const MAX_FIELD_BYTES: usize = 64 * 1024 + OVERHEAD;
/// Largest page.
pub const MAX_PAGE: u64 = crate::store::items::MAX_PAGE as u64;
/// Most updates in one batch.
pub const MAX_BATCH: usize = 500;

fn not_found() -> ApiError {
    ApiError::not_found("item.not_found", "no such item")
}

fn item_exists() -> ApiError {
    ApiError::conflict("item.exists", "an item with this id exists; send its revision to update it")
}

fn stale() -> ApiError {
    ApiError::conflict("item.stale_revision", "the item changed since you read it; re-read and retry")
}

/// What a refusal of the store tells `who`; `key_version` is the write's (for
/// [`Refusal::KeyVersion`]).
pub(crate) fn refused(who: &Principal, no: Refusal, key_version: i32) -> ApiError {
    match no {
        Refusal::Denied(Denied::Unauthenticated) if who.is_worker() => {
            ApiError::unauthorized("auth.worker_revoked", "this worker is not (or no longer) granted")
        }
        Refusal::Denied(Denied::Unauthenticated) => {
            ApiError::unauthorized("auth.session_ended", "this session has ended")
        }
        Refusal::Denied(Denied::NotMember) => ApiError::not_found("account.not_found", "no such account"),
        Refusal::Denied(Denied::Inactive) => {
            ApiError::Forbidden { code: "account.forbidden", message: "your membership is not active yet".into() }
        }
        Refusal::Denied(Denied::ReadOnly) => {
            ApiError::Forbidden { code: "worker.read_only", message: "this worker was granted read access only".into() }
        }
        Refusal::Denied(Denied::NoSecondFactor) => crate::service::mfa::required_refusal(),
        Refusal::KeyVersion { current } => match check_key_version(key_version, current) {
            Err(e) => e,
            Ok(()) => ApiError::Internal("key version refused although current".into()),
        },
        Refusal::Exists => item_exists(),
        Refusal::Stale => stale(),
        Refusal::Missing => not_found(),
    }
}

/// Checks an item's fields (count, names, sizes, each blob under `key_version`) and returns them
/// as the JSON stored. Whether `key_version` exists yet is [`check_key_version`]'s part.
fn check_fields(fields: &BTreeMap<String, String>, key_version: u32) -> Result<String, ApiError> {
    if fields.len() > MAX_FIELDS {
        return Err(ApiError::bad("item.too_many_fields", format!("an item has at most {MAX_FIELDS} fields")));
    }
    // Clients bind every field to the item's whole set of field names (format v2): an item
    // without fields could carry no binding, so there is none.
    if fields.is_empty() {
        return Err(ApiError::bad("item.no_fields", "an item has at least one field"));
    }
    if key_version == 0 {
        return Err(bad_key_version());
    }
    for (name, value) in fields {
        validate_field_name(name).map_err(|e| ApiError::bad("item.invalid_field_name", e.to_string()))?;
        let blob = b64::decode(value, MAX_FIELD_BYTES).map_err(|e| match e {
            vouchsafe_crypto::Error::Invalid(_) => {
                ApiError::bad("item.field_too_large", format!("field {name:?}: at most 64 KiB, as base64url"))
            }
            _ => ApiError::bad("item.malformed_field", format!("field {name:?}: not unpadded base64url")),
        })?;
        match blob_key_version(&blob) {
            Ok(v) if v == key_version => {}
            Ok(_) => {
                return Err(ApiError::bad(
                    "item.bad_key_version",
                    format!("field {name:?} is under another key version"),
                ));
            }
            Err(e) => return Err(ApiError::bad("item.malformed_field", format!("field {name:?}: {e}"))),
        }
    }
    serde_json::to_string(fields).map_err(|e| ApiError::Internal(e.to_string()))
}

fn bad_key_version() -> ApiError {
    ApiError::bad("item.bad_key_version", "fields must be encrypted under an existing key version")
}

/// Writes — creates, replacements and every item of a batch — must be under the account's
/// current key version `current`. A version it does not have yet is a 400; a retired one is a
/// 409: a member removed at the last rotation still holds it, so data written under it (or an
/// item taken back to it) would be readable by them. A rotation's re-encryption writes are
/// under the current version, so they pass.
fn check_key_version(key_version: i32, current: i32) -> Result<(), ApiError> {
    match key_version.cmp(&current) {
        std::cmp::Ordering::Greater => Err(bad_key_version()),
        std::cmp::Ordering::Less => Err(ApiError::conflict(
            "item.retired_key_version",
            "fields must be encrypted under the account's current key version; re-read the account and its log",
        )),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

fn revision(rev: u64) -> Result<i64, ApiError> {
    i64::try_from(rev).map_err(|_| ApiError::bad("item.bad_revision", "revision out of range"))
}

fn fields(fields: &BTreeMap<String, String>, key_version: u32) -> Result<Fields, ApiError> {
    let json = check_fields(fields, key_version)?;
    Ok(Fields { key_version: i32::try_from(key_version).unwrap_or(i32::MAX), json })
}

/// A checked create or replace, ready to write.
pub struct PreparedPut {
    item_id: String,
    /// `None`: create; `Some(r)`: replace revision `r`.
    revision: Option<i64>,
    fields: Fields,
}

/// Checks a create or replace before any database work (field shapes and sizes; the id was
/// checked when it was read).
pub fn prepare_put(item_id: &Id, req: PutItemRequest) -> Result<PreparedPut, ApiError> {
    let fields = fields(&req.fields, req.key_version)?;
    Ok(PreparedPut { item_id: item_id.to_string(), revision: req.revision.map(revision).transpose()?, fields })
}

/// Creates (`revision` absent) or replaces (`revision` = current) an item: rights, key version
/// and write in one statement of the store.
pub async fn put(
    state: &AppState,
    account_id: &str,
    who: &Principal,
    put: PreparedPut,
    now: i64,
) -> Result<Vec<u8>, ApiError> {
    let kv = put.fields.key_version;
    let done = match put.revision {
        None => state.store.create_item(account_id, who, put.item_id, put.fields, now).await?,
        Some(rev) => {
            let new = Replacement { id: put.item_id, rev, fields: put.fields };
            state.store.replace_item(account_id, who, new, now).await?
        }
    };
    done.map_err(|no| refused(who, no, kv))
}

/// One item (a response body).
pub async fn get(
    state: &AppState,
    account_id: &str,
    who: &Principal,
    item_id: &str,
    now: i64,
) -> Result<Vec<u8>, ApiError> {
    let body = state.store.get_item(account_id, who, item_id, now).await?.map_err(|no| refused(who, no, 0))?;
    audit_read(state, account_id, who, 1, now).await?;
    Ok(body)
}

/// Counts what a worker read in the audit trail admins see.
async fn audit_read(
    state: &AppState,
    account_id: &str,
    who: &Principal,
    count: usize,
    now: i64,
) -> Result<(), ApiError> {
    if who.is_worker() {
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        crate::service::workers::audit(&state.db, account_id, who.id(), who.kind(), "items.read", count, now).await?;
    }
    Ok(())
}

/// A page of items in id order, after `cursor`; `below_version` keeps only items encrypted under
/// an older key version (what a rotation still has to re-encrypt).
pub async fn list(
    state: &AppState,
    account_id: &str,
    who: &Principal,
    cursor: Option<&str>,
    limit: u64,
    below_version: Option<u32>,
    now: i64,
) -> Result<Vec<u8>, ApiError> {
    let q = PageQuery {
        after: cursor.unwrap_or(""),
        below: below_version.map_or(i64::MAX, i64::from),
        limit: usize::try_from(limit.clamp(1, MAX_PAGE)).unwrap_or(crate::store::items::MAX_PAGE),
    };
    let page = state.store.item_page(account_id, who, q, now).await?.map_err(|no| refused(who, no, 0))?;
    audit_read(state, account_id, who, page.len(), now).await?;
    Ok(page.finish())
}

/// Deletes an item.
pub async fn delete(
    state: &AppState,
    account_id: &str,
    who: &Principal,
    item_id: &str,
    now: i64,
) -> Result<(), ApiError> {
    state.store.delete_item(account_id, who, item_id, now).await?.map_err(|no| refused(who, no, 0))
}

/// A checked batch of replacements (a rotation's page), ready to write.
pub struct PreparedBatch {
    items: Vec<Replacement>,
    /// The newest key version any item is under.
    newest: i32,
    /// The oldest.
    oldest: i32,
}

/// Checks a batch before any database work (count, ids, distinct ids, field shapes and sizes).
pub fn prepare_batch(req: BatchUpdateRequest) -> Result<PreparedBatch, ApiError> {
    if req.items.len() > MAX_BATCH {
        return Err(ApiError::bad("item.batch_too_large", format!("at most {MAX_BATCH} items per batch")));
    }
    let mut items = Vec::with_capacity(req.items.len());
    let mut seen = std::collections::HashSet::with_capacity(req.items.len());
    let mut newest = 0;
    let mut oldest = i32::MAX;
    for u in req.items {
        if !seen.insert(u.id.clone()) {
            return Err(ApiError::bad("item.duplicate_id", format!("item {:?} appears twice in the batch", u.id)));
        }
        let fields = fields(&u.fields, u.key_version)?;
        newest = newest.max(fields.key_version);
        oldest = oldest.min(fields.key_version);
        items.push(Replacement { id: u.id.into(), rev: revision(u.revision)?, fields });
    }
    if items.is_empty() {
        oldest = newest;
    }
    Ok(PreparedBatch { items, newest, oldest })
}

/// Applies up to 500 compare-and-set updates in one transaction (a rotation's page). Each item
/// is `updated`, `stale` (its revision moved on: the writer re-reads it) or `missing`. Every
/// item must be under the account's current key version.
pub async fn update_batch(
    state: &AppState,
    account_id: &str,
    who: &Principal,
    batch: PreparedBatch,
    now: i64,
) -> Result<BatchUpdateResponse, ApiError> {
    let (newest, oldest) = (batch.newest, batch.oldest);
    // Items under two versions cannot all be under the current one: -1 matches no account's
    // version, so the store refuses with the current one and the error below names the culprit.
    let version = if newest == oldest { newest } else { -1 };
    match state.store.update_items(account_id, who, batch.items, version, now).await? {
        Ok(results) => {
            Ok(BatchUpdateResponse { results: results.into_iter().map(|c: Cas| c.word().to_owned()).collect() })
        }
        Err(Refusal::KeyVersion { current }) => {
            check_key_version(newest, current)?;
            check_key_version(oldest, current)?;
            Err(ApiError::Internal("batch key versions refused although current".into()))
        }
        Err(no) => Err(refused(who, no, 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Test, code};
    use vouchsafe_crypto::field::{FieldKey, ItemBinding};

    fn blob(version: u32) -> Result<String, vouchsafe_crypto::Error> {
        let mk = vouchsafe_crypto::seal::MasterKey::generate(version, &mut vouchsafe_crypto::os_rng())?;
        let key = FieldKey::derive(&mk, "acct")?;
        let b = ItemBinding::new(1, ["n"]);
        Ok(vouchsafe_crypto::b64::encode(&key.seal_field("i", "n", b"v", &b, &mut vouchsafe_crypto::os_rng())?))
    }

    fn put(version: u32) -> Result<PutItemRequest, vouchsafe_crypto::Error> {
        Ok(PutItemRequest {
            revision: None,
            key_version: version,
            fields: BTreeMap::from([("n".to_owned(), blob(version)?)]),
        })
    }

    #[test]
    fn writes_are_checked_before_any_database_work() -> Test {
        let id = &Id::parse("abcdefghijklmnop")?;
        assert_eq!(code(prepare_put(id, put(1)?)), "accepted");
        assert!(Id::parse("abcdefghijklmno").is_err(), "15 characters are too few");
        assert!(Id::parse("abcdefghijklmno+").is_err(), "not base64url");
        assert!(Id::parse("a".repeat(65)).is_err(), "65 characters are too many");
        assert!(Id::parse("a".repeat(64)).is_ok());
        let mut empty = put(1)?;
        empty.fields.clear();
        assert_eq!(code(prepare_put(id, empty)), "item.no_fields");
        let mut claims_two = put(1)?;
        claims_two.key_version = 2;
        assert_eq!(code(prepare_put(id, claims_two)), "item.bad_key_version", "blob under v1");
        let mut bad_name = put(1)?;
        let v = bad_name.fields.remove("n").ok_or("field n")?;
        bad_name.fields.insert(String::new(), v);
        assert_eq!(code(prepare_put(id, bad_name)), "item.invalid_field_name");
        Ok(())
    }

    #[test]
    fn a_batch_names_each_item_once() -> Test {
        let fields = put(1)?.fields;
        let u = |id: &str| -> Result<BatchItemUpdate, InvalidId> {
            Ok(BatchItemUpdate { id: Id::parse(id)?, revision: 1, key_version: 1, fields: fields.clone() })
        };
        let ok = prepare_batch(BatchUpdateRequest { items: vec![u("a-item-000000001")?, u("a-item-000000002")?] });
        assert_eq!(code(ok), "accepted");
        let twice = prepare_batch(BatchUpdateRequest { items: vec![u("a-item-000000001")?, u("a-item-000000001")?] });
        assert_eq!(code(twice), "item.duplicate_id");
        Ok(())
    }

    #[test]
    fn key_versions_and_refusals_say_what_is_wrong() {
        assert_eq!(code(check_key_version(3, 2)), "item.bad_key_version");
        assert_eq!(code(check_key_version(1, 2)), "item.retired_key_version");
        assert!(check_key_version(2, 2).is_ok());
        let member = Principal::Member { user_id: "u".into(), session_id: "s".into() };
        let worker = Principal::Worker { worker_id: "w".into() };
        let cases = [
            (&member, Refusal::Denied(Denied::Unauthenticated), "auth.session_ended"),
            (&worker, Refusal::Denied(Denied::Unauthenticated), "auth.worker_revoked"),
            (&member, Refusal::Denied(Denied::NotMember), "account.not_found"),
            (&member, Refusal::Denied(Denied::Inactive), "account.forbidden"),
            (&worker, Refusal::Denied(Denied::ReadOnly), "worker.read_only"),
            (&member, Refusal::Denied(Denied::NoSecondFactor), "account.second_factor_required"),
            (&member, Refusal::KeyVersion { current: 2 }, "item.retired_key_version"),
            (&member, Refusal::Exists, "item.exists"),
            (&member, Refusal::Stale, "item.stale_revision"),
            (&member, Refusal::Missing, "item.not_found"),
        ];
        for (who, no, want) in cases {
            assert_eq!(refused(who, no, 1).code(), want, "{no:?}");
        }
    }
}
