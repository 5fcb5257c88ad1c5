//! Quarry against its targets. Seeds a registry on the embedded default (10,000 modules × 20
//! versions, 500 blueprints, one module with a 200 MiB archive, the repository's examples),
//! starts the real `quarry` binary on it and a bare actix-web server that returns the same
//! `versions` bytes from memory (the ceiling), and measures:
//! - requests/s, p50 and p99 per read endpoint, against the ceiling, with the same in-tree load
//!   generator; start-to-ready time and idle RSS;
//! - 8 clients downloading the 200 MiB archive, and the server's RSS growth meanwhile;
//! - publishing a 50 MiB module over HTTP against `tar -xzf` of the same archive;
//! - rendering a blueprint of 300 templates in-process;
//! - `scaffold new --non-interactive` end to end on the largest golden path.
//!
//! Each figure is printed with its target and whether it was met.
//!
//! Run: `scripts/bench` (builds `scaffold` too, then a few minutes); `scripts/bench --quick` is
//! the small smoke run CI makes so the benchmark cannot rot.

mod archive;
mod endpoints;
mod growth;
mod publish;
mod render;
mod replay;
mod scaffold;
mod seed;
mod wrk;

use anyhow::Context;
use quarry_registry::config::Config;
use quarry_registry::service::Registry;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
pub struct Scale {
    modules: usize,
    versions: usize,
    blueprints: usize,
    seconds: u64,
    connections: usize,
    archive_mib: u64,
    archive_clients: usize,
    archive_rounds: usize,
    module_mib: u64,
    publish_runs: usize,
    templates: usize,
    render_runs: usize,
    scaffold_runs: usize,
    replay_clients: usize,
    replay_burst: usize,
}

const FULL: Scale = Scale {
    modules: 10_000,
    versions: 20,
    blueprints: 500,
    seconds: 5,
    connections: 64,
    archive_mib: 200,
    archive_clients: 8,
    archive_rounds: 3,
    module_mib: 50,
    publish_runs: 3,
    templates: 300,
    render_runs: 10,
    scaffold_runs: 5,
    replay_clients: 1000,
    replay_burst: 100,
};

const QUICK: Scale = Scale {
    modules: 60,
    versions: 5,
    blueprints: 10,
    seconds: 1,
    connections: 8,
    archive_mib: 20,
    archive_clients: 8,
    archive_rounds: 2,
    module_mib: 5,
    publish_runs: 3,
    templates: 300,
    render_runs: 10,
    scaffold_runs: 5,
    replay_clients: 100,
    replay_burst: 50,
};

const MIB: f64 = 1024.0 * 1024.0;

/// A field of `/proc/<pid>/status` in KiB (`VmRSS:`, `VmHWM:`), if the process is there.
fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
}

fn median(mut times: Vec<Duration>) -> anyhow::Result<Duration> {
    times.sort();
    times
        .get(times.len() / 2)
        .copied()
        .context("no runs to take the median of")
}

/// A running `quarry serve`, killed when dropped so an early error never leaves it behind.
struct Quarry {
    child: Child,
    url: String,
    ready: Duration,
}

impl Quarry {
    /// Starts `quarry serve` on `data_dir` in its default configuration, plus `extra`.
    fn start(data_dir: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        Self::start_on(data_dir, None, extra)
    }

    /// [`Quarry::start`] on the database at `database` (else the data directory's SQLite).
    fn start_on(data_dir: &Path, database: Option<&str>, extra: &[&str]) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let log = data_dir.join(format!("quarry-{port}.log"));
        let started = Instant::now();
        let mut command = Command::new(env!("CARGO_BIN_EXE_quarry"));
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env_remove("QUARRY_LOG")
            .env_remove("QUARRY_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?);
        if let Some(database) = database {
            command.env("QUARRY_DATABASE_URL", database);
        }
        let child = command.spawn().context("starting quarry")?;
        let mut quarry = Self {
            child,
            url,
            ready: Duration::ZERO,
        };
        let client = reqwest::blocking::Client::new();
        loop {
            if client
                .get(format!("{}/healthz", quarry.url))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                quarry.ready = started.elapsed();
                return Ok(quarry);
            }
            let exited = quarry.child.try_wait()?;
            if exited.is_some() || started.elapsed() > Duration::from_secs(60) {
                anyhow::bail!(
                    "quarry did not become ready ({}): {}",
                    exited.map_or("still starting after 60 s".into(), |status| status
                        .to_string()),
                    std::fs::read_to_string(&log).unwrap_or_default().trim()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Quarry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a token that may publish to the `bench` namespace, as an operator does.
fn create_token(data_dir: &Path, database: Option<&str>) -> anyhow::Result<String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quarry"));
    command.env_remove("QUARRY_DATABASE_URL");
    if let Some(database) = database {
        command.env("QUARRY_DATABASE_URL", database);
    }
    let output = command
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "token",
            "create",
            "--name",
            "bench",
            "--scope",
            "publish:bench",
        ])
        .env("QUARRY_LOG", "warn")
        .output()
        .context("running quarry token create")?;
    anyhow::ensure!(
        output.status.success(),
        "quarry token create failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

/// One line of the results table.
#[derive(Default)]
struct Row {
    name: String,
    figure: String,
    p50: String,
    p99: String,
    of_reference: String,
    target: String,
}

/// The results table, printed a row at a time as figures arrive. It remembers every missed
/// target and every measurement that could not be made, for the summary.
#[derive(Default)]
struct Report {
    missed: Vec<String>,
    failed: Vec<String>,
}

impl Report {
    fn start() -> Self {
        println!("\n| measurement | figure | p50 | p99 | of reference | target | met |");
        println!("|---|---|---|---|---|---|---|");
        Self::default()
    }

    fn print(row: &Row, met: &str) {
        println!(
            "| {} | {} | {} | {} | {} | {} | {met} |",
            row.name,
            row.figure,
            row.p50,
            row.p99,
            row.of_reference,
            if row.target.is_empty() {
                "—"
            } else {
                &row.target
            },
        );
    }

    /// A row without a target.
    fn info(&self, row: Row) {
        Self::print(&row, "");
    }

    /// A row with a target: met when `misses` is empty, else each miss is remembered.
    fn judge_misses(&mut self, row: Row, misses: Vec<String>) {
        let met = if misses.is_empty() { "yes" } else { "no" };
        Self::print(&row, met);
        self.missed.extend(
            misses
                .into_iter()
                .map(|miss| format!("{}: {miss}", row.name)),
        );
    }

    /// A row with one target, met or not.
    fn judge(&mut self, row: Row, met: bool) {
        let misses = if met {
            Vec::new()
        } else {
            vec![format!("{} (target {})", row.figure, row.target)]
        };
        self.judge_misses(row, misses);
    }

    /// A measurement that could not be made because something failed.
    fn failed(&mut self, name: &str, target: &str, error: &anyhow::Error) {
        let row = Row {
            name: name.to_owned(),
            figure: "failed (see below)".into(),
            target: target.to_owned(),
            ..Row::default()
        };
        Self::print(&row, "not measured");
        self.failed.push(format!("{name}: {error:#}"));
    }

    /// A measurement left out for a reason that is not a failure.
    fn not_measured(&mut self, name: &str, target: &str, why: &str) {
        let row = Row {
            name: name.to_owned(),
            figure: format!("not measured: {why}"),
            target: target.to_owned(),
            ..Row::default()
        };
        Self::print(&row, "not measured");
    }
}

/// The benchmark's options: `--quick`; `--modules N` and `--versions N` (the seeded listing);
/// `--postgres URL` (an empty PostgreSQL database: the reads, publishes and the terraform
/// replay again on it); `--growth` (the growth table from 10,000 to 100,000 modules instead).
struct Options {
    quick: bool,
    growth: bool,
    /// Only seed this directory (for profiling a server by hand), then stop.
    seed_only: Option<std::path::PathBuf>,
    postgres: Option<String>,
    scale: Scale,
}

fn options() -> anyhow::Result<Options> {
    let mut arguments = std::env::args().skip(1);
    let quick = std::env::args().any(|arg| arg == "--quick");
    let mut options = Options {
        quick,
        growth: false,
        seed_only: None,
        postgres: None,
        scale: if quick { QUICK } else { FULL },
    };
    while let Some(argument) = arguments.next() {
        let mut value = |name: &str| {
            arguments
                .next()
                .with_context(|| format!("{name} needs a value"))
        };
        match argument.as_str() {
            "--quick" | "--bench" => {}
            "--growth" => options.growth = true,
            "--seed-only" => options.seed_only = Some(value("--seed-only")?.into()),
            "--postgres" => options.postgres = Some(value("--postgres")?),
            "--modules" => options.scale.modules = value("--modules")?.parse()?,
            "--versions" => options.scale.versions = value("--versions")?.parse()?,
            other => anyhow::bail!(
                "unknown argument `{other}`: use --quick, --growth, --postgres URL, --modules N, --versions N, --seed-only DIR"
            ),
        }
    }
    anyhow::ensure!(
        options.scale.modules >= 1 && options.scale.modules <= 100_000,
        "--modules must be 1 to 100000 (the seeded names have five digits)"
    );
    anyhow::ensure!(options.scale.versions >= 1, "--versions must be at least 1");
    Ok(options)
}

/// A registry seeded for the benchmark, closed again so that `quarry` can open it.
struct Seeded {
    dir: tempfile::TempDir,
    digest: String,
    big: Option<(String, u64)>,
    examples: usize,
    took: Duration,
    /// How long reading the whole listing into memory took (what start and every reload do).
    listing_reload: Duration,
}

/// Seeds a new data directory (and `database`, when given): the listings, then with `everything`
/// the big module and the repository's examples too.
fn seed_registry(
    runtime: &tokio::runtime::Runtime,
    scale: &Scale,
    database: Option<&str>,
    everything: bool,
) -> anyhow::Result<Seeded> {
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    runtime.block_on(async {
        let mut config = Config::for_data_dir(dir.path());
        if let Some(database) = database {
            config.database_url = database.to_owned();
        }
        // Checks run in worker processes of the real binary.
        config.sandbox_program = std::path::PathBuf::from(env!("CARGO_BIN_EXE_quarry"));
        // Only this in-process publish of the big module needs the raised limit; the server
        // keeps its default.
        config.serve.max_archive_bytes = config
            .serve
            .max_archive_bytes
            .max((scale.archive_mib + 16) << 20);
        let registry = Registry::start(&config).await?;
        let digest = seed::listings(&registry, scale)
            .await
            .context("seeding the listings")?;
        let (big, examples) = if everything {
            let big = seed::big_module(&registry, scale.archive_mib).await?;
            (Some(big), seed::examples(&registry).await?)
        } else {
            (None, 0)
        };
        let took = started.elapsed();
        let reloading = Instant::now();
        registry.search.reload_all(&registry.db).await?;
        let listing_reload = reloading.elapsed();
        registry.db.close().await?;
        anyhow::Ok(Seeded {
            dir,
            digest,
            big,
            examples,
            took,
            listing_reload,
        })
    })
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if options.growth {
        return growth::table(&runtime, &options);
    }
    let scale = &options.scale;
    if let Some(dir) = &options.seed_only {
        let seeded = seed_registry(&runtime, scale, None, true)?;
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(seeded.dir.path())? {
            let entry = entry?;
            std::fs::rename(entry.path(), dir.join(entry.file_name()))?;
        }
        println!(
            "seeded {} in {:.1} s",
            dir.display(),
            seeded.took.as_secs_f64()
        );
        return Ok(());
    }
    let seeded = seed_registry(&runtime, scale, None, true)?;
    let (big_digest, big_size) = seeded.big.clone().context("the big module was seeded")?;
    println!(
        "seeded {} modules × {} versions and {} blueprints, a {:.0} MiB module and {} examples in {:.1} s{}",
        scale.modules,
        scale.versions,
        scale.blueprints,
        big_size as f64 / MIB,
        seeded.examples,
        seeded.took.as_secs_f64(),
        if options.quick { " (quick mode)" } else { "" }
    );
    let data = seeded.dir.path();
    let token = create_token(data, None)?;

    let quarry = Quarry::start(data, &[])?;
    let url = quarry.url.clone();
    // Idle means with the listing in memory: it loads in the background after the start.
    let loaded = growth::listing_loaded(&url, scale.modules - 1)?;
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = rss_kib(quarry.pid(), "VmRSS:").context("reading quarry's idle RSS")?;
    let ceiling = endpoints::ceiling_beside(&url)?;

    let mut report = Report::start();
    let ceiling_rps = ceiling_rate(&mut report, &runtime, scale, &ceiling)?;
    let public = request_rates(&mut report, scale, &url, ceiling_rps, &seeded.digest)?;
    token_rates(&mut report, scale, data, &token, ceiling_rps, public.hot())?;
    let ready_ms = quarry.ready.as_secs_f64() * 1000.0;
    report.judge(
        Row {
            name: "start to ready".into(),
            figure: format!("{ready_ms:.0} ms"),
            target: "< 500 ms".into(),
            ..Row::default()
        },
        ready_ms < 500.0,
    );
    report.info(Row {
        name: "the listing in memory, after the start".into(),
        figure: format!("{:.0} ms", loaded.as_secs_f64() * 1000.0),
        ..Row::default()
    });
    report.judge(
        Row {
            name: "idle RSS, the listing loaded".into(),
            figure: format!("{:.1} MiB", idle_rss as f64 / 1024.0),
            target: "< 50 MiB".into(),
            ..Row::default()
        },
        idle_rss < 50 * 1024,
    );
    // Read now: the archive downloads and publishes below would raise it.
    let peak = rss_kib(quarry.pid(), "VmHWM:").context("reading quarry's peak RSS")?;
    report.info(Row {
        name: "peak RSS under the request load".into(),
        figure: format!("{:.1} MiB", peak as f64 / 1024.0),
        ..Row::default()
    });

    archive_throughput(&mut report, &runtime, scale, &quarry, &big_digest, big_size);
    publish_throughput(&mut report, &runtime, scale, &url, &token, "");
    blueprint_api(&mut report, scale, &url);
    terraform_replay(&mut report, &runtime, scale, &url, "");
    render_time(&mut report, &runtime, scale);
    scaffold_time(&mut report, scale, &url);
    drop(quarry);
    if let Some(database) = &options.postgres {
        postgres_figures(&mut report, &runtime, scale, database, ceiling_rps, &public);
    }

    if report.missed.is_empty() {
        println!("\nall measured targets met");
    } else {
        println!("\ntargets missed:\n  {}", report.missed.join("\n  "));
    }
    if !report.failed.is_empty() {
        println!(
            "\nmeasurements that failed:\n  {}",
            report.failed.join("\n  ")
        );
        anyhow::bail!("{} measurement(s) failed", report.failed.len());
    }
    Ok(())
}

/// One read endpoint's load: what is sent and what it must reach.
struct Endpoint {
    name: String,
    requests: wrk::Requests,
    /// At least this share of the ceiling's rate (0: no target).
    ratio_target: f64,
    /// p99 under this (zero: no target).
    p99_target: Duration,
    /// For a token-checked variant: its public twin's rate, of which it must reach 80%.
    public_rps: Option<f64>,
}

impl Endpoint {
    fn new(name: &str, requests: wrk::Requests, ratio_target: f64, p99_ms: u64) -> Self {
        Self {
            name: name.to_owned(),
            requests,
            ratio_target,
            p99_target: Duration::from_millis(p99_ms),
            public_rps: None,
        }
    }
}

/// Share of the public twin's rate a token-checked read must reach.
const TOKEN_RATIO: f64 = 0.80;

/// Loads `endpoint` with wrk and prints its row against the ceiling's rate; returns its rate.
fn measure_endpoint(
    report: &mut Report,
    scale: &Scale,
    endpoint: &Endpoint,
    ceiling_rps: f64,
) -> anyhow::Result<f64> {
    // Each request once and a second of warm-up first, so the figures are a running
    // registry's, not a cold start's (the cold figures have their own row).
    wrk::prime(&endpoint.requests).with_context(|| format!("priming {}", endpoint.name))?;
    wrk::load(&endpoint.requests, WRK_THREADS, scale.connections, 1)
        .with_context(|| format!("warming up {}", endpoint.name))?;
    let measured = wrk::load(
        &endpoint.requests,
        WRK_THREADS,
        scale.connections,
        scale.seconds,
    )
    .with_context(|| format!("loading {}", endpoint.name))?;
    let ratio = measured.requests_per_second / f64::max(ceiling_rps, 1.0);
    let mut targets = Vec::new();
    let mut misses = Vec::new();
    let mut of_reference = if ceiling_rps > 0.0 {
        format!("{:.0}% of ceiling", ratio * 100.0)
    } else {
        "the reference".to_owned()
    };
    if endpoint.ratio_target > 0.0 {
        targets.push(format!(
            "≥ {:.0}% of ceiling",
            endpoint.ratio_target * 100.0
        ));
        if ratio < endpoint.ratio_target {
            misses.push(format!(
                "{:.0}% of the ceiling (target {:.0}%)",
                ratio * 100.0,
                endpoint.ratio_target * 100.0
            ));
        }
    }
    if let Some(public) = endpoint.public_rps {
        let of_public = measured.requests_per_second / f64::max(public, 1.0);
        of_reference.push_str(&format!(", {:.0}% of public", of_public * 100.0));
        targets.push(format!("≥ {:.0}% of public", TOKEN_RATIO * 100.0));
        if of_public < TOKEN_RATIO {
            misses.push(format!(
                "{:.0}% of the public read (target {:.0}%)",
                of_public * 100.0,
                TOKEN_RATIO * 100.0
            ));
        }
    }
    if endpoint.p99_target > Duration::ZERO {
        targets.push(format!("p99 < {} ms", endpoint.p99_target.as_millis()));
        if measured.p99 >= endpoint.p99_target {
            misses.push(format!(
                "p99 {:.2} ms (target < {} ms)",
                measured.p99.as_secs_f64() * 1000.0,
                endpoint.p99_target.as_millis()
            ));
        }
    }
    if measured.errors > 0 {
        misses.push(format!("{} failed requests", measured.errors));
    }
    let row = Row {
        name: endpoint.name.clone(),
        figure: format!("{:.0} req/s", measured.requests_per_second),
        p50: format!("{:.2} ms", measured.p50.as_secs_f64() * 1000.0),
        p99: format!("{:.2} ms", measured.p99.as_secs_f64() * 1000.0),
        of_reference,
        target: targets.join(", "),
    };
    if targets.is_empty() && misses.is_empty() {
        report.info(row);
    } else {
        report.judge_misses(row, misses);
    }
    Ok(measured.requests_per_second)
}

/// wrk's threads: one, so the server keeps the other core of a 2-core machine.
const WRK_THREADS: usize = 1;

/// The ceiling (a bare actix server answering from memory) driven by wrk and by the in-tree
/// reqwest driver: wrk must be the faster, or the figures would measure the driver. Returns the
/// ceiling's rate under wrk, the reference of every ratio.
fn ceiling_rate(
    report: &mut Report,
    runtime: &tokio::runtime::Runtime,
    scale: &Scale,
    ceiling: &str,
) -> anyhow::Result<f64> {
    let path = vec!["/v1/modules/x/y/z/versions".to_owned()];
    let endpoint = Endpoint::new(
        "ceiling: versions from memory (wrk)",
        wrk::Requests::get(ceiling, path.clone()),
        0.0,
        0,
    );
    let ceiling_rps = measure_endpoint(report, scale, &endpoint, 0.0)?;
    let in_tree = runtime
        .block_on(endpoints::load(
            vec![format!("{ceiling}{}", path[0])],
            scale.connections,
            scale.seconds,
        ))
        .context("loading the ceiling with the in-tree driver")?;
    report.judge(
        Row {
            name: "the in-tree reqwest driver on the same ceiling".into(),
            figure: format!("{:.0} req/s", in_tree.requests_per_second),
            p50: format!("{:.2} ms", in_tree.p50.as_secs_f64() * 1000.0),
            p99: format!("{:.2} ms", in_tree.p99.as_secs_f64() * 1000.0),
            of_reference: format!(
                "{:.0}% of wrk's",
                in_tree.requests_per_second / ceiling_rps.max(1.0) * 100.0
            ),
            target: "wrk drives the ceiling faster".into(),
        },
        ceiling_rps >= in_tree.requests_per_second,
    );
    Ok(ceiling_rps)
}

/// The paths of the first (up to) 1,000 seeded modules, with `suffix`.
fn module_paths(scale: &Scale, suffix: &str) -> Vec<String> {
    (0..scale.modules.min(1000))
        .map(|i| format!("/v1/modules/team{:02}/mod{i:05}/aws{suffix}", i % 50))
        .collect()
}

fn search_paths(prefix: &str) -> Vec<String> {
    (0..200)
        .map(|i| format!("{prefix}?q=mod{:03}", i % 100))
        .collect()
}

/// Each endpoint's requests/s, by name.
struct Rates(Vec<(String, f64)>);

impl Rates {
    fn of(&self, name: &str) -> f64 {
        self.0
            .iter()
            .find(|(measured, _)| measured == name)
            .map_or(0.0, |(_, rate)| *rate)
    }

    /// `versions`, `download` and the archive GET: what token-checked reads are compared with.
    fn hot(&self) -> [f64; 3] {
        ["versions", "download", "archive GET (small archive)"].map(|name| self.of(name))
    }
}

/// Requests/s, p50 and p99 of each read endpoint of the public registry at `url`, against the
/// ceiling's rate.
fn request_rates(
    report: &mut Report,
    scale: &Scale,
    url: &str,
    ceiling_rps: f64,
    digest: &str,
) -> anyhow::Result<Rates> {
    let get = |paths| wrk::Requests::get(url, paths);
    let latest = format!("/1.{}.0/download", scale.versions - 1);
    // The first second of `versions` on the freshly started server, every cache empty.
    let cold = wrk::load(
        &get(module_paths(scale, "/versions")),
        WRK_THREADS,
        scale.connections,
        1,
    )?;
    report.info(Row {
        name: "versions, cold caches (the first second after start)".into(),
        figure: format!("{:.0} req/s", cold.requests_per_second),
        p50: format!("{:.2} ms", cold.p50.as_secs_f64() * 1000.0),
        p99: format!("{:.2} ms", cold.p99.as_secs_f64() * 1000.0),
        of_reference: format!(
            "{:.0}% of ceiling",
            cold.requests_per_second / ceiling_rps.max(1.0) * 100.0
        ),
        ..Row::default()
    });
    let endpoints = [
        Endpoint::new("versions", get(module_paths(scale, "/versions")), 0.60, 5),
        Endpoint::new("download", get(module_paths(scale, &latest)), 0.60, 5),
        Endpoint::new("search", get(search_paths("/v1/modules/search")), 0.0, 10),
        Endpoint::new("module detail", get(module_paths(scale, "")), 0.0, 10),
        Endpoint::new("UI: home page", get(vec!["/".into()]), 0.0, 10),
        Endpoint::new("UI: search page", get(search_paths("/search")), 0.0, 10),
        Endpoint::new(
            "UI: module page",
            get((0..scale.modules.min(1000))
                .map(|i| format!("/modules/team{:02}/mod{i:05}/aws", i % 50))
                .collect()),
            0.0,
            10,
        ),
        Endpoint::new(
            "UI: blueprint page",
            get((0..scale.blueprints.min(100))
                .map(|i| format!("/blueprints/platform/golden{i:04}"))
                .collect()),
            0.0,
            10,
        ),
        Endpoint::new(
            "archive GET (small archive)",
            get(vec![format!("/v1/archives/{digest}.tar.gz")]),
            0.0,
            0,
        ),
    ];
    let mut rates = Vec::new();
    for endpoint in &endpoints {
        let rate = measure_endpoint(report, scale, endpoint, ceiling_rps)?;
        rates.push((endpoint.name.clone(), rate));
    }
    Ok(Rates(rates))
}

/// The same reads on the same data served with `--read-access token`: `versions` and
/// `download` with a bearer token, and the archive GET through the signed URL a download
/// answer names (terraform sends no token there). Each must reach 80% of its public twin.
fn token_rates(
    report: &mut Report,
    scale: &Scale,
    data_dir: &Path,
    token: &str,
    ceiling_rps: f64,
    public: [f64; 3],
) -> anyhow::Result<()> {
    let quarry = Quarry::start(data_dir, &["--read-access", "token"])?;
    let latest = format!("/1.{}.0/download", scale.versions - 1);
    let download = reqwest::blocking::Client::new()
        .get(format!(
            "{}/v1/modules/team00/mod00000/aws{latest}",
            quarry.url
        ))
        .bearer_auth(token)
        .send()?
        .error_for_status()?;
    let signed = download
        .headers()
        .get("x-terraform-get")
        .and_then(|value| value.to_str().ok())
        .context("the token download answer names no archive URL")?
        .to_owned();
    let endpoints = [
        (
            "versions, with a token (--read-access token)",
            wrk::Requests::get(&quarry.url, module_paths(scale, "/versions")).with_token(token),
            public[0],
        ),
        (
            "download, with a token (--read-access token)",
            wrk::Requests::get(&quarry.url, module_paths(scale, &latest)).with_token(token),
            public[1],
        ),
        (
            "archive GET, signed URL (--read-access token)",
            wrk::Requests::get(&quarry.url, vec![signed]),
            public[2],
        ),
    ];
    for (name, requests, public_rps) in endpoints {
        let endpoint = Endpoint {
            public_rps: Some(public_rps),
            ..Endpoint::new(name, requests, 0.0, 0)
        };
        measure_endpoint(report, scale, &endpoint, ceiling_rps)?;
    }
    Ok(())
}

/// Several clients download the big module's archive at once; GiB/s and the server's RSS growth.
fn archive_throughput(
    report: &mut Report,
    runtime: &tokio::runtime::Runtime,
    scale: &Scale,
    quarry: &Quarry,
    digest: &str,
    size: u64,
) {
    let name = format!(
        "archive GET, {:.0} MiB{}, {} clients × {} each",
        size as f64 / MIB,
        if scale.archive_mib < FULL.archive_mib {
            " (quick mode; full: 200 MiB)"
        } else {
            ""
        },
        scale.archive_clients,
        scale.archive_rounds,
    );
    let rss_name = "quarry RSS growth during those GETs";
    let (target, rss_target) = ("≥ 1 GiB/s", "< 32 MiB");
    let measured = runtime.block_on(archive::download(
        &format!("{}/v1/archives/{digest}.tar.gz", quarry.url),
        scale.archive_clients,
        scale.archive_rounds,
        size,
        quarry.pid(),
    ));
    match measured {
        Ok(throughput) => {
            report.judge(
                Row {
                    name,
                    figure: format!(
                        "{:.2} GiB/s ({:.2} GiB in {:.2} s)",
                        throughput.gib_per_second(),
                        throughput.bytes as f64 / MIB / 1024.0,
                        throughput.elapsed.as_secs_f64()
                    ),
                    target: target.into(),
                    ..Row::default()
                },
                throughput.gib_per_second() >= 1.0,
            );
            report.judge(
                Row {
                    name: rss_name.into(),
                    figure: format!(
                        "{:.1} MiB (baseline {:.1} MiB, peak {:.1} MiB, {} samples)",
                        throughput.growth_kib() as f64 / 1024.0,
                        throughput.baseline_kib as f64 / 1024.0,
                        throughput.peak_kib as f64 / 1024.0,
                        throughput.samples
                    ),
                    target: rss_target.into(),
                    ..Row::default()
                },
                throughput.growth_kib() < 32 * 1024,
            );
        }
        Err(error) => {
            report.failed(&name, target, &error);
            report.failed(rss_name, rss_target, &error);
        }
    }
}

/// Publishing a module over HTTP against `tar -xzf` of its archive.
fn publish_throughput(
    report: &mut Report,
    runtime: &tokio::runtime::Runtime,
    scale: &Scale,
    url: &str,
    token: &str,
    on: &str,
) {
    let quick_note = if scale.module_mib < FULL.module_mib {
        "; quick mode, full: 50 MiB"
    } else {
        ""
    };
    let runs = scale.publish_runs;
    let target = "≥ 80% of tar";
    let name = |archive: &str| {
        format!(
            "publish {} MiB module{on} ({archive}{quick_note}), best of {runs}",
            scale.module_mib
        )
    };
    match publish::measure(runtime, url, token, scale.module_mib, runs) {
        Ok(figures) => {
            let archive_mib = figures.archive_bytes as f64 / MIB;
            let tar_rate = archive_mib / figures.tar.as_secs_f64();
            let publish_rate = archive_mib / figures.publish.as_secs_f64();
            let ratio = publish_rate / tar_rate;
            report.info(Row {
                name: format!(
                    "tar -xzf of that archive ({:.1} MiB unpacked), best of {runs}",
                    figures.module_bytes as f64 / MIB
                ),
                figure: format!(
                    "{tar_rate:.0} MiB/s ({:.0} ms)",
                    figures.tar.as_secs_f64() * 1000.0
                ),
                target: "reference".into(),
                ..Row::default()
            });
            report.judge(
                Row {
                    name: name(&format!("{archive_mib:.1} MiB archive")),
                    figure: format!(
                        "{publish_rate:.0} MiB/s ({:.0} ms)",
                        figures.publish.as_secs_f64() * 1000.0
                    ),
                    of_reference: format!("{:.0}% of tar", ratio * 100.0),
                    target: target.into(),
                    ..Row::default()
                },
                ratio >= 0.8,
            );
        }
        Err(error) => report.failed(&name("POST"), target, &error),
    }
}

/// Inputs of a production web-service stack, the branch with the most to render.
const WEB_SERVICE_INPUTS: &str = r#"{"service_name":"checkout","environment":"prod","team":"payments","container_image":"ghcr.io/acme/checkout:1.4.0","approvers":["ana","bo"],"db_password":"correct-horse-battery-staple"}"#;

/// Validate and render of `platform/web-service` through the API (each under the server's
/// render budget, in its sandbox workers), requests/s and p99.
fn blueprint_api(report: &mut Report, scale: &Scale, url: &str) {
    for verb in ["validate", "render"] {
        let name = format!("{verb} {} through the API", scaffold::BLUEPRINT);
        let requests = wrk::Requests::get(
            url,
            vec![format!(
                "/v1/blueprints/{}/1.0.0/{verb}",
                scaffold::BLUEPRINT
            )],
        )
        .post_json(WEB_SERVICE_INPUTS.to_owned());
        let measured = wrk::load(
            &requests,
            WRK_THREADS,
            scale.connections.min(16),
            scale.seconds,
        );
        match measured {
            Ok(measured) => {
                let row = Row {
                    name,
                    figure: format!("{:.0} req/s", measured.requests_per_second),
                    p50: format!("{:.2} ms", measured.p50.as_secs_f64() * 1000.0),
                    p99: format!("{:.2} ms", measured.p99.as_secs_f64() * 1000.0),
                    target: "no failed request".into(),
                    ..Row::default()
                };
                report.judge(row, measured.errors == 0);
            }
            Err(error) => report.failed(&name, "no failed request", &error),
        }
    }
}

/// `terraform init` of a stack of 20 registry modules, replayed by many clients in bursts.
fn terraform_replay(
    report: &mut Report,
    runtime: &tokio::runtime::Runtime,
    scale: &Scale,
    url: &str,
    on: &str,
) {
    let modules: Vec<String> = (0..20.min(scale.modules))
        .map(|i| format!("team{:02}/mod{i:05}/aws", i % 50))
        .collect();
    let name = format!(
        "terraform init replay{on}: {} modules, {} clients in bursts of {}",
        modules.len(),
        scale.replay_clients,
        scale.replay_burst
    );
    let target = "no failed init";
    let version = format!("1.{}.0", scale.versions - 1);
    let replayed = runtime.block_on(replay::run(
        url,
        modules,
        &version,
        scale.replay_clients,
        scale.replay_burst,
    ));
    match replayed {
        Ok(replayed) => report.judge(
            Row {
                name,
                figure: format!(
                    "{} inits, {} requests in {:.1} s ({:.0} req/s), {} failed",
                    replayed.inits,
                    replayed.requests,
                    replayed.elapsed.as_secs_f64(),
                    replayed.requests as f64 / replayed.elapsed.as_secs_f64(),
                    replayed.errors
                ),
                p50: format!("{:.1} ms per init", replayed.p50.as_secs_f64() * 1000.0),
                p99: format!("{:.1} ms per init", replayed.p99.as_secs_f64() * 1000.0),
                target: target.into(),
                ..Row::default()
            },
            replayed.errors == 0,
        ),
        Err(error) => report.failed(&name, target, &error),
    }
}

/// Share of SQLite's rate a cached read on PostgreSQL must reach.
const POSTGRES_RATIO: f64 = 0.90;

/// The cached reads, publishes and the terraform replay again on PostgreSQL; each read within
/// 10% of SQLite's rate.
fn postgres_figures(
    report: &mut Report,
    runtime: &tokio::runtime::Runtime,
    scale: &Scale,
    database: &str,
    ceiling_rps: f64,
    sqlite: &Rates,
) {
    let on = " on PostgreSQL";
    let mut run = || -> anyhow::Result<()> {
        let seeded = seed_registry(runtime, scale, Some(database), false)?;
        println!(
            "\nseeded PostgreSQL ({} modules × {} versions) in {:.1} s",
            scale.modules,
            scale.versions,
            seeded.took.as_secs_f64()
        );
        let data = seeded.dir.path();
        let token = create_token(data, Some(database))?;
        let quarry = Quarry::start_on(data, Some(database), &[])?;
        let get = |paths| wrk::Requests::get(&quarry.url, paths);
        let latest = format!("/1.{}.0/download", scale.versions - 1);
        let reads = [
            ("versions", get(module_paths(scale, "/versions"))),
            ("download", get(module_paths(scale, &latest))),
            ("search", get(search_paths("/v1/modules/search"))),
            ("module detail", get(module_paths(scale, ""))),
        ];
        for (name, requests) in reads {
            let sqlite_rps = sqlite.of(name);
            let measured = wrk::load(&requests, WRK_THREADS, scale.connections, scale.seconds)?;
            let ratio = measured.requests_per_second / sqlite_rps.max(1.0);
            let row = Row {
                name: format!("{name}{on}"),
                figure: format!("{:.0} req/s", measured.requests_per_second),
                p50: format!("{:.2} ms", measured.p50.as_secs_f64() * 1000.0),
                p99: format!("{:.2} ms", measured.p99.as_secs_f64() * 1000.0),
                of_reference: format!(
                    "{:.0}% of SQLite, {:.0}% of ceiling",
                    ratio * 100.0,
                    measured.requests_per_second / ceiling_rps.max(1.0) * 100.0
                ),
                target: format!("≥ {:.0}% of SQLite", POSTGRES_RATIO * 100.0),
            };
            let mut misses = Vec::new();
            if ratio < POSTGRES_RATIO {
                misses.push(format!(
                    "{:.0}% of SQLite's rate (target {:.0}%)",
                    ratio * 100.0,
                    POSTGRES_RATIO * 100.0
                ));
            }
            if measured.errors > 0 {
                misses.push(format!("{} failed requests", measured.errors));
            }
            report.judge_misses(row, misses);
        }
        publish_throughput(report, runtime, scale, &quarry.url, &token, on);
        terraform_replay(report, runtime, scale, &quarry.url, on);
        Ok(())
    };
    if let Err(error) = run() {
        report.failed("reads on PostgreSQL", "≥ 90% of SQLite", &error);
    }
}

/// Rendering a blueprint of many templates in-process.
fn render_time(report: &mut Report, runtime: &tokio::runtime::Runtime, scale: &Scale) {
    let name = format!(
        "render {} templates in-process, median of {}",
        scale.templates, scale.render_runs
    );
    let target = "< 100 ms";
    let measured = tempfile::tempdir()
        .context("creating the blueprint's directory")
        .and_then(|dir| {
            render::write_blueprint(dir.path(), scale.templates)?;
            runtime.block_on(render::median_render(dir.path(), scale.render_runs))
        });
    match measured {
        Ok((median, files)) => report.judge(
            Row {
                name,
                figure: format!("{:.1} ms ({files} files)", median.as_secs_f64() * 1000.0),
                target: target.into(),
                ..Row::default()
            },
            median < Duration::from_millis(100),
        ),
        Err(error) => report.failed(&name, target, &error),
    }
}

/// `scaffold new --non-interactive` on the largest golden path, as a process.
fn scaffold_time(report: &mut Report, scale: &Scale, url: &str) {
    let name = format!(
        "scaffold new {} --non-interactive, cold cache, median of {}",
        scaffold::BLUEPRINT,
        scale.scaffold_runs
    );
    let target = "< 250 ms";
    let Some(binary) = scaffold::binary() else {
        report.not_measured(
            &name,
            target,
            "build scaffold first (scripts/bench builds it)",
        );
        return;
    };
    match scaffold::median_new(&binary, url, scale.scaffold_runs) {
        Ok((median, files)) => report.judge(
            Row {
                name,
                figure: format!(
                    "{:.0} ms ({files} files written)",
                    median.as_secs_f64() * 1000.0
                ),
                target: target.into(),
                ..Row::default()
            },
            median < Duration::from_millis(250),
        ),
        Err(error) => report.failed(&name, target, &error),
    }
}
