//! Backend workers (service principals an account grants in its team log), their login
//! challenges, and the audit trail of what they read.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("workers")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("account_id", 64))
                    .col(string_len("name", 200))
                    .col(binary("public_keys"))
                    .col(string_len("access", 16))
                    .col(string_len("status", 16))
                    .col(string_len("created_by", 64))
                    .col(big_integer("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_workers_account")
                            .from("workers", "account_id")
                            .to("accounts", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("worker_challenges")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("worker_id", 64))
                    .col(binary_len("nonce", 32))
                    .col(big_integer("expires_at"))
                    .col(boolean("used"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_events")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("account_id", 64))
                    .col(string_len("actor_id", 64))
                    .col(string_len("actor_kind", 16))
                    .col(string_len("action", 32))
                    .col(big_integer("item_count"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_account")
                    .table("audit_events")
                    .col("account_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["audit_events", "worker_challenges", "workers"] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
