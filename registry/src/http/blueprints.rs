//! The blueprint endpoints under `/v1/blueprints/`: list, search, versions, detail, download,
//! `validate` / `render` of inputs against a version, and publishing and the marks (see
//! [`super::artifacts`]).

use super::artifacts::{self, MARK_VERBS};
use super::auth::{Caller, Reader};
use super::error::ApiError;
use super::upload;
use crate::service::Registry;
use crate::service::blueprints::{BlueprintRecord, RenderMode, StackError};
use crate::service::search::Filter;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use quarry_core::address::{ArtifactAddress, BlueprintAddress, Kind, Namespace};
use quarry_core::api;
use quarry_core::version::Version;
use serde::Deserialize;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("", web::get().to(list))
        .route("/", web::get().to(list))
        .route("/search", web::get().to(search))
        .route("/{namespace}", web::get().to(list_namespace))
        .route("/{namespace}/{name}", web::get().to(latest_detail))
        .route("/{namespace}/{name}/versions", web::get().to(versions))
        .route("/{namespace}/{name}/{version}", web::get().to(detail))
        .route("/{namespace}/{name}/{version}", web::post().to(publish))
        .route(
            "/{namespace}/{name}/{version}/download",
            web::get().to(download),
        )
        .route(
            "/{namespace}/{name}/{version}/validate",
            web::post().to(validate),
        )
        .route(
            "/{namespace}/{name}/{version}/render",
            web::post().to(render),
        )
        .route("/{namespace}/{name}/{version}/{verb}", web::post().to(mark));
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    offset: Option<String>,
    limit: Option<String>,
    q: Option<String>,
}

async fn page(
    registry: &Registry,
    namespace: Option<&str>,
    query: &ListQuery,
) -> Result<HttpResponse, ApiError> {
    let (offset, limit) = upload::page_bounds(query.offset.as_deref(), query.limit.as_deref())?;
    let text = upload::search_text(query.q.as_deref())?;
    let filter = Filter {
        kind: Some(Kind::Blueprint),
        namespace: namespace.map(str::to_owned),
        query: text.map(str::to_owned),
        ..Filter::default()
    };
    let page = registry
        .list_artifacts(&filter, offset, limit, false)
        .await?;
    let has_more = page.has_more;
    let blueprints = page
        .items
        .iter()
        .map(|summary| {
            let listed = &summary.listed;
            let address = &listed.artifact.address;
            api::BlueprintSummary {
                id: format!("{address}/{}", listed.latest.version),
                namespace: listed.namespace().to_owned(),
                name: listed.name().to_owned(),
                version: listed.latest.version.to_string(),
                description: listed.artifact.description.clone(),
                published_at: listed.latest.published_at.to_rfc3339(),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(api::BlueprintList {
        meta: api::PageMeta::new(offset, limit, has_more),
        blueprints,
    }))
}

async fn list(
    _: Reader,
    registry: web::Data<Registry>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    page(&registry, None, &query).await
}

async fn search(
    _: Reader,
    registry: web::Data<Registry>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    if query.q.as_deref().is_none_or(|q| q.trim().is_empty()) {
        return Err(ApiError::bad_request("search needs a query: `?q=<text>`"));
    }
    page(&registry, None, &query).await
}

async fn list_namespace(
    _: Reader,
    registry: web::Data<Registry>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let namespace = Namespace::new(&path)?;
    page(&registry, Some(namespace.as_str()), &query).await
}

fn address(namespace: &str, name: &str) -> Result<BlueprintAddress, ApiError> {
    Ok(BlueprintAddress::new(namespace, name)?)
}

async fn versions(
    _: Reader,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let address = ArtifactAddress::Blueprint(address(&path.0, &path.1)?);
    artifacts::versions(&request, &registry, &address, |list| {
        api::BlueprintVersions {
            blueprints: vec![list],
        }
    })
    .await
}

async fn record(
    registry: &Registry,
    namespace: &str,
    name: &str,
    version: Option<&str>,
) -> Result<BlueprintRecord, ApiError> {
    let address = address(namespace, name)?;
    let version = version.map(Version::parse).transpose()?;
    registry
        .find_blueprint(&address, version.as_ref())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(match &version {
                Some(version) => format!("blueprint {address} has no version {version}"),
                None => format!("blueprint {address} not found"),
            })
        })
}

async fn detail_response(
    registry: &Registry,
    record: BlueprintRecord,
) -> Result<HttpResponse, ApiError> {
    let document = registry.blueprint_document(&record).await?;
    let address = &record.artifact().address;
    let version = &record.version;
    let manifest = &document.manifest;
    Ok(HttpResponse::Ok().json(api::BlueprintDetail {
        id: format!("{address}/{}", version.version),
        namespace: address.namespace().to_string(),
        name: address.name().to_string(),
        version: version.version.to_string(),
        description: record.artifact().description.clone(),
        owners: manifest.metadata.owners.clone(),
        tags: manifest.metadata.tags.clone(),
        published_at: version.published_at.to_rfc3339(),
        published_by: version.published_by.clone(),
        deprecated: version.deprecation.is_some(),
        deprecation: artifacts::deprecation(version),
        yanked: version.yanked(),
        archive: api::ArchiveInfo {
            sha256: version.archive.to_hex(),
            size: version.archive_size,
        },
        inputs: manifest.inputs.clone(),
        modules: manifest.modules.clone(),
        policies: manifest.policies.clone(),
        contexts: manifest.contexts.clone(),
        stack: manifest.stack.clone(),
        readme: document.readme.clone(),
        versions: record
            .history
            .visible()
            .map(|version| version.version.to_string())
            .collect(),
    }))
}

async fn latest_detail(
    _: Reader,
    registry: web::Data<Registry>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let record = record(&registry, &path.0, &path.1, None).await?;
    detail_response(&registry, record).await
}

async fn detail(
    _: Reader,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let record = record(&registry, &path.0, &path.1, Some(&path.2)).await?;
    detail_response(&registry, record).await
}

async fn download(
    _: Reader,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let address = ArtifactAddress::Blueprint(address(&path.0, &path.1)?);
    artifacts::download(&registry, &address, &path.2, false).await
}

async fn publish(
    caller: Caller,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let address = ArtifactAddress::Blueprint(address(&path.0, &path.1)?);
    artifacts::publish(&request, &registry, &caller, address, &path.2, None, body).await
}

/// `POST …/{version}/deprecate`, `…/undeprecate`, `…/yank`, `…/unyank`.
async fn mark(
    caller: Caller,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (namespace, name, version, verb) = path.into_inner();
    if !MARK_VERBS.contains(&verb.as_str()) {
        return super::error::not_found(request).await;
    }
    let address = ArtifactAddress::Blueprint(address(&namespace, &name)?);
    artifacts::mark(&request, &registry, &caller, address, &version, &verb, body).await
}

/// The host module sources are written with: the public URL's, else the request's `Host`.
pub(crate) fn registry_host(request: &HttpRequest, registry: &Registry) -> String {
    registry
        .public_url
        .as_deref()
        .and_then(|url| url.split("://").nth(1))
        .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
        .unwrap_or_else(|| request.connection_info().host().to_owned())
}

/// Turns a render failure into `422 {"errors": [{path, message}, …]}`.
fn render_failure(error: StackError) -> ApiError {
    match error {
        StackError::Render(failure) => {
            ApiError::with_details(StatusCode::UNPROCESSABLE_ENTITY, &failure.0)
        }
        other => other.into(),
    }
}

/// Renders (or only validates) the inputs of the request's body against the path's version.
async fn render_inputs(
    request: &HttpRequest,
    registry: &Registry,
    path: &(String, String, String),
    body: web::Payload,
    mode: RenderMode,
) -> Result<(BlueprintRecord, Vec<u8>), ApiError> {
    let inputs = upload::read_inputs(request, body, registry.body_timeout).await?;
    let record = record(registry, &path.0, &path.1, Some(&path.2)).await?;
    let host = registry_host(request, registry);
    let rendered = registry
        .render_blueprint(&record, inputs, &host, mode)
        .await
        .map_err(render_failure)?;
    Ok((record, rendered.packed))
}

async fn validate(
    _: Reader,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    render_inputs(&request, &registry, &path, body, RenderMode::Validate).await?;
    Ok(HttpResponse::Ok().json(api::Valid { valid: true }))
}

async fn render(
    _: Reader,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (record, archive) =
        render_inputs(&request, &registry, &path, body, RenderMode::Pack).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/gzip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}-{}.tar.gz\"",
                record.artifact().address.name(),
                record.version.version
            ),
        ))
        .body(archive))
}
