//! Quarry's registry: a Terraform module registry over HTTP. `http` answers requests, `service`
//! decides, `db` and `storage` keep the state.

mod bounded;
pub mod config;
pub mod db;
pub mod http;
pub mod metrics;
pub mod sandbox;
pub mod service;
pub mod storage;
pub mod tls;
pub mod ui;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpServer, middleware};
use service::Registry;
use std::net::TcpListener;

/// The actix application for a registry; used by `serve` and by the tests.
pub fn app(
    registry: Registry,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(ui::security_headers())
        .wrap(middleware::from_fn(http::limit_headers))
        .wrap(middleware::from_fn(http::log_request))
        .configure(http::configure(registry))
}

/// How often a replica reads the change feed, and how often it reads the whole listing again.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
const RELOAD_LISTING_EVERY: u32 = 300;

/// Loads the module listing (in the background, so the registry is ready at once), then follows
/// the changes other replicas make (see [`service::changes`]).
async fn follow_changes(registry: Registry) {
    let mut cursor = None;
    let mut tick = actix_web::rt::time::interval(FOLLOW_EVERY);
    let mut ticks = 0u32;
    loop {
        tick.tick().await;
        let Some(at) = cursor.as_mut() else {
            // The cursor is taken before the listing is read, so no change falls between them.
            match registry.change_cursor().await {
                Ok(start) => cursor = Some(start),
                Err(error) => tracing::warn!(%error, "could not read the change feed"),
            }
            if let Err(error) = registry.search.reload_all(&registry.db).await {
                tracing::warn!(%error, "could not load the module listing");
            }
            continue;
        };
        ticks = ticks.wrapping_add(1);
        if let Err(error) = registry.follow_changes(at).await {
            tracing::warn!(%error, "could not read the change feed");
        }
        if ticks.is_multiple_of(RELOAD_LISTING_EVERY) {
            // In its own task: a load of a large listing takes seconds, and the change feed
            // (revocations among it) must not wait for it.
            let registry = registry.clone();
            actix_web::rt::spawn(async move {
                if let Err(error) = registry.search.reload_all(&registry.db).await {
                    tracing::warn!(%error, "could not reload the module listing");
                }
            });
        }
    }
}

/// Waits for SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// How the server handles connections.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// A client has this long to send a request's headers (slow clients cannot hold connections
    /// open).
    pub request_timeout: std::time::Duration,
    /// After SIGTERM or SIGINT, requests in flight get this long to finish.
    pub shutdown_timeout: std::time::Duration,
    /// Serve HTTPS with these (reloaded on SIGHUP), or plain HTTP without.
    pub tls: Option<std::sync::Arc<tls::Certificates>>,
}

/// Serves the registry on an already bound listener until SIGTERM or SIGINT. On that signal it
/// stops accepting connections, stops every check and render in its workers (their requests get
/// 503), gives other requests in flight `shutdown_timeout` to finish, and writes the download
/// counts it holds.
pub async fn serve(
    registry: Registry,
    listener: TcpListener,
    settings: ServeSettings,
) -> std::io::Result<()> {
    let flusher = registry.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(2));
        loop {
            tick.tick().await;
            flusher.flush_downloads().await;
        }
    });
    actix_web::rt::spawn(follow_changes(registry.clone()));
    let served = registry.clone();
    let server = HttpServer::new(move || app(served.clone()))
        .client_request_timeout(settings.request_timeout)
        // Headers and a body sent in two writes must not wait for the client's delayed ACK
        // (Nagle's algorithm): that held every small archive download for 40 ms.
        .tcp_nodelay(true)
        .client_disconnect_timeout(std::time::Duration::from_secs(5))
        .keep_alive(std::time::Duration::from_secs(75))
        .shutdown_timeout(settings.shutdown_timeout.as_secs().max(1))
        .disable_signals();
    let server = match &settings.tls {
        Some(certificates) => {
            let config = certificates
                .server_config()
                .map_err(std::io::Error::other)?;
            actix_web::rt::spawn(tls::reload_on_hangup(certificates.clone()));
            server.listen_rustls_0_23(listener, config)?
        }
        None => server.listen(listener)?,
    }
    .run();
    let handle = server.handle();
    let sandbox = registry.sandbox.clone();
    actix_web::rt::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping: no new connections; stopping checks and renders");
        sandbox.shutdown();
        handle.stop(true).await;
    });
    let result = server.await;
    registry.flush_downloads().await;
    result
}
