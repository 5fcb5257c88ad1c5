//! The provider network mirror under `/v1/mirror/` (PROTOCOL.md §4): `index.json` and
//! `{version}.json` for `{host}/{namespace}/{type}`, with the `h1:` and `zh:` hashes Quarry
//! computed. It serves providers imported from another host (`quarry mirror import`), pulled
//! through from `--mirror-upstream` for its host, and this registry's own: another host with
//! nothing imported under it is taken as this registry's name when it is the public URL's host,
//! or when no public URL is configured.

use super::auth::Caller;
use super::error::ApiError;
use crate::service::Registry;
use actix_web::{HttpRequest, HttpResponse, web};
use quarry_core::address::ProviderAddress;
use quarry_core::api;
use quarry_core::digest::Sha256;
use quarry_core::version::Version;

pub fn routes(config: &mut web::ServiceConfig) {
    config.route("/{host}/{namespace}/{name}/{file}", web::get().to(serve));
}

/// Whether `host` names this registry.
fn is_own_host(registry: &Registry, host: &str) -> bool {
    let Some(public) = registry.public_url.as_deref() else {
        return true;
    };
    let authority = public
        .split_once("://")
        .map_or(public, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    authority.eq_ignore_ascii_case(host)
}

async fn serve(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    Caller::of(&request, &registry).await?.reader()?;
    let (host, namespace, name, file) = path.into_inner();
    let host = host.to_ascii_lowercase();
    let mirrored = ProviderAddress::on_host(Some(&host), &namespace, &name)?;
    let own = ProviderAddress::new(&namespace, &name)?;
    let upstream = registry
        .upstream
        .as_ref()
        .filter(|upstream| upstream.host == host);
    let version = match file.as_str() {
        "index.json" => None,
        _ => Some(Version::parse(file.strip_suffix(".json").ok_or_else(
            || ApiError::not_found("expected index.json or VERSION.json"),
        )?)?),
    };
    if let (Some(upstream), Some(version)) = (upstream, &version) {
        let held = registry
            .provider_versions(&mirrored)
            .await?
            .is_some_and(|listed| {
                listed
                    .iter()
                    .any(|listed| listed.version.version == *version)
            });
        if !held {
            registry
                .pull_through(upstream, &namespace, &name, version)
                .await
                .map_err(|error| {
                    tracing::warn!(%error, provider = %mirrored, %version, "pull-through failed");
                    ApiError::new(
                        actix_web::http::StatusCode::BAD_GATEWAY,
                        format!("fetching {mirrored} {version} from the upstream: {error}"),
                    )
                })?;
        }
    }
    let mut releases = registry.provider_versions(&mirrored).await?;
    if releases.is_none() && upstream.is_none() && is_own_host(&registry, &host) {
        releases = registry.provider_versions(&own).await?;
    }
    let Some(version) = version else {
        let mut versions: std::collections::BTreeMap<String, api::MirrorEmpty> = releases
            .iter()
            .flatten()
            .map(|listed| (listed.version.version.to_string(), api::MirrorEmpty {}))
            .collect();
        if let Some(upstream) = upstream {
            match upstream.versions(&namespace, &name).await {
                Ok(listed) => versions.extend(
                    listed
                        .into_iter()
                        .flatten()
                        .map(|listed| (listed.version, api::MirrorEmpty {})),
                ),
                // What is stored is still served when the upstream is away.
                Err(error) => tracing::warn!(%error, provider = %mirrored, "upstream versions"),
            }
        }
        if versions.is_empty() {
            return Err(ApiError::not_found(format!(
                "provider {mirrored} not mirrored"
            )));
        }
        return Ok(HttpResponse::Ok().json(api::MirrorIndex { versions }));
    };
    let releases =
        releases.ok_or_else(|| ApiError::not_found(format!("provider {mirrored} not mirrored")))?;
    let listed = releases
        .iter()
        .find(|listed| listed.version.version == version)
        .ok_or_else(|| {
            ApiError::not_found(format!("provider {mirrored} has no version {version}"))
        })?;
    let mut archives = std::collections::BTreeMap::new();
    for platform in &listed.release.platforms {
        let digest = Sha256::from_hex(&platform.shasum)
            .map_err(|_| ApiError::internal(&format!("{mirrored} {version}: bad digest")))?;
        archives.insert(
            format!("{}_{}", platform.os, platform.arch),
            api::MirrorArchive {
                url: registry.file_url(&digest, ".zip"),
                hashes: vec![platform.h1.clone(), format!("zh:{}", platform.shasum)],
            },
        );
    }
    registry.record_download(listed.version.id);
    Ok(HttpResponse::Ok().json(api::MirrorVersion { archives }))
}
