//! Terraform's service discovery document (`/.well-known/terraform.json`) and the health checks.

use super::error::ApiError;
use crate::service::Registry;
use actix_web::{HttpResponse, get, web};

#[get("/.well-known/terraform.json")]
pub async fn discovery(registry: web::Data<Registry>) -> HttpResponse {
    HttpResponse::Ok().json(quarry_core::api::Discovery {
        modules_v1: "/v1/modules/".into(),
        providers_v1: Some("/v1/providers/".into()),
        stacks_v1: registry.stack_inventory.then(|| "/v1/stacks/".into()),
    })
}

/// Alive: the process answers requests. Says nothing about the stores (that is `/readyz`), so a
/// database outage does not get every replica restarted.
#[get("/healthz")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(quarry_core::api::Health {
        status: "ok".into(),
    })
}

/// Ready to serve: the database answers and the object store lets us list archives.
#[get("/readyz")]
pub async fn ready(registry: web::Data<Registry>) -> Result<HttpResponse, ApiError> {
    let unavailable = |what: &str| {
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} unavailable"),
        )
    };
    registry.database_answers().await.map_err(|error| {
        tracing::error!(%error, "readiness check: database unavailable");
        unavailable("database")
    })?;
    registry.storage.check().await.map_err(|error| {
        tracing::error!(%error, "readiness check: storage unavailable");
        unavailable("storage")
    })?;
    Ok(HttpResponse::Ok().json(quarry_core::api::Health {
        status: "ok".into(),
    }))
}

/// The metrics in Prometheus' text format (see [`crate::metrics`]). Open like the health checks:
/// they hold counts and timings, never names of modules or tokens; keep the path internal at the
/// load balancer when even those must not be public.
#[get("/metrics")]
pub async fn metrics(registry: web::Data<Registry>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(registry.metrics.encode(registry.pool_state()))
}
