//! The pipeline that makes a stack from a blueprint, shared by `scaffold new` and the commands that
//! render again (updates): fetch the blueprint version a constraint selects (cached by digest,
//! checked against the digest the registry lists), check it, gather inputs, render it with its
//! modules resolved through the registry, and write it atomically.

use crate::client::{self, Client};
use crate::error::{CliError, Kind, Result};
use quarry_core::api;
use quarry_core::blueprint::{self, Blueprint};
use quarry_core::constraint::Constraint;
use quarry_core::render::{self, RenderRequest, Stack};
use quarry_core::version::Version;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a render may take on this machine before `scaffold` gives up on it: a blueprint whose
/// templates loop without end must not hang a terminal or a CI job.
pub const RENDER_DEADLINE: Duration = Duration::from_secs(60);

/// A blueprint version, fetched and checked.
pub struct Fetched {
    /// `namespace/name`.
    pub address: String,
    pub version: Version,
    pub detail: api::BlueprintDetail,
    pub blueprint: Blueprint,
}

/// Where downloaded blueprints are kept, by digest.
fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("SCAFFOLD_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|dir| dir.join("scaffold")))
        .map(|dir| dir.join("blueprints"))
}

async fn archive(client: &Client, address: &str, version: &str, sha256: &str) -> Result<Vec<u8>> {
    let cached = cache_dir().map(|dir| dir.join(format!("{sha256}.tar.gz")));
    if let Some(path) = &cached
        && let Ok(bytes) = std::fs::read(path)
        && quarry_core::digest::Sha256::of(&bytes).to_hex() == sha256
    {
        return Ok(bytes);
    }
    let bytes = client
        .download(
            &format!("/v1/blueprints/{address}/{version}/download"),
            sha256,
        )
        .await?;
    if let Some(path) = &cached
        && let Some(parent) = path.parent()
        && std::fs::create_dir_all(parent).is_ok()
    {
        // A cache that cannot be written is only slower next time.
        let _ = std::fs::write(path, &bytes);
    }
    Ok(bytes)
}

/// Fetches and checks the version of blueprint `address` that `constraint` selects.
pub async fn fetch(client: &Client, address: &str, constraint: &Constraint) -> Result<Fetched> {
    if address.split('/').count() != 2 {
        return Err(CliError::invalid(format!(
            "`{address}` is not a blueprint address: expected namespace/name"
        )));
    }
    let versions = client
        .blueprint_versions(address)
        .await
        .map_err(|error| match error.kind {
            Kind::NotFound => CliError::new(
                Kind::NotFound,
                format!(
                    "blueprint {address} not found in {}",
                    client.settings().registry
                ),
            ),
            _ => error,
        })?;
    let version = client::choose(&format!("blueprint {address}"), &versions, constraint)?;
    fetch_version(client, address, version).await
}

/// Fetches and checks one version of blueprint `address`, also one no longer listed (yanked):
/// a stack made from it renders it again.
pub async fn fetch_version(client: &Client, address: &str, version: Version) -> Result<Fetched> {
    let detail = client
        .blueprint_detail(address, Some(&version.to_string()))
        .await?;
    let bytes = archive(
        client,
        address,
        &version.to_string(),
        &detail.archive.sha256,
    )
    .await?;
    let files = quarry_core::archive::read_files(&bytes, &quarry_core::archive::Limits::default())
        .map_err(|error| CliError::failure(format!("blueprint {address} {version}: {error}")))?;
    let blueprint = blueprint::check(files).map_err(|problems| {
        CliError::invalid(format!(
            "blueprint {address} {version} does not pass its checks:\n  {}",
            quarry_core::lines(problems.iter())
        ))
    })?;
    Ok(Fetched {
        address: address.to_owned(),
        version,
        detail,
        blueprint,
    })
}

/// Warns on stderr when the fetched version is deprecated, with the reason and replacement.
pub fn warn_if_deprecated(fetched: &Fetched) {
    if !fetched.detail.deprecated {
        return;
    }
    let deprecation = fetched.detail.deprecation.clone().unwrap_or_default();
    let reason = deprecation
        .reason
        .map(|reason| format!(": {reason}"))
        .unwrap_or_default();
    let replacement = deprecation
        .replacement
        .map(|to| format!(" (use {to} instead)"))
        .unwrap_or_default();
    eprintln!(
        "warning: blueprint {} {} is deprecated{reason}{replacement}",
        fetched.address, fetched.version
    );
}

/// What a stack was rendered from: its `.scaffold/answers.json`.
pub fn recorded(dir: &Path) -> Result<quarry_core::answers::Answers> {
    let path = dir.join(quarry_core::answers::PATH);
    let text = std::fs::read_to_string(&path).map_err(|error| {
        CliError::new(
            Kind::NotFound,
            format!(
                "{}: {error}; is {} a stack made by `scaffold new`?",
                path.display(),
                dir.display()
            ),
        )
    })?;
    quarry_core::answers::Answers::parse(&text)
        .map_err(|message| CliError::invalid(format!("{}: {message}", path.display())))
}

/// Fetches the blueprint version a stack was rendered from and renders it again with its
/// answers and its module versions: the stack as the golden path left it (the base of an
/// update, what `diff` compares with).
pub async fn render_recorded(
    client: &Client,
    answers: &quarry_core::answers::Answers,
) -> Result<(Fetched, Stack)> {
    let used = &answers.blueprint;
    let version = Version::parse(&used.version)
        .map_err(|error| CliError::invalid(format!("answers.json: blueprint.version: {error}")))?;
    let fetched = fetch_version(client, &used.address, version).await?;
    if fetched.detail.archive.sha256 != used.archive_sha256 {
        return Err(CliError::invalid(format!(
            "blueprint {} {} in the registry has the digest {}, but the stack was rendered from {}",
            used.address, used.version, fetched.detail.archive.sha256, used.archive_sha256
        )));
    }
    let mut resolutions = BTreeMap::new();
    for module in &fetched.blueprint.manifest.modules {
        let pinned = answers
            .modules
            .iter()
            .find(|recorded| recorded.name == module.name)
            .map_or(module.version.as_str(), |recorded| {
                recorded.version.as_str()
            });
        let (Ok(source), Ok(constraint)) = (
            module
                .source
                .parse::<quarry_core::blueprint::ModuleSource>(),
            Constraint::parse(pinned),
        ) else {
            continue;
        };
        let resolved = render::ModuleResolver::resolve(client, &source, &constraint).await;
        resolutions.insert(module.name.clone(), resolved);
    }
    let stack = render_with(
        client,
        &fetched,
        answers.inputs.clone(),
        &used.constraint,
        render::Resolutions(resolutions),
        Secrets::Omitted,
    )
    .await?;
    Ok((fetched, stack))
}

/// The environment variable an input can come from: `SCAFFOLD_INPUT_` + the name in upper case.
fn env_name(input: &str) -> String {
    format!(
        "SCAFFOLD_INPUT_{}",
        input.to_ascii_uppercase().replace('-', "_")
    )
}

/// The names of the schema's top-level inputs.
fn input_names(schema: &Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

fn typed(schema: &Value, name: &str, text: &str, origin: &str) -> Result<Value> {
    let field = quarry_core::form::field(schema, name).ok_or_else(|| {
        CliError::invalid(format!(
            "{origin}: the blueprint has no input `{name}`; its inputs are: {}",
            input_names(schema).join(", ")
        ))
    })?;
    quarry_core::form::parse_answer(&field.kind, text)
        .map_err(|message| CliError::invalid(format!("{origin}: {message}")))
}

/// Inputs from `--values`, then `SCAFFOLD_INPUT_<NAME>`, then `--set` (later ones win).
pub fn gather(schema: &Value, values: Option<&Path>, set: &[String]) -> Result<Map<String, Value>> {
    let mut answers = Map::new();
    if let Some(path) = values {
        let text = std::fs::read_to_string(path)
            .map_err(|error| CliError::invalid(format!("{}: {error}", path.display())))?;
        let document = blueprint::parse_yaml(&path.display().to_string(), text.as_bytes())
            .map_err(|problem| CliError::invalid(problem.to_string()))?;
        // An answers file (a stack's `.scaffold/answers.json`) gives its inputs.
        let document = if quarry_core::answers::Answers::is_answers(&document) {
            document.get("inputs").cloned().unwrap_or_default()
        } else {
            document
        };
        match document {
            Value::Object(map) => answers.extend(map),
            Value::Null => {}
            _ => {
                return Err(CliError::invalid(format!(
                    "{}: expected a mapping of input names to values",
                    path.display()
                )));
            }
        }
    }
    // Every variable and --set is read, and every problem listed, as --values' are.
    let mut problems = Vec::new();
    for name in input_names(schema) {
        let variable = env_name(&name);
        if let Ok(text) = std::env::var(&variable) {
            match typed(schema, &name, &text, &variable) {
                Ok(value) => {
                    answers.insert(name, value);
                }
                Err(error) => problems.push(error.message),
            }
        }
    }
    for assignment in set {
        let Some((name, text)) = assignment.split_once('=') else {
            problems.push(format!("--set {assignment}: expected KEY=VALUE"));
            continue;
        };
        let name = name.trim();
        match typed(schema, name, text, &format!("--set {name}")) {
            Ok(value) => {
                answers.insert(name.to_owned(), value);
            }
            Err(error) => problems.push(error.message),
        }
    }
    match problems.as_slice() {
        [] => Ok(answers),
        [one] => Err(CliError::invalid(one.clone())),
        _ => Err(CliError::invalid(format!(
            "{}:\n  {}",
            quarry_core::counted(
                problems.len(),
                "input has a problem",
                "inputs have problems"
            ),
            quarry_core::lines(&problems)
        ))),
    }
}

/// Renders the fetched blueprint with `inputs`, resolving modules through the registry; the
/// render itself runs on a thread of its own and is given up on after [`RENDER_DEADLINE`]. The
/// error lists every problem with its path.
pub async fn render(
    client: &Client,
    fetched: &Fetched,
    inputs: Map<String, Value>,
    constraint: &str,
) -> Result<Stack> {
    let resolutions = render::resolve_modules(&fetched.blueprint.manifest, client).await;
    render_with(
        client,
        fetched,
        inputs,
        constraint,
        resolutions,
        Secrets::Given,
    )
    .await
}

/// Whether a render has the secrets' values (to check them), or renders without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    Given,
    /// Rendering again from `answers.json`, which never holds them: they are not required, and
    /// the files are the same (they only ever reference secrets).
    Omitted,
}

/// [`render`] with the modules already resolved (pinned, for a render again).
pub async fn render_with(
    client: &Client,
    fetched: &Fetched,
    inputs: Map<String, Value>,
    constraint: &str,
    resolutions: render::Resolutions,
    secrets: Secrets,
) -> Result<Stack> {
    let mut blueprint = fetched.blueprint.clone();
    if secrets == Secrets::Omitted {
        blueprint.manifest.inputs = quarry_core::secrets::not_required(&blueprint.manifest.inputs);
    }
    let version = fetched.version.clone();
    let sha256 = fetched.detail.archive.sha256.clone();
    let host = client.settings().source_host.clone();
    let constraint = constraint.to_owned();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rendered = render::render_resolved(
            RenderRequest {
                blueprint: &blueprint,
                version: &version,
                archive_sha256: &sha256,
                constraint: Some(&constraint),
                registry_host: &host,
                inputs: Value::Object(inputs),
                output_limit: render::MAX_RENDERED_BYTES,
            },
            &resolutions,
        );
        let _ = sender.send(rendered);
    });
    let address = &fetched.address;
    let version = &fetched.version;
    let rendered = receiver.recv_timeout(RENDER_DEADLINE).map_err(|_| {
        CliError::invalid(format!(
            "rendering blueprint {address} {version} took longer than {} s; its templates may loop without end",
            RENDER_DEADLINE.as_secs()
        ))
    })?;
    rendered.map_err(|error| {
        CliError::invalid(format!(
            "the inputs do not fit blueprint {address} {version}:\n  {}",
            error
                .0
                .iter()
                .map(|e| if e.path.is_empty() {
                    format!("(inputs): {}", e.message)
                } else {
                    format!("{}: {}", e.path, e.message)
                })
                .collect::<Vec<_>>()
                .join("\n  ")
        ))
    })
}

/// The stack's name, as its `stack.yaml` gives it.
pub fn stack_name(stack: &Stack) -> Option<String> {
    let text = std::str::from_utf8(stack.files.get("stack.yaml")?).ok()?;
    let value: Value = yaml_serde::from_str(text).ok()?;
    value.get("name")?.as_str().map(str::to_owned)
}

/// Writes every file into a temporary directory beside `target`, then moves it in place, so a
/// failure never leaves half a stack.
pub fn write_atomically(target: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    let parent = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".scaffold-")
        .tempdir_in(&parent)?;
    for (path, content) in files {
        let file = staging.path().join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&file, content)?;
    }
    let staged = staging.keep();
    if target.exists() {
        let old = parent.join(format!(".scaffold-old-{}", std::process::id()));
        std::fs::rename(target, &old)?;
        if let Err(error) = std::fs::rename(&staged, target) {
            let _ = std::fs::rename(&old, target);
            let _ = std::fs::remove_dir_all(&staged);
            return Err(error.into());
        }
        std::fs::remove_dir_all(&old)?;
    } else if let Err(error) = std::fs::rename(&staged, target) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(error.into());
    }
    Ok(())
}
