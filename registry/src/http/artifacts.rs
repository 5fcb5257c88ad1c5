//! The endpoints every kind shares, written once: publish, deprecate / undeprecate / yank /
//! unyank, download, and the versions answer's ETag. `modules` and `blueprints` route to these
//! with the address of their kind.

use super::auth::Caller;
use super::error::ApiError;
use super::upload;
use crate::service::Registry;
use crate::service::artifacts::{Mark, VersionInfo};
use crate::service::publish::PublishRequest;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use quarry_core::address::ArtifactAddress;
use quarry_core::api;
use quarry_core::version::Version;

/// `POST …/{version}` with the `.tar.gz` as the body: 201 with [`api::Published`] and the
/// version's URL in `Location`. `description` overrides a module's README (modules only).
pub async fn publish(
    request: &HttpRequest,
    registry: &Registry,
    caller: &Caller,
    address: ArtifactAddress,
    version: &str,
    description: Option<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = address.kind().as_str();
    let answer = publish_answer(
        request,
        registry,
        caller,
        address,
        version,
        description,
        body,
    )
    .await;
    if let Err(error) = &answer {
        registry
            .metrics
            .rejections
            .get_or_create(&crate::metrics::RejectionLabels {
                kind,
                reason: refusal_reason(error.status()),
            })
            .inc();
    }
    answer
}

/// Why a publish was refused, as a metric label, from its answer's status.
fn refusal_reason(status: actix_web::http::StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_address",
        401 => "unauthenticated",
        403 => "forbidden",
        408 => "upload_stalled",
        409 => "version_exists",
        413 => "too_large",
        415 => "unsupported_media_type",
        422 => "invalid_content",
        429 => "rate_limited",
        503 => "busy",
        500..=599 => "internal",
        _ => "other",
    }
}

async fn publish_answer(
    request: &HttpRequest,
    registry: &Registry,
    caller: &Caller,
    address: ArtifactAddress,
    version: &str,
    description: Option<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.publisher(address.namespace())?;
    let version = Version::parse(version)?;
    caller.limit_write(registry, principal)?;
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
            description: description.filter(|text| !text.trim().is_empty()),
            actor: caller.actor(principal),
        })
        .await?;
    let base = registry.public_url.as_deref().unwrap_or("");
    let collection = match address {
        ArtifactAddress::Module(_) => "modules",
        ArtifactAddress::Blueprint(_) => "blueprints",
        ArtifactAddress::Provider(_) => "providers",
    };
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("{base}/v1/{collection}/{}", published.id),
        ))
        .json(api::Published {
            id: published.id,
            version: published.version,
            archive_sha256: published.archive.to_hex(),
            archive_size: published.archive_size,
        }))
}

/// The largest deprecate or yank body (`{"reason": "…"}`).
const MARK_BODY_LIMIT: u64 = 64 * 1024;

/// The verbs of `POST …/{version}/<verb>`.
pub const MARK_VERBS: [&str; 4] = ["deprecate", "undeprecate", "yank", "unyank"];

/// `POST …/{version}/deprecate` (still listed and installable, flagged in its detail),
/// `…/yank` (gone from `versions`, so terraform no longer picks it, but still downloadable by its
/// exact number so existing configurations keep working), and `…/undeprecate` / `…/unyank`
/// (mistakes happen). Same scope as publishing; an optional [`api::MarkRequest`] body gives the
/// reason (and a deprecation's replacement) for the audit log and the detail.
pub async fn mark(
    request: &HttpRequest,
    registry: &Registry,
    caller: &Caller,
    address: ArtifactAddress,
    version: &str,
    verb: &str,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.publisher(address.namespace())?;
    let version = Version::parse(version)?;
    let body = upload::read_body(
        request,
        body,
        MARK_BODY_LIMIT,
        registry.body_timeout,
        "the body",
    )
    .await?;
    let given: api::MarkRequest = if body.is_empty() {
        api::MarkRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            ApiError::bad_request(format!(
                "the body must be {{\"reason\": \"…\"}} or empty: {error}"
            ))
        })?
    };
    let mark = match verb {
        "deprecate" => Mark::Deprecate {
            reason: given.reason,
            replacement: given.replacement,
        },
        "undeprecate" => Mark::Undeprecate,
        "yank" => Mark::Yank {
            reason: given.reason,
        },
        _ => Mark::Unyank,
    };
    caller.limit_write(registry, principal)?;
    let marked = registry
        .mark(&address, &version, mark, &caller.actor(principal))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("{} has no version {version}", address.subject()))
        })?;
    let deprecation_verb = verb.ends_with("deprecate");
    Ok(HttpResponse::Ok().json(api::Marked {
        id: format!("{address}/{}", marked.version),
        deprecated: deprecation_verb.then_some(marked.deprecation.is_some()),
        yanked: (!deprecation_verb).then_some(marked.yanked()),
    }))
}

/// `GET …/{version}/download`: 204 with `X-Terraform-Get` naming the archive, the one answer
/// every terraform and tofu client accepts; the archive URL carries its checksum (modules, which
/// terraform verifies) and is signed when reads need a token.
pub async fn download(
    registry: &Registry,
    address: &ArtifactAddress,
    version: &str,
    with_checksum: bool,
) -> Result<HttpResponse, ApiError> {
    let version = Version::parse(version)?;
    let resolved = registry
        .resolve_download(address, &version)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("{} has no version {version}", address.subject()))
        })?;
    let digest = resolved.archive;
    let mut url = registry.archive_url(&digest);
    if with_checksum {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("checksum=sha256:{}", digest.to_hex()));
    }
    registry.record_download(resolved.version_id);
    Ok(HttpResponse::NoContent()
        .insert_header(("X-Terraform-Get", url))
        .finish())
}

/// Answers a `versions` request: 304 when the client's `If-None-Match` holds the tag, else the
/// body `body` gives with the tag, revalidated on every use (`no-cache`).
fn versions_answer(
    request: &HttpRequest,
    etag: &str,
    body: impl FnOnce() -> Result<bytes::Bytes, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let revalidated = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    if revalidated {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag.to_owned()))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::ETAG, etag.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body()?))
}

/// `GET …/versions` of any kind: 404 for an unknown artifact, else the versions clients may
/// choose from, in the answer `body` makes of the list (each kind names its key), with its ETag.
/// The serialized answer is kept with the cached list (an address is of one kind, so `body` is
/// the same for every request of it).
pub async fn versions<T: serde::Serialize>(
    request: &HttpRequest,
    registry: &Registry,
    address: &ArtifactAddress,
    body: impl FnOnce(api::VersionList) -> T,
) -> Result<HttpResponse, ApiError> {
    let visible = registry
        .visible_versions(address)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} not found", address.subject_of_kind())))?;
    versions_answer(request, &visible.etag, || {
        if let Some(answer) = visible.answer.get() {
            return Ok(answer.clone());
        }
        let list = api::VersionList {
            source: address.to_string(),
            versions: visible
                .versions
                .iter()
                .map(|version| api::VersionEntry {
                    version: version.to_string(),
                })
                .collect(),
        };
        let answer = serde_json::to_vec(&body(list)).map_err(|error| ApiError::internal(&error))?;
        Ok(visible.answer.get_or_init(|| answer.into()).clone())
    })
}

/// A deprecation as the API shows it.
pub fn deprecation(version: &VersionInfo) -> Option<api::Deprecation> {
    version
        .deprecation
        .as_ref()
        .map(|deprecation| api::Deprecation {
            reason: deprecation.reason.clone(),
            replacement: deprecation.replacement.clone(),
        })
}
