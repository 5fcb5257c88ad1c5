//! Every subcommand, run as the built `scaffold` binary against a real `quarry` started here.

mod common;

use assert_cmd::Command;
use common::scaffold;
use predicates::prelude::*;
use quarry_e2e::{Quarry, REGISTRY_HOST, Terraform, fixture_module, repo_root, text};
use serde_json::Value;
use std::path::Path;

/// Output that says each of `texts`.
fn says(texts: &'static [&'static str]) -> impl predicates::Predicate<str> {
    predicate::function(move |output: &str| texts.iter().all(|text| output.contains(text)))
}

/// `scaffold` with only a home directory: no registry configured.
fn offline(home: &Path) -> Command {
    let mut command = Command::cargo_bin("scaffold").expect("built");
    command.env("HOME", home);
    command
}

fn greeter() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/blueprints/greeter")
}

/// A registry with the greeting module (1.1.0, 1.2.0) and the greeter blueprint 1.0.0, published
/// with `scaffold publish`, and a home directory for `scaffold`.
fn published() -> (Quarry, tempfile::TempDir) {
    let home = tempfile::tempdir().expect("home");
    let quarry = publish_fixtures(home.path());
    (quarry, home)
}

fn publish_fixtures(home: &Path) -> Quarry {
    let quarry = Quarry::start(&[]).expect("quarry starts");
    let token = quarry.token("ci", &["publish:fixtures"]).expect("token");
    for version in ["1.1.0", "1.2.0"] {
        common::publish_greeting(&quarry, home, &token, version);
    }
    scaffold(&quarry, home)
        .env("TF_TOKEN_registry_test", &token)
        .args(["publish", "blueprint"])
        .arg(greeter())
        .args(["--version", "1.0.0"])
        .assert()
        .success()
        .stderr(says(&["published blueprint fixtures/greeter 1.0.0"]));
    quarry
}

#[test]
fn publish_refuses_a_version_twice_and_a_token_without_scope() {
    let (quarry, home) = published();
    let publish_greeter = |token: &str, version: &str| {
        scaffold(&quarry, home.path())
            .env("TF_TOKEN_registry_test", token)
            .args(["publish", "blueprint"])
            .arg(greeter())
            .args(["--version", version])
            .assert()
    };
    let token = quarry.token("again", &["publish:fixtures"]).expect("token");
    publish_greeter(&token, "1.0.0")
        .code(7)
        .stderr(says(&["already published; versions are immutable"]));
    let other = quarry.token("other", &["publish:other"]).expect("token");
    publish_greeter(&other, "1.1.0")
        .code(6)
        .stderr(says(&["(403)"]));
    common::greeting_publish(&mut scaffold(&quarry, home.path()), "9.0.0")
        .assert()
        .code(6)
        .stderr(says(&[
            "scaffold login registry.test",
            "TF_TOKEN_registry_test",
        ]));
}

#[test]
fn search_and_show_in_text_and_json() {
    let (quarry, home) = published();
    scaffold(&quarry, home.path())
        .args(["search", "greet"])
        .assert()
        .success()
        .stdout(says(&[
            "blueprint  fixtures/greeter",
            "module     fixtures/greeting/generic",
        ]));
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
        .stdout(says(&["fixtures/greeting/generic/1.1.0", "punctuation"]));
    scaffold(&quarry, home.path())
        .args(["show", "fixtures/greeter"])
        .assert()
        .success()
        .stdout(says(&["api_key", "(secret)", "no-deletes"]));
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
        .stderr(says(&["blueprint fixtures/nothing not found"]));
}

#[test]
fn validate_checks_blueprints_and_modules_locally() {
    let home = tempfile::tempdir().expect("home");
    let mut command = offline(home.path());
    command.arg("validate").arg(greeter());
    command.assert().success().stdout(says(&[
        "blueprint fixtures/greeter with 2 modules, 1 policy, 1 context",
    ]));
    let mut command = offline(home.path());
    command.arg("validate").arg(fixture_module("greeting"));
    command
        .assert()
        .success()
        .stdout(says(&["module with 3 variables, 2 outputs, 1 submodule"]));

    let broken = tempfile::tempdir().expect("dir");
    std::fs::write(broken.path().join("blueprint.yaml"), "apiVersion: quarry.dev/v1\nkind: Blueprint\nmetadata: { namespace: x, name: y, description: z }\ninputs: { type: object }\nmodules: [{ name: a, source: bad, version: \"^1\" }]\nstack: { name: s, terraform_version: \"~> 1.9\" }\n").expect("write");
    let mut command = offline(home.path());
    command.arg("validate").arg(broken.path());
    command
        .assert()
        .code(3)
        .stderr(says(&["2 problems", "/modules/0/version"]));
}

#[test]
fn new_non_interactive_lists_every_missing_input() {
    let (quarry, home) = published();
    let new = |args: &[&str]| {
        scaffold(&quarry, home.path())
            .current_dir(home.path())
            .arg("new")
            .args(args)
            .arg("--non-interactive")
            .assert()
    };
    const REQUIRED: &[&str] = &[
        "\"who\" is a required property",
        "\"api_key\" is a required property",
        "\"approvers\" is a required property",
    ];
    new(&["fixtures/greeter", "--set", "environment=prod"])
        .code(3)
        .stderr(says(REQUIRED));
    new(&["fixtures/greeter", "--set", "excitement=lots"])
        .code(3)
        .stderr(says(&["--set excitement"]));
    new(&["fixtures/greeter@~>2.0"]).code(4).stderr(says(&[
        "no version of blueprint fixtures/greeter matches `~>2.0`; available: 1.0.0",
    ]));
}

#[test]
fn new_writes_atomically_refuses_non_empty_targets_and_dry_runs() {
    let (quarry, home) = published();
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
        .stderr(says(&["from fixtures/greeter 1.0.0"]));
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
        .stderr(says(&["is not empty: pass --force"]));
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
    let mut command = offline(home.path());
    command
        .env("SCAFFOLD_REGISTRY", "http://127.0.0.1:9")
        .args(["search", "x"]);
    command
        .assert()
        .code(5)
        .stderr(says(&["cannot reach the registry at http://127.0.0.1:9"]));

    let quarry = Quarry::start(&["--read-access", "token"]).expect("quarry starts");
    scaffold(&quarry, home.path())
        .args(["search", "x"])
        .assert()
        .code(6)
        .stderr(says(&["(401)", "scaffold login registry.test"]));
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
            .stdout(says(&["scaffold", "publish"]));
    }
}

#[test]
fn published_with_scaffold_rendered_with_scaffold_planned_with_terraform() {
    let (quarry, home) = published();
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

#[test]
fn a_loopback_registry_reaches_terraform_init_with_the_cli_configuration_quarry_writes() {
    // The quick start: `quarry serve` wrote a CLI configuration for its own address and said
    // how to use it; scaffold pointed at the loopback URL renders sources with that address.
    let (quarry, home) = published();
    let cli_config = quarry.data_dir.path().join("terraform.rc");
    let startup = quarry.drain_logs().join("\n");
    assert!(
        startup.contains(&format!(
            "export TF_CLI_CONFIG_FILE={}",
            cli_config.display()
        )),
        "{startup}"
    );
    let address = quarry.url.trim_start_matches("http://");
    let work = home.path().join("stack");
    let values = home.path().join("values.json");
    std::fs::write(&values, r#"{"who": "Ada", "environment": "prod", "approvers": ["ana", "bo"], "api_key": "never-on-disk-42"}"#).expect("write");
    scaffold(&quarry, home.path())
        .env_remove("SCAFFOLD_SOURCE_HOST")
        .args(["new", "fixtures/greeter", "--non-interactive", "--values"])
        .arg(&values)
        .arg("-o")
        .arg(&work)
        .assert()
        .success();
    let main = std::fs::read_to_string(work.join("main.tf")).expect("main.tf");
    assert!(
        main.contains(&format!("\"{address}/fixtures/greeting/generic\"")),
        "{main}"
    );
    let init = std::process::Command::new("terraform")
        .args(["init", "-input=false", "-no-color"])
        .current_dir(&work)
        .env("TF_CLI_CONFIG_FILE", &cli_config)
        .env("TF_DATA_DIR", work.join(".terraform"))
        .output()
        .expect("terraform runs");
    assert!(init.status.success(), "{}", text(&init));
    assert!(text(&init).contains("Downloading"), "{}", text(&init));
}

#[test]
fn what_a_new_user_tries_first_just_works() {
    let (quarry, home) = published();

    // Search with no query lists everything, a page at a time.
    let all = scaffold(&quarry, home.path())
        .arg("search")
        .output()
        .expect("runs");
    assert!(all.status.success(), "{}", text(&all));
    let listed = String::from_utf8_lossy(&all.stdout).into_owned();
    assert!(
        listed.contains("fixtures/greeter") && listed.contains("fixtures/greeting/generic"),
        "{listed}"
    );
    let token = quarry
        .token("ci-page", &["publish:fixtures"])
        .expect("token");
    let status = quarry
        .publish_dir(
            &token,
            "fixtures/another/generic",
            "1.0.0",
            &fixture_module("greeting"),
        )
        .expect("publish");
    assert_eq!(status, 201);
    let page = scaffold(&quarry, home.path())
        .args(["search", "--limit", "1"])
        .output()
        .expect("runs");
    assert!(page.status.success(), "{}", text(&page));
    assert!(text(&page).contains("--offset 1"), "{}", text(&page));

    // A reader that goes away (`| head`) ends the command quietly.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("scaffold"))
        .args(["show", "fixtures/greeter"])
        .env("HOME", home.path())
        .env("SCAFFOLD_REGISTRY", &quarry.url)
        .env("SCAFFOLD_SOURCE_HOST", REGISTRY_HOST)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    drop(child.stdout.take());
    let closed = child.wait_with_output().expect("ends");
    assert_eq!(closed.status.code(), Some(0), "{}", text(&closed));
    assert!(!text(&closed).contains("panicked"), "{}", text(&closed));

    // Every bad --set is listed, not only the first.
    let bad = scaffold(&quarry, home.path())
        .args(["new", "fixtures/greeter", "--non-interactive", "--dry-run"])
        .args([
            "--set",
            "excitement=lots",
            "--set",
            "bogus=1",
            "--set",
            "noequals",
        ])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(3), "{}", text(&bad));
    let said = text(&bad);
    assert!(
        said.contains("3 inputs have problems")
            && said.contains("--set excitement")
            && said.contains("no input `bogus`")
            && said.contains("--set noequals: expected KEY=VALUE"),
        "{said}"
    );

    // No registry is a usage error (2); an explicit token works where TF_TOKEN_* cannot name the
    // host (an address with a port).
    let unconfigured = scaffold(&quarry, home.path())
        .env_remove("SCAFFOLD_REGISTRY")
        .args(["search", "x"])
        .output()
        .expect("runs");
    assert_eq!(
        unconfigured.status.code(),
        Some(2),
        "{}",
        text(&unconfigured)
    );
    let token = quarry
        .token("ci-port", &["publish:fixtures"])
        .expect("token");
    let publish = |version: &str, token_args: &[&str], token_env: Option<&str>| {
        let mut command = scaffold(&quarry, home.path());
        command.env_remove("SCAFFOLD_SOURCE_HOST");
        if let Some(token) = token_env {
            command.env("SCAFFOLD_TOKEN", token);
        }
        command.args(token_args);
        common::greeting_publish(&mut command, version)
            .output()
            .expect("runs")
    };
    let by_env = publish("1.3.0", &[], Some(&token));
    assert!(by_env.status.success(), "{}", text(&by_env));
    let by_flag = publish("1.4.0", &["--token", &token], None);
    assert!(by_flag.status.success(), "{}", text(&by_flag));
    let without = publish("1.5.0", &[], None);
    assert_eq!(without.status.code(), Some(6), "{}", text(&without));
}

/// A GoReleaser-style `dist/` of provider `echo` 1.0.0: a zip for this machine's platform,
/// beside files a release directory also holds that are not the release.
fn provider_dist() -> tempfile::TempDir {
    use std::io::Write as _;
    let dist = tempfile::tempdir().expect("dist");
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file(
            "terraform-provider-echo_v1.0.0",
            zip::write::SimpleFileOptions::default().unix_permissions(0o755),
        )
        .expect("zip entry");
    writer.write_all(b"#!/bin/sh\n").expect("zip write");
    let zip = writer.finish().expect("zip").into_inner();
    std::fs::write(
        dist.path()
            .join(format!("terraform-provider-echo_1.0.0_linux_{arch}.zip")),
        zip,
    )
    .expect("write zip");
    std::fs::write(dist.path().join("artifacts.json"), "[]").expect("write");
    std::fs::write(dist.path().join("config.yaml"), "project_name: echo\n").expect("write");
    dist
}

#[test]
fn publish_provider_uploads_a_release_directory_that_terraform_then_installs() {
    let home = tempfile::tempdir().expect("home");
    let quarry = Quarry::start(&[]).expect("quarry starts");
    let token = quarry.token("ci", &["publish:acme"]).expect("token");
    let dist = provider_dist();
    let publish = |dist: &Path| {
        let mut command = scaffold(&quarry, home.path());
        command
            .env("TF_TOKEN_registry_test", &token)
            .args(["publish", "provider"])
            .arg(dist)
            .args(["--address", "acme/echo", "--version", "1.0.0"]);
        command
    };

    // A signature without the key that verifies it is caught before anything is sent.
    let signed = tempfile::tempdir().expect("dist");
    for entry in std::fs::read_dir(dist.path()).expect("dist") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, signed.path().join(path.file_name().expect("name"))).expect("copy");
    }
    std::fs::write(
        signed
            .path()
            .join("terraform-provider-echo_1.0.0_SHA256SUMS.sig"),
        b"sig",
    )
    .expect("write");
    publish(signed.path()).assert().failure().stderr(says(&[
        "terraform-provider-echo_1.0.0_SHA256SUMS.sig",
        "--key",
    ]));

    publish(dist.path())
        .assert()
        .success()
        .stderr(says(&["published provider acme/echo 1.0.0"]));
    let terraform = Terraform::new(
        &quarry.url,
        r#"
terraform {
  required_providers {
    echo = { source = "registry.test/acme/echo", version = "1.0.0" }
  }
}
"#,
    )
    .expect("terraform dir");
    let init = terraform.init().expect("init installs the provider");
    assert!(
        init.contains("Installed registry.test/acme/echo v1.0.0"),
        "{init}"
    );
}
