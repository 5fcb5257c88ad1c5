//! `scaffold validate DIR`: the checks the registry makes at publish, run locally. A directory
//! with a `blueprint.yaml` is a blueprint; any other is a module.

use crate::Output;
use crate::error::{CliError, Result};
use quarry_core::{archive, blueprint, inputs, module};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// What `validate` found: `--output json` prints it.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Report {
    Blueprint {
        address: String,
        modules: usize,
        policies: usize,
        contexts: usize,
        summary: String,
    },
    Module {
        variables: usize,
        outputs: usize,
        submodules: Vec<String>,
        archive_bytes: usize,
        summary: String,
    },
}

impl Report {
    fn summary(&self) -> &str {
        match self {
            Self::Blueprint { summary, .. } | Self::Module { summary, .. } => summary,
        }
    }
}

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
            println!("{} is valid: {}", dir.display(), report.summary());
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
            "{} has {}:\n  {}",
            dir.display(),
            quarry_core::counted(problems.len(), "problem", "problems"),
            quarry_core::lines(problems.iter())
        ))
    })
}

fn validate_blueprint(dir: &Path, values: Option<&Path>) -> Result<Report> {
    let checked = checked_blueprint(dir)?;
    if let Some(values) = values {
        let answers = crate::pipeline::gather(&checked.manifest.inputs, Some(values), &[])?;
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
    let address = format!("{}/{}", checked.namespace, checked.name);
    Ok(Report::Blueprint {
        summary: format!(
            "blueprint {address} with {}, {}, {}",
            quarry_core::counted(manifest.modules.len(), "module", "modules"),
            quarry_core::counted(manifest.policies.len(), "policy", "policies"),
            quarry_core::counted(manifest.contexts.len(), "context", "contexts")
        ),
        address,
        modules: manifest.modules.len(),
        policies: manifest.policies.len(),
        contexts: manifest.contexts.len(),
    })
}

fn validate_module(dir: &Path) -> Result<Report> {
    let packed = archive::pack_dir(dir)
        .map_err(|error| CliError::invalid(format!("{}: {error}", dir.display())))?;
    let inspected = archive::inspect_module(&packed, &archive::Limits::default())
        .map_err(|error| CliError::invalid(format!("{}: {error}", dir.display())))?;
    let analysis =
        module::analyze(&inspected.files).map_err(|error| CliError::invalid(error.to_string()))?;
    Ok(Report::Module {
        variables: analysis.root.variables.len(),
        outputs: analysis.root.outputs.len(),
        submodules: analysis.submodules.iter().map(|s| s.path.clone()).collect(),
        archive_bytes: packed.len(),
        summary: format!(
            "module with {}, {}, {}; packs to {} bytes",
            quarry_core::counted(analysis.root.variables.len(), "variable", "variables"),
            quarry_core::counted(analysis.root.outputs.len(), "output", "outputs"),
            quarry_core::counted(analysis.submodules.len(), "submodule", "submodules"),
            packed.len()
        ),
    })
}
