//! Pull-through for the network mirror (`--mirror-upstream [HOST=]URL`): a provider version of
//! HOST the mirror does not hold is fetched from the upstream registry once, for the configured
//! platforms — its zips, `SHA256SUMS` and signature, the signature verified with the keys the
//! upstream names, every zip's sha256 checked against its line — then published through the one
//! pipeline as a mirrored provider and served from storage from then on.
//!
//! Pulls are one at a time per process, and each first looks again at what is stored, so a
//! burst of `terraform init`s for a new version fetches it once.

use super::Registry;
use super::publish::{PublishError, PublishRequest};
use bytes::Bytes;
use quarry_core::address::{ArtifactAddress, ProviderAddress};
use quarry_core::api;
use quarry_core::version::Version;
use std::collections::BTreeMap;

/// The largest JSON answer read from an upstream (a big provider's `versions` is a few MiB).
const MAX_JSON_BYTES: u64 = 16 << 20;
/// The largest `SHA256SUMS` or signature read from an upstream.
const MAX_SUMS_BYTES: u64 = 1 << 20;

/// Where providers of one host are pulled from.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The providers' origin host as terraform names it (`registry.terraform.io`).
    pub host: String,
    /// The upstream registry's base URL (discovery is read from it).
    pub url: String,
    pub token: Option<String>,
    /// `os_arch` pairs to fetch.
    pub platforms: Vec<String>,
    pub client: reqwest::Client,
    /// One pull at a time, in this process.
    pub pulls: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Upstream {
    /// Reads `--mirror-upstream [HOST=]URL`: without `HOST=`, the URL's own host.
    pub fn parse(
        value: &str,
        token: Option<String>,
        platforms: Vec<String>,
    ) -> Result<Self, String> {
        let (host, url) = match value.split_once('=') {
            Some((host, url)) => (host.to_ascii_lowercase(), url.to_owned()),
            None => {
                let authority = value
                    .split_once("://")
                    .map(|(_, rest)| rest)
                    .and_then(|rest| rest.split('/').next())
                    .filter(|authority| !authority.is_empty())
                    .ok_or_else(|| {
                        format!("--mirror-upstream `{value}`: expected [HOST=]http(s)://…")
                    })?;
                (authority.to_ascii_lowercase(), value.to_owned())
            }
        };
        let parsed = reqwest::Url::parse(&url)
            .map_err(|error| format!("--mirror-upstream `{url}`: {error}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "--mirror-upstream `{url}`: expected an http(s) URL"
            ));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|error| format!("--mirror-upstream: {error}"))?;
        Ok(Self {
            host,
            url: url.trim_end_matches('/').to_owned(),
            token,
            platforms,
            client,
            pulls: std::sync::Arc::default(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("the upstream {url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("the upstream {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the upstream's answer at {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("the upstream's answer at {url} is not what the protocol says: {reason}")]
    Malformed { url: String, reason: String },
    #[error("the upstream's {what} for {file} does not verify: {reason}")]
    Unverified {
        what: &'static str,
        file: String,
        reason: String,
    },
    #[error("storing the pulled version: {0}")]
    Publish(#[from] Box<PublishError>),
}

/// A version as the upstream lists it.
pub struct UpstreamVersion {
    pub version: String,
    pub platforms: Vec<(String, String)>,
}

impl Upstream {
    async fn get(&self, url: &str, limit: u64) -> Result<Bytes, PullError> {
        let mut request = self.client.get(url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let unreachable = |error: reqwest::Error| PullError::Unreachable {
            url: url.to_owned(),
            reason: error.to_string(),
        };
        let mut response = request.send().await.map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(PullError::Status {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        let too_large = || PullError::TooLarge {
            url: url.to_owned(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, PullError> {
        let body = self.get(url, MAX_JSON_BYTES).await?;
        serde_json::from_slice(&body).map_err(|error| PullError::Malformed {
            url: url.to_owned(),
            reason: error.to_string(),
        })
    }

    /// `relative` resolved against `base`, as terraform resolves the URLs it is handed.
    fn resolve(base: &str, relative: &str) -> Result<String, PullError> {
        reqwest::Url::parse(base)
            .and_then(|base| base.join(relative))
            .map(String::from)
            .map_err(|error| PullError::Malformed {
                url: base.to_owned(),
                reason: format!("`{relative}`: {error}"),
            })
    }

    /// The upstream's `providers.v1` base URL, from its discovery document.
    async fn providers_base(&self) -> Result<String, PullError> {
        let discovery_url = format!("{}/.well-known/terraform.json", self.url);
        let discovery: serde_json::Value = self.get_json(&discovery_url).await?;
        let base = discovery["providers.v1"]
            .as_str()
            .ok_or_else(|| PullError::Malformed {
                url: discovery_url.clone(),
                reason: "no providers.v1 service".into(),
            })?;
        let mut base = Self::resolve(&discovery_url, base)?;
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(base)
    }

    /// The upstream's versions of `namespace/name`; `None` when it has no such provider.
    pub async fn versions(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Vec<UpstreamVersion>>, PullError> {
        let url = format!(
            "{}{namespace}/{name}/versions",
            self.providers_base().await?
        );
        let listed: api::ProviderVersions = match self.get_json(&url).await {
            Ok(listed) => listed,
            Err(PullError::Status { status: 404, .. }) => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(Some(
            listed
                .versions
                .into_iter()
                .map(|version| UpstreamVersion {
                    version: version.version,
                    platforms: version
                        .platforms
                        .into_iter()
                        .map(|platform| (platform.os, platform.arch))
                        .filter(|(os, arch)| self.platforms.contains(&format!("{os}_{arch}")))
                        .collect(),
                })
                .filter(|version| !version.platforms.is_empty())
                .collect(),
        ))
    }
}

/// Verifies `signature` over `sums` with one of the keys the upstream named.
fn verify_sums(
    keys: &[api::GpgPublicKey],
    signature: &[u8],
    sums: &[u8],
    file: &str,
) -> Result<(), PullError> {
    let mut last = "the upstream names no signing key".to_owned();
    for key in keys {
        match super::provider_keys::verify_publisher(
            "the upstream's key",
            &key.ascii_armor,
            "the upstream's signature",
            signature,
            "SHA256SUMS",
            sums,
        ) {
            Ok(_) => return Ok(()),
            Err(problem) => last = problem.to_string(),
        }
    }
    Err(PullError::Unverified {
        what: "signature",
        file: file.to_owned(),
        reason: last,
    })
}

impl Registry {
    /// Fetches `version` of `namespace/name` from the upstream of `host` and stores it, unless
    /// it is stored already (or the upstream has no such version): whether it is stored now.
    pub async fn pull_through(
        &self,
        upstream: &Upstream,
        namespace: &str,
        name: &str,
        version: &Version,
    ) -> Result<bool, PullError> {
        let _one_at_a_time = upstream.pulls.lock().await;
        let address =
            ProviderAddress::on_host(Some(&upstream.host), namespace, name).map_err(|error| {
                PullError::Malformed {
                    url: upstream.url.clone(),
                    reason: error.to_string(),
                }
            })?;
        let key = ArtifactAddress::Provider(address.clone());
        if self
            .history(&key)
            .await
            .map_err(|error| PullError::Publish(Box::new(error.into())))?
            .is_some_and(|history| history.find(version).is_some())
        {
            return Ok(true);
        }
        let Some(listed) = upstream.versions(namespace, name).await? else {
            return Ok(false);
        };
        let Some(wanted) = listed
            .into_iter()
            .find(|listed| Version::parse(&listed.version).ok().as_ref() == Some(version))
        else {
            return Ok(false);
        };
        let base = upstream.providers_base().await?;
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut archives = serde_json::Map::new();
        let mut sums: Option<BTreeMap<String, String>> = None;
        for (os, arch) in &wanted.platforms {
            let url = format!(
                "{base}{namespace}/{name}/{}/download/{os}/{arch}",
                wanted.version
            );
            let download: api::ProviderDownload = upstream.get_json(&url).await?;
            let expected = quarry_core::provider::zip_name(name, &version.to_string(), os, arch);
            if download.filename != expected || download.os != *os || download.arch != *arch {
                return Err(PullError::Malformed {
                    url,
                    reason: format!("it names `{}`, expected `{expected}`", download.filename),
                });
            }
            if sums.is_none() {
                let sums_bytes = upstream
                    .get(
                        &Upstream::resolve(&url, &download.shasums_url)?,
                        MAX_SUMS_BYTES,
                    )
                    .await?;
                let signature = upstream
                    .get(
                        &Upstream::resolve(&url, &download.shasums_signature_url)?,
                        MAX_SUMS_BYTES,
                    )
                    .await?;
                verify_sums(
                    &download.signing_keys.gpg_public_keys,
                    &signature,
                    &sums_bytes,
                    &expected,
                )?;
                sums = Some(
                    quarry_core::provider::parse_sums("SHA256SUMS", &sums_bytes).map_err(
                        |error| PullError::Unverified {
                            what: "SHA256SUMS",
                            file: expected.clone(),
                            reason: error.to_string(),
                        },
                    )?,
                );
            }
            let listed = sums
                .as_ref()
                .and_then(|sums| sums.get(&download.filename))
                .cloned();
            if listed.as_deref() != Some(download.shasum.as_str()) {
                return Err(PullError::Unverified {
                    what: "SHA256SUMS",
                    file: expected,
                    reason: format!(
                        "the signed sums give {}, the download answer {}",
                        listed.as_deref().unwrap_or("nothing"),
                        download.shasum
                    ),
                });
            }
            let zip = upstream
                .get(
                    &Upstream::resolve(&url, &download.download_url)?,
                    self.max_archive_bytes,
                )
                .await?;
            let actual = quarry_core::digest::Sha256::of(&zip).to_hex();
            if actual != download.shasum {
                return Err(PullError::Unverified {
                    what: "zip",
                    file: expected,
                    reason: format!("its sha256 is {actual}, signed as {}", download.shasum),
                });
            }
            archives.insert(
                format!("{os}_{arch}"),
                serde_json::json!({ "url": expected, "hashes": [format!("zh:{actual}")] }),
            );
            files.insert(expected, zip.to_vec());
        }
        files.insert(
            quarry_core::provider::MIRROR_FILE.into(),
            serde_json::to_vec(&serde_json::json!({ "archives": archives })).unwrap_or_default(),
        );
        let archive = quarry_core::archive::pack_files(&files)
            .map_err(|error| PullError::Publish(Box::new(PublishError::Task(error.to_string()))))?;
        let published = self
            .publish(PublishRequest {
                address: key,
                version: version.clone(),
                archive: archive.into(),
                description: None,
                actor: super::audit::Actor {
                    name: "mirror".into(),
                    source: upstream.url.clone(),
                },
            })
            .await;
        match published {
            Ok(_) | Err(PublishError::VersionExists { .. }) => {
                tracing::info!(provider = %address, %version, upstream = %upstream.url, "pulled through the mirror");
                Ok(true)
            }
            Err(error) => Err(PullError::Publish(Box::new(error))),
        }
    }
}
