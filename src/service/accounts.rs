//! Accounts, memberships, invitations, sealed keys and the team log.
//!
//! The server checks every log entry with `vouchsafe-crypto` (chain, signature, authority)
//! before storing it, and keeps its own tables (memberships, sealed keys, key version) in step
//! with the log, in the same transaction. Authorization: a caller who is not a member of an
//! account gets 404 for everything in it; a member without the needed role gets 403.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::PublicIdentity;
use vouchsafe_crypto::log::{EntryBody, LogEntry, Role, TeamState};
use vouchsafe_crypto::seal::{Sealed, verify_master_key_seal};

use crate::auth::{hash_token, new_id, new_opaque_token};
use crate::error::ApiError;
use crate::mail::Templates;
use crate::service::auth::normalize_email;
use crate::state::AppState;
use entity::values::{InvitationStatus, MemberRole, MembershipStatus, WorkerAccess, WorkerStatus};
use entity::{account, invitation, item, log_entry, membership, sealed_key, user, worker};

/// The stored role of a role the team log grants.
fn member_role(r: Role) -> MemberRole {
    match r {
        Role::Owner => MemberRole::Owner,
        Role::Admin => MemberRole::Admin,
        Role::Member => MemberRole::Member,
    }
}

/// Longest account name.
pub const MAX_NAME: usize = 200;
/// Most entries in one append.
pub const MAX_APPEND: usize = 200;

fn not_found() -> ApiError {
    ApiError::not_found("account.not_found", "no such account")
}

fn forbidden(msg: &str) -> ApiError {
    ApiError::Forbidden { code: "account.forbidden", message: msg.to_owned() }
}

fn validate_name(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    if n.is_empty() || n.len() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "account.invalid_name",
            "name must be 1 to 200 characters without control characters",
        ));
    }
    Ok(n.to_owned())
}

fn validate_client_id(what: &'static str, id: &str) -> Result<(), ApiError> {
    if id.len() < 16 {
        return Err(ApiError::bad("request.invalid_id", format!("{what} must be a random id of 16 to 64 characters")));
    }
    vouchsafe_crypto::validate_id(id).map_err(|e| ApiError::bad("request.invalid_id", format!("{what}: {e}")))
}

/// The caller's membership, or 404 (also for a nonexistent account: the two look the same).
pub async fn membership_of<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    user_id: &str,
) -> Result<membership::Model, ApiError> {
    // A granted worker of the account counts as an active member with the role `worker`.
    if let Some(m) = membership::Entity::find_by_id((account_id.to_owned(), user_id.to_owned())).one(db).await? {
        return Ok(m);
    }
    match worker::Entity::find_by_id(user_id.to_owned()).one(db).await? {
        Some(w) if w.account_id == account_id && w.status == WorkerStatus::Active => Ok(membership::Model {
            account_id: w.account_id,
            user_id: w.id,
            role: MemberRole::Worker,
            status: MembershipStatus::Active,
            created_at: w.created_at,
            updated_at: w.created_at,
        }),
        _ => Err(not_found()),
    }
}

/// The caller's membership if it is active, else 404 (not a member) or 403 (not yet active).
pub async fn active_member<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    user_id: &str,
) -> Result<membership::Model, ApiError> {
    let m = membership_of(db, account_id, user_id).await?;
    if m.status != MembershipStatus::Active {
        return Err(forbidden("your membership is not active yet"));
    }
    Ok(m)
}

pub async fn active_admin<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    user_id: &str,
) -> Result<membership::Model, ApiError> {
    let m = active_member(db, account_id, user_id).await?;
    if !Role::parse(m.role.as_str()).is_some_and(Role::is_admin) {
        return Err(forbidden("only owners and admins may do this"));
    }
    Ok(m)
}

async fn user_identity<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<(user::Model, PublicIdentity), ApiError> {
    let u = user::Entity::find_by_id(user_id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::unauthorized("auth.invalid_token", "user no longer exists"))?;
    let id = PublicIdentity::keys_from_bytes(&u.id, &u.public_keys)
        .map_err(|e| ApiError::Internal(format!("stored keys: {e}")))?;
    Ok((u, id))
}

fn decode_entry(b: &str) -> Result<LogEntry, ApiError> {
    let bytes = b64::decode(b, vouchsafe_crypto::log::MAX_ENTRY_LEN)
        .map_err(|e| ApiError::bad("log.malformed", e.to_string()))?;
    LogEntry::from_bytes(&bytes).map_err(|e| ApiError::bad("log.malformed", e.to_string()))
}

fn decode_sealed(b: &str) -> Result<Sealed, ApiError> {
    let bytes = b64::decode(b, 2048).map_err(|e| ApiError::bad("log.malformed_seal", e.to_string()))?;
    Sealed::from_bytes(&bytes).map_err(|e| ApiError::bad("log.malformed_seal", e.to_string()))
}

/// Creates an account from the creator's genesis entry and self-sealed key v1.
pub async fn create(
    state: &AppState,
    user_id: &str,
    req: CreateAccountRequest,
    now: i64,
) -> Result<AccountInfo, ApiError> {
    validate_client_id("account_id", &req.account_id)?;
    let name = validate_name(&req.name)?;
    let genesis = decode_entry(&req.genesis)?;
    let sealed = decode_sealed(&req.sealed_key)?;
    let (_, me) = user_identity(&state.db, user_id).await?;
    let EntryBody::Genesis { creator, .. } = &genesis.body else {
        return Err(ApiError::bad("log.rejected", "the first entry must be a genesis"));
    };
    if *creator != me {
        return Err(ApiError::bad("log.rejected", "the genesis must name the caller's current keys"));
    }
    check_timestamp(genesis.timestamp, now)?;
    TeamState::replay(&req.account_id, std::slice::from_ref(&genesis))
        .map_err(|e| ApiError::bad("log.rejected", e.to_string()))?;
    verify_master_key_seal(&sealed, &req.account_id, 1, &me, &me)
        .map_err(|e| ApiError::bad("log.bad_seal", e.to_string()))?;
    let (account_id, uid) = (req.account_id.clone(), user_id.to_owned());
    let gen_i32 = i32::try_from(me.generation).unwrap_or(i32::MAX);
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                let inserted = account::ActiveModel {
                    id: Set(account_id.clone()),
                    name: Set(name),
                    created_by: Set(uid.clone()),
                    key_version: Set(1),
                    rotation_required: Set(false),
                    log_len: Set(1),
                    created_at: Set(now),
                }
                .insert(txn)
                .await;
                if let Err(e) = inserted {
                    return Err(if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) {
                        ApiError::conflict("account.exists", "an account with this id exists")
                    } else {
                        e.into()
                    });
                }
                membership::ActiveModel {
                    account_id: Set(account_id.clone()),
                    user_id: Set(uid.clone()),
                    role: Set(MemberRole::Owner),
                    status: Set(MembershipStatus::Active),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(txn)
                .await?;
                store_entry(txn, &account_id, &genesis, now).await?;
                sealed_key::ActiveModel {
                    account_id: Set(account_id),
                    key_version: Set(1),
                    recipient_id: Set(uid.clone()),
                    recipient_generation: Set(gen_i32),
                    sealer_id: Set(uid),
                    sealer_generation: Set(gen_i32),
                    blob: Set(sealed.to_bytes()),
                    log_seq: Set(-1),
                    created_at: Set(now),
                }
                .insert(txn)
                .await?;
                Ok(())
            })
        })
        .await?;
    info(state, &req.account_id, user_id).await
}

async fn store_entry<C: ConnectionTrait>(db: &C, account_id: &str, e: &LogEntry, now: i64) -> Result<(), ApiError> {
    let seq = i64::try_from(e.seq).map_err(|_| ApiError::bad("log.malformed", "sequence too large"))?;
    let res = log_entry::ActiveModel {
        account_id: Set(account_id.to_owned()),
        seq: Set(seq),
        entry: Set(e.to_bytes()),
        hash: Set(e.hash().to_vec()),
        author: Set(e.author.clone()),
        kind: Set(e.body.kind_name().to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(err) if matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            Err(ApiError::conflict("log.conflict", "another entry was appended first; re-read the log and retry"))
        }
        Err(err) => Err(err.into()),
    }
}

/// One account as the caller sees it.
pub async fn info(state: &AppState, account_id: &str, user_id: &str) -> Result<AccountInfo, ApiError> {
    let m = membership_of(&state.db, account_id, user_id).await?;
    let a = account::Entity::find_by_id(account_id.to_owned()).one(&state.db).await?.ok_or_else(not_found)?;
    let items_to_rotate = item::Entity::find()
        .filter(item::Column::AccountId.eq(account_id))
        .filter(item::Column::KeyVersion.lt(a.key_version))
        .count(&state.db)
        .await?;
    Ok(to_info(a, &m, items_to_rotate))
}

fn to_info(a: account::Model, m: &membership::Model, items_to_rotate: u64) -> AccountInfo {
    AccountInfo {
        id: a.id,
        name: a.name,
        role: m.role.as_str().to_owned(),
        status: m.status.as_str().to_owned(),
        key_version: u32::try_from(a.key_version).unwrap_or(0),
        rotation_required: a.rotation_required,
        items_to_rotate,
        log_len: u64::try_from(a.log_len).unwrap_or(0),
        created_at: a.created_at,
    }
}

/// The caller's accounts.
pub async fn list(state: &AppState, user_id: &str) -> Result<Vec<AccountInfo>, ApiError> {
    let ms = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .order_by_asc(membership::Column::AccountId)
        .all(&state.db)
        .await?;
    let mut out = Vec::with_capacity(ms.len());
    for m in ms {
        if let Some(a) = account::Entity::find_by_id(m.account_id.clone()).one(&state.db).await? {
            out.push(to_info(a, &m, 0));
        }
    }
    Ok(out)
}

/// Renames (admins).
pub async fn rename(state: &AppState, account_id: &str, user_id: &str, name: &str) -> Result<AccountInfo, ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    let name = validate_name(name)?;
    account::Entity::update_many()
        .col_expr(account::Column::Name, sea_orm::sea_query::Expr::value(name))
        .filter(account::Column::Id.eq(account_id))
        .exec(&state.db)
        .await?;
    info(state, account_id, user_id).await
}

/// Log entries after position `after` (exclusive; `None` = from genesis), at most `limit`.
pub async fn read_log(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    after: Option<u64>,
    limit: u64,
) -> Result<LogPage, ApiError> {
    membership_of(&state.db, account_id, user_id).await?;
    let a = account::Entity::find_by_id(account_id.to_owned()).one(&state.db).await?.ok_or_else(not_found)?;
    let mut q = log_entry::Entity::find().filter(log_entry::Column::AccountId.eq(account_id));
    if let Some(after) = after {
        q = q.filter(log_entry::Column::Seq.gt(i64::try_from(after).unwrap_or(i64::MAX)));
    }
    let rows = sea_orm::QuerySelect::limit(q.order_by_asc(log_entry::Column::Seq), limit.clamp(1, 1000))
        .all(&state.db)
        .await?;
    Ok(LogPage {
        entries: rows
            .into_iter()
            .map(|r| LogEntryWire { seq: u64::try_from(r.seq).unwrap_or(0), entry: b64::encode(&r.entry) })
            .collect(),
        log_len: u64::try_from(a.log_len).unwrap_or(0),
    })
}

async fn load_state(txn: &DatabaseTransaction, account_id: &str) -> Result<TeamState, ApiError> {
    let rows = log_entry::Entity::find()
        .filter(log_entry::Column::AccountId.eq(account_id))
        .order_by_asc(log_entry::Column::Seq)
        .all(txn)
        .await?;
    let entries = rows
        .iter()
        .map(|r| LogEntry::from_bytes(&r.entry))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Internal(format!("stored log entry: {e}")))?;
    TeamState::replay(account_id, &entries).map_err(|e| ApiError::Internal(format!("stored log does not verify: {e}")))
}

/// How far a log entry's timestamp may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The server stamps time: an entry's timestamp must be within [`MAX_CLOCK_SKEW_SECS`] of the
/// server's clock. Ahead, a client would end a waiting period early for every reader; behind, a
/// backdated reset announcement would skip it (a waiting period counts from the announcement's
/// timestamp, so from when the server received it, give or take this window).
fn check_timestamp(timestamp: u64, now: i64) -> Result<(), ApiError> {
    let ts = i64::try_from(timestamp).unwrap_or(i64::MAX);
    if ts > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
        return Err(ApiError::bad("log.future_timestamp", "entry timestamp is ahead of the server clock"));
    }
    if ts < now.saturating_sub(MAX_CLOCK_SKEW_SECS) {
        return Err(ApiError::bad(
            "log.stale_timestamp",
            "entry timestamp is more than 5 minutes behind the server clock; check this device's clock",
        ));
    }
    Ok(())
}

/// Appends entries (in order, atomically) after checking each against the verified log, and
/// applies their effects to memberships, sealed keys and the key version.
pub async fn append(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    req: AppendRequest,
    now: i64,
) -> Result<AppendResponse, ApiError> {
    membership_of(&state.db, account_id, user_id).await?;
    if req.entries.is_empty() || req.entries.len() > MAX_APPEND || req.sealed_keys.len() > MAX_APPEND {
        return Err(ApiError::bad("log.invalid_batch", "send 1 to 200 entries and at most 200 sealed keys"));
    }
    let entries = req.entries.iter().map(|e| decode_entry(e)).collect::<Result<Vec<_>, _>>()?;
    let mut uploads = Vec::with_capacity(req.sealed_keys.len());
    for s in &req.sealed_keys {
        uploads.push((s.recipient_id.clone(), s.recipient_generation, s.key_version, decode_sealed(&s.blob)?));
    }
    let (aid, uid, templates) = (account_id.to_owned(), user_id.to_owned(), state.templates.clone());
    let len = state
        .db
        .transaction::<_, i64, ApiError>(move |txn| {
            Box::pin(async move { append_in(txn, &aid, &uid, &entries, &uploads, &templates, now).await })
        })
        .await?;
    state.mail_wakeup.notify_one();
    Ok(AppendResponse { log_len: u64::try_from(len).unwrap_or(0) })
}

/// A sealed key sent with the entries that announce it: (recipient, generation, version, blob).
pub type Upload = (String, u32, u32, Sealed);

/// Appends entries inside the caller's transaction (see [`append`]); returns the new log length.
/// `mail` renders the notices some entries cause (a reseal tells the member).
pub async fn append_in(
    txn: &DatabaseTransaction,
    aid: &str,
    uid: &str,
    entries: &[LogEntry],
    uploads: &[Upload],
    mail: &Templates,
    now: i64,
) -> Result<i64, ApiError> {
    // Serialize appends per account: write first, so this transaction holds the row lock
    // (PostgreSQL) or the write lock (SQLite, waiting on busy_timeout) before it reads the log;
    // a deferred read-then-write could deadlock instead of waiting.
    let touched = account::Entity::update_many()
        .col_expr(account::Column::LogLen, sea_orm::sea_query::Expr::col(account::Column::LogLen))
        .filter(account::Column::Id.eq(aid))
        .exec(txn)
        .await?;
    if touched.rows_affected != 1 {
        return Err(not_found());
    }
    let mut team = load_state(txn, aid).await?;
    if entries.first().map(|e| e.seq) != Some(team.head().seq + 1) {
        return Err(ApiError::conflict("log.conflict", "the log has moved on; re-read it and retry"));
    }
    let mut used = vec![false; uploads.len()];
    for e in entries {
        if e.author != uid && !e.cosignatures.iter().any(|c| c.user_id == uid) {
            return Err(ApiError::bad("log.rejected", "entries must be authored or co-signed by the caller"));
        }
        check_timestamp(e.timestamp, now)?;
        let before = team.clone();
        team.apply(e).map_err(|err| ApiError::bad("log.rejected", err.to_string()))?;
        apply_effects(txn, aid, e, &before, &team, uploads, &mut used, mail, now).await?;
        store_entry(txn, aid, e, now).await?;
    }
    if used.iter().any(|u| !u) {
        return Err(ApiError::bad("log.unannounced_seal", "every sealed key needs a key_sealed entry"));
    }
    let len = i64::try_from(team.head().seq + 1).unwrap_or(i64::MAX);
    account::Entity::update_many()
        .col_expr(account::Column::LogLen, sea_orm::sea_query::Expr::value(len))
        .col_expr(
            account::Column::KeyVersion,
            sea_orm::sea_query::Expr::value(i32::try_from(team.key_version()).unwrap_or(i32::MAX)),
        )
        .col_expr(account::Column::RotationRequired, sea_orm::sea_query::Expr::value(team.rotation_required()))
        .filter(account::Column::Id.eq(aid))
        .exec(txn)
        .await?;
    Ok(len)
}

#[allow(clippy::too_many_arguments)]
async fn apply_effects(
    txn: &DatabaseTransaction,
    account_id: &str,
    e: &LogEntry,
    before: &TeamState,
    after: &TeamState,
    uploads: &[Upload],
    used: &mut [bool],
    mail: &Templates,
    now: i64,
) -> Result<(), ApiError> {
    match &e.body {
        EntryBody::MemberAdded { member, role } => {
            let m = membership::Entity::find_by_id((account_id.to_owned(), member.user_id.clone()))
                .one(txn)
                .await?
                .filter(|m| m.status == MembershipStatus::Accepted)
                .ok_or_else(|| {
                    ApiError::bad("member.not_accepted", "only a user who accepted an invitation can be added")
                })?;
            let (_, current) = user_identity(txn, &member.user_id).await?;
            if current != *member {
                return Err(ApiError::bad("member.key_mismatch", "the entry does not carry the user's current keys"));
            }
            let mut am: membership::ActiveModel = m.into();
            am.status = Set(MembershipStatus::Active);
            am.role = Set(member_role(*role));
            am.updated_at = Set(now);
            am.update(txn).await?;
        }
        EntryBody::RoleChanged { user_id, role } => {
            membership::Entity::update_many()
                .col_expr(membership::Column::Role, sea_orm::sea_query::Expr::value(role.as_str()))
                .col_expr(membership::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
                .filter(membership::Column::AccountId.eq(account_id))
                .filter(membership::Column::UserId.eq(user_id))
                .exec(txn)
                .await?;
        }
        EntryBody::MemberRemoved { user_id } => {
            membership::Entity::delete_by_id((account_id.to_owned(), user_id.clone())).exec(txn).await?;
            sealed_key::Entity::delete_many()
                .filter(sealed_key::Column::AccountId.eq(account_id))
                .filter(sealed_key::Column::RecipientId.eq(user_id))
                .exec(txn)
                .await?;
        }
        EntryBody::WorkerGranted { worker: w, access } => {
            let row = worker::Entity::find_by_id(w.user_id.clone())
                .one(txn)
                .await?
                .filter(|r| r.account_id == account_id && r.status == WorkerStatus::Pending)
                .ok_or_else(|| {
                    ApiError::bad("worker.not_registered", "register the worker's keys before granting it")
                })?;
            if row.public_keys != w.keys_to_bytes() {
                return Err(ApiError::bad("worker.key_mismatch", "the grant does not carry the registered keys"));
            }
            let mut am: worker::ActiveModel = row.into();
            am.status = Set(WorkerStatus::Active);
            am.access = Set(match access {
                vouchsafe_crypto::log::WorkerAccess::Read => WorkerAccess::Read,
                vouchsafe_crypto::log::WorkerAccess::ReadWrite => WorkerAccess::ReadWrite,
            });
            am.update(txn).await?;
        }
        EntryBody::WorkerRevoked { worker_id } => {
            worker::Entity::update_many()
                .col_expr(worker::Column::Status, sea_orm::sea_query::Expr::value(WorkerStatus::Revoked.as_str()))
                .filter(worker::Column::Id.eq(worker_id))
                .exec(txn)
                .await?;
            sealed_key::Entity::delete_many()
                .filter(sealed_key::Column::AccountId.eq(account_id))
                .filter(sealed_key::Column::RecipientId.eq(worker_id))
                .exec(txn)
                .await?;
        }
        EntryBody::ResetAnnounced { new_identity, .. } => {
            membership::Entity::update_many()
                .col_expr(
                    membership::Column::Status,
                    sea_orm::sea_query::Expr::value(MembershipStatus::AwaitingVouch.as_str()),
                )
                .col_expr(membership::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
                .filter(membership::Column::AccountId.eq(account_id))
                .filter(membership::Column::UserId.eq(&new_identity.user_id))
                .exec(txn)
                .await?;
        }
        EntryBody::KeySealed { recipient, generation, key_version, sealed_hash, .. } => {
            let idx = uploads
                .iter()
                .enumerate()
                .position(|(i, (r, g, v, s))| {
                    !used[i] && r == recipient && g == generation && v == key_version && s.hash() == *sealed_hash
                })
                .ok_or_else(|| {
                    ApiError::bad("log.missing_seal", "a key_sealed entry needs its sealed key in the same request")
                })?;
            used[idx] = true;
            let sealed = &uploads[idx].3;
            // The recipient's identity is what the verified log endorses (before or after this
            // entry: a reseal changes it); the sealer is the entry's author.
            let target = after
                .identity(recipient, *generation)
                .or_else(|| before.identity(recipient, *generation))
                .or_else(|| {
                    before.member(recipient).and_then(|m| match &m.status {
                        vouchsafe_crypto::log::MemberStatus::AwaitingVouch(p)
                            if p.new_identity.generation == *generation =>
                        {
                            Some(&p.new_identity)
                        }
                        _ => None,
                    })
                })
                .ok_or_else(|| ApiError::bad("log.rejected", "unknown recipient key"))?;
            let sealer = before
                .identity(&e.author, e.author_generation)
                .ok_or_else(|| ApiError::bad("log.rejected", "unknown sealer key"))?;
            verify_master_key_seal(sealed, account_id, *key_version, target, sealer)
                .map_err(|err| ApiError::bad("log.bad_seal", err.to_string()))?;
            let row = sealed_key::ActiveModel {
                account_id: Set(account_id.to_owned()),
                key_version: Set(i32::try_from(*key_version).unwrap_or(i32::MAX)),
                recipient_id: Set(recipient.clone()),
                recipient_generation: Set(i32::try_from(*generation).unwrap_or(i32::MAX)),
                sealer_id: Set(e.author.clone()),
                sealer_generation: Set(i32::try_from(e.author_generation).unwrap_or(i32::MAX)),
                blob: Set(sealed.to_bytes()),
                log_seq: Set(i64::try_from(e.seq).unwrap_or(i64::MAX)),
                created_at: Set(now),
            };
            let was_awaiting = matches!(
                before.member(recipient).map(|m| &m.status),
                Some(vouchsafe_crypto::log::MemberStatus::AwaitingVouch(_))
            );
            if was_awaiting
                && after.member(recipient).is_some_and(|m| m.status == vouchsafe_crypto::log::MemberStatus::Active)
            {
                reactivate(txn, account_id, recipient, mail, now).await?;
            }
            sealed_key::Entity::insert(row)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::columns([
                        sealed_key::Column::AccountId,
                        sealed_key::Column::KeyVersion,
                        sealed_key::Column::RecipientId,
                        sealed_key::Column::RecipientGeneration,
                    ])
                    .update_columns([
                        sealed_key::Column::Blob,
                        sealed_key::Column::SealerId,
                        sealed_key::Column::SealerGeneration,
                        sealed_key::Column::LogSeq,
                    ])
                    .to_owned(),
                )
                .exec(txn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// A reseal after vouching: the membership is active again and the member is told by email —
/// unless the member answered "this was not me" to the reset.
async fn reactivate(
    txn: &DatabaseTransaction,
    account_id: &str,
    user_id: &str,
    mail: &Templates,
    now: i64,
) -> Result<(), ApiError> {
    let u = user::Entity::find_by_id(user_id.to_owned()).one(txn).await?.ok_or_else(not_found)?;
    if u.reset_vetoed_at.is_some() {
        return Err(ApiError::Forbidden {
            code: "reset.vetoed",
            message: "the member said the reset was not theirs; no reseal until they reset again".into(),
        });
    }
    membership::Entity::update_many()
        .col_expr(membership::Column::Status, sea_orm::sea_query::Expr::value(MembershipStatus::Active.as_str()))
        .col_expr(membership::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(membership::Column::AccountId.eq(account_id))
        .filter(membership::Column::UserId.eq(user_id))
        .exec(txn)
        .await?;
    let a = account::Entity::find_by_id(account_id.to_owned()).one(txn).await?.ok_or_else(not_found)?;
    let msg = mail.message("access_restored", &[("account", &a.name)])?;
    crate::mail::enqueue(txn, &u.email, &format!("Your access to {} is restored", a.name), msg, now).await
}

/// The master keys sealed to the caller's current generation.
pub async fn my_keys(state: &AppState, account_id: &str, user_id: &str) -> Result<Vec<SealedKeyWire>, ApiError> {
    let m = active_member(&state.db, account_id, user_id).await?;
    let generation =
        if m.role == MemberRole::Worker { 1 } else { user_identity(&state.db, user_id).await?.1.generation };
    let rows = sealed_key::Entity::find()
        .filter(sealed_key::Column::AccountId.eq(account_id))
        .filter(sealed_key::Column::RecipientId.eq(user_id))
        .filter(sealed_key::Column::RecipientGeneration.eq(i32::try_from(generation).unwrap_or(i32::MAX)))
        .order_by_asc(sealed_key::Column::KeyVersion)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| SealedKeyWire {
            key_version: u32::try_from(r.key_version).unwrap_or(0),
            recipient_generation: u32::try_from(r.recipient_generation).unwrap_or(0),
            sealer_id: r.sealer_id,
            sealer_generation: u32::try_from(r.sealer_generation).unwrap_or(0),
            log_seq: u64::try_from(r.log_seq).ok(),
            blob: b64::encode(&r.blob),
        })
        .collect())
}

/// Members and accepted invitees, with their current public keys.
pub async fn members(state: &AppState, account_id: &str, user_id: &str) -> Result<Vec<MemberInfo>, ApiError> {
    active_member(&state.db, account_id, user_id).await?;
    let ms = membership::Entity::find()
        .filter(membership::Column::AccountId.eq(account_id))
        .order_by_asc(membership::Column::CreatedAt)
        .order_by_asc(membership::Column::UserId)
        .all(&state.db)
        .await?;
    let mut out = Vec::with_capacity(ms.len());
    for m in ms {
        let u = user::Entity::find_by_id(m.user_id.clone()).one(&state.db).await?;
        if let Some(u) = u {
            out.push(MemberInfo {
                user_id: m.user_id,
                email: u.email,
                role: m.role.as_str().to_owned(),
                status: m.status.as_str().to_owned(),
                generation: u32::try_from(u.generation).unwrap_or(0),
                public_keys: b64::encode(&u.public_keys),
            });
        }
    }
    // Workers are listed too, marked as such.
    for w in worker::Entity::find()
        .filter(worker::Column::AccountId.eq(account_id))
        .filter(worker::Column::Status.ne(WorkerStatus::Revoked))
        .order_by_asc(worker::Column::CreatedAt)
        .all(&state.db)
        .await?
    {
        out.push(MemberInfo {
            user_id: w.id,
            email: w.name,
            role: MemberRole::Worker.as_str().to_owned(),
            status: w.status.as_str().to_owned(),
            generation: 1,
            public_keys: b64::encode(&w.public_keys),
        });
    }
    Ok(out)
}

/// Invites an email (admins): stores the token's hash and queues the email in one transaction.
pub async fn invite(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    req: InviteRequest,
    now: i64,
) -> Result<InvitationInfo, ApiError> {
    let me = active_admin(&state.db, account_id, user_id).await?;
    let role = Role::parse(&req.role)
        .ok_or_else(|| ApiError::bad("invitation.invalid_role", "role must be owner, admin or member"))?;
    if role == Role::Owner && me.role != MemberRole::Owner {
        return Err(forbidden("only owners invite owners"));
    }
    let email = normalize_email(&req.email)?;
    if let Some(u) = user::Entity::find().filter(user::Column::Email.eq(&email)).one(&state.db).await?
        && membership::Entity::find_by_id((account_id.to_owned(), u.id)).one(&state.db).await?.is_some()
    {
        return Err(ApiError::conflict("invitation.already_member", "this person is already in the account"));
    }
    let a = account::Entity::find_by_id(account_id.to_owned()).one(&state.db).await?.ok_or_else(not_found)?;
    let (inviter, _) = user_identity(&state.db, user_id).await?;
    let (hash, expires, msg, subject) = invitation_mail(state, &inviter.email, &a.name, role.as_str(), now)?;
    let inv = invitation::Model {
        id: new_id()?,
        account_id: account_id.to_owned(),
        email: email.clone(),
        role: member_role(role),
        token_hash: hash.to_vec(),
        invited_by: user_id.to_owned(),
        status: InvitationStatus::Pending,
        accepted_by: None,
        created_at: now,
        expires_at: expires,
        accepted_at: None,
    };
    let row: invitation::ActiveModel = inv.clone().into();
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                row.insert(txn).await?;
                crate::mail::enqueue(txn, &email, &subject, msg, now).await
            })
        })
        .await?;
    state.mail_wakeup.notify_one();
    Ok(to_invitation(inv, now))
}

/// A fresh invitation token's hash, its expiry, and the e-mail that carries its link.
fn invitation_mail(
    state: &AppState,
    inviter: &str,
    account: &str,
    role: &str,
    now: i64,
) -> Result<([u8; 32], i64, crate::mail::Mail, String), ApiError> {
    let hours = state.config.mail.invite_ttl_hours.unwrap_or(72).clamp(1, 720);
    let expires = now + i64::try_from(hours * 3600).unwrap_or(72 * 3600);
    let (token, hash) = new_opaque_token()?;
    let link = format!("{}/invite#token={}", state.config.public_url, token.as_str());
    let msg = state.templates.message(
        "invite",
        &[
            ("inviter", inviter),
            ("account", account),
            ("role", role),
            ("link", &link),
            ("expires", &format!("in {hours} hours")),
        ],
    )?;
    Ok((hash, expires, msg, format!("You are invited to {account} on Vouchsafe")))
}

/// Sends a pending invitation again with a new link (the old link stops working) and a new
/// expiry; `vouchsafe admin resend-invitation`. Returns the invitation and its account's name.
pub async fn resend_invitation(
    state: &AppState,
    invitation_id: &str,
    now: i64,
) -> Result<(InvitationInfo, String), ApiError> {
    let inv = invitation::Entity::find_by_id(invitation_id.to_owned())
        .one(&state.db)
        .await?
        .filter(|i| i.status == InvitationStatus::Pending)
        .ok_or_else(|| ApiError::not_found("invitation.not_found", "no such pending invitation"))?;
    let a = account::Entity::find_by_id(inv.account_id.clone()).one(&state.db).await?.ok_or_else(not_found)?;
    let inviter = user::Entity::find_by_id(inv.invited_by.clone()).one(&state.db).await?;
    let inviter = inviter.map_or_else(|| "A team admin".to_owned(), |u| u.email);
    let (hash, expires, msg, subject) = invitation_mail(state, &inviter, &a.name, inv.role.as_str(), now)?;
    let mut row: invitation::ActiveModel = inv.clone().into();
    row.token_hash = Set(hash.to_vec());
    row.expires_at = Set(expires);
    let email = inv.email.clone();
    state
        .db
        .transaction::<_, (), ApiError>(move |txn| {
            Box::pin(async move {
                row.update(txn).await?;
                crate::mail::enqueue(txn, &email, &subject, msg, now).await
            })
        })
        .await?;
    state.mail_wakeup.notify_one();
    Ok((to_invitation(invitation::Model { token_hash: hash.to_vec(), expires_at: expires, ..inv }, now), a.name))
}

fn to_invitation(i: invitation::Model, now: i64) -> InvitationInfo {
    let status =
        if i.status == InvitationStatus::Pending && i.expires_at <= now { "expired" } else { i.status.as_str() };
    InvitationInfo {
        id: i.id,
        email: i.email,
        role: i.role.as_str().to_owned(),
        status: status.to_owned(),
        invited_by: i.invited_by,
        accepted_by: i.accepted_by,
        created_at: i.created_at,
        expires_at: i.expires_at,
    }
}

/// Invitations of an account (admins).
pub async fn invitations(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    now: i64,
) -> Result<Vec<InvitationInfo>, ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    let rows = invitation::Entity::find()
        .filter(invitation::Column::AccountId.eq(account_id))
        .order_by_asc(invitation::Column::CreatedAt)
        .order_by_asc(invitation::Column::Id)
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().map(|i| to_invitation(i, now)).collect())
}

/// Revokes a pending invitation (admins).
pub async fn revoke_invitation(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    invitation_id: &str,
) -> Result<(), ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    let res = invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, sea_orm::sea_query::Expr::value(InvitationStatus::Revoked.as_str()))
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::AccountId.eq(account_id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .exec(&state.db)
        .await?;
    if res.rows_affected != 1 {
        return Err(ApiError::not_found("invitation.not_found", "no such pending invitation"));
    }
    Ok(())
}

/// Accepts an invitation (signed in, with the invited email). Single use, race-free.
pub async fn accept(
    state: &AppState,
    user_id: &str,
    token: &str,
    now: i64,
) -> Result<AcceptInvitationResponse, ApiError> {
    let invalid =
        || ApiError::not_found("invitation.invalid", "this invitation link is invalid, used, revoked or expired");
    if token.len() > 64 {
        return Err(invalid());
    }
    let hash = hash_token(token).to_vec();
    let (me, _) = user_identity(&state.db, user_id).await?;
    let uid = user_id.to_owned();
    state
        .db
        .transaction::<_, AcceptInvitationResponse, ApiError>(move |txn| {
            Box::pin(async move {
                // Claim first (a write: SQLite's write lock before any read). A wrong user rolls
                // the claim back with the transaction.
                let claimed = invitation::Entity::update_many()
                    .col_expr(
                        invitation::Column::Status,
                        sea_orm::sea_query::Expr::value(InvitationStatus::Accepted.as_str()),
                    )
                    .col_expr(invitation::Column::AcceptedBy, sea_orm::sea_query::Expr::value(uid.clone()))
                    .col_expr(invitation::Column::AcceptedAt, sea_orm::sea_query::Expr::value(now))
                    .filter(invitation::Column::TokenHash.eq(hash.clone()))
                    .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
                    .filter(invitation::Column::ExpiresAt.gt(now))
                    .exec(txn)
                    .await?;
                if claimed.rows_affected != 1 {
                    return Err(invalid());
                }
                let inv = invitation::Entity::find()
                    .filter(invitation::Column::TokenHash.eq(hash))
                    .one(txn)
                    .await?
                    .ok_or_else(invalid)?;
                if inv.email != me.email {
                    return Err(ApiError::Forbidden {
                        code: "invitation.wrong_user",
                        message: "this invitation is for another email address; sign in as that user".into(),
                    });
                }
                if membership::Entity::find_by_id((inv.account_id.clone(), uid.clone())).one(txn).await?.is_some() {
                    return Err(ApiError::conflict("invitation.already_member", "you are already in this account"));
                }
                membership::ActiveModel {
                    account_id: Set(inv.account_id.clone()),
                    user_id: Set(uid),
                    role: Set(inv.role),
                    status: Set(MembershipStatus::Accepted),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(txn)
                .await?;
                Ok(AcceptInvitationResponse { account_id: inv.account_id })
            })
        })
        .await
        .map_err(Into::into)
}
