//! The Vouchsafe server library: configuration, HTTP API, services, authentication and the CLI.
//! See `../shared/DESIGN.md` and `docs/` for the design; `vouchsafe-crypto` for the cryptography.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod conn;
pub mod error;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod principal;
pub mod service;
pub mod state;
pub mod store;
#[cfg(test)]
pub mod testing;
pub mod totp;
pub mod web;
