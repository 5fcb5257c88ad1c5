//! Blueprints: the manifest model, loading a blueprint's files, and checking all of it at once.
//! Every problem is reported together, each with its file and its JSON path or line, so an author
//! fixes a blueprint in one round. Reading files is left to the callers ([`load_dir`] is the one
//! helper that touches the filesystem).

use crate::address::{AddressError, ModuleAddress, ModuleName, Namespace};
use crate::constraint::Constraint;
use crate::inputs::{self, InputError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The manifest's file name.
pub const MANIFEST: &str = "blueprint.yaml";

/// A blueprint's files by relative path (`blueprint.yaml`, `template/…`, `policies/…`, …).
pub type BlueprintFiles = BTreeMap<String, Vec<u8>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub inputs: Value,
    #[serde(default)]
    pub modules: Vec<ModuleUse>,
    #[serde(default)]
    pub policies: Vec<PolicyUse>,
    #[serde(default)]
    pub contexts: Vec<ContextUse>,
    pub stack: StackTemplate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub namespace: String,
    pub name: String,
    pub description: String,
    /// The version `quarry serve --import` publishes this directory as; publishing over HTTP
    /// takes the version from the URL instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A registry module the stack uses, under a version constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleUse {
    pub name: String,
    pub source: String,
    pub version: String,
    #[serde(default)]
    pub inputs: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyUse {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextUse {
    pub id: String,
    pub file: String,
    pub priority: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

/// The stack manifest before rendering: every string may hold Tera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackTemplate {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub terraform_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// A module source in a blueprint: `namespace/name/system`, optionally `//subdir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSource {
    pub address: ModuleAddress,
    pub subdir: Option<String>,
}

impl std::str::FromStr for ModuleSource {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, subdir) = match text.split_once("//") {
            Some((address, subdir)) => (address, Some(subdir)),
            None => (text, None),
        };
        let subdir = match subdir {
            None => None,
            Some(subdir)
                if !subdir.is_empty()
                    && subdir
                        .split('/')
                        .all(|part| !part.is_empty() && part != "." && part != "..") =>
            {
                Some(subdir.to_owned())
            }
            Some(_) => return Err(AddressError::Shape(text.chars().take(80).collect())),
        };
        Ok(Self {
            address: address.parse()?,
            subdir,
        })
    }
}

impl std::fmt::Display for ModuleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.subdir {
            Some(subdir) => write!(f, "{}//{subdir}", self.address),
            None => write!(f, "{}", self.address),
        }
    }
}

/// One thing wrong with a blueprint: the file, where in it (a JSON pointer or `line N`), and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub file: String,
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

fn problem(file: &str, path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        file: file.to_owned(),
        path: path.into(),
        message: message.into(),
    }
}

/// A checked blueprint: its manifest parsed and valid, every file it names present and sound.
#[derive(Debug, Clone)]
pub struct Blueprint {
    pub namespace: Namespace,
    pub name: ModuleName,
    pub manifest: Manifest,
    pub files: BlueprintFiles,
}

/// Reads a YAML file into JSON, naming the file and line of a syntax error.
pub fn parse_yaml(file: &str, bytes: &[u8]) -> Result<Value, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|_| problem(file, "", "not valid UTF-8 text"))?;
    let document = yaml_serde::from_str::<Value>(text).map_err(|error| {
        let path = error
            .location()
            .map(|location| format!("line {}", location.line()))
            .unwrap_or_default();
        problem(file, path, format!("invalid YAML: {error}"))
    })?;
    let depth = inputs::depth(&document);
    if depth > inputs::MAX_DEPTH {
        return Err(problem(
            file,
            "",
            format!(
                "the document nests {depth} levels deep, more than the limit of {}",
                inputs::MAX_DEPTH
            ),
        ));
    }
    Ok(document)
}

fn schema_problems(file: &str, errors: Vec<InputError>, prefix: &str) -> Vec<Problem> {
    errors
        .into_iter()
        .map(|error| problem(file, format!("{prefix}{}", error.path), error.message))
        .collect()
}

/// Whether a Tera source string parses; `name` is what errors call it.
fn check_template(name: &str, source: &str) -> Result<(), String> {
    let mut tera = crate::render::engine();
    tera.add_raw_template(name, source)
        .map_err(|error| crate::render::tera_message(&error))
}

/// Checks a blueprint's files: the manifest against `schemas/blueprint.schema.json`, `inputs` as
/// a JSON Schema, every template and templated string as Tera, every module address and
/// constraint, every policy as Rego, every context against `schemas/context.schema.json`.
pub fn check(files: BlueprintFiles) -> Result<Blueprint, Vec<Problem>> {
    let Some(manifest_bytes) = files.get(MANIFEST) else {
        return Err(vec![problem(
            MANIFEST,
            "",
            "missing: a blueprint needs a blueprint.yaml at its root",
        )]);
    };
    let raw = parse_yaml(MANIFEST, manifest_bytes).map_err(|problem| vec![problem])?;
    let mut problems = schema_problems(
        MANIFEST,
        inputs::validate(crate::schemas::blueprint(), &raw),
        "",
    );
    // When the manifest still has the right shape, the other checks run too, so every problem
    // is reported in one round.
    let manifest: Manifest = match serde_json::from_value(raw) {
        Ok(manifest) => manifest,
        Err(_) if !problems.is_empty() => return Err(problems),
        Err(error) => return Err(vec![problem(MANIFEST, "", error.to_string())]),
    };

    let namespace = Namespace::new(&manifest.metadata.namespace);
    let name = ModuleName::new(&manifest.metadata.name);
    if let Err(error) = &namespace {
        problems.push(problem(MANIFEST, "/metadata/namespace", error.to_string()));
    }
    if let Err(error) = &name {
        problems.push(problem(MANIFEST, "/metadata/name", error.to_string()));
    }
    if let Err(errors) = inputs::compile(&manifest.inputs) {
        problems.extend(schema_problems(MANIFEST, errors, "/inputs"));
    }
    if let Err(errors) = crate::secrets::find(&manifest.inputs) {
        problems.extend(schema_problems(MANIFEST, errors, "/inputs"));
    }
    if let Some(readme) = files.get("README.md")
        && readme.len() > crate::module::MAX_README_BYTES
    {
        problems.push(problem(
            "README.md",
            "",
            format!(
                "the README is {} bytes, larger than the limit of {} bytes",
                readme.len(),
                crate::module::MAX_README_BYTES
            ),
        ));
    }
    problems.extend(check_manifest_templates(&manifest));
    problems.extend(check_modules(&manifest));
    problems.extend(check_policies(&manifest, &files));
    problems.extend(check_contexts(&manifest, &files));
    problems.extend(check_template_files(&files));

    match (namespace, name) {
        (Ok(namespace), Ok(name)) if problems.is_empty() => Ok(Blueprint {
            namespace,
            name,
            manifest,
            files,
        }),
        _ => Err(problems),
    }
}

/// Reads a blueprint that passed [`check`] when it was published: only its manifest is parsed,
/// nothing is checked again (rendering reports whatever it meets).
pub fn load(files: BlueprintFiles) -> Result<Blueprint, Problem> {
    let bytes = files
        .get(MANIFEST)
        .ok_or_else(|| problem(MANIFEST, "", "missing"))?;
    let raw = parse_yaml(MANIFEST, bytes)?;
    let manifest: Manifest =
        serde_json::from_value(raw).map_err(|error| problem(MANIFEST, "", error.to_string()))?;
    let namespace = Namespace::new(&manifest.metadata.namespace)
        .map_err(|error| problem(MANIFEST, "/metadata/namespace", error.to_string()))?;
    let name = ModuleName::new(&manifest.metadata.name)
        .map_err(|error| problem(MANIFEST, "/metadata/name", error.to_string()))?;
    Ok(Blueprint {
        namespace,
        name,
        manifest,
        files,
    })
}

/// Every templated string of the manifest, with its JSON path.
pub(crate) fn templated_strings(manifest: &Manifest) -> Vec<(String, &str)> {
    let mut strings: Vec<(String, &str)> = vec![
        ("/stack/name".into(), manifest.stack.name.as_str()),
        (
            "/stack/terraform_version".into(),
            manifest.stack.terraform_version.as_str(),
        ),
    ];
    if let Some(space) = &manifest.stack.space {
        strings.push(("/stack/space".into(), space));
    }
    if let Some(description) = &manifest.stack.description {
        strings.push(("/stack/description".into(), description));
    }
    for (index, label) in manifest.stack.labels.iter().enumerate() {
        strings.push((format!("/stack/labels/{index}"), label));
    }
    for (key, value) in &manifest.stack.environment {
        strings.push((format!("/stack/environment/{key}"), value));
    }
    for (index, policy) in manifest.policies.iter().enumerate() {
        strings.push((format!("/policies/{index}/id"), &policy.id));
        if let Some(when) = &policy.when {
            strings.push((format!("/policies/{index}/when"), when));
        }
    }
    for (index, context) in manifest.contexts.iter().enumerate() {
        strings.push((format!("/contexts/{index}/id"), &context.id));
        if let Some(when) = &context.when {
            strings.push((format!("/contexts/{index}/when"), when));
        }
    }
    strings
}

fn check_manifest_templates(manifest: &Manifest) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (path, source) in templated_strings(manifest) {
        if let Err(message) = check_template(&format!("{MANIFEST}:{path}"), source) {
            problems.push(problem(MANIFEST, path, message));
        }
    }
    for (index, module) in manifest.modules.iter().enumerate() {
        for (key, value) in &module.inputs {
            let mut strings = Vec::new();
            collect_strings(
                value,
                &format!("/modules/{index}/inputs/{key}"),
                &mut strings,
            );
            for (path, source) in strings {
                if let Err(message) = check_template(&format!("{MANIFEST}:{path}"), source) {
                    problems.push(problem(MANIFEST, path, message));
                }
            }
        }
    }
    problems
}

/// The strings inside a JSON value, with their paths.
pub(crate) fn collect_strings<'a>(value: &'a Value, path: &str, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::String(text) => out.push((path.to_owned(), text)),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                collect_strings(item, &format!("{path}/{index}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                collect_strings(item, &format!("{path}/{key}"), out);
            }
        }
        _ => {}
    }
}

fn check_modules(manifest: &Manifest) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (index, module) in manifest.modules.iter().enumerate() {
        if !names.insert(module.name.as_str()) {
            problems.push(problem(
                MANIFEST,
                format!("/modules/{index}/name"),
                format!("module name `{}` is used twice", module.name),
            ));
        }
        if let Err(error) = module.source.parse::<ModuleSource>() {
            problems.push(problem(
                MANIFEST,
                format!("/modules/{index}/source"),
                error.to_string(),
            ));
        }
        if let Err(error) = Constraint::parse(&module.version) {
            problems.push(problem(
                MANIFEST,
                format!("/modules/{index}/version"),
                error.to_string(),
            ));
        }
    }
    problems
}

/// Whether `file` is a plain relative path inside `folder/`.
fn is_inside(file: &str, folder: &str) -> bool {
    file.strip_prefix(folder)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .split('/')
                    .all(|part| !part.is_empty() && part != "." && part != "..")
        })
}

fn check_policies(manifest: &Manifest, files: &BlueprintFiles) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (index, policy) in manifest.policies.iter().enumerate() {
        let path = format!("/policies/{index}/file");
        if !is_inside(&policy.file, "policies") {
            problems.push(problem(
                MANIFEST,
                path,
                format!("policy file `{}` must be inside policies/", policy.file),
            ));
            continue;
        }
        let Some(bytes) = files.get(&policy.file) else {
            problems.push(problem(
                MANIFEST,
                path,
                format!("policy file `{}` does not exist", policy.file),
            ));
            continue;
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            problems.push(problem(&policy.file, "", "not valid UTF-8 text"));
            continue;
        };
        if let Err(error) = crate::policy::check(&policy.file, text) {
            problems.push(problem(&policy.file, "", error.to_string()));
        }
    }
    problems
}

fn check_contexts(manifest: &Manifest, files: &BlueprintFiles) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (index, context) in manifest.contexts.iter().enumerate() {
        let path = format!("/contexts/{index}/file");
        if !is_inside(&context.file, "contexts") {
            problems.push(problem(
                MANIFEST,
                path,
                format!("context file `{}` must be inside contexts/", context.file),
            ));
            continue;
        }
        let Some(bytes) = files.get(&context.file) else {
            problems.push(problem(
                MANIFEST,
                path,
                format!("context file `{}` does not exist", context.file),
            ));
            continue;
        };
        match parse_yaml(&context.file, bytes) {
            Ok(document) => problems.extend(schema_problems(
                &context.file,
                inputs::validate(crate::schemas::context(), &document),
                "",
            )),
            Err(problem) => problems.push(problem),
        }
    }
    problems
}

fn check_template_files(files: &BlueprintFiles) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (file, bytes) in files.range("template/".to_owned()..) {
        if !file.starts_with("template/") {
            break;
        }
        if (file.contains("{{") || file.contains("{%"))
            && let Err(message) = check_template(&format!("path of {file}"), file)
        {
            problems.push(problem(file, "(path)", message));
        }
        if file.ends_with(".tera") {
            match std::str::from_utf8(bytes) {
                Ok(source) => {
                    if let Err(message) = check_template(file, source) {
                        problems.push(problem(file, "", message));
                    }
                }
                Err(_) => problems.push(problem(file, "", "a .tera template must be UTF-8 text")),
            }
        }
    }
    problems
}

/// Directories never read into a blueprint.
fn is_skipped(name: &str) -> bool {
    matches!(name, ".git" | ".terraform" | ".scaffold" | "node_modules")
}

/// Reads a blueprint directory into memory. Links are refused: a blueprint is plain files.
pub fn load_dir(dir: &Path) -> std::io::Result<BlueprintFiles> {
    fn walk(root: &Path, relative: &str, files: &mut BlueprintFiles) -> std::io::Result<()> {
        let mut entries: Vec<_> =
            std::fs::read_dir(root.join(relative))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{:?} is not a UTF-8 file name", entry.path()),
                ));
            };
            if is_skipped(&name) {
                continue;
            }
            let path = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            let file_type = entry.file_type()?;
            if file_type.is_symlink() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{path} is a symbolic link; blueprints hold plain files only"),
                ));
            } else if file_type.is_dir() {
                walk(root, &path, files)?;
            } else {
                files.insert(path, std::fs::read(entry.path())?);
            }
        }
        Ok(())
    }
    let mut files = BlueprintFiles::new();
    walk(dir, "", &mut files)?;
    Ok(files)
}
