//! The blueprint endpoints under `/v1/blueprints/`: list, search, versions, detail, download,
//! publish, and `validate` / `render` of inputs against a version.

use super::error::ApiError;
use super::{auth, upload};
use crate::service::Registry;
use crate::service::blueprints::{BlueprintError, BlueprintRecord, RenderMode};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use quarry_core::address::{ModuleName, Namespace};
use quarry_core::version::Version;
use serde::Deserialize;
use serde_json::{Value, json};

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
        .route("/{namespace}/{name}/{version}/yank", web::post().to(yank));
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
    let (summaries, has_more) = registry
        .list_blueprints(namespace, text, offset, limit)
        .await?;
    let meta = upload::page_meta(offset, limit, has_more);
    let items: Vec<Value> = summaries
        .iter()
        .map(|summary| {
            json!({
                "id": format!("{}/{}/{}", summary.blueprint.namespace, summary.blueprint.name, summary.latest.version),
                "namespace": summary.blueprint.namespace,
                "name": summary.blueprint.name,
                "version": summary.latest.version,
                "description": summary.blueprint.description,
                "published_at": summary.latest.published_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "meta": meta, "blueprints": items })))
}

async fn list(
    request: HttpRequest,
    registry: web::Data<Registry>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(&request, &registry).await?;
    page(&registry, None, &query).await
}

async fn search(
    request: HttpRequest,
    registry: web::Data<Registry>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(&request, &registry).await?;
    if query.q.as_deref().is_none_or(|q| q.trim().is_empty()) {
        return Err(ApiError::bad_request("search needs a query: `?q=<text>`"));
    }
    page(&registry, None, &query).await
}

async fn list_namespace(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(&request, &registry).await?;
    let namespace = Namespace::new(&path)?;
    page(&registry, Some(namespace.as_str()), &query).await
}

fn address(namespace: &str, name: &str) -> Result<(Namespace, ModuleName), ApiError> {
    Ok((Namespace::new(namespace)?, ModuleName::new(name)?))
}

async fn versions(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(&request, &registry).await?;
    let (namespace, name) = address(&path.0, &path.1)?;
    let versions = registry
        .blueprint_versions(namespace.as_str(), name.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("blueprint {namespace}/{name} not found")))?;
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| json!({ "version": version.to_string() }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "blueprints": [{ "source": format!("{namespace}/{name}"), "versions": versions }] })))
}

async fn record(
    registry: &Registry,
    namespace: &str,
    name: &str,
    version: Option<&str>,
) -> Result<BlueprintRecord, ApiError> {
    let (namespace, name) = address(namespace, name)?;
    let version = version.map(Version::parse).transpose()?;
    registry
        .find_blueprint(namespace.as_str(), name.as_str(), version.as_ref())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(match &version {
                Some(version) => format!("blueprint {namespace}/{name} has no version {version}"),
                None => format!("blueprint {namespace}/{name} not found"),
            })
        })
}

async fn detail_response(
    registry: &Registry,
    record: BlueprintRecord,
) -> Result<HttpResponse, ApiError> {
    let stored = registry.blueprint_document(&record).await?;
    let manifest = &stored["manifest"];
    let versions = registry
        .blueprint_versions(&record.blueprint.namespace, &record.blueprint.name)
        .await?
        .unwrap_or_default();
    let head = &record.head;
    Ok(HttpResponse::Ok().json(json!({
        "id": format!("{}/{}", record.address(), head.version),
        "namespace": record.blueprint.namespace,
        "name": record.blueprint.name,
        "version": head.version,
        "description": record.blueprint.description,
        "owners": manifest["metadata"]["owners"],
        "tags": manifest["metadata"]["tags"],
        "published_at": head.published_at.to_rfc3339(),
        "published_by": head.published_by,
        "archive": { "sha256": head.archive_sha256, "size": head.archive_size },
        "inputs": manifest["inputs"],
        "modules": manifest["modules"],
        "policies": manifest["policies"],
        "contexts": manifest["contexts"],
        "stack": manifest["stack"],
        "readme": stored["readme"],
        "versions": versions.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })))
}

async fn latest_detail(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(&request, &registry).await?;
    let record = record(&registry, &path.0, &path.1, None).await?;
    detail_response(&registry, record).await
}

async fn detail(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(&request, &registry).await?;
    let record = record(&registry, &path.0, &path.1, Some(&path.2)).await?;
    detail_response(&registry, record).await
}

async fn download(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(&request, &registry).await?;
    let record = record(&registry, &path.0, &path.1, Some(&path.2)).await?;
    let digest = quarry_core::digest::Sha256::from_hex(&record.head.archive_sha256)
        .map_err(|error| ApiError::internal(&error))?;
    Ok(HttpResponse::NoContent()
        .insert_header(("X-Terraform-Get", registry.archive_url(&digest)))
        .finish())
}

async fn publish(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth::principal(&request, &registry).await?;
    let (namespace, name) = address(&path.0, &path.1)?;
    let principal = auth::require_publish(&request, &registry, &namespace).await?;
    let version = Version::parse(&path.2)?;
    auth::limit_write(&request, &registry, &principal)?;
    let archive = upload::read_archive(
        &request,
        body,
        registry.max_archive_bytes,
        registry.body_timeout,
    )
    .await?;
    let published = registry
        .publish_blueprint(
            &namespace,
            &name,
            &version,
            archive,
            &auth::actor(&request, &principal),
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/blueprints/{}", published.id)))
        .json(published))
}

/// The host module sources are written with: the public URL's, else the request's `Host`.
fn registry_host(request: &HttpRequest, registry: &Registry) -> String {
    registry
        .public_url
        .as_deref()
        .and_then(|url| url.split("://").nth(1))
        .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
        .unwrap_or_else(|| request.connection_info().host().to_owned())
}

/// Turns a render failure into `422 {"errors": [{path, message}, …]}`.
fn render_failure(error: BlueprintError) -> ApiError {
    match error {
        BlueprintError::Render(failure) => {
            ApiError::with_details(StatusCode::UNPROCESSABLE_ENTITY, &failure.0)
        }
        other => other.into(),
    }
}

async fn validate(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(&request, &registry).await?;
    let inputs = upload::read_inputs(&request, body, registry.body_timeout).await?;
    let record = record(&registry, &path.0, &path.1, Some(&path.2)).await?;
    let host = registry_host(&request, &registry);
    registry
        .render_blueprint(&record, inputs, &host, RenderMode::Validate)
        .await
        .map_err(render_failure)?;
    Ok(HttpResponse::Ok().json(json!({ "valid": true })))
}

async fn render(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth::require_read(&request, &registry).await?;
    let inputs = upload::read_inputs(&request, body, registry.body_timeout).await?;
    let record = record(&registry, &path.0, &path.1, Some(&path.2)).await?;
    let host = registry_host(&request, &registry);
    let archive = registry
        .render_blueprint(&record, inputs, &host, RenderMode::Pack)
        .await
        .map_err(render_failure)?;
    Ok(HttpResponse::Ok()
        .content_type("application/gzip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}-{}.tar.gz\"",
                record.blueprint.name, record.head.version
            ),
        ))
        .body(archive))
}

/// The largest yank body (`{"reason": "…"}`).
const YANK_BODY_LIMIT: u64 = 64 * 1024;

/// `POST …/{version}/yank`: gone from `versions`, still downloadable by its exact number.
async fn yank(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth::principal(&request, &registry).await?;
    let (namespace, _) = address(&path.0, &path.1)?;
    let principal = auth::require_publish(&request, &registry, &namespace).await?;
    let body = upload::read_body(
        &request,
        body,
        YANK_BODY_LIMIT,
        registry.body_timeout,
        "the body",
    )
    .await?;
    let reason = if body.is_empty() {
        None
    } else {
        let value: Value = serde_json::from_slice(&body).map_err(|error| {
            ApiError::bad_request(format!(
                "the body must be {{\"reason\": \"…\"}} or empty: {error}"
            ))
        })?;
        value["reason"].as_str().map(str::to_owned)
    };
    auth::limit_write(&request, &registry, &principal)?;
    let record = record(&registry, &path.0, &path.1, Some(&path.2)).await?;
    registry
        .yank_blueprint(
            &record,
            &auth::actor(&request, &principal),
            reason.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "id": format!("{}/{}", record.address(), record.version), "yanked": true })))
}
