//! Who is calling, resolved once per request: the [`Caller`] extractor checks the request's bearer
//! token against the token store (an invalid or revoked token is refused even where none is
//! needed, so a client learns its token is bad), and handlers state what they need of it —
//! [`Reader`] as an extractor for reads, [`Caller::publisher`] and [`Caller::admin`] for the rest.

use super::error::ApiError;
use crate::config::ReadAccess;
use crate::service::Registry;
use crate::service::audit::Actor;
use crate::service::tokens::Principal;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use quarry_core::address::Namespace;

/// The caller of a request: the principal of the token it presented, if any, and its address.
#[derive(Debug, Clone)]
pub struct Caller {
    principal: Option<std::sync::Arc<Principal>>,
    /// The client's address (the connection's peer; behind a proxy, the proxy's).
    source: String,
    read_access: ReadAccess,
}

fn bearer(request: &HttpRequest) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl Caller {
    /// Resolves the caller of `request`.
    pub async fn of(request: &HttpRequest, registry: &Registry) -> Result<Self, ApiError> {
        let principal = match bearer(request) {
            None => None,
            Some(token) => Some(registry.authenticate(token).await?),
        };
        Ok(Self {
            principal,
            source: request
                .peer_addr()
                .map(|address| address.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
            read_access: registry.read_access,
        })
    }

    /// The principal, when the request presented a valid token.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_deref()
    }

    /// Allows a read: always with public reads, else with a token that may read.
    pub fn reader(&self) -> Result<(), ApiError> {
        if self.read_access == ReadAccess::Public {
            return Ok(());
        }
        match self.principal.as_deref() {
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

    /// Requires a token that may read, whatever the registry's read access: for what names more
    /// than the modules do (the stack inventory names repositories). `subject` names it.
    pub fn token_reader(&self, subject: &str) -> Result<&Principal, ApiError> {
        match self.principal.as_deref() {
            Some(principal) if principal.can_read() => Ok(principal),
            Some(principal) => Err(ApiError::forbidden(format!(
                "token `{}` may not use {subject}; it needs the `read` scope",
                principal.token_name
            ))),
            None => Err(ApiError::unauthorized(format!(
                "{subject} needs a token: send `Authorization: Bearer <token>`"
            ))),
        }
    }

    /// Whether the caller holds a token that may read (a token is as good as a signed URL).
    pub fn holds_reader(&self) -> bool {
        self.principal.as_deref().is_some_and(Principal::can_read)
    }

    /// Requires a token that may publish (and deprecate, yank, …) in `namespace`.
    pub fn publisher(&self, namespace: &Namespace) -> Result<&Principal, ApiError> {
        let Some(principal) = self.principal.as_deref() else {
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

    /// Requires an admin token; `subject` and `verb` name what needs it in the messages ("the
    /// audit log", "read the audit log").
    pub fn admin(&self, subject: &str, verb: &str) -> Result<&Principal, ApiError> {
        let Some(principal) = self.principal.as_deref() else {
            return Err(ApiError::unauthorized(format!(
                "{subject} needs an admin token: send `Authorization: Bearer <token>`"
            )));
        };
        if principal.is_admin() {
            Ok(principal)
        } else {
            Err(ApiError::forbidden(format!(
                "token `{}` may not {verb}; it needs the `admin` scope",
                principal.token_name
            )))
        }
    }

    /// The audit actor of a write by `principal`.
    pub fn actor(&self, principal: &Principal) -> Actor {
        Actor {
            name: principal.token_name.clone(),
            source: self.source.clone(),
        }
    }

    /// Counts a write against the token's and the address's limits: 429 with `Retry-After` beyond.
    pub fn limit_write(&self, registry: &Registry, principal: &Principal) -> Result<(), ApiError> {
        let address = if self.source == "unknown" {
            ""
        } else {
            &self.source
        };
        registry
            .write_limiter
            .check(&principal.token_name, address, std::time::Instant::now())
            .map_err(|retry| ApiError::too_many_requests(retry.0))
    }
}

fn registry_of(request: &HttpRequest) -> Result<web::Data<Registry>, ApiError> {
    request
        .app_data::<web::Data<Registry>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"the registry is not configured on this app"))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let registry = registry_of(&request)?;
            Self::of(&request, &registry).await
        })
    }
}

/// A caller allowed to read: an extractor that refuses the request as [`Caller::reader`] does.
#[derive(Debug, Clone)]
pub struct Reader(pub Caller);

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(request, payload);
        Box::pin(async move {
            let caller = caller.await?;
            caller.reader()?;
            Ok(Self(caller))
        })
    }
}
