//! The audit log for admins: who published, deprecated, yanked or changed tokens, newest first,
//! filtered by actor, action and target as `GET /v1/audit` is.

use super::session::Viewer;
use super::{Layout, UiError, page, when};
use crate::service::Registry;
use crate::service::audit::AuditFilter;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

const PAGE_SIZE: u64 = 50;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    page: Option<String>,
}

pub struct Row {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub source: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    actor: String,
    action: String,
    target: String,
    rows: Vec<Row>,
    previous: Option<String>,
    next: Option<String>,
}

fn blank_is_none(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// `GET /audit`.
pub async fn page_of_events(
    viewer: Viewer,
    registry: web::Data<Registry>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, UiError> {
    if !viewer.is_admin() {
        return Err(match viewer.principal {
            None => UiError::sign_in("/audit"),
            Some(principal) => UiError::forbidden(format!(
                "The audit log is for admins: the token `{}` has no `admin` scope.",
                principal.token_name
            )),
        });
    }
    let number = match blank_is_none(&query.page) {
        None => 1,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|page| (1..=10_000).contains(page))
            .ok_or_else(|| UiError::bad_request(format!("The page `{text}` is not a number.")))?,
    };
    let filter = AuditFilter {
        actor: blank_is_none(&query.actor),
        action: blank_is_none(&query.action),
        target_prefix: blank_is_none(&query.target),
        ..AuditFilter::default()
    };
    let (events, has_more) = registry
        .audit_events(filter, (number - 1) * PAGE_SIZE, PAGE_SIZE)
        .await?;
    let link = |page: u64| {
        let mut pairs = vec![format!("page={page}")];
        for (key, value) in [
            ("actor", &query.actor),
            ("action", &query.action),
            ("target", &query.target),
        ] {
            if let Some(value) = blank_is_none(value) {
                pairs.push(format!(
                    "{key}={}",
                    percent_encoding::utf8_percent_encode(
                        &value,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                ));
            }
        }
        format!("/audit?{}", pairs.join("&"))
    };
    let template = AuditPage {
        layout: viewer.layout("Audit log", ""),
        actor: blank_is_none(&query.actor).unwrap_or_default(),
        action: blank_is_none(&query.action).unwrap_or_default(),
        target: blank_is_none(&query.target).unwrap_or_default(),
        rows: events
            .into_iter()
            .map(|event| Row {
                at: when(&event.at),
                actor: event.actor,
                action: event.action,
                target: event.target,
                source: event.source,
                details: if event.details.as_object().is_some_and(|d| d.is_empty()) {
                    String::new()
                } else {
                    event.details.to_string()
                },
            })
            .collect(),
        previous: (number > 1).then(|| link(number - 1)),
        next: has_more.then(|| link(number + 1)),
    };
    page(&viewer, StatusCode::OK, &template)
}
