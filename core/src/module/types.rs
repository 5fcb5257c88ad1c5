//! Terraform type constraints as JSON Schema (draft 2020-12): `string`, `number`, `bool`,
//! `any`, `list`, `set`, `map`, `tuple`, `object` with `optional(T, default)` attributes, and the
//! legacy forms; and a variable's whole schema (nullability, description, default, sensitive).

use super::{literal, object_key_name, render, render_key};
use hcl::expr::FuncCall;
use hcl::{Expression, ObjectKey};
use serde_json::{Map, Value, json};

/// Terraform type constraint expression -> JSON Schema (draft 2020-12).
///
/// `string`, `number`, `bool`, `any`, `list(T)`, `set(T)`, `map(T)`, `tuple([...])` and
/// `object({...})` (with `optional(T)` / `optional(T, default)` attributes) are understood, as are
/// the legacy forms `list`, `map`, `set` and the quoted `"string"`, `"list"`, `"map"`.
///
/// # Errors
///
/// A message naming what is wrong when `expr` is not a valid Terraform type.
pub fn type_schema(expr: &Expression) -> Result<Value, String> {
    match expr {
        Expression::Variable(keyword) => keyword_schema(keyword.as_str()),
        Expression::String(quoted) => match quoted.as_str() {
            "string" => keyword_schema("string"),
            "list" => keyword_schema("list"),
            "map" => keyword_schema("map"),
            other => Err(format!(
                "quoted type `\"{other}\"` is not valid; only the legacy \"string\", \"list\" and \"map\" may be quoted"
            )),
        },
        Expression::FuncCall(call) => constructor_schema(call),
        other => Err(format!(
            "`{}` is not a type; expected a type keyword like `string` or a constructor like `list(string)`",
            render(other)
        )),
    }
}

/// The schema of a bare type keyword (`string`, ..., and legacy `list`, `map`, `set`).
fn keyword_schema(keyword: &str) -> Result<Value, String> {
    match keyword {
        "string" => Ok(json!({"type": "string"})),
        "number" => Ok(json!({"type": "number"})),
        "bool" => Ok(json!({"type": "boolean"})),
        "any" => Ok(json!({})),
        "list" => Ok(list_schema(json!({}))),
        "set" => Ok(set_schema(json!({}))),
        "map" => Ok(map_schema(json!({}))),
        "object" => {
            Err("`object` needs its attribute types, e.g. `object({ name = string })`".to_owned())
        }
        "tuple" => {
            Err("`tuple` needs its element types, e.g. `tuple([string, number])`".to_owned())
        }
        "optional" => Err(
            "`optional(...)` is only valid directly as the type of an object attribute".to_owned(),
        ),
        other => Err(format!("unknown type keyword `{other}`")),
    }
}

fn list_schema(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn set_schema(items: Value) -> Value {
    json!({"type": "array", "items": items, "uniqueItems": true})
}

fn map_schema(values: Value) -> Value {
    json!({"type": "object", "additionalProperties": values})
}

/// The schema of a type constructor call such as `list(string)` or `object({...})`.
fn constructor_schema(call: &FuncCall) -> Result<Value, String> {
    let name = call.name.name.as_str();
    if call.name.is_namespaced() {
        return Err(format!("`{}` is not a type constructor", call.name));
    }
    if call.expand_final {
        return Err(format!(
            "argument expansion (`...`) is not allowed in the type `{name}(...)`"
        ));
    }
    match name {
        "list" | "set" | "map" => {
            let [element] = call.args.as_slice() else {
                return Err(format!(
                    "`{name}(...)` takes exactly one element type, got {} arguments",
                    call.args.len()
                ));
            };
            let element = type_schema(element).map_err(|error| format!("in `{name}`: {error}"))?;
            Ok(match name {
                "list" => list_schema(element),
                "set" => set_schema(element),
                _ => map_schema(element),
            })
        }
        "tuple" => match call.args.as_slice() {
            [Expression::Array(elements)] => {
                let prefix = elements
                    .iter()
                    .enumerate()
                    .map(|(index, element)| {
                        type_schema(element)
                            .map_err(|error| format!("in tuple element {index}: {error}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let count = prefix.len();
                Ok(json!({
                    "type": "array",
                    "prefixItems": prefix,
                    "items": false,
                    "minItems": count,
                    "maxItems": count,
                }))
            }
            _ => Err(
                "`tuple(...)` takes one list of element types, e.g. `tuple([string, number])`"
                    .to_owned(),
            ),
        },
        "object" => match call.args.as_slice() {
            [Expression::Object(attributes)] => object_schema(attributes),
            _ => Err(
                "`object(...)` takes one object of attribute types, e.g. `object({ name = string })`"
                    .to_owned(),
            ),
        },
        "optional" => Err(
            "`optional(...)` is only valid directly as the type of an object attribute".to_owned(),
        ),
        "string" | "number" | "bool" | "any" => {
            Err(format!("`{name}` is a primitive type and takes no arguments"))
        }
        other => Err(format!("unknown type constructor `{other}(...)`")),
    }
}

/// The schema of `object({...})`; attributes typed `optional(...)` are not required.
fn object_schema(attributes: &hcl::Object<ObjectKey, Expression>) -> Result<Value, String> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (key, value) in attributes {
        let Some(name) = object_key_name(key) else {
            return Err(format!(
                "object attribute name `{}` must be an identifier",
                render_key(key)
            ));
        };
        if properties.contains_key(&name) {
            return Err(format!(
                "object attribute `{name}` is declared more than once"
            ));
        }
        let schema = match value {
            Expression::FuncCall(call)
                if !call.name.is_namespaced() && call.name.name.as_str() == "optional" =>
            {
                optional_schema(call)
            }
            other => {
                required.push(name.clone());
                type_schema(other)
            }
        }
        .map_err(|error| format!("in object attribute `{name}`: {error}"))?;
        properties.insert(name, schema);
    }
    required.sort();
    let mut schema = Map::new();
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert(
            "required".into(),
            Value::Array(required.into_iter().map(Value::String).collect()),
        );
    }
    schema.insert("additionalProperties".into(), false.into());
    Ok(Value::Object(schema))
}

/// The schema of an `optional(T)` or `optional(T, default)` attribute type.
fn optional_schema(call: &FuncCall) -> Result<Value, String> {
    if call.expand_final {
        return Err("argument expansion (`...`) is not allowed in `optional(...)`".to_owned());
    }
    let (inner, default) = match call.args.as_slice() {
        [inner] => (inner, None),
        [inner, default] => (inner, Some(default)),
        args => {
            return Err(format!(
                "`optional(...)` takes a type and an optional default, got {} arguments",
                args.len()
            ));
        }
    };
    let mut schema = type_schema(inner)?;
    if let Some(default) = default {
        let default = literal(default).map_err(|error| {
            format!("default of `optional(...)` must be a literal value: {error}")
        })?;
        if let Value::Object(map) = &mut schema {
            map.insert("default".into(), default);
        }
    }
    Ok(schema)
}

/// A variable's schema: its type's schema, accepting null when nullable, with annotations.
pub(super) fn variable_schema(
    type_schema: Value,
    description: &str,
    default: Option<&Value>,
    sensitive: bool,
    nullable: bool,
) -> Value {
    let mut schema = match type_schema {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert("allOf".into(), Value::Array(vec![other]));
            map
        }
    };
    if nullable {
        schema = allow_null(schema);
    }
    if !description.is_empty() {
        schema.insert("description".into(), description.into());
    }
    if let Some(default) = default {
        schema.insert("default".into(), default.clone());
    }
    if sensitive {
        schema.insert("writeOnly".into(), true.into());
    }
    Value::Object(schema)
}

/// Makes a schema also accept JSON null, as tidily as possible.
fn allow_null(mut schema: Map<String, Value>) -> Map<String, Value> {
    if schema.is_empty() {
        return schema;
    }
    match schema.get_mut("type") {
        Some(Value::String(kind)) => {
            let kind = std::mem::take(kind);
            schema.insert("type".into(), json!([kind, "null"]));
            schema
        }
        Some(Value::Array(kinds)) => {
            if !kinds.iter().any(|kind| kind == "null") {
                kinds.push("null".into());
            }
            schema
        }
        _ => {
            let mut wrapped = Map::new();
            wrapped.insert(
                "anyOf".into(),
                json!([Value::Object(schema), {"type": "null"}]),
            );
            wrapped
        }
    }
}
