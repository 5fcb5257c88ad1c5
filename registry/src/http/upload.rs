//! What every list and every upload share: page bounds and `meta` in the public registry's
//! shape, and reading an archive body within the size limit.

use super::error::ApiError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::{Value, json};

const DEFAULT_PAGE: u64 = 15;
const MAX_PAGE: u64 = 100;

/// Offset and limit of a listing; the limit defaults to 15 and is capped at 100.
pub fn page_bounds(offset: Option<u64>, limit: Option<u64>) -> (u64, u64) {
    (
        offset.unwrap_or(0),
        limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE),
    )
}

/// The listing's `meta`: `limit`, `current_offset`, and `next_offset`/`prev_offset` when there
/// are such pages.
pub fn page_meta(offset: u64, limit: u64, has_more: bool) -> Value {
    let mut meta = json!({ "limit": limit, "current_offset": offset });
    if has_more {
        meta["next_offset"] = json!(offset + limit);
    }
    if offset > 0 {
        meta["prev_offset"] = json!(offset.saturating_sub(limit));
    }
    meta
}

/// Reads an uploaded archive, refusing it (413) as soon as it passes `limit` bytes, whether the
/// client declared its length or not, and refusing an empty body (400).
pub async fn read_archive(
    request: &HttpRequest,
    mut body: web::Payload,
    limit: u64,
    stall: std::time::Duration,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the archive is larger than the limit of {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut archive = BytesMut::with_capacity(declared.unwrap_or(64 * 1024).min(limit) as usize);
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
        if (archive.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        archive.extend_from_slice(&chunk);
    }
    if archive.is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty: send the .tar.gz archive as the request body",
        ));
    }
    Ok(archive.freeze())
}
