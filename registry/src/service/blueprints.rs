//! What the registry does with blueprints beyond the shared pipeline: a version's manifest and
//! README (its stored document), and rendering or validating a stack in the sandbox against the
//! modules this registry holds.

use super::Registry;
use super::artifacts::{Artifact, History, VersionInfo};
use crate::sandbox::SandboxError;
use crate::sandbox::protocol::{Job, RenderJob, Reply};
use quarry_core::address::{ArtifactAddress, BlueprintAddress};
use quarry_core::blueprint::{Manifest, ModuleSource};
use quarry_core::constraint::Constraint;
use quarry_core::render::{self, ModuleResolver, RenderError, ResolvedModule};
use quarry_core::version::Version;
use serde_json::Value;
use std::sync::Arc;

/// Why a stack could not be rendered, or a blueprint's version read.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Internal(#[from] super::Internal),
    #[error("stored blueprint {0} cannot be read: {1}")]
    Corrupt(String, String),
}

/// One published blueprint version.
#[derive(Debug, Clone)]
pub struct BlueprintRecord {
    pub history: History,
    pub version: VersionInfo,
}

impl BlueprintRecord {
    pub fn artifact(&self) -> &Artifact {
        &self.history.artifact
    }
}

/// A version's manifest and README, as the checks at publish stored them.
#[derive(Debug, Clone)]
pub struct BlueprintDocument {
    pub manifest: Manifest,
    pub readme: String,
}

/// A stack rendered from a blueprint version: the `.tar.gz` (empty when only validated), and
/// what the blueprint's modules resolved to.
#[derive(Debug)]
pub struct Rendered {
    pub packed: Vec<u8>,
    pub resolutions: render::Resolutions,
    pub document: Arc<BlueprintDocument>,
}

/// Whether a render sends the stack back or only says it renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderMode {
    Validate,
    Pack,
}

/// Resolves module constraints against this registry's own modules; with `schemas` false, the
/// versions only (the inputs schemas left `null`), for pages that show what a constraint selects.
struct RegistryResolver<'a> {
    registry: &'a Registry,
    schemas: bool,
}

impl ModuleResolver for RegistryResolver<'_> {
    async fn resolve(
        &self,
        source: &ModuleSource,
        constraint: &Constraint,
    ) -> Result<ResolvedModule, String> {
        let registry = self.registry;
        let address = &source.address;
        let internal = |error: super::Internal| {
            tracing::error!(%error, "resolving a module");
            "the registry could not look the module up".to_owned()
        };
        let history = registry
            .recent_history(&ArtifactAddress::Module(address.clone()))
            .await
            .map_err(internal)?
            .ok_or_else(|| format!("module {address} is not in this registry"))?;
        let visible: Vec<&Version> = history.visible().map(|v| &v.version).collect();
        let Some(chosen) = constraint.select(visible.iter().copied()).cloned() else {
            let available: Vec<String> = visible.iter().map(ToString::to_string).collect();
            return Err(format!(
                "no version of {address} matches `{constraint}` (available: {})",
                if available.is_empty() {
                    "none".to_owned()
                } else {
                    available.join(", ")
                }
            ));
        };
        let found = history
            .find(&chosen)
            .ok_or_else(|| format!("{address} {chosen} vanished while resolving"))?;
        let analysis = registry.module_analysis(found.id).await.map_err(internal)?;
        let inputs_schema = match &source.subdir {
            None => &analysis.root.inputs_schema,
            Some(subdir) => analysis
                .submodules
                .iter()
                .find(|submodule| submodule.path == *subdir)
                .map(|submodule| &submodule.inputs_schema)
                .ok_or_else(|| format!("{address} {chosen} has no submodule `{subdir}`"))?,
        };
        let inputs_schema = if self.schemas {
            inputs_schema.clone()
        } else {
            Value::Null
        };
        Ok(ResolvedModule {
            version: chosen,
            archive_sha256: found.archive.to_hex(),
            inputs_schema,
        })
    }
}

impl Registry {
    /// One version, or the latest when `version` is `None`.
    pub async fn find_blueprint(
        &self,
        address: &BlueprintAddress,
        version: Option<&Version>,
    ) -> Result<Option<BlueprintRecord>, super::Internal> {
        let Some(history) = self
            .recent_history(&ArtifactAddress::Blueprint(address.clone()))
            .await?
        else {
            return Ok(None);
        };
        let found = match version {
            Some(version) => history.find(version),
            None => history.latest(),
        };
        Ok(found.cloned().map(|version| BlueprintRecord {
            history: History::clone(&history),
            version,
        }))
    }

    /// A version's manifest and README (kept in memory: versions are immutable). A row that
    /// cannot be read back fails this version's detail and renders only, never a listing.
    pub async fn blueprint_document(
        &self,
        record: &BlueprintRecord,
    ) -> Result<Arc<BlueprintDocument>, StackError> {
        if let Some(document) = self.cached(
            "blueprint_documents",
            self.caches.document(record.version.id),
        ) {
            return Ok(document);
        }
        let subject = format!("{} {}", record.artifact().address, record.version.version);
        let unreadable = |message: String| {
            tracing::error!(blueprint = %subject, %message, "a stored blueprint version cannot be read");
            StackError::Corrupt(subject.clone(), "its stored manifest cannot be read".into())
        };
        let document: Value = crate::db::artifacts::document(&self.db, record.version.id)
            .await
            .map_err(|error| unreadable(error.to_string()))?
            .ok_or_else(|| unreadable("its row vanished".into()))?;
        let manifest = serde_json::from_value(document["manifest"].clone())
            .map_err(|error| unreadable(error.to_string()))?;
        let readme = document["readme"].as_str().unwrap_or_default().to_owned();
        let size = readme.len() + document["manifest"].to_string().len();
        let document = Arc::new(BlueprintDocument { manifest, readme });
        self.caches
            .store_document(record.version.id, document.clone(), size);
        Ok(document)
    }

    /// What each of a manifest's modules resolves to in this registry now, with the inputs
    /// schemas a render checks the modules' values against.
    pub async fn resolve_modules(&self, manifest: &Manifest) -> render::Resolutions {
        let resolver = RegistryResolver {
            registry: self,
            schemas: true,
        };
        render::resolve_modules(manifest, &resolver).await
    }

    /// The versions a manifest's modules resolve to now (the inputs schemas left `null`).
    pub async fn resolve_module_versions(&self, manifest: &Manifest) -> render::Resolutions {
        let resolver = RegistryResolver {
            registry: self,
            schemas: false,
        };
        render::resolve_modules(manifest, &resolver).await
    }

    /// The files of a version's archive, read under the registry's archive limits (the archive
    /// passed them at publish).
    pub async fn blueprint_files(
        &self,
        record: &BlueprintRecord,
    ) -> Result<std::collections::BTreeMap<String, Vec<u8>>, StackError> {
        let subject = format!("{} {}", record.artifact().address, record.version.version);
        let archive = self
            .storage
            .archive_bytes(&record.version.archive)
            .await
            .map_err(super::Internal::from)?
            .ok_or_else(|| StackError::Corrupt(subject.clone(), "its archive is missing".into()))?;
        let limits = self.limits;
        tokio::task::spawn_blocking(move || quarry_core::archive::read_files(&archive, &limits))
            .await
            .map_err(|error| StackError::Corrupt(subject.clone(), error.to_string()))?
            .map_err(|error| StackError::Corrupt(subject, error.to_string()))
    }

    /// Renders (or only validates) a stack from a published blueprint version in the sandbox,
    /// resolving its modules in this registry first. With [`RenderMode::Pack`], the stack's
    /// `.tar.gz`.
    pub async fn render_blueprint(
        &self,
        record: &BlueprintRecord,
        inputs: Value,
        registry_host: &str,
        mode: RenderMode,
    ) -> Result<Rendered, StackError> {
        let digest = record.version.archive;
        let document = self.blueprint_document(record).await?;
        let resolutions = self.resolve_modules(&document.manifest).await;
        let job = || {
            Job::Render(RenderJob {
                digest: digest.to_hex(),
                limits: self.limits,
                version: record.version.version.clone(),
                registry_host: registry_host.to_owned(),
                inputs: inputs.clone(),
                resolutions: resolutions.clone(),
                output_limit: self.render_output_bytes,
                pack: mode == RenderMode::Pack,
            })
        };
        let what = "rendering the stack";
        let mut answer = self
            .sandbox
            .run(what, job(), &[], self.render_budget)
            .await?;
        if matches!(answer.0, Reply::NeedArchive) {
            let archive = self
                .storage
                .archive_bytes(&digest)
                .await
                .map_err(super::Internal::from)?
                .ok_or_else(|| {
                    StackError::Corrupt(
                        record.artifact().address.to_string(),
                        "its archive is missing".into(),
                    )
                })?;
            answer = self
                .sandbox
                .run(what, job(), &archive, self.render_budget)
                .await?;
        }
        match answer {
            (Reply::Rendered, packed) => Ok(Rendered {
                packed,
                resolutions,
                document,
            }),
            (Reply::RenderFailed(failure), _) => Err(StackError::Render(failure)),
            (Reply::Unreadable(message), _) => Err(StackError::Corrupt(
                record.artifact().address.to_string(),
                message,
            )),
            (other, _) => Err(StackError::Corrupt(
                record.artifact().address.to_string(),
                format!("unexpected answer {other:?}"),
            )),
        }
    }
}
