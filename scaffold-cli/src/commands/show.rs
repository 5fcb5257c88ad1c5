//! `scaffold show ADDRESS[@VERSION]`: a module's inputs and outputs, or a blueprint's inputs,
//! modules, policies and contexts.

use super::split_at_version;
use crate::Output;
use crate::client::Client;
use crate::error::{CliError, Result};
use quarry_core::api;
use quarry_core::version::Version;
use serde_json::Value;

pub async fn run(client: &Client, address: &str, output: Output) -> Result<()> {
    let (address, version) = split_at_version(address);
    if let Some(version) = version {
        Version::parse(version).map_err(|error| CliError::invalid(error.to_string()))?;
    }
    match address.split('/').count() {
        3 => {
            let detail = client.module_detail(address, version).await?;
            match output {
                Output::Json => super::print_json(&detail),
                Output::Text => {
                    show_module(&detail);
                    Ok(())
                }
            }
        }
        2 => {
            let detail = client.blueprint_detail(address, version).await?;
            match output {
                Output::Json => super::print_json(&detail),
                Output::Text => {
                    show_blueprint(&detail);
                    Ok(())
                }
            }
        }
        _ => Err(CliError::invalid(format!(
            "`{address}` is neither a module (namespace/name/system) nor a blueprint (namespace/name)"
        ))),
    }
}

/// A JSON value as a table cell: strings as they are, nothing as nothing, the rest as JSON.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// A deprecated version's notice, when it is one.
fn deprecation_notice(deprecation: Option<&api::Deprecation>) -> Option<String> {
    let deprecation = deprecation?;
    let mut notice = "deprecated".to_owned();
    if let Some(reason) = &deprecation.reason {
        notice.push_str(&format!(": {reason}"));
    }
    if let Some(replacement) = &deprecation.replacement {
        notice.push_str(&format!(" (use {replacement})"));
    }
    Some(notice)
}

fn show_module(detail: &api::ModuleDetail) {
    println!("{} {}", detail.summary.id, detail.summary.description);
    if let Some(notice) = deprecation_notice(detail.deprecation.as_ref()) {
        println!("{notice}");
    }
    println!("versions: {}", detail.versions.join(", "));
    println!("\nInputs:");
    let rows: Vec<Vec<String>> = detail
        .root
        .inputs
        .iter()
        .map(|input| {
            vec![
                input.name.clone(),
                input.type_expr.clone(),
                if input.required {
                    "yes".into()
                } else {
                    format!("no ({})", input.default)
                },
                input.description.clone(),
            ]
        })
        .collect();
    super::print_table(&["NAME", "TYPE", "REQUIRED", "DESCRIPTION"], &rows);
    println!("\nOutputs:");
    let rows: Vec<Vec<String>> = detail
        .root
        .outputs
        .iter()
        .map(|output| vec![output.name.clone(), output.description.clone()])
        .collect();
    super::print_table(&["NAME", "DESCRIPTION"], &rows);
    if !detail.submodules.is_empty() {
        let paths: Vec<&str> = detail
            .submodules
            .iter()
            .map(|submodule| submodule.path.as_str())
            .collect();
        println!("\nSubmodules: {}", paths.join(", "));
    }
}

fn show_blueprint(detail: &api::BlueprintDetail) {
    println!("{} {}", detail.id, detail.description);
    if let Some(notice) = deprecation_notice(detail.deprecation.as_ref()) {
        println!("{notice}");
    }
    println!("versions: {}", detail.versions.join(", "));
    let names: Vec<&String> = detail
        .inputs
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().collect())
        .unwrap_or_default();
    println!("\nInputs:");
    let rows: Vec<Vec<String>> = names
        .into_iter()
        .filter_map(|name| {
            let field = quarry_core::form::field(&detail.inputs, name)?;
            let property = quarry_core::form::property(&detail.inputs, name);
            let kind = match property.and_then(|property| property.get("enum")) {
                Some(Value::Array(options)) => options
                    .iter()
                    .map(|option| cell(Some(option)))
                    .collect::<Vec<_>>()
                    .join("|"),
                _ => cell(property.and_then(|property| property.get("type"))),
            };
            let secret = if field.secret { " (secret)" } else { "" };
            Some(vec![
                field.name.clone(),
                format!("{kind}{secret}"),
                if field.required {
                    "yes".into()
                } else {
                    format!("no ({})", cell(field.default.as_ref()))
                },
                field.help.clone().unwrap_or_default(),
            ])
        })
        .collect();
    super::print_table(&["NAME", "TYPE", "REQUIRED", "DESCRIPTION"], &rows);
    println!("\nModules:");
    let rows: Vec<Vec<String>> = detail
        .modules
        .iter()
        .map(|module| {
            vec![
                module.name.clone(),
                module.source.clone(),
                module.version.clone(),
            ]
        })
        .collect();
    super::print_table(&["NAME", "SOURCE", "VERSION"], &rows);
    println!("\nPolicies:");
    let rows: Vec<Vec<String>> = detail
        .policies
        .iter()
        .map(|policy| {
            vec![
                policy.id.clone(),
                policy.kind.clone(),
                policy.file.clone(),
                policy.when.clone().unwrap_or_default(),
            ]
        })
        .collect();
    super::print_table(&["ID", "TYPE", "FILE", "WHEN"], &rows);
    println!("\nContexts:");
    let rows: Vec<Vec<String>> = detail
        .contexts
        .iter()
        .map(|context| {
            vec![
                context.id.clone(),
                context.file.clone(),
                context.priority.to_string(),
                context.when.clone().unwrap_or_default(),
            ]
        })
        .collect();
    super::print_table(&["ID", "FILE", "PRIORITY", "WHEN"], &rows);
}
