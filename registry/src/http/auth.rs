//! Who is calling: the bearer token of a request, checked against the token store.

use super::error::ApiError;
use crate::config::ReadAccess;
use crate::service::Registry;
use crate::service::tokens::{self, Principal};
use actix_web::HttpRequest;
use actix_web::http::header;
use quarry_core::address::Namespace;

fn bearer(request: &HttpRequest) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The request's principal when it presents a token; an invalid or revoked token is refused even
/// where none is needed, so a client learns its token is bad.
pub async fn principal(
    request: &HttpRequest,
    registry: &Registry,
) -> Result<Option<Principal>, ApiError> {
    match bearer(request) {
        None => Ok(None),
        Some(token) => Ok(Some(tokens::authenticate(&registry.db, token).await?)),
    }
}

/// Allows a read: always with public reads, else with a token that may read.
pub async fn require_read(request: &HttpRequest, registry: &Registry) -> Result<(), ApiError> {
    let presented = principal(request, registry).await?;
    if registry.read_access == ReadAccess::Public {
        return Ok(());
    }
    match presented {
        Some(principal) if principal.can_read() => Ok(()),
        Some(principal) => Err(ApiError::forbidden(format!(
            "token `{}` may not read modules; it needs the `read` scope",
            principal.token_name
        ))),
        None => Err(ApiError::unauthorized(
            "this registry requires a token to read modules: send `Authorization: Bearer <token>` \
             (for terraform, set TF_TOKEN_<host> or run `terraform login`)",
        )),
    }
}

/// Requires a token that may publish in `namespace`.
pub async fn require_publish(
    request: &HttpRequest,
    registry: &Registry,
    namespace: &Namespace,
) -> Result<Principal, ApiError> {
    let Some(principal) = principal(request, registry).await? else {
        return Err(ApiError::unauthorized(
            "publishing needs a token: send `Authorization: Bearer <token>`",
        ));
    };
    if principal.can_publish(namespace) {
        Ok(principal)
    } else {
        Err(ApiError::forbidden(format!(
            "token `{}` may not publish in namespace `{namespace}`; it needs the scope \
             `publish:{namespace}`, `publish:*` or `admin`",
            principal.token_name
        )))
    }
}

/// The audit actor of a request: the token's name and the client's address (the connection's
/// peer; behind a proxy, the proxy's address).
pub fn actor(request: &HttpRequest, principal: &Principal) -> crate::service::audit::Actor {
    crate::service::audit::Actor {
        name: principal.token_name.clone(),
        source: request
            .peer_addr()
            .map(|address| address.ip().to_string())
            .unwrap_or_else(|| "unknown".into()),
    }
}

/// Counts a write against the token's and the address's limits: 429 with `Retry-After` beyond.
pub fn limit_write(
    request: &HttpRequest,
    registry: &Registry,
    principal: &Principal,
) -> Result<(), ApiError> {
    let address = request
        .peer_addr()
        .map(|address| address.ip().to_string())
        .unwrap_or_default();
    registry
        .write_limiter
        .check(&principal.token_name, &address, std::time::Instant::now())
        .map_err(|retry| ApiError::too_many_requests(retry.0))
}
