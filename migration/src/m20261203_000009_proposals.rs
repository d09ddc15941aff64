//! Proposals: log entries that need more admin signatures than their author holds, kept while
//! other admins co-sign them from their own machines (PROTOCOL.md §5.4).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("log_proposals")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("account_id", 64))
                    .col(string_len("author", 64))
                    .col(big_integer("seq"))
                    .col(string_len("kind", 32))
                    .col(binary_len("entry", 4096))
                    .col(integer("needed"))
                    .col(string_len("status", 16))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("decided_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_log_proposals_account")
                            .from("log_proposals", "account_id")
                            .to("accounts", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_log_proposals_account").table("log_proposals").col("account_id").to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("log_proposals").to_owned()).await
    }
}
