//! The signed, hash-chained team log and its replay.
//!
//! Each account has an append-only log. Every [`LogEntry`] names its account, its position
//! (`seq`), the hash of the previous entry, its author (user id + key generation), a timestamp
//! and a typed [`EntryBody`], and is signed with the author's Ed25519 key (plus co-signatures
//! when the account's policy asks for several admins). [`TeamState::replay`] verifies a whole
//! log — chain, signatures, and the author's *authority* for each entry — and yields the members,
//! roles, current public keys, key version, workers and recovery policy.
//!
//! Clients replay before every seal and refuse to seal to a key the verified log does not
//! endorse ([`TeamState::check_seal_recipient`]). A malicious server can then refuse service,
//! but cannot insert a ghost member, swap a public key or lower the recovery quorum.

use std::collections::{BTreeMap, BTreeSet};

use crate::encoding::{Reader, Writer};
use crate::identity::{Fingerprint, Keyring, PublicIdentity};
use crate::{Error, FORMAT_V1, Result, sha256, validate_id};

/// Largest encoded entry accepted.
pub const MAX_ENTRY_LEN: usize = 4096;
/// Most co-signatures on one entry.
pub const MAX_COSIGNATURES: usize = 16;

/// Why a log was rejected. The number is the `seq` of the offending entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// A signature or co-signature does not verify.
    #[error("entry {0}: bad signature")]
    BadSignature(u64),
    /// Wrong sequence number or previous hash (a gap, a reorder or a fork).
    #[error("entry {0}: chain broken (sequence or previous hash)")]
    BrokenChain(u64),
    /// The entry names another account.
    #[error("entry {0}: belongs to another account")]
    WrongAccount(u64),
    /// The author (or the set of signers) may not make this entry.
    #[error("entry {0}: author lacks authority: {1}")]
    Unauthorized(u64, &'static str),
    /// The entry seals to, or is signed by, a key the log does not endorse.
    #[error("entry {0}: key not endorsed by the log: {1}")]
    UnendorsedKey(u64, &'static str),
    /// A vouch does not bind the pending reset request and its exact new key.
    #[error("entry {0}: vouch does not bind the pending reset and its exact new key")]
    VouchMismatch(u64),
    /// The entry is well-formed but its content is invalid in this state.
    #[error("entry {0}: {1}")]
    Invalid(u64, &'static str),
    /// The log differs from a head this client verified before.
    #[error("log forked at entry {0}: it differs from the verified checkpoint")]
    Fork(u64),
}

/// A member's role in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Full control, including over other owners.
    Owner = 1,
    /// Invites, confirms, removes members (not owners), changes policy.
    Admin = 2,
    /// Reads and writes items; may vouch if the policy allows.
    Member = 3,
}

impl Role {
    /// Owner or admin.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
    /// Lower-case name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
    fn from_u8(v: u8) -> Result<Self> {
        match v {
            1 => Ok(Role::Owner),
            2 => Ok(Role::Admin),
            3 => Ok(Role::Member),
            _ => Err(Error::Malformed("role")),
        }
    }
}

/// Who may vouch for a member who reset their password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoucherRule {
    /// Any active member holding the key (default).
    AnyMember = 1,
    /// Only owners and admins.
    AdminsOnly = 2,
}

/// The account's recovery and governance policy. Changed only by a [`EntryBody::PolicyChanged`]
/// entry signed by `admin_approvals` distinct admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Distinct eligible members who must vouch before a reseal (k, ≥ 1).
    pub vouch_quorum: u8,
    /// Seconds between the reset announcement and the earliest reseal.
    pub waiting_period_secs: u64,
    /// Who may vouch.
    pub vouchers: VoucherRule,
    /// Distinct admins who must sign a policy change or a worker grant (≥ 1).
    pub admin_approvals: u8,
}

impl Default for Policy {
    fn default() -> Self {
        Self { vouch_quorum: 1, waiting_period_secs: 0, vouchers: VoucherRule::AnyMember, admin_approvals: 1 }
    }
}

/// Longest accepted waiting period: 30 days.
pub const MAX_WAITING_PERIOD: u64 = 30 * 24 * 3600;

impl Policy {
    /// Range checks.
    pub fn validate(&self) -> Result<()> {
        if self.vouch_quorum == 0 || self.vouch_quorum > 16 {
            return Err(Error::Invalid("vouch quorum must be 1 to 16"));
        }
        if self.admin_approvals == 0 || self.admin_approvals > 8 {
            return Err(Error::Invalid("admin approvals must be 1 to 8"));
        }
        if self.waiting_period_secs > MAX_WAITING_PERIOD {
            return Err(Error::Invalid("waiting period longer than 30 days"));
        }
        Ok(())
    }
    fn write(&self, w: &mut Writer) {
        w.u8(self.vouch_quorum).u64(self.waiting_period_secs).u8(self.vouchers as u8).u8(self.admin_approvals);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let p = Self {
            vouch_quorum: r.u8()?,
            waiting_period_secs: r.u64()?,
            vouchers: match r.u8()? {
                1 => VoucherRule::AnyMember,
                2 => VoucherRule::AdminsOnly,
                _ => return Err(Error::Malformed("voucher rule")),
            },
            admin_approvals: r.u8()?,
        };
        p.validate()?;
        Ok(p)
    }
}

/// What a worker may do with the account's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerAccess {
    /// List and read.
    Read = 1,
    /// List, read and write.
    ReadWrite = 2,
}

/// The typed content of a log entry. The discriminant byte is given per variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryBody {
    /// 1 — account created; the author is the creator and first owner; key version 1.
    Genesis { creator: PublicIdentity, policy: Policy },
    /// 2 — an admin confirmed an invitee whose verification code they compared.
    MemberAdded { member: PublicIdentity, role: Role },
    /// 3 — an admin changed a member's role.
    RoleChanged { user_id: String, role: Role },
    /// 4 — a member was removed (or left); the account now requires a key rotation.
    MemberRemoved { user_id: String },
    /// 5 — a key version was sealed to an endorsed key; `sealed_hash` is [`crate::seal::Sealed::hash`].
    KeySealed { recipient: String, generation: u32, fingerprint: [u8; 32], key_version: u32, sealed_hash: [u8; 32] },
    /// 6 — a new master key version was made (by the author, who holds it).
    KeyRotated { key_version: u32 },
    /// 7 — a member reset their password; signed by the *new* key; the member awaits vouches.
    /// 13 — the same, naming the generation it replaces (`previous_generation`: the newest one
    /// the log knows for the member). Clients write 13; 7 (`None`) is read from older logs.
    ResetAnnounced { new_identity: PublicIdentity, previous_generation: Option<u32> },
    /// 8 — a colleague verified the new key out of band and vouches for exactly that key.
    Vouch { user_id: String, reset_hash: [u8; 32], new_fingerprint: [u8; 32] },
    /// 9 — an admin, or the member with their previous key, vetoes a pending reset.
    Veto { user_id: String, reset_hash: [u8; 32] },
    /// 10 — the policy changed (needs `admin_approvals` admin signatures under the current policy).
    PolicyChanged { policy: Policy },
    /// 11 — a backend worker was granted its own sealed copy of the key.
    WorkerGranted { worker: PublicIdentity, access: WorkerAccess },
    /// 12 — a worker was revoked; the account now requires a key rotation.
    WorkerRevoked { worker_id: String },
    /// 14 — every member must (or no longer must) have a second factor to read the account's
    /// items and keys (needs `admin_approvals` admin signatures, like a policy change). The
    /// server enforces it; clients show who is not compliant.
    SecondFactorPolicy { required: bool },
    /// 15 — an admin endorsed the account's inbox key `inbox_version` (X25519 `public_key`):
    /// third parties seal deposits to it ([`crate::inbox`]). Version 1 first, then one more per
    /// replacement; the newest is the one providers should use.
    InboxKey { inbox_version: u32, public_key: [u8; 32] },
}

impl EntryBody {
    /// The kind byte.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Genesis { .. } => 1,
            Self::MemberAdded { .. } => 2,
            Self::RoleChanged { .. } => 3,
            Self::MemberRemoved { .. } => 4,
            Self::KeySealed { .. } => 5,
            Self::KeyRotated { .. } => 6,
            Self::ResetAnnounced { previous_generation: None, .. } => 7,
            Self::ResetAnnounced { previous_generation: Some(_), .. } => 13,
            Self::Vouch { .. } => 8,
            Self::Veto { .. } => 9,
            Self::PolicyChanged { .. } => 10,
            Self::WorkerGranted { .. } => 11,
            Self::WorkerRevoked { .. } => 12,
            Self::SecondFactorPolicy { .. } => 14,
            Self::InboxKey { .. } => 15,
        }
    }

    /// Short name for display and the API.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Genesis { .. } => "genesis",
            Self::MemberAdded { .. } => "member_added",
            Self::RoleChanged { .. } => "role_changed",
            Self::MemberRemoved { .. } => "member_removed",
            Self::KeySealed { .. } => "key_sealed",
            Self::KeyRotated { .. } => "key_rotated",
            Self::ResetAnnounced { .. } => "reset_announced",
            Self::Vouch { .. } => "vouch",
            Self::Veto { .. } => "veto",
            Self::PolicyChanged { .. } => "policy_changed",
            Self::WorkerGranted { .. } => "worker_granted",
            Self::WorkerRevoked { .. } => "worker_revoked",
            Self::SecondFactorPolicy { .. } => "second_factor_policy",
            Self::InboxKey { .. } => "inbox_key",
        }
    }

    fn write(&self, w: &mut Writer) {
        w.u8(self.kind());
        match self {
            Self::Genesis { creator, policy } => {
                creator.write(w);
                policy.write(w);
            }
            Self::MemberAdded { member, role } => {
                member.write(w);
                w.u8(*role as u8);
            }
            Self::RoleChanged { user_id, role } => {
                w.str(user_id).u8(*role as u8);
            }
            Self::MemberRemoved { user_id } => {
                w.str(user_id);
            }
            Self::KeySealed { recipient, generation, fingerprint, key_version, sealed_hash } => {
                w.str(recipient).u32(*generation).raw(fingerprint).u32(*key_version).raw(sealed_hash);
            }
            Self::KeyRotated { key_version } => {
                w.u32(*key_version);
            }
            Self::ResetAnnounced { new_identity, previous_generation } => {
                new_identity.write(w);
                if let Some(g) = previous_generation {
                    w.u32(*g);
                }
            }
            Self::Vouch { user_id, reset_hash, new_fingerprint } => {
                w.str(user_id).raw(reset_hash).raw(new_fingerprint);
            }
            Self::Veto { user_id, reset_hash } => {
                w.str(user_id).raw(reset_hash);
            }
            Self::PolicyChanged { policy } => policy.write(w),
            Self::WorkerGranted { worker, access } => {
                worker.write(w);
                w.u8(*access as u8);
            }
            Self::WorkerRevoked { worker_id } => {
                w.str(worker_id);
            }
            Self::SecondFactorPolicy { required } => {
                w.u8(u8::from(*required));
            }
            Self::InboxKey { inbox_version, public_key } => {
                w.u32(*inbox_version).raw(public_key);
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(match r.u8()? {
            1 => Self::Genesis { creator: PublicIdentity::read(r)?, policy: Policy::read(r)? },
            2 => Self::MemberAdded { member: PublicIdentity::read(r)?, role: Role::from_u8(r.u8()?)? },
            3 => Self::RoleChanged { user_id: r.id()?, role: Role::from_u8(r.u8()?)? },
            4 => Self::MemberRemoved { user_id: r.id()? },
            5 => Self::KeySealed {
                recipient: r.id()?,
                generation: r.u32()?,
                fingerprint: r.array()?,
                key_version: r.u32()?,
                sealed_hash: r.array()?,
            },
            6 => Self::KeyRotated { key_version: r.u32()? },
            7 => Self::ResetAnnounced { new_identity: PublicIdentity::read(r)?, previous_generation: None },
            13 => Self::ResetAnnounced { new_identity: PublicIdentity::read(r)?, previous_generation: Some(r.u32()?) },
            8 => Self::Vouch { user_id: r.id()?, reset_hash: r.array()?, new_fingerprint: r.array()? },
            9 => Self::Veto { user_id: r.id()?, reset_hash: r.array()? },
            10 => Self::PolicyChanged { policy: Policy::read(r)? },
            11 => Self::WorkerGranted {
                worker: PublicIdentity::read(r)?,
                access: match r.u8()? {
                    1 => WorkerAccess::Read,
                    2 => WorkerAccess::ReadWrite,
                    _ => return Err(Error::Malformed("worker access")),
                },
            },
            12 => Self::WorkerRevoked { worker_id: r.id()? },
            14 => Self::SecondFactorPolicy {
                required: match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(Error::Malformed("second factor policy")),
                },
            },
            15 => Self::InboxKey { inbox_version: r.u32()?, public_key: r.array()? },
            v => return Err(Error::UnsupportedVersion { what: "log entry kind", version: v }),
        })
    }
}

/// An additional signature by another admin over the same signing input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoSignature {
    /// Co-signer.
    pub user_id: String,
    /// Co-signer's key generation.
    pub generation: u32,
    /// Ed25519 signature over [`LogEntry::signing_input`].
    pub signature: [u8; 64],
}

/// Position and hash of the last entry of a (verified) log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHead {
    /// Sequence number of the last entry (genesis = 0).
    pub seq: u64,
    /// Its hash.
    pub hash: [u8; 32],
}

/// One signed entry of a team log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Account the entry belongs to.
    pub account_id: String,
    /// Position; genesis is 0.
    pub seq: u64,
    /// Hash of entry `seq - 1` (all zero for genesis).
    pub prev_hash: [u8; 32],
    /// Author's user id.
    pub author: String,
    /// Author's key generation (the key that signed).
    pub author_generation: u32,
    /// Author's clock, Unix seconds; never decreases along the chain.
    pub timestamp: u64,
    /// Content.
    pub body: EntryBody,
    /// Further admin signatures, for entries the policy requires several admins to sign.
    pub cosignatures: Vec<CoSignature>,
    /// The author's signature over [`Self::signing_input`].
    pub signature: [u8; 64],
}

impl LogEntry {
    fn write_unsigned(&self, w: &mut Writer) {
        w.u8(FORMAT_V1)
            .str(&self.account_id)
            .u64(self.seq)
            .raw(&self.prev_hash)
            .str(&self.author)
            .u32(self.author_generation)
            .u64(self.timestamp);
        self.body.write(w);
    }

    /// `"vouchsafe/v1/log-entry\0" ‖ unsigned encoding` — what the author and co-signers sign.
    pub fn signing_input(&self) -> Vec<u8> {
        let mut w = Writer::with_label("vouchsafe/v1/log-entry");
        self.write_unsigned(&mut w);
        w.finish()
    }

    /// Wire encoding: unsigned part ‖ u8 n ‖ n × (str(user) ‖ u32 gen ‖ sig[64]) ‖ sig[64].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write_unsigned(&mut w);
        w.u8(u8::try_from(self.cosignatures.len()).unwrap_or(u8::MAX));
        for c in self.cosignatures.iter().take(usize::from(u8::MAX)) {
            w.str(&c.user_id).u32(c.generation).raw(&c.signature);
        }
        w.raw(&self.signature);
        w.finish()
    }

    /// Decodes (structure only; [`TeamState`] verifies signatures and authority).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(Error::Malformed("log entry too long"));
        }
        let mut r = Reader::new(bytes, "log entry");
        r.version(FORMAT_V1)?;
        let account_id = r.id()?;
        let seq = r.u64()?;
        let prev_hash = r.array()?;
        let author = r.id()?;
        let author_generation = r.u32()?;
        let timestamp = r.u64()?;
        let body = EntryBody::read(&mut r)?;
        let n = usize::from(r.u8()?);
        if n > MAX_COSIGNATURES {
            return Err(Error::Malformed("too many co-signatures"));
        }
        let mut cosignatures = Vec::with_capacity(n);
        for _ in 0..n {
            cosignatures.push(CoSignature { user_id: r.id()?, generation: r.u32()?, signature: r.array()? });
        }
        let signature = r.array()?;
        r.finish()?;
        Ok(Self { account_id, seq, prev_hash, author, author_generation, timestamp, body, cosignatures, signature })
    }

    /// `SHA-256("vouchsafe/v1/log-hash\0" ‖ wire encoding)`; the next entry's `prev_hash`.
    pub fn hash(&self) -> [u8; 32] {
        sha256(&[b"vouchsafe/v1/log-hash\0", &self.to_bytes()])
    }

    /// Builds and signs an entry that follows `prev` (None for genesis).
    pub fn create(
        account_id: &str,
        prev: Option<LogHead>,
        author: &Keyring,
        timestamp: u64,
        body: EntryBody,
    ) -> Result<Self> {
        validate_id(account_id)?;
        let (seq, prev_hash) = match prev {
            None => (0, [0u8; 32]),
            Some(h) => (h.seq.checked_add(1).ok_or(Error::Invalid("log full"))?, h.hash),
        };
        let mut e = Self {
            account_id: account_id.to_owned(),
            seq,
            prev_hash,
            author: author.user_id().to_owned(),
            author_generation: author.generation(),
            timestamp,
            body,
            cosignatures: Vec::new(),
            signature: [0; 64],
        };
        e.signature = author.sign(&e.signing_input());
        if e.to_bytes().len() > MAX_ENTRY_LEN {
            return Err(Error::Invalid("log entry too long"));
        }
        Ok(e)
    }

    /// Adds `cosigner`'s signature.
    pub fn cosign(&mut self, cosigner: &Keyring) {
        let signature = cosigner.sign(&self.signing_input());
        self.cosignatures.push(CoSignature {
            user_id: cosigner.user_id().to_owned(),
            generation: cosigner.generation(),
            signature,
        });
    }
}

/// How many admins signed a proposal, and how many the current policy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approvals {
    /// The author and the co-signers (all distinct active admins).
    pub have: usize,
    /// The policy's `admin_approvals`.
    pub needed: usize,
}

impl Approvals {
    /// Whether the entry can be appended as it is.
    pub fn complete(&self) -> bool {
        self.have >= self.needed
    }
}

/// Where a member stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberStatus {
    /// Uses `identity`; may hold the key.
    Active,
    /// Announced a reset to `pending.new_identity`; waits for vouches.
    AwaitingVouch(PendingReset),
}

/// A reset in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReset {
    /// The new keys the vouches must bind.
    pub new_identity: PublicIdentity,
    /// Hash of the `ResetAnnounced` entry (the request the vouches name).
    pub reset_hash: [u8; 32],
    /// Its timestamp (start of the waiting period).
    pub announced_at: u64,
    /// Distinct vouchers so far.
    pub vouchers: BTreeSet<String>,
    /// Vetoed: no reseal possible; the member must start over.
    pub vetoed: bool,
    /// The generation the announcement replaces (named in the entry since kind 13).
    pub replaces_generation: u32,
}

/// A member as the verified log describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The endorsed (current) public identity.
    pub identity: PublicIdentity,
    /// Role.
    pub role: Role,
    /// Status.
    pub status: MemberStatus,
}

/// A worker as the verified log describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// The worker's public keys.
    pub identity: PublicIdentity,
    /// What it may do.
    pub access: WorkerAccess,
}

/// Whether a seal target is endorsed, and as what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealTarget {
    /// An active member's current key.
    ActiveMember,
    /// A reset member's new key whose vouch quorum and waiting period are met (a reseal).
    Reseal,
    /// A granted worker.
    Worker,
}

/// The state a verified log yields.
#[derive(Debug, Clone)]
pub struct TeamState {
    account_id: String,
    hashes: Vec<[u8; 32]>,
    last_timestamp: u64,
    members: BTreeMap<String, Member>,
    workers: BTreeMap<String, Worker>,
    key_version: u32,
    rotation_required: bool,
    second_factor_required: bool,
    /// Endorsed inbox public keys by inbox version.
    inbox_keys: BTreeMap<u32, [u8; 32]>,
    policy: Policy,
    /// (holder, key version) pairs the log endorses as holding that key version.
    holders: BTreeSet<(String, u32)>,
    /// Every identity the log ever endorsed, by (id, generation): checks old seals by members
    /// who have since been removed or reset.
    known: BTreeMap<(String, u32), PublicIdentity>,
}

impl TeamState {
    /// Verifies a whole log, from genesis.
    pub fn replay(account_id: &str, entries: &[LogEntry]) -> Result<Self, LogError> {
        let (first, rest) = entries.split_first().ok_or(LogError::BrokenChain(0))?;
        let mut state = Self::genesis(account_id, first)?;
        for e in rest {
            state.apply(e)?;
        }
        Ok(state)
    }

    /// Verifies a whole log and checks that it extends a head this client verified earlier.
    pub fn replay_extending(account_id: &str, entries: &[LogEntry], checkpoint: LogHead) -> Result<Self, LogError> {
        let state = Self::replay(account_id, entries)?;
        match state.hash_at(checkpoint.seq) {
            Some(h) if h == checkpoint.hash => Ok(state),
            _ => Err(LogError::Fork(checkpoint.seq)),
        }
    }

    fn genesis(account_id: &str, e: &LogEntry) -> Result<Self, LogError> {
        let seq = e.seq;
        if e.account_id != account_id {
            return Err(LogError::WrongAccount(seq));
        }
        if e.seq != 0 || e.prev_hash != [0; 32] {
            return Err(LogError::BrokenChain(seq));
        }
        let EntryBody::Genesis { creator, policy } = &e.body else {
            return Err(LogError::Invalid(seq, "the first entry must be the genesis"));
        };
        if creator.user_id != e.author || creator.generation != e.author_generation {
            return Err(LogError::Unauthorized(seq, "genesis must be signed by its creator"));
        }
        creator.verify(&e.signing_input(), &e.signature).map_err(|_| LogError::BadSignature(seq))?;
        if !e.cosignatures.is_empty() {
            return Err(LogError::Invalid(seq, "genesis takes no co-signatures"));
        }
        let mut members = BTreeMap::new();
        members.insert(
            creator.user_id.clone(),
            Member { identity: creator.clone(), role: Role::Owner, status: MemberStatus::Active },
        );
        let mut holders = BTreeSet::new();
        holders.insert((creator.user_id.clone(), 1));
        let mut known = BTreeMap::new();
        known.insert((creator.user_id.clone(), creator.generation), creator.clone());
        Ok(Self {
            known,
            account_id: account_id.to_owned(),
            hashes: vec![e.hash()],
            last_timestamp: e.timestamp,
            members,
            workers: BTreeMap::new(),
            key_version: 1,
            rotation_required: false,
            second_factor_required: false,
            inbox_keys: BTreeMap::new(),
            policy: *policy,
            holders,
        })
    }

    /// The head of the verified log.
    pub fn head(&self) -> LogHead {
        LogHead {
            seq: (self.hashes.len() as u64).saturating_sub(1),
            hash: self.hashes.last().copied().unwrap_or([0; 32]),
        }
    }
    /// Hash of the entry at `seq`, if the log is that long.
    pub fn hash_at(&self, seq: u64) -> Option<[u8; 32]> {
        usize::try_from(seq).ok().and_then(|i| self.hashes.get(i)).copied()
    }
    /// The head at the entry whose hash is `hash` (the newest, if several), if it is in the log.
    pub fn head_at_hash(&self, hash: &[u8; 32]) -> Option<LogHead> {
        self.hashes.iter().rposition(|h| h == hash).map(|i| LogHead { seq: i as u64, hash: *hash })
    }
    /// Account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
    /// Current master key version.
    pub fn key_version(&self) -> u32 {
        self.key_version
    }
    /// Whether a member or worker was removed since the last rotation.
    pub fn rotation_required(&self) -> bool {
        self.rotation_required
    }
    /// Recovery and governance policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    /// Whether every member must have a second factor (the last `second_factor_policy` entry).
    pub fn second_factor_required(&self) -> bool {
        self.second_factor_required
    }
    /// Every inbox key the log endorsed, by inbox version.
    pub fn inbox_keys(&self) -> &BTreeMap<u32, [u8; 32]> {
        &self.inbox_keys
    }
    /// The newest endorsed inbox key, if the account has one.
    pub fn inbox_key(&self) -> Option<crate::inbox::InboxKey> {
        self.inbox_keys.iter().next_back().map(|(v, pk)| crate::inbox::InboxKey { version: *v, public: *pk })
    }
    /// Members by user id.
    pub fn members(&self) -> &BTreeMap<String, Member> {
        &self.members
    }
    /// One member.
    pub fn member(&self, user_id: &str) -> Option<&Member> {
        self.members.get(user_id)
    }
    /// Workers by id.
    pub fn workers(&self) -> &BTreeMap<String, Worker> {
        &self.workers
    }
    /// Whether the log endorses `user_id` as holding `key_version`.
    pub fn holds(&self, user_id: &str, key_version: u32) -> bool {
        self.holders.contains(&(user_id.to_owned(), key_version))
    }
    /// An identity the log endorsed at some point (current or past), e.g. the sealer of an old seal.
    pub fn identity(&self, user_id: &str, generation: u32) -> Option<&PublicIdentity> {
        self.known.get(&(user_id.to_owned(), generation))
    }
    /// Timestamp of the last entry.
    pub fn last_timestamp(&self) -> u64 {
        self.last_timestamp
    }

    /// The endorsed identity of an *active* member or worker that signs with `generation`.
    fn active_signer(&self, user_id: &str, generation: u32) -> Option<(&PublicIdentity, Option<Role>)> {
        if let Some(m) = self.members.get(user_id) {
            if m.status == MemberStatus::Active && m.identity.generation == generation {
                return Some((&m.identity, Some(m.role)));
            }
            return None;
        }
        self.workers.get(user_id).filter(|w| w.identity.generation == generation).map(|w| (&w.identity, None))
    }

    fn owners(&self) -> usize {
        self.members.values().filter(|m| m.role == Role::Owner).count()
    }

    /// Whether a client may seal key `key_version` to `target` at time `now`, per the verified log.
    pub fn check_seal_recipient(
        &self,
        target: &PublicIdentity,
        key_version: u32,
        now: u64,
    ) -> Result<SealTarget, LogError> {
        let seq = self.head().seq.saturating_add(1);
        if key_version == 0 || key_version > self.key_version {
            return Err(LogError::Invalid(seq, "no such key version"));
        }
        let fp = target.fingerprint();
        if let Some(m) = self.members.get(&target.user_id) {
            return match &m.status {
                MemberStatus::Active if m.identity == *target => Ok(SealTarget::ActiveMember),
                MemberStatus::Active => Err(LogError::UnendorsedKey(seq, "not the member's endorsed key")),
                MemberStatus::AwaitingVouch(p) => {
                    if p.new_identity.fingerprint() != fp || p.new_identity != *target {
                        return Err(LogError::UnendorsedKey(seq, "not the key the reset announced"));
                    }
                    if p.vetoed {
                        return Err(LogError::Unauthorized(seq, "the reset was vetoed"));
                    }
                    if p.vouchers.len() < usize::from(self.policy.vouch_quorum) {
                        return Err(LogError::Unauthorized(seq, "vouch quorum not met"));
                    }
                    if now < p.announced_at.saturating_add(self.policy.waiting_period_secs) {
                        return Err(LogError::Unauthorized(seq, "waiting period not over"));
                    }
                    Ok(SealTarget::Reseal)
                }
            };
        }
        match self.workers.get(&target.user_id) {
            Some(w) if w.identity == *target => Ok(SealTarget::Worker),
            Some(_) => Err(LogError::UnendorsedKey(seq, "not the worker's granted key")),
            None => Err(LogError::UnendorsedKey(seq, "not a member or worker of this account")),
        }
    }

    /// Checks a **proposal**: an entry of a kind that needs several admins' signatures
    /// (`policy_changed`, `worker_granted`) which may still lack co-signatures. Everything
    /// [`Self::apply`] checks is checked — chain position, author, every co-signature present —
    /// except the number of admin signatures, which is returned beside the number needed.
    pub fn check_proposal(&self, e: &LogEntry) -> Result<Approvals, LogError> {
        if !matches!(
            e.body,
            EntryBody::PolicyChanged { .. } | EntryBody::WorkerGranted { .. } | EntryBody::SecondFactorPolicy { .. }
        ) {
            return Err(LogError::Invalid(e.seq, "only policy changes and worker grants are co-signed"));
        }
        let mut relaxed = self.clone();
        relaxed.policy.admin_approvals = 1;
        relaxed.apply(e)?;
        // `apply` checked that the author and every co-signer are distinct active admins.
        Ok(Approvals { have: 1 + e.cosignatures.len(), needed: usize::from(self.policy.admin_approvals) })
    }

    /// Verifies and applies the next entry.
    pub fn apply(&mut self, e: &LogEntry) -> Result<(), LogError> {
        let head = self.head();
        let seq = e.seq;
        if e.account_id != self.account_id {
            return Err(LogError::WrongAccount(seq));
        }
        if e.seq != head.seq.saturating_add(1) || e.prev_hash != head.hash {
            return Err(LogError::BrokenChain(seq));
        }
        if e.timestamp < self.last_timestamp {
            return Err(LogError::Invalid(seq, "timestamp earlier than the previous entry"));
        }
        let input = e.signing_input();

        // Who signed: a reset announcement is signed by the *new* key in its body; everything
        // else by the author's endorsed, active key (a member's old key may also veto).
        let author_role = match &e.body {
            EntryBody::Genesis { .. } => return Err(LogError::Invalid(seq, "a second genesis")),
            EntryBody::ResetAnnounced { new_identity, .. } => {
                if new_identity.user_id != e.author || new_identity.generation != e.author_generation {
                    return Err(LogError::Unauthorized(seq, "a reset is signed by the member's new key"));
                }
                new_identity.verify(&input, &e.signature).map_err(|_| LogError::BadSignature(seq))?;
                None
            }
            EntryBody::Veto { user_id, .. } if *user_id == e.author => {
                let m = self.members.get(user_id).ok_or(LogError::Unauthorized(seq, "not a member"))?;
                if m.identity.generation != e.author_generation {
                    return Err(LogError::UnendorsedKey(seq, "veto not signed by the member's endorsed key"));
                }
                m.identity.verify(&input, &e.signature).map_err(|_| LogError::BadSignature(seq))?;
                Some(m.role)
            }
            _ => {
                let (id, role) = self
                    .active_signer(&e.author, e.author_generation)
                    .ok_or(LogError::UnendorsedKey(seq, "author is not an active member with that key"))?;
                id.verify(&input, &e.signature).map_err(|_| LogError::BadSignature(seq))?;
                role
            }
        };

        // Co-signatures: distinct active admins other than the author.
        let mut admin_signers: BTreeSet<&str> = BTreeSet::new();
        if author_role.is_some_and(Role::is_admin) {
            admin_signers.insert(&e.author);
        }
        for c in &e.cosignatures {
            let m = self.members.get(&c.user_id).ok_or(LogError::Unauthorized(seq, "co-signer is not a member"))?;
            if m.status != MemberStatus::Active || m.identity.generation != c.generation || !m.role.is_admin() {
                return Err(LogError::Unauthorized(seq, "co-signer is not an active admin with that key"));
            }
            if c.user_id == e.author || !admin_signers.insert(&c.user_id) {
                return Err(LogError::Invalid(seq, "duplicate co-signer"));
            }
            m.identity.verify(&input, &c.signature).map_err(|_| LogError::BadSignature(seq))?;
        }
        let admin_signatures = admin_signers.len();
        let require_admin = |what: &'static str| -> Result<Role, LogError> {
            match author_role {
                Some(r) if r.is_admin() => Ok(r),
                _ => Err(LogError::Unauthorized(seq, what)),
            }
        };

        match &e.body {
            EntryBody::Genesis { .. } => return Err(LogError::Invalid(seq, "a second genesis")),
            EntryBody::MemberAdded { member, role } => {
                let author = require_admin("only admins add members")?;
                if *role == Role::Owner && author != Role::Owner {
                    return Err(LogError::Unauthorized(seq, "only owners add owners"));
                }
                if self.members.contains_key(&member.user_id) || self.workers.contains_key(&member.user_id) {
                    return Err(LogError::Invalid(seq, "already a member or worker"));
                }
                self.members.insert(
                    member.user_id.clone(),
                    Member { identity: member.clone(), role: *role, status: MemberStatus::Active },
                );
                self.known.insert((member.user_id.clone(), member.generation), member.clone());
            }
            EntryBody::RoleChanged { user_id, role } => {
                let author = require_admin("only admins change roles")?;
                let current = self.members.get(user_id).ok_or(LogError::Invalid(seq, "no such member"))?.role;
                if (current == Role::Owner || *role == Role::Owner) && author != Role::Owner {
                    return Err(LogError::Unauthorized(seq, "only owners grant or take the owner role"));
                }
                if current == Role::Owner && *role != Role::Owner && self.owners() <= 1 {
                    return Err(LogError::Invalid(seq, "an account keeps at least one owner"));
                }
                if let Some(m) = self.members.get_mut(user_id) {
                    m.role = *role;
                }
            }
            EntryBody::MemberRemoved { user_id } => {
                let target = self.members.get(user_id).ok_or(LogError::Invalid(seq, "no such member"))?.role;
                if *user_id != e.author {
                    let author = require_admin("only admins remove others")?;
                    if target == Role::Owner && author != Role::Owner {
                        return Err(LogError::Unauthorized(seq, "only owners remove owners"));
                    }
                }
                if target == Role::Owner && self.owners() <= 1 {
                    return Err(LogError::Invalid(seq, "an account keeps at least one owner"));
                }
                self.members.remove(user_id);
                self.holders.retain(|(u, _)| u != user_id);
                self.rotation_required = true;
            }
            EntryBody::KeySealed { recipient, generation, fingerprint, key_version, .. } => {
                if !self.holds(&e.author, *key_version) {
                    return Err(LogError::Unauthorized(seq, "the sealer does not hold that key version"));
                }
                let target = self
                    .endorsed_identity(recipient, *generation, fingerprint)
                    .ok_or(LogError::UnendorsedKey(seq, "seal to a key the log does not endorse"))?;
                match self.check_seal_recipient(&target, *key_version, e.timestamp).map_err(|err| relabel(err, seq))? {
                    SealTarget::Reseal => {
                        self.known.insert((recipient.clone(), target.generation), target.clone());
                        if let Some(m) = self.members.get_mut(recipient) {
                            m.identity = target;
                            m.status = MemberStatus::Active;
                        }
                    }
                    SealTarget::ActiveMember | SealTarget::Worker => {}
                }
                self.holders.insert((recipient.clone(), *key_version));
            }
            EntryBody::KeyRotated { key_version } => {
                require_admin("only admins rotate keys")?;
                if *key_version != self.key_version.saturating_add(1) {
                    return Err(LogError::Invalid(seq, "a rotation makes exactly the next key version"));
                }
                self.key_version = *key_version;
                self.rotation_required = false;
                self.holders.insert((e.author.clone(), *key_version));
            }
            EntryBody::ResetAnnounced { new_identity, previous_generation } => {
                let m =
                    self.members.get_mut(&new_identity.user_id).ok_or(LogError::Unauthorized(seq, "not a member"))?;
                let floor = match &m.status {
                    MemberStatus::AwaitingVouch(p) => p.new_identity.generation.max(m.identity.generation),
                    MemberStatus::Active => m.identity.generation,
                };
                if new_identity.generation <= floor {
                    return Err(LogError::Invalid(seq, "a reset must announce a newer key generation"));
                }
                if previous_generation.is_some_and(|g| g != floor) {
                    return Err(LogError::Invalid(seq, "a reset must name the generation it replaces"));
                }
                m.status = MemberStatus::AwaitingVouch(PendingReset {
                    replaces_generation: floor,
                    new_identity: new_identity.clone(),
                    reset_hash: e.hash(),
                    announced_at: e.timestamp,
                    vouchers: BTreeSet::new(),
                    vetoed: false,
                });
                let uid = new_identity.user_id.clone();
                self.holders.retain(|(u, _)| *u != uid);
            }
            EntryBody::Vouch { user_id, reset_hash, new_fingerprint } => {
                let voucher_role = author_role.ok_or(LogError::Unauthorized(seq, "workers do not vouch"))?;
                if self.policy.vouchers == VoucherRule::AdminsOnly && !voucher_role.is_admin() {
                    return Err(LogError::Unauthorized(seq, "the policy lets only admins vouch"));
                }
                if !self.holds(&e.author, self.key_version) {
                    return Err(LogError::Unauthorized(seq, "a voucher must hold the current key"));
                }
                if *user_id == e.author {
                    return Err(LogError::Unauthorized(seq, "nobody vouches for themselves"));
                }
                let m = self.members.get_mut(user_id).ok_or(LogError::Invalid(seq, "no such member"))?;
                let MemberStatus::AwaitingVouch(p) = &mut m.status else {
                    return Err(LogError::VouchMismatch(seq));
                };
                if p.reset_hash != *reset_hash || p.new_identity.fingerprint().0 != *new_fingerprint {
                    return Err(LogError::VouchMismatch(seq));
                }
                if p.vetoed {
                    return Err(LogError::Invalid(seq, "the reset was vetoed"));
                }
                if !p.vouchers.insert(e.author.clone()) {
                    return Err(LogError::Invalid(seq, "a member vouches once per reset"));
                }
            }
            EntryBody::Veto { user_id, reset_hash } => {
                if *user_id != e.author {
                    require_admin("only admins or the member veto a reset")?;
                }
                let m = self.members.get_mut(user_id).ok_or(LogError::Invalid(seq, "no such member"))?;
                let MemberStatus::AwaitingVouch(p) = &mut m.status else {
                    return Err(LogError::Invalid(seq, "no pending reset"));
                };
                if p.reset_hash != *reset_hash {
                    return Err(LogError::Invalid(seq, "veto names another reset"));
                }
                p.vetoed = true;
            }
            EntryBody::PolicyChanged { policy } => {
                require_admin("only admins change the policy")?;
                if admin_signatures < usize::from(self.policy.admin_approvals) {
                    return Err(LogError::Unauthorized(seq, "not enough admin signatures for a policy change"));
                }
                self.policy = *policy;
            }
            EntryBody::SecondFactorPolicy { required } => {
                require_admin("only admins set the second-factor policy")?;
                if admin_signatures < usize::from(self.policy.admin_approvals) {
                    return Err(LogError::Unauthorized(seq, "not enough admin signatures for a policy change"));
                }
                self.second_factor_required = *required;
            }
            EntryBody::InboxKey { inbox_version, public_key } => {
                require_admin("only admins endorse an inbox key")?;
                let next = self.inbox_keys.keys().next_back().map_or(1, |v| v.saturating_add(1));
                if *inbox_version != next {
                    return Err(LogError::Invalid(seq, "an inbox key takes exactly the next inbox version"));
                }
                if *public_key == [0; 32] || self.inbox_keys.values().any(|k| k == public_key) {
                    return Err(LogError::Invalid(seq, "an inbox key must be a fresh X25519 key"));
                }
                self.inbox_keys.insert(*inbox_version, *public_key);
            }
            EntryBody::WorkerGranted { worker, .. } => {
                require_admin("only admins grant workers")?;
                if admin_signatures < usize::from(self.policy.admin_approvals) {
                    return Err(LogError::Unauthorized(seq, "not enough admin signatures for a worker grant"));
                }
                if self.members.contains_key(&worker.user_id) || self.workers.contains_key(&worker.user_id) {
                    return Err(LogError::Invalid(seq, "id already in use"));
                }
                if let EntryBody::WorkerGranted { worker, access } = &e.body {
                    self.workers.insert(worker.user_id.clone(), Worker { identity: worker.clone(), access: *access });
                    self.known.insert((worker.user_id.clone(), worker.generation), worker.clone());
                }
            }
            EntryBody::WorkerRevoked { worker_id } => {
                require_admin("only admins revoke workers")?;
                if self.workers.remove(worker_id).is_none() {
                    return Err(LogError::Invalid(seq, "no such worker"));
                }
                self.holders.retain(|(u, _)| u != worker_id);
                self.rotation_required = true;
            }
        }
        self.hashes.push(e.hash());
        self.last_timestamp = e.timestamp;
        Ok(())
    }

    fn endorsed_identity(&self, user_id: &str, generation: u32, fingerprint: &[u8; 32]) -> Option<PublicIdentity> {
        let candidate = if let Some(m) = self.members.get(user_id) {
            match &m.status {
                MemberStatus::AwaitingVouch(p) if p.new_identity.generation == generation => p.new_identity.clone(),
                _ => m.identity.clone(),
            }
        } else {
            self.workers.get(user_id)?.identity.clone()
        };
        (candidate.generation == generation && candidate.fingerprint() == Fingerprint(*fingerprint))
            .then_some(candidate)
    }
}

fn relabel(err: LogError, seq: u64) -> LogError {
    match err {
        LogError::Unauthorized(_, m) => LogError::Unauthorized(seq, m),
        LogError::UnendorsedKey(_, m) => LogError::UnendorsedKey(seq, m),
        LogError::Invalid(_, m) => LogError::Invalid(seq, m),
        other => other,
    }
}
