//! The format's contracts, `schemas/*.json` at the repository root, embedded at build time so the
//! code and the documentation can never disagree.

use jsonschema::Validator;
use serde_json::Value;
use std::sync::OnceLock;

pub const BLUEPRINT: &str = include_str!("../../schemas/blueprint.schema.json");
pub const STACK: &str = include_str!("../../schemas/stack.schema.json");
pub const CONTEXT: &str = include_str!("../../schemas/context.schema.json");
pub const ANSWERS: &str = include_str!("../../schemas/answers.schema.json");

fn compiled(cell: &'static OnceLock<Validator>, text: &str) -> &'static Validator {
    cell.get_or_init(|| {
        let schema: Value = serde_json::from_str(text).expect("embedded schemas are valid JSON");
        crate::inputs::compile(&schema).expect("embedded schemas are valid JSON Schemas")
    })
}

/// `blueprint.yaml`'s schema.
pub fn blueprint() -> &'static Validator {
    static CELL: OnceLock<Validator> = OnceLock::new();
    compiled(&CELL, BLUEPRINT)
}

/// The rendered `stack.yaml`'s schema.
pub fn stack() -> &'static Validator {
    static CELL: OnceLock<Validator> = OnceLock::new();
    compiled(&CELL, STACK)
}

/// `contexts/*.yaml`'s schema.
pub fn context() -> &'static Validator {
    static CELL: OnceLock<Validator> = OnceLock::new();
    compiled(&CELL, CONTEXT)
}

/// `.scaffold/answers.json`'s schema.
pub fn answers() -> &'static Validator {
    static CELL: OnceLock<Validator> = OnceLock::new();
    compiled(&CELL, ANSWERS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_embedded_schema_compiles() {
        for (name, text) in [
            ("blueprint", super::BLUEPRINT),
            ("stack", super::STACK),
            ("context", super::CONTEXT),
            ("answers", super::ANSWERS),
        ] {
            let schema: serde_json::Value = serde_json::from_str(text).expect(name);
            assert!(
                schema["$id"]
                    .as_str()
                    .is_some_and(|id| id.ends_with(".schema.json")),
                "{name}"
            );
            crate::inputs::compile(&schema).unwrap_or_else(|errors| panic!("{name}: {errors:?}"));
        }
    }
}
