//! The account inbox: inbox keys the team log endorsed (kind 15), their secrets wrapped under
//! master key versions (opaque here), and deposits — content third parties sealed to an inbox
//! key, kept until a member or worker files or deletes it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn account_fk(table: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_account"))
        .from(table.to_owned(), "account_id")
        .to("accounts", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("inbox_keys")
                    .col(string_len("account_id", 64))
                    .col(integer("inbox_version"))
                    .col(binary_len("public_key", 32))
                    .col(big_integer("log_seq"))
                    .col(big_integer("created_at"))
                    .primary_key(Index::create().col("account_id").col("inbox_version"))
                    .foreign_key(&mut account_fk("inbox_keys"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("inbox_wraps")
                    .col(string_len("account_id", 64))
                    .col(integer("inbox_version"))
                    .col(integer("key_version"))
                    .col(binary_len("blob", 77))
                    .col(string_len("created_by", 64))
                    .col(big_integer("created_at"))
                    .primary_key(Index::create().col("account_id").col("inbox_version").col("key_version"))
                    .foreign_key(&mut account_fk("inbox_wraps"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("deposits")
                    .col(string_len("account_id", 64))
                    // The provider: its API token's id (bound into the deposit's AAD).
                    .col(string_len("provider_id", 64))
                    // The provider's own id for the deposit (idempotency key).
                    .col(string_len("id", 64))
                    .col(string_len("kind", 16))
                    .col(integer("inbox_version"))
                    // The content key, sealed (HPKE, anonymous) to the inbox key.
                    .col(binary_len("seal", 128))
                    // The encrypted record (a file's body lives beside the database).
                    .col(binary_null("body"))
                    .col(big_integer("size"))
                    // SHA-256 of what was deposited: a retry must send the same bytes.
                    .col(binary_len("content_hash", 32))
                    // Whether the server sealed it on arrival (the provider sent plaintext).
                    .col(boolean("sealed_by_server"))
                    .col(big_integer("created_at"))
                    // Once filed or deleted: the content goes, the id stays taken (a provider's
                    // retry of a filed deposit is answered, not stored twice).
                    .col(big_integer_null("filed_at"))
                    .primary_key(Index::create().col("account_id").col("provider_id").col("id"))
                    .foreign_key(&mut account_fk("deposits"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["deposits", "inbox_wraps", "inbox_keys"] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
