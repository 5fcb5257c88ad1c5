//! The provider endpoints under `/v1/providers/`: terraform's provider registry protocol
//! (`versions`, `download/{os}/{arch}`), the registry's signing keys, and publishing and the
//! marks (shared with the other kinds, see [`super::artifacts`]).

use super::artifacts::{self, MARK_VERBS};
use super::error::ApiError;
use crate::service::Registry;
use crate::service::providers::Signer;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use quarry_core::address::{ArtifactAddress, ProviderAddress};
use quarry_core::api;
use quarry_core::digest::Sha256;
use quarry_core::version::Version;

pub fn routes(config: &mut web::ServiceConfig) {
    config.default_service(web::to(dispatch));
}

/// What a path under `/v1/providers` asks for, its parts not yet checked.
enum Route<'a> {
    Keys,
    Versions(&'a str, &'a str),
    Download(&'a str, &'a str, &'a str, &'a str, &'a str),
    Publish(&'a str, &'a str, &'a str),
    Mark(&'a str, &'a str, &'a str, &'a str),
}

impl Route<'_> {
    /// The route as a pattern, for the metrics.
    fn pattern(&self) -> &'static str {
        match self {
            Self::Keys => "/v1/providers/signing-keys",
            Self::Versions(..) => "/v1/providers/{namespace}/{type}/versions",
            Self::Download(..) => "/v1/providers/{namespace}/{type}/{version}/download/{os}/{arch}",
            Self::Publish(..) => "/v1/providers/{namespace}/{type}/{version}",
            Self::Mark(.., verb) => match *verb {
                "deprecate" => "/v1/providers/{namespace}/{type}/{version}/deprecate",
                "undeprecate" => "/v1/providers/{namespace}/{type}/{version}/undeprecate",
                "yank" => "/v1/providers/{namespace}/{type}/{version}/yank",
                "unyank" => "/v1/providers/{namespace}/{type}/{version}/unyank",
                _ => "/v1/providers/{namespace}/{type}/{version}/{mark}",
            },
        }
    }
}

async fn dispatch(
    request: HttpRequest,
    registry: web::Data<Registry>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let Some(segments) = super::tail_segments(&request) else {
        return super::error::not_found(request).await;
    };
    let parts: Vec<&str> = segments.iter().map(AsRef::as_ref).collect();
    let get = request.method() == Method::GET;
    let post = request.method() == Method::POST;
    let route = match parts.as_slice() {
        ["signing-keys"] if get => Route::Keys,
        [namespace, name, "versions"] if get => Route::Versions(namespace, name),
        [namespace, name, version, "download", os, arch] if get => {
            Route::Download(namespace, name, version, os, arch)
        }
        [namespace, name, version] if post => Route::Publish(namespace, name, version),
        [namespace, name, version, verb] if post && MARK_VERBS.contains(verb) => {
            Route::Mark(namespace, name, version, verb)
        }
        _ => return super::error::not_found(request).await,
    };
    let caller = super::routed_caller(&request, &registry, route.pattern()).await?;
    let registry = registry.get_ref();
    let address =
        |namespace: &str, name: &str| ProviderAddress::new(namespace, name).map_err(ApiError::from);
    match route {
        Route::Keys => keys(registry).await,
        Route::Versions(namespace, name) => versions(registry, &address(namespace, name)?).await,
        Route::Download(namespace, name, version, os, arch) => {
            download(registry, &address(namespace, name)?, version, os, arch).await
        }
        Route::Publish(namespace, name, version) => {
            let address = ArtifactAddress::Provider(address(namespace, name)?);
            artifacts::publish(&request, registry, &caller, address, version, None, payload).await
        }
        Route::Mark(namespace, name, version, verb) => {
            let address = ArtifactAddress::Provider(address(namespace, name)?);
            artifacts::mark(&request, registry, &caller, address, version, verb, payload).await
        }
    }
}

/// The warning `terraform init` shows for a deprecated version.
fn deprecation_warning(
    address: &ProviderAddress,
    version: &crate::service::artifacts::VersionInfo,
) -> Option<String> {
    let deprecation = version.deprecation.as_ref()?;
    let mut warning = format!("{address} {} is deprecated", version.version);
    if let Some(reason) = &deprecation.reason {
        warning.push_str(&format!(": {reason}"));
    }
    if let Some(replacement) = &deprecation.replacement {
        warning.push_str(&format!(" (use {replacement} instead)"));
    }
    Some(warning)
}

async fn versions(
    registry: &Registry,
    address: &ProviderAddress,
) -> Result<HttpResponse, ApiError> {
    let listed = registry
        .provider_versions(address)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("provider {address} not found")))?;
    let warnings = listed
        .iter()
        .filter_map(|listed| deprecation_warning(address, &listed.version))
        .collect();
    let versions = listed
        .iter()
        .map(|listed| api::ProviderVersion {
            version: listed.version.version.to_string(),
            protocols: listed.release.protocols.clone(),
            platforms: listed
                .release
                .platforms
                .iter()
                .map(|platform| api::ProviderPlatform {
                    os: platform.os.clone(),
                    arch: platform.arch.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache"))
        .json(api::ProviderVersions {
            id: address.to_string(),
            versions,
            warnings,
        }))
}

async fn download(
    registry: &Registry,
    address: &ProviderAddress,
    version: &str,
    os: &str,
    arch: &str,
) -> Result<HttpResponse, ApiError> {
    let version = Version::parse(version)?;
    let found = registry
        .provider_download(address, &version, os, arch)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "provider {address} has no version {version} for {os}_{arch}"
            ))
        })?;
    let digest = |hex: &str| {
        Sha256::from_hex(hex).map_err(|_| {
            ApiError::internal(&format!(
                "provider {address} {version}: a stored digest is not one"
            ))
        })
    };
    let release = &found.release;
    let signed = release.signed.as_ref().ok_or_else(|| {
        ApiError::internal(&format!("provider {address} {version} has no signed sums"))
    })?;
    registry.record_download(found.version_id);
    Ok(HttpResponse::Ok().json(api::ProviderDownload {
        protocols: release.protocols.clone(),
        os: found.platform.os.clone(),
        arch: found.platform.arch.clone(),
        filename: found.platform.filename.clone(),
        download_url: registry.file_url(&digest(&found.platform.shasum)?, ".zip"),
        shasums_url: registry.file_url(&digest(&signed.sums.sha256)?, ".txt"),
        shasums_signature_url: registry.file_url(&digest(&signed.signature.sha256)?, ".sig"),
        shasum: found.platform.shasum.clone(),
        signing_keys: api::SigningKeys {
            gpg_public_keys: vec![api::GpgPublicKey {
                key_id: signed.key.key_id.clone(),
                ascii_armor: signed.key.ascii_armor.clone(),
                trust_signature: String::new(),
                source: match signed.signer {
                    Signer::Registry => "Quarry".into(),
                    Signer::Publisher => address.namespace.to_string(),
                },
                source_url: None,
            }],
        },
    }))
}

async fn keys(registry: &Registry) -> Result<HttpResponse, ApiError> {
    let keys = registry
        .signing_keys(None)
        .await
        .map_err(|error| ApiError::internal(&error))?;
    Ok(HttpResponse::Ok().json(api::SigningKeyList {
        keys: keys
            .into_iter()
            .map(|listed| api::ListedSigningKey {
                namespace: listed.namespace,
                key_id: listed.key.key_id,
                fingerprint: listed.fingerprint,
                ascii_armor: listed.key.ascii_armor,
                created_at: listed.created_at.to_rfc3339(),
                retired_at: listed.retired_at.map(|at| at.to_rfc3339()),
            })
            .collect(),
    }))
}
