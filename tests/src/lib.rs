//! Harness for the end-to-end tests: runs the built `quarry` binary on a free loopback port, and
//! the real `terraform` from PATH pointed at it through a CLI configuration `host` block (no
//! discovery over HTTPS, no internet).

pub mod browser;

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The hostname terraform sees for the local registry; a registry host must contain a dot.
pub const REGISTRY_HOST: &str = "registry.test";

/// Where cargo put the workspace's binaries: next to this test's `deps/` directory.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`cargo build --workspace`)",
        path.display()
    );
    path
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_owned()
}

pub fn fixture_module(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/modules").join(name)
}

/// A running `quarry serve`, stopped when dropped.
pub struct Quarry {
    child: Child,
    /// Whether `child` is a wrapper (strace, say) leading its own process group: killing the
    /// wrapper alone would leave the server running, detached from it.
    wrapped: bool,
    pub url: String,
    pub data_dir: tempfile::TempDir,
    logs: std::sync::Mutex<mpsc::Receiver<String>>,
    /// What the server wrote before it was ready.
    startup: std::sync::Mutex<Vec<String>>,
}

impl Quarry {
    /// Starts `quarry serve` with a fresh data directory and the given extra flags, and waits
    /// until it says it is ready.
    pub fn start(extra: &[&str]) -> Result<Self> {
        Self::start_in(tempfile::tempdir()?, extra)
    }

    /// Starts `quarry serve` as [`Quarry::start`] does, run by `wrapper` (a program and its
    /// arguments, e.g. `strace -o FILE`).
    pub fn start_under(wrapper: &[&str], extra: &[&str]) -> Result<Self> {
        Self::launch(tempfile::tempdir()?, wrapper, extra, &[])
    }

    /// Starts `quarry serve` as [`Quarry::start`] does, with these environment variables set
    /// (`Some`) or removed (`None`).
    pub fn start_with_env(extra: &[&str], env: &[(&str, Option<&str>)]) -> Result<Self> {
        Self::launch(tempfile::tempdir()?, &[], extra, env)
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and starts a new one on the same
    /// data directory.
    pub fn crash_and_restart(mut self, extra: &[&str]) -> Result<Self> {
        self.child.kill()?;
        self.child.wait()?;
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir()?);
        Self::start_in(data_dir, extra)
    }

    fn start_in(data_dir: tempfile::TempDir, extra: &[&str]) -> Result<Self> {
        Self::launch(data_dir, &[], extra, &[])
    }

    fn launch(
        data_dir: tempfile::TempDir,
        wrapper: &[&str],
        extra: &[&str],
        env: &[(&str, Option<&str>)],
    ) -> Result<Self> {
        let quarry = binary("quarry");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&quarry);
                std::os::unix::process::CommandExt::process_group(&mut command, 0);
                command
            }
            None => Command::new(&quarry),
        };
        for (name, value) in env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        let mut child = command
            .args(["--data-dir"])
            .arg(data_dir.path())
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("QUARRY_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting quarry")?;
        let stderr = child.stderr.take().context("quarry's stderr")?;
        let (sender, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut startup = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            let line = match logs.recv_timeout(remaining) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    bail!(
                        "quarry did not become ready within 30 s; it wrote:\n{}",
                        startup.join("\n")
                    );
                }
            };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                startup.push(line);
                continue;
            };
            startup.push(line);
            if event["fields"]["message"] == "quarry is ready" {
                let url = event["fields"]["url"]
                    .as_str()
                    .context("ready line has the URL")?
                    .to_owned();
                return Ok(Self {
                    child,
                    wrapped: !wrapper.is_empty(),
                    url,
                    data_dir,
                    logs: std::sync::Mutex::new(logs),
                    startup: std::sync::Mutex::new(startup),
                });
            }
        }
    }

    /// Runs another `quarry` command against this registry's data directory, whatever its
    /// exit code.
    pub fn run_command(&self, args: &[&str]) -> Result<Output> {
        Ok(Command::new(binary("quarry"))
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(args)
            .env_remove("QUARRY_DATABASE_URL")
            .output()?)
    }

    /// Runs another `quarry` command against this registry's data directory, which must succeed.
    pub fn command(&self, args: &[&str]) -> Result<Output> {
        let output = self.run_command(args)?;
        if !output.status.success() {
            bail!(
                "quarry {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output)
    }

    /// Creates a token and returns its secret.
    pub fn token(&self, name: &str, scopes: &[&str]) -> Result<String> {
        let mut args = vec!["token", "create", "--name", name];
        for scope in scopes {
            args.extend(["--scope", scope]);
        }
        let output = self.command(&args)?;
        Ok(String::from_utf8(output.stdout)?.trim().to_owned())
    }

    /// Publishes a module directory, packed as the importer packs it, and returns the HTTP
    /// status.
    pub fn publish_dir(
        &self,
        token: &str,
        address: &str,
        version: &str,
        dir: &Path,
    ) -> Result<u16> {
        let archive = quarry_core::archive::pack_dir(dir)?;
        let (status, _) =
            self.publish(token, &format!("/v1/modules/{address}/{version}"), archive)?;
        Ok(status)
    }

    /// Publishes the blueprint directory `tests/fixtures/blueprints/<name>` as
    /// `fixtures/<name>` `version`, expecting 201.
    /// Publishes the greeting fixture module at `versions` and the greeter blueprint 1.0.0 (which
    /// uses it), as the end-to-end tests start.
    pub fn publish_greeter(&self, token: &str, versions: &[&str]) -> Result<()> {
        for version in versions {
            let status = self.publish_dir(
                token,
                "fixtures/greeting/generic",
                version,
                &fixture_module("greeting"),
            )?;
            if status != 201 {
                bail!("publishing fixtures/greeting/generic {version}: {status}");
            }
        }
        self.publish_fixture_blueprint(token, "greeter", "1.0.0")
    }

    pub fn publish_fixture_blueprint(&self, token: &str, name: &str, version: &str) -> Result<()> {
        let dir = repo_root().join("tests/fixtures/blueprints").join(name);
        let archive = quarry_core::archive::pack_dir(&dir)?;
        self.published(
            token,
            &format!("/v1/blueprints/fixtures/{name}/{version}"),
            archive,
        )
    }

    /// Posts an archive to `path` with `token`, which must be published (201).
    pub fn published(&self, token: &str, path: &str, archive: Vec<u8>) -> Result<()> {
        let (status, body) = self.publish(token, path, archive)?;
        if status != 201 {
            bail!("publishing {path}: {status} {body}");
        }
        Ok(())
    }

    /// Posts an archive to `path` with `token`: the status and the body's text.
    pub fn publish(&self, token: &str, path: &str, archive: Vec<u8>) -> Result<(u16, String)> {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .header("content-type", "application/gzip")
            .body(archive)
            .send()?;
        let status = response.status().as_u16();
        Ok((status, response.text().unwrap_or_default()))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `within` for the server to exit; how long it took.
    pub fn terminate(&mut self, within: Duration) -> Result<Duration> {
        let started = std::time::Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        while started.elapsed() < within {
            if self.child.try_wait()?.is_some() {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("quarry did not exit within {within:?} of SIGTERM")
    }

    /// The server's peak resident memory so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .context("VmHWM in /proc/<pid>/status")?;
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .context("a number")?
            .parse()?;
        Ok(kib * 1024)
    }

    /// The processes the server started (its sandbox workers).
    pub fn children(&self) -> Vec<u32> {
        let parent = self.child.id().to_string();
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
                // The fields after the command name (which may hold spaces) start with the state
                // and the parent's pid.
                let after = stat.rsplit_once(')')?.1;
                let ppid = after.split_whitespace().nth(1)?;
                (ppid == parent).then_some(pid)
            })
            .collect()
    }

    /// Every line the server wrote to stderr since the last call (from its start, the first time).
    pub fn drain_logs(&self) -> Vec<String> {
        let mut lines = self
            .startup
            .lock()
            .map(|mut startup| std::mem::take(&mut *startup))
            .unwrap_or_default();
        if let Ok(logs) = self.logs.lock() {
            lines.extend(logs.try_iter());
        }
        lines
    }
}

impl Drop for Quarry {
    fn drop(&mut self) {
        if self.wrapped {
            // The whole group: the wrapper and the server it runs (whose workers die with it).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A terraform working directory whose CLI configuration maps `registry.test` to a local registry.
pub struct Terraform {
    pub dir: tempfile::TempDir,
    cli_config: PathBuf,
    token: Option<String>,
}

impl Terraform {
    pub fn new(registry_url: &str, main_tf: &str) -> Result<Self> {
        Self::for_host(REGISTRY_HOST, registry_url, main_tf)
    }

    /// A working directory whose CLI configuration maps `host` (which may carry a port) to the
    /// registry at `registry_url`.
    pub fn for_host(host: &str, registry_url: &str, main_tf: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let cli_config = dir.path().join("terraform.rc");
        std::fs::write(
            &cli_config,
            format!(
                "host \"{host}\" {{\n  services = {{\n    \"modules.v1\" = \"{registry_url}/v1/modules/\"\n    \"providers.v1\" = \"{registry_url}/v1/providers/\"\n  }}\n}}\n"
            ),
        )?;
        std::fs::create_dir(dir.path().join("work"))?;
        std::fs::write(dir.path().join("work/main.tf"), main_tf)?;
        Ok(Self {
            dir,
            cli_config,
            token: None,
        })
    }

    /// Sends this token to the registry, as `TF_TOKEN_registry_test`.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    pub fn work_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The CLI configuration that points terraform at the local registry (`TF_CLI_CONFIG_FILE`).
    pub fn cli_config(&self) -> &Path {
        &self.cli_config
    }

    /// Runs terraform with the given arguments; returns its output whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        self.run_with(args, &[])
    }

    /// `terraform init`, which must succeed: its output.
    pub fn init(&self) -> Result<String> {
        self.succeeds(&["init", "-input=false", "-no-color"])
    }

    /// `init` and `validate`, then `plan` with `variables` in the environment
    /// (`TF_VAR_name=value`), each of which must succeed: what `init` and `plan` printed.
    pub fn init_validate_plan(&self, variables: &[(&str, &str)]) -> Result<(String, String)> {
        let init = self.init()?;
        self.succeeds(&["validate", "-no-color"])?;
        let output = self.run_with(&["plan", "-input=false", "-no-color"], variables)?;
        if !output.status.success() {
            bail!("terraform plan failed:\n{}", text(&output));
        }
        Ok((init, text(&output)))
    }

    /// Runs terraform, which must succeed: its output (stdout and stderr).
    pub fn succeeds(&self, args: &[&str]) -> Result<String> {
        let output = self.run(args)?;
        if !output.status.success() {
            bail!("terraform {} failed:\n{}", args.join(" "), text(&output));
        }
        Ok(text(&output))
    }

    /// Runs terraform with the given arguments and more environment variables.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
        let mut command = Command::new("terraform");
        command
            .args(args)
            .current_dir(self.work_dir())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_DATA_DIR", self.work_dir().join(".terraform"))
            .env_remove("TF_TOKEN_registry_test");
        if let Some(token) = &self.token {
            command.env("TF_TOKEN_registry_test", token);
        }
        command.envs(env.iter().copied());
        command
            .output()
            .context("running terraform: it must be on PATH (these machines have Terraform 1.11)")
    }

    /// The `Key` → (`Version`, `Dir`) map terraform wrote after `init`.
    pub fn installed_modules(&self) -> Result<Vec<(String, String, String)>> {
        let manifest =
            std::fs::read_to_string(self.work_dir().join(".terraform/modules/modules.json"))?;
        let manifest: serde_json::Value = serde_json::from_str(&manifest)?;
        Ok(manifest["Modules"]
            .as_array()
            .context("modules.json lists modules")?
            .iter()
            .map(|module| {
                let text = |key: &str| module[key].as_str().unwrap_or_default().to_owned();
                (text("Key"), text("Version"), text("Dir"))
            })
            .collect())
    }
}

/// The combined output of a command, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A module archive whose content (and so digest) depends on `seed`, about `padding` bytes of
/// incompressible data, so that it really streams for a while.
pub fn seeded_module(seed: usize, padding: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("main.tf"),
        format!("output \"seed\" {{\n  value = {seed}\n}}\n"),
    )
    .expect("write");
    let noise = quarry_core::test_support::noise(seed as u64, padding);
    std::fs::write(dir.path().join("padding.bin"), noise).expect("write");
    quarry_core::archive::pack_dir(dir.path()).expect("pack")
}

/// A request body that streams slowly (4 KiB every 15 ms), so uploads are mid-flight when a
/// server is killed.
pub struct SlowBody {
    bytes: Vec<u8>,
    position: usize,
}

impl SlowBody {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self { bytes, position: 0 }
    }
}

impl std::io::Read for SlowBody {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if self.position >= self.bytes.len() {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(15));
        let end = (self.position + 4096.min(buffer.len())).min(self.bytes.len());
        let count = end - self.position;
        buffer[..count].copy_from_slice(&self.bytes[self.position..end]);
        self.position = end;
        Ok(count)
    }
}

/// A CA, and a server certificate and key it signed for `127.0.0.1` and `registry.test`,
/// written as PEM files into `dir` under `name`: the CA's, the certificate's and the key's paths.
pub fn certificates(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("Quarry test CA {name}"));
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let mut params =
        rcgen::CertificateParams::new(vec!["registry.test".to_owned()]).expect("params");
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let key = rcgen::KeyPair::generate().expect("key");
    let certificate = params.signed_by(&key, &ca).expect("signed");
    let paths = (
        dir.join(format!("{name}-ca.pem")),
        dir.join(format!("{name}-cert.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&paths.0, ca.pem()).expect("write");
    std::fs::write(&paths.1, certificate.pem()).expect("write");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write");
    paths
}
