//! Proposals (PROTOCOL.md §5.4): an entry that needs more admin signatures than its author
//! holds — a policy change or a worker grant under `admin_approvals ≥ 2` — is stored as its
//! author signed it; other admins co-sign it from their own machines (each signature over the
//! exact unsigned entry, so nothing can be changed once the first is made); the co-signature
//! that completes it appends it, in the same transaction. A proposal is tied to the head it
//! extends: if the log moves on first, it is superseded and must be proposed again.

use vouchsafe_client::types::{CosignRequest, CreateProposalRequest, ProposalInfo};
use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::PublicIdentity;
use vouchsafe_crypto::log::{CoSignature, LogEntry};

use crate::error::ApiError;
use crate::service::accounts::{
    Clock, active_admin, append_in, check_timestamp, decode_entry, load_state, membership_of,
};
use crate::state::AppState;
use crate::store::{accounts, proposals, users};
use entity::log_proposal;
use entity::values::ProposalStatus;

/// How long a proposal stays open unless its author says otherwise.
pub const DEFAULT_TTL_SECS: u64 = 7 * 86_400;
/// The longest and shortest a proposal may stay open.
pub const MAX_TTL_SECS: u64 = 30 * 86_400;
pub const MIN_TTL_SECS: u64 = 60;

fn not_found() -> ApiError {
    ApiError::not_found("proposal.not_found", "no such proposal")
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad(code, message)
}

fn stored_entry(p: &log_proposal::Model) -> Result<LogEntry, ApiError> {
    LogEntry::from_bytes(&p.entry).map_err(|e| ApiError::Internal(format!("stored proposal: {e}")))
}

/// The answer for a stored proposal; `log_len` tells a superseded one.
fn info(p: &log_proposal::Model, log_len: i64, now: i64) -> Result<ProposalInfo, ApiError> {
    let e = stored_entry(p)?;
    let status = match p.status {
        ProposalStatus::Open if p.expires_at <= now => "expired",
        ProposalStatus::Open if p.seq != log_len => "superseded",
        s => s.as_str(),
    };
    Ok(ProposalInfo {
        id: p.id.parse().map_err(|_| ApiError::Internal("stored proposal id".into()))?,
        author: p.author.clone(),
        seq: u64::try_from(p.seq).unwrap_or(0),
        kind: p.kind.clone(),
        entry: b64::encode(&p.entry),
        status: status.to_owned(),
        signatures: u32::try_from(1 + e.cosignatures.len()).unwrap_or(u32::MAX),
        needed: u32::try_from(p.needed).unwrap_or(0),
        created_at: p.created_at,
        expires_at: p.expires_at,
    })
}

async fn log_len(state: &AppState, account_id: &str) -> Result<i64, ApiError> {
    Ok(accounts::by_id(&state.db, account_id).await?.map_or(0, |a| a.log_len))
}

/// Stores a proposal its author (an admin) signed.
pub async fn create(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    req: CreateProposalRequest,
    now: i64,
) -> Result<ProposalInfo, ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    let ttl = req.expires_in_secs.unwrap_or(DEFAULT_TTL_SECS);
    if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&ttl) {
        return Err(bad("proposal.invalid_expiry", "expires_in_secs must be 60 to 2592000 (30 days)"));
    }
    let e = decode_entry(&req.entry)?;
    if e.account_id != account_id {
        return Err(bad("proposal.wrong_account", "the entry names another account"));
    }
    if e.author != user_id {
        return Err(bad("proposal.not_yours", "propose entries you authored"));
    }
    check_timestamp(e.timestamp, now)?;
    let (aid, id) = (account_id.to_owned(), req.proposal_id.to_string());
    let ttl = i64::try_from(ttl).unwrap_or(i64::MAX);
    let row = crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            let team = load_state(txn, &aid).await?;
            if e.seq != team.head().seq + 1 {
                return Err(ApiError::conflict("log.conflict", "the log has moved on; re-read it and propose again"));
            }
            let approvals = team.check_proposal(&e).map_err(|err| bad("proposal.rejected", err.to_string()))?;
            if approvals.complete() {
                return Err(bad("proposal.complete", "the entry has the signatures it needs: append it"));
            }
            let row = log_proposal::Model {
                id,
                account_id: aid,
                author: e.author.clone(),
                seq: i64::try_from(e.seq).unwrap_or(i64::MAX),
                kind: e.body.kind_name().to_owned(),
                entry: e.to_bytes(),
                needed: i32::try_from(approvals.needed).unwrap_or(i32::MAX),
                status: ProposalStatus::Open,
                created_at: now,
                expires_at: now.saturating_add(ttl),
                decided_at: None,
            };
            if !proposals::insert(txn, row.clone()).await? {
                return Err(ApiError::conflict("proposal.exists", "a proposal with this id exists"));
            }
            Ok(row)
        })
    })
    .await?;
    info(&row, row.seq, now)
}

/// The account's open proposals (members may read them; the log will show what is applied).
pub async fn list(state: &AppState, account_id: &str, user_id: &str, now: i64) -> Result<Vec<ProposalInfo>, ApiError> {
    membership_of(&state.db, account_id, user_id).await?;
    let len = log_len(state, account_id).await?;
    proposals::open(&state.db, account_id, now).await?.iter().map(|p| info(p, len, now)).collect()
}

/// One proposal, whatever its status.
pub async fn get(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    proposal_id: &str,
    now: i64,
) -> Result<ProposalInfo, ApiError> {
    membership_of(&state.db, account_id, user_id).await?;
    let p = proposals::by_id(&state.db, account_id, proposal_id).await?.ok_or_else(not_found)?;
    info(&p, log_len(state, account_id).await?, now)
}

/// Adds the caller's co-signature; the one that completes the proposal appends it.
pub async fn cosign(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    proposal_id: &str,
    req: &CosignRequest,
    now: i64,
) -> Result<ProposalInfo, ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    let signature = b64::decode_array::<64>(&req.signature)
        .map_err(|e| bad("proposal.malformed_signature", format!("signature: {e}")))?;
    let keys = match users::by_id(&state.db, user_id).await? {
        Some(u) => PublicIdentity::keys_from_bytes(&u.id, &u.public_keys)
            .map_err(|e| ApiError::Internal(format!("stored keys: {e}")))?,
        None => return Err(ApiError::unauthorized("auth.invalid_token", "user no longer exists")),
    };
    let generation = req.generation;
    let (aid, pid, uid, templates) =
        (account_id.to_owned(), proposal_id.to_owned(), user_id.to_owned(), state.templates.clone());
    let row = crate::store::transaction(&state.db, move |txn| {
        Box::pin(async move {
            let p = proposals::by_id(txn, &aid, &pid).await?.ok_or_else(not_found)?;
            if p.status != ProposalStatus::Open {
                return Err(ApiError::conflict("proposal.closed", format!("the proposal was {}", p.status)));
            }
            if p.expires_at <= now {
                return Err(ApiError::conflict("proposal.expired", "the proposal expired: propose it again"));
            }
            if !accounts::lock_for_append(txn, &aid).await? {
                return Err(not_found());
            }
            let team = load_state(txn, &aid).await?;
            if u64::try_from(p.seq).ok() != Some(team.head().seq + 1) {
                return Err(ApiError::conflict(
                    "proposal.superseded",
                    "the log moved on since this was proposed: propose it again",
                ));
            }
            let mut e = stored_entry(&p)?;
            if e.author == uid || e.cosignatures.iter().any(|c| c.user_id == uid) {
                return Err(ApiError::conflict("proposal.already_signed", "you signed this proposal already"));
            }
            if generation != keys.generation || keys.verify(&e.signing_input(), &signature).is_err() {
                return Err(bad(
                    "proposal.bad_signature",
                    "the co-signature does not verify over this proposal with your current keys",
                ));
            }
            e.cosignatures.push(CoSignature { user_id: uid.clone(), generation, signature });
            let approvals = team.check_proposal(&e).map_err(|err| bad("proposal.rejected", err.to_string()))?;
            let bytes = e.to_bytes();
            if !proposals::set_entry(txn, &pid, &p.entry, bytes.clone()).await? {
                return Err(ApiError::conflict("proposal.conflict", "another co-signature came first; retry"));
            }
            let mut row = log_proposal::Model { entry: bytes, ..p };
            if approvals.complete() {
                append_in(txn, &aid, &uid, &[e], &[], &templates, now, Clock::AtProposal).await?;
                proposals::close(txn, &pid, ProposalStatus::Applied, now).await?;
                row.status = ProposalStatus::Applied;
                row.decided_at = Some(now);
            }
            Ok(row)
        })
    })
    .await?;
    state.mail_wakeup.notify_one();
    let len = log_len(state, account_id).await?;
    info(&row, if row.status == ProposalStatus::Applied { row.seq } else { len }, now)
}

/// Withdraws an open proposal (its author or any admin).
pub async fn withdraw(
    state: &AppState,
    account_id: &str,
    user_id: &str,
    proposal_id: &str,
    now: i64,
) -> Result<(), ApiError> {
    active_admin(&state.db, account_id, user_id).await?;
    proposals::by_id(&state.db, account_id, proposal_id).await?.ok_or_else(not_found)?;
    if !proposals::close(&state.db, proposal_id, ProposalStatus::Withdrawn, now).await? {
        return Err(ApiError::conflict("proposal.closed", "the proposal is no longer open"));
    }
    Ok(())
}
