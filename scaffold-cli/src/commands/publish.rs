//! `scaffold publish module|blueprint DIR`: packs the directory deterministically (honouring
//! `.scaffoldignore`), runs the registry's checks locally first, and uploads it.
//! `scaffold publish provider DIR`: picks a provider release's files out of a directory laid out
//! as GoReleaser leaves one (the platform zips, and optionally `SHA256SUMS` and its `.sig`),
//! checks them as the registry will, and uploads them; unsigned, the registry signs.

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
    /// Publish a provider release directory (its platform zips, optionally signed sums)
    Provider {
        dir: PathBuf,
        /// namespace/type
        #[arg(long)]
        address: String,
        /// Semantic version (as in the zips' names, without `v`)
        #[arg(long)]
        version: String,
        /// The ASCII-armored public key that verifies `…_SHA256SUMS.sig` (when the release is
        /// signed; without a signature the registry signs it)
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

/// The files of provider `name` `version`'s release in `dir`, as the registry takes them;
/// anything else in the directory (GoReleaser's metadata, other versions) is left out.
fn provider_release(
    dir: &std::path::Path,
    name: &str,
    version: &str,
    key: Option<&std::path::Path>,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>> {
    let prefix = format!("terraform-provider-{name}_{version}_");
    let sums = quarry_core::provider::sums_name(name, version);
    let unreadable = |path: &std::path::Path, error: std::io::Error| {
        CliError::invalid(format!("{}: {error}", path.display()))
    };
    let mut files = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|error| unreadable(dir, error))? {
        let entry = entry.map_err(|error| unreadable(dir, error))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let wanted = (file.starts_with(&prefix) && file.ends_with(".zip"))
            || file == sums
            || file == format!("{sums}.sig")
            || file == format!("{prefix}manifest.json");
        if wanted && entry.path().is_file() {
            let bytes =
                std::fs::read(entry.path()).map_err(|error| unreadable(&entry.path(), error))?;
            files.insert(file, bytes);
        }
    }
    let signed = files.contains_key(&format!("{sums}.sig"));
    match (signed, key) {
        (true, Some(key)) => {
            let bytes = std::fs::read(key).map_err(|error| unreadable(key, error))?;
            files.insert(quarry_core::provider::PUBLIC_KEY_FILE.into(), bytes);
        }
        (true, None) => {
            return Err(CliError::invalid(format!(
                "{} holds `{sums}.sig`: pass --key FILE, the public key that verifies it",
                dir.display()
            )));
        }
        (false, Some(_)) => {
            return Err(CliError::invalid(format!(
                "--key was given but {} holds no `{sums}.sig` to verify",
                dir.display()
            )));
        }
        (false, None) => {
            // Unsigned: the registry writes the sums and signs them; a stray sums file would
            // be refused as unsigned.
            files.remove(&sums);
        }
    }
    Ok(files)
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
        PublishCommand::Provider {
            dir,
            address,
            version,
            key,
        } => {
            let address: quarry_core::address::ProviderAddress =
                address
                    .parse()
                    .map_err(|error: quarry_core::address::AddressError| {
                        CliError::invalid(error.to_string())
                    })?;
            let version = parse_version(version)?;
            let name = address.name.to_string();
            let files = provider_release(dir, &name, &version.to_string(), key.as_deref())?;
            quarry_core::provider::check_release(
                &files,
                &name,
                &version.to_string(),
                &archive::Limits::default(),
            )
            .map_err(|error| CliError::invalid(format!("{}: {error}", dir.display())))?;
            let packed = archive::pack_files(&files)
                .map_err(|error| CliError::invalid(format!("{}: {error}", dir.display())))?;
            (
                format!("/v1/providers/{address}/{version}"),
                packed,
                format!("provider {address} {version}"),
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
