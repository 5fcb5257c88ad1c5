//! Queries over API tokens. Only the SHA-256 of a secret is ever stored.

use super::entities::token;
use sea_orm::prelude::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

/// A token's row.
pub type TokenRow = token::Model;

pub async fn insert(
    db: &impl ConnectionTrait,
    name: &str,
    key_id: &str,
    secret_sha256: &str,
    scopes: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), DbErr> {
    token::Entity::insert(token::ActiveModel {
        name: Set(name.to_owned()),
        key_id: Set(key_id.to_owned()),
        secret_sha256: Set(secret_sha256.to_owned()),
        scopes: Set(scopes.to_owned()),
        created_at: Set(chrono::Utc::now()),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

pub async fn find_by_key(
    db: &impl ConnectionTrait,
    key_id: &str,
) -> Result<Option<TokenRow>, DbErr> {
    token::Entity::find()
        .filter(token::Column::KeyId.eq(key_id))
        .one(db)
        .await
}

pub async fn find_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<TokenRow>, DbErr> {
    token::Entity::find()
        .filter(token::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<TokenRow>, DbErr> {
    token::Entity::find()
        .order_by_asc(token::Column::Name)
        .all(db)
        .await
}

/// Marks a token revoked; returns whether an active token of that name existed.
pub async fn revoke(db: &impl ConnectionTrait, name: &str) -> Result<bool, DbErr> {
    let result = token::Entity::update_many()
        .col_expr(token::Column::RevokedAt, Expr::value(chrono::Utc::now()))
        .filter(token::Column::Name.eq(name))
        .filter(token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}
