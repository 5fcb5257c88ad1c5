//! Blueprints in the registry: publishing (the whole blueprint checked, every problem reported),
//! finding versions, and rendering or validating a stack against the modules this registry holds.

use super::Registry;
use crate::db::blueprint_queries::{self, NewBlueprintVersion};
use crate::db::entities::{blueprint as blueprint_row, blueprint_version};
use crate::storage::StorageError;
use bytes::Bytes;
use quarry_core::address::{ModuleName, Namespace};
use quarry_core::archive::{self, ArchiveError};
use quarry_core::blueprint::{Blueprint, ModuleSource, Problem};
use quarry_core::constraint::Constraint;
use quarry_core::digest::Sha256;
use quarry_core::module::ModuleAnalysis;
use quarry_core::render::{
    self, ModuleResolver, RenderError, RenderRequest, ResolvedModule, Stack,
};
use quarry_core::version::{self, Version};
use sea_orm::DbErr;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum BlueprintError {
    #[error(
        "blueprint {address} {version} is already published; versions are immutable, publish a new version"
    )]
    VersionExists { address: String, version: Version },
    #[error("the archive is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("the blueprint has {} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    #[error("blueprint.yaml declares `{declared}` but is published as `{published}`")]
    AddressMismatch { declared: String, published: String },
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored blueprint {0} cannot be read: {1}")]
    Corrupt(String, String),
}

/// One published blueprint version.
#[derive(Debug, Clone)]
pub struct BlueprintRecord {
    pub blueprint: blueprint_row::Model,
    pub row: blueprint_version::Model,
    pub version: Version,
}

impl BlueprintRecord {
    pub fn address(&self) -> String {
        format!("{}/{}", self.blueprint.namespace, self.blueprint.name)
    }
}

#[derive(Debug)]
pub struct BlueprintSummary {
    pub blueprint: blueprint_row::Model,
    pub latest: blueprint_version::Model,
}

/// Resolves module constraints against this registry's own modules.
struct RegistryResolver<'a>(&'a Registry);

impl ModuleResolver for RegistryResolver<'_> {
    async fn resolve(
        &self,
        source: &ModuleSource,
        constraint: &Constraint,
    ) -> Result<ResolvedModule, String> {
        let registry = self.0;
        let address = &source.address;
        let internal = |error: DbErr| {
            tracing::error!(%error, "resolving a module");
            "the registry could not look the module up".to_owned()
        };
        let versions = registry
            .module_versions(address)
            .await
            .map_err(internal)?
            .ok_or_else(|| format!("module {address} is not in this registry"))?;
        let Some(chosen) = constraint.select(&versions).cloned() else {
            let available: Vec<String> = versions.iter().map(ToString::to_string).collect();
            return Err(format!(
                "no version of {address} matches `{constraint}` (available: {})",
                if available.is_empty() {
                    "none".to_owned()
                } else {
                    available.join(", ")
                }
            ));
        };
        let record = registry
            .find_version(address, &chosen)
            .await
            .map_err(internal)?
            .ok_or_else(|| format!("{address} {chosen} vanished while resolving"))?;
        let analysis: ModuleAnalysis = serde_json::from_value(record.row.analysis.clone())
            .map_err(|error| format!("{address} {chosen}: stored analysis unreadable: {error}"))?;
        let inputs_schema = match &source.subdir {
            None => analysis.root.inputs_schema,
            Some(subdir) => analysis
                .submodules
                .into_iter()
                .find(|submodule| submodule.path == *subdir)
                .map(|submodule| submodule.inputs_schema)
                .ok_or_else(|| format!("{address} {chosen} has no submodule `{subdir}`"))?,
        };
        Ok(ResolvedModule {
            version: chosen,
            archive_sha256: record.row.archive_sha256,
            inputs_schema,
        })
    }
}

fn sorted(rows: Vec<blueprint_version::Model>) -> Vec<(Version, blueprint_version::Model)> {
    version::sort_by_version(rows, |row| &row.version)
}

fn latest_of(rows: Vec<blueprint_version::Model>) -> Option<(Version, blueprint_version::Model)> {
    version::latest_item(rows, |row| &row.version)
}

impl Registry {
    /// Checks and publishes a blueprint archive as `namespace/name` `version`.
    pub async fn publish_blueprint(
        &self,
        namespace: &Namespace,
        name: &ModuleName,
        version: &Version,
        archive: Bytes,
        actor: &super::audit::Actor,
    ) -> Result<super::publish::Published, BlueprintError> {
        let address = format!("{namespace}/{name}");
        let exists = || BlueprintError::VersionExists {
            address: address.clone(),
            version: version.clone(),
        };
        if self
            .find_blueprint(namespace.as_str(), name.as_str(), Some(version))
            .await?
            .is_some()
        {
            return Err(exists());
        }
        if archive.len() as u64 > self.max_archive_bytes {
            return Err(BlueprintError::TooLarge {
                limit: self.max_archive_bytes,
            });
        }
        let limits = self.limits;
        let bytes = archive.clone();
        let checked =
            tokio::task::spawn_blocking(move || -> Result<(Blueprint, Sha256), BlueprintError> {
                let files = archive::read_files(&bytes, &limits)?;
                let blueprint =
                    quarry_core::blueprint::check(files).map_err(BlueprintError::Invalid)?;
                Ok((blueprint, Sha256::of(&bytes)))
            })
            .await
            .map_err(|error| BlueprintError::Corrupt(address.clone(), error.to_string()))??;
        let (blueprint, digest) = checked;
        let declared = format!("{}/{}", blueprint.namespace, blueprint.name);
        if declared != address {
            return Err(BlueprintError::AddressMismatch {
                declared,
                published: address,
            });
        }
        let readme = blueprint
            .files
            .get("README.md")
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .unwrap_or_default();
        let stored = json!({ "manifest": blueprint.manifest, "readme": readme });
        self.storage.put_archive(&digest, archive.clone()).await?;
        let inserted = blueprint_queries::insert_blueprint_version(
            &self.db,
            NewBlueprintVersion {
                namespace: namespace.as_str(),
                name: name.as_str(),
                description: &blueprint.manifest.metadata.description,
                version: &version.to_string(),
                archive_sha256: &digest.to_hex(),
                archive_size: archive.len() as i64,
                manifest: stored,
                published_by: &actor.name,
            },
        )
        .await?;
        if inserted.is_none() {
            return Err(exists());
        }
        tracing::info!(blueprint = %address, %version, sha256 = %digest, by = %actor.name, "published blueprint");
        self.audit(
            actor,
            super::audit::Action::BlueprintPublish,
            &format!("{address}/{version}"),
            json!({ "sha256": digest.to_hex(), "size": archive.len() }),
        )
        .await;
        Ok(super::publish::Published {
            id: format!("{address}/{version}"),
            version: version.to_string(),
            archive_sha256: digest.to_hex(),
            archive_size: archive.len() as u64,
        })
    }

    /// Yanks a blueprint version: gone from `versions`, still downloadable by its exact number.
    pub async fn yank_blueprint(
        &self,
        record: &BlueprintRecord,
        actor: &super::audit::Actor,
        reason: Option<&str>,
    ) -> Result<(), DbErr> {
        blueprint_queries::yank_blueprint_version(&self.db, record.row.id).await?;
        self.audit(
            actor,
            super::audit::Action::BlueprintYank,
            &format!("{}/{}", record.address(), record.version),
            json!({ "reason": reason }),
        )
        .await;
        Ok(())
    }

    /// The visible (not yanked) versions of a blueprint, oldest first; `None` if unknown.
    pub async fn blueprint_versions(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Vec<Version>>, DbErr> {
        let Some(parent) = blueprint_queries::find_blueprint(&self.db, namespace, name).await?
        else {
            return Ok(None);
        };
        let rows = blueprint_queries::blueprint_versions(&self.db, parent.id).await?;
        Ok(Some(
            sorted(rows.into_iter().filter(|row| !row.yanked).collect())
                .into_iter()
                .map(|(version, _)| version)
                .collect(),
        ))
    }

    /// One version, or the latest when `version` is `None`.
    pub async fn find_blueprint(
        &self,
        namespace: &str,
        name: &str,
        version: Option<&Version>,
    ) -> Result<Option<BlueprintRecord>, DbErr> {
        let Some(parent) = blueprint_queries::find_blueprint(&self.db, namespace, name).await?
        else {
            return Ok(None);
        };
        let rows = blueprint_queries::blueprint_versions(&self.db, parent.id).await?;
        let found = match version {
            Some(wanted) => sorted(rows)
                .into_iter()
                .find(|(version, _)| version == wanted),
            None => latest_of(rows.into_iter().filter(|row| !row.yanked).collect()),
        };
        Ok(found.map(|(version, row)| BlueprintRecord {
            blueprint: parent,
            row,
            version,
        }))
    }

    pub async fn list_blueprints(
        &self,
        namespace: Option<&str>,
        text: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<BlueprintSummary>, bool), DbErr> {
        let (rows, has_more) =
            blueprint_queries::list_blueprints(&self.db, namespace, text, offset, limit).await?;
        let summaries = rows
            .into_iter()
            .filter_map(|(blueprint, versions)| {
                latest_of(versions).map(|(_, latest)| BlueprintSummary { blueprint, latest })
            })
            .collect();
        Ok((summaries, has_more))
    }

    /// Renders a stack from a published blueprint version, resolving modules in this registry.
    pub async fn render_blueprint(
        &self,
        record: &BlueprintRecord,
        inputs: Value,
        registry_host: &str,
    ) -> Result<Stack, BlueprintError> {
        let digest = Sha256::from_hex(&record.row.archive_sha256)
            .map_err(|error| BlueprintError::Corrupt(record.address(), error.to_string()))?;
        let bytes = self.storage.archive_bytes(&digest).await?.ok_or_else(|| {
            BlueprintError::Corrupt(record.address(), "its archive is missing".into())
        })?;
        let limits = self.limits;
        let files = archive::read_files(&bytes, &limits)
            .map_err(|error| BlueprintError::Corrupt(record.address(), error.to_string()))?;
        let blueprint = quarry_core::blueprint::check(files).map_err(|problems| {
            BlueprintError::Corrupt(record.address(), format!("{} problem(s)", problems.len()))
        })?;
        let stack = render::render(
            RenderRequest {
                blueprint: &blueprint,
                version: &record.version,
                archive_sha256: &record.row.archive_sha256,
                constraint: None,
                registry_host,
                inputs,
            },
            &RegistryResolver(self),
        )
        .await?;
        Ok(stack)
    }
}
