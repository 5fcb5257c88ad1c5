//! The audit log: every publish, deprecation, yank (and their undoing) and token change, with who
//! did it, when and from where, kept in the database and readable by `admin` tokens.

use crate::db::audit::{self as queries, EventRow, Filter, NewEvent};
use quarry_core::address::Kind;
use sea_orm::{ConnectionTrait, DbErr};
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

/// What was done: `<kind>.<verb>` (`module.publish`, `blueprint.yank`) or `token.<verb>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action(&'static str);

/// Every action, as it is stored and filtered on.
const ACTIONS: [&str; 19] = [
    "module.publish",
    "module.deprecate",
    "module.undeprecate",
    "module.yank",
    "module.unyank",
    "blueprint.publish",
    "blueprint.deprecate",
    "blueprint.undeprecate",
    "blueprint.yank",
    "blueprint.unyank",
    "provider.publish",
    "provider.deprecate",
    "provider.undeprecate",
    "provider.yank",
    "provider.unyank",
    "provider.rotate_key",
    "token.create",
    "token.revoke",
    "stack.forget",
];

impl Action {
    pub const TOKEN_CREATE: Self = Self("token.create");
    pub const TOKEN_REVOKE: Self = Self("token.revoke");
    pub const STACK_FORGET: Self = Self("stack.forget");
    pub const PROVIDER_ROTATE_KEY: Self = Self("provider.rotate_key");

    /// `verb` done to an artifact of `kind`: one of `publish`, `deprecate`, `undeprecate`,
    /// `yank`, `unyank`.
    pub fn new(kind: Kind, verb: &str) -> Self {
        let name = format!("{kind}.{verb}");
        let known = ACTIONS
            .iter()
            .find(|action| **action == name)
            .expect("every kind has every artifact verb");
        Self(known)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The kind of artifact an action names, and its verb; `None` for token actions.
    pub fn parse(text: &str) -> Option<(Kind, &str)> {
        let (kind, verb) = text.split_once('.')?;
        Some((Kind::from_name(kind)?, verb))
    }
}

/// The row of an event, for recording it with the change it describes.
pub fn event<'a>(
    actor: &'a Actor,
    action: Action,
    target: &'a str,
    details: Value,
) -> NewEvent<'a> {
    NewEvent {
        actor: &actor.name,
        source: &actor.source,
        action: action.as_str(),
        target,
        details,
    }
}

/// Records one event on its own (token changes; artifact changes record theirs with the change).
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    action: Action,
    target: &str,
    details: Value,
) -> Result<(), DbErr> {
    queries::insert(db, event(actor, action, target, details)).await
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

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i32,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub source: String,
    pub details: Value,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Self {
            id: row.id,
            at: row.at,
            actor: row.actor,
            action: row.action,
            target: row.target,
            source: row.source,
            details: row.details,
        }
    }
}

impl super::Registry {
    /// Newest first: one page of events, and whether more follow.
    pub async fn audit_events(
        &self,
        filter: AuditFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Event>, bool), super::Internal> {
        let filter = Filter {
            actor: filter.actor,
            action: filter.action,
            target_prefix: filter.target_prefix,
            since: filter.since,
            until: filter.until,
        };
        let (rows, has_more) = queries::events(&self.db, &filter, offset, limit).await?;
        Ok((rows.into_iter().map(Event::from).collect(), has_more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_every_verb() {
        for kind in Kind::ALL {
            for verb in ["publish", "deprecate", "undeprecate", "yank", "unyank"] {
                let action = Action::new(kind, verb);
                assert_eq!(Action::parse(action.as_str()), Some((kind, verb)));
            }
        }
        assert_eq!(Action::parse("token.create"), None);
    }
}
