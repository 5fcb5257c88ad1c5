//! `quarry serve --import DIR`: publishes every module (a directory holding a `module.yaml`) and
//! blueprint (one holding a `blueprint.yaml`) under DIR whose version is not published yet.
//! Running it again changes nothing.

use super::Registry;
use super::publish::{PublishError, PublishRequest};
use quarry_core::address::{ArtifactAddress, BlueprintAddress};
use quarry_core::archive;
use quarry_core::digest::Sha256;
use quarry_core::manifest::{MODULE_MANIFEST, ManifestError, ModuleManifest};
use quarry_core::version::Version;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("cannot pack {path}: {source}")]
    Pack {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Publish {
        path: PathBuf,
        source: Box<PublishError>,
    },
    #[error(transparent)]
    Internal(#[from] super::Internal),
    #[error("{path}: {message}")]
    Blueprint { path: PathBuf, message: String },
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub published: Vec<String>,
    pub already_published: Vec<String>,
    /// Published already, but the directory's files differ from what was published.
    pub changed_but_not_published: Vec<String>,
}

/// Directories never searched for modules.
fn is_skipped_dir(name: &str) -> bool {
    matches!(name, ".git" | ".terraform" | "node_modules" | "target")
}

fn find_manifests(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), ImportError> {
    let read_error = |source| ImportError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_error)?
        .collect::<Result<_, _>>()
        .map_err(read_error)?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let file_type = entry.file_type().map_err(read_error)?;
        let name = entry.file_name();
        if file_type.is_dir() && !is_skipped_dir(&name.to_string_lossy()) {
            find_manifests(&path, found)?;
        } else if file_type.is_file()
            && (name == MODULE_MANIFEST || name == quarry_core::blueprint::MANIFEST)
        {
            found.push(path);
        }
    }
    Ok(())
}

/// One thing found to import: its address, version, directory and (for a module) description.
struct Found {
    address: ArtifactAddress,
    version: Version,
    dir: PathBuf,
    description: Option<String>,
}

/// Reads what a `module.yaml` or `blueprint.yaml` declares.
fn read_manifest(manifest_path: &Path) -> Result<Found, ImportError> {
    let dir = manifest_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let failed = |message: String| ImportError::Blueprint {
        path: manifest_path.to_owned(),
        message,
    };
    if manifest_path.file_name() == Some(std::ffi::OsStr::new(MODULE_MANIFEST)) {
        let text = std::fs::read_to_string(manifest_path).map_err(|source| ImportError::Read {
            path: manifest_path.to_owned(),
            source,
        })?;
        let manifest = ModuleManifest::parse(&text, &manifest_path.display().to_string())?;
        return Ok(Found {
            address: ArtifactAddress::Module(manifest.address),
            version: manifest.version,
            dir,
            description: Some(manifest.description).filter(|d| !d.is_empty()),
        });
    }
    let files = quarry_core::blueprint::load_dir(&dir).map_err(|source| ImportError::Read {
        path: dir.clone(),
        source,
    })?;
    // Only the manifest is read here; the publish checks the whole blueprint.
    let blueprint =
        quarry_core::blueprint::load(files).map_err(|problem| failed(problem.to_string()))?;
    let Some(version) = blueprint.manifest.metadata.version.as_deref() else {
        return Err(failed(
            "metadata.version is needed to import a blueprint".into(),
        ));
    };
    let version =
        Version::parse(version).map_err(|error| failed(format!("metadata.version: {error}")))?;
    Ok(Found {
        address: ArtifactAddress::Blueprint(BlueprintAddress {
            namespace: blueprint.namespace,
            name: blueprint.name,
        }),
        version,
        dir,
        description: None,
    })
}

impl Registry {
    /// Publishes every module and blueprint under `dir` whose version is not published yet. One
    /// whose version is published but whose files differ from what was published is reported and
    /// warned about (versions are immutable: its version must change for it to be published).
    /// Whether the stored archive `digest` holds what `packed` holds: the same files packed by
    /// another compressor (a newer zlib) differ in bytes, not in content.
    async fn same_content(&self, digest: &Sha256, packed: &[u8]) -> Result<bool, super::Internal> {
        let Some(stored) = self.storage.archive_bytes(digest).await? else {
            return Ok(false);
        };
        let limit = self.limits.max_unpacked_bytes;
        let stored = archive::content_digest(&stored, limit);
        Ok(stored.is_some() && stored == archive::content_digest(packed, limit))
    }

    pub async fn import_dir(&self, dir: &Path) -> Result<ImportReport, ImportError> {
        let mut manifests = Vec::new();
        find_manifests(dir, &mut manifests)?;
        let mut report = ImportReport::default();
        for manifest_path in manifests {
            let found = read_manifest(&manifest_path)?;
            let id = format!("{}/{}", found.address, found.version);
            let packed = archive::pack_dir(&found.dir).map_err(|source| ImportError::Pack {
                path: found.dir.clone(),
                source,
            })?;
            if self
                .same_version(&found.address, &found.version)
                .await?
                .is_some()
            {
                let stored = self
                    .resolve_download(&found.address, &found.version)
                    .await?;
                let changed = match stored {
                    Some(stored) if stored.archive != Sha256::of(&packed) => {
                        !self.same_content(&stored.archive, &packed).await?
                    }
                    _ => false,
                };
                if changed {
                    tracing::warn!(
                        artifact = %found.address,
                        version = %found.version,
                        dir = %found.dir.display(),
                        "the files changed but the version did not: the published version is kept (versions are immutable); change the version to publish them"
                    );
                    report.changed_but_not_published.push(id.clone());
                }
                report.already_published.push(id);
                continue;
            }
            let request = PublishRequest {
                address: found.address,
                version: found.version,
                archive: packed.into(),
                description: found.description,
                actor: super::audit::Actor::importer(),
            };
            match self.publish(request).await {
                Ok(_) => report.published.push(id),
                // Another replica imported it at the same moment.
                Err(PublishError::VersionExists { .. } | PublishError::SameVersion { .. }) => {
                    report.already_published.push(id);
                }
                Err(source) => {
                    return Err(ImportError::Publish {
                        path: found.dir,
                        source: Box::new(source),
                    });
                }
            }
        }
        Ok(report)
    }
}
