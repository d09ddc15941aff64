//! Team accounts: memberships, invitations, sealed master keys, the signed team log, encrypted
//! items, and the email outbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(name: &str, from_table: &str, from_col: &str, to_table: &str, to_col: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from_table.to_owned(), from_col.to_owned())
        .to(to_table.to_owned(), to_col.to_owned())
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("accounts")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("name", 200))
                    .col(string_len("created_by", 64))
                    .col(integer("key_version"))
                    .col(boolean("rotation_required"))
                    .col(big_integer("log_len"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("memberships")
                    .col(string_len("account_id", 64))
                    .col(string_len("user_id", 64))
                    .col(string_len("role", 16))
                    .col(string_len("status", 16))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .primary_key(Index::create().col("account_id").col("user_id"))
                    .foreign_key(&mut fk("fk_memberships_account", "memberships", "account_id", "accounts", "id"))
                    .foreign_key(&mut fk("fk_memberships_user", "memberships", "user_id", "users", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_memberships_user").table("memberships").col("user_id").to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("invitations")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("account_id", 64))
                    .col(string_len("email", 254))
                    .col(string_len("role", 16))
                    .col(binary_len_uniq("token_hash", 32))
                    .col(string_len("invited_by", 64))
                    .col(string_len("status", 16))
                    .col(string_len_null("accepted_by", 64))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("accepted_at"))
                    .foreign_key(&mut fk("fk_invitations_account", "invitations", "account_id", "accounts", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_invitations_account").table("invitations").col("account_id").to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("sealed_keys")
                    .col(string_len("account_id", 64))
                    .col(integer("key_version"))
                    .col(string_len("recipient_id", 64))
                    .col(integer("recipient_generation"))
                    .col(string_len("sealer_id", 64))
                    .col(integer("sealer_generation"))
                    .col(binary("blob"))
                    .col(big_integer("log_seq"))
                    .col(big_integer("created_at"))
                    .primary_key(
                        Index::create()
                            .col("account_id")
                            .col("key_version")
                            .col("recipient_id")
                            .col("recipient_generation"),
                    )
                    .foreign_key(&mut fk("fk_sealed_keys_account", "sealed_keys", "account_id", "accounts", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("log_entries")
                    .col(string_len("account_id", 64))
                    .col(big_integer("seq"))
                    .col(binary("entry"))
                    .col(binary_len("hash", 32))
                    .col(string_len("author", 64))
                    .col(string_len("kind", 32))
                    .col(big_integer("created_at"))
                    .primary_key(Index::create().col("account_id").col("seq"))
                    .foreign_key(&mut fk("fk_log_entries_account", "log_entries", "account_id", "accounts", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("items")
                    .col(string_len("account_id", 64))
                    .col(string_len("id", 64))
                    .col(integer("key_version"))
                    .col(big_integer("revision"))
                    .col(text("fields"))
                    .col(string_len("created_by", 64))
                    .col(string_len("updated_by", 64))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .primary_key(Index::create().col("account_id").col("id"))
                    .foreign_key(&mut fk("fk_items_account", "items", "account_id", "accounts", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_items_version")
                    .table("items")
                    .col("account_id")
                    .col("key_version")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("outbox")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("to_addr", 254))
                    .col(string_len("subject", 255))
                    .col(text("body_text"))
                    .col(text("body_html"))
                    .col(integer("attempts"))
                    .col(big_integer("next_attempt_at"))
                    .col(big_integer_null("sent_at"))
                    .col(text_null("last_error"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_outbox_due").table("outbox").col("sent_at").col("next_attempt_at").to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["outbox", "items", "log_entries", "sealed_keys", "invitations", "memberships", "accounts"] {
            manager.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
