//! `--import`: publishes each module under a directory once, and names the file of a bad manifest.

mod common;

use common::*;
use serde_json::json;
use std::path::Path;

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../blueprints")
}

#[actix_web::test]
async fn import_publishes_each_example_once_and_the_golden_paths_render() {
    let quarry = start().await;
    let first = quarry
        .registry
        .import_dir(&examples())
        .await
        .expect("import");
    assert_eq!(
        first.published,
        [
            "platform/data-job/1.0.0",
            "platform/database/aws/1.0.0",
            "platform/network/aws/1.2.0",
            "platform/scheduled-job/aws/0.3.0",
            "platform/service/aws/2.0.1",
            "platform/static-site/aws/1.1.0",
            "platform/static-site/1.0.0",
            "platform/web-service/1.0.0",
        ]
    );
    let again = quarry
        .registry
        .import_dir(&examples())
        .await
        .expect("import again");
    assert!(again.published.is_empty());
    assert_eq!(again.already_published.len(), 8);

    let app = quarry.app().await;
    let detail = app.get_ok("/v1/modules/platform/network/aws").await;
    assert_eq!(detail["owner"], "import");
    assert_eq!(detail["submodules"][0]["path"], "modules/subnet");
    assert!(detail["root"]["inputs_schema"]["properties"]["availability_zones"].is_object());
    let database = app.get("/v1/modules/platform/database/aws").await.1;
    assert_eq!(
        database["root"]["inputs_schema"]["properties"]["master_password"]["writeOnly"],
        true
    );

    // Each golden path renders against the example modules: their inputs fit the modules' schemas.
    let cases = [
        (
            "web-service",
            json!({ "service_name": "checkout", "environment": "prod", "team": "payments", "container_image": "ghcr.io/acme/checkout:1.4.0", "db_password": "correct-horse-battery-staple", "approvers": ["ana", "bo"] }),
        ),
        (
            "static-site",
            json!({ "site_name": "docs", "environment": "dev", "team": "platform" }),
        ),
        (
            "data-job",
            json!({ "job_name": "nightly-export", "schedule": "0 3 * * ? *", "image_uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/export:2.1.0", "environment": "staging", "team": "data" }),
        ),
    ];
    for (name, inputs) in cases {
        let request = actix_web::test::TestRequest::post()
            .uri(&format!("/v1/blueprints/platform/{name}/1.0.0/render"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("host", "registry.example.com"))
            .set_payload(inputs.to_string());
        let response = actix_web::test::call_service(&app.service, request.to_request()).await;
        let status = response.status().as_u16();
        let body = actix_web::test::read_body(response).await;
        assert_eq!(status, 200, "{name}: {}", String::from_utf8_lossy(&body));
        let files =
            quarry_core::archive::read_files(&body, &quarry_core::archive::Limits::default())
                .expect("a tar.gz");
        assert!(files.contains_key("stack.yaml"), "{name}");
        let main = String::from_utf8_lossy(&files["main.tf"]).into_owned();
        assert!(
            main.contains("registry.example.com/platform/"),
            "{name}: {main}"
        );
        for content in files.values() {
            assert!(!String::from_utf8_lossy(content).contains("correct-horse-battery-staple"));
        }
    }
}

#[actix_web::test]
async fn import_names_the_manifest_that_is_wrong() {
    let quarry = start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let module = dir.path().join("broken");
    std::fs::create_dir(&module).expect("mkdir");
    std::fs::write(module.join("main.tf"), "output \"x\" { value = 1 }\n").expect("write");
    std::fs::write(
        module.join("module.yaml"),
        "namespace: team\nname: broken\nsystem: aws\nversion: one\n",
    )
    .expect("write");
    let error = quarry
        .registry
        .import_dir(dir.path())
        .await
        .expect_err("invalid version")
        .to_string();
    assert!(
        error.contains("broken/module.yaml: invalid version `one`"),
        "{error}"
    );
}
