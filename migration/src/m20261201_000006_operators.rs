//! Operators' side: a user an operator disabled (no sign-in, no e-mailed links) and the trail of
//! what operators did with `vouchsafe admin`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("users").add_column(big_integer_null("disabled_at")).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("operator_events")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("actor", 200))
                    .col(string_len("action", 32))
                    .col(string_len("target", 254))
                    .col(string_len("detail", 500))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_operator_events_created")
                    .table("operator_events")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("operator_events").to_owned()).await?;
        manager.alter_table(Table::alter().table("users").drop_column("disabled_at").to_owned()).await
    }
}
