//! Queries over artifacts and their versions, the same for every kind. Version rows are read as
//! [`VersionRow`]s, everything but the document, which only [`document`] reads.

use super::entities::{artifact, artifact_version};
use super::{begin_write, is_unique_violation};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::HashMap;

/// Which artifact: its kind and address parts (`system` empty for kinds without one).
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub system: &'a str,
}

/// An artifact's row.
pub type ArtifactRow = artifact::Model;

/// A version's row without its document.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct VersionRow {
    pub id: i32,
    pub artifact_id: i32,
    pub version: String,
    pub archive_sha256: String,
    pub archive_size: i64,
    pub published_by: String,
    pub published_at: chrono::DateTime<chrono::Utc>,
    pub deprecated: bool,
    pub deprecation_reason: Option<String>,
    pub replacement: Option<String>,
    pub yanked: bool,
    pub yank_reason: Option<String>,
    pub downloads: i64,
}

fn version_rows() -> sea_orm::Select<artifact_version::Entity> {
    use artifact_version::Column as C;
    artifact_version::Entity::find().select_only().columns([
        C::Id,
        C::ArtifactId,
        C::Version,
        C::ArchiveSha256,
        C::ArchiveSize,
        C::PublishedBy,
        C::PublishedAt,
        C::Deprecated,
        C::DeprecationReason,
        C::Replacement,
        C::Yanked,
        C::YankReason,
        C::Downloads,
    ])
}

fn by_key(key: Key<'_>) -> sea_orm::Select<artifact::Entity> {
    artifact::Entity::find()
        .filter(artifact::Column::Kind.eq(key.kind))
        .filter(artifact::Column::Namespace.eq(key.namespace))
        .filter(artifact::Column::Name.eq(key.name))
        .filter(artifact::Column::System.eq(key.system))
}

pub async fn find(db: &impl ConnectionTrait, key: Key<'_>) -> Result<Option<ArtifactRow>, DbErr> {
    by_key(key).one(db).await
}

/// Every version of an artifact, yanked ones included.
pub async fn versions(
    db: &impl ConnectionTrait,
    artifact_id: i32,
) -> Result<Vec<VersionRow>, DbErr> {
    version_rows()
        .filter(artifact_version::Column::ArtifactId.eq(artifact_id))
        .into_model::<VersionRow>()
        .all(db)
        .await
}

/// The versions that are not yanked of every artifact of `kind`, as a stream of rows grouped by
/// artifact, in address order (for the in-memory listing, which must not hold them all at once;
/// SQLite reads them in that order from the address index, without a sort).
pub async fn visible_versions_of_kind<'a>(
    db: &'a DatabaseConnection,
    kind: &str,
) -> Result<impl futures_util::Stream<Item = Result<VersionRow, DbErr>> + Send + 'a, DbErr> {
    version_rows()
        .inner_join(artifact::Entity)
        .filter(artifact::Column::Kind.eq(kind))
        .filter(artifact_version::Column::Yanked.eq(false))
        .order_by_asc(artifact::Column::Namespace)
        .order_by_asc(artifact::Column::Name)
        .order_by_asc(artifact::Column::System)
        .into_model::<VersionRow>()
        .stream(db)
        .await
}

/// Every artifact of `kind`, streamed: collected, the driver's rows of 100,000 artifacts all
/// stood in memory at once (about 100 MB on SQLite's connection thread, which its allocator kept
/// after they were freed).
pub async fn all_of_kind<'a>(
    db: &'a DatabaseConnection,
    kind: &str,
) -> Result<impl futures_util::Stream<Item = Result<ArtifactRow, DbErr>> + Send + 'a, DbErr> {
    artifact::Entity::find()
        .filter(artifact::Column::Kind.eq(kind))
        .stream(db)
        .await
}

/// The artifacts of a kind under one namespace and name, one per system, by system (one read
/// for a module's detail, which shows its own row and its siblings' systems).
pub async fn named(
    db: &impl ConnectionTrait,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Vec<ArtifactRow>, DbErr> {
    artifact::Entity::find()
        .filter(artifact::Column::Kind.eq(kind))
        .filter(artifact::Column::Namespace.eq(namespace))
        .filter(artifact::Column::Name.eq(name))
        .order_by_asc(artifact::Column::System)
        .all(db)
        .await
}

/// A version's document: what its kind's checks made of it.
pub async fn document(
    db: &impl ConnectionTrait,
    version_id: i32,
) -> Result<Option<serde_json::Value>, DbErr> {
    artifact_version::Entity::find_by_id(version_id)
        .select_only()
        .column(artifact_version::Column::Document)
        .into_tuple::<serde_json::Value>()
        .one(db)
        .await
}

/// The text of a stored version of `artifact_id` that terraform cannot tell from `precedence`
/// (equal but for build metadata), if there is one.
pub async fn same_version(
    db: &impl ConnectionTrait,
    artifact_id: i32,
    precedence: &str,
) -> Result<Option<String>, DbErr> {
    artifact_version::Entity::find()
        .select_only()
        .column(artifact_version::Column::Version)
        .filter(artifact_version::Column::ArtifactId.eq(artifact_id))
        .filter(artifact_version::Column::Precedence.eq(precedence))
        .into_tuple::<String>()
        .one(db)
        .await
}

/// A version about to be recorded; its archive is already in storage.
pub struct NewVersion<'a> {
    pub key: Key<'a>,
    pub description: &'a str,
    pub version: &'a str,
    pub precedence: &'a str,
    pub archive_sha256: &'a str,
    pub archive_size: i64,
    pub document: serde_json::Value,
    pub published_by: &'a str,
}

/// The outcome of recording a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Created,
    AlreadyExists,
}

/// Finds or creates the artifact row of `key` on its own: a row without versions is never
/// listed, and creating it inside the version's transaction would make concurrent first
/// publishes fail instead of queueing.
async fn find_or_create(
    db: &DatabaseConnection,
    key: Key<'_>,
    description: &str,
) -> Result<ArtifactRow, DbErr> {
    if let Some(existing) = find(db, key).await? {
        return Ok(existing);
    }
    let inserted = artifact::Entity::insert(artifact::ActiveModel {
        kind: Set(key.kind.to_owned()),
        namespace: Set(key.namespace.to_owned()),
        name: Set(key.name.to_owned()),
        system: Set(key.system.to_owned()),
        description: Set(description.to_owned()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    })
    .exec(db)
    .await;
    match inserted {
        Ok(_) => {}
        // Another publish created it first.
        Err(error) if is_unique_violation(&error) => {}
        Err(error) => return Err(error),
    }
    find(db, key)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("artifact row vanished".into()))
}

/// Records a version and its audit event in one transaction: both or neither. The unique indexes
/// on (artifact, version) and (artifact, precedence) decide between concurrent publishes:
/// exactly one insert wins, the others learn the version exists.
pub async fn insert_version(
    db: &DatabaseConnection,
    new: NewVersion<'_>,
    audit: super::audit::NewEvent<'_>,
) -> Result<Inserted, DbErr> {
    let parent = find_or_create(db, new.key, new.description).await?;
    let transaction = begin_write(db).await?;
    if same_version(&transaction, parent.id, new.precedence)
        .await?
        .is_some()
    {
        return Ok(Inserted::AlreadyExists);
    }
    let inserted = artifact_version::Entity::insert(artifact_version::ActiveModel {
        artifact_id: Set(parent.id),
        version: Set(new.version.to_owned()),
        precedence: Set(new.precedence.to_owned()),
        archive_sha256: Set(new.archive_sha256.to_owned()),
        archive_size: Set(new.archive_size),
        document: Set(new.document),
        published_by: Set(new.published_by.to_owned()),
        published_at: Set(chrono::Utc::now()),
        deprecated: Set(false),
        deprecation_reason: Set(None),
        replacement: Set(None),
        yanked: Set(false),
        yank_reason: Set(None),
        downloads: Set(0),
        ..Default::default()
    })
    .exec(&transaction)
    .await;
    match inserted {
        Ok(_) => {}
        Err(error) if is_unique_violation(&error) => return Ok(Inserted::AlreadyExists),
        Err(error) => return Err(error),
    }
    // The newest publish describes the artifact.
    if !new.description.is_empty() && parent.description != new.description {
        artifact::Entity::update_many()
            .col_expr(artifact::Column::Description, Expr::value(new.description))
            .filter(artifact::Column::Id.eq(parent.id))
            .exec(&transaction)
            .await?;
    }
    super::audit::insert(&transaction, audit).await?;
    transaction.commit().await?;
    Ok(Inserted::Created)
}

/// A change of a version's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag<'a> {
    Deprecated {
        reason: Option<&'a str>,
        replacement: Option<&'a str>,
    },
    Undeprecated,
    Yanked {
        reason: Option<&'a str>,
    },
    Unyanked,
}

/// Sets a version's flag and records the audit event, in one transaction.
pub async fn set_flag(
    db: &DatabaseConnection,
    version_id: i32,
    flag: Flag<'_>,
    audit: super::audit::NewEvent<'_>,
) -> Result<(), DbErr> {
    use artifact_version::Column as C;
    let transaction = begin_write(db).await?;
    let update = artifact_version::Entity::update_many().filter(C::Id.eq(version_id));
    let update = match flag {
        Flag::Deprecated {
            reason,
            replacement,
        } => update
            .col_expr(C::Deprecated, Expr::value(true))
            .col_expr(C::DeprecationReason, Expr::value(reason.map(str::to_owned)))
            .col_expr(C::Replacement, Expr::value(replacement.map(str::to_owned))),
        Flag::Undeprecated => update
            .col_expr(C::Deprecated, Expr::value(false))
            .col_expr(C::DeprecationReason, Expr::value(Option::<String>::None))
            .col_expr(C::Replacement, Expr::value(Option::<String>::None)),
        Flag::Yanked { reason } => update
            .col_expr(C::Yanked, Expr::value(true))
            .col_expr(C::YankReason, Expr::value(reason.map(str::to_owned))),
        Flag::Unyanked => update
            .col_expr(C::Yanked, Expr::value(false))
            .col_expr(C::YankReason, Expr::value(Option::<String>::None)),
    };
    update.exec(&transaction).await?;
    super::audit::insert(&transaction, audit).await?;
    transaction.commit().await
}

/// Adds download counts to versions, in one transaction; returns the artifact of each version
/// counted.
pub async fn add_downloads(
    db: &DatabaseConnection,
    counts: &HashMap<i32, i64>,
) -> Result<HashMap<i32, i32>, DbErr> {
    use sea_orm::TransactionTrait;
    let transaction = db.begin().await?;
    for (version_id, count) in counts {
        artifact_version::Entity::update_many()
            .col_expr(
                artifact_version::Column::Downloads,
                Expr::col(artifact_version::Column::Downloads).add(*count),
            )
            .filter(artifact_version::Column::Id.eq(*version_id))
            .exec(&transaction)
            .await?;
    }
    let ids: Vec<i32> = counts.keys().copied().collect();
    let mut artifacts = HashMap::with_capacity(ids.len());
    // In chunks: a query's bound parameters are limited (SQLite: 32,766).
    for chunk in ids.chunks(1000) {
        let rows: Vec<(i32, i32)> = artifact_version::Entity::find()
            .select_only()
            .column(artifact_version::Column::Id)
            .column(artifact_version::Column::ArtifactId)
            .filter(artifact_version::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(&transaction)
            .await?;
        artifacts.extend(rows);
    }
    transaction.commit().await?;
    Ok(artifacts)
}

/// Every archive digest a version points at (for garbage collection).
pub async fn referenced_archives(
    db: &impl ConnectionTrait,
) -> Result<std::collections::HashSet<String>, DbErr> {
    Ok(artifact_version::Entity::find()
        .select_only()
        .column(artifact_version::Column::ArchiveSha256)
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// The ids of every version of `kind`'s artifacts, yanked ones included.
pub async fn version_ids_of_kind(db: &impl ConnectionTrait, kind: &str) -> Result<Vec<i32>, DbErr> {
    artifact_version::Entity::find()
        .select_only()
        .column(artifact_version::Column::Id)
        .inner_join(artifact::Entity)
        .filter(artifact::Column::Kind.eq(kind))
        .into_tuple::<i32>()
        .all(db)
        .await
}

/// The documents of the versions `ids` (those that exist) as their JSON text, read a few hundred
/// at a time. Text, so that one document that does not parse (none should) is the caller's to
/// leave out, not a failure of the whole read.
pub async fn document_texts(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<Vec<(i32, String)>, DbErr> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        found.extend(
            artifact_version::Entity::find()
                .select_only()
                .column(artifact_version::Column::Id)
                .column_as(
                    Expr::col(artifact_version::Column::Document)
                        .cast_as(sea_orm::sea_query::Alias::new("text")),
                    "document",
                )
                .filter(artifact_version::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple::<(i32, String)>()
                .all(db)
                .await?,
        );
    }
    Ok(found)
}
