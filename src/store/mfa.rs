//! Second factors, second-factor recovery codes and login challenges.

use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::Conn;
use crate::error::ApiError;
use entity::{login_challenge, recovery_code, second_factor, webauthn_ceremony};

/// Adds a factor (unconfirmed until [`confirm`]).
pub async fn add<C: Conn>(db: &C, row: second_factor::Model) -> Result<(), ApiError> {
    second_factor::Entity::insert(second_factor::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// One of the person's factors, confirmed or not.
pub async fn by_id<C: Conn>(db: &C, user_id: &str, id: &str) -> Result<Option<second_factor::Model>, ApiError> {
    Ok(second_factor::Entity::find_by_id(id.to_owned())
        .filter(second_factor::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

/// The person's confirmed factors, oldest first.
pub async fn confirmed<C: Conn>(db: &C, user_id: &str) -> Result<Vec<second_factor::Model>, ApiError> {
    Ok(second_factor::Entity::find()
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::ConfirmedAt.is_not_null())
        .order_by_asc(second_factor::Column::CreatedAt)
        .order_by_asc(second_factor::Column::Id)
        .all(db)
        .await?)
}

/// Whether the person has a confirmed factor.
pub async fn has_any<C: Conn>(db: &C, user_id: &str) -> Result<bool, ApiError> {
    Ok(second_factor::Entity::find()
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::ConfirmedAt.is_not_null())
        .count(db)
        .await?
        > 0)
}

/// Takes TOTP step `step` of a factor: true only if no step as new was taken before, so a code
/// is good once even when two requests race with it. `confirm` also marks the factor confirmed.
pub async fn take_step<C: Conn>(db: &C, id: &str, step: i64, now: i64, confirm: bool) -> Result<bool, ApiError> {
    let mut q = second_factor::Entity::update_many()
        .col_expr(second_factor::Column::LastStep, Expr::value(step))
        .col_expr(second_factor::Column::LastUsedAt, Expr::value(now))
        .filter(second_factor::Column::Id.eq(id))
        .filter(second_factor::Column::LastStep.lt(step));
    if confirm {
        q = q
            .col_expr(second_factor::Column::ConfirmedAt, Expr::value(now))
            .filter(second_factor::Column::ConfirmedAt.is_null());
    } else {
        q = q.filter(second_factor::Column::ConfirmedAt.is_not_null());
    }
    Ok(q.exec(db).await?.rows_affected == 1)
}

/// Renames a confirmed factor; false if there is none.
pub async fn rename<C: Conn>(db: &C, user_id: &str, id: &str, name: &str) -> Result<bool, ApiError> {
    let r = second_factor::Entity::update_many()
        .col_expr(second_factor::Column::Name, Expr::value(name))
        .filter(second_factor::Column::Id.eq(id))
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::ConfirmedAt.is_not_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Deletes a factor.
pub async fn delete<C: Conn>(db: &C, user_id: &str, id: &str) -> Result<(), ApiError> {
    second_factor::Entity::delete_many()
        .filter(second_factor::Column::Id.eq(id))
        .filter(second_factor::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes every factor and recovery code of the person (and their open login challenges).
pub async fn delete_all<C: Conn>(db: &C, user_id: &str) -> Result<(), ApiError> {
    second_factor::Entity::delete_many().filter(second_factor::Column::UserId.eq(user_id)).exec(db).await?;
    replace_codes(db, user_id, &[], 0).await?;
    login_challenge::Entity::delete_many().filter(login_challenge::Column::UserId.eq(user_id)).exec(db).await?;
    Ok(())
}

/// Drops enrolments never confirmed before `before`.
pub async fn drop_unconfirmed<C: Conn>(db: &C, user_id: &str, before: i64) -> Result<(), ApiError> {
    second_factor::Entity::delete_many()
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::ConfirmedAt.is_null())
        .filter(second_factor::Column::CreatedAt.lt(before))
        .exec(db)
        .await?;
    Ok(())
}

/// Replaces the person's recovery codes with `hashes`.
pub async fn replace_codes<C: Conn>(db: &C, user_id: &str, hashes: &[[u8; 32]], now: i64) -> Result<(), ApiError> {
    recovery_code::Entity::delete_many().filter(recovery_code::Column::UserId.eq(user_id)).exec(db).await?;
    if hashes.is_empty() {
        return Ok(());
    }
    let rows = hashes.iter().map(|h| {
        recovery_code::ActiveModel::from(recovery_code::Model {
            code_hash: h.to_vec(),
            user_id: user_id.to_owned(),
            created_at: now,
            used_at: None,
        })
    });
    recovery_code::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// Uses a recovery code (single use): true if it was the person's and unused.
pub async fn use_code<C: Conn>(db: &C, user_id: &str, hash: [u8; 32], now: i64) -> Result<bool, ApiError> {
    let r = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
        .filter(recovery_code::Column::CodeHash.eq(hash.to_vec()))
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Recovery codes not used yet.
pub async fn codes_left<C: Conn>(db: &C, user_id: &str) -> Result<u64, ApiError> {
    Ok(recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(db)
        .await?)
}

/// Stores a login challenge.
pub async fn add_challenge<C: Conn>(db: &C, row: login_challenge::Model) -> Result<(), ApiError> {
    login_challenge::Entity::insert(login_challenge::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// A live login challenge (unused, unexpired, under `max_failures` wrong answers).
pub async fn live_challenge<C: Conn>(
    db: &C,
    hash: [u8; 32],
    max_failures: i32,
    now: i64,
) -> Result<Option<login_challenge::Model>, ApiError> {
    Ok(login_challenge::Entity::find_by_id(hash.to_vec())
        .filter(login_challenge::Column::UsedAt.is_null())
        .filter(login_challenge::Column::ExpiresAt.gt(now))
        .filter(login_challenge::Column::Failures.lt(max_failures))
        .one(db)
        .await?)
}

/// Counts a wrong answer to a challenge.
pub async fn challenge_failed<C: Conn>(db: &C, hash: [u8; 32]) -> Result<(), ApiError> {
    login_challenge::Entity::update_many()
        .col_expr(login_challenge::Column::Failures, Expr::col(login_challenge::Column::Failures).add(1))
        .filter(login_challenge::Column::TokenHash.eq(hash.to_vec()))
        .exec(db)
        .await?;
    Ok(())
}

/// Claims a challenge (single use): the row, if it was still live.
pub async fn claim_challenge<C: Conn>(
    db: &C,
    hash: [u8; 32],
    now: i64,
) -> Result<Option<login_challenge::Model>, ApiError> {
    super::claim(
        db,
        login_challenge::Entity::update_many()
            .col_expr(login_challenge::Column::UsedAt, Expr::value(now))
            .filter(login_challenge::Column::TokenHash.eq(hash.to_vec()))
            .filter(login_challenge::Column::UsedAt.is_null())
            .filter(login_challenge::Column::ExpiresAt.gt(now)),
    )
    .await
}

/// Deletes the person's challenges that ended before `before`.
pub async fn prune_challenges<C: Conn>(db: &C, user_id: &str, before: i64) -> Result<(), ApiError> {
    login_challenge::Entity::delete_many()
        .filter(login_challenge::Column::UserId.eq(user_id))
        .filter(login_challenge::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(())
}

/// The confirmed WebAuthn factor with this credential id, whoever's it is.
pub async fn by_credential<C: Conn>(db: &C, credential_id: &[u8]) -> Result<Option<second_factor::Model>, ApiError> {
    Ok(second_factor::Entity::find()
        .filter(second_factor::Column::CredentialId.eq(credential_id.to_vec()))
        .filter(second_factor::Column::Kind.eq("webauthn"))
        .filter(second_factor::Column::ConfirmedAt.is_not_null())
        .one(db)
        .await?)
}

/// Confirms a WebAuthn enrolment with its credential (and PRF wrap); false if it was confirmed
/// or removed meanwhile.
pub async fn confirm_credential<C: Conn>(
    db: &C,
    id: &str,
    credential: String,
    credential_id: Vec<u8>,
    prf_wrap: Option<Vec<u8>>,
    now: i64,
) -> Result<bool, ApiError> {
    let r = second_factor::Entity::update_many()
        .col_expr(second_factor::Column::Credential, Expr::value(credential))
        .col_expr(second_factor::Column::CredentialId, Expr::value(credential_id))
        .col_expr(second_factor::Column::PrfWrap, Expr::value(prf_wrap))
        .col_expr(second_factor::Column::Pending, Expr::value(Option::<String>::None))
        .col_expr(second_factor::Column::ConfirmedAt, Expr::value(now))
        .filter(second_factor::Column::Id.eq(id))
        .filter(second_factor::Column::ConfirmedAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Records a WebAuthn factor's use, with its updated credential (counter, backup state).
pub async fn used_credential<C: Conn>(db: &C, id: &str, credential: Option<String>, now: i64) -> Result<(), ApiError> {
    let mut q = second_factor::Entity::update_many()
        .col_expr(second_factor::Column::LastUsedAt, Expr::value(now))
        .filter(second_factor::Column::Id.eq(id));
    if let Some(c) = credential {
        q = q.col_expr(second_factor::Column::Credential, Expr::value(c));
    }
    q.exec(db).await?;
    Ok(())
}

/// Drops every passkey-unlock wrap of the person (their keys changed: a reset).
pub async fn drop_wraps<C: Conn>(db: &C, user_id: &str) -> Result<(), ApiError> {
    second_factor::Entity::update_many()
        .col_expr(second_factor::Column::PrfWrap, Expr::value(Option::<Vec<u8>>::None))
        .filter(second_factor::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores a WebAuthn ceremony, pruning every ceremony that ended before `now`.
pub async fn add_ceremony<C: Conn>(db: &C, row: webauthn_ceremony::Model, now: i64) -> Result<(), ApiError> {
    webauthn_ceremony::Entity::delete_many().filter(webauthn_ceremony::Column::ExpiresAt.lt(now)).exec(db).await?;
    webauthn_ceremony::Entity::insert(webauthn_ceremony::ActiveModel::from(row)).exec_without_returning(db).await?;
    Ok(())
}

/// Claims a ceremony for `purpose` (single use): the row, if it was still live.
pub async fn claim_ceremony<C: Conn>(
    db: &C,
    hash: [u8; 32],
    purpose: &str,
    now: i64,
) -> Result<Option<webauthn_ceremony::Model>, ApiError> {
    super::claim(
        db,
        webauthn_ceremony::Entity::update_many()
            .col_expr(webauthn_ceremony::Column::UsedAt, Expr::value(now))
            .filter(webauthn_ceremony::Column::TokenHash.eq(hash.to_vec()))
            .filter(webauthn_ceremony::Column::Purpose.eq(purpose))
            .filter(webauthn_ceremony::Column::UsedAt.is_null())
            .filter(webauthn_ceremony::Column::ExpiresAt.gt(now)),
    )
    .await
}
