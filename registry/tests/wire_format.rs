//! Every endpoint's answer, as snapshots (`registry/tests/snapshots/`): a change of the wire
//! format shows as a diff to review, not a surprise for clients. Every answer is also checked
//! against `/openapi.json` (its path, method, status and body schema), and every operation the
//! document lists must have been answered here: the document and the routes cannot drift apart. Times are redacted; digests are
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
    let spec = Spec::of(&app).await;

    // Publish: the answer, then the listings and details it makes.
    let published = app
        .published(
            "/v1/modules/fixtures/greeting/generic/1.0.0",
            &token,
            packed_fixture("greeting"),
        )
        .await;
    spec.check(
        "POST",
        "/v1/modules/fixtures/greeting/generic/1.0.0",
        201,
        &published,
    );
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
        if name != "error_no_endpoint" {
            spec.check("GET", path, status, &body);
        }
        snapshot(name, &json!({ "status": status, "body": body }));
    }

    // The protocol's answers that are headers, not bodies.
    let download = app
        .answer(get(
            "/v1/modules/fixtures/greeting/generic/1.0.0/download",
            None,
        ))
        .await;
    spec.answered(
        "GET",
        "/v1/modules/fixtures/greeting/generic/1.0.0/download",
        &download,
    );
    snapshot("module_download", &headers(&download, &["x-terraform-get"]));
    let latest = app
        .answer(get("/v1/modules/fixtures/greeting/generic/download", None))
        .await;
    spec.answered(
        "GET",
        "/v1/modules/fixtures/greeting/generic/download",
        &latest,
    );
    snapshot("module_download_latest", &headers(&latest, &["location"]));
    let blueprint = app
        .answer(get("/v1/blueprints/fixtures/minimal/0.1.0/download", None))
        .await;
    spec.answered(
        "GET",
        "/v1/blueprints/fixtures/minimal/0.1.0/download",
        &blueprint,
    );
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
            spec.check("POST", &format!("{base}/{verb}"), status, &answer);
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
        spec.check("POST", &validate, status, &body);
        snapshot(name, &json!({ "status": status, "body": body }));
    }
    let rendered = app
        .answer(post_json(
            &format!("{render_path}/render"),
            json!({ "name": "shop", "environment": "dev" }),
        ))
        .await;
    spec.answered("POST", &format!("{render_path}/render"), &rendered);
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
    spec.check(
        "POST",
        "/v1/modules/fixtures/greeting/generic/1.0.0",
        status,
        &body,
    );
    snapshot("error_conflict", &json!({ "status": status, "body": body }));
    let (status, body) = app
        .call(publish_request(
            "/v1/modules/fixtures/greeting/generic/3.0.0",
            None,
            packed_fixture("greeting"),
        ))
        .await;
    spec.check(
        "POST",
        "/v1/modules/fixtures/greeting/generic/3.0.0",
        status,
        &body,
    );
    snapshot(
        "error_unauthorized",
        &json!({ "status": status, "body": body }),
    );

    // The audit log.
    let (status, audit) = app.get_as("/v1/audit?limit=5", &admin).await;
    spec.check("GET", "/v1/audit?limit=5", status, &audit);
    snapshot("audit", &json!({ "status": status, "body": audit }));

    // The rest of the document's operations, checked but not snapshotted.
    let detail = app
        .get_ok("/v1/modules/fixtures/greeting/generic/1.0.0")
        .await;
    let digest = detail["archive"]["sha256"].as_str().expect("digest");
    let archive_path = format!("/v1/archives/{digest}.tar.gz");
    let archive = app.answer(get(&archive_path, None)).await;
    spec.answered("GET", &archive_path, &archive);
    let head = app
        .answer(get(&archive_path, None).method(actix_web::http::Method::HEAD))
        .await;
    spec.answered("HEAD", &archive_path, &head);
    for path in ["/readyz", "/metrics", "/openapi.json"] {
        let answer = app.answer(get(path, None)).await;
        spec.answered("GET", path, &answer);
    }
    let blueprint = app
        .answer(publish_request(
            "/v1/blueprints/fixtures/minimal/0.2.0",
            Some(&token),
            packed_fixture_blueprint("minimal"),
        ))
        .await;
    spec.answered("POST", "/v1/blueprints/fixtures/minimal/0.2.0", &blueprint);

    // The stack inventory, on a registry that keeps one.
    let inventory = start_with(|config| config.serve.stack_inventory = true).await;
    let (inventory, [reader, root]) = tokens_on(inventory, ["reader read", "root admin"]).await;
    let stack = format!("{:032x}", 7);
    let report = json!({
        "name": "shop",
        "blueprint": { "address": "fixtures/minimal", "version": "0.1.0" },
        "modules": [],
    });
    let put = |token: &str| {
        actix_web::test::TestRequest::put()
            .uri(&format!("/v1/stacks/{stack}"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_payload(report.to_string())
    };
    let reported = inventory.answer(put(&reader)).await;
    spec.answered("PUT", &format!("/v1/stacks/{stack}"), &reported);
    let listed = inventory.answer(get("/v1/stacks", Some(&reader))).await;
    spec.answered("GET", "/v1/stacks", &listed);
    let forgotten = inventory
        .answer(
            actix_web::test::TestRequest::delete()
                .uri(&format!("/v1/stacks/{stack}"))
                .insert_header(("authorization", format!("Bearer {root}"))),
        )
        .await;
    spec.answered("DELETE", &format!("/v1/stacks/{stack}"), &forgotten);

    // Providers: a release, its versions (snapshotted), a download, the keys, the marks and the
    // mirror (checked: keys and signatures are made fresh on every run).
    let release = provider_release("echo", "1.0.0");
    let published = app
        .answer(publish_request(
            "/v1/providers/fixtures/echo/1.0.0",
            Some(&token),
            release,
        ))
        .await;
    spec.answered("POST", "/v1/providers/fixtures/echo/1.0.0", &published);
    let (status, versions) = app.get("/v1/providers/fixtures/echo/versions").await;
    spec.check(
        "GET",
        "/v1/providers/fixtures/echo/versions",
        status,
        &versions,
    );
    snapshot(
        "provider_versions",
        &json!({ "status": status, "body": versions }),
    );
    for path in [
        "/v1/providers/fixtures/echo/1.0.0/download/linux/amd64",
        "/v1/providers/signing-keys",
        "/v1/mirror/registry.test/fixtures/echo/index.json",
        "/v1/mirror/registry.test/fixtures/echo/1.0.0.json",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        spec.check("GET", path, status, &body);
    }
    for verb in ["deprecate", "undeprecate", "yank", "unyank"] {
        let path = format!("/v1/providers/fixtures/echo/1.0.0/{verb}");
        let (status, answer) = app.post(&path, Some(&token), json!({})).await;
        spec.check("POST", &path, status, &answer);
    }

    spec.assert_every_operation_answered();
    // And the check itself finds a body that breaks the schema.
    let (_, problems) = spec.problems(
        "GET",
        "/v1/modules",
        200,
        &json!({ "meta": { "limit": "ten" }, "modules": [{ "id": 1 }] }),
    );
    assert!(problems.len() >= 2, "{problems:?}");
}

/// `/openapi.json`, and the operations answers were checked against.
struct Spec {
    document: Value,
    answered: std::cell::RefCell<std::collections::BTreeSet<(String, String)>>,
}

impl Spec {
    async fn of(app: &TestApp) -> Self {
        Self {
            document: app.get_ok("/openapi.json").await,
            answered: Default::default(),
        }
    }

    /// The document's path template for `path` (its query left out): the one with the most
    /// literal segments, as routers choose.
    fn template(&self, path: &str) -> String {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.document["paths"].as_object().expect("paths");
        paths
            .keys()
            .filter(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts
                        .iter()
                        .zip(&segments)
                        .all(|(part, segment)| part.starts_with('{') || part == segment)
            })
            .max_by_key(|template| template.split('/').filter(|p| !p.starts_with('{')).count())
            .unwrap_or_else(|| panic!("{path} is in no path of /openapi.json"))
            .clone()
    }

    /// The documented answer of `method path` with `status`.
    fn response(&self, method: &str, path: &str, status: u16) -> (String, &Value) {
        let template = self.template(path);
        let operation = &self.document["paths"][&template][method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not in /openapi.json"
        );
        self.answered
            .borrow_mut()
            .insert((method.to_owned(), template.clone()));
        let response = &operation["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {template} answered {status}, which /openapi.json does not list"
        );
        (template, response)
    }

    /// Checks a JSON answer against the document.
    fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        let (template, problems) = self.problems(method, path, status, body);
        assert!(
            problems.is_empty(),
            "{method} {template} {status} does not match /openapi.json: {problems:?}\n{body}"
        );
    }

    /// Where a JSON answer breaks the document's schema for it.
    fn problems(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> (String, Vec<String>) {
        let (template, response) = self.response(method, path, status);
        let schema = &response["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {template} {status}: no JSON body in /openapi.json"
        );
        let root = json!({
            "components": self.document["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::validator_for(&root).expect("a valid schema");
        let problems = validator
            .iter_errors(body)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect();
        (template, problems)
    }

    /// Checks any answer: its status, and its body when it is JSON.
    fn answered(&self, method: &str, path: &str, answer: &Answer) {
        let (template, response) = self.response(method, path, answer.status);
        let content = response["content"].as_object();
        let media = content.and_then(|content| content.keys().next().cloned());
        let sent = answer.header("content-type");
        match media.as_deref() {
            None => assert!(
                answer.body.is_empty(),
                "{method} {template} {}: /openapi.json lists no body",
                answer.status
            ),
            Some("application/json") => self.check(method, path, answer.status, &answer.json),
            Some(media) => assert!(
                sent.starts_with(media),
                "{method} {template} {}: sent {sent}, /openapi.json says {media}",
                answer.status
            ),
        }
    }

    fn assert_every_operation_answered(&self) {
        let answered = self.answered.borrow();
        let mut missing = Vec::new();
        for (template, item) in self.document["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                let method = method.to_ascii_uppercase();
                if !answered.contains(&(method.clone(), template.clone())) {
                    missing.push(format!("{method} {template}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "operations in /openapi.json this test never called: {missing:?}"
        );
    }
}
