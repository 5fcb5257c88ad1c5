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
mod publish;
mod render;
mod scaffold;
mod seed;

use anyhow::Context;
use quarry_registry::config::Config;
use quarry_registry::service::Registry;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let log = data_dir.join("quarry.log");
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_quarry"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("QUARRY_LOG", "warn")
            .env_remove("QUARRY_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting quarry")?;
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
fn create_token(data_dir: &Path) -> anyhow::Result<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_quarry"))
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
        .env_remove("QUARRY_DATABASE_URL")
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

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let scale = if quick { QUICK } else { FULL };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let data = tempfile::tempdir()?;

    let seeding = Instant::now();
    let (digest, (big_digest, big_size), imported) = runtime.block_on(async {
        let mut config = Config::for_data_dir(data.path());
        // Checks run in worker processes of the real binary.
        config.sandbox_program = std::path::PathBuf::from(env!("CARGO_BIN_EXE_quarry"));
        // Only this in-process publish of the big module needs the raised limit; the server
        // keeps its default.
        config.serve.max_archive_bytes = config
            .serve
            .max_archive_bytes
            .max((scale.archive_mib + 16) << 20);
        let registry = Registry::start(&config).await?;
        let digest = seed::listings(&registry, &scale)
            .await
            .context("seeding the listings")?;
        let big = seed::big_module(&registry, scale.archive_mib).await?;
        let imported = seed::examples(&registry).await?;
        registry.db.close().await?;
        anyhow::Ok((digest, big, imported))
    })?;
    println!(
        "seeded {} modules × {} versions and {} blueprints, a {:.0} MiB module and {imported} examples in {:.1} s{}",
        scale.modules,
        scale.versions,
        scale.blueprints,
        big_size as f64 / MIB,
        seeding.elapsed().as_secs_f64(),
        if quick { " (quick mode)" } else { "" }
    );
    let token = create_token(data.path())?;

    let quarry = Quarry::start(data.path())?;
    let url = quarry.url.clone();
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = rss_kib(quarry.pid(), "VmRSS:").context("reading quarry's idle RSS")?;
    let versions_url = format!("{url}/v1/modules/team00/mod00000/aws/versions");
    let versions_body = reqwest::blocking::get(&versions_url)
        .and_then(reqwest::blocking::Response::error_for_status)
        .and_then(reqwest::blocking::Response::bytes)
        .with_context(|| format!("GET {versions_url}"))?
        .to_vec();
    let ceiling = endpoints::start_ceiling(versions_body)?;
    std::thread::sleep(Duration::from_millis(200));

    let mut report = Report::start();
    request_rates(&mut report, &runtime, &scale, &url, &ceiling, &digest)?;
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
    report.judge(
        Row {
            name: "idle RSS".into(),
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

    archive_throughput(
        &mut report,
        &runtime,
        &scale,
        &quarry,
        &big_digest,
        big_size,
    );
    publish_throughput(&mut report, &runtime, &scale, &url, &token);
    render_time(&mut report, &runtime, &scale);
    scaffold_time(&mut report, &scale, &url);
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

/// Requests/s, p50 and p99 of each read endpoint, the ceiling first.
fn request_rates(
    report: &mut Report,
    runtime: &tokio::runtime::Runtime,
    scale: &Scale,
    url: &str,
    ceiling: &str,
    digest: &str,
) -> anyhow::Result<()> {
    let module_urls = |suffix: &str| -> Vec<String> {
        (0..scale.modules.min(1000))
            .map(|i| format!("{url}/v1/modules/team{:02}/mod{i:05}/aws{suffix}", i % 50))
            .collect()
    };
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
            "UI: home page",
            vec![format!("{url}/")],
            0.0,
            Duration::from_millis(10),
        ),
        (
            "UI: search page",
            (0..200)
                .map(|i| format!("{url}/search?q=mod{:03}", i % 100))
                .collect(),
            0.0,
            Duration::from_millis(10),
        ),
        (
            "UI: module page",
            (0..scale.modules.min(1000))
                .map(|i| format!("{url}/modules/team{:02}/mod{i:05}/aws", i % 50))
                .collect(),
            0.0,
            Duration::from_millis(10),
        ),
        (
            "UI: blueprint page",
            (0..scale.blueprints.min(100))
                .map(|i| format!("{url}/blueprints/platform/golden{i:04}"))
                .collect(),
            0.0,
            Duration::from_millis(10),
        ),
        (
            "archive GET (small archive)",
            vec![format!("{url}/v1/archives/{digest}.tar.gz")],
            0.0,
            Duration::ZERO,
        ),
    ];
    let mut ceiling_rps = 0.0;
    for (name, urls, ratio_target, p99_target) in endpoints {
        let measured = runtime
            .block_on(endpoints::load(urls, scale.connections, scale.seconds))
            .with_context(|| format!("loading {name}"))?;
        if name.starts_with("ceiling") {
            ceiling_rps = measured.requests_per_second;
        }
        let ratio = measured.requests_per_second / f64::max(ceiling_rps, 1.0);
        let mut targets = Vec::new();
        let mut misses = Vec::new();
        if ratio_target > 0.0 {
            targets.push(format!("≥ {:.0}% of ceiling", ratio_target * 100.0));
            if ratio < ratio_target {
                misses.push(format!(
                    "{:.0}% of the ceiling (target {:.0}%)",
                    ratio * 100.0,
                    ratio_target * 100.0
                ));
            }
        }
        if p99_target > Duration::ZERO {
            targets.push(format!("p99 < {} ms", p99_target.as_millis()));
            if measured.p99 >= p99_target {
                misses.push(format!(
                    "p99 {:.2} ms (target < {} ms)",
                    measured.p99.as_secs_f64() * 1000.0,
                    p99_target.as_millis()
                ));
            }
        }
        if measured.errors > 0 {
            misses.push(format!("{} failed requests", measured.errors));
        }
        let row = Row {
            name: name.into(),
            figure: format!("{:.0} req/s", measured.requests_per_second),
            p50: format!("{:.2} ms", measured.p50.as_secs_f64() * 1000.0),
            p99: format!("{:.2} ms", measured.p99.as_secs_f64() * 1000.0),
            of_reference: format!("{:.0}% of ceiling", ratio * 100.0),
            target: targets.join(", "),
        };
        if targets.is_empty() && misses.is_empty() {
            report.info(row);
        } else {
            report.judge_misses(row, misses);
        }
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
            "publish {} MiB module ({archive}{quick_note}), best of {runs}",
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
