//! Users (zero-knowledge credentials and wrapped keyrings), sessions with rotating refresh
//! tokens, and the database-backed rate-limit counters.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len_uniq("email", 254))
                    .col(string_len("auth_hash", 255))
                    .col(binary("kdf_salt"))
                    .col(string_len("kdf_params", 255))
                    .col(integer("generation"))
                    .col(binary("public_keys"))
                    .col(binary("wrapped_keyring"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("sessions")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("user_id", 64))
                    .col(big_integer("created_at"))
                    .col(big_integer("last_used_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("revoked_at"))
                    .col(string_len_null("revoke_reason", 64))
                    .col(string_len_null("user_agent", 255))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from("sessions", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_sessions_user").table("sessions").col("user_id").to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(binary_len("token_hash", 32).primary_key())
                    .col(string_len("session_id", 64))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("used_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_session")
                            .from("refresh_tokens", "session_id")
                            .to("sessions", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_refresh_tokens_session").table("refresh_tokens").col("session_id").to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("rate_limits")
                    .col(string_len("key", 200).primary_key())
                    .col(big_integer("window_start"))
                    .col(big_integer("count"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["rate_limits", "refresh_tokens", "sessions", "users"] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
