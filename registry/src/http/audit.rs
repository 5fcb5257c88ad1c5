//! `GET /v1/audit`: the audit log, newest first, for `admin` tokens. Filters: `actor`, `action`,
//! `target` (a prefix, e.g. `platform/`), `since` and `until` (RFC 3339), `offset`, `limit`.

use super::error::ApiError;
use super::{auth, upload};
use crate::service::Registry;
use crate::service::audit::{self, AuditFilter};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    since: Option<String>,
    until: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
}

fn time(name: &str, text: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    text.map(|text| {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&chrono::Utc))
            .map_err(|error| {
                ApiError::bad_request(format!(
                    "`{name}` must be an RFC 3339 time such as 2026-11-21T00:00:00Z: {error}"
                ))
            })
    })
    .transpose()
}

pub async fn list(
    request: HttpRequest,
    registry: web::Data<Registry>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let principal = auth::principal(&request, &registry).await?.ok_or_else(|| {
        ApiError::unauthorized(
            "the audit log needs an admin token: send `Authorization: Bearer <token>`",
        )
    })?;
    if !principal.is_admin() {
        return Err(ApiError::forbidden(format!(
            "token `{}` may not read the audit log; it needs the `admin` scope",
            principal.token_name
        )));
    }
    let filter = AuditFilter {
        actor: query.actor.clone(),
        action: query.action.clone(),
        target_prefix: query.target.clone(),
        since: time("since", query.since.as_deref())?,
        until: time("until", query.until.as_deref())?,
    };
    let (offset, limit) = upload::page_bounds(query.offset.as_deref(), query.limit.as_deref())?;
    let (events, has_more) = audit::events(&registry.db, &filter, offset, limit).await?;
    let events: Vec<_> = events
        .into_iter()
        .map(|event| {
            json!({
                "id": event.id,
                "at": event.at.to_rfc3339(),
                "actor": event.actor,
                "action": event.action,
                "target": event.target,
                "source": event.source,
                "details": event.details,
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({ "meta": upload::page_meta(offset, limit, has_more), "events": events })))
}
