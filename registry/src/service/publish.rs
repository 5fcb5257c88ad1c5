//! Whether a publish is accepted, the same steps for every kind: the version must be new (also
//! to terraform, which ignores build metadata), the archive within its size and safe, and the
//! kind's checks must pass (a module's Terraform parses; a blueprint's manifest, templates,
//! policies and contexts are sound). Checks run in the sandbox under the check budget. The
//! archive is stored under its digest before the version row is written, and the row and its
//! audit event are written in one transaction, so a listed version always has its archive and
//! its audit trail.

use super::Registry;
use super::audit::{self, Action};
use crate::db::artifacts::{self as queries, Inserted, NewVersion};
use crate::sandbox::SandboxError;
use crate::sandbox::protocol::{Job, Refusal, Reply};
use crate::storage::StorageError;
use bytes::Bytes;
use quarry_core::address::ArtifactAddress;
use quarry_core::archive::ArchiveError;
use quarry_core::blueprint::Problem;
use quarry_core::digest::Sha256;
use quarry_core::module::{AnalysisError, ModuleAnalysis};
use quarry_core::version::Version;
use sea_orm::DbErr;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "{} {version} is already published; versions are immutable, publish a new version",
        .address.subject()
    )]
    VersionExists {
        address: ArtifactAddress,
        version: Version,
    },
    #[error(
        "{} {version} is the same version as the published {existing} to terraform, which ignores build metadata (`+…`); versions are immutable, publish a new version",
        .address.subject()
    )]
    SameVersion {
        address: ArtifactAddress,
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
    #[error("the blueprint has {}: {}", quarry_core::counted(.0.len(), "problem", "problems"), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    #[error("blueprint.yaml declares `{declared}` but is published as `{published}`")]
    AddressMismatch { declared: String, published: String },
    #[error(transparent)]
    Release(#[from] quarry_core::provider::ReleaseError),
    #[error(transparent)]
    Signature(#[from] super::provider_keys::SignatureProblem),
    #[error("signing: {0}")]
    Key(#[from] super::provider_keys::KeyError),
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] super::Internal),
    #[error("publish task failed: {0}")]
    Task(String),
}

/// The longest description an artifact may be published with.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// How deeply a stored document may nest at most, whatever its kind: below what the database's
/// JSON reader takes (128), above what each kind's own limits allow.
const MAX_STORED_DEPTH: usize = 100;

/// A version to publish, its archive received whole.
pub struct PublishRequest {
    pub address: ArtifactAddress,
    pub version: Version,
    pub archive: Bytes,
    /// Overrides the description a module's README gives (modules only; a blueprint's manifest
    /// describes it).
    pub description: Option<String>,
    pub actor: super::audit::Actor,
}

/// What a kind's checks made of an upload: the document stored with the version, the
/// artifact's description, and the files besides the upload the version serves (a provider's
/// zips, sums and signature), stored under their digests before the version is recorded.
pub(super) struct Checked {
    pub document: Value,
    pub description: String,
    pub files: Vec<Bytes>,
}

/// The first paragraph of a README that is not a heading, badge, HTML, table or code, on one
/// line, shortened to 200 characters.
pub fn description_from_readme(readme: &str) -> String {
    let prose = |line: &&str| {
        !line.starts_with('#')
            && !line.starts_with('[')
            && !line.starts_with('!')
            && !line.starts_with('<')
            && !line.starts_with('|')
            && !line.starts_with("```")
    };
    let mut lines = readme.lines().map(str::trim).peekable();
    let mut paragraph = Vec::new();
    while let Some(line) = lines.next() {
        if line.is_empty() || !prose(&line) {
            continue;
        }
        paragraph.push(line);
        while let Some(next) = lines.peek() {
            if next.is_empty() || !prose(next) {
                break;
            }
            paragraph.push(next);
            lines.next();
        }
        break;
    }
    let text = paragraph.join(" ");
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text
    }
}

impl Registry {
    /// The stored version terraform cannot tell from `version` (the same, or equal but for build
    /// metadata), if there is one.
    pub async fn same_version(
        &self,
        address: &ArtifactAddress,
        version: &Version,
    ) -> Result<Option<String>, super::Internal> {
        let Some(row) = queries::find(&self.db, super::artifacts::key(address)).await? else {
            return Ok(None);
        };
        Ok(queries::same_version(&self.db, row.id, &version.precedence()).await?)
    }

    /// Refuses a version that exists already: 409, saying when it differs only in build metadata.
    pub async fn refuse_existing(
        &self,
        address: &ArtifactAddress,
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

    /// Runs one check job in the sandbox under the check budget.
    pub(super) async fn check_job(
        &self,
        what: &'static str,
        job: Job,
        archive: &Bytes,
    ) -> Result<Reply, PublishError> {
        let (reply, _) = self
            .sandbox
            .run(what, job, archive, self.check_budget)
            .await?;
        Ok(reply)
    }

    /// A module's checks: a safe, readable archive whose Terraform parses.
    async fn check_module(
        &self,
        archive: &Bytes,
        description: Option<String>,
    ) -> Result<Checked, PublishError> {
        let job = Job::AnalyzeModule {
            limits: self.limits,
        };
        let analysis: ModuleAnalysis =
            match self.check_job("checking the module", job, archive).await? {
                Reply::Module(Ok(analysis)) => *analysis,
                Reply::Module(Err(Refusal::Archive(error))) => return Err(error.into()),
                Reply::Module(Err(Refusal::Analysis(error))) => return Err(error.into()),
                other => return Err(PublishError::Task(format!("unexpected answer {other:?}"))),
            };
        let description =
            description.unwrap_or_else(|| description_from_readme(&analysis.root.readme));
        let document = serde_json::to_value(&analysis)
            .map_err(|error| PublishError::Task(error.to_string()))?;
        Ok(Checked {
            document,
            description,
            files: Vec::new(),
        })
    }

    /// A blueprint's checks: every file, template, policy and context, and the address its
    /// manifest declares.
    async fn check_blueprint(
        &self,
        address: &ArtifactAddress,
        archive: &Bytes,
    ) -> Result<Checked, PublishError> {
        let job = Job::CheckBlueprint {
            limits: self.limits,
        };
        let checked = match self
            .check_job("checking the blueprint", job, archive)
            .await?
        {
            Reply::Blueprint(Ok(checked)) => *checked,
            Reply::Blueprint(Err(Refusal::Archive(error))) => return Err(error.into()),
            Reply::Blueprint(Err(Refusal::Blueprint(problems))) => {
                return Err(PublishError::Invalid(problems));
            }
            other => return Err(PublishError::Task(format!("unexpected answer {other:?}"))),
        };
        let declared = format!("{}/{}", checked.namespace, checked.name);
        if declared != address.to_string() {
            return Err(PublishError::AddressMismatch {
                declared,
                published: address.to_string(),
            });
        }
        Ok(Checked {
            description: checked.manifest.metadata.description.clone(),
            document: json!({ "manifest": checked.manifest, "readme": checked.readme }),
            files: Vec::new(),
        })
    }

    /// Publishes a version: see the module documentation for the steps. Counted in the
    /// metrics (refusals are counted where they are answered, in `http::artifacts`).
    pub async fn publish(&self, request: PublishRequest) -> Result<super::Published, PublishError> {
        let kind = request.address.kind().as_str();
        let published = self.publish_uncounted(request).await?;
        self.metrics
            .publishes
            .get_or_create(&crate::metrics::KindLabels { kind })
            .inc();
        Ok(published)
    }

    async fn publish_uncounted(
        &self,
        request: PublishRequest,
    ) -> Result<super::Published, PublishError> {
        let address = &request.address;
        self.refuse_existing(address, &request.version).await?;
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
        let checked = match address {
            ArtifactAddress::Module(_) => {
                self.check_module(&request.archive, request.description.clone())
                    .await?
            }
            ArtifactAddress::Blueprint(_) => {
                self.check_blueprint(address, &request.archive).await?
            }
            ArtifactAddress::Provider(provider) => {
                self.check_provider(provider, &request.version, &request.archive)
                    .await?
            }
        };
        if quarry_core::inputs::depth(&checked.document) > MAX_STORED_DEPTH {
            return Err(PublishError::Task(format!(
                "what the checks made of the upload nests more than {MAX_STORED_DEPTH} levels deep"
            )));
        }
        let bytes = request.archive.clone();
        let digest = tokio::task::spawn_blocking(move || Sha256::of(&bytes))
            .await
            .map_err(|error| PublishError::Task(error.to_string()))?;
        let archive_size = request.archive.len() as u64;
        for file in checked.files {
            let digest = tokio::task::spawn_blocking({
                let file = file.clone();
                move || Sha256::of(&file)
            })
            .await
            .map_err(|error| PublishError::Task(error.to_string()))?;
            self.storage.put_archive(&digest, file).await?;
        }
        self.storage
            .put_archive(&digest, request.archive.clone())
            .await?;
        let id = format!("{address}/{}", request.version);
        let inserted = queries::insert_version(
            &self.db,
            NewVersion {
                key: super::artifacts::key(address),
                description: &checked.description,
                version: &request.version.to_string(),
                precedence: &request.version.precedence(),
                archive_sha256: &digest.to_hex(),
                archive_size: archive_size as i64,
                document: checked.document,
                published_by: &request.actor.name,
            },
            audit::event(
                &request.actor,
                Action::new(address.kind(), "publish"),
                &id,
                json!({ "sha256": digest.to_hex(), "size": archive_size }),
            ),
        )
        .await?;
        if inserted == Inserted::AlreadyExists {
            self.refuse_existing(address, &request.version).await?;
            return Err(PublishError::VersionExists {
                address: address.clone(),
                version: request.version.clone(),
            });
        }
        self.artifact_changed(address).await;
        tracing::info!(
            artifact = %address,
            kind = address.kind().as_str(),
            version = %request.version,
            sha256 = %digest,
            by = %request.actor.name,
            "published"
        );
        Ok(super::Published {
            id,
            version: request.version.to_string(),
            archive: digest,
            archive_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_is_the_first_paragraph_of_prose() {
        let readme = "# VPC\n\n[![ci](x)](y)\n\nA VPC with public and private\nsubnets, wrapped at 30.\n\nMore.";
        assert_eq!(
            description_from_readme(readme),
            "A VPC with public and private subnets, wrapped at 30."
        );
        assert_eq!(description_from_readme(""), "");
        assert_eq!(description_from_readme("# Only a title\n"), "");
        let long = format!("{}\n", "word ".repeat(100));
        assert_eq!(description_from_readme(&long).chars().count(), 201);
    }
}
