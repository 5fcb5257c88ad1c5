//! Typed queries over blueprints and their versions.

use super::entities::{blueprint, blueprint_version};
use super::queries::{NewAuditEvent, begin_write, insert_audit_event, like_pattern};
use sea_orm::prelude::Expr;
use sea_orm::sea_query::{ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use std::collections::HashMap;

pub async fn find_blueprint(
    db: &impl ConnectionTrait,
    namespace: &str,
    name: &str,
) -> Result<Option<blueprint::Model>, DbErr> {
    blueprint::Entity::find()
        .filter(blueprint::Column::Namespace.eq(namespace))
        .filter(blueprint::Column::Name.eq(name))
        .one(db)
        .await
}

/// What listings and version choice need of a blueprint version: everything but its manifest
/// (which holds the README, and is read by the detail alone).
#[derive(Debug, Clone, PartialEq, sea_orm::FromQueryResult)]
pub struct BlueprintHead {
    pub id: i32,
    pub blueprint_id: i32,
    pub version: String,
    pub archive_sha256: String,
    pub archive_size: i64,
    pub published_by: String,
    pub published_at: chrono::DateTime<chrono::Utc>,
    pub yanked: bool,
}

fn heads() -> sea_orm::Select<blueprint_version::Entity> {
    blueprint_version::Entity::find().select_only().columns([
        blueprint_version::Column::Id,
        blueprint_version::Column::BlueprintId,
        blueprint_version::Column::Version,
        blueprint_version::Column::ArchiveSha256,
        blueprint_version::Column::ArchiveSize,
        blueprint_version::Column::PublishedBy,
        blueprint_version::Column::PublishedAt,
        blueprint_version::Column::Yanked,
    ])
}

/// The heads of every version of a blueprint, yanked ones included.
pub async fn blueprint_versions(
    db: &impl ConnectionTrait,
    blueprint_id: i32,
) -> Result<Vec<BlueprintHead>, DbErr> {
    heads()
        .filter(blueprint_version::Column::BlueprintId.eq(blueprint_id))
        .into_model::<BlueprintHead>()
        .all(db)
        .await
}

/// A version's stored manifest document (`{"manifest": …, "readme": …}`).
pub async fn blueprint_manifest(
    db: &impl ConnectionTrait,
    version_id: i32,
) -> Result<Option<serde_json::Value>, DbErr> {
    blueprint_version::Entity::find_by_id(version_id)
        .select_only()
        .column(blueprint_version::Column::Manifest)
        .into_tuple::<serde_json::Value>()
        .one(db)
        .await
}

/// The text of a stored version of `blueprint_id` that terraform cannot tell from `precedence`.
pub async fn same_blueprint_version(
    db: &impl ConnectionTrait,
    blueprint_id: i32,
    precedence: &str,
) -> Result<Option<String>, DbErr> {
    blueprint_version::Entity::find()
        .select_only()
        .column(blueprint_version::Column::Version)
        .filter(blueprint_version::Column::BlueprintId.eq(blueprint_id))
        .filter(blueprint_version::Column::Precedence.eq(precedence))
        .into_tuple::<String>()
        .one(db)
        .await
}

/// A blueprint version about to be recorded; its archive is already in storage.
pub struct NewBlueprintVersion<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub version: &'a quarry_core::version::Version,
    pub archive_sha256: &'a str,
    pub archive_size: i64,
    pub manifest: serde_json::Value,
    pub published_by: &'a str,
}

/// Records a blueprint version and its audit event in one transaction; `false` when that version
/// (or one equal but for build metadata) exists already: the unique index decides between
/// concurrent publishes.
pub async fn insert_blueprint_version(
    db: &DatabaseConnection,
    new: NewBlueprintVersion<'_>,
    audit: NewAuditEvent<'_>,
) -> Result<bool, DbErr> {
    let now = chrono::Utc::now();
    let parent = match find_blueprint(db, new.namespace, new.name).await? {
        Some(existing) => existing,
        None => {
            let inserted = blueprint::Entity::insert(blueprint::ActiveModel {
                namespace: Set(new.namespace.to_owned()),
                name: Set(new.name.to_owned()),
                description: Set(new.description.to_owned()),
                created_at: Set(now),
                ..Default::default()
            })
            .exec(db)
            .await;
            match inserted {
                Ok(_) => {}
                Err(error) if super::is_unique_violation(&error) => {}
                Err(error) => return Err(error),
            }
            find_blueprint(db, new.namespace, new.name)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("blueprint row vanished".into()))?
        }
    };
    let transaction = begin_write(db).await?;
    let precedence = new.version.precedence();
    if same_blueprint_version(&transaction, parent.id, &precedence)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let inserted = blueprint_version::Entity::insert(blueprint_version::ActiveModel {
        blueprint_id: Set(parent.id),
        version: Set(new.version.to_string()),
        precedence: Set(precedence),
        archive_sha256: Set(new.archive_sha256.to_owned()),
        archive_size: Set(new.archive_size),
        manifest: Set(new.manifest),
        published_by: Set(new.published_by.to_owned()),
        published_at: Set(now),
        yanked: Set(false),
        downloads: Set(0),
        ..Default::default()
    })
    .exec(&transaction)
    .await;
    match inserted {
        Ok(_) => {}
        Err(error) if super::is_unique_violation(&error) => return Ok(false),
        Err(error) => return Err(error),
    }
    if parent.description != new.description {
        blueprint::Entity::update_many()
            .col_expr(blueprint::Column::Description, Expr::value(new.description))
            .filter(blueprint::Column::Id.eq(parent.id))
            .exec(&transaction)
            .await?;
    }
    insert_audit_event(&transaction, audit).await?;
    transaction.commit().await?;
    Ok(true)
}

/// One page of blueprints (optionally in a namespace, optionally matching text), with their
/// versions, and whether more follow.
pub async fn list_blueprints(
    db: &DatabaseConnection,
    namespace: Option<&str>,
    text: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<(blueprint::Model, Vec<BlueprintHead>)>, bool), DbErr> {
    let mut query = blueprint::Entity::find();
    if let Some(namespace) = namespace {
        query = query.filter(blueprint::Column::Namespace.eq(namespace));
    }
    if let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) {
        let pattern = like_pattern(text);
        let mut any = Condition::any();
        for column in [
            blueprint::Column::Namespace,
            blueprint::Column::Name,
            blueprint::Column::Description,
        ] {
            any = any.add(
                Expr::expr(Func::lower(Expr::col(column)))
                    .like(LikeExpr::new(pattern.clone()).escape('\\')),
            );
        }
        query = query.filter(any);
    }
    let mut rows = query
        .order_by_asc(blueprint::Column::Namespace)
        .order_by_asc(blueprint::Column::Name)
        .offset(offset)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let ids: Vec<i32> = rows.iter().map(|row| row.id).collect();
    let mut versions: HashMap<i32, Vec<BlueprintHead>> = HashMap::new();
    if !ids.is_empty() {
        for version in heads()
            .filter(blueprint_version::Column::BlueprintId.is_in(ids))
            .filter(blueprint_version::Column::Yanked.eq(false))
            .into_model::<BlueprintHead>()
            .all(db)
            .await?
        {
            versions
                .entry(version.blueprint_id)
                .or_default()
                .push(version);
        }
    }
    Ok((
        rows.into_iter()
            .map(|row| {
                let list = versions.remove(&row.id).unwrap_or_default();
                (row, list)
            })
            .collect(),
        has_more,
    ))
}

/// Marks a blueprint version yanked: gone from `versions`, still downloadable.
pub async fn yank_blueprint_version(
    db: &impl ConnectionTrait,
    version_id: i32,
) -> Result<(), DbErr> {
    blueprint_version::Entity::update_many()
        .col_expr(blueprint_version::Column::Yanked, Expr::value(true))
        .filter(blueprint_version::Column::Id.eq(version_id))
        .exec(db)
        .await?;
    Ok(())
}
