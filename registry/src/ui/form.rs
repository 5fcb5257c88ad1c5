//! The web side of `core::form`: a blueprint's inputs schema as HTML form fields, and a submitted
//! form read back into answers. Which fields apply, how text becomes a typed value and what is
//! wrong with it are `core::form`'s decisions — the ones `scaffold`'s prompts make — so a message
//! here is word for word the one the CLI prints.
//!
//! A secret's value (`writeOnly`) is read, checked and rendered like any other, but is never put
//! back into a page: its field is always empty when shown again.

use quarry_core::form::{self, Field, Kind};
use quarry_core::inputs::InputError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The prefix of every input's form name (so inputs never clash with the form's own fields).
pub const PREFIX: &str = "input.";

/// One field as the page shows it.
#[derive(Debug, Clone)]
pub struct FormField {
    pub name: String,
    /// The form control's name, `input.<name>`.
    pub control_name: String,
    pub title: String,
    pub help: Option<String>,
    /// What the value must be ("an integer between 1 and 20").
    pub expects: String,
    pub required: bool,
    pub control: Control,
    /// The value shown: what was typed, else the default; always empty for a secret.
    pub value: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Control {
    Text,
    Secret,
    Number {
        min: Option<String>,
        max: Option<String>,
        step: &'static str,
    },
    Choice {
        options: Vec<Choice>,
    },
    /// Comma-separated values.
    List,
    Json,
}

#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub selected: bool,
}

impl FormField {
    pub fn is_secret(&self) -> bool {
        matches!(self.control, Control::Secret)
    }

    pub fn is_json(&self) -> bool {
        matches!(self.control, Control::Json)
    }

    pub fn number(&self) -> Option<(&Option<String>, &Option<String>, &str)> {
        match &self.control {
            Control::Number { min, max, step } => Some((min, max, step)),
            _ => None,
        }
    }

    pub fn choices(&self) -> Option<&[Choice]> {
        match &self.control {
            Control::Choice { options } => Some(options),
            _ => None,
        }
    }

    /// Whether a choice offers "no answer" (an optional field without a default).
    pub fn offers_none(&self) -> bool {
        !self.required && self.value.is_empty()
    }

    /// The id of the field's help and error text, for `aria-describedby`.
    pub fn described_by(&self) -> String {
        format!("help-{}", self.name)
    }
}

fn bound(value: Option<f64>) -> Option<String> {
    value.map(|value| {
        if value.fract() == 0.0 && value.abs() < 1e15 {
            format!("{}", value as i64)
        } else {
            value.to_string()
        }
    })
}

fn control(field: &Field, value: &str) -> Control {
    if field.secret {
        return Control::Secret;
    }
    match &field.kind {
        Kind::Text { .. } => Control::Text,
        Kind::Integer { minimum, maximum } => Control::Number {
            min: bound(*minimum),
            max: bound(*maximum),
            step: "1",
        },
        Kind::Number { minimum, maximum } => Control::Number {
            min: bound(*minimum),
            max: bound(*maximum),
            step: "any",
        },
        Kind::Boolean => Control::Choice {
            options: ["true", "false"]
                .into_iter()
                .map(|option| Choice {
                    value: option.to_owned(),
                    selected: option == value,
                })
                .collect(),
        },
        Kind::Choice { options } => Control::Choice {
            options: options
                .iter()
                .map(|option| {
                    let text = form::display(option);
                    Choice {
                        selected: text == value,
                        value: text,
                    }
                })
                .collect(),
        },
        Kind::List { .. } => Control::List,
        Kind::Json => Control::Json,
    }
}

/// The fields that apply to `answers`, showing what was typed (`texts`) or the defaults, and the
/// errors found.
pub fn fields(
    schema: &Value,
    answers: &Map<String, Value>,
    texts: &BTreeMap<String, String>,
    errors: &BTreeMap<String, String>,
) -> Vec<FormField> {
    form::fields(schema, answers)
        .into_iter()
        .map(|field| {
            let value = if field.secret {
                String::new()
            } else if let Some(text) = texts.get(&field.name) {
                text.clone()
            } else {
                field
                    .default
                    .as_ref()
                    .map(|default| form::typed_form(&field.kind, default))
                    .unwrap_or_default()
            };
            FormField {
                control_name: format!("{PREFIX}{}", field.name),
                title: field.title.clone(),
                help: form::help_text(&field, true),
                expects: form::describe(&field.kind),
                required: field.required,
                control: control(&field, &value),
                error: errors.get(&field.name).cloned(),
                name: field.name,
                value,
            }
        })
        .collect()
}

/// A submitted form's inputs: `input.<name>` → the text typed.
pub fn texts(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .filter_map(|(key, value)| Some((key.strip_prefix(PREFIX)?.to_owned(), value.clone())))
        .collect()
}

/// A form read into answers.
#[derive(Debug, Default)]
pub struct Read {
    pub answers: Map<String, Value>,
    /// Per input, the message `core::form` gives for what was typed.
    pub errors: BTreeMap<String, String>,
}

/// Reads the typed texts into answers, field by field as `scaffold` asks them: an empty entry
/// takes the default or skips an optional field. The fields are decided again until the answers
/// no longer change them (a choice can make another field required).
pub fn read(schema: &Value, texts: &BTreeMap<String, String>) -> Read {
    let mut read = Read::default();
    let mut asked: Vec<String> = Vec::new();
    for _ in 0..8 {
        let fields = form::fields(schema, &read.answers);
        let names: Vec<String> = fields.iter().map(|field| field.name.clone()).collect();
        if names == asked {
            break;
        }
        read = Read::default();
        for field in &fields {
            let text = texts.get(&field.name).map_or("", |text| text.as_str());
            // Text is taken as typed; anything else ignores surrounding blanks, as prompts do.
            let text = match field.kind {
                Kind::Text { .. } if field.secret || !text.trim().is_empty() => text,
                _ => text.trim(),
            };
            let check = form::property_check(schema, field);
            match form::interpret(field, text, &check) {
                Ok(Some(value)) => {
                    read.answers.insert(field.name.clone(), value);
                }
                Ok(None) => {}
                Err(message) => {
                    read.errors.insert(field.name.clone(), message);
                }
            }
        }
        asked = names;
    }
    read
}

/// Sorts a render's problems into those of one input (by the first part of their path) and the
/// rest.
pub fn assign(
    problems: &[InputError],
    errors: &mut BTreeMap<String, String>,
    schema: &Value,
) -> Vec<String> {
    let mut general = Vec::new();
    for problem in problems {
        let input = problem
            .path
            .strip_prefix('/')
            .and_then(|rest| rest.split('/').next())
            .filter(|name| form::property(schema, name).is_some());
        match input {
            Some(name) if !problem.path.starts_with("/modules/") => {
                let entry = errors.entry(name.to_owned()).or_default();
                if !entry.is_empty() {
                    entry.push_str("; ");
                }
                entry.push_str(&problem.message);
            }
            _ => general.push(problem.to_string()),
        }
    }
    general
}

/// The `scaffold new` command line that renders the same stack: every answer that is not a
/// secret and not the default as `--set`, in the form `scaffold` parses back; secrets through
/// their environment variables, never their values.
pub fn command_line(
    registry_url: &str,
    blueprint: &str,
    version: &str,
    schema: &Value,
    answers: &Map<String, Value>,
) -> (String, Vec<String>) {
    let mut line = format!(
        "scaffold --registry {} new {}",
        shell_quote(registry_url),
        shell_quote(&format!("{blueprint}@{version}"))
    );
    let mut secrets = Vec::new();
    for field in form::fields(schema, answers) {
        let Some(value) = answers.get(&field.name) else {
            continue;
        };
        if field.secret {
            secrets.push(format!(
                "SCAFFOLD_INPUT_{}",
                field.name.to_ascii_uppercase().replace('-', "_")
            ));
            continue;
        }
        if field.default.as_ref() == Some(value) {
            continue;
        }
        let text = form::typed_form(&field.kind, value);
        line.push_str(" --set ");
        line.push_str(&shell_quote(&format!("{}={text}", field.name)));
    }
    (line, secrets)
}

/// `text` as one POSIX shell word.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_./:=@,+%^~".contains(&byte));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["name", "environment", "password"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z]+$", "title": "Name"},
                "environment": {"type": "string", "enum": ["dev", "prod"]},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2},
                "approvers": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "password": {"type": "string", "writeOnly": true, "minLength": 8},
            },
            "if": {"properties": {"environment": {"const": "prod"}}, "required": ["environment"]},
            "then": {"required": ["approvers"]},
        })
    }

    fn typed(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn a_choice_reveals_the_fields_it_requires() {
        let dev = read(
            &schema(),
            &typed(&[("name", "web"), ("environment", "dev")]),
        );
        let names = |read: &Read| -> Vec<String> {
            fields(&schema(), &read.answers, &BTreeMap::new(), &BTreeMap::new())
                .into_iter()
                .map(|field| field.name)
                .collect()
        };
        assert!(!names(&dev).contains(&"approvers".to_owned()));
        let prod = read(
            &schema(),
            &typed(&[("name", "web"), ("environment", "prod"), ("password", "")]),
        );
        assert!(names(&prod).contains(&"approvers".to_owned()));
        assert_eq!(
            prod.errors.get("approvers").map(String::as_str),
            Some("an answer is required")
        );
    }

    #[test]
    fn answers_are_typed_and_defaults_filled_as_the_prompts_do() {
        let read = read(
            &schema(),
            &typed(&[
                ("name", "web"),
                ("environment", "prod"),
                ("approvers", "alice, bob"),
                ("password", "correct horse"),
                ("replicas", " "),
            ]),
        );
        assert!(read.errors.is_empty(), "{:?}", read.errors);
        assert_eq!(read.answers["replicas"], json!(2));
        assert_eq!(read.answers["approvers"], json!(["alice", "bob"]));
        assert_eq!(read.answers["password"], json!("correct horse"));
    }

    #[test]
    fn messages_are_the_prompts_and_never_show_a_secret() {
        let read = read(
            &schema(),
            &typed(&[
                ("name", "Web1"),
                ("environment", "dev"),
                ("replicas", "9"),
                ("password", "short-1"),
            ]),
        );
        let field = |name: &str| form::field(&schema(), name).expect("defined");
        let expected = |name: &str, text: &str| {
            let field = field(name);
            form::interpret(&field, text, &form::property_check(&schema(), &field))
                .expect_err("invalid")
        };
        assert_eq!(read.errors["name"], expected("name", "Web1"));
        assert!(read.errors["name"].contains("`Web1`"), "{:?}", read.errors);
        assert_eq!(read.errors["replicas"], expected("replicas", "9"));
        assert!(!read.errors["password"].contains("short-1"));
        // A secret is never shown again, even when it was typed.
        let shown = fields(
            &schema(),
            &read.answers,
            &typed(&[("password", "short-1")]),
            &read.errors,
        );
        let password = shown.iter().find(|f| f.name == "password").expect("shown");
        assert!(password.value.is_empty() && password.is_secret());
    }

    #[test]
    fn the_command_line_sets_every_answer_but_secrets() {
        let read = read(
            &schema(),
            &typed(&[
                ("name", "web"),
                ("environment", "prod"),
                ("approvers", "alice, bob o'neil"),
                ("password", "correct horse"),
            ]),
        );
        let (line, secrets) = command_line(
            "http://registry.test:8080",
            "platform/web",
            "1.0.0",
            &schema(),
            &read.answers,
        );
        assert_eq!(
            line,
            "scaffold --registry http://registry.test:8080 new platform/web@1.0.0 \
             --set name=web --set environment=prod \
             --set 'approvers=alice, bob o'\\''neil'"
        );
        assert!(!line.contains("correct horse"));
        assert_eq!(secrets, ["SCAFFOLD_INPUT_PASSWORD"]);
    }
}
