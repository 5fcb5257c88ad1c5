//! Every request is bounded: renders and checks a publisher's upload can make expensive stop at
//! their time, memory and output budgets with a 4xx naming the limit; excess concurrent jobs get
//! 503; nothing stored changes. The payloads are this file's own, several of each class.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

/// A registry with small budgets, so hostile jobs end quickly.
async fn bounded() -> TestRegistry {
    start_with(|config| {
        config.serve.render_timeout = 2;
        config.serve.render_memory = 64;
        config.serve.check_timeout = 3;
        config.serve.check_memory = 96;
        config.serve.render_output_bytes = 1 << 20;
        config.serve.sandbox_workers = 2;
    })
    .await
}

async fn publish_blueprint(quarry: &TestRegistry, name: &str, archive: Vec<u8>) -> (u16, Value) {
    let token = quarry
        .token(&format!("ci-{name}"), &["publish:hostile"])
        .await;
    let app = quarry.app().await;
    app.publish(
        &format!("/v1/blueprints/hostile/{name}/1.0.0"),
        &token,
        archive,
    )
    .await
}

fn any_inputs() -> Value {
    json!({ "type": "object", "properties": { "xs": { "type": "array" } } })
}

/// Publishes `template` as `template/main.tf.tera` (and `extra` more files), then renders and
/// validates it with `inputs`: both must be refused with 422 and a message containing `expected`.
async fn refused_render(name: &str, files: &[(&str, &[u8])], inputs: Value, expected: &str) {
    let quarry = bounded().await;
    let (status, body) = publish_blueprint(
        &quarry,
        name,
        pack_blueprint(name, &any_inputs(), "", files),
    )
    .await;
    assert_eq!(status, 201, "{name}: {body}");
    let app = quarry.app().await;
    let before = stored(&app).await;
    for action in ["render", "validate"] {
        let path = format!("/v1/blueprints/hostile/{name}/1.0.0/{action}");
        let (status, body) = app.call(post_json(&path, inputs.clone())).await;
        assert_eq!(status, 422, "{name} {action}: {body}");
        let message = body.to_string();
        assert!(message.contains(expected), "{name} {action}: {message}");
    }
    let _ = app.get_ok("/healthz").await;
    assert_eq!(stored(&app).await, before, "{name}");
}

#[actix_web::test]
async fn templates_that_run_too_long_are_stopped_at_the_time_limit() {
    let limit = "took longer than the limit of 2 s";
    let nested_ranges = "{% for a in range(end=100000) %}{% for b in range(end=100000) %}{% for c in range(end=100000) %}{% endfor %}{% endfor %}{% endfor %}";
    refused_render(
        "ranges",
        &[("template/main.tf.tera", nested_ranges.as_bytes())],
        json!({}),
        limit,
    )
    .await;
    // Loops over the caller's own inputs: a 1,000-item array walked three levels deep.
    let over_inputs = "{% for a in inputs.xs %}{% for b in inputs.xs %}{% for c in inputs.xs %}{% endfor %}{% endfor %}{% endfor %}";
    refused_render(
        "inputs",
        &[("template/main.tf.tera", over_inputs.as_bytes())],
        json!({ "xs": vec![0; 1000] }),
        limit,
    )
    .await;
    // A loop in a file's name is rendered too.
    let path = format!("template/{nested_ranges}x.tf");
    refused_render("path", &[(path.as_str(), b"# a file\n")], json!({}), limit).await;
}

#[actix_web::test]
async fn a_loop_in_the_manifest_is_stopped_too() {
    let quarry = bounded().await;
    let manifest = "policies:\n  - id: p\n    type: plan\n    file: policies/p.rego\n    when: \"{% for a in range(end=100000) %}{% for b in range(end=100000) %}{% endfor %}{% endfor %}true\"\n";
    let (status, body) = publish_blueprint(
        &quarry,
        "when",
        pack_blueprint(
            "when",
            &any_inputs(),
            manifest,
            &[(
                "policies/p.rego",
                b"package p\n\ndeny contains \"x\" if { false }\n",
            )],
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let app = quarry.app().await;
    let (status, body) = app
        .call(post_json(
            "/v1/blueprints/hostile/when/1.0.0/validate",
            json!({}),
        ))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().contains("took longer than the limit"),
        "{body}"
    );
}

#[actix_web::test]
async fn templates_that_grow_memory_without_output_are_stopped_at_the_memory_limit() {
    let limit = "needed more memory than the limit of 64 MiB";
    let doubling = "{% set_global s = \"0123456789abcdef\" %}{% for i in range(end=40) %}{% set_global s = s ~ s %}{% endfor %}{{ s | length }}";
    refused_render(
        "doubling",
        &[("template/main.tf.tera", doubling.as_bytes())],
        json!({}),
        limit,
    )
    .await;
    // The same growth, spread over the files of one render.
    let quarter = "{% set_global s = \"0123456789abcdef\" %}{% for i in range(end=21) %}{% set_global s = s ~ s %}{% endfor %}";
    let mut files: Vec<(String, &[u8])> = Vec::new();
    for index in 0..40 {
        files.push((format!("template/f{index}.tf.tera"), quarter.as_bytes()));
    }
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(path, content)| (path.as_str(), *content))
        .collect();
    refused_render("spread", &borrowed, json!({}), "limit").await;
}

#[actix_web::test]
async fn output_is_limited_for_every_file_together() {
    // 30 files of 40 KiB each pass any one-file limit; together they pass the 1 MiB budget.
    let forty_kib = "{% for i in range(end=4096) %}0123456789{% endfor %}";
    let files: Vec<(String, &[u8])> = (0..30)
        .map(|index| (format!("template/f{index}.tf.tera"), forty_kib.as_bytes()))
        .collect();
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(path, content)| (path.as_str(), *content))
        .collect();
    refused_render(
        "output",
        &borrowed,
        json!({}),
        "more than 1048576 bytes in all",
    )
    .await;
}

#[actix_web::test]
async fn renders_beyond_the_workers_wait_briefly_then_get_503() {
    let quarry = start_with(|config| {
        config.serve.render_timeout = 3;
        config.serve.sandbox_workers = 1;
    })
    .await;
    let slow =
        "{% for a in range(end=100000) %}{% for b in range(end=100000) %}{% endfor %}{% endfor %}";
    let (status, body) = publish_blueprint(
        &quarry,
        "slow",
        pack_blueprint(
            "slow",
            &any_inputs(),
            "",
            &[("template/main.tf.tera", slow.as_bytes())],
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let app = quarry.app().await;
    let path = "/v1/blueprints/hostile/slow/1.0.0/render";
    let first = app.call(post_json(path, json!({})));
    let second = async {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let response =
            actix_web::test::call_service(&app.service, post_json(path, json!({})).to_request())
                .await;
        let retry = header(response.headers(), "retry-after");
        let status = response.status().as_u16();
        let body: Value =
            serde_json::from_slice(&actix_web::test::read_body(response).await).unwrap_or_default();
        (status, retry, body)
    };
    let ((first_status, first_body), (status, retry, body)) = tokio::join!(first, second);
    assert_eq!(first_status, 422, "{first_body}");
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry, "1");
    assert!(body.to_string().contains("the registry is busy"), "{body}");
}

#[actix_web::test]
async fn deeply_nested_policies_are_refused_before_they_are_parsed() {
    let quarry = bounded().await;
    let shapes = [
        ("brackets", "x := [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]"),
        (
            "objects",
            "x := [{\"a\": [{\"a\": [{\"a\": [{\"a\": [{\"a\": [{\"a\": [{\"a\": 1}]}]}]}]}]}]}]",
        ),
        ("sets", "x := {[{[{[{[{[{[{[1]}]}]}]}]}]}]}"),
        (
            "calls",
            "f(a) := a\nx := f(f(f(f(f(f(f(f(f(f(f(f(f(f(1))))))))))))))",
        ),
    ];
    for (name, body_text) in shapes {
        let policy = format!("package p\n\n{body_text}\n");
        let manifest = "policies:\n  - id: p\n    type: plan\n    file: policies/p.rego\n";
        let (status, body) = publish_blueprint(
            &quarry,
            name,
            pack_blueprint(
                name,
                &any_inputs(),
                manifest,
                &[("policies/p.rego", policy.as_bytes())],
            ),
        )
        .await;
        let message = refused((status, body), 422);
        let deep = "brackets nest more than 12 levels deep";
        assert!(
            message.contains("policies/p.rego") && message.contains(deep),
            "{name}: {message}"
        );
    }
    let app = quarry.app().await;
    let (_, listing) = app.get("/v1/blueprints").await;
    assert_eq!(listing["blueprints"], json!([]));
}

#[actix_web::test]
async fn checks_that_run_too_long_are_stopped_at_the_check_limit() {
    // Each policy is within the nesting limit, but thousands of them take longer than the
    // 3 s the checks of one upload may spend.
    let quarry = bounded().await;
    let one = format!("{}1{}", "[{\"a\":".repeat(6), "}]".repeat(6));
    let mut manifest = String::from("policies:\n");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for index in 0..3000 {
        manifest.push_str(&format!(
            "  - id: p{index}\n    type: plan\n    file: policies/p{index}.rego\n"
        ));
        files.push((
            format!("policies/p{index}.rego"),
            format!("package p{index}\n\nx := {one}\ny := {one}\n").into_bytes(),
        ));
    }
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(path, content)| (path.as_str(), content.as_slice()))
        .collect();
    let (status, body) = publish_blueprint(
        &quarry,
        "many",
        pack_blueprint("many", &any_inputs(), &manifest, &borrowed),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        error_message(&body).contains("checking the blueprint took longer than the limit of 3 s"),
        "{body}"
    );
}
