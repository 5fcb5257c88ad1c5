//! The read side: Terraform's module protocol, the public registry's JSON API, archives, and
//! reads that need a token.

mod common;

use actix_web::body::{BodySize, MessageBody};
use actix_web::test;
use common::*;
use serde_json::{Value, json};

#[actix_web::test]
async fn discovery_names_the_modules_service() {
    let app = start().await.app().await;
    let response = app.answer(get("/.well-known/terraform.json", None)).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), "application/json");
    let body: Value = response.json.clone();
    assert_eq!(
        body,
        json!({ "modules.v1": "/v1/modules/", "providers.v1": "/v1/providers/" })
    );
}

#[actix_web::test]
async fn versions_lists_every_version_and_unknown_modules_are_404() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    app.publish_versions(&token, "net", &["1.1.0", "1.0.0", "2.0.0-beta.1"])
        .await;
    let body = app.get_ok("/v1/modules/acme/net/aws/versions").await;
    assert_eq!(
        body["modules"][0]["versions"],
        json!([{ "version": "1.0.0" }, { "version": "1.1.0" }, { "version": "2.0.0-beta.1" }])
    );
    let (status, body) = app.get("/v1/modules/acme/nothing/aws/versions").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({ "errors": ["module acme/nothing/aws not found"] })
    );
    let (status, body) = app.get("/v1/nowhere").await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({ "errors": ["no such endpoint"] }));
}

#[actix_web::test]
async fn download_answers_204_with_the_archive_url_and_counts_it() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    app.publish_versions(&token, "net", &["1.0.0", "1.2.0", "1.3.0-rc.1"])
        .await;

    let response = app
        .answer(get("/v1/modules/acme/net/aws/1.2.0/download", None))
        .await;
    assert_eq!(response.status, 204);
    let location = response.header("x-terraform-get");
    let digest = quarry_core::digest::Sha256::of(&small_module()).to_hex();
    assert_eq!(
        location,
        format!("/v1/archives/{digest}.tar.gz?checksum=sha256:{digest}")
    );

    // The latest download redirects to the newest stable version, not the prerelease.
    let response = app
        .answer(get("/v1/modules/acme/net/aws/download", None))
        .await;
    assert_eq!(response.status, 302);
    assert_eq!(
        response.header("location"),
        "/v1/modules/acme/net/aws/1.2.0/download"
    );

    let message = refused(
        app.get("/v1/modules/acme/net/aws/9.9.9/download").await,
        404,
    );
    assert_eq!(message, "acme/net/aws has no version 9.9.9");

    let (_, detail) = app.get("/v1/modules/acme/net/aws/1.2.0").await;
    assert_eq!(detail["downloads"], 1);
}

#[actix_web::test]
async fn download_url_uses_the_public_url_when_configured() {
    let quarry =
        start_with(|config| config.serve.public_url = Some("https://registry.example.com".into()))
            .await;
    let token = quarry.token("ci", &["publish:acme"]).await;
    let app = quarry.app().await;
    app.publish_versions(&token, "net", &["1.0.0"]).await;
    let response = app
        .answer(get("/v1/modules/acme/net/aws/1.0.0/download", None))
        .await;
    let location = response.header("x-terraform-get");
    assert!(
        location.starts_with("https://registry.example.com/v1/archives/"),
        "{location}"
    );
}

#[actix_web::test]
async fn archives_are_immutable_cacheable_and_ranged() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    app.publish_versions(&token, "net", &["1.0.0"]).await;
    let archive = small_module();
    let digest = quarry_core::digest::Sha256::of(&archive).to_hex();
    let path = format!("/v1/archives/{digest}.tar.gz");

    let response = test::call_service(&app.service, get(&path, None).to_request()).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "content-type"), "application/gzip");
    let declared = response.response().body().size();
    assert_eq!(declared, BodySize::Sized(archive.len() as u64));
    assert_eq!(header(&headers, "etag"), format!("\"{digest}\"").as_str());
    assert_eq!(
        header(&headers, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&headers, "accept-ranges"), "bytes");
    assert_eq!(test::read_body(response).await.as_ref(), archive.as_slice());

    let head = test::TestRequest::default()
        .method(actix_web::http::Method::HEAD)
        .uri(&path);
    let response = test::call_service(&app.service, head.to_request()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.response().body().size(),
        BodySize::Sized(archive.len() as u64)
    );

    let ranged = get(&path, None).insert_header(("range", "bytes=10-19"));
    let response = test::call_service(&app.service, ranged.to_request()).await;
    assert_eq!(response.status(), 206);
    assert_eq!(
        header(response.headers(), "content-range"),
        format!("bytes 10-19/{}", archive.len()).as_str()
    );
    assert_eq!(test::read_body(response).await.as_ref(), &archive[10..20]);

    let beyond = get(&path, None).insert_header(("range", format!("bytes={}-", archive.len())));
    let response = test::call_service(&app.service, beyond.to_request()).await;
    assert_eq!(response.status(), 416);
    assert_eq!(
        header(response.headers(), "content-range"),
        format!("bytes */{}", archive.len()).as_str()
    );

    let cached = get(&path, None).insert_header(("if-none-match", format!("\"{digest}\"")));
    let response = test::call_service(&app.service, cached.to_request()).await;
    assert_eq!(response.status(), 304);

    let missing = format!("/v1/archives/{}.tar.gz", "0".repeat(64));
    let (status, _) = app.get(&missing).await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/v1/archives/../../etc/passwd").await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn list_and_search_paginate_in_the_public_registry_shape() {
    let (app, token) = app_with_token(&["publish:*"]).await;
    for (namespace, name, description) in [
        ("acme", "vpc", "Networking%20for%20teams"),
        ("acme", "database", "PostgreSQL%20on%20RDS"),
        ("beta", "bucket", "Object%20storage"),
        ("beta", "queue", "A%20100%25%20reliable%20queue"),
    ] {
        let path = format!("/v1/modules/{namespace}/{name}/aws/1.0.0?description={description}");
        app.published(&path, &token, small_module()).await;
    }

    let body = app.get_ok("/v1/modules?limit=2").await;
    assert_eq!(
        body["meta"],
        json!({ "limit": 2, "current_offset": 0, "next_offset": 2 })
    );
    let ids = quarry_core::test_support::texts(&body["modules"], "id");
    assert_eq!(ids, ["acme/database/aws/1.0.0", "acme/vpc/aws/1.0.0"]);
    let first = &body["modules"][0];
    for key in [
        "owner",
        "namespace",
        "name",
        "version",
        "provider",
        "description",
        "source",
        "published_at",
        "downloads",
        "verified",
    ] {
        assert!(first.get(key).is_some(), "list item lacks `{key}`: {first}");
    }

    let (_, body) = app.get("/v1/modules?limit=2&offset=2").await;
    assert_eq!(
        body["meta"],
        json!({ "limit": 2, "current_offset": 2, "prev_offset": 0 })
    );
    assert_eq!(body["modules"].as_array().map(Vec::len), Some(2));

    let (_, body) = app.get("/v1/modules/beta").await;
    assert_eq!(body["modules"].as_array().map(Vec::len), Some(2));

    // Search matches namespace, name, system and description, case-insensitively, and treats
    // LIKE wildcards literally.
    for (query, expected) in [
        ("postgresql", vec!["acme/database/aws/1.0.0"]),
        (
            "BETA",
            vec!["beta/bucket/aws/1.0.0", "beta/queue/aws/1.0.0"],
        ),
        ("vpc", vec!["acme/vpc/aws/1.0.0"]),
        ("100%25", vec!["beta/queue/aws/1.0.0"]),
        ("%25", vec!["beta/queue/aws/1.0.0"]),
        ("_", vec![]),
        (
            "aws",
            vec![
                "acme/database/aws/1.0.0",
                "acme/vpc/aws/1.0.0",
                "beta/bucket/aws/1.0.0",
                "beta/queue/aws/1.0.0",
            ],
        ),
        ("'%20OR%201=1--", vec![]),
    ] {
        let body = app.get_ok(&format!("/v1/modules/search?q={query}")).await;
        let ids = quarry_core::test_support::texts(&body["modules"], "id");
        assert_eq!(ids, expected, "search {query}");
    }
    let message = refused(app.get("/v1/modules/search").await, 400);
    assert_eq!(message, "search needs a query: `?q=<text>`");
    let message = refused(app.get("/v1/modules?offset=-1").await, 400);
    assert!(
        message.starts_with("`offset` must be a whole number"),
        "{message}"
    );
}

#[actix_web::test]
async fn detail_shows_inputs_with_a_schema_for_every_terraform_type() {
    let app = app_with_fixture("typed", "1.0.0").await;

    let detail = app.get_ok("/v1/modules/fixtures/typed/generic").await;
    assert_eq!(detail["id"], "fixtures/typed/generic/1.0.0");
    assert_eq!(detail["versions"], json!(["1.0.0"]));
    let root = &detail["root"];
    let input = |name: &str| -> Value {
        root["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(input("a_string")["required"], true);
    assert_eq!(input("a_string")["type"], "string");
    assert_eq!(input("a_number")["default"], "3");
    assert_eq!(input("a_secret")["sensitive"], true);

    let schema = &root["inputs_schema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], json!(["a_string"]));
    let property = |name: &str| -> Value {
        let mut property = schema["properties"][name].clone();
        // Descriptions are checked once below; the shape is what matters here.
        if let Some(object) = property.as_object_mut() {
            object.remove("description");
        }
        property
    };
    assert_eq!(property("a_string"), json!({ "type": ["string", "null"] }));
    assert_eq!(
        property("a_number"),
        json!({ "type": ["number", "null"], "default": 3 })
    );
    assert_eq!(
        property("a_bool"),
        json!({ "type": ["boolean", "null"], "default": true })
    );
    assert_eq!(
        property("a_list"),
        json!({ "type": ["array", "null"], "items": { "type": "string" }, "default": ["alpha", "beta"] })
    );
    assert_eq!(
        property("a_set"),
        json!({ "type": ["array", "null"], "items": { "type": "number" }, "uniqueItems": true, "default": [1, 2, 3] })
    );
    assert_eq!(
        property("a_map"),
        json!({ "type": ["object", "null"], "additionalProperties": { "type": "string" }, "default": { "team": "platform" } })
    );
    assert_eq!(
        property("a_tuple"),
        json!({ "type": ["array", "null"], "prefixItems": [{ "type": "string" }, { "type": "number" }, { "type": "boolean" }], "items": false, "minItems": 3, "maxItems": 3, "default": ["x", 1, false] })
    );
    assert_eq!(
        property("an_object"),
        json!({
            "type": ["object", "null"],
            "properties": {
                "name": { "type": "string" },
                "port": { "type": "number", "default": 8080 },
                "labels": { "type": "object", "additionalProperties": { "type": "string" } }
            },
            "required": ["name"],
            "additionalProperties": false,
            "default": { "name": "web" }
        })
    );
    assert_eq!(property("anything"), json!({ "default": null }));
    assert_eq!(
        property("a_secret"),
        json!({ "type": ["string", "null"], "writeOnly": true, "default": "hunter2" })
    );
    assert_eq!(
        property("non_nullable"),
        json!({ "type": "string", "default": "fallback" })
    );
    assert_eq!(
        property("listeners")["items"]["properties"]["tls"]["properties"]["policies"],
        json!({ "type": "array", "items": { "type": "string" }, "default": [] })
    );
    assert_eq!(
        schema["properties"]["a_string"]["description"],
        "A required primitive string."
    );
}

#[actix_web::test]
async fn detail_covers_submodules_readme_and_outputs() {
    let app = app_with_fixture("greeting", "0.1.0").await;
    let detail = app
        .get_ok("/v1/modules/fixtures/greeting/generic/0.1.0")
        .await;
    assert!(
        detail["root"]["readme"]
            .as_str()
            .is_some_and(|readme| readme.contains("greeting")),
        "{}",
        detail["root"]["readme"]
    );
    assert!(
        detail["root"]["outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .any(|o| o["name"] == "message")
    );
    assert_eq!(
        detail["root"]["resources"],
        json!([{ "type": "terraform_data" }])
    );
    assert_eq!(detail["submodules"][0]["path"], "modules/shout");
    assert_eq!(
        detail["submodules"][0]["inputs_schema"]["required"],
        json!(["text"])
    );
    assert_eq!(detail["provider"], "generic");
    assert_eq!(detail["providers"], json!(["generic"]));

    let message = refused(
        app.get("/v1/modules/fixtures/greeting/generic/0.2.0").await,
        404,
    );
    assert_eq!(message, "fixtures/greeting/generic has no version 0.2.0");
}

#[actix_web::test]
async fn token_reads_need_a_read_token_and_a_signed_archive_url() {
    let (app, [publisher, reader]) = token_reads(["ci publish:acme", "reader read"]).await;
    app.publish_versions(&publisher, "net", &["1.0.0"]).await;

    let paths = [
        "/v1/modules",
        "/v1/modules/acme/net/aws/versions",
        "/v1/modules/acme/net/aws",
        "/v1/modules/acme/net/aws/1.0.0/download",
        "/v1/modules/search?q=net",
    ];
    for body in app.get_each(&paths, 401).await {
        let message = error_message(&body);
        assert!(
            message.starts_with("this registry requires a token to read modules"),
            "{message}"
        );
    }
    let response = app
        .answer(get("/v1/modules/acme/net/aws/versions", None))
        .await;
    assert_eq!(
        response.header("www-authenticate"),
        "Bearer realm=\"quarry\""
    );
    let (status, _) = app
        .get_as(
            "/v1/modules/acme/net/aws/versions",
            "qry_0000000000000000_forged",
        )
        .await;
    assert_eq!(status, 401);

    let (status, _) = app
        .get_as("/v1/modules/acme/net/aws/versions", &reader)
        .await;
    assert_eq!(status, 200);
    let response = app
        .answer(get(
            "/v1/modules/acme/net/aws/1.0.0/download",
            Some(&reader),
        ))
        .await;
    assert_eq!(response.status, 204);
    let url = response.header("x-terraform-get");
    assert!(url.contains("?exp=") && url.contains("&sig="), "{url}");

    // The signed URL works without a token; the bare URL and a tampered signature do not.
    let response = app.answer(get(&url, None)).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("cache-control"),
        "private, max-age=31536000, immutable"
    );
    let bare = url.split('?').next().expect("path").to_owned();
    let message = refused(app.get(&bare).await, 403);
    assert_eq!(
        message,
        "this archive URL needs a signature; ask the download endpoint for a fresh URL"
    );
    let tampered = url.replace("sig=", "sig=00");
    let (status, _) = app.get(&tampered).await;
    assert_eq!(status, 403);
    // A reader's token is as good as a signature.
    let (status, _) = app.get_as(&bare, &reader).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn expired_archive_url_is_refused() {
    let quarry = start_with(|config| {
        config.serve.read_access = quarry_registry::config::ReadAccess::Token;
        config.serve.signed_url_ttl = 0;
    })
    .await;
    let publisher = quarry.token("ci", &["publish:acme"]).await;
    let app = quarry.app().await;
    app.publish_versions(&publisher, "net", &["1.0.0"]).await;
    let response = app
        .answer(get(
            "/v1/modules/acme/net/aws/1.0.0/download",
            Some(&publisher),
        ))
        .await;
    let url = response.header("x-terraform-get");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let message = refused(app.get(&url).await, 403);
    assert_eq!(
        message,
        "the archive URL expired; ask the download endpoint for a fresh URL"
    );
}

#[actix_web::test]
async fn versions_carry_an_etag_and_answer_304_until_a_publish_changes_them() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    app.publish_versions(&token, "net", &["1.0.0"]).await;
    let response = app
        .answer(get("/v1/modules/acme/net/aws/versions", None))
        .await;
    let etag = response.header("etag");
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let again = get("/v1/modules/acme/net/aws/versions", None)
        .insert_header(("if-none-match", etag.clone()));
    let response = app.answer(again).await;
    assert_eq!(response.status, 304);
    app.publish_versions(&token, "net", &["1.1.0"]).await;
    let after =
        get("/v1/modules/acme/net/aws/versions", None).insert_header(("if-none-match", etag));
    let response = app.answer(after).await;
    assert_eq!(
        response.status, 200,
        "a publish changes the list and its ETag at once"
    );
    let body: Value = response.json.clone();
    assert_eq!(
        body["modules"][0]["versions"].as_array().map(Vec::len),
        Some(2)
    );
}
