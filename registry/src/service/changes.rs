//! Following changes made by other replicas. Every publish, deprecation and yank (and their
//! undoing) is recorded in the audit log, whose ids only grow, so the log doubles as a change
//! feed: each replica reads the events after the last one it saw, about once a second, and drops
//! (and reads again) what it holds of each artifact named, and forgets every token revoked (see
//! [`super::tokens::VerifiedTokens`]). A change whose event could not be
//! read is still bounded: cached version lists and states live 30 s at most, verified tokens
//! 10 s, and the listing is read in full every few minutes.

use super::Registry;
use super::audit::Action;
use quarry_core::address::{ArtifactAddress, Kind};
use sea_orm::DbErr;

/// Events read per poll at most; a longer backlog is read over the next polls.
const BATCH: u64 = 500;

/// The artifact an audit event names: its action says the kind, its target
/// (`<address>/<version>`) the address.
fn artifact_of(action: &str, target: &str) -> Option<ArtifactAddress> {
    let (kind, _) = Action::parse(action)?;
    let (address, _version) = target.rsplit_once('/')?;
    let parts: Vec<&str> = address.split('/').collect();
    match (kind, parts.as_slice()) {
        (Kind::Module, [namespace, name, system]) => {
            ArtifactAddress::from_parts(kind, namespace, name, system).ok()
        }
        (Kind::Blueprint, [namespace, name]) => {
            ArtifactAddress::from_parts(kind, namespace, name, "").ok()
        }
        _ => None,
    }
}

/// Where a replica is in the change feed.
#[derive(Debug, Clone, Copy)]
pub struct Cursor(i32);

impl Registry {
    /// The change feed's current end: changes after this are followed.
    pub async fn change_cursor(&self) -> Result<Cursor, DbErr> {
        Ok(Cursor(crate::db::audit::newest_id(&self.db).await?))
    }

    /// Reads the changes since `cursor` and refreshes what this process holds of each artifact
    /// they name; returns how many artifact changes were applied.
    pub async fn follow_changes(&self, cursor: &mut Cursor) -> Result<usize, DbErr> {
        let mut applied = 0;
        loop {
            let events = crate::db::audit::after(&self.db, cursor.0, BATCH).await?;
            let Some(last) = events.last() else {
                return Ok(applied);
            };
            cursor.0 = last.id;
            let full = events.len() as u64 == BATCH;
            let mut changed: Vec<ArtifactAddress> = events
                .iter()
                .filter_map(|event| artifact_of(&event.action, &event.target))
                .collect();
            for event in &events {
                if event.action == Action::TOKEN_REVOKE.as_str() {
                    self.tokens.forget(&event.target);
                }
            }
            changed.sort();
            changed.dedup();
            for address in &changed {
                self.artifact_changed(address).await;
            }
            applied += changed.len();
            if !full {
                return Ok(applied);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::artifact_of;

    #[test]
    fn an_event_names_its_artifact() {
        assert_eq!(
            artifact_of("module.yank", "net/vpc/aws/1.2.0-rc.1").map(|m| m.to_string()),
            Some("net/vpc/aws".to_string())
        );
        assert_eq!(
            artifact_of("blueprint.publish", "platform/web-service/1.0.0").map(|m| m.subject()),
            Some("blueprint platform/web-service".to_string())
        );
        assert!(artifact_of("module.publish", "platform/web-service/1.0.0").is_none());
        assert!(artifact_of("token.create", "ci-token").is_none());
    }
}
