//! `quarry mirror import DIR`: the providers of a `terraform providers mirror` directory
//! (`HOST/NAMESPACE/TYPE/` holding `index.json`, `VERSION.json` and the zips), each version
//! published through the one pipeline as a provider of HOST: every zip checked and its hashes
//! verified against `VERSION.json`. Versions already imported are left alone, so running it
//! again changes nothing.

use super::Registry;
use super::audit::Actor;
use super::publish::{PublishError, PublishRequest};
use quarry_core::address::{ArtifactAddress, ProviderAddress};
use quarry_core::version::Version;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MirrorImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Publish {
        path: PathBuf,
        source: Box<PublishError>,
    },
}

#[derive(Debug, Default)]
pub struct MirrorImportReport {
    pub imported: Vec<String>,
    pub already_imported: Vec<String>,
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, MirrorImportError> {
    let read = |source| MirrorImportError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()
        .map_err(read)?;
    paths.sort();
    Ok(paths)
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `VERSION.json` files of a provider directory, with the versions they name.
fn versions_in(dir: &Path) -> Result<Vec<(Version, PathBuf)>, MirrorImportError> {
    let mut found = Vec::new();
    for path in entries(dir)? {
        let name = name_of(&path);
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        if stem == "index" {
            continue;
        }
        let version = Version::parse(stem).map_err(|error| MirrorImportError::Invalid {
            path: path.clone(),
            message: error.to_string(),
        })?;
        found.push((version, path));
    }
    Ok(found)
}

/// The zips a `VERSION.json` names (bare file names beside it), and the file itself.
fn version_files(listing: &Path) -> Result<BTreeMap<String, Vec<u8>>, MirrorImportError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| MirrorImportError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let invalid = |message: String| MirrorImportError::Invalid {
        path: listing.to_owned(),
        message,
    };
    let text = read(listing)?;
    let parsed: serde_json::Value =
        serde_json::from_slice(&text).map_err(|error| invalid(error.to_string()))?;
    let archives = parsed["archives"]
        .as_object()
        .ok_or_else(|| invalid("expected {\"archives\": {…}}".into()))?;
    let dir = listing.parent().unwrap_or(Path::new("."));
    let mut files = BTreeMap::new();
    for (platform, archive) in archives {
        let url = archive["url"]
            .as_str()
            .ok_or_else(|| invalid(format!("`{platform}` has no url")))?;
        if url.contains('/') || url.contains('\\') || url.starts_with('.') {
            return Err(invalid(format!(
                "`{platform}` points at `{url}`; only zips beside it (a bare file name) can be imported"
            )));
        }
        files.insert(url.to_owned(), read(&dir.join(url))?);
    }
    files.insert(quarry_core::provider::MIRROR_FILE.into(), text);
    Ok(files)
}

impl Registry {
    /// Imports every provider version under `dir` (see the module documentation).
    pub async fn import_mirror(&self, dir: &Path) -> Result<MirrorImportReport, MirrorImportError> {
        let mut report = MirrorImportReport::default();
        for host in entries(dir)?.into_iter().filter(|path| path.is_dir()) {
            for namespace in entries(&host)?.into_iter().filter(|path| path.is_dir()) {
                for provider in entries(&namespace)?
                    .into_iter()
                    .filter(|path| path.is_dir())
                {
                    let address = ProviderAddress::on_host(
                        Some(&name_of(&host)),
                        &name_of(&namespace),
                        &name_of(&provider),
                    )
                    .map_err(|error| MirrorImportError::Invalid {
                        path: provider.clone(),
                        message: error.to_string(),
                    })?;
                    for (version, listing) in versions_in(&provider)? {
                        self.import_mirrored(&address, version, &listing, &mut report)
                            .await?;
                    }
                }
            }
        }
        Ok(report)
    }

    async fn import_mirrored(
        &self,
        address: &ProviderAddress,
        version: Version,
        listing: &Path,
        report: &mut MirrorImportReport,
    ) -> Result<(), MirrorImportError> {
        let id = format!("{address} {version}");
        let key = ArtifactAddress::Provider(address.clone());
        let publish_error = |source: PublishError| MirrorImportError::Publish {
            path: listing.to_owned(),
            source: Box::new(source),
        };
        if let Err(error) = self.refuse_existing(&key, &version).await {
            return match error {
                PublishError::VersionExists { .. } | PublishError::SameVersion { .. } => {
                    report.already_imported.push(id);
                    Ok(())
                }
                other => Err(publish_error(other)),
            };
        }
        let files = version_files(listing)?;
        let archive =
            quarry_core::archive::pack_files(&files).map_err(|source| MirrorImportError::Read {
                path: listing.to_owned(),
                source,
            })?;
        self.publish(PublishRequest {
            address: key,
            version,
            archive: archive.into(),
            description: None,
            actor: Actor::importer(),
        })
        .await
        .map_err(publish_error)?;
        report.imported.push(id);
        Ok(())
    }
}
