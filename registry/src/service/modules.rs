//! What the registry shows of modules: a module's state and a version's detail (its analysis),
//! and listings and search from the in-memory index (see [`super::search`]).

use super::Registry;
use super::artifacts::{History, VersionInfo};
use super::search::{Filter, Listed};
use quarry_core::address::{ArtifactAddress, Kind, ModuleAddress};
use quarry_core::module::ModuleAnalysis;
use quarry_core::version::Version;
use sea_orm::DbErr;
use std::sync::Arc;

/// A listed artifact (with the version that stands for it) and its downloads.
#[derive(Debug)]
pub struct Summary {
    pub listed: Arc<Listed>,
    pub downloads: i64,
}

/// A blueprint version whose constraint on a module selects a given version of it now.
#[derive(Debug, Clone)]
pub struct UsedBy {
    pub blueprint: Arc<Listed>,
    pub version: Version,
    /// The module's name in the blueprint's manifest.
    pub name: String,
    pub constraint: quarry_core::constraint::Constraint,
}

/// One page of a listing or search.
#[derive(Debug)]
pub struct ListingPage {
    pub items: Vec<Summary>,
    pub has_more: bool,
    pub total: Option<usize>,
}

/// A module as its detail shows it, whatever the version: cached briefly (see [`super::cache`]).
#[derive(Debug)]
pub struct ModuleState {
    pub history: History,
    /// The systems published under the module's namespace and name.
    pub systems: Vec<String>,
}

impl ModuleState {
    /// The version rows of the module.
    pub fn version_ids(&self) -> impl Iterator<Item = i32> + Clone + '_ {
        self.history.versions.iter().map(|version| version.id)
    }
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
    /// A module's state, from the cache when it is fresh (unless `reread`), and how many
    /// downloads of it this process had written when it was read.
    async fn module_state(
        &self,
        address: &ModuleAddress,
        reread: bool,
    ) -> Result<Option<(Arc<ModuleState>, i64)>, super::Internal> {
        let key = ArtifactAddress::Module(address.clone());
        if !reread && let Some(cached) = self.cached("module_states", self.caches.state(&key)) {
            return Ok(Some(cached));
        }
        let read_in = self.caches.generation();
        // The module's row and its siblings' (for their systems) in one read.
        let named = crate::db::artifacts::named(
            &self.db,
            Kind::Module.as_str(),
            address.namespace.as_str(),
            address.name.as_str(),
        )
        .await?;
        let systems: Vec<String> = named.iter().map(|row| row.system.clone()).collect();
        let Some(row) = named
            .into_iter()
            .find(|row| row.system == address.system.as_str())
        else {
            return Ok(None);
        };
        let Some(history) = self.history_of(row).await? else {
            return Ok(None);
        };
        let state = Arc::new(ModuleState { history, systems });
        let written = self.caches.store_state(&key, read_in, state.clone());
        Ok(Some((state, written)))
    }

    /// A module version's analysis, kept once read (it never changes).
    pub async fn module_analysis(
        &self,
        version_id: i32,
    ) -> Result<Arc<ModuleAnalysis>, super::Internal> {
        if let Some(analysis) = self.cached("module_analyses", self.caches.analysis(version_id)) {
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
        let Some((mut state, mut written_at_read)) = self.module_state(address, false).await?
        else {
            return Ok(None);
        };
        // A version the kept state does not know may be newer than it: another replica's
        // publish that `versions` (read at another moment) already lists, before the change feed
        // drops this state. Read again rather than answer 404 for a listed version.
        if let Some(version) = version
            && state.history.find(version).is_none()
        {
            let Some(fresh) = self.module_state(address, true).await? else {
                return Ok(None);
            };
            (state, written_at_read) = fresh;
        }
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
                .unstored_downloads(state.version_ids(), written_at_read);
        Ok(Some(ModuleDetail {
            state,
            version: found,
            visible,
            downloads,
            analysis,
        }))
    }

    /// The blueprint versions whose constraints select `version` of the module among its
    /// versions that are not yanked (what they render with today), in listing order.
    pub async fn used_by(
        &self,
        detail: &ModuleDetail,
        address: &ModuleAddress,
    ) -> Result<Vec<UsedBy>, super::Internal> {
        let uses = self.search.uses_of(&self.db, address).await?;
        let wanted = &detail.version.version;
        Ok(uses
            .into_iter()
            .filter(|(_, used)| used.constraint.select(detail.visible.iter()) == Some(wanted))
            .map(|(blueprint, used)| UsedBy {
                blueprint,
                version: used.version,
                name: used.name,
                constraint: used.constraint,
            })
            .collect())
    }

    /// One page of artifacts matching the filter, each with its latest version, from the
    /// in-memory listing (see [`super::search`]); with `count`, how many match in all.
    pub async fn list_artifacts(
        &self,
        filter: &Filter,
        offset: u64,
        limit: u64,
        count: bool,
    ) -> Result<ListingPage, super::Internal> {
        let page = self
            .search
            .page(&self.db, filter, offset, limit, count)
            .await?;
        Ok(ListingPage {
            items: page
                .items
                .into_iter()
                .map(|listed| self.summary(listed))
                .collect(),
            has_more: page.has_more,
            total: page.total,
        })
    }

    /// A listed artifact with every download counted, those not yet written included.
    pub fn summary(&self, listed: Arc<Listed>) -> Summary {
        Summary {
            downloads: listed.stored_downloads()
                + self
                    .caches
                    .pending_downloads(listed.version_ids.iter().copied()),
            listed,
        }
    }
}
