//! No publish can poison what others read: documents nest no deeper than every later stage reads,
//! a row that cannot be read back fails only its own detail, listings read no large fields, a
//! version equal to a stored one but for build metadata is a conflict, secrets are recognised
//! however the schema spells them, archive ranges cannot overflow, and gc finds what interrupted
//! writes leave.

mod common;

use common::*;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// Publishes `archive` at `path`, expecting 201: the answer.
async fn published(quarry: &TestRegistry, path: &str, archive: Vec<u8>) -> Value {
    let (status, body) = publish(quarry, path, archive).await;
    assert_eq!(status, 201, "{path}: {body}");
    body
}

async fn publish(quarry: &TestRegistry, path: &str, archive: Vec<u8>) -> (u16, Value) {
    let token = quarry
        .token(&format!("ci-{}", rand_name()), &["publish:*"])
        .await;
    let app = quarry.app().await;
    app.publish(path, &token, archive).await
}

fn rand_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

fn simple_inputs() -> Value {
    json!({ "type": "object", "properties": { "name": { "type": "string" } } })
}

/// `depth` levels of YAML flow sequences around a value.
fn nested_yaml(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

#[actix_web::test]
async fn documents_nested_past_the_limit_are_refused_and_listings_stay_whole() {
    let quarry = start().await;
    published(
        &quarry,
        "/v1/blueprints/hostile/fine/1.0.0",
        pack_blueprint("fine", &simple_inputs(), "", &[]),
    )
    .await;
    let app = quarry.app().await;
    let before = stored(&app).await;
    // Just past the limit, and right below where the YAML reader itself stops (128): each is
    // refused at publish with the limit named, never stored.
    for depth in [65, 100, 122] {
        let inputs = json!({ "type": "object", "default": { "deep": "PLACEHOLDER" } });
        let manifest = format!(
            "apiVersion: quarry.dev/v1\nkind: Blueprint\nmetadata:\n  namespace: hostile\n  name: deep\n  description: deep\ninputs: {}\nstack:\n  name: s\n  terraform_version: \"1.9\"\n",
            inputs
                .to_string()
                .replace("\"PLACEHOLDER\"", &nested_yaml(depth))
        );
        let mut files = std::collections::BTreeMap::new();
        files.insert("blueprint.yaml".to_owned(), manifest.into_bytes());
        let archive = quarry_core::archive::pack_files(&files).expect("packs");
        let (status, body) = publish(&quarry, "/v1/blueprints/hostile/deep/1.0.0", archive).await;
        assert_eq!(status, 422, "depth {depth}: {body}");
        assert!(
            error_message(&body).contains("more than the limit of 64"),
            "depth {depth}: {body}"
        );
    }
    // A context file nested too deep is refused the same way.
    let manifest = "contexts:\n  - id: c\n    file: contexts/c.yaml\n    priority: 1\n";
    let context = format!("env: {}\n", nested_yaml(100));
    let (status, body) = publish(
        &quarry,
        "/v1/blueprints/hostile/ctx/1.0.0",
        pack_blueprint(
            "ctx",
            &simple_inputs(),
            manifest,
            &[("contexts/c.yaml", context.as_bytes())],
        ),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(error_message(&body).contains("contexts/c.yaml"), "{body}");
    assert_eq!(stored(&app).await, before);
}

#[actix_web::test]
async fn a_row_that_cannot_be_read_back_fails_only_its_own_detail() {
    let quarry = start().await;
    for version in ["1.0.0", "1.1.0"] {
        published(
            &quarry,
            &format!("/v1/blueprints/hostile/poisoned/{version}"),
            pack_blueprint("poisoned", &simple_inputs(), "", &[]),
        )
        .await;
    }
    // What an older registry could store: a manifest one level deeper than serde_json reads.
    let poison = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let sql = format!("UPDATE artifact_versions SET document = '{poison}' WHERE version = '1.1.0'");
    quarry
        .registry
        .db
        .execute_unprepared(&sql)
        .await
        .expect("poison the row");
    let app = quarry.app().await;
    let readable = [
        "/v1/blueprints",
        "/v1/blueprints/hostile",
        "/v1/blueprints/search?q=poisoned",
        "/v1/blueprints/hostile/poisoned/versions",
        "/v1/blueprints/hostile/poisoned/1.0.0",
    ];
    app.get_each(&readable, 200).await;
    let (_, listing) = app.get("/v1/blueprints").await;
    assert_eq!(listing["blueprints"][0]["version"], "1.1.0");
    let (status, body) = app.get("/v1/blueprints/hostile/poisoned/1.1.0").await;
    assert_eq!(status, 500, "{body}");
    // New publishes of the same blueprint still work.
    published(
        &quarry,
        "/v1/blueprints/hostile/poisoned/1.2.0",
        pack_blueprint("poisoned", &simple_inputs(), "", &[]),
    )
    .await;
}

#[actix_web::test]
async fn a_version_equal_but_for_build_metadata_is_a_conflict() {
    let quarry = start().await;
    let cases = [
        ("/v1/modules/hostile/m/aws/", "module"),
        ("/v1/blueprints/hostile/b/", "blueprint"),
    ];
    for (base, kind) in cases {
        // Each upload is a different archive: only the versions are compared.
        let archive = |n: u8| match kind {
            "module" => {
                let readme = format!("# m\n\nUpload {n}.\n");
                quarry_core::test_support::files_tar_gz(&[
                    ("main.tf", b"variable \"x\" {}\n"),
                    ("README.md", readme.as_bytes()),
                ])
            }
            _ => pack_blueprint("b", &simple_inputs(), &format!("# {n}\n"), &[]),
        };
        let (status, body) = publish(&quarry, &format!("{base}1.0.0"), archive(1)).await;
        assert_eq!(status, 201, "{kind}: {body}");
        for other in ["1.0.0%2Bevil", "1.0.0%2Bzzz"] {
            let (status, body) = publish(&quarry, &format!("{base}{other}"), archive(2)).await;
            assert_eq!(status, 409, "{kind} {other}: {body}");
            let message = error_message(&body);
            assert!(
                message.contains("same version as the published 1.0.0")
                    && message.contains("build metadata"),
                "{kind}: {message}"
            );
        }
        // The other way round: metadata first, then the bare version.
        let (status, body) = publish(&quarry, &format!("{base}2.0.0%2Bci.7"), archive(3)).await;
        assert_eq!(status, 201, "{kind}: {body}");
        let (status, body) = publish(&quarry, &format!("{base}2.0.0"), archive(4)).await;
        assert_eq!(status, 409, "{kind}: {body}");
        assert!(
            error_message(&body).contains("published 2.0.0+ci.7"),
            "{body}"
        );
    }
    let app = quarry.app().await;
    let (_, versions) = app.get("/v1/modules/hostile/m/aws/versions").await;
    assert_eq!(
        versions["modules"][0]["versions"],
        json!([{ "version": "1.0.0" }, { "version": "2.0.0+ci.7" }])
    );
}

#[actix_web::test]
async fn large_readmes_and_descriptions_are_refused_with_the_limit() {
    let quarry = start().await;
    let big = vec![b'x'; (1 << 20) + 1];
    let archive = quarry_core::test_support::files_tar_gz(&[
        ("main.tf", b"variable \"x\" {}\n"),
        ("README.md", &big),
    ]);
    let (status, body) = publish(&quarry, "/v1/modules/hostile/readme/aws/1.0.0", archive).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        error_message(&body).contains("README.md") && error_message(&body).contains("1048576"),
        "{body}"
    );
    let (status, body) = publish(
        &quarry,
        "/v1/blueprints/hostile/readme/1.0.0",
        pack_blueprint("readme", &simple_inputs(), "", &[("README.md", &big)]),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(error_message(&body).contains("README.md"), "{body}");
    let description = "d".repeat(501);
    let (status, body) = publish(
        &quarry,
        &format!("/v1/modules/hostile/described/aws/1.0.0?description={description}"),
        small_module(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(error_message(&body).contains("limit of 500"), "{body}");
}

/// Renders the blueprint `name` published with `inputs` and `template`, with `given`; returns the
/// status, the body (JSON or the archive's files as text) and every file of the stack.
async fn render_with_secret(inputs: Value, template: &str, given: Value) -> (u16, String) {
    let quarry = start().await;
    let (status, body) = publish(
        &quarry,
        "/v1/blueprints/hostile/secret/1.0.0",
        pack_blueprint(
            "secret",
            &inputs,
            "",
            &[("template/main.tf.tera", template.as_bytes())],
        ),
    )
    .await;
    if status != 201 {
        return (status, body.to_string());
    }
    let app = quarry.app().await;
    let response = actix_web::test::call_service(
        &app.service,
        post_json("/v1/blueprints/hostile/secret/1.0.0/render", given).to_request(),
    )
    .await;
    let status = response.status().as_u16();
    let bytes = actix_web::test::read_body(response).await;
    if status != 200 {
        return (status, String::from_utf8_lossy(&bytes).into_owned());
    }
    let files = quarry_core::archive::read_files(&bytes, &quarry_core::archive::Limits::default())
        .expect("a stack archive");
    let text = files
        .iter()
        .map(|(path, content)| format!("== {path}\n{}", String::from_utf8_lossy(content)))
        .collect::<Vec<_>>()
        .join("\n");
    (status, text)
}

#[actix_web::test]
async fn secrets_are_recognised_however_the_schema_spells_them() {
    let value = "s3cr3t-VALUE-never-written";
    let schemas = [
        json!({ "$defs": { "secret": { "type": "string", "writeOnly": true } },
                "properties": { "key": { "$ref": "#/$defs/secret" } } }),
        json!({ "properties": { "key": { "allOf": [{ "type": "string" }, { "writeOnly": true }] } } }),
        json!({ "properties": { "key": { "anyOf": [{ "type": "string", "writeOnly": true }, { "type": "null" }] } } }),
        json!({ "properties": { "key": { "oneOf": [{ "type": "string", "writeOnly": true }] } } }),
        json!({ "properties": { "env": { "type": "string" } },
                "if": { "properties": { "env": { "const": "prod" } } },
                "then": { "properties": { "key": { "writeOnly": true } } },
                "else": { "properties": { "key": { "writeOnly": true } } } }),
        json!({ "allOf": [{ "properties": { "key": { "type": "string", "writeOnly": true } } }] }),
    ];
    for inputs in schemas {
        let (status, files) = render_with_secret(
            inputs.clone(),
            "key = {{ inputs.key | json }}\n",
            json!({ "key": value, "env": "prod" }),
        )
        .await;
        assert_eq!(status, 200, "{inputs}: {files}");
        assert!(!files.contains(value), "{inputs}: {files}");
        // `"${var.key}"`, written as `terraform fmt` writes it.
        assert!(files.contains("key = var.key"), "{inputs}: {files}");
        assert!(files.contains("== secrets.tf"), "{inputs}: {files}");
    }
    // An error about the inputs object as a whole must not echo the secret either.
    let inputs = json!({ "properties": { "key": { "type": "string", "writeOnly": true } },
                          "oneOf": [{ "required": ["a"] }, { "required": ["b"] }] });
    let (status, body) = render_with_secret(inputs, "x = 1\n", json!({ "key": value })).await;
    assert_eq!(status, 422, "{body}");
    assert!(!body.contains(value), "{body}");
}

#[actix_web::test]
async fn nested_secrets_are_refused_at_publish_with_their_path() {
    let cases = [
        (
            json!({ "properties": { "db": { "type": "object",
                "properties": { "password": { "type": "string", "writeOnly": true } } } } }),
            "/inputs/properties/db/properties/password",
        ),
        (
            json!({ "properties": { "keys": { "type": "array", "items": { "writeOnly": true } } } }),
            "/inputs/properties/keys/items",
        ),
        (
            json!({ "additionalProperties": { "type": "string", "writeOnly": true } }),
            "/inputs/additionalProperties",
        ),
    ];
    for (inputs, path) in cases {
        let (status, body) = render_with_secret(inputs.clone(), "x = 1\n", json!({})).await;
        assert_eq!(status, 422, "{inputs}: {body}");
        assert!(
            body.contains(path) && body.contains("writeOnly"),
            "{inputs}: {body}"
        );
    }
}

#[actix_web::test]
async fn ranges_at_the_edge_of_u64_are_answered_not_overflowed() {
    let quarry = start().await;
    let body = published(&quarry, "/v1/modules/hostile/r/aws/1.0.0", small_module()).await;
    let digest = body["archive_sha256"].as_str().expect("digest").to_owned();
    let size = body["archive_size"].as_u64().expect("size");
    let app = quarry.app().await;
    let path = format!("/v1/archives/{digest}.tar.gz");
    for method in [actix_web::http::Method::GET, actix_web::http::Method::HEAD] {
        for (range, status, length) in [
            ("bytes=0-18446744073709551615", 206, size),
            ("bytes=1-18446744073709551615", 206, size - 1),
            ("bytes=18446744073709551615-", 416, 0),
            ("bytes=-18446744073709551615", 206, size),
            ("bytes=99999999999999999999-", 416, 0),
        ] {
            let request = actix_web::test::TestRequest::default()
                .method(method.clone())
                .uri(&path)
                .insert_header(("range", range))
                .to_request();
            let response = actix_web::test::call_service(&app.service, request).await;
            assert_eq!(response.status().as_u16(), status, "{method} {range}");
            if status == 206 {
                // The length the encoder writes as Content-Length, for GET and HEAD alike.
                assert_eq!(
                    actix_web::body::MessageBody::size(response.response().body()),
                    actix_web::body::BodySize::Sized(length),
                    "{method} {range}"
                );
                let end = size - 1;
                assert_eq!(
                    header(response.headers(), "content-range"),
                    format!("bytes {}-{end}/{size}", size - length),
                    "{method} {range}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn gc_finds_the_staging_files_interrupted_writes_leave() {
    let quarry = start().await;
    if !local_storage(&quarry) {
        // Object stores write an object whole or not at all: there are no staging files.
        return;
    }
    published(&quarry, "/v1/modules/hostile/g/aws/1.0.0", small_module()).await;
    let dir = quarry.dir.path().join("objects/archives/sha256");
    let digest = "ab".repeat(32);
    let leftover = dir.join(format!("{digest}.tar.gz#1"));
    let fresh = dir.join(format!("{digest}.tar.gz#2"));
    std::fs::write(&leftover, b"half an archive").expect("write a leftover");
    std::fs::write(&fresh, b"a write in flight").expect("write a fresh one");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&leftover)
        .and_then(|file| file.set_modified(old))
        .expect("age the leftover");
    let report = quarry
        .registry
        .collect_garbage(chrono::Duration::hours(1), false)
        .await
        .expect("gc");
    let names: Vec<&str> = report.leftovers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, [format!("{digest}.tar.gz#1")]);
    assert_eq!(report.referenced, 1);
    assert!(leftover.exists(), "a dry run deletes nothing");
    quarry
        .registry
        .collect_garbage(chrono::Duration::hours(1), true)
        .await
        .expect("gc --delete");
    assert!(!leftover.exists());
    assert!(
        fresh.exists(),
        "a write younger than the grace period is left alone"
    );
}
