//! `.scaffold/answers.json`: what a stack was rendered from — the blueprint version (and the
//! constraint asked for), the inputs (never secrets) and the module versions resolved — so that
//! `scaffold update`, `diff` and `outdated` can render it again or compare it. The format is
//! `schemas/answers.schema.json`; render writes it, and `scaffold new --values` reads it back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a stack keeps its answers, relative to the stack.
pub const PATH: &str = ".scaffold/answers.json";

/// The format's `apiVersion` and `kind`.
pub const API_VERSION: &str = "quarry.dev/v1";
pub const KIND: &str = "Answers";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub blueprint: BlueprintUsed,
    /// The inputs as validated, defaults filled in, secrets left out.
    pub inputs: Map<String, Value>,
    pub modules: Vec<ModuleUsed>,
    /// The stack's identity in a registry's stack inventory: given when the stack is first
    /// written for a registry that keeps one, and kept by every update after. A render leaves it
    /// out (renders are deterministic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackIdentity>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackIdentity {
    /// 32 lowercase hex digits, random: see [`crate::inventory::check_id`].
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueprintUsed {
    /// `namespace/name`.
    pub address: String,
    /// What the user asked for (`~> 1.2`), or the exact version when they asked for none.
    pub constraint: String,
    pub version: String,
    pub archive_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleUsed {
    /// The module's name in the blueprint's manifest.
    pub name: String,
    /// `namespace/name/system[//subdir]`.
    pub source: String,
    pub constraint: String,
    pub version: String,
    pub archive_sha256: String,
}

impl Answers {
    /// Reads an `answers.json`; the error names what does not fit.
    pub fn parse(text: &str) -> Result<Self, String> {
        let answers: Self = serde_json::from_str(text).map_err(|error| error.to_string())?;
        if answers.api_version != API_VERSION || answers.kind != KIND {
            return Err(format!(
                "expected apiVersion `{API_VERSION}` and kind `{KIND}`, found `{}` and `{}`",
                answers.api_version, answers.kind
            ));
        }
        Ok(answers)
    }

    /// An `answers.json` text (as a render writes it) with the stack's identity set to `id`;
    /// `None` when the text is not an answers file.
    pub fn with_identity(text: &[u8], id: &str) -> Option<Vec<u8>> {
        let mut document: Value = serde_json::from_slice(text).ok()?;
        document
            .as_object_mut()?
            .insert("stack".into(), serde_json::json!({ "id": id }));
        let text = serde_json::to_string_pretty(&document).ok()? + "\n";
        Some(text.into_bytes())
    }

    /// Whether a document (e.g. a `--values` file) is an answers file rather than plain inputs.
    pub fn is_answers(document: &Value) -> bool {
        document.get("kind").and_then(Value::as_str) == Some(KIND)
            && document.get("apiVersion").is_some()
    }
}
