//! Second factors (TOTP now; WebAuthn credentials share the table), single-use recovery codes,
//! the short-lived challenges a password login leaves when a second factor is enrolled, and the
//! account's flag (from its signed log) that every member must have one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn to_users(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_user"))
        .from(table, "user_id")
        .to("users", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("second_factors")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("user_id", 64))
                    .col(string_len("kind", 16))
                    .col(string_len("name", 200))
                    // TOTP: the secret sealed under mfa.key (never in clear).
                    .col(binary_len("secret", 4096))
                    // TOTP: the last time step accepted (a code is single-use within its window).
                    .col(big_integer("last_step"))
                    .col(big_integer_null("confirmed_at"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("last_used_at"))
                    .foreign_key(&mut to_users("second_factors"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_second_factors_user").table("second_factors").col("user_id").to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("recovery_codes")
                    // HMAC-SHA-256 of the code under a key derived from mfa.key.
                    .col(binary_len("code_hash", 32).primary_key())
                    .col(string_len("user_id", 64))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("used_at"))
                    .foreign_key(&mut to_users("recovery_codes"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_recovery_codes_user").table("recovery_codes").col("user_id").to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("login_challenges")
                    // SHA-256 of the challenge token.
                    .col(binary_len("token_hash", 32).primary_key())
                    .col(string_len("user_id", 64))
                    .col(string_len_null("user_agent", 255))
                    .col(integer("failures"))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("used_at"))
                    .foreign_key(&mut to_users("login_challenges"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_login_challenges_user").table("login_challenges").col("user_id").to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("accounts")
                    .add_column(boolean("second_factor_required").default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("accounts").drop_column("second_factor_required").to_owned()).await?;
        for t in ["login_challenges", "recovery_codes", "second_factors"] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
