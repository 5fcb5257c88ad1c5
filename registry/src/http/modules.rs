//! The module endpoints under `/v1/modules/`: Terraform's module registry protocol (versions,
//! download) and the public registry's read API (list, search, detail), plus publishing and the
//! marks (see [`super::artifacts`]).

use super::artifacts::{self, MARK_VERBS};
use super::error::ApiError;
use super::upload;
use crate::bounded::Bounded;
use crate::service::Registry;
use crate::service::modules::ModuleDetail;
use crate::service::search::Filter;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use quarry_core::address::{ArtifactAddress, Kind, ModuleAddress, ModuleName, Namespace};
use quarry_core::api;
use quarry_core::module::{ModuleAnalysis, ModuleInfo};
use quarry_core::version::Version;
use serde::{Deserialize, Serialize};
use serde_json::value::{RawValue, to_raw_value};
use std::sync::{Arc, Mutex, PoisonError};

pub fn routes(config: &mut web::ServiceConfig) {
    config.default_service(web::to(dispatch));
}

/// Routes a request under `/v1/modules` by the shape of its path. actix's router matches each
/// route's pattern as a regular expression, one route after another; for the protocol's hot
/// paths that was an eighth of the registry's CPU under load (docs/PERFORMANCE.md). The caller is
/// resolved once, before anything else is looked at (a bad token is refused first).
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
        [] if get => Route::List(Scope::All),
        ["search"] if get => Route::List(Scope::Search),
        [namespace] if get => Route::List(Scope::Namespace(namespace)),
        [namespace, name] if get => Route::List(Scope::Name(namespace, name)),
        [namespace, name, system] if get => Route::Detail((namespace, name, system), None),
        [namespace, name, system, "versions"] if get => Route::Versions((namespace, name, system)),
        [namespace, name, system, "download"] if get => {
            Route::DownloadLatest((namespace, name, system))
        }
        [namespace, name, system, version] if get => {
            Route::Detail((namespace, name, system), Some(version))
        }
        [namespace, name, system, version] if post => {
            Route::Publish((namespace, name, system), version)
        }
        [namespace, name, system, version, "download"] if get => {
            Route::Download((namespace, name, system), version)
        }
        [namespace, name, system, version, verb] if post && MARK_VERBS.contains(verb) => {
            Route::Mark((namespace, name, system), version, verb)
        }
        _ => return super::error::not_found(request).await,
    };
    let caller = super::routed_caller(&request, &registry, route.pattern()).await?;
    let registry = registry.get_ref();
    let address = |(namespace, name, system): Parts<'_>| {
        ModuleAddress::new(namespace, name, system).map_err(ApiError::from)
    };
    match route {
        Route::List(scope) => list(&request, registry, scope).await,
        Route::Detail(parts, version) => {
            let address = address(parts)?;
            let version = version.map(Version::parse).transpose()?;
            detail(registry, &address, version.as_ref()).await
        }
        Route::Versions(parts) => versions(&request, registry, &address(parts)?).await,
        Route::DownloadLatest(parts) => download_latest(registry, &address(parts)?).await,
        Route::Download(parts, version) => {
            let address = ArtifactAddress::Module(address(parts)?);
            artifacts::download(registry, &address, version, true).await
        }
        Route::Publish(parts, version) => {
            let address = ArtifactAddress::Module(address(parts)?);
            let query: PublishQuery = query(&request)?;
            artifacts::publish(
                &request,
                registry,
                &caller,
                address,
                version,
                query.description,
                payload,
            )
            .await
        }
        Route::Mark(parts, version, verb) => {
            let address = ArtifactAddress::Module(address(parts)?);
            artifacts::mark(&request, registry, &caller, address, version, verb, payload).await
        }
    }
}

/// The namespace, name and system of a path.
type Parts<'a> = (&'a str, &'a str, &'a str);

/// What a path under `/v1/modules` asks for, its parts not yet checked.
enum Route<'a> {
    List(Scope<'a>),
    Detail(Parts<'a>, Option<&'a str>),
    Versions(Parts<'a>),
    DownloadLatest(Parts<'a>),
    Download(Parts<'a>, &'a str),
    Publish(Parts<'a>, &'a str),
    Mark(Parts<'a>, &'a str, &'a str),
}

impl Route<'_> {
    /// The route as a pattern, for the metrics (actix's router never saw it).
    fn pattern(&self) -> &'static str {
        match self {
            Self::List(Scope::All) => "/v1/modules",
            Self::List(Scope::Search) => "/v1/modules/search",
            Self::List(Scope::Namespace(_)) => "/v1/modules/{namespace}",
            Self::List(Scope::Name(..)) => "/v1/modules/{namespace}/{name}",
            Self::Detail(_, None) => "/v1/modules/{namespace}/{name}/{system}",
            Self::Detail(_, Some(_)) => "/v1/modules/{namespace}/{name}/{system}/{version}",
            Self::Versions(_) => "/v1/modules/{namespace}/{name}/{system}/versions",
            Self::DownloadLatest(_) => "/v1/modules/{namespace}/{name}/{system}/download",
            Self::Download(..) => "/v1/modules/{namespace}/{name}/{system}/{version}/download",
            Self::Publish(..) => "/v1/modules/{namespace}/{name}/{system}/{version}",
            Self::Mark(.., verb) => match *verb {
                "deprecate" => "/v1/modules/{namespace}/{name}/{system}/{version}/deprecate",
                "undeprecate" => "/v1/modules/{namespace}/{name}/{system}/{version}/undeprecate",
                "yank" => "/v1/modules/{namespace}/{name}/{system}/{version}/yank",
                "unyank" => "/v1/modules/{namespace}/{name}/{system}/{version}/unyank",
                _ => "/v1/modules/{namespace}/{name}/{system}/{version}/{mark}",
            },
        }
    }
}

/// Which listing a request asks for.
enum Scope<'a> {
    All,
    /// `search?q=`: the query is required.
    Search,
    Namespace(&'a str),
    Name(&'a str, &'a str),
}

fn query<T: serde::de::DeserializeOwned>(request: &HttpRequest) -> Result<T, ApiError> {
    web::Query::<T>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::bad_request(format!("invalid query string: {error}")))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    offset: Option<String>,
    limit: Option<String>,
    provider: Option<String>,
    namespace: Option<String>,
    q: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PublishQuery {
    description: Option<String>,
}

/// A version as a summary shows it: its number, who published it, and when.
#[derive(Clone, Copy)]
struct Published<'a> {
    version: &'a quarry_core::version::Version,
    by: &'a str,
    at: &'a chrono::DateTime<chrono::Utc>,
}

/// A module in a listing, in the public registry's shape.
fn summary(
    address: &ArtifactAddress,
    description: &str,
    version: Published<'_>,
    downloads: i64,
) -> api::ModuleSummary {
    let text = version.version.to_string();
    api::ModuleSummary {
        id: format!("{address}/{text}"),
        owner: version.by.to_owned(),
        namespace: address.namespace().to_string(),
        name: address.name().to_string(),
        version: text,
        provider: address.system().to_owned(),
        description: description.to_owned(),
        source: String::new(),
        published_at: version.at.to_rfc3339(),
        downloads,
        verified: false,
    }
}

async fn list(
    request: &HttpRequest,
    registry: &Registry,
    scope: Scope<'_>,
) -> Result<HttpResponse, ApiError> {
    let scope_namespace = match scope {
        Scope::Namespace(namespace) | Scope::Name(namespace, _) => Some(Namespace::new(namespace)?),
        Scope::All | Scope::Search => None,
    };
    let scope_name = match scope {
        Scope::Name(_, name) => Some(ModuleName::new(name)?),
        _ => None,
    };
    let query: ListQuery = query(request)?;
    if matches!(scope, Scope::Search) && query.q.as_deref().is_none_or(|q| q.trim().is_empty()) {
        return Err(ApiError::bad_request("search needs a query: `?q=<text>`"));
    }
    if let Some(namespace) = &query.namespace {
        Namespace::new(namespace)?;
    }
    if let Some(system) = &query.provider {
        quarry_core::address::System::new(system)?;
    }
    upload::search_text(query.q.as_deref())?;
    let mut filter = Filter {
        kind: Some(Kind::Module),
        namespace: query.namespace.clone(),
        system: query.provider.clone(),
        query: query.q.clone(),
        ..Filter::default()
    };
    if let Some(namespace) = scope_namespace {
        filter.namespace = Some(namespace.to_string());
    }
    if let Some(name) = scope_name {
        filter.name = Some(name.to_string());
    }
    let (offset, limit) = upload::page_bounds(query.offset.as_deref(), query.limit.as_deref())?;
    let page = registry
        .list_artifacts(&filter, offset, limit, false)
        .await?;
    let modules = page
        .items
        .iter()
        .map(|item| {
            let listed = &item.listed;
            summary(
                &listed.artifact.address,
                &listed.artifact.description,
                Published {
                    version: &listed.latest.version,
                    by: &listed.latest.published_by,
                    at: &listed.latest.published_at,
                },
                item.downloads,
            )
        })
        .collect();
    Ok(HttpResponse::Ok().json(api::ModuleList {
        meta: api::PageMeta::new(offset, limit, page.has_more),
        modules,
    }))
}

/// `GET …/versions`: the list terraform chooses a version from, with an `ETag` so caches and
/// clients can revalidate with `If-None-Match` (304).
async fn versions(
    request: &HttpRequest,
    registry: &Registry,
    address: &ModuleAddress,
) -> Result<HttpResponse, ApiError> {
    let address = ArtifactAddress::Module(address.clone());
    artifacts::versions(request, registry, &address, |list| api::ModuleVersions {
        modules: vec![list],
    })
    .await
}

/// `GET …/download` without a version: 302 to the latest version's download endpoint.
async fn download_latest(
    registry: &Registry,
    address: &ModuleAddress,
) -> Result<HttpResponse, ApiError> {
    let history = registry
        .history(&ArtifactAddress::Module(address.clone()))
        .await?;
    let latest = history
        .as_ref()
        .and_then(|history| history.latest())
        .ok_or_else(|| ApiError::not_found(format!("module {address} not found")))?;
    let base = registry.public_url.as_deref().unwrap_or("");
    let location = format!("{base}/v1/modules/{address}/{}/download", latest.version);
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish())
}

/// The root module or a submodule as the detail shows it.
fn contents(info: &ModuleInfo, name: &str) -> api::ModuleContents {
    api::ModuleContents {
        path: info.path.clone(),
        name: name.to_owned(),
        readme: info.readme.clone(),
        empty: info.variables.is_empty()
            && info.outputs.is_empty()
            && info.resources.is_empty()
            && info.module_calls.is_empty(),
        inputs: info
            .variables
            .iter()
            .map(|variable| api::InputInfo {
                name: variable.name.clone(),
                type_expr: variable.type_expr.clone(),
                description: variable.description.clone(),
                // The public registry sends defaults as JSON text.
                default: variable
                    .default
                    .as_ref()
                    .map(serde_json::Value::to_string)
                    .unwrap_or_default(),
                required: variable.required,
                sensitive: variable.sensitive,
            })
            .collect(),
        outputs: info
            .outputs
            .iter()
            .map(|output| api::OutputInfo {
                name: output.name.clone(),
                description: output.description.clone(),
                sensitive: output.sensitive,
            })
            .collect(),
        dependencies: info
            .module_calls
            .iter()
            .map(|call| api::Dependency {
                name: call.name.clone(),
                source: call.source.clone(),
                version: call.version.clone().unwrap_or_default(),
            })
            .collect(),
        provider_dependencies: info
            .providers
            .iter()
            .map(|provider| {
                let source = provider.source.clone().unwrap_or_default();
                let namespace = source
                    .split('/')
                    .rev()
                    .nth(1)
                    .unwrap_or("hashicorp")
                    .to_owned();
                api::ProviderDependency {
                    name: provider.name.clone(),
                    namespace,
                    source,
                    version: provider.version.clone().unwrap_or_default(),
                }
            })
            .collect(),
        resources: info
            .resources
            .iter()
            .map(|resource_type| api::ResourceInfo {
                resource_type: resource_type.clone(),
            })
            .collect(),
        data_sources: info.data_sources.clone(),
        terraform_version: info.terraform_version.clone(),
        inputs_schema: info.inputs_schema.clone(),
    }
}

/// What a version's detail shows of its analysis (its examples, root module and submodules),
/// as JSON made once per version: versions are immutable, and building and serializing these
/// was most of the detail's time. The rest of the answer changes with publishes, marks and
/// downloads, and is made for each request.
#[derive(Debug)]
pub struct Contents {
    examples: Box<RawValue>,
    root: Box<RawValue>,
    submodules: Box<RawValue>,
}

impl Contents {
    fn of(address: &ModuleAddress, analysis: &ModuleAnalysis) -> serde_json::Result<Self> {
        let examples: Vec<serde_json::Value> = analysis
            .examples
            .iter()
            .map(|example| {
                serde_json::json!({
                    "path": example.path,
                    "name": example.name(),
                    "readme": example.readme,
                })
            })
            .collect();
        let submodules: Vec<api::ModuleContents> = analysis
            .submodules
            .iter()
            .map(|sub| contents(sub, sub.path.rsplit('/').next().unwrap_or(&sub.path)))
            .collect();
        Ok(Self {
            examples: to_raw_value(&examples)?,
            root: to_raw_value(&contents(&analysis.root, address.name.as_str()))?,
            submodules: to_raw_value(&submodules)?,
        })
    }

    fn size(&self) -> usize {
        [&self.examples, &self.root, &self.submodules]
            .iter()
            .map(|part| part.get().len())
            .sum()
    }
}

/// The [`Contents`] of the versions answered lately, by version row, bounded in bytes.
#[derive(Debug)]
pub struct KeptContents(Mutex<Bounded<i32, Arc<Contents>>>);

impl Default for KeptContents {
    fn default() -> Self {
        Self(Mutex::new(Bounded::new(32 << 20)))
    }
}

impl KeptContents {
    fn of(
        &self,
        address: &ModuleAddress,
        detail: &ModuleDetail,
    ) -> serde_json::Result<Arc<Contents>> {
        let id = detail.version.id;
        if let Some(kept) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
        {
            return Ok(kept);
        }
        let made = Arc::new(Contents::of(address, &detail.analysis)?);
        let size = made.size();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, made.clone(), size);
        Ok(made)
    }
}

/// The detail answer of a version: [`api::ModuleDetail`] with its analysis's parts as made once
/// (see [`Contents`]). `wire_format`'s snapshot keeps its shape, and the OpenAPI check holds it
/// to `api::ModuleDetail`'s schema.
#[derive(Serialize)]
struct DetailBody<'a> {
    #[serde(flatten)]
    summary: api::ModuleSummary,
    deprecated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    deprecation: Option<api::Deprecation>,
    yanked: bool,
    examples: &'a RawValue,
    providers: &'a [String],
    versions: Vec<String>,
    archive: api::ArchiveInfo,
    root: &'a RawValue,
    submodules: &'a RawValue,
}

fn detail_body<'a>(detail: &'a ModuleDetail, contents: &'a Contents) -> DetailBody<'a> {
    let version = &detail.version;
    let artifact = &detail.state.history.artifact;
    DetailBody {
        summary: summary(
            &artifact.address,
            &artifact.description,
            Published {
                version: &version.version,
                by: &version.published_by,
                at: &version.published_at,
            },
            detail.downloads,
        ),
        deprecated: version.deprecation.is_some(),
        deprecation: artifacts::deprecation(version),
        yanked: version.yanked(),
        examples: &contents.examples,
        providers: &detail.state.systems,
        versions: detail.visible.iter().map(ToString::to_string).collect(),
        archive: api::ArchiveInfo {
            sha256: version.archive.to_hex(),
            size: version.archive_size,
        },
        root: &contents.root,
        submodules: &contents.submodules,
    }
}

async fn detail(
    registry: &Registry,
    address: &ModuleAddress,
    version: Option<&Version>,
) -> Result<HttpResponse, ApiError> {
    let detail = registry
        .module_detail(address, version)
        .await?
        .ok_or_else(|| match version {
            Some(version) => ApiError::not_found(format!("{address} has no version {version}")),
            None => ApiError::not_found(format!("module {address} not found")),
        })?;
    let contents = registry
        .kept_contents
        .of(address, &detail)
        .map_err(|error| ApiError::internal(&error))?;
    Ok(HttpResponse::Ok().json(detail_body(&detail, &contents)))
}
