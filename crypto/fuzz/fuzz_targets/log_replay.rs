//! Replaying any sequence of decodable entries must never panic.
//! Run: `cd crypto/fuzz && cargo +nightly fuzz run log_replay`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouchsafe_crypto::log::{LogEntry, TeamState};

fuzz_target!(|data: &[u8]| {
    // Input: a sequence of u16-length-prefixed entries.
    let mut entries = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let (e, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        if let Ok(e) = LogEntry::from_bytes(e) {
            entries.push(e);
        }
    }
    if let Some(first) = entries.first() {
        let account = first.account_id.clone();
        let _ = TeamState::replay(&account, &entries);
    }
});
