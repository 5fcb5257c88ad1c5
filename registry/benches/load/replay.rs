//! What `terraform init` sends for a stack of registry modules, replayed by many virtual
//! clients: service discovery, then for each module its `versions`, its `download`, and a
//! `HEAD` and a `GET` of the archive URL the download answer names. Each client is a fresh
//! connection pool (each init is a new terraform process); clients start in bursts.

use anyhow::Context;
use std::time::{Duration, Instant};

pub struct Replayed {
    pub inits: usize,
    pub requests: usize,
    pub errors: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub elapsed: Duration,
}

/// One init: every request of it, or the first thing that went wrong.
async fn init(base: &str, modules: &[String], version: &str) -> anyhow::Result<usize> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let ok = |response: reqwest::Response| -> anyhow::Result<reqwest::Response> {
        let status = response.status();
        anyhow::ensure!(status.is_success(), "{} answered {status}", response.url());
        Ok(response)
    };
    ok(client
        .get(format!("{base}/.well-known/terraform.json"))
        .send()
        .await?)?
    .bytes()
    .await?;
    let mut requests = 1;
    for module in modules {
        ok(client
            .get(format!("{base}/v1/modules/{module}/versions"))
            .send()
            .await?)?
        .bytes()
        .await?;
        let download = ok(client
            .get(format!("{base}/v1/modules/{module}/{version}/download"))
            .send()
            .await?)?;
        let location = download
            .headers()
            .get("x-terraform-get")
            .and_then(|value| value.to_str().ok())
            .with_context(|| format!("{module}: no X-Terraform-Get"))?;
        let archive = if location.starts_with('/') {
            format!("{base}{location}")
        } else {
            location.to_owned()
        };
        ok(client.head(&archive).send().await?)?;
        ok(client.get(&archive).send().await?)?.bytes().await?;
        requests += 4;
    }
    Ok(requests)
}

/// `clients` inits of `modules` at `version`, `burst` at a time.
pub async fn run(
    base: &str,
    modules: Vec<String>,
    version: &str,
    clients: usize,
    burst: usize,
) -> anyhow::Result<Replayed> {
    let modules = std::sync::Arc::new(modules);
    let started = Instant::now();
    let mut times = Vec::with_capacity(clients);
    let (mut requests, mut errors) = (0, 0);
    let mut first_error = None;
    for first in (0..clients).step_by(burst.max(1)) {
        let tasks: Vec<_> = (first..clients.min(first + burst))
            .map(|_| {
                let (base, modules, version) =
                    (base.to_owned(), modules.clone(), version.to_owned());
                tokio::spawn(async move {
                    let began = Instant::now();
                    let done = init(&base, &modules, &version).await;
                    (began.elapsed(), done)
                })
            })
            .collect();
        for task in tasks {
            let (took, done) = task.await.context("a replay client failed")?;
            match done {
                Ok(sent) => {
                    requests += sent;
                    times.push(took);
                }
                Err(error) => {
                    errors += 1;
                    first_error.get_or_insert(error);
                }
            }
        }
    }
    if let Some(error) = first_error {
        eprintln!("replay: {errors} inits failed; the first: {error:#}");
    }
    times.sort();
    Ok(Replayed {
        inits: times.len(),
        requests,
        errors,
        p50: crate::endpoints::percentile(&times, 0.50),
        p99: crate::endpoints::percentile(&times, 0.99),
        elapsed: started.elapsed(),
    })
}
