//! Publish throughput against `tar -xzf`: a module of tens of MiB (Terraform, JSON documents that
//! compress like real ones, and incompressible binaries), packed as `scaffold publish` packs it,
//! unpacked by the real `tar`, and published over HTTP. Both are counted in MiB of the archive per
//! second, so the ratio says how close the registry's checked, stored publish comes to a plain
//! unpack of the same bytes.

use anyhow::Context;
use rand::{Rng, RngCore, SeedableRng};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The module the publishes go to; the bench's token may publish to its namespace.
pub const MODULE: &str = "bench/payload/aws";

/// The share of the module's bytes that is text; the rest is random binary.
const TEXT_SHARE: f64 = 0.6;

const WORDS: [&str; 12] = [
    "logs", "assets", "exports", "reports", "backups", "images", "events", "billing", "audit",
    "metrics", "uploads", "archive",
];

/// A JSON policy document of about `size` bytes: statements that differ in the ways real ones do
/// (identifiers, bucket names, actions), so it compresses about as well as real JSON.
fn policy_document(rng: &mut impl Rng, size: usize) -> Vec<u8> {
    let mut text = String::with_capacity(size + 256);
    text.push_str("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n");
    let mut statement = 0;
    while text.len() < size {
        let word = WORDS[rng.random_range(0..WORDS.len())];
        let other = WORDS[rng.random_range(0..WORDS.len())];
        let action = if rng.random_bool(0.5) {
            "s3:GetObject"
        } else {
            "s3:PutObject"
        };
        text.push_str(&format!(
            "    {{\"Sid\": \"Stmt{statement:06}\", \"Effect\": \"Allow\", \"Action\": [\"{action}\", \"s3:ListBucket\"], \"Resource\": \"arn:aws:s3:::{word}-{:016x}/{other}/*\", \"Condition\": {{\"NumericLessThan\": {{\"s3:max-keys\": {}}}}}}},\n",
            rng.random::<u64>(),
            rng.random_range(1..10_000),
        ));
        statement += 1;
    }
    text.push_str("    {\"Sid\": \"End\", \"Effect\": \"Deny\", \"Action\": \"*\", \"Resource\": \"*\"}\n  ]\n}\n");
    text.into_bytes()
}

/// Writes a module of about `total` bytes into `dir`: Terraform files, `policies/*.json`
/// (256 KiB each) and `lambda/*.zip` (2 MiB of random bytes each).
pub fn write_module(dir: &Path, total: u64) -> anyhow::Result<()> {
    let write = |relative: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    write(
        "variables.tf",
        b"variable \"name\" {\n  description = \"Prefix of every resource's name.\"\n  type        = string\n}\n",
    )?;
    write(
        "outputs.tf",
        b"output \"policy_files\" {\n  value = fileset(\"${path.module}/policies\", \"*.json\")\n}\n",
    )?;
    write(
        "README.md",
        b"# payload\n\nA module with policy documents and function bundles, for the publish benchmark.\n",
    )?;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(50);
    let text_bytes = (total as f64 * TEXT_SHARE) as u64;
    let document = 256 << 10;
    for index in 0..text_bytes.div_ceil(document) {
        write(
            &format!("policies/policy-{index:03}.json"),
            &policy_document(&mut rng, document as usize),
        )?;
    }
    let bundle = 2u64 << 20;
    let mut bytes = vec![0; bundle as usize];
    for index in 0..(total - text_bytes).div_ceil(bundle) {
        rng.fill_bytes(&mut bytes);
        write(&format!("lambda/function-{index:02}.zip"), &bytes)?;
    }
    Ok(())
}

/// Packs the module once per build number, each with a different `main.tf`, so every publish
/// stores a new archive rather than finding its digest already stored.
pub fn pack(dir: &Path, build: usize) -> anyhow::Result<Vec<u8>> {
    let mut main_tf = std::fs::File::create(dir.join("main.tf"))?;
    write!(
        main_tf,
        "# build {build}\nresource \"terraform_data\" \"policies\" {{\n  input = {{\n    name  = var.name\n    files = fileset(\"${{path.module}}/policies\", \"*.json\")\n  }}\n}}\n"
    )?;
    drop(main_tf);
    quarry_core::archive::pack_dir(dir).with_context(|| format!("packing {}", dir.display()))
}

/// The fastest of `runs` `tar -xzf archive -C <empty dir>` with the real `tar`.
pub fn best_tar(archive: &Path, scratch: &Path, runs: usize) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for run in 0..runs {
        let out = scratch.join(format!("tar-{run}"));
        std::fs::create_dir_all(&out)?;
        let started = Instant::now();
        let output = Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(&out)
            .output()
            .context("running tar (is it installed?)")?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            output.status.success(),
            "tar -xzf {} failed ({}): {}",
            archive.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        best = best.min(elapsed);
        std::fs::remove_dir_all(&out)?;
    }
    Ok(best)
}

/// Publishes each archive as a new version over HTTP (1.0.0, 1.0.1, …); returns the fastest.
pub async fn best_publish(
    url: &str,
    token: &str,
    archives: Vec<Vec<u8>>,
) -> anyhow::Result<Duration> {
    let client = reqwest::Client::new();
    let mut best = Duration::MAX;
    for (patch, archive) in archives.into_iter().enumerate() {
        let target = format!("{url}/v1/modules/{MODULE}/1.0.{patch}");
        let started = Instant::now();
        let response = client
            .post(&target)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/gzip")
            .body(archive)
            .send()
            .await
            .with_context(|| format!("POST {target}"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let elapsed = started.elapsed();
        anyhow::ensure!(
            status == reqwest::StatusCode::CREATED,
            "POST {target} answered {status}: {}",
            body.chars().take(500).collect::<String>()
        );
        best = best.min(elapsed);
    }
    Ok(best)
}

pub struct Figures {
    pub module_bytes: u64,
    pub archive_bytes: u64,
    pub tar: Duration,
    pub publish: Duration,
}

/// Builds a `module_mib` MiB module, then times `tar -xzf` and publishing it, best of `runs`
/// each (every publish a new version with its own archive).
pub fn measure(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    token: &str,
    module_mib: u64,
    runs: usize,
) -> anyhow::Result<Figures> {
    let scratch = tempfile::tempdir()?;
    let dir = scratch.path().join("payload");
    write_module(&dir, module_mib << 20)?;
    let module_bytes = directory_bytes(&dir)?;
    let archives = (0..runs)
        .map(|build| pack(&dir, build))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = archives.first().context("no runs asked for")?;
    let archive_bytes = first.len() as u64;
    let archive_path = scratch.path().join("payload.tar.gz");
    std::fs::write(&archive_path, first)?;
    let tar = best_tar(&archive_path, scratch.path(), runs)?;
    let publish = runtime.block_on(best_publish(url, token, archives))?;
    Ok(Figures {
        module_bytes,
        archive_bytes,
        tar,
        publish,
    })
}

fn directory_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        total += if entry.file_type()?.is_dir() {
            directory_bytes(&entry.path())?
        } else {
            entry.metadata()?.len()
        };
    }
    Ok(total)
}
