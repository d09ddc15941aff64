//! Password resets by emailed token (stored only as SHA-256, with a separate "this was not me"
//! cancel token).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("reset_tokens")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("user_id", 64))
                    .col(binary_len_uniq("token_hash", 32))
                    .col(binary_len_uniq("cancel_hash", 32))
                    .col(string_len("state", 16))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("finished_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reset_tokens_user")
                            .from("reset_tokens", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table("users").add_column(big_integer_null("reset_vetoed_at")).to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("users").drop_column("reset_vetoed_at").to_owned()).await?;
        manager.drop_table(Table::drop().table("reset_tokens").to_owned()).await
    }
}
