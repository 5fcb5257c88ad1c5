//! Whether a publish is accepted: the version must be new, the archive safe and readable, its
//! Terraform parseable. The archive is stored under its digest before the version row is
//! written, so a listed version always has its archive.

use super::Registry;
use crate::db::queries::{self, Inserted, NewVersion};
use crate::storage::StorageError;
use bytes::Bytes;
use quarry_core::address::ModuleAddress;
use quarry_core::archive::{self, ArchiveError};
use quarry_core::digest::Sha256;
use quarry_core::module::{self, AnalysisError, ModuleAnalysis};
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
    #[error("the archive is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("{0}")]
    Analysis(#[from] AnalysisError),
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("publish task failed: {0}")]
    Task(String),
}

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
    pub async fn version_exists(
        &self,
        address: &ModuleAddress,
        version: &Version,
    ) -> Result<bool, DbErr> {
        let Some(module) = queries::find_module(&self.db, address).await? else {
            return Ok(false);
        };
        Ok(
            queries::find_version(&self.db, module.id, &version.to_string())
                .await?
                .is_some(),
        )
    }

    pub async fn publish(&self, request: PublishRequest) -> Result<Published, PublishError> {
        let exists = || PublishError::VersionExists {
            address: request.address.clone(),
            version: request.version.clone(),
        };
        if self
            .version_exists(&request.address, &request.version)
            .await?
        {
            return Err(exists());
        }
        if request.archive.len() as u64 > self.max_archive_bytes {
            return Err(PublishError::TooLarge {
                limit: self.max_archive_bytes,
            });
        }
        let limits = self.limits;
        let bytes = request.archive.clone();
        let (digest, analysis) = tokio::task::spawn_blocking(
            move || -> Result<(Sha256, ModuleAnalysis), PublishError> {
                let inspected = archive::inspect_module(&bytes, &limits)?;
                let analysis = module::analyze(&inspected.files)?;
                Ok((Sha256::of(&bytes), analysis))
            },
        )
        .await
        .map_err(|error| PublishError::Task(error.to_string()))??;

        let description = request
            .description
            .clone()
            .unwrap_or_else(|| description_from_readme(&analysis.root.readme));
        let archive_size = request.archive.len() as u64;
        self.storage
            .put_archive(&digest, request.archive.clone())
            .await?;
        let analysis = serde_json::to_value(&analysis)
            .map_err(|error| PublishError::Task(error.to_string()))?;
        let inserted = queries::insert_version(
            &self.db,
            NewVersion {
                address: &request.address,
                description: &description,
                version: &request.version.to_string(),
                archive_sha256: &digest.to_hex(),
                archive_size: archive_size as i64,
                analysis,
                published_by: &request.actor.name,
            },
        )
        .await?;
        match inserted {
            Inserted::Created(_) => {
                self.module_changed(&request.address).await;
                tracing::info!(
                    module = %request.address,
                    version = %request.version,
                    sha256 = %digest,
                    by = %request.actor.name,
                    "published"
                );
                self.audit(
                    &request.actor,
                    super::audit::Action::ModulePublish,
                    &format!("{}/{}", request.address, request.version),
                    serde_json::json!({ "sha256": digest.to_hex(), "size": archive_size }),
                )
                .await;
                Ok(Published {
                    id: format!("{}/{}", request.address, request.version),
                    version: request.version.to_string(),
                    archive_sha256: digest.to_hex(),
                    archive_size,
                })
            }
            Inserted::AlreadyExists => Err(exists()),
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
