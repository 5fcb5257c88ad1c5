//! How errors become responses, in one place.
//!
//! Policy: every error is `{"errors": ["…"]}` with a 4xx or 5xx status. A 4xx message tells the
//! client what was wrong with its request (which part, which file, which rule) so it can fix it.
//! A 5xx message says only that the server failed; the cause is logged, never sent, so no
//! internals (SQL, paths, connection strings) leak to clients.

use crate::sandbox::SandboxError;
use crate::service::Internal;
use crate::service::blueprints::StackError;
use crate::service::publish::PublishError;
use crate::service::signing::SignatureError;
use crate::service::stacks::InventoryError;
use crate::service::tokens::TokenError;
use crate::storage::StorageError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use quarry_core::address::AddressError;
use quarry_core::archive::ArchiveError;
use quarry_core::version::VersionError;
use std::fmt;

#[derive(Debug)]
pub struct ApiError {
    /// Seconds for `Retry-After` (429).
    retry_after: Option<u64>,
    status: StatusCode,
    messages: Vec<String>,
    /// Structured errors (`{path, message}`), sent instead of `messages` when present.
    details: Vec<quarry_core::inputs::InputError>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            retry_after: None,
            status,
            messages: vec![message.into()],
            details: Vec::new(),
        }
    }

    /// 429: too many writes; the client may retry after `seconds`.
    pub fn too_many_requests(seconds: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many writes; retry in {seconds} s"),
        );
        error.retry_after = Some(seconds);
        error
    }

    /// An error listing every problem as `{path, message}` (inputs validation).
    pub fn with_details(status: StatusCode, details: &[quarry_core::inputs::InputError]) -> Self {
        Self {
            retry_after: None,
            status,
            messages: details.iter().map(ToString::to_string).collect(),
            details: details.to_vec(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The messages, one per problem.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// A server-side failure: the cause goes to the log, the client gets a generic message.
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal server error; the cause is in the registry's log",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.messages.join("; "))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"quarry\""),
            ));
        }
        if self.details.is_empty() {
            response.json(serde_json::json!({ "errors": self.messages }))
        } else {
            response.json(serde_json::json!({ "errors": self.details }))
        }
    }
}

impl From<Internal> for ApiError {
    fn from(error: Internal) -> Self {
        Self::internal(&error)
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        Self::internal(&error)
    }
}

impl From<AddressError> for ApiError {
    fn from(error: AddressError) -> Self {
        Self::bad_request(error.to_string())
    }
}

impl From<VersionError> for ApiError {
    fn from(error: VersionError) -> Self {
        Self::bad_request(error.to_string())
    }
}

impl From<SandboxError> for ApiError {
    fn from(error: SandboxError) -> Self {
        match error {
            SandboxError::Busy { .. } | SandboxError::ShuttingDown => {
                let mut refused = Self::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string());
                refused.retry_after = Some(1);
                refused
            }
            SandboxError::TimedOut { .. }
            | SandboxError::OutOfMemory { .. }
            | SandboxError::TooDeep { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
            }
            SandboxError::Failed(_) => Self::internal(&error),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(error: SignatureError) -> Self {
        Self::forbidden(error.to_string())
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Invalid | TokenError::Revoked(_) | TokenError::Expired { .. } => {
                Self::unauthorized(error.to_string())
            }
            TokenError::Database(error) => Self::internal(&error),
            other => Self::bad_request(other.to_string()),
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(error: PublishError) -> Self {
        let error = match error {
            PublishError::Sandbox(inner) => return inner.into(),
            PublishError::Invalid(problems) => {
                return Self {
                    retry_after: None,
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    messages: problems.iter().map(ToString::to_string).collect(),
                    details: Vec::new(),
                };
            }
            other => other,
        };
        let status = match &error {
            PublishError::VersionExists { .. } | PublishError::SameVersion { .. } => {
                StatusCode::CONFLICT
            }
            PublishError::TooLarge { .. }
            | PublishError::Archive(ArchiveError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            PublishError::Archive(
                ArchiveError::NotGzip | ArchiveError::Undecodable(_) | ArchiveError::TrailingData,
            ) => StatusCode::BAD_REQUEST,
            PublishError::Release(quarry_core::provider::ReleaseError::TooLarge { .. })
            | PublishError::Release(quarry_core::provider::ReleaseError::Archive(
                ArchiveError::TooLarge { .. },
            )) => StatusCode::PAYLOAD_TOO_LARGE,
            PublishError::Release(quarry_core::provider::ReleaseError::Archive(
                ArchiveError::NotGzip | ArchiveError::Undecodable(_) | ArchiveError::TrailingData,
            )) => StatusCode::BAD_REQUEST,
            PublishError::Archive(_)
            | PublishError::Release(_)
            | PublishError::Signature(_)
            | PublishError::Analysis(_)
            | PublishError::DescriptionTooLong { .. }
            | PublishError::AddressMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            PublishError::Database(_)
            | PublishError::Storage(_)
            | PublishError::Internal(_)
            | PublishError::Task(_)
            | PublishError::Key(_)
            | PublishError::Sandbox(_)
            | PublishError::Invalid(_) => return Self::internal(&error),
        };
        Self::new(status, error.to_string())
    }
}

impl From<StackError> for ApiError {
    fn from(error: StackError) -> Self {
        match error {
            StackError::Sandbox(inner) => inner.into(),
            StackError::Render(failure) => {
                Self::with_details(StatusCode::UNPROCESSABLE_ENTITY, &failure.0)
            }
            StackError::Internal(_) | StackError::Corrupt(..) => Self::internal(&error),
        }
    }
}

impl From<InventoryError> for ApiError {
    fn from(error: InventoryError) -> Self {
        match error {
            InventoryError::Internal(inner) => inner.into(),
            InventoryError::Invalid(problems) => Self {
                retry_after: None,
                status: StatusCode::UNPROCESSABLE_ENTITY,
                messages: problems,
                details: Vec::new(),
            },
            InventoryError::Off
            | InventoryError::UnknownBlueprint(_)
            | InventoryError::UnknownVersion(..)
            | InventoryError::NoSuchStack(_) => Self::not_found(error.to_string()),
        }
    }
}

/// Answers requests no route matched: a path with an empty address part gets a 400 naming that
/// part; anything else a 404 in the registry's error shape.
pub async fn not_found(request: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = request.path();
    let layouts: [(&str, &[&str]); 2] = [
        ("/v1/modules/", &["namespace", "name", "system", "version"]),
        ("/v1/blueprints/", &["namespace", "name", "version"]),
    ];
    for (prefix, parts) in layouts {
        let Some(rest) = path.strip_prefix(prefix) else {
            continue;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let empty = segments
            .iter()
            .enumerate()
            .take(segments.len().saturating_sub(1))
            .find(|(_, segment)| segment.is_empty())
            .map(|(index, _)| index);
        if let Some(part) = empty.and_then(|index| parts.get(index)) {
            return Err(match *part {
                "version" => {
                    ApiError::bad_request("invalid version ``: the version must not be empty")
                }
                "system" => quarry_core::address::System::new("")
                    .map_or_else(Into::into, |_| ApiError::not_found("no such endpoint")),
                "name" => quarry_core::address::ModuleName::new("")
                    .map_or_else(Into::into, |_| ApiError::not_found("no such endpoint")),
                _ => quarry_core::address::Namespace::new("")
                    .map_or_else(Into::into, |_| ApiError::not_found("no such endpoint")),
            });
        }
    }
    Err(ApiError::not_found("no such endpoint"))
}
