//! The registry's rules: who may do what, what a publish must satisfy, how versions are found.
//! Nothing here knows HTTP; handlers call these and turn the results into responses.

pub mod artifacts;
pub mod audit;
pub mod backup;
pub mod blueprints;
pub mod cache;
pub mod changes;
pub mod gc;
pub mod import;
pub mod mirror;
pub mod modules;
pub mod provider_keys;
pub mod providers;
pub mod publish;
pub mod pull_through;
pub mod ratelimit;
pub mod search;
pub mod sessions;
pub mod signing;
pub mod stacks;
pub mod tokens;

use crate::config::{Config, ReadAccess};
use crate::storage::{Storage, StorageError};
use quarry_core::archive::Limits;
use sea_orm::{DatabaseConnection, DbErr};
use signing::UrlSigner;
use std::collections::HashMap;

/// Everything a request needs, built once at start and shared by every worker.
#[derive(Clone, Debug)]
pub struct Registry {
    pub db: DatabaseConnection,
    pub storage: Storage,
    pub read_access: ReadAccess,
    /// Whether stacks may be reported to, and listed from, the inventory.
    pub stack_inventory: bool,
    pub public_url: Option<String>,
    pub signer: UrlSigner,
    pub max_archive_bytes: u64,
    pub limits: Limits,
    pub write_limiter: std::sync::Arc<ratelimit::RateLimiter>,
    /// How long an upload may stall between two chunks.
    pub body_timeout: std::time::Duration,
    /// The largest request head (target and headers) accepted.
    pub max_header_bytes: usize,
    pub caches: std::sync::Arc<cache::Caches>,
    /// Tokens verified recently (reads that present one need no database round trip).
    pub tokens: std::sync::Arc<tokens::VerifiedTokens>,
    /// The module listing, in memory.
    pub search: std::sync::Arc<search::SearchIndex>,
    /// Where checks and renders run, each under its budget.
    pub sandbox: crate::sandbox::Sandbox,
    pub check_budget: crate::sandbox::Budget,
    pub render_budget: crate::sandbox::Budget,
    /// The most a rendered stack may hold, in bytes.
    pub render_output_bytes: usize,
    /// What the web UI keeps between requests (rendered READMEs, stacks rendered for download).
    pub ui: std::sync::Arc<crate::ui::State>,
    /// What the module detail answer keeps between requests (its analysis's parts, serialized).
    pub kept_contents: std::sync::Arc<crate::http::modules::KeptContents>,
    /// Whether every request is logged (otherwise only errors, refused writes and slow ones).
    pub access_log: bool,
    /// Archive downloads redirect to presigned object-store URLs valid this long.
    pub archive_redirect: Option<std::time::Duration>,
    /// Where the network mirror pulls providers it does not hold from.
    pub upstream: Option<pull_through::Upstream>,
    pub metrics: crate::metrics::Metrics,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database {url}: {source}")]
    Database { url: String, source: DbErr },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Config(String),
    #[error("signing key {path}: {source}")]
    SigningKey {
        path: String,
        source: std::io::Error,
    },
}

/// The registry's own stores failed (the database or the object store): the request cannot be
/// answered, and the cause is for the log, not the client.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored data does not read back: {0}")]
    Corrupt(String),
}

/// A version just published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub id: String,
    pub version: String,
    pub archive: quarry_core::digest::Sha256,
    pub archive_size: u64,
}

/// The signing key from the configuration, or one kept in the data directory (single node only:
/// replicas must share a configured key).
fn signing_key(config: &Config) -> Result<Vec<u8>, StartError> {
    if let Some(key) = &config.serve.signing_key {
        return Ok(key.as_bytes().to_vec());
    }
    let path = config.data_dir.join("signing.key");
    let error = |source| StartError::SigningKey {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 32 => {
            // An older registry may have left it readable by others.
            quarry_core::private_file::write(&path, &key).map_err(error)?;
            Ok(key)
        }
        Ok(_) | Err(_) => {
            use rand::RngCore;
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            let text = hex::encode(key);
            std::fs::create_dir_all(&config.data_dir).map_err(error)?;
            quarry_core::private_file::write(&path, text.as_bytes()).map_err(error)?;
            Ok(text.into_bytes())
        }
    }
}

impl Registry {
    /// Connects the database (applying migrations) and the storage named by the configuration.
    pub async fn start(config: &Config) -> Result<Self, StartError> {
        let database_error = |source| StartError::Database {
            url: crate::config::redact_url(&config.database_url),
            source,
        };
        // Both stores are checked before either is changed: a wrong bucket must not leave a
        // freshly created and migrated database behind.
        let storage = Storage::open(config.storage_url.as_deref(), &config.data_dir)?;
        storage.check().await?;
        if config.serve.archive_redirect && !storage.can_presign() {
            return Err(StartError::Config(
                "--archive-redirect needs s3://, gs:// or az:// storage: local files have no URL of their own to redirect to".into(),
            ));
        }
        let db = crate::db::connect(&config.database_url)
            .await
            .map_err(database_error)?;
        crate::db::migrate(&db).await.map_err(database_error)?;
        let settings = &config.serve;
        let metrics = crate::metrics::Metrics {
            storage_errors: storage.errors.clone(),
            ..crate::metrics::Metrics::default()
        };
        let budget_error =
            |error: crate::config::ConfigError| StartError::Config(error.to_string());
        Ok(Self {
            db,
            storage,
            read_access: settings.read_access,
            stack_inventory: settings.stack_inventory,
            public_url: settings.public_url.clone(),
            signer: UrlSigner::new(&signing_key(config)?, settings.signed_url_ttl),
            max_archive_bytes: settings.max_archive_bytes,
            limits: Limits {
                max_unpacked_bytes: settings.max_unpacked_bytes,
                ..Limits::default()
            },
            write_limiter: std::sync::Arc::new(ratelimit::RateLimiter::new(
                settings.writes_per_minute_per_token,
                settings.writes_per_minute_per_address,
            )),
            body_timeout: std::time::Duration::from_secs(settings.body_timeout),
            max_header_bytes: settings.max_header_bytes,
            caches: std::sync::Arc::default(),
            tokens: std::sync::Arc::default(),
            search: std::sync::Arc::default(),
            sandbox: crate::sandbox::Sandbox::new(
                config.sandbox_program.clone(),
                settings.sandbox_workers,
            ),
            check_budget: config.check_budget().map_err(budget_error)?,
            render_budget: config.render_budget().map_err(budget_error)?,
            render_output_bytes: settings.render_output_bytes,
            ui: std::sync::Arc::default(),
            kept_contents: std::sync::Arc::default(),
            access_log: settings.access_log,
            archive_redirect: settings
                .archive_redirect
                .then(|| std::time::Duration::from_secs(settings.signed_url_ttl)),
            upstream: settings
                .mirror_upstream
                .as_deref()
                .map(|value| {
                    pull_through::Upstream::parse(
                        value,
                        settings.mirror_upstream_token.clone(),
                        settings.mirror_platforms.clone(),
                    )
                })
                .transpose()
                .map_err(StartError::Config)?,
            metrics,
        })
    }

    /// Counts a cache lookup as a hit or a miss, and passes its answer on.
    pub(crate) fn cached<T>(&self, cache: &'static str, found: Option<T>) -> Option<T> {
        self.metrics.cache(cache, found.is_some());
        found
    }

    /// The database pool's idle and in-use connections.
    pub fn pool_state(&self) -> Option<(u32, u32)> {
        let (size, idle) = match self.db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            sea_orm::DatabaseBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => return None,
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        Some((idle, size.saturating_sub(idle)))
    }

    /// Whether the database answers a trivial query (the health check).
    pub async fn database_answers(&self) -> Result<(), DbErr> {
        crate::db::ping(&self.db).await
    }

    /// Writes the download counts gathered in memory, in one transaction (one write instead of
    /// one per version); if it fails they are kept for the next try.
    pub async fn flush_downloads(&self) {
        // Held first: a full load may keep it a while, and the counts taken mark a write under
        // way, during which module states are not kept.
        let held = self.search.hold().await;
        let counts = self.caches.take_downloads();
        if counts.is_empty() {
            return;
        }
        match crate::db::artifacts::add_downloads(&self.db, &counts).await {
            Ok(artifacts) => {
                let mut by_artifact: HashMap<i32, i64> = HashMap::new();
                for (version_id, count) in &counts {
                    if let Some(artifact_id) = artifacts.get(version_id) {
                        *by_artifact.entry(*artifact_id).or_default() += count;
                    }
                }
                held.add_stored_downloads(&by_artifact).await;
                drop(held);
                self.caches.downloads_written(&counts);
            }
            Err(error) => {
                drop(held);
                tracing::warn!(%error, "could not write download counts; keeping them");
                self.caches.restore_downloads(counts);
            }
        }
    }

    /// The URL a client fetches an archive from: relative unless a public URL is configured, and
    /// signed when reads need a token.
    pub fn archive_url(&self, digest: &quarry_core::digest::Sha256) -> String {
        self.file_url(digest, ".tar.gz")
    }

    /// [`Registry::archive_url`] for any stored file, named `<sha256><suffix>` (the suffix
    /// gives its content type: `.tar.gz`, `.zip`, `.txt`, `.sig`).
    pub fn file_url(&self, digest: &quarry_core::digest::Sha256, suffix: &str) -> String {
        let base = self.public_url.as_deref().unwrap_or("");
        let mut url = format!("{base}/v1/archives/{}{suffix}", digest.to_hex());
        if self.read_access == ReadAccess::Token {
            url.push('?');
            url.push_str(&self.signer.sign(digest, signing::now_unix()));
        }
        url
    }
}
