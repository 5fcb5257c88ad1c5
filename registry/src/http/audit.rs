//! `GET /v1/audit`: the audit log, newest first, for `admin` tokens. Filters: `actor`, `action`,
//! `target` (a prefix, e.g. `platform/`), `since` and `until` (RFC 3339), `offset`, `limit`.

use super::auth::Caller;
use super::error::ApiError;
use super::upload;
use crate::service::Registry;
use crate::service::audit::AuditFilter;
use actix_web::{HttpResponse, web};
use quarry_core::api;
use serde::Deserialize;

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
    caller: Caller,
    registry: web::Data<Registry>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.admin("the audit log", "read the audit log")?;
    let filter = AuditFilter {
        actor: query.actor.clone(),
        action: query.action.clone(),
        target_prefix: query.target.clone(),
        since: time("since", query.since.as_deref())?,
        until: time("until", query.until.as_deref())?,
    };
    let (offset, limit) = upload::page_bounds(query.offset.as_deref(), query.limit.as_deref())?;
    let (events, has_more) = registry.audit_events(filter, offset, limit).await?;
    let events = events
        .into_iter()
        .map(|event| api::AuditEvent {
            id: event.id,
            at: event.at.to_rfc3339(),
            actor: event.actor,
            action: event.action,
            target: event.target,
            source: event.source,
            details: event.details,
        })
        .collect();
    Ok(HttpResponse::Ok().json(api::AuditPage {
        meta: api::PageMeta::new(offset, limit, has_more),
        events,
    }))
}
