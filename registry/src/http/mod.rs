//! The HTTP surface: routes, one file per resource. Handlers parse requests and shape responses;
//! the decisions are the service layer's.

pub mod archives;
pub mod artifacts;
pub mod audit;
pub mod auth;
pub mod blueprints;
pub mod discovery;
pub mod error;
pub mod modules;
pub mod stacks;
pub mod upload;

use crate::service::Registry;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
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
            .service(web::scope("/v1/modules").configure(modules::routes))
            .service(web::scope("/v1/blueprints").configure(blueprints::routes))
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

/// Logs one line per request: method, path (never the query string, which may hold a signature),
/// status and duration. Headers, and so tokens, are never logged.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !tracing::enabled!(tracing::Level::INFO) {
        // Access logging is off: nothing to gather.
        return next.call(request).await;
    }
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let path = request.path().to_owned();
    let peer = request
        .peer_addr()
        .map(|address| address.ip().to_string())
        .unwrap_or_default();
    let response = next.call(request).await?;
    tracing::info!(
        method,
        path,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        peer,
        "request"
    );
    Ok(response)
}
