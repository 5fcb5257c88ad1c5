//! The HTTP surface: routes, one file per resource. Handlers parse requests and shape responses;
//! the decisions are the service layer's.

pub mod archives;
pub mod artifacts;
pub mod audit;
pub mod auth;
pub mod blueprints;
pub mod discovery;
pub mod error;
pub mod mirror;
pub mod modules;
pub mod openapi;
pub mod providers;
pub mod stacks;
pub mod upload;

use crate::service::Registry;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use error::ApiError;

/// Registers every route and the JSON error handlers for malformed paths and query strings.
pub fn configure(registry: Registry) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config: &mut web::ServiceConfig| {
        config
            .app_data(web::Data::new(registry))
            .app_data(web::QueryConfig::default().error_handler(|error, _| {
                ApiError::bad_request(format!("invalid query string: {error}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|error, _| {
                ApiError::bad_request(format!("invalid path: {error}")).into()
            }))
            .app_data(
                web::FormConfig::default()
                    .limit(crate::ui::MAX_FORM_BYTES)
                    .error_handler(|error, _| {
                        crate::ui::UiError::bad_request(format!(
                            "The form could not be read: {error}."
                        ))
                        .into()
                    }),
            )
            .service(discovery::discovery)
            .service(discovery::health)
            .service(discovery::ready)
            .service(discovery::metrics)
            .service(openapi::serve)
            .service(web::scope("/v1/modules").configure(modules::routes))
            .service(web::scope("/v1/blueprints").configure(blueprints::routes))
            .service(web::scope("/v1/providers").configure(providers::routes))
            .service(web::scope("/v1/mirror").configure(mirror::routes))
            .service(web::scope("/v1/archives").configure(archives::routes))
            .service(web::scope("/v1/stacks").configure(stacks::routes))
            .route("/v1/audit", web::get().to(audit::list))
            .configure(crate::ui::routes)
            .default_service(web::to(crate::ui::not_found));
    }
}

/// Refuses a request whose headers (names and values, with the request target) exceed the
/// configured size with 431, before any handler runs.
pub async fn limit_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(registry) = request.app_data::<web::Data<Registry>>() {
        let uri = request.uri();
        let size: usize = uri
            .path_and_query()
            .map_or(0, |target| target.as_str().len())
            + uri
                .authority()
                .map_or(0, |authority| authority.as_str().len())
            + request
                .headers()
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len() + 4)
                .sum::<usize>();
        if size > registry.max_header_bytes {
            return Err(ApiError::new(
                actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!(
                    "the request's headers are larger than the limit of {} bytes",
                    registry.max_header_bytes
                ),
            )
            .into());
        }
    }
    next.call(request).await
}

/// The route a hand-written dispatcher chose (`/v1/modules`, whose paths actix's router never
/// matches), as a pattern for the metrics.
pub struct RoutePattern(pub &'static str);

/// Requests slower than this are always logged.
const SLOW_REQUEST: std::time::Duration = std::time::Duration::from_secs(1);

/// Counts every request in the metrics, and logs requests: every one with `--access-log`,
/// otherwise only those an operator must see — server errors, refused writes (4xx to anything
/// but GET and HEAD, except 429: a client over its rate limit would otherwise write a line per
/// request it floods with) and requests slower than [`SLOW_REQUEST`]. Off by default because a
/// busy registry logs millions of lines an hour; `/metrics` carries the per-request signal. A line holds the method, the path
/// (never the query string, which may hold a signature), status, duration, the client address
/// and the request id the response carries in `x-request-id`. Headers, and so tokens, are never
/// logged.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let every = request
        .app_data::<web::Data<Registry>>()
        .is_some_and(|registry| registry.access_log);
    let id = request_id();
    let mut response = next.call(request).await?;
    response.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("x-request-id"),
        actix_web::http::header::HeaderValue::from_str(&id)
            .expect("a request id is hex, a valid header value"),
    );
    let elapsed = started.elapsed();
    let status = response.status();
    if let Some(registry) = response.request().app_data::<web::Data<Registry>>() {
        let request = response.request();
        let dispatched = request
            .extensions()
            .get::<RoutePattern>()
            .map(|route| route.0);
        let matched = match dispatched {
            Some(route) => std::borrow::Cow::Borrowed(route),
            None => request.match_pattern().map_or(
                std::borrow::Cow::Borrowed("unmatched"),
                std::borrow::Cow::Owned,
            ),
        };
        registry.metrics.request(
            &matched,
            request.method().as_str(),
            status.as_u16(),
            elapsed.as_secs_f64(),
        );
    }
    let read = matches!(response.request().method().as_str(), "GET" | "HEAD");
    let refused_write = status.is_client_error()
        && status != actix_web::http::StatusCode::TOO_MANY_REQUESTS
        && !read;
    if !(every || status.is_server_error() || refused_write || elapsed >= SLOW_REQUEST) {
        return Ok(response);
    }
    let request = response.request();
    let method = request.method().as_str();
    let path = request.path();
    let peer = request
        .peer_addr()
        .map(|address| address.ip().to_string())
        .unwrap_or_default();
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let status = status.as_u16();
    if status >= 500 {
        tracing::error!(
            id,
            method,
            path,
            status,
            duration_ms,
            peer,
            "request failed"
        );
    } else if refused_write || elapsed >= SLOW_REQUEST {
        let what = if refused_write {
            "write refused"
        } else {
            "slow request"
        };
        tracing::warn!(id, method, path, status, duration_ms, peer, "{what}");
    } else {
        tracing::info!(id, method, path, status, duration_ms, peer, "request");
    }
    Ok(response)
}

/// A request id: 16 random hex digits, enough to find one request's lines.
fn request_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The percent-decoded segments of the path left after a scope (`1.0.0%2Bbuild` is
/// `1.0.0+build`), for a dispatcher that routes by their shape; `None` when one is empty.
pub(crate) fn tail_segments(
    request: &actix_web::HttpRequest,
) -> Option<Vec<std::borrow::Cow<'_, str>>> {
    let tail = request.match_info().unprocessed();
    let tail = tail.strip_prefix('/').unwrap_or(tail);
    if tail.is_empty() {
        return Some(Vec::new());
    }
    let segments: Vec<_> = tail
        .split('/')
        .map(|segment| percent_encoding::percent_decode_str(segment).decode_utf8_lossy())
        .collect();
    (!segments.iter().any(|segment| segment.is_empty())).then_some(segments)
}

/// The caller of a request a dispatcher routed as `pattern`: the pattern noted for the metrics
/// (actix's router never saw it), the token resolved once, before anything else is looked at
/// (a bad token is refused first), and a read refused to a caller that may not read.
pub(crate) async fn routed_caller(
    request: &actix_web::HttpRequest,
    registry: &Registry,
    pattern: &'static str,
) -> Result<auth::Caller, error::ApiError> {
    actix_web::HttpMessage::extensions_mut(request).insert(RoutePattern(pattern));
    let caller = auth::Caller::of(request, registry).await?;
    if request.method() == actix_web::http::Method::GET {
        caller.reader()?;
    }
    Ok(caller)
}
