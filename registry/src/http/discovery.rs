//! Terraform's service discovery document (`/.well-known/terraform.json`) and the health check.

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

/// Ready when the database answers.
#[get("/healthz")]
pub async fn health(registry: web::Data<Registry>) -> Result<HttpResponse, ApiError> {
    registry.database_answers().await.map_err(|error| {
        tracing::error!(%error, "health check: database unavailable");
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable",
        )
    })?;
    Ok(HttpResponse::Ok().json(quarry_core::api::Health {
        status: "ok".into(),
    }))
}
