//! `scaffold show ADDRESS[@VERSION]`: a module's inputs and outputs, or a blueprint's inputs,
//! modules, policies and contexts.

use super::split_at_version;
use crate::Output;
use crate::client::Client;
use crate::error::{CliError, Result};
use quarry_core::version::Version;
use serde_json::Value;

pub async fn run(client: &Client, address: &str, output: Output) -> Result<()> {
    let (address, version) = split_at_version(address);
    if let Some(version) = version {
        Version::parse(version).map_err(|error| CliError::invalid(error.to_string()))?;
    }
    let parts = address.split('/').count();
    let path = match (parts, version) {
        (3, None) => format!("/v1/modules/{address}"),
        (3, Some(version)) => format!("/v1/modules/{address}/{version}"),
        (2, None) => format!("/v1/blueprints/{address}"),
        (2, Some(version)) => format!("/v1/blueprints/{address}/{version}"),
        _ => {
            return Err(CliError::invalid(format!(
                "`{address}` is neither a module (namespace/name/system) nor a blueprint (namespace/name)"
            )));
        }
    };
    let detail = client.get_json(&path).await?;
    if output == Output::Json {
        return super::print_json(&detail);
    }
    if parts == 3 {
        show_module(&detail);
    } else {
        show_blueprint(&detail);
    }
    Ok(())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn show_module(detail: &Value) {
    println!("{} {}", text(&detail["id"]), text(&detail["description"]));
    println!(
        "versions: {}",
        detail["versions"]
            .as_array()
            .map(|v| v.iter().map(text).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    );
    println!("\nInputs:");
    let rows: Vec<Vec<String>> = detail["root"]["inputs"]
        .as_array()
        .map(|inputs| {
            inputs
                .iter()
                .map(|input| {
                    vec![
                        text(&input["name"]),
                        text(&input["type"]),
                        if input["required"] == true {
                            "yes".into()
                        } else {
                            format!("no ({})", text(&input["default"]))
                        },
                        text(&input["description"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    super::print_table(&["NAME", "TYPE", "REQUIRED", "DESCRIPTION"], &rows);
    println!("\nOutputs:");
    let rows: Vec<Vec<String>> = detail["root"]["outputs"]
        .as_array()
        .map(|outputs| {
            outputs
                .iter()
                .map(|o| vec![text(&o["name"]), text(&o["description"])])
                .collect()
        })
        .unwrap_or_default();
    super::print_table(&["NAME", "DESCRIPTION"], &rows);
    if let Some(submodules) = detail["submodules"].as_array().filter(|s| !s.is_empty()) {
        println!(
            "\nSubmodules: {}",
            submodules
                .iter()
                .map(|s| text(&s["path"]))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

fn show_blueprint(detail: &Value) {
    println!("{} {}", text(&detail["id"]), text(&detail["description"]));
    println!(
        "versions: {}",
        detail["versions"]
            .as_array()
            .map(|v| v.iter().map(text).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    );
    let schema = &detail["inputs"];
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let secrets = quarry_core::secrets::find(schema).unwrap_or_default();
    println!("\nInputs:");
    let rows: Vec<Vec<String>> = schema["properties"]
        .as_object()
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| {
                    let kind = property["enum"].as_array().map_or_else(
                        || text(&property["type"]),
                        |options| options.iter().map(text).collect::<Vec<_>>().join("|"),
                    );
                    let secret = if secrets.contains(name) {
                        " (secret)"
                    } else {
                        ""
                    };
                    vec![
                        name.clone(),
                        format!("{kind}{secret}"),
                        if required.contains(&name.as_str()) {
                            "yes".into()
                        } else {
                            format!("no ({})", text(&property["default"]))
                        },
                        text(&property["description"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    super::print_table(&["NAME", "TYPE", "REQUIRED", "DESCRIPTION"], &rows);
    let list = |key: &str, fields: &[&str]| -> Vec<Vec<String>> {
        detail[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| fields.iter().map(|f| text(&item[*f])).collect())
                    .collect()
            })
            .unwrap_or_default()
    };
    println!("\nModules:");
    super::print_table(
        &["NAME", "SOURCE", "VERSION"],
        &list("modules", &["name", "source", "version"]),
    );
    println!("\nPolicies:");
    super::print_table(
        &["ID", "TYPE", "FILE", "WHEN"],
        &list("policies", &["id", "type", "file", "when"]),
    );
    println!("\nContexts:");
    super::print_table(
        &["ID", "FILE", "PRIORITY", "WHEN"],
        &list("contexts", &["id", "file", "priority", "when"]),
    );
}
