//! `scaffold update [DIR]`: moves a stack to a newer blueprint version with a 3-way merge (see
//! [`crate::update`]): the recorded version rendered again with the recorded answers and module
//! versions is the base, the target version rendered with the answers (and any new inputs) is
//! theirs, the files on disk are ours. Nothing the renders never wrote is touched.

use crate::client::Client;
use crate::error::{CliError, Kind, Result};
use crate::inventory;
use crate::pipeline::{self, Secrets};
use crate::prompt;
use crate::update::{self, Change, ConflictStyle};
use quarry_core::constraint::Constraint;
use quarry_core::render;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct UpdateArgs {
    /// The stack's directory
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The version (or constraint) to move to [default: the constraint asked for at `new`; with
    /// none, the newest version]
    #[arg(long, value_name = "CONSTRAINT")]
    pub to: Option<String>,
    /// New inputs, or changed answers
    #[command(flatten)]
    pub inputs: super::new::InputArgs,
    /// Print a unified diff of every file that would be created, changed or deleted; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// How a conflict is left: markers in the file, or the blueprint's side in `<file>.rej`
    #[arg(long, value_enum, default_value_t = ConflictStyle::Inline)]
    pub conflict: ConflictStyle,
    /// Update a git work tree that has uncommitted changes
    #[arg(long)]
    pub allow_dirty: bool,
    /// Do not report the stack to the registry's stack inventory (when it keeps one)
    #[arg(long)]
    pub no_report: bool,
}

/// Whether `dir` is inside a git work tree with uncommitted changes below it (`false` outside
/// one, or without git).
fn dirty(dir: &Path) -> Result<bool> {
    let git = |args: &[&str]| crate::git::run(dir, args);
    match git(&["rev-parse", "--is-inside-work-tree"]) {
        Ok(output) if output.status.success() => {}
        _ => return Ok(false),
    }
    let status = git(&["status", "--porcelain", "--", "."])?;
    Ok(!status.stdout.is_empty())
}

pub async fn run(client: &Client, args: &UpdateArgs) -> Result<()> {
    let dir = &args.dir;
    let answers = pipeline::recorded(dir)?;
    if !args.dry_run && !args.allow_dirty && dirty(dir)? {
        return Err(CliError::new(
            Kind::Conflict,
            format!(
                "{} has uncommitted changes: commit or stash them first (so the update can be reviewed and undone), or pass --allow-dirty",
                dir.display()
            ),
        ));
    }
    let address = answers.blueprint.address.clone();
    let (_, base) = pipeline::render_recorded(client, &answers).await?;

    // A stack made without a constraint recorded its exact version: it follows the newest.
    let recorded = &answers.blueprint;
    let asked = match &args.to {
        Some(to) => to.clone(),
        None if recorded.constraint == recorded.version => ">= 0.0.0".to_owned(),
        None => recorded.constraint.clone(),
    };
    let constraint = Constraint::parse(&asked)
        .map_err(|error| CliError::invalid(format!("--to {asked}: {error}")))?;
    let target = pipeline::fetch(client, &address, &constraint).await?;
    pipeline::warn_if_deprecated(&target);
    let schema = quarry_core::secrets::not_required(&target.blueprint.manifest.inputs);

    let mut inputs = answers.inputs.clone();
    inputs.retain(|name, _| {
        let kept = quarry_core::form::property(&schema, name).is_some();
        if !kept {
            eprintln!(
                "note: `{name}` is no longer an input of {address} {}: removed from the answers",
                target.version
            );
        }
        kept
    });
    inputs.extend(pipeline::gather(
        &schema,
        args.inputs.values.as_deref(),
        &args.inputs.set,
    )?);
    if args.inputs.interactive() {
        prompt::ask(&schema, &mut inputs, false)?;
    }
    let resolutions = render::resolve_modules(&target.blueprint.manifest, client).await;
    // What the new answers record: the constraint asked for, or the exact version as `new` does.
    let keep = if args.to.is_none() && recorded.constraint == recorded.version {
        target.version.to_string()
    } else {
        asked.clone()
    };
    let mut theirs = pipeline::render_with(
        client,
        &target,
        inputs,
        &keep,
        resolutions,
        Secrets::Omitted,
    )
    .await?;

    // The stack keeps its inventory id; one reported for the first time gets one.
    let wanted = !args.no_report && !args.dry_run;
    let report = inventory::prepare(client, wanted, dir, &mut theirs.files).await;
    let name = pipeline::stack_name(&theirs).unwrap_or_else(|| target.blueprint.name.to_string());

    let plan = update::plan(
        &base.files,
        &theirs.files,
        |path| update::read_ours(dir, path),
        args.conflict,
    );
    let from_to = format!(
        "{address} {} → {}",
        answers.blueprint.version, target.version
    );
    for notice in &plan.notices {
        eprintln!("note: {notice}");
    }
    if args.dry_run {
        print_dry_run(dir, &plan, &from_to);
        return Ok(());
    }
    if plan.changes.is_empty() {
        eprintln!("{} is up to date with {from_to}", dir.display());
    } else {
        let marks: Vec<&str> = plan
            .changes
            .iter()
            .map(|change| match change {
                Change::Write { path, .. } if update::read_ours(dir, path).is_some() => "~",
                Change::Write { .. } => "+",
                Change::Delete { .. } => "-",
            })
            .collect();
        update::apply(dir, &plan.changes).map_err(|error| {
            CliError::failure(format!(
                "updating {} failed, and nothing was changed: {error}",
                dir.display()
            ))
        })?;
        eprintln!("updated {} ({from_to}):", dir.display());
        for (mark, change) in marks.iter().zip(&plan.changes) {
            eprintln!("  {mark} {}", change.path());
        }
    }
    if report {
        inventory::report(client, dir, &name).await;
    }
    if plan.conflicts.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = plan
        .conflicts
        .iter()
        .map(|(path, why)| format!("{path}: {why}"))
        .collect();
    Err(CliError::new(
        Kind::Conflict,
        format!(
            "{} to resolve by hand:\n  {}",
            quarry_core::counted(listed.len(), "conflict", "conflicts"),
            listed.join("\n  ")
        ),
    ))
}

fn print_dry_run(dir: &Path, plan: &update::Plan, from_to: &str) {
    println!(
        "would update {} ({from_to}): {}, {}",
        dir.display(),
        quarry_core::counted(plan.changes.len(), "change", "changes"),
        quarry_core::counted(plan.conflicts.len(), "conflict", "conflicts")
    );
    for change in &plan.changes {
        let old = update::read_ours(dir, change.path());
        let new = match change {
            Change::Write { content, .. } => Some(content.as_slice()),
            Change::Delete { .. } => None,
        };
        print!("{}", update::unified(change.path(), old.as_deref(), new));
    }
    for (path, why) in &plan.conflicts {
        println!("conflict: {path}: {why}");
    }
}
