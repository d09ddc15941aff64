//! API tokens: an account's bearer secrets for provisioning clients (HR systems, identity
//! providers' SCIM, scripts), each with scopes, stored only as a SHA-256 hash; and the SCIM
//! `User` resources those clients provision (an e-mail the account invited or counts as a
//! member, with the identity provider's attributes).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("api_tokens")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("account_id", 64))
                    .col(string_len("name", 200))
                    .col(string_len("scopes", 200))
                    .col(binary_len("token_hash", 32).unique_key())
                    .col(string_len("created_by", 64))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("expires_at"))
                    .col(big_integer_null("last_used_at"))
                    .col(big_integer_null("revoked_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_tokens_account")
                            .from("api_tokens", "account_id")
                            .to("accounts", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_api_tokens_account").table("api_tokens").col("account_id").to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("scim_users")
                    .col(string_len("id", 64).primary_key())
                    .col(string_len("account_id", 64))
                    .col(string_len("user_name", 254))
                    .col(string_len_null("external_id", 254))
                    .col(boolean("active"))
                    .col(text("attributes"))
                    .col(string_len_null("invitation_id", 64))
                    .col(big_integer("version"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_users_account")
                            .from("scim_users", "account_id")
                            .to("accounts", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scim_users_account_name")
                    .table("scim_users")
                    .col("account_id")
                    .col("user_name")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("scim_users").to_owned()).await?;
        manager.drop_table(Table::drop().table("api_tokens").to_owned()).await
    }
}
