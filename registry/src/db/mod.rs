//! The metadata database: sea-orm entities, migrations and the connection. The only place SQL is
//! built; callers above get row types and typed queries, one file per table group.

pub mod artifacts;
pub mod audit;
pub mod entities;
pub mod migration;
pub mod sessions;
pub mod stacks;
pub mod tokens;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

/// Connects to SQLite (creating the file, in WAL mode) or PostgreSQL.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect_timeout(PROBE_TIMEOUT);
    if url.starts_with("sqlite:") {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .map(|rest| rest.split('?').next().unwrap_or(rest))
            .filter(|path| !path.is_empty() && *path != ":memory:")
            && let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|error| {
                DbErr::Custom(format!("cannot create {}: {error}", parent.display()))
            })?;
        }
        options.max_connections(8).map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                // A commit is on disk before the answer that reports it: an acknowledged
                // publish survives a power cut (NORMAL could lose the last commits).
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    } else {
        probe_postgres(url).await?;
        options.max_connections(16);
    }
    Database::connect(options).await
}

/// One direct connection before the pool is built: the pool retries a refused or rejected
/// connection until its acquire timeout and then says only "pool timed out", where this names
/// the cause (refused, unknown host, authentication failed) within seconds.
async fn probe_postgres(url: &str) -> Result<(), DbErr> {
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    let options: sea_orm::sqlx::postgres::PgConnectOptions = url
        .parse()
        .map_err(|error| DbErr::Custom(format!("invalid PostgreSQL URL: {error}")))?;
    match tokio::time::timeout(PROBE_TIMEOUT, options.connect()).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(unreachable(error.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {} seconds",
            PROBE_TIMEOUT.as_secs()
        ))),
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A database that cannot be reached, as sea-orm says it ("Connection Error: …").
fn unreachable(cause: String) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::Internal(cause))
}

/// Applies every pending migration, after refusing a schema newer than this binary's (one a
/// newer quarry migrated): an older replica must not write to tables it does not know.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let known: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect();
    let unknown: Vec<String> = migration::Migrator::get_migration_models(db)
        .await?
        .into_iter()
        .map(|applied| applied.version)
        .filter(|version| !known.contains(version))
        .collect();
    if !unknown.is_empty() {
        return Err(DbErr::Custom(format!(
            "the database's schema is newer than this quarry {}: it has {} this version does not know ({}). Run the newer quarry, or restore a backup taken before the upgrade",
            env!("CARGO_PKG_VERSION"),
            quarry_core::counted(unknown.len(), "migration", "migrations"),
            unknown.join(", ")
        )));
    }
    migration::Migrator::up(db, None).await
}

/// Whether an error is a unique-constraint violation (a concurrent insert of the same key won).
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Whether the database answers a trivial query (the health check).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// A write transaction: on SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
/// concurrent writers queue on the busy timeout instead of failing when they upgrade a read.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Escapes `%`, `_` and `\\` so user text matches literally inside a LIKE pattern.
pub(crate) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// One page of `query`'s rows (already ordered): at most `limit` after skipping `offset`, and
/// whether more follow (one row more is read to know).
pub(crate) async fn page_of<E: sea_orm::EntityTrait>(
    db: &impl ConnectionTrait,
    query: sea_orm::Select<E>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<E::Model>, bool), DbErr> {
    use sea_orm::QuerySelect;
    let mut rows = query.offset(offset).limit(limit + 1).all(db).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, has_more))
}
