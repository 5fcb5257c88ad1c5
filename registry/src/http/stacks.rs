//! The stack inventory (see [`crate::service::stacks`]): `PUT /v1/stacks/{id}` reports a stack,
//! `GET /v1/stacks` lists them (filters `blueprint=ns/name`, `outdated=true`, `offset`, `limit`)
//! with the counts by blueprint version, `DELETE /v1/stacks/{id}` forgets one (admin).

use super::auth::Caller;
use super::error::ApiError;
use super::upload;
use crate::service::Registry;
use crate::service::stacks::{Count, Stack, StackFilter};
use actix_web::{HttpRequest, HttpResponse, web};
use quarry_core::api;
use serde::Deserialize;

/// The largest report accepted: ample for 200 modules and a long remote.
const REPORT_LIMIT: u64 = 256 * 1024;

const SUBJECT: &str = "the stack inventory";

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("", web::get().to(list))
        .route("/{id}", web::put().to(report))
        .route("/{id}", web::delete().to(forget));
}

async fn report(
    request: HttpRequest,
    caller: Caller,
    registry: web::Data<Registry>,
    id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.token_reader(SUBJECT)?;
    let body = upload::read_body(
        &request,
        body,
        REPORT_LIMIT,
        registry.body_timeout,
        "the stack report",
    )
    .await?;
    let report: api::StackReport = serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad_request(format!(
            "the stack report is not valid JSON of its shape: {error}"
        ))
    })?;
    let reported = registry
        .report_stack(&caller.actor(principal), &id, &report)
        .await?;
    let answer = api::StackReported {
        id: id.into_inner(),
        created: reported.created,
        outdated: reported.outdated,
    };
    Ok(if reported.created {
        HttpResponse::Created().json(answer)
    } else {
        HttpResponse::Ok().json(answer)
    })
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    blueprint: Option<String>,
    outdated: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
}

async fn list(
    caller: Caller,
    registry: web::Data<Registry>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.token_reader(SUBJECT)?;
    let (offset, limit) = upload::page_bounds(query.offset.as_deref(), query.limit.as_deref())?;
    let outdated = match query.outdated.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`outdated` must be `true` or `false`, not `{}`",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    let blueprint = query
        .blueprint
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|error| ApiError::bad_request(format!("`blueprint`: {error}")))?;
    let listing = registry
        .stacks(
            &StackFilter {
                blueprint,
                outdated,
            },
            offset,
            limit,
        )
        .await?;
    Ok(HttpResponse::Ok().json(api::StackPage {
        meta: api::PageMeta::new(offset, limit, listing.has_more),
        counts: listing.counts.iter().map(count_entry).collect(),
        stacks: listing.stacks.into_iter().map(stack_entry).collect(),
    }))
}

async fn forget(
    caller: Caller,
    registry: web::Data<Registry>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.admin(SUBJECT, "forget stacks")?;
    registry.forget_stack(&caller.actor(principal), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn count_entry(count: &Count) -> api::StackCount {
    api::StackCount {
        blueprint: count.blueprint.to_string(),
        version: count.version.to_string(),
        stacks: count.stacks,
        outdated: count.standing.outdated,
        yanked: count.standing.yanked,
    }
}

fn stack_entry(stack: Stack) -> api::StackEntry {
    api::StackEntry {
        id: stack.id,
        name: stack.name,
        blueprint: api::StackBlueprint {
            address: stack.blueprint.to_string(),
            version: stack.version.to_string(),
        },
        modules: stack.modules,
        location: stack.location,
        latest: stack.standing.latest.map(|latest| latest.to_string()),
        outdated: stack.standing.outdated,
        yanked: stack.standing.yanked,
        reported_by: stack.reported_by,
        first_reported_at: stack.first_reported_at.to_rfc3339(),
        reported_at: stack.reported_at.to_rfc3339(),
    }
}
