//! Encrypted items: the server checks shapes, sizes, key versions and revisions; it cannot read
//! a field value.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::field::{OVERHEAD, blob_key_version, validate_field_name};

use crate::error::ApiError;
use crate::service::accounts::active_member;
use crate::service::auth::live_session_exists;
use crate::state::AppState;
use entity::{account, item, membership};

/// Most fields per item.
pub const MAX_FIELDS: usize = 64;
/// Largest encrypted field value (64 KiB of plaintext + overhead).
pub const MAX_FIELD_BYTES: usize = 64 * 1024 + OVERHEAD;
/// Largest page.
pub const MAX_PAGE: u64 = 500;

fn not_found() -> ApiError {
    ApiError::not_found("item.not_found", "no such item")
}

/// An item as the API sends it: the same shape as [`ItemWire`], but the stored `fields` JSON
/// (written by [`check_fields`]) passes through without being parsed into a map and serialized
/// again — most of the cost of a list.
#[derive(Debug, serde::Serialize)]
pub struct ItemOut {
    id: String,
    key_version: u32,
    revision: u64,
    fields: Box<serde_json::value::RawValue>,
    created_by: String,
    updated_by: String,
    created_at: i64,
    updated_at: i64,
}

/// A page of [`ItemOut`] (the shape of [`ItemPage`]).
#[derive(Debug, serde::Serialize)]
pub struct ItemPageOut {
    items: Vec<ItemOut>,
    next_cursor: Option<String>,
}

fn to_out(m: item::Model) -> Result<ItemOut, ApiError> {
    Ok(ItemOut {
        fields: serde_json::value::RawValue::from_string(m.fields)
            .map_err(|e| ApiError::Internal(format!("stored fields: {e}")))?,
        id: m.id,
        key_version: u32::try_from(m.key_version).unwrap_or(0),
        revision: u64::try_from(m.revision).unwrap_or(0),
        created_by: m.created_by,
        updated_by: m.updated_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// The caller's membership row as the one-query paths accept it: active, and not a worker
/// (workers take the detailed path, which checks their grant and audits their reads).
fn member_row(account_id: &str, user_id: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(membership::Column::AccountId.eq(account_id))
        .add(membership::Column::UserId.eq(user_id))
        .add(membership::Column::Status.eq("active"))
        .add(membership::Column::Role.ne("worker"))
}

/// A member's read in one query: the item, only if the session is live and the caller an active
/// (non-worker) member. `None` means "take the detailed path", which says what is wrong.
pub async fn get_fast(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    session_id: &str,
    item_id: &str,
    now: i64,
) -> Result<Option<ItemOut>, ApiError> {
    use sea_orm::sea_query::{Expr, Query};
    let member = Query::select()
        .expr(Expr::val(1))
        .from(membership::Entity)
        .cond_where(member_row(account_id, user_id))
        .to_owned();
    item::Entity::find_by_id((account_id.to_owned(), item_id.to_owned()))
        .filter(Expr::exists(member))
        .filter(live_session_exists(user_id, session_id, now))
        .one(&state.db)
        .await?
        .map(to_out)
        .transpose()
}

fn check_fields(fields: &BTreeMap<String, String>, key_version: u32, current: u32) -> Result<String, ApiError> {
    if fields.len() > MAX_FIELDS {
        return Err(ApiError::bad("item.too_many_fields", format!("an item has at most {MAX_FIELDS} fields")));
    }
    if key_version == 0 || key_version > current {
        return Err(ApiError::bad("item.bad_key_version", "fields must be encrypted under an existing key version"));
    }
    for (name, value) in fields {
        validate_field_name(name).map_err(|e| ApiError::bad("item.invalid_field_name", e.to_string()))?;
        let blob = b64::decode(value, MAX_FIELD_BYTES).map_err(|_| {
            ApiError::bad("item.field_too_large", format!("field {name:?}: at most 64 KiB, as base64url"))
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

/// Creates (`revision` absent) or replaces (`revision` = current) an item.
pub async fn put(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    item_id: &str,
    req: PutItemRequest,
    now: i64,
) -> Result<ItemOut, ApiError> {
    access(state, account_id, user_id, true).await?;
    let a = account::Entity::find_by_id(account_id.to_owned()).one(&state.db).await?.ok_or_else(not_found)?;
    put_checked(state, account_id, user_id, item_id, req, now, a.key_version).await
}

/// A member's write access and the account's current key version in one query, only if the
/// session is live and the caller an active non-worker member. `None`: take the detailed path.
pub async fn member_write_access(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    session_id: &str,
    now: i64,
) -> Result<Option<i32>, ApiError> {
    use sea_orm::JoinType;
    let on_account = membership::Entity::belongs_to(account::Entity)
        .from(membership::Column::AccountId)
        .to(account::Column::Id)
        .into();
    Ok(membership::Entity::find()
        .select_only()
        .column(account::Column::KeyVersion)
        .join(JoinType::InnerJoin, on_account)
        .filter(member_row(account_id, user_id))
        .filter(live_session_exists(user_id, session_id, now))
        .into_tuple::<i32>()
        .one(&state.db)
        .await?)
}

/// Creates or updates an item once access is established; `current` is the account's key version.
pub async fn put_checked(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    item_id: &str,
    req: PutItemRequest,
    now: i64,
    current: i32,
) -> Result<ItemOut, ApiError> {
    if item_id.len() < 16 {
        return Err(ApiError::bad("request.invalid_id", "item ids are random ids of 16 to 64 characters"));
    }
    vouchsafe_crypto::validate_id(item_id).map_err(|e| ApiError::bad("request.invalid_id", e.to_string()))?;
    let fields = check_fields(&req.fields, req.key_version, u32::try_from(current).unwrap_or(0))?;
    let kv = i32::try_from(req.key_version).unwrap_or(i32::MAX);
    match req.revision {
        None => {
            let m = item::ActiveModel {
                account_id: Set(account_id.to_owned()),
                id: Set(item_id.to_owned()),
                key_version: Set(kv),
                revision: Set(1),
                fields: Set(fields),
                created_by: Set(user_id.to_owned()),
                updated_by: Set(user_id.to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
            };
            match m.insert(&state.db).await {
                Ok(m) => to_out(m),
                Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => Err(
                    ApiError::conflict("item.exists", "an item with this id exists; send its revision to update it"),
                ),
                Err(e) => Err(e.into()),
            }
        }
        Some(rev) => {
            let rev = revision(rev)?;
            let new = Replacement { rev, key_version: kv, fields };
            match compare_and_set(&state.db, account_id, item_id, new, user_id, now).await? {
                Cas::Updated => to_out(
                    item::Entity::find_by_id((account_id.to_owned(), item_id.to_owned()))
                        .one(&state.db)
                        .await?
                        .ok_or_else(not_found)?,
                ),
                Cas::Stale => Err(ApiError::conflict(
                    "item.stale_revision",
                    "the item changed since you read it; re-read and retry",
                )),
                Cas::Missing => Err(not_found()),
            }
        }
    }
}

fn revision(rev: u64) -> Result<i64, ApiError> {
    i64::try_from(rev).map_err(|_| ApiError::bad("item.bad_revision", "revision out of range"))
}

/// What a compare-and-set update did.
enum Cas {
    Updated,
    /// The revision moved on (a concurrent writer): re-read and retry.
    Stale,
    Missing,
}

/// New fields for an item read at revision `rev`.
struct Replacement {
    rev: i64,
    key_version: i32,
    /// Validated field JSON ([`check_fields`]).
    fields: String,
}

/// Replaces an item's fields only if its revision is still `new.rev`; a concurrent writer makes
/// the update match nothing. Used by single updates and by batches (inside their transaction).
async fn compare_and_set<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    item_id: &str,
    new: Replacement,
    user_id: &str,
    now: i64,
) -> Result<Cas, ApiError> {
    use sea_orm::sea_query::Expr;
    let rev = new.rev;
    let res = item::Entity::update_many()
        .col_expr(item::Column::Fields, Expr::value(new.fields))
        .col_expr(item::Column::KeyVersion, Expr::value(new.key_version))
        .col_expr(item::Column::Revision, Expr::value(rev + 1))
        .col_expr(item::Column::UpdatedBy, Expr::value(user_id))
        .col_expr(item::Column::UpdatedAt, Expr::value(now))
        .filter(item::Column::AccountId.eq(account_id))
        .filter(item::Column::Id.eq(item_id))
        .filter(item::Column::Revision.eq(rev))
        .exec(db)
        .await?;
    if res.rows_affected == 1 {
        return Ok(Cas::Updated);
    }
    let exists = item::Entity::find_by_id((account_id.to_owned(), item_id.to_owned())).one(db).await?.is_some();
    Ok(if exists { Cas::Stale } else { Cas::Missing })
}

/// One item.
pub async fn get(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    item_id: &str,
    now: i64,
) -> Result<ItemOut, ApiError> {
    let worker = access(state, account_id, user_id, false).await?;
    let w = to_out(
        item::Entity::find_by_id((account_id.to_owned(), item_id.to_owned()))
            .one(&state.db)
            .await?
            .ok_or_else(not_found)?,
    )?;
    audit_read(state, account_id, user_id, worker, 1, now).await?;
    Ok(w)
}

/// Checks the caller may read (or write) items; a worker needs read-write access to write.
async fn access(state: &AppState, account_id: &str, user_id: &str, write: bool) -> Result<bool, ApiError> {
    let m = active_member(&state.db, account_id, user_id).await?;
    let worker = m.role == "worker";
    if write && worker && !crate::service::workers::can_write(state, user_id).await? {
        return Err(ApiError::Forbidden {
            code: "worker.read_only",
            message: "this worker was granted read access only".into(),
        });
    }
    Ok(worker)
}

/// Counts what a worker read in the audit trail admins see.
async fn audit_read(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    worker: bool,
    count: u64,
    now: i64,
) -> Result<(), ApiError> {
    if worker {
        crate::service::workers::audit(&state.db, account_id, user_id, "worker", "items.read", count, now).await?;
    }
    Ok(())
}

/// A page of items in id order, after `cursor`; `below_version` keeps only items encrypted under
/// an older key version (what a rotation still has to re-encrypt).
pub async fn list(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    cursor: Option<&str>,
    limit: u64,
    below_version: Option<u32>,
    now: i64,
) -> Result<ItemPageOut, ApiError> {
    let worker = access(state, account_id, user_id, false).await?;
    let limit = limit.clamp(1, MAX_PAGE);
    let mut q = item::Entity::find().filter(item::Column::AccountId.eq(account_id));
    if let Some(c) = cursor {
        q = q.filter(item::Column::Id.gt(c));
    }
    if let Some(v) = below_version {
        q = q.filter(item::Column::KeyVersion.lt(i32::try_from(v).unwrap_or(i32::MAX)));
    }
    let rows = q.order_by_asc(item::Column::Id).limit(limit + 1).all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    let items =
        rows.into_iter().take(usize::try_from(limit).unwrap_or(500)).map(to_out).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if more { items.last().map(|i| i.id.clone()) } else { None };
    audit_read(state, account_id, user_id, worker, items.len() as u64, now).await?;
    Ok(ItemPageOut { items, next_cursor })
}

/// Deletes an item.
pub async fn delete(state: &AppState, account_id: &str, user_id: &str, item_id: &str) -> Result<(), ApiError> {
    access(state, account_id, user_id, true).await?;
    let res = item::Entity::delete_by_id((account_id.to_owned(), item_id.to_owned())).exec(&state.db).await?;
    if res.rows_affected != 1 {
        return Err(not_found());
    }
    Ok(())
}

/// Most updates in one batch.
pub const MAX_BATCH: usize = 500;

/// Applies up to 500 compare-and-set updates in one transaction (a rotation's page). Each item
/// is `updated`, `stale` (its revision moved on: the writer re-reads it) or `missing`.
pub async fn update_batch(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    req: BatchUpdateRequest,
    now: i64,
) -> Result<BatchUpdateResponse, ApiError> {
    access(state, account_id, user_id, true).await?;
    if req.items.len() > MAX_BATCH {
        return Err(ApiError::bad("item.batch_too_large", format!("at most {MAX_BATCH} items per batch")));
    }
    let a = account::Entity::find_by_id(account_id.to_owned()).one(&state.db).await?.ok_or_else(not_found)?;
    let current = u32::try_from(a.key_version).unwrap_or(0);
    let mut prepared = Vec::with_capacity(req.items.len());
    for u in req.items {
        vouchsafe_crypto::validate_id(&u.id).map_err(|e| ApiError::bad("request.invalid_id", e.to_string()))?;
        let fields = check_fields(&u.fields, u.key_version, current)?;
        let key_version = i32::try_from(u.key_version).unwrap_or(i32::MAX);
        prepared.push((u.id, Replacement { rev: revision(u.revision)?, key_version, fields }));
    }
    let (aid, uid) = (account_id.to_owned(), user_id.to_owned());
    let results = state
        .db
        .transaction::<_, Vec<&'static str>, ApiError>(move |txn| {
            Box::pin(async move {
                let mut results = Vec::with_capacity(prepared.len());
                for (id, new) in prepared {
                    results.push(match compare_and_set(txn, &aid, &id, new, &uid, now).await? {
                        Cas::Updated => "updated",
                        Cas::Stale => "stale",
                        Cas::Missing => "missing",
                    });
                }
                Ok(results)
            })
        })
        .await?;
    Ok(BatchUpdateResponse { results: results.into_iter().map(str::to_owned).collect() })
}
