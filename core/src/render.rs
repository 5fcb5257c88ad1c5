//! Rendering a blueprint into a stack, the one pipeline the registry and `scaffold` share:
//! 1. validate the inputs against the blueprint's schema (every error, with its JSON path);
//! 2. resolve each module's constraint through a [`ModuleResolver`] and check the module's
//!    rendered inputs against that version's inputs schema;
//! 3. render `template/` with `inputs`, `modules` and `blueprint` in the Tera context;
//! 4. assemble the stack: the files, `stack.yaml`, attached `policies/` and `contexts/`,
//!    `secrets.tf` and `.scaffold/answers.json`.
//!
//! The result is a map of files, so nothing is written until the caller decides where; Tera has
//! no filesystem access, and every output path is checked to stay inside the stack. A `writeOnly`
//! input never reaches a file: templates see `${var.<name>}` in its place, `secrets.tf` declares
//! that variable as sensitive, and `answers.json` leaves it out. Same blueprint, inputs and
//! resolved versions give byte-identical files.

use crate::blueprint::{Blueprint, ModuleSource};
use crate::constraint::Constraint;
use crate::inputs::{self, InputError};
use crate::version::Version;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A module version chosen for a stack, with what is needed to check the inputs passed to it.
#[derive(Debug, Clone)]
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
}

/// A rendered stack: relative path → content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Why a stack could not be rendered: every problem, each with a path (a JSON pointer into the
/// inputs, `/modules/<name>/…`, or a template file) and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct RenderError(pub Vec<InputError>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runaway_loop_stops_at_the_output_limit() {
        let tera = engine();
        let source = "{% for i in range(end=100000) %}{% for j in range(end=100000) %}xxxxxxxx{% endfor %}{% endfor %}";
        let started = std::time::Instant::now();
        let failure = render_str(
            &tera,
            source,
            &tera::Context::new(),
            "template/loop.tf.tera",
        )
        .expect_err("stopped");
        assert_eq!(failure.path, "template/loop.tf.tera");
        assert!(
            failure.message.contains("renders more than"),
            "{}",
            failure.message
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
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

/// The most one template may render to: a runaway loop stops here instead of filling memory.
pub const MAX_RENDERED_BYTES: usize = 16 << 20;

/// Collects rendered output and fails the render once it passes [`MAX_RENDERED_BYTES`].
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + bytes.len() > MAX_RENDERED_BYTES {
            return Err(std::io::Error::other("output limit"));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn render_str(
    tera: &tera::Tera,
    source: &str,
    context: &tera::Context,
    path: &str,
) -> Result<String, InputError> {
    let mut output = Capped(Vec::new());
    match tera.render_str_to(source, context, false, &mut output) {
        Ok(()) => String::from_utf8(output.0)
            .map_err(|_| error(path, "the template rendered text that is not UTF-8")),
        Err(_) if output.0.len() + 64 * 1024 > MAX_RENDERED_BYTES => Err(error(
            path,
            format!("the template renders more than {MAX_RENDERED_BYTES} bytes"),
        )),
        Err(failure) => Err(error(path, tera_message(&failure))),
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

/// Renders a templated value, arrays and objects element by element.
fn render_value(
    tera: &tera::Tera,
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
                let source =
                    format!("{{% set quarry_value = {expression} %}}{{{{ quarry_value | json }}}}");
                let rendered = render_str(tera, &source, context, path)?;
                serde_json::from_str(&rendered).map_err(|failure| error(path, failure.to_string()))
            } else {
                render_str(tera, text, context, path).map(Value::String)
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                render_value(tera, item, context, &format!("{path}/{index}"), strings)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => map
            .iter()
            .map(|(key, item)| {
                render_value(tera, item, context, &format!("{path}/{key}"), strings)
                    .map(|rendered| (key.clone(), rendered))
            })
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

/// Whether a `when` condition holds: it must render to `true` or `false`.
/// The rendered id of a policy or context attached at `base`, or `None` when its `when` says it
/// does not apply.
fn attach(
    tera: &tera::Tera,
    when: Option<&str>,
    id: &str,
    context: &tera::Context,
    base: &str,
) -> Result<Option<String>, InputError> {
    if !condition(tera, when, context, &format!("{base}/when"))? {
        return Ok(None);
    }
    render_str(tera, id, context, &format!("{base}/id")).map(Some)
}

fn condition(
    tera: &tera::Tera,
    when: Option<&str>,
    context: &tera::Context,
    path: &str,
) -> Result<bool, InputError> {
    let Some(when) = when else { return Ok(true) };
    match render_str(tera, when, context, path)?.trim() {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        other => Err(error(
            path,
            format!("`when` must render to true or false, not `{other}`"),
        )),
    }
}

/// The inputs with the schema's top-level defaults filled in.
fn with_defaults(schema: &Value, inputs: &Value) -> Value {
    let mut filled = inputs.clone();
    if let (Some(properties), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        filled.as_object_mut(),
    ) {
        for (name, property) in properties {
            if let Some(default) = property.get("default")
                && !object.contains_key(name)
            {
                object.insert(name.clone(), default.clone());
            }
        }
    }
    filled
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

/// Names of the top-level inputs marked `writeOnly` (secrets).
fn secret_names(schema: &Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter(|(_, property)| property.get("writeOnly") == Some(&Value::Bool(true)))
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Checks one rendered path segment: a plain file or folder name, or empty (skip the file).
fn safe_segment(segment: &str) -> bool {
    !matches!(segment, "." | "..")
        && !segment.contains(['/', '\\', '\0'])
        && !segment.chars().any(char::is_control)
}

/// Files the renderer writes itself; templates may not produce them.
const GENERATED: [&str; 3] = ["stack.yaml", "secrets.tf", ".scaffold/answers.json"];

/// Renders a blueprint into a stack. See the module documentation for the steps.
pub async fn render(
    request: RenderRequest<'_>,
    resolver: &impl ModuleResolver,
) -> Result<Stack, RenderError> {
    let blueprint = request.blueprint;
    let manifest = &blueprint.manifest;

    // 1. Inputs.
    let validator = inputs::compile(&manifest.inputs).map_err(RenderError)?;
    let inputs = with_defaults(&manifest.inputs, &request.inputs);
    let secrets = secret_names(&manifest.inputs);
    let problems = inputs::validate_hiding(&validator, &inputs, &secrets);
    if !problems.is_empty() {
        return Err(RenderError(problems));
    }
    let mut visible_inputs = inputs.clone();
    let mut answered_inputs = inputs.clone();
    if let (Some(visible), Some(answered)) = (
        visible_inputs.as_object_mut(),
        answered_inputs.as_object_mut(),
    ) {
        // A secret's value is never needed to render: templates always see the reference.
        for name in &secrets {
            visible.insert(name.clone(), Value::String(secret_reference(name)));
            answered.remove(name);
        }
    }

    let tera = engine_for(&secrets);
    let blueprint_info = json!({
        "namespace": blueprint.namespace.as_str(),
        "name": blueprint.name.as_str(),
        "version": request.version.to_string(),
        "description": manifest.metadata.description,
    });
    let mut context = tera::Context::new();
    context.insert("inputs", &visible_inputs);
    context.insert("blueprint", &blueprint_info);

    // 2. Modules.
    let mut problems = Vec::new();
    let mut modules = Map::new();
    let mut answered_modules = Vec::new();
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
        let rendered_inputs = match render_value(
            &tera,
            &Value::Object(module.inputs.clone().into_iter().collect()),
            &context,
            &format!("{path}/inputs"),
            Strings::Typed,
        ) {
            Ok(value) => value,
            Err(failure) => {
                problems.push(failure);
                continue;
            }
        };
        let resolved = match resolver.resolve(&source, &constraint).await {
            Ok(resolved) => resolved,
            Err(message) => {
                problems.push(error(&path, message));
                continue;
            }
        };
        match inputs::compile(&given_values_schema(&resolved.inputs_schema)) {
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
        let qualified = format!("{}/{source}", request.registry_host);
        modules.insert(
            module.name.clone(),
            json!({
                "source": qualified,
                "version": resolved.version.to_string(),
                "constraint": constraint.as_str(),
                "inputs": rendered_inputs,
            }),
        );
        answered_modules.push(json!({
            "name": module.name,
            "source": source.to_string(),
            "constraint": constraint.as_str(),
            "version": resolved.version.to_string(),
            "archive_sha256": resolved.archive_sha256,
        }));
    }
    if !problems.is_empty() {
        return Err(RenderError(problems));
    }
    context.insert("modules", &modules);

    // 3. Templates.
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (file, bytes) in &blueprint.files {
        let Some(relative) = file.strip_prefix("template/") else {
            continue;
        };
        let mut segments = Vec::new();
        let mut skipped = false;
        for segment in relative.split('/') {
            let rendered = if segment.contains("{{") || segment.contains("{%") {
                match render_str(&tera, segment, &context, file) {
                    Ok(rendered) => rendered,
                    Err(failure) => {
                        problems.push(failure);
                        skipped = true;
                        break;
                    }
                }
            } else {
                segment.to_owned()
            };
            if rendered.is_empty() {
                skipped = true;
                break;
            }
            if !safe_segment(&rendered) {
                problems.push(error(
                    file.as_str(),
                    format!(
                        "the path renders to `{rendered}`, which would leave the stack directory"
                    ),
                ));
                skipped = true;
                break;
            }
            segments.push(rendered);
        }
        if skipped {
            continue;
        }
        let mut output = segments.join("/");
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
            match render_str(&tera, source, &context, file) {
                Ok(text) => text.into_bytes(),
                Err(failure) => {
                    problems.push(failure);
                    continue;
                }
            }
        } else {
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

    // 4. stack.yaml with attached policies and contexts.
    let mut policies = Vec::new();
    for (index, policy) in manifest.policies.iter().enumerate() {
        let base = format!("/policies/{index}");
        let attached = attach(&tera, policy.when.as_deref(), &policy.id, &context, &base);
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
        if let Some(bytes) = blueprint.files.get(&policy.file) {
            files.insert(policy.file.clone(), bytes.clone());
        }
    }
    let mut contexts = Vec::new();
    for (index, attached) in manifest.contexts.iter().enumerate() {
        let base = format!("/contexts/{index}");
        let id = attach(
            &tera,
            attached.when.as_deref(),
            &attached.id,
            &context,
            &base,
        );
        let Some(id) = id.unwrap_or_else(|failure| {
            problems.push(failure);
            None
        }) else {
            continue;
        };
        contexts.push(json!({ "id": id, "file": attached.file, "priority": attached.priority }));
        if let Some(bytes) = blueprint.files.get(&attached.file) {
            files.insert(attached.file.clone(), bytes.clone());
        }
    }
    let stack_template = serde_json::to_value(&manifest.stack).unwrap_or(Value::Null);
    let stack = match render_value(&tera, &stack_template, &context, "/stack", Strings::Text) {
        Ok(Value::Object(mut stack)) => {
            stack.insert("apiVersion".into(), json!("quarry.dev/v1"));
            stack.insert("kind".into(), json!("Stack"));
            stack.entry("vendor").or_insert(json!("terraform"));
            stack.insert("policies".into(), Value::Array(policies));
            stack.insert("contexts".into(), Value::Array(contexts));
            stack.insert(
                "blueprint".into(),
                json!({
                    "address": format!("{}/{}", blueprint.namespace, blueprint.name),
                    "version": request.version.to_string(),
                }),
            );
            Value::Object(stack)
        }
        Ok(_) => Value::Null,
        Err(failure) => {
            problems.push(failure);
            Value::Null
        }
    };
    if !problems.is_empty() {
        return Err(RenderError(problems));
    }
    for failure in inputs::validate(crate::schemas::stack(), &stack) {
        problems.push(error(
            format!("stack.yaml{}", failure.path),
            failure.message,
        ));
    }
    if !problems.is_empty() {
        return Err(RenderError(problems));
    }
    let stack_yaml = yaml_serde::to_string(&stack)
        .map_err(|failure| RenderError(vec![error("stack.yaml", failure.to_string())]))?;
    files.insert("stack.yaml".into(), stack_yaml.into_bytes());

    if !secrets.is_empty() {
        let mut declarations = String::from(
            "# Written by Quarry: the blueprint's secret inputs. Their values never reach a file;\n\
             # pass them at plan time, e.g. TF_VAR_<name> from your secret store.\n",
        );
        for name in &secrets {
            declarations.push_str(&format!(
                "\nvariable \"{name}\" {{\n  type      = string\n  sensitive = true\n}}\n"
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
        "inputs": answered_inputs,
        "modules": answered_modules,
    });
    let answers_text = serde_json::to_string_pretty(&answers).unwrap_or_default() + "\n";
    files.insert(".scaffold/answers.json".into(), answers_text.into_bytes());
    Ok(Stack { files })
}
