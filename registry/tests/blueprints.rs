//! The blueprint API: publish (checked), list, search, versions, detail, download, validate and
//! render against modules published in the same registry.

mod common;

use actix_web::test;
use common::*;
use serde_json::{Value, json};
use std::path::Path;

fn blueprint_fixture(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/blueprints")
        .join(name);
    quarry_core::archive::pack_dir(&dir).expect("fixture packs")
}

/// A registry with the `greeting` fixture module at 1.0.0 and 1.4.2 and the minimal blueprint.
async fn registry_with_minimal() -> TestRegistry {
    let quarry = start().await;
    publish_minimal(&quarry).await;
    quarry
}

async fn publish_minimal(quarry: &TestRegistry) {
    let token = quarry.token("ci", &["publish:fixtures"]).await;
    let app = quarry.app().await;
    for version in ["1.0.0", "1.4.2", "2.0.0"] {
        let path = format!("/v1/modules/fixtures/greeting/generic/{version}");
        app.published(&path, &token, packed_fixture("greeting"))
            .await;
    }
    app.publish_fixture_blueprint(&token, "minimal", "0.1.0")
        .await;
}

#[actix_web::test]
async fn published_blueprint_is_listed_searched_and_detailed() {
    let app = registry_with_minimal().await.app().await;

    let body = app.get_ok("/v1/blueprints").await;
    assert_eq!(body["blueprints"][0]["id"], "fixtures/minimal/0.1.0");
    let (_, body) = app.get("/v1/blueprints/search?q=smallest").await;
    assert_eq!(body["blueprints"].as_array().map(Vec::len), Some(1));
    let (_, body) = app.get("/v1/blueprints/search?q=nothing-like-it").await;
    assert_eq!(body["blueprints"].as_array().map(Vec::len), Some(0));
    let body = app.get_ok("/v1/blueprints/fixtures/minimal/versions").await;
    assert_eq!(
        body["blueprints"][0]["versions"],
        json!([{ "version": "0.1.0" }])
    );

    let detail = app.get_ok("/v1/blueprints/fixtures/minimal").await;
    assert_eq!(detail["version"], "0.1.0");
    assert_eq!(detail["inputs"]["required"], json!(["name", "environment"]));
    assert_eq!(
        detail["modules"][1]["source"],
        "fixtures/greeting/generic//modules/shout"
    );
    assert_eq!(detail["policies"][0]["id"], "no-destroy");
    assert_eq!(detail["contexts"][0]["file"], "contexts/shared.yaml");
    assert!(
        detail["readme"]
            .as_str()
            .is_some_and(|r| r.contains("smallest blueprint"))
    );

    let response = app
        .answer(get("/v1/blueprints/fixtures/minimal/0.1.0/download", None))
        .await;
    assert_eq!(response.status, 204);
    assert!(
        response
            .header("x-terraform-get")
            .starts_with("/v1/archives/")
    );

    let message = refused(app.get("/v1/blueprints/fixtures/minimal/9.9.9").await, 404);
    assert_eq!(message, "blueprint fixtures/minimal has no version 9.9.9");
}

#[actix_web::test]
async fn render_returns_the_stack_as_a_tar_gz() {
    let app = registry_with_minimal().await.app().await;
    let request = post_json(
        "/v1/blueprints/fixtures/minimal/0.1.0/render",
        json!({ "name": "shop", "environment": "prod", "approvers": ["ana", "bo"], "token": "a-secret-token-value" }),
    );
    let response = app.answer(request).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), "application/gzip");
    let archive = response.body.clone();
    let files =
        quarry_core::archive::read_files(&archive, &quarry_core::archive::Limits::default())
            .expect("a valid tar.gz");
    let main = String::from_utf8(files["main.tf"].clone()).expect("utf-8");
    assert!(
        // Aligned as `terraform fmt` aligns it with the module's other arguments.
        main.contains("  source      = \"registry.test/fixtures/greeting/generic\""),
        "{main}"
    );
    assert!(
        main.contains("version = \"1.4.2\""),
        "~> 1.0 picks 1.4.2 in this registry: {main}"
    );
    let answers: Value = serde_json::from_slice(&files[".scaffold/answers.json"]).expect("json");
    assert_eq!(answers["blueprint"]["address"], "fixtures/minimal");
    let digest = quarry_core::digest::Sha256::of(&packed_fixture("greeting")).to_hex();
    assert_eq!(answers["modules"][0]["archive_sha256"], digest.as_str());
    for (path, content) in &files {
        assert!(
            !String::from_utf8_lossy(content).contains("a-secret-token-value"),
            "secret in {path}"
        );
    }
}

#[actix_web::test]
async fn validate_reports_every_input_error_with_its_path() {
    let app = registry_with_minimal().await.app().await;
    let validate = |inputs: Value| {
        app.call(post_json(
            "/v1/blueprints/fixtures/minimal/0.1.0/validate",
            inputs,
        ))
    };
    let (status, body) = validate(json!({ "name": "shop", "environment": "dev" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "valid": true }));

    let (status, body) =
        validate(json!({ "name": "Not Valid", "environment": "prod", "replicas": "two" })).await;
    assert_eq!(status, 422);
    let errors = body["errors"].as_array().expect("errors");
    let has = |path: &str, text: &str| quarry_core::test_support::has_error(errors, path, text);
    assert!(has("/name", "does not match"), "pattern: {body}");
    assert!(
        has("/replicas", "is not of type \"integer\""),
        "type: {body}"
    );
    assert!(
        has("", "\"approvers\" is a required property"),
        "if/then: {body}"
    );
    let (status, body) = validate(json!({ "name": "shop", "environment": "qa" })).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["path"], "/environment", "enum: {body}");

    let request = test::TestRequest::post()
        .uri("/v1/blueprints/fixtures/minimal/0.1.0/validate")
        .insert_header(("content-type", "application/json"))
        .set_payload("{ not json");
    let message = refused(app.call(request).await, 400);
    assert!(
        message.starts_with("the body must be a JSON object of inputs"),
        "{message}"
    );
}

#[actix_web::test]
async fn render_fails_clearly_when_no_module_version_matches() {
    let (app, token) = app_with_token(&["publish:fixtures"]).await;
    app.publish_fixture(&token, "greeting", "2.0.0").await;
    app.publish_fixture_blueprint(&token, "minimal", "0.1.0")
        .await;
    let render = "/v1/blueprints/fixtures/minimal/0.1.0/render";
    let inputs = json!({ "name": "shop", "environment": "dev" });
    let (status, body) = app.call(post_json(render, inputs)).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"][0],
        json!({ "path": "/modules/greeting", "message": "no version of fixtures/greeting/generic matches `~> 1.0` (available: 2.0.0)" })
    );
}

#[actix_web::test]
async fn publish_refuses_invalid_blueprints_listing_every_problem() {
    let (app, token) = app_with_token(&["publish:fixtures"]).await;

    let broken = quarry_core::test_support::files_tar_gz(&[("blueprint.yaml", b"apiVersion: quarry.dev/v1\nkind: Blueprint\nmetadata: { namespace: fixtures, name: broken, description: x }\ninputs: { type: object }\nmodules:\n  - { name: a, source: not-an-address, version: \"^1\" }\npolicies:\n  - { id: p, type: plan, file: policies/missing.rego }\nstack: { name: x, terraform_version: \"~> 1.9\" }\n"), ("template/main.tf.tera", b"{{ broken")]);
    let (status, body) = app
        .publish("/v1/blueprints/fixtures/broken/1.0.0", &token, broken)
        .await;
    assert_eq!(status, 422);
    let messages: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(
        quarry_core::test_support::any_starts_with(
            &messages,
            "blueprint.yaml: /modules/0/source: "
        ),
        "{messages:#?}"
    );
    assert!(
        quarry_core::test_support::any_starts_with(
            &messages,
            "blueprint.yaml: /modules/0/version: "
        ),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with(
            "blueprint.yaml: /policies/0/file: policy file `policies/missing.rego` does not exist"
        )),
        "{messages:#?}"
    );
    assert!(
        quarry_core::test_support::any_starts_with(&messages, "template/main.tf.tera: "),
        "{messages:#?}"
    );

    let message = app
        .publish_refused(
            "/v1/blueprints/fixtures/other-name/1.0.0",
            &token,
            blueprint_fixture("minimal"),
            422,
        )
        .await;
    assert_eq!(
        message,
        "blueprint.yaml declares `fixtures/minimal` but is published as `fixtures/other-name`"
    );

    app.publish_fixture_blueprint(&token, "minimal", "1.0.0")
        .await;
    let message = app
        .publish_refused(
            "/v1/blueprints/fixtures/minimal/1.0.0",
            &token,
            blueprint_fixture("minimal"),
            409,
        )
        .await;
    assert_eq!(
        message,
        "blueprint fixtures/minimal 1.0.0 is already published; versions are immutable, publish a new version"
    );

    let other = app.quarry.token("other", &["publish:other"]).await;
    let (status, _) = app
        .publish(
            "/v1/blueprints/fixtures/minimal/1.1.0",
            &other,
            blueprint_fixture("minimal"),
        )
        .await;
    assert_eq!(status, 403);
}
