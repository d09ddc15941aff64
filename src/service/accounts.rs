//! Accounts, memberships, invitations, sealed keys and the team log.
//!
//! The server checks every log entry with `vouchsafe-crypto` (chain, signature, authority)
//! before storing it, and keeps its own tables (memberships, sealed keys, key version) in step
//! with the log, in the same transaction. Authorization: a caller who is not a member of an
//! account gets 404 for everything in it; a member without the needed role gets 403.

use std::collections::HashMap;

use vouchsafe_client::types::*;
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::PublicIdentity;
use vouchsafe_crypto::log::{EntryBody, LogEntry, Role, TeamState};
use vouchsafe_crypto::seal::{Sealed, verify_master_key_seal};

use crate::auth::{hash_token, new_id, new_opaque_token};
use crate::error::ApiError;
use crate::mail::Templates;
use crate::service::auth::normalize_email;
use crate::service::tokens::Actor;
use crate::state::AppState;
use crate::store::{Conn, Tx, accounts, inbox, users, workers};
use entity::values::{InvitationStatus, MemberRole, MembershipStatus, WorkerAccess, WorkerStatus};
use entity::{account, invitation, log_entry, membership, sealed_key, user};

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
    checked_name(name, "account.invalid_name")
}

/// A display name (`schema::Name`): trimmed, 1 to 200 bytes, no control characters; else `code`.
pub(crate) fn checked_name(name: &str, code: &'static str) -> Result<String, ApiError> {
    let n = name.trim();
    if n.is_empty() || n.len() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(ApiError::bad(code, "name must be 1 to 200 characters without control characters"));
    }
    Ok(n.to_owned())
}

/// The caller's membership, or 404 (also for a nonexistent account: the two look the same).
pub async fn membership_of<C: Conn>(db: &C, account_id: &str, user_id: &str) -> Result<membership::Model, ApiError> {
    // A granted worker of the account counts as an active member with the role `worker`.
    if let Some(m) = accounts::membership(db, account_id, user_id).await? {
        return Ok(m);
    }
    match workers::by_id(db, user_id).await? {
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
pub async fn active_member<C: Conn>(db: &C, account_id: &str, user_id: &str) -> Result<membership::Model, ApiError> {
    let m = membership_of(db, account_id, user_id).await?;
    if m.status != MembershipStatus::Active {
        return Err(forbidden("your membership is not active yet"));
    }
    Ok(m)
}

/// The caller's membership if it is an active owner's or admin's, else 404 or 403.
pub async fn active_admin<C: Conn>(db: &C, account_id: &str, user_id: &str) -> Result<membership::Model, ApiError> {
    let m = active_member(db, account_id, user_id).await?;
    if !Role::parse(m.role.as_str()).is_some_and(Role::is_admin) {
        return Err(forbidden("only owners and admins may do this"));
    }
    Ok(m)
}

async fn user_identity<C: Conn>(db: &C, user_id: &str) -> Result<(user::Model, PublicIdentity), ApiError> {
    let u = users::by_id(db, user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("auth.invalid_token", "user no longer exists"))?;
    let id = PublicIdentity::keys_from_bytes(&u.id, &u.public_keys)
        .map_err(|e| ApiError::Internal(format!("stored keys: {e}")))?;
    Ok((u, id))
}

pub(crate) fn decode_entry(b: &str) -> Result<LogEntry, ApiError> {
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
    let generation = i32::try_from(me.generation).map_err(|_| ApiError::Internal("generation".into()))?;
    let account = account::Model {
        id: req.account_id.to_string(),
        name,
        created_by: user_id.to_owned(),
        key_version: 1,
        rotation_required: false,
        second_factor_required: false,
        log_len: 1,
        created_at: now,
    };
    let owner = membership::Model {
        account_id: req.account_id.to_string(),
        user_id: user_id.to_owned(),
        role: MemberRole::Owner,
        status: MembershipStatus::Active,
        created_at: now,
        updated_at: now,
    };
    let key = sealed_key::Model {
        account_id: req.account_id.to_string(),
        key_version: 1,
        recipient_id: user_id.to_owned(),
        recipient_generation: generation,
        sealer_id: user_id.to_owned(),
        sealer_generation: generation,
        blob: sealed.to_bytes(),
        log_seq: -1,
        created_at: now,
    };
    let account_id = req.account_id.clone();
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            if !accounts::insert(txn, account).await? {
                return Err(ApiError::conflict("account.exists", "an account with this id exists"));
            }
            accounts::insert_membership(txn, owner).await?;
            store_entry(txn, &account_id, &genesis, now).await?;
            accounts::put_sealed_key(txn, key).await
        })
    })
    .await?;
    info(state, &req.account_id, user_id).await
}

async fn store_entry<C: Conn>(db: &C, account_id: &str, e: &LogEntry, now: i64) -> Result<(), ApiError> {
    let seq = i64::try_from(e.seq).map_err(|_| ApiError::bad("log.malformed", "sequence too large"))?;
    let row = log_entry::Model {
        account_id: account_id.to_owned(),
        seq,
        entry: e.to_bytes(),
        hash: e.hash().to_vec(),
        author: e.author.clone(),
        kind: e.body.kind_name().to_owned(),
        created_at: now,
    };
    if !accounts::insert_entry(db, row).await? {
        return Err(ApiError::conflict("log.conflict", "another entry was appended first; re-read the log and retry"));
    }
    Ok(())
}

/// One account as the caller sees it.
pub async fn info(state: &AppState, account_id: &str, user_id: &str) -> Result<AccountInfo, ApiError> {
    let m = membership_of(&state.db, account_id, user_id).await?;
    let a = accounts::by_id(&state.db, account_id).await?.ok_or_else(not_found)?;
    let items_to_rotate = accounts::items_below(&state.db, account_id, a.key_version).await?;
    let one = [account_id.to_owned()];
    let count = |status| accounts::count_with_status(&state.db, &one, status);
    let deprovisioned = !count(MembershipStatus::Deprovisioned).await?.is_empty();
    let waiting = count(MembershipStatus::AwaitingVouch).await?.first().map_or(0, |w| w.1);
    Ok(to_info(a, &m, items_to_rotate, deprovisioned, waiting))
}

/// `deprovisioned`: a member was deprovisioned and is still in the log, so the key must rotate
/// (the log alone cannot say so: provisioning clients do not sign entries).
fn to_info(
    a: account::Model,
    m: &membership::Model,
    items_to_rotate: u64,
    deprovisioned: bool,
    awaiting_vouch: i64,
) -> AccountInfo {
    AccountInfo {
        id: a.id,
        name: a.name,
        role: m.role.as_str().to_owned(),
        status: m.status.as_str().to_owned(),
        key_version: u32::try_from(a.key_version).unwrap_or(0),
        rotation_required: a.rotation_required || deprovisioned,
        second_factor_required: a.second_factor_required,
        items_to_rotate,
        awaiting_vouch: u64::try_from(awaiting_vouch).unwrap_or(0),
        log_len: u64::try_from(a.log_len).unwrap_or(0),
        created_at: a.created_at,
    }
}

/// The caller's accounts.
pub async fn list(state: &AppState, user_id: &str) -> Result<Vec<AccountInfo>, ApiError> {
    // Four queries whatever the number of teams: memberships, accounts, and two counts.
    let ms = accounts::memberships_of_user(&state.db, user_id).await?;
    let ids: Vec<String> = ms.iter().map(|m| m.account_id.clone()).collect();
    let count = |status| accounts::count_with_status(&state.db, &ids, status);
    let waiting: HashMap<String, i64> = count(MembershipStatus::AwaitingVouch).await?.into_iter().collect();
    let deprovisioned: HashMap<String, i64> = count(MembershipStatus::Deprovisioned).await?.into_iter().collect();
    let mut rows: HashMap<String, account::Model> =
        accounts::by_ids(&state.db, &ids).await?.into_iter().map(|a| (a.id.clone(), a)).collect();
    let mut out = Vec::with_capacity(ms.len());
    for m in ms {
        if let Some(a) = rows.remove(&m.account_id) {
            let gone = deprovisioned.contains_key(&a.id);
            let n = waiting.get(&a.id).copied().unwrap_or(0);
            out.push(to_info(a, &m, 0, gone, n));
        }
    }
    Ok(out)
}

/// Renames (admins).
pub async fn rename(state: &AppState, account_id: &str, user_id: &str, name: &str) -> Result<AccountInfo, ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    let name = validate_name(name)?;
    accounts::rename(&state.db, account_id, &name).await?;
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
    let a = accounts::by_id(&state.db, account_id).await?.ok_or_else(not_found)?;
    let after = after.map(|a| i64::try_from(a).unwrap_or(i64::MAX));
    let rows = accounts::entries(&state.db, account_id, after, Some(limit.clamp(1, 1000))).await?;
    Ok(LogPage {
        entries: rows
            .into_iter()
            .map(|r| LogEntryWire { seq: u64::try_from(r.seq).unwrap_or(0), entry: b64::encode(&r.entry) })
            .collect(),
        log_len: u64::try_from(a.log_len).unwrap_or(0),
    })
}

pub(crate) async fn load_state(txn: &Tx, account_id: &str) -> Result<TeamState, ApiError> {
    let rows = accounts::entries(txn, account_id, None, None).await?;
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
pub(crate) fn check_timestamp(timestamp: u64, now: i64) -> Result<(), ApiError> {
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
    if req.entries.is_empty()
        || req.entries.len() > MAX_APPEND
        || req.sealed_keys.len() > MAX_APPEND
        || req.inbox_wraps.len() > MAX_APPEND
    {
        return Err(ApiError::bad(
            "log.invalid_batch",
            "send 1 to 200 entries and at most 200 sealed keys and 200 inbox wraps",
        ));
    }
    let entries = req.entries.iter().map(|e| decode_entry(e)).collect::<Result<Vec<_>, _>>()?;
    let mut uploads = Vec::with_capacity(req.sealed_keys.len());
    for s in &req.sealed_keys {
        uploads.push((s.recipient_id.to_string(), s.recipient_generation, s.key_version, decode_sealed(&s.blob)?));
    }
    let wraps = req.inbox_wraps.iter().map(decode_wrap).collect::<Result<Vec<_>, _>>()?;
    let (aid, uid, templates) = (account_id.to_owned(), user_id.to_owned(), state.templates.clone());
    let len = crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            let (len, team) = append_in(txn, &aid, &uid, &entries, &uploads, &templates, now, Clock::Checked).await?;
            put_inbox_wraps(txn, &aid, &uid, &team, &entries, &wraps, now).await?;
            Ok(len)
        })
    })
    .await?;
    state.mail_wakeup.notify_one();
    Ok(AppendResponse { log_len: u64::try_from(len).unwrap_or(0) })
}

/// An inbox wrap as sent: (inbox version, key version, blob), its shape checked.
type Wrap = (u32, u32, Vec<u8>);

fn decode_wrap(w: &InboxWrapUpload) -> Result<Wrap, ApiError> {
    let bad = |m: String| ApiError::bad("inbox.bad_wrap", m);
    let blob = b64::decode(&w.blob, 128).map_err(|e| bad(e.to_string()))?;
    let under = vouchsafe_crypto::inbox::wrap_key_version(&blob).map_err(|e| bad(e.to_string()))?;
    if under != w.key_version {
        return Err(bad(format!("the wrap is under key version {under}, not {}", w.key_version)));
    }
    Ok((w.inbox_version, w.key_version, blob))
}

/// Stores inbox wraps sent with an append, checked against the log as it now stands: each of
/// an endorsed inbox key, under a key version that exists; an inbox key endorsed by these
/// entries needs its wrap under the current key version in the same request (else no holder
/// of the master key could open what is deposited to it). A wrap under the current version
/// retires the older wraps of its inbox key.
async fn put_inbox_wraps(
    txn: &Tx,
    aid: &str,
    uid: &str,
    team: &TeamState,
    entries: &[LogEntry],
    wraps: &[Wrap],
    now: i64,
) -> Result<(), ApiError> {
    let current = team.key_version();
    for e in entries {
        if let EntryBody::InboxKey { inbox_version, .. } = e.body
            && !wraps.iter().any(|(iv, kv, _)| *iv == inbox_version && *kv == current)
        {
            return Err(ApiError::bad(
                "inbox.wrap_missing",
                format!("send the new inbox key's secret wrapped under key version {current} with its entry"),
            ));
        }
    }
    let mut retire = false;
    for (iv, kv, blob) in wraps {
        if !team.inbox_keys().contains_key(iv) {
            return Err(ApiError::bad("inbox.unknown_key", format!("the log endorses no inbox key {iv}")));
        }
        if *kv == 0 || *kv > current {
            return Err(ApiError::bad("inbox.bad_wrap", format!("key version {kv} does not exist")));
        }
        let (iv32, kv32) = (i32::try_from(*iv).unwrap_or(i32::MAX), i32::try_from(*kv).unwrap_or(i32::MAX));
        let row = entity::inbox_wrap::Model {
            account_id: aid.to_owned(),
            inbox_version: iv32,
            key_version: kv32,
            blob: blob.clone(),
            created_by: uid.to_owned(),
            created_at: now,
        };
        if !inbox::put_wrap(txn, row).await? && inbox::wrap(txn, aid, iv32, kv32).await?.is_none_or(|w| w.blob != *blob)
        {
            return Err(ApiError::conflict(
                "inbox.wrap_exists",
                "another wrap of this inbox key under this key version exists",
            ));
        }
        retire |= *kv == current;
    }
    if retire {
        inbox::drop_older_wraps(txn, aid, i32::try_from(current).unwrap_or(i32::MAX)).await?;
    }
    Ok(())
}

/// A sealed key sent with the entries that announce it: (recipient, generation, version, blob).
pub type Upload = (String, u32, u32, Sealed);

/// Whether an append checks each entry's timestamp against the server clock.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Every entry (what a client sends now).
    Checked,
    /// Not at all: a co-signed proposal, whose timestamp the server checked when it was
    /// proposed (the chain still refuses one older than the head).
    AtProposal,
}

/// Appends entries inside the caller's transaction (see [`append`]); returns the new log length
/// and the team's state after the entries. `mail` renders the notices some entries cause (a
/// reseal tells the member).
#[allow(clippy::too_many_arguments)]
pub async fn append_in(
    txn: &Tx,
    aid: &str,
    uid: &str,
    entries: &[LogEntry],
    uploads: &[Upload],
    mail: &Templates,
    now: i64,
    clock: Clock,
) -> Result<(i64, TeamState), ApiError> {
    // Serialize appends per account: the lock before the log is read.
    if !accounts::lock_for_append(txn, aid).await? {
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
        if clock == Clock::Checked {
            check_timestamp(e.timestamp, now)?;
        }
        let before = team.clone();
        team.apply(e).map_err(|err| ApiError::bad("log.rejected", err.to_string()))?;
        apply_effects(txn, aid, e, &before, &team, uploads, &mut used, mail, now).await?;
        store_entry(txn, aid, e, now).await?;
    }
    if used.iter().any(|u| !u) {
        return Err(ApiError::bad("log.unannounced_seal", "every sealed key needs a key_sealed entry"));
    }
    let len = i64::try_from(team.head().seq + 1).unwrap_or(i64::MAX);
    let key_version = i32::try_from(team.key_version()).unwrap_or(i32::MAX);
    accounts::set_log_state(txn, aid, len, key_version, team.rotation_required(), team.second_factor_required())
        .await?;
    Ok((len, team))
}

#[allow(clippy::too_many_arguments)]
async fn apply_effects(
    txn: &Tx,
    account_id: &str,
    e: &LogEntry,
    before: &TeamState,
    after: &TeamState,
    uploads: &[Upload],
    used: &mut [bool],
    mail: &Templates,
    now: i64,
) -> Result<(), ApiError> {
    // A deprovisioned member gets nothing more from the log (no key, no role, no reset, no
    // vouch) until an admin's entry removes them.
    let subject = match &e.body {
        EntryBody::RoleChanged { user_id, .. } | EntryBody::Vouch { user_id, .. } => Some(user_id),
        EntryBody::KeySealed { recipient, .. } => Some(recipient),
        EntryBody::ResetAnnounced { new_identity, .. } => Some(&new_identity.user_id),
        _ => None,
    };
    if let Some(user_id) = subject
        && accounts::membership(txn, account_id, user_id)
            .await?
            .is_some_and(|m| m.status == MembershipStatus::Deprovisioned)
    {
        return Err(ApiError::bad(
            "member.deprovisioned",
            "this member was deprovisioned: remove them from the log (then rotate the key) first",
        ));
    }
    match &e.body {
        EntryBody::MemberAdded { member, role } => {
            accounts::membership(txn, account_id, &member.user_id)
                .await?
                .filter(|m| m.status == MembershipStatus::Accepted)
                .ok_or_else(|| {
                    ApiError::bad("member.not_accepted", "only a user who accepted an invitation can be added")
                })?;
            let (_, current) = user_identity(txn, &member.user_id).await?;
            if current != *member {
                return Err(ApiError::bad("member.key_mismatch", "the entry does not carry the user's current keys"));
            }
            let (role, status) = (Some(member_role(*role)), Some(MembershipStatus::Active));
            accounts::set_membership(txn, account_id, &member.user_id, role, status, now).await?;
        }
        EntryBody::RoleChanged { user_id, role } => {
            accounts::set_membership(txn, account_id, user_id, Some(member_role(*role)), None, now).await?;
        }
        EntryBody::MemberRemoved { user_id } => {
            accounts::remove_member(txn, account_id, user_id).await?;
        }
        EntryBody::WorkerGranted { worker: w, access } => {
            let row = workers::by_id(txn, &w.user_id)
                .await?
                .filter(|r| r.account_id == account_id && r.status == WorkerStatus::Pending)
                .ok_or_else(|| {
                    ApiError::bad("worker.not_registered", "register the worker's keys before granting it")
                })?;
            if row.public_keys != w.keys_to_bytes() {
                return Err(ApiError::bad("worker.key_mismatch", "the grant does not carry the registered keys"));
            }
            let access = match access {
                vouchsafe_crypto::log::WorkerAccess::Read => WorkerAccess::Read,
                vouchsafe_crypto::log::WorkerAccess::ReadWrite => WorkerAccess::ReadWrite,
            };
            workers::grant(txn, &row.id, access).await?;
        }
        EntryBody::InboxKey { inbox_version, public_key } => {
            let row = entity::inbox_key::Model {
                account_id: account_id.to_owned(),
                inbox_version: i32::try_from(*inbox_version).unwrap_or(i32::MAX),
                public_key: public_key.to_vec(),
                log_seq: i64::try_from(e.seq).unwrap_or(i64::MAX),
                created_at: now,
            };
            inbox::put_key(txn, row).await?;
        }
        EntryBody::WorkerRevoked { worker_id } => {
            workers::revoke(txn, worker_id).await?;
            accounts::drop_sealed_keys(txn, account_id, worker_id).await?;
        }
        EntryBody::ResetAnnounced { new_identity, .. } => {
            let status = Some(MembershipStatus::AwaitingVouch);
            accounts::set_membership(txn, account_id, &new_identity.user_id, None, status, now).await?;
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
            let row = sealed_key::Model {
                account_id: account_id.to_owned(),
                key_version: i32::try_from(*key_version).unwrap_or(i32::MAX),
                recipient_id: recipient.clone(),
                recipient_generation: i32::try_from(*generation).unwrap_or(i32::MAX),
                sealer_id: e.author.clone(),
                sealer_generation: i32::try_from(e.author_generation).unwrap_or(i32::MAX),
                blob: sealed.to_bytes(),
                log_seq: i64::try_from(e.seq).unwrap_or(i64::MAX),
                created_at: now,
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
            accounts::put_sealed_key(txn, row).await?;
        }
        _ => {}
    }
    Ok(())
}

/// A reseal after vouching: the membership is active again and the member is told by email —
/// unless the member answered "this was not me" to the reset.
async fn reactivate(txn: &Tx, account_id: &str, user_id: &str, mail: &Templates, now: i64) -> Result<(), ApiError> {
    let u = users::by_id(txn, user_id).await?.ok_or_else(not_found)?;
    if u.reset_vetoed_at.is_some() {
        return Err(ApiError::Forbidden {
            code: "reset.vetoed",
            message: "the member said the reset was not theirs; no reseal until they reset again".into(),
        });
    }
    accounts::set_membership(txn, account_id, user_id, None, Some(MembershipStatus::Active), now).await?;
    let a = accounts::by_id(txn, account_id).await?.ok_or_else(not_found)?;
    let msg = mail.message("access_restored", &[("account", &a.name)])?;
    crate::mail::enqueue(txn, &u.email, &format!("Your access to {} is restored", a.name), msg, now).await
}

/// The master keys sealed to the caller's current generation.
pub async fn my_keys(state: &AppState, account_id: &str, user_id: &str) -> Result<Vec<SealedKeyWire>, ApiError> {
    let m = active_member(&state.db, account_id, user_id).await?;
    if m.role != MemberRole::Worker
        && accounts::by_id(&state.db, account_id).await?.is_some_and(|a| a.second_factor_required)
        && !crate::store::mfa::has_any(&state.db, user_id).await?
    {
        return Err(crate::service::mfa::required_refusal());
    }
    let generation =
        if m.role == MemberRole::Worker { 1 } else { user_identity(&state.db, user_id).await?.1.generation };
    let generation = i32::try_from(generation).unwrap_or(i32::MAX);
    let rows = accounts::sealed_keys_for(&state.db, account_id, user_id, generation).await?;
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

/// The caller may manage the account's members: an active owner or admin, or an API token
/// (checked for the account and its scope by [`crate::service::tokens::resolve`]).
async fn may_manage<C: Conn>(db: &C, account_id: &str, actor: Actor<'_>) -> Result<(), ApiError> {
    match actor {
        Actor::Person(user_id) => active_admin(db, account_id, user_id).await.map(drop),
        Actor::Token(g) if g.account_id == account_id => Ok(()),
        Actor::Token(_) => Err(not_found()),
    }
}

/// Members and accepted invitees, with their current public keys (members; tokens with
/// `members:read`).
pub async fn members(state: &AppState, account_id: &str, actor: Actor<'_>) -> Result<Vec<MemberInfo>, ApiError> {
    let admin = match actor {
        Actor::Person(user_id) => {
            let m = active_member(&state.db, account_id, user_id).await?;
            Role::parse(m.role.as_str()).is_some_and(Role::is_admin)
        }
        Actor::Token(_) => {
            may_manage(&state.db, account_id, actor).await?;
            false
        }
    };
    let ms = accounts::members(&state.db, account_id).await?;
    let mut out = Vec::with_capacity(ms.len());
    for m in ms {
        let u = users::by_id(&state.db, &m.user_id).await?;
        if let Some(u) = u {
            let second_factor =
                if admin { Some(crate::store::mfa::has_any(&state.db, &m.user_id).await?) } else { None };
            out.push(MemberInfo {
                second_factor,
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
    for w in workers::of_account(&state.db, account_id, false).await? {
        out.push(MemberInfo {
            user_id: w.id,
            email: w.name,
            role: MemberRole::Worker.as_str().to_owned(),
            status: w.status.as_str().to_owned(),
            generation: 1,
            public_keys: b64::encode(&w.public_keys),
            second_factor: None,
        });
    }
    Ok(out)
}

/// Invites an email (admins): stores the token's hash and queues the email in one transaction.
pub async fn invite(
    state: &AppState,
    account_id: &str,
    actor: Actor<'_>,
    req: InviteRequest,
    now: i64,
) -> Result<InvitationInfo, ApiError> {
    may_manage(&state.db, account_id, actor).await?;
    let role = Role::parse(&req.role)
        .ok_or_else(|| ApiError::bad("invitation.invalid_role", "role must be owner, admin or member"))?;
    if role == Role::Owner {
        let owner = match actor {
            Actor::Person(user_id) => active_admin(&state.db, account_id, user_id).await?.role == MemberRole::Owner,
            Actor::Token(_) => false,
        };
        if !owner {
            return Err(forbidden("only owners invite owners (an API token never does)"));
        }
    }
    let email = normalize_email(&req.email)?;
    if let Some(u) = users::by_email(&state.db, &email).await?
        && accounts::membership(&state.db, account_id, &u.id).await?.is_some()
    {
        return Err(ApiError::conflict("invitation.already_member", "this person is already in the account"));
    }
    let a = accounts::by_id(&state.db, account_id).await?.ok_or_else(not_found)?;
    let (inviter, invited_by) = match actor {
        Actor::Person(user_id) => (user_identity(&state.db, user_id).await?.0.email, user_id.to_owned()),
        Actor::Token(g) => (format!("{} (an API token of the team)", g.name), g.id.clone()),
    };
    let (hash, expires, msg, subject) = invitation_mail(state, &inviter, &a.name, role.as_str(), now)?;
    let inv = invitation::Model {
        id: new_id()?,
        account_id: account_id.to_owned(),
        email: email.clone(),
        role: member_role(role),
        token_hash: hash.to_vec(),
        invited_by,
        status: InvitationStatus::Pending,
        accepted_by: None,
        created_at: now,
        expires_at: expires,
        accepted_at: None,
    };
    let row = inv.clone();
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            // Inviting an address again replaces its open invitation: one link works at a time.
            accounts::revoke_invitations_to(txn, &row.account_id, &email).await?;
            accounts::insert_invitation(txn, row).await?;
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
    let inv = accounts::invitation(&state.db, invitation_id)
        .await?
        .filter(|i| i.status == InvitationStatus::Pending)
        .ok_or_else(|| ApiError::not_found("invitation.not_found", "no such pending invitation"))?;
    let a = accounts::by_id(&state.db, &inv.account_id).await?.ok_or_else(not_found)?;
    let inviter = users::by_id(&state.db, &inv.invited_by).await?;
    let inviter = inviter.map_or_else(|| "A team admin".to_owned(), |u| u.email);
    let (hash, expires, msg, subject) = invitation_mail(state, &inviter, &a.name, inv.role.as_str(), now)?;
    let (id, email) = (inv.id.clone(), inv.email.clone());
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            if !accounts::reissue_invitation(txn, &id, hash, expires).await? {
                return Err(ApiError::not_found("invitation.not_found", "no such pending invitation"));
            }
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

/// Invitations of an account (admins; tokens with `invitations:write`).
pub async fn invitations(
    state: &AppState,
    account_id: &str,
    actor: Actor<'_>,
    now: i64,
) -> Result<Vec<InvitationInfo>, ApiError> {
    may_manage(&state.db, account_id, actor).await?;
    let rows = accounts::invitations(&state.db, account_id).await?;
    Ok(rows.into_iter().map(|i| to_invitation(i, now)).collect())
}

/// Revokes a pending invitation (admins; tokens with `invitations:write`).
pub async fn revoke_invitation(
    state: &AppState,
    account_id: &str,
    actor: Actor<'_>,
    invitation_id: &str,
) -> Result<(), ApiError> {
    may_manage(&state.db, account_id, actor).await?;
    if !accounts::revoke_invitation(&state.db, account_id, invitation_id).await? {
        return Err(ApiError::not_found("invitation.not_found", "no such pending invitation"));
    }
    Ok(())
}

/// Deprovisions a member (admins; tokens with `members:deprovision`): at once they read
/// nothing (their membership is no longer active) and hold no sealed key on the server, their
/// pending invitations to the account are revoked, the account is marked for rotation, and the
/// other admins are e-mailed. The log still names them: only an admin's client can sign their
/// removal, which it does before it rotates the key. The last active owner or admin cannot be
/// deprovisioned (nobody could rotate). Deprovisioning a deprovisioned member is a no-op.
pub async fn deprovision(
    state: &AppState,
    account_id: &str,
    actor: Actor<'_>,
    member_id: &str,
    now: i64,
) -> Result<(), ApiError> {
    may_manage(&state.db, account_id, actor).await?;
    let no_member = || ApiError::not_found("member.not_found", "no such member of this account");
    let target = accounts::membership(&state.db, account_id, member_id).await?.ok_or_else(no_member)?;
    if target.status == MembershipStatus::Deprovisioned {
        return Ok(());
    }
    let admins = accounts::admins(&state.db, account_id).await?;
    if admins.iter().all(|m| m.user_id == member_id) {
        return Err(ApiError::conflict(
            "member.last_admin",
            "this is the account's last active owner or admin: nobody else could rotate its key",
        ));
    }
    let a = accounts::by_id(&state.db, account_id).await?.ok_or_else(not_found)?;
    let member = users::by_id(&state.db, member_id).await?.ok_or_else(no_member)?;
    let by = match actor {
        Actor::Person(user_id) => user_identity(&state.db, user_id).await?.0.email,
        Actor::Token(g) => format!("the API token \"{}\"", g.name),
    };
    let mut notices = Vec::new();
    for m in admins.iter().filter(|m| m.user_id != member_id) {
        if let Some(u) = users::by_id(&state.db, &m.user_id).await? {
            let vars = [("member", member.email.as_str()), ("account", a.name.as_str()), ("by", by.as_str())];
            notices.push((u.email, state.templates.message("deprovisioned", &vars)?));
        }
    }
    let subject = format!("{} was deprovisioned from {}", member.email, a.name);
    let (aid, uid, email) = (account_id.to_owned(), member_id.to_owned(), member.email.clone());
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            accounts::set_membership(txn, &aid, &uid, None, Some(MembershipStatus::Deprovisioned), now).await?;
            accounts::drop_sealed_keys(txn, &aid, &uid).await?;
            accounts::revoke_invitations_to(txn, &aid, &email).await?;
            for (to, msg) in notices {
                crate::mail::enqueue(txn, &to, &subject, msg, now).await?;
            }
            Ok(())
        })
    })
    .await?;
    state.mail_wakeup.notify_one();
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
    let hash = hash_token(token);
    let (me, _) = user_identity(&state.db, user_id).await?;
    let uid = user_id.to_owned();
    crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            // Claim first (a write: SQLite's write lock before any read). A wrong user rolls the
            // claim back with the transaction.
            let inv = accounts::claim_invitation(txn, hash, &uid, now).await?.ok_or_else(invalid)?;
            if inv.email != me.email {
                return Err(ApiError::Forbidden {
                    code: "invitation.wrong_user",
                    message: "this invitation is for another email address; sign in as that user".into(),
                });
            }
            if accounts::membership(txn, &inv.account_id, &uid).await?.is_some() {
                return Err(ApiError::conflict("invitation.already_member", "you are already in this account"));
            }
            let row = membership::Model {
                account_id: inv.account_id.clone(),
                user_id: uid,
                role: inv.role,
                status: MembershipStatus::Accepted,
                created_at: now,
                updated_at: now,
            };
            accounts::insert_membership(txn, row).await?;
            // Any other open invitation of this address to this account is now moot.
            accounts::revoke_invitations_to(txn, &inv.account_id, &inv.email).await?;
            Ok(AcceptInvitationResponse { account_id: inv.account_id })
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Person, Test, TestState, account_request, code, signed_up};
    use vouchsafe_crypto::log::LogHead;

    /// An invitation of `email` to the account whose link token is returned, as `invite` would
    /// have e-mailed it.
    async fn invitation_for(t: &TestState, account_id: &str, by: &str, email: &str) -> Result<String, ApiError> {
        let (token, hash) = new_opaque_token()?;
        let row = invitation::Model {
            id: new_id()?,
            account_id: account_id.into(),
            email: email.into(),
            role: MemberRole::Member,
            token_hash: hash.to_vec(),
            invited_by: by.into(),
            status: InvitationStatus::Pending,
            accepted_by: None,
            created_at: t.now(),
            expires_at: t.now() + 3600,
            accepted_at: None,
        };
        accounts::insert_invitation(&t.state.db, row).await?;
        Ok(token.to_string())
    }

    #[actix_web::test]
    async fn an_account_starts_from_a_genesis_naming_its_caller() -> Test {
        let t = TestState::new().await?;
        let (ann, _) = signed_up(&t, "ann@example.com").await?;
        let (bob, _) = signed_up(&t, "bob@example.com").await?;
        let (for_bob, _) = account_request(&ann, &bob, t.now())?;
        assert_eq!(code(create(&t.state, &ann.user_id, for_bob, t.now()).await), "log.rejected");
        let (req, _) = account_request(&ann, &ann, t.now() - MAX_CLOCK_SKEW_SECS - 1)?;
        assert_eq!(code(create(&t.state, &ann.user_id, req, t.now()).await), "log.stale_timestamp");
        let (req, _) = account_request(&ann, &ann, t.now())?;
        let info = create(&t.state, &ann.user_id, req.clone(), t.now()).await?;
        assert_eq!((info.name.as_str(), info.role.as_str(), info.log_len), ("Support", "owner", 1));
        assert_eq!(code(create(&t.state, &ann.user_id, req.clone(), t.now()).await), "account.exists");
        // A stranger sees nothing: the same 404 as for an account that does not exist.
        assert_eq!(code(info_of(&t, &req.account_id, &bob.user_id).await), "account.not_found");
        assert_eq!(code(info_of(&t, "no-such-account-0000", &bob.user_id).await), "account.not_found");
        assert_eq!(my_keys(&t.state, &req.account_id, &ann.user_id).await?.len(), 1);
        Ok(())
    }

    async fn info_of(t: &TestState, account_id: &str, user_id: &str) -> Result<AccountInfo, ApiError> {
        info(&t.state, account_id, user_id).await
    }

    #[actix_web::test]
    async fn an_invitation_is_for_its_address_and_used_once() -> Test {
        let t = TestState::new().await?;
        let (ann, _) = signed_up(&t, "ann@example.com").await?;
        let (bob, _) = signed_up(&t, "bob@example.com").await?;
        let (eve, _) = signed_up(&t, "eve@example.com").await?;
        let (req, _) = account_request(&ann, &ann, t.now())?;
        let account_id = req.account_id.to_string();
        create(&t.state, &ann.user_id, req, t.now()).await?;
        let token = invitation_for(&t, &account_id, &ann.user_id, &bob.email).await?;
        // Someone else holding the link is refused, and the refusal does not use it up.
        assert_eq!(code(accept(&t.state, &eve.user_id, &token, t.now()).await), "invitation.wrong_user");
        assert_eq!(accept(&t.state, &bob.user_id, &token, t.now()).await?.account_id, account_id);
        assert_eq!(code(accept(&t.state, &bob.user_id, &token, t.now()).await), "invitation.invalid");
        // Accepted is not active: no keys, no members list, until an admin confirms.
        assert_eq!(membership_of(&t.state.db, &account_id, &bob.user_id).await?.status, MembershipStatus::Accepted);
        assert_eq!(code(members(&t.state, &account_id, Actor::Person(&bob.user_id)).await), "account.forbidden");
        assert_eq!(code(my_keys(&t.state, &account_id, &bob.user_id).await), "account.forbidden");
        // An expired link is refused like a used one.
        let late = invitation_for(&t, &account_id, &ann.user_id, &eve.email).await?;
        t.clock.advance(3600);
        assert_eq!(code(accept(&t.state, &eve.user_id, &late, t.now()).await), "invitation.invalid");
        Ok(())
    }

    #[actix_web::test]
    async fn only_admins_invite_and_revoke_and_a_revoked_link_is_dead() -> Test {
        let t = TestState::new().await?;
        let (ann, _) = signed_up(&t, "ann@example.com").await?;
        let (bob, _) = signed_up(&t, "bob@example.com").await?;
        let (req, _) = account_request(&ann, &ann, t.now())?;
        let account_id = req.account_id.to_string();
        create(&t.state, &ann.user_id, req, t.now()).await?;
        let invite_req = |email: &str, role: &str| InviteRequest { email: email.into(), role: role.into() };
        assert_eq!(
            code(
                invite(
                    &t.state,
                    &account_id,
                    Actor::Person(&bob.user_id),
                    invite_req("x@example.com", "member"),
                    t.now()
                )
                .await
            ),
            "account.not_found"
        );
        assert_eq!(
            code(
                invite(
                    &t.state,
                    &account_id,
                    Actor::Person(&ann.user_id),
                    invite_req("ann@example.com", "member"),
                    t.now()
                )
                .await
            ),
            "invitation.already_member"
        );
        assert_eq!(
            code(
                invite(
                    &t.state,
                    &account_id,
                    Actor::Person(&ann.user_id),
                    invite_req("x@example.com", "worker"),
                    t.now()
                )
                .await
            ),
            "invitation.invalid_role"
        );
        let inv =
            invite(&t.state, &account_id, Actor::Person(&ann.user_id), invite_req("Bob@Example.com", "admin"), t.now())
                .await?;
        assert_eq!((inv.email.as_str(), inv.status.as_str()), ("bob@example.com", "pending"));
        revoke_invitation(&t.state, &account_id, Actor::Person(&ann.user_id), &inv.id).await?;
        assert_eq!(
            code(revoke_invitation(&t.state, &account_id, Actor::Person(&ann.user_id), &inv.id).await),
            "invitation.not_found"
        );
        let listed = invitations(&t.state, &account_id, Actor::Person(&ann.user_id), t.now()).await?;
        assert_eq!(listed.iter().map(|i| i.status.as_str()).collect::<Vec<_>>(), ["revoked"]);
        Ok(())
    }

    #[actix_web::test]
    async fn appends_extend_the_verified_head_and_apply_their_effects() -> Test {
        let t = TestState::new().await?;
        let (ann, _) = signed_up(&t, "ann@example.com").await?;
        let (bob, _) = signed_up(&t, "bob@example.com").await?;
        let (req, genesis) = account_request(&ann, &ann, t.now())?;
        let account_id = req.account_id.to_string();
        create(&t.state, &ann.user_id, req, t.now()).await?;
        let head = LogHead { seq: 0, hash: genesis.hash() };
        let ts = u64::try_from(t.now())?;
        let add = |who: &Person| {
            LogEntry::create(
                &account_id,
                Some(head),
                &ann.keyring,
                ts,
                EntryBody::MemberAdded { member: who.keyring.public(), role: Role::Member },
            )
        };
        let append_req = |e: &LogEntry| AppendRequest {
            entries: vec![b64::encode(&e.to_bytes())],
            sealed_keys: vec![],
            inbox_wraps: vec![],
        };
        // Bob has not accepted an invitation: he cannot be added.
        let entry = add(&bob)?;
        assert_eq!(
            code(append(&t.state, &account_id, &ann.user_id, append_req(&entry), t.now()).await),
            "member.not_accepted"
        );
        let token = invitation_for(&t, &account_id, &ann.user_id, &bob.email).await?;
        accept(&t.state, &bob.user_id, &token, t.now()).await?;
        // Entries must be the caller's: Bob cannot append what Ann signed.
        assert_eq!(
            code(append(&t.state, &account_id, &bob.user_id, append_req(&entry), t.now()).await),
            "log.rejected"
        );
        let len = append(&t.state, &account_id, &ann.user_id, append_req(&entry), t.now()).await?.log_len;
        assert_eq!(len, 2);
        assert_eq!(membership_of(&t.state.db, &account_id, &bob.user_id).await?.status, MembershipStatus::Active);
        // The same position again: the log has moved on.
        let again = add(&bob)?;
        assert_eq!(
            code(append(&t.state, &account_id, &ann.user_id, append_req(&again), t.now()).await),
            "log.conflict"
        );
        let page = read_log(&t.state, &account_id, &bob.user_id, Some(0), 10).await?;
        assert_eq!((page.entries.len(), page.log_len), (1, 2));
        Ok(())
    }
}
