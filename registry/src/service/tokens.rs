//! API tokens and their scopes. A token is `qry_<key id>_<secret>`; the database keeps the key id
//! (to find the row) and the SHA-256 of the whole token (compared in constant time). The secret is
//! shown once at creation and never stored or logged.

use crate::db::tokens::{self as queries, TokenRow};
use quarry_core::address::Namespace;
use rand::RngCore;
use sea_orm::{DatabaseConnection, DbErr};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Read modules when reads need a token.
    Read,
    /// Publish, deprecate and yank in one namespace, or in all of them (`None`, written `publish:*`).
    Publish(Option<Namespace>),
    /// Everything, including managing tokens.
    Admin,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid scope `{0}`: expected `read`, `publish:<namespace>`, `publish:*` or `admin`")]
pub struct ScopeError(String);

impl std::str::FromStr for Scope {
    type Err = ScopeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "read" => Ok(Self::Read),
            "admin" => Ok(Self::Admin),
            "publish:*" => Ok(Self::Publish(None)),
            other => other
                .strip_prefix("publish:")
                .and_then(|namespace| Namespace::new(namespace).ok())
                .map(|namespace| Self::Publish(Some(namespace)))
                .ok_or_else(|| ScopeError(text.chars().take(80).collect())),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read => f.write_str("read"),
            Self::Admin => f.write_str("admin"),
            Self::Publish(None) => f.write_str("publish:*"),
            Self::Publish(Some(namespace)) => write!(f, "publish:{namespace}"),
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_name: String,
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// Every valid token may read: publishing and administration include reading.
    pub fn can_read(&self) -> bool {
        !self.scopes.is_empty()
    }

    pub fn can_publish(&self, namespace: &Namespace) -> bool {
        self.scopes.iter().any(|scope| match scope {
            Scope::Admin | Scope::Publish(None) => true,
            Scope::Publish(Some(granted)) => granted == namespace,
            Scope::Read => false,
        })
    }

    pub fn is_admin(&self) -> bool {
        self.scopes.contains(&Scope::Admin)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not valid")]
    Invalid,
    #[error("the token `{0}` has been revoked")]
    Revoked(String),
    #[error("the token `{name}` expired at {at}")]
    Expired { name: String, at: String },
    #[error(
        "invalid expiry `{0}`: use a number followed by s, m, h or d (e.g. 30d), at most 10 years"
    )]
    BadExpiry(String),
    #[error("a token named `{0}` exists already")]
    NameTaken(String),
    #[error("no active token named `{0}`")]
    NotFound(String),
    #[error("invalid token name `{0}`: use 1-128 letters, digits, `-`, `_` or `.`")]
    BadName(String),
    #[error("a token needs at least one scope")]
    NoScope,
    #[error(transparent)]
    Scope(#[from] ScopeError),
    #[error("database: {0}")]
    Database(#[from] DbErr),
}

/// A newly created token: the only moment the secret exists outside its holder.
pub struct CreatedToken {
    pub name: String,
    pub secret: String,
}

impl fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedToken")
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .finish()
    }
}

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}

fn parse_scopes(text: &str) -> Vec<Scope> {
    text.split_whitespace()
        .filter_map(|scope| scope.parse().ok())
        .collect()
}

/// Parses a lifetime like `90m`, `12h` or `30d`.
pub fn parse_lifetime(text: &str) -> Result<chrono::Duration, TokenError> {
    let bad = || TokenError::BadExpiry(text.chars().take(40).collect());
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let amount: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => amount,
        "m" => amount.checked_mul(60).ok_or_else(bad)?,
        "h" => amount.checked_mul(3600).ok_or_else(bad)?,
        "d" => amount.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if !(1..=10 * 365 * 86_400).contains(&seconds) {
        return Err(bad());
    }
    Ok(chrono::Duration::seconds(seconds))
}

/// Creates a token, optionally expiring after `lifetime`, and records who created it.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    scopes: &[String],
    lifetime: Option<chrono::Duration>,
    actor: &super::audit::Actor,
) -> Result<CreatedToken, TokenError> {
    let valid_name = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid_name {
        return Err(TokenError::BadName(name.chars().take(80).collect()));
    }
    if scopes.is_empty() {
        return Err(TokenError::NoScope);
    }
    let parsed: Vec<Scope> = scopes
        .iter()
        .map(|scope| scope.parse())
        .collect::<Result<_, _>>()?;
    if queries::find_by_name(db, name).await?.is_some() {
        return Err(TokenError::NameTaken(name.to_owned()));
    }
    let key_id = random_hex(8);
    let secret = format!("qry_{key_id}_{}", random_hex(32));
    let scope_text = parsed
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let expires_at = lifetime.map(|lifetime| chrono::Utc::now() + lifetime);
    match queries::insert(
        db,
        name,
        &key_id,
        &sha256_hex(&secret),
        &scope_text,
        expires_at,
    )
    .await
    {
        Ok(_) => {
            super::audit::record(
                db,
                actor,
                super::audit::Action::TOKEN_CREATE,
                name,
                serde_json::json!({ "scopes": scope_text, "expires_at": expires_at }),
            )
            .await?;
            Ok(CreatedToken {
                name: name.to_owned(),
                secret,
            })
        }
        Err(error) if crate::db::is_unique_violation(&error) => {
            Err(TokenError::NameTaken(name.to_owned()))
        }
        Err(error) => Err(error.into()),
    }
}

/// How long a verified token is trusted without reading its row again: the bound on a revocation
/// whose change-feed event was missed (the feed itself drops an entry within about a second).
const VERIFIED_TTL: Duration = Duration::from_secs(10);
/// Verified tokens kept at most; past that the cache starts over (simple, and bounded).
const MAX_VERIFIED: usize = 10_000;

/// A token verified against its row: what it may do, until when, and when it was read.
#[derive(Debug)]
struct Verified {
    principal: Arc<Principal>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    read_at: Instant,
}

/// Tokens verified recently, by the SHA-256 of the whole token, so a read that presents one
/// needs no database round trip. An entry lives [`VERIFIED_TTL`]; a revocation drops its token's
/// entries at once on every replica that reads it from the change feed
/// ([`super::Registry::follow_changes`]); expiry is checked on every use. Only valid tokens are
/// kept: an unknown, revoked or expired one is looked up each time.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    entries: RwLock<HashMap<[u8; 32], Verified>>,
    /// Bumped by every revocation, so a lookup that raced one does not store what it read.
    generation: AtomicU64,
}

impl VerifiedTokens {
    fn get(&self, digest: &[u8; 32], now: Instant) -> Option<Result<Arc<Principal>, TokenError>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let verified = entries.get(digest)?;
        if now.duration_since(verified.read_at) >= VERIFIED_TTL {
            return None;
        }
        Some(match verified.expires_at {
            Some(at) if at <= chrono::Utc::now() => Err(TokenError::Expired {
                name: verified.principal.token_name.clone(),
                at: at.to_rfc3339(),
            }),
            _ => Ok(verified.principal.clone()),
        })
    }

    fn store(&self, digest: [u8; 32], verified: Verified, generation: u64) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock `forget` takes, so a revocation is never undone by a store.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_VERIFIED {
            entries.clear();
        }
        entries.insert(digest, verified);
    }

    /// Drops every entry of the token named `name` (it was revoked).
    pub fn forget(&self, name: &str) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, verified| verified.principal.token_name != name);
    }
}

impl super::Registry {
    /// Finds the principal a presented token belongs to: from the verified tokens when it was
    /// checked recently, else from its row.
    pub async fn authenticate(&self, presented: &str) -> Result<Arc<Principal>, TokenError> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let cached = self.tokens.get(&digest, Instant::now());
        if let Some(answer) = self.cached("tokens", cached) {
            return answer;
        }
        let generation = self.tokens.generation.load(Ordering::Acquire);
        let read_at = Instant::now();
        let row = presented_row(&self.db, presented).await?;
        let expires_at = row.expires_at;
        let principal = Arc::new(admit(row)?);
        self.tokens.store(
            digest,
            Verified {
                principal: principal.clone(),
                expires_at,
                read_at,
            },
            generation,
        );
        Ok(principal)
    }
}

/// The row of the token `presented`, when it is one this registry issued (revoked or expired
/// ones included).
pub(crate) async fn presented_row(
    db: &DatabaseConnection,
    presented: &str,
) -> Result<TokenRow, TokenError> {
    let key_id = presented
        .strip_prefix("qry_")
        .and_then(|rest| rest.split_once('_'))
        .map(|(key_id, _)| key_id)
        .filter(|key_id| key_id.len() == 16)
        .ok_or(TokenError::Invalid)?;
    let row: TokenRow = queries::find_by_key(db, key_id)
        .await?
        .ok_or(TokenError::Invalid)?;
    let matches: bool = sha256_hex(presented)
        .as_bytes()
        .ct_eq(row.secret_sha256.as_bytes())
        .into();
    if matches {
        Ok(row)
    } else {
        Err(TokenError::Invalid)
    }
}

/// The principal of a token's row, unless the token was revoked or has expired.
pub(crate) fn admit(row: TokenRow) -> Result<Principal, TokenError> {
    if row.revoked_at.is_some() {
        return Err(TokenError::Revoked(row.name));
    }
    if let Some(expires_at) = row.expires_at
        && expires_at <= chrono::Utc::now()
    {
        return Err(TokenError::Expired {
            name: row.name,
            at: expires_at.to_rfc3339(),
        });
    }
    Ok(Principal {
        scopes: parse_scopes(&row.scopes),
        token_name: row.name,
    })
}

/// A token as `token list` shows it: never the secret.
#[derive(Debug, serde::Serialize)]
pub struct TokenSummary {
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<TokenSummary>, TokenError> {
    Ok(queries::list(db)
        .await?
        .into_iter()
        .map(|row| TokenSummary {
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
            name: row.name,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            expires_at: row.expires_at,
        })
        .collect())
}

/// Revokes the token `name`. The revocation and its audit event are one transaction, so every
/// replica's change feed sees it and drops the token from its verified tokens.
pub async fn revoke(
    db: &DatabaseConnection,
    name: &str,
    actor: &super::audit::Actor,
) -> Result<(), TokenError> {
    let transaction = crate::db::begin_write(db).await?;
    if !queries::revoke(&transaction, name).await? {
        return Err(TokenError::NotFound(name.chars().take(128).collect()));
    }
    super::audit::record(
        &transaction,
        actor,
        super::audit::Action::TOKEN_REVOKE,
        name,
        serde_json::json!({}),
    )
    .await?;
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_that_raced_a_revocation_is_not_kept() {
        let cache = VerifiedTokens::default();
        let principal = Arc::new(Principal {
            token_name: "ci".into(),
            scopes: vec![Scope::Read],
        });
        let verified = || Verified {
            principal: principal.clone(),
            expires_at: None,
            read_at: Instant::now(),
        };
        let generation = || cache.generation.load(Ordering::Acquire);
        let before = generation();
        cache.forget("other");
        cache.store([1; 32], verified(), before);
        assert!(cache.get(&[1; 32], Instant::now()).is_none(), "raced");

        cache.store([1; 32], verified(), generation());
        assert!(matches!(cache.get(&[1; 32], Instant::now()), Some(Ok(_))));
        let later = Instant::now() + VERIFIED_TTL;
        assert!(cache.get(&[1; 32], later).is_none(), "lapsed");
        cache.forget("ci");
        assert!(cache.get(&[1; 32], Instant::now()).is_none(), "revoked");
    }

    #[test]
    fn scopes_parse_and_display() {
        for text in ["read", "admin", "publish:*", "publish:platform"] {
            let scope: Scope = text.parse().expect("valid scope");
            assert_eq!(scope.to_string(), text);
        }
        for text in ["write", "publish:", "publish:bad name", "READ"] {
            assert!(text.parse::<Scope>().is_err(), "{text}");
        }
    }

    #[test]
    fn lifetimes_parse_with_units_and_limits() {
        assert_eq!(
            parse_lifetime("90m").map(|d| d.num_seconds()).ok(),
            Some(5400)
        );
        assert_eq!(
            parse_lifetime("30d").map(|d| d.num_seconds()).ok(),
            Some(2_592_000)
        );
        for bad in ["", "10", "d", "-1h", "0s", "99999d", "1w", "1.5h"] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn publish_scope_is_limited_to_its_namespace() {
        let namespace = |n: &str| Namespace::new(n).expect("valid");
        let principal = Principal {
            token_name: "ci".into(),
            scopes: vec!["publish:a".parse().expect("valid")],
        };
        assert!(principal.can_publish(&namespace("a")));
        assert!(!principal.can_publish(&namespace("b")));
        assert!(principal.can_read());
        let reader = Principal {
            token_name: "r".into(),
            scopes: vec![Scope::Read],
        };
        assert!(!reader.can_publish(&namespace("a")));
        let everywhere = Principal {
            token_name: "all".into(),
            scopes: vec![Scope::Publish(None)],
        };
        assert!(everywhere.can_publish(&namespace("z")));
        assert!(!everywhere.is_admin());
    }
}
