//! Every subcommand, run as the built `scaffold` binary against a real `quarry` started here.

mod common;

use assert_cmd::Command;
use common::scaffold;
use predicates::prelude::*;
use quarry_e2e::{Quarry, REGISTRY_HOST, Terraform, fixture_module, repo_root, text};
use serde_json::Value;
use std::path::Path;

fn greeter() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/blueprints/greeter")
}

/// A registry with the greeting module (1.1.0, 1.2.0) and the greeter blueprint 1.0.0, published
/// with `scaffold publish`.
fn published(home: &Path) -> Quarry {
    let quarry = Quarry::start(&[]).expect("quarry starts");
    let token = quarry.token("ci", &["publish:fixtures"]).expect("token");
    for version in ["1.1.0", "1.2.0"] {
        scaffold(&quarry, home)
            .env("TF_TOKEN_registry_test", &token)
            .args(["publish", "module"])
            .arg(fixture_module("greeting"))
            .args([
                "--address",
                "fixtures/greeting/generic",
                "--version",
                version,
            ])
            .assert()
            .success()
            .stderr(predicate::str::contains(format!(
                "published module fixtures/greeting/generic {version}"
            )));
    }
    scaffold(&quarry, home)
        .env("TF_TOKEN_registry_test", &token)
        .args(["publish", "blueprint"])
        .arg(greeter())
        .args(["--version", "1.0.0"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "published blueprint fixtures/greeter 1.0.0",
        ));
    quarry
}

#[test]
fn publish_refuses_a_version_twice_and_a_token_without_scope() {
    let home = tempfile::tempdir().expect("home");
    let quarry = published(home.path());
    let token = quarry.token("again", &["publish:fixtures"]).expect("token");
    scaffold(&quarry, home.path())
        .env("TF_TOKEN_registry_test", &token)
        .args(["publish", "blueprint"])
        .arg(greeter())
        .args(["--version", "1.0.0"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains(
            "already published; versions are immutable",
        ));
    let other = quarry.token("other", &["publish:other"]).expect("token");
    scaffold(&quarry, home.path())
        .env("TF_TOKEN_registry_test", &other)
        .args(["publish", "blueprint"])
        .arg(greeter())
        .args(["--version", "1.1.0"])
        .assert()
        .code(6)
        .stderr(predicate::str::contains("(403)"));
    scaffold(&quarry, home.path())
        .args(["publish", "module"])
        .arg(fixture_module("greeting"))
        .args([
            "--address",
            "fixtures/greeting/generic",
            "--version",
            "9.0.0",
        ])
        .assert()
        .code(6)
        .stderr(
            predicate::str::contains("scaffold login registry.test")
                .and(predicate::str::contains("TF_TOKEN_registry_test")),
        );
}

#[test]
fn search_and_show_in_text_and_json() {
    let home = tempfile::tempdir().expect("home");
    let quarry = published(home.path());
    scaffold(&quarry, home.path())
        .args(["search", "greet"])
        .assert()
        .success()
        .stdout(predicate::str::contains("blueprint  fixtures/greeter").and(
            predicate::str::contains("module     fixtures/greeting/generic"),
        ));
    let output = scaffold(&quarry, home.path())
        .args(["search", "greet", "--output", "json"])
        .output()
        .expect("runs");
    let found: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(found["blueprints"][0]["name"], "greeter");
    assert_eq!(found["modules"][0]["version"], "1.2.0");

    scaffold(&quarry, home.path())
        .args(["show", "fixtures/greeting/generic@1.1.0"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("fixtures/greeting/generic/1.1.0")
                .and(predicate::str::contains("punctuation")),
        );
    scaffold(&quarry, home.path())
        .args(["show", "fixtures/greeter"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("api_key")
                .and(predicate::str::contains("(secret)"))
                .and(predicate::str::contains("no-deletes")),
        );
    let output = scaffold(&quarry, home.path())
        .args(["show", "fixtures/greeter", "--output", "json"])
        .output()
        .expect("runs");
    let detail: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(detail["inputs"]["properties"]["api_key"]["writeOnly"], true);
    scaffold(&quarry, home.path())
        .args(["show", "fixtures/nothing"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "blueprint fixtures/nothing not found",
        ));
}

#[test]
fn validate_checks_blueprints_and_modules_locally() {
    let home = tempfile::tempdir().expect("home");
    let mut command = Command::cargo_bin("scaffold").expect("built");
    command
        .env("HOME", home.path())
        .arg("validate")
        .arg(greeter());
    command.assert().success().stdout(predicate::str::contains(
        "blueprint fixtures/greeter with 2 module(s)",
    ));
    let mut command = Command::cargo_bin("scaffold").expect("built");
    command
        .env("HOME", home.path())
        .arg("validate")
        .arg(fixture_module("greeting"));
    command
        .assert()
        .success()
        .stdout(predicate::str::contains("module with 3 variable(s)"));

    let broken = tempfile::tempdir().expect("dir");
    std::fs::write(broken.path().join("blueprint.yaml"), "apiVersion: quarry.dev/v1\nkind: Blueprint\nmetadata: { namespace: x, name: y, description: z }\ninputs: { type: object }\nmodules: [{ name: a, source: bad, version: \"^1\" }]\nstack: { name: s, terraform_version: \"~> 1.9\" }\n").expect("write");
    let mut command = Command::cargo_bin("scaffold").expect("built");
    command
        .env("HOME", home.path())
        .arg("validate")
        .arg(broken.path());
    command.assert().code(3).stderr(
        predicate::str::contains("2 problem(s)")
            .and(predicate::str::contains("/modules/0/version")),
    );
}

#[test]
fn new_non_interactive_lists_every_missing_input() {
    let home = tempfile::tempdir().expect("home");
    let quarry = published(home.path());
    scaffold(&quarry, home.path())
        .current_dir(home.path())
        .args([
            "new",
            "fixtures/greeter",
            "--non-interactive",
            "--set",
            "environment=prod",
        ])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("\"who\" is a required property")
                .and(predicate::str::contains(
                    "\"api_key\" is a required property",
                ))
                .and(predicate::str::contains(
                    "\"approvers\" is a required property",
                )),
        );
    scaffold(&quarry, home.path())
        .current_dir(home.path())
        .args([
            "new",
            "fixtures/greeter",
            "--non-interactive",
            "--set",
            "excitement=lots",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("--set excitement"));
    scaffold(&quarry, home.path())
        .current_dir(home.path())
        .args(["new", "fixtures/greeter@~>2.0", "--non-interactive"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "no version of blueprint fixtures/greeter matches `~>2.0`; available: 1.0.0",
        ));
}

#[test]
fn new_writes_atomically_refuses_non_empty_targets_and_dry_runs() {
    let home = tempfile::tempdir().expect("home");
    let quarry = published(home.path());
    let values = home.path().join("values.yaml");
    std::fs::write(&values, "who: Ada\nenvironment: dev\nexcitement: 2\n").expect("write");
    let out = home.path().join("stack");
    let new = |extra: &[&str]| {
        let mut command = scaffold(&quarry, home.path());
        command
            .env("SCAFFOLD_INPUT_API_KEY", "from-the-environment-1234")
            .args([
                "new",
                "fixtures/greeter@~> 1.0",
                "--non-interactive",
                "--values",
            ])
            .arg(&values)
            .arg("-o")
            .arg(&out)
            .args(extra);
        command
    };
    new(&[])
        .assert()
        .success()
        .stderr(predicate::str::contains("from fixtures/greeter 1.0.0"));
    let main = std::fs::read_to_string(out.join("main.tf")).expect("main.tf");
    assert!(
        main.contains("registry.test/fixtures/greeting/generic"),
        "{main}"
    );
    let answers: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(".scaffold/answers.json")).expect("answers"),
    )
    .expect("json");
    assert_eq!(answers["blueprint"]["constraint"], "~> 1.0");
    assert_eq!(answers["inputs"]["excitement"], 2);
    for entry in walk(&out) {
        let content = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(
            !content.contains("from-the-environment-1234"),
            "secret in {}",
            entry.display()
        );
    }

    new(&[])
        .assert()
        .code(7)
        .stderr(predicate::str::contains("is not empty: pass --force"));
    std::fs::write(&values, "who: Grace\nenvironment: dev\n").expect("write");
    new(&["--dry-run"]).assert().success().stdout(
        predicate::str::contains("~ main.tf")
            .and(predicate::str::contains("= terraform.tf"))
            .and(
                predicate::str::is_match(r#"\n-  name +\= "Ada""#)
                    .expect("regex")
                    .and(predicate::str::is_match(r#"\n\+  name +\= "Grace""#).expect("regex")),
            ),
    );
    assert!(
        std::fs::read_to_string(out.join("main.tf"))
            .expect("main.tf")
            .contains("Ada"),
        "dry run wrote nothing"
    );
    new(&["--force"]).assert().success();
    assert!(
        std::fs::read_to_string(out.join("main.tf"))
            .expect("main.tf")
            .contains("Grace")
    );
    let leftovers: Vec<_> = std::fs::read_dir(home.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(".scaffold-")
        })
        .collect();
    assert!(leftovers.is_empty(), "no staging directories left behind");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("readable")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn unreachable_registry_and_refused_token_say_what_to_do() {
    let home = tempfile::tempdir().expect("home");
    let mut command = Command::cargo_bin("scaffold").expect("built");
    command
        .env("HOME", home.path())
        .env("SCAFFOLD_REGISTRY", "http://127.0.0.1:9")
        .args(["search", "x"]);
    command.assert().code(5).stderr(predicate::str::contains(
        "cannot reach the registry at http://127.0.0.1:9",
    ));

    let quarry = Quarry::start(&["--read-access", "token"]).expect("quarry starts");
    scaffold(&quarry, home.path())
        .args(["search", "x"])
        .assert()
        .code(6)
        .stderr(
            predicate::str::contains("(401)")
                .and(predicate::str::contains("scaffold login registry.test")),
        );
}

#[test]
fn login_stores_the_token_where_terraform_reads_it() {
    let home = tempfile::tempdir().expect("home");
    let quarry = Quarry::start(&["--read-access", "token"]).expect("quarry starts");
    let token = quarry.token("dev", &["read"]).expect("token");
    scaffold(&quarry, home.path())
        .args(["login", REGISTRY_HOST, "--registry", &quarry.url])
        .write_stdin("qry_0000000000000000_wrong\n")
        .assert()
        .code(6);
    scaffold(&quarry, home.path())
        .args(["login", REGISTRY_HOST, "--registry", &quarry.url])
        .write_stdin(format!("{token}\n"))
        .assert()
        .success();
    let file = home.path().join(".terraform.d/credentials.tfrc.json");
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("json");
    assert_eq!(
        stored["credentials"][REGISTRY_HOST]["token"],
        token.as_str()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The stored token now serves every command.
    scaffold(&quarry, home.path())
        .args(["search", "anything"])
        .assert()
        .success();
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let mut command = Command::cargo_bin("scaffold").expect("built");
        command
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("scaffold").and(predicate::str::contains("publish")));
    }
}

#[test]
fn published_with_scaffold_rendered_with_scaffold_planned_with_terraform() {
    let home = tempfile::tempdir().expect("home");
    let quarry = published(home.path());
    let values = home.path().join("values.json");
    std::fs::write(&values, r#"{"who": "Ada", "environment": "prod", "excitement": 3, "approvers": ["ana", "bo"], "api_key": "never-on-disk-42"}"#).expect("write");
    let terraform = Terraform::new(&quarry.url, "").expect("terraform dir");
    let work = terraform.work_dir();
    std::fs::remove_dir_all(&work).expect("empty");
    scaffold(&quarry, home.path())
        .args(["new", "fixtures/greeter", "--non-interactive", "--values"])
        .arg(&values)
        .arg("-o")
        .arg(&work)
        .assert()
        .success();
    let init = terraform
        .run(&["init", "-input=false", "-no-color"])
        .expect("terraform runs");
    assert!(init.status.success(), "{}", text(&init));
    let plan = terraform
        .run_with(
            &["plan", "-input=false", "-no-color"],
            &[("TF_VAR_api_key", "never-on-disk-42")],
        )
        .expect("terraform runs");
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(text(&plan).contains("Hello, Ada!!!"), "{}", text(&plan));
}
