//! Quarry against the ceiling: seeds a registry on the embedded default (10,000 modules × 20
//! versions and 500 blueprints), starts the real `quarry` binary on it, starts a bare actix-web
//! server that returns the same `versions` bytes from memory, and drives both with the same
//! in-tree load generator. Prints requests/s, p50 and p99 for each endpoint, its ratio to the
//! ceiling, start-to-ready time and idle RSS, each next to its target.
//!
//! Run: `cargo bench -p quarry-registry --bench load` (about two minutes); `-- --quick` is the
//! small smoke run CI makes so the benchmark cannot rot.

use actix_web::{App, HttpResponse, HttpServer, web};
use quarry_registry::config::Config;
use quarry_registry::db::entities::{blueprint, blueprint_version, module, module_version};
use quarry_registry::service::Registry;
use sea_orm::{EntityTrait, Set};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Scale {
    modules: usize,
    versions: usize,
    blueprints: usize,
    seconds: u64,
    connections: usize,
}

const FULL: Scale = Scale {
    modules: 10_000,
    versions: 20,
    blueprints: 500,
    seconds: 5,
    connections: 64,
};

const QUICK: Scale = Scale {
    modules: 60,
    versions: 5,
    blueprints: 10,
    seconds: 1,
    connections: 8,
};

/// Seeds the database directly (publishing 200,000 versions through HTTP would measure the
/// seeding, not the reads); every version points at one real, stored archive.
async fn seed(registry: &Registry, scale: &Scale) -> anyhow::Result<String> {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/modules/greeting");
    let archive = quarry_core::archive::pack_dir(&fixture)?;
    let inspected =
        quarry_core::archive::inspect_module(&archive, &quarry_core::archive::Limits::default())?;
    let analysis = serde_json::to_value(quarry_core::module::analyze(&inspected.files)?)?;
    let digest = quarry_core::digest::Sha256::of(&archive);
    registry
        .storage
        .put_archive(&digest, archive.clone().into())
        .await?;
    let now = chrono::Utc::now();
    let descriptions = [
        "networking for teams",
        "object storage",
        "a managed database",
        "queues and topics",
        "container services",
    ];
    for chunk in (0..scale.modules).collect::<Vec<_>>().chunks(1000) {
        module::Entity::insert_many(chunk.iter().map(|i| module::ActiveModel {
            id: Set(*i as i32 + 1),
            namespace: Set(format!("team{:02}", i % 50)),
            name: Set(format!("mod{i:05}")),
            system: Set("aws".into()),
            description: Set(format!(
                "Module {i}: {}",
                descriptions[i % descriptions.len()]
            )),
            created_at: Set(now),
        }))
        .exec_without_returning(&registry.db)
        .await?;
    }
    let rows: Vec<(usize, usize)> = (0..scale.modules)
        .flat_map(|m| (0..scale.versions).map(move |v| (m, v)))
        .collect();
    for chunk in rows.chunks(1000) {
        module_version::Entity::insert_many(chunk.iter().map(|(m, v)| {
            module_version::ActiveModel {
                module_id: Set(*m as i32 + 1),
                version: Set(format!("1.{v}.0")),
                archive_sha256: Set(digest.to_hex()),
                archive_size: Set(archive.len() as i64),
                analysis: Set(analysis.clone()),
                published_by: Set("bench".into()),
                published_at: Set(now),
                deprecated: Set(false),
                yanked: Set(false),
                downloads: Set(0),
                ..Default::default()
            }
        }))
        .exec_without_returning(&registry.db)
        .await?;
    }
    for chunk in (0..scale.blueprints).collect::<Vec<_>>().chunks(500) {
        blueprint::Entity::insert_many(chunk.iter().map(|i| blueprint::ActiveModel {
            id: Set(*i as i32 + 1),
            namespace: Set("platform".into()),
            name: Set(format!("golden{i:04}")),
            description: Set(format!("Golden path {i}")),
            created_at: Set(now),
        }))
        .exec_without_returning(&registry.db)
        .await?;
        blueprint_version::Entity::insert_many(chunk.iter().map(|i| {
            blueprint_version::ActiveModel {
                blueprint_id: Set(*i as i32 + 1),
                version: Set("1.0.0".into()),
                archive_sha256: Set(digest.to_hex()),
                archive_size: Set(archive.len() as i64),
                manifest: Set(serde_json::json!({ "manifest": {}, "readme": "" })),
                published_by: Set("bench".into()),
                published_at: Set(now),
                yanked: Set(false),
                downloads: Set(0),
                ..Default::default()
            }
        }))
        .exec_without_returning(&registry.db)
        .await?;
    }
    Ok(digest.to_hex())
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Measured {
    requests_per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

/// Sends requests to `urls` (round robin) from `connections` concurrent clients for `seconds`.
async fn load(urls: Vec<String>, connections: usize, seconds: u64) -> Measured {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
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
        let (mut part, part_errors) = task.await.expect("load task");
        latencies.append(&mut part);
        errors += part_errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Measured {
        requests_per_second: latencies.len() as f64 / elapsed,
        p50: at(0.50),
        p99: at(0.99),
        errors,
    }
}

fn start_quarry(data_dir: &std::path::Path) -> anyhow::Result<(Child, String, Duration)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_quarry"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("QUARRY_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let client = reqwest::blocking::Client::new();
    loop {
        if client
            .get(format!("{url}/healthz"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok((child, url, started.elapsed()));
        }
        if started.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("quarry did not become ready");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn start_ceiling(body: Vec<u8>) -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        let body = web::Bytes::from(body);
        actix_web::rt::System::new().block_on(async move {
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
            .listen(listener)
            .expect("listen")
            .run()
            .await
            .expect("ceiling runs");
        });
    });
    Ok(url)
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let scale = if quick { QUICK } else { FULL };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let data = tempfile::tempdir()?;

    let seeding = Instant::now();
    let digest = runtime.block_on(async {
        let registry = Registry::start(&Config::for_data_dir(data.path())).await?;
        let digest = seed(&registry, &scale).await?;
        registry.db.close().await?;
        anyhow::Ok(digest)
    })?;
    println!(
        "seeded {} modules × {} versions and {} blueprints in {:.1} s{}",
        scale.modules,
        scale.versions,
        scale.blueprints,
        seeding.elapsed().as_secs_f64(),
        if quick { " (quick mode)" } else { "" }
    );

    let (mut quarry, url, ready) = start_quarry(data.path())?;
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = rss_kib(quarry.id(), "VmRSS:");
    let module_urls = |suffix: &str| -> Vec<String> {
        (0..scale.modules.min(1000))
            .map(|i| format!("{url}/v1/modules/team{:02}/mod{i:05}/aws{suffix}", i % 50))
            .collect()
    };
    let versions_body = reqwest::blocking::get(&module_urls("/versions")[0])?
        .bytes()?
        .to_vec();
    let ceiling = start_ceiling(versions_body)?;
    std::thread::sleep(Duration::from_millis(200));

    let endpoints: Vec<(&str, Vec<String>, f64, Duration)> = vec![
        (
            "ceiling: versions from memory",
            vec![format!("{ceiling}/v1/modules/x/y/z/versions")],
            0.0,
            Duration::ZERO,
        ),
        (
            "versions",
            module_urls("/versions"),
            0.60,
            Duration::from_millis(5),
        ),
        (
            "download",
            module_urls(&format!("/1.{}.0/download", scale.versions - 1)),
            0.60,
            Duration::from_millis(5),
        ),
        (
            "search",
            (0..200)
                .map(|i| format!("{url}/v1/modules/search?q=mod{:03}", i % 100))
                .collect(),
            0.0,
            Duration::from_millis(10),
        ),
        (
            "module detail",
            module_urls(""),
            0.0,
            Duration::from_millis(10),
        ),
        (
            "archive GET",
            vec![format!("{url}/v1/archives/{digest}.tar.gz")],
            0.0,
            Duration::ZERO,
        ),
    ];
    let mut ceiling_rps = 0.0;
    let mut failures = Vec::new();
    println!("\n| endpoint | req/s | p50 | p99 | of ceiling | target |");
    println!("|---|---|---|---|---|---|");
    for (name, urls, ratio_target, p99_target) in endpoints {
        let measured = runtime.block_on(load(urls, scale.connections, scale.seconds));
        if name.starts_with("ceiling") {
            ceiling_rps = measured.requests_per_second;
        }
        let ratio = measured.requests_per_second / ceiling_rps.max(1.0);
        let mut target = Vec::new();
        if ratio_target > 0.0 {
            target.push(format!("≥ {:.0}% of ceiling", ratio_target * 100.0));
            if ratio < ratio_target {
                failures.push(format!(
                    "{name}: {:.0}% of the ceiling (target {:.0}%)",
                    ratio * 100.0,
                    ratio_target * 100.0
                ));
            }
        }
        if p99_target > Duration::ZERO {
            target.push(format!("p99 < {} ms", p99_target.as_millis()));
            if measured.p99 >= p99_target {
                failures.push(format!(
                    "{name}: p99 {:.2} ms (target < {} ms)",
                    measured.p99.as_secs_f64() * 1000.0,
                    p99_target.as_millis()
                ));
            }
        }
        if measured.errors > 0 {
            failures.push(format!("{name}: {} failed requests", measured.errors));
        }
        println!(
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {:.0}% | {} |",
            measured.requests_per_second,
            measured.p50.as_secs_f64() * 1000.0,
            measured.p99.as_secs_f64() * 1000.0,
            ratio * 100.0,
            if target.is_empty() {
                "—".to_owned()
            } else {
                target.join(", ")
            }
        );
    }
    let ready_ms = ready.as_secs_f64() * 1000.0;
    println!("| start to ready | {ready_ms:.0} ms | | | | < 500 ms |");
    println!(
        "| idle RSS | {:.1} MiB | | | | < 50 MiB |",
        idle_rss as f64 / 1024.0
    );
    if ready_ms >= 500.0 {
        failures.push(format!(
            "start to ready: {ready_ms:.0} ms (target < 500 ms)"
        ));
    }
    if idle_rss >= 50 * 1024 {
        failures.push(format!(
            "idle RSS: {:.1} MiB (target < 50 MiB)",
            idle_rss as f64 / 1024.0
        ));
    }
    println!(
        "peak RSS under load: {:.1} MiB",
        rss_kib(quarry.id(), "VmHWM:") as f64 / 1024.0
    );
    println!(
        "\nNot yet measured here: 200 MiB archive throughput with 8 clients, publish of a 50 MiB module against tar -xzf, scaffold new end to end, rendering 300 templates."
    );
    quarry.kill()?;
    quarry.wait()?;
    if failures.is_empty() {
        println!("\nall measured targets met");
    } else {
        println!("\ntargets missed:\n  {}", failures.join("\n  "));
    }
    Ok(())
}
