//! The audit log: every publish, deprecation, yank and token change, with who did it, when and
//! from where, kept in the database and readable by `admin` tokens.

use crate::db::entities::audit_event;
use sea_orm::prelude::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

/// Who acted: a token's name (or `cli` / `import` for local commands) and where from (the
/// client's address, or `local`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub source: String,
}

impl Actor {
    /// Someone at the registry host's console (`quarry token …`).
    pub fn console() -> Self {
        Self {
            name: "cli".into(),
            source: "local".into(),
        }
    }

    /// `quarry serve --import`.
    pub fn importer() -> Self {
        Self {
            name: "import".into(),
            source: "local".into(),
        }
    }
}

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ModulePublish,
    ModuleDeprecate,
    ModuleYank,
    BlueprintPublish,
    BlueprintYank,
    TokenCreate,
    TokenRevoke,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ModulePublish => "module.publish",
            Self::ModuleDeprecate => "module.deprecate",
            Self::ModuleYank => "module.yank",
            Self::BlueprintPublish => "blueprint.publish",
            Self::BlueprintYank => "blueprint.yank",
            Self::TokenCreate => "token.create",
            Self::TokenRevoke => "token.revoke",
        }
    }
}

/// The row of an event, for recording it with the change it describes.
pub fn event<'a>(
    actor: &'a Actor,
    action: Action,
    target: &'a str,
    details: Value,
) -> crate::db::queries::NewAuditEvent<'a> {
    crate::db::queries::NewAuditEvent {
        actor: &actor.name,
        source: &actor.source,
        action: action.as_str(),
        target,
        details,
    }
}

/// Records one event.
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    action: Action,
    target: &str,
    details: Value,
) -> Result<(), DbErr> {
    crate::db::queries::insert_audit_event(db, event(actor, action, target, details)).await
}

/// Which events to read.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
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
    filter: &AuditFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<audit_event::Model>, bool), DbErr> {
    let mut query = audit_event::Entity::find();
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_event::Column::Actor.eq(actor.as_str()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(prefix) = &filter.target_prefix {
        let pattern = format!("{}%", crate::db::queries::escape_like(prefix));
        query = query.filter(
            Expr::col(audit_event::Column::Target)
                .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_event::Column::At.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_event::Column::At.lt(until));
    }
    let mut rows = query
        .order_by_desc(audit_event::Column::Id)
        .offset(offset)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, has_more))
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
) -> Result<Vec<audit_event::Model>, DbErr> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Id.gt(after))
        .order_by_asc(audit_event::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
