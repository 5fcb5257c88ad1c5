//! Errors as the UI shows them: an HTML page with the status and a message that says what to do,
//! built from the same errors (and messages) the JSON API answers with. A page that needs a
//! signed-in viewer redirects to the login form instead.

use super::Layout;
use crate::http::error::ApiError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use std::fmt;

#[derive(Debug)]
pub struct UiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
    /// Sign in first, then come back here.
    sign_in: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    heading: &'a str,
    message: &'a str,
}

impl UiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            sign_in: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The viewer must sign in; `back` is where the login form returns to.
    pub fn sign_in(back: &str) -> Self {
        Self {
            sign_in: Some(back.to_owned()),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "This registry needs a token to read: sign in.",
            )
        }
    }

    /// A server-side failure: the cause goes to the log, the page says only that it failed.
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        ApiError::internal(cause).into()
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    fn heading(&self) -> &'static str {
        match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::UNAUTHORIZED => "Sign in needed",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "That did not work",
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => "Busy",
            status if status.is_server_error() => "Something went wrong",
            _ => "That did not work",
        }
    }

    /// The error as a page (used where no handler's `Result` carries it, e.g. for assets).
    pub fn to_response(&self, _: &HttpRequest) -> HttpResponse {
        self.error_response()
    }
}

impl fmt::Display for UiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

/// Where a login form returns to: only a path on this site, never another origin.
pub fn safe_back(back: &str) -> &str {
    if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        back
    } else {
        "/"
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        if self.sign_in.is_some() {
            StatusCode::SEE_OTHER
        } else {
            self.status
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(back) = &self.sign_in {
            let target = format!(
                "/login?next={}",
                percent_encoding::utf8_percent_encode(
                    safe_back(back),
                    percent_encoding::NON_ALPHANUMERIC
                )
            );
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
        }
        let heading = self.heading();
        let page = ErrorPage {
            layout: Layout::plain(heading),
            status: self.status.as_u16(),
            heading,
            message: &self.message,
        };
        let mut response = HttpResponse::build(self.status);
        response
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        match page.render() {
            Ok(body) => response.body(body),
            Err(error) => {
                tracing::error!(%error, "rendering an error page");
                response.body(format!("{} {}", self.status, heading))
            }
        }
    }
}

impl From<ApiError> for UiError {
    fn from(error: ApiError) -> Self {
        Self {
            status: error.status(),
            message: error.messages().join("\n"),
            retry_after: error.retry_after(),
            sign_in: None,
        }
    }
}

macro_rules! through_the_api_error {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for UiError {
            fn from(error: $error) -> Self {
                ApiError::from(error).into()
            }
        })*
    };
}

through_the_api_error!(
    crate::service::Internal,
    crate::service::blueprints::StackError,
    crate::service::stacks::InventoryError,
    crate::sandbox::SandboxError,
    crate::service::tokens::TokenError,
    quarry_core::address::AddressError,
    quarry_core::version::VersionError,
);

impl From<sea_orm::DbErr> for UiError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::internal(&error)
    }
}
