//! Provider pages: the list of this registry's providers, and a provider's page — its
//! versions with their marks, platforms with their hashes, the key that signed it, and the
//! `required_providers` block to copy.

use super::modules::{Marks, VersionLink, version_links};
use super::session::Viewer;
use super::{Layout, UiError, page, when};
use crate::http::blueprints::registry_host;
use crate::service::Registry;
use crate::service::provider_keys::PublicKey;
use crate::service::providers::Signer;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use quarry_core::address::{ArtifactAddress, ProviderAddress};
use quarry_core::provider::PlatformZip;
use quarry_core::version::Version;

/// The most providers the list shows.
const MAX_LISTED: usize = 500;

pub struct ListedProvider {
    pub address: String,
    pub href: String,
    pub version: String,
    pub platforms: usize,
}

#[derive(Template)]
#[template(path = "providers.html")]
struct ProvidersPage {
    layout: Layout,
    providers: Vec<ListedProvider>,
}

#[derive(Template)]
#[template(path = "provider.html")]
struct ProviderPage {
    layout: Layout,
    address: String,
    namespace: String,
    name: String,
    version: String,
    is_latest: bool,
    marks: Marks,
    published: String,
    published_by: String,
    protocols: Vec<String>,
    versions: Vec<VersionLink>,
    usage: String,
    platforms: Vec<PlatformZip>,
    key: Option<PublicKey>,
    signed_by_registry: bool,
}

/// `GET /providers`.
pub async fn list(viewer: Viewer, registry: web::Data<Registry>) -> Result<HttpResponse, UiError> {
    let mut providers = Vec::new();
    for address in registry.provider_addresses().await? {
        let Some(listed) = registry.provider_versions(&address).await? else {
            continue;
        };
        let Some(latest) = listed.last() else {
            continue;
        };
        providers.push(ListedProvider {
            href: format!("/providers/{address}"),
            address: address.to_string(),
            version: latest.version.version.to_string(),
            platforms: latest.release.platforms.len(),
        });
        if providers.len() == MAX_LISTED {
            break;
        }
    }
    providers.sort_by(|a, b| a.address.cmp(&b.address));
    let template = ProvidersPage {
        layout: viewer.layout("Providers", ""),
        providers,
    };
    page(&viewer, StatusCode::OK, &template)
}

/// `GET /providers/{namespace}/{type}`: the latest version.
pub async fn latest(
    viewer: Viewer,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    show(viewer, request, &registry, &path, None).await
}

/// `GET /providers/{namespace}/{type}/{version}`.
pub async fn version(
    viewer: Viewer,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, UiError> {
    let (namespace, name, version) = path.into_inner();
    show(
        viewer,
        request,
        &registry,
        &(namespace, name),
        Some(&version),
    )
    .await
}

async fn show(
    viewer: Viewer,
    request: HttpRequest,
    registry: &Registry,
    path: &(String, String),
    version: Option<&str>,
) -> Result<HttpResponse, UiError> {
    let address = ProviderAddress::new(&path.0, &path.1)?;
    let wanted = version.map(Version::parse).transpose()?;
    let key = ArtifactAddress::Provider(address.clone());
    let missing = || {
        UiError::not_found(match &wanted {
            Some(version) => format!("The provider {address} has no version {version}."),
            None => format!("There is no provider {address} here."),
        })
    };
    let history = registry.recent_history(&key).await?.ok_or_else(missing)?;
    let latest = history.latest().cloned();
    let info = match &wanted {
        Some(version) => history.find(version).cloned(),
        None => latest.clone(),
    }
    .ok_or_else(missing)?;
    let release = registry.provider_release(info.id).await?;
    let constraint = info.version.precedence();
    let host = registry_host(&request, registry);
    let usage = format!(
        "terraform {{\n  required_providers {{\n    {name} = {{\n      source  = \"{host}/{address}\"\n      version = \"{constraint}\"\n    }}\n  }}\n}}\n",
        name = address.name
    );
    let signed = release.signed.as_ref();
    let template = ProviderPage {
        layout: viewer.layout(format!("{address} {}", info.version), ""),
        address: address.to_string(),
        namespace: address.namespace.to_string(),
        name: address.name.to_string(),
        version: info.version.to_string(),
        is_latest: latest.is_some_and(|latest| latest.id == info.id),
        marks: Marks::of(&info),
        published: when(&info.published_at),
        published_by: info.published_by.clone(),
        protocols: release.protocols.clone(),
        versions: version_links(
            &history.versions,
            &format!("/providers/{address}"),
            &info.version,
        ),
        usage,
        platforms: release.platforms.clone(),
        key: signed.map(|signed| signed.key.clone()),
        signed_by_registry: signed.is_some_and(|signed| signed.signer == Signer::Registry),
    };
    page(&viewer, StatusCode::OK, &template)
}
