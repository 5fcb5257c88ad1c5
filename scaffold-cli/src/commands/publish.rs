//! `scaffold publish module|blueprint DIR`: packs the directory deterministically (honouring
//! `.scaffoldignore`), runs the registry's checks locally first, and uploads it.

use crate::client::Client;
use crate::error::{CliError, Result};
use quarry_core::address::ModuleAddress;
use quarry_core::archive;
use quarry_core::manifest::{MODULE_MANIFEST, ModuleManifest};
use quarry_core::version::Version;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum PublishCommand {
    /// Publish a module directory
    Module {
        dir: PathBuf,
        /// namespace/name/system [default: from the directory's module.yaml]
        #[arg(long)]
        address: Option<String>,
        /// Semantic version [default: from module.yaml]
        #[arg(long)]
        version: Option<String>,
    },
    /// Publish a blueprint directory (namespace and name come from its blueprint.yaml)
    Blueprint {
        dir: PathBuf,
        /// Semantic version [default: blueprint.yaml's metadata.version]
        #[arg(long)]
        version: Option<String>,
    },
}

fn parse_version(text: &str) -> Result<Version> {
    Version::parse(text).map_err(|error| CliError::invalid(error.to_string()))
}

pub async fn run(client: &Client, command: &PublishCommand) -> Result<()> {
    let (path, archive, what) = match command {
        PublishCommand::Module {
            dir,
            address,
            version,
        } => {
            let manifest = match std::fs::read_to_string(dir.join(MODULE_MANIFEST)) {
                Ok(text) => Some(
                    ModuleManifest::parse(&text, &dir.join(MODULE_MANIFEST).display().to_string())
                        .map_err(|error| CliError::invalid(error.to_string()))?,
                ),
                Err(_) => None,
            };
            let address: ModuleAddress = match (address, &manifest) {
                (Some(address), _) => {
                    address
                        .parse()
                        .map_err(|error: quarry_core::address::AddressError| {
                            CliError::invalid(error.to_string())
                        })?
                }
                (None, Some(manifest)) => manifest.address.clone(),
                (None, None) => {
                    return Err(CliError::invalid(
                        "pass --address namespace/name/system (or add a module.yaml)",
                    ));
                }
            };
            let version = match (version, &manifest) {
                (Some(version), _) => parse_version(version)?,
                (None, Some(manifest)) => manifest.version.clone(),
                (None, None) => {
                    return Err(CliError::invalid(
                        "pass --version X.Y.Z (or add a module.yaml)",
                    ));
                }
            };
            let packed = archive::pack_dir(dir)
                .map_err(|error| CliError::invalid(format!("{}: {error}", dir.display())))?;
            let inspected = archive::inspect_module(&packed, &archive::Limits::default())
                .map_err(|error| CliError::invalid(format!("{}: {error}", dir.display())))?;
            quarry_core::module::analyze(&inspected.files)
                .map_err(|error| CliError::invalid(error.to_string()))?;
            // module.yaml's description wins over the README's first paragraph, as at import.
            let description = manifest
                .as_ref()
                .map(|manifest| manifest.description.as_str())
                .filter(|description| !description.is_empty())
                .map(|description| format!("?description={}", crate::client::encode(description)))
                .unwrap_or_default();
            (
                format!("/v1/modules/{address}/{version}{description}"),
                packed,
                format!("module {address} {version}"),
            )
        }
        PublishCommand::Blueprint { dir, version } => {
            let checked = super::validate::checked_blueprint(dir)?;
            let version = match (version, &checked.manifest.metadata.version) {
                (Some(version), _) | (None, Some(version)) => parse_version(version)?,
                (None, None) => {
                    return Err(CliError::invalid(
                        "pass --version X.Y.Z (or set metadata.version)",
                    ));
                }
            };
            let packed = archive::pack_dir(dir)
                .map_err(|error| CliError::invalid(format!("{}: {error}", dir.display())))?;
            let address = format!("{}/{}", checked.namespace, checked.name);
            (
                format!("/v1/blueprints/{address}/{version}"),
                packed,
                format!("blueprint {address} {version}"),
            )
        }
    };
    let size = archive.len();
    let answer = client.publish(&path, archive).await?;
    eprintln!(
        "published {what} ({size} bytes, sha256 {})",
        answer.archive_sha256
    );
    Ok(())
}
