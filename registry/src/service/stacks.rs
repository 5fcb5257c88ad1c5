//! The stack inventory: which stacks were rendered from which blueprint versions, as `scaffold
//! new` and `update` report them, so a platform team sees who is behind. Off unless the registry
//! is started with `--stack-inventory`. A report needs a token that may read (any valid token);
//! so does reading the inventory, which names repositories — even when modules are public.
//! Reports are upserts keyed by the stack's own id and are not audited (they change nothing
//! the registry serves); forgetting a stack is, and needs an admin token.

use super::Registry;
use super::artifacts::{History, artifact_of};
use super::audit::{self, Action, Actor};
use crate::db::stacks::{self as queries, Filter, NewStack, StackRow};
use quarry_core::address::{ArtifactAddress, BlueprintAddress};
use quarry_core::api::{StackLocation, StackModule, StackReport};
use quarry_core::inventory;
use quarry_core::version::Version;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error(
        "this registry keeps no stack inventory: start it with `--stack-inventory` (QUARRY_STACK_INVENTORY=true)"
    )]
    Off,
    #[error("the stack report has problems:\n  {}", quarry_core::lines(.0))]
    Invalid(Vec<String>),
    #[error("no blueprint `{0}` is published in this registry")]
    UnknownBlueprint(String),
    #[error("blueprint `{0}` has no version {1} in this registry")]
    UnknownVersion(String, String),
    #[error("no stack `{0}` is in the inventory")]
    NoSuchStack(String),
    #[error(transparent)]
    Internal(#[from] super::Internal),
}

impl From<sea_orm::DbErr> for InventoryError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Internal(error.into())
    }
}

/// One stack as the inventory knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    pub id: String,
    pub name: String,
    pub blueprint: BlueprintAddress,
    pub version: Version,
    pub modules: Vec<StackModule>,
    pub location: Option<StackLocation>,
    pub standing: Standing,
    pub reported_by: String,
    pub first_reported_at: chrono::DateTime<chrono::Utc>,
    pub reported_at: chrono::DateTime<chrono::Utc>,
}

/// Where a blueprint version stands against the blueprint's latest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standing {
    pub latest: Option<Version>,
    pub outdated: bool,
    pub yanked: bool,
}

/// How many stacks are on one blueprint version.
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    pub blueprint: BlueprintAddress,
    pub version: Version,
    pub stacks: u64,
    pub standing: Standing,
}

/// A page of the inventory, and every stack counted by version.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub stacks: Vec<Stack>,
    pub counts: Vec<Count>,
    pub has_more: bool,
}

/// Which stacks to list.
#[derive(Debug, Clone, Default)]
pub struct StackFilter {
    pub blueprint: Option<BlueprintAddress>,
    /// Only stacks on a version older than their blueprint's latest.
    pub outdated: bool,
}

/// What a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub created: bool,
    pub outdated: bool,
}

/// The blueprints stacks are on, with their versions by row id.
struct Blueprints(HashMap<i32, Arc<History>>);

impl Blueprints {
    fn version(&self, artifact_id: i32, version_id: i32) -> Option<(&History, &Version)> {
        let history = self.0.get(&artifact_id)?;
        let version = history
            .versions
            .iter()
            .find(|version| version.id == version_id)?;
        Some((history, &version.version))
    }

    /// The version ids older than each blueprint's latest.
    fn outdated_ids(&self) -> Vec<i32> {
        self.0
            .values()
            .flat_map(|history| {
                let latest = history.latest().map(|latest| latest.version.clone());
                history
                    .versions
                    .iter()
                    .filter(move |version| latest.as_ref().is_some_and(|l| version.version < *l))
                    .map(|version| version.id)
            })
            .collect()
    }
}

fn standing(history: &History, version: &Version) -> Standing {
    let latest = history.latest().map(|latest| latest.version.clone());
    Standing {
        outdated: latest.as_ref().is_some_and(|latest| version < latest),
        yanked: history
            .find(version)
            .is_some_and(super::artifacts::VersionInfo::yanked),
        latest,
    }
}

impl Registry {
    fn inventory_on(&self) -> Result<(), InventoryError> {
        if self.stack_inventory {
            Ok(())
        } else {
            Err(InventoryError::Off)
        }
    }

    /// Records what `actor` reported about stack `id`.
    pub async fn report_stack(
        &self,
        actor: &Actor,
        id: &str,
        report: &StackReport,
    ) -> Result<Reported, InventoryError> {
        self.inventory_on()?;
        let mut problems: Vec<String> = inventory::check_id(id).err().into_iter().collect();
        problems.extend(inventory::check_report(report));
        let address: Option<BlueprintAddress> = match report.blueprint.address.parse() {
            Ok(address) => Some(address),
            Err(error) => {
                problems.push(format!("`blueprint.address`: {error}"));
                None
            }
        };
        let version = match Version::parse(&report.blueprint.version) {
            Ok(version) => Some(version),
            Err(error) => {
                problems.push(format!("`blueprint.version`: {error}"));
                None
            }
        };
        let (Some(address), Some(version), true) = (address, version, problems.is_empty()) else {
            return Err(InventoryError::Invalid(problems));
        };
        let history = self
            .history(&ArtifactAddress::Blueprint(address.clone()))
            .await?
            .ok_or_else(|| InventoryError::UnknownBlueprint(address.to_string()))?;
        let found = history.find(&version).ok_or_else(|| {
            InventoryError::UnknownVersion(address.to_string(), version.to_string())
        })?;
        let modules = serde_json::to_string(&report.modules).map_err(|error| {
            InventoryError::Invalid(vec![format!("`modules` cannot be kept: {error}")])
        })?;
        let existed = queries::find(&self.db, id).await?.is_some();
        queries::upsert(
            &self.db,
            NewStack {
                stack_id: id,
                name: report.name.trim(),
                artifact_id: history.artifact.id,
                version_id: found.id,
                modules,
                repository: report.location.as_ref().map(|l| l.repository.as_str()),
                path: report.location.as_ref().map(|l| l.path.as_str()),
                reported_by: &actor.name,
            },
        )
        .await?;
        Ok(Reported {
            created: !existed,
            outdated: standing(&history, &version).outdated,
        })
    }

    /// A page of the inventory (most recently reported first) and the counts by version.
    pub async fn stacks(
        &self,
        filter: &StackFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Listing, InventoryError> {
        self.inventory_on()?;
        let mut query = Filter::default();
        let mut blueprints = self.blueprints(filter, false).await?;
        if let Some(address) = &filter.blueprint {
            let id = blueprints.0.keys().next().copied();
            query.artifact_id =
                Some(id.ok_or_else(|| InventoryError::UnknownBlueprint(address.to_string()))?);
        }
        if filter.outdated {
            query.version_ids = Some(blueprints.outdated_ids());
        }
        let mut rows = queries::list(&self.db, &query, offset, limit).await?;
        let has_more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let counts = queries::counts(&self.db, query.artifact_id).await?;
        // Versions are read as cached a few seconds ago: one published since is read afresh.
        let known = |blueprints: &Blueprints| {
            rows.iter()
                .map(|row| (row.artifact_id, row.version_id))
                .chain(
                    counts
                        .iter()
                        .map(|count| (count.artifact_id, count.version_id)),
                )
                .all(|(artifact, version)| blueprints.version(artifact, version).is_some())
        };
        if !known(&blueprints) {
            blueprints = self.blueprints(filter, true).await?;
        }
        let stacks = rows
            .into_iter()
            .filter_map(|row| stack_of(&blueprints, row))
            .collect();
        let mut counts: Vec<Count> = counts
            .into_iter()
            .filter_map(|count| {
                let (history, version) = blueprints.version(count.artifact_id, count.version_id)?;
                let address = match &history.artifact.address {
                    ArtifactAddress::Blueprint(address) => address.clone(),
                    ArtifactAddress::Module(_) | ArtifactAddress::Provider(_) => return None,
                };
                Some(Count {
                    standing: standing(history, version),
                    blueprint: address,
                    version: version.clone(),
                    stacks: u64::try_from(count.stacks).unwrap_or_default(),
                })
            })
            .filter(|count| !filter.outdated || count.standing.outdated)
            .collect();
        counts.sort_by(|a, b| {
            a.blueprint
                .cmp(&b.blueprint)
                .then_with(|| b.version.cmp(&a.version))
        });
        Ok(Listing {
            stacks,
            counts,
            has_more,
        })
    }

    /// The blueprint a filter names, or every blueprint a stack is on, as read a few seconds
    /// ago or, when `fresh`, now.
    async fn blueprints(
        &self,
        filter: &StackFilter,
        fresh: bool,
    ) -> Result<Blueprints, InventoryError> {
        let addresses = match &filter.blueprint {
            Some(address) => vec![ArtifactAddress::Blueprint(address.clone())],
            None => queries::blueprints(&self.db)
                .await?
                .into_iter()
                .filter_map(artifact_of)
                .map(|artifact| artifact.address)
                .collect(),
        };
        let mut blueprints = HashMap::new();
        for address in addresses {
            let history = if fresh {
                self.history(&address).await?.map(Arc::new)
            } else {
                self.recent_history(&address).await?
            };
            if let Some(history) = history {
                blueprints.insert(history.artifact.id, history);
            }
        }
        Ok(Blueprints(blueprints))
    }

    /// Removes a stack from the inventory (an admin's call, recorded in the audit log).
    pub async fn forget_stack(&self, actor: &Actor, id: &str) -> Result<(), InventoryError> {
        self.inventory_on()?;
        inventory::check_id(id).map_err(|problem| InventoryError::Invalid(vec![problem]))?;
        let transaction = crate::db::begin_write(&self.db).await?;
        if !queries::delete(&transaction, id).await? {
            return Err(InventoryError::NoSuchStack(id.to_owned()));
        }
        audit::record(
            &transaction,
            actor,
            Action::STACK_FORGET,
            id,
            serde_json::json!({}),
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }
}

fn stack_of(blueprints: &Blueprints, row: StackRow) -> Option<Stack> {
    let (history, version) = blueprints.version(row.artifact_id, row.version_id)?;
    let ArtifactAddress::Blueprint(address) = &history.artifact.address else {
        return None;
    };
    Some(Stack {
        standing: standing(history, version),
        blueprint: address.clone(),
        version: version.clone(),
        modules: serde_json::from_str(&row.modules).unwrap_or_default(),
        location: row.repository.map(|repository| StackLocation {
            repository,
            path: row.path.unwrap_or_default(),
        }),
        id: row.stack_id,
        name: row.name,
        reported_by: row.reported_by,
        first_reported_at: row.first_reported_at,
        reported_at: row.reported_at,
    })
}
