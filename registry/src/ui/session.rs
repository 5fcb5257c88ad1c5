//! Who is looking at a page, and signing in and out.
//!
//! A [`Viewer`] is resolved once per request from the session cookie (see
//! [`crate::service::sessions`]) or a bearer token. With `--read-access token` every page but the
//! login form needs a viewer that may read; without one the page redirects to `/login`.
//!
//! Every form carries a CSRF token, and every POST is refused (403) unless it carries the right
//! one: for a signed-in viewer an HMAC of the session (so it changes with every session), for
//! anyone else an HMAC of a random `quarry_csrf` cookie (so a form posted from another site,
//! which cannot read the cookie, cannot forge it). Both cookies are `HttpOnly`, `SameSite=Strict`,
//! and `Secure` when the registry is served over HTTPS. A POST whose `Origin` is another site is
//! refused too.

use super::error::{UiError, safe_back};
use super::{Layout, page};
use crate::config::ReadAccess;
use crate::service::Registry;
use crate::service::sessions::{self, Session};
use crate::service::tokens::{self, Principal};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;

const SESSION_COOKIE: &str = "quarry_session";
const CSRF_COOKIE: &str = "quarry_csrf";

/// The viewer of a page: who they are (if signed in) and what their forms must carry.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub principal: Option<Principal>,
    session: Option<Session>,
    /// The browser's CSRF cookie, when it has none yet: set with the page.
    new_csrf_cookie: Option<String>,
    csrf_cookie: Option<String>,
    /// The browser sent a session cookie that no longer stands for a session: cleared.
    stale_session: bool,
    secure: bool,
    private: bool,
    key: crate::service::signing::UrlSigner,
}

fn random_hex() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether the registry is reached over HTTPS: its public URL says so, or the connection is.
fn is_secure(request: &HttpRequest, registry: &Registry) -> bool {
    registry
        .public_url
        .as_deref()
        .map_or(request.connection_info().scheme() == "https", |url| {
            url.starts_with("https://")
        })
}

fn cookie<'a>(name: &'a str, value: String, secure: bool) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
}

impl Viewer {
    /// Resolves the viewer of `request`; a bad bearer token is refused, a stale session cookie
    /// is only forgotten.
    pub async fn of(request: &HttpRequest, registry: &Registry) -> Result<Self, UiError> {
        let mut session = None;
        let mut stale_session = false;
        if let Some(secret) = request.cookie(SESSION_COOKIE) {
            session = sessions::find(&registry.db, secret.value()).await?;
            stale_session = session.is_none();
        }
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        let principal = match (&session, bearer) {
            (Some(session), _) => Some(session.principal.clone()),
            (None, Some(token)) => Some(Principal::clone(&*registry.authenticate(&token).await?)),
            (None, None) => None,
        };
        let csrf_cookie = request
            .cookie(CSRF_COOKIE)
            .map(|cookie| cookie.value().to_owned())
            .filter(|value| value.len() == 64);
        let new_csrf_cookie = (session.is_none() && csrf_cookie.is_none()).then(random_hex);
        Ok(Self {
            principal,
            session,
            csrf_cookie: csrf_cookie.or_else(|| new_csrf_cookie.clone()),
            new_csrf_cookie,
            stale_session,
            secure: is_secure(request, registry),
            private: registry.read_access == ReadAccess::Token,
            key: registry.signer.clone(),
        })
    }

    /// Whether the viewer may read: always on a public registry, else with a token that may.
    pub fn may_read(&self) -> bool {
        !self.private || self.principal.as_ref().is_some_and(Principal::can_read)
    }

    pub fn is_admin(&self) -> bool {
        self.principal.as_ref().is_some_and(Principal::is_admin)
    }

    /// The identity the CSRF token and the viewer's previews are bound to.
    pub fn identity(&self) -> String {
        match (&self.session, &self.csrf_cookie) {
            (Some(session), _) => format!("session:{}", session.secret_sha256),
            (None, Some(cookie)) => format!("browser:{cookie}"),
            (None, None) => String::new(),
        }
    }

    /// The CSRF token this viewer's forms carry.
    pub fn csrf(&self) -> String {
        self.key.tag("csrf", &self.identity())
    }

    /// Refuses a POST without this viewer's CSRF token, or sent from another site.
    pub fn check_post(
        &self,
        request: &HttpRequest,
        presented: Option<&str>,
    ) -> Result<(), UiError> {
        if let Some(origin) = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|value| value.to_str().ok())
        {
            let info = request.connection_info();
            let expected = format!("{}://{}", info.scheme(), info.host());
            let public = request
                .app_data::<web::Data<Registry>>()
                .and_then(|registry| registry.public_url.clone());
            let from_here = origin == expected
                || public.is_some_and(|url| url.trim_end_matches('/').starts_with(origin));
            if !from_here {
                return Err(UiError::forbidden(format!(
                    "This form was sent from another site ({origin}); it is refused."
                )));
            }
        }
        let valid = !self.identity().is_empty()
            && presented.is_some_and(|token| self.key.check_tag("csrf", &self.identity(), token));
        if valid {
            Ok(())
        } else {
            Err(UiError::forbidden(
                "The form's CSRF token is missing or wrong (the page may be from an earlier \
                 session): reload the page and send it again.",
            ))
        }
    }

    /// The page frame for this viewer.
    pub fn layout(&self, title: impl Into<String>, query: &str) -> Layout {
        Layout {
            query: query.to_owned(),
            signed_in: self.principal.as_ref().map(|p| p.token_name.clone()),
            admin: self.is_admin(),
            private: self.private,
            csrf: self.csrf(),
            ..Layout::plain(title)
        }
    }

    /// Sets the cookies the viewer needs with a response.
    pub fn add_cookies(&self, response: &mut HttpResponseBuilder) {
        if let Some(value) = &self.new_csrf_cookie {
            response.cookie(cookie(CSRF_COOKIE, value.clone(), self.secure));
        }
        if self.stale_session {
            let mut gone = cookie(SESSION_COOKIE, String::new(), self.secure);
            gone.make_removal();
            response.cookie(gone);
        }
    }
}

fn registry_of(request: &HttpRequest) -> Result<web::Data<Registry>, UiError> {
    request
        .app_data::<web::Data<Registry>>()
        .cloned()
        .ok_or_else(|| UiError::internal(&"the registry is not configured on this app"))
}

/// Any viewer, whether or not they may read (the login form).
pub struct Visitor(pub Viewer);

impl FromRequest for Visitor {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, UiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let registry = registry_of(&request)?;
            Ok(Self(Viewer::of(&request, &registry).await?))
        })
    }
}

impl FromRequest for Viewer {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, UiError>>;

    /// A viewer who may read; anyone else is sent to the login form.
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let registry = registry_of(&request)?;
            let viewer = Viewer::of(&request, &registry).await?;
            if viewer.may_read() {
                return Ok(viewer);
            }
            if viewer.principal.is_some() {
                return Err(UiError::forbidden(
                    "Your token may not read this registry; it needs the `read` scope.",
                ));
            }
            let back = request
                .uri()
                .path_and_query()
                .map_or("/", |target| target.as_str())
                .to_owned();
            Err(UiError::sign_in(&back))
        })
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    layout: Layout,
    next: &'a str,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`.
pub async fn login_form(
    Visitor(viewer): Visitor,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, UiError> {
    let next = safe_back(query.next.as_deref().unwrap_or("/"));
    page(
        &viewer,
        StatusCode::OK,
        &LoginPage {
            layout: viewer.layout("Sign in", ""),
            next,
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// `POST /login`: trades the token for a session; the token is never echoed.
pub async fn login(
    Visitor(viewer): Visitor,
    request: HttpRequest,
    registry: web::Data<Registry>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, UiError> {
    viewer.check_post(&request, form.csrf.as_deref())?;
    let next = safe_back(form.next.as_deref().unwrap_or("/")).to_owned();
    match sessions::start(&registry.db, form.token.trim()).await {
        Ok((secret, session)) => {
            tracing::info!(token = %session.principal.token_name, "signed in to the web UI");
            let mut kept = cookie(SESSION_COOKIE, secret, viewer.secure);
            kept.set_expires(
                actix_web::cookie::time::OffsetDateTime::from_unix_timestamp(
                    session.expires_at.timestamp(),
                )
                .ok(),
            );
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, next))
                .cookie(kept)
                .finish())
        }
        Err(tokens::TokenError::Database(error)) => Err(UiError::internal(&error)),
        Err(error) => page(
            &viewer,
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                layout: viewer.layout("Sign in", ""),
                next: &next,
                error: Some(format!("{error}.")),
            },
        ),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

/// `POST /logout`: ends the session.
pub async fn logout(
    Visitor(viewer): Visitor,
    request: HttpRequest,
    registry: web::Data<Registry>,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, UiError> {
    viewer.check_post(&request, form.csrf.as_deref())?;
    if let Some(secret) = request.cookie(SESSION_COOKIE) {
        sessions::end(&registry.db, secret.value()).await?;
    }
    let mut gone = cookie(SESSION_COOKIE, String::new(), viewer.secure);
    gone.make_removal();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .cookie(gone)
        .finish())
}
