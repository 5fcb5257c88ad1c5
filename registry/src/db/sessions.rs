//! Queries over the web UI's sessions.

use super::entities::{session, token};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

pub type SessionRow = session::Model;

pub async fn insert(
    db: &impl ConnectionTrait,
    secret_sha256: &str,
    token_id: i32,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    session::Entity::insert(session::ActiveModel {
        secret_sha256: Set(secret_sha256.to_owned()),
        token_id: Set(token_id),
        created_at: Set(chrono::Utc::now()),
        expires_at: Set(expires_at),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// A session that has not ended, with its token's row.
pub async fn find(
    db: &impl ConnectionTrait,
    secret_sha256: &str,
) -> Result<Option<(SessionRow, token::Model)>, DbErr> {
    let Some(row) = session::Entity::find()
        .filter(session::Column::SecretSha256.eq(secret_sha256))
        .filter(session::Column::ExpiresAt.gt(chrono::Utc::now()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let token = token::Entity::find_by_id(row.token_id).one(db).await?;
    Ok(token.map(|token| (row, token)))
}

pub async fn delete(db: &impl ConnectionTrait, secret_sha256: &str) -> Result<(), DbErr> {
    session::Entity::delete_many()
        .filter(session::Column::SecretSha256.eq(secret_sha256))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets sessions that have ended.
pub async fn delete_expired(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    Ok(session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(chrono::Utc::now()))
        .exec(db)
        .await?
        .rows_affected)
}
