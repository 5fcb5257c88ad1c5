//! What the registry shows of modules: a module's state and a version's detail (its analysis),
//! and listings and search from the in-memory index (see [`super::search`]).

use super::Registry;
use super::artifacts::{History, VersionInfo};
use super::search::{Listed, ModuleFilter};
use quarry_core::address::{ArtifactAddress, Kind, ModuleAddress};
use quarry_core::module::ModuleAnalysis;
use quarry_core::version::Version;
use sea_orm::DbErr;
use std::sync::Arc;

/// A listed module (with the version that stands for it) and its downloads.
#[derive(Debug)]
pub struct ModuleSummary {
    pub listed: Arc<Listed>,
    pub downloads: i64,
}

#[derive(Debug)]
pub struct ModulePage {
    pub modules: Vec<ModuleSummary>,
    pub has_more: bool,
}

/// A module as its detail shows it, whatever the version: cached briefly (see [`super::cache`]).
#[derive(Debug)]
pub struct ModuleState {
    pub history: History,
    /// The systems published under the module's namespace and name.
    pub systems: Vec<String>,
}

/// Everything the detail endpoint shows of one version.
#[derive(Debug)]
pub struct ModuleDetail {
    pub state: Arc<ModuleState>,
    pub version: VersionInfo,
    /// The versions clients may choose from (not yanked), oldest first.
    pub visible: Vec<Version>,
    pub downloads: i64,
    pub analysis: Arc<ModuleAnalysis>,
}

impl Registry {
    /// A module's state, from the cache when it is fresh.
    async fn module_state(
        &self,
        address: &ModuleAddress,
    ) -> Result<Option<Arc<ModuleState>>, super::Internal> {
        let key = ArtifactAddress::Module(address.clone());
        if let Some(state) = self.caches.state(&key) {
            return Ok(Some(state));
        }
        let generation = self.caches.state_generation();
        let Some(history) = self.history(&key).await? else {
            return Ok(None);
        };
        let systems = crate::db::artifacts::systems_of(
            &self.db,
            Kind::Module.as_str(),
            address.namespace.as_str(),
            address.name.as_str(),
        )
        .await?;
        let state = Arc::new(ModuleState { history, systems });
        self.caches.store_state(&key, generation, state.clone());
        Ok(Some(state))
    }

    /// A module version's analysis, kept once read (it never changes).
    pub async fn module_analysis(
        &self,
        version_id: i32,
    ) -> Result<Arc<ModuleAnalysis>, super::Internal> {
        if let Some(analysis) = self.caches.analysis(version_id) {
            return Ok(analysis);
        }
        let document = crate::db::artifacts::document(&self.db, version_id)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("version {version_id}")))?;
        let size = document.to_string().len();
        let analysis: ModuleAnalysis = serde_json::from_value(document)
            .map_err(|error| DbErr::Json(format!("stored analysis: {error}")))?;
        let analysis = Arc::new(analysis);
        self.caches
            .store_analysis(version_id, analysis.clone(), size);
        Ok(analysis)
    }

    /// The detail of one version, or of the latest one when `version` is `None`.
    pub async fn module_detail(
        &self,
        address: &ModuleAddress,
        version: Option<&Version>,
    ) -> Result<Option<ModuleDetail>, super::Internal> {
        let Some(state) = self.module_state(address).await? else {
            return Ok(None);
        };
        let found = match version {
            Some(version) => state.history.find(version),
            None => state.history.latest(),
        };
        let Some(found) = found.cloned() else {
            return Ok(None);
        };
        let visible: Vec<Version> = state
            .history
            .visible()
            .map(|version| version.version.clone())
            .collect();
        let analysis = self.module_analysis(found.id).await?;
        let versions = &state.history.versions;
        let downloads = versions
            .iter()
            .map(|version| version.downloads)
            .sum::<i64>()
            + self
                .caches
                .pending_downloads(versions.iter().map(|version| version.id));
        Ok(Some(ModuleDetail {
            state,
            version: found,
            visible,
            downloads,
            analysis,
        }))
    }

    /// One page of modules matching the filter, each with its latest version, from the
    /// in-memory listing (see [`super::search`]).
    pub async fn list_modules(
        &self,
        filter: &ModuleFilter,
        offset: u64,
        limit: u64,
    ) -> Result<ModulePage, super::Internal> {
        let (listed, has_more) = self.search.page(&self.db, filter, offset, limit).await?;
        let modules = listed
            .into_iter()
            .map(|listed| ModuleSummary {
                downloads: listed.stored_downloads()
                    + self
                        .caches
                        .pending_downloads(listed.version_ids.iter().copied()),
                listed,
            })
            .collect();
        Ok(ModulePage { modules, has_more })
    }
}
