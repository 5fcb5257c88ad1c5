//! JSON Schema validation (draft 2020-12) of user documents: blueprint inputs, module inputs,
//! manifests. Every error is reported, each as `{path, message}` with a JSON pointer. Remote
//! `$ref`s are never fetched, and patterns run on a linear-time regex engine.

use jsonschema::{Draft, PatternOptions, Validator};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// One validation failure: where (a JSON pointer into the document, `""` for the whole document)
/// and what rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InputError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "(root): {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Compiles a user-supplied schema. A schema that is not valid draft 2020-12 is reported with the
/// path of each problem inside the schema.
pub fn compile(schema: &Value) -> Result<Validator, Vec<InputError>> {
    let meta = jsonschema::draft202012::meta::validator();
    let problems: Vec<InputError> = meta
        .iter_errors(schema)
        .map(|error| InputError {
            path: error.instance_path().to_string(),
            message: error.to_string(),
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_pattern_options(PatternOptions::regex().size_limit(1 << 20))
        .build(schema)
        .map_err(|error| {
            vec![InputError {
                path: error.instance_path().to_string(),
                message: error.to_string(),
            }]
        })
}

/// Schemas compiled by [`compiled`] kept at most; past that the cache starts over (simple, and
/// bounded: each was compiled within one job's memory budget, and a sandbox worker that grows
/// too large retires after its job).
const MAX_COMPILED: usize = 32;

/// Compiled schemas by the digest of their text.
#[derive(Default)]
struct Compiled(std::collections::HashMap<crate::digest::Sha256, Arc<Validator>>);

impl Compiled {
    fn get(&self, key: &crate::digest::Sha256) -> Option<Arc<Validator>> {
        self.0.get(key).cloned()
    }

    fn keep(&mut self, key: crate::digest::Sha256, validator: Arc<Validator>) {
        if self.0.len() >= MAX_COMPILED {
            self.0.clear();
        }
        self.0.insert(key, validator);
    }
}

/// [`compile`], kept for the life of the process by the schema's content: a render checks its
/// inputs against the blueprint's schema and each module's inputs against that module's, and
/// compiling them again for every render (meta-validation, then every pattern's regex) was about
/// two fifths of a render through the API (see docs/PERFORMANCE.md). Errors are not kept.
pub fn compiled(schema: &Value) -> Result<Arc<Validator>, Vec<InputError>> {
    static CACHE: LazyLock<Mutex<Compiled>> = LazyLock::new(Mutex::default);
    compiled_in(&CACHE, schema)
}

fn compiled_in(cache: &Mutex<Compiled>, schema: &Value) -> Result<Arc<Validator>, Vec<InputError>> {
    let key = crate::digest::Sha256::of(schema.to_string().as_bytes());
    let lock = || cache.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(validator) = lock().get(&key) {
        return Ok(validator);
    }
    // Compiled outside the lock: another render's schema need not wait for this one's.
    let validator = Arc::new(compile(schema)?);
    lock().keep(key, validator.clone());
    Ok(validator)
}

/// Every way `document` breaks `validator`, in document order.
pub fn validate(validator: &Validator, document: &Value) -> Vec<InputError> {
    validator
        .iter_errors(document)
        .map(|error| InputError {
            path: error.instance_path().to_string(),
            message: error.to_string(),
        })
        .collect()
}

/// Like [`validate`], but no error shows the value of a secret input (a top-level property named
/// in `secrets`): an error about the secret, about a part of it, or about a value that holds it
/// (the whole inputs object, for a failed `oneOf` say) is given without the value.
pub fn validate_hiding(
    validator: &Validator,
    document: &Value,
    secrets: &[String],
) -> Vec<InputError> {
    let present: Vec<String> = secrets
        .iter()
        .filter(|name| document.get(name.as_str()).is_some())
        .map(|name| format!("/{}", name.replace('~', "~0").replace('/', "~1")))
        .collect();
    validator
        .iter_errors(document)
        .map(|error| {
            let path = error.instance_path().to_string();
            let secret = present.iter().any(|secret| {
                let within = |outer: &str, inner: &str| {
                    inner
                        .strip_prefix(outer)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                };
                within(secret, &path) || within(&path, secret)
            });
            let message = if secret {
                error.masked().to_string()
            } else {
                error.to_string()
            };
            InputError { path, message }
        })
        .collect()
}

/// The deepest nesting of arrays and objects a stored document (a manifest, a context, inputs, an
/// analysis) may have. Every later stage reads deeper documents than this: serde_json and the
/// YAML reader stop at 128, and stored documents are wrapped a level or two deeper.
pub const MAX_DEPTH: usize = 64;

/// How deeply arrays and objects nest in `value` (a scalar is 0, `[]` is 1).
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_schema_compiled_once_is_kept_by_its_content_and_a_broken_one_is_not() {
        let cache = Mutex::default();
        let names = json!({ "type": "string", "pattern": "^[a-z]+$" });
        let first = compiled_in(&cache, &names).expect("valid");
        let again = compiled_in(&cache, &names.clone()).expect("valid");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same schema is compiled once"
        );
        assert!(first.is_valid(&json!("web")) && !first.is_valid(&json!("Web")));

        let numbers = compiled_in(&cache, &json!({ "type": "integer" })).expect("valid");
        assert!(!Arc::ptr_eq(&first, &numbers));
        assert!(numbers.is_valid(&json!(3)) && !numbers.is_valid(&json!("web")));

        let broken = json!({ "type": "string", "pattern": "(" });
        assert!(compiled_in(&cache, &broken).is_err());
        assert!(compiled_in(&cache, &broken).is_err());
        let kept = cache.lock().unwrap().0.len();
        assert_eq!(kept, 2, "errors are not kept");
    }

    #[test]
    fn the_kept_schemas_are_bounded() {
        let cache = Mutex::default();
        for length in 0..MAX_COMPILED * 3 {
            compiled_in(&cache, &json!({ "type": "string", "maxLength": length })).expect("valid");
            let kept = cache.lock().unwrap().0.len();
            assert!((1..=MAX_COMPILED).contains(&kept), "{kept} kept");
        }
    }

    #[test]
    fn reports_every_error_with_its_path() {
        let schema = json!({
            "type": "object",
            "required": ["name", "size"],
            "properties": {
                "name": { "type": "string", "pattern": "^[a-z]+$" },
                "size": { "enum": ["s", "m"] },
                "count": { "type": "integer" }
            }
        });
        let validator = compile(&schema).expect("valid schema");
        let errors = validate(&validator, &json!({ "name": "Bad1", "count": "x" }));
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(paths.contains(&"/name"));
        assert!(paths.contains(&"/count"));
        assert!(
            paths.contains(&""),
            "missing `size` is reported on the object"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("\"size\" is a required property"))
        );
    }

    #[test]
    fn invalid_schemas_are_refused_with_the_path_inside_the_schema() {
        let errors =
            compile(&json!({ "type": "object", "properties": { "x": { "type": "strin" } } }))
                .expect_err("invalid type name");
        assert!(
            errors.iter().any(|e| e.path == "/properties/x/type"),
            "{errors:?}"
        );
        let errors = compile(&json!({ "type": "string", "pattern": "(" })).expect_err("bad regex");
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn secret_values_are_hidden_in_errors() {
        let schema = json!({ "properties": { "key": { "type": "string", "minLength": 20 } } });
        let validator = compile(&schema).expect("valid");
        let errors = validate_hiding(&validator, &json!({ "key": "hunter2" }), &["key".into()]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "/key");
        assert!(
            !errors[0].message.contains("hunter2"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn errors_about_a_value_holding_a_secret_hide_it_too() {
        let schema = json!({
            "properties": { "key": { "type": "string" }, "n": { "type": "integer" } },
            "oneOf": [{ "required": ["a"] }, { "required": ["b"] }]
        });
        let validator = compile(&schema).expect("valid");
        let inputs = json!({ "key": "hunter2", "n": "x" });
        let errors = validate_hiding(&validator, &inputs, &["key".into()]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors.iter().all(|e| !e.message.contains("hunter2")),
            "{errors:?}"
        );
        // An error about another input keeps its value.
        assert!(
            errors
                .iter()
                .any(|e| e.path == "/n" && e.message.contains("\"x\"")),
            "{errors:?}"
        );
    }

    #[test]
    fn depth_counts_nesting() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!([])), 1);
        assert_eq!(depth(&json!({ "a": [1, { "b": [] }] })), 4);
    }

    #[test]
    fn remote_references_are_not_fetched() {
        let schema = json!({ "$ref": "https://example.com/schema.json" });
        assert!(compile(&schema).is_err());
    }
}
