//! What every list and every upload share: page bounds and `meta` in the public registry's
//! shape, and reading an archive body within the size limit.

use super::error::ApiError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::Value;

const DEFAULT_PAGE: u64 = 15;
const MAX_PAGE: u64 = 100;

/// Offset and limit of a listing from the query's text: whole numbers, named in errors; the
/// limit defaults to 15 and is capped at 100, the offset at what the database can count to.
pub fn page_bounds(offset: Option<&str>, limit: Option<&str>) -> Result<(u64, u64), ApiError> {
    let number = |name: &str, text: Option<&str>| -> Result<Option<u64>, ApiError> {
        text.map(|text| {
            text.trim().parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "`{name}` must be a whole number from 0 to {}, not `{}`",
                    u64::MAX,
                    text.chars().take(40).collect::<String>()
                ))
            })
        })
        .transpose()
    };
    let offset = number("offset", offset)?.unwrap_or(0).min(i64::MAX as u64);
    let limit = number("limit", limit)?
        .unwrap_or(DEFAULT_PAGE)
        .clamp(1, MAX_PAGE);
    Ok((offset, limit))
}

/// Refuses a search text with control characters (a NUL would end the pattern early in SQLite).
pub fn search_text(q: Option<&str>) -> Result<Option<&str>, ApiError> {
    match q {
        Some(text) if text.chars().any(char::is_control) => Err(ApiError::bad_request(
            "search query `q` must not contain control characters",
        )),
        Some(text) if text.len() > 256 => Err(ApiError::bad_request(
            "search query `q` is longer than 256 characters",
        )),
        other => Ok(other),
    }
}

const ARCHIVE_TYPES: [&str; 5] = [
    "application/gzip",
    "application/x-gzip",
    "application/x-tar+gzip",
    "application/x-compressed-tar",
    "application/octet-stream",
];

/// Reads a body, refusing it (413) as soon as it passes `limit` bytes, whether the client
/// declared its length or not, and (408) when it stalls longer than `stall` between chunks.
/// Reads a request body of at most `limit` bytes (`what` names it in errors), failing when the
/// client stalls for longer than `stall` between two chunks.
pub async fn read_body(
    request: &HttpRequest,
    mut body: web::Payload,
    limit: u64,
    stall: std::time::Duration,
    what: &str,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what} is larger than the limit of {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut buffer = BytesMut::with_capacity(declared.unwrap_or(64 * 1024).min(limit) as usize);
    loop {
        let Ok(next) = tokio::time::timeout(stall, body.next()).await else {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the upload stalled for more than {} s", stall.as_secs()),
            ));
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|error| {
            ApiError::bad_request(format!("the upload was interrupted: {error}"))
        })?;
        if (buffer.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

/// Reads an uploaded `.tar.gz`: a gzip (or unspecified) content type, at most `limit` bytes,
/// not empty.
pub async fn read_archive(
    request: &HttpRequest,
    body: web::Payload,
    limit: u64,
    stall: std::time::Duration,
) -> Result<Bytes, ApiError> {
    if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !ARCHIVE_TYPES.contains(&essence.as_str()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "content type `{}` is not accepted: send the .tar.gz with \
                     `Content-Type: application/gzip`",
                    essence.chars().take(80).collect::<String>()
                ),
            ));
        }
    }
    let archive = read_body(request, body, limit, stall, "the archive").await?;
    if archive.is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty: send the .tar.gz archive as the request body",
        ));
    }
    Ok(archive)
}

/// The largest inputs document accepted by validate and render.
pub const MAX_INPUTS_BYTES: u64 = 1 << 20;

/// Reads an inputs document: a JSON object of at most 1 MiB.
pub async fn read_inputs(
    request: &HttpRequest,
    body: web::Payload,
    stall: std::time::Duration,
) -> Result<Value, ApiError> {
    let bytes = read_body(
        request,
        body,
        MAX_INPUTS_BYTES,
        stall,
        "the inputs document",
    )
    .await?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|error| {
        ApiError::bad_request(format!("the body must be a JSON object of inputs: {error}"))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the body must be a JSON object of inputs",
        ));
    }
    let depth = quarry_core::inputs::depth(&value);
    if depth > quarry_core::inputs::MAX_DEPTH {
        return Err(ApiError::bad_request(format!(
            "the inputs nest {depth} levels deep, more than the limit of {}",
            quarry_core::inputs::MAX_DEPTH
        )));
    }
    Ok(value)
}
