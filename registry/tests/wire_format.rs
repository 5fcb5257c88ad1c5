//! Every endpoint's answer, as snapshots (`registry/tests/snapshots/`): a change of the wire
//! format shows as a diff to review, not a surprise for clients. Times are redacted; digests are
//! not (archives are packed deterministically). Review a change with `cargo insta review`, or
//! rerun with `INSTA_UPDATE=always` and read the diff.

mod common;

use common::*;
use serde_json::{Value, json};

/// Snapshots `value` as `name`, with times redacted wherever they stand.
fn snapshot(name: &str, value: &Value) {
    insta::with_settings!({ sort_maps => true }, {
        insta::assert_json_snapshot!(name, value, {
            ".**.published_at" => "[time]",
            ".**.at" => "[time]",
            ".**.expires_at" => "[time]",
        });
    });
}

/// The headers of an answer a client reads, by name.
fn headers(answer: &Answer, names: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("status".into(), json!(answer.status));
    for name in names {
        map.insert((*name).to_owned(), json!(answer.header(name)));
    }
    Value::Object(map)
}

#[actix_web::test]
async fn every_answer_keeps_its_shape() {
    let (app, [token, admin]) = tokens(["ci publish:*", "root admin"]).await;

    // Publish: the answer, then the listings and details it makes.
    let published = app
        .published(
            "/v1/modules/fixtures/greeting/generic/1.0.0",
            &token,
            packed_fixture("greeting"),
        )
        .await;
    snapshot("module_publish", &published);
    app.publish_fixture(&token, "greeting", "1.1.0").await;
    app.publish_fixture(&token, "greeting", "2.0.0").await;
    app.publish_fixture_blueprint(&token, "minimal", "0.1.0")
        .await;

    for (name, path) in [
        ("discovery", "/.well-known/terraform.json"),
        ("health", "/healthz"),
        ("module_list", "/v1/modules"),
        ("module_namespace", "/v1/modules/fixtures"),
        ("module_name", "/v1/modules/fixtures/greeting"),
        ("module_search", "/v1/modules/search?q=greet"),
        (
            "module_versions",
            "/v1/modules/fixtures/greeting/generic/versions",
        ),
        ("module_latest", "/v1/modules/fixtures/greeting/generic"),
        (
            "module_version",
            "/v1/modules/fixtures/greeting/generic/1.0.0",
        ),
        ("blueprint_list", "/v1/blueprints"),
        ("blueprint_namespace", "/v1/blueprints/fixtures"),
        ("blueprint_search", "/v1/blueprints/search?q=minimal"),
        (
            "blueprint_versions",
            "/v1/blueprints/fixtures/minimal/versions",
        ),
        ("blueprint_latest", "/v1/blueprints/fixtures/minimal"),
        ("blueprint_version", "/v1/blueprints/fixtures/minimal/0.1.0"),
        (
            "error_unknown_module",
            "/v1/modules/fixtures/nothing/generic/versions",
        ),
        (
            "error_bad_address",
            "/v1/modules/fixtures/BAD%20NAME/generic",
        ),
        ("error_no_endpoint", "/v2/nothing"),
    ] {
        let (status, body) = app.get(path).await;
        snapshot(name, &json!({ "status": status, "body": body }));
    }

    // The protocol's answers that are headers, not bodies.
    let download = app
        .answer(get(
            "/v1/modules/fixtures/greeting/generic/1.0.0/download",
            None,
        ))
        .await;
    snapshot("module_download", &headers(&download, &["x-terraform-get"]));
    let latest = app
        .answer(get("/v1/modules/fixtures/greeting/generic/download", None))
        .await;
    snapshot("module_download_latest", &headers(&latest, &["location"]));
    let blueprint = app
        .answer(get("/v1/blueprints/fixtures/minimal/0.1.0/download", None))
        .await;
    snapshot(
        "blueprint_download",
        &headers(&blueprint, &["x-terraform-get"]),
    );

    // Marks, and their undoing.
    for verb in ["deprecate", "undeprecate", "yank", "unyank"] {
        for base in [
            "/v1/modules/fixtures/greeting/generic/1.1.0",
            "/v1/blueprints/fixtures/minimal/0.1.0",
        ] {
            let body = match verb {
                "deprecate" => json!({ "reason": "use 2.0.0", "replacement": "2.0.0" }),
                _ => json!({}),
            };
            let (status, answer) = app
                .post(&format!("{base}/{verb}"), Some(&token), body)
                .await;
            let kind = if base.contains("modules") {
                "module"
            } else {
                "blueprint"
            };
            snapshot(
                &format!("{kind}_{verb}"),
                &json!({ "status": status, "body": answer }),
            );
        }
    }
    app.post(
        "/v1/modules/fixtures/greeting/generic/1.1.0/deprecate",
        Some(&token),
        json!({ "reason": "use 2.0.0", "replacement": "2.0.0" }),
    )
    .await;
    let (_, deprecated) = app.get("/v1/modules/fixtures/greeting/generic/1.1.0").await;
    snapshot(
        "module_deprecated",
        &json!({ "deprecated": deprecated["deprecated"], "deprecation": deprecated["deprecation"] }),
    );

    // Validate and render.
    let render_path = "/v1/blueprints/fixtures/minimal/0.1.0";
    for (name, inputs) in [
        (
            "blueprint_valid",
            json!({ "name": "shop", "environment": "dev" }),
        ),
        (
            "blueprint_invalid",
            json!({ "name": "Shop", "environment": "qa" }),
        ),
    ] {
        let validate = format!("{render_path}/validate");
        let (status, body) = app.post(&validate, None, inputs).await;
        snapshot(name, &json!({ "status": status, "body": body }));
    }
    let rendered = app
        .answer(post_json(
            &format!("{render_path}/render"),
            json!({ "name": "shop", "environment": "dev" }),
        ))
        .await;
    let files =
        quarry_core::archive::read_files(&rendered.body, &quarry_core::archive::Limits::default())
            .expect("a stack");
    snapshot(
        "blueprint_render",
        &json!({
            "headers": headers(&rendered, &["content-type", "content-disposition"]),
            "files": files.keys().collect::<Vec<_>>(),
        }),
    );

    // Refusals.
    let (status, body) = app
        .publish(
            "/v1/modules/fixtures/greeting/generic/1.0.0",
            &token,
            packed_fixture("greeting"),
        )
        .await;
    snapshot("error_conflict", &json!({ "status": status, "body": body }));
    let (status, body) = app
        .call(publish_request(
            "/v1/modules/fixtures/greeting/generic/3.0.0",
            None,
            packed_fixture("greeting"),
        ))
        .await;
    snapshot(
        "error_unauthorized",
        &json!({ "status": status, "body": body }),
    );

    // The audit log.
    let (status, audit) = app.get_as("/v1/audit?limit=5", &admin).await;
    snapshot("audit", &json!({ "status": status, "body": audit }));
}
