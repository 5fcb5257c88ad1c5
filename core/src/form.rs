//! A blueprint's inputs schema (a JSON Schema draft 2020-12 object schema) as a form: an ordered
//! list of [`Field`]s, each with its kind and constraints, default, help, whether it is a secret
//! and whether it is required (by the schema's `required` lists, or by an `if`/`then`/`else`
//! condition the answers so far satisfy). Shared by `scaffold`'s terminal prompts and the
//! registry's web form, so both ask the same questions and parse answers alike.
//!
//! Everything here is pure: [`field`] derives a field from the schema, [`parse_answer`] turns
//! text into a typed value (also for `--set` and `SCAFFOLD_INPUT_<NAME>`), [`interpret`] checks an
//! entry against the property's whole schema, [`next_field`] decides what to ask next and
//! [`fields`] lists every field that applies to the answers so far. Every schema check (patterns,
//! bounds, conditions) runs through [`crate::inputs`], so the semantics are exactly JSON
//! Schema's.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::inputs;
use serde_json::{Map, Value, json};

/// One field to ask, derived from the schema. Pure data; no terminal.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The property name in the inputs schema.
    pub name: String,
    /// What is asked: the schema's `title`, else the property name.
    pub title: String,
    /// The schema's `description`, shown as help.
    pub help: Option<String>,
    /// The schema's `default`, offered as the answer given by an empty entry.
    pub default: Option<Value>,
    /// Whether an answer is needed (an optional field can be skipped).
    pub required: bool,
    /// `writeOnly: true`: asked without echo, and never shown back in error messages.
    pub secret: bool,
    /// What kind of value is expected.
    pub kind: Kind,
}

/// The kind of value a field expects, derived from the property's schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A string, with its `pattern`, `minLength` and `maxLength`.
    Text {
        /// The ECMA 262 regular expression the string must match (anywhere, as JSON Schema says).
        pattern: Option<String>,
        /// The least number of characters.
        min_length: Option<u64>,
        /// The most number of characters.
        max_length: Option<u64>,
    },
    /// One of fixed values, from `enum` (any JSON scalars) or `const`.
    Choice {
        /// The values to choose from, in schema order.
        options: Vec<Value>,
    },
    /// `true` or `false`.
    Boolean,
    /// A whole number; exclusive bounds are folded in (`exclusiveMinimum: 0` is `minimum: 1`).
    Integer {
        /// The least value allowed.
        minimum: Option<f64>,
        /// The greatest value allowed.
        maximum: Option<f64>,
    },
    /// Any number. An exclusive bound is kept here as the bound itself; the prompt also checks the
    /// property's schema, which refuses the boundary.
    Number {
        /// The least value allowed.
        minimum: Option<f64>,
        /// The greatest value allowed.
        maximum: Option<f64>,
    },
    /// An array whose items are text, integers, numbers or choices, typed comma-separated.
    List {
        /// The kind of each item.
        item: Box<Kind>,
    },
    /// Anything else (objects, nested arrays, mixed types): the user types JSON.
    Json,
}

/// How deep `$ref` chains and nested subschemas are followed; real schemas stay far below.
const MAX_DEPTH: usize = 32;

/// The next field to ask given the answers so far, or None when nothing more is needed.
///
/// Order: properties in the order of the schema's top-level `required` list, then properties
/// made required by a satisfied `if`/`then`/`else` (at the top level, inside `allOf` entries and
/// inside the chosen branches; in each `required` list's order), then — only when `ask_optional`
/// is true — the remaining top-level properties in alphabetical order. A property already in
/// `answers` is never asked again; an optional one the user skipped is recorded in `skipped`
/// and not asked again (unless a condition later makes it required).
///
/// An `if` is decided only once every property it looks at is answered or skipped; until then
/// the properties its branches could require are held back from the optional fields. When
/// nothing else is left to ask, the remaining conditions are decided on the answers as they
/// stand, with the schema's top-level defaults filled in (as rendering does), so that the
/// answers given satisfy the schema's conditional requirements.
pub fn next_field(
    schema: &Value,
    answers: &Map<String, Value>,
    skipped: &BTreeSet<String>,
    ask_optional: bool,
) -> Option<Field> {
    let unanswered = |name: &&String| !answers.contains_key(name.as_str());
    let field_with = |schema: &Value, name: &str, required: bool| {
        field_with(schema, name, required, &secret_names(schema))
    };

    if let Some(name) = required_names(schema).iter().find(unanswered) {
        return Some(field_with(schema, name, true));
    }

    let mut pending = Conditional::default();
    collect_conditional(schema, schema, answers, skipped, false, &mut pending, 0);
    if let Some(name) = pending.required.iter().find(unanswered) {
        return Some(field_with(schema, name, true));
    }

    let optional = |deferred: &[String]| {
        property_names(schema).into_iter().find(|name| {
            !answers.contains_key(name) && !skipped.contains(name) && !deferred.contains(name)
        })
    };
    if ask_optional && let Some(name) = optional(&pending.deferred) {
        return Some(field_with(schema, &name, false));
    }

    let mut settled = Conditional::default();
    collect_conditional(schema, schema, answers, skipped, true, &mut settled, 0);
    if let Some(name) = settled.required.iter().find(unanswered) {
        return Some(field_with(schema, name, true));
    }
    if ask_optional && let Some(name) = optional(&[]) {
        return Some(field_with(schema, &name, false));
    }
    None
}

/// Every field that applies to `answers`, in the order [`next_field`] asks them: the required
/// ones (the schema's `required` order, then those conditions the answers satisfy require), then
/// the optional ones alphabetically. A property only a condition's branches require is left out
/// while the condition does not require it (the web form's fields that appear and disappear).
pub fn fields(schema: &Value, answers: &Map<String, Value>) -> Vec<Field> {
    let mut chosen: Vec<(String, bool)> = required_names(schema)
        .into_iter()
        .map(|name| (name, true))
        .collect();
    let mut settled = Conditional::default();
    collect_conditional(
        schema,
        schema,
        answers,
        &BTreeSet::new(),
        true,
        &mut settled,
        0,
    );
    for name in settled.required {
        if !chosen.iter().any(|(known, _)| *known == name) {
            chosen.push((name, true));
        }
    }
    let mut possible = Conditional::default();
    collect_conditional(
        schema,
        schema,
        &Map::new(),
        &BTreeSet::new(),
        false,
        &mut possible,
        0,
    );
    for name in property_names(schema) {
        let conditional = possible.deferred.contains(&name);
        if !conditional && !chosen.iter().any(|(known, _)| *known == name) {
            chosen.push((name, false));
        }
    }
    // The secrets are found once for all fields: finding them walks the whole schema.
    let secrets = secret_names(schema);
    chosen
        .into_iter()
        .map(|(name, required)| field_with(schema, &name, required, &secrets))
        .collect()
}

/// The schema's secret inputs (none when the schema cannot be read for them: its checks say why).
fn secret_names(schema: &Value) -> Vec<String> {
    crate::secrets::find(schema).unwrap_or_default()
}

/// Parses what the user typed for a field into JSON (used for prompts and also by
/// `--set key=value` and `SCAFFOLD_INPUT_<NAME>`).
///
/// Text → the string as is (checked against its `pattern` and lengths); Integer → i64; Number →
/// f64 (or i64 when integral); Boolean → true/false/yes/no/y/n/1/0 (case-insensitive); Choice →
/// the option whose string form equals the text; List → comma-separated, each item parsed by its
/// kind, empty text → `[]`; Json → the JSON text. Errors are messages a user can act on, naming
/// the expected type (e.g. "expected an integer between 1 and 20, got `x`").
pub fn parse_answer(kind: &Kind, text: &str) -> Result<Value, String> {
    parse(kind, text, true)
}

/// The Field for one property of the schema (also used by `--set` to type values), or None
/// when the schema defines no such property (at the top level or in an `if` branch).
/// `required` reflects the schema's top-level `required` list only.
pub fn field(schema: &Value, name: &str) -> Option<Field> {
    let property = definition(schema, name, 0)?;
    let required = required_names(schema)
        .iter()
        .any(|required| required == name);
    Some(build_field(
        schema,
        name,
        property,
        required,
        &secret_names(schema),
    ))
}

// ---------------------------------------------------------------------------------------------
// Questions from the schema.

/// The names in the schema's top-level `required` list, in order, without repeats.
fn required_names(schema: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    push_required(schema, &mut names);
    names
}

/// Appends the strings of `node.required` that `names` does not hold yet.
fn push_required(node: &Value, names: &mut Vec<String>) {
    if let Some(Value::Array(list)) = node.get("required") {
        for name in list.iter().filter_map(Value::as_str) {
            if !names.iter().any(|known| known == name) {
                names.push(name.to_owned());
            }
        }
    }
}

/// The top-level property names, alphabetically.
fn property_names(schema: &Value) -> Vec<String> {
    let names: BTreeSet<&String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().collect())
        .unwrap_or_default();
    names.into_iter().cloned().collect()
}

/// The schema of property `name` where the schema defines it (see [`field`]), as written.
pub fn property<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    definition(schema, name, 0)
}

/// Where the schema defines property `name`: the top-level `properties` first, then those of
/// `then`/`else` branches and `allOf` entries.
fn definition<'a>(node: &'a Value, name: &str, depth: usize) -> Option<&'a Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    if let Some(property) = node.get("properties").and_then(|p| p.get(name)) {
        return Some(property);
    }
    let branches = ["then", "else"].into_iter().filter_map(|key| node.get(key));
    let entries = node
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    branches
        .chain(entries)
        .find_map(|child| definition(child, name, depth + 1))
}

/// The field for `name`, also when the schema does not define it (then any JSON is taken).
fn field_with(schema: &Value, name: &str, required: bool, secrets: &[String]) -> Field {
    match definition(schema, name, 0) {
        Some(property) => build_field(schema, name, property, required, secrets),
        None => Field {
            name: name.to_owned(),
            title: name.to_owned(),
            help: None,
            default: None,
            required,
            secret: false,
            kind: Kind::Json,
        },
    }
}

fn build_field(
    root: &Value,
    name: &str,
    property: &Value,
    required: bool,
    secrets: &[String],
) -> Field {
    let schema = flatten(root, property);
    let text = |key: &str| {
        schema
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.trim().is_empty())
            .map(str::to_owned)
    };
    Field {
        name: name.to_owned(),
        title: text("title").unwrap_or_else(|| name.to_owned()),
        help: text("description"),
        default: schema.get("default").cloned(),
        required,
        secret: secrets.iter().any(|secret| secret == name),
        kind: kind_of(root, &schema, 0),
    }
}

/// The subschema with its local `$ref` chain merged in (the referring schema's own keywords win).
fn flatten(root: &Value, schema: &Value) -> Value {
    let mut chain = vec![schema];
    let mut current = schema;
    for _ in 0..MAX_DEPTH {
        let Some(target) = local_ref(root, current) else {
            break;
        };
        chain.push(target);
        current = target;
    }
    let mut merged = Map::new();
    for layer in chain.iter().rev().filter_map(|layer| layer.as_object()) {
        for (key, value) in layer {
            if key != "$ref" {
                merged.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(merged)
}

/// The target of a `$ref` into the same document (`#/$defs/...`), if any.
fn local_ref<'a>(root: &'a Value, schema: &Value) -> Option<&'a Value> {
    let reference = schema.get("$ref")?.as_str()?;
    root.pointer(reference.strip_prefix('#')?)
}

fn kind_of(root: &Value, schema: &Value, depth: usize) -> Kind {
    if let Some(value) = schema.get("const") {
        return Kind::Choice {
            options: vec![value.clone()],
        };
    }
    if let Some(Value::Array(options)) = schema.get("enum") {
        return Kind::Choice {
            options: options.clone(),
        };
    }
    let number = |key: &str| schema.get(key).and_then(Value::as_f64);
    match schema_type(schema) {
        Some("string") => {
            let count = |key: &str| schema.get(key).and_then(Value::as_u64);
            Kind::Text {
                pattern: schema
                    .get("pattern")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                min_length: count("minLength"),
                max_length: count("maxLength"),
            }
        }
        Some("boolean") => Kind::Boolean,
        Some("integer") => Kind::Integer {
            minimum: [
                number("minimum").map(f64::ceil),
                number("exclusiveMinimum").map(|bound| bound.floor() + 1.0),
            ]
            .into_iter()
            .flatten()
            .reduce(f64::max),
            maximum: [
                number("maximum").map(f64::floor),
                number("exclusiveMaximum").map(|bound| bound.ceil() - 1.0),
            ]
            .into_iter()
            .flatten()
            .reduce(f64::min),
        },
        Some("number") => Kind::Number {
            minimum: [number("minimum"), number("exclusiveMinimum")]
                .into_iter()
                .flatten()
                .reduce(f64::max),
            maximum: [number("maximum"), number("exclusiveMaximum")]
                .into_iter()
                .flatten()
                .reduce(f64::min),
        },
        Some("array") if schema.get("prefixItems").is_none() && depth < MAX_DEPTH => {
            match schema.get("items") {
                Some(items) if items.is_object() => {
                    let item = kind_of(root, &flatten(root, items), depth + 1);
                    match item {
                        Kind::Text { .. }
                        | Kind::Integer { .. }
                        | Kind::Number { .. }
                        | Kind::Choice { .. } => Kind::List {
                            item: Box::new(item),
                        },
                        _ => Kind::Json,
                    }
                }
                _ => Kind::Json,
            }
        }
        _ => Kind::Json,
    }
}

/// The one JSON type a schema admits besides `null` (inferred from its keywords when `type` is
/// absent), or None when it admits several or any.
fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(name)) => Some(name),
        Some(Value::Array(names)) => {
            let names: Vec<&str> = names
                .iter()
                .filter_map(Value::as_str)
                .filter(|name| *name != "null")
                .collect();
            match names.as_slice() {
                [one] => Some(one),
                ["integer", "number"] | ["number", "integer"] => Some("number"),
                _ => None,
            }
        }
        Some(_) => None,
        None => {
            let has = |keys: &[&str]| keys.iter().any(|key| schema.get(key).is_some());
            if has(&["pattern", "minLength", "maxLength", "format"]) {
                Some("string")
            } else if has(&[
                "minimum",
                "maximum",
                "exclusiveMinimum",
                "exclusiveMaximum",
                "multipleOf",
            ]) {
                Some("number")
            } else if has(&["items", "prefixItems", "minItems", "maxItems"]) {
                Some("array")
            } else {
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions.

/// What the schema's conditions say, given the answers so far.
#[derive(Debug, Default)]
struct Conditional {
    /// Names required by decided conditions (and by `allOf` entries), in order.
    required: Vec<String>,
    /// Names an undecided condition's branches could require.
    deferred: Vec<String>,
}

/// Walks `node`'s `if`/`then`/`else`, its `allOf` entries, the branches conditions choose, and
/// `dependentRequired`. With `force`, every condition is decided on the answers as they stand.
fn collect_conditional(
    root: &Value,
    node: &Value,
    answers: &Map<String, Value>,
    skipped: &BTreeSet<String>,
    force: bool,
    out: &mut Conditional,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(condition) = node.get("if") {
        let branch = match decide(root, condition, answers, skipped, force) {
            Some(true) => node.get("then"),
            Some(false) => node.get("else"),
            None => {
                for branch in ["then", "else"].into_iter().filter_map(|key| node.get(key)) {
                    push_required(branch, &mut out.deferred);
                }
                None
            }
        };
        if let Some(branch) = branch {
            push_required(branch, &mut out.required);
            collect_conditional(root, branch, answers, skipped, force, out, depth + 1);
        }
    }
    if let Some(Value::Array(entries)) = node.get("allOf") {
        for entry in entries {
            push_required(entry, &mut out.required);
            collect_conditional(root, entry, answers, skipped, force, out, depth + 1);
        }
    }
    if let Some(Value::Object(dependents)) = node.get("dependentRequired") {
        for (name, list) in dependents {
            if answers.contains_key(name) {
                push_required(&json!({ "required": list }), &mut out.required);
            }
        }
    }
    if let Some(target) = local_ref(root, node) {
        collect_conditional(root, target, answers, skipped, force, out, depth + 1);
    }
}

/// Whether the `if` subschema holds for the answers: None while a property it looks at is
/// neither answered nor skipped (unless `force`), or when it cannot be compiled.
fn decide(
    root: &Value,
    condition: &Value,
    answers: &Map<String, Value>,
    skipped: &BTreeSet<String>,
    force: bool,
) -> Option<bool> {
    if !force {
        let mut names = BTreeSet::new();
        referenced(root, condition, &mut names, 0);
        if names
            .iter()
            .any(|name| !answers.contains_key(name) && !skipped.contains(name))
        {
            return None;
        }
    }
    let validator = inputs::compile(&with_definitions(root, condition)).ok()?;
    let document = with_defaults(root, &Value::Object(answers.clone()));
    Some(inputs::validate(&validator, &document).is_empty())
}

/// The top-level property names a condition looks at.
fn referenced(root: &Value, schema: &Value, names: &mut BTreeSet<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        names.extend(properties.keys().cloned());
    }
    for key in ["required", "dependentRequired"] {
        match schema.get(key) {
            Some(Value::Array(list)) => {
                names.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            Some(Value::Object(map)) => names.extend(map.keys().cloned()),
            _ => {}
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for child in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            referenced(root, child, names, depth + 1);
        }
    }
    for key in ["not", "if", "then", "else"] {
        if let Some(child) = schema.get(key) {
            referenced(root, child, names, depth + 1);
        }
    }
    if let Some(target) = local_ref(root, schema) {
        referenced(root, target, names, depth + 1);
    }
}

/// The inputs with the schema's top-level defaults filled in: what rendering sees, and what
/// conditions are decided on. The one place defaults are applied.
pub fn with_defaults(schema: &Value, inputs: &Value) -> Value {
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

/// `schema` as a standalone document whose `#/$defs/...` references still resolve.
fn with_definitions(root: &Value, schema: &Value) -> Value {
    let mut wrapper = Map::new();
    for key in ["$defs", "definitions"] {
        if let Some(definitions) = root.get(key) {
            wrapper.insert(key.to_owned(), definitions.clone());
        }
    }
    if wrapper.is_empty() {
        return schema.clone();
    }
    wrapper.insert("allOf".to_owned(), Value::Array(vec![schema.clone()]));
    Value::Object(wrapper)
}

// ---------------------------------------------------------------------------------------------
// Answers.

fn parse(kind: &Kind, text: &str, echo: bool) -> Result<Value, String> {
    let expected = || {
        if echo {
            format!("expected {}, got `{text}`", describe(kind))
        } else {
            format!("expected {}", describe(kind))
        }
    };
    match kind {
        Kind::Text { .. } => {
            if text_fits(kind, text) {
                Ok(Value::String(text.to_owned()))
            } else {
                Err(expected())
            }
        }
        Kind::Integer { minimum, maximum } => match text.trim().parse::<i64>() {
            Ok(value) if within(value as f64, *minimum, *maximum) => Ok(Value::from(value)),
            _ => Err(expected()),
        },
        Kind::Number { minimum, maximum } => match text.trim().parse::<f64>() {
            Ok(value) if value.is_finite() && within(value, *minimum, *maximum) => {
                Ok(number_value(value))
            }
            _ => Err(expected()),
        },
        Kind::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "0" => Ok(Value::Bool(false)),
            _ => Err(expected()),
        },
        Kind::Choice { options } => options
            .iter()
            .find(|option| display(option) == text)
            .or_else(|| options.iter().find(|option| display(option) == text.trim()))
            .cloned()
            .ok_or_else(expected),
        Kind::List { item } => {
            if text.trim().is_empty() {
                return Ok(Value::Array(Vec::new()));
            }
            text.split(',')
                .enumerate()
                .map(|(index, part)| {
                    parse(item, part.trim(), echo)
                        .map_err(|message| format!("item {} of the list: {message}", index + 1))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        Kind::Json => serde_json::from_str(text).map_err(|error| {
            format!(
                "expected JSON (for example {{\"key\": \"value\"}}, [1, 2] or \"text\"): {error}"
            )
        }),
    }
}

/// Whether `text` fits a Text kind's pattern and lengths, by JSON Schema's own rules.
fn text_fits(kind: &Kind, text: &str) -> bool {
    let Kind::Text {
        pattern,
        min_length,
        max_length,
    } = kind
    else {
        return true;
    };
    if pattern.is_none() && min_length.is_none() && max_length.is_none() {
        return true;
    }
    let mut schema = Map::new();
    schema.insert("type".to_owned(), json!("string"));
    if let Some(pattern) = pattern {
        schema.insert("pattern".to_owned(), json!(pattern));
    }
    if let Some(min) = min_length {
        schema.insert("minLength".to_owned(), json!(min));
    }
    if let Some(max) = max_length {
        schema.insert("maxLength".to_owned(), json!(max));
    }
    match inputs::compile(&Value::Object(schema)) {
        Ok(validator) => inputs::validate(&validator, &json!(text)).is_empty(),
        // A broken pattern is the blueprint's fault; its own checks report it.
        Err(_) => true,
    }
}

fn within(value: f64, minimum: Option<f64>, maximum: Option<f64>) -> bool {
    minimum.is_none_or(|minimum| value >= minimum) && maximum.is_none_or(|maximum| value <= maximum)
}

/// A JSON number: an integer when `value` is integral (and exactly representable), else a float.
fn number_value(value: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() <= EXACT {
        Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
}

/// What a kind expects, for error messages: "an integer between 1 and 20".
pub fn describe(kind: &Kind) -> String {
    match kind {
        Kind::Text {
            pattern,
            min_length,
            max_length,
        } => {
            let mut text = "a string".to_owned();
            match (min_length, max_length) {
                (Some(min), Some(max)) if min == max => {
                    text.push_str(&format!(" of exactly {min} characters"));
                }
                (Some(min), Some(max)) => text.push_str(&format!(" of {min} to {max} characters")),
                (Some(min), None) => text.push_str(&format!(" of at least {min} characters")),
                (None, Some(max)) => text.push_str(&format!(" of at most {max} characters")),
                (None, None) => {}
            }
            if let Some(pattern) = pattern {
                text.push_str(&format!(" matching the pattern `{pattern}`"));
            }
            text
        }
        Kind::Choice { options } if options.is_empty() => {
            "no value (the list of choices is empty)".to_owned()
        }
        Kind::Choice { options } => {
            let options: Vec<String> = options
                .iter()
                .map(|option| format!("`{}`", display(option)))
                .collect();
            format!("one of {}", options.join(", "))
        }
        Kind::Boolean => "true or false (also yes/no, y/n, 1/0)".to_owned(),
        Kind::Integer { minimum, maximum } => format!("an integer{}", bounds(*minimum, *maximum)),
        Kind::Number { minimum, maximum } => format!("a number{}", bounds(*minimum, *maximum)),
        Kind::List { item } => format!(
            "a comma-separated list where each item is {}",
            describe(item)
        ),
        Kind::Json => "a JSON value".to_owned(),
    }
}

fn bounds(minimum: Option<f64>, maximum: Option<f64>) -> String {
    match (minimum, maximum) {
        (Some(min), Some(max)) => format!(" between {min} and {max}"),
        (Some(min), None) => format!(" of at least {min}"),
        (None, Some(max)) => format!(" of at most {max}"),
        (None, None) => String::new(),
    }
}

/// The string form of a value: strings as they are, anything else as JSON.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// How a value is typed for a kind, so that [`parse_answer`] gives the value back.
pub fn typed_form(kind: &Kind, value: &Value) -> String {
    match (kind, value) {
        (Kind::Json, _) => value.to_string(),
        (Kind::List { .. }, Value::Array(items)) => {
            items.iter().map(display).collect::<Vec<_>>().join(", ")
        }
        (Kind::List { .. }, _) => value.to_string(),
        _ => display(value),
    }
}

// ---------------------------------------------------------------------------------------------
// Checking an entry.

/// Checks a parsed answer against the property's own schema (bounds, `multipleOf`, item
/// counts, ...); secrets' values are never shown in the messages.
pub type Check = Arc<dyn Fn(&Value) -> Result<(), String>>;

pub fn property_check(root: &Value, field: &Field) -> Check {
    let Some(property) = definition(root, &field.name, 0) else {
        return Arc::new(|_| Ok(()));
    };
    let name = field.name.clone();
    let schema = with_definitions(root, &json!({ "properties": { &name: property } }));
    let Ok(validator) = inputs::compile(&schema) else {
        return Arc::new(|_| Ok(()));
    };
    let secret = field.secret;
    Arc::new(move |value: &Value| {
        let document = json!({ &name: value });
        let errors = if secret {
            inputs::validate_hiding(&validator, &document, std::slice::from_ref(&name))
        } else {
            inputs::validate(&validator, &document)
        };
        if errors.is_empty() {
            Ok(())
        } else {
            let messages: Vec<String> = errors.into_iter().map(|error| error.message).collect();
            Err(messages.join("; "))
        }
    })
}

/// The answer an entry stands for: None to skip an optional field.
pub fn interpret(field: &Field, input: &str, check: &Check) -> Result<Option<Value>, String> {
    if input.is_empty() {
        if let Some(default) = &field.default {
            return Ok(Some(default.clone()));
        }
        if !field.required {
            return Ok(None);
        }
        return Err("an answer is required".to_owned());
    }
    let value = parse(&field.kind, input, !field.secret)?;
    check(&value)?;
    Ok(Some(value))
}

pub fn help_text(field: &Field, entry: bool) -> Option<String> {
    let mut parts: Vec<String> = field.help.iter().cloned().collect();
    if entry {
        match &field.kind {
            Kind::List { .. } => parts.push("separate values with commas".to_owned()),
            Kind::Json => parts.push("type a JSON value".to_owned()),
            Kind::Boolean => parts.push("yes or no".to_owned()),
            _ => {}
        }
        if !field.required && field.default.is_none() {
            parts.push("leave empty to skip".to_owned());
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(pattern: Option<&str>, min_length: Option<u64>, max_length: Option<u64>) -> Kind {
        Kind::Text {
            pattern: pattern.map(str::to_owned),
            min_length,
            max_length,
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn schema_with(name: &str, property: Value) -> Value {
        json!({ "type": "object", "properties": { name: property } })
    }

    #[test]
    fn question_for_derives_the_kind_from_each_schema_shape() {
        let cases: Vec<(&str, Value, Kind)> = vec![
            (
                "plain string",
                json!({ "type": "string" }),
                text(None, None, None),
            ),
            (
                "string with pattern and lengths",
                json!({ "type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 8 }),
                text(Some("^[a-z]+$"), Some(2), Some(8)),
            ),
            (
                "nullable string",
                json!({ "type": ["string", "null"] }),
                text(None, None, None),
            ),
            (
                "string inferred from pattern",
                json!({ "pattern": "x" }),
                text(Some("x"), None, None),
            ),
            (
                "enum of strings",
                json!({ "type": "string", "enum": ["dev", "prod"] }),
                Kind::Choice {
                    options: vec![json!("dev"), json!("prod")],
                },
            ),
            (
                "enum of mixed scalars",
                json!({ "enum": [1, "two", true, null] }),
                Kind::Choice {
                    options: vec![json!(1), json!("two"), json!(true), Value::Null],
                },
            ),
            (
                "const",
                json!({ "const": "only" }),
                Kind::Choice {
                    options: vec![json!("only")],
                },
            ),
            ("boolean", json!({ "type": "boolean" }), Kind::Boolean),
            (
                "integer with inclusive bounds",
                json!({ "type": "integer", "minimum": 1, "maximum": 20 }),
                Kind::Integer {
                    minimum: Some(1.0),
                    maximum: Some(20.0),
                },
            ),
            (
                "integer with exclusive bounds folded in",
                json!({ "type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10 }),
                Kind::Integer {
                    minimum: Some(1.0),
                    maximum: Some(9.0),
                },
            ),
            (
                "integer takes the tighter of both bounds",
                json!({ "type": "integer", "minimum": 5, "exclusiveMinimum": 2, "maximum": 3.5 }),
                Kind::Integer {
                    minimum: Some(5.0),
                    maximum: Some(3.0),
                },
            ),
            (
                "integer with fractional exclusive bounds",
                json!({ "type": "integer", "exclusiveMinimum": 0.5, "exclusiveMaximum": 9.5 }),
                Kind::Integer {
                    minimum: Some(1.0),
                    maximum: Some(9.0),
                },
            ),
            (
                "number with bounds",
                json!({ "type": "number", "minimum": 0.5, "exclusiveMaximum": 1.5 }),
                Kind::Number {
                    minimum: Some(0.5),
                    maximum: Some(1.5),
                },
            ),
            (
                "unbounded number",
                json!({ "type": "number" }),
                Kind::Number {
                    minimum: None,
                    maximum: None,
                },
            ),
            (
                "array of strings",
                json!({ "type": "array", "items": { "type": "string" } }),
                Kind::List {
                    item: Box::new(text(None, None, None)),
                },
            ),
            (
                "array of enum",
                json!({ "type": "array", "items": { "enum": ["a", "b"] } }),
                Kind::List {
                    item: Box::new(Kind::Choice {
                        options: vec![json!("a"), json!("b")],
                    }),
                },
            ),
            (
                "array of integers",
                json!({ "type": "array", "items": { "type": "integer", "minimum": 0 } }),
                Kind::List {
                    item: Box::new(Kind::Integer {
                        minimum: Some(0.0),
                        maximum: None,
                    }),
                },
            ),
            (
                "array of objects",
                json!({ "type": "array", "items": { "type": "object" } }),
                Kind::Json,
            ),
            (
                "array of arrays",
                json!({ "type": "array", "items": { "type": "array" } }),
                Kind::Json,
            ),
            (
                "array without items",
                json!({ "type": "array" }),
                Kind::Json,
            ),
            (
                "object",
                json!({ "type": "object", "properties": { "a": {} } }),
                Kind::Json,
            ),
            (
                "several types",
                json!({ "type": ["string", "integer"] }),
                Kind::Json,
            ),
            ("no type at all", json!({}), Kind::Json),
            ("boolean schema", json!(true), Kind::Json),
        ];
        for (case, property, expected) in cases {
            let field = field(&schema_with("x", property), "x")
                .unwrap_or_else(|| panic!("{case}: no field"));
            assert_eq!(field.kind, expected, "{case}");
        }
    }

    #[test]
    fn question_for_takes_title_description_default_secret_and_required() {
        let schema = json!({
            "type": "object",
            "required": ["token"],
            "properties": {
                "region": {
                    "type": "string",
                    "title": "AWS region",
                    "description": "Where the stack runs",
                    "default": "eu-west-1"
                },
                "token": { "type": "string", "writeOnly": true },
                "blank_title": { "type": "string", "title": "  " }
            }
        });
        let region = field(&schema, "region").expect("region is defined");
        assert_eq!(
            region,
            Field {
                name: "region".into(),
                title: "AWS region".into(),
                help: Some("Where the stack runs".into()),
                default: Some(json!("eu-west-1")),
                required: false,
                secret: false,
                kind: text(None, None, None),
            }
        );
        let token = field(&schema, "token").expect("token is defined");
        assert_eq!(
            token.title, "token",
            "the name stands in for a missing title"
        );
        assert!(token.secret);
        assert!(token.required);
        assert_eq!(token.help, None);
        assert_eq!(token.default, None);
        let blank = field(&schema, "blank_title").expect("defined");
        assert_eq!(blank.title, "blank_title");
    }

    #[test]
    fn question_for_is_none_for_an_unknown_property() {
        let schema = schema_with("a", json!({ "type": "string" }));
        assert_eq!(field(&schema, "b"), None);
        assert_eq!(field(&json!({}), "b"), None);
    }

    #[test]
    fn question_for_finds_properties_defined_in_branches_and_through_refs() {
        let schema = json!({
            "$defs": { "size": { "type": "integer", "minimum": 1, "title": "Size" } },
            "properties": {
                "env": { "enum": ["dev", "prod"] },
                "count": { "$ref": "#/$defs/size", "description": "How many" }
            },
            "allOf": [{
                "if": { "properties": { "env": { "const": "prod" } } },
                "then": { "properties": { "approvers": { "type": "array", "items": { "type": "string" } } } }
            }]
        });
        let approvers = field(&schema, "approvers").expect("defined in a branch");
        assert_eq!(
            approvers.kind,
            Kind::List {
                item: Box::new(text(None, None, None))
            }
        );
        let count = field(&schema, "count").expect("defined through $ref");
        assert_eq!(
            count.kind,
            Kind::Integer {
                minimum: Some(1.0),
                maximum: None
            }
        );
        assert_eq!(count.title, "Size");
        assert_eq!(count.help.as_deref(), Some("How many"));
    }

    #[test]
    fn parse_answer_types_what_was_typed() {
        let choice = Kind::Choice {
            options: vec![json!("dev"), json!(3), json!(true), Value::Null],
        };
        let cases: Vec<(&str, Kind, &str, Value)> = vec![
            (
                "text as is",
                text(None, None, None),
                "  Hello, world ",
                json!("  Hello, world "),
            ),
            ("empty text", text(None, None, None), "", json!("")),
            (
                "text matching its pattern",
                text(Some("^[a-z]+$"), None, None),
                "abc",
                json!("abc"),
            ),
            (
                "pattern matches anywhere",
                text(Some("[0-9]"), None, None),
                "ab1c",
                json!("ab1c"),
            ),
            (
                "ECMA class escape",
                text(Some("^\\w+$"), None, None),
                "a_1",
                json!("a_1"),
            ),
            (
                "text within lengths",
                text(None, Some(2), Some(3)),
                "éé",
                json!("éé"),
            ),
            (
                "integer",
                Kind::Integer {
                    minimum: None,
                    maximum: None,
                },
                "-42",
                json!(-42),
            ),
            (
                "integer with spaces",
                Kind::Integer {
                    minimum: Some(1.0),
                    maximum: Some(20.0),
                },
                " 20 ",
                json!(20),
            ),
            (
                "number",
                Kind::Number {
                    minimum: None,
                    maximum: None,
                },
                "2.5",
                json!(2.5),
            ),
            (
                "integral number",
                Kind::Number {
                    minimum: None,
                    maximum: None,
                },
                "3",
                json!(3),
            ),
            (
                "integral number written as float",
                Kind::Number {
                    minimum: None,
                    maximum: None,
                },
                "3.0",
                json!(3),
            ),
            (
                "number at its bound",
                Kind::Number {
                    minimum: Some(0.5),
                    maximum: None,
                },
                "0.5",
                json!(0.5),
            ),
            ("true", Kind::Boolean, "true", json!(true)),
            ("YES", Kind::Boolean, "YES", json!(true)),
            ("1", Kind::Boolean, "1", json!(true)),
            ("False", Kind::Boolean, "False", json!(false)),
            ("no", Kind::Boolean, "no", json!(false)),
            ("0", Kind::Boolean, "0", json!(false)),
            ("string choice", choice.clone(), "dev", json!("dev")),
            ("number choice", choice.clone(), "3", json!(3)),
            ("boolean choice", choice.clone(), "true", json!(true)),
            ("null choice", choice.clone(), "null", Value::Null),
            (
                "list of strings",
                Kind::List {
                    item: Box::new(text(None, None, None)),
                },
                "a, b ,c",
                json!(["a", "b", "c"]),
            ),
            (
                "empty list",
                Kind::List {
                    item: Box::new(text(None, None, None)),
                },
                "",
                json!([]),
            ),
            (
                "blank list",
                Kind::List {
                    item: Box::new(text(None, None, None)),
                },
                "  ",
                json!([]),
            ),
            (
                "list of integers",
                Kind::List {
                    item: Box::new(Kind::Integer {
                        minimum: None,
                        maximum: None,
                    }),
                },
                "1,2, 3",
                json!([1, 2, 3]),
            ),
            (
                "list of choices",
                Kind::List {
                    item: Box::new(choice.clone()),
                },
                "dev, 3",
                json!(["dev", 3]),
            ),
            (
                "JSON object",
                Kind::Json,
                r#"{"a": [1, 2]}"#,
                json!({ "a": [1, 2] }),
            ),
            ("JSON string", Kind::Json, r#""x""#, json!("x")),
        ];
        for (case, kind, input, expected) in cases {
            assert_eq!(parse_answer(&kind, input), Ok(expected), "{case}");
        }
    }

    #[test]
    fn parse_answer_errors_name_the_expected_type() {
        let cases: Vec<(&str, Kind, &str, &str)> = vec![
            (
                "text against pattern",
                text(Some("^[a-z]+$"), None, None),
                "Abc",
                "expected a string matching the pattern `^[a-z]+$`, got `Abc`",
            ),
            (
                "text too short",
                text(None, Some(3), None),
                "ab",
                "expected a string of at least 3 characters, got `ab`",
            ),
            (
                "text too long",
                text(Some("^a"), Some(1), Some(2)),
                "aaa",
                "expected a string of 1 to 2 characters matching the pattern `^a`, got `aaa`",
            ),
            (
                "not an integer",
                Kind::Integer {
                    minimum: Some(1.0),
                    maximum: Some(20.0),
                },
                "x",
                "expected an integer between 1 and 20, got `x`",
            ),
            (
                "integer out of bounds",
                Kind::Integer {
                    minimum: Some(1.0),
                    maximum: Some(20.0),
                },
                "21",
                "expected an integer between 1 and 20, got `21`",
            ),
            (
                "fraction for an integer",
                Kind::Integer {
                    minimum: Some(1.0),
                    maximum: None,
                },
                "1.5",
                "expected an integer of at least 1, got `1.5`",
            ),
            (
                "not a number",
                Kind::Number {
                    minimum: None,
                    maximum: Some(0.5),
                },
                "lots",
                "expected a number of at most 0.5, got `lots`",
            ),
            (
                "number below its minimum",
                Kind::Number {
                    minimum: Some(0.5),
                    maximum: None,
                },
                "0.25",
                "expected a number of at least 0.5, got `0.25`",
            ),
            (
                "not finite",
                Kind::Number {
                    minimum: None,
                    maximum: None,
                },
                "NaN",
                "expected a number, got `NaN`",
            ),
            (
                "not a boolean",
                Kind::Boolean,
                "maybe",
                "expected true or false (also yes/no, y/n, 1/0), got `maybe`",
            ),
            (
                "not an option",
                Kind::Choice {
                    options: vec![json!("dev"), json!(3)],
                },
                "prod",
                "expected one of `dev`, `3`, got `prod`",
            ),
            (
                "bad list item",
                Kind::List {
                    item: Box::new(Kind::Integer {
                        minimum: Some(0.0),
                        maximum: None,
                    }),
                },
                "1, -2",
                "item 2 of the list: expected an integer of at least 0, got `-2`",
            ),
        ];
        for (case, kind, input, expected) in cases {
            assert_eq!(
                parse_answer(&kind, input),
                Err(expected.to_owned()),
                "{case}"
            );
        }
        let json_error = parse_answer(&Kind::Json, "{oops").expect_err("not JSON");
        assert!(json_error.starts_with("expected JSON"), "{json_error}");
    }

    #[test]
    fn secret_entries_are_not_echoed_in_errors() {
        let field = Field {
            name: "token".into(),
            title: "token".into(),
            help: None,
            default: None,
            required: true,
            secret: true,
            kind: text(None, Some(10), None),
        };
        let check: Check = Arc::new(|_| Ok(()));
        let error = interpret(&field, "hunter2", &check).expect_err("too short");
        assert!(!error.contains("hunter2"), "{error}");
        assert_eq!(error, "expected a string of at least 10 characters");
    }

    #[test]
    fn entries_are_checked_against_the_whole_property_schema() {
        let schema = json!({
            "properties": {
                "ratio": { "type": "number", "exclusiveMinimum": 0, "maximum": 1 },
                "tags": { "type": "array", "items": { "type": "string" }, "uniqueItems": true },
                "token": { "type": "string", "minLength": 1, "writeOnly": true, "not": { "pattern": "^hunter" } }
            }
        });
        let ask = |name: &str, input: &str| {
            let field = field(&schema, name).expect("defined");
            let check = property_check(&schema, &field);
            interpret(&field, input, &check)
        };
        assert_eq!(ask("ratio", "0.5"), Ok(Some(json!(0.5))));
        assert!(
            ask("ratio", "0").is_err(),
            "exclusive minimum refuses the bound"
        );
        assert_eq!(ask("tags", "a, b"), Ok(Some(json!(["a", "b"]))));
        assert!(ask("tags", "a, a").is_err(), "uniqueItems");
        let secret = ask("token", "hunter2").expect_err("forbidden value");
        assert!(!secret.contains("hunter2"), "{secret}");
    }

    #[test]
    fn empty_entries_take_the_default_skip_optional_ones_and_refuse_required_ones() {
        let check: Check = Arc::new(|_| Ok(()));
        let base = Field {
            name: "n".into(),
            title: "n".into(),
            help: None,
            default: None,
            required: false,
            secret: false,
            kind: Kind::Integer {
                minimum: None,
                maximum: None,
            },
        };
        assert_eq!(interpret(&base, "", &check), Ok(None));
        let with_default = Field {
            default: Some(json!(7)),
            ..base.clone()
        };
        assert_eq!(interpret(&with_default, "", &check), Ok(Some(json!(7))));
        let required = Field {
            required: true,
            ..base
        };
        assert_eq!(
            interpret(&required, "", &check),
            Err("an answer is required".into())
        );
    }

    #[test]
    fn defaults_are_typed_in_a_form_that_parses_back() {
        let cases: Vec<(Kind, Value)> = vec![
            (text(None, None, None), json!("eu-west-1")),
            (
                Kind::Integer {
                    minimum: None,
                    maximum: None,
                },
                json!(3),
            ),
            (
                Kind::Number {
                    minimum: None,
                    maximum: None,
                },
                json!(0.25),
            ),
            (
                Kind::List {
                    item: Box::new(text(None, None, None)),
                },
                json!(["a", "b"]),
            ),
            (
                Kind::List {
                    item: Box::new(Kind::Integer {
                        minimum: None,
                        maximum: None,
                    }),
                },
                json!([1, 2]),
            ),
            (Kind::Json, json!({ "a": "b" })),
            (Kind::Json, json!("text")),
        ];
        for (kind, value) in cases {
            assert_eq!(
                parse_answer(&kind, &typed_form(&kind, &value)),
                Ok(value),
                "{kind:?}"
            );
        }
    }

    /// Which property is asked next, and whether as a required field.
    type Asked = Option<(String, bool)>;

    /// What the case shows, the answers, the skipped names, `ask_optional`, what is asked next.
    type OrderCase = (&'static str, Value, Vec<&'static str>, bool, Asked);

    fn names_asked(schema: &Value, answers: Value, skipped: &[&str], ask_optional: bool) -> Asked {
        let skipped: BTreeSet<String> = skipped.iter().map(|name| (*name).to_owned()).collect();
        next_field(schema, &object(answers), &skipped, ask_optional)
            .map(|field| (field.name, field.required))
    }

    fn asked(name: &str, required: bool) -> Asked {
        Some((name.to_owned(), required))
    }

    #[test]
    fn next_question_follows_the_required_order_then_optional_alphabetically() {
        let schema = json!({
            "type": "object",
            "required": ["zone", "name"],
            "properties": {
                "name": { "type": "string" },
                "zone": { "type": "string" },
                "beta": { "type": "boolean" },
                "alpha": { "type": "string" }
            }
        });
        let cases: Vec<OrderCase> = vec![
            (
                "first required first",
                json!({}),
                vec![],
                false,
                asked("zone", true),
            ),
            (
                "then the next required",
                json!({ "zone": "a" }),
                vec![],
                false,
                asked("name", true),
            ),
            (
                "answered properties are skipped",
                json!({ "name": "n" }),
                vec![],
                false,
                asked("zone", true),
            ),
            (
                "nothing optional without ask_optional",
                json!({ "zone": "a", "name": "n" }),
                vec![],
                false,
                None,
            ),
            (
                "optional ones alphabetically with ask_optional",
                json!({ "zone": "a", "name": "n" }),
                vec![],
                true,
                asked("alpha", false),
            ),
            (
                "skipped optional ones are not asked again",
                json!({ "zone": "a", "name": "n" }),
                vec!["alpha"],
                true,
                asked("beta", false),
            ),
            (
                "all done",
                json!({ "zone": "a", "name": "n", "alpha": "x" }),
                vec!["beta"],
                true,
                None,
            ),
            (
                "required before optional even with ask_optional",
                json!({ "alpha": "x" }),
                vec![],
                true,
                asked("zone", true),
            ),
        ];
        for (case, answers, skipped, ask_optional, expected) in cases {
            assert_eq!(
                names_asked(&schema, answers, &skipped, ask_optional),
                expected,
                "{case}"
            );
        }
    }

    fn environment_schema() -> Value {
        json!({
            "type": "object",
            "required": ["name", "environment"],
            "properties": {
                "name": { "type": "string" },
                "environment": { "enum": ["dev", "prod"] },
                "approvers": { "type": "array", "items": { "type": "string" } },
                "owner": { "type": "string" },
                "notes": { "type": "string" }
            },
            "if": { "properties": { "environment": { "const": "prod" } }, "required": ["environment"] },
            "then": { "required": ["approvers"] },
            "else": { "required": ["owner"] }
        })
    }

    #[test]
    fn a_condition_requires_more_only_once_its_property_is_answered() {
        let schema = environment_schema();
        let cases: Vec<OrderCase> = vec![
            (
                "condition not asked yet",
                json!({}),
                vec![],
                false,
                asked("name", true),
            ),
            (
                "condition property asked before its consequences",
                json!({ "name": "n" }),
                vec![],
                true,
                asked("environment", true),
            ),
            (
                "prod requires approvers",
                json!({ "name": "n", "environment": "prod" }),
                vec![],
                false,
                asked("approvers", true),
            ),
            (
                "else branch: dev requires an owner",
                json!({ "name": "n", "environment": "dev" }),
                vec![],
                false,
                asked("owner", true),
            ),
            (
                "done once the branch is answered",
                json!({ "name": "n", "environment": "prod", "approvers": ["a"] }),
                vec![],
                false,
                None,
            ),
            (
                "a condition's requirement outranks optional ones",
                json!({ "name": "n", "environment": "dev" }),
                vec![],
                true,
                asked("owner", true),
            ),
            (
                "a skipped property is asked again once required",
                json!({ "name": "n", "environment": "dev" }),
                vec!["owner"],
                true,
                asked("owner", true),
            ),
            (
                "the other branch's property becomes an optional field",
                json!({ "name": "n", "environment": "dev", "owner": "o" }),
                vec![],
                true,
                asked("approvers", false),
            ),
        ];
        for (case, answers, skipped, ask_optional, expected) in cases {
            assert_eq!(
                names_asked(&schema, answers, &skipped, ask_optional),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn properties_a_pending_condition_could_require_wait_for_it() {
        let schema = json!({
            "properties": {
                "approvers": { "type": "array", "items": { "type": "string" } },
                "tier": { "enum": ["free", "paid"] }
            },
            "if": { "properties": { "tier": { "const": "paid" } }, "required": ["tier"] },
            "then": { "required": ["approvers"] }
        });
        assert_eq!(
            names_asked(&schema, json!({}), &[], true),
            asked("tier", false)
        );
        assert_eq!(
            names_asked(&schema, json!({ "tier": "paid" }), &[], true),
            asked("approvers", true)
        );
        assert_eq!(
            names_asked(&schema, json!({}), &["tier"], true),
            asked("approvers", false),
            "a skipped condition property decides the condition (it fails here)"
        );
    }

    #[test]
    fn conditions_inside_all_of_are_each_followed() {
        let schema = json!({
            "type": "object",
            "required": ["environment", "public"],
            "properties": {
                "environment": { "enum": ["dev", "prod"] },
                "public": { "type": "boolean" },
                "approvers": { "type": "array", "items": { "type": "string" } },
                "domain": { "type": "string" },
                "waf": { "type": "boolean" }
            },
            "allOf": [
                {
                    "if": { "properties": { "environment": { "const": "prod" } }, "required": ["environment"] },
                    "then": { "required": ["approvers"] }
                },
                {
                    "if": { "properties": { "public": { "const": true } }, "required": ["public"] },
                    "then": {
                        "required": ["domain"],
                        "if": { "properties": { "environment": { "const": "prod" } } },
                        "then": { "required": ["waf"] }
                    }
                }
            ]
        });
        let cases: Vec<(&str, Value, Asked)> = vec![
            (
                "both conditions pending",
                json!({}),
                asked("environment", true),
            ),
            (
                "first condition in allOf order",
                json!({ "environment": "prod", "public": true }),
                asked("approvers", true),
            ),
            (
                "then the second",
                json!({ "environment": "prod", "public": true, "approvers": [] }),
                asked("domain", true),
            ),
            (
                "then the nested condition of the chosen branch",
                json!({ "environment": "prod", "public": true, "approvers": [], "domain": "d" }),
                asked("waf", true),
            ),
            (
                "only the condition that holds",
                json!({ "environment": "dev", "public": true }),
                asked("domain", true),
            ),
            (
                "neither holds",
                json!({ "environment": "dev", "public": false }),
                None,
            ),
        ];
        for (case, answers, expected) in cases {
            assert_eq!(
                names_asked(&schema, answers, &[], false),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn unasked_condition_properties_are_decided_with_their_defaults_at_the_end() {
        let schema = json!({
            "required": ["name"],
            "properties": {
                "name": { "type": "string" },
                "environment": { "enum": ["dev", "prod"], "default": "prod" },
                "approvers": { "type": "array", "items": { "type": "string" } }
            },
            "if": { "properties": { "environment": { "const": "prod" } }, "required": ["environment"] },
            "then": { "required": ["approvers"] }
        });
        assert_eq!(
            names_asked(&schema, json!({ "name": "n" }), &[], false),
            asked("approvers", true)
        );
        assert_eq!(
            names_asked(
                &schema,
                json!({ "name": "n", "environment": "dev" }),
                &[],
                false
            ),
            None
        );
    }

    #[test]
    fn conditions_may_use_definitions_and_dependent_required() {
        let schema = json!({
            "$defs": { "prod": { "const": "prod" } },
            "required": ["environment"],
            "properties": {
                "environment": { "type": "string" },
                "approvers": { "type": "string" },
                "backup": { "type": "boolean" },
                "backup_window": { "type": "string" }
            },
            "if": { "properties": { "environment": { "$ref": "#/$defs/prod" } } },
            "then": { "required": ["approvers"] },
            "dependentRequired": { "backup": ["backup_window"] }
        });
        assert_eq!(
            names_asked(&schema, json!({ "environment": "prod" }), &[], false),
            asked("approvers", true)
        );
        assert_eq!(
            names_asked(&schema, json!({ "environment": "dev" }), &[], false),
            None
        );
        assert_eq!(
            names_asked(
                &schema,
                json!({ "environment": "dev", "backup": true }),
                &[],
                false
            ),
            asked("backup_window", true)
        );
    }

    #[test]
    fn fields_follow_the_conditions_the_answers_satisfy() {
        let schema = environment_schema();
        let listed = |answers: Value| -> Vec<(String, bool)> {
            fields(&schema, &object(answers))
                .into_iter()
                .map(|field| (field.name, field.required))
                .collect()
        };
        let without = listed(json!({ "environment": "dev" }));
        assert!(
            without.iter().all(|(name, _)| name != "approvers"),
            "{without:?}"
        );
        let with = listed(json!({ "environment": "prod" }));
        assert!(with.contains(&("approvers".to_owned(), true)), "{with:?}");
        assert_eq!(with[1], ("environment".to_owned(), true));
        assert!(with.iter().all(|(name, _)| name != "owner"), "{with:?}");
    }

    #[test]
    fn a_required_name_without_a_definition_takes_json() {
        let schema = json!({ "required": ["anything"] });
        let field = next_field(&schema, &Map::new(), &BTreeSet::new(), false).expect("asked");
        assert_eq!(field.kind, Kind::Json);
        assert_eq!(field.title, "anything");
        assert!(field.required);
    }
}
