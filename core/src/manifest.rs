//! `module.yaml`: how a module directory declares the address and version it is published under
//! (read by `quarry serve --import` and `scaffold publish`). It is not part of the published archive.

use crate::address::{AddressError, ModuleAddress};
use crate::version::{Version, VersionError};
use serde::Deserialize;

/// The file name the importer looks for.
pub const MODULE_MANIFEST: &str = "module.yaml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModuleManifest {
    namespace: String,
    name: String,
    system: String,
    version: String,
    #[serde(default)]
    description: String,
}

/// A module's declared address, version and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleManifest {
    pub address: ModuleAddress,
    pub version: Version,
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: {source}")]
    Address { file: String, source: AddressError },
    #[error("{file}: {source}")]
    Version { file: String, source: VersionError },
}

impl ModuleManifest {
    /// Parses a `module.yaml`; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, ManifestError> {
        let raw: RawModuleManifest =
            yaml_serde::from_str(text).map_err(|error| ManifestError::Syntax {
                file: file.to_owned(),
                message: error.to_string(),
            })?;
        let address =
            ModuleAddress::new(&raw.namespace, &raw.name, &raw.system).map_err(|source| {
                ManifestError::Address {
                    file: file.to_owned(),
                    source,
                }
            })?;
        let version = Version::parse(&raw.version).map_err(|source| ManifestError::Version {
            file: file.to_owned(),
            source,
        })?;
        Ok(Self {
            address,
            version,
            description: raw.description.trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_manifest() {
        let manifest = ModuleManifest::parse(
            "namespace: platform\nname: network\nsystem: aws\nversion: 1.2.0\ndescription: VPC\n",
            "module.yaml",
        )
        .expect("valid");
        assert_eq!(manifest.address.to_string(), "platform/network/aws");
        assert_eq!(manifest.version.to_string(), "1.2.0");
        assert_eq!(manifest.description, "VPC");
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let cases = [
            (
                "namespace: p\nname: n\nsystem: aws\n",
                "missing field `version`",
            ),
            (
                "namespace: p\nname: n\nsystem: AWS\nversion: 1.0.0\n",
                "invalid system `AWS`",
            ),
            (
                "namespace: p\nname: n\nsystem: aws\nversion: v1\n",
                "invalid version `v1`",
            ),
            (
                "namespace: p\nname: n\nsystem: aws\nversion: 1.0.0\nextra: 1\n",
                "unknown field `extra`",
            ),
        ];
        for (text, expected) in cases {
            let error = ModuleManifest::parse(text, "x/module.yaml")
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("x/module.yaml: "), "{error}");
            assert!(
                error.contains(expected),
                "{error} should contain {expected}"
            );
        }
    }
}
