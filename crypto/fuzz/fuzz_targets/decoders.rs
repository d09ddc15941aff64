//! Every decoder must return an error, never panic, on arbitrary bytes.
//! Run: `cd crypto/fuzz && cargo +nightly fuzz run decoders`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouchsafe_crypto::field::{FieldKey, blob_key_version};
use vouchsafe_crypto::identity::{Keyring, PublicIdentity, WrappedKeyring};
use vouchsafe_crypto::kdf::Kek;
use vouchsafe_crypto::log::LogEntry;
use vouchsafe_crypto::recovery::{RecoveryShare, ServerShareKey, decrypt_server_share};
use vouchsafe_crypto::seal::{MasterKey, MasterKeyBytes, Sealed, open_master_key};

fuzz_target!(|data: &[u8]| {
    let _ = PublicIdentity::from_bytes(data);
    let _ = PublicIdentity::keys_from_bytes("alice", data);
    let _ = LogEntry::from_bytes(data);
    let _ = RecoveryShare::from_bytes(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = RecoveryShare::from_code(s);
        let _ = vouchsafe_crypto::b64::decode(s, 4096);
    }
    let _ = blob_key_version(data);
    let mk = MasterKey { version: 1, key: MasterKeyBytes::from_bytes([1; 32]) };
    if let Ok(fk) = FieldKey::derive(&mk, "acct") {
        let _ = fk.decrypt("item", "field", data);
    }
    let _ = decrypt_server_share(&ServerShareKey::from_bytes([2; 32]), "alice", [0; 4], data);
    if let Ok(w) = WrappedKeyring::from_bytes(data) {
        let _ = Keyring::unwrap(&w, &Kek::from_bytes([3; 32]), "alice", 1);
    }
    if let (Ok(s), Ok(me)) = (Sealed::from_bytes(data), Keyring::from_secret_bytes("bob", 1, [4; 32], [5; 32])) {
        if let Ok(sealer) = Keyring::from_secret_bytes("alice", 1, [6; 32], [7; 32]) {
            let _ = open_master_key(&s, "acct", 1, &sealer.public(), &me);
        }
    }
});
