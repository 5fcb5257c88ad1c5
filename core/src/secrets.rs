//! Which inputs of a blueprint are secrets, by JSON Schema semantics: a top-level property is a
//! secret when `writeOnly: true` holds anywhere on its resolved schema — directly, through a
//! `$ref` chain, or in an `allOf`/`anyOf`/`oneOf`/`not`/`if`/`then`/`else` branch that applies to
//! the same value — wherever the property itself is declared (the top-level `properties`, or a
//! branch of the root schema, such as `then: {properties: …}`).
//!
//! A secret is replaced by a Terraform variable reference when a stack is rendered, so only whole
//! top-level inputs can be secrets. A `writeOnly` deeper inside an input (an object's property, an
//! array's items) or on inputs that have no name (`additionalProperties`, `patternProperties`) is
//! refused with the path of the keyword: such a value could not be kept out of the files.

use crate::inputs::InputError;
use serde_json::Value;
use std::collections::BTreeSet;

/// How deep `$ref` chains and nested branches are followed; a schema that goes further is
/// refused rather than half-read.
const MAX_DEPTH: usize = 32;

/// Keywords whose value is one subschema that applies to the same value as its parent.
const SAME_VALUE_ONE: [&str; 4] = ["not", "if", "then", "else"];
/// Keywords whose value is an array of subschemas that apply to the same value.
const SAME_VALUE_MANY: [&str; 3] = ["allOf", "anyOf", "oneOf"];
/// Keywords whose value is a map of subschemas that apply to the same value.
const SAME_VALUE_MAP: [&str; 1] = ["dependentSchemas"];
/// Keywords whose subschemas apply to a part of the value (a property, an item, a key).
const INNER_ONE: [&str; 6] = [
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "items",
    "contains",
    "unevaluatedItems",
];
const INNER_MANY: [&str; 1] = ["prefixItems"];
const INNER_MAP: [&str; 2] = ["properties", "patternProperties"];

fn is_write_only(schema: &Value) -> bool {
    schema.get("writeOnly") == Some(&Value::Bool(true))
}

/// The target of a `$ref` into the same document (`#/$defs/x`, `#`), if any.
fn local_ref<'a>(root: &'a Value, schema: &Value) -> Option<(&'a Value, String)> {
    let reference = schema.get("$ref")?.as_str()?;
    let pointer = reference.strip_prefix('#')?;
    let pointer = percent_decode(pointer);
    root.pointer(&pointer).map(|target| (target, pointer))
}

/// JSON pointers in `$ref` URIs may be percent-encoded (`%24defs`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && index + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[index + 1..index + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

fn child_path(path: &str, key: &str) -> String {
    let escaped = key.replace('~', "~0").replace('/', "~1");
    format!("{path}/{escaped}")
}

/// Every subschema that applies to the same value as `schema` (itself included), following local
/// `$ref`s, each with its path. Fails when the schema nests deeper than [`MAX_DEPTH`].
fn same_value(
    root: &Value,
    schema: &Value,
    path: &str,
    depth: usize,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<(Value, String)>,
) -> Result<(), InputError> {
    if depth > MAX_DEPTH {
        return Err(InputError {
            path: path.to_owned(),
            message: format!(
                "the inputs schema nests `$ref`s and branches more than {MAX_DEPTH} levels deep"
            ),
        });
    }
    if !schema.is_object() {
        return Ok(());
    }
    out.push((schema.clone(), path.to_owned()));
    if let Some((target, pointer)) = local_ref(root, schema)
        && seen.insert(pointer.clone())
    {
        same_value(root, target, &pointer, depth + 1, seen, out)?;
    }
    for key in SAME_VALUE_ONE {
        if let Some(child) = schema.get(key) {
            same_value(root, child, &child_path(path, key), depth + 1, seen, out)?;
        }
    }
    for key in SAME_VALUE_MANY {
        if let Some(Value::Array(items)) = schema.get(key) {
            for (index, child) in items.iter().enumerate() {
                let at = format!("{}/{index}", child_path(path, key));
                same_value(root, child, &at, depth + 1, seen, out)?;
            }
        }
    }
    for key in SAME_VALUE_MAP {
        if let Some(Value::Object(map)) = schema.get(key) {
            for (name, child) in map {
                let at = child_path(&child_path(path, key), name);
                same_value(root, child, &at, depth + 1, seen, out)?;
            }
        }
    }
    Ok(())
}

/// The path of a `writeOnly: true` inside the parts of a value (`properties`, `items`, …) that
/// `schema` describes, following local `$ref`s, or `None`.
fn inner_write_only(
    root: &Value,
    schema: &Value,
    path: &str,
    depth: usize,
    seen: &mut BTreeSet<String>,
) -> Option<String> {
    if depth > MAX_DEPTH || !schema.is_object() {
        return None;
    }
    let mut children: Vec<(&Value, String)> = Vec::new();
    for key in INNER_ONE {
        if let Some(child) = schema.get(key) {
            children.push((child, child_path(path, key)));
        }
    }
    for key in INNER_MANY {
        if let Some(Value::Array(items)) = schema.get(key) {
            for (index, child) in items.iter().enumerate() {
                children.push((child, format!("{}/{index}", child_path(path, key))));
            }
        }
    }
    for key in INNER_MAP {
        if let Some(Value::Object(map)) = schema.get(key) {
            for (name, child) in map {
                children.push((child, child_path(&child_path(path, key), name)));
            }
        }
    }
    for (child, at) in children {
        if let Some(found) = anywhere(root, child, &at, depth + 1, seen) {
            return Some(found);
        }
    }
    // The same-value branches of this schema describe the parts too.
    let mut same = Vec::new();
    if same_value(root, schema, path, depth, &mut seen.clone(), &mut same).is_ok() {
        for (branch, at) in same.iter().skip(1) {
            if let Some(found) = inner_write_only(root, branch, at, depth + 1, seen) {
                return Some(found);
            }
        }
    }
    None
}

/// The path of a `writeOnly: true` anywhere in `schema` or its subschemas, or `None`.
fn anywhere(
    root: &Value,
    schema: &Value,
    path: &str,
    depth: usize,
    seen: &mut BTreeSet<String>,
) -> Option<String> {
    if depth > MAX_DEPTH || !schema.is_object() {
        return None;
    }
    let mut same = Vec::new();
    let _ = same_value(root, schema, path, depth, seen, &mut same);
    for (branch, at) in &same {
        if is_write_only(branch) {
            return Some(at.clone());
        }
    }
    same.iter()
        .find_map(|(branch, at)| inner_write_only(root, branch, at, depth + 1, seen))
}

/// The top-level inputs that are secrets, in schema order without repeats; or every place a
/// `writeOnly` cannot be honoured, each with its path in the inputs schema.
pub fn find(schema: &Value) -> Result<Vec<String>, Vec<InputError>> {
    let mut problems = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut levels = Vec::new();
    if let Err(problem) = same_value(schema, schema, "", 0, &mut BTreeSet::new(), &mut levels) {
        return Err(vec![problem]);
    }
    let refuse = |path: String, message: &str| InputError {
        path,
        message: message.to_owned(),
    };
    for (level, path) in &levels {
        if is_write_only(level) {
            problems.push(refuse(
                path.clone(),
                "`writeOnly` on the inputs object itself: only named top-level inputs can be secrets",
            ));
        }
        if let Some(Value::Object(properties)) = level.get("properties") {
            for (name, property) in properties {
                let at = child_path(&child_path(path, "properties"), name);
                let mut branches = Vec::new();
                if let Err(problem) = same_value(
                    schema,
                    property,
                    &at,
                    1,
                    &mut BTreeSet::new(),
                    &mut branches,
                ) {
                    problems.push(problem);
                    continue;
                }
                if branches.iter().any(|(branch, _)| is_write_only(branch)) {
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                    continue;
                }
                if let Some(inner) = branches.iter().find_map(|(branch, branch_at)| {
                    inner_write_only(schema, branch, branch_at, 2, &mut BTreeSet::new())
                }) {
                    problems.push(InputError {
                        path: inner,
                        message: format!(
                            "`writeOnly` inside input `{name}`: only whole top-level inputs can be secrets (a nested secret would be written into the stack); make it an input of its own"
                        ),
                    });
                }
            }
        }
        let mut unnamed: Vec<(&Value, String)> = [
            "additionalProperties",
            "unevaluatedProperties",
            "propertyNames",
        ]
        .into_iter()
        .filter_map(|key| Some((level.get(key)?, child_path(path, key))))
        .collect();
        if let Some(Value::Object(patterns)) = level.get("patternProperties") {
            for (pattern, child) in patterns {
                unnamed.push((
                    child,
                    child_path(&child_path(path, "patternProperties"), pattern),
                ));
            }
        }
        for (child, at) in unnamed {
            if let Some(found) = anywhere(schema, child, &at, 1, &mut BTreeSet::new()) {
                problems.push(refuse(
                    found,
                    "`writeOnly` on inputs without a name: only named top-level inputs can be secrets",
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(names)
    } else {
        Err(problems)
    }
}

/// The Terraform type a secret's variable is declared with: from the one JSON type its schema
/// allows, else `any`.
pub fn terraform_type(schema: &Value, name: &str) -> &'static str {
    let mut levels = Vec::new();
    let _ = same_value(schema, schema, "", 0, &mut BTreeSet::new(), &mut levels);
    let mut types = BTreeSet::new();
    for (level, _) in &levels {
        let Some(property) = level.get("properties").and_then(|p| p.get(name)) else {
            continue;
        };
        let mut branches = Vec::new();
        let _ = same_value(schema, property, "", 1, &mut BTreeSet::new(), &mut branches);
        for (branch, _) in &branches {
            match branch.get("type") {
                Some(Value::String(kind)) => {
                    types.insert(kind.clone());
                }
                Some(Value::Array(kinds)) => {
                    types.extend(
                        kinds
                            .iter()
                            .filter_map(Value::as_str)
                            .filter(|kind| *kind != "null")
                            .map(str::to_owned),
                    );
                }
                _ => {}
            }
        }
    }
    let kinds: Vec<&str> = types.iter().map(String::as_str).collect();
    match kinds.as_slice() {
        ["string"] => "string",
        ["integer"] | ["number"] | ["integer", "number"] => "number",
        ["boolean"] => "bool",
        _ => "any",
    }
}

/// The inputs schema with its secrets no longer required: what a render that never has the
/// secrets' values checks the other inputs against (`scaffold update` and `diff` render again
/// from `answers.json`, which never records them). Templates still see the references and
/// `secrets.tf` still declares the variables, so the files are the ones a render with the values
/// writes. Only the inputs object's own levels lose the names (its `required`, and those of its
/// `allOf`/`anyOf`/`oneOf`/`if`/`then`/`else` branches and definitions), never a nested object's.
pub fn not_required(schema: &Value) -> Value {
    let secrets = find(schema).unwrap_or_default();
    let mut schema = schema.clone();
    if !secrets.is_empty() {
        drop_required(&mut schema, &secrets, 0);
    }
    schema
}

fn drop_required(level: &mut Value, secrets: &[String], depth: usize) {
    let Some(object) = level.as_object_mut().filter(|_| depth <= MAX_DEPTH) else {
        return;
    };
    if let Some(Value::Array(required)) = object.get_mut("required") {
        required.retain(|name| {
            !name
                .as_str()
                .is_some_and(|name| secrets.iter().any(|s| s == name))
        });
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = object.get_mut(key) {
            for branch in branches {
                drop_required(branch, secrets, depth + 1);
            }
        }
    }
    for key in ["if", "then", "else"] {
        if let Some(branch) = object.get_mut(key) {
            drop_required(branch, secrets, depth + 1);
        }
    }
    for key in ["$defs", "definitions"] {
        if let Some(Value::Object(definitions)) = object.get_mut(key) {
            for definition in definitions.values_mut() {
                drop_required(definition, secrets, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets(schema: Value) -> Vec<String> {
        find(&schema).expect("no refused secrets")
    }

    fn refused(schema: Value) -> Vec<String> {
        match find(&schema) {
            Ok(names) => panic!("{schema} was accepted, with secrets {names:?}"),
            Err(problems) => problems.into_iter().map(|problem| problem.path).collect(),
        }
    }

    #[test]
    fn a_secret_is_found_wherever_its_schema_says_write_only() {
        let cases = [
            json!({ "properties": { "s": { "type": "string", "writeOnly": true } } }),
            json!({ "$defs": { "secret": { "type": "string", "writeOnly": true } },
                    "properties": { "s": { "$ref": "#/$defs/secret" } } }),
            json!({ "$defs": { "a": { "$ref": "#/$defs/b" }, "b": { "writeOnly": true } },
                    "properties": { "s": { "$ref": "#/$defs/a" } } }),
            json!({ "properties": { "s": { "allOf": [{ "type": "string" }, { "writeOnly": true }] } } }),
            json!({ "properties": { "s": { "anyOf": [{ "writeOnly": true }, { "type": "null" }] } } }),
            json!({ "properties": { "s": { "oneOf": [{ "minLength": 3, "writeOnly": true }] } } }),
            json!({ "properties": { "s": { "if": { "minLength": 1 }, "then": { "writeOnly": true } } } }),
            json!({ "properties": { "e": { "type": "string" } },
                    "if": { "properties": { "e": { "const": "prod" } } },
                    "then": { "properties": { "s": { "writeOnly": true } } } }),
            json!({ "allOf": [{ "properties": { "s": { "writeOnly": true } } }] }),
            json!({ "$defs": { "base": { "properties": { "s": { "writeOnly": true } } } },
                    "$ref": "#/$defs/base" }),
            json!({ "properties": { "s": { "$ref": "#/%24defs/x" } }, "$defs": { "x": { "writeOnly": true } } }),
        ];
        for schema in cases {
            assert_eq!(secrets(schema.clone()), ["s"], "{schema}");
        }
    }

    #[test]
    fn nothing_else_is_a_secret() {
        let schema = json!({
            "properties": {
                "a": { "type": "string", "description": "writeOnly" },
                "b": { "default": { "writeOnly": true } },
                "c": { "writeOnly": false },
                "d": { "enum": [{ "writeOnly": true }] }
            },
            "$defs": { "unused": { "writeOnly": true } }
        });
        assert!(secrets(schema).is_empty());
    }

    #[test]
    fn nested_and_unnamed_secrets_are_refused_with_their_path() {
        assert_eq!(
            refused(json!({ "properties": { "db": { "type": "object",
                "properties": { "password": { "writeOnly": true } } } } })),
            ["/properties/db/properties/password"]
        );
        assert_eq!(
            refused(
                json!({ "properties": { "keys": { "type": "array", "items": { "writeOnly": true } } } })
            ),
            ["/properties/keys/items"]
        );
        assert_eq!(
            refused(
                json!({ "$defs": { "creds": { "properties": { "token": { "writeOnly": true } } } },
                "properties": { "c": { "$ref": "#/$defs/creds" } } })
            ),
            ["/$defs/creds/properties/token"]
        );
        assert_eq!(
            refused(
                json!({ "properties": { "c": { "anyOf": [{ "items": [{ "writeOnly": true }] }, { "prefixItems": [{ "writeOnly": true }] }] } } })
            ),
            ["/properties/c/anyOf/1/prefixItems/0"]
        );
        assert_eq!(
            refused(json!({ "additionalProperties": { "writeOnly": true } })),
            ["/additionalProperties"]
        );
        assert_eq!(
            refused(json!({ "patternProperties": { "^k": { "writeOnly": true } } })),
            ["/patternProperties/^k"]
        );
        assert_eq!(refused(json!({ "writeOnly": true })), [""]);
    }

    #[test]
    fn reference_cycles_end() {
        let schema = json!({
            "$defs": { "node": { "properties": { "next": { "$ref": "#/$defs/node" } } } },
            "properties": { "list": { "$ref": "#/$defs/node" }, "s": { "$ref": "#" } }
        });
        assert!(secrets(schema).is_empty());
    }

    #[test]
    fn a_secret_is_declared_with_its_type() {
        let schema = json!({ "properties": {
            "a": { "type": "string", "writeOnly": true },
            "b": { "type": "integer", "writeOnly": true },
            "c": { "allOf": [{ "type": "boolean" }], "writeOnly": true },
            "d": { "writeOnly": true }
        } });
        let types: Vec<&str> = ["a", "b", "c", "d"]
            .iter()
            .map(|name| terraform_type(&schema, name))
            .collect();
        assert_eq!(types, ["string", "number", "bool", "any"]);
    }

    #[test]
    fn secrets_are_no_longer_required_wherever_the_inputs_require_them() {
        let schema = json!({
            "type": "object",
            "required": ["name", "password"],
            "properties": {
                "name": { "type": "string" },
                "password": { "type": "string", "writeOnly": true },
                "token": { "$ref": "#/$defs/secret" },
                "nested": { "type": "object", "required": ["password"] }
            },
            "$defs": { "secret": { "type": "string", "writeOnly": true } },
            "if": { "properties": { "name": { "const": "prod" } } },
            "then": { "required": ["token"] },
            "allOf": [{ "required": ["password", "name"] }]
        });
        let relaxed = not_required(&schema);
        assert_eq!(relaxed["required"], json!(["name"]));
        assert_eq!(relaxed["then"]["required"], json!([]));
        assert_eq!(relaxed["allOf"][0]["required"], json!(["name"]));
        // A nested object's own `password` is another property: untouched.
        assert_eq!(
            relaxed["properties"]["nested"]["required"],
            json!(["password"])
        );
        // Still secrets: templates see references, answers leave them out.
        assert_eq!(find(&relaxed).unwrap(), find(&schema).unwrap());
    }
}
