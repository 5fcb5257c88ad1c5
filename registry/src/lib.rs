//! Quarry's registry: a Terraform module registry over HTTP. `http` answers requests, `service`
//! decides, `db` and `storage` keep the state.

pub mod config;
pub mod db;
pub mod http;
pub mod service;
pub mod storage;

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
        .wrap(middleware::from_fn(http::limit_headers))
        .wrap(middleware::from_fn(http::log_request))
        .configure(http::configure(registry))
}

/// Serves the registry on an already bound listener until the process is stopped. A client has
/// `request_timeout` to send a request's headers (slow clients cannot hold connections open).
pub async fn serve(
    registry: Registry,
    listener: TcpListener,
    request_timeout: std::time::Duration,
) -> std::io::Result<()> {
    let flusher = registry.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(2));
        loop {
            tick.tick().await;
            flusher.flush_downloads().await;
        }
    });
    let served = registry.clone();
    let result = HttpServer::new(move || app(served.clone()))
        .client_request_timeout(request_timeout)
        .client_disconnect_timeout(std::time::Duration::from_secs(5))
        .keep_alive(std::time::Duration::from_secs(75))
        .listen(listener)?
        .run()
        .await;
    registry.flush_downloads().await;
    result
}
