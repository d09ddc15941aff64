//! Encrypted items: the server checks shapes, sizes, key versions and revisions; it cannot read
//! a field value.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;
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

/// An item row, borrowed from wherever it was read (a sea-orm model or a SQLite row).
pub struct ItemRow<'a> {
    id: &'a str,
    key_version: i64,
    revision: i64,
    /// The stored field JSON, written by [`check_fields`]: sent as it is (as bytes: not even
    /// checked for UTF-8 again).
    fields: &'a [u8],
    created_by: &'a str,
    updated_by: &'a str,
    created_at: i64,
    updated_at: i64,
}

impl<'a> From<&'a item::Model> for ItemRow<'a> {
    fn from(m: &'a item::Model) -> Self {
        Self {
            id: &m.id,
            key_version: i64::from(m.key_version),
            revision: m.revision,
            fields: m.fields.as_bytes(),
            created_by: &m.created_by,
            updated_by: &m.updated_by,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl<'a> ItemRow<'a> {
    fn from_sql(r: &'a rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let bad =
            |i: usize| move |e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e));
        let text = |i: usize| -> rusqlite::Result<&'a str> { r.get_ref(i)?.as_str().map_err(bad(i)) };
        Ok(Self {
            id: text(0)?,
            key_version: r.get(1)?,
            revision: r.get(2)?,
            fields: r.get_ref(3)?.as_bytes().map_err(bad(3))?,
            created_by: text(4)?,
            updated_by: text(5)?,
            created_at: r.get(6)?,
            updated_at: r.get(7)?,
        })
    }

    /// Appends the item as the API sends it (the shape of [`ItemWire`]). The stored field JSON
    /// is not parsed and serialized again — most of the cost of a list.
    fn write_json(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let s = |out: &mut Vec<u8>, v: &str| {
            // Writing a string into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, v);
        };
        out.extend_from_slice(b"{\"id\":");
        s(out, self.id);
        let _ = write!(out, ",\"key_version\":{},\"revision\":{},\"fields\":", self.key_version, self.revision);
        out.extend_from_slice(self.fields);
        out.extend_from_slice(b",\"created_by\":");
        s(out, self.created_by);
        out.extend_from_slice(b",\"updated_by\":");
        s(out, self.updated_by);
        let _ = write!(out, ",\"created_at\":{},\"updated_at\":{}}}", self.created_at, self.updated_at);
    }

    /// The item as a response body.
    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.fields.len() + 256);
        self.write_json(&mut out);
        out
    }
}

/// A page as the API sends it (the shape of [`ItemPage`]), written row by row: rows come in id
/// order, `limit + 1` of them are read, and the extra one only says there is a next page.
struct Page {
    out: Vec<u8>,
    limit: usize,
    sent: usize,
    /// The last sent id once the page is full: the cursor, if another row follows.
    last: Option<String>,
    more: bool,
}

impl Page {
    fn new(limit: usize) -> Self {
        // Room for a page of typical items up front (three short fields are ≈ 750 bytes), so a
        // 500-item page is not copied over and over as it grows.
        let mut out = Vec::with_capacity(limit.min(MAX_PAGE as usize) * 1024);
        out.extend_from_slice(b"{\"items\":[");
        Self { out, limit, sent: 0, last: None, more: false }
    }

    /// Adds a row; `false` once the page is full (the row belongs to the next page).
    fn push(&mut self, row: &ItemRow<'_>) -> bool {
        if self.sent == self.limit {
            self.more = true;
            return false;
        }
        if self.sent > 0 {
            self.out.push(b',');
        }
        row.write_json(&mut self.out);
        self.sent += 1;
        if self.sent == self.limit {
            self.last = Some(row.id.to_owned());
        }
        true
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b"],\"next_cursor\":");
        match self.last.filter(|_| self.more) {
            Some(c) => {
                let _ = serde_json::to_writer(&mut self.out, &c);
            }
            None => self.out.extend_from_slice(b"null"),
        }
        self.out.push(b'}');
        self.out
    }
}

/// The caller's membership row as the one-query paths accept it: active, and not a worker
/// (workers take the detailed path, which checks their grant and audits their reads).
/// [`member_sql!`] is the same condition for the SQLite hot paths.
fn member_row(account_id: &str, user_id: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(membership::Column::AccountId.eq(account_id))
        .add(membership::Column::UserId.eq(user_id))
        .add(membership::Column::Status.eq("active"))
        .add(membership::Column::Role.ne("worker"))
}

// ---------------------------------------------------------------- SQL of the SQLite hot paths

/// Columns in the order [`ItemRow::from_sql`] reads them.
macro_rules! item_columns {
    () => {
        "i.id, i.key_version, i.revision, i.fields, i.created_by, i.updated_by, i.created_at, i.updated_at"
    };
}

/// [`member_row`] and a live session ([`crate::service::auth::live_session`]) as SQL;
/// parameters `?1` account, `?2` user, `?3` session, `?4` now.
macro_rules! member_sql {
    () => {
        "EXISTS (SELECT 1 FROM memberships m WHERE m.account_id = ?1 AND m.user_id = ?2 \
         AND m.status = 'active' AND m.role <> 'worker') \
         AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = ?3 AND s.user_id = ?2 AND s.revoked_at IS NULL \
         AND s.expires_at > ?4)"
    };
}

/// A member's item `?5`.
const GET_SQL: &str =
    concat!("SELECT ", item_columns!(), " FROM items i WHERE i.account_id = ?1 AND i.id = ?5 AND ", member_sql!());
/// Whether the caller may read the account's items.
const MAY_READ_SQL: &str = concat!("SELECT ", member_sql!());
/// A page: ids after `?2`, key versions below `?3`, at most `?4` rows.
const PAGE_SQL: &str = concat!(
    "SELECT ",
    item_columns!(),
    " FROM items i WHERE i.account_id = ?1 AND i.id > ?2 AND i.key_version < ?3 ORDER BY i.id LIMIT ?4"
);
/// One item, without access checks (read back inside a write that checked them).
const ONE_SQL: &str = concat!("SELECT ", item_columns!(), " FROM items i WHERE i.account_id = ?1 AND i.id = ?2");
/// The account's key version if the caller may write.
const MAY_WRITE_SQL: &str = concat!("SELECT a.key_version FROM accounts a WHERE a.id = ?1 AND ", member_sql!());

/// Who is asking, as the one-query paths check it: a member's session from a verified token.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    /// User id.
    pub user_id: &'a str,
    /// Session id.
    pub session_id: &'a str,
    /// The request's time.
    pub now: i64,
}

/// A member's read in one query: the item (a response body), only if the session is live and
/// the caller an active (non-worker) member. `None` means "take the detailed path", which says
/// what is wrong.
pub async fn get_fast(
    state: &AppState,
    account_id: &str,
    who: Caller<'_>,
    item_id: &str,
) -> Result<Option<Vec<u8>>, ApiError> {
    if let Some(hot) = &state.hot {
        return hot.read(|c| {
            let params = rusqlite::params![account_id, who.user_id, who.session_id, who.now, item_id];
            Ok(c.prepare_cached(GET_SQL)?.query_row(params, |r| Ok(ItemRow::from_sql(r)?.to_json())).optional()?)
        });
    }
    use sea_orm::sea_query::{Expr, Query};
    let member = Query::select()
        .expr(Expr::val(1))
        .from(membership::Entity)
        .cond_where(member_row(account_id, who.user_id))
        .to_owned();
    Ok(item::Entity::find_by_id((account_id.to_owned(), item_id.to_owned()))
        .filter(Expr::exists(member))
        .filter(live_session_exists(who.user_id, who.session_id, who.now))
        .one(&state.db)
        .await?
        .map(|m| ItemRow::from(&m).to_json()))
}

/// A member's page of items: the session and membership checked, then one page read, on the
/// calling thread's SQLite connection. `None`: take the detailed path (also on PostgreSQL).
pub fn list_fast(
    state: &AppState,
    account_id: &str,
    who: Caller<'_>,
    cursor: Option<&str>,
    limit: u64,
    below_version: Option<u32>,
) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(hot) = &state.hot else { return Ok(None) };
    let limit = limit.clamp(1, MAX_PAGE);
    hot.read(|c| {
        let access = rusqlite::params![account_id, who.user_id, who.session_id, who.now];
        if !c.prepare_cached(MAY_READ_SQL)?.query_row(access, |r| r.get::<_, bool>(0))? {
            return Ok(None);
        }
        let mut stmt = c.prepare_cached(PAGE_SQL)?;
        let below = below_version.map_or(i64::MAX, i64::from);
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let mut rows = stmt.query(rusqlite::params![account_id, cursor.unwrap_or(""), below, fetch])?;
        let mut page = Page::new(usize::try_from(limit).unwrap_or(500));
        while let Some(r) = rows.next()? {
            if !page.push(&ItemRow::from_sql(r)?) {
                break;
            }
        }
        Ok(Some(page.finish()))
    })
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

impl PreparedBatch {
    /// Every item's key version against the current one (oldest and newest cover them all).
    fn check_key_versions(&self, current: i32) -> Result<(), ApiError> {
        check_key_version(self.newest, current)?;
        check_key_version(self.oldest, current)
    }
}

/// A checked create or replace, ready to write.
pub struct PreparedPut {
    item_id: String,
    key_version: i32,
    /// `None`: create; `Some(r)`: replace revision `r`.
    revision: Option<i64>,
    /// Validated field JSON.
    fields: String,
}

/// Checks a create or replace before any database work (ids, field shapes and sizes).
pub fn prepare_put(item_id: &str, req: PutItemRequest) -> Result<PreparedPut, ApiError> {
    if item_id.len() < 16 {
        return Err(ApiError::bad("request.invalid_id", "item ids are random ids of 16 to 64 characters"));
    }
    vouchsafe_crypto::validate_id(item_id).map_err(|e| ApiError::bad("request.invalid_id", e.to_string()))?;
    let fields = check_fields(&req.fields, req.key_version)?;
    Ok(PreparedPut {
        item_id: item_id.to_owned(),
        key_version: i32::try_from(req.key_version).unwrap_or(i32::MAX),
        revision: req.revision.map(revision).transpose()?,
        fields,
    })
}

fn item_exists() -> ApiError {
    ApiError::conflict("item.exists", "an item with this id exists; send its revision to update it")
}

fn stale() -> ApiError {
    ApiError::conflict("item.stale_revision", "the item changed since you read it; re-read and retry")
}

/// What a single write's compare-and-set means for the request.
fn replaced(cas: Cas) -> Result<(), ApiError> {
    match cas {
        Cas::Updated => Ok(()),
        Cas::Stale => Err(stale()),
        Cas::Missing => Err(not_found()),
    }
}

/// The detailed path's write access: an active member (a worker only with a read-write grant);
/// returns the account's key version.
async fn write_access(state: &AppState, account_id: &str, user_id: &str) -> Result<i32, ApiError> {
    access(state, account_id, user_id, true).await?;
    let a = account::Entity::find_by_id(account_id.to_owned()).one(&state.db).await?.ok_or_else(not_found)?;
    Ok(a.key_version)
}

/// Creates (`revision` absent) or replaces (`revision` = current) an item.
pub async fn put(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    put: PreparedPut,
    now: i64,
) -> Result<Vec<u8>, ApiError> {
    check_key_version(put.key_version, write_access(state, account_id, user_id).await?)?;
    let Some(rev) = put.revision else {
        let m = item::ActiveModel {
            account_id: Set(account_id.to_owned()),
            id: Set(put.item_id),
            key_version: Set(put.key_version),
            revision: Set(1),
            fields: Set(put.fields),
            created_by: Set(user_id.to_owned()),
            updated_by: Set(user_id.to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        return match m.insert(&state.db).await {
            Ok(m) => Ok(ItemRow::from(&m).to_json()),
            Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => Err(item_exists()),
            Err(e) => Err(e.into()),
        };
    };
    let new = Replacement { rev, key_version: put.key_version, fields: put.fields };
    replaced(compare_and_set(&state.db, account_id, &put.item_id, new, user_id, now).await?)?;
    let m = item::Entity::find_by_id((account_id.to_owned(), put.item_id)).one(&state.db).await?;
    Ok(ItemRow::from(&m.ok_or_else(not_found)?).to_json())
}

/// A member's write on the SQLite writer thread: who writes, to which account, when (owned, as
/// the job outlives the request's borrows).
struct HotWrite {
    account_id: String,
    user_id: String,
    session_id: String,
    now: i64,
}

impl HotWrite {
    fn new(account_id: &str, who: Caller<'_>) -> Self {
        Self {
            account_id: account_id.to_owned(),
            user_id: who.user_id.to_owned(),
            session_id: who.session_id.to_owned(),
            now: who.now,
        }
    }

    /// The account's key version if the caller is an active non-worker member with a live
    /// session — checked inside the write's transaction.
    fn key_version(&self, c: &rusqlite::Connection) -> Result<Option<i32>, ApiError> {
        let params = rusqlite::params![self.account_id, self.user_id, self.session_id, self.now];
        Ok(c.prepare_cached(MAY_WRITE_SQL)?.query_row(params, |r| r.get(0)).optional()?)
    }

    /// [`compare_and_set`] on the writer's connection.
    fn compare_and_set(&self, c: &rusqlite::Connection, item_id: &str, new: Replacement) -> Result<Cas, ApiError> {
        let n = c
            .prepare_cached(
                "UPDATE items SET fields = ?1, key_version = ?2, revision = ?3 + 1, updated_by = ?4, \
                 updated_at = ?5 WHERE account_id = ?6 AND id = ?7 AND revision = ?3",
            )?
            .execute(rusqlite::params![
                new.fields,
                new.key_version,
                new.rev,
                self.user_id,
                self.now,
                self.account_id,
                item_id
            ])?;
        if n == 1 {
            return Ok(Cas::Updated);
        }
        let exists = c
            .prepare_cached("SELECT 1 FROM items WHERE account_id = ?1 AND id = ?2")?
            .exists(rusqlite::params![self.account_id, item_id])?;
        Ok(if exists { Cas::Stale } else { Cas::Missing })
    }

    /// Creates or replaces an item; `Err(put)` gives it back when the caller may not write here.
    fn put(&self, c: &rusqlite::Connection, put: PreparedPut) -> Result<Result<Vec<u8>, PreparedPut>, ApiError> {
        let Some(current) = self.key_version(c)? else { return Ok(Err(put)) };
        check_key_version(put.key_version, current)?;
        let Some(rev) = put.revision else {
            let n = c
                .prepare_cached(
                    "INSERT INTO items (account_id, id, key_version, revision, fields, created_by, updated_by, \
                     created_at, updated_at) VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5, ?6, ?6) ON CONFLICT DO NOTHING",
                )?
                .execute(rusqlite::params![
                    self.account_id,
                    put.item_id,
                    put.key_version,
                    put.fields,
                    self.user_id,
                    self.now
                ])?;
            if n == 0 {
                return Err(item_exists());
            }
            let row = ItemRow {
                id: &put.item_id,
                key_version: i64::from(put.key_version),
                revision: 1,
                fields: put.fields.as_bytes(),
                created_by: &self.user_id,
                updated_by: &self.user_id,
                created_at: self.now,
                updated_at: self.now,
            };
            return Ok(Ok(row.to_json()));
        };
        let new = Replacement { rev, key_version: put.key_version, fields: put.fields };
        replaced(self.compare_and_set(c, &put.item_id, new)?)?;
        let params = rusqlite::params![self.account_id, put.item_id];
        let body = c.prepare_cached(ONE_SQL)?.query_row(params, |r| Ok(ItemRow::from_sql(r)?.to_json())).optional()?;
        Ok(Ok(body.ok_or_else(not_found)?))
    }
}

/// A member's create or replace on the SQLite writer: session, membership and key version are
/// checked in the same transaction as the write. `Ok(Err(put))`: take the detailed path with it
/// (also on PostgreSQL), which says what is wrong.
pub async fn put_fast(
    state: &AppState,
    account_id: &str,
    who: Caller<'_>,
    put: PreparedPut,
) -> Result<Result<Vec<u8>, PreparedPut>, ApiError> {
    let Some(hot) = &state.hot else { return Ok(Err(put)) };
    let w = HotWrite::new(account_id, who);
    hot.write(move |c| w.put(c, put)).await
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

impl Cas {
    fn word(&self) -> &'static str {
        match self {
            Cas::Updated => "updated",
            Cas::Stale => "stale",
            Cas::Missing => "missing",
        }
    }
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
/// [`HotWrite::compare_and_set`] is the same statement on the SQLite writer.
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

/// One item (a response body).
pub async fn get(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    item_id: &str,
    now: i64,
) -> Result<Vec<u8>, ApiError> {
    let worker = access(state, account_id, user_id, false).await?;
    let m = item::Entity::find_by_id((account_id.to_owned(), item_id.to_owned()))
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    audit_read(state, account_id, user_id, worker, 1, now).await?;
    Ok(ItemRow::from(&m).to_json())
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
) -> Result<Vec<u8>, ApiError> {
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
    let mut page = Page::new(usize::try_from(limit).unwrap_or(500));
    for m in &rows {
        if !page.push(&ItemRow::from(m)) {
            break;
        }
    }
    audit_read(state, account_id, user_id, worker, page.sent as u64, now).await?;
    Ok(page.finish())
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

/// A checked batch of replacements (a rotation's page), ready to write.
pub struct PreparedBatch {
    items: Vec<(String, Replacement)>,
    /// The newest key version any item is under.
    newest: i32,
    /// The oldest.
    oldest: i32,
}

/// Checks a batch before any database work (count, ids, field shapes and sizes).
pub fn prepare_batch(req: BatchUpdateRequest) -> Result<PreparedBatch, ApiError> {
    if req.items.len() > MAX_BATCH {
        return Err(ApiError::bad("item.batch_too_large", format!("at most {MAX_BATCH} items per batch")));
    }
    let mut items = Vec::with_capacity(req.items.len());
    let mut newest = 0;
    let mut oldest = i32::MAX;
    for u in req.items {
        vouchsafe_crypto::validate_id(&u.id).map_err(|e| ApiError::bad("request.invalid_id", e.to_string()))?;
        let fields = check_fields(&u.fields, u.key_version)?;
        let key_version = i32::try_from(u.key_version).unwrap_or(i32::MAX);
        newest = newest.max(key_version);
        oldest = oldest.min(key_version);
        items.push((u.id, Replacement { rev: revision(u.revision)?, key_version, fields }));
    }
    if items.is_empty() {
        oldest = newest;
    }
    Ok(PreparedBatch { items, newest, oldest })
}

/// Applies up to 500 compare-and-set updates in one transaction (a rotation's page). Each item
/// is `updated`, `stale` (its revision moved on: the writer re-reads it) or `missing`.
pub async fn update_batch(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    batch: PreparedBatch,
    now: i64,
) -> Result<BatchUpdateResponse, ApiError> {
    batch.check_key_versions(write_access(state, account_id, user_id).await?)?;
    let (aid, uid) = (account_id.to_owned(), user_id.to_owned());
    let results = state
        .db
        .transaction::<_, Vec<String>, ApiError>(move |txn| {
            Box::pin(async move {
                let mut results = Vec::with_capacity(batch.items.len());
                for (id, new) in batch.items {
                    results.push(compare_and_set(txn, &aid, &id, new, &uid, now).await?.word().to_owned());
                }
                Ok(results)
            })
        })
        .await?;
    Ok(BatchUpdateResponse { results })
}

/// [`update_batch`] for a member on the SQLite writer, access checked in the same transaction.
/// `Ok(Err(batch))`: take the detailed path with it.
pub async fn update_batch_fast(
    state: &AppState,
    account_id: &str,
    who: Caller<'_>,
    batch: PreparedBatch,
) -> Result<Result<BatchUpdateResponse, PreparedBatch>, ApiError> {
    let Some(hot) = &state.hot else { return Ok(Err(batch)) };
    let w = HotWrite::new(account_id, who);
    hot.write(move |c| {
        let Some(current) = w.key_version(c)? else { return Ok(Err(batch)) };
        batch.check_key_versions(current)?;
        let mut results = Vec::with_capacity(batch.items.len());
        for (id, new) in batch.items {
            results.push(w.compare_and_set(c, &id, new)?.word().to_owned());
        }
        Ok(Ok(BatchUpdateResponse { results }))
    })
    .await
}
