//! OpenAPI schemas of the wire types' constrained strings and objects (feature `openapi`): as
//! strict as the server's own checks, so a value the document admits is one the server reads.
//! The wire types name these with `schema(value_type = …)`; the Rust fields stay plain strings
//! (the server validates them once, at the boundary).
//!
//! Base64url patterns are exact: an unpadded encoding of N bytes whose length leaves spare bits
//! must end in a character whose spare bits are zero (the decoder refuses anything else), so a
//! 32-byte value ends in one of `AEIMQUYcgkosw048`, a 16-, 64- or 4-byte value in one of `AQgw`.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, SchemaFormat};

/// One string schema: pattern, lengths, description.
fn string(description: &str, pattern: &str, min: Option<usize>, max: Option<usize>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(pattern))
        .min_length(min)
        .max_length(max)
        .build()
        .into()
}

/// Exactly `n` bytes as unpadded base64url.
fn bytes(description: &str, n: usize) -> RefOr<Schema> {
    let chars = (n * 4).div_ceil(3);
    let pattern = match (n * 8) % 6 {
        0 => format!("^[A-Za-z0-9_-]{{{chars}}}$"),
        2 => format!("^[A-Za-z0-9_-]{{{}}}[AQgw]$", chars - 1),
        _ => format!("^[A-Za-z0-9_-]{{{}}}[AEIMQUYcgkosw048]$", chars - 1),
    };
    string(description, &pattern, Some(chars), Some(chars))
}

/// Up to `max` bytes as unpadded base64url (any length a decoder accepts: not 1 mod 4).
fn blob(description: &str, min: usize, max: usize) -> RefOr<Schema> {
    // Lengths ≡ 1 (mod 4) are no encoding at all; the rest end in a character whose spare
    // bits are zero. Spelled as: whole quads, then nothing, or 2 or 3 characters.
    let pattern = "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$";
    string(description, pattern, Some(min.saturating_mul(4).div_ceil(3)), Some(max.saturating_mul(4).div_ceil(3)))
}

/// A field name as items and records take it (1 to 128 bytes, no control characters; the
/// second branch admits names whose non-ASCII characters keep them within 128 bytes).
fn field_names() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^(?:[\x20-\x7e]{1,128}|[^\x00-\x1f\x7f-\x9f]{1,32})$"))
        .min_length(Some(1))
        .max_length(Some(128))
}

macro_rules! schema {
    ($(#[$doc:meta])* $name:ident => $body:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $body
            }
        }
        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

schema!(
    /// A client-chosen random id: 16–64 characters of `[A-Za-z0-9_-]`.
    Id => string("A random id: 16 to 64 characters of A-Z, a-z, 0-9, '-' and '_'.", "^[A-Za-z0-9_-]{16,64}$", Some(16), Some(64))
);
schema!(
    /// An e-mail address as the server reads it: printable ASCII without spaces, a non-empty
    /// local part, a domain of at least three characters with an inner dot. (The server also
    /// takes non-ASCII addresses; the schema admits only what is accepted at any length.)
    Email => ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("email".into())))
        .description(Some("An e-mail address (compared case-insensitively), at most 254 characters."))
        .pattern(Some(r"^[\x21-\x7e]+@[\x21-\x2d\x2f-\x3f\x41-\x7e][\x21-\x3f\x41-\x7e]*\.[\x21-\x3f\x41-\x7e]*[\x21-\x2d\x2f-\x3f\x41-\x7e]$"))
        .min_length(Some(5))
        .max_length(Some(254))
        .build()
        .into()
);
schema!(
    /// A single-use token from an e-mail link, or a recovery session's secret.
    Token => string("An opaque single-use token (from a link's fragment).", "^[A-Za-z0-9_-]+$", Some(1), Some(64))
);
schema!(
    /// A code from an authenticator app (TOTP, RFC 6238).
    TotpCode => string("The 6 digits an authenticator app shows now.", "^[0-9]{6}$", Some(6), Some(6))
);
schema!(
    /// A second-factor recovery code, as it was shown (the dash may be left out).
    RecoveryCode => string("A single-use recovery code: ten characters of a-z and 2-7, a dash in the middle.", "^[a-z2-7]{5}-?[a-z2-7]{5}$", Some(10), Some(11))
);
schema!(
    /// 32 bytes: an auth key, an X25519 public key, a nonce.
    Bytes32 => bytes("32 bytes, unpadded base64url.", 32)
);
schema!(
    /// 16 bytes: a KDF salt.
    Bytes16 => bytes("16 bytes, unpadded base64url.", 16)
);
schema!(
    /// 4 bytes: a recovery kit id.
    Bytes4 => bytes("4 bytes, unpadded base64url.", 4)
);
schema!(
    /// An Ed25519 signature.
    Signature => bytes("An Ed25519 signature: 64 bytes, unpadded base64url.", 64)
);
schema!(
    /// Public keys: generation (4 bytes), X25519 (32) and Ed25519 (32) keys, format byte.
    PublicKeys => bytes("Public keys (69 bytes: format, generation, X25519 and Ed25519 keys), unpadded base64url.", 69)
);
schema!(
    /// A keyring wrapped under a key-encryption key.
    WrappedKeyring => bytes("A wrapped keyring (105 bytes), unpadded base64url.", 105)
);
schema!(
    /// An inbox secret wrapped under a master key version.
    InboxWrap => bytes("A wrapped inbox secret (77 bytes), unpadded base64url.", 77)
);
schema!(
    /// A deposit's content key sealed anonymously to the inbox key.
    DepositSeal => bytes("An anonymous HPKE seal of a 32-byte content key (81 bytes), unpadded base64url.", 81)
);
schema!(
    /// A deposited record, encrypted under its content key.
    DepositBody => blob("An encrypted record (at most the server's body limit), unpadded base64url.", 41, 4_202_923)
);
schema!(
    /// A provider's id of a deposit (its idempotency key).
    DepositId => string("1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'.", "^[A-Za-z0-9_-]{1,64}$", Some(1), Some(64))
);
schema!(
    /// A page cursor of the inbox's deposits: `provider_id:deposit_id` of the last one seen.
    DepositCursor => string("The next_cursor of the previous page: provider id, ':', deposit id.", "^[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]{1,64}$", Some(3), Some(129))
);
schema!(
    /// A signed, encoded team-log entry.
    LogEntry => blob("An encoded, signed team-log entry (at most 4 KiB), unpadded base64url.", 1, 4096)
);
schema!(
    /// An encoded, signed log checkpoint (PROTOCOL.md §5.3).
    Checkpoint => blob("An encoded, signed checkpoint of the team log (at most 320 bytes), unpadded base64url.", 1, 320)
);
schema!(
    /// A sealed value (HPKE, or an anonymous seal to an ephemeral key).
    Sealed => blob("A sealed value (at most 2 KiB), unpadded base64url.", 1, 2048)
);
schema!(
    /// A recovery share as the server keeps it.
    Share => blob("A recovery share (at most 64 bytes), unpadded base64url.", 1, 64)
);
schema!(
    /// One encrypted field value.
    SealedField => blob("An encrypted field (at most 64 KiB of plaintext), unpadded base64url.", 1, 64 * 1024 + 45)
);
schema!(
    /// An item's fields: name → encrypted value, 1 to 64 of them.
    ItemFields => ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("Field name (1 to 128 bytes of UTF-8, no control characters) → encrypted value; 1 to 64 fields."))
        .property_names(Some(field_names()))
        .additional_properties(Some(<SealedField as utoipa::PartialSchema>::schema()))
        .min_properties(Some(1))
        .max_properties(Some(64))
        .build()
        .into()
);
schema!(
    /// A plaintext record a provider sends for the server to seal: field name → text.
    PlaintextFields => ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("Field name (as an item's) → text of at most 64 KiB; 1 to 64 fields."))
        .property_names(Some(field_names()))
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String).max_length(Some(64 * 1024))))
        .min_properties(Some(1))
        .max_properties(Some(64))
        .build()
        .into()
);
schema!(
    /// A display name.
    Name => string(
        "A name: 1 to 200 bytes once trimmed, no control characters.",
        r"^(?:[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*|[^\x00-\x1f\x7f-\x9f\s]{1,50})$",
        Some(1),
        Some(200),
    )
);
schema!(
    /// A role members can be given.
    Role => ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["member", "admin", "owner"]))
        .build()
        .into()
);
schema!(
    /// Argon2id parameters, between the floor (downgrade defence) and the ceiling.
    KdfParams => {
        let int = |min: u32, max: u32| ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("Argon2id parameters: suite 1 (Argon2id v1.3 + HKDF-SHA256), memory in KiB, passes, lanes."))
            .property("alg", ObjectBuilder::new().schema_type(Type::Integer).enum_values(Some([1])))
            .property("m_kib", int(19 * 1024, 1024 * 1024))
            .property("t", int(2, 16))
            .property("p", int(1, 16))
            .required("alg")
            .required("m_kib")
            .required("t")
            .required("p")
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
            .build()
            .into()
    }
);
