//! Recovery kits: the keyring wrapped under R, the server share (encrypted at rest), guardian
//! shares sealed to colleagues, and recovery sessions opened by an emailed token.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk_user(name: &str, table: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table.to_owned(), "user_id".to_owned())
        .to("users".to_owned(), "id".to_owned())
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("recovery_kits")
                    .col(string_len("user_id", 64).primary_key())
                    .col(binary_len("kit_id", 4))
                    .col(integer("threshold"))
                    .col(integer("share_count"))
                    .col(integer("generation"))
                    .col(binary("wrapped_keyring"))
                    .col(integer_null("server_share_index"))
                    .col(binary_null("server_share"))
                    .col(big_integer("created_at"))
                    .foreign_key(&mut fk_user("fk_recovery_kits_user", "recovery_kits"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("guardian_shares")
                    .col(string_len("user_id", 64))
                    .col(integer("idx"))
                    .col(string_len("guardian_id", 64))
                    .col(integer("guardian_generation"))
                    .col(binary("sealed"))
                    .primary_key(Index::create().col("user_id").col("idx"))
                    .foreign_key(&mut fk_user("fk_guardian_shares_user", "guardian_shares"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_guardian_shares_guardian")
                    .table("guardian_shares")
                    .col("guardian_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("recovery_sessions")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("user_id", 64))
                    .col(binary_len_uniq("token_hash", 32))
                    .col(binary_len_null("secret_hash", 32))
                    .col(binary_len_null("ephemeral_pk", 32))
                    .col(string_len("state", 16))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .foreign_key(&mut fk_user("fk_recovery_sessions_user", "recovery_sessions"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("released_shares")
                    .col(string_len("session_id", 64))
                    .col(integer("idx"))
                    .col(binary("sealed"))
                    .col(string_len("released_by", 64))
                    .col(big_integer("created_at"))
                    .primary_key(Index::create().col("session_id").col("idx"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_released_shares_session")
                            .from("released_shares", "session_id")
                            .to("recovery_sessions", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["released_shares", "recovery_sessions", "guardian_shares", "recovery_kits"] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
