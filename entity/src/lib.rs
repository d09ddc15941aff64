//! sea-orm entities. These are storage rows only; API request and response bodies are separate
//! types in the server, so a client can never set a column it must not.

pub mod account;
pub mod api_token;
pub mod audit_event;
pub mod deposit;
pub mod guardian_share;
pub mod inbox_key;
pub mod inbox_wrap;
pub mod invitation;
pub mod item;
pub mod log_checkpoint;
pub mod log_entry;
pub mod log_proposal;
pub mod login_challenge;
pub mod membership;
pub mod operator_event;
pub mod outbox;
pub mod rate_limit;
pub mod recovery_code;
pub mod recovery_kit;
pub mod recovery_session;
pub mod refresh_token;
pub mod released_share;
pub mod reset_token;
pub mod scim_user;
pub mod sealed_key;
pub mod second_factor;
pub mod session;
pub mod user;
pub mod values;
pub mod webauthn_ceremony;
pub mod worker;
pub mod worker_challenge;
