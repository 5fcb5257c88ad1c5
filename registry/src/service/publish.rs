//! Whether a publish is accepted: the version must be new, the archive safe and readable, its
//! Terraform parseable. The archive is stored under its digest before the version row is
//! written, so a listed version always has its archive.

use super::Registry;
use crate::db::queries::{self, Inserted, NewVersion};
use crate::sandbox::SandboxError;
use crate::sandbox::protocol::{Job, Refusal, Reply};
use crate::service::audit::{self, Action};
use crate::storage::StorageError;
use bytes::Bytes;
use quarry_core::address::ModuleAddress;
use quarry_core::archive::ArchiveError;
use quarry_core::digest::Sha256;
use quarry_core::module::{AnalysisError, ModuleAnalysis};
use quarry_core::version::Version;
use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "{address} {version} is already published; versions are immutable, publish a new version"
    )]
    VersionExists {
        address: ModuleAddress,
        version: Version,
    },
    #[error(
        "{address} {version} is the same version as the published {existing} to terraform, which ignores build metadata (`+…`); versions are immutable, publish a new version"
    )]
    SameVersion {
        address: ModuleAddress,
        version: Version,
        existing: String,
    },
    #[error("the archive is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(
        "the description is {length} characters, more than the limit of {MAX_DESCRIPTION_CHARS}"
    )]
    DescriptionTooLong { length: usize },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("{0}")]
    Analysis(#[from] AnalysisError),
    #[error("checking the module: {0}")]
    Sandbox(#[from] SandboxError),
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("publish task failed: {0}")]
    Task(String),
}

/// The longest description a module may be published with.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// A version to publish, its archive received whole.
pub struct PublishRequest {
    pub address: ModuleAddress,
    pub version: Version,
    pub archive: Bytes,
    /// Overrides the description taken from the README.
    pub description: Option<String>,
    pub actor: super::audit::Actor,
}

#[derive(Debug, serde::Serialize)]
pub struct Published {
    pub id: String,
    pub version: String,
    pub archive_sha256: String,
    pub archive_size: u64,
}

/// The first paragraph line of a README that is not a heading, badge or blank, shortened.
fn description_from_readme(readme: &str) -> String {
    let line = readme
        .lines()
        .map(str::trim)
        .find(|line| {
            !line.is_empty()
                && !line.starts_with('#')
                && !line.starts_with('[')
                && !line.starts_with('!')
                && !line.starts_with('<')
                && !line.starts_with('|')
                && !line.starts_with("```")
        })
        .unwrap_or("");
    if line.chars().count() > 200 {
        format!("{}…", line.chars().take(200).collect::<String>())
    } else {
        line.to_owned()
    }
}

impl Registry {
    /// The stored version terraform cannot tell from `version` (the same, or equal but for build
    /// metadata), if there is one.
    pub async fn same_version(
        &self,
        address: &ModuleAddress,
        version: &Version,
    ) -> Result<Option<String>, DbErr> {
        let Some(module) = queries::find_module(&self.db, address).await? else {
            return Ok(None);
        };
        queries::same_version(&self.db, module.id, &version.precedence()).await
    }

    /// Refuses a version that exists already: 409, saying when it differs only in build metadata.
    pub async fn refuse_existing(
        &self,
        address: &ModuleAddress,
        version: &Version,
    ) -> Result<(), PublishError> {
        match self.same_version(address, version).await? {
            None => Ok(()),
            Some(existing) if existing == version.to_string() => Err(PublishError::VersionExists {
                address: address.clone(),
                version: version.clone(),
            }),
            Some(existing) => Err(PublishError::SameVersion {
                address: address.clone(),
                version: version.clone(),
                existing,
            }),
        }
    }

    /// Checks a module archive in the sandbox: safe, readable, Terraform that parses.
    async fn analyse(&self, archive: &Bytes) -> Result<ModuleAnalysis, PublishError> {
        let job = Job::AnalyzeModule {
            limits: self.limits,
        };
        let (reply, _) = self
            .sandbox
            .run("checking the module", job, archive, self.check_budget)
            .await?;
        match reply {
            Reply::Module(Ok(analysis)) => Ok(*analysis),
            Reply::Module(Err(Refusal::Archive(error))) => Err(error.into()),
            Reply::Module(Err(Refusal::Analysis(error))) => Err(error.into()),
            other => Err(PublishError::Task(format!("unexpected answer {other:?}"))),
        }
    }

    pub async fn publish(&self, request: PublishRequest) -> Result<Published, PublishError> {
        self.refuse_existing(&request.address, &request.version)
            .await?;
        if request.archive.len() as u64 > self.max_archive_bytes {
            return Err(PublishError::TooLarge {
                limit: self.max_archive_bytes,
            });
        }
        if let Some(description) = &request.description {
            let length = description.chars().count();
            if length > MAX_DESCRIPTION_CHARS {
                return Err(PublishError::DescriptionTooLong { length });
            }
        }
        let analysis = self.analyse(&request.archive).await?;
        let bytes = request.archive.clone();
        let digest = tokio::task::spawn_blocking(move || Sha256::of(&bytes))
            .await
            .map_err(|error| PublishError::Task(error.to_string()))?;

        let description = request
            .description
            .clone()
            .unwrap_or_else(|| description_from_readme(&analysis.root.readme));
        let archive_size = request.archive.len() as u64;
        let analysis = serde_json::to_value(&analysis)
            .map_err(|error| PublishError::Task(error.to_string()))?;
        self.storage
            .put_archive(&digest, request.archive.clone())
            .await?;
        let id = format!("{}/{}", request.address, request.version);
        let inserted = queries::insert_version(
            &self.db,
            NewVersion {
                address: &request.address,
                description: &description,
                version: &request.version,
                archive_sha256: &digest.to_hex(),
                archive_size: archive_size as i64,
                analysis,
                published_by: &request.actor.name,
            },
            audit::event(
                &request.actor,
                Action::ModulePublish,
                &id,
                serde_json::json!({ "sha256": digest.to_hex(), "size": archive_size }),
            ),
        )
        .await?;
        match inserted {
            Inserted::Created => {
                self.module_changed(&request.address).await;
                tracing::info!(
                    module = %request.address,
                    version = %request.version,
                    sha256 = %digest,
                    by = %request.actor.name,
                    "published"
                );
                Ok(Published {
                    id,
                    version: request.version.to_string(),
                    archive_sha256: digest.to_hex(),
                    archive_size,
                })
            }
            Inserted::AlreadyExists => {
                self.refuse_existing(&request.address, &request.version)
                    .await?;
                Err(PublishError::VersionExists {
                    address: request.address.clone(),
                    version: request.version.clone(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_skips_headings_and_badges() {
        let readme = "# VPC\n\n[![ci](x)](y)\n\nA VPC with public and private subnets.\n\nMore.";
        assert_eq!(
            description_from_readme(readme),
            "A VPC with public and private subnets."
        );
        assert_eq!(description_from_readme(""), "");
    }
}
