//! `--import`: publishes each module under a directory once, and names the file of a bad manifest.

mod common;

use common::*;
use std::path::Path;

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../blueprints")
}

#[actix_web::test]
async fn import_publishes_each_example_module_once() {
    let quarry = start().await;
    let first = quarry
        .registry
        .import_dir(&examples())
        .await
        .expect("import");
    assert_eq!(
        first.published,
        [
            "platform/database/aws/1.0.0",
            "platform/network/aws/1.2.0",
            "platform/scheduled-job/aws/0.3.0",
            "platform/service/aws/2.0.1",
            "platform/static-site/aws/1.1.0",
        ]
    );
    let again = quarry
        .registry
        .import_dir(&examples())
        .await
        .expect("import again");
    assert!(again.published.is_empty());
    assert_eq!(again.already_published.len(), 5);

    let service = quarry.service().await;
    let (status, detail) = call_json(&service, get("/v1/modules/platform/network/aws", None)).await;
    assert_eq!(status, 200);
    assert_eq!(detail["owner"], "import");
    assert_eq!(detail["submodules"][0]["path"], "modules/subnet");
    assert!(detail["root"]["inputs_schema"]["properties"]["availability_zones"].is_object());
    let database = call_json(&service, get("/v1/modules/platform/database/aws", None))
        .await
        .1;
    assert_eq!(
        database["root"]["inputs_schema"]["properties"]["master_password"]["writeOnly"],
        true
    );
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
