//! Day 2 against a real `quarry`: `scaffold update` (a table of scenarios, each with two published
//! versions of a fixture blueprint and an edit by the user), `new --force` keeping what it did
//! not write, `diff` and `outdated` with their exit codes, and an update that terraform then
//! inits, validates and plans.

mod common;

use assert_cmd::Command;
use common::scaffold;
use quarry_e2e::{Quarry, Terraform, repo_root, text};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SECRET: &str = "never-on-disk-42";

/// A registry with the greeting module 1.1.0, 1.2.0 and 2.0.0, and a token to publish.
struct Registry {
    quarry: Quarry,
    token: String,
    home: tempfile::TempDir,
}

impl Registry {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`Registry::start`] with extra `quarry serve` flags.
    fn start_with(flags: &[&str]) -> Self {
        let quarry = Quarry::start(flags).expect("quarry starts");
        let token = quarry.token("ci", &["publish:fixtures"]).expect("token");
        let home = tempfile::tempdir().expect("home");
        let registry = Self {
            quarry,
            token,
            home,
        };
        for version in ["1.1.0", "1.2.0", "2.0.0"] {
            common::publish_greeting(
                &registry.quarry,
                registry.home.path(),
                &registry.token,
                version,
            );
        }
        registry
    }

    fn scaffold(&self) -> Command {
        scaffold(&self.quarry, self.home.path())
    }

    /// Publishes the greeter fixture as `fixtures/NAME` VERSION, after `change` edits its copy.
    fn publish(&self, name: &str, version: &str, change: &dyn Fn(&Path)) {
        let dir = self.home.path().join(format!("src-{name}-{version}"));
        copy_dir(&repo_root().join("tests/fixtures/blueprints/greeter"), &dir);
        edit(&dir.join("blueprint.yaml"), |text| {
            text.replace("  name: greeter\n", &format!("  name: {name}\n"))
        });
        change(&dir);
        self.scaffold()
            .env("TF_TOKEN_registry_test", &self.token)
            .args(["publish", "blueprint"])
            .arg(&dir)
            .args(["--version", version])
            .assert()
            .success();
    }

    /// `scaffold new fixtures/NAME@~> 1.0` for Ada in dev, into a fresh directory.
    fn new_stack(&self, name: &str) -> PathBuf {
        self.new_stack_in(name, self.home.path().join(format!("stack-{name}")))
    }

    /// The greeter as `fixtures/NAME` 1.0.0, and a stack of it (with the user's own `extra.tf`)
    /// as the working directory of a terraform set up for this registry.
    fn terraform_stack(&self, name: &str, extra_tf: &str) -> (Terraform, PathBuf) {
        self.publish(name, "1.0.0", &no_change);
        let terraform = Terraform::new(&self.quarry.url, "").expect("terraform dir");
        let work = terraform.work_dir();
        std::fs::remove_dir_all(&work).expect("empty");
        let stack = self.new_stack_in(name, work);
        std::fs::write(stack.join("extra.tf"), extra_tf).expect("write extra.tf");
        (terraform, stack)
    }

    fn new_stack_in(&self, name: &str, stack: PathBuf) -> PathBuf {
        self.scaffold()
            .args([
                "new",
                &format!("fixtures/{name}@~> 1.0"),
                "--non-interactive",
            ])
            .args(["--set", "who=Ada", "--set", "environment=dev"])
            .env("SCAFFOLD_INPUT_API_KEY", SECRET)
            .arg("-o")
            .arg(&stack)
            .assert()
            .success();
        stack
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let changed = change(text.clone());
    assert_ne!(
        text,
        changed,
        "the edit of {} changes nothing",
        path.display()
    );
    std::fs::write(path, changed).expect("write");
}

/// Every file under `dir`, by relative path (what "changes nothing" compares).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .expect("inside")
                    .display()
                    .to_string();
                files.insert(relative, std::fs::read(&path).expect("read"));
            }
        }
    }
    files
}

fn read(stack: &Path, path: &str) -> String {
    std::fs::read_to_string(stack.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn answers(stack: &Path) -> Value {
    serde_json::from_str(&read(stack, ".scaffold/answers.json")).expect("answers.json")
}

/// The greeter's template files, relative to a blueprint directory.
const MAIN: &str = "template/main.tf.tera";
const TERRAFORM: &str = "template/terraform.tf";
const ENVS: &str = "template/envs/{{ inputs.environment }}.json.tera";

/// One update scenario.
struct Scenario {
    name: &'static str,
    /// What version 1.1.0 changes in the blueprint.
    blueprint: fn(&Path),
    /// What the user does to the stack before updating.
    user: fn(&Path),
    args: &'static [&'static str],
    /// The exit code expected.
    code: i32,
    check: fn(&Path, &str, &BTreeMap<String, Vec<u8>>),
}

fn no_change(_: &Path) {}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "clean-merge",
            // The blueprint changes terraform.tf and (with its version) main.tf's first line;
            // the user adds a line at the end of main.tf and a file of their own.
            blueprint: |dir| edit(&dir.join(TERRAFORM), |t| t.replace(">= 1.5", ">= 1.6")),
            user: |stack| {
                edit(&stack.join("main.tf"), |t| {
                    t + "\n# kept: the user's note\n"
                });
                std::fs::write(stack.join("extra.tf"), "# the user's own file\n").unwrap();
                std::fs::create_dir_all(stack.join(".terraform")).unwrap();
                std::fs::write(stack.join(".terraform/marker"), "x").unwrap();
            },
            args: &[],
            code: 0,
            check: |stack, _, before| {
                let main = read(stack, "main.tf");
                assert!(main.contains("1.1.0 for Ada"), "{main}");
                assert!(main.contains("# kept: the user's note"), "{main}");
                assert!(read(stack, "terraform.tf").contains(">= 1.6"));
                assert_eq!(read(stack, "extra.tf"), "# the user's own file\n");
                assert_eq!(read(stack, ".terraform/marker"), "x");
                assert_eq!(answers(stack)["blueprint"]["version"], "1.1.0");
                assert_ne!(before.get("main.tf"), snapshot(stack).get("main.tf"));
            },
        },
        Scenario {
            name: "conflict-inline",
            blueprint: first_line_by_the_blueprint,
            user: first_line_by_the_user,
            args: &[],
            code: 7,
            check: |stack, stderr, _| {
                let main = read(stack, "main.tf");
                assert!(main.contains("<<<<<<< ours"), "{main}");
                assert!(main.contains("# Mine:"), "{main}");
                assert!(main.contains("# Made from"), "{main}");
                assert!(main.contains(">>>>>>> theirs"), "{main}");
                assert!(
                    stderr.contains("main.tf: changed by you and by the blueprint"),
                    "{stderr}"
                );
            },
        },
        Scenario {
            name: "conflict-rej",
            blueprint: first_line_by_the_blueprint,
            user: first_line_by_the_user,
            args: &["--conflict", "rej"],
            code: 7,
            check: |stack, stderr, _| {
                let main = read(stack, "main.tf");
                assert!(main.starts_with("# Mine:"), "{main}");
                assert!(!main.contains("<<<<<<<"), "{main}");
                let rejected = read(stack, "main.tf.rej");
                assert!(rejected.contains("# Made from"), "{rejected}");
                assert!(stderr.contains("main.tf.rej"), "{stderr}");
            },
        },
        Scenario {
            name: "user-deleted",
            blueprint: |dir| edit(&dir.join(TERRAFORM), |t| t.replace(">= 1.5", ">= 1.6")),
            user: |stack| std::fs::remove_file(stack.join("terraform.tf")).unwrap(),
            args: &[],
            code: 0,
            check: |stack, stderr, _| {
                assert!(!stack.join("terraform.tf").exists());
                assert!(
                    stderr
                        .contains("terraform.tf changed in the blueprint, but you had deleted it"),
                    "{stderr}"
                );
            },
        },
        Scenario {
            name: "removed-unchanged",
            blueprint: |dir| std::fs::remove_file(dir.join(ENVS)).unwrap(),
            user: no_change,
            args: &[],
            code: 0,
            check: |stack, _, _| assert!(!stack.join("envs/dev.json").exists()),
        },
        Scenario {
            name: "removed-changed",
            blueprint: |dir| std::fs::remove_file(dir.join(ENVS)).unwrap(),
            user: |stack| edit(&stack.join("envs/dev.json"), |t| t.replace("plain", "mine")),
            args: &[],
            code: 7,
            check: |stack, stderr, _| {
                assert!(read(stack, "envs/dev.json").contains("mine"));
                assert!(
                    stderr.contains("envs/dev.json: the blueprint no longer renders this file"),
                    "{stderr}"
                );
            },
        },
        Scenario {
            name: "renamed",
            blueprint: |dir| {
                std::fs::rename(dir.join(TERRAFORM), dir.join("template/versions.tf")).unwrap()
            },
            user: |stack| edit(&stack.join("terraform.tf"), |t| t + "# the user's edit\n"),
            args: &[],
            code: 0,
            check: |stack, stderr, _| {
                assert!(!stack.join("terraform.tf").exists());
                assert!(read(stack, "versions.tf").contains("# the user's edit"));
                assert!(
                    stderr.contains("terraform.tf was renamed to versions.tf"),
                    "{stderr}"
                );
            },
        },
        Scenario {
            name: "new-input-set",
            blueprint: add_team_input,
            user: no_change,
            args: &["--set", "team=platform"],
            code: 0,
            check: |stack, _, _| {
                assert!(read(stack, "main.tf").contains("# team: platform"));
                assert_eq!(answers(stack)["inputs"]["team"], "platform");
            },
        },
        Scenario {
            name: "new-input-missing",
            blueprint: add_team_input,
            user: no_change,
            args: &[],
            code: 3,
            check: |stack, stderr, before| {
                assert!(stderr.contains("team"), "{stderr}");
                assert_eq!(&snapshot(stack), before, "the stack changed");
            },
        },
        Scenario {
            name: "dropped-input",
            blueprint: |dir| {
                edit(&dir.join("blueprint.yaml"), |t| {
                    t.replace(
                        "    style:\n      type: string\n      title: Style\n      description: How the greeting is written down in the stack's environment file.\n      enum: [plain, fancy]\n      default: plain\n",
                        "",
                    )
                });
                edit(&dir.join(ENVS), |t| {
                    t.replace(", \"style\": {{ inputs.style | json }}", "")
                });
            },
            user: no_change,
            args: &[],
            code: 0,
            check: |stack, stderr, _| {
                assert!(stderr.contains("`style` is no longer an input"), "{stderr}");
                assert!(answers(stack)["inputs"].get("style").is_none());
                assert!(!read(stack, "envs/dev.json").contains("style"));
            },
        },
        Scenario {
            name: "module-bump",
            blueprint: |dir| {
                edit(&dir.join("blueprint.yaml"), |t| {
                    t.replace("version: \"~> 1.1\"", "version: \"~> 2.0\"")
                })
            },
            user: no_change,
            args: &[],
            code: 0,
            check: |stack, _, _| {
                let modules = answers(stack)["modules"].clone();
                assert_eq!(modules[0]["version"], "2.0.0", "{modules}");
                assert_eq!(modules[0]["constraint"], "~> 2.0", "{modules}");
                assert!(read(stack, "main.tf").contains("version = \"2.0.0\""));
            },
        },
        Scenario {
            name: "dry-run",
            blueprint: |dir| edit(&dir.join(TERRAFORM), |t| t.replace(">= 1.5", ">= 1.6")),
            user: |stack| edit(&stack.join("main.tf"), |t| t + "# mine\n"),
            args: &["--dry-run"],
            code: 0,
            check: |stack, _, before| {
                assert_eq!(&snapshot(stack), before, "a dry run changed the stack")
            },
        },
        Scenario {
            name: "failure-midway",
            // A new file under `runbook/`, where the user keeps a file named `runbook`: the
            // update fails after main.tf would have been written.
            blueprint: |dir| {
                std::fs::create_dir_all(dir.join("template/zz")).unwrap();
                std::fs::write(dir.join("template/zz/NOTES.md"), "notes\n").unwrap();
            },
            user: |stack| std::fs::write(stack.join("zz"), "the user's file named zz\n").unwrap(),
            args: &[],
            code: 1,
            check: |stack, stderr, before| {
                assert!(stderr.contains("nothing was changed"), "{stderr}");
                assert_eq!(
                    &snapshot(stack),
                    before,
                    "a failed update changed the stack"
                );
            },
        },
    ]
}

/// The blueprint and the user both change main.tf's first line: a conflict.
fn first_line_by_the_blueprint(dir: &Path) {
    edit(&dir.join(MAIN), |t| {
        t.replacen("# Rendered from", "# Made from", 1)
    });
}

fn first_line_by_the_user(stack: &Path) {
    edit(&stack.join("main.tf"), |t| {
        t.replacen("# Rendered", "# Mine:", 1)
    });
}

fn add_team_input(dir: &Path) {
    edit(&dir.join("blueprint.yaml"), |t| {
        t.replace("required: [who, environment, api_key]", "required: [who, environment, api_key, team]")
            .replace(
                "  properties:\n    who:",
                "  properties:\n    team:\n      type: string\n      description: The owning team.\n    who:",
            )
    });
    edit(&dir.join(MAIN), |t| t + "# team: {{ inputs.team }}\n");
}

#[test]
fn updates_merge_three_ways_and_never_lose_an_edit() {
    let registry = Registry::start();
    let mut failures = Vec::new();
    for scenario in scenarios() {
        let name = format!("upd-{}", scenario.name);
        registry.publish(&name, "1.0.0", &no_change);
        let stack = registry.new_stack(&name);
        (scenario.user)(&stack);
        registry.publish(&name, "1.1.0", &scenario.blueprint);
        let before = snapshot(&stack);
        let output = registry
            .scaffold()
            .arg("update")
            .arg(&stack)
            .arg("--non-interactive")
            .args(scenario.args)
            .output()
            .expect("scaffold runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        );
        if output.status.code() != Some(scenario.code) {
            failures.push(format!(
                "{}: exit {:?}, expected {}\nstdout: {stdout}\nstderr: {stderr}",
                scenario.name,
                output.status.code(),
                scenario.code
            ));
            continue;
        }
        if scenario.name == "dry-run" {
            assert!(stdout.contains("+++ b/terraform.tf"), "{stdout}");
            assert!(
                stdout.contains("+  required_version = \">= 1.6\""),
                "{stdout}"
            );
        }
        (scenario.check)(&stack, &stderr, &before);
        // The secret never reaches a file, whatever the scenario.
        for (path, content) in snapshot(&stack) {
            assert!(
                !String::from_utf8_lossy(&content).contains(SECRET),
                "{}: the secret is in {path}",
                scenario.name
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn new_force_keeps_what_it_did_not_write_and_dry_run_says_so() {
    let registry = Registry::start();
    registry.publish("keep", "1.0.0", &no_change);
    let stack = registry.new_stack("keep");
    std::fs::write(stack.join("extra.tf"), "# mine\n").unwrap();
    std::fs::create_dir_all(stack.join(".terraform")).unwrap();
    std::fs::write(stack.join(".terraform.lock.hcl"), "# lock\n").unwrap();
    edit(&stack.join("main.tf"), |t| t + "# local edit\n");
    let new = |extra: &[&str]| {
        registry
            .scaffold()
            .args(["new", "fixtures/keep", "--non-interactive", "--force"])
            .args(["--set", "who=Ada", "--set", "environment=dev"])
            .env("SCAFFOLD_INPUT_API_KEY", SECRET)
            .arg("-o")
            .arg(&stack)
            .args(extra)
            .output()
            .expect("runs")
    };
    let dry = new(&["--dry-run"]);
    let listed = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(listed.contains("~ main.tf"), "{listed}");
    assert!(listed.contains(". extra.tf"), "{listed}");
    assert!(listed.contains(". .terraform.lock.hcl"), "{listed}");
    assert!(listed.contains("nothing is deleted"), "{listed}");
    let written = new(&[]);
    assert!(written.status.success(), "{}", text(&written));
    assert_eq!(read(&stack, "extra.tf"), "# mine\n");
    assert_eq!(read(&stack, ".terraform.lock.hcl"), "# lock\n");
    assert!(stack.join(".terraform").is_dir());
    assert!(!read(&stack, "main.tf").contains("# local edit"));

    // The same stack again, from its answers file.
    let again = registry.home.path().join("again");
    registry
        .scaffold()
        .args(["new", "fixtures/keep", "--non-interactive", "--values"])
        .arg(stack.join(".scaffold/answers.json"))
        .env("SCAFFOLD_INPUT_API_KEY", SECRET)
        .arg("-o")
        .arg(&again)
        .assert()
        .success();
    for (path, content) in snapshot(&again) {
        let constraint_recorded = path == ".scaffold/answers.json";
        if !constraint_recorded {
            assert_eq!(Some(&content), snapshot(&stack).get(&path), "{path}");
        }
    }
}

#[test]
fn diff_and_outdated_report_with_their_exit_codes() {
    let registry = Registry::start();
    registry.publish("report", "1.0.0", &no_change);
    let stack = registry.new_stack("report");
    let run = |args: &[&str]| {
        registry
            .scaffold()
            .args(args)
            .arg(&stack)
            .output()
            .expect("runs")
    };
    let same = run(&["diff"]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));

    edit(&stack.join("main.tf"), |t| t + "# drift\n");
    std::fs::remove_file(stack.join("terraform.tf")).unwrap();
    let drifted = run(&["diff"]);
    assert_eq!(drifted.status.code(), Some(8), "{}", text(&drifted));
    let shown = String::from_utf8_lossy(&drifted.stdout).into_owned();
    assert!(shown.contains("+# drift"), "{shown}");
    assert!(
        shown.contains("--- a/terraform.tf\n+++ /dev/null"),
        "{shown}"
    );

    // The greeting module has 2.0.0, which the blueprint's `~> 1.1` does not select: behind.
    let outdated = run(&["--output", "json", "outdated"]);
    assert_eq!(outdated.status.code(), Some(8), "{}", text(&outdated));
    let report: Value = serde_json::from_slice(&outdated.stdout).expect("json");
    let items = &report[0]["items"];
    assert_eq!(items[0]["kind"], "blueprint");
    assert_eq!(items[0]["behind"], false, "{report}");
    assert_eq!(items[1]["used"], "1.2.0", "{report}");
    assert_eq!(items[1]["newest_matching"], "1.2.0", "{report}");
    assert_eq!(items[1]["newest"], "2.0.0", "{report}");
    assert_eq!(report[0]["behind"], true);

    // A newer blueprint, and a deprecation with its reason, both show.
    registry.publish("report", "1.1.0", &no_change);
    let status = reqwest::blocking::Client::new()
        .post(format!(
            "{}/v1/blueprints/fixtures/report/1.0.0/deprecate",
            registry.quarry.url
        ))
        .bearer_auth(&registry.token)
        .json(&serde_json::json!({ "reason": "use 1.1.0: fixes the greeting" }))
        .send()
        .expect("deprecate")
        .status();
    assert!(status.is_success(), "{status}");
    let outdated = run(&["outdated"]);
    assert_eq!(outdated.status.code(), Some(8), "{}", text(&outdated));
    let warned = registry
        .scaffold()
        .args([
            "new",
            "fixtures/report@1.0.0",
            "--non-interactive",
            "--dry-run",
        ])
        .args(["--set", "who=Ada", "--set", "environment=dev"])
        .env("SCAFFOLD_INPUT_API_KEY", SECRET)
        .output()
        .expect("runs");
    assert!(
        text(&warned).contains(
            "warning: blueprint fixtures/report 1.0.0 is deprecated: use 1.1.0: fixes the greeting"
        ),
        "{}",
        text(&warned)
    );
    let table = String::from_utf8_lossy(&outdated.stdout).into_owned();
    assert!(
        table.contains("deprecated: use 1.1.0: fixes the greeting"),
        "{table}"
    );
    assert!(table.contains("1.1.0"), "{table}");
}

#[test]
fn an_updated_stack_inits_validates_and_plans_with_the_users_edit() {
    let registry = Registry::start();
    let (terraform, work) = registry.terraform_stack(
        "e2e",
        "output \"mine\" {\n  value = \"the user's output\"\n}\n",
    );
    registry.publish("e2e", "1.1.0", &|dir| {
        edit(&dir.join("blueprint.yaml"), |t| {
            t.replace("default: 1\n", "default: 2\n")
        })
    });
    let updated = registry
        .scaffold()
        .arg("update")
        .arg(&work)
        .arg("--non-interactive")
        .output()
        .expect("runs");
    assert!(updated.status.success(), "{}", text(&updated));
    let (_, shown) = terraform
        .init_validate_plan(&[("TF_VAR_api_key", SECRET)])
        .expect("terraform init, validate and plan pass");
    // The recorded answer (excitement 1) stands; the user's own output is planned too.
    assert!(shown.contains("Hello, Ada!"), "{shown}");
    assert!(!shown.contains("Hello, Ada!!"), "{shown}");
    assert!(shown.contains("the user's output"), "{shown}");
    assert_eq!(answers(&work)["blueprint"]["version"], "1.1.0");
}

#[test]
fn an_update_in_a_git_work_tree_needs_it_clean_or_allow_dirty() {
    let registry = Registry::start();
    registry.publish("git", "1.0.0", &no_change);
    let stack = registry.new_stack("git");
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(&stack)
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(status.status.success(), "git {args:?}: {}", text(&status));
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "the stack"]);
    registry.publish("git", "1.1.0", &|dir| {
        edit(&dir.join(TERRAFORM), |t| t.replace(">= 1.5", ">= 1.6"))
    });
    edit(&stack.join("main.tf"), |t| t + "# uncommitted\n");
    let update = |extra: &[&str]| {
        registry
            .scaffold()
            .arg("update")
            .arg(&stack)
            .arg("--non-interactive")
            .args(extra)
            .output()
            .expect("runs")
    };
    let refused = update(&[]);
    assert_eq!(refused.status.code(), Some(7), "{}", text(&refused));
    assert!(
        text(&refused).contains("uncommitted changes"),
        "{}",
        text(&refused)
    );
    assert!(read(&stack, "terraform.tf").contains(">= 1.5"));
    let allowed = update(&["--allow-dirty"]);
    assert!(allowed.status.success(), "{}", text(&allowed));
    assert!(read(&stack, "terraform.tf").contains(">= 1.6"));
    assert!(read(&stack, "main.tf").contains("# uncommitted"));
}

/// `git -C dir args…`, which must succeed.
fn git(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", text(&output));
}

#[test]
fn new_and_update_report_the_stack_to_the_inventory() {
    let registry = Registry::start_with(&["--stack-inventory"]);
    registry.publish("inv", "1.0.0", &no_change);
    let reader = registry.quarry.token("dev", &["read"]).expect("token");
    let listed = |query: &str| -> Value {
        reqwest::blocking::Client::new()
            .get(format!(
                "{}/v1/stacks?blueprint=fixtures/inv{query}",
                registry.quarry.url
            ))
            .bearer_auth(&reader)
            .send()
            .and_then(reqwest::blocking::Response::json)
            .expect("the inventory answers")
    };
    let new = |dir: &Path, token: Option<&str>, extra: &[&str]| {
        let mut command = registry.scaffold();
        if let Some(token) = token {
            command.env("TF_TOKEN_registry_test", token);
        }
        let output = command
            .args(["new", "fixtures/inv@~> 1.0", "--non-interactive"])
            .args(["--set", "who=Ada", "--set", "environment=dev"])
            .env("SCAFFOLD_INPUT_API_KEY", SECRET)
            .args(extra)
            .arg("-o")
            .arg(dir)
            .output()
            .expect("runs");
        assert!(output.status.success(), "{}", text(&output));
        text(&output)
    };

    // A stack in a sub directory of a git checkout whose remote URL carries a token.
    let checkout = registry.home.path().join("checkout");
    std::fs::create_dir_all(&checkout).expect("mkdir");
    git(&checkout, &["init", "-q"]);
    git(
        &checkout,
        &[
            "remote",
            "add",
            "origin",
            "https://bob:s3cret@git.example.com/acme/infra.git",
        ],
    );
    let stack = checkout.join("stacks/web");
    let said = new(&stack, Some(&reader), &[]);
    assert!(said.contains("reported stack"), "{said}");
    let id = answers(&stack)["stack"]["id"]
        .as_str()
        .expect("answers.json has the stack's id")
        .to_owned();
    assert_eq!(id.len(), 32, "{id}");
    let page = listed("");
    assert_eq!(page["stacks"].as_array().map(Vec::len), Some(1), "{page}");
    let entry = &page["stacks"][0];
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["blueprint"]["version"], "1.0.0");
    assert_eq!(entry["reported_by"], "dev");
    assert_eq!(
        entry["location"],
        serde_json::json!({ "repository": "https://git.example.com/acme/infra.git", "path": "stacks/web" }),
        "the remote's credentials never leave the machine"
    );
    assert_eq!(
        entry["modules"][0]["source"], "fixtures/greeting/generic",
        "{entry}"
    );
    assert!(
        !std::fs::read_to_string(stack.join(".scaffold/answers.json"))
            .expect("answers")
            .contains("s3cret")
    );

    // A newer version: the stack is behind until `update` moves it, keeping its id.
    registry.publish("inv", "1.1.0", &|dir| {
        edit(&dir.join(TERRAFORM), |t| t.replace(">= 1.5", ">= 1.6"))
    });
    assert_eq!(listed("&outdated=true")["stacks"][0]["id"], id.as_str());
    git(&checkout, &["add", "."]);
    git(&checkout, &["commit", "-q", "-m", "the stack"]);
    let update = registry
        .scaffold()
        .env("TF_TOKEN_registry_test", &reader)
        .arg("update")
        .arg(&stack)
        .arg("--non-interactive")
        .output()
        .expect("runs");
    assert!(update.status.success(), "{}", text(&update));
    assert!(
        text(&update).contains("reported stack"),
        "{}",
        text(&update)
    );
    assert_eq!(answers(&stack)["stack"]["id"], id.as_str());
    let page = listed("");
    assert_eq!(page["stacks"][0]["blueprint"]["version"], "1.1.0");
    assert_eq!(page["stacks"][0]["outdated"], false);
    assert_eq!(listed("&outdated=true")["stacks"], serde_json::json!([]));
    // Written again over itself, it is still the same stack.
    new(&stack, Some(&reader), &["--force"]);
    assert_eq!(answers(&stack)["stack"]["id"], id.as_str());
    assert_eq!(listed("")["stacks"].as_array().map(Vec::len), Some(1));

    // Without a token nothing is reported, and it says so; --no-report leaves no id behind.
    let anonymous = registry.home.path().join("anonymous");
    let said = new(&anonymous, None, &[]);
    assert!(said.contains("reporting needs a token"), "{said}");
    let quiet = registry.home.path().join("quiet");
    let said = new(&quiet, Some(&reader), &["--no-report"]);
    assert!(!said.contains("reported"), "{said}");
    assert!(answers(&quiet).get("stack").is_none());
    assert_eq!(listed("")["stacks"].as_array().map(Vec::len), Some(1));
}

#[test]
fn check_evaluates_the_stacks_policies_on_real_and_recorded_plans() {
    let registry = Registry::start();
    let check = |stack: &Path, plan: &Path, extra: &[&str]| {
        let output = registry
            .scaffold()
            .arg("check")
            .arg(stack)
            .arg("--plan")
            .arg(plan)
            .args(extra)
            .output()
            .expect("runs");
        (output.status.code(), text(&output))
    };

    // A real plan: the greeter's no-deletes policy passes a plan that destroys nothing and denies
    // one that destroys the user's resource, naming it.
    let extra = "resource \"terraform_data\" \"extra\" {\n  input = \"mine\"\n}\n";
    let (terraform, work) = registry.terraform_stack("checked", extra);
    let secret = [("TF_VAR_api_key", SECRET)];
    let run = |args: &[&str]| {
        let output = terraform.run_with(args, &secret).expect("terraform runs");
        assert!(output.status.success(), "{args:?}: {}", text(&output));
        output
    };
    run(&["init", "-input=false", "-no-color"]);
    run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let plan_json = |name: &str| {
        run(&["plan", "-input=false", "-no-color", "-out", name]);
        let shown = run(&["show", "-json", name]);
        let path = work.join(format!("{name}.json"));
        std::fs::write(&path, &shown.stdout).expect("write the plan");
        path
    };
    let (code, said) = check(&work, &plan_json("same"), &[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("no-deletes (plan): pass"), "{said}");
    std::fs::remove_file(work.join("extra.tf")).expect("remove");
    let destroying = plan_json("destroy");
    let (code, said) = check(&work, &destroying, &[]);
    assert_eq!(code, Some(9), "{said}");
    assert!(
        said.contains("deny: terraform_data.extra would be destroyed (actions: delete)"),
        "{said}"
    );
    let (code, said) = check(&work, &destroying, &["--output", "json"]);
    assert_eq!(code, Some(9));
    let json_start = said.find('{').expect("a JSON report");
    let report: Value = serde_json::Deserializer::from_str(&said[json_start..])
        .into_iter()
        .next()
        .expect("one document")
        .expect("JSON");
    assert_eq!(report["passed"], false);
    assert_eq!(report["input_version"], 1);
    assert_eq!(report["policies"][0]["result"], "deny");

    // Recorded plans of the web-service blueprint's AWS resources, against its own policies.
    let stack = registry.home.path().join("web-service-stack");
    std::fs::create_dir_all(stack.join("policies")).expect("mkdir");
    for policy in ["required-tags.rego", "prod-approval.rego"] {
        std::fs::copy(
            repo_root()
                .join("blueprints/web-service/policies")
                .join(policy),
            stack.join("policies").join(policy),
        )
        .expect("copy");
    }
    std::fs::write(
        stack.join("stack.yaml"),
        "apiVersion: quarry.dev/v1\nkind: Stack\nname: shop\nlabels: []\npolicies:\n  \
         - { id: required-tags, type: plan, file: policies/required-tags.rego }\n  \
         - { id: prod-two-approvals, type: approval, file: policies/prod-approval.rego }\n",
    )
    .expect("write");
    let plans = repo_root().join("tests/fixtures/plans");
    let (tagged, untagged) = (
        plans.join("web-service-tagged.json"),
        plans.join("web-service-untagged.json"),
    );
    let reviews = |name: &str, reviews: &str| {
        let path = registry.home.path().join(name);
        std::fs::write(
            &path,
            format!("run: {{ id: r1, triggered_by: ada }}\nreviews: {reviews}\n"),
        )
        .expect("write");
        path.display().to_string()
    };
    let (code, said) = check(&stack, &untagged, &[]);
    assert_eq!(code, Some(9), "{said}");
    assert!(
        said.contains("deny: aws_s3_bucket.logs: missing required tag `owner`"),
        "{said}"
    );
    let (code, said) = check(&stack, &tagged, &[]);
    assert_eq!(code, Some(10), "{said}");
    assert!(said.contains("required-tags (plan): pass"), "{said}");
    assert!(
        said.contains("prod-two-approvals (approval): unapproved"),
        "{said}"
    );
    assert!(said.contains("has 0"), "{said}");
    let approved = reviews(
        "approved.yaml",
        "[{ author: bob, decision: approve }, { author: cy, decision: approve }]",
    );
    let (code, said) = check(&stack, &tagged, &["--reviews", &approved]);
    assert_eq!(code, Some(0), "{said}");
    let rejected = reviews(
        "rejected.yaml",
        "[{ author: bob, decision: approve }, { author: cy, decision: approve }, { author: dee, decision: reject }]",
    );
    let (code, said) = check(&stack, &tagged, &["--reviews", &rejected]);
    assert_eq!(code, Some(10), "{said}");
    assert!(said.contains("(approval): rejected"), "{said}");
    assert!(said.contains("rejected by dee"), "{said}");

    // Not a plan: said so, with how to make one.
    let (code, said) = check(&stack, &stack.join("stack.yaml"), &[]);
    assert_eq!(code, Some(3), "{said}");
    assert!(said.contains("not JSON"), "{said}");
    let (code, said) = check(
        &stack,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/answers.schema.json"),
        &[],
    );
    assert_eq!(code, Some(3), "{said}");
    assert!(said.contains("terraform show -json"), "{said}");
}

#[test]
fn run_applies_the_contexts_around_terraform_and_enforces_the_policies() {
    let registry = Registry::start();
    let (terraform, work) = registry.terraform_stack(
        "ran",
        "variable \"note\" {\n  type = string\n}\n\noutput \"note\" {\n  value = var.note\n}\n\n\
         resource \"terraform_data\" \"extra\" {\n  input = \"mine\"\n}\n",
    );
    // A context of the operator's: a variable for terraform, hooks in order, the secret echoed.
    let local = registry.home.path().join("local-contexts");
    std::fs::create_dir_all(&local).expect("mkdir");
    std::fs::write(
        local.join("ops.yaml"),
        "apiVersion: quarry.dev/v1\nkind: Context\nenvironment:\n  - { name: TF_VAR_note, value: from-the-context }\n\
         hooks:\n  before_plan:\n    - echo first-hook\n    - echo second-hook\n    - echo \"key=$TF_VAR_api_key\"\n\
         \x20 after_plan:\n    - test -f /mnt/workspace/greeter.txt && echo mounted-during-the-run\n",
    )
    .expect("write");
    let run = |args: &[&str], extra_env: &[(&str, &str)]| {
        let mut command = registry.scaffold();
        command
            .arg("run")
            .arg(&work)
            .arg("--context-dir")
            .arg(&local)
            .env("GREETER_API_KEY", SECRET)
            .env("TF_CLI_CONFIG_FILE", terraform.cli_config())
            .env("CHECKPOINT_DISABLE", "1")
            .envs(extra_env.iter().copied())
            .arg("--")
            .arg("terraform")
            .args(args);
        let output = command.output().expect("runs");
        (output.status.code(), text(&output))
    };

    let (code, said) = run(&["init", "-input=false", "-no-color"], &[]);
    assert_eq!(code, Some(0), "{said}");
    let (code, said) = run(&["plan", "-input=false", "-no-color"], &[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("from-the-context"),
        "the context's TF_VAR_ reaches terraform: {said}"
    );
    let first = said.find("first-hook").expect("the first hook ran");
    let second = said.find("second-hook").expect("the second hook ran");
    assert!(first < second, "in order: {said}");
    assert!(said.contains("key=***"), "the secret is masked: {said}");
    assert!(said.contains("mounted-during-the-run"), "{said}");
    assert!(said.contains("no-deletes (plan): pass"), "{said}");
    assert!(!said.contains(SECRET), "the secret is in no output: {said}");
    assert!(
        !work.join("greeter.txt").exists(),
        "the mounted file is gone after the run"
    );
    assert!(work.join(".scaffold/plan.tfplan.json").is_file());
    for (path, content) in snapshot(&work) {
        if path.starts_with(".terraform/") || path.ends_with(".tfplan") {
            continue; // terraform's own: the saved plan holds the variables, as terraform stores them
        }
        assert!(
            !String::from_utf8_lossy(&content).contains(SECRET),
            "{path} holds the secret"
        );
    }

    // Apply, then a plan that destroys the user's resource: denied, and its apply refused.
    let (code, said) = run(
        &["apply", "-auto-approve", "-input=false", "-no-color"],
        &[],
    );
    assert_eq!(code, Some(0), "{said}");
    std::fs::write(
        work.join("extra.tf"),
        "variable \"note\" {\n  type = string\n}\n",
    )
    .expect("write");
    let (code, said) = run(
        &["plan", "-input=false", "-no-color", "-out=destroy.tfplan"],
        &[],
    );
    assert_eq!(code, Some(9), "{said}");
    assert!(
        said.contains("terraform_data.extra would be destroyed"),
        "{said}"
    );
    let (code, said) = run(
        &["apply", "-input=false", "-no-color", "destroy.tfplan"],
        &[],
    );
    assert_eq!(code, Some(9), "{said}");
    assert!(said.contains("destroy.tfplan is not applied"), "{said}");
    let state = terraform.run(&["state", "list"]).expect("terraform runs");
    assert!(
        text(&state).contains("terraform_data.extra"),
        "nothing was applied"
    );

    // A failing hook stops the run before terraform; an unknown scheme says how to resolve it.
    std::fs::write(
        local.join("zz-failing.yaml"),
        "apiVersion: quarry.dev/v1\nkind: Context\nhooks:\n  before_init:\n    - exit 3\n",
    )
    .expect("write");
    let (code, said) = run(&["init", "-input=false", "-no-color"], &[]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("the before_init hook of context `zz-failing` failed"),
        "{said}"
    );
    assert!(
        !said.contains("Terraform has been successfully initialized"),
        "{said}"
    );
    std::fs::write(
        local.join("zz-failing.yaml"),
        "apiVersion: quarry.dev/v1\nkind: Context\nenvironment:\n  - { name: DD_API_KEY, secret: \"vault://kv/dd#key\" }\n",
    )
    .expect("write");
    let (code, said) = run(&["validate", "-no-color"], &[]);
    assert_eq!(code, Some(3), "{said}");
    assert!(
        said.contains("`DD_API_KEY` refers to `vault://kv/dd#key`")
            && said.contains("SCAFFOLD_SECRET_RESOLVER"),
        "{said}"
    );
    let (code, said) = run(
        &["validate", "-no-color"],
        &[("SCAFFOLD_SECRET_RESOLVER", "echo resolved-for")],
    );
    assert_eq!(code, Some(0), "a configured resolver answers: {said}");
}
