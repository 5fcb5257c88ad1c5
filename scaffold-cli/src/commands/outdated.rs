//! `scaffold outdated [DIR…]`: for each stack, its blueprint and each of its modules — the
//! version it uses, the newest its constraint selects, the newest there is — flagging deprecated
//! and yanked versions with their reason. Exit code [`Kind::Drift`] when anything is behind (a
//! newer version exists, or the one used is deprecated or yanked), for CI.

use super::{print_json, print_table};
use crate::Output;
use crate::client::Client;
use crate::error::{CliError, Kind, Result};
use crate::pipeline;
use quarry_core::api;
use quarry_core::constraint::Constraint;
use quarry_core::version::Version;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct OutdatedArgs {
    /// Stack directories
    #[arg(default_value = ".")]
    pub dirs: Vec<PathBuf>,
}

/// One blueprint or module a stack uses, and where it stands.
#[derive(Debug, Serialize)]
pub struct Standing {
    /// `blueprint` or `module`.
    pub kind: &'static str,
    /// The address (a module's with its name in the blueprint, `network = platform/network/aws`).
    pub address: String,
    pub name: Option<String>,
    pub constraint: String,
    pub used: String,
    /// The newest version the constraint selects now (`None`: none does).
    pub newest_matching: Option<String>,
    pub newest: Option<String>,
    pub deprecated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecation: Option<api::Deprecation>,
    pub yanked: bool,
    pub behind: bool,
}

#[derive(Debug, Serialize)]
pub struct StackStanding {
    pub dir: String,
    pub items: Vec<Standing>,
    pub behind: bool,
}

fn standing(
    kind: &'static str,
    address: &str,
    name: Option<String>,
    constraint: &str,
    used: &str,
    versions: &[Version],
    marks: (bool, Option<api::Deprecation>, bool),
) -> Standing {
    let newest_matching = Constraint::parse(constraint)
        .ok()
        .and_then(|constraint| constraint.select(versions).cloned());
    let newest = Constraint::parse(">= 0.0.0")
        .ok()
        .and_then(|any| any.select(versions).cloned());
    let (deprecated, deprecation, yanked) = marks;
    let used_version = Version::parse(used).ok();
    let newer = |candidate: &Option<Version>| matches!((candidate, &used_version), (Some(candidate), Some(used)) if candidate > used);
    let behind = deprecated || yanked || newer(&newest_matching) || newer(&newest);
    Standing {
        kind,
        address: address.to_owned(),
        name,
        constraint: constraint.to_owned(),
        used: used.to_owned(),
        newest_matching: newest_matching.map(|v| v.to_string()),
        newest: newest.map(|v| v.to_string()),
        deprecated,
        deprecation,
        yanked,
        behind,
    }
}

async fn stack(client: &Client, dir: &Path) -> Result<StackStanding> {
    let answers = pipeline::recorded(dir)?;
    let blueprint = &answers.blueprint;
    let versions = client.blueprint_versions(&blueprint.address).await?;
    let detail = client
        .blueprint_detail(&blueprint.address, Some(&blueprint.version))
        .await?;
    let mut items = vec![standing(
        "blueprint",
        &blueprint.address,
        None,
        &blueprint.constraint,
        &blueprint.version,
        &versions,
        (detail.deprecated, detail.deprecation, detail.yanked),
    )];
    for module in &answers.modules {
        let address = module
            .source
            .split_once("//")
            .map_or(module.source.as_str(), |(address, _)| address);
        let versions = client.module_versions(address).await?;
        let detail = client.module_detail(address, Some(&module.version)).await?;
        items.push(standing(
            "module",
            address,
            Some(module.name.clone()),
            &module.constraint,
            &module.version,
            &versions,
            (detail.deprecated, detail.deprecation, detail.yanked),
        ));
    }
    let behind = items.iter().any(|item| item.behind);
    Ok(StackStanding {
        dir: dir.display().to_string(),
        items,
        behind,
    })
}

fn flags(item: &Standing) -> String {
    let mut flags = Vec::new();
    if item.yanked {
        flags.push("yanked".to_owned());
    }
    if item.deprecated {
        let reason = item
            .deprecation
            .as_ref()
            .and_then(|d| d.reason.clone())
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default();
        let replacement = item
            .deprecation
            .as_ref()
            .and_then(|d| d.replacement.clone())
            .map(|to| format!(" (use {to})"))
            .unwrap_or_default();
        flags.push(format!("deprecated{reason}{replacement}"));
    }
    flags.join(", ")
}

pub async fn run(client: &Client, args: &OutdatedArgs, output: Output) -> Result<()> {
    let mut stacks = Vec::new();
    for dir in &args.dirs {
        stacks.push(stack(client, dir).await?);
    }
    if output == Output::Json {
        print_json(&stacks)?;
    } else {
        for stack in &stacks {
            println!("{}:", stack.dir);
            let rows: Vec<Vec<String>> = stack
                .items
                .iter()
                .map(|item| {
                    vec![
                        match &item.name {
                            Some(name) => format!("{name} ({})", item.address),
                            None => item.address.clone(),
                        },
                        item.used.clone(),
                        item.newest_matching.clone().unwrap_or_else(|| "-".into()),
                        item.newest.clone().unwrap_or_else(|| "-".into()),
                        flags(item),
                    ]
                })
                .collect();
            print_table(&["uses", "version", "matching", "newest", "notes"], &rows);
        }
    }
    let behind: Vec<&str> = stacks
        .iter()
        .filter(|stack| stack.behind)
        .map(|stack| stack.dir.as_str())
        .collect();
    if behind.is_empty() {
        return Ok(());
    }
    Err(CliError::new(
        Kind::Drift,
        format!(
            "behind: {} (run `scaffold update` in each)",
            behind.join(", ")
        ),
    ))
}
