//! Terraform module analysis: what a module archive declares, read from its `.tf` files and README.
//!
//! For the root module and every `modules/<name>/` submodule this extracts variables, outputs,
//! required providers, module calls, resource and data source types and the README, and turns each
//! variable's Terraform type constraint into JSON Schema (draft 2020-12) so that every published
//! module version has an inputs schema.
//!
//! Everything here works on file contents already in memory ([`ModuleFiles`]); it never does I/O.
//! Turning a type constraint into JSON Schema is [`types`]'.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use hcl::edit::Span;
use hcl::edit::parser;
use hcl::edit::structure as edit;
use hcl::expr::{Operation, UnaryOp, UnaryOperator};
use hcl::template::{Element, Template};
use hcl::{Expression, ObjectKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

mod types;

pub use types::type_schema;
use types::variable_schema;

/// Files of one module archive relevant for analysis: relative path (forward slashes, no leading
/// "./") -> UTF-8 text.
///
/// Contains `*.tf` files and `README.md` (any case of readme.md) at the root and under
/// `modules/<name>/`; other paths may be present and are ignored.
pub type ModuleFiles = BTreeMap<String, String>;

/// The largest README accepted in a module or blueprint: it is stored and shown on every detail
/// page, so it is kept to what a README needs.
pub const MAX_README_BYTES: usize = 1 << 20;

/// The JSON Schema dialect of every generated inputs schema.
const SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// What a module archive declares: its root module and its submodules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleAnalysis {
    /// The module at the top level of the archive.
    pub root: ModuleInfo,
    /// The modules under `modules/<name>/`, sorted by path.
    pub submodules: Vec<ModuleInfo>,
    /// The examples under `examples/<name>/`, sorted by path: shown as they are, never analysed
    /// (an example that does not parse does not stop a publish). Versions analysed before
    /// examples were kept have none.
    #[serde(default)]
    pub examples: Vec<Example>,
}

/// One example: its README and its `.tf` files, as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// `"examples/basic"`.
    pub path: String,
    /// README.md content, `""` if none.
    pub readme: String,
    /// The `.tf` files: name and text, sorted by name.
    pub files: Vec<ExampleFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExampleFile {
    pub name: String,
    pub text: String,
}

impl Example {
    /// The example's name: the last part of its path.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// What one (root or sub-) module declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// `""` for the root, `"modules/vpc"` for a submodule.
    pub path: String,
    /// README.md content, `""` if none.
    pub readme: String,
    /// Input variables, sorted by name.
    pub variables: Vec<Variable>,
    /// Outputs, sorted by name.
    pub outputs: Vec<Output>,
    /// From `terraform { required_providers { ... } }`, sorted by name.
    pub providers: Vec<ProviderRequirement>,
    /// `module "x" { source = ..., version = ... }` blocks, sorted by name.
    pub module_calls: Vec<ModuleCall>,
    /// Distinct managed resource types (`resource "aws_vpc" "main"` gives `aws_vpc`), sorted.
    pub resources: Vec<String>,
    /// Distinct data source types, sorted.
    pub data_sources: Vec<String>,
    /// `terraform { required_version = "..." }`.
    pub terraform_version: Option<String>,
    /// JSON Schema (draft 2020-12) of an object holding the module's inputs.
    pub inputs_schema: Value,
}

/// One `variable` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    /// The variable's name (the block label).
    pub name: String,
    /// The type constraint as written, normalised to single-line source text, e.g.
    /// `list(object({ name = string, port = optional(number, 80) }))`; `any` when absent.
    #[serde(rename = "type")]
    pub type_expr: String,
    /// `""` if none.
    pub description: String,
    /// `None` if there is no `default` attribute; `Some(Value::Null)` for `default = null`.
    pub default: Option<Value>,
    /// True iff there is no `default` attribute.
    pub required: bool,
    /// `sensitive = true`; false by default.
    pub sensitive: bool,
    /// `nullable`; true by default (as in Terraform).
    pub nullable: bool,
    /// This variable's JSON Schema: the type's schema plus annotations and nullability.
    pub schema: Value,
}

/// One `output` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The output's name (the block label).
    pub name: String,
    /// `""` if none.
    pub description: String,
    /// `sensitive = true`; false by default.
    pub sensitive: bool,
}

/// One entry of `terraform { required_providers { ... } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderRequirement {
    /// The local name, e.g. `aws`.
    pub name: String,
    /// The source address, e.g. `hashicorp/aws`; `None` in the legacy string form.
    pub source: Option<String>,
    /// The version constraint, e.g. `~> 5.0`.
    pub version: Option<String>,
}

/// One `module "x" { ... }` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleCall {
    /// The call's name (the block label).
    pub name: String,
    /// The `source` attribute.
    pub source: String,
    /// The `version` attribute, if any.
    pub version: Option<String>,
}

/// Why a module archive could not be analysed. `file` is the relative path and `line` is 1-based.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Serialize, Deserialize)]
pub enum AnalysisError {
    /// HCL syntax error.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The file's relative path, e.g. `modules/vpc/variables.tf`.
        file: String,
        /// 1-based line of the problem (1 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file parses but does not make a valid module (a `variable` block without a label, an
    /// invalid type constraint, a duplicate variable, a default that is not a literal, ...).
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file's relative path, e.g. `modules/vpc/variables.tf`.
        file: String,
        /// 1-based line of the problem (1 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Analyses the root module and every `modules/<name>/` submodule in `files`.
///
/// # Errors
///
/// [`AnalysisError::Parse`] for the first file that is not valid HCL, [`AnalysisError::Invalid`]
/// for the first declaration that is not valid Terraform (the root module first, then submodules
/// by path; within a module, files in sorted path order).
pub fn analyze(files: &ModuleFiles) -> Result<ModuleAnalysis, AnalysisError> {
    let mut groups: BTreeMap<String, ModuleSources<'_>> = BTreeMap::new();
    let mut examples: BTreeMap<String, Example> = BTreeMap::new();
    for (path, text) in files {
        if let ["examples", dir, name] = path.split('/').collect::<Vec<_>>().as_slice()
            && !dir.is_empty()
        {
            let example = examples
                .entry((*dir).to_owned())
                .or_insert_with(|| Example {
                    path: format!("examples/{dir}"),
                    readme: String::new(),
                    files: Vec::new(),
                });
            if name.ends_with(".tf") {
                example.files.push(ExampleFile {
                    name: (*name).to_owned(),
                    text: text.clone(),
                });
            } else if name.eq_ignore_ascii_case("readme.md")
                && (example.readme.is_empty() || *name == "README.md")
            {
                example.readme = text.clone();
            }
            continue;
        }
        let Some((dir, name)) = split_module_path(path) else {
            continue;
        };
        if is_analysed_tf(name) {
            groups.entry(dir).or_default().tf.push((path, text));
        } else if name.eq_ignore_ascii_case("readme.md") {
            let sources = groups.entry(dir).or_default();
            if sources.readme.is_none() || name == "README.md" {
                sources.readme = Some(text);
            }
        }
    }

    let root = analyze_module("", &groups.remove("").unwrap_or_default())?;
    let submodules = groups
        .iter()
        .filter(|(_, sources)| !sources.tf.is_empty())
        .map(|(dir, sources)| analyze_module(dir, sources))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ModuleAnalysis {
        root,
        submodules,
        examples: examples
            .into_values()
            .filter(|example| !example.files.is_empty())
            .collect(),
    })
}

/// The `.tf` files (path, text) and README of one module directory.
#[derive(Default)]
struct ModuleSources<'a> {
    tf: Vec<(&'a str, &'a str)>,
    readme: Option<&'a str>,
}

/// Splits a path into its module directory (`""` or `modules/<name>`) and file name; `None` for
/// paths outside any module directory.
fn split_module_path(path: &str) -> Option<(String, &str)> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [name] => Some((String::new(), name)),
        ["modules", dir, name] if !dir.is_empty() => Some((format!("modules/{dir}"), name)),
        _ => None,
    }
}

/// Whether a file name is a `.tf` file analysis reads (override files are skipped).
fn is_analysed_tf(name: &str) -> bool {
    name.ends_with(".tf") && name != "override.tf" && !name.ends_with("_override.tf")
}

/// Analyses one module directory.
fn analyze_module(path: &str, sources: &ModuleSources<'_>) -> Result<ModuleInfo, AnalysisError> {
    let mut collected = Collected::default();
    for &(file, text) in &sources.tf {
        let source = Source { file, text };
        let body = parser::parse_body(text).map_err(|error| AnalysisError::Parse {
            file: file.to_owned(),
            line: error.location().line().max(1),
            message: format!(
                "syntax error at column {}: {}",
                error.location().column(),
                error.message()
            ),
        })?;
        for block in body.blocks() {
            collected.block(&source, block)?;
        }
    }

    if let Some(readme) = sources.readme
        && readme.len() > MAX_README_BYTES
    {
        let file = if path.is_empty() {
            "README.md".to_owned()
        } else {
            format!("{path}/README.md")
        };
        return Err(AnalysisError::Invalid {
            file,
            line: 1,
            message: format!(
                "the README is {} bytes, larger than the limit of {MAX_README_BYTES} bytes",
                readme.len()
            ),
        });
    }
    let variables: Vec<Variable> = collected.variables.into_values().collect();
    let inputs_schema = inputs_schema(&variables);
    Ok(ModuleInfo {
        path: path.to_owned(),
        readme: sources.readme.unwrap_or_default().to_owned(),
        variables,
        outputs: collected.outputs.into_values().collect(),
        providers: collected.providers.into_values().collect(),
        module_calls: collected.module_calls.into_values().collect(),
        resources: collected.resources.into_iter().collect(),
        data_sources: collected.data_sources.into_iter().collect(),
        terraform_version: collected.terraform_version,
        inputs_schema,
    })
}

/// The schema of an object holding all of a module's inputs.
fn inputs_schema(variables: &[Variable]) -> Value {
    let properties: Map<String, Value> = variables
        .iter()
        .map(|variable| (variable.name.clone(), variable.schema.clone()))
        .collect();
    let required: Vec<Value> = variables
        .iter()
        .filter(|variable| variable.required)
        .map(|variable| Value::String(variable.name.clone()))
        .collect();
    let mut schema = Map::new();
    schema.insert("$schema".into(), SCHEMA_DIALECT.into());
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    schema.insert("additionalProperties".into(), false.into());
    Value::Object(schema)
}

/// One `.tf` file being read, for locating errors.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    /// The 1-based line where `span` starts; 1 when unknown.
    fn line(&self, span: Option<Range<usize>>) -> usize {
        span.and_then(|span| self.text.get(..span.start))
            .map_or(1, |before| before.matches('\n').count() + 1)
    }

    /// An [`AnalysisError::Invalid`] at `span`.
    fn invalid(&self, span: Option<Range<usize>>, message: String) -> AnalysisError {
        AnalysisError::Invalid {
            file: self.file.to_owned(),
            line: self.line(span),
            message,
        }
    }
}

/// Declarations collected from the files of one module.
#[derive(Default)]
struct Collected {
    variables: BTreeMap<String, Variable>,
    outputs: BTreeMap<String, Output>,
    providers: BTreeMap<String, ProviderRequirement>,
    module_calls: BTreeMap<String, ModuleCall>,
    resources: BTreeSet<String>,
    data_sources: BTreeSet<String>,
    terraform_version: Option<String>,
}

impl Collected {
    /// Records one top-level block; blocks analysis does not need are ignored.
    fn block(&mut self, source: &Source<'_>, block: &edit::Block) -> Result<(), AnalysisError> {
        match block.ident.as_str() {
            "variable" => self.variable(source, block),
            "output" => self.output(source, block),
            "terraform" => self.terraform(source, block),
            "module" => self.module_call(source, block),
            "resource" => {
                let kind = resource_type(source, block, "resource")?;
                self.resources.insert(kind);
                Ok(())
            }
            "data" => {
                let kind = resource_type(source, block, "data")?;
                self.data_sources.insert(kind);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn variable(&mut self, source: &Source<'_>, block: &edit::Block) -> Result<(), AnalysisError> {
        let name = single_label(source, block, "variable")?;
        if self.variables.contains_key(&name) {
            return Err(source.invalid(
                block.span(),
                format!("variable `{name}` is declared more than once in this module"),
            ));
        }
        let mut type_expr = String::from("any");
        let mut schema = json!({});
        let mut description = String::new();
        let mut default = None;
        let mut sensitive = false;
        let mut nullable = true;
        for attribute in block.body.attributes() {
            let value = Expression::from(attribute.value.clone());
            let at = |message: String| source.invalid(attribute.span(), message);
            match attribute.key.as_str() {
                "type" => {
                    schema = type_schema(&value).map_err(|error| {
                        at(format!("invalid type of variable `{name}`: {error}"))
                    })?;
                    type_expr = render(&value);
                }
                "description" => {
                    description = literal_string(&value)
                        .map_err(|error| at(format!("description of variable `{name}` {error}")))?;
                }
                "default" => {
                    default = Some(literal(&value).map_err(|error| {
                        at(format!(
                            "default of variable `{name}` must be a literal value: {error}"
                        ))
                    })?);
                }
                "sensitive" => {
                    sensitive = literal_bool(&value)
                        .map_err(|error| at(format!("`sensitive` of variable `{name}` {error}")))?;
                }
                "nullable" => {
                    nullable = literal_bool(&value)
                        .map_err(|error| at(format!("`nullable` of variable `{name}` {error}")))?;
                }
                _ => {}
            }
        }
        let schema = variable_schema(schema, &description, default.as_ref(), sensitive, nullable);
        let depth =
            crate::inputs::depth(&schema).max(default.as_ref().map_or(0, crate::inputs::depth));
        if depth > crate::inputs::MAX_DEPTH {
            return Err(source.invalid(
                block.span(),
                format!(
                    "variable `{name}`'s type or default nests {depth} levels deep, more than the limit of {}",
                    crate::inputs::MAX_DEPTH
                ),
            ));
        }
        let variable = Variable {
            name: name.clone(),
            type_expr,
            description,
            required: default.is_none(),
            default,
            sensitive,
            nullable,
            schema,
        };
        self.variables.insert(name, variable);
        Ok(())
    }

    fn output(&mut self, source: &Source<'_>, block: &edit::Block) -> Result<(), AnalysisError> {
        let name = single_label(source, block, "output")?;
        if self.outputs.contains_key(&name) {
            return Err(source.invalid(
                block.span(),
                format!("output `{name}` is declared more than once in this module"),
            ));
        }
        let mut description = String::new();
        let mut sensitive = false;
        for attribute in block.body.attributes() {
            let value = Expression::from(attribute.value.clone());
            let at = |message: String| source.invalid(attribute.span(), message);
            match attribute.key.as_str() {
                "description" => {
                    description = literal_string(&value)
                        .map_err(|error| at(format!("description of output `{name}` {error}")))?;
                }
                "sensitive" => {
                    sensitive = literal_bool(&value)
                        .map_err(|error| at(format!("`sensitive` of output `{name}` {error}")))?;
                }
                _ => {}
            }
        }
        self.outputs.insert(
            name.clone(),
            Output {
                name,
                description,
                sensitive,
            },
        );
        Ok(())
    }

    fn terraform(&mut self, source: &Source<'_>, block: &edit::Block) -> Result<(), AnalysisError> {
        if let Some(attribute) = block.body.get_attribute("required_version") {
            let value = Expression::from(attribute.value.clone());
            let version = literal_string(&value).map_err(|error| {
                source.invalid(attribute.span(), format!("`required_version` {error}"))
            })?;
            self.terraform_version.get_or_insert(version);
        }
        for providers in block.body.get_blocks("required_providers") {
            for attribute in providers.body.attributes() {
                let name = attribute.key.as_str().to_owned();
                let value = Expression::from(attribute.value.clone());
                let requirement = provider_requirement(&name, &value)
                    .map_err(|message| source.invalid(attribute.span(), message))?;
                self.providers.entry(name).or_insert(requirement);
            }
        }
        Ok(())
    }

    fn module_call(
        &mut self,
        source: &Source<'_>,
        block: &edit::Block,
    ) -> Result<(), AnalysisError> {
        let name = single_label(source, block, "module")?;
        if self.module_calls.contains_key(&name) {
            return Err(source.invalid(
                block.span(),
                format!("module call `{name}` is declared more than once in this module"),
            ));
        }
        let mut module_source = None;
        let mut version = None;
        for attribute in block.body.attributes() {
            let value = Expression::from(attribute.value.clone());
            let at = |message: String| source.invalid(attribute.span(), message);
            match attribute.key.as_str() {
                "source" => {
                    module_source = Some(
                        literal_string(&value)
                            .map_err(|error| at(format!("`source` of module `{name}` {error}")))?,
                    );
                }
                "version" => {
                    version =
                        Some(literal_string(&value).map_err(|error| {
                            at(format!("`version` of module `{name}` {error}"))
                        })?);
                }
                _ => {}
            }
        }
        let Some(module_source) = module_source else {
            return Err(source.invalid(
                block.span(),
                format!("module call `{name}` has no `source` attribute"),
            ));
        };
        self.module_calls.insert(
            name.clone(),
            ModuleCall {
                name,
                source: module_source,
                version,
            },
        );
        Ok(())
    }
}

/// The one label of a `variable`, `output` or `module` block.
fn single_label(
    source: &Source<'_>,
    block: &edit::Block,
    kind: &str,
) -> Result<String, AnalysisError> {
    match block.labels.as_slice() {
        [label] if !label.as_str().is_empty() => Ok(label.as_str().to_owned()),
        [_] => Err(source.invalid(
            block.span(),
            format!("{kind} block has an empty name label"),
        )),
        labels => Err(source.invalid(
            block.span(),
            format!(
                "{kind} block must have exactly one label (its name), found {}",
                labels.len()
            ),
        )),
    }
}

/// The type label of a `resource` or `data` block, which must have a type and a name label.
fn resource_type(
    source: &Source<'_>,
    block: &edit::Block,
    kind: &str,
) -> Result<String, AnalysisError> {
    match block.labels.as_slice() {
        [kind_label, _] => Ok(kind_label.as_str().to_owned()),
        labels => Err(source.invalid(
            block.span(),
            format!(
                "{kind} block must have two labels (type and name), found {}",
                labels.len()
            ),
        )),
    }
}

/// One `required_providers` entry: `{ source = ..., version = ... }` or the legacy version string.
fn provider_requirement(name: &str, value: &Expression) -> Result<ProviderRequirement, String> {
    match value {
        Expression::Object(attributes) => {
            let mut requirement = ProviderRequirement {
                name: name.to_owned(),
                source: None,
                version: None,
            };
            for (key, value) in attributes {
                // `configuration_aliases` holds references, so only the known keys are evaluated.
                match object_key_name(key).as_deref() {
                    Some("source") => {
                        requirement.source = Some(literal_string(value).map_err(|error| {
                            format!("`source` of required provider `{name}` {error}")
                        })?);
                    }
                    Some("version") => {
                        requirement.version = Some(literal_string(value).map_err(|error| {
                            format!("`version` of required provider `{name}` {error}")
                        })?);
                    }
                    _ => {}
                }
            }
            Ok(requirement)
        }
        other => {
            let version = literal_string(other).map_err(|_| {
                format!(
                    "required provider `{name}` must be an object like {{ source = \"...\", version = \"...\" }} or a version string"
                )
            })?;
            Ok(ProviderRequirement {
                name: name.to_owned(),
                source: None,
                version: Some(version),
            })
        }
    }
}

/// The name of an object key written as an identifier or a quoted string.
pub(crate) fn object_key_name(key: &ObjectKey) -> Option<String> {
    match key {
        ObjectKey::Identifier(identifier) => Some(identifier.as_str().to_owned()),
        ObjectKey::Expression(Expression::String(name)) => Some(name.clone()),
        ObjectKey::Expression(Expression::Variable(name)) => Some(name.as_str().to_owned()),
        _ => None,
    }
}

/// Converts a literal expression to JSON: null, booleans, numbers (also negated), strings, arrays,
/// objects, and templates and heredocs without interpolations or directives.
///
/// Anything that would need evaluation (references, function calls, operators, conditionals, for
/// expressions) is rejected. Evaluation is done here rather than with `hcl::eval` because that
/// panics on some inputs (e.g. division by zero) and module files are untrusted.
pub(crate) fn literal(expr: &Expression) -> Result<Value, String> {
    match expr {
        Expression::Null => Ok(Value::Null),
        Expression::Bool(flag) => Ok(Value::Bool(*flag)),
        Expression::Number(number) => number_to_json(number, false),
        Expression::String(text) => Ok(Value::String(text.clone())),
        Expression::Array(items) => items
            .iter()
            .map(literal)
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Expression::Object(entries) => {
            let mut object = Map::new();
            for (key, value) in entries {
                object.insert(literal_key(key)?, literal(value)?);
            }
            Ok(Value::Object(object))
        }
        Expression::TemplateExpr(template) => {
            let template = Template::from_expr(template).map_err(|error| error.to_string())?;
            let mut text = String::new();
            for element in template.elements() {
                match element {
                    Element::Literal(literal) => text.push_str(literal),
                    _ => {
                        return Err(format!(
                            "the template `{}` has interpolations or directives",
                            render(expr)
                        ));
                    }
                }
            }
            Ok(Value::String(text))
        }
        Expression::Parenthesis(inner) => literal(inner),
        Expression::Operation(operation) => match operation.as_ref() {
            Operation::Unary(UnaryOp {
                operator: UnaryOperator::Neg,
                expr: Expression::Number(number),
            }) => number_to_json(number, true),
            _ => Err(format!("`{}` is an operation", render(expr))),
        },
        Expression::Variable(_) | Expression::Traversal(_) => {
            Err(format!("`{}` is a reference", render(expr)))
        }
        Expression::FuncCall(_) => Err(format!("`{}` is a function call", render(expr))),
        other => Err(format!("`{}` needs evaluation", render(other))),
    }
}

/// The name of an object key in a literal: an identifier, or a literal string, number or bool.
fn literal_key(key: &ObjectKey) -> Result<String, String> {
    if let Some(name) = object_key_name(key) {
        return Ok(name);
    }
    match key {
        ObjectKey::Expression(expr) => match literal(expr)? {
            Value::String(text) => Ok(text),
            scalar @ (Value::Number(_) | Value::Bool(_)) => Ok(scalar.to_string()),
            _ => Err(format!("object key `{}` is not a string", render(expr))),
        },
        other => Err(format!(
            "object key `{}` is not a string",
            render_key(other)
        )),
    }
}

/// A number literal as JSON, negated if `negate`.
fn number_to_json(number: &hcl::Number, negate: bool) -> Result<Value, String> {
    let not_finite = || format!("`{number}` is not a finite number");
    if let Some(integer) = number.as_i64() {
        if !negate {
            return Ok(Value::from(integer));
        }
        if let Some(negated) = integer.checked_neg() {
            return Ok(Value::from(negated));
        }
    } else if let Some(integer) = number.as_u64() {
        if !negate {
            return Ok(Value::from(integer));
        }
        if let Some(negated) = 0_i64.checked_sub_unsigned(integer) {
            return Ok(Value::from(negated));
        }
    }
    let float = number.as_f64().ok_or_else(not_finite)?;
    let float = if negate { -float } else { float };
    serde_json::Number::from_f64(float)
        .map(Value::Number)
        .ok_or_else(not_finite)
}

/// A literal that must be a string; the error continues a sentence naming the attribute.
fn literal_string(expr: &Expression) -> Result<String, String> {
    match literal(expr) {
        Ok(Value::String(text)) => Ok(text),
        Ok(_) => Err("must be a string".to_owned()),
        Err(error) => Err(format!("must be a literal string: {error}")),
    }
}

/// A literal that must be a boolean; the error continues a sentence naming the attribute.
fn literal_bool(expr: &Expression) -> Result<bool, String> {
    match literal(expr) {
        Ok(Value::Bool(flag)) => Ok(flag),
        Ok(_) => Err("must be true or false".to_owned()),
        Err(error) => Err(format!("must be a literal true or false: {error}")),
    }
}

/// Single-line source text of an expression, e.g. `object({ name = string, port = optional(number, 80) })`.
pub(crate) fn render(expr: &Expression) -> String {
    match expr {
        Expression::Null => "null".to_owned(),
        Expression::Bool(flag) => flag.to_string(),
        Expression::Number(number) => number.to_string(),
        Expression::String(_) => expr.to_string(),
        Expression::Variable(name) => name.as_str().to_owned(),
        Expression::Array(items) => {
            let items: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", items.join(", "))
        }
        Expression::Object(entries) if entries.is_empty() => "{}".to_owned(),
        Expression::Object(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(key, value)| format!("{} = {}", render_key(key), render(value)))
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
        Expression::FuncCall(call) => {
            let args: Vec<String> = call.args.iter().map(render).collect();
            let expand = if call.expand_final { "..." } else { "" };
            format!("{}({}{expand})", call.name, args.join(", "))
        }
        Expression::Parenthesis(inner) => format!("({})", render(inner)),
        other => collapse_whitespace(&other.to_string()),
    }
}

/// Single-line source text of an object key.
pub(crate) fn render_key(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(identifier) => identifier.as_str().to_owned(),
        ObjectKey::Expression(expr) => render(expr),
        other => collapse_whitespace(&other.to_string()),
    }
}

/// Joins the lines of formatted source text into one line.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> ModuleFiles {
        entries
            .iter()
            .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
            .collect()
    }

    fn root_of(tf: &str) -> ModuleInfo {
        analyze(&files(&[("main.tf", tf)]))
            .expect("analysable module")
            .root
    }

    fn only_variable(tf: &str) -> Variable {
        let mut variables = root_of(tf).variables;
        assert_eq!(variables.len(), 1, "{variables:?}");
        variables.remove(0)
    }

    fn schema_of(type_source: &str) -> Result<Value, String> {
        let expr: Expression = type_source.parse().expect("valid HCL expression");
        type_schema(&expr)
    }

    fn invalid(entries: &[(&str, &str)]) -> (String, usize, String) {
        match analyze(&files(entries)) {
            Err(AnalysisError::Invalid {
                file,
                line,
                message,
            }) => (file, line, message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn primitive_and_collection_types_map_to_schemas() {
        let cases = [
            ("string", json!({"type": "string"})),
            ("number", json!({"type": "number"})),
            ("bool", json!({"type": "boolean"})),
            ("any", json!({})),
            (
                "list(string)",
                json!({"type": "array", "items": {"type": "string"}}),
            ),
            (
                "set(number)",
                json!({"type": "array", "items": {"type": "number"}, "uniqueItems": true}),
            ),
            (
                "map(bool)",
                json!({"type": "object", "additionalProperties": {"type": "boolean"}}),
            ),
            (
                "map(any)",
                json!({"type": "object", "additionalProperties": {}}),
            ),
            (
                "tuple([string, number])",
                json!({
                    "type": "array",
                    "prefixItems": [{"type": "string"}, {"type": "number"}],
                    "items": false,
                    "minItems": 2,
                    "maxItems": 2,
                }),
            ),
            (
                "object({ name = string, port = number })",
                json!({
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "port": {"type": "number"}},
                    "required": ["name", "port"],
                    "additionalProperties": false,
                }),
            ),
            (
                "object({})",
                json!({"type": "object", "properties": {}, "additionalProperties": false}),
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(schema_of(source), Ok(expected), "type `{source}`");
        }
    }

    #[test]
    fn nested_types_map_recursively() {
        let schema = schema_of("map(list(object({ cidr = string, tags = map(string) })))");
        let expected = json!({
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "cidr": {"type": "string"},
                        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    "required": ["cidr", "tags"],
                    "additionalProperties": false,
                },
            },
        });
        assert_eq!(schema, Ok(expected));
    }

    #[test]
    fn object_with_optional_attribute_and_default() {
        let schema = schema_of(
            r#"object({
                zone    = string
                name    = optional(string)
                port    = optional(number, 80)
                labels  = optional(list(string), ["a"])
                nested  = optional(object({ x = optional(bool, true) }), {})
            })"#,
        );
        let expected = json!({
            "type": "object",
            "properties": {
                "zone": {"type": "string"},
                "name": {"type": "string"},
                "port": {"type": "number", "default": 80},
                "labels": {"type": "array", "items": {"type": "string"}, "default": ["a"]},
                "nested": {
                    "type": "object",
                    "properties": {"x": {"type": "boolean", "default": true}},
                    "additionalProperties": false,
                    "default": {},
                },
            },
            "required": ["zone"],
            "additionalProperties": false,
        });
        assert_eq!(schema, Ok(expected));
    }

    #[test]
    fn object_with_only_optional_attributes_omits_required() {
        let schema = schema_of("object({ a = optional(string) })").expect("valid type");
        assert!(schema.get("required").is_none(), "{schema}");
    }

    #[test]
    fn legacy_types_mean_collections_of_any() {
        let cases = [
            ("list", json!({"type": "array", "items": {}})),
            (
                "set",
                json!({"type": "array", "items": {}, "uniqueItems": true}),
            ),
            ("map", json!({"type": "object", "additionalProperties": {}})),
            (r#""string""#, json!({"type": "string"})),
            (r#""list""#, json!({"type": "array", "items": {}})),
            (
                r#""map""#,
                json!({"type": "object", "additionalProperties": {}}),
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(schema_of(source), Ok(expected), "type `{source}`");
        }
    }

    #[test]
    fn invalid_types_are_rejected_with_a_message_naming_the_problem() {
        let cases = [
            ("strin", "strin"),
            ("list(string, number)", "exactly one element type"),
            ("list()", "exactly one element type"),
            ("map(optional(string))", "optional"),
            ("optional(string)", "optional"),
            ("object({ a = optional(string, 1, 2) })", "optional"),
            ("object({ a = optional(string, var.x) })", "literal"),
            ("tuple(string)", "tuple"),
            ("object(string)", "object"),
            ("object", "object"),
            ("tuple", "tuple"),
            (r#""number""#, "number"),
            ("1", "not a type"),
            ("frobnicate(string)", "frobnicate"),
            ("string()", "no arguments"),
            ("list(strng)", "strng"),
            ("object({ a = map(nmber) })", "nmber"),
        ];
        for (source, needle) in cases {
            let error = schema_of(source).expect_err(source);
            assert!(
                error.contains(needle),
                "error for `{source}` should mention `{needle}`: {error}"
            );
        }
    }

    #[test]
    fn type_expression_is_normalised_to_one_line() {
        let variable = only_variable(
            r#"
variable "services" {
  type = list(object({
    name = string
    port = optional(number, 80)
  }))
}
"#,
        );
        assert_eq!(
            variable.type_expr,
            "list(object({ name = string, port = optional(number, 80) }))"
        );
        let cases = [
            ("tuple([string,   number])", "tuple([string, number])"),
            (r#""string""#, r#""string""#),
            ("map(any)", "map(any)"),
        ];
        for (source, expected) in cases {
            let variable = only_variable(&format!("variable \"v\" {{\n  type = {source}\n}}\n"));
            assert_eq!(variable.type_expr, expected);
        }
    }

    #[test]
    fn variable_without_type_is_any() {
        let variable = only_variable("variable \"anything\" {}\n");
        assert_eq!(variable.type_expr, "any");
        assert_eq!(variable.schema, json!({}));
        assert!(variable.required);
        assert!(variable.nullable);
        assert!(!variable.sensitive);
        assert_eq!(variable.description, "");
        assert_eq!(variable.default, None);
    }

    #[test]
    fn defaults_of_each_literal_kind_become_json() {
        let cases = [
            (r#""eu-west-1""#, json!("eu-west-1")),
            ("42", json!(42)),
            ("-5", json!(-5)),
            ("1.5", json!(1.5)),
            ("-0.25", json!(-0.25)),
            ("true", json!(true)),
            ("[1, 2, 3]", json!([1, 2, 3])),
            ("[]", json!([])),
            (r#"{ a = 1, "b-c" = "x" }"#, json!({"a": 1, "b-c": "x"})),
            (
                r#"{ nested = { list = ["x"] } }"#,
                json!({"nested": {"list": ["x"]}}),
            ),
            (
                "<<EOT\nline one\nline two\nEOT",
                json!("line one\nline two\n"),
            ),
            (
                "<<-EOT\n    indented\n      more\n    EOT",
                json!("indented\n  more\n"),
            ),
            (r#""cost: $${price}""#, json!("cost: ${price}")),
            ("null", Value::Null),
            ("(7)", json!(7)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("18446744073709551615", json!(u64::MAX)),
            (r#"{ 1 = "x", ("k") = true }"#, json!({"1": "x", "k": true})),
            (r#""caf\u00e9\n""#, json!("café\n")),
        ];
        for (source, expected) in cases {
            let variable = only_variable(&format!("variable \"v\" {{\n  default = {source}\n}}\n"));
            assert_eq!(variable.default, Some(expected), "default `{source}`");
            assert!(!variable.required);
        }
    }

    #[test]
    fn default_null_is_present_and_not_required() {
        let variable = only_variable(
            r#"
variable "name" {
  type    = string
  default = null
}
"#,
        );
        assert_eq!(variable.default, Some(Value::Null));
        assert!(!variable.required);
        assert_eq!(
            variable.schema,
            json!({"type": ["string", "null"], "default": null})
        );
    }

    #[test]
    fn default_that_needs_evaluation_is_invalid() {
        for default in [
            "var.other",
            "upper(\"x\")",
            "local.x",
            "\"${var.x}-suffix\"",
            "\"%{ if true }x%{ endif }\"",
            "<<-EOT\n  ${path.module}\n  EOT",
            "1 / 0",
            "1 + 2",
            "true ? 1 : 2",
            "[for n in [1] : n]",
            "[var.a]",
            "{ a = var.b }",
        ] {
            let tf = format!("variable \"x\" {{\n  type    = string\n  default = {default}\n}}\n");
            let (file, line, message) = invalid(&[("variables.tf", &tf)]);
            assert_eq!(file, "variables.tf");
            assert_eq!(line, 3, "default `{default}`");
            assert!(
                message.contains("default of variable `x` must be a literal value"),
                "{message}"
            );
        }
    }

    #[test]
    fn variable_schema_carries_annotations_and_nullability() {
        let module = root_of(
            r#"
variable "region" {
  type        = string
  description = "Where to deploy."
  default     = "eu-west-1"
}

variable "password" {
  type      = string
  sensitive = true
  nullable  = false
}

variable "settings" {
  description = "Free-form."
  default     = {}
}

variable "ports" {
  type     = list(number)
  nullable = false
}
"#,
        );
        let schemas: BTreeMap<&str, &Value> = module
            .variables
            .iter()
            .map(|variable| (variable.name.as_str(), &variable.schema))
            .collect();
        assert_eq!(
            schemas["region"],
            &json!({
                "type": ["string", "null"],
                "description": "Where to deploy.",
                "default": "eu-west-1",
            })
        );
        assert_eq!(
            schemas["password"],
            &json!({"type": "string", "writeOnly": true})
        );
        assert_eq!(
            schemas["settings"],
            &json!({"description": "Free-form.", "default": {}})
        );
        assert_eq!(
            schemas["ports"],
            &json!({"type": "array", "items": {"type": "number"}})
        );
        let password = &module.variables[0];
        assert_eq!(password.name, "password");
        assert!(password.sensitive);
        assert!(!password.nullable);
        assert!(password.required);
    }

    #[test]
    fn nullable_wraps_schemas_without_a_single_type() {
        let wrapped = variable_schema(json!({"enum": ["a", "b"]}), "Pick one.", None, false, true);
        assert_eq!(
            wrapped,
            json!({
                "anyOf": [{"enum": ["a", "b"]}, {"type": "null"}],
                "description": "Pick one.",
            })
        );
    }

    #[test]
    fn inputs_schema_lists_variables_and_required_names() {
        let module = root_of(
            r#"
variable "zone" { type = string }
variable "count_of" {
  type    = number
  default = 1
}
variable "app" { type = string }
"#,
        );
        let names: Vec<&str> = module.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["app", "count_of", "zone"]);
        assert_eq!(
            module.inputs_schema,
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "app": {"type": ["string", "null"]},
                    "count_of": {"type": ["number", "null"], "default": 1},
                    "zone": {"type": ["string", "null"]},
                },
                "required": ["app", "zone"],
                "additionalProperties": false,
            })
        );
    }

    #[test]
    fn inputs_schema_without_required_variables_omits_required() {
        let module = root_of("variable \"x\" {\n  default = 1\n}\n");
        assert!(module.inputs_schema.get("required").is_none());
        let empty = root_of("locals {\n  a = 1\n}\n");
        assert_eq!(
            empty.inputs_schema,
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {},
                "additionalProperties": false,
            })
        );
    }

    #[test]
    fn outputs_are_sorted_with_description_and_sensitivity() {
        let module = root_of(
            r#"
output "vpc_id" {
  value       = aws_vpc.main.id
  description = "The VPC."
}

output "admin_password" {
  value     = random_password.admin.result
  sensitive = true
}
"#,
        );
        assert_eq!(
            module.outputs,
            vec![
                Output {
                    name: "admin_password".into(),
                    description: String::new(),
                    sensitive: true,
                },
                Output {
                    name: "vpc_id".into(),
                    description: "The VPC.".into(),
                    sensitive: false,
                },
            ]
        );
    }

    #[test]
    fn required_providers_in_object_and_legacy_string_form() {
        let module = root_of(
            r#"
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = "~> 5.0"
      configuration_aliases = [aws.replica]
    }
    random = "~> 3.1"
    tls = {
      source = "hashicorp/tls"
    }
  }
}
"#,
        );
        assert_eq!(module.terraform_version.as_deref(), Some(">= 1.5"));
        assert_eq!(
            module.providers,
            vec![
                ProviderRequirement {
                    name: "aws".into(),
                    source: Some("hashicorp/aws".into()),
                    version: Some("~> 5.0".into()),
                },
                ProviderRequirement {
                    name: "random".into(),
                    source: None,
                    version: Some("~> 3.1".into()),
                },
                ProviderRequirement {
                    name: "tls".into(),
                    source: Some("hashicorp/tls".into()),
                    version: None,
                },
            ]
        );
    }

    #[test]
    fn module_without_terraform_block_has_no_version_or_providers() {
        let module = root_of("resource \"null_resource\" \"x\" {}\n");
        assert_eq!(module.terraform_version, None);
        assert!(module.providers.is_empty());
    }

    #[test]
    fn module_calls_are_sorted_with_source_and_version() {
        let module = root_of(
            r#"
module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.1.0"
  cidr    = var.cidr
}

module "local_thing" {
  source = "./modules/thing"
}
"#,
        );
        assert_eq!(
            module.module_calls,
            vec![
                ModuleCall {
                    name: "local_thing".into(),
                    source: "./modules/thing".into(),
                    version: None,
                },
                ModuleCall {
                    name: "vpc".into(),
                    source: "terraform-aws-modules/vpc/aws".into(),
                    version: Some("5.1.0".into()),
                },
            ]
        );
    }

    #[test]
    fn module_call_without_source_is_invalid() {
        let (file, line, message) = invalid(&[("main.tf", "\n\nmodule \"x\" {\n}\n")]);
        assert_eq!((file.as_str(), line), ("main.tf", 3));
        assert!(message.contains("source"), "{message}");
    }

    #[test]
    fn resource_and_data_source_types_are_distinct_and_sorted() {
        let module = analyze(&files(&[
            (
                "main.tf",
                r#"
resource "aws_vpc" "main" {}
resource "aws_subnet" "a" {}
resource "aws_subnet" "b" {}
data "aws_region" "current" {}
"#,
            ),
            (
                "more.tf",
                r#"
data "aws_availability_zones" "all" {}
data "aws_region" "again" {}
resource "aws_vpc" "other" {}
"#,
            ),
        ]))
        .expect("analysable")
        .root;
        assert_eq!(module.resources, ["aws_subnet", "aws_vpc"]);
        assert_eq!(
            module.data_sources,
            ["aws_availability_zones", "aws_region"]
        );
    }

    #[test]
    fn readme_is_read_in_any_case() {
        let analysis = analyze(&files(&[
            ("main.tf", ""),
            ("README.md", "# Root\n"),
            ("modules/a/main.tf", ""),
            ("modules/a/readme.md", "# A\n"),
            ("modules/b/main.tf", ""),
        ]))
        .expect("analysable");
        assert_eq!(analysis.root.readme, "# Root\n");
        assert_eq!(analysis.submodules[0].readme, "# A\n");
        assert_eq!(analysis.submodules[1].readme, "");
    }

    #[test]
    fn submodules_are_found_one_level_under_modules_and_sorted() {
        let analysis = analyze(&files(&[
            ("main.tf", "variable \"root_var\" {}\n"),
            (
                "modules/vpc/variables.tf",
                "variable \"cidr\" { type = string }\n",
            ),
            ("modules/vpc/outputs.tf", "output \"id\" { value = 1 }\n"),
            ("modules/alb/main.tf", "resource \"aws_lb\" \"this\" {}\n"),
            ("modules/docs_only/README.md", "# not a module\n"),
            ("modules/vpc/nested/deep/main.tf", "this is { not parsed\n"),
            ("examples/basic/main.tf", "this is { not parsed\n"),
            ("modules/vpc/override.tf", "this is { not parsed\n"),
            ("modules/vpc/dev_override.tf", "this is { not parsed\n"),
            ("scripts/setup.sh", "#!/bin/sh\n"),
            ("LICENSE", "Apache-2.0"),
        ]))
        .expect("analysable");
        assert_eq!(analysis.root.path, "");
        assert_eq!(analysis.root.variables[0].name, "root_var");
        let paths: Vec<&str> = analysis
            .submodules
            .iter()
            .map(|module| module.path.as_str())
            .collect();
        assert_eq!(paths, ["modules/alb", "modules/vpc"]);
        let vpc = &analysis.submodules[1];
        assert_eq!(vpc.variables[0].name, "cidr");
        assert_eq!(vpc.outputs[0].name, "id");
        assert_eq!(analysis.submodules[0].resources, ["aws_lb"]);
        // The example is kept as text, unparsed.
        assert_eq!(analysis.examples.len(), 1);
        assert_eq!(analysis.examples[0].path, "examples/basic");
        assert_eq!(analysis.examples[0].name(), "basic");
        assert_eq!(analysis.examples[0].files[0].name, "main.tf");
        assert_eq!(analysis.examples[0].files[0].text, "this is { not parsed\n");
    }

    #[test]
    fn parse_error_reports_file_and_line() {
        let result = analyze(&files(&[
            ("main.tf", "variable \"ok\" {}\n"),
            (
                "modules/x/main.tf",
                "variable \"a\" {\n  type = string\n  default = = 3\n}\n",
            ),
        ]));
        match result {
            Err(AnalysisError::Parse {
                file,
                line,
                message,
            }) => {
                assert_eq!(file, "modules/x/main.tf");
                assert_eq!(line, 3);
                assert!(!message.is_empty());
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn error_display_is_file_colon_line_colon_message() {
        let error = AnalysisError::Invalid {
            file: "modules/vpc/variables.tf".into(),
            line: 7,
            message: "bad".into(),
        };
        assert_eq!(error.to_string(), "modules/vpc/variables.tf:7: bad");
    }

    #[test]
    fn duplicate_variable_names_in_one_module_are_invalid() {
        let (file, line, message) = invalid(&[
            ("a.tf", "variable \"name\" {}\n"),
            (
                "b.tf",
                "# comment\n\nvariable \"name\" {\n  type = string\n}\n",
            ),
        ]);
        assert_eq!(file, "b.tf");
        assert_eq!(line, 3);
        assert!(message.contains("`name`"), "{message}");
    }

    #[test]
    fn same_variable_name_in_different_modules_is_fine() {
        let analysis = analyze(&files(&[
            ("main.tf", "variable \"name\" {}\n"),
            ("modules/a/main.tf", "variable \"name\" {}\n"),
        ]))
        .expect("analysable");
        assert_eq!(analysis.submodules[0].variables[0].name, "name");
    }

    #[test]
    fn structural_errors_are_invalid_with_line() {
        let cases = [
            ("\nvariable {\n}\n", 2, "exactly one label"),
            ("variable \"a\" \"b\" {}\n", 1, "exactly one label"),
            ("variable \"v\" {\n  type = strng\n}\n", 2, "strng"),
            (
                "variable \"v\" {\n\n  type = list(string, bool)\n}\n",
                3,
                "list",
            ),
            (
                "variable \"v\" {\n  sensitive = \"yes\"\n}\n",
                2,
                "sensitive",
            ),
            (
                "variable \"v\" {\n  description = var.x\n}\n",
                2,
                "description",
            ),
            ("output \"o\" {}\noutput \"o\" {}\n", 2, "`o`"),
            ("resource \"aws_vpc\" {}\n", 1, "two labels"),
            (
                "terraform {\n  required_providers {\n    aws = 5\n  }\n}\n",
                3,
                "aws",
            ),
        ];
        for (tf, expected_line, needle) in cases {
            let (file, line, message) = invalid(&[("modules/m/main.tf", tf)]);
            assert_eq!(file, "modules/m/main.tf");
            assert_eq!(line, expected_line, "{tf:?}: {message}");
            assert!(message.contains(needle), "{tf:?}: {message}");
        }
    }

    #[test]
    fn variable_serialises_type_under_type_key() {
        let variable = only_variable("variable \"v\" {\n  type = bool\n}\n");
        let json = serde_json::to_value(&variable).expect("serialisable");
        assert_eq!(json["type"], "bool");
        let back: Variable = serde_json::from_value(json).expect("deserialisable");
        assert_eq!(back, variable);
    }
}
