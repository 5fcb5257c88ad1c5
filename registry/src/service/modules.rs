//! Reading modules: versions, the version a download resolves to, listings, search and detail.

use super::Registry;
use crate::db::entities::{module, module_version};
use crate::db::queries::{self, ModuleFilter};
use quarry_core::address::ModuleAddress;
use quarry_core::module::ModuleAnalysis;
use quarry_core::version::{self, Version};
use sea_orm::DbErr;
use std::sync::Arc;

/// One published version with its module.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    pub module: module::Model,
    pub row: module_version::Model,
    pub version: Version,
}

/// A listed module (with the version that stands for it) and its downloads.
#[derive(Debug)]
pub struct ModuleSummary {
    pub listed: std::sync::Arc<super::search::Listed>,
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
    pub module: module::Model,
    /// Every version, yanked ones included, oldest first.
    pub versions: Vec<(Version, queries::VersionHead)>,
    /// The systems published under the module's namespace and name.
    pub systems: Vec<String>,
}

/// Everything the detail endpoint shows of one version.
#[derive(Debug)]
pub struct ModuleDetail {
    pub state: Arc<ModuleState>,
    pub version: Version,
    pub head: queries::VersionHead,
    /// The versions clients may choose from (not yanked), oldest first.
    pub visible: Vec<Version>,
    pub downloads: i64,
    /// What the caller rendered of the version's contents (archive and analysis), cached for as
    /// long as the version exists (it never changes).
    pub contents: Arc<str>,
}

fn sorted(rows: Vec<queries::VersionHead>) -> Vec<(Version, queries::VersionHead)> {
    version::sort_by_version(rows, |row| &row.version)
}

fn latest_row(rows: Vec<queries::VersionHead>) -> Option<(Version, queries::VersionHead)> {
    version::latest_item(rows, |row| &row.version)
}

impl Registry {
    /// The versions clients may choose from (not yanked), oldest first; `None` for an unknown module.
    pub async fn module_versions(
        &self,
        address: &ModuleAddress,
    ) -> Result<Option<Vec<Version>>, DbErr> {
        let Some(module) = queries::find_module(&self.db, address).await? else {
            return Ok(None);
        };
        let rows = queries::version_heads(&self.db, module.id).await?;
        Ok(Some(
            sorted(rows.into_iter().filter(|row| !row.yanked).collect())
                .into_iter()
                .map(|(version, _)| version)
                .collect(),
        ))
    }

    /// The `versions` answer of a module in the registry protocol's shape, with its ETag;
    /// cached (see [`super::cache`]). `None` for an unknown module.
    pub async fn versions_body(
        &self,
        address: &ModuleAddress,
    ) -> Result<Option<std::sync::Arc<super::cache::VersionsBody>>, DbErr> {
        if let Some(cached) = self.caches.versions(address) {
            return Ok(Some(cached));
        }
        let Some(versions) = self.module_versions(address).await? else {
            return Ok(None);
        };
        let list: Vec<serde_json::Value> = versions
            .iter()
            .map(|version| serde_json::json!({ "version": version.to_string() }))
            .collect();
        let body =
            serde_json::json!({ "modules": [{ "source": address.to_string(), "versions": list }] })
                .to_string();
        let digest = quarry_core::digest::Sha256::of(body.as_bytes()).to_hex();
        let answer = std::sync::Arc::new(super::cache::VersionsBody {
            etag: format!("\"{}\"", &digest[..32]),
            body: body.into(),
        });
        self.caches.store_versions(address, answer.clone());
        Ok(Some(answer))
    }

    /// One version, yanked or not (a yanked version stays downloadable by its exact number).
    pub async fn find_version(
        &self,
        address: &ModuleAddress,
        version: &Version,
    ) -> Result<Option<VersionRecord>, DbErr> {
        let Some(module) = queries::find_module(&self.db, address).await? else {
            return Ok(None);
        };
        let row = queries::find_version(&self.db, module.id, &version.to_string()).await?;
        Ok(row.map(|row| VersionRecord {
            module,
            row,
            version: version.clone(),
        }))
    }

    /// The newest stable version that is not yanked (a prerelease only when nothing else exists).
    pub async fn latest_version(
        &self,
        address: &ModuleAddress,
    ) -> Result<Option<VersionRecord>, DbErr> {
        let Some(module) = queries::find_module(&self.db, address).await? else {
            return Ok(None);
        };
        let rows = queries::version_heads(&self.db, module.id).await?;
        let Some((version, _)) = latest_row(rows.into_iter().filter(|row| !row.yanked).collect())
        else {
            return Ok(None);
        };
        let row = queries::find_version(&self.db, module.id, &version.to_string()).await?;
        Ok(row.map(|row| VersionRecord {
            module,
            row,
            version,
        }))
    }

    /// Deprecates (still listed, flagged) or yanks (gone from `versions`, still downloadable by
    /// its exact number) a version; returns false when there is no such version.
    pub async fn mark_module_version(
        &self,
        address: &ModuleAddress,
        version: &Version,
        yank: bool,
        actor: &super::audit::Actor,
        reason: Option<&str>,
    ) -> Result<bool, DbErr> {
        let Some(record) = self.find_version(address, version).await? else {
            return Ok(false);
        };
        let (column, action) = if yank {
            (
                crate::db::entities::module_version::Column::Yanked,
                super::audit::Action::ModuleYank,
            )
        } else {
            (
                crate::db::entities::module_version::Column::Deprecated,
                super::audit::Action::ModuleDeprecate,
            )
        };
        queries::mark_version(&self.db, record.row.id, column).await?;
        self.module_changed(address).await;
        self.audit(
            actor,
            action,
            &format!("{address}/{version}"),
            serde_json::json!({ "reason": reason }),
        )
        .await;
        Ok(true)
    }

    /// Counts a download (in memory; written every few seconds by [`Registry::flush_downloads`]).
    pub fn record_download(&self, version_id: i32) {
        self.caches.count_download(version_id);
    }

    /// What a download of `address` `version` points at, from the cache when it was resolved
    /// before (it never changes), else from the database. Yanked versions resolve too.
    pub async fn resolve_download(
        &self,
        address: &ModuleAddress,
        version: &Version,
    ) -> Result<Option<super::cache::Resolved>, DbErr> {
        if let Some(resolved) = self.caches.resolved(address, version) {
            return Ok(Some(resolved));
        }
        let Some(record) = self.find_version(address, version).await? else {
            return Ok(None);
        };
        let resolved = super::cache::Resolved {
            version_id: record.row.id,
            archive: quarry_core::digest::Sha256::from_hex(&record.row.archive_sha256)
                .map_err(|error| DbErr::Custom(format!("stored archive digest: {error}")))?,
        };
        self.caches.store_resolved(address, version, resolved);
        Ok(Some(resolved))
    }

    /// Forgets what is cached of a module and reads it into the listing again, after this
    /// process or another replica changed it. A failed read is logged: the listing then catches
    /// up at its next full reload.
    pub async fn module_changed(&self, address: &ModuleAddress) {
        self.caches.forget_module(address);
        if let Err(error) = self.search.reload_module(&self.db, address).await {
            tracing::warn!(%error, module = %address, "could not refresh the module listing");
        }
    }

    /// One page of modules matching the filter, each with its latest version, from the
    /// in-memory listing (see [`super::search`]).
    pub async fn list_modules(
        &self,
        filter: &ModuleFilter,
        offset: u64,
        limit: u64,
    ) -> Result<ModulePage, DbErr> {
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

    /// A module's state, from the cache when it is fresh.
    async fn module_state(
        &self,
        address: &ModuleAddress,
    ) -> Result<Option<Arc<ModuleState>>, DbErr> {
        if let Some(state) = self.caches.state(address) {
            return Ok(Some(state));
        }
        let generation = self.caches.state_generation();
        let Some(module) = queries::find_module(&self.db, address).await? else {
            return Ok(None);
        };
        let versions = sorted(queries::version_heads(&self.db, module.id).await?);
        let systems = queries::systems_of(&self.db, &module.namespace, &module.name).await?;
        let state = Arc::new(ModuleState {
            module,
            versions,
            systems,
        });
        self.caches.store_state(address, generation, state.clone());
        Ok(Some(state))
    }

    /// The detail of one version, or of the latest one when `version` is `None`. `render` turns
    /// the version's stored contents into what the detail shows of them; it runs once per
    /// version, and its result is kept.
    pub async fn module_detail(
        &self,
        address: &ModuleAddress,
        version: Option<&Version>,
        render: impl FnOnce(&module::Model, &module_version::Model, &ModuleAnalysis) -> String,
    ) -> Result<Option<ModuleDetail>, DbErr> {
        let Some(state) = self.module_state(address).await? else {
            return Ok(None);
        };
        let visible: Vec<Version> = state
            .versions
            .iter()
            .filter(|(_, head)| !head.yanked)
            .map(|(version, _)| version.clone())
            .collect();
        let wanted = match version {
            Some(version) => version.clone(),
            None => match version::latest(&visible) {
                Some(latest) => latest.clone(),
                None => return Ok(None),
            },
        };
        let Some((version, head)) = state.versions.iter().find(|(v, _)| *v == wanted).cloned()
        else {
            return Ok(None);
        };
        let contents = match self.caches.contents(head.id) {
            Some(contents) => contents,
            None => {
                let Some(row) =
                    queries::find_version(&self.db, state.module.id, &head.version).await?
                else {
                    return Ok(None);
                };
                let analysis: ModuleAnalysis = serde_json::from_value(row.analysis.clone())
                    .map_err(|error| DbErr::Json(error.to_string()))?;
                let contents: Arc<str> = render(&state.module, &row, &analysis).into();
                self.caches.store_contents(head.id, contents.clone());
                contents
            }
        };
        let downloads = state
            .versions
            .iter()
            .map(|(_, head)| head.downloads)
            .sum::<i64>()
            + self
                .caches
                .pending_downloads(state.versions.iter().map(|(_, head)| head.id));
        Ok(Some(ModuleDetail {
            state,
            version,
            head,
            visible,
            downloads,
            contents,
        }))
    }
}
