//! Blueprints in the registry: publishing (the whole blueprint checked, every problem reported),
//! finding versions, and rendering or validating a stack against the modules this registry holds.

use super::Registry;
use super::audit::{self, Action};
use crate::db::blueprint_queries::{self, BlueprintHead, NewBlueprintVersion};
use crate::db::entities::blueprint as blueprint_row;
use crate::sandbox::SandboxError;
use crate::sandbox::protocol::{CheckedBlueprint, Job, Refusal, RenderJob, Reply};
use crate::storage::StorageError;
use bytes::Bytes;
use quarry_core::address::{ModuleName, Namespace};
use quarry_core::archive::ArchiveError;
use quarry_core::blueprint::{ModuleSource, Problem};
use quarry_core::constraint::Constraint;
use quarry_core::digest::Sha256;
use quarry_core::module::ModuleAnalysis;
use quarry_core::render::{self, ModuleResolver, RenderError, ResolvedModule};
use quarry_core::version::{self, Version};
use sea_orm::DbErr;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum BlueprintError {
    #[error(
        "blueprint {address} {version} is already published; versions are immutable, publish a new version"
    )]
    VersionExists { address: String, version: Version },
    #[error(
        "blueprint {address} {version} is the same version as the published {existing} to terraform, which ignores build metadata (`+…`); versions are immutable, publish a new version"
    )]
    SameVersion {
        address: String,
        version: Version,
        existing: String,
    },
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
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored blueprint {0} cannot be read: {1}")]
    Corrupt(String, String),
}

/// One published blueprint version (what listings and version choice know of it; the manifest
/// is read by [`Registry::blueprint_document`]).
#[derive(Debug, Clone)]
pub struct BlueprintRecord {
    pub blueprint: blueprint_row::Model,
    pub head: BlueprintHead,
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
    pub latest: BlueprintHead,
}

/// Whether a render sends the stack back or only says it renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderMode {
    Validate,
    Pack,
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

fn sorted(rows: Vec<BlueprintHead>) -> Vec<(Version, BlueprintHead)> {
    version::sort_by_version(rows, |row| &row.version)
}

fn latest_of(rows: Vec<BlueprintHead>) -> Option<(Version, BlueprintHead)> {
    version::latest_item(rows, |row| &row.version)
}

impl Registry {
    /// Refuses a version that exists already: 409, saying when it differs only in build metadata.
    pub async fn refuse_existing_blueprint(
        &self,
        namespace: &Namespace,
        name: &ModuleName,
        version: &Version,
    ) -> Result<(), BlueprintError> {
        let Some(parent) =
            blueprint_queries::find_blueprint(&self.db, namespace.as_str(), name.as_str()).await?
        else {
            return Ok(());
        };
        let address = format!("{namespace}/{name}");
        match blueprint_queries::same_blueprint_version(&self.db, parent.id, &version.precedence())
            .await?
        {
            None => Ok(()),
            Some(existing) if existing == version.to_string() => {
                Err(BlueprintError::VersionExists {
                    address,
                    version: version.clone(),
                })
            }
            Some(existing) => Err(BlueprintError::SameVersion {
                address,
                version: version.clone(),
                existing,
            }),
        }
    }

    /// Checks a blueprint archive in the sandbox: every file, template, policy and context.
    async fn check_blueprint(&self, archive: &Bytes) -> Result<CheckedBlueprint, BlueprintError> {
        let job = Job::CheckBlueprint {
            limits: self.limits,
        };
        let (reply, _) = self
            .sandbox
            .run("checking the blueprint", job, archive, self.check_budget)
            .await?;
        match reply {
            Reply::Blueprint(Ok(checked)) => Ok(*checked),
            Reply::Blueprint(Err(Refusal::Archive(error))) => Err(error.into()),
            Reply::Blueprint(Err(Refusal::Blueprint(problems))) => {
                Err(BlueprintError::Invalid(problems))
            }
            other => Err(BlueprintError::Corrupt(
                "(upload)".into(),
                format!("unexpected answer {other:?}"),
            )),
        }
    }

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
        self.refuse_existing_blueprint(namespace, name, version)
            .await?;
        if archive.len() as u64 > self.max_archive_bytes {
            return Err(BlueprintError::TooLarge {
                limit: self.max_archive_bytes,
            });
        }
        let checked = self.check_blueprint(&archive).await?;
        let declared = format!("{}/{}", checked.namespace, checked.name);
        if declared != address {
            return Err(BlueprintError::AddressMismatch {
                declared,
                published: address,
            });
        }
        let bytes = archive.clone();
        let digest = tokio::task::spawn_blocking(move || Sha256::of(&bytes))
            .await
            .map_err(|error| BlueprintError::Corrupt(address.clone(), error.to_string()))?;
        let description = checked.manifest.metadata.description.clone();
        let stored = json!({ "manifest": checked.manifest, "readme": checked.readme });
        // Checked at publish for every document; this guards what is stored as a whole.
        if quarry_core::inputs::depth(&stored) > quarry_core::inputs::MAX_DEPTH + 2 {
            return Err(BlueprintError::Invalid(vec![Problem {
                file: quarry_core::blueprint::MANIFEST.into(),
                path: String::new(),
                message: format!(
                    "the manifest nests more than {} levels deep",
                    quarry_core::inputs::MAX_DEPTH
                ),
            }]));
        }
        self.storage.put_archive(&digest, archive.clone()).await?;
        let id = format!("{address}/{version}");
        let inserted = blueprint_queries::insert_blueprint_version(
            &self.db,
            NewBlueprintVersion {
                namespace: namespace.as_str(),
                name: name.as_str(),
                description: &description,
                version,
                archive_sha256: &digest.to_hex(),
                archive_size: archive.len() as i64,
                manifest: stored,
                published_by: &actor.name,
            },
            audit::event(
                actor,
                Action::BlueprintPublish,
                &id,
                json!({ "sha256": digest.to_hex(), "size": archive.len() }),
            ),
        )
        .await?;
        if !inserted {
            self.refuse_existing_blueprint(namespace, name, version)
                .await?;
            return Err(BlueprintError::VersionExists {
                address,
                version: version.clone(),
            });
        }
        tracing::info!(blueprint = %address, %version, sha256 = %digest, by = %actor.name, "published blueprint");
        Ok(super::publish::Published {
            id,
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
        blueprint_queries::yank_blueprint_version(&self.db, record.head.id).await?;
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
        Ok(found.map(|(version, head)| BlueprintRecord {
            blueprint: parent,
            head,
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

    /// What a version's detail shows of its manifest: the stored document
    /// (`{"manifest": …, "readme": …}`). A row that cannot be read back fails this version's
    /// detail only, never a listing.
    pub async fn blueprint_document(
        &self,
        record: &BlueprintRecord,
    ) -> Result<Value, BlueprintError> {
        match blueprint_queries::blueprint_manifest(&self.db, record.head.id).await {
            Ok(Some(document)) => Ok(document),
            Ok(None) => Err(BlueprintError::Corrupt(
                record.address(),
                "its row vanished".into(),
            )),
            Err(error) => {
                tracing::error!(%error, blueprint = %record.address(), version = %record.version, "a stored blueprint version cannot be read");
                Err(BlueprintError::Corrupt(
                    format!("{} {}", record.address(), record.version),
                    "its stored manifest cannot be read".into(),
                ))
            }
        }
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
    ) -> Result<Vec<u8>, BlueprintError> {
        let digest = Sha256::from_hex(&record.head.archive_sha256)
            .map_err(|error| BlueprintError::Corrupt(record.address(), error.to_string()))?;
        let document = self.blueprint_document(record).await?;
        let manifest: quarry_core::blueprint::Manifest =
            serde_json::from_value(document["manifest"].clone()).map_err(|error| {
                BlueprintError::Corrupt(record.address(), format!("its manifest: {error}"))
            })?;
        let resolutions = render::resolve_modules(&manifest, &RegistryResolver(self)).await;
        let job = || {
            Job::Render(RenderJob {
                digest: digest.to_hex(),
                limits: self.limits,
                version: record.version.clone(),
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
            let archive = self.storage.archive_bytes(&digest).await?.ok_or_else(|| {
                BlueprintError::Corrupt(record.address(), "its archive is missing".into())
            })?;
            answer = self
                .sandbox
                .run(what, job(), &archive, self.render_budget)
                .await?;
        }
        match answer {
            (Reply::Rendered, packed) => Ok(packed),
            (Reply::RenderFailed(failure), _) => Err(BlueprintError::Render(failure)),
            (Reply::Unreadable(message), _) => {
                Err(BlueprintError::Corrupt(record.address(), message))
            }
            (other, _) => Err(BlueprintError::Corrupt(
                record.address(),
                format!("unexpected answer {other:?}"),
            )),
        }
    }
}
