//! `scaffold new BLUEPRINT[@CONSTRAINT]`: fetches the blueprint, gathers inputs (`--values`,
//! `SCAFFOLD_INPUT_<NAME>`, `--set`, then prompts on a terminal), renders and writes the stack
//! atomically, through [`crate::pipeline`].

use super::split_at_version;
use crate::client::Client;
use crate::error::{CliError, Kind, Result};
use crate::update::Change;
use crate::{inventory, pipeline, prompt};
use quarry_core::constraint::Constraint;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct NewArgs {
    /// The blueprint, namespace/name, optionally @CONSTRAINT in Terraform syntax (e.g. @~>1.2)
    pub blueprint: String,
    /// Directory to write the stack to [default: ./<stack name>]
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Show the files that would be written (and a diff where the target exists); write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write into a non-empty target directory: the stack's files are replaced, every other file
    /// (your own `.tf`, `.terraform/`, the lock file) is kept
    #[arg(long)]
    pub force: bool,
    /// Write the stack as a .tar.gz to this file instead of a directory: the same bytes the
    /// registry's render endpoint and the web UI's download give for the same inputs
    #[arg(long, value_name = "FILE", conflicts_with_all = ["out", "dry_run"])]
    pub archive: Option<PathBuf>,
    /// Do not report the stack to the registry's stack inventory (when it keeps one)
    #[arg(long)]
    pub no_report: bool,
}

/// Where a stack's inputs come from, for `new` and `update`.
#[derive(clap::Args)]
pub struct InputArgs {
    /// An input, typed by the blueprint's schema (numbers, booleans; arrays and objects as JSON)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// A YAML or JSON file of inputs (a stack's `.scaffold/answers.json` too)
    #[arg(long)]
    pub values: Option<PathBuf>,
    /// Never prompt: fail listing every missing or invalid input
    #[arg(long)]
    pub non_interactive: bool,
}

impl InputArgs {
    /// Whether to ask for what is missing: on a terminal, unless told not to.
    pub fn interactive(&self) -> bool {
        !self.non_interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path)
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(true)
}

pub async fn run(client: &Client, args: &NewArgs) -> Result<()> {
    let (address, constraint_text) = split_at_version(&args.blueprint);
    let constraint = Constraint::parse(constraint_text.unwrap_or(">= 0.0.0"))
        .map_err(|error| CliError::invalid(error.to_string()))?;
    let fetched = pipeline::fetch(client, address, &constraint).await?;
    pipeline::warn_if_deprecated(&fetched);
    let schema = fetched.blueprint.manifest.inputs.clone();
    let mut answers = pipeline::gather(&schema, args.inputs.values.as_deref(), &args.inputs.set)?;
    if args.inputs.interactive() {
        prompt::ask(&schema, &mut answers, false)?;
    }
    let recorded = constraint_text.map_or_else(|| fetched.version.to_string(), str::to_owned);
    let mut stack = pipeline::render(client, &fetched, answers, &recorded).await?;

    if let Some(path) = &args.archive {
        if path.exists() && !args.force {
            return Err(CliError::new(
                Kind::Conflict,
                format!("{} exists: pass --force to replace it", path.display()),
            ));
        }
        let packed = quarry_core::archive::pack_files(&stack.files)?;
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut staged = tempfile::NamedTempFile::new_in(&dir)?;
        std::io::Write::write_all(&mut staged, &packed)?;
        staged
            .persist(path)
            .map_err(|error| CliError::from(error.error))?;
        eprintln!(
            "wrote {} files to {} from {address} {}",
            stack.files.len(),
            path.display(),
            fetched.version
        );
        return Ok(());
    }
    let target = match &args.out {
        Some(path) => path.clone(),
        None => PathBuf::from(
            pipeline::stack_name(&stack).unwrap_or_else(|| fetched.blueprint.name.to_string()),
        ),
    };
    if args.dry_run {
        print_dry_run(&target, &stack.files);
        return Ok(());
    }
    if target.exists() && !is_empty_dir(&target) && !args.force {
        return Err(CliError::new(
            Kind::Conflict,
            format!(
                "{} is not empty: pass --force to write the stack's files into it (other files are kept), choose another directory with -o, or use `scaffold update` for a stack",
                target.display()
            ),
        ));
    }
    // A stack written over itself keeps its id; a new one gets one when it is to be reported.
    let report = inventory::prepare(client, !args.no_report, &target, &mut stack.files).await;
    let name = pipeline::stack_name(&stack).unwrap_or_else(|| fetched.blueprint.name.to_string());
    if target.exists() && !is_empty_dir(&target) {
        // Over an existing directory only the stack's own files change, all or none.
        let changes: Vec<Change> = stack
            .files
            .iter()
            .map(|(path, content)| Change::Write {
                path: path.clone(),
                content: content.clone(),
            })
            .collect();
        crate::update::apply(&target, &changes)?;
    } else {
        pipeline::write_atomically(&target, &stack.files)?;
    }
    eprintln!(
        "wrote {} files to {} from {address} {}",
        stack.files.len(),
        target.display(),
        fetched.version
    );
    if report {
        inventory::report(client, &target, &name).await;
    }
    Ok(())
}

fn print_dry_run(target: &Path, files: &BTreeMap<String, Vec<u8>>) {
    println!("would write {} files to {}:", files.len(), target.display());
    for (path, content) in files {
        let existing = std::fs::read(target.join(path)).ok();
        let mark = match &existing {
            None => "+",
            Some(old) if old == content => "=",
            Some(_) => "~",
        };
        println!("  {mark} {path}");
    }
    let kept = kept_files(target, files);
    if !kept.is_empty() {
        println!(
            "and keep {} that are not part of the stack (nothing is deleted):",
            quarry_core::counted(kept.len(), "file", "files")
        );
        for path in kept {
            println!("  . {path}");
        }
    }
    for (path, content) in files {
        let Ok(old) = std::fs::read(target.join(path)) else {
            continue;
        };
        if &old == content {
            continue;
        }
        let (old_text, new_text) = (
            String::from_utf8_lossy(&old),
            String::from_utf8_lossy(content),
        );
        let diff = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref());
        print!(
            "{}",
            diff.unified_diff()
                .header(&format!("a/{path}"), &format!("b/{path}"))
        );
    }
}

/// The files under `target` (outside `.terraform/`) that the render does not write.
fn kept_files(target: &Path, files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut kept = Vec::new();
    let mut pending = vec![target.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(relative) = path.strip_prefix(target) else {
                continue;
            };
            let relative = relative.to_string_lossy().replace('\\', "/");
            if relative == ".terraform" {
                kept.push(".terraform/".to_owned());
            } else if path.is_dir() {
                pending.push(path);
            } else if !files.contains_key(&relative) {
                kept.push(relative);
            }
        }
    }
    kept.sort();
    kept
}
