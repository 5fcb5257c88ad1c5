//! Queries over the stack inventory.

use super::entities::{artifact, stack};
use sea_orm::sea_query::{Expr, Func, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub type StackRow = stack::Model;

/// What a report writes.
pub struct NewStack<'a> {
    pub stack_id: &'a str,
    pub name: &'a str,
    pub artifact_id: i32,
    pub version_id: i32,
    pub modules: String,
    pub repository: Option<&'a str>,
    pub path: Option<&'a str>,
    pub reported_by: &'a str,
}

/// Records a report: a new row, or the stack's row brought up to date (its first report's time
/// kept). One statement, so two reports of one stack at once leave one row.
pub async fn upsert(db: &impl ConnectionTrait, new: NewStack<'_>) -> Result<(), DbErr> {
    let now = chrono::Utc::now();
    stack::Entity::insert(stack::ActiveModel {
        stack_id: Set(new.stack_id.to_owned()),
        name: Set(new.name.to_owned()),
        artifact_id: Set(new.artifact_id),
        version_id: Set(new.version_id),
        modules: Set(new.modules),
        repository: Set(new.repository.map(str::to_owned)),
        path: Set(new.path.map(str::to_owned)),
        reported_by: Set(new.reported_by.to_owned()),
        first_reported_at: Set(now),
        reported_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(stack::Column::StackId)
            .update_columns([
                stack::Column::Name,
                stack::Column::ArtifactId,
                stack::Column::VersionId,
                stack::Column::Modules,
                stack::Column::Repository,
                stack::Column::Path,
                stack::Column::ReportedBy,
                stack::Column::ReportedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn find(db: &impl ConnectionTrait, stack_id: &str) -> Result<Option<StackRow>, DbErr> {
    stack::Entity::find()
        .filter(stack::Column::StackId.eq(stack_id))
        .one(db)
        .await
}

/// Which stacks to list: of one blueprint, and/or on some of its versions.
#[derive(Debug, Default)]
pub struct Filter {
    pub artifact_id: Option<i32>,
    pub version_ids: Option<Vec<i32>>,
}

/// Stacks most recently reported first; `limit + 1` rows are read so the caller knows whether
/// there are more.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &Filter,
    offset: u64,
    limit: u64,
) -> Result<Vec<StackRow>, DbErr> {
    let mut query = stack::Entity::find();
    if let Some(artifact_id) = filter.artifact_id {
        query = query.filter(stack::Column::ArtifactId.eq(artifact_id));
    }
    if let Some(version_ids) = &filter.version_ids {
        query = query.filter(stack::Column::VersionId.is_in(version_ids.iter().copied()));
    }
    query
        .order_by_desc(stack::Column::ReportedAt)
        .order_by_desc(stack::Column::Id)
        .offset(offset)
        .limit(limit + 1)
        .all(db)
        .await
}

/// How many stacks are on one version of one blueprint.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct VersionCount {
    pub artifact_id: i32,
    pub version_id: i32,
    pub stacks: i64,
}

/// Stacks counted by blueprint version, of one blueprint or of all.
pub async fn counts(
    db: &impl ConnectionTrait,
    artifact_id: Option<i32>,
) -> Result<Vec<VersionCount>, DbErr> {
    let mut query = stack::Entity::find()
        .select_only()
        .column(stack::Column::ArtifactId)
        .column(stack::Column::VersionId)
        .column_as(
            Expr::from(Func::count(Expr::col(stack::Column::Id))),
            "stacks",
        )
        .group_by(stack::Column::ArtifactId)
        .group_by(stack::Column::VersionId);
    if let Some(artifact_id) = artifact_id {
        query = query.filter(stack::Column::ArtifactId.eq(artifact_id));
    }
    query.into_model::<VersionCount>().all(db).await
}

/// Forgets a stack; whether there was one.
pub async fn delete(db: &impl ConnectionTrait, stack_id: &str) -> Result<bool, DbErr> {
    Ok(stack::Entity::delete_many()
        .filter(stack::Column::StackId.eq(stack_id))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

/// The artifact rows of every blueprint a stack is on.
pub async fn blueprints(db: &impl ConnectionTrait) -> Result<Vec<artifact::Model>, DbErr> {
    let ids: Vec<i32> = stack::Entity::find()
        .select_only()
        .column(stack::Column::ArtifactId)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    artifact::Entity::find()
        .filter(artifact::Column::Id.is_in(ids))
        .all(db)
        .await
}
