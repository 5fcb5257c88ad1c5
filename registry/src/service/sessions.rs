//! The web UI's sessions. Signing in trades a token (typed once into the login form) for a
//! random session secret the browser keeps in an `HttpOnly` cookie; the database keeps only the
//! secret's SHA-256, the token it stands for and when it ends. A session ends at its expiry, when
//! its holder signs out, or as soon as its token is revoked or expires — the token is checked
//! again on every request. The token itself is never put in a cookie, a URL or a page.

use super::tokens::{self, Principal, TokenError};
use crate::db::sessions as queries;
use rand::RngCore;
use sea_orm::{DatabaseConnection, DbErr};

/// How long a session lasts after signing in.
pub const LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// A session that has not ended.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    /// The SHA-256 of the session's secret: what its CSRF tokens are derived from.
    pub secret_sha256: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Starts a session for the token `presented`; returns the secret the browser keeps.
pub async fn start(
    db: &DatabaseConnection,
    presented: &str,
) -> Result<(String, Session), TokenError> {
    let row = tokens::presented_row(db, presented).await?;
    let token_id = row.id;
    let principal = tokens::admit(row)?;
    // Ended sessions are forgotten now and then: at each sign-in.
    queries::delete_expired(db).await?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let secret_sha256 = tokens::sha256_hex(&secret);
    let expires_at = chrono::Utc::now() + LIFETIME;
    queries::insert(db, &secret_sha256, token_id, expires_at).await?;
    Ok((
        secret,
        Session {
            principal,
            secret_sha256,
            expires_at,
        },
    ))
}

/// The session a browser's secret stands for, if it has not ended and its token is still valid.
pub async fn find(db: &DatabaseConnection, secret: &str) -> Result<Option<Session>, DbErr> {
    if secret.len() != 64 || !secret.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let secret_sha256 = tokens::sha256_hex(secret);
    let Some((row, token)) = queries::find(db, &secret_sha256).await? else {
        return Ok(None);
    };
    Ok(tokens::admit(token).ok().map(|principal| Session {
        principal,
        secret_sha256,
        expires_at: row.expires_at,
    }))
}

/// Ends the session a browser's secret stands for.
pub async fn end(db: &DatabaseConnection, secret: &str) -> Result<(), DbErr> {
    queries::delete(db, &tokens::sha256_hex(secret)).await
}
