//! `scaffold search QUERY`: modules and blueprints matching the text.

use crate::Output;
use crate::client::Client;
use crate::error::Result;
use serde_json::{Value, json};

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub async fn run(client: &Client, query: &str, output: Output) -> Result<()> {
    let q = encode(query);
    let modules = client
        .get_json(&format!("/v1/modules/search?q={q}&limit=100"))
        .await?;
    let blueprints = client
        .get_json(&format!("/v1/blueprints/search?q={q}&limit=100"))
        .await?;
    let list = |value: &Value, key: &str| value[key].as_array().cloned().unwrap_or_default();
    let (modules, blueprints) = (list(&modules, "modules"), list(&blueprints, "blueprints"));
    if output == Output::Json {
        return super::print_json(&json!({ "modules": modules, "blueprints": blueprints }));
    }
    if modules.is_empty() && blueprints.is_empty() {
        println!("nothing matches `{query}`");
        return Ok(());
    }
    let text = |value: &Value, key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let mut rows = Vec::new();
    for blueprint in &blueprints {
        rows.push(vec![
            "blueprint".into(),
            format!(
                "{}/{}",
                text(blueprint, "namespace"),
                text(blueprint, "name")
            ),
            text(blueprint, "version"),
            text(blueprint, "description"),
        ]);
    }
    for module in &modules {
        rows.push(vec![
            "module".into(),
            format!(
                "{}/{}/{}",
                text(module, "namespace"),
                text(module, "name"),
                text(module, "provider")
            ),
            text(module, "version"),
            text(module, "description"),
        ]);
    }
    super::print_table(&["KIND", "ADDRESS", "LATEST", "DESCRIPTION"], &rows);
    Ok(())
}
