//! `GET|HEAD /v1/archives/<sha256>.tar.gz` (and a provider's `.zip`, `SHA256SUMS` as `.txt`
//! and its signature as `.sig`): immutable, content-addressed files, streamed with
//! `ETag`, `Range` and long-lived caching. With token reads, the URL must carry a valid signature
//! (terraform sends no token here) or the request a token that may read.

use super::auth::Caller;
use super::error::ApiError;
use crate::config::ReadAccess;
use crate::service::Registry;
use crate::service::signing::now_unix;
use actix_web::body::SizedStream;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use quarry_core::digest::Sha256;
use serde::Deserialize;
use std::ops::Range;

pub fn routes(config: &mut web::ServiceConfig) {
    config.route(
        "/{file}",
        web::route()
            .guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
            .to(archive),
    );
}

/// The names a stored file is served under, and the content type each gives it.
const FILE_TYPES: [(&str, &str); 4] = [
    (".tar.gz", "application/gzip"),
    (".zip", "application/zip"),
    (".txt", "text/plain; charset=utf-8"),
    (".sig", "application/pgp-signature"),
];

#[derive(Debug, Deserialize)]
pub struct SignedQuery {
    exp: Option<String>,
    sig: Option<String>,
}

/// What a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    Whole,
    Part(Range<u64>),
    Unsatisfiable,
}

/// Parses a single `bytes=` range against the object's size. Multiple ranges and unknown units
/// are answered with the whole object, as RFC 9110 allows.
fn parse_range(header_value: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header_value.and_then(|value| value.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Unsatisfiable;
    };
    let parsed = match (start.trim(), end.trim()) {
        ("", suffix) => suffix
            .parse::<u64>()
            .ok()
            .filter(|length| *length > 0 && size > 0)
            .map(|length| size.saturating_sub(length)..size),
        (start, "") => start
            .parse::<u64>()
            .ok()
            .filter(|s| *s < size)
            .map(|s| s..size),
        (start, end) => match (start.parse::<u64>(), end.parse::<u64>()) {
            // `end` may be any u64 (`bytes=0-18446744073709551615`): it is clamped, never
            // incremented past the type.
            (Ok(start), Ok(end)) if start <= end && start < size => {
                Some(start..end.min(size - 1) + 1)
            }
            _ => None,
        },
    };
    parsed.map_or(RangeRequest::Unsatisfiable, RangeRequest::Part)
}

async fn archive(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<String>,
    query: web::Query<SignedQuery>,
) -> Result<HttpResponse, ApiError> {
    let (digest, content_type) = FILE_TYPES
        .iter()
        .find_map(|(suffix, content_type)| {
            let hex = path.strip_suffix(suffix)?;
            Some((Sha256::from_hex(hex).ok()?, *content_type))
        })
        .ok_or_else(|| {
            ApiError::not_found("archive names are <sha256>.tar.gz (or .zip, .txt, .sig)")
        })?;
    if registry.read_access == ReadAccess::Token {
        let signed = registry.signer.verify(
            &digest,
            query.exp.as_deref(),
            query.sig.as_deref(),
            now_unix(),
        );
        if let Err(signature_error) = signed {
            // A token that may read is as good as a signature.
            let has_reader = matches!(
                Caller::of(&request, &registry).await,
                Ok(caller) if caller.holds_reader()
            );
            if !has_reader {
                return Err(signature_error.into());
            }
        }
    }

    if let Some(ttl) = registry.archive_redirect
        && let Some(signed) = registry.storage.presigned_url(&digest, ttl).await
    {
        let location = signed?;
        return Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }

    let etag = format!("\"{}\"", digest.to_hex());
    let cache_control = match registry.read_access {
        ReadAccess::Public => "public, max-age=31536000, immutable",
        ReadAccess::Token => "private, max-age=31536000, immutable",
    };
    let not_modified = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let size = registry
        .storage
        .archive_size(&digest)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no archive {}", digest.to_hex())))?;
    if not_modified {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish());
    }

    let range_header = request
        .headers()
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok());
    let (status, range) = match parse_range(range_header, size) {
        RangeRequest::Whole => (StatusCode::OK, None),
        RangeRequest::Part(range) => (StatusCode::PARTIAL_CONTENT, Some(range)),
        RangeRequest::Unsatisfiable => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .insert_header((header::ACCEPT_RANGES, "bytes"))
                .json(serde_json::json!({ "errors": [format!("range `{}` is outside the archive's {size} bytes", range_header.unwrap_or_default().chars().take(80).collect::<String>())] })));
        }
    };

    let mut response = HttpResponse::build(status);
    response
        .content_type(content_type)
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
    if let Some(range) = &range {
        response.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", range.start, range.end - 1),
        ));
    }
    if request.method() == Method::HEAD {
        let length = range.map_or(size, |range| range.end - range.start);
        // Sized but empty: the HTTP/1 encoder writes the length and, for HEAD, never a body.
        let nothing = futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
        return Ok(response.body(SizedStream::new(length, nothing)));
    }
    let read = registry
        .storage
        .read_archive(&digest, range)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no archive {}", digest.to_hex())))?;
    let length = read.range.end - read.range.start;
    Ok(response.body(SizedStream::new(length, read.body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_forms_are_parsed_against_the_size() {
        use RangeRequest::*;
        let cases: &[(Option<&str>, RangeRequest)] = &[
            (None, Whole),
            (Some("bytes=0-9"), Part(0..10)),
            (Some("bytes=5-"), Part(5..100)),
            (Some("bytes=-10"), Part(90..100)),
            (Some("bytes=-1000"), Part(0..100)),
            (Some("bytes=90-1000"), Part(90..100)),
            (Some("bytes=0-0"), Part(0..1)),
            (Some("bytes=100-"), Unsatisfiable),
            (Some("bytes=100-200"), Unsatisfiable),
            (Some("bytes=9-3"), Unsatisfiable),
            (Some("bytes=x-y"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=0-1,5-6"), Whole),
            (Some("items=0-1"), Whole),
            (Some("bytes=0-18446744073709551615"), Part(0..100)),
            (Some("bytes=99-18446744073709551615"), Part(99..100)),
            (Some("bytes=18446744073709551615-"), Unsatisfiable),
            (Some("bytes=-18446744073709551615"), Part(0..100)),
            (Some("bytes=18446744073709551616-"), Unsatisfiable),
        ];
        for (header_value, expected) in cases {
            assert_eq!(
                &parse_range(*header_value, 100),
                expected,
                "{header_value:?}"
            );
        }
    }
}
