//! `scaffold run [DIR] [--context-dir DIR]… -- terraform <args>`: runs terraform in the stack with
//! its contexts applied (see [`crate::runner`]): their environment variables, their files mounted
//! for the run and removed after it, and their hooks around the matching terraform command. A
//! `plan` is saved (`-out`, `.scaffold/plan.tfplan` unless given), written as JSON beside it and
//! checked against the stack's plan policies; an `apply` of a saved plan is refused, before
//! anything is applied, when the plan policies deny it or the approval policies have not approved
//! it (`--reviews`).

use super::check;
use crate::error::{CliError, Kind, Result};
use crate::runner::{self, Mounted, Options, Prepared};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The stack's directory
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// A directory of further contexts (`*.yaml`), applied after the stack's own
    #[arg(long = "context-dir", value_name = "DIR")]
    pub context_dirs: Vec<PathBuf>,
    /// The run and its reviews (as for `scaffold check`), for applying a saved plan
    #[arg(long, value_name = "FILE")]
    pub reviews: Option<PathBuf>,
    /// Allow contexts to mount files outside the stack's directory
    #[arg(long)]
    pub mount_anywhere: bool,
    /// terraform (or tofu) and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Where a saved plan goes when `plan` is given no `-out`.
const DEFAULT_PLAN: &str = ".scaffold/plan.tfplan";

/// The phase of a terraform command, as hooks name it.
fn phase(arguments: &[String]) -> Option<&'static str> {
    let subcommand = arguments
        .iter()
        .find(|argument| !argument.starts_with('-'))?;
    match subcommand.as_str() {
        "init" => Some("init"),
        "plan" => Some("plan"),
        "apply" if arguments.iter().any(|argument| argument == "-destroy") => Some("destroy"),
        "apply" => Some("apply"),
        "destroy" => Some("destroy"),
        _ => None,
    }
}

/// The value of `-out`, given as `-out=FILE` or `-out FILE`.
fn out_argument(arguments: &[String]) -> Option<String> {
    arguments.iter().enumerate().find_map(|(index, argument)| {
        argument
            .strip_prefix("-out=")
            .map(str::to_owned)
            .or_else(|| (argument == "-out").then(|| arguments.get(index + 1).cloned())?)
    })
}

/// The saved plan an `apply` is given: its first argument that is not a flag.
fn saved_plan(arguments: &[String], dir: &Path) -> Option<String> {
    let apply = arguments.iter().position(|argument| argument == "apply")?;
    arguments[apply + 1..]
        .iter()
        .find(|argument| !argument.starts_with('-'))
        .filter(|plan| dir.join(plan).is_file())
        .cloned()
}

/// Runs the hooks of `phase`, in order, each through `sh -c` in the stack's directory with the
/// run's environment; their output is shown with secrets masked. The first failure stops the run.
fn hooks(phase: &str, dir: &Path, prepared: &Prepared) -> Result<()> {
    for hook in prepared.hooks.get(phase).into_iter().flatten() {
        eprintln!(
            "==> {phase} ({}): {}",
            hook.context,
            runner::mask(&hook.command, &prepared.secrets)
        );
        let output = Command::new("sh")
            .arg("-c")
            .arg(&hook.command)
            .current_dir(dir)
            .envs(&prepared.environment)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| CliError::failure(format!("hook {phase}: cannot run sh: {error}")))?;
        print!(
            "{}",
            runner::mask(&String::from_utf8_lossy(&output.stdout), &prepared.secrets)
        );
        eprint!(
            "{}",
            runner::mask(&String::from_utf8_lossy(&output.stderr), &prepared.secrets)
        );
        if !output.status.success() {
            return Err(CliError::failure(format!(
                "the {phase} hook of context `{}` failed ({}): {}\n  the run stopped",
                hook.context,
                output.status,
                runner::mask(&hook.command, &prepared.secrets)
            )));
        }
    }
    Ok(())
}

/// `terraform show -json PLAN`, read.
fn show_json(program: &str, dir: &Path, prepared: &Prepared, plan: &str) -> Result<Value> {
    let output = Command::new(program)
        .args(["show", "-json", plan])
        .current_dir(dir)
        .envs(&prepared.environment)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| CliError::failure(format!("{program} show -json {plan}: {error}")))?;
    if !output.status.success() {
        return Err(CliError::failure(format!(
            "{program} show -json {plan} failed: {}",
            runner::mask(&String::from_utf8_lossy(&output.stderr), &prepared.secrets)
        )));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|error| CliError::failure(format!("{program} show -json {plan}: {error}")))
}

pub fn run(args: &RunArgs) -> Result<()> {
    let dir = &args.dir;
    let stack = check::stack_manifest(dir)?;
    let resolver = std::env::var(runner::RESOLVER_VARIABLE).ok();
    let prepared = runner::prepare(
        dir,
        &stack,
        &args.context_dirs,
        Options {
            mount_anywhere: args.mount_anywhere,
            resolver: resolver
                .as_deref()
                .filter(|command| !command.trim().is_empty()),
        },
    )?;
    let (program, arguments) = args
        .command
        .split_first()
        .ok_or_else(|| CliError::new(Kind::Usage, "nothing to run: give the command after `--`"))?;
    let is_terraform = Path::new(program)
        .file_name()
        .is_some_and(|name| name == "terraform" || name == "tofu");
    let phase = if is_terraform { phase(arguments) } else { None };
    let mut arguments = arguments.to_vec();
    let plan_out = match phase {
        Some("plan") => Some(out_argument(&arguments).unwrap_or_else(|| {
            arguments.push(format!("-out={DEFAULT_PLAN}"));
            DEFAULT_PLAN.to_owned()
        })),
        _ => None,
    };
    if let Some(parent) = plan_out
        .as_deref()
        .and_then(|out| dir.join(out).parent().map(Path::to_owned))
    {
        std::fs::create_dir_all(parent)?;
    }

    let _mounted = Mounted::mount(&prepared.files)?;
    if matches!(phase, Some("apply" | "destroy"))
        && let Some(plan) = saved_plan(&arguments, dir)
    {
        // Checked before anything is applied.
        let shown = show_json(program, dir, &prepared, &plan)?;
        let report = check::check(dir, &stack, &shown, args.reviews.as_deref())?;
        check::print_text(&report);
        report.verdict(true).map_err(|refused| {
            CliError::new(
                refused.kind,
                format!("{}: {plan} is not applied", refused.message),
            )
        })?;
    }
    if let Some(phase) = phase {
        hooks(&format!("before_{phase}"), dir, &prepared)?;
    }
    let status = Command::new(program)
        .args(&arguments)
        .current_dir(dir)
        .envs(&prepared.environment)
        .status()
        .map_err(|error| CliError::failure(format!("cannot run {program}: {error}")))?;
    if !status.success() {
        let code = status.code().unwrap_or(1);
        return Err(CliError::new(
            Kind::Exited(code),
            format!("{program} exited with {status}"),
        ));
    }
    let Some(phase) = phase else {
        return Ok(());
    };
    let mut report = None;
    if let Some(out) = &plan_out {
        let shown = show_json(program, dir, &prepared, out)?;
        let json_path = dir.join(format!("{out}.json"));
        // The plan holds the variables' values; the JSON scaffold writes holds no secret.
        let text = serde_json::to_string_pretty(&shown).unwrap_or_default();
        std::fs::write(&json_path, runner::mask(&text, &prepared.secrets))?;
        eprintln!("wrote the plan as JSON to {}", json_path.display());
        let checked = check::check(dir, &stack, &shown, args.reviews.as_deref())?;
        check::print_text(&checked);
        report = Some(checked);
    }
    hooks(&format!("after_{phase}"), dir, &prepared)?;
    match report {
        Some(report) => report.verdict(false),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn phases_and_plan_files_are_read_from_terraform_arguments() {
        assert_eq!(phase(&strings(&["init", "-input=false"])), Some("init"));
        assert_eq!(phase(&strings(&["-chdir=x", "plan"])), Some("plan"));
        assert_eq!(phase(&strings(&["apply", "-destroy"])), Some("destroy"));
        assert_eq!(phase(&strings(&["validate"])), None);
        assert_eq!(
            out_argument(&strings(&["plan", "-out=p"])),
            Some("p".into())
        );
        assert_eq!(
            out_argument(&strings(&["plan", "-out", "q"])),
            Some("q".into())
        );
        assert_eq!(out_argument(&strings(&["plan"])), None);
    }
}
