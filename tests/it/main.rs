//! Integration tests: the real server over HTTP (port 0) with the client crate, on SQLite by
//! default and on PostgreSQL when `VOUCHSAFE_TEST_DATABASE_URL` is set (a fresh database per test).

// Tests drive real servers: they wait for background work (SMTP delivery, rate-limit
// reconciliation) and compare with the real clock where a client stamps with it.
#![allow(clippy::disallowed_methods)]

mod accounts;
mod admin;
mod auth;
mod bad_input;
mod dashboard;
mod durability;
mod harness;
mod hostile;
mod inbox;
mod mfa;
mod migrations;
mod passkeys;
mod proxy;
mod recovery;
mod reset;
mod scim;
mod smtp;
mod tokens;
mod witness;
mod workers;
