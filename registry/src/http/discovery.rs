//! Terraform's service discovery document (`/.well-known/terraform.json`) and the health checks.

use super::error::ApiError;
use crate::service::Registry;
use actix_web::{HttpResponse, get, web};

#[get("/.well-known/terraform.json")]
pub async fn discovery(registry: web::Data<Registry>) -> HttpResponse {
    HttpResponse::Ok().json(quarry_core::api::Discovery {
        modules_v1: "/v1/modules/".into(),
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
