//! The web UI, served by the registry itself at `/`: search, module and blueprint pages, a form
//! that validates and renders a stack, namespace pages, the audit log for admins, and signing in
//! when reads need a token.
//!
//! Pages are rendered on the server from askama templates (`registry/templates/`), which are
//! checked when the registry is compiled and escape every value for HTML — a separate engine from
//! the blueprint renderer, whose Tera has escaping off. Everything reads without JavaScript; a
//! small script (`assets/quarry.js`) adds live validation, fields that come and go with the
//! answers, and copy buttons. Assets are embedded in the binary. Handlers call the same services
//! as the JSON API: what a page shows is what the API answers.

mod assets;
mod audit;
mod blueprints;
mod error;
mod form;
mod markdown;
mod modules;
mod providers;
mod search;
mod session;
mod state;

pub use error::UiError;
pub use state::State;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

/// The largest form a page may send (the blueprint form's inputs, typed).
pub const MAX_FORM_BYTES: usize = 256 << 10;

/// Registers the UI's routes (before the API's fallback).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(search::home))
        .route("/search", web::get().to(search::results))
        .route("/namespaces/{namespace}", web::get().to(search::namespace))
        .route(
            "/modules/{namespace}/{name}/{system}",
            web::get().to(modules::latest),
        )
        .route(
            "/modules/{namespace}/{name}/{system}/{version}",
            web::get().to(modules::version),
        )
        .route(
            "/blueprints/{namespace}/{name}",
            web::get().to(blueprints::latest),
        )
        .route(
            "/blueprints/{namespace}/{name}/{version}",
            web::get().to(blueprints::version),
        )
        .route(
            "/blueprints/{namespace}/{name}/{version}/check",
            web::post().to(blueprints::check),
        )
        .route(
            "/blueprints/{namespace}/{name}/{version}/preview",
            web::post().to(blueprints::preview),
        )
        .route("/providers", web::get().to(providers::list))
        .route(
            "/providers/{namespace}/{name}",
            web::get().to(providers::latest),
        )
        .route(
            "/providers/{namespace}/{name}/{version}",
            web::get().to(providers::version),
        )
        .route("/stacks/{id}", web::get().to(blueprints::download))
        .route("/audit", web::get().to(audit::page_of_events))
        .route("/login", web::get().to(session::login_form))
        .route("/login", web::post().to(session::login))
        .route("/logout", web::post().to(session::logout))
        .route("/assets/{file}", web::get().to(assets::serve));
}

/// The security headers of every answer: a Content-Security-Policy that allows no inline script
/// or style and no framing, no MIME sniffing, and no referrer sent to other sites.
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}

/// What every page's frame shows: the title, the search box's text and who is signed in.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub title: String,
    pub query: String,
    /// The signed-in token's name.
    pub signed_in: Option<String>,
    pub admin: bool,
    /// Whether the registry needs a token to read (so the frame offers signing in).
    pub private: bool,
    /// The CSRF token the page's forms carry.
    pub csrf: String,
    pub css: &'static str,
    pub js: &'static str,
}

impl Layout {
    /// A frame for a page that knows nothing of its viewer (error pages).
    pub fn plain(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            css: assets::CSS_URL.as_str(),
            js: assets::JS_URL.as_str(),
            ..Self::default()
        }
    }
}

/// A rendered page as a response, with the viewer's new cookies.
pub(crate) fn page(
    viewer: &session::Viewer,
    status: actix_web::http::StatusCode,
    template: &impl Template,
) -> Result<HttpResponse, UiError> {
    let body = template
        .render()
        .map_err(|error| UiError::internal(&error))?;
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    viewer.add_cookies(&mut response);
    Ok(response.body(body))
}

/// Answers a request no route matched: an HTML page for a browser, the API's JSON for anyone
/// else (and always under `/v1/`).
pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    if wants_html(&request) {
        return Err(UiError::not_found("There is no page at this address.").into());
    }
    crate::http::error::not_found(request)
        .await
        .map_err(Into::into)
}

/// Whether a request is a browser's asking for a page: not under the API's paths, and accepting
/// `text/html`.
pub fn wants_html(request: &HttpRequest) -> bool {
    let path = request.path();
    if path.starts_with("/v1/") || path == "/v1" || path.starts_with("/.well-known/") {
        return false;
    }
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A number with thousands separators: 12345 → "12,345".
pub fn grouped(number: i64) -> String {
    let digits = number.unsigned_abs().to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if number < 0 {
        text.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// `text` escaped for HTML, as the templates escape every value they show: for text kept
/// escaped and shown with `|safe`.
pub fn escaped(text: &str) -> String {
    askama::filters::escape(text, askama::filters::Html)
        .map(|safe| safe.to_string())
        .unwrap_or_default()
}

/// A time as pages show it: `2026-12-01 09:40 UTC`.
pub fn when(at: &chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    // Years of four digits only; chrono writes the others with their sign.
    let Some(year) = u32::try_from(at.year()).ok().filter(|year| *year <= 9999) else {
        return at.format("%Y-%m-%d %H:%M UTC").to_string();
    };
    // Digit by digit rather than through `format`: a list page shows a time per item, and
    // chrono parses its pattern on every call.
    let mut text = String::with_capacity(20);
    for (value, digits, then) in [
        (year, 4, '-'),
        (at.month(), 2, '-'),
        (at.day(), 2, ' '),
        (at.hour(), 2, ':'),
        (at.minute(), 2, ' '),
    ] {
        for place in (0..digits).rev() {
            let digit = value / 10u32.pow(place) % 10;
            text.push(char::from(b'0' + digit as u8));
        }
        text.push(then);
    }
    text.push_str("UTC");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(-12345), "-12,345");
    }

    #[test]
    fn times_read_as_chrono_formats_them() {
        for seconds in [
            -62_200_000_000,
            -1,
            0,
            59,
            86_399,
            951_782_400,
            1_796_160_000,
            253_402_300_799,
            253_402_300_800,
        ] {
            let at = chrono::DateTime::from_timestamp(seconds, 0).unwrap();
            assert_eq!(when(&at), at.format("%Y-%m-%d %H:%M UTC").to_string());
        }
    }
}
