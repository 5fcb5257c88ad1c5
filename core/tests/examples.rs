//! Every blueprint in the repository (the examples in `blueprints/` and the test fixtures) passes
//! the full check: its manifest and contexts validate against `schemas/`, its templates, policies
//! and module references are sound.

use quarry_core::blueprint;
use std::path::{Path, PathBuf};

fn blueprint_dirs(parent: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(parent)
        .expect("directory exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join(blueprint::MANIFEST).is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_blueprint_in_the_repository_passes_the_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let examples = blueprint_dirs(&root.join("blueprints"));
    assert!(examples.len() >= 3, "the three golden paths: {examples:?}");
    let fixtures = blueprint_dirs(&root.join("tests/fixtures/blueprints"));
    for dir in examples.iter().chain(&fixtures) {
        let files = blueprint::load_dir(dir).expect("readable");
        let checked = blueprint::check(files)
            .unwrap_or_else(|problems| panic!("{}: {problems:#?}", dir.display()));
        if dir.starts_with(root.join("blueprints")) {
            assert!(
                checked.manifest.metadata.version.is_some(),
                "{}: examples declare metadata.version so --import can publish them",
                dir.display()
            );
            assert!(
                checked.files.contains_key("README.md"),
                "{}: README.md",
                dir.display()
            );
        }
    }
}

/// Evaluates one rule of a policy file in the examples on a JSON input.
fn evaluate(policy: &str, rule: &str, input: serde_json::Value) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../blueprints");
    let text = std::fs::read_to_string(root.join(policy)).expect("policy exists");
    let mut engine = regorus::Engine::new();
    engine
        .add_policy(policy.to_owned(), text)
        .unwrap_or_else(|error| panic!("{policy}: {error}"));
    engine.set_input(regorus::Value::from_json_str(&input.to_string()).expect("input"));
    let value = engine
        .eval_rule(rule.to_owned())
        .unwrap_or_else(|error| panic!("{policy} {rule}: {error}"));
    serde_json::from_str(&value.to_json_str().expect("json")).expect("json")
}

#[test]
fn required_tags_policy_denies_untagged_resources() {
    let plan = |tags: serde_json::Value| {
        serde_json::json!({ "resource_changes": [{
            "address": "aws_s3_bucket.site", "mode": "managed", "type": "aws_s3_bucket",
            "change": { "actions": ["create"], "after": { "bucket": "site", "tags": tags, "tags_all": tags } }
        }] })
    };
    let rule = "data.quarry.plan.required_tags.deny";
    let denied = evaluate(
        "web-service/policies/required-tags.rego",
        rule,
        plan(serde_json::json!({ "owner": "web" })),
    );
    assert_eq!(
        denied,
        serde_json::json!([
            "aws_s3_bucket.site: missing required tag `environment` (required: owner, environment)"
        ])
    );
    let allowed = evaluate(
        "web-service/policies/required-tags.rego",
        rule,
        plan(serde_json::json!({ "owner": "web", "environment": "prod" })),
    );
    assert_eq!(allowed, serde_json::json!([]));
}

#[test]
fn prod_approval_policy_needs_two_distinct_reviewers() {
    let input = |reviews: serde_json::Value| {
        serde_json::json!({
            "run": { "id": "run-1", "triggered_by": "dev" },
            "reviews": reviews,
            "stack": { "name": "checkout-prod", "labels": ["env:prod"] }
        })
    };
    let rule = "data.quarry.approval.two_reviewers.approve";
    let policy = "web-service/policies/prod-approval.rego";
    let one = input(serde_json::json!([{ "author": "ana", "decision": "approve" }]));
    assert_eq!(evaluate(policy, rule, one), serde_json::json!(false));
    let own = input(serde_json::json!([
        { "author": "dev", "decision": "approve" },
        { "author": "ana", "decision": "approve" }
    ]));
    assert_eq!(
        evaluate(policy, rule, own),
        serde_json::json!(false),
        "the author's own approval does not count"
    );
    let two = input(serde_json::json!([
        { "author": "ana", "decision": "approve" },
        { "author": "bo", "decision": "approve" }
    ]));
    assert_eq!(evaluate(policy, rule, two), serde_json::json!(true));
    let rejected = input(serde_json::json!([
        { "author": "ana", "decision": "approve" },
        { "author": "bo", "decision": "approve" },
        { "author": "cy", "decision": "reject" }
    ]));
    assert_eq!(evaluate(policy, rule, rejected), serde_json::json!(false));
}
