//! `scaffold validate DIR`: the checks the registry makes at publish, run locally. A directory
//! with a `blueprint.yaml` is a blueprint; any other is a module.

use crate::Output;
use crate::error::{CliError, Result};
use quarry_core::{archive, blueprint, inputs, module};
use serde_json::{Value, json};
use std::path::Path;

pub fn run(dir: &Path, values: Option<&Path>, output: Output) -> Result<()> {
    if !dir.is_dir() {
        return Err(CliError::invalid(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let report = if dir.join(blueprint::MANIFEST).is_file() {
        validate_blueprint(dir, values)?
    } else {
        if values.is_some() {
            return Err(CliError::invalid(
                "--values applies to blueprints; this directory has no blueprint.yaml",
            ));
        }
        validate_module(dir)?
    };
    match output {
        Output::Json => super::print_json(&report),
        Output::Text => {
            println!(
                "{} is valid: {}",
                dir.display(),
                report["summary"].as_str().unwrap_or_default()
            );
            Ok(())
        }
    }
}

/// The blueprint in `dir`, read and checked; every problem is listed in the error.
pub(super) fn checked_blueprint(dir: &Path) -> Result<blueprint::Blueprint> {
    let files = blueprint::load_dir(dir)
        .map_err(|error| CliError::invalid(format!("{}: {error}", dir.display())))?;
    blueprint::check(files).map_err(|problems| {
        CliError::invalid(format!(
            "{} has {} problem(s):\n  {}",
            dir.display(),
            problems.len(),
            quarry_core::lines(problems.iter())
        ))
    })
}

fn validate_blueprint(dir: &Path, values: Option<&Path>) -> Result<Value> {
    let checked = checked_blueprint(dir)?;
    if let Some(values) = values {
        let answers = super::new::gather(&checked.manifest.inputs, Some(values), &[])?;
        let validator = inputs::compile(&checked.manifest.inputs)
            .map_err(|errors| CliError::invalid(quarry_core::lines(errors.iter())))?;
        let errors = inputs::validate(&validator, &Value::Object(answers));
        if !errors.is_empty() {
            return Err(CliError::invalid(format!(
                "{} does not fit the inputs schema:\n  {}",
                values.display(),
                quarry_core::lines(errors.iter())
            )));
        }
    }
    let manifest = &checked.manifest;
    Ok(json!({
        "kind": "blueprint",
        "address": format!("{}/{}", checked.namespace, checked.name),
        "modules": manifest.modules.len(),
        "policies": manifest.policies.len(),
        "contexts": manifest.contexts.len(),
        "summary": format!(
            "blueprint {}/{} with {} module(s), {} polic(ies), {} context(s)",
            checked.namespace, checked.name, manifest.modules.len(), manifest.policies.len(), manifest.contexts.len()
        ),
    }))
}

fn validate_module(dir: &Path) -> Result<Value> {
    let packed = archive::pack_dir(dir)
        .map_err(|error| CliError::invalid(format!("{}: {error}", dir.display())))?;
    let inspected = archive::inspect_module(&packed, &archive::Limits::default())
        .map_err(|error| CliError::invalid(format!("{}: {error}", dir.display())))?;
    let analysis =
        module::analyze(&inspected.files).map_err(|error| CliError::invalid(error.to_string()))?;
    Ok(json!({
        "kind": "module",
        "variables": analysis.root.variables.len(),
        "outputs": analysis.root.outputs.len(),
        "submodules": analysis.submodules.iter().map(|s| s.path.clone()).collect::<Vec<_>>(),
        "archive_bytes": packed.len(),
        "summary": format!(
            "module with {} variable(s), {} output(s), {} submodule(s); packs to {} bytes",
            analysis.root.variables.len(), analysis.root.outputs.len(), analysis.submodules.len(), packed.len()
        ),
    }))
}
