//! Typed queries over the entities; the service layer calls these and never builds SQL itself.

use super::entities::{module, module_version, token};
use quarry_core::address::ModuleAddress;
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

pub async fn find_module(
    db: &impl ConnectionTrait,
    address: &ModuleAddress,
) -> Result<Option<module::Model>, DbErr> {
    module::Entity::find()
        .filter(module::Column::Namespace.eq(address.namespace.as_str()))
        .filter(module::Column::Name.eq(address.name.as_str()))
        .filter(module::Column::System.eq(address.system.as_str()))
        .one(db)
        .await
}

/// What listings and version choice need of a version: everything but the analysis.
#[derive(Debug, Clone, PartialEq, sea_orm::FromQueryResult)]
pub struct VersionHead {
    pub id: i32,
    pub module_id: i32,
    pub version: String,
    pub yanked: bool,
    pub deprecated: bool,
    pub downloads: i64,
    pub published_at: chrono::DateTime<chrono::Utc>,
    pub published_by: String,
}

fn heads() -> sea_orm::Select<module_version::Entity> {
    module_version::Entity::find().select_only().columns([
        module_version::Column::Id,
        module_version::Column::ModuleId,
        module_version::Column::Version,
        module_version::Column::Yanked,
        module_version::Column::Deprecated,
        module_version::Column::Downloads,
        module_version::Column::PublishedAt,
        module_version::Column::PublishedBy,
    ])
}

/// The heads of every version of a module, yanked ones included.
pub async fn version_heads(
    db: &impl ConnectionTrait,
    module_id: i32,
) -> Result<Vec<VersionHead>, DbErr> {
    heads()
        .filter(module_version::Column::ModuleId.eq(module_id))
        .into_model::<VersionHead>()
        .all(db)
        .await
}

pub async fn find_version(
    db: &impl ConnectionTrait,
    module_id: i32,
    version: &str,
) -> Result<Option<module_version::Model>, DbErr> {
    module_version::Entity::find()
        .filter(module_version::Column::ModuleId.eq(module_id))
        .filter(module_version::Column::Version.eq(version))
        .one(db)
        .await
}

/// The outcome of inserting a version row.
pub enum Inserted {
    Created,
    AlreadyExists,
}

/// A version about to be recorded; its archive is already in storage.
pub struct NewVersion<'a> {
    pub address: &'a ModuleAddress,
    pub description: &'a str,
    pub version: &'a quarry_core::version::Version,
    pub archive_sha256: &'a str,
    pub archive_size: i64,
    pub analysis: serde_json::Value,
    pub published_by: &'a str,
}

/// An audit event to record with the change it describes.
pub struct NewAuditEvent<'a> {
    pub actor: &'a str,
    pub source: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub details: serde_json::Value,
}

/// Records one audit event.
pub async fn insert_audit_event(
    db: &impl ConnectionTrait,
    event: NewAuditEvent<'_>,
) -> Result<(), DbErr> {
    super::entities::audit_event::Entity::insert(super::entities::audit_event::ActiveModel {
        at: Set(chrono::Utc::now()),
        actor: Set(event.actor.chars().take(128).collect()),
        action: Set(event.action.to_owned()),
        target: Set(event.target.chars().take(512).collect()),
        source: Set(event.source.chars().take(128).collect()),
        details: Set(event.details),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// A write transaction: on SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
/// concurrent writers queue on the busy timeout instead of failing when they upgrade a read.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// The text of a stored version of `module_id` that terraform cannot tell from `precedence`
/// (equal but for build metadata), if there is one.
pub async fn same_version(
    db: &impl ConnectionTrait,
    module_id: i32,
    precedence: &str,
) -> Result<Option<String>, DbErr> {
    module_version::Entity::find()
        .select_only()
        .column(module_version::Column::Version)
        .filter(module_version::Column::ModuleId.eq(module_id))
        .filter(module_version::Column::Precedence.eq(precedence))
        .into_tuple::<String>()
        .one(db)
        .await
}

/// Records a version and its audit event in one transaction: both or neither. The unique index
/// on (module, precedence) decides between concurrent publishes of the same version: exactly one
/// insert wins, the others learn the version exists.
pub async fn insert_version(
    db: &DatabaseConnection,
    new: NewVersion<'_>,
    audit: NewAuditEvent<'_>,
) -> Result<Inserted, DbErr> {
    let now = chrono::Utc::now();
    // The module row is found or created first, on its own: a row without versions is never
    // listed, and creating it inside the transaction would make concurrent first publishes fail
    // instead of queueing.
    let module = match find_module(db, new.address).await? {
        Some(existing) => existing,
        None => {
            let inserted = module::Entity::insert(module::ActiveModel {
                namespace: Set(new.address.namespace.to_string()),
                name: Set(new.address.name.to_string()),
                system: Set(new.address.system.to_string()),
                description: Set(new.description.to_owned()),
                created_at: Set(now),
                ..Default::default()
            })
            .exec(db)
            .await;
            match inserted {
                Ok(_) => {}
                // Another publish created the module first.
                Err(error) if super::is_unique_violation(&error) => {}
                Err(error) => return Err(error),
            }
            find_module(db, new.address)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("module row vanished".into()))?
        }
    };
    let transaction = begin_write(db).await?;
    let precedence = new.version.precedence();
    if same_version(&transaction, module.id, &precedence)
        .await?
        .is_some()
    {
        return Ok(Inserted::AlreadyExists);
    }
    let inserted = module_version::Entity::insert(module_version::ActiveModel {
        module_id: Set(module.id),
        version: Set(new.version.to_string()),
        precedence: Set(precedence),
        archive_sha256: Set(new.archive_sha256.to_owned()),
        archive_size: Set(new.archive_size),
        analysis: Set(new.analysis),
        published_by: Set(new.published_by.to_owned()),
        published_at: Set(now),
        deprecated: Set(false),
        yanked: Set(false),
        downloads: Set(0),
        ..Default::default()
    })
    .exec(&transaction)
    .await;
    match inserted {
        Ok(_) => {}
        Err(error) if super::is_unique_violation(&error) => return Ok(Inserted::AlreadyExists),
        Err(error) => return Err(error),
    }
    // The newest publish describes the module.
    if !new.description.is_empty() && module.description != new.description {
        module::Entity::update_many()
            .col_expr(module::Column::Description, Expr::value(new.description))
            .filter(module::Column::Id.eq(module.id))
            .exec(&transaction)
            .await?;
    }
    insert_audit_event(&transaction, audit).await?;
    transaction.commit().await?;
    Ok(Inserted::Created)
}

/// Which modules a listing or search covers.
#[derive(Debug, Default, Clone)]
pub struct ModuleFilter {
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub system: Option<String>,
    /// Case-insensitive substring over namespace, name, system and description.
    pub query: Option<String>,
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

/// A case-insensitive substring pattern (to compare with `LOWER(column)`).
pub(crate) fn like_pattern(text: &str) -> String {
    format!("%{}%", escape_like(&text.to_lowercase()))
}

/// Every module, for the in-memory listing.
pub async fn all_modules(db: &impl ConnectionTrait) -> Result<Vec<module::Model>, DbErr> {
    module::Entity::find().all(db).await
}

/// The heads of every version that is not yanked, of every module, as a stream of rows.
pub async fn visible_heads_of_all(
    db: &DatabaseConnection,
) -> Result<impl futures_util::Stream<Item = Result<VersionHead, DbErr>> + Send + '_, DbErr> {
    heads()
        .filter(module_version::Column::Yanked.eq(false))
        .into_model::<VersionHead>()
        .stream(db)
        .await
}

/// The heads of a module's versions that are not yanked.
pub async fn visible_heads(
    db: &impl ConnectionTrait,
    module_id: i32,
) -> Result<Vec<VersionHead>, DbErr> {
    heads()
        .filter(module_version::Column::ModuleId.eq(module_id))
        .filter(module_version::Column::Yanked.eq(false))
        .into_model::<VersionHead>()
        .all(db)
        .await
}

/// Systems published under `namespace/name`, for the detail's `providers` list.
pub async fn systems_of(
    db: &impl ConnectionTrait,
    namespace: &str,
    name: &str,
) -> Result<Vec<String>, DbErr> {
    let modules = module::Entity::find()
        .filter(module::Column::Namespace.eq(namespace))
        .filter(module::Column::Name.eq(name))
        .order_by_asc(module::Column::System)
        .all(db)
        .await?;
    Ok(modules.into_iter().map(|module| module.system).collect())
}

/// Adds `count` downloads to a version in one statement.
pub async fn add_downloads(
    db: &impl ConnectionTrait,
    version_id: i32,
    count: i64,
) -> Result<(), DbErr> {
    module_version::Entity::update_many()
        .col_expr(
            module_version::Column::Downloads,
            Expr::col(module_version::Column::Downloads).add(count),
        )
        .filter(module_version::Column::Id.eq(version_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Every archive digest a module or blueprint version points at (for garbage collection and
/// integrity checks).
pub async fn referenced_archives(
    db: &impl ConnectionTrait,
) -> Result<std::collections::HashSet<String>, DbErr> {
    let mut digests: std::collections::HashSet<String> = module_version::Entity::find()
        .select_only()
        .column(module_version::Column::ArchiveSha256)
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    digests.extend(
        super::entities::blueprint_version::Entity::find()
            .select_only()
            .column(super::entities::blueprint_version::Column::ArchiveSha256)
            .into_tuple::<String>()
            .all(db)
            .await?,
    );
    Ok(digests)
}

pub async fn insert_token(
    db: &impl ConnectionTrait,
    name: &str,
    key_id: &str,
    secret_sha256: &str,
    scopes: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<token::Model, DbErr> {
    token::ActiveModel {
        name: Set(name.to_owned()),
        key_id: Set(key_id.to_owned()),
        secret_sha256: Set(secret_sha256.to_owned()),
        scopes: Set(scopes.to_owned()),
        created_at: Set(chrono::Utc::now()),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn find_token_by_key(
    db: &impl ConnectionTrait,
    key_id: &str,
) -> Result<Option<token::Model>, DbErr> {
    token::Entity::find()
        .filter(token::Column::KeyId.eq(key_id))
        .one(db)
        .await
}

pub async fn find_token_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<token::Model>, DbErr> {
    token::Entity::find()
        .filter(token::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn list_tokens(db: &impl ConnectionTrait) -> Result<Vec<token::Model>, DbErr> {
    token::Entity::find()
        .order_by_asc(token::Column::Name)
        .all(db)
        .await
}

/// Marks a token revoked; returns whether an active token of that name existed.
pub async fn revoke_token(db: &impl ConnectionTrait, name: &str) -> Result<bool, DbErr> {
    let result = token::Entity::update_many()
        .col_expr(token::Column::RevokedAt, Expr::value(chrono::Utc::now()))
        .filter(token::Column::Name.eq(name))
        .filter(token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Marks a module version deprecated or yanked (never undone here: a yank keeps the archive).
pub async fn mark_version(
    db: &impl ConnectionTrait,
    version_id: i32,
    column: module_version::Column,
) -> Result<(), DbErr> {
    module_version::Entity::update_many()
        .col_expr(column, Expr::value(true))
        .filter(module_version::Column::Id.eq(version_id))
        .exec(db)
        .await?;
    Ok(())
}
