//! Log checkpoints: each member's latest signed statement of the team-log head their client
//! verified (`vouchsafe_crypto::witness::Checkpoint`), which every other member checks against
//! their own chain to catch a server that shows members different histories.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("log_checkpoints")
                    .col(string_len("account_id", 64))
                    .col(string_len("user_id", 64))
                    .col(integer("generation"))
                    .col(big_integer("seq"))
                    .col(big_integer("signed_at"))
                    .col(binary_len("checkpoint", 320))
                    .col(big_integer("received_at"))
                    .primary_key(Index::create().col("account_id").col("user_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_log_checkpoints_account")
                            .from("log_checkpoints", "account_id")
                            .to("accounts", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("log_checkpoints").to_owned()).await
    }
}
