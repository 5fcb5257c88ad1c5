//! The load driver: `wrk` (Debian's package; `scripts/bench` installs it when missing), which
//! drives a bare actix server about twice as fast as any reqwest client on this machine, so the
//! figures measure the server, not the driver. A generated Lua script sends the requests: a
//! round robin over the paths, with the method, headers and body given.

use crate::endpoints::Measured;
use anyhow::Context;
use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

/// What each request of a run is.
#[derive(Default, Clone)]
pub struct Requests {
    /// The server, `http://host:port`.
    pub base: String,
    /// Paths (with their queries) taken in turn.
    pub paths: Vec<String>,
    pub method: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

impl Requests {
    pub fn get(base: &str, paths: Vec<String>) -> Self {
        Self {
            base: base.to_owned(),
            paths,
            ..Self::default()
        }
    }

    pub fn with_token(mut self, token: &str) -> Self {
        self.headers
            .push(("Authorization", format!("Bearer {token}")));
        self
    }

    pub fn post_json(mut self, body: String) -> Self {
        self.method = Some("POST");
        self.headers
            .push(("Content-Type", "application/json".into()));
        self.body = Some(body);
        self
    }
}

/// Sends each of the run's distinct requests once, one after another: what a run's warm-up
/// second may not reach when first reads are slow (a thousand module details read from a
/// database of 100,000 modules take longer than a second under load), so that the figures that
/// follow are a running registry's, not its cold start's.
pub fn prime(requests: &Requests) -> anyhow::Result<()> {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?;
    let method = reqwest::Method::from_bytes(requests.method.unwrap_or("GET").as_bytes())?;
    let mut seen = std::collections::HashSet::new();
    for path in requests
        .paths
        .iter()
        .filter(|path| seen.insert(path.as_str()))
    {
        let mut request = client.request(method.clone(), format!("{}{path}", requests.base));
        for (name, value) in &requests.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &requests.body {
            request = request.body(body.clone());
        }
        let status = request
            .send()
            .with_context(|| format!("priming {path}"))?
            .status();
        // Only a success: a redirect (to the sign-in page, say) is a request the run would
        // not be measuring.
        anyhow::ensure!(status.is_success(), "priming {path}: {status}");
    }
    Ok(())
}

/// wrk's threads: one, so the server keeps the other core of a 2-core machine.
pub const THREADS: usize = 1;

/// Each of `runs` warmed up (each distinct request once, see [`prime`], then a second of load),
/// then loaded in turn a second at a time for `seconds` rounds: run 1, run 2, …, run 1, run 2, ….
/// On a shared machine whose speed changes from one second to the next, figures measured
/// seconds apart differ by a quarter (by hand: 55k, 44k, 42k req/s in three runs of the same
/// requests back to back); taken in turn, each run sees the same moments. Each run's rate is the
/// mean of its seconds', its p50 and p99 the median of its seconds' (so one bad second moves
/// neither), its errors their sum.
pub fn interleaved(
    runs: &[&Requests],
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Vec<Measured>> {
    for requests in runs {
        prime(requests)?;
        load(requests, THREADS, connections, 1).context("warming up")?;
    }
    let mut slices: Vec<Vec<Measured>> = runs.iter().map(|_| Vec::new()).collect();
    for _ in 0..seconds.max(1) {
        for (requests, measured) in runs.iter().zip(&mut slices) {
            measured.push(load(requests, THREADS, connections, 1)?);
        }
    }
    Ok(slices.into_iter().map(combined).collect())
}

/// One run's figures from its seconds' (see [`interleaved`]).
fn combined(mut slices: Vec<Measured>) -> Measured {
    let count = slices.len().max(1);
    let requests_per_second = slices
        .iter()
        .map(|slice| slice.requests_per_second)
        .sum::<f64>()
        / count as f64;
    let errors = slices.iter().map(|slice| slice.errors).sum();
    slices.sort_by_key(|slice| slice.p50);
    let p50 = slices
        .get(count / 2)
        .map(|slice| slice.p50)
        .unwrap_or_default();
    slices.sort_by_key(|slice| slice.p99);
    let p99 = slices
        .get(count / 2)
        .map(|slice| slice.p99)
        .unwrap_or_default();
    Measured {
        requests_per_second,
        p50,
        p99,
        errors,
    }
}

/// One run of `seconds` after its warm-up (see [`interleaved`]).
pub fn warmed(requests: &Requests, connections: usize, seconds: u64) -> anyhow::Result<Measured> {
    let mut measured = interleaved(&[requests], connections, seconds)?;
    measured.pop().context("a run without figures")
}

/// A Lua string literal for `text` (long brackets: nothing inside is an escape).
fn lua_string(text: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        !text.contains("]==]"),
        "a request part contains `]==]`, which the generated script cannot quote"
    );
    Ok(format!("[==[{text}]==]"))
}

fn script(requests: &Requests) -> anyhow::Result<String> {
    let mut script = String::new();
    if let Some(method) = requests.method {
        writeln!(script, "wrk.method = {}", lua_string(method)?)?;
    }
    if let Some(body) = &requests.body {
        writeln!(script, "wrk.body = {}", lua_string(body)?)?;
    }
    for (name, value) in &requests.headers {
        // The spaces matter: `[[` opens a long string in Lua, so `headers[[==[…` does not parse.
        writeln!(
            script,
            "wrk.headers[ {} ] = {}",
            lua_string(name)?,
            lua_string(value)?
        )?;
    }
    script.push_str("local paths = {\n");
    for path in &requests.paths {
        writeln!(script, "  {},", lua_string(path)?)?;
    }
    script.push_str(
        "}\nlocal i = 0\nrequest = function()\n  i = (i % #paths) + 1\n  return wrk.format(nil, paths[i])\nend\n",
    );
    writeln!(
        script,
        "done = function() io.write(\"{SCRIPT_RAN}\\n\") end"
    )?;
    Ok(script)
}

/// What the generated script's `done` prints. wrk reports a script that does not load on its
/// stderr and then sends its default request, `GET /`, exiting 0 with figures for it: the
/// token and POST runs measured a redirect from `/` that way until this line was required.
const SCRIPT_RAN: &str = "quarry-bench: the request script ran";

/// A latency as wrk prints it (`812.00us`, `1.23ms`, `2.01s`).
fn latency(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The figures of wrk's report (run with `--latency`).
fn parse(report: &str) -> anyhow::Result<Measured> {
    let mut rate = None;
    let (mut p50, mut p99) = (None, None);
    let mut errors = 0usize;
    for line in report.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(value)) => rate = value.parse::<f64>().ok(),
            (Some("50%"), Some(value)) => p50 = latency(value),
            (Some("99%"), Some(value)) => p99 = latency(value),
            (Some("Non-2xx"), _) => {
                errors += line
                    .rsplit(' ')
                    .next()
                    .and_then(|count| count.parse::<usize>().ok())
                    .unwrap_or(1);
            }
            (Some("Socket"), Some("errors:")) => {
                // `Socket errors: connect 0, read 0, write 0, timeout 12`
                errors += line
                    .split(',')
                    .filter_map(|part| part.split_whitespace().last()?.parse::<usize>().ok())
                    .sum::<usize>();
            }
            _ => {}
        }
    }
    match (rate, p50, p99) {
        (Some(requests_per_second), Some(p50), Some(p99)) => Ok(Measured {
            requests_per_second,
            p50,
            p99,
            errors,
        }),
        _ => anyhow::bail!("wrk's report has no request rate or latency percentiles:\n{report}"),
    }
}

/// Runs wrk with `connections` connections on `threads` threads for `seconds`.
pub fn load(
    requests: &Requests,
    threads: usize,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("requests.lua");
    std::fs::write(&path, script(requests)?)?;
    let output = Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .args(["--timeout", "10s", "--latency", "-s"])
        .arg(&path)
        .arg(&requests.base)
        .output()
        .context("running wrk (Debian's `wrk` package; scripts/bench installs it)")?;
    let report = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(
        output.status.success() && stderr.trim().is_empty() && report.contains(SCRIPT_RAN),
        "wrk did not send the requests asked for ({}): {report}{stderr}",
        output.status,
    );
    parse(&report)
}
