//! `scaffold new BLUEPRINT[@CONSTRAINT]`: resolves and downloads the blueprint (cached by digest),
//! gathers inputs (`--values`, `SCAFFOLD_INPUT_<NAME>`, `--set`, then prompts on a terminal),
//! renders with `core::render` resolving modules through the registry, and writes the stack
//! atomically: into a temporary directory first, moved in place only when complete.

use super::split_at_version;
use crate::client::{self, Client};
use crate::error::{CliError, Kind, Result};
use crate::prompt;
use quarry_core::blueprint::{self, Blueprint};
use quarry_core::constraint::Constraint;
use quarry_core::render::{self, RenderRequest, Stack};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct NewArgs {
    /// The blueprint, namespace/name, optionally @CONSTRAINT in Terraform syntax (e.g. @~>1.2)
    pub blueprint: String,
    /// Directory to write the stack to [default: ./<stack name>]
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    /// An input, typed by the blueprint's schema (numbers, booleans; arrays and objects as JSON)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// A YAML or JSON file of inputs
    #[arg(long)]
    pub values: Option<PathBuf>,
    /// Never prompt: fail listing every missing or invalid input
    #[arg(long)]
    pub non_interactive: bool,
    /// Show the files that would be written (and a diff where the target exists); write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Replace a non-empty target directory
    #[arg(long)]
    pub force: bool,
}

/// Where downloaded blueprints are kept, by digest.
fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("SCAFFOLD_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|dir| dir.join("scaffold")))
        .map(|dir| dir.join("blueprints"))
}

async fn fetch_blueprint(
    client: &Client,
    address: &str,
    version: &str,
    sha256: &str,
) -> Result<Vec<u8>> {
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

/// The environment variable an input can come from: `SCAFFOLD_INPUT_` + the name in upper case.
fn env_name(input: &str) -> String {
    format!(
        "SCAFFOLD_INPUT_{}",
        input.to_ascii_uppercase().replace('-', "_")
    )
}

fn typed(schema: &Value, name: &str, text: &str, origin: &str) -> Result<Value> {
    let question = prompt::question_for(schema, name).ok_or_else(|| {
        let known: Vec<&str> = schema["properties"]
            .as_object()
            .map(|properties| properties.keys().map(String::as_str).collect())
            .unwrap_or_default();
        CliError::invalid(format!(
            "{origin}: the blueprint has no input `{name}`; its inputs are: {}",
            known.join(", ")
        ))
    })?;
    prompt::parse_answer(&question.kind, text)
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
    if let Some(properties) = schema["properties"].as_object() {
        for name in properties.keys() {
            let variable = env_name(name);
            if let Ok(text) = std::env::var(&variable) {
                answers.insert(name.clone(), typed(schema, name, &text, &variable)?);
            }
        }
    }
    for assignment in set {
        let (name, text) = assignment
            .split_once('=')
            .ok_or_else(|| CliError::invalid(format!("--set {assignment}: expected KEY=VALUE")))?;
        let name = name.trim();
        answers.insert(
            name.to_owned(),
            typed(schema, name, text, &format!("--set {name}"))?,
        );
    }
    Ok(answers)
}

fn stack_name(stack: &Stack) -> Option<String> {
    let text = std::str::from_utf8(stack.files.get("stack.yaml")?).ok()?;
    let value: Value = yaml_serde::from_str(text).ok()?;
    value["name"].as_str().map(str::to_owned)
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path)
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(true)
}

pub async fn run(client: &Client, args: &NewArgs) -> Result<()> {
    let (address, constraint_text) = split_at_version(&args.blueprint);
    if address.split('/').count() != 2 {
        return Err(CliError::invalid(format!(
            "`{address}` is not a blueprint address: expected namespace/name"
        )));
    }
    let constraint = Constraint::parse(constraint_text.unwrap_or(">= 0.0.0"))
        .map_err(|error| CliError::invalid(error.to_string()))?;
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
    let version = client::choose(&format!("blueprint {address}"), &versions, &constraint)?;
    let detail = client
        .get_json(&format!("/v1/blueprints/{address}/{version}"))
        .await?;
    let sha256 = detail["archive"]["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let archive = fetch_blueprint(client, address, &version.to_string(), &sha256).await?;
    let files =
        quarry_core::archive::read_files(&archive, &quarry_core::archive::Limits::default())
            .map_err(|error| {
                CliError::failure(format!("blueprint {address} {version}: {error}"))
            })?;
    let blueprint: Blueprint = blueprint::check(files).map_err(|problems| {
        CliError::invalid(format!(
            "blueprint {address} {version} does not pass its checks:\n  {}",
            quarry_core::lines(problems.iter())
        ))
    })?;
    let schema = blueprint.manifest.inputs.clone();
    let mut answers = gather(&schema, args.values.as_deref(), &args.set)?;
    let interactive =
        !args.non_interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive {
        prompt::ask(&schema, &mut answers, false)?;
    }

    let stack = render::render(
        RenderRequest {
            blueprint: &blueprint,
            version: &version,
            archive_sha256: &sha256,
            constraint: Some(constraint_text.unwrap_or(&version.to_string())),
            registry_host: &client.settings().source_host,
            inputs: Value::Object(answers),
            output_limit: quarry_core::render::MAX_RENDERED_BYTES,
        },
        client,
    )
    .await
    .map_err(|error| {
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
    })?;

    let target = match &args.out {
        Some(path) => path.clone(),
        None => PathBuf::from(stack_name(&stack).unwrap_or_else(|| blueprint.name.to_string())),
    };
    if args.dry_run {
        print_dry_run(&target, &stack.files);
        return Ok(());
    }
    if target.exists() && !is_empty_dir(&target) && !args.force {
        return Err(CliError::new(
            Kind::Conflict,
            format!(
                "{} is not empty: pass --force to replace it, or choose another directory with -o",
                target.display()
            ),
        ));
    }
    write_atomically(&target, &stack.files)?;
    eprintln!(
        "wrote {} files to {} from {address} {version}",
        stack.files.len(),
        target.display()
    );
    Ok(())
}

fn print_dry_run(target: &Path, files: &BTreeMap<String, Vec<u8>>) {
    println!("would write {} files to {}:", files.len(), target.display());
    for (path, content) in files {
        let existing = std::fs::read(target.join(path)).ok();
        let mark = match &existing {
            None => "+",
            Some(old) if old == content => "=",
            Some(_) => "~",
        };
        println!("  {mark} {path}");
    }
    for (path, content) in files {
        let Ok(old) = std::fs::read(target.join(path)) else {
            continue;
        };
        if &old == content {
            continue;
        }
        let (old_text, new_text) = (
            String::from_utf8_lossy(&old),
            String::from_utf8_lossy(content),
        );
        let diff = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref());
        print!(
            "{}",
            diff.unified_diff()
                .header(&format!("a/{path}"), &format!("b/{path}"))
        );
    }
}

/// Writes every file into a temporary directory beside `target`, then moves it in place, so a
/// failure never leaves half a stack.
fn write_atomically(target: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
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
