//! `scaffold check [DIR] --plan PLAN.json [--reviews FILE]`: evaluates every policy the stack's
//! `stack.yaml` attaches (their `when` conditions were decided at render) against the plan, the
//! stack manifest and, for approval policies, the run's reviews. The input document is
//! `docs/POLICIES.md`'s. Exit 0 when every plan policy passes and every approval policy approves,
//! [`Kind::PolicyDenied`] when a plan policy denies, [`Kind::Unapproved`] when an approval policy
//! has not approved (or rejected) the run.

use crate::Output;
use crate::error::{CliError, Kind, Result};
use quarry_core::blueprint;
use quarry_core::policy::{self, Verdict};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one policy may take to evaluate: policies come from the blueprint's publisher.
const POLICY_DEADLINE: Duration = Duration::from_secs(30);

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The stack's directory
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The plan as JSON: `terraform show -json PLANFILE > plan.json`
    #[arg(long, value_name = "PLAN.json")]
    pub plan: PathBuf,
    /// The run and its reviews, for approval policies (YAML or JSON):
    /// `{run: {id, triggered_by}, reviews: [{author, decision: approve|reject}]}`
    #[arg(long, value_name = "FILE")]
    pub reviews: Option<PathBuf>,
}

/// One policy's outcome.
#[derive(Debug, Serialize)]
struct Outcome {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    file: String,
    /// `pass`, `deny`, `approved`, `unapproved` or `rejected`.
    result: &'static str,
    #[serde(flatten)]
    verdict: Verdict,
}

#[derive(Debug, Serialize)]
pub struct Report {
    input_version: u64,
    passed: bool,
    policies: Vec<Outcome>,
}

fn read_document(path: &Path, what: &str) -> Result<Value> {
    let text = std::fs::read(path)
        .map_err(|error| CliError::invalid(format!("{what} {}: {error}", path.display())))?;
    blueprint::parse_yaml(&path.display().to_string(), &text)
        .map_err(|problem| CliError::invalid(problem.to_string()))
}

fn evaluate(file: String, source: String, approval: bool, input: Value) -> Result<Verdict> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let name = file.clone();
    std::thread::spawn(move || {
        let _ = sender.send(policy::evaluate(&file, &source, approval, &input));
    });
    receiver
        .recv_timeout(POLICY_DEADLINE)
        .map_err(|_| {
            CliError::invalid(format!(
                "{name}: evaluating the policy took longer than {} s",
                POLICY_DEADLINE.as_secs()
            ))
        })?
        .map_err(|error| CliError::invalid(format!("{name}: {error}")))
}

pub fn run(args: &CheckArgs, output: Output) -> Result<()> {
    let stack = stack_manifest(&args.dir)?;
    let plan = read_plan(&args.plan)?;
    let report = check(&args.dir, &stack, &plan, args.reviews.as_deref())?;
    match output {
        Output::Json => super::print_json(&report)?,
        Output::Text => print_text(&report),
    }
    report.verdict(true)
}

/// Reads a plan as `terraform show -json` prints it.
pub fn read_plan(path: &Path) -> Result<Value> {
    let text = std::fs::read(path)
        .map_err(|error| CliError::invalid(format!("the plan {}: {error}", path.display())))?;
    let plan: Value = serde_json::from_slice(&text).map_err(|error| {
        CliError::invalid(format!("the plan {}: not JSON: {error}", path.display()))
    })?;
    if plan.get("format_version").is_none() {
        return Err(CliError::invalid(format!(
            "{} is not a plan as JSON: make it with `terraform plan -out plan && terraform show -json plan > {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(plan)
}

/// The stack manifest of the stack in `dir`.
pub fn stack_manifest(dir: &Path) -> Result<Value> {
    read_document(&dir.join("stack.yaml"), "the stack manifest")
}

/// Evaluates every policy `stack` attaches (its files under `dir`) against `plan` and the reviews.
pub fn check(dir: &Path, stack: &Value, plan: &Value, reviews: Option<&Path>) -> Result<Report> {
    let reviewed = match reviews {
        Some(path) => read_document(path, "the reviews")?,
        None => json!({}),
    };
    let reviews = reviewed.get("reviews").cloned().unwrap_or(json!([]));
    if !reviews.is_array() {
        return Err(CliError::invalid(
            "the reviews file's `reviews` must be a list of {author, decision}",
        ));
    }
    let run = reviewed.get("run").cloned().unwrap_or(json!({}));
    let input = policy::input(plan, stack, &run, &reviews);

    let attached = stack
        .get("policies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut outcomes = Vec::new();
    for entry in attached {
        let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
        let (id, kind, file) = (text("id"), text("type"), text("file"));
        if !file.starts_with("policies/") || file.split('/').any(|part| part == "..") {
            return Err(CliError::invalid(format!(
                "stack.yaml: policy `{id}` names the file `{file}`, which is not under policies/"
            )));
        }
        let source = std::fs::read_to_string(dir.join(file))
            .map_err(|error| CliError::invalid(format!("{file}: {error}")))?;
        let approval = kind == "approval";
        let verdict = evaluate(file.to_owned(), source, approval, input.clone())?;
        let result = match (approval, &verdict) {
            (false, verdict) if verdict.deny.is_empty() => "pass",
            (false, _) => "deny",
            (true, verdict) if verdict.reject => "rejected",
            (true, verdict) if verdict.approve => "approved",
            (true, _) => "unapproved",
        };
        outcomes.push(Outcome {
            id: id.to_owned(),
            kind: kind.to_owned(),
            file: file.to_owned(),
            result,
            verdict,
        });
    }
    let passed = outcomes
        .iter()
        .all(|outcome| matches!(outcome.result, "pass" | "approved"));
    Ok(Report {
        input_version: policy::INPUT_VERSION,
        passed,
        policies: outcomes,
    })
}

impl Report {
    /// The check's exit: [`Kind::PolicyDenied`] when a plan policy denies; then, when
    /// `approvals` count, [`Kind::Unapproved`] when an approval policy has not approved.
    pub fn verdict(&self, approvals: bool) -> Result<()> {
        let count = |results: &[&str]| {
            self.policies
                .iter()
                .filter(|outcome| results.contains(&outcome.result))
                .count()
        };
        let denied = count(&["deny"]);
        if denied > 0 {
            return Err(CliError::new(
                Kind::PolicyDenied,
                format!(
                    "{} denied the plan",
                    quarry_core::counted(denied, "plan policy", "plan policies")
                ),
            ));
        }
        let unapproved = count(&["unapproved", "rejected"]);
        if approvals && unapproved > 0 {
            return Err(CliError::new(
                Kind::Unapproved,
                format!(
                    "{} did not approve the run",
                    quarry_core::counted(unapproved, "approval policy", "approval policies")
                ),
            ));
        }
        Ok(())
    }
}

pub fn print_text(report: &Report) {
    if report.policies.is_empty() {
        println!("the stack attaches no policies");
    }
    for outcome in &report.policies {
        println!("{} ({}): {}", outcome.id, outcome.kind, outcome.result);
        for message in &outcome.verdict.deny {
            println!("  deny: {message}");
        }
        for message in &outcome.verdict.warn {
            println!("  warn: {message}");
        }
        for reason in &outcome.verdict.reasons {
            println!("  {reason}");
        }
    }
}
