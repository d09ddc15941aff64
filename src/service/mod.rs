//! Policy and transactions. Functions take `now` and return domain errors ([`crate::error::ApiError`]).

pub mod accounts;
pub mod auth;
pub mod checkpoints;
pub mod inbox;
pub mod items;
pub mod mfa;
pub mod passkeys;
pub mod proposals;
pub mod recovery;
pub mod reset;
pub mod scim;
pub mod tokens;
pub mod workers;
