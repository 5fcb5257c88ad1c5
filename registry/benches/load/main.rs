//! Quarry against its targets. Seeds a registry on the embedded default (10,000 modules × 20
//! versions, 500 blueprints, one module with a 200 MiB archive, the repository's examples),
//! starts the real `quarry` binary on it and a bare actix-web server that returns the same
//! `versions` bytes from memory (the ceiling), and measures:
//! - requests/s, p50 and p99 per read endpoint under wrk, each against what it is compared with
//!   (the ceiling; a token read's public twin; a PostgreSQL read's SQLite twin), the two
//!   loaded in turn a second at a time; start-to-ready time and idle RSS;
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
    ceiling_rate(&mut report, &runtime, scale, &ceiling)?;
    request_rates(&mut report, scale, &url, &ceiling, &seeded.digest)?;
    token_rates(&mut report, scale, data, &token, &url, &seeded.digest)?;
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
    if let Some(database) = &options.postgres {
        postgres_figures(&mut report, &runtime, scale, database, &ceiling, &url);
    }
    drop(quarry);

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

/// What a row's rate is compared with, measured under the same load in the same seconds as the
/// row (in turn, see [`wrk::interleaved`]): this machine's speed changes by 2× within an hour
/// and by a quarter from one second to the next, and against a reference measured minutes
/// earlier a token-checked read came out at 245% of its public twin.
struct Reference {
    /// How the row names it: `ceiling`, `public`, `SQLite`.
    name: &'static str,
    requests: wrk::Requests,
    /// The share of its rate the row must reach (0: shown, no target).
    target: f64,
}

impl Reference {
    /// The bare server at `ceiling` answering `versions` from memory.
    fn ceiling(ceiling: &str, target: f64) -> Self {
        Self {
            name: "ceiling",
            requests: wrk::Requests::get(ceiling, vec![CEILING_PATH.to_owned()]),
            target,
        }
    }
}

/// The path the ceiling is asked (it answers every path alike).
const CEILING_PATH: &str = "/v1/modules/x/y/z/versions";

/// One read endpoint's load: what is sent and what it must reach.
struct Endpoint {
    name: String,
    requests: wrk::Requests,
    /// p99 under this (zero: no target).
    p99_target: Duration,
    references: Vec<Reference>,
}

impl Endpoint {
    fn new(name: &str, requests: wrk::Requests, p99_ms: u64) -> Self {
        Self {
            name: name.to_owned(),
            requests,
            p99_target: Duration::from_millis(p99_ms),
            references: Vec::new(),
        }
    }

    fn against(mut self, reference: Reference) -> Self {
        self.references.push(reference);
        self
    }
}

/// Share of the public twin's rate a token-checked read must reach.
const TOKEN_RATIO: f64 = 0.80;

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// Loads `endpoint` and each of its references in turn with wrk (see [`wrk::interleaved`]), and
/// prints its row against them; returns its figures.
fn measure_endpoint(
    report: &mut Report,
    scale: &Scale,
    endpoint: &Endpoint,
) -> anyhow::Result<endpoints::Measured> {
    let runs: Vec<&wrk::Requests> = std::iter::once(&endpoint.requests)
        .chain(
            endpoint
                .references
                .iter()
                .map(|reference| &reference.requests),
        )
        .collect();
    let mut figures = wrk::interleaved(&runs, scale.connections, scale.seconds)
        .with_context(|| format!("loading {}", endpoint.name))?
        .into_iter();
    let measured = figures.next().context("no figures for the endpoint")?;
    let references: Vec<_> = endpoint.references.iter().zip(figures).collect();
    let mut targets = Vec::new();
    let mut misses = Vec::new();
    let mut compared = Vec::new();
    for (reference, figures) in &references {
        let ratio = measured.requests_per_second / figures.requests_per_second.max(1.0);
        compared.push(format!(
            "{:.0}% of {} ({:.0} req/s, p99 {})",
            ratio * 100.0,
            reference.name,
            figures.requests_per_second,
            millis(figures.p99)
        ));
        if reference.target > 0.0 {
            targets.push(format!(
                "≥ {:.0}% of {}",
                reference.target * 100.0,
                reference.name
            ));
            if ratio < reference.target {
                misses.push(format!(
                    "{:.0}% of the {}'s rate (target {:.0}%)",
                    ratio * 100.0,
                    reference.name,
                    reference.target * 100.0
                ));
            }
        }
    }
    if endpoint.p99_target > Duration::ZERO {
        targets.push(format!("p99 < {} ms", endpoint.p99_target.as_millis()));
        if measured.p99 >= endpoint.p99_target {
            let beside = references
                .iter()
                .find(|(reference, _)| reference.name == "ceiling")
                .map(|(_, ceiling)| format!("; the ceiling's meanwhile: {}", millis(ceiling.p99)))
                .unwrap_or_default();
            misses.push(format!(
                "p99 {} (target < {} ms{beside})",
                millis(measured.p99),
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
        p50: millis(measured.p50),
        p99: millis(measured.p99),
        of_reference: if compared.is_empty() {
            "the reference".to_owned()
        } else {
            compared.join(", ")
        },
        target: targets.join(", "),
    };
    if targets.is_empty() && misses.is_empty() {
        report.info(row);
    } else {
        report.judge_misses(row, misses);
    }
    Ok(measured)
}

/// The ceiling (a bare actix server answering from memory) driven by wrk and by the in-tree
/// reqwest driver: wrk must be the faster, or the figures would measure the driver.
fn ceiling_rate(
    report: &mut Report,
    runtime: &tokio::runtime::Runtime,
    scale: &Scale,
    ceiling: &str,
) -> anyhow::Result<()> {
    let endpoint = Endpoint::new(
        "ceiling: versions from memory (wrk)",
        Reference::ceiling(ceiling, 0.0).requests,
        0,
    );
    let ceiling_rps = measure_endpoint(report, scale, &endpoint)?.requests_per_second;
    let in_tree = runtime
        .block_on(endpoints::load(
            vec![format!("{ceiling}{CEILING_PATH}")],
            scale.connections,
            scale.seconds,
        ))
        .context("loading the ceiling with the in-tree driver")?;
    report.judge(
        Row {
            name: "the in-tree reqwest driver on the same ceiling".into(),
            figure: format!("{:.0} req/s", in_tree.requests_per_second),
            p50: millis(in_tree.p50),
            p99: millis(in_tree.p99),
            of_reference: format!(
                "{:.0}% of wrk's",
                in_tree.requests_per_second / ceiling_rps.max(1.0) * 100.0
            ),
            target: "wrk drives the ceiling faster".into(),
        },
        ceiling_rps >= in_tree.requests_per_second,
    );
    Ok(())
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

/// The download path of the latest seeded version.
fn latest_download(scale: &Scale) -> String {
    format!("/1.{}.0/download", scale.versions - 1)
}

/// The API's reads of a registry at `url` the other runs repeat (with a token, on PostgreSQL):
/// `versions`, `download`, search and module detail, by name.
fn api_reads(scale: &Scale, url: &str) -> [(&'static str, wrk::Requests); 4] {
    let get = |paths| wrk::Requests::get(url, paths);
    [
        ("versions", get(module_paths(scale, "/versions"))),
        (
            "download",
            get(module_paths(scale, &latest_download(scale))),
        ),
        ("search", get(search_paths("/v1/modules/search"))),
        ("module detail", get(module_paths(scale, ""))),
    ]
}

/// A small archive of the registry at `url`, by its digest.
fn archive_get(url: &str, digest: &str) -> wrk::Requests {
    wrk::Requests::get(url, vec![format!("/v1/archives/{digest}.tar.gz")])
}

/// Requests/s, p50 and p99 of each read endpoint of the public registry at `url`, each against
/// the ceiling at `ceiling` measured in turn with it.
fn request_rates(
    report: &mut Report,
    scale: &Scale,
    url: &str,
    ceiling: &str,
    digest: &str,
) -> anyhow::Result<()> {
    let get = |paths| wrk::Requests::get(url, paths);
    // The first second of `versions` on the freshly started server, every cache empty, against
    // the ceiling's second just before it.
    let ceiling_second = wrk::load(
        &Reference::ceiling(ceiling, 0.0).requests,
        wrk::THREADS,
        scale.connections,
        1,
    )?;
    let cold = wrk::load(
        &get(module_paths(scale, "/versions")),
        wrk::THREADS,
        scale.connections,
        1,
    )?;
    report.info(Row {
        name: "versions, cold caches (the first second after start)".into(),
        figure: format!("{:.0} req/s", cold.requests_per_second),
        p50: millis(cold.p50),
        p99: millis(cold.p99),
        of_reference: format!(
            "{:.0}% of ceiling ({:.0} req/s)",
            cold.requests_per_second / ceiling_second.requests_per_second.max(1.0) * 100.0,
            ceiling_second.requests_per_second
        ),
        ..Row::default()
    });
    let [versions, download, search, detail] = api_reads(scale, url);
    // Each against the ceiling, with the share of its rate it must reach (0: shown, no target).
    let on_ceiling = |share| Reference::ceiling(ceiling, share);
    let endpoints = [
        Endpoint::new(versions.0, versions.1, 5).against(on_ceiling(0.60)),
        Endpoint::new(download.0, download.1, 5).against(on_ceiling(0.60)),
        Endpoint::new(search.0, search.1, 10).against(on_ceiling(0.0)),
        Endpoint::new(detail.0, detail.1, 10).against(on_ceiling(0.0)),
        Endpoint::new("UI: home page", get(vec!["/".into()]), 10).against(on_ceiling(0.0)),
        Endpoint::new("UI: search page", get(search_paths("/search")), 10).against(on_ceiling(0.0)),
        Endpoint::new(
            "UI: module page",
            get((0..scale.modules.min(1000))
                .map(|i| format!("/modules/team{:02}/mod{i:05}/aws", i % 50))
                .collect()),
            10,
        )
        .against(on_ceiling(0.0)),
        Endpoint::new(
            "UI: blueprint page",
            get((0..scale.blueprints.min(100))
                .map(|i| format!("/blueprints/platform/golden{i:04}"))
                .collect()),
            10,
        )
        .against(on_ceiling(0.0)),
        Endpoint::new("archive GET (small archive)", archive_get(url, digest), 0)
            .against(on_ceiling(0.0)),
    ];
    for endpoint in endpoints {
        measure_endpoint(report, scale, &endpoint)?;
    }
    Ok(())
}

/// The same reads on the same data served with `--read-access token`: `versions` and
/// `download` with a bearer token, and the archive GET through the signed URL a download
/// answer names (terraform sends no token there). Each must reach 80% of its public twin on the
/// public registry at `public`, measured in turn with it.
fn token_rates(
    report: &mut Report,
    scale: &Scale,
    data_dir: &Path,
    token: &str,
    public: &str,
    digest: &str,
) -> anyhow::Result<()> {
    let quarry = Quarry::start(data_dir, &["--read-access", "token"])?;
    let download = reqwest::blocking::Client::new()
        .get(format!(
            "{}/v1/modules/team00/mod00000/aws{}",
            quarry.url,
            latest_download(scale)
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
    let [versions, download, ..] = api_reads(scale, &quarry.url);
    let [public_versions, public_download, ..] = api_reads(scale, public);
    let twin = |requests| Reference {
        name: "public",
        requests,
        target: TOKEN_RATIO,
    };
    let endpoints = [
        Endpoint::new(
            "versions, with a token (--read-access token)",
            versions.1.with_token(token),
            0,
        )
        .against(twin(public_versions.1)),
        Endpoint::new(
            "download, with a token (--read-access token)",
            download.1.with_token(token),
            0,
        )
        .against(twin(public_download.1)),
        Endpoint::new(
            "archive GET, signed URL (--read-access token)",
            wrk::Requests::get(&quarry.url, vec![signed]),
            0,
        )
        .against(twin(archive_get(public, digest))),
    ];
    for endpoint in endpoints {
        measure_endpoint(report, scale, &endpoint)?;
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
        let measured = wrk::warmed(&requests, scale.connections.min(16), scale.seconds);
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
/// 10% of the same read on the SQLite registry at `sqlite`, measured in turn with it.
fn postgres_figures(
    report: &mut Report,
    runtime: &tokio::runtime::Runtime,
    scale: &Scale,
    database: &str,
    ceiling: &str,
    sqlite: &str,
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
        let reads = api_reads(scale, &quarry.url)
            .into_iter()
            .zip(api_reads(scale, sqlite));
        for ((name, requests), (_, on_sqlite)) in reads {
            let endpoint = Endpoint::new(&format!("{name}{on}"), requests, 0)
                .against(Reference {
                    name: "SQLite",
                    requests: on_sqlite,
                    target: POSTGRES_RATIO,
                })
                .against(Reference::ceiling(ceiling, 0.0));
            measure_endpoint(report, scale, &endpoint)?;
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
