//! Queries over the audit log: rows are only ever inserted.

use super::entities::audit_event;
use super::escape_like;
use sea_orm::prelude::Expr;
use sea_orm::sea_query::{ExprTrait, LikeExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

/// An event's row.
pub type EventRow = audit_event::Model;

/// An audit event to record, with the change it describes when there is one.
pub struct NewEvent<'a> {
    pub actor: &'a str,
    pub source: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub details: serde_json::Value,
}

pub async fn insert(db: &impl ConnectionTrait, event: NewEvent<'_>) -> Result<(), DbErr> {
    audit_event::Entity::insert(audit_event::ActiveModel {
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

/// Which events to read.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Events whose target starts with this (e.g. a namespace, `platform/`).
    pub target_prefix: Option<String>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// Newest first: one page, and whether more follow.
pub async fn events(
    db: &impl ConnectionTrait,
    filter: &Filter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<EventRow>, bool), DbErr> {
    let mut query = audit_event::Entity::find();
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_event::Column::Actor.eq(actor.as_str()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(prefix) = &filter.target_prefix {
        let pattern = format!("{}%", escape_like(prefix));
        query = query.filter(
            Expr::col(audit_event::Column::Target).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_event::Column::At.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_event::Column::At.lt(until));
    }
    super::page_of(
        db,
        query.order_by_desc(audit_event::Column::Id),
        offset,
        limit,
    )
    .await
}

/// The newest event's id (0 when there is none): where a change feed starts.
pub async fn newest_id(db: &impl ConnectionTrait) -> Result<i32, DbErr> {
    let newest = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::Id)
        .order_by_desc(audit_event::Column::Id)
        .limit(1)
        .into_tuple::<i32>()
        .one(db)
        .await?;
    Ok(newest.unwrap_or(0))
}

/// Up to `limit` events after the one with id `after`, oldest first: the feed of changes that
/// replicas follow to drop what they cached.
pub async fn after(
    db: &impl ConnectionTrait,
    after: i32,
    limit: u64,
) -> Result<Vec<EventRow>, DbErr> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Id.gt(after))
        .order_by_asc(audit_event::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
