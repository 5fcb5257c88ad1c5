//! Reading modules: versions, the version a download resolves to, listings, search and detail.

use super::Registry;
use crate::db::entities::{module, module_version};
use crate::db::queries::{self, ModuleFilter};
use quarry_core::address::ModuleAddress;
use quarry_core::module::ModuleAnalysis;
use quarry_core::version::{self, Version};
use sea_orm::DbErr;

/// One published version with its module.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    pub module: module::Model,
    pub row: module_version::Model,
    pub version: Version,
}

/// A listed module and the version that stands for it.
#[derive(Debug)]
pub struct ModuleSummary {
    pub module: module::Model,
    pub latest: queries::VersionHead,
    pub downloads: i64,
}

#[derive(Debug)]
pub struct ModulePage {
    pub modules: Vec<ModuleSummary>,
    pub has_more: bool,
}

/// Everything the detail endpoint shows of one version.
#[derive(Debug)]
pub struct ModuleDetail {
    pub record: VersionRecord,
    pub analysis: ModuleAnalysis,
    pub versions: Vec<Version>,
    pub systems: Vec<String>,
    pub downloads: i64,
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
            body,
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
        self.caches.forget_versions(address);
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
            archive_sha256: record.row.archive_sha256,
        };
        self.caches
            .store_resolved(address, version, resolved.clone());
        Ok(Some(resolved))
    }

    /// One page of modules matching the filter, each with its latest version.
    pub async fn list_modules(
        &self,
        filter: &ModuleFilter,
        offset: u64,
        limit: u64,
    ) -> Result<ModulePage, DbErr> {
        let (rows, has_more) = queries::list_modules(&self.db, filter, offset, limit).await?;
        let modules = rows
            .into_iter()
            .filter_map(|(module, versions)| {
                let downloads = versions
                    .iter()
                    .map(|version| version.downloads)
                    .sum::<i64>()
                    + self
                        .caches
                        .pending_downloads(versions.iter().map(|version| version.id));
                latest_row(versions).map(|(_, latest)| ModuleSummary {
                    module,
                    latest,
                    downloads,
                })
            })
            .collect();
        Ok(ModulePage { modules, has_more })
    }

    /// The detail of one version, or of the latest one when `version` is `None`.
    pub async fn module_detail(
        &self,
        address: &ModuleAddress,
        version: Option<&Version>,
    ) -> Result<Option<ModuleDetail>, DbErr> {
        let Some(module) = queries::find_module(&self.db, address).await? else {
            return Ok(None);
        };
        let rows = queries::version_heads(&self.db, module.id).await?;
        let downloads = rows.iter().map(|row| row.downloads).sum::<i64>()
            + self.caches.pending_downloads(rows.iter().map(|row| row.id));
        let parsed = sorted(rows);
        let visible: Vec<Version> = parsed
            .iter()
            .filter(|(_, row)| !row.yanked)
            .map(|(version, _)| version.clone())
            .collect();
        let wanted = match version {
            Some(version) => version.clone(),
            None => match version::latest(&visible) {
                Some(latest) => latest.clone(),
                None => return Ok(None),
            },
        };
        let Some((version, _)) = parsed.into_iter().find(|(v, _)| *v == wanted) else {
            return Ok(None);
        };
        let Some(row) = queries::find_version(&self.db, module.id, &version.to_string()).await?
        else {
            return Ok(None);
        };
        let analysis: ModuleAnalysis = serde_json::from_value(row.analysis.clone())
            .map_err(|error| DbErr::Json(error.to_string()))?;
        let systems = queries::systems_of(&self.db, &module.namespace, &module.name).await?;
        Ok(Some(ModuleDetail {
            record: VersionRecord {
                module,
                row,
                version,
            },
            analysis,
            versions: visible,
            systems,
            downloads,
        }))
    }
}
