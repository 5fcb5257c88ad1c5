//! OPA/Rego policies: checking that a policy parses, within bounds a publisher cannot push the
//! parser past. regorus' parser backtracks on nested brackets, so its cost doubles with every
//! level (measured: 20 nested `[{` pairs took over a second, 24 took 21 s); a policy is refused
//! before it is parsed when its brackets nest deeper than [`MAX_NESTING`] or it is larger than
//! [`MAX_POLICY_BYTES`], which keeps any one construct to a few milliseconds.

/// The deepest nesting of `(`, `[` and `{` (counted together) a policy may have; real policies
/// stay below 8.
pub const MAX_NESTING: usize = 12;

/// The largest policy file accepted.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// Why a policy was refused; the message names the line where that is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is {size} bytes, larger than the limit of {MAX_POLICY_BYTES} bytes")]
    TooLarge { size: usize },
    #[error(
        "line {line}: brackets nest more than {MAX_NESTING} levels deep (parsing such nesting costs time that doubles with every level)"
    )]
    TooDeep { line: usize },
    #[error("invalid Rego: {0}")]
    Invalid(String),
}

/// The deepest bracket nesting of Rego source, outside strings and comments, with the line where
/// it first goes past `limit` (if it does).
fn nesting(source: &str, limit: usize) -> Result<(), usize> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut chars = source.chars();
    while let Some(character) = chars.next() {
        match character {
            '\n' => line += 1,
            '#' => {
                // A comment runs to the end of the line.
                for next in chars.by_ref() {
                    if next == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for next in chars.by_ref() {
                    match next {
                        '\n' => line += 1,
                        '\\' if !escaped => {
                            escaped = true;
                            continue;
                        }
                        '"' if !escaped => break,
                        _ => {}
                    }
                    escaped = false;
                }
            }
            '`' => {
                for next in chars.by_ref() {
                    match next {
                        '\n' => line += 1,
                        '`' => break,
                        _ => {}
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                if depth > limit {
                    return Err(line);
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Checks that `source` is a Rego policy regorus can parse, within the bounds above. `file` names
/// the policy in the parser's messages.
pub fn check(file: &str, source: &str) -> Result<(), PolicyError> {
    if source.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge { size: source.len() });
    }
    nesting(source, MAX_NESTING).map_err(|line| PolicyError::TooDeep { line })?;
    let mut engine = regorus::Engine::new();
    engine
        .add_policy(file.to_owned(), source.to_owned())
        .map(|_| ())
        .map_err(|error| PolicyError::Invalid(error.to_string()))
}

/// The version of the input document `scaffold check` gives policies (`input.quarry.input_version`,
/// see `docs/POLICIES.md`).
pub const INPUT_VERSION: u64 = 1;

/// The input document of a check: the plan as `terraform show -json` prints it, at the root (so
/// policies written for conftest read it unchanged), with `quarry` (the format's version and what is
/// evaluated), `stack` (the stack's `stack.yaml`), `run` and `reviews` beside it.
pub fn input(
    plan: &serde_json::Value,
    stack: &serde_json::Value,
    run: &serde_json::Value,
    reviews: &serde_json::Value,
) -> serde_json::Value {
    let mut document = plan.as_object().cloned().unwrap_or_default();
    document.insert(
        "quarry".into(),
        serde_json::json!({ "input_version": INPUT_VERSION }),
    );
    document.insert("stack".into(), stack.clone());
    document.insert("run".into(), run.clone());
    document.insert("reviews".into(), reviews.clone());
    serde_json::Value::Object(document)
}

/// What one policy made of a check's input: a plan policy's `deny` and `warn` messages, an
/// approval policy's `approve`, `reject` and `reasons`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub deny: Vec<String>,
    pub warn: Vec<String>,
    pub approve: bool,
    pub reject: bool,
    pub reasons: Vec<String>,
}

/// Evaluates the policy `source` (named `file` in messages) against `input`: `approval` says
/// which rules are read. Parsing is bounded as in [`check`]; a caller that does not trust the
/// policy runs this on a thread it can give up on.
pub fn evaluate(
    file: &str,
    source: &str,
    approval: bool,
    input: &serde_json::Value,
) -> Result<Verdict, PolicyError> {
    if source.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge { size: source.len() });
    }
    nesting(source, MAX_NESTING).map_err(|line| PolicyError::TooDeep { line })?;
    let mut engine = regorus::Engine::new();
    let package = engine
        .add_policy(file.to_owned(), source.to_owned())
        .map_err(|error| PolicyError::Invalid(error.to_string()))?;
    let input = regorus::Value::from_json_str(&input.to_string())
        .map_err(|error| PolicyError::Invalid(format!("the input: {error}")))?;
    engine.set_input(input);
    let mut rule = |name: &str| -> Result<serde_json::Value, PolicyError> {
        let value = match engine.eval_rule(format!("{package}.{name}")) {
            Ok(value) => value,
            // A rule the policy does not define is as good as an empty one.
            Err(error) if error.to_string().contains("not a valid rule path") => {
                return Ok(serde_json::Value::Null);
            }
            Err(error) => {
                return Err(PolicyError::Invalid(format!(
                    "evaluating `{name}`: {error}"
                )));
            }
        };
        if value == regorus::Value::Undefined {
            return Ok(serde_json::Value::Null);
        }
        let text = value
            .to_json_str()
            .map_err(|error| PolicyError::Invalid(format!("`{name}`: {error}")))?;
        serde_json::from_str(&text)
            .map_err(|error| PolicyError::Invalid(format!("`{name}`: {error}")))
    };
    let messages = |value: serde_json::Value| -> Vec<String> {
        let mut messages: Vec<String> = match value {
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                })
                .collect(),
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::String(text) => vec![text],
            other => vec![other.to_string()],
        };
        messages.sort();
        messages
    };
    if approval {
        Ok(Verdict {
            approve: rule("approve")? == serde_json::Value::Bool(true),
            reject: rule("reject")? == serde_json::Value::Bool(true),
            reasons: messages(rule("reasons")?),
            ..Verdict::default()
        })
    } else {
        Ok(Verdict {
            deny: messages(rule("deny")?),
            warn: messages(rule("warn")?),
            ..Verdict::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_every_bracket_kind_outside_strings_and_comments() {
        assert_eq!(nesting("x := [{\"a\": (1)}]", 3), Ok(()));
        assert_eq!(nesting("x := [{\"a\": (1)}]", 2), Err(1));
        assert_eq!(
            nesting("# [[[[[[\nx := \"[[[[[[\"\ny := `{{{{{{`", 1),
            Ok(())
        );
        assert_eq!(nesting("x := \"\\\"[[[\"\ny := [[[\n", 2), Err(2));
        assert_eq!(nesting("a := [[1]]\nb := [[2]]\nc := [[[3]]]", 2), Err(3));
    }

    #[test]
    fn deep_policies_are_refused_before_they_are_parsed() {
        for (open, close) in [
            ("[", "]"),
            ("{", "}"),
            ("(", ")"),
            ("[{\"a\":", "}]"),
            ("{[", "]}"),
        ] {
            let source = format!(
                "package p\n\nx := {}1{}\n",
                open.repeat(40),
                close.repeat(40)
            );
            let error = check("p.rego", &source).expect_err("refused");
            assert_eq!(error, PolicyError::TooDeep { line: 3 }, "{source}");
        }
    }

    #[test]
    fn policies_at_the_limit_parse() {
        let source = format!(
            "package p\n\nx := {}1{}\n",
            "[{\"a\":".repeat(MAX_NESTING / 2),
            "}]".repeat(MAX_NESTING / 2)
        );
        check("p.rego", &source).expect("parses");
    }

    #[test]
    fn large_and_invalid_policies_are_named() {
        let large = format!("package p\n{}", "# padding\n".repeat(30_000));
        assert!(matches!(
            check("p.rego", &large),
            Err(PolicyError::TooLarge { .. })
        ));
        assert!(matches!(
            check("p.rego", "package p\nallow {"),
            Err(PolicyError::Invalid(_))
        ));
    }
}

#[cfg(test)]
mod evaluation {
    use super::*;
    use serde_json::{Value, json};

    fn repo(path: &str) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        std::fs::read_to_string(root.join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn plan(name: &str) -> Value {
        serde_json::from_str(&repo(&format!("tests/fixtures/plans/{name}.json"))).expect("plan")
    }

    #[test]
    fn required_tags_names_each_untagged_resource() {
        let policy = repo("blueprints/web-service/policies/required-tags.rego");
        let stack = json!({ "name": "shop" });
        let passed = evaluate(
            "required-tags.rego",
            &policy,
            false,
            &input(&plan("web-service-tagged"), &stack, &json!({}), &json!([])),
        )
        .expect("evaluates");
        assert_eq!(passed, Verdict::default());
        let denied = evaluate(
            "required-tags.rego",
            &policy,
            false,
            &input(
                &plan("web-service-untagged"),
                &stack,
                &json!({}),
                &json!([]),
            ),
        )
        .expect("evaluates");
        assert_eq!(
            denied.deny,
            [
                "aws_s3_bucket.logs: missing required tag `environment` (required: owner, environment)",
                "aws_s3_bucket.logs: missing required tag `owner` (required: owner, environment)",
                "module.service.aws_ecs_service.this: missing required tag `environment` (required: owner, environment)",
            ]
        );
    }

    #[test]
    fn two_approvals_from_others_are_needed_and_a_rejection_rejects() {
        let policy = repo("blueprints/web-service/policies/prod-approval.rego");
        let stack = json!({ "name": "shop", "labels": [] });
        let run = json!({ "id": "r1", "triggered_by": "ada" });
        let verdict = |reviews: Value| {
            evaluate(
                "prod-approval.rego",
                &policy,
                true,
                &input(&plan("web-service-tagged"), &stack, &run, &reviews),
            )
            .expect("evaluates")
        };
        let one = verdict(json!([
            { "author": "ada", "decision": "approve" },
            { "author": "bob", "decision": "approve" },
        ]));
        assert!(!one.approve && !one.reject, "{one:?}");
        assert_eq!(
            one.reasons,
            ["needs approvals from 2 distinct reviewers other than the run's author, has 1"]
        );
        let two = verdict(json!([
            { "author": "bob", "decision": "approve" },
            { "author": "cy", "decision": "approve" },
        ]));
        assert!(two.approve && two.reasons.is_empty(), "{two:?}");
        let rejected = verdict(json!([
            { "author": "bob", "decision": "approve" },
            { "author": "cy", "decision": "approve" },
            { "author": "dee", "decision": "reject" },
        ]));
        assert!(rejected.reject && !rejected.approve, "{rejected:?}");
        assert_eq!(rejected.reasons, ["rejected by dee"]);
    }
}
