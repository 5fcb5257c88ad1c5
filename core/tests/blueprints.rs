//! Checking and rendering blueprints: the minimal fixture, one broken blueprint per check, and
//! the renderer's guarantees (all input errors with paths, module inputs checked, no secret
//! written, no path escaping, deterministic output).

use quarry_core::blueprint::{self, BlueprintFiles, ModuleSource};
use quarry_core::constraint::Constraint;
use quarry_core::module::{self, ModuleFiles};
use quarry_core::render::{self, ModuleResolver, RenderRequest, ResolvedModule, Stack};
use quarry_core::version::Version;
use serde_json::{Value, json};
use std::path::Path;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn minimal() -> BlueprintFiles {
    blueprint::load_dir(&repo().join("tests/fixtures/blueprints/minimal")).expect("fixture loads")
}

/// Resolves against the real `greeting` fixture module's analysis, published at these versions.
struct FixtureResolver {
    versions: Vec<Version>,
}

impl FixtureResolver {
    fn new() -> Self {
        Self {
            versions: ["1.0.0", "1.4.2", "2.0.0"]
                .iter()
                .map(|v| Version::parse(v).expect("valid"))
                .collect(),
        }
    }
}

fn greeting_analysis() -> module::ModuleAnalysis {
    let dir = repo().join("tests/fixtures/modules/greeting");
    let mut files = ModuleFiles::new();
    for relative in [
        "main.tf",
        "variables.tf",
        "outputs.tf",
        "versions.tf",
        "modules/shout/main.tf",
        "modules/shout/variables.tf",
        "modules/shout/outputs.tf",
    ] {
        if let Ok(text) = std::fs::read_to_string(dir.join(relative)) {
            files.insert(relative.to_owned(), text);
        }
    }
    module::analyze(&files).expect("fixture module analyses")
}

impl ModuleResolver for FixtureResolver {
    async fn resolve(
        &self,
        source: &ModuleSource,
        constraint: &Constraint,
    ) -> Result<ResolvedModule, String> {
        if source.address.to_string() != "fixtures/greeting/generic" {
            return Err(format!("module {} is not in this registry", source.address));
        }
        let version = constraint
            .select(&self.versions)
            .cloned()
            .ok_or_else(|| format!("no version of {} matches `{constraint}`", source.address))?;
        let analysis = greeting_analysis();
        let inputs_schema = match &source.subdir {
            None => analysis.root.inputs_schema,
            Some(subdir) => analysis
                .submodules
                .into_iter()
                .find(|m| &m.path == subdir)
                .map(|m| m.inputs_schema)
                .ok_or("no such submodule")?,
        };
        Ok(ResolvedModule {
            version,
            archive_sha256: "a".repeat(64),
            inputs_schema,
        })
    }
}

fn render_with(files: BlueprintFiles, inputs: Value) -> Result<Stack, render::RenderError> {
    let blueprint = blueprint::check(files).expect("fixture is valid");
    let version = Version::parse("0.1.0").expect("valid");
    quarry_core::test_support::block_on(render::render(
        RenderRequest {
            blueprint: &blueprint,
            version: &version,
            archive_sha256: &"b".repeat(64),
            constraint: Some("~> 0.1"),
            registry_host: "registry.test",
            inputs,
            output_limit: quarry_core::render::MAX_RENDERED_BYTES,
        },
        &FixtureResolver::new(),
    ))
}

fn text(stack: &Stack, path: &str) -> String {
    let bytes = stack
        .files
        .get(path)
        .unwrap_or_else(|| panic!("{path} rendered: {:?}", stack.files.keys()));
    String::from_utf8(bytes.clone()).expect("utf-8")
}

fn with(mut files: BlueprintFiles, path: &str, content: &str) -> BlueprintFiles {
    files.insert(path.to_owned(), content.as_bytes().to_vec());
    files
}

fn manifest_replaced(from: &str, to: &str) -> BlueprintFiles {
    let files = minimal();
    let manifest = String::from_utf8(files["blueprint.yaml"].clone()).expect("utf-8");
    assert!(manifest.contains(from), "fixture contains `{from}`");
    with(files, "blueprint.yaml", &manifest.replace(from, to))
}

#[test]
fn minimal_fixture_passes_every_check() {
    let checked = blueprint::check(minimal()).unwrap_or_else(|problems| panic!("{problems:#?}"));
    assert_eq!(checked.namespace.as_str(), "fixtures");
    assert_eq!(checked.manifest.modules.len(), 2);
}

#[test]
fn each_check_reports_its_problem_with_file_and_location() {
    let mut without_manifest = minimal();
    without_manifest.remove("blueprint.yaml");
    let mut without_policy = minimal();
    without_policy.remove("policies/plan.rego");
    let cases: Vec<(&str, BlueprintFiles, &str, &str, &str)> = vec![
        (
            "no manifest",
            without_manifest,
            "blueprint.yaml",
            "",
            "missing",
        ),
        (
            "YAML syntax",
            with(
                minimal(),
                "blueprint.yaml",
                "apiVersion: quarry.dev/v1\nkind: [Blueprint\n",
            ),
            "blueprint.yaml",
            "line ",
            "invalid YAML",
        ),
        (
            "manifest schema",
            manifest_replaced("apiVersion: quarry.dev/v1", "apiVersion: quarry.dev/v9"),
            "blueprint.yaml",
            "/apiVersion",
            "quarry.dev/v1",
        ),
        (
            "unknown key",
            manifest_replaced("stack:\n", "stak: {}\nstack:\n"),
            "blueprint.yaml",
            "",
            "stak",
        ),
        (
            "inputs is not a schema",
            manifest_replaced("type: integer", "type: integr"),
            "blueprint.yaml",
            "/inputs/properties/replicas/type",
            "",
        ),
        (
            "template syntax",
            with(
                minimal(),
                "template/main.tf.tera",
                "output \"x\" {\n  value = {{ inputs.name \n}\n",
            ),
            "template/main.tf.tera",
            "",
            "",
        ),
        (
            "templated string syntax",
            manifest_replaced(
                "name: \"{{ inputs.name }}-{{ inputs.environment }}\"",
                "name: \"{{ inputs.name \"",
            ),
            "blueprint.yaml",
            "/stack/name",
            "",
        ),
        (
            "templated path syntax",
            with(minimal(), "template/{{ oops/x.tf", "x"),
            "template/{{ oops/x.tf",
            "(path)",
            "",
        ),
        (
            "module address",
            manifest_replaced(
                "source: fixtures/greeting/generic\n",
                "source: fixtures/greeting\n",
            ),
            "blueprint.yaml",
            "/modules/0/source",
            "expected `namespace/name/system`",
        ),
        (
            "module constraint",
            manifest_replaced(
                "version: \"~> 1.0\"\n    inputs:\n      name",
                "version: \"^1.0\"\n    inputs:\n      name",
            ),
            "blueprint.yaml",
            "/modules/0/version",
            "unknown operator `^`",
        ),
        (
            "policy missing",
            without_policy,
            "blueprint.yaml",
            "/policies/0/file",
            "does not exist",
        ),
        (
            "policy outside policies/",
            manifest_replaced("file: policies/plan.rego", "file: ../plan.rego"),
            "blueprint.yaml",
            "/policies/0/file",
            "",
        ),
        (
            "policy is not Rego",
            with(
                minimal(),
                "policies/plan.rego",
                "package quarry.plan\n\ndeny contains msg if {\n  input.x ==\n}\n",
            ),
            "policies/plan.rego",
            "",
            "invalid Rego",
        ),
        (
            "context schema",
            with(
                minimal(),
                "contexts/shared.yaml",
                "apiVersion: quarry.dev/v1\nkind: Context\nenvironment:\n  - name: 1BAD\n    value: x\n",
            ),
            "contexts/shared.yaml",
            "/environment/0",
            "",
        ),
        (
            "context YAML",
            with(minimal(), "contexts/shared.yaml", "environment: [\n"),
            "contexts/shared.yaml",
            "line ",
            "invalid YAML",
        ),
    ];
    for (label, files, file, path, message) in cases {
        let problems = blueprint::check(files)
            .err()
            .unwrap_or_else(|| panic!("{label}: accepted"));
        assert!(
            problems
                .iter()
                .any(|p| p.file == file && p.path.starts_with(path) && p.message.contains(message)),
            "{label}: expected {file} {path} `{message}` in {problems:#?}"
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let files = manifest_replaced(
        "version: \"~> 1.0\"\n    inputs:\n      text",
        "version: \"~>\"\n    inputs:\n      text",
    );
    let files = with(files, "policies/approval.rego", "not rego at all {");
    let files = with(files, "template/main.tf.tera", "{% if %}");
    let problems = blueprint::check(files).expect_err("three problems");
    let places: Vec<String> = problems
        .iter()
        .map(|p| format!("{} {}", p.file, p.path))
        .collect();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        places.contains(&"blueprint.yaml /modules/1/version".to_owned()),
        "{places:?}"
    );
    assert!(
        quarry_core::test_support::any_starts_with(&places, "policies/approval.rego"),
        "{places:?}"
    );
    assert!(
        quarry_core::test_support::any_starts_with(&places, "template/main.tf.tera"),
        "{places:?}"
    );
}

fn good_inputs() -> Value {
    json!({ "name": "shop", "environment": "prod", "approvers": ["ana", "bo"], "token": "s3cr3t-value-never-written" })
}

#[test]
fn render_writes_the_stack_with_modules_policies_contexts_and_answers() {
    let stack = render_with(minimal(), good_inputs()).unwrap_or_else(|error| panic!("{error}"));
    let names: Vec<&str> = stack.files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            ".scaffold/answers.json",
            "NOTES.md",
            "contexts/shared.yaml",
            "envs/prod.tfvars",
            "main.tf",
            "policies/approval.rego",
            "policies/plan.rego",
            "secrets.tf",
            "stack.yaml"
        ]
    );
    let main = text(&stack, "main.tf");
    // Arguments are aligned as `terraform fmt` aligns them: compare with runs of spaces as one.
    let squeezed = main.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        squeezed.contains("source = \"registry.test/fixtures/greeting/generic\""),
        "{main}"
    );
    assert!(
        squeezed.contains("version = \"1.4.2\""),
        "~> 1.0 resolves to the newest 1.x: {main}"
    );
    assert!(
        squeezed.contains("source = \"registry.test/fixtures/greeting/generic//modules/shout\""),
        "{main}"
    );
    assert!(squeezed.contains("text = \"SHOP\""), "{main}");
    assert!(squeezed.contains("punctuation = \".\""), "{main}");
    assert!(
        squeezed.contains("value = 2"),
        "the default applies: {main}"
    );

    let stack_yaml: Value = yaml_serde::from_str(&text(&stack, "stack.yaml")).expect("yaml");
    assert_eq!(stack_yaml["name"], "shop-prod");
    assert_eq!(stack_yaml["labels"], json!(["env:prod"]));
    assert_eq!(stack_yaml["environment"]["TF_VAR_token"], "${var.token}");
    assert_eq!(
        stack_yaml["policies"][1],
        json!({ "id": "shop-approvals", "type": "approval", "file": "policies/approval.rego" })
    );
    assert_eq!(
        stack_yaml["contexts"],
        json!([{ "id": "shared-prod", "file": "contexts/shared.yaml", "priority": 10 }])
    );
    assert!(quarry_core::inputs::validate(quarry_core::schemas::stack(), &stack_yaml).is_empty());

    let answers: Value =
        serde_json::from_str(&text(&stack, ".scaffold/answers.json")).expect("json");
    assert!(
        quarry_core::inputs::validate(quarry_core::schemas::answers(), &answers).is_empty(),
        "{answers}"
    );
    assert_eq!(answers["blueprint"]["constraint"], "~> 0.1");
    assert_eq!(answers["modules"][0]["version"], "1.4.2");
    assert_eq!(
        answers["inputs"],
        json!({ "name": "shop", "environment": "prod", "approvers": ["ana", "bo"], "replicas": 2 })
    );

    // In dev the approval policy is not attached.
    let dev =
        render_with(minimal(), json!({ "name": "shop", "environment": "dev" })).expect("renders");
    assert!(!dev.files.contains_key("policies/approval.rego"));
    assert!(dev.files.contains_key("envs/dev.tfvars"));
}

#[test]
fn rendering_is_deterministic() {
    let first = render_with(minimal(), good_inputs()).expect("renders");
    let second = render_with(minimal(), good_inputs()).expect("renders");
    assert_eq!(first, second);
    let packed_first = quarry_core::archive::pack_files(&first.files).expect("pack");
    let packed_second = quarry_core::archive::pack_files(&second.files).expect("pack");
    assert_eq!(packed_first, packed_second);
}

#[test]
fn no_secret_value_reaches_any_file() {
    let stack = render_with(minimal(), good_inputs()).expect("renders");
    for (path, content) in &stack.files {
        let content = String::from_utf8_lossy(content);
        assert!(
            !content.contains("s3cr3t-value-never-written"),
            "the secret leaked into {path}"
        );
    }
    let secrets = text(&stack, "secrets.tf");
    assert!(
        secrets.contains("variable \"token\" {\n  type      = string\n  sensitive = true\n}"),
        "{secrets}"
    );
}

#[test]
fn every_input_error_is_reported_with_its_path() {
    let error = render_with(
        minimal(),
        json!({ "name": "Bad Name", "environment": "staging", "replicas": "three" }),
    )
    .expect_err("invalid inputs");
    let paths: Vec<&str> = error.0.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"/name"), "pattern: {error}");
    assert!(paths.contains(&"/environment"), "enum: {error}");
    assert!(paths.contains(&"/replicas"), "type: {error}");
    let error = render_with(minimal(), json!({ "name": "shop", "environment": "prod" }))
        .expect_err("if/then");
    assert!(
        error
            .0
            .iter()
            .any(|e| e.message.contains("\"approvers\" is a required property")),
        "{error}"
    );
}

#[test]
fn module_inputs_are_checked_against_the_resolved_version() {
    let files = manifest_replaced(
        "      name: \"{{ inputs.name }}\"\n",
        "      name: \"{{ inputs.replicas }}\"\n      colour: blue\n",
    );
    let error = render_with(files, good_inputs()).expect_err("wrong module inputs");
    let paths: Vec<&str> = error.0.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.contains(&"/modules/greeting/inputs/name"),
        "a number where a string is needed: {error}"
    );
    assert!(
        paths.contains(&"/modules/greeting/inputs"),
        "an unknown variable: {error}"
    );
    assert!(
        error
            .to_string()
            .contains("fixtures/greeting/generic 1.4.2"),
        "{error}"
    );

    let files = manifest_replaced(
        "version: \"~> 1.0\"\n    inputs:\n      name",
        "version: \"~> 3.0\"\n    inputs:\n      name",
    );
    let error = render_with(files, good_inputs()).expect_err("nothing matches");
    assert_eq!(error.0[0].path, "/modules/greeting");
    assert_eq!(
        error.0[0].message,
        "no version of fixtures/greeting/generic matches `~> 3.0`"
    );
}

#[test]
fn rendered_paths_cannot_leave_the_stack() {
    let files = with(
        manifest_replaced("pattern: \"^[a-z][a-z0-9-]{2,20}$\"", "minLength: 1"),
        "template/{{ inputs.name }}/x.tf",
        "x",
    );
    for hostile in ["..", "../../etc", "a/../../b", "."] {
        let error = render_with(
            files.clone(),
            json!({ "name": hostile, "environment": "dev" }),
        )
        .expect_err(hostile);
        assert!(
            error
                .0
                .iter()
                .any(|e| e.path == "template/{{ inputs.name }}/x.tf"
                    && e.message.contains("would leave the stack directory")),
            "{hostile}: {error}"
        );
    }
}
