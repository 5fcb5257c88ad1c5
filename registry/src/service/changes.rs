//! Following changes made by other replicas. Every publish, deprecation and yank is recorded in
//! the audit log, whose ids only grow, so the log doubles as a change feed: each replica reads
//! the events after the last one it saw, about once a second, and drops (and reads again) what
//! it holds of each module named. A change whose event could not be recorded is still bounded:
//! cached version lists and states live five seconds, and the listing is read in full every few
//! minutes.

use super::Registry;
use super::audit::{self, Action};
use quarry_core::address::ModuleAddress;
use sea_orm::DbErr;

/// Events read per poll at most; a longer backlog is read over the next polls.
const BATCH: u64 = 500;

/// The module an audit target names (`namespace/name/system/version`), if it names one.
fn module_of(target: &str) -> Option<ModuleAddress> {
    let (module, _version) = target.rsplit_once('/')?;
    let mut parts = module.splitn(3, '/');
    ModuleAddress::new(parts.next()?, parts.next()?, parts.next()?).ok()
}

/// Where a replica is in the change feed.
#[derive(Debug, Clone, Copy)]
pub struct Cursor(i32);

impl Registry {
    /// The change feed's current end: changes after this are followed.
    pub async fn change_cursor(&self) -> Result<Cursor, DbErr> {
        Ok(Cursor(audit::newest_id(&self.db).await?))
    }

    /// Reads the changes since `cursor` and refreshes what this process holds of each module
    /// they name; returns how many module changes were applied.
    pub async fn follow_changes(&self, cursor: &mut Cursor) -> Result<usize, DbErr> {
        let mut applied = 0;
        loop {
            let events = audit::after(&self.db, cursor.0, BATCH).await?;
            let Some(last) = events.last() else {
                return Ok(applied);
            };
            cursor.0 = last.id;
            let full = events.len() as u64 == BATCH;
            let mut modules: Vec<ModuleAddress> = events
                .iter()
                .filter(|event| {
                    [
                        Action::ModulePublish,
                        Action::ModuleDeprecate,
                        Action::ModuleYank,
                    ]
                    .iter()
                    .any(|action| action.as_str() == event.action)
                })
                .filter_map(|event| module_of(&event.target))
                .collect();
            modules.sort_by_key(ToString::to_string);
            modules.dedup();
            for module in &modules {
                self.module_changed(module).await;
            }
            applied += modules.len();
            if !full {
                return Ok(applied);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::module_of;

    #[test]
    fn a_module_event_target_names_its_module() {
        assert_eq!(
            module_of("net/vpc/aws/1.2.0-rc.1").map(|m| m.to_string()),
            Some("net/vpc/aws".to_string())
        );
        assert!(module_of("platform/web-service/1.0.0").is_none());
        assert!(module_of("ci-token").is_none());
    }
}
