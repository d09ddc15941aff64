//! Database migrations. Each step runs in its own transaction where the database allows
//! (PostgreSQL; SQLite DDL is transactional too). Run at server start-up (unless disabled) and by
//! `vouchsafe migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_users_sessions;
mod m20261121_000002_accounts;
mod m20261121_000003_resets;
mod m20261121_000004_recovery;
mod m20261121_000005_workers;
mod m20261201_000006_operators;
mod m20261202_000007_api_tokens;
mod m20261203_000008_checkpoints;
mod m20261203_000009_proposals;
mod m20261204_000010_second_factors;
mod m20261205_000011_passkeys;
mod m20261206_000012_inbox;

/// All migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_users_sessions::Migration),
            Box::new(m20261121_000002_accounts::Migration),
            Box::new(m20261121_000003_resets::Migration),
            Box::new(m20261121_000004_recovery::Migration),
            Box::new(m20261121_000005_workers::Migration),
            Box::new(m20261201_000006_operators::Migration),
            Box::new(m20261202_000007_api_tokens::Migration),
            Box::new(m20261203_000008_checkpoints::Migration),
            Box::new(m20261203_000009_proposals::Migration),
            Box::new(m20261204_000010_second_factors::Migration),
            Box::new(m20261205_000011_passkeys::Migration),
            Box::new(m20261206_000012_inbox::Migration),
        ]
    }
}
