//! `scaffold new --non-interactive` end to end: the real `scaffold` binary against the running
//! registry, from process start to a stack written on disk, each run with a fresh home and an
//! empty blueprint cache (so the blueprint is downloaded every time, as on a first use).

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The golden path rendered: of the three examples it has the most inputs (11, with data-job),
/// the most modules (3) and the most bytes; each has 16 files.
pub const BLUEPRINT: &str = "platform/web-service";

/// Answers for a production stack, the branch with the most to render (approvers, policies).
const VALUES: &str = "service_name: checkout\nenvironment: prod\nteam: payments\n\
container_image: ghcr.io/acme/checkout:1.4.0\napprovers: [ana, bo]\n";

/// Where `scaffold` is when it was built in the same profile as this benchmark: beside `quarry`
/// (`scripts/bench` builds both; `cargo bench` alone builds only `quarry`).
pub fn binary() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_BIN_EXE_quarry")).with_file_name("scaffold");
    path.exists().then_some(path)
}

/// Runs `scaffold new` `runs` times; returns the median wall time and the files of the last stack.
pub fn median_new(
    scaffold: &Path,
    registry_url: &str,
    runs: usize,
) -> anyhow::Result<(Duration, usize)> {
    let mut times = Vec::with_capacity(runs);
    let mut files = 0;
    for _ in 0..runs {
        let home = tempfile::tempdir()?;
        let values = home.path().join("values.yaml");
        std::fs::write(&values, VALUES)?;
        let out = home.path().join("stack");
        let mut command = Command::new(scaffold);
        command
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env("XDG_CACHE_HOME", home.path().join(".cache"))
            .env("SCAFFOLD_CACHE_DIR", home.path().join("cache"))
            .env("SCAFFOLD_INPUT_DB_PASSWORD", "correct-horse-battery-staple")
            .env_remove("SCAFFOLD_CONFIG")
            .env_remove("SCAFFOLD_REGISTRY")
            .env_remove("SCAFFOLD_SOURCE_HOST")
            .args(["--registry", registry_url, "--source-host", "registry.test"])
            .args(["new", &format!("{BLUEPRINT}@~> 1.0"), "--non-interactive"])
            .arg("--values")
            .arg(&values)
            .arg("-o")
            .arg(&out)
            .stdin(Stdio::null());
        let started = Instant::now();
        let output = command
            .output()
            .with_context(|| format!("running {}", scaffold.display()))?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            output.status.success(),
            "scaffold new {BLUEPRINT} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        anyhow::ensure!(
            out.join("stack.yaml").is_file(),
            "scaffold new {BLUEPRINT} succeeded but wrote no stack.yaml into {}",
            out.display()
        );
        files = count_files(&out)?;
        times.push(elapsed);
    }
    Ok((crate::median(times)?, files))
}

fn count_files(dir: &Path) -> std::io::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        count += if entry.file_type()?.is_dir() {
            count_files(&entry.path())?
        } else {
            1
        };
    }
    Ok(count)
}
