//! The item store: one interface over SQLite and PostgreSQL.
//!
//! **One definition of access.** Every read and write states the caller's rights as one SQL
//! expression, `VERDICT`: a verdict (`ok`, `unauthenticated`, `not_member`, `inactive`,
//! `read_only`) and the account's key version, computed from the caller's session (or worker
//! grant), membership and account rows. Each statement carries it as a common table expression,
//! so the check runs in the same statement as the read or the write, and a refusal says
//! precisely why from the same row — handlers have no fast and slow paths.
//!
//! - **SQLite** ([`super::sqlite::Hot`]): reads run the verdict and the read as one statement on
//!   the calling thread's connection; writes check the verdict and write inside one job of the
//!   writer's group commit (SQLite has one writer: nothing can change in between).
//! - **PostgreSQL** (the pool sea-orm opened, used through sqlx directly): prepared statements,
//!   each write one statement — the verdict, the write guarded by it (a data-modifying CTE), and
//!   what happened — so a create or an update is one round trip in autocommit; a batch is one
//!   statement over arrays (`unnest`); pages are streamed from the cursor into the response.
//!
//! The store answers facts ([`Refusal`]); the service turns them into API errors.

use std::sync::LazyLock;

use rusqlite::OptionalExtension;
use sea_orm::sqlx::{self, Row as _, postgres::PgRow};

use super::Store;
use super::batch::Batcher;
use crate::error::ApiError;
use crate::principal::Principal;

/// Largest page.
pub const MAX_PAGE: usize = 500;

/// Why the caller may not read or write the account's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The session has ended (or the worker is no longer granted).
    Unauthenticated,
    /// Not a member of this account (or no such account).
    NotMember,
    /// A member whose membership is not active (invited, awaiting confirmation).
    Inactive,
    /// A worker granted read access only, asking to write.
    ReadOnly,
    /// A member without a second factor, in an account whose log requires one.
    NoSecondFactor,
}

/// What kept a read or write from happening, as the store found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The caller's rights (the `VERDICT` expression).
    Denied(Denied),
    /// A write under a key version other than the account's `current` one.
    KeyVersion {
        /// The account's key version.
        current: i32,
    },
    /// A create of an id that exists.
    Exists,
    /// A replace whose revision moved on.
    Stale,
    /// No such item.
    Missing,
}

/// A store answer: the result, or why not. The outer `Result` is a database failure.
pub type Outcome<T> = Result<T, Refusal>;

/// The outcome of one update of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cas {
    /// Written.
    Updated,
    /// The revision moved on (a concurrent writer): re-read and retry.
    Stale,
    /// No such item.
    Missing,
}

impl Cas {
    /// The word the API sends.
    pub fn word(self) -> &'static str {
        match self {
            Cas::Updated => "updated",
            Cas::Stale => "stale",
            Cas::Missing => "missing",
        }
    }
}

/// New fields for an item.
#[derive(Debug)]
pub struct Fields {
    /// The key version every field is under.
    pub key_version: i32,
    /// Validated field JSON (`crate::service::items`), stored and sent as it is.
    pub json: String,
}

/// A compare-and-set replacement: new fields for an item read at revision `rev`.
#[derive(Debug)]
pub struct Replacement {
    /// Item id.
    pub id: String,
    /// The revision the writer read.
    pub rev: i64,
    /// The new fields.
    pub fields: Fields,
}

/// The PostgreSQL store: its pool, and the dispatchers that coalesce members' reads and
/// creates.
#[derive(Clone, Debug)]
pub struct Pg {
    pub(super) pool: sqlx::PgPool,
    reads: Batcher<GetAsk, Outcome<Vec<u8>>>,
    creates: Batcher<CreateAsk, Outcome<Vec<u8>>>,
}

/// Most reads answered by one statement.
const READ_BATCH: usize = 64;
/// Read statements running at once (each on a connection of its own).
const READS_IN_FLIGHT: usize = 4;
/// Most creates committed by one statement.
const CREATE_BATCH: usize = 128;
/// Create statements running at once.
const CREATES_IN_FLIGHT: usize = 2;

impl Pg {
    /// The store over sea-orm's pool; call on the server's (actix) runtime, which runs the
    /// read dispatcher.
    pub fn new(pool: sqlx::PgPool) -> Self {
        let p = pool.clone();
        let reads = Batcher::spawn(READ_BATCH, READS_IN_FLIGHT, move |asks| get_batch(p.clone(), asks));
        let p = pool.clone();
        let creates = Batcher::spawn(CREATE_BATCH, CREATES_IN_FLIGHT, move |asks| create_batch(p.clone(), asks));
        Self { pool, reads, creates }
    }

    /// [`Pg::new`] over the pool of a PostgreSQL connection.
    pub fn over(db: &super::Db) -> Self {
        Self::new(db.get_postgres_connection_pool().clone())
    }
}

/// A member's read, queued for a batch.
struct GetAsk {
    account: String,
    user_id: String,
    session_id: String,
    item: String,
    now: i64,
}

/// [`VERDICT`] for a member, its parameters taken from the batch's row `q` (`account`, `uid`,
/// `sid`, `now`): the one definition of access, applied to every request of a batch.
fn row_verdict(write: bool) -> String {
    VERDICT
        .replace("SOURCE", &source(MEMBER_SOURCE, write))
        .replace("$5", if write { "TRUE" } else { "FALSE" })
        .replace("$4", "q.now")
        .replace("$3", "q.sid")
        .replace("$2", "q.uid")
        .replace("$1", "q.account")
}

/// The 0-based request a batch row answers (its `WITH ORDINALITY` column 0, 1-based).
fn ordinal(r: &PgRow) -> Result<Option<usize>, ApiError> {
    Ok(usize::try_from(r.try_get::<i64, _>(0)?).ok().and_then(|n| n.checked_sub(1)))
}

/// Every request's answer, or an error if the statement left one unanswered.
fn answered(out: Vec<Option<Outcome<Vec<u8>>>>, what: &str) -> Result<Vec<Outcome<Vec<u8>>>, ApiError> {
    out.into_iter().map(|o| o.ok_or_else(|| ApiError::Internal(format!("a batched {what} lost a row")))).collect()
}

/// Members' reads as one statement: [`VERDICT`] over each row of the arrays (the same
/// definition of access, its parameters taken from the row), and each item.
static GET_BATCH: LazyLock<String> = LazyLock::new(|| {
    let verdict = row_verdict(false);
    format!(
        "SELECT q.n, acc.verdict, acc.key_version, {ITEM_COLUMNS} FROM unnest($1::text[], $2::text[], $3::text[], \
         $4::text[], $5::int8[]) WITH ORDINALITY AS q(account, uid, sid, item, now, n) CROSS JOIN LATERAL ({verdict}) acc \
         LEFT JOIN items i ON acc.verdict = 'ok' AND i.account_id = q.account AND i.id = q.item"
    )
});

async fn get_batch(pool: sqlx::PgPool, asks: Vec<GetAsk>) -> Result<Vec<Outcome<Vec<u8>>>, ApiError> {
    if let [one] = asks.as_slice() {
        let who = Principal::Member { user_id: one.user_id.clone(), session_id: one.session_id.clone() };
        let ask = Ask::new(&one.account, &who, one.now, false);
        let r = ask.pg(&SQL.pg_member.get).bind(one.item.as_str()).fetch_one(&pool).await?;
        return Ok(vec![got(&r, 0)?]);
    }
    let col = |f: fn(&GetAsk) -> &str| asks.iter().map(f).collect::<Vec<&str>>();
    let rows = sqlx::query(GET_BATCH.as_str())
        .bind(col(|a| &a.account))
        .bind(col(|a| &a.user_id))
        .bind(col(|a| &a.session_id))
        .bind(col(|a| &a.item))
        .bind(asks.iter().map(|a| a.now).collect::<Vec<i64>>())
        .fetch_all(&pool)
        .await?;
    let mut out: Vec<Option<Outcome<Vec<u8>>>> = (0..asks.len()).map(|_| None).collect();
    for r in &rows {
        if let Some(slot) = ordinal(r)?.and_then(|i| out.get_mut(i)) {
            *slot = Some(got(r, 1)?);
        }
    }
    answered(out, "read")
}

/// A member's create, queued for a batch.
struct CreateAsk {
    account: String,
    user_id: String,
    session_id: String,
    id: String,
    fields: Fields,
    now: i64,
}

impl CreateAsk {
    fn principal(&self) -> Principal {
        Principal::Member { user_id: self.user_id.clone(), session_id: self.session_id.clone() }
    }
}

/// Members' creates as one statement (one commit): [`VERDICT`] over each row, the rows it
/// allows inserted, and which were.
static CREATE_BATCH_SQL: LazyLock<String> = LazyLock::new(|| {
    let verdict = row_verdict(true);
    format!(
        "WITH q AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int4[], \
         $7::text[]) WITH ORDINALITY AS q(account, uid, sid, item, now, kv, fields, n)), \
         a AS (SELECT q.*, acc.verdict, acc.key_version AS current FROM q CROSS JOIN LATERAL ({verdict}) acc), \
         ins AS (INSERT INTO items (account_id, id, key_version, revision, fields, created_by, updated_by, created_at, \
         updated_at) SELECT a.account, a.item, a.kv, 1, a.fields, a.uid, a.uid, a.now, a.now FROM a \
         WHERE a.verdict = 'ok' AND a.current = a.kv ON CONFLICT DO NOTHING RETURNING account_id, id) \
         SELECT a.n, a.verdict, a.current, \
         EXISTS (SELECT 1 FROM ins WHERE ins.account_id = a.account AND ins.id = a.item) AS done FROM a"
    )
});

/// One create by itself (a worker's, a batch of one, a repeat).
async fn create_one(pool: &sqlx::PgPool, who: &Principal, c: &CreateAsk) -> Result<Outcome<Vec<u8>>, ApiError> {
    let ask = Ask::new(&c.account, who, c.now, true);
    let r = ask
        .pg(&pg_sql(who).create)
        .bind(c.id.as_str())
        .bind(c.fields.key_version)
        .bind(c.fields.json.as_str())
        .fetch_one(pool)
        .await?;
    let done = r.try_get::<i64, _>(2)? == 1;
    created(c, pg_verdict(&r)?, done)
}

/// A create's answer from its verdict and whether the row was inserted.
fn created(c: &CreateAsk, verdict: Outcome<i32>, done: bool) -> Result<Outcome<Vec<u8>>, ApiError> {
    Ok(match writable(verdict, c.fields.key_version) {
        Err(no) => Err(no),
        Ok(()) if !done => Err(Refusal::Exists),
        Ok(()) => Ok(ItemRow::created(&c.id, &c.fields, &c.user_id, c.now).to_json()),
    })
}

async fn create_batch(pool: sqlx::PgPool, asks: Vec<CreateAsk>) -> Result<Vec<Outcome<Vec<u8>>>, ApiError> {
    if let [one] = asks.as_slice() {
        return Ok(vec![create_one(&pool, &one.principal(), one).await?]);
    }
    // An id named twice in one batch would look inserted for both: the repeats run alone,
    // after the batch (and find the item the first one made).
    let mut first = std::collections::HashSet::with_capacity(asks.len());
    let (batch, repeats): (Vec<usize>, Vec<usize>) =
        (0..asks.len()).partition(|&i| first.insert((asks[i].account.as_str(), asks[i].id.as_str())));
    let col = |f: fn(&CreateAsk) -> &str| batch.iter().map(|&i| f(&asks[i])).collect::<Vec<&str>>();
    let rows = sqlx::query(CREATE_BATCH_SQL.as_str())
        .bind(col(|a| &a.account))
        .bind(col(|a| &a.user_id))
        .bind(col(|a| &a.session_id))
        .bind(col(|a| &a.id))
        .bind(batch.iter().map(|&i| asks[i].now).collect::<Vec<i64>>())
        .bind(batch.iter().map(|&i| asks[i].fields.key_version).collect::<Vec<i32>>())
        .bind(col(|a| &a.fields.json))
        .fetch_all(&pool)
        .await?;
    let mut out: Vec<Option<Outcome<Vec<u8>>>> = (0..asks.len()).map(|_| None).collect();
    for r in &rows {
        let Some(&i) = ordinal(r)?.and_then(|k| batch.get(k)) else { continue };
        let v = verdict(r.try_get::<&str, _>(1)?, r.try_get::<Option<i32>, _>(2)?)?;
        out[i] = Some(created(&asks[i], v, r.try_get::<bool, _>(3)?)?);
    }
    for i in repeats {
        out[i] = Some(create_one(&pool, &asks[i].principal(), &asks[i]).await?);
    }
    answered(out, "create")
}

/// A read's answer from its verdict and item columns, starting at column `at`.
fn got(r: &PgRow, at: usize) -> Result<Outcome<Vec<u8>>, ApiError> {
    Ok(match verdict(r.try_get::<&str, _>(at)?, r.try_get::<Option<i32>, _>(at + 1)?)? {
        Ok(_) => ItemRow::pg(r, at + 2)?.map(|row| row.to_json()).ok_or(Refusal::Missing),
        Err(no) => Err(no),
    })
}

// ---------------------------------------------------------------- SQL

/// The caller's rights as one row `(verdict, key_version)`, from one of the principal's
/// sources ([`MEMBER_SOURCE`], [`WORKER_SOURCE`]); every statement below names it `acc`. Parameters: `$1` account, `$2` user or worker id, `$3` session id, `$4` now, `$5`
/// whether the caller writes.
const VERDICT: &str = "SELECT CASE \
     WHEN NOT x.live THEN 'unauthenticated' \
     WHEN x.status IS NULL THEN 'not_member' \
     WHEN x.status <> 'active' THEN 'inactive' \
     WHEN x.no_factor THEN 'no_second_factor' \
     WHEN $5 AND x.role = 'worker' AND COALESCE(x.grant_access, '') <> 'read_write' THEN 'read_only' \
     ELSE 'ok' END AS verdict, x.key_version AS key_version FROM (SOURCE) x";

/// A member: a live session of theirs, and their membership of the account.
const MEMBER_SOURCE: &str = "SELECT EXISTS (SELECT 1 FROM sessions s WHERE s.id = $3 AND s.user_id = $2 \
     AND s.revoked_at IS NULL AND s.expires_at > $4) AS live, m.status AS status, m.role AS role, \
     CAST(NULL AS TEXT) AS grant_access, \
     (COALESCE((SELECT r.second_factor_required FROM accounts r WHERE r.id = $1), FALSE) \
      AND NOT EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = $2 AND f.confirmed_at IS NOT NULL)) AS no_factor, \
     {KV} FROM (SELECT 1 AS one) o {ACCOUNT} \
     LEFT JOIN memberships m ON m.account_id = $1 AND m.user_id = $2";

/// A worker: granted (active), of this account, with its access.
const WORKER_SOURCE: &str = "SELECT COALESCE(w.status = 'active', FALSE) AS live, \
     CASE WHEN w.account_id = $1 THEN 'active' END AS status, 'worker' AS role, w.access AS grant_access, \
     FALSE AS no_factor, {KV} FROM (SELECT 1 AS one) o LEFT JOIN workers w ON w.id = $2 {ACCOUNT}";

/// A source for reads (no key version needed: 0) or for writes (the account's).
fn source(template: &str, write: bool) -> String {
    if write {
        template
            .replace("{KV}", "a.key_version AS key_version")
            .replace("{ACCOUNT}", "LEFT JOIN accounts a ON a.id = $1")
    } else {
        template.replace("{KV}", "0 AS key_version").replace("{ACCOUNT}", "")
    }
}

/// SQLite's page, read after the verdict on the same connection (one snapshot would add
/// nothing: a page is a moment's view either way).
const SQLITE_PAGE: &str = "SELECT i.id, i.key_version, i.revision, i.fields, i.created_by, i.updated_by, i.created_at, \
     i.updated_at FROM items i WHERE i.account_id = ?1 AND i.id > ?2 AND i.key_version < ?3 ORDER BY i.id LIMIT ?4";

/// Item columns in the order [`ItemRow`] reads them.
const ITEM_COLUMNS: &str =
    "i.id, i.key_version, i.revision, i.fields, i.created_by, i.updated_by, i.created_at, i.updated_at";
/// SQLite's compare-and-set of one item, returning the row written (`RETURNING` names no table).
static SQLITE_REPLACE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE items SET fields = ?1, key_version = ?2, revision = revision + 1, updated_by = ?3, updated_at = ?4 \
         WHERE account_id = ?5 AND id = ?6 AND revision = ?7 RETURNING {}",
        ITEM_COLUMNS.replace("i.", "")
    )
});

/// The statements of one kind of principal, in one dialect.
struct Statements {
    /// The verdict alone (SQLite writes check it, then write, in one transaction).
    access: String,
    /// The verdict of a read (SQLite lists check it, then read the page).
    access_read: String,
    /// Verdict + item `$6`.
    get: String,
    /// Verdict + a page: ids after `$6`, key versions below `$7`, at most `$8` rows.
    page: String,
    /// PostgreSQL: verdict + create guarded by it + whether it was written.
    create: String,
    /// PostgreSQL: verdict + compare-and-set guarded by it + the row written.
    replace: String,
    /// PostgreSQL: verdict + delete guarded by it.
    delete: String,
    /// PostgreSQL: verdict + a batch of compare-and-sets over arrays.
    batch: String,
}

impl Statements {
    fn new(template: &str, sqlite: bool) -> Self {
        let acc = format!("WITH acc AS ({})", VERDICT.replace("SOURCE", &source(template, true)));
        let acc_read = format!("WITH acc AS ({})", VERDICT.replace("SOURCE", &source(template, false)));
        // SQLite numbers parameters `?N` (`$N` would be a *named* parameter there, numbered by
        // first appearance); nothing else in these statements contains a `$`.
        let dialect = |sql: String| if sqlite { sql.replace('$', "?") } else { sql };
        let write_guard = "EXISTS (SELECT 1 FROM acc WHERE acc.verdict = 'ok' AND acc.key_version = $7)";
        Self {
            access: dialect(format!("{acc} SELECT acc.verdict, acc.key_version FROM acc")),
            access_read: dialect(format!("{acc_read} SELECT acc.verdict, acc.key_version FROM acc")),
            get: dialect(format!(
                "{acc_read} SELECT acc.verdict, acc.key_version, {ITEM_COLUMNS} FROM acc \
                 LEFT JOIN items i ON acc.verdict = 'ok' AND i.account_id = $1 AND i.id = $6"
            )),
            // The verdict is a one-time filter on the walk of the primary key, which stops after
            // `$8` rows and needs no sort (a join with the verdict had to sort the page's rows
            // again: half of PostgreSQL's time for a page, measured). No row: an empty page or
            // a refusal, which the verdict alone then tells apart.
            page: dialect(format!(
                "{acc_read} SELECT 'ok' AS verdict, 0 AS key_version, {ITEM_COLUMNS} FROM items i \
                 WHERE (SELECT acc.verdict FROM acc) = 'ok' AND i.account_id = $1 AND i.id > $6 \
                 AND i.key_version < $7 ORDER BY i.id LIMIT $8"
            )),
            create: format!(
                "{acc}, ins AS (INSERT INTO items (account_id, id, key_version, revision, fields, created_by, \
                 updated_by, created_at, updated_at) SELECT $1, $6, $7, 1, $8, $2, $2, $4, $4 FROM acc \
                 WHERE acc.verdict = 'ok' AND acc.key_version = $7 ON CONFLICT DO NOTHING RETURNING 1 AS one) \
                 SELECT acc.verdict, acc.key_version, (SELECT count(*) FROM ins) AS n FROM acc"
            ),
            replace: format!(
                "{acc}, upd AS (UPDATE items i SET fields = $8, key_version = $7, revision = i.revision + 1, \
                 updated_by = $2, updated_at = $4 WHERE i.account_id = $1 AND i.id = $6 AND i.revision = $9 \
                 AND {write_guard} RETURNING {ITEM_COLUMNS}) \
                 SELECT acc.verdict, acc.key_version, \
                 EXISTS (SELECT 1 FROM items e WHERE e.account_id = $1 AND e.id = $6) AS present, upd.* \
                 FROM acc LEFT JOIN upd ON TRUE"
            ),
            delete: format!(
                "{acc}, del AS (DELETE FROM items WHERE account_id = $1 AND id = $6 \
                 AND EXISTS (SELECT 1 FROM acc WHERE acc.verdict = 'ok') RETURNING 1 AS one) \
                 SELECT acc.verdict, acc.key_version, (SELECT count(*) FROM del) AS n FROM acc"
            ),
            batch: format!(
                "{acc}, u AS (SELECT * FROM unnest($6::text[], $7::int8[], $8::int4[], $9::text[]) AS t(id, rev, kv, fields)), \
                 upd AS (UPDATE items i SET fields = u.fields, key_version = u.kv, revision = i.revision + 1, \
                 updated_by = $2, updated_at = $4 FROM u WHERE i.account_id = $1 AND i.id = u.id AND i.revision = u.rev \
                 AND EXISTS (SELECT 1 FROM acc WHERE acc.verdict = 'ok' AND acc.key_version = $10) \
                 RETURNING i.id) \
                 SELECT acc.verdict, acc.key_version, ARRAY(SELECT CAST(upd.id AS TEXT) FROM upd) AS updated, \
                 ARRAY(SELECT CAST(e.id AS TEXT) FROM items e WHERE e.account_id = $1 AND e.id = ANY($6)) AS present \
                 FROM acc"
            ),
        }
    }
}

/// Statements by dialect and principal.
struct Sql {
    sqlite_member: Statements,
    sqlite_worker: Statements,
    pg_member: Statements,
    pg_worker: Statements,
}

static SQL: LazyLock<Sql> = LazyLock::new(|| Sql {
    sqlite_member: Statements::new(MEMBER_SOURCE, true),
    sqlite_worker: Statements::new(WORKER_SOURCE, true),
    pg_member: Statements::new(MEMBER_SOURCE, false),
    pg_worker: Statements::new(WORKER_SOURCE, false),
});

fn sqlite_sql(who: &Principal) -> &'static Statements {
    if who.is_worker() { &SQL.sqlite_worker } else { &SQL.sqlite_member }
}

fn pg_sql(who: &Principal) -> &'static Statements {
    if who.is_worker() { &SQL.pg_worker } else { &SQL.pg_member }
}

/// The verdict columns: the account's key version if access is granted.
fn verdict(code: &str, key_version: Option<i32>) -> Result<Outcome<i32>, ApiError> {
    Ok(Err(Refusal::Denied(match code {
        "ok" => {
            return key_version
                .map(Ok)
                .ok_or_else(|| ApiError::Internal("access granted to an account without a key version".into()));
        }
        "unauthenticated" => Denied::Unauthenticated,
        "not_member" => Denied::NotMember,
        "inactive" => Denied::Inactive,
        "read_only" => Denied::ReadOnly,
        "no_second_factor" => Denied::NoSecondFactor,
        other => return Err(ApiError::Internal(format!("unknown access verdict {other:?}"))),
    })))
}

/// A write's verdict: allowed only under the account's current key version.
fn writable(verdict: Outcome<i32>, key_version: i32) -> Outcome<()> {
    match verdict {
        Err(no) => Err(no),
        Ok(current) if current != key_version => Err(Refusal::KeyVersion { current }),
        Ok(_) => Ok(()),
    }
}

/// What a single compare-and-set found when it wrote nothing.
fn not_replaced(present: bool) -> Refusal {
    if present { Refusal::Stale } else { Refusal::Missing }
}

// ---------------------------------------------------------------- rows as the API sends them

/// An item row, borrowed from wherever it was read.
pub struct ItemRow<'a> {
    id: &'a str,
    key_version: i64,
    revision: i64,
    /// The stored field JSON, sent as it is (as bytes: not even checked for UTF-8 again).
    fields: &'a [u8],
    created_by: &'a str,
    updated_by: &'a str,
    created_at: i64,
    updated_at: i64,
}

impl<'a> ItemRow<'a> {
    /// The item columns from column `at` of a SQLite row; `None` if they are NULL (no item).
    fn sqlite(r: &'a rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<Self>> {
        if r.get_ref(at)?.data_type() == rusqlite::types::Type::Null {
            return Ok(None);
        }
        let bad =
            |i: usize| move |e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e));
        let text = |i: usize| -> rusqlite::Result<&'a str> { r.get_ref(i)?.as_str().map_err(bad(i)) };
        Ok(Some(Self {
            id: text(at)?,
            key_version: r.get(at + 1)?,
            revision: r.get(at + 2)?,
            fields: r.get_ref(at + 3)?.as_bytes().map_err(bad(at + 3))?,
            created_by: text(at + 4)?,
            updated_by: text(at + 5)?,
            created_at: r.get(at + 6)?,
            updated_at: r.get(at + 7)?,
        }))
    }

    /// The same from a PostgreSQL row.
    fn pg(r: &'a PgRow, at: usize) -> Result<Option<Self>, sqlx::Error> {
        let Some(id) = r.try_get::<Option<&str>, _>(at)? else { return Ok(None) };
        Ok(Some(Self {
            id,
            key_version: i64::from(r.try_get::<i32, _>(at + 1)?),
            revision: r.try_get(at + 2)?,
            fields: r.try_get::<&str, _>(at + 3)?.as_bytes(),
            created_by: r.try_get(at + 4)?,
            updated_by: r.try_get(at + 5)?,
            created_at: r.try_get(at + 6)?,
            updated_at: r.try_get(at + 7)?,
        }))
    }

    /// A just-created item.
    fn created(id: &'a str, fields: &'a Fields, by: &'a str, now: i64) -> Self {
        Self {
            id,
            key_version: i64::from(fields.key_version),
            revision: 1,
            fields: fields.json.as_bytes(),
            created_by: by,
            updated_by: by,
            created_at: now,
            updated_at: now,
        }
    }

    /// Appends the item as the API sends it (the shape of `ItemWire`). The stored field JSON
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

/// A page as the API sends it (the shape of `ItemPage`), written row by row: rows come in id
/// order, `limit + 1` of them are read, and the extra one only says there is a next page.
pub struct Page {
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
        let mut out = Vec::with_capacity(limit.min(MAX_PAGE) * 1024);
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

    /// How many items the page holds.
    pub fn len(&self) -> usize {
        self.sent
    }

    /// Whether the page holds no item.
    pub fn is_empty(&self) -> bool {
        self.sent == 0
    }

    /// The response body.
    pub fn finish(mut self) -> Vec<u8> {
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

/// Which page: ids after `after` (`""`: from the start), key versions below `below`.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery<'a> {
    /// The cursor.
    pub after: &'a str,
    /// Only items under older key versions (what a rotation has left); `i64::MAX` for all.
    pub below: i64,
    /// At most this many (1 to [`MAX_PAGE`]).
    pub limit: usize,
}

// ---------------------------------------------------------------- the interface

/// The access parameters `$1`–`$5`, owned (a SQLite write outlives the request's borrows).
#[derive(Clone)]
struct Ask {
    account: String,
    who: Principal,
    now: i64,
    write: bool,
}

impl Ask {
    fn new(account: &str, who: &Principal, now: i64, write: bool) -> Self {
        Self { account: account.to_owned(), who: who.clone(), now, write }
    }

    /// SQLite: the verdict (inside the writer's transaction).
    fn sqlite_verdict(&self, c: &rusqlite::Connection) -> Result<Outcome<i32>, ApiError> {
        let (code, kv): (String, Option<i32>) = c.prepare_cached(&sqlite_sql(&self.who).access)?.query_row(
            rusqlite::params![self.account, self.who.id(), self.who.session_id(), self.now, self.write],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        verdict(&code, kv)
    }

    /// PostgreSQL: a statement with `$1`–`$5` bound.
    fn pg<'q>(&'q self, sql: &'static str) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        sqlx::query(sql)
            .bind(self.account.as_str())
            .bind(self.who.id())
            .bind(self.who.session_id())
            .bind(self.now)
            .bind(self.write)
    }
}

/// The verdict columns of a PostgreSQL row.
fn pg_verdict(r: &PgRow) -> Result<Outcome<i32>, ApiError> {
    verdict(r.try_get::<&str, _>(0)?, r.try_get::<Option<i32>, _>(1)?)
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

impl Store {
    /// The caller's verdict on the account alone — [`VERDICT`], as every item read and write
    /// states it — for what sits beside the items (the inbox): the account's key version if
    /// `who` may read (or, with `write`, write) there.
    pub async fn access(
        &self,
        account: &str,
        who: &Principal,
        write: bool,
        now: i64,
    ) -> Result<Outcome<i32>, ApiError> {
        let ask = Ask::new(account, who, now, write);
        match self {
            Store::Sqlite(hot) => hot.read(|c| ask.sqlite_verdict(c)),
            Store::Postgres(pg) => pg_verdict(&ask.pg(&pg_sql(who).access).fetch_one(&pg.pool).await?),
        }
    }

    /// One item (a response body), if the caller may read it.
    pub async fn get_item(
        &self,
        account: &str,
        who: &Principal,
        item: &str,
        now: i64,
    ) -> Result<Outcome<Vec<u8>>, ApiError> {
        match self {
            Store::Sqlite(hot) => hot.read(|c| {
                let mut st = c.prepare_cached(&sqlite_sql(who).get)?;
                let params = rusqlite::params![account, who.id(), who.session_id(), now, false, item];
                st.query_row(params, |r| {
                    Ok(match verdict(r.get_ref(0)?.as_str().unwrap_or(""), r.get(1)?) {
                        Ok(Ok(_)) => Ok(ItemRow::sqlite(r, 2)?.map(|row| row.to_json()).ok_or(Refusal::Missing)),
                        other => other.map(|v| v.map(|_| Vec::new())),
                    })
                })?
            }),
            Store::Postgres(pg) => match who {
                Principal::Member { user_id, session_id } => {
                    let ask = GetAsk {
                        account: account.to_owned(),
                        user_id: user_id.clone(),
                        session_id: session_id.clone(),
                        item: item.to_owned(),
                        now,
                    };
                    pg.reads.ask(ask).await
                }
                Principal::Worker { .. } => {
                    let ask = Ask::new(account, who, now, false);
                    let r = ask.pg(&pg_sql(who).get).bind(item).fetch_one(&pg.pool).await?;
                    got(&r, 0)
                }
            },
        }
    }

    /// A page of the account's items in id order, if the caller may read them.
    pub async fn item_page(
        &self,
        account: &str,
        who: &Principal,
        q: PageQuery<'_>,
        now: i64,
    ) -> Result<Outcome<Page>, ApiError> {
        let limit = q.limit.clamp(1, MAX_PAGE);
        let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
        let mut page = Page::new(limit);
        match self {
            Store::Sqlite(hot) => hot.read(|c| {
                let access = rusqlite::params![account, who.id(), who.session_id(), now, false];
                let mut st = c.prepare_cached(&sqlite_sql(who).access_read)?;
                let (code, kv) = st.query_row(access, |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
                if let Err(no) = verdict(&code, kv)? {
                    return Ok(Err(no));
                }
                let mut st = c.prepare_cached(SQLITE_PAGE)?;
                let mut rows = st.query(rusqlite::params![account, q.after, q.below, fetch])?;
                while let Some(r) = rows.next()? {
                    match ItemRow::sqlite(r, 0)? {
                        Some(row) if page.push(&row) => {}
                        _ => break,
                    }
                }
                Ok(Ok(page))
            }),
            Store::Postgres(Pg { pool, .. }) => {
                let ask = Ask::new(account, who, now, false);
                let mut rows = ask.pg(&pg_sql(who).page).bind(q.after).bind(q.below).bind(fetch).fetch(pool);
                // Rows go into the page as they arrive from the cursor.
                while let Some(r) = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await.transpose()? {
                    match ItemRow::pg(&r, 2)? {
                        Some(row) if page.push(&row) => {}
                        _ => break,
                    }
                }
                drop(rows);
                if page.is_empty() {
                    let r = ask.pg(&pg_sql(who).access_read).fetch_one(pool).await?;
                    if let Err(no) = pg_verdict(&r)? {
                        return Ok(Err(no));
                    }
                }
                Ok(Ok(page))
            }
        }
    }

    /// Creates item `id` (a response body).
    pub async fn create_item(
        &self,
        account: &str,
        who: &Principal,
        id: String,
        fields: Fields,
        now: i64,
    ) -> Result<Outcome<Vec<u8>>, ApiError> {
        let ask = Ask::new(account, who, now, true);
        match self {
            Store::Sqlite(hot) => {
                hot.write(move |c| {
                    if let Err(no) = writable(ask.sqlite_verdict(c)?, fields.key_version) {
                        return Ok(Err(no));
                    }
                    let n = c
                        .prepare_cached(
                            "INSERT INTO items (account_id, id, key_version, revision, fields, created_by, \
                             updated_by, created_at, updated_at) VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5, ?6, ?6) \
                             ON CONFLICT DO NOTHING",
                        )?
                        .execute(rusqlite::params![
                            ask.account,
                            id,
                            fields.key_version,
                            fields.json,
                            ask.who.id(),
                            now
                        ])?;
                    if n == 0 {
                        return Ok(Err(Refusal::Exists));
                    }
                    Ok(Ok(ItemRow::created(&id, &fields, ask.who.id(), now).to_json()))
                })
                .await
            }
            Store::Postgres(pg) => {
                let c = CreateAsk {
                    account: ask.account,
                    user_id: who.id().to_owned(),
                    session_id: who.session_id().to_owned(),
                    id,
                    fields,
                    now,
                };
                match who {
                    Principal::Member { .. } => pg.creates.ask(c).await,
                    Principal::Worker { .. } => create_one(&pg.pool, who, &c).await,
                }
            }
        }
    }

    /// Replaces an item's fields if its revision is still `new.rev` (a response body).
    pub async fn replace_item(
        &self,
        account: &str,
        who: &Principal,
        new: Replacement,
        now: i64,
    ) -> Result<Outcome<Vec<u8>>, ApiError> {
        let ask = Ask::new(account, who, now, true);
        match self {
            Store::Sqlite(hot) => {
                hot.write(move |c| {
                    if let Err(no) = writable(ask.sqlite_verdict(c)?, new.fields.key_version) {
                        return Ok(Err(no));
                    }
                    let mut st = c.prepare_cached(&SQLITE_REPLACE)?;
                    let params = rusqlite::params![
                        new.fields.json,
                        new.fields.key_version,
                        ask.who.id(),
                        now,
                        ask.account,
                        new.id,
                        new.rev
                    ];
                    let body =
                        st.query_row(params, |r| Ok(ItemRow::sqlite(r, 0)?.map(|row| row.to_json()))).optional()?;
                    if let Some(Some(body)) = body {
                        return Ok(Ok(body));
                    }
                    Ok(Err(not_replaced(sqlite_present(c, &ask.account, &new.id)?)))
                })
                .await
            }
            Store::Postgres(Pg { pool, .. }) => {
                let r = ask
                    .pg(&pg_sql(who).replace)
                    .bind(new.id.as_str())
                    .bind(new.fields.key_version)
                    .bind(new.fields.json.as_str())
                    .bind(new.rev)
                    .fetch_one(pool)
                    .await?;
                Ok(match writable(pg_verdict(&r)?, new.fields.key_version) {
                    Err(no) => Err(no),
                    Ok(()) => match ItemRow::pg(&r, 3)? {
                        Some(row) => Ok(row.to_json()),
                        None => Err(not_replaced(r.try_get(2)?)),
                    },
                })
            }
        }
    }

    /// Deletes an item.
    pub async fn delete_item(
        &self,
        account: &str,
        who: &Principal,
        item: &str,
        now: i64,
    ) -> Result<Outcome<()>, ApiError> {
        let ask = Ask::new(account, who, now, true);
        match self {
            Store::Sqlite(hot) => {
                let item = item.to_owned();
                hot.write(move |c| {
                    if let Err(no) = ask.sqlite_verdict(c)? {
                        return Ok(Err(no));
                    }
                    let n = c
                        .prepare_cached("DELETE FROM items WHERE account_id = ?1 AND id = ?2")?
                        .execute(rusqlite::params![ask.account, item])?;
                    Ok(if n == 1 { Ok(()) } else { Err(Refusal::Missing) })
                })
                .await
            }
            Store::Postgres(Pg { pool, .. }) => {
                let r = ask.pg(&pg_sql(who).delete).bind(item).fetch_one(pool).await?;
                Ok(match pg_verdict(&r)? {
                    Err(no) => Err(no),
                    Ok(_) if r.try_get::<i64, _>(2)? == 1 => Ok(()),
                    Ok(_) => Err(Refusal::Missing),
                })
            }
        }
    }

    /// Up to [`MAX_PAGE`] compare-and-sets in one transaction (a rotation's page), each item
    /// under key version `key_version` — which must be the account's current one. Ids are
    /// distinct (the service refuses a batch naming one twice).
    pub async fn update_items(
        &self,
        account: &str,
        who: &Principal,
        items: Vec<Replacement>,
        key_version: i32,
        now: i64,
    ) -> Result<Outcome<Vec<Cas>>, ApiError> {
        let ask = Ask::new(account, who, now, true);
        match self {
            Store::Sqlite(hot) => {
                hot.write(move |c| {
                    if let Err(no) = writable(ask.sqlite_verdict(c)?, key_version) {
                        return Ok(Err(no));
                    }
                    let mut st = c.prepare_cached(
                        "UPDATE items SET fields = ?1, key_version = ?2, revision = revision + 1, updated_by = ?3, \
                         updated_at = ?4 WHERE account_id = ?5 AND id = ?6 AND revision = ?7",
                    )?;
                    let mut results = Vec::with_capacity(items.len());
                    for new in &items {
                        let params = rusqlite::params![
                            new.fields.json,
                            new.fields.key_version,
                            ask.who.id(),
                            now,
                            ask.account,
                            new.id,
                            new.rev
                        ];
                        results.push(if st.execute(params)? == 1 {
                            Cas::Updated
                        } else if sqlite_present(c, &ask.account, &new.id)? {
                            Cas::Stale
                        } else {
                            Cas::Missing
                        });
                    }
                    Ok(Ok(results))
                })
                .await
            }
            Store::Postgres(Pg { pool, .. }) => {
                let ids: Vec<&str> = items.iter().map(|u| u.id.as_str()).collect();
                let revs: Vec<i64> = items.iter().map(|u| u.rev).collect();
                let kvs: Vec<i32> = items.iter().map(|u| u.fields.key_version).collect();
                let fields: Vec<&str> = items.iter().map(|u| u.fields.json.as_str()).collect();
                let r = ask
                    .pg(&pg_sql(who).batch)
                    .bind(&ids)
                    .bind(&revs)
                    .bind(&kvs)
                    .bind(&fields)
                    .bind(key_version)
                    .fetch_one(pool)
                    .await?;
                if let Err(no) = writable(pg_verdict(&r)?, key_version) {
                    return Ok(Err(no));
                }
                let updated: std::collections::HashSet<String> = r.try_get::<Vec<String>, _>(2)?.into_iter().collect();
                let present: std::collections::HashSet<String> = r.try_get::<Vec<String>, _>(3)?.into_iter().collect();
                Ok(Ok(ids
                    .iter()
                    .map(|id| {
                        if updated.contains(*id) {
                            Cas::Updated
                        } else if present.contains(*id) {
                            Cas::Stale
                        } else {
                            Cas::Missing
                        }
                    })
                    .collect()))
            }
        }
    }
}

fn sqlite_present(c: &rusqlite::Connection, account: &str, id: &str) -> Result<bool, ApiError> {
    Ok(c.prepare_cached("SELECT 1 FROM items WHERE account_id = ?1 AND id = ?2")?
        .exists(rusqlite::params![account, id])?)
}
