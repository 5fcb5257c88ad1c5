//! Typed queries over blueprints and their versions.

use super::entities::{blueprint, blueprint_version};
use super::queries::like_pattern;
use sea_orm::prelude::Expr;
use sea_orm::sea_query::{ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
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

pub async fn blueprint_versions(
    db: &impl ConnectionTrait,
    blueprint_id: i32,
) -> Result<Vec<blueprint_version::Model>, DbErr> {
    blueprint_version::Entity::find()
        .filter(blueprint_version::Column::BlueprintId.eq(blueprint_id))
        .all(db)
        .await
}

/// A blueprint version about to be recorded; its archive is already in storage.
pub struct NewBlueprintVersion<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub version: &'a str,
    pub archive_sha256: &'a str,
    pub archive_size: i64,
    pub manifest: serde_json::Value,
    pub published_by: &'a str,
}

/// Records a blueprint version; `None` when that version exists already (the unique index
/// decides between concurrent publishes).
pub async fn insert_blueprint_version(
    db: &DatabaseConnection,
    new: NewBlueprintVersion<'_>,
) -> Result<Option<blueprint_version::Model>, DbErr> {
    let now = chrono::Utc::now();
    let parent = match find_blueprint(db, new.namespace, new.name).await? {
        Some(existing) => existing,
        None => {
            let inserted = blueprint::ActiveModel {
                namespace: Set(new.namespace.to_owned()),
                name: Set(new.name.to_owned()),
                description: Set(new.description.to_owned()),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await;
            match inserted {
                Ok(model) => model,
                Err(error) if super::is_unique_violation(&error) => {
                    find_blueprint(db, new.namespace, new.name)
                        .await?
                        .ok_or_else(|| DbErr::RecordNotFound("blueprint row vanished".into()))?
                }
                Err(error) => return Err(error),
            }
        }
    };
    let inserted = blueprint_version::ActiveModel {
        blueprint_id: Set(parent.id),
        version: Set(new.version.to_owned()),
        archive_sha256: Set(new.archive_sha256.to_owned()),
        archive_size: Set(new.archive_size),
        manifest: Set(new.manifest),
        published_by: Set(new.published_by.to_owned()),
        published_at: Set(now),
        yanked: Set(false),
        downloads: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await;
    let created = match inserted {
        Ok(model) => model,
        Err(error) if super::is_unique_violation(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    if parent.description != new.description {
        blueprint::Entity::update_many()
            .col_expr(blueprint::Column::Description, Expr::value(new.description))
            .filter(blueprint::Column::Id.eq(parent.id))
            .exec(db)
            .await?;
    }
    Ok(Some(created))
}

/// One page of blueprints (optionally in a namespace, optionally matching text), with their
/// versions, and whether more follow.
pub async fn list_blueprints(
    db: &DatabaseConnection,
    namespace: Option<&str>,
    text: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<(blueprint::Model, Vec<blueprint_version::Model>)>, bool), DbErr> {
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
    let mut versions: HashMap<i32, Vec<blueprint_version::Model>> = HashMap::new();
    if !ids.is_empty() {
        for version in blueprint_version::Entity::find()
            .filter(blueprint_version::Column::BlueprintId.is_in(ids))
            .filter(blueprint_version::Column::Yanked.eq(false))
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
