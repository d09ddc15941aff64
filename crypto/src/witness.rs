//! Witnessing the team log: members' signed checkpoints and the team history code.
//!
//! A client that verified an account's log up to `head` signs a [`Checkpoint`] —
//! `(account, signer, generation, seq, head hash, time)` — and uploads it; the server keeps each
//! member's latest. Every client checks every checkpoint signed by a key its own verified log
//! endorses against its own chain ([`TeamState::witness`]): the two heads must lie on one chain.
//! A server that shows two members two different histories (a fork) is then caught by the first
//! of them to see the other's checkpoint; one that shows a member fewer entries than another
//! verified is caught the same way (the checkpoint names a position the member cannot reach).
//!
//! The proof that one head extends another is the hash chain itself: for a checkpoint at or below
//! the client's head it is one comparison (`hash_at(seq)`), for one above it the entries between
//! the two heads, which the client fetches and verifies anyway to stay current. No client needs
//! another's log, and no request needs the whole log.
//!
//! The [`HistoryCode`] is a short digest of a verified head that two people compare during the
//! calls that already compare identities (confirming an invitee, vouching for a reset), so the
//! people, not only their clients, see one history.

use crate::encoding::{Reader, Writer};
use crate::identity::{Keyring, PublicIdentity};
use crate::log::{LogHead, TeamState};
use crate::{Error, FORMAT_V1, Result, sha256, validate_id};

/// Largest encoded checkpoint accepted (ids are at most 64 bytes each).
pub const MAX_CHECKPOINT_LEN: usize = 320;

/// A member's signed statement that they verified `account_id`'s log up to `head` at `time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Account.
    pub account_id: String,
    /// Signer (member or worker id).
    pub user_id: String,
    /// Signer's key generation.
    pub generation: u32,
    /// The verified head.
    pub head: LogHead,
    /// Signer's clock, Unix seconds.
    pub time: u64,
    /// Ed25519 signature over [`Self::signing_input`].
    pub signature: [u8; 64],
}

impl Checkpoint {
    fn write_unsigned(&self, w: &mut Writer) {
        w.u8(FORMAT_V1)
            .str(&self.account_id)
            .str(&self.user_id)
            .u32(self.generation)
            .u64(self.head.seq)
            .raw(&self.head.hash)
            .u64(self.time);
    }

    /// `"vouchsafe/v1/checkpoint\0" ‖ unsigned encoding`.
    pub fn signing_input(&self) -> Vec<u8> {
        let mut w = Writer::with_label("vouchsafe/v1/checkpoint");
        self.write_unsigned(&mut w);
        w.finish()
    }

    /// Signs `head` of `account_id` as verified by `signer` at `time`.
    pub fn sign(account_id: &str, head: LogHead, time: u64, signer: &Keyring) -> Result<Self> {
        validate_id(account_id)?;
        let mut c = Self {
            account_id: account_id.to_owned(),
            user_id: signer.user_id().to_owned(),
            generation: signer.generation(),
            head,
            time,
            signature: [0; 64],
        };
        c.signature = signer.sign(&c.signing_input());
        Ok(c)
    }

    /// Wire encoding: `u8 1 ‖ str(account) ‖ str(user) ‖ u32 generation ‖ u64 seq ‖ hash[32] ‖
    /// u64 time ‖ sig[64]`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write_unsigned(&mut w);
        w.raw(&self.signature);
        w.finish()
    }

    /// Decodes (structure only; [`Self::verify`] checks the signature).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_CHECKPOINT_LEN {
            return Err(Error::Malformed("checkpoint too long"));
        }
        let mut r = Reader::new(bytes, "checkpoint");
        r.version(FORMAT_V1)?;
        let c = Self {
            account_id: r.id()?,
            user_id: r.id()?,
            generation: r.u32()?,
            head: LogHead { seq: r.u64()?, hash: r.array()? },
            time: r.u64()?,
            signature: r.array()?,
        };
        r.finish()?;
        Ok(c)
    }

    /// Checks that `signer` — the identity this checkpoint names — signed it.
    pub fn verify(&self, signer: &PublicIdentity) -> Result<()> {
        if signer.user_id != self.user_id || signer.generation != self.generation {
            return Err(Error::Invalid("checkpoint names another key"));
        }
        signer.verify(&self.signing_input(), &self.signature)
    }
}

/// How another member's head relates to this client's verified chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Witness {
    /// Their head is an entry of our chain: one history.
    OnOurChain,
    /// Their head is beyond ours: fetch the entries up to it, then ask again. If the server
    /// will not serve them, it withholds entries another member verified.
    Ahead,
    /// Their head is not on our chain: the server showed the two of us different histories.
    Fork {
        /// Our hash at their position.
        ours: [u8; 32],
    },
}

impl TeamState {
    /// Where `head` (another member's checkpoint) stands against this verified chain.
    pub fn witness(&self, head: LogHead) -> Witness {
        match self.hash_at(head.seq) {
            Some(h) if h == head.hash => Witness::OnOurChain,
            Some(ours) => Witness::Fork { ours },
            None => Witness::Ahead,
        }
    }

    /// The identity that may sign checkpoints as `(user_id, generation)`: any key the log
    /// endorsed for a current member or worker, or a pending reset's announced key. (A key the
    /// log merely announced can only *raise* an alarm this way — a checkpoint never hides one —
    /// so accepting it costs at most a false alarm, which a server could cause anyway by
    /// refusing service.)
    pub fn checkpoint_signer(&self, user_id: &str, generation: u32) -> Option<&PublicIdentity> {
        if let Some(m) = self.member(user_id) {
            if let crate::log::MemberStatus::AwaitingVouch(p) = &m.status
                && p.new_identity.generation == generation
            {
                return Some(&p.new_identity);
            }
            return self.identity(user_id, generation);
        }
        self.workers().get(user_id).map(|w| &w.identity).filter(|w| w.generation == generation)
    }
}

/// Three groups of five digits (≈ 50 bits) naming one verified head of one account's log: two
/// people who read the same code saw the same history up to that entry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HistoryCode(String);

impl HistoryCode {
    /// `SHA-256("vouchsafe/v1/history-code\0" ‖ str(account) ‖ u64 seq ‖ hash)`: the first 8
    /// bytes as a big-endian `u64`, reduced mod 10^15, printed as 3 × 5 digits.
    pub fn of(account_id: &str, head: LogHead) -> Self {
        let mut w = Writer::with_label("vouchsafe/v1/history-code");
        w.str(account_id).u64(head.seq).raw(&head.hash);
        let d = sha256(&[w.as_slice()]);
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        Self(crate::digit_groups(u128::from(u64::from_be_bytes(first)), 3))
    }
    /// As displayed: `"01234 56789 01234"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Compares with what a person typed, ignoring separators.
    pub fn matches(&self, typed: &str) -> bool {
        crate::same_digits(&self.0, typed)
    }
}

impl core::fmt::Display for HistoryCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{EntryBody, LogEntry, Policy};

    fn chain(n: usize) -> (Keyring, Vec<LogEntry>, TeamState) {
        let alice = Keyring::from_secret_bytes("alice", 1, [1; 32], [2; 32]).unwrap();
        let g = LogEntry::create(
            "acct1",
            None,
            &alice,
            10,
            EntryBody::Genesis { creator: alice.public(), policy: Policy::default() },
        )
        .unwrap();
        let mut state = TeamState::replay("acct1", std::slice::from_ref(&g)).unwrap();
        let mut entries = vec![g];
        for i in 0..n {
            let e = LogEntry::create(
                "acct1",
                Some(state.head()),
                &alice,
                11 + i as u64,
                EntryBody::KeyRotated { key_version: 2 + i as u32 },
            )
            .unwrap();
            state.apply(&e).unwrap();
            entries.push(e);
        }
        (alice, entries, state)
    }

    #[test]
    fn checkpoints_round_trip_and_bind_every_field() {
        let (alice, _, state) = chain(2);
        let c = Checkpoint::sign("acct1", state.head(), 99, &alice).unwrap();
        let back = Checkpoint::from_bytes(&c.to_bytes()).unwrap();
        assert_eq!(back, c);
        back.verify(&alice.public()).unwrap();
        let bytes = c.to_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            if let Ok(t) = Checkpoint::from_bytes(&b) {
                assert!(t.verify(&alice.public()).is_err(), "byte {i} is not bound");
            }
        }
        let other = Keyring::from_secret_bytes("alice", 2, [3; 32], [4; 32]).unwrap();
        assert!(c.verify(&other.public()).is_err());
        assert!(Checkpoint::from_bytes(&[bytes.as_slice(), &[0]].concat()).is_err());
        assert!(Checkpoint::from_bytes(&vec![1; MAX_CHECKPOINT_LEN + 1]).is_err());
    }

    #[test]
    fn witness_tells_our_chain_from_a_fork_and_a_longer_log() {
        let (alice, entries, state) = chain(3);
        let (_, _, short) = chain(1);
        assert_eq!(state.witness(short.head()), Witness::OnOurChain);
        assert_eq!(short.witness(state.head()), Witness::Ahead);
        // A sibling of entry 2: same position, another hash.
        let mut prefix = TeamState::replay("acct1", &entries[..2]).unwrap();
        let sibling = LogEntry::create(
            "acct1",
            Some(prefix.head()),
            &alice,
            50,
            EntryBody::KeyRotated { key_version: prefix.key_version() + 1 },
        )
        .unwrap();
        prefix.apply(&sibling).unwrap();
        assert_eq!(state.witness(prefix.head()), Witness::Fork { ours: entries[2].hash() });
        assert!(matches!(prefix.witness(state.head()), Witness::Ahead));
    }

    #[test]
    fn history_codes_name_one_head() {
        let (_, _, state) = chain(2);
        let code = HistoryCode::of("acct1", state.head());
        assert_eq!(code.as_str().len(), 17);
        assert!(code.matches(&code.as_str().replace(' ', "-")));
        let mut h = state.head();
        h.hash[0] ^= 1;
        assert_ne!(HistoryCode::of("acct1", h), code);
        assert_ne!(HistoryCode::of("acct2", state.head()), code);
    }
}
