//! What `scaffold run` applies around terraform: the stack's contexts (`stack.yaml`'s `contexts`,
//! the files under `contexts/`) and its own `environment`, with any `--context-dir` contexts on top.
//!
//! Order, later winning for the same variable or file: the stack's contexts from the highest
//! `priority` number to the lowest (so priority 0 beats 10, as in Spacelift), then the stack's own
//! `environment`, then the `--context-dir` contexts in file-name order. Secret references
//! (`secret: <scheme>://…`) are resolved here, once, before anything runs: `env://NAME` and
//! `file://PATH` by `scaffold`, any other scheme by the command in `SCAFFOLD_SECRET_RESOLVER`
//! (given the reference as its one argument, it prints the secret). Resolved values are only ever
//! put in the environment of terraform and the hooks, and masked in the hooks' output.
//!
//! The workspace is the stack's directory: `/mnt/workspace` (Spacelift's name for it) in a file
//! path, a variable's value or a hook stands for it; a relative file path is under it; a file
//! anywhere else needs `--mount-anywhere`.

use crate::error::{CliError, Result};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

/// The name the contexts give the workspace.
const WORKSPACE: &str = "/mnt/workspace";

/// The environment variable naming the resolver of other secret schemes.
pub const RESOLVER_VARIABLE: &str = "SCAFFOLD_SECRET_RESOLVER";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextFile {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    environment: Vec<Variable>,
    #[serde(default)]
    files: Vec<MountedFile>,
    #[serde(default)]
    hooks: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Variable {
    name: String,
    value: Option<String>,
    secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MountedFile {
    path: String,
    content: String,
}

/// The phases hooks may name.
const PHASES: [&str; 8] = [
    "before_init",
    "after_init",
    "before_plan",
    "after_plan",
    "before_apply",
    "after_apply",
    "before_destroy",
    "after_destroy",
];

/// One hook command and the context it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub context: String,
    pub command: String,
}

/// Everything a run applies, resolved.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Variables in the order they are set (a later one replaces an earlier one of the name).
    pub environment: BTreeMap<String, String>,
    /// Secret values, to mask in output.
    pub secrets: Vec<String>,
    /// Files to mount: where, and what.
    pub files: BTreeMap<PathBuf, String>,
    /// Hook commands by phase, in order.
    pub hooks: BTreeMap<String, Vec<Hook>>,
}

/// How a run may mount files.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub mount_anywhere: bool,
    pub resolver: Option<&'a str>,
}

/// `/mnt/workspace` in `text` replaced by the workspace's path.
fn in_workspace(text: &str, workspace: &Path) -> String {
    let root = workspace.display().to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(WORKSPACE) {
        let after = &rest[at + WORKSPACE.len()..];
        out.push_str(&rest[..at]);
        if after.is_empty() || after.starts_with('/') || !after.starts_with(char::is_alphanumeric) {
            out.push_str(&root);
        } else {
            out.push_str(WORKSPACE);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Where a context's file goes.
fn mount_path(
    context: &str,
    path: &str,
    workspace: &Path,
    options: Options<'_>,
) -> Result<PathBuf> {
    let problem =
        |why: &str| CliError::invalid(format!("context `{context}`: the file `{path}` {why}"));
    if Path::new(path)
        .components()
        .any(|part| matches!(part, Component::ParentDir | Component::CurDir))
    {
        return Err(problem("has `.` or `..` segments"));
    }
    if let Some(rest) = path.strip_prefix(WORKSPACE)
        && (rest.is_empty() || rest.starts_with('/'))
    {
        let rest = rest.trim_start_matches('/');
        if rest.is_empty() {
            return Err(problem("is the workspace itself"));
        }
        return Ok(workspace.join(rest));
    }
    if Path::new(path).is_absolute() {
        if options.mount_anywhere {
            return Ok(PathBuf::from(path));
        }
        return Err(problem(&format!(
            "is outside the workspace ({WORKSPACE}, the stack's directory): pass --mount-anywhere to allow it"
        )));
    }
    Ok(workspace.join(path))
}

/// Resolves a secret reference.
fn resolve(
    context: &str,
    name: &str,
    reference: &str,
    workspace: &Path,
    options: Options<'_>,
) -> Result<String> {
    let problem = |why: String| {
        CliError::invalid(format!(
            "context `{context}`: `{name}` refers to `{reference}`, which {why}"
        ))
    };
    let (scheme, rest) = reference
        .split_once("://")
        .ok_or_else(|| problem("is not `<scheme>://…`".into()))?;
    match scheme {
        "env" => std::env::var(rest)
            .map_err(|_| problem(format!("is not set: export {rest} before the run"))),
        "file" => {
            let path = Path::new(rest);
            let path = if path.is_absolute() {
                path.to_owned()
            } else {
                workspace.join(path)
            };
            let text = std::fs::read_to_string(&path).map_err(|error| {
                problem(format!("cannot be read ({}: {error})", path.display()))
            })?;
            Ok(text.trim_end_matches(['\n', '\r']).to_owned())
        }
        other => {
            let Some(resolver) = options.resolver else {
                return Err(problem(format!(
                    "scaffold cannot resolve: it resolves `env://` and `file://` itself; for `{other}://` set {RESOLVER_VARIABLE} to a command that prints a secret given its reference"
                )));
            };
            let output = Command::new("sh")
                .arg("-c")
                .arg(format!("{resolver} \"$1\""))
                .arg("scaffold-secret-resolver")
                .arg(reference)
                .stdin(Stdio::null())
                .output()
                .map_err(|error| problem(format!("the resolver could not be run: {error}")))?;
            if !output.status.success() {
                return Err(problem(format!(
                    "the resolver `{resolver}` failed to resolve ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            Ok(String::from_utf8_lossy(&output.stdout)
                .trim_end_matches(['\n', '\r'])
                .to_owned())
        }
    }
}

/// A context file's content, read and checked; `origin` names it in messages.
fn read_context(path: &Path, origin: &str) -> Result<ContextFile> {
    let text = std::fs::read(path)
        .map_err(|error| CliError::invalid(format!("context {origin}: {error}")))?;
    let document = quarry_core::blueprint::parse_yaml(origin, &text)
        .map_err(|problem| CliError::invalid(problem.to_string()))?;
    let context: ContextFile = serde_json::from_value(document)
        .map_err(|error| CliError::invalid(format!("context {origin}: {error}")))?;
    if context.api_version != "quarry.dev/v1" || context.kind != "Context" {
        return Err(CliError::invalid(format!(
            "context {origin}: expected apiVersion `quarry.dev/v1` and kind `Context`"
        )));
    }
    if let Some(phase) = context
        .hooks
        .keys()
        .find(|phase| !PHASES.contains(&phase.as_str()))
    {
        return Err(CliError::invalid(format!(
            "context {origin}: unknown hook `{phase}`; hooks are {}",
            PHASES.join(", ")
        )));
    }
    for variable in &context.environment {
        if variable.value.is_some() == variable.secret.is_some() {
            return Err(CliError::invalid(format!(
                "context {origin}: `{}` needs exactly one of `value` and `secret`",
                variable.name
            )));
        }
    }
    Ok(context)
}

/// The contexts to apply, in order: `(id, file content)`.
fn contexts_in_order(
    stack_dir: &Path,
    stack: &Value,
    context_dirs: &[PathBuf],
) -> Result<Vec<(String, ContextFile)>> {
    let mut attached: Vec<(i64, String, String)> = stack
        .get("contexts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|entry| {
            let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
            (
                entry.get("priority").and_then(Value::as_i64).unwrap_or(0),
                text("id").to_owned(),
                text("file").to_owned(),
            )
        })
        .collect();
    // Highest number first: the lowest number is applied last, and wins.
    attached.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    let mut contexts = Vec::new();
    for (_, id, file) in attached {
        if !file.starts_with("contexts/") || file.split('/').any(|part| part == "..") {
            return Err(CliError::invalid(format!(
                "stack.yaml: context `{id}` names the file `{file}`, which is not under contexts/"
            )));
        }
        let context = read_context(&stack_dir.join(&file), &file)?;
        contexts.push((id, context));
    }
    // The stack's own environment, as a context of its own.
    if let Some(environment) = stack.get("environment").and_then(Value::as_object) {
        let environment = environment
            .iter()
            .map(|(name, value)| Variable {
                name: name.clone(),
                value: Some(
                    value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned),
                ),
                secret: None,
            })
            .collect();
        contexts.push((
            "stack.yaml".to_owned(),
            ContextFile {
                api_version: "quarry.dev/v1".into(),
                kind: "Context".into(),
                description: None,
                environment,
                files: Vec::new(),
                hooks: BTreeMap::new(),
            },
        ));
    }
    for dir in context_dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|error| {
                CliError::invalid(format!("--context-dir {}: {error}", dir.display()))
            })?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "yaml" || extension == "yml")
            })
            .collect();
        files.sort();
        for path in files {
            let origin = path.display().to_string();
            let id = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            contexts.push((id, read_context(&path, &origin)?));
        }
    }
    Ok(contexts)
}

/// Reads the stack's contexts (and `context_dirs`') and resolves everything a run applies.
pub fn prepare(
    stack_dir: &Path,
    stack: &Value,
    context_dirs: &[PathBuf],
    options: Options<'_>,
) -> Result<Prepared> {
    let workspace = std::path::absolute(stack_dir)?;
    let mut prepared = Prepared::default();
    for (id, context) in contexts_in_order(stack_dir, stack, context_dirs)? {
        for variable in context.environment {
            let value = match (&variable.value, &variable.secret) {
                (Some(value), _) => in_workspace(value, &workspace),
                (None, Some(reference)) => {
                    let value = resolve(&id, &variable.name, reference, &workspace, options)?;
                    if !value.is_empty() {
                        prepared.secrets.push(value.clone());
                    }
                    value
                }
                (None, None) => continue,
            };
            prepared.environment.insert(variable.name, value);
        }
        for file in context.files {
            let path = mount_path(&id, &file.path, &workspace, options)?;
            prepared.files.insert(path, file.content);
        }
        for (phase, commands) in context.hooks {
            let hooks = prepared.hooks.entry(phase).or_default();
            hooks.extend(commands.into_iter().map(|command| Hook {
                context: id.clone(),
                command: in_workspace(&command, &workspace),
            }));
        }
    }
    // The longest first, so a secret that contains another is masked whole.
    prepared
        .secrets
        .sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    if let Some(name) = stack.get("name").and_then(Value::as_str) {
        prepared
            .environment
            .entry("QUARRY_STACK_NAME".into())
            .or_insert_with(|| name.to_owned());
    }
    prepared
        .environment
        .insert("QUARRY_WORKSPACE".into(), workspace.display().to_string());
    Ok(prepared)
}

/// `text` with every secret replaced by `***`.
pub fn mask(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "***")
    })
}

/// The files a run mounted, removed (and what they replaced put back) when it ends, however it ends.
pub struct Mounted {
    /// Each mounted path, with what was there before.
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Mounted {
    pub fn mount(files: &BTreeMap<PathBuf, String>) -> Result<Self> {
        let mut mounted = Self { files: Vec::new() };
        for (path, content) in files {
            let before = std::fs::read(path).ok();
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|error| {
                    CliError::failure(format!("mounting {}: {error}", path.display()))
                })?;
            }
            mounted.files.push((path.clone(), before));
            std::fs::write(path, content).map_err(|error| {
                CliError::failure(format!("mounting {}: {error}", path.display()))
            })?;
        }
        Ok(mounted)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        for (path, before) in self.files.drain(..).rev() {
            let restored = match before {
                Some(content) => std::fs::write(&path, content),
                None => std::fs::remove_file(&path),
            };
            if let Err(error) = restored {
                eprintln!(
                    "warning: could not remove the mounted file {}: {error}",
                    path.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_name_stands_for_the_stack_directory() {
        let workspace = Path::new("/home/ada/stack");
        assert_eq!(
            in_workspace("/mnt/workspace/.aws/token", workspace),
            "/home/ada/stack/.aws/token"
        );
        assert_eq!(in_workspace("/mnt/workspace", workspace), "/home/ada/stack");
        assert_eq!(
            in_workspace("sh /mnt/workspace/x.sh && cat /mnt/workspaces", workspace),
            "sh /home/ada/stack/x.sh && cat /mnt/workspaces"
        );
    }

    #[test]
    fn files_stay_in_the_workspace_unless_allowed() {
        let workspace = Path::new("/w");
        let options = Options {
            mount_anywhere: false,
            resolver: None,
        };
        assert_eq!(
            mount_path("c", "/mnt/workspace/a/b.tf", workspace, options).ok(),
            Some(PathBuf::from("/w/a/b.tf"))
        );
        assert_eq!(
            mount_path("c", "backend.tf", workspace, options).ok(),
            Some(PathBuf::from("/w/backend.tf"))
        );
        for refused in [
            "/etc/passwd",
            "a/../../x",
            "/mnt/workspace/../x",
            "/mnt/workspace",
        ] {
            assert!(
                mount_path("c", refused, workspace, options).is_err(),
                "{refused}"
            );
        }
        let anywhere = Options {
            mount_anywhere: true,
            resolver: None,
        };
        assert!(mount_path("c", "/tmp/x", workspace, anywhere).is_ok());
    }

    #[test]
    fn secrets_are_masked_longest_first() {
        let secrets = vec!["abc123".to_owned(), "abc".to_owned()];
        assert_eq!(mask("key=abc123 short=abc", &secrets), "key=*** short=***");
    }
}
