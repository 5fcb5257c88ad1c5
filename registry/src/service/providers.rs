//! Providers, the third kind in the one pipeline: a version is published as a release (its
//! platform zips, and either the publisher's signed `SHA256SUMS` or none, in which case the
//! registry writes the sums and signs them with the namespace's key). The release `.tar.gz` is
//! the version's archive; the zips, sums and signature are stored under their own digests, and
//! the version's document says which is which, with the key that signed it (so a rotated key
//! keeps older versions verifiable).

use super::Registry;
use super::artifacts::VersionInfo;
use super::provider_keys::{self, PublicKey};
use super::publish::{Checked, PublishError};
use crate::sandbox::protocol::{Job, Refusal, Reply};
use bytes::Bytes;
use quarry_core::address::{ArtifactAddress, ProviderAddress};
use quarry_core::digest::Sha256;
use quarry_core::provider::{PlatformZip, ReleaseError};
use quarry_core::version::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A file a version serves besides its zips, by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub sha256: String,
    pub size: u64,
}

impl StoredFile {
    fn of(bytes: &[u8]) -> Self {
        Self {
            sha256: Sha256::of(bytes).to_hex(),
            size: bytes.len() as u64,
        }
    }

    pub fn digest(&self) -> Option<Sha256> {
        Sha256::from_hex(&self.sha256).ok()
    }
}

/// Who signed a version's sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signer {
    Publisher,
    Registry,
}

/// What is stored of a provider version: its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRelease {
    pub protocols: Vec<String>,
    pub platforms: Vec<PlatformZip>,
    /// The signed sums; always there for this registry's own providers, never for mirrored
    /// ones (a network mirror serves hashes, not signatures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<SignedSums>,
}

/// A version's `SHA256SUMS`, its signature, and the key that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedSums {
    pub sums: StoredFile,
    pub signature: StoredFile,
    pub key: PublicKey,
    pub signer: Signer,
}

impl ProviderRelease {
    /// Every digest the version serves: zips, sums, signature (for `quarry gc`).
    pub fn digests(&self) -> impl Iterator<Item = &str> {
        let signed = self.signed.iter().flat_map(|signed| {
            [
                signed.sums.sha256.as_str(),
                signed.signature.sha256.as_str(),
            ]
        });
        self.platforms
            .iter()
            .map(|platform| platform.shasum.as_str())
            .chain(signed)
    }

    pub fn platform(&self, os: &str, arch: &str) -> Option<&PlatformZip> {
        self.platforms
            .iter()
            .find(|platform| platform.os == os && platform.arch == arch)
    }
}

/// A visible provider version with its release.
pub struct ListedRelease {
    pub version: VersionInfo,
    pub release: Arc<ProviderRelease>,
}

/// One platform's download, as the `download` answer needs it.
pub struct PlatformDownload {
    pub version: Version,
    pub release: Arc<ProviderRelease>,
    pub platform: PlatformZip,
    pub version_id: i32,
}

impl Registry {
    /// A provider release's checks, in the sandbox under the check budget: the files, every
    /// zip opened and hashed; then the publisher's signature verified, or the sums written and
    /// signed with the namespace's key.
    pub(super) async fn check_provider(
        &self,
        address: &ProviderAddress,
        version: &Version,
        archive: &Bytes,
    ) -> Result<Checked, PublishError> {
        let mirrored = address.host.is_some();
        let job = Job::CheckRelease {
            limits: self.limits,
            name: address.name.to_string(),
            version: version.to_string(),
            mirrored,
        };
        let checked = match self
            .check_job("checking the provider release", job, archive)
            .await?
        {
            Reply::Release(Ok(checked)) => *checked,
            Reply::Release(Err(Refusal::Archive(error))) => {
                return Err(ReleaseError::Archive(error).into());
            }
            Reply::Release(Err(Refusal::Release(error))) => return Err(error.into()),
            other => return Err(PublishError::Task(format!("unexpected answer {other:?}"))),
        };
        // The sandbox found the release sound; its files are read here to be stored.
        let limits = self.limits;
        let bytes = archive.clone();
        let mut files =
            tokio::task::spawn_blocking(move || quarry_core::archive::read_files(&bytes, &limits))
                .await
                .map_err(|error| PublishError::Task(error.to_string()))?
                .map_err(ReleaseError::Archive)?;
        let mut take = |name: &str| files.remove(name).map(Bytes::from).ok_or(name.to_owned());
        let vanished =
            |name: String| PublishError::Task(format!("`{name}` vanished after its check"));
        let mut stored = Vec::new();
        for platform in &checked.platforms {
            stored.push(take(&platform.filename).map_err(vanished)?);
        }
        if mirrored {
            let release = ProviderRelease {
                protocols: checked.protocols,
                platforms: checked.platforms,
                signed: None,
            };
            return Ok(Checked {
                document: serde_json::to_value(&release)
                    .map_err(|error| PublishError::Task(error.to_string()))?,
                description: String::new(),
                files: stored,
            });
        }
        let (sums, signature, key, signer) = match &checked.signed {
            Some(signed) => {
                let sums = take(&signed.sums_file).map_err(vanished)?;
                let signature = take(&signed.signature_file).map_err(vanished)?;
                let key = provider_keys::verify_publisher(
                    quarry_core::provider::PUBLIC_KEY_FILE,
                    &signed.public_key,
                    &signed.signature_file,
                    &signature,
                    &signed.sums_file,
                    &sums,
                )?;
                (sums, signature, key, Signer::Publisher)
            }
            None => {
                let listed: BTreeMap<String, String> = checked
                    .platforms
                    .iter()
                    .map(|platform| (platform.filename.clone(), platform.shasum.clone()))
                    .collect();
                let sums = Bytes::from(quarry_core::provider::sums_text(&listed));
                let (secret, key) = self.current_signing_key(address.namespace.as_str()).await?;
                let signed_bytes = sums.clone();
                let signature = tokio::task::spawn_blocking(move || {
                    provider_keys::sign(&secret, &signed_bytes)
                })
                .await
                .map_err(|error| PublishError::Task(error.to_string()))??;
                (sums, Bytes::from(signature), key, Signer::Registry)
            }
        };
        let release = ProviderRelease {
            protocols: checked.protocols,
            platforms: checked.platforms,
            signed: Some(SignedSums {
                sums: StoredFile::of(&sums),
                signature: StoredFile::of(&signature),
                key,
                signer,
            }),
        };
        stored.push(sums);
        stored.push(signature);
        let document = serde_json::to_value(&release)
            .map_err(|error| PublishError::Task(error.to_string()))?;
        Ok(Checked {
            document,
            description: String::new(),
            files: stored,
        })
    }

    /// A provider version's release, kept once read (it never changes).
    pub async fn provider_release(
        &self,
        version_id: i32,
    ) -> Result<Arc<ProviderRelease>, super::Internal> {
        if let Some(release) = self.cached("provider_releases", self.caches.release(version_id)) {
            return Ok(release);
        }
        let text = crate::db::artifacts::document_texts(&self.db, &[version_id])
            .await?
            .into_iter()
            .next()
            .map(|(_, text)| text)
            .ok_or_else(|| super::Internal::Corrupt(format!("version {version_id} vanished")))?;
        let release: ProviderRelease = serde_json::from_str(&text).map_err(|error| {
            super::Internal::Corrupt(format!("provider version {version_id}: {error}"))
        })?;
        let release = Arc::new(release);
        self.caches
            .store_release(version_id, release.clone(), text.len());
        Ok(release)
    }

    /// Every provider this registry holds (its own, not those a mirror caches), in the
    /// database's order.
    pub async fn provider_addresses(&self) -> Result<Vec<ProviderAddress>, super::Internal> {
        use futures_util::TryStreamExt;
        let kind = quarry_core::address::Kind::Provider.as_str();
        let addresses = crate::db::artifacts::all_of_kind(&self.db, kind)
            .await?
            // A provider with a host is one a mirror caches.
            .try_filter_map(|row| async move {
                if row.system.is_empty() {
                    Ok(ProviderAddress::new(&row.namespace, &row.name).ok())
                } else {
                    Ok(None)
                }
            })
            .try_collect()
            .await?;
        Ok(addresses)
    }

    /// A provider's visible versions with their releases, oldest first; `None` if unknown.
    pub async fn provider_versions(
        &self,
        address: &ProviderAddress,
    ) -> Result<Option<Vec<ListedRelease>>, super::Internal> {
        let key = ArtifactAddress::Provider(address.clone());
        let Some(history) = self.recent_history(&key).await? else {
            return Ok(None);
        };
        let mut listed = Vec::new();
        for version in history.visible() {
            listed.push(ListedRelease {
                version: version.clone(),
                release: self.provider_release(version.id).await?,
            });
        }
        Ok(Some(listed))
    }

    /// What terraform downloads for `version` on `os`/`arch`; yanked versions too (a lock file
    /// may pin one). `None` for an unknown provider, version or platform.
    pub async fn provider_download(
        &self,
        address: &ProviderAddress,
        version: &Version,
        os: &str,
        arch: &str,
    ) -> Result<Option<PlatformDownload>, super::Internal> {
        let key = ArtifactAddress::Provider(address.clone());
        let Some(history) = self.recent_history(&key).await? else {
            return Ok(None);
        };
        let found = match history.find(version) {
            Some(found) => found.clone(),
            // Published since the history was kept: read it again.
            None => match self
                .history(&key)
                .await?
                .and_then(|h| h.find(version).cloned())
            {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        let release = self.provider_release(found.id).await?;
        let Some(platform) = release.platform(os, arch).cloned() else {
            return Ok(None);
        };
        Ok(Some(PlatformDownload {
            version: found.version.clone(),
            release,
            platform,
            version_id: found.id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_lists_every_digest_it_serves() {
        let release = ProviderRelease {
            protocols: vec!["5.0".into()],
            platforms: vec![PlatformZip {
                os: "linux".into(),
                arch: "amd64".into(),
                filename: "z.zip".into(),
                shasum: "a".repeat(64),
                size: 1,
                h1: "h1:x".into(),
                executable: "terraform-provider-x".into(),
            }],
            signed: Some(SignedSums {
                sums: StoredFile::of(b"sums"),
                signature: StoredFile::of(b"sig"),
                key: PublicKey {
                    key_id: "0123456789ABCDEF".into(),
                    ascii_armor: String::new(),
                },
                signer: Signer::Registry,
            }),
        };
        let digests: Vec<&str> = release.digests().collect();
        assert_eq!(digests.len(), 3);
        assert_eq!(digests[0], "a".repeat(64));
        assert!(release.platform("linux", "amd64").is_some());
        assert!(release.platform("darwin", "arm64").is_none());
    }
}
