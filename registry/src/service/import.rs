//! `quarry serve --import DIR`: publishes every module under DIR (a directory holding a
//! `module.yaml`) whose version is not published yet. Running it again changes nothing.

use super::Registry;
use super::publish::{PublishError, PublishRequest};
use quarry_core::archive;
use quarry_core::manifest::{MODULE_MANIFEST, ManifestError, ModuleManifest};
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
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("{path}: {message}")]
    Blueprint { path: PathBuf, message: String },
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub published: Vec<String>,
    pub already_published: Vec<String>,
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

impl Registry {
    pub async fn import_dir(&self, dir: &Path) -> Result<ImportReport, ImportError> {
        let mut manifests = Vec::new();
        find_manifests(dir, &mut manifests)?;
        let mut report = ImportReport::default();
        for manifest_path in manifests {
            if manifest_path.file_name()
                == Some(std::ffi::OsStr::new(quarry_core::blueprint::MANIFEST))
            {
                self.import_blueprint(&manifest_path, &mut report).await?;
                continue;
            }
            let text =
                std::fs::read_to_string(&manifest_path).map_err(|source| ImportError::Read {
                    path: manifest_path.clone(),
                    source,
                })?;
            let manifest = ModuleManifest::parse(&text, &manifest_path.display().to_string())?;
            let id = format!("{}/{}", manifest.address, manifest.version);
            if self
                .same_version(&manifest.address, &manifest.version)
                .await?
                .is_some()
            {
                report.already_published.push(id);
                continue;
            }
            let module_dir = manifest_path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_owned);
            let packed = archive::pack_dir(&module_dir).map_err(|source| ImportError::Pack {
                path: module_dir.clone(),
                source,
            })?;
            let request = PublishRequest {
                address: manifest.address,
                version: manifest.version,
                archive: packed.into(),
                description: Some(manifest.description).filter(|d| !d.is_empty()),
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
                        path: module_dir,
                        source: Box::new(source),
                    });
                }
            }
        }
        Ok(report)
    }
}

impl Registry {
    /// Publishes the blueprint whose `blueprint.yaml` is at `manifest_path`, at its
    /// `metadata.version`, unless that version is published already.
    async fn import_blueprint(
        &self,
        manifest_path: &Path,
        report: &mut ImportReport,
    ) -> Result<(), ImportError> {
        let dir = manifest_path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_owned);
        let failed = |message: String| ImportError::Blueprint {
            path: manifest_path.to_owned(),
            message,
        };
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
        let version = quarry_core::version::Version::parse(version)
            .map_err(|error| failed(format!("metadata.version: {error}")))?;
        let id = format!("{}/{}/{version}", blueprint.namespace, blueprint.name);
        if self
            .refuse_existing_blueprint(&blueprint.namespace, &blueprint.name, &version)
            .await
            .is_err()
        {
            report.already_published.push(id);
            return Ok(());
        }
        let packed = archive::pack_dir(&dir).map_err(|source| ImportError::Pack {
            path: dir.clone(),
            source,
        })?;
        match self
            .publish_blueprint(
                &blueprint.namespace,
                &blueprint.name,
                &version,
                packed.into(),
                &super::audit::Actor::importer(),
            )
            .await
        {
            Ok(_) => report.published.push(id),
            Err(
                super::blueprints::BlueprintError::VersionExists { .. }
                | super::blueprints::BlueprintError::SameVersion { .. },
            ) => {
                report.already_published.push(id);
            }
            Err(error) => return Err(failed(error.to_string())),
        }
        Ok(())
    }
}
