//! The request-rate half of the benchmark: an in-tree load generator, and the ceiling server it
//! is compared with (a bare actix-web server answering every request with the same bytes).

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use std::time::{Duration, Instant};

pub struct Measured {
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub errors: usize,
}

/// Sends requests to `urls` (round robin) from `connections` concurrent clients for `seconds`.
pub async fn load(urls: Vec<String>, connections: usize, seconds: u64) -> anyhow::Result<Measured> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the load client")?;
    let urls = std::sync::Arc::new(urls);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|worker| {
            let (client, urls) = (client.clone(), urls.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut index = worker;
                while Instant::now() < deadline {
                    let url = &urls[index % urls.len()];
                    index += connections;
                    let started = Instant::now();
                    match client.get(url).send().await {
                        Ok(response) if response.status().as_u16() < 400 => {
                            let _ = response.bytes().await;
                            latencies.push(started.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut part, part_errors) = task.await.context("a load task failed")?;
        latencies.append(&mut part);
        errors += part_errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Ok(Measured {
        requests_per_second: latencies.len() as f64 / elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        errors,
    })
}

/// The `q` quantile of `sorted` times (zero when there are none).
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// Starts the ceiling on a free port, on its own thread and actix system; returns its URL.
/// The ceiling answering with the `versions` body of the first seeded module of the registry
/// at `url`, started and given a moment to listen; returns its URL.
pub fn ceiling_beside(url: &str) -> anyhow::Result<String> {
    let versions_url = format!("{url}/v1/modules/team00/mod00000/aws/versions");
    let body = reqwest::blocking::get(&versions_url)
        .and_then(reqwest::blocking::Response::error_for_status)
        .and_then(reqwest::blocking::Response::bytes)
        .with_context(|| format!("GET {versions_url}"))?;
    let ceiling = start_ceiling(body.to_vec())?;
    std::thread::sleep(Duration::from_millis(200));
    Ok(ceiling)
}

fn start_ceiling(body: Vec<u8>) -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        let body = web::Bytes::from(body);
        let ran = actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                let body = body.clone();
                App::new().default_service(web::to(move || {
                    let body = body.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body)
                    }
                }))
            })
            .listen(listener)?
            .run()
            .await
        });
        if let Err(error) = ran {
            eprintln!("the ceiling server stopped: {error}");
        }
    });
    Ok(url)
}
