//! The team vault from a member's side: accounts, the verified team log, master keys, invitations,
//! confirmation, removal and rotation, and encrypted items.
//!
//! Every operation that trusts a key first replays and verifies the account's whole log and
//! checks it extends the head this client verified before (fork detection). The client refuses
//! to seal to a key the verified log does not endorse, or whose verification code does not match
//! what the person read out.

use std::collections::{BTreeMap, HashMap};

use vouchsafe_crypto::b64;
use vouchsafe_crypto::field::{FIELD_FORMAT_V2, FieldKey, ItemBinding, blob_format, blob_key_version};
use vouchsafe_crypto::identity::{Keyring, PublicIdentity, VerificationCode};
use vouchsafe_crypto::inbox::{InboxKey, InboxSecret, Record};
use vouchsafe_crypto::log::{
    EntryBody, LogEntry, LogHead, MemberStatus, PendingReset as PendingResetState, Policy, Role, TeamState,
};
use vouchsafe_crypto::seal::{MasterKey, Sealed, open_master_key, seal_master_key};
use vouchsafe_crypto::witness::{Checkpoint, HistoryCode, MAX_CHECKPOINT_LEN, Witness};
use zeroize::Zeroizing;

use crate::flows::Session;
use crate::types::*;
use crate::{Client, ClientError};

/// A decrypted item.
#[derive(Debug)]
pub struct Item {
    /// Id.
    pub id: String,
    /// Revision (send it back to update).
    pub revision: u64,
    /// Key version it is encrypted under.
    pub key_version: u32,
    /// Field name → plaintext value (zeroized on drop).
    pub fields: BTreeMap<String, Zeroizing<Vec<u8>>>,
    /// Written in the legacy (v1) field format, which binds neither the revision nor the set of
    /// field names: a server could have dropped a field or mixed revisions. `vouchsafe item
    /// upgrade` (or the next rotation) rewrites it in the bound format.
    pub legacy: bool,
    /// When it was created and last written (Unix seconds, as the server reports them: for
    /// sorting only, never for a decision).
    pub created_at: i64,
    /// See `created_at`.
    pub updated_at: i64,
}

/// What [`Vault::import_inbox`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InboxImport {
    /// The items made, one per filed deposit.
    pub items: Vec<String>,
    /// Deposits left in the inbox: (provider id, deposit id, why).
    pub left: Vec<(String, String, String)>,
}

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// The key version now current.
    pub key_version: u32,
    /// Whether this call made the new key version (false: resumed an earlier rotation).
    pub new_version: bool,
    /// Items re-encrypted by this call.
    pub items_reencrypted: u64,
    /// Members this call removed from the log because a provisioning client deprovisioned them
    /// (user ids; see [`Vault::remove_deprovisioned`]).
    pub removed: Vec<String>,
}

fn refused(msg: impl Into<String>) -> ClientError {
    ClientError::Protocol(format!("refused: {}", msg.into()))
}

/// Encrypts each field value under `fk`, bound to the item, the field name, the revision the
/// item will have once written, and the whole set of field names.
fn encrypt_fields<V: AsRef<[u8]>>(
    fk: &FieldKey,
    item_id: &str,
    revision: u64,
    fields: &BTreeMap<String, V>,
) -> Result<BTreeMap<String, String>, ClientError> {
    let mut rng = vouchsafe_crypto::os_rng();
    let binding = ItemBinding::new(revision, fields.keys().map(String::as_str));
    fields
        .iter()
        .map(|(name, value)| {
            Ok((name.clone(), b64::encode(&fk.seal_field(item_id, name, value.as_ref(), &binding, &mut rng)?)))
        })
        .collect()
}

/// What the verified log says of a row the server lists (members, workers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogView {
    /// The log endorses this member or worker; `code` is the verification code of the keys it
    /// endorses (never the keys the server reports).
    InLog {
        /// Role (members) or access (workers) as the log states it.
        role: String,
        /// `active` or `awaiting_vouch` (members), `active` (workers).
        status: String,
        /// Verification code of the endorsed keys.
        code: String,
    },
    /// An invitee who accepted and waits for an admin to confirm them: the code is of the keys
    /// the *server* reports; compare it with the person before confirming.
    AwaitingConfirmation {
        /// Code of the reported keys.
        code: String,
    },
    /// A row the server lists but the verified log does not endorse (a ghost, or a removed
    /// member the server still lists): no key goes to it.
    NotInLog,
}

/// A member or worker as listed by the server and judged by the verified log.
#[derive(Debug, Clone)]
pub struct ListedPrincipal {
    /// Id.
    pub id: String,
    /// Email (members) or name (workers), as the server says: not something the log can confirm.
    pub label: String,
    /// What the log says.
    pub view: LogView,
}

/// The pending reset of a member the verified state shows awaiting vouches.
fn awaiting<'s>(state: &'s TeamState, user_id: &str) -> Result<&'s PendingResetState, ClientError> {
    match state.member(user_id) {
        Some(vouchsafe_crypto::log::Member { status: MemberStatus::AwaitingVouch(p), .. }) => Ok(p),
        _ => Err(refused("the member is not awaiting vouches")),
    }
}

fn now() -> u64 {
    crate::transport::unix_now()
}

/// A signed-in member with their keys.
pub struct Vault {
    /// The API client (signed in).
    pub client: Client,
    /// The member's keys.
    pub keyring: Keyring,
    checkpoints: HashMap<String, LogHead>,
    keys: HashMap<(String, u32), FieldKey>,
    masters: HashMap<(String, u32), MasterKey>,
    time: Option<std::sync::Arc<dyn Fn() -> u64 + Send + Sync>>,
    /// Highest revision seen per (account, item): an older one served later is a replay.
    seen: HashMap<(String, String), u64>,
    /// Accounts whose log this client verified without any earlier checkpoint.
    first_views: std::collections::BTreeSet<String>,
    /// Accounts in which another member's signed checkpoint contradicts our verified chain.
    forks: HashMap<String, Fork>,
    /// What the last sync of each account learned from the other members' checkpoints.
    witnesses: HashMap<String, WitnessReport>,
    /// A member's checkpoint older than this (seconds) while they are active is reported.
    checkpoint_max_age: u64,
    /// Teams verified with the admin who added us; teams whose codes did not match; teams
    /// synced but not (yet) verified.
    verified_teams: std::collections::BTreeSet<String>,
    rejected_teams: std::collections::BTreeSet<String>,
    unverified: std::collections::BTreeSet<String>,
}

/// What the admin who added a member reads out, and what the member's client computes from its
/// own verified log: the two must match ([`Vault::verify_team`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introduction {
    /// The account.
    pub account_id: String,
    /// The admin who signed the member's `member_added` entry.
    pub admin_id: String,
    /// That admin's verification code (their keys, as the log endorses them).
    pub admin_code: VerificationCode,
    /// The team history code at the `member_added` entry.
    pub history_code: HistoryCode,
    /// The position of the `member_added` entry.
    pub seq: u64,
}

/// [`Vault::introduction`] over a verified log.
pub fn introduction_in(
    account_id: &str,
    user_id: &str,
    entries: &[LogEntry],
    state: &TeamState,
) -> Result<Introduction, ClientError> {
    let added = entries
        .iter()
        .rev()
        .find(|e| matches!(&e.body, EntryBody::MemberAdded { member, .. } if member.user_id == user_id))
        .ok_or_else(|| refused("the log does not show this member being added (not confirmed yet?)"))?;
    let admin = state
        .identity(&added.author, added.author_generation)
        .ok_or_else(|| refused("the log does not know the key that added this member"))?;
    let head = LogHead { seq: added.seq, hash: added.hash() };
    Ok(Introduction {
        account_id: account_id.to_owned(),
        admin_id: added.author.clone(),
        admin_code: admin.verification_code(),
        history_code: HistoryCode::of(account_id, head),
        seq: head.seq,
    })
}

/// Default for [`Vault::set_checkpoint_max_age`]: a week.
pub const DEFAULT_CHECKPOINT_MAX_AGE: u64 = 7 * 86_400;
/// A client re-signs its checkpoint when the one the server holds is older than this, even if
/// the head has not moved (so an active member's checkpoint never looks stale).
pub const CHECKPOINT_REFRESH: u64 = 86_400;

/// Two members' heads that lie on no one chain: the server showed them different histories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fork {
    /// The account.
    pub account_id: String,
    /// The member whose signed checkpoint contradicts ours.
    pub witness: String,
    /// Their head (position and hash).
    pub theirs: LogHead,
    /// Our entry's hash at their position.
    pub ours: LogHead,
}

impl Fork {
    /// What to tell the person.
    pub fn message(&self) -> String {
        format!(
            "the server is showing members different histories: {} verified entry {} as {}, this device verified it as {}; \
             this account is frozen here (no sealing, writing or vouching) until an admin investigates",
            self.witness,
            self.theirs.seq,
            hex(&self.theirs.hash),
            hex(&self.ours.hash),
        )
    }
}

/// A [`Fork`] as clients keep it on disk or in browser storage (hashes in base64url).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForkRecord {
    /// The member whose checkpoint it was.
    pub witness: String,
    /// The position both heads claim.
    pub seq: u64,
    /// Their hash there.
    pub theirs: String,
    /// Ours.
    pub ours: String,
}

impl Fork {
    /// The record to keep.
    pub fn record(&self) -> ForkRecord {
        ForkRecord {
            witness: self.witness.clone(),
            seq: self.theirs.seq,
            theirs: b64::encode(&self.theirs.hash),
            ours: b64::encode(&self.ours.hash),
        }
    }

    /// Back from a kept record (an unreadable hash still freezes the account).
    pub fn from_record(account_id: &str, r: &ForkRecord) -> Self {
        let hash = |s: &str| b64::decode_array::<32>(s).unwrap_or_default();
        Self {
            account_id: account_id.to_owned(),
            witness: r.witness.clone(),
            theirs: LogHead { seq: r.seq, hash: hash(&r.theirs) },
            ours: LogHead { seq: r.seq, hash: hash(&r.ours) },
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().take(8).map(|x| format!("{x:02x}")).collect()
}

/// A member who has not confirmed the history lately although active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleWitness {
    /// The member.
    pub user_id: String,
    /// When they last signed a checkpoint this client could verify (`None`: never).
    pub confirmed_at: Option<u64>,
    /// Whole days since then (`None`: never).
    pub days: Option<u64>,
}

impl StaleWitness {
    /// "Bob has not confirmed the history for 9 days", with the member's label.
    pub fn message(&self, label: &str) -> String {
        match self.days {
            Some(d) => format!("{label} has not confirmed the history for {d} days"),
            None => format!("{label} has never confirmed the history"),
        }
    }
}

/// What one sync learned from the other members' checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessReport {
    /// Members whose checkpoints lie on our chain, and the position each confirmed.
    pub confirmed: BTreeMap<String, u64>,
    /// Active members whose confirmation is missing or older than the configured age.
    pub stale: Vec<StaleWitness>,
    /// Whether the server took this client's own checkpoint (if one was due).
    pub published: bool,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("user_id", &self.keyring.user_id()).finish_non_exhaustive()
    }
}

impl Vault {
    /// From a signed-in session.
    pub fn new(client: Client, session: Session) -> Self {
        Self::from_keyring(client, session.keyring)
    }

    /// From a signed-in client and an unlocked keyring.
    pub fn from_keyring(client: Client, keyring: Keyring) -> Self {
        Self {
            client,
            keyring,
            checkpoints: HashMap::new(),
            keys: HashMap::new(),
            masters: HashMap::new(),
            time: None,
            seen: HashMap::new(),
            first_views: Default::default(),
            forks: HashMap::new(),
            witnesses: HashMap::new(),
            checkpoint_max_age: DEFAULT_CHECKPOINT_MAX_AGE,
            verified_teams: Default::default(),
            rejected_teams: Default::default(),
            unverified: Default::default(),
        }
    }

    /// How old (seconds) an active member's last confirmation may get before it is reported
    /// (default [`DEFAULT_CHECKPOINT_MAX_AGE`]).
    pub fn set_checkpoint_max_age(&mut self, secs: u64) {
        self.checkpoint_max_age = secs.max(1);
    }

    /// Accounts frozen because a member's checkpoint contradicts our chain (persist them: a
    /// fork is evidence, and a later honest-looking view does not undo it).
    pub fn forks(&self) -> &HashMap<String, Fork> {
        &self.forks
    }

    /// Restores a fork recorded earlier.
    pub fn set_fork(&mut self, fork: Fork) {
        self.forks.insert(fork.account_id.clone(), fork);
    }

    /// What the last sync of `account_id` learned from the other members' checkpoints.
    pub fn witness_report(&self, account_id: &str) -> Option<&WitnessReport> {
        self.witnesses.get(account_id)
    }

    /// Every account's last [`WitnessReport`].
    pub fn witness_reports(&self) -> &HashMap<String, WitnessReport> {
        &self.witnesses
    }

    /// The team history code of the head this client verified last (compare it with the
    /// other person's during a confirm or a vouch).
    pub fn history_code(&self, account_id: &str) -> Option<HistoryCode> {
        self.checkpoints.get(account_id).map(|h| HistoryCode::of(account_id, *h))
    }

    /// Uses another clock for log timestamps (tests drive waiting periods with it).
    pub fn set_time_source(&mut self, f: std::sync::Arc<dyn Fn() -> u64 + Send + Sync>) {
        self.time = Some(f);
    }

    fn now(&self) -> u64 {
        self.time.as_ref().map_or_else(now, |f| f())
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        self.keyring.user_id()
    }

    /// Log heads this client verified, per account (persist them to detect forks across runs).
    pub fn checkpoints(&self) -> &HashMap<String, LogHead> {
        &self.checkpoints
    }

    /// Restores a checkpoint saved earlier.
    pub fn set_checkpoint(&mut self, account_id: &str, head: LogHead) {
        self.checkpoints.insert(account_id.to_owned(), head);
    }

    /// Accounts whose history this client saw for the first time (no checkpoint to compare
    /// with): tell the person, since that first view is taken on trust.
    pub fn first_views(&self) -> &std::collections::BTreeSet<String> {
        &self.first_views
    }

    /// Highest item revisions seen (persist them to catch a revision replay across runs).
    pub fn seen_revisions(&self) -> &HashMap<(String, String), u64> {
        &self.seen
    }

    /// Restores an item revision seen earlier.
    pub fn set_seen_revision(&mut self, account_id: &str, item_id: &str, revision: u64) {
        let e = self.seen.entry((account_id.to_owned(), item_id.to_owned())).or_insert(0);
        *e = (*e).max(revision);
    }

    /// Creates an account: master key v1 sealed to ourselves, genesis entry.
    pub fn create_account(&mut self, name: &str) -> Result<AccountInfo, ClientError> {
        let mut rng = vouchsafe_crypto::os_rng();
        let account_id = Id::random();
        let mk = MasterKey::generate(1, &mut rng)?;
        let genesis = LogEntry::create(
            &account_id,
            None,
            &self.keyring,
            self.now(),
            EntryBody::Genesis { creator: self.keyring.public(), policy: Default::default() },
        )?;
        let sealed = seal_master_key(&mk, &account_id, &self.keyring.public(), &self.keyring, &mut rng)?;
        let info = self.client.create_account(&CreateAccountRequest {
            account_id: account_id.clone(),
            name: name.into(),
            genesis: b64::encode(&genesis.to_bytes()),
            sealed_key: b64::encode(&sealed.to_bytes()),
        })?;
        self.checkpoints.insert(account_id.to_string(), LogHead { seq: 0, hash: genesis.hash() });
        self.masters.insert((account_id.into(), 1), mk);
        Ok(info)
    }

    /// Fetches, verifies and replays the whole log; checks it extends our last checkpoint, and
    /// that every other member's signed checkpoint lies on it ([`Self::witness_report`]).
    /// Refused for good in an account where a checkpoint showed a fork ([`Self::forks`]).
    pub fn verified_log(&mut self, account_id: &str) -> Result<(Vec<LogEntry>, TeamState), ClientError> {
        if let Some(f) = self.forks.get(account_id) {
            return Err(refused(f.message()));
        }
        if self.rejected_teams.contains(account_id) {
            return Err(refused(
                "the codes the admin read out did not match the team this server showed you: this account is \
                 frozen on this device",
            ));
        }
        let checkpoint = self.checkpoints.get(account_id).copied();
        let (mut entries, mut state) = fetch_verified_log(&self.client, account_id, checkpoint)?;
        if checkpoint.is_none() {
            self.first_views.insert(account_id.to_owned());
        }
        let created_here = entries.first().is_some_and(|g| g.author == self.keyring.user_id());
        if !created_here && !self.verified_teams.contains(account_id) {
            self.unverified.insert(account_id.to_owned());
        }
        self.checkpoints.insert(account_id.to_owned(), state.head());
        let listed = self.client.checkpoints(account_id)?;
        let mut judged = self.judge_checkpoints(account_id, &state, &entries, &listed);
        if judged.ahead.is_some() {
            // Someone verified more than we were served: maybe it was appended since we read.
            let (e, s) = fetch_verified_log(&self.client, account_id, Some(state.head()))?;
            (entries, state) = (e, s);
            self.checkpoints.insert(account_id.to_owned(), state.head());
            judged = self.judge_checkpoints(account_id, &state, &entries, &listed);
        }
        judged.report.published = self.publish_checkpoint(account_id, state.head(), judged.own.as_ref());
        self.witnesses.insert(account_id.to_owned(), judged.report);
        if let Some(f) = judged.fork {
            let msg = f.message();
            self.forks.insert(account_id.to_owned(), f);
            return Err(refused(msg));
        }
        if let Some((who, head)) = judged.ahead {
            return Err(refused(format!(
                "the server withholds log entries that {who} verified (their head is entry {}, this device was served \
                 up to entry {}): it may be showing members different histories",
                head.seq,
                state.head().seq
            )));
        }
        Ok((entries, state))
    }

    /// Checks the listed checkpoints against our verified chain.
    fn judge_checkpoints(
        &self,
        account_id: &str,
        state: &TeamState,
        entries: &[LogEntry],
        listed: &[CheckpointWire],
    ) -> Judged {
        let me = self.keyring.user_id();
        let now = self.now();
        let mut out = Judged::default();
        // Each author's newest entry, in one pass (the log is in order).
        let mut authored: HashMap<&str, u64> = HashMap::new();
        for e in entries {
            authored.insert(e.author.as_str(), e.timestamp);
        }
        for w in listed {
            let user = w.user_id.as_str();
            let cp = w
                .checkpoint
                .as_deref()
                .and_then(|b| b64::decode(b, MAX_CHECKPOINT_LEN).ok())
                .and_then(|b| Checkpoint::from_bytes(&b).ok())
                .filter(|c| c.account_id == account_id && c.user_id == user);
            if user == me {
                out.own = cp.filter(|c| c.verify(&self.keyring.public()).is_ok());
                continue;
            }
            // Only a key our own verified log endorses can speak for a member.
            let cp = cp.filter(|c| state.checkpoint_signer(user, c.generation).is_some_and(|k| c.verify(k).is_ok()));
            if let Some(c) = &cp {
                match state.witness(c.head) {
                    Witness::OnOurChain => {
                        out.report.confirmed.insert(user.to_owned(), c.head.seq);
                    }
                    Witness::Fork { ours } => {
                        out.fork.get_or_insert(Fork {
                            account_id: account_id.to_owned(),
                            witness: user.to_owned(),
                            theirs: c.head,
                            ours: LogHead { seq: c.head.seq, hash: ours },
                        });
                    }
                    Witness::Ahead => {
                        out.ahead.get_or_insert((user.to_owned(), c.head));
                    }
                }
            }
            // Withholding shows up as silence: an active member whose confirmation is old.
            let Some(member) = state.member(user) else { continue };
            if member.status != MemberStatus::Active {
                continue;
            }
            let confirmed_at = cp.as_ref().map(|c| c.time);
            let since = confirmed_at.unwrap_or(0);
            if now.saturating_sub(since) <= self.checkpoint_max_age {
                continue;
            }
            let wrote = authored.get(user).copied();
            let seen = w.last_active_at.and_then(|t| u64::try_from(t).ok());
            let active = wrote.max(seen).is_some_and(|t| t > since.saturating_add(CHECKPOINT_REFRESH));
            if active {
                out.report.stale.push(StaleWitness {
                    user_id: user.to_owned(),
                    confirmed_at,
                    days: confirmed_at.map(|t| now.saturating_sub(t) / 86_400),
                });
            }
        }
        out
    }

    /// Signs and uploads our checkpoint of `head` unless the server already holds a fresh one
    /// of it. A refusal is not fatal (the others will see our confirmation age); returns
    /// whether the server holds a current one now.
    fn publish_checkpoint(&self, account_id: &str, head: LogHead, held: Option<&Checkpoint>) -> bool {
        let now = self.now();
        if held.is_some_and(|c| c.head == head && now.saturating_sub(c.time) < CHECKPOINT_REFRESH) {
            return true;
        }
        let Ok(cp) = Checkpoint::sign(account_id, head, now, &self.keyring) else { return false };
        self.client
            .put_checkpoint(account_id, &PutCheckpointRequest { checkpoint: b64::encode(&cp.to_bytes()) })
            .is_ok()
    }

    /// After our own append: our new head is the last entry we sent (built on our verified
    /// state), so we verified it; remember and publish it, so the others see it at once.
    fn appended(&mut self, account_id: &str, req: &AppendRequest) {
        let last = req
            .entries
            .last()
            .and_then(|b| b64::decode(b, vouchsafe_crypto::log::MAX_ENTRY_LEN).ok())
            .and_then(|b| LogEntry::from_bytes(&b).ok());
        if let Some(e) = last {
            let head = LogHead { seq: e.seq, hash: e.hash() };
            self.checkpoints.insert(account_id.to_owned(), head);
            self.publish_checkpoint(account_id, head, None);
        }
    }
}

/// The outcome of checking the listed checkpoints.
#[derive(Default)]
struct Judged {
    report: WitnessReport,
    own: Option<Checkpoint>,
    fork: Option<Fork>,
    ahead: Option<(String, LogHead)>,
}

/// Fetches, verifies and replays an account's whole log (public data only: no keys needed) and
/// checks it extends `checkpoint`, the head this client verified before.
pub fn fetch_verified_log(
    client: &Client,
    account_id: &str,
    checkpoint: Option<LogHead>,
) -> Result<(Vec<LogEntry>, TeamState), ClientError> {
    let mut entries = Vec::new();
    let mut after = None;
    loop {
        let page = client.log(account_id, after)?;
        if page.entries.is_empty() {
            break;
        }
        for w in &page.entries {
            let e = LogEntry::from_bytes(&b64::decode(&w.entry, vouchsafe_crypto::log::MAX_ENTRY_LEN)?)?;
            if e.seq != w.seq || e.seq != entries.len() as u64 {
                return Err(refused("the server returned log entries out of order"));
            }
            entries.push(e);
        }
        after = entries.last().map(|e| e.seq);
        if entries.len() as u64 >= page.log_len {
            break;
        }
    }
    let state = match checkpoint {
        Some(cp) => TeamState::replay_extending(account_id, &entries, cp),
        None => TeamState::replay(account_id, &entries),
    }
    .map_err(|e| refused(format!("the team log does not verify: {e}")))?;
    Ok((entries, state))
}

/// The server's member list judged by the verified log `state`.
pub fn judge_members(state: &TeamState, listed: &[MemberInfo]) -> Vec<ListedPrincipal> {
    listed
        .iter()
        .map(|m| {
            let view = match (state.member(&m.user_id), state.workers().get(&m.user_id)) {
                (Some(x), _) => LogView::InLog {
                    role: x.role.as_str().to_owned(),
                    status: match &x.status {
                        MemberStatus::Active => "active".into(),
                        MemberStatus::AwaitingVouch(_) => "awaiting_vouch".into(),
                    },
                    code: x.identity.verification_code().to_string(),
                },
                (None, Some(w)) => LogView::InLog {
                    role: "worker".into(),
                    status: "active".into(),
                    code: w.identity.verification_code().to_string(),
                },
                (None, None) if m.status == "accepted" => match m.identity() {
                    Ok(id) => LogView::AwaitingConfirmation { code: id.verification_code().to_string() },
                    Err(_) => LogView::NotInLog,
                },
                (None, None) => LogView::NotInLog,
            };
            ListedPrincipal { id: m.user_id.clone(), label: m.email.clone(), view }
        })
        .collect()
}

/// The server's worker list judged by the verified log `state`: only granted, unrevoked workers
/// with the keys the grant carried are in the log.
pub fn judge_workers(state: &TeamState, listed: &[WorkerInfo]) -> Vec<ListedPrincipal> {
    listed
        .iter()
        .map(|w| {
            let view = match state.workers().get(&w.id) {
                Some(x) => LogView::InLog {
                    role: match x.access {
                        vouchsafe_crypto::log::WorkerAccess::Read => "read".into(),
                        vouchsafe_crypto::log::WorkerAccess::ReadWrite => "read_write".into(),
                    },
                    status: "active".into(),
                    code: x.identity.verification_code().to_string(),
                },
                None => LogView::NotInLog,
            };
            ListedPrincipal { id: w.id.clone(), label: w.name.clone(), view }
        })
        .collect()
}

impl Vault {
    /// Opens every master key version sealed to us, checking each seal against the verified log.
    pub fn master_keys(&mut self, account_id: &str) -> Result<BTreeMap<u32, MasterKey>, ClientError> {
        let (entries, state) = self.verified_log(account_id)?;
        let me = self.keyring.public();
        let mut out = BTreeMap::new();
        for w in self.client.sealed_keys(account_id)? {
            if w.recipient_generation != me.generation {
                continue;
            }
            let sealed = Sealed::from_bytes(&b64::decode(&w.blob, 2048)?)?;
            let sealer = state
                .identity(&w.sealer_id, w.sealer_generation)
                .ok_or_else(|| refused("a key was sealed by someone the log does not know"))?;
            match w.log_seq {
                Some(seq) => {
                    let e = entries
                        .get(usize::try_from(seq).unwrap_or(usize::MAX))
                        .ok_or_else(|| refused("seal not in the log"))?;
                    let EntryBody::KeySealed { recipient, generation, fingerprint, key_version, sealed_hash } = &e.body
                    else {
                        return Err(refused("seal not announced by a key_sealed entry"));
                    };
                    if *recipient != me.user_id
                        || *generation != me.generation
                        || *fingerprint != me.fingerprint().0
                        || *key_version != w.key_version
                        || *sealed_hash != sealed.hash()
                        || e.author != w.sealer_id
                    {
                        return Err(refused("a sealed key does not match its log entry"));
                    }
                }
                // The creator's own v1: sealed by us to us, so only we could have made it.
                None if w.sealer_id == me.user_id && w.key_version == 1 => {}
                None => return Err(refused("a sealed key without a log entry")),
            }
            let mk = open_master_key(&sealed, account_id, w.key_version, sealer, &self.keyring)?;
            out.insert(w.key_version, mk);
        }
        for (v, mk) in &out {
            self.masters.insert((account_id.to_owned(), *v), mk.clone());
        }
        Ok(out)
    }

    fn master_key(&mut self, account_id: &str, version: u32) -> Result<MasterKey, ClientError> {
        if let Some(mk) = self.masters.get(&(account_id.to_owned(), version)) {
            return Ok(mk.clone());
        }
        self.master_keys(account_id)?
            .remove(&version)
            .ok_or_else(|| ClientError::Protocol(format!("no key version {version} is sealed to you in this account")))
    }

    fn field_key(&mut self, account_id: &str, version: u32) -> Result<&FieldKey, ClientError> {
        let k = (account_id.to_owned(), version);
        if !self.keys.contains_key(&k) {
            let mk = self.master_key(account_id, version)?;
            self.keys.insert(k.clone(), FieldKey::derive(&mk, account_id)?);
        }
        self.keys.get(&k).ok_or_else(|| ClientError::Protocol("field key".into()))
    }

    /// Appends entries built from the verified state; on a conflicting append (409), re-reads
    /// the log and rebuilds, a few times.
    fn append_with_retry(
        &mut self,
        account_id: &str,
        mut build: impl FnMut(&mut Self, &TeamState) -> Result<AppendRequest, ClientError>,
    ) -> Result<AppendResponse, ClientError> {
        let mut last = None;
        for _ in 0..5 {
            let (_, state) = self.verified_log(account_id)?;
            let req = build(self, &state)?;
            match self.client.append(account_id, &req) {
                Err(e) if e.code() == Some("log.conflict") => last = Some(e),
                Ok(r) => {
                    self.appended(account_id, &req);
                    return Ok(r);
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| refused("log kept moving")))
    }

    /// A new entry signed by us, chained to `state`'s head.
    fn entry(&self, account_id: &str, state: &TeamState, body: EntryBody) -> Result<LogEntry, ClientError> {
        let ts = self.now().max(state.last_timestamp());
        Ok(LogEntry::create(account_id, Some(state.head()), &self.keyring, ts, body)?)
    }

    /// Appends one entry whose body `body` derives from the verified state (retried on conflict).
    fn append_entry(
        &mut self,
        account_id: &str,
        body: impl Fn(&TeamState) -> Result<EntryBody, ClientError>,
    ) -> Result<(), ClientError> {
        self.append_with_retry(account_id, |me, state| {
            let e = me.entry(account_id, state, body(state)?)?;
            Ok(AppendRequest { entries: vec![b64::encode(&e.to_bytes())], sealed_keys: vec![], inbox_wraps: vec![] })
        })?;
        Ok(())
    }

    /// Builds an append: `first` (if any) applied to a copy of the verified state, then each
    /// (recipient, key version) sealed — every seal checked against that state — with its
    /// `key_sealed` entry.
    fn with_seals<'a>(
        &self,
        account_id: &str,
        state: &TeamState,
        first: Option<LogEntry>,
        seals: impl IntoIterator<Item = (&'a PublicIdentity, &'a MasterKey)>,
    ) -> Result<AppendRequest, ClientError> {
        let mut next = state.clone();
        let mut entries = Vec::new();
        if let Some(e) = first {
            next.apply(&e).map_err(|err| refused(err.to_string()))?;
            entries.push(b64::encode(&e.to_bytes()));
        }
        let mut sealed_keys = Vec::new();
        for (to, mk) in seals {
            let (entry, upload) = self.seal_to(account_id, &mut next, to, mk)?;
            entries.push(entry);
            sealed_keys.push(upload);
        }
        Ok(AppendRequest { entries, sealed_keys, inbox_wraps: vec![] })
    }

    /// Seals `mk` to `to` after checking the verified state endorses it, and builds the
    /// `key_sealed` entry (applied to `next`) and the upload.
    fn seal_to(
        &self,
        account_id: &str,
        next: &mut TeamState,
        to: &PublicIdentity,
        mk: &MasterKey,
    ) -> Result<(String, SealedKeyUpload), ClientError> {
        next.check_seal_recipient(to, mk.version, self.now().max(next.last_timestamp()))
            .map_err(|e| refused(e.to_string()))?;
        let sealed = seal_master_key(mk, account_id, to, &self.keyring, &mut vouchsafe_crypto::os_rng())?;
        let e = self.entry(
            account_id,
            next,
            EntryBody::KeySealed {
                recipient: to.user_id.clone(),
                generation: to.generation,
                fingerprint: to.fingerprint().0,
                key_version: mk.version,
                sealed_hash: sealed.hash(),
            },
        )?;
        next.apply(&e).map_err(|err| refused(err.to_string()))?;
        let upload = SealedKeyUpload {
            recipient_id: Id::parse(to.user_id.as_str())?,
            recipient_generation: to.generation,
            key_version: mk.version,
            blob: b64::encode(&sealed.to_bytes()),
        };
        Ok((b64::encode(&e.to_bytes()), upload))
    }

    /// Invites an email with a role.
    pub fn invite(&self, account_id: &str, email: &str, role: Role) -> Result<InvitationInfo, ClientError> {
        self.client.invite(account_id, email, role.as_str())
    }

    /// The identity and verification code of an invitee waiting for confirmation, as the server
    /// reports them (to show to the admin, who compares the code with the person).
    pub fn pending_identity(
        &self,
        account_id: &str,
        user_id: &str,
    ) -> Result<(MemberInfo, PublicIdentity), ClientError> {
        let m = self
            .client
            .members(account_id)?
            .into_iter()
            .find(|m| m.user_id == user_id && m.status == "accepted")
            .ok_or_else(|| ClientError::Protocol("no accepted invitee with that id".into()))?;
        let id = m.identity()?;
        Ok((m, id))
    }

    /// Confirms an invitee as `role` — the role *the admin* chose (the server's list only
    /// suggests one; what is signed into the log is this): the code the person read out must
    /// match their keys; then the log is verified, the member added, and every key version we
    /// hold sealed to them.
    pub fn confirm(
        &mut self,
        account_id: &str,
        user_id: &str,
        role: Role,
        code_from_person: &str,
    ) -> Result<Introduction, ClientError> {
        let (_, identity) = self.pending_identity(account_id, user_id)?;
        if !identity.verification_code().matches(code_from_person) {
            return Err(refused("the verification code does not match this person's keys; do not confirm"));
        }
        let masters = self.master_keys(account_id)?;
        let mut head = None;
        self.append_with_retry(account_id, |me, state| {
            let added = me.entry(account_id, state, EntryBody::MemberAdded { member: identity.clone(), role })?;
            head = Some(LogHead { seq: added.seq, hash: added.hash() });
            me.with_seals(account_id, state, Some(added), masters.values().map(|mk| (&identity, mk)))
        })?;
        let head = head.ok_or_else(|| ClientError::Protocol("confirm appended nothing".into()))?;
        Ok(Introduction {
            account_id: account_id.to_owned(),
            admin_id: self.user_id().to_owned(),
            admin_code: self.keyring.public().verification_code(),
            history_code: HistoryCode::of(account_id, head),
            seq: head.seq,
        })
    }

    /// How `user_id` joined `account_id`, from the verified log: who added them (the author of
    /// their `member_added` entry, and that admin's code) and the team history code at that
    /// entry. The admin reads both out during the confirm call; the joiner's client computes
    /// the same from the log it was served ([`Self::verify_team`]).
    pub fn introduction(&mut self, account_id: &str, user_id: &str) -> Result<Introduction, ClientError> {
        let (entries, state) = self.verified_log(account_id)?;
        introduction_in(account_id, user_id, &entries, &state)
    }

    /// The joiner's half of the ceremony: the admin who added us read out their verification
    /// code and the team history code; both must match what our verified log shows. A match
    /// marks the team verified on this device; a mismatch means the server showed us a team
    /// that is not the admin's (a made-up history, or a fork): the account is frozen here.
    pub fn verify_team(&mut self, account_id: &str, admin_code: &str, history_code: &str) -> Result<(), ClientError> {
        let me = self.user_id().to_owned();
        let intro = self.introduction(account_id, &me)?;
        let admin_ok = intro.admin_code.matches(admin_code);
        if !admin_ok || !intro.history_code.matches(history_code) {
            self.rejected_teams.insert(account_id.to_owned());
            return Err(refused(format!(
                "the {} read out to you does not match the team this server showed you: it is not the team the admin \
                 sees (a made-up or forked history). Nothing more is written, sealed or vouched in it on this device",
                if admin_ok { "team history code" } else { "admin's code" }
            )));
        }
        self.unverified.remove(account_id);
        self.verified_teams.insert(account_id.to_owned());
        Ok(())
    }

    /// Teams this device verified with the admin who added us (persist them).
    pub fn verified_teams(&self) -> &std::collections::BTreeSet<String> {
        &self.verified_teams
    }

    /// Restores a team verified earlier.
    pub fn set_verified_team(&mut self, account_id: &str) {
        self.verified_teams.insert(account_id.to_owned());
    }

    /// Teams whose codes did not match at [`Self::verify_team`] (persist them): frozen.
    pub fn rejected_teams(&self) -> &std::collections::BTreeSet<String> {
        &self.rejected_teams
    }

    /// Restores a team rejected earlier.
    pub fn set_rejected_team(&mut self, account_id: &str) {
        self.rejected_teams.insert(account_id.to_owned());
    }

    /// Teams this client synced that someone else created and that it has not verified with
    /// the admin who added us: show them as unverified ([`Self::verify_team`]).
    pub fn unverified_teams(&self) -> &std::collections::BTreeSet<String> {
        &self.unverified
    }

    /// Changes a member's role.
    pub fn set_role(&mut self, account_id: &str, user_id: &str, role: Role) -> Result<(), ClientError> {
        self.append_entry(account_id, |_| Ok(EntryBody::RoleChanged { user_id: user_id.into(), role }))
    }

    /// Removes a member; the account then needs [`Self::rotate`].
    pub fn remove(&mut self, account_id: &str, user_id: &str) -> Result<(), ClientError> {
        self.append_entry(account_id, |_| Ok(EntryBody::MemberRemoved { user_id: user_id.into() }))
    }

    /// Rotates: makes key version v+1 sealed to every active member (if the log says a rotation
    /// is required, or `force`), then re-encrypts every item still under an older version, in
    /// pages of `page` items. Safe to interrupt and call again: it resumes.
    pub fn rotate(
        &mut self,
        account_id: &str,
        force: bool,
        page: u32,
        progress: impl FnMut(u64, u64),
    ) -> Result<RotationReport, ClientError> {
        let mut report = self.rotate_key(account_id, force)?;
        report.items_reencrypted = self.reencrypt(account_id, page, None, progress)?;
        Ok(report)
    }

    /// Removes from the log the members the server says a provisioning client (an API token,
    /// SCIM) deprovisioned, when this client is an active admin; returns their user ids. The
    /// server's word is enough here and only here: it can make us *remove* someone the log
    /// names (which the signed log then shows, with us as its author), never add or reseal to
    /// anyone, so the worst a lying server gets is a member out of a team.
    pub fn remove_deprovisioned(&mut self, account_id: &str) -> Result<Vec<String>, ClientError> {
        let listed = self.client.members(account_id)?;
        let (_, state) = self.verified_log(account_id)?;
        let me = self.keyring.user_id().to_owned();
        let admin = state.member(&me).is_some_and(|m| m.role.is_admin() && m.status == MemberStatus::Active);
        let mut removed = Vec::new();
        if !admin {
            return Ok(removed);
        }
        for m in listed.iter().filter(|m| m.status == "deprovisioned" && m.user_id != me) {
            if state.member(&m.user_id).is_some() && !removed.contains(&m.user_id) {
                self.remove(account_id, &m.user_id)?;
                removed.push(m.user_id.clone());
            }
        }
        Ok(removed)
    }

    /// First half of a rotation: removes deprovisioned members ([`Self::remove_deprovisioned`]),
    /// then makes the new key version and its seals (one log append).
    pub fn rotate_key(&mut self, account_id: &str, force: bool) -> Result<RotationReport, ClientError> {
        let removed = self.remove_deprovisioned(account_id)?;
        let (_, state) = self.verified_log(account_id)?;
        let mut report = RotationReport { key_version: state.key_version(), removed, ..Default::default() };
        if state.rotation_required() || force {
            let mut rng = vouchsafe_crypto::os_rng();
            let new = MasterKey::generate(state.key_version() + 1, &mut rng)?;
            // The inbox secrets go to the new key version in the same append (and their wraps
            // under older versions, which a removed member's key opens, are then dropped).
            let secrets = if state.inbox_keys().is_empty() { BTreeMap::new() } else { self.inbox_secrets(account_id)? };
            self.append_with_retry(account_id, |me, state| {
                let rotated = me.entry(account_id, state, EntryBody::KeyRotated { key_version: new.version })?;
                // Rotating changes no membership: the recipients are the active members and workers.
                let recipients = state
                    .members()
                    .values()
                    .filter(|m| m.status == MemberStatus::Active)
                    .map(|m| &m.identity)
                    .chain(state.workers().values().map(|w| &w.identity));
                let mut req = me.with_seals(account_id, state, Some(rotated), recipients.map(|r| (r, &new)))?;
                req.inbox_wraps = crate::inbox::rewrap(account_id, state, &secrets, &new)?;
                Ok(req)
            })?;
            self.masters.insert((account_id.to_owned(), new.version), new.clone());
            report.key_version = new.version;
            report.new_version = true;
        }
        Ok(report)
    }

    /// Second half: re-encrypts items still under an older key version, at most `max_items`.
    /// Returns how many it re-encrypted; call again to resume.
    pub fn reencrypt(
        &mut self,
        account_id: &str,
        page: u32,
        max_items: Option<u64>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64, ClientError> {
        let target = self.write_version(account_id, true)?;
        let info = self.client.account(account_id)?;
        if info.key_version != target {
            return Err(refused(format!(
                "the server reports key version {} but the verified team log says {target}",
                info.key_version
            )));
        }
        let total = info.items_to_rotate;
        let mut done = 0u64;
        progress(done, total);
        'outer: loop {
            let batch = self.client.items(account_id, None, page.max(1), Some(target))?;
            if batch.items.is_empty() {
                break;
            }
            // Re-encrypt the page locally, then send it as one batch (one transaction).
            let room = max_items.map_or(usize::MAX, |m| usize::try_from(m.saturating_sub(done)).unwrap_or(usize::MAX));
            if room == 0 {
                break 'outer;
            }
            let mut updates = Vec::new();
            for w in batch.items.iter().take(room) {
                if w.key_version >= target {
                    return Err(refused("the server listed an item that is not under an older key version"));
                }
                updates.push(self.rewrite(account_id, w, target)?);
            }
            let results = self.send_batches(account_id, updates)?;
            // `stale`/`missing`: someone edited or deleted it meanwhile; a stale one is re-read
            // on the next page (if it is still under the old key).
            let updated = results.iter().filter(|r| r.as_str() == "updated").count() as u64;
            done += updated;
            progress(done, total.max(done));
            let progressed = !results.is_empty();
            if !progressed {
                break;
            }
        }
        Ok(done)
    }

    /// Re-encrypts one item (read and verified) under `target`, bound to its next revision.
    fn rewrite(&mut self, account_id: &str, w: &ItemWire, target: u32) -> Result<BatchItemUpdate, ClientError> {
        let item = self.decrypt(account_id, w)?;
        let next = item.revision.checked_add(1).ok_or_else(|| refused("revision out of range"))?;
        let fields = encrypt_fields(self.field_key(account_id, target)?, &item.id, next, &item.fields)?;
        Ok(BatchItemUpdate { id: Id::parse(item.id)?, revision: item.revision, key_version: target, fields })
    }

    /// Sends updates in batches that stay well under the server's default body limit (256 KiB).
    fn send_batches(&mut self, account_id: &str, updates: Vec<BatchItemUpdate>) -> Result<Vec<String>, ClientError> {
        let mut results = Vec::with_capacity(updates.len());
        let mut chunk: Vec<BatchItemUpdate> = Vec::new();
        let mut size = 0usize;
        for u in updates {
            let s = 64 + u.id.len() + u.fields.iter().map(|(k, v)| k.len() + v.len() + 8).sum::<usize>();
            if !chunk.is_empty() && size + s > 192 * 1024 {
                results.extend(
                    self.client
                        .update_items(account_id, &BatchUpdateRequest { items: std::mem::take(&mut chunk) })?
                        .results,
                );
                size = 0;
            }
            size += s;
            chunk.push(u);
        }
        if !chunk.is_empty() {
            results.extend(self.client.update_items(account_id, &BatchUpdateRequest { items: chunk })?.results);
        }
        Ok(results)
    }

    /// Rewrites every item still in the legacy field format (or under an older key version)
    /// in the bound v2 format under the current key version. Returns how many it rewrote.
    /// Legacy items cannot prove their field set: check them (`get_item`) before upgrading.
    pub fn upgrade_items(&mut self, account_id: &str, page: u32) -> Result<u64, ClientError> {
        let target = self.write_version(account_id, true)?;
        let mut cursor: Option<String> = None;
        let mut done = 0u64;
        loop {
            let batch = self.client.items(account_id, cursor.as_deref(), page.max(1), None)?;
            let mut updates = Vec::new();
            for w in &batch.items {
                let legacy = w.fields.values().any(|v| {
                    b64::decode(v, vouchsafe_crypto::field::MAX_FIELD_VALUE + vouchsafe_crypto::field::OVERHEAD)
                        .ok()
                        .and_then(|b| blob_format(&b).ok())
                        != Some(FIELD_FORMAT_V2)
                });
                if legacy || w.key_version < target {
                    updates.push(self.rewrite(account_id, w, target)?);
                }
            }
            let results = self.send_batches(account_id, updates)?;
            done += results.iter().filter(|r| r.as_str() == "updated").count() as u64;
            match batch.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(done),
            }
        }
    }

    /// Decrypts an item as the server served it. Every field must open under the item's id,
    /// its name, the key version it names, and — in the v2 format — the revision the server
    /// reports and the exact set of field names served: a dropped, renamed or added field, fields
    /// mixed from two revisions, or a renumbered revision fail. A revision older than one this
    /// client already saw is refused (replay). Legacy (v1) items open, marked `legacy`.
    fn decrypt(&mut self, account_id: &str, w: &ItemWire) -> Result<Item, ClientError> {
        let key = (account_id.to_owned(), w.id.clone());
        if let Some(seen) = self.seen.get(&key)
            && w.revision < *seen
        {
            return Err(refused(format!(
                "the server served revision {} of item {} after this client saw revision {seen}",
                w.revision, w.id
            )));
        }
        if w.fields.is_empty() {
            return Err(refused("the server served an item without fields"));
        }
        let binding = ItemBinding::new(w.revision, w.fields.keys().map(String::as_str));
        let mut fields = BTreeMap::new();
        let mut formats = std::collections::BTreeSet::new();
        for (name, value) in &w.fields {
            let blob =
                b64::decode(value, vouchsafe_crypto::field::MAX_FIELD_VALUE + vouchsafe_crypto::field::OVERHEAD)?;
            let v = blob_key_version(&blob)?;
            let format = blob_format(&blob)?;
            formats.insert(format);
            let fk = self.field_key(account_id, v)?;
            let value = if format == FIELD_FORMAT_V2 {
                fk.open_field(&w.id, name, &blob, &binding).map_err(|_| {
                    refused(format!(
                        "item {}: field {name:?} does not belong to revision {} with exactly these fields \
                         (the server dropped, renamed or mixed fields, or renumbered the revision)",
                        w.id, w.revision
                    ))
                })?
            } else {
                fk.decrypt(&w.id, name, &blob)?
            };
            fields.insert(name.clone(), value);
        }
        if formats.len() > 1 {
            return Err(refused(format!("item {}: fields in two formats (a mix of revisions)", w.id)));
        }
        let legacy = !formats.contains(&FIELD_FORMAT_V2);
        self.set_seen_revision(account_id, &w.id, w.revision);
        Ok(Item {
            id: w.id.clone(),
            revision: w.revision,
            key_version: w.key_version,
            fields,
            legacy,
            created_at: w.created_at,
            updated_at: w.updated_at,
        })
    }

    /// The key version to write under: the verified log's, never the server's say — the
    /// server's account info is not even asked (a server that disagrees answers the write with
    /// 409 `item.retired_key_version` or 400 `item.bad_key_version`, and the write is not
    /// retried under its version). Refused — unless `rotating` — while the log says a removed
    /// member or worker still holds the current key (rotate first).
    fn write_version(&mut self, account_id: &str, rotating: bool) -> Result<u32, ClientError> {
        let (_, state) = self.verified_log(account_id)?;
        let version = state.key_version();
        if state.rotation_required() && !rotating {
            return Err(refused(
                "a member or worker was removed and still holds the current key: rotate the account key first",
            ));
        }
        Ok(version)
    }

    /// Writes an item under the verified log's key version, bound to the revision it gets.
    fn write(
        &mut self,
        account_id: &str,
        item_id: &str,
        fields: &BTreeMap<String, Vec<u8>>,
        revision: Option<u64>,
    ) -> Result<ItemWire, ClientError> {
        let version = self.write_version(account_id, false)?;
        let next = match revision {
            None => 1,
            Some(r) => r.checked_add(1).ok_or_else(|| refused("revision out of range"))?,
        };
        let fields = encrypt_fields(self.field_key(account_id, version)?, item_id, next, fields)?;
        let w =
            self.client.put_item(account_id, item_id, &PutItemRequest { revision, key_version: version, fields })?;
        if w.revision != next || w.id != item_id {
            return Err(refused(format!("the server stored revision {} where {next} was written", w.revision)));
        }
        self.set_seen_revision(account_id, item_id, next);
        Ok(w)
    }

    /// Creates an item under the current key version; returns its id.
    pub fn create_item(
        &mut self,
        account_id: &str,
        fields: &BTreeMap<String, Vec<u8>>,
    ) -> Result<ItemWire, ClientError> {
        let id = vouchsafe_crypto::random_id();
        self.write(account_id, &id, fields, None)
    }

    /// Creates many items under one check of the verified log (an import): the log is fetched
    /// and replayed once, not per item. `progress(done, total)` after each; stops at the first
    /// refusal, returning it with how many were created before it.
    pub fn create_items(
        &mut self,
        account_id: &str,
        items: &[BTreeMap<String, Vec<u8>>],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<ItemWire>, (usize, ClientError)> {
        let version = self.write_version(account_id, false).map_err(|e| (0, e))?;
        let total = items.len() as u64;
        let mut out = Vec::with_capacity(items.len());
        for fields in items {
            let id = vouchsafe_crypto::random_id();
            let sealed = self
                .field_key(account_id, version)
                .and_then(|fk| encrypt_fields(fk, &id, 1, fields))
                .map_err(|e| (out.len(), e))?;
            let req = PutItemRequest { revision: None, key_version: version, fields: sealed };
            let w = self.client.put_item(account_id, &id, &req).map_err(|e| (out.len(), e))?;
            if w.revision != 1 || w.id != id {
                return Err((
                    out.len(),
                    refused(format!("the server stored revision {} where 1 was written", w.revision)),
                ));
            }
            self.set_seen_revision(account_id, &id, 1);
            out.push(w);
            progress(out.len() as u64, total);
        }
        Ok(out)
    }

    /// Replaces an item's fields; `revision` is the one read (stale → 409 `item.stale_revision`).
    pub fn update_item(
        &mut self,
        account_id: &str,
        item_id: &str,
        revision: u64,
        fields: &BTreeMap<String, Vec<u8>>,
    ) -> Result<ItemWire, ClientError> {
        self.write(account_id, item_id, fields, Some(revision))
    }

    /// Reads and decrypts one item.
    pub fn get_item(&mut self, account_id: &str, item_id: &str) -> Result<Item, ClientError> {
        let w = self.client.item(account_id, item_id)?;
        self.decrypt(account_id, &w)
    }

    /// One page of decrypted items.
    pub fn list_items(
        &mut self,
        account_id: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Item>, Option<String>), ClientError> {
        let page = self.client.items(account_id, cursor, limit, None)?;
        let items = page.items.iter().map(|w| self.decrypt(account_id, w)).collect::<Result<Vec<_>, _>>()?;
        Ok((items, page.next_cursor))
    }

    /// Deletes an item.
    pub fn delete_item(&self, account_id: &str, item_id: &str) -> Result<(), ClientError> {
        self.client.delete_item(account_id, item_id)
    }

    /// Creates the account's next inbox key (admins): its public key endorsed in the log and
    /// its secret wrapped under the current master key, in one append. Returns the key; give
    /// providers its [`InboxKey::code`].
    pub fn create_inbox_key(&mut self, account_id: &str) -> Result<InboxKey, ClientError> {
        let mut made = None;
        self.append_with_retry(account_id, |me, state| {
            let version = state.inbox_key().map_or(1, |k| k.version + 1);
            let (secret, key) = vouchsafe_crypto::inbox::generate(version, &mut vouchsafe_crypto::os_rng())?;
            let mk = me.master_key(account_id, state.key_version())?;
            let body = EntryBody::InboxKey { inbox_version: key.version, public_key: key.public };
            let e = me.entry(account_id, state, body)?;
            let blob = vouchsafe_crypto::inbox::wrap(&secret, &key, account_id, &mk, &mut vouchsafe_crypto::os_rng())?;
            made = Some(key);
            Ok(AppendRequest {
                entries: vec![b64::encode(&e.to_bytes())],
                sealed_keys: vec![],
                inbox_wraps: vec![InboxWrapUpload {
                    inbox_version: key.version,
                    key_version: mk.version,
                    blob: b64::encode(&blob),
                }],
            })
        })?;
        made.ok_or_else(|| refused("no inbox key was made"))
    }

    /// The inbox key the verified log endorses now (what providers must pin), if any.
    pub fn inbox_key(&mut self, account_id: &str) -> Result<Option<InboxKey>, ClientError> {
        Ok(self.verified_log(account_id)?.1.inbox_key())
    }

    /// The inbox secrets this member can open (see [`crate::inbox::open_secrets`]).
    pub fn inbox_secrets(&mut self, account_id: &str) -> Result<BTreeMap<u32, InboxSecret>, ClientError> {
        let (_, state) = self.verified_log(account_id)?;
        let view = self.client.inbox(account_id)?;
        let masters = self.master_keys(account_id)?;
        crate::inbox::open_secrets(account_id, &state, &view, &masters)
    }

    /// A page of the deposits waiting (what the server lists: ids and sizes, no content).
    pub fn deposits(&self, account_id: &str, cursor: Option<&str>, limit: u32) -> Result<DepositPage, ClientError> {
        self.client.deposits(account_id, cursor, limit)
    }

    /// Fetches and opens a deposited record.
    pub fn open_deposit(
        &mut self,
        account_id: &str,
        provider_id: &str,
        deposit_id: &str,
    ) -> Result<(DepositSummary, Record), ClientError> {
        let secrets = self.inbox_secrets(account_id)?;
        let wire = self.client.deposit(account_id, provider_id, deposit_id)?;
        let record = crate::inbox::open_record(account_id, &secrets, &wire, provider_id, deposit_id)?;
        Ok((wire.summary, record))
    }

    /// Files a deposited record as a new item (its fields re-encrypted under the field key),
    /// then deletes it from the inbox. Returns the item.
    pub fn file_deposit(
        &mut self,
        account_id: &str,
        provider_id: &str,
        deposit_id: &str,
    ) -> Result<ItemWire, ClientError> {
        let (_, record) = self.open_deposit(account_id, provider_id, deposit_id)?;
        let fields: BTreeMap<String, Vec<u8>> = record.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect();
        let item = self.create_item(account_id, &fields)?;
        self.client.file_deposit(account_id, provider_id, deposit_id)?;
        Ok(item)
    }

    /// Files every record waiting in the inbox as an item (what a granted read-write worker
    /// does for its account): the inbox secrets are opened once; a deposit that does not open
    /// is left in the inbox and reported, and the import goes on. `progress(filed)` after each.
    pub fn import_inbox(
        &mut self,
        account_id: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<InboxImport, ClientError> {
        let secrets = self.inbox_secrets(account_id)?;
        let mut report = InboxImport::default();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.client.deposits(account_id, cursor.as_deref(), 100)?;
            for d in &page.deposits {
                let opened = self
                    .client
                    .deposit(account_id, &d.provider_id, &d.id)
                    .and_then(|w| crate::inbox::open_record(account_id, &secrets, &w, &d.provider_id, &d.id));
                let record = match opened {
                    Ok(r) => r,
                    Err(e) => {
                        report.left.push((d.provider_id.clone(), d.id.clone(), e.to_string()));
                        continue;
                    }
                };
                let fields: BTreeMap<String, Vec<u8>> = record.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect();
                let item = self.create_item(account_id, &fields)?;
                self.client.file_deposit(account_id, &d.provider_id, &d.id)?;
                report.items.push(item.id);
                progress(report.items.len() as u64);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(report),
            }
        }
    }

    /// Members awaiting vouches, as the verified log describes them (never as the server's
    /// member list does): the new keys, their verification code, vouchers so far.
    pub fn pending_resets(&mut self, account_id: &str) -> Result<Vec<PendingReset>, ClientError> {
        Ok(Self::pending_resets_in(&self.verified_log(account_id)?.1))
    }

    /// [`Self::pending_resets`] from a state already verified (no second fetch of the log).
    pub fn pending_resets_in(state: &TeamState) -> Vec<PendingReset> {
        state
            .members()
            .iter()
            .filter_map(|(id, m)| match &m.status {
                MemberStatus::AwaitingVouch(p) => Some(PendingReset {
                    unconfirmed: p.vouchers.is_empty(),
                    replaces_generation: p.replaces_generation,
                    user_id: id.clone(),
                    code: p.new_identity.verification_code().to_string(),
                    new_identity: p.new_identity.clone(),
                    vouchers: p.vouchers.iter().cloned().collect(),
                    needed: state.policy().vouch_quorum,
                    announced_at: p.announced_at,
                    resealable_at: p.announced_at.saturating_add(state.policy().waiting_period_secs),
                    vetoed: p.vetoed,
                    history_code: state.head_at_hash(&p.reset_hash).map(|h| HistoryCode::of(state.account_id(), h)),
                }),
                MemberStatus::Active => None,
            })
            .collect()
    }

    /// Vouches for a member's new key after comparing codes: `code_from_person` is what the
    /// member read out from their own screen; it must match the key the *log* announced.
    /// `history_from_person`, when given, is the team history code their device showed at the
    /// reset; it must match the one this verified log has at the announcement (a server showing
    /// the two of you different histories is caught here; an empty one is refused too). Then
    /// reseals if the quorum and waiting period allow. Returns whether access was restored.
    pub fn vouch(
        &mut self,
        account_id: &str,
        user_id: &str,
        code_from_person: &str,
        history_from_person: Option<&str>,
    ) -> Result<bool, ClientError> {
        let pending = self
            .pending_resets(account_id)?
            .into_iter()
            .find(|p| p.user_id == user_id)
            .ok_or_else(|| ClientError::Protocol("that member is not awaiting vouches".into()))?;
        if !pending.new_identity.verification_code().matches(code_from_person) {
            return Err(refused("the verification code does not match the key in the team log; do not vouch"));
        }
        if let (Some(typed), Some(expected)) = (history_from_person, &pending.history_code)
            && !expected.matches(typed)
        {
            return Err(refused(
                "the team history code they read does not match the history this client verified: do not vouch \
                 (the server may be showing the two of you different histories)",
            ));
        }
        let target = pending.new_identity.clone();
        self.append_entry(account_id, |state| {
            let p = awaiting(state, user_id)?;
            if p.new_identity != target {
                return Err(refused("the announced key changed since you compared codes"));
            }
            Ok(EntryBody::Vouch {
                user_id: user_id.into(),
                reset_hash: p.reset_hash,
                new_fingerprint: target.fingerprint().0,
            })
        })?;
        match self.reseal(account_id, user_id) {
            Ok(()) => Ok(true),
            Err(ClientError::Protocol(m)) if m.contains("quorum") || m.contains("waiting period") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Reseals every key version we hold to a member's vouched-for new key. Refused unless the
    /// verified log shows the quorum met, the waiting period over and no veto.
    pub fn reseal(&mut self, account_id: &str, user_id: &str) -> Result<(), ClientError> {
        let masters = self.master_keys(account_id)?;
        self.append_with_retry(account_id, |me, state| {
            let pending = awaiting(state, user_id)?;
            // The waiting period by this device's own clock too, not only by the log's time.
            if me.now() < pending.announced_at.saturating_add(state.policy().waiting_period_secs) {
                return Err(refused("the waiting period is not over (by this device's clock)"));
            }
            let target = &pending.new_identity;
            me.with_seals(account_id, state, None, masters.values().map(|mk| (target, mk)))
        })?;
        Ok(())
    }

    /// Vetoes a member's pending reset (admins, or the member with their previous key).
    pub fn veto(&mut self, account_id: &str, user_id: &str) -> Result<(), ClientError> {
        self.append_entry(account_id, |state| {
            Ok(EntryBody::Veto { user_id: user_id.into(), reset_hash: awaiting(state, user_id)?.reset_hash })
        })
    }

    /// The recovery policy as the verified log sets it.
    pub fn policy(&mut self, account_id: &str) -> Result<Policy, ClientError> {
        Ok(*self.verified_log(account_id)?.1.policy())
    }

    /// Whether the verified log requires every member to have a second factor.
    pub fn second_factor_required(&mut self, account_id: &str) -> Result<bool, ClientError> {
        Ok(self.verified_log(account_id)?.1.second_factor_required())
    }

    /// Requires (or stops requiring) a second factor of every member: a signed entry, or — when
    /// the policy asks for several admins — a proposal for them to co-sign.
    pub fn set_second_factor_required(
        &mut self,
        account_id: &str,
        required: bool,
    ) -> Result<Option<ProposalInfo>, ClientError> {
        let body = EntryBody::SecondFactorPolicy { required };
        if self.verified_log(account_id)?.1.policy().admin_approvals > 1 {
            return self.propose(account_id, body, None).map(Some);
        }
        self.append_entry(account_id, |_| Ok(body.clone()))?;
        Ok(None)
    }

    /// Changes the policy (signed by this admin; policies needing several admins need co-signers).
    pub fn set_policy(&mut self, account_id: &str, policy: Policy) -> Result<(), ClientError> {
        policy.validate()?;
        self.append_entry(account_id, |_| Ok(EntryBody::PolicyChanged { policy }))
    }
}

impl Vault {
    /// Grants a worker (admins): the code the operator read from `vouchsafe worker init` must
    /// match the worker's keys; the grant entry is signed by us and by `cosigners` (when the
    /// policy asks for several admins), and every key version we hold is sealed to the worker.
    pub fn grant_worker(
        &mut self,
        account_id: &str,
        name: &str,
        worker: &PublicIdentity,
        access: vouchsafe_crypto::log::WorkerAccess,
        code_from_operator: &str,
        cosigners: &[&Keyring],
    ) -> Result<(), ClientError> {
        if !worker.verification_code().matches(code_from_operator) {
            return Err(refused("the worker's code does not match its keys; do not grant"));
        }
        self.register_worker_keys(account_id, name, worker)?;
        let masters = self.master_keys(account_id)?;
        self.append_with_retry(account_id, |me, state| {
            let mut grant = me.entry(account_id, state, EntryBody::WorkerGranted { worker: worker.clone(), access })?;
            for c in cosigners {
                grant.cosign(c);
            }
            me.with_seals(account_id, state, Some(grant), masters.values().map(|mk| (worker, mk)))
        })?;
        Ok(())
    }

    /// Proposes a policy change that needs more admin signatures than ours (PROTOCOL.md §5.4):
    /// other admins co-sign it from their own machines ([`Self::cosign`]).
    pub fn propose_policy(
        &mut self,
        account_id: &str,
        policy: Policy,
        expires_in_secs: Option<u64>,
    ) -> Result<ProposalInfo, ClientError> {
        policy.validate()?;
        self.propose(account_id, EntryBody::PolicyChanged { policy }, expires_in_secs)
    }

    /// Proposes a worker grant (after comparing the worker's code) that needs more admin
    /// signatures than ours; the admin whose co-signature completes it seals the keys to it.
    pub fn propose_worker_grant(
        &mut self,
        account_id: &str,
        name: &str,
        worker: &PublicIdentity,
        access: vouchsafe_crypto::log::WorkerAccess,
        code_from_operator: &str,
        expires_in_secs: Option<u64>,
    ) -> Result<ProposalInfo, ClientError> {
        if !worker.verification_code().matches(code_from_operator) {
            return Err(refused("the worker's code does not match its keys; do not grant"));
        }
        self.register_worker_keys(account_id, name, worker)?;
        self.propose(account_id, EntryBody::WorkerGranted { worker: worker.clone(), access }, expires_in_secs)
    }

    fn register_worker_keys(&self, account_id: &str, name: &str, worker: &PublicIdentity) -> Result<(), ClientError> {
        if !self.client.workers(account_id)?.iter().any(|w| w.id == worker.user_id) {
            self.client.register_worker(
                account_id,
                &RegisterWorkerRequest {
                    worker_id: Id::parse(worker.user_id.as_str())?,
                    name: name.into(),
                    public_keys: b64::encode(&worker.keys_to_bytes()),
                },
            )?;
        }
        Ok(())
    }

    fn propose(
        &mut self,
        account_id: &str,
        body: EntryBody,
        expires_in_secs: Option<u64>,
    ) -> Result<ProposalInfo, ClientError> {
        let (_, state) = self.verified_log(account_id)?;
        let e = self.entry(account_id, &state, body)?;
        let approvals = state.check_proposal(&e).map_err(|err| refused(err.to_string()))?;
        if approvals.complete() {
            return Err(refused("this change needs no other admin's signature: make it directly"));
        }
        self.client.create_proposal(
            account_id,
            &CreateProposalRequest { proposal_id: Id::random(), entry: b64::encode(&e.to_bytes()), expires_in_secs },
        )
    }

    /// The account's open proposals, each decoded and checked against our verified log: what it
    /// does, who signed it, and — if this client refuses it — why.
    pub fn proposals(&mut self, account_id: &str) -> Result<Vec<ProposalView>, ClientError> {
        let (_, state) = self.verified_log(account_id)?;
        Ok(self.client.proposals(account_id)?.into_iter().map(|p| judge_proposal(account_id, &state, p)).collect())
    }

    /// Co-signs a proposal after checking it against our verified log (it must extend our head,
    /// carry its author's and every co-signer's valid signature, and do what it says). If ours
    /// completes it, the server appends it; for a worker grant we then seal our key versions to
    /// the worker.
    pub fn cosign(&mut self, account_id: &str, proposal_id: &str) -> Result<ProposalInfo, ClientError> {
        let (_, state) = self.verified_log(account_id)?;
        let view = judge_proposal(account_id, &state, self.client.proposal(account_id, proposal_id)?);
        if let Some(why) = &view.refused {
            return Err(refused(format!("this proposal cannot be co-signed: {why}")));
        }
        if view.status != "open" {
            return Err(refused(format!("the proposal is {}", view.status)));
        }
        let entry = view.entry.ok_or_else(|| refused("the proposal has no entry"))?;
        if view.signers.iter().any(|s| s == self.user_id()) {
            return Err(refused("you signed this proposal already"));
        }
        let signature = self.keyring.sign(&entry.signing_input());
        let r = self.client.cosign_proposal(
            account_id,
            proposal_id,
            &CosignRequest { generation: self.keyring.generation(), signature: b64::encode(&signature) },
        )?;
        if r.status == "applied" {
            let (entries, state) = self.verified_log(account_id)?;
            let applied = entries
                .get(usize::try_from(entry.seq).unwrap_or(usize::MAX))
                .is_some_and(|e| e.signing_input() == entry.signing_input());
            if !applied {
                return Err(refused("the server says the proposal was applied, but the log does not show it"));
            }
            if let EntryBody::WorkerGranted { worker, .. } = &entry.body {
                let masters = self.master_keys(account_id)?;
                let worker = worker.clone();
                if state.workers().contains_key(&worker.user_id) && !masters.is_empty() {
                    self.append_with_retry(account_id, |me, state| {
                        me.with_seals(account_id, state, None, masters.values().map(|mk| (&worker, mk)))
                    })?;
                }
            }
        }
        Ok(r)
    }

    /// Withdraws an open proposal.
    pub fn withdraw_proposal(&self, account_id: &str, proposal_id: &str) -> Result<(), ClientError> {
        self.client.withdraw_proposal(account_id, proposal_id)
    }

    /// Revokes a worker; the account then needs [`Vault::rotate`].
    pub fn revoke_worker(&mut self, account_id: &str, worker_id: &str) -> Result<(), ClientError> {
        self.append_entry(account_id, |_| Ok(EntryBody::WorkerRevoked { worker_id: worker_id.into() }))
    }
}

/// A proposal as this client sees it: decoded from the entry the server holds and checked
/// against our own verified log (the server's counts and status are only shown).
#[derive(Debug, Clone)]
pub struct ProposalView {
    /// Id.
    pub id: String,
    /// The entry's author.
    pub author: String,
    /// What it does, in words, against the current verified state.
    pub summary: String,
    /// Who signed it: the author, then each co-signer.
    pub signers: Vec<String>,
    /// Admin signatures the verified policy needs.
    pub needed: usize,
    /// The server's status (`open`, `expired`, `superseded`, …).
    pub status: String,
    /// Unix seconds (the server's).
    pub expires_at: i64,
    /// Why this client refuses to co-sign it (altered, not on our head, …), if it does.
    pub refused: Option<String>,
    /// The decoded entry (absent if it does not decode).
    pub entry: Option<LogEntry>,
}

/// Decodes and checks one proposal against `state` (a verified log of `account_id`).
pub fn judge_proposal(account_id: &str, state: &TeamState, p: ProposalInfo) -> ProposalView {
    let decoded =
        b64::decode(&p.entry, vouchsafe_crypto::log::MAX_ENTRY_LEN).ok().and_then(|b| LogEntry::from_bytes(&b).ok());
    let mut view = ProposalView {
        id: p.id.to_string(),
        author: p.author.clone(),
        summary: String::new(),
        signers: Vec::new(),
        needed: usize::from(state.policy().admin_approvals),
        status: p.status.clone(),
        expires_at: p.expires_at,
        refused: None,
        entry: None,
    };
    let Some(e) = decoded else {
        view.refused = Some("it does not decode".into());
        return view;
    };
    view.summary = describe(state, &e.body);
    view.signers = std::iter::once(e.author.clone()).chain(e.cosignatures.iter().map(|c| c.user_id.clone())).collect();
    view.refused = if e.account_id != account_id || e.author != p.author {
        Some("it names another account or author than the server says".into())
    } else {
        match state.check_proposal(&e) {
            Ok(_) => None,
            Err(vouchsafe_crypto::log::LogError::BadSignature(_)) => {
                Some("a signature does not cover what the server shows: it was altered after signing".into())
            }
            Err(err) => Some(err.to_string()),
        }
    };
    view.entry = Some(e);
    view
}

/// What an entry does, in words, against the state it would apply to.
pub fn describe(state: &TeamState, body: &EntryBody) -> String {
    match body {
        EntryBody::PolicyChanged { policy } => {
            let now = state.policy();
            let rule = |r: vouchsafe_crypto::log::VoucherRule| match r {
                vouchsafe_crypto::log::VoucherRule::AnyMember => "any member",
                vouchsafe_crypto::log::VoucherRule::AdminsOnly => "admins only",
            };
            let mut changes = Vec::new();
            if now.vouch_quorum != policy.vouch_quorum {
                changes.push(format!("vouches needed {} → {}", now.vouch_quorum, policy.vouch_quorum));
            }
            if now.waiting_period_secs != policy.waiting_period_secs {
                changes
                    .push(format!("waiting period {} s → {} s", now.waiting_period_secs, policy.waiting_period_secs));
            }
            if now.vouchers != policy.vouchers {
                changes.push(format!("who may vouch: {} → {}", rule(now.vouchers), rule(policy.vouchers)));
            }
            if now.admin_approvals != policy.admin_approvals {
                changes
                    .push(format!("admin signatures for changes {} → {}", now.admin_approvals, policy.admin_approvals));
            }
            if changes.is_empty() {
                "policy change: no change".into()
            } else {
                format!("policy change: {}", changes.join("; "))
            }
        }
        EntryBody::WorkerGranted { worker, access } => format!(
            "grant worker {} {} access (its verification code {})",
            worker.user_id,
            match access {
                vouchsafe_crypto::log::WorkerAccess::Read => "read",
                vouchsafe_crypto::log::WorkerAccess::ReadWrite => "read-write",
            },
            worker.verification_code()
        ),
        EntryBody::SecondFactorPolicy { required: true } => {
            "require a second factor of every member (those without one cannot read items until they enrol)".into()
        }
        EntryBody::SecondFactorPolicy { required: false } => "make the second factor optional".into(),
        other => other.kind_name().replace('_', " "),
    }
}

/// A member awaiting vouches.
#[derive(Debug, Clone)]
pub struct PendingReset {
    /// User id.
    pub user_id: String,
    /// The new keys the log announced.
    pub new_identity: PublicIdentity,
    /// Their verification code: compare it with the member's screen.
    pub code: String,
    /// Who vouched so far.
    pub vouchers: Vec<String>,
    /// Vouches needed.
    pub needed: u8,
    /// When the reset was announced (log time).
    pub announced_at: u64,
    /// Earliest reseal (log time).
    pub resealable_at: u64,
    /// Vetoed.
    pub vetoed: bool,
    /// The key generation the announcement replaces (the new one is `new_identity.generation`).
    pub replaces_generation: u32,
    /// Nobody has compared codes with the member yet: the announcement is signed by the *new*
    /// key only, which anyone holding the reset e-mail — or the server itself — can make. Show
    /// it as "announced by the server on behalf of the member: ask them".
    pub unconfirmed: bool,
    /// The team history code at the announcement: the member's device showed the same code
    /// for this account when it announced the reset (`flows::reset_with_token`), unless the
    /// server showed the two of you different histories. Compare it along with `code`.
    pub history_code: Option<HistoryCode>,
}

impl Vault {
    /// Resets announced in `state` for *this* member that this keyring did not make (it is
    /// still an older generation): if the person did not reset their password, someone else
    /// did — or the server forged it — and they should veto it at once ([`Vault::veto`]).
    pub fn resets_not_made_here(&self, state: &TeamState) -> Option<u32> {
        match state.member(self.user_id()) {
            Some(vouchsafe_crypto::log::Member { status: MemberStatus::AwaitingVouch(p), .. })
                if p.new_identity.generation != self.keyring.generation() && !p.vetoed =>
            {
                Some(p.new_identity.generation)
            }
            _ => None,
        }
    }

    /// The server's member list, each row judged by the verified log.
    pub fn members_view(&mut self, account_id: &str) -> Result<Vec<ListedPrincipal>, ClientError> {
        let (_, state) = self.verified_log(account_id)?;
        Ok(judge_members(&state, &self.client.members(account_id)?))
    }
}
