//! The module endpoints under `/v1/modules/`: Terraform's module registry protocol (versions,
//! download) and the public registry's read API (list, search, detail), plus publishing.

use super::error::ApiError;
use super::{auth, upload};
use crate::db::queries::ModuleFilter;
use crate::service::Registry;
use crate::service::modules::{ModuleDetail, ModuleSummary};
use crate::service::publish::PublishRequest;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use quarry_core::address::{ModuleAddress, Namespace};
use quarry_core::module::{ModuleAnalysis, ModuleInfo};
use quarry_core::version::Version;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub fn routes(config: &mut web::ServiceConfig) {
    config.default_service(web::to(dispatch));
}

/// A path segment, percent-decoded (`1.0.0%2Bbuild` is `1.0.0+build`).
fn decode(segment: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy()
}

/// Routes a request under `/v1/modules` by the shape of its path. actix's router matches each
/// route's pattern as a regular expression, one route after another; for the protocol's hot
/// paths that was an eighth of the registry's CPU under load (docs/PERFORMANCE.md).
async fn dispatch(
    request: HttpRequest,
    registry: web::Data<Registry>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let tail = request.match_info().unprocessed();
    let tail = tail.strip_prefix('/').unwrap_or(tail);
    let segments: Vec<std::borrow::Cow<'_, str>> = if tail.is_empty() {
        Vec::new()
    } else {
        tail.split('/').map(decode).collect()
    };
    if segments.iter().any(|segment| segment.is_empty()) {
        return super::error::not_found(request).await;
    }
    let parts: Vec<&str> = segments.iter().map(AsRef::as_ref).collect();
    let get = request.method() == Method::GET;
    let post = request.method() == Method::POST;
    match parts.as_slice() {
        [] if get => list_all(&request, &registry).await,
        ["search"] if get => search(&request, &registry).await,
        [namespace] if get => list_namespace(&request, &registry, namespace).await,
        [namespace, name] if get => list_name(&request, &registry, namespace, name).await,
        [namespace, name, system] if get => {
            latest_detail(&request, &registry, (namespace, name, system)).await
        }
        [namespace, name, system, "versions"] if get => {
            versions(&request, &registry, (namespace, name, system)).await
        }
        [namespace, name, system, "download"] if get => {
            download_latest(&request, &registry, (namespace, name, system)).await
        }
        [namespace, name, system, version] if get => {
            version_detail(&request, &registry, (namespace, name, system), version).await
        }
        [namespace, name, system, version] if post => {
            publish(
                &request,
                &registry,
                (namespace, name, system),
                version,
                payload,
            )
            .await
        }
        [namespace, name, system, version, "download"] if get => {
            download(&request, &registry, (namespace, name, system), version).await
        }
        [
            namespace,
            name,
            system,
            version,
            action @ ("deprecate" | "yank"),
        ] if post => {
            let body = upload::read_body(
                &request,
                payload,
                MARK_BODY_LIMIT,
                registry.body_timeout,
                "the body",
            )
            .await?;
            let yank = *action == "yank";
            mark(
                &request,
                &registry,
                (namespace, name, system),
                version,
                &body,
                yank,
            )
            .await
        }
        _ => super::error::not_found(request).await,
    }
}

/// The largest deprecate or yank body (`{"reason": "…"}`).
const MARK_BODY_LIMIT: u64 = 64 * 1024;

/// The namespace, name and system of a path.
type Parts<'a> = (&'a str, &'a str, &'a str);

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

fn address(parts: Parts<'_>) -> Result<ModuleAddress, ApiError> {
    Ok(ModuleAddress::new(parts.0, parts.1, parts.2)?)
}

fn module_id(summary_namespace: &str, name: &str, system: &str, version: &str) -> String {
    format!("{summary_namespace}/{name}/{system}/{version}")
}

/// A module in a listing, in the public registry's shape.
#[derive(Serialize)]
struct SummaryJson<'a> {
    id: String,
    owner: &'a str,
    namespace: &'a str,
    name: &'a str,
    version: &'a str,
    provider: &'a str,
    description: &'a str,
    source: &'static str,
    published_at: String,
    downloads: i64,
    verified: bool,
}

impl<'a> SummaryJson<'a> {
    fn new(
        module: &'a crate::db::entities::module::Model,
        version: &'a crate::db::queries::VersionHead,
        downloads: i64,
    ) -> Self {
        Self {
            id: module_id(
                &module.namespace,
                &module.name,
                &module.system,
                &version.version,
            ),
            owner: &version.published_by,
            namespace: &module.namespace,
            name: &module.name,
            version: &version.version,
            provider: &module.system,
            description: &module.description,
            source: "",
            published_at: version.published_at.to_rfc3339(),
            downloads,
            verified: false,
        }
    }
}

fn summary_json(summary: &ModuleSummary) -> SummaryJson<'_> {
    SummaryJson::new(
        &summary.listed.module,
        &summary.listed.latest,
        summary.downloads,
    )
}

async fn list_page(
    registry: &Registry,
    filter: ModuleFilter,
    query: &ListQuery,
) -> Result<HttpResponse, ApiError> {
    let (offset, limit) = upload::page_bounds(query.offset.as_deref(), query.limit.as_deref())?;
    let page = registry.list_modules(&filter, offset, limit).await?;
    let meta = upload::page_meta(offset, limit, page.has_more);
    let modules: Vec<SummaryJson<'_>> = page.modules.iter().map(summary_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "meta": meta, "modules": modules })))
}

fn validated_filter(query: &ListQuery) -> Result<ModuleFilter, ApiError> {
    if let Some(namespace) = &query.namespace {
        Namespace::new(namespace)?;
    }
    if let Some(system) = &query.provider {
        quarry_core::address::System::new(system)?;
    }
    upload::search_text(query.q.as_deref())?;
    Ok(ModuleFilter {
        namespace: query.namespace.clone(),
        system: query.provider.clone(),
        query: query.q.clone(),
        ..ModuleFilter::default()
    })
}

async fn list_all(request: &HttpRequest, registry: &Registry) -> Result<HttpResponse, ApiError> {
    auth::require_read(request, registry).await?;
    let query: ListQuery = query(request)?;
    let filter = validated_filter(&query)?;
    list_page(registry, filter, &query).await
}

async fn search(request: &HttpRequest, registry: &Registry) -> Result<HttpResponse, ApiError> {
    auth::require_read(request, registry).await?;
    let query: ListQuery = query(request)?;
    if query.q.as_deref().is_none_or(|q| q.trim().is_empty()) {
        return Err(ApiError::bad_request("search needs a query: `?q=<text>`"));
    }
    let filter = validated_filter(&query)?;
    list_page(registry, filter, &query).await
}

async fn list_namespace(
    request: &HttpRequest,
    registry: &Registry,
    namespace: &str,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(request, registry).await?;
    let namespace = Namespace::new(namespace)?;
    let query: ListQuery = query(request)?;
    let mut filter = validated_filter(&query)?;
    filter.namespace = Some(namespace.to_string());
    list_page(registry, filter, &query).await
}

async fn list_name(
    request: &HttpRequest,
    registry: &Registry,
    namespace: &str,
    name: &str,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(request, registry).await?;
    let namespace = Namespace::new(namespace)?;
    let name = quarry_core::address::ModuleName::new(name)?;
    let query: ListQuery = query(request)?;
    let mut filter = validated_filter(&query)?;
    filter.namespace = Some(namespace.to_string());
    filter.name = Some(name.to_string());
    list_page(registry, filter, &query).await
}

/// `GET …/versions`: the list terraform chooses a version from, with an `ETag` so caches and
/// clients can revalidate with `If-None-Match` (304).
async fn versions(
    request: &HttpRequest,
    registry: &Registry,
    parts: Parts<'_>,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(request, registry).await?;
    let address = address(parts)?;
    let answer = registry
        .versions_body(&address)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("module {address} not found")))?;
    let etag = answer.etag.clone();
    let revalidated = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    if revalidated {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(answer.body.clone()))
}

/// `GET …/{version}/download`: 204 with `X-Terraform-Get` naming the archive, the one answer
/// every terraform and tofu client accepts.
async fn download(
    request: &HttpRequest,
    registry: &Registry,
    parts: Parts<'_>,
    version: &str,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(request, registry).await?;
    let address = address(parts)?;
    let version = Version::parse(version)?;
    let resolved = registry
        .resolve_download(&address, &version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{address} has no version {version}")))?;
    let digest = resolved.archive;
    let mut url = registry.archive_url(&digest);
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&format!("checksum=sha256:{}", digest.to_hex()));
    registry.record_download(resolved.version_id);
    Ok(HttpResponse::NoContent()
        .insert_header(("X-Terraform-Get", url))
        .finish())
}

/// `GET …/download` without a version: 302 to the latest version's download endpoint.
async fn download_latest(
    request: &HttpRequest,
    registry: &Registry,
    parts: Parts<'_>,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(request, registry).await?;
    let address = address(parts)?;
    let record = registry
        .latest_version(&address)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("module {address} not found")))?;
    let base = registry.public_url.as_deref().unwrap_or("");
    let location = format!("{base}/v1/modules/{address}/{}/download", record.version);
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish())
}

fn module_info_json(info: &ModuleInfo, name: &str) -> Value {
    let inputs: Vec<Value> = info
        .variables
        .iter()
        .map(|variable| {
            json!({
                "name": variable.name,
                "type": variable.type_expr,
                "description": variable.description,
                // The public registry sends defaults as JSON text.
                "default": variable.default.as_ref().map(Value::to_string).unwrap_or_default(),
                "required": variable.required,
                "sensitive": variable.sensitive,
            })
        })
        .collect();
    let outputs: Vec<Value> = info
        .outputs
        .iter()
        .map(|output| {
            json!({
                "name": output.name,
                "description": output.description,
                "sensitive": output.sensitive,
            })
        })
        .collect();
    let dependencies: Vec<Value> = info
        .module_calls
        .iter()
        .map(|call| json!({ "name": call.name, "source": call.source, "version": call.version.clone().unwrap_or_default() }))
        .collect();
    let provider_dependencies: Vec<Value> = info
        .providers
        .iter()
        .map(|provider| {
            let source = provider.source.clone().unwrap_or_default();
            let namespace = source.split('/').rev().nth(1).unwrap_or("hashicorp");
            json!({
                "name": provider.name,
                "namespace": namespace,
                "source": source,
                "version": provider.version.clone().unwrap_or_default(),
            })
        })
        .collect();
    let resources: Vec<Value> = info
        .resources
        .iter()
        .map(|resource_type| json!({ "type": resource_type }))
        .collect();
    json!({
        "path": info.path,
        "name": name,
        "readme": info.readme,
        "empty": info.variables.is_empty() && info.outputs.is_empty() && info.resources.is_empty() && info.module_calls.is_empty(),
        "inputs": inputs,
        "outputs": outputs,
        "dependencies": dependencies,
        "provider_dependencies": provider_dependencies,
        "resources": resources,
        "data_sources": info.data_sources,
        "terraform_version": info.terraform_version,
        "inputs_schema": info.inputs_schema,
    })
}

/// What a version's detail shows of its contents: the archive and the analysis of the root
/// module and its submodules. It never changes, so the registry keeps it rendered.
fn contents_json(
    module: &crate::db::entities::module::Model,
    row: &crate::db::entities::module_version::Model,
    analysis: &ModuleAnalysis,
) -> String {
    let submodules: Vec<Value> = analysis
        .submodules
        .iter()
        .map(|sub| {
            let name = sub.path.rsplit('/').next().unwrap_or(&sub.path);
            module_info_json(sub, name)
        })
        .collect();
    json!({
        "archive": { "sha256": row.archive_sha256, "size": row.archive_size },
        "root": module_info_json(&analysis.root, &module.name),
        "submodules": submodules,
    })
    .to_string()
}

/// The detail answer: what changes (versions, downloads, flags) rendered now, followed by the
/// version's rendered contents.
fn detail_body(detail: &ModuleDetail) -> Result<String, ApiError> {
    /// What a version's detail shows beside its contents: the listing's fields and more.
    #[derive(Serialize)]
    struct Changing<'a> {
        #[serde(flatten)]
        summary: SummaryJson<'a>,
        deprecated: bool,
        yanked: bool,
        examples: [(); 0],
        providers: &'a [String],
        versions: Vec<String>,
    }
    let module = &detail.state.module;
    let head = &detail.head;
    let changing = Changing {
        summary: SummaryJson::new(module, head, detail.downloads),
        deprecated: head.deprecated,
        yanked: head.yanked,
        examples: [],
        providers: &detail.state.systems,
        versions: detail.visible.iter().map(ToString::to_string).collect(),
    };
    let changing = serde_json::to_string(&changing).map_err(|error| ApiError::internal(&error))?;
    Ok(join_objects(&changing, &detail.contents))
}

/// Joins two serialised, non-empty JSON objects into one (their keys do not overlap).
fn join_objects(first: &str, second: &str) -> String {
    debug_assert!(first.len() > 2 && first.ends_with('}'));
    debug_assert!(second.len() > 2 && second.starts_with('{'));
    let mut joined = String::with_capacity(first.len() + second.len());
    joined.push_str(&first[..first.len() - 1]);
    joined.push(',');
    joined.push_str(&second[1..]);
    joined
}

async fn detail(
    registry: &Registry,
    address: &ModuleAddress,
    version: Option<&Version>,
) -> Result<HttpResponse, ApiError> {
    let detail = registry
        .module_detail(address, version, contents_json)
        .await?
        .ok_or_else(|| match version {
            Some(version) => ApiError::not_found(format!("{address} has no version {version}")),
            None => ApiError::not_found(format!("module {address} not found")),
        })?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(detail_body(&detail)?))
}

async fn latest_detail(
    request: &HttpRequest,
    registry: &Registry,
    parts: Parts<'_>,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(request, registry).await?;
    detail(registry, &address(parts)?, None).await
}

async fn version_detail(
    request: &HttpRequest,
    registry: &Registry,
    parts: Parts<'_>,
    version: &str,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(request, registry).await?;
    let address = address(parts)?;
    let version = Version::parse(version)?;
    detail(registry, &address, Some(&version)).await
}

#[derive(Debug, Deserialize)]
pub struct PublishQuery {
    description: Option<String>,
}

/// `POST …/{version}` with the `.tar.gz` as the body.
async fn publish(
    request: &HttpRequest,
    registry: &Registry,
    parts: Parts<'_>,
    version: &str,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // A bad token is refused before anything else is looked at.
    auth::principal(request, registry).await?;
    let address = address(parts)?;
    let principal = auth::require_publish(request, registry, &address.namespace).await?;
    let version = Version::parse(version)?;
    let publish_query: PublishQuery = query(request)?;
    auth::limit_write(request, registry, &principal)?;
    registry.refuse_existing(&address, &version).await?;
    let archive = upload::read_archive(
        request,
        body,
        registry.max_archive_bytes,
        registry.body_timeout,
    )
    .await?;
    let published = registry
        .publish(PublishRequest {
            address: address.clone(),
            version,
            archive,
            description: publish_query.description.filter(|d| !d.trim().is_empty()),
            actor: auth::actor(request, &principal),
        })
        .await?;
    let base = registry.public_url.as_deref().unwrap_or("");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("{base}/v1/modules/{}", published.id),
        ))
        .json(published))
}

/// An optional reason, recorded in the audit log: `{"reason": "…"}`.
#[derive(Debug, Default, Deserialize)]
pub struct MarkBody {
    reason: Option<String>,
}

/// `POST …/{version}/deprecate` (still listed and installable, flagged in its detail) or
/// `…/yank` (gone from `versions`, so terraform no longer picks it, but still downloadable by its
/// exact number so existing configurations keep working).
async fn mark(
    request: &HttpRequest,
    registry: &Registry,
    parts: Parts<'_>,
    version: &str,
    body: &[u8],
    yank: bool,
) -> Result<HttpResponse, ApiError> {
    auth::principal(request, registry).await?;
    let address = address(parts)?;
    let principal = auth::require_publish(request, registry, &address.namespace).await?;
    let version = Version::parse(version)?;
    let reason = if body.is_empty() {
        MarkBody::default()
    } else {
        serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!(
                "the body must be {{\"reason\": \"…\"}} or empty: {error}"
            ))
        })?
    };
    auth::limit_write(request, registry, &principal)?;
    let found = registry
        .mark_module_version(
            &address,
            &version,
            yank,
            &auth::actor(request, &principal),
            reason.reason.as_deref(),
        )
        .await?;
    if !found {
        return Err(ApiError::not_found(format!(
            "{address} has no version {version}"
        )));
    }
    let mut answer = serde_json::Map::new();
    answer.insert("id".into(), json!(format!("{address}/{version}")));
    answer.insert(
        if yank { "yanked" } else { "deprecated" }.into(),
        json!(true),
    );
    Ok(HttpResponse::Ok().json(answer))
}
