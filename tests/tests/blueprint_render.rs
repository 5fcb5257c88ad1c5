//! A blueprint rendered by the running `quarry` through `POST …/render`, unpacked, and run through
//! the real `terraform init`, `validate` and `plan` against the same registry; invalid inputs get
//! a 422 listing every error with its JSON path; no secret reaches a rendered file.

use quarry_e2e::*;
use serde_json::{Value, json};

const SECRET: &str = "top-secret-api-key-4711";

fn post(quarry: &Quarry, path: &str, inputs: &Value) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .post(format!("{}{path}", quarry.url))
        // Module sources in the stack are written with the host terraform knows the registry by.
        .header("host", REGISTRY_HOST)
        .json(inputs)
        .send()
        .expect("request")
}

#[test]
fn rendered_stack_passes_terraform_init_validate_and_plan() {
    let examples = repo_root().join("blueprints");
    let quarry =
        Quarry::start(&["--import", examples.to_str().expect("utf-8")]).expect("quarry starts");
    let token = quarry.token("ci", &["publish:fixtures"]).expect("token");
    quarry
        .publish_greeter(&token, &["1.1.0", "1.2.0", "2.0.0"])
        .expect("the greeter fixtures publish");

    // Invalid inputs: one 422 with every error, each with its JSON path: a pattern, a wrong
    // type, an enum, and the approvers that prod requires (if/then).
    let response = post(
        &quarry,
        "/v1/blueprints/fixtures/greeter/1.0.0/render",
        &json!({ "who": "ada lovelace", "environment": "prod", "excitement": "lots", "style": "shouty", "api_key": SECRET }),
    );
    assert_eq!(response.status(), 422);
    let errors: Value = response.json().expect("json");
    let errors = errors["errors"].as_array().expect("errors").clone();
    let has = |path: &str, text: &str| quarry_core::test_support::has_error(&errors, path, text);
    assert!(has("/who", "does not match"), "pattern: {errors:#?}");
    assert!(
        has("/excitement", "is not of type \"integer\""),
        "type: {errors:#?}"
    );
    assert!(has("/style", "is not one of"), "enum: {errors:#?}");
    assert!(
        has("", "\"approvers\" is a required property"),
        "if/then: {errors:#?}"
    );
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        !serde_json::to_string(&errors)
            .expect("json")
            .contains(SECRET),
        "an error message echoed the secret"
    );

    // Valid inputs: the stack, as a tar.gz.
    let response = post(
        &quarry,
        "/v1/blueprints/fixtures/greeter/1.0.0/render",
        &json!({ "who": "Ada", "environment": "prod", "excitement": 3, "approvers": ["ana", "bo"], "api_key": SECRET }),
    );
    assert_eq!(response.status(), 200);
    let archive = response.bytes().expect("body");
    let files =
        quarry_core::archive::read_files(&archive, &quarry_core::archive::Limits::default())
            .expect("tar.gz");
    for (path, content) in &files {
        assert!(
            !String::from_utf8_lossy(content).contains(SECRET),
            "the secret reached {path}"
        );
    }
    let answers: Value = serde_json::from_slice(&files[".scaffold/answers.json"]).expect("answers");
    assert!(answers["inputs"].get("api_key").is_none());
    assert_eq!(answers["modules"][0]["version"], "1.2.0");

    let terraform = Terraform::new(&quarry.url, "").expect("terraform dir");
    let work = terraform.work_dir();
    std::fs::remove_file(work.join("main.tf")).expect("remove placeholder");
    for (path, content) in &files {
        let target = work.join(path);
        std::fs::create_dir_all(target.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(target, content).expect("write");
    }
    let (init, plan_output) = terraform
        .init_validate_plan(&[("TF_VAR_api_key", SECRET)])
        .expect("terraform init, validate and plan pass");
    assert!(
        init.contains("registry.test/fixtures/greeting/generic 1.2.0"),
        "{init}"
    );
    assert!(plan_output.contains("Hello, Ada!!!"), "{plan_output}");
    assert!(!plan_output.contains(SECRET), "plan printed the secret");
}

/// Every example blueprint, rendered by the registry in each environment, passes
/// `terraform fmt -check`: rendered `.tf` files are laid out as terraform lays them out,
/// whatever the templates' spacing or what `json` wrote into them.
#[test]
fn every_example_blueprint_renders_files_terraform_fmt_accepts() {
    let examples = repo_root().join("blueprints");
    let quarry =
        Quarry::start(&["--import", examples.to_str().expect("utf-8")]).expect("quarry starts");
    for environment in ["dev", "staging", "prod"] {
        let cases = [
            (
                "web-service",
                json!({ "service_name": "shop", "environment": environment, "team": "web",
                        "container_image": "nginx:1.27", "db_password": "abcdefghijklmnopq",
                        "approvers": ["ana", "bo"] }),
            ),
            (
                "data-job",
                json!({ "job_name": "nightly", "schedule": "0 3 * * ? *", "environment": environment,
                        "image_uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/job:1.0",
                        "team": "data" }),
            ),
            (
                "static-site",
                json!({ "site_name": "docs", "environment": environment, "team": "web",
                        "domain": "docs.example.com", "aliases": ["www.docs.example.com"],
                        "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123" }),
            ),
        ];
        for (blueprint, inputs) in cases {
            let response = post(
                &quarry,
                &format!("/v1/blueprints/platform/{blueprint}/1.0.0/render"),
                &inputs,
            );
            assert_eq!(response.status(), 200, "{blueprint} {environment}");
            let packed = response.bytes().expect("body");
            let files =
                quarry_core::archive::read_files(&packed, &quarry_core::archive::Limits::default())
                    .expect("a stack");
            let dir = tempfile::tempdir().expect("dir");
            let mut tf_files = 0;
            for (path, content) in &files {
                let file = dir.path().join(path);
                std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
                std::fs::write(&file, content).expect("write");
                tf_files += usize::from(path.ends_with(".tf"));
            }
            assert!(tf_files >= 3, "{blueprint}: {:?}", files.keys());
            let fmt = std::process::Command::new("terraform")
                .args(["fmt", "-check", "-diff", "-recursive", "-no-color"])
                .current_dir(dir.path())
                .output()
                .expect("terraform runs");
            assert!(
                fmt.status.success(),
                "{blueprint} {environment}: {}",
                text(&fmt)
            );
        }
    }
}
