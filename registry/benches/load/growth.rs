//! How the costs grow with the listing: the same registry seeded at 10,000 to 100,000 modules
//! (× the versions per module), each size started fresh and measured (after a second of
//! warm-up per endpoint) for start-to-ready, idle
//! RSS once the listing is in memory, the listing's reload time, and the p99 of `versions`,
//! search and detail, beside the p99 of a bare server answering from memory under the same load
//! (what the machine allows at that moment). The largest size is judged against its targets.

use crate::{MIB, Options, Quarry, Scale, module_paths, rss_kib, search_paths, seed_registry, wrk};
use anyhow::Context;
use std::time::{Duration, Instant};

/// Targets at the largest size.
const READY: Duration = Duration::from_secs(1);
const IDLE_RSS_MIB: f64 = 150.0;
const SEARCH_P99: Duration = Duration::from_millis(10);
const DETAIL_P99: Duration = Duration::from_millis(5);

/// How long the listing may take to load before the benchmark gives up.
const LOAD_BOUND: Duration = Duration::from_secs(120);

/// Waits until the listing holds the last seeded module (it loads after the server is ready).
/// A search made while the first load runs waits for it, so one probe may take the whole load:
/// the client's own timeout (30 s by default, shorter than a load of 100,000 modules on a slow
/// machine) is the same bound as the loop's.
pub fn listing_loaded(url: &str, last: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let probe = format!("{url}/v1/modules/search?q=mod{last:05}");
    let client = reqwest::blocking::Client::builder()
        .timeout(LOAD_BOUND)
        .build()?;
    loop {
        let answer: serde_json::Value = client.get(&probe).send()?.error_for_status()?.json()?;
        if answer["modules"]
            .as_array()
            .is_some_and(|found| !found.is_empty())
        {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < LOAD_BOUND,
            "the listing did not hold mod{last:05} after {} s",
            LOAD_BOUND.as_secs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

pub fn table(runtime: &tokio::runtime::Runtime, options: &Options) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.postgres.is_none(),
        "--growth runs on the embedded default (SQLite) only"
    );
    let sizes: &[usize] = if options.quick {
        &[60, 120]
    } else {
        &[10_000, 30_000, 100_000]
    };
    println!(
        "\n| modules × versions | seeding | listing reload | start to ready | listing loaded after | idle RSS | versions p99 | search p99 | detail p99 | ceiling p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut missed = Vec::new();
    // The bare server answering from memory, started at the first size: its p99 under the same
    // load at each size is what the machine allows then, beside which the p99s are read.
    let mut ceiling: Option<String> = None;
    for (index, &modules) in sizes.iter().enumerate() {
        let scale = Scale {
            modules,
            ..options.scale
        };
        let seeded = seed_registry(runtime, &scale, None, false)
            .with_context(|| format!("seeding {modules} modules"))?;
        let quarry = Quarry::start(seeded.dir.path(), &[])?;
        let loaded = listing_loaded(&quarry.url, modules - 1)?;
        std::thread::sleep(Duration::from_millis(500));
        let idle_mib =
            rss_kib(quarry.pid(), "VmRSS:").context("reading quarry's RSS")? as f64 * 1024.0 / MIB;
        if ceiling.is_none() {
            ceiling = Some(crate::endpoints::ceiling_beside(&quarry.url)?);
        }
        let get = |paths| wrk::Requests::get(&quarry.url, paths);
        let p99 = |requests: wrk::Requests| -> anyhow::Result<Duration> {
            let measured = wrk::warmed(&requests, scale.connections, scale.seconds)?;
            anyhow::ensure!(measured.errors == 0, "{} failed requests", measured.errors);
            Ok(measured.p99)
        };
        let versions = p99(get(module_paths(&scale, "/versions")))?;
        let search = p99(get(search_paths("/v1/modules/search")))?;
        let detail = p99(get(module_paths(&scale, "")))?;
        let bare = p99(wrk::Requests::get(
            ceiling.as_deref().unwrap_or_default(),
            vec!["/v1/modules/x/y/z/versions".to_owned()],
        ))?;
        println!(
            "| {modules} × {} | {:.1} s | {} | {} | {} | {idle_mib:.1} MiB | {} | {} | {} | {} |",
            scale.versions,
            seeded.took.as_secs_f64(),
            ms(seeded.listing_reload),
            ms(quarry.ready),
            ms(loaded),
            ms(versions),
            ms(search),
            ms(detail),
            ms(bare),
        );
        if index + 1 == sizes.len() {
            let checks = [
                (
                    "start to ready",
                    quarry.ready < READY,
                    ms(quarry.ready),
                    "< 1 s".to_owned(),
                ),
                (
                    "idle RSS",
                    idle_mib < IDLE_RSS_MIB,
                    format!("{idle_mib:.1} MiB"),
                    format!("< {IDLE_RSS_MIB} MiB"),
                ),
                (
                    "search p99",
                    search < SEARCH_P99,
                    ms(search),
                    "< 10 ms".to_owned(),
                ),
                (
                    "detail p99",
                    detail < DETAIL_P99,
                    ms(detail),
                    "< 5 ms".to_owned(),
                ),
            ];
            for (name, met, figure, target) in checks {
                if !met {
                    missed.push(format!(
                        "{name} at {modules} modules: {figure} (target {target})"
                    ));
                }
            }
        }
    }
    if missed.is_empty() {
        println!("\nall targets at the largest size met");
    } else {
        println!("\ntargets missed:\n  {}", missed.join("\n  "));
    }
    Ok(())
}
