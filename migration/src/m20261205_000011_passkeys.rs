//! WebAuthn credentials (passkeys, security keys) as second factors, in the `second_factors`
//! table beside TOTP, with an optional passkey-unlock wrap of the keyring (purpose 3); and the
//! ceremonies (a WebAuthn challenge and its state, kept server-side) that assertions answer.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            // The credential (public key, counter, flags) as the WebAuthn library keeps it.
            text_null("credential"),
            // Its id, to find it from an assertion (unique across all users).
            binary_len_null("credential_id", 1023),
            // The keyring wrapped under the passkey's PRF output (purpose 3), opaque here.
            binary_len_null("prf_wrap", 105),
            // An enrolment's registration state until it is confirmed.
            text_null("pending"),
        ] {
            manager.alter_table(Table::alter().table("second_factors").add_column(col).to_owned()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_second_factors_credential")
                    .table("second_factors")
                    .col("credential_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webauthn_ceremonies")
                    // SHA-256 of the ceremony token.
                    .col(binary_len("token_hash", 32).primary_key())
                    // Null for a passkey sign-in, where the passkey says who it is.
                    .col(string_len_null("user_id", 64))
                    .col(string_len("purpose", 16))
                    .col(text("state"))
                    .col(big_integer("created_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("used_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webauthn_ceremonies_user")
                            .from("webauthn_ceremonies", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webauthn_ceremonies_expiry")
                    .table("webauthn_ceremonies")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("webauthn_ceremonies").to_owned()).await?;
        manager
            .drop_index(Index::drop().name("idx_second_factors_credential").table("second_factors").to_owned())
            .await?;
        for col in ["pending", "prf_wrap", "credential_id", "credential"] {
            manager.alter_table(Table::alter().table("second_factors").drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
