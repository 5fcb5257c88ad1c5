//! Rendering a blueprint into a stack, the one pipeline the registry and `scaffold` share:
//! 1. validate the inputs against the blueprint's schema (every error, with its JSON path);
//! 2. check each module's rendered inputs against the inputs schema of the version its
//!    constraint resolved to (resolution comes first, through a [`ModuleResolver`], in
//!    [`resolve_modules`], so that the rest is pure computation a caller can run anywhere);
//! 3. render `template/` with `inputs`, `modules` and `blueprint` in the Tera context;
//! 4. assemble the stack: the files, `stack.yaml`, attached `policies/` and `contexts/`,
//!    `secrets.tf` and `.scaffold/answers.json`.
//!
//! The result is a map of files, so nothing is written until the caller decides where; Tera has
//! no filesystem access, and every output path is checked to stay inside the stack. A secret
//! input (see [`crate::secrets`]) never reaches a file: templates see `${var.<name>}` in its
//! place, `secrets.tf` declares that variable as sensitive, and `answers.json` leaves it out. Same
//! blueprint, inputs and resolved versions give byte-identical files.
//!
//! Everything a render writes (every template, path segment, module input and stack string)
//! counts against one output budget, [`RenderRequest::output_limit`]: a runaway template stops
//! there instead of filling memory. Time and the memory a template spends without writing are
//! bounded by the caller (the registry renders in a worker process it can stop).

use crate::blueprint::{Blueprint, Manifest, ModuleSource};
use crate::constraint::Constraint;
use crate::inputs::{self, InputError};
use crate::version::Version;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::cell::Cell;
use std::collections::BTreeMap;

pub mod format;

/// A module version chosen for a stack, with what is needed to check the inputs passed to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedModule {
    pub version: Version,
    pub archive_sha256: String,
    /// The inputs schema of the root module, or of the `//subdir` submodule the source names.
    pub inputs_schema: Value,
}

/// Finds the version of a module a constraint selects: the registry from its database, the CLI
/// through the registry's HTTP API. The error is a message for the user.
pub trait ModuleResolver {
    fn resolve(
        &self,
        source: &ModuleSource,
        constraint: &Constraint,
    ) -> impl Future<Output = Result<ResolvedModule, String>> + Send;
}

/// What each module of a blueprint (by its name in the manifest) resolved to, or why it did not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resolutions(pub BTreeMap<String, Result<ResolvedModule, String>>);

/// Resolves every module of the manifest whose source and constraint parse (the others are
/// reported by [`render_resolved`]).
pub async fn resolve_modules(manifest: &Manifest, resolver: &impl ModuleResolver) -> Resolutions {
    let mut resolutions = BTreeMap::new();
    for module in &manifest.modules {
        let (Ok(source), Ok(constraint)) = (
            module.source.parse::<ModuleSource>(),
            Constraint::parse(&module.version),
        ) else {
            continue;
        };
        let resolved = resolver.resolve(&source, &constraint).await;
        resolutions.insert(module.name.clone(), resolved);
    }
    Resolutions(resolutions)
}

/// What to render.
pub struct RenderRequest<'a> {
    pub blueprint: &'a Blueprint,
    /// The blueprint version being rendered, and the digest of its archive.
    pub version: &'a Version,
    pub archive_sha256: &'a str,
    /// The constraint the user asked for (recorded for later updates); the exact version if none.
    pub constraint: Option<&'a str>,
    /// The registry host module sources are written with, e.g. `registry.example.com`.
    pub registry_host: &'a str,
    pub inputs: Value,
    /// The most the whole render may write, all files and strings together.
    pub output_limit: usize,
}

/// A rendered stack: relative path → content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Why a stack could not be rendered: every problem, each with a path (a JSON pointer into the
/// inputs, `/modules/<name>/…`, or a template file) and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct RenderError(pub Vec<InputError>);

/// The default output budget of a render: 16 MiB for every file together.
pub const MAX_RENDERED_BYTES: usize = 16 << 20;

/// Resolves the blueprint's modules and renders the stack: [`resolve_modules`], then
/// [`render_resolved`].
pub async fn render(
    request: RenderRequest<'_>,
    resolver: &impl ModuleResolver,
) -> Result<Stack, RenderError> {
    let resolutions = resolve_modules(&request.blueprint.manifest, resolver).await;
    render_resolved(request, &resolutions)
}

/// Renders a stack with modules resolved beforehand. Pure computation. See the module
/// documentation for the steps.
pub fn render_resolved(
    request: RenderRequest<'_>,
    resolutions: &Resolutions,
) -> Result<Stack, RenderError> {
    let blueprint = request.blueprint;
    let inputs = check_inputs(&blueprint.manifest, &request.inputs)?;
    let tera = engine_for(&inputs.secrets);
    let output = Output::new(request.output_limit);
    let mut context = tera::Context::new();
    context.insert("inputs", &inputs.visible);
    context.insert(
        "blueprint",
        &json!({
            "namespace": blueprint.namespace.as_str(),
            "name": blueprint.name.as_str(),
            "version": request.version.to_string(),
            "description": blueprint.manifest.metadata.description,
        }),
    );
    let renderer = Renderer {
        tera: &tera,
        output: &output,
    };
    let modules = render_modules(
        &renderer,
        &blueprint.manifest,
        resolutions,
        &context,
        request.registry_host,
    )?;
    context.insert("modules", &modules.in_templates);
    let mut problems = Vec::new();
    let mut files = render_templates(&renderer, blueprint, &context, &mut problems);
    let attached = attach_all(&renderer, blueprint, &context, &mut files, &mut problems);
    let stack = render_stack_manifest(&renderer, blueprint, request.version, attached, &context)
        .unwrap_or_else(|failure| {
            problems.push(failure);
            Value::Null
        });
    if !problems.is_empty() {
        return Err(RenderError(problems));
    }
    assemble(&request, &inputs, modules.answered, stack, files)
}

// ---------------------------------------------------------------------------------------------
// 1. Inputs.

/// The inputs of a render, checked: with defaults, as templates see them (secrets replaced by
/// references) and as `answers.json` records them (secrets left out).
struct CheckedInputs {
    visible: Value,
    answered: Value,
    secrets: Vec<String>,
    schema: Value,
}

fn check_inputs(manifest: &Manifest, given: &Value) -> Result<CheckedInputs, RenderError> {
    let validator = inputs::compiled(&manifest.inputs).map_err(RenderError)?;
    let secrets = crate::secrets::find(&manifest.inputs).map_err(|problems| {
        RenderError(
            problems
                .into_iter()
                .map(|problem| {
                    error(
                        format!("blueprint.yaml/inputs{}", problem.path),
                        problem.message,
                    )
                })
                .collect(),
        )
    })?;
    let values = crate::form::with_defaults(&manifest.inputs, given);
    let problems = inputs::validate_hiding(&validator, &values, &secrets);
    if !problems.is_empty() {
        return Err(RenderError(problems));
    }
    let mut visible = values.clone();
    let mut answered = values;
    if let (Some(visible), Some(answered)) = (visible.as_object_mut(), answered.as_object_mut()) {
        // A secret's value is never needed to render: templates always see the reference.
        for name in &secrets {
            visible.insert(name.clone(), Value::String(secret_reference(name)));
            answered.remove(name);
        }
    }
    Ok(CheckedInputs {
        visible,
        answered,
        secrets,
        schema: manifest.inputs.clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// 2. Modules.

struct RenderedModules {
    /// `modules.<name>` as templates see it.
    in_templates: Map<String, Value>,
    /// What `answers.json` records of each module.
    answered: Vec<Value>,
}

/// A module's inputs schema for the values a blueprint gives: every name and type is checked,
/// but a required variable may be missing, because templates wire some variables from other
/// modules' outputs (`vpc_id = module.network.vpc_id`), which are not values.
fn given_values_schema(module_schema: &Value) -> Value {
    let mut schema = module_schema.clone();
    if let Some(object) = schema.as_object_mut() {
        object.remove("required");
    }
    schema
}

fn render_modules(
    renderer: &Renderer<'_>,
    manifest: &Manifest,
    resolutions: &Resolutions,
    context: &tera::Context,
    registry_host: &str,
) -> Result<RenderedModules, RenderError> {
    let mut problems = Vec::new();
    let mut in_templates = Map::new();
    let mut answered = Vec::new();
    for module in &manifest.modules {
        let path = format!("/modules/{}", module.name);
        let (Ok(source), Ok(constraint)) = (
            module.source.parse::<ModuleSource>(),
            Constraint::parse(&module.version),
        ) else {
            problems.push(error(
                &path,
                "invalid source or version (the blueprint check reports why)",
            ));
            continue;
        };
        let rendered_inputs = match renderer.value(
            &Value::Object(module.inputs.clone().into_iter().collect()),
            context,
            &format!("{path}/inputs"),
            Strings::Typed,
        ) {
            Ok(value) => value,
            Err(failure) => {
                problems.push(failure);
                continue;
            }
        };
        let resolved = match resolutions.0.get(&module.name) {
            Some(Ok(resolved)) => resolved,
            Some(Err(message)) => {
                problems.push(error(&path, message));
                continue;
            }
            None => {
                problems.push(error(&path, "the module was not resolved"));
                continue;
            }
        };
        match inputs::compiled(&given_values_schema(&resolved.inputs_schema)) {
            Ok(module_validator) => {
                for failure in inputs::validate(&module_validator, &rendered_inputs) {
                    problems.push(error(
                        format!("{path}/inputs{}", failure.path),
                        format!("{} {}: {}", source, resolved.version, failure.message),
                    ));
                }
            }
            Err(_) => problems.push(error(
                &path,
                format!("{source} {} has no usable inputs schema", resolved.version),
            )),
        }
        in_templates.insert(
            module.name.clone(),
            json!({
                "source": format!("{registry_host}/{source}"),
                "version": resolved.version.to_string(),
                "constraint": constraint.as_str(),
                "inputs": rendered_inputs,
            }),
        );
        answered.push(json!({
            "name": module.name,
            "source": source.to_string(),
            "constraint": constraint.as_str(),
            "version": resolved.version.to_string(),
            "archive_sha256": resolved.archive_sha256,
        }));
    }
    if problems.is_empty() {
        Ok(RenderedModules {
            in_templates,
            answered,
        })
    } else {
        Err(RenderError(problems))
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Templates.

/// Checks one rendered path segment: a plain file or folder name, or empty (skip the file).
fn safe_segment(segment: &str) -> bool {
    !matches!(segment, "." | "..")
        && !segment.contains(['/', '\\', '\0'])
        && !segment.chars().any(char::is_control)
}

/// Files the renderer writes itself; templates may not produce them.
const GENERATED: [&str; 3] = ["stack.yaml", "secrets.tf", ".scaffold/answers.json"];

/// The output path of a template file, its segments rendered; `None` when a segment renders empty
/// (the file is skipped) or fails (the problem is recorded).
fn render_path(
    renderer: &Renderer<'_>,
    file: &str,
    relative: &str,
    context: &tera::Context,
    problems: &mut Vec<InputError>,
) -> Option<String> {
    let mut segments = Vec::new();
    for segment in relative.split('/') {
        let rendered = if segment.contains("{{") || segment.contains("{%") {
            match renderer.text(segment, context, file) {
                Ok(rendered) => rendered,
                Err(failure) => {
                    problems.push(failure);
                    return None;
                }
            }
        } else {
            segment.to_owned()
        };
        if rendered.is_empty() {
            return None;
        }
        if !safe_segment(&rendered) {
            problems.push(error(
                file,
                format!("the path renders to `{rendered}`, which would leave the stack directory"),
            ));
            return None;
        }
        segments.push(rendered);
    }
    Some(segments.join("/"))
}

fn render_templates(
    renderer: &Renderer<'_>,
    blueprint: &Blueprint,
    context: &tera::Context,
    problems: &mut Vec<InputError>,
) -> BTreeMap<String, Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (file, bytes) in &blueprint.files {
        let Some(relative) = file.strip_prefix("template/") else {
            continue;
        };
        let Some(mut output) = render_path(renderer, file, relative, context, problems) else {
            continue;
        };
        let content = if let Some(stripped) = output.strip_suffix(".tera") {
            // `{{ … }}.tera` whose name renders empty: skipped like an empty path.
            if stripped.is_empty() || stripped.ends_with('/') {
                continue;
            }
            output = stripped.to_owned();
            let Ok(source) = std::str::from_utf8(bytes) else {
                problems.push(error(file.as_str(), "a .tera template must be UTF-8 text"));
                continue;
            };
            match renderer.text(source, context, file) {
                Ok(text) => text.into_bytes(),
                Err(failure) => {
                    problems.push(failure);
                    continue;
                }
            }
        } else {
            if let Err(failure) = renderer.output.spend(bytes.len(), file) {
                problems.push(failure);
                continue;
            }
            bytes.clone()
        };
        if output.is_empty()
            || GENERATED.contains(&output.as_str())
            || output.starts_with(".scaffold/")
        {
            problems.push(error(
                file.as_str(),
                format!("`{output}` is written by the renderer itself"),
            ));
            continue;
        }
        if files.insert(output.clone(), content).is_some() {
            problems.push(error(
                file.as_str(),
                format!("two templates render to `{output}`"),
            ));
        }
    }
    files
}

// ---------------------------------------------------------------------------------------------
// 4. The stack manifest, attachments, secrets.tf and answers.json.

/// The policies and contexts whose `when` holds, as `stack.yaml` lists them.
struct Attached {
    policies: Vec<Value>,
    contexts: Vec<Value>,
}

/// The rendered id of a policy or context attached at `base`, or `None` when its `when` says it
/// does not apply.
fn attach(
    renderer: &Renderer<'_>,
    when: Option<&str>,
    id: &str,
    context: &tera::Context,
    base: &str,
) -> Result<Option<String>, InputError> {
    if !renderer.condition(when, context, &format!("{base}/when"))? {
        return Ok(None);
    }
    renderer.text(id, context, &format!("{base}/id")).map(Some)
}

/// Attaches the policies and contexts whose `when` holds, copying their files into the stack.
fn attach_all(
    renderer: &Renderer<'_>,
    blueprint: &Blueprint,
    context: &tera::Context,
    files: &mut BTreeMap<String, Vec<u8>>,
    problems: &mut Vec<InputError>,
) -> Attached {
    let manifest = &blueprint.manifest;
    let copy = |file: &str, files: &mut BTreeMap<String, Vec<u8>>| {
        if let Some(bytes) = blueprint.files.get(file) {
            files.insert(file.to_owned(), bytes.clone());
        }
    };
    let mut policies = Vec::new();
    for (index, policy) in manifest.policies.iter().enumerate() {
        let base = format!("/policies/{index}");
        let attached = attach(renderer, policy.when.as_deref(), &policy.id, context, &base);
        let Some(id) = attached.unwrap_or_else(|failure| {
            problems.push(failure);
            None
        }) else {
            continue;
        };
        let mut entry = json!({ "id": id, "type": policy.kind, "file": policy.file });
        if let Some(description) = &policy.description {
            entry["description"] = json!(description);
        }
        policies.push(entry);
        copy(&policy.file, files);
    }
    let mut contexts = Vec::new();
    for (index, attached) in manifest.contexts.iter().enumerate() {
        let base = format!("/contexts/{index}");
        let id = attach(
            renderer,
            attached.when.as_deref(),
            &attached.id,
            context,
            &base,
        );
        let Some(id) = id.unwrap_or_else(|failure| {
            problems.push(failure);
            None
        }) else {
            continue;
        };
        contexts.push(json!({ "id": id, "file": attached.file, "priority": attached.priority }));
        copy(&attached.file, files);
    }
    Attached { policies, contexts }
}

/// `stack.yaml`'s content, before it is checked against its schema.
fn render_stack_manifest(
    renderer: &Renderer<'_>,
    blueprint: &Blueprint,
    version: &Version,
    attached: Attached,
    context: &tera::Context,
) -> Result<Value, InputError> {
    let template = serde_json::to_value(&blueprint.manifest.stack).unwrap_or(Value::Null);
    match renderer.value(&template, context, "/stack", Strings::Text)? {
        Value::Object(mut stack) => {
            stack.insert("apiVersion".into(), json!("quarry.dev/v1"));
            stack.insert("kind".into(), json!("Stack"));
            stack.entry("vendor").or_insert(json!("terraform"));
            stack.insert("policies".into(), Value::Array(attached.policies));
            stack.insert("contexts".into(), Value::Array(attached.contexts));
            stack.insert(
                "blueprint".into(),
                json!({
                    "address": format!("{}/{}", blueprint.namespace, blueprint.name),
                    "version": version.to_string(),
                }),
            );
            Ok(Value::Object(stack))
        }
        _ => Ok(Value::Null),
    }
}

/// The stack's files: the rendered ones, `stack.yaml` (checked against its schema), `secrets.tf`
/// and `.scaffold/answers.json`.
fn assemble(
    request: &RenderRequest<'_>,
    inputs: &CheckedInputs,
    answered_modules: Vec<Value>,
    stack: Value,
    mut files: BTreeMap<String, Vec<u8>>,
) -> Result<Stack, RenderError> {
    let blueprint = request.blueprint;
    // Every `.tf` laid out as `terraform fmt` would, whatever the template's spacing.
    for (path, content) in files.iter_mut() {
        if path.ends_with(".tf")
            && let Ok(text) = std::str::from_utf8(content)
        {
            *content = format::format(text).into_bytes();
        }
    }
    let problems: Vec<InputError> = inputs::validate(crate::schemas::stack(), &stack)
        .into_iter()
        .map(|failure| error(format!("stack.yaml{}", failure.path), failure.message))
        .collect();
    if !problems.is_empty() {
        return Err(RenderError(problems));
    }
    let stack_yaml = yaml_serde::to_string(&stack)
        .map_err(|failure| RenderError(vec![error("stack.yaml", failure.to_string())]))?;
    files.insert("stack.yaml".into(), stack_yaml.into_bytes());

    if !inputs.secrets.is_empty() {
        let mut declarations = String::from(
            "# Written by Quarry: the blueprint's secret inputs. Their values never reach a file;\n\
             # pass them at plan time, e.g. TF_VAR_<name> from your secret store.\n",
        );
        for name in &inputs.secrets {
            let kind = crate::secrets::terraform_type(&inputs.schema, name);
            declarations.push_str(&format!(
                "\nvariable \"{name}\" {{\n  type      = {kind}\n  sensitive = true\n}}\n"
            ));
        }
        files.insert("secrets.tf".into(), declarations.into_bytes());
    }

    let answers = json!({
        "apiVersion": "quarry.dev/v1",
        "kind": "Answers",
        "blueprint": {
            "address": format!("{}/{}", blueprint.namespace, blueprint.name),
            "constraint": request.constraint.map_or_else(|| request.version.to_string(), str::to_owned),
            "version": request.version.to_string(),
            "archive_sha256": request.archive_sha256,
        },
        "inputs": inputs.answered,
        "modules": answered_modules,
    });
    let answers_text = serde_json::to_string_pretty(&answers).unwrap_or_default() + "\n";
    files.insert(".scaffold/answers.json".into(), answers_text.into_bytes());
    Ok(Stack { files })
}

// ---------------------------------------------------------------------------------------------
// The Tera engine, and rendering within the output budget.

fn error(path: impl Into<String>, message: impl Into<String>) -> InputError {
    InputError {
        path: path.into(),
        message: message.into(),
    }
}

/// A Tera engine as blueprints get it: no autoescaping (this is Terraform, not HTML) and a `json`
/// filter whose output is also a valid HCL expression.
pub fn engine() -> tera::Tera {
    engine_for(&[])
}

/// The engine for one render: its `json` filter escapes Terraform template sequences (`${`, `%{`)
/// in every string, so an input can never become an interpolation in a `.tf` file, except the
/// renderer's own secret references (`${var.<name>}` for each name in `secrets`).
fn engine_for(secrets: &[String]) -> tera::Tera {
    let placeholders: Vec<String> = secrets.iter().map(|name| secret_reference(name)).collect();
    let mut tera = tera::Tera::new();
    tera.autoescape_on(Vec::<&str>::new());
    tera.register_filter(
        "json",
        move |value: tera::Value, _: tera::Kwargs, _: &tera::State| -> tera::TeraResult<String> {
            let value = serde_json::to_value(&value)
                .map_err(|error| tera::Error::message(error.to_string()))?;
            serde_json::to_string(&escape_templates(value, &placeholders))
                .map_err(|error| tera::Error::message(error.to_string()))
        },
    );
    tera
}

/// The reference templates see in place of a secret input's value.
fn secret_reference(name: &str) -> String {
    format!("${{var.{name}}}")
}

/// Escapes `${` and `%{` in every string and key (Terraform reads `$${` and `%%{` literally),
/// except strings that are exactly one of `kept`.
fn escape_templates(value: Value, kept: &[String]) -> Value {
    let escape = |text: String| {
        if kept.contains(&text) {
            text
        } else {
            text.replace("${", "$${").replace("%{", "%%{")
        }
    };
    match value {
        Value::String(text) => Value::String(escape(text)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| escape_templates(item, kept))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, item)| (escape(key), escape_templates(item, kept)))
                .collect(),
        ),
        other => other,
    }
}

/// A Tera error as one message, its causes included.
pub fn tera_message(error: &tera::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// What a render may still write: shared by every template and string of one render.
struct Output {
    limit: usize,
    remaining: Cell<usize>,
}

impl Output {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            remaining: Cell::new(limit),
        }
    }

    fn exceeded(&self, path: &str) -> InputError {
        error(
            path,
            format!(
                "the stack renders more than {} bytes in all, the render's output limit",
                self.limit
            ),
        )
    }

    /// Counts `bytes` written for `path` against the budget.
    fn spend(&self, bytes: usize, path: &str) -> Result<(), InputError> {
        let remaining = self.remaining.get();
        if bytes > remaining {
            self.remaining.set(0);
            return Err(self.exceeded(path));
        }
        self.remaining.set(remaining - bytes);
        Ok(())
    }
}

/// Collects rendered output, failing the write once the render's budget is spent.
struct Capped<'a> {
    written: Vec<u8>,
    output: &'a Output,
}

impl std::io::Write for Capped<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let remaining = self.output.remaining.get();
        if bytes.len() > remaining {
            self.output.remaining.set(0);
            return Err(std::io::Error::other("output limit"));
        }
        self.output.remaining.set(remaining - bytes.len());
        self.written.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How strings in a templated value render.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strings {
    /// A string that is one `{{ expression }}` keeps the expression's JSON type, so
    /// `"{{ inputs.replicas }}"` stays a number (module inputs).
    Typed,
    /// Every string renders as text (the stack manifest, whose fields are strings).
    Text,
}

/// One render's engine and output budget.
struct Renderer<'a> {
    tera: &'a tera::Tera,
    output: &'a Output,
}

impl Renderer<'_> {
    /// Renders one template source; `path` names it in errors.
    fn text(
        &self,
        source: &str,
        context: &tera::Context,
        path: &str,
    ) -> Result<String, InputError> {
        let mut capped = Capped {
            written: Vec::new(),
            output: self.output,
        };
        match self.tera.render_str_to(source, context, false, &mut capped) {
            Ok(()) => String::from_utf8(capped.written)
                .map_err(|_| error(path, "the template rendered text that is not UTF-8")),
            Err(_) if self.output.remaining.get() == 0 => Err(self.output.exceeded(path)),
            Err(failure) => Err(error(path, tera_message(&failure))),
        }
    }

    /// Renders a templated value, arrays and objects element by element.
    fn value(
        &self,
        value: &Value,
        context: &tera::Context,
        path: &str,
        strings: Strings,
    ) -> Result<Value, InputError> {
        match value {
            Value::String(text) => {
                let trimmed = text.trim();
                let single = strings == Strings::Typed
                    && trimmed.starts_with("{{")
                    && trimmed.ends_with("}}")
                    && trimmed.matches("{{").count() == 1;
                if single {
                    let expression = &trimmed[2..trimmed.len() - 2];
                    let source = format!(
                        "{{% set quarry_value = {expression} %}}{{{{ quarry_value | json }}}}"
                    );
                    let rendered = self.text(&source, context, path)?;
                    serde_json::from_str(&rendered)
                        .map_err(|failure| error(path, failure.to_string()))
                } else {
                    self.text(text, context, path).map(Value::String)
                }
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| self.value(item, context, &format!("{path}/{index}"), strings))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => map
                .iter()
                .map(|(key, item)| {
                    self.value(item, context, &format!("{path}/{key}"), strings)
                        .map(|rendered| (key.clone(), rendered))
                })
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }

    /// Whether a `when` condition holds: it must render to `true` or `false`.
    fn condition(
        &self,
        when: Option<&str>,
        context: &tera::Context,
        path: &str,
    ) -> Result<bool, InputError> {
        let Some(when) = when else { return Ok(true) };
        match self.text(when, context, path)?.trim() {
            "true" => Ok(true),
            "false" | "" => Ok(false),
            other => Err(error(
                path,
                format!("`when` must render to true or false, not `{other}`"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_one(source: &str, limit: usize) -> Result<String, InputError> {
        let tera = engine();
        let output = Output::new(limit);
        Renderer {
            tera: &tera,
            output: &output,
        }
        .text(source, &tera::Context::new(), "template/loop.tf.tera")
    }

    #[test]
    fn a_runaway_loop_stops_at_the_output_limit() {
        let source = "{% for i in range(end=100000) %}{% for j in range(end=100000) %}xxxxxxxx{% endfor %}{% endfor %}";
        let failure = render_one(source, MAX_RENDERED_BYTES).expect_err("stopped");
        assert_eq!(failure.path, "template/loop.tf.tera");
        assert!(
            failure.message.contains("output limit"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn the_output_limit_counts_every_template_together() {
        let tera = engine();
        let output = Output::new(1000);
        let renderer = Renderer {
            tera: &tera,
            output: &output,
        };
        let context = tera::Context::new();
        let source = "{% for i in range(end=60) %}xxxxx{% endfor %}";
        for _ in 0..3 {
            renderer.text(source, &context, "a").expect("fits");
        }
        let failure = renderer.text(source, &context, "b").expect_err("over");
        assert_eq!(failure.path, "b");
        assert!(
            failure.message.contains("1000 bytes in all"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn json_filter_escapes_terraform_templates_but_not_secret_references() {
        let tera = engine_for(&["token".to_owned()]);
        let mut context = tera::Context::new();
        context.insert(
            "value",
            &json!({ "a": "${file(\"/etc/passwd\")}", "b": "%{ for x in y }", "c": "${var.token}", "${k}": 1 }),
        );
        let rendered = tera
            .render_str("{{ value | json }}", &context, false)
            .expect("renders");
        let parsed: Value = serde_json::from_str(&rendered).expect("json");
        assert_eq!(
            parsed,
            json!({ "a": "$${file(\"/etc/passwd\")}", "b": "%%{ for x in y }", "c": "${var.token}", "$${k}": 1 })
        );
    }
}
