//! Publishing: what is accepted, and every rejection with its status and message.

mod common;

use actix_web::test;
use common::*;
use quarry_core::test_support::{gzip, raw_tar, tar_gz};
use tar::EntryType::{self, Link, Regular, Symlink};

const MAIN_TF: &[u8] = b"output \"ok\" {\n  value = true\n}\n";

#[actix_web::test]
async fn publish_creates_the_version_and_refuses_it_twice() {
    let (app, token) = app_with_token(&["publish:acme"]).await;

    let body = app
        .published("/v1/modules/acme/small/aws/1.0.0", &token, small_module())
        .await;
    assert_eq!(body["id"], "acme/small/aws/1.0.0");
    assert_eq!(body["archive_sha256"].as_str().map(str::len), Some(64));

    let message = app
        .publish_refused(
            "/v1/modules/acme/small/aws/1.0.0",
            &token,
            small_module(),
            409,
        )
        .await;
    assert_eq!(
        message,
        "acme/small/aws 1.0.0 is already published; versions are immutable, publish a new version"
    );

    let body = app.get_ok("/v1/modules/acme/small/aws/versions").await;
    assert_eq!(
        body["modules"][0]["versions"],
        serde_json::json!([{ "version": "1.0.0" }])
    );
}

#[actix_web::test]
async fn publish_rejects_bad_addresses_and_versions() {
    let (app, token) = app_with_token(&["publish:*"]).await;
    let long = "a".repeat(65);
    let cases = [
        (
            "/v1/modules/-bad/small/aws/1.0.0".to_owned(),
            "invalid namespace `-bad`",
        ),
        (
            "/v1/modules/acme/bad_/aws/1.0.0".to_owned(),
            "invalid name `bad_`",
        ),
        (
            format!("/v1/modules/acme/{long}/aws/1.0.0"),
            "invalid name `aaaa",
        ),
        (
            "/v1/modules/acme/small/AWS/1.0.0".to_owned(),
            "invalid system `AWS`",
        ),
        (
            "/v1/modules/acme/small/my-cloud/1.0.0".to_owned(),
            "invalid system `my-cloud`",
        ),
        (
            "/v1/modules/acme/small/aws/v1.0.0".to_owned(),
            "invalid version `v1.0.0`",
        ),
        (
            "/v1/modules/acme/small/aws/1.0".to_owned(),
            "invalid version `1.0`",
        ),
        (
            "/v1/modules/acme/small/aws/01.0.0".to_owned(),
            "invalid version `01.0.0`",
        ),
    ];
    for (path, expected) in cases {
        let (status, body) = app.publish(&path, &token, small_module()).await;
        assert_eq!(status, 400, "{path}: {body}");
        let message = error_message(&body);
        assert!(
            message.starts_with(expected),
            "{path}: `{message}` should start with `{expected}`"
        );
    }
}

#[actix_web::test]
async fn publish_accepts_prerelease_and_build_metadata() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    for version in ["1.0.0-rc.1", "1.0.0+build.7", "2.0.0-beta.2+sha.1f"] {
        let path = format!("/v1/modules/acme/small/aws/{}", version.replace('+', "%2B"));
        let body = app.published(&path, &token, small_module()).await;
        assert_eq!(body["version"], version);
    }
}

#[actix_web::test]
async fn publish_rejects_unsafe_and_broken_archives() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    let many: Vec<String> = (0..10_001).map(|i| format!("f/{i}")).collect();
    let mut many_entries: Vec<(&str, EntryType, &[u8], Option<&str>)> =
        vec![("main.tf", Regular, MAIN_TF, None)];
    many_entries.extend(
        many.iter()
            .map(|name| (name.as_str(), Regular, &b""[..], None)),
    );
    let valid = small_module();
    let mut trailing = valid.clone();
    trailing.extend_from_slice(b"trailing garbage");

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "not gzip",
            b"PK\x03\x04 a zip file".to_vec(),
            400,
            "the body is not gzip-compressed (expected a .tar.gz archive)",
        ),
        (
            "gzip but not tar",
            gzip(&[0x42; 2048]),
            400,
            "the archive could not be read",
        ),
        (
            "truncated",
            valid[..valid.len() / 2].to_vec(),
            400,
            "the archive could not be read",
        ),
        (
            "trailing data",
            trailing,
            400,
            "the archive has data after its end",
        ),
        // Entries that leave the module root (`..`, absolute paths, links) and special files are
        // in the hostile-input catalogue (`hostile.rs`), which also checks nothing was stored.
        (
            "too many entries",
            tar_gz(&many_entries),
            422,
            "the archive has more than 10000 entries",
        ),
        (
            "no root .tf",
            tar_gz(&[("src/main.tf", Regular, MAIN_TF, None)]),
            422,
            "the archive has no .tf file at its root (a module's .tf files must not be inside a folder)",
        ),
        (
            "hcl syntax error",
            tar_gz(&[
                ("main.tf", Regular, MAIN_TF, None),
                (
                    "variables.tf",
                    Regular,
                    b"variable \"a\" {\n  type = string\n\n",
                    None,
                ),
            ]),
            422,
            "variables.tf:",
        ),
        (
            "hcl error in a submodule",
            tar_gz(&[
                ("main.tf", Regular, MAIN_TF, None),
                (
                    "modules/net/main.tf",
                    Regular,
                    b"resource \"x\" \"y\" {\n  a = \n}\n",
                    None,
                ),
            ]),
            422,
            "modules/net/main.tf:2",
        ),
    ];
    for (index, (label, body, expected_status, expected_message)) in cases.into_iter().enumerate() {
        let path = format!("/v1/modules/acme/case/aws/1.0.{index}");
        let (status, response) = app.publish(&path, &token, body).await;
        let message = error_message(&response);
        assert_eq!(status, expected_status, "{label}: {response}");
        assert!(
            message.starts_with(expected_message),
            "{label}: `{message}` should start with `{expected_message}`"
        );
    }
    // Nothing of the rejected uploads was recorded.
    let (status, _) = app.get("/v1/modules/acme/case/aws/versions").await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn publish_enforces_the_size_limits() {
    let quarry = start_with(|config| {
        config.serve.max_archive_bytes = 64 * 1024;
        config.serve.max_unpacked_bytes = 1024 * 1024;
    })
    .await;
    let token = quarry.token("ci", &["publish:acme"]).await;
    let app = quarry.app().await;

    // Incompressible bytes: the compressed body itself is over the limit.
    let noise = quarry_core::test_support::noise(0, 100_000);
    let big = tar_gz(&[
        ("main.tf", Regular, MAIN_TF, None),
        ("noise.bin", Regular, &noise, None),
    ]);
    assert!(big.len() > 64 * 1024);
    let message = app
        .publish_refused("/v1/modules/acme/big/aws/1.0.0", &token, big, 413)
        .await;
    assert_eq!(
        message,
        "the archive is larger than the limit of 65536 bytes"
    );

    // A gzip bomb: small upload, large unpacked size.
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let bomb = tar_gz(&[
        ("main.tf", Regular, MAIN_TF, None),
        ("zeros.bin", Regular, &zeros, None),
    ]);
    assert!(bomb.len() < 64 * 1024);
    let message = app
        .publish_refused("/v1/modules/acme/bomb/aws/1.0.0", &token, bomb, 413)
        .await;
    assert_eq!(message, "the archive unpacks to more than 1048576 bytes");
}

#[actix_web::test]
async fn publish_requires_a_token_with_the_namespace_scope() {
    let (app, [other, reader]) = tokens(["other-team publish:other", "reader read"]).await;
    let path = "/v1/modules/acme/small/aws/1.0.0";

    let message = refused(
        app.call(publish_request(path, None, small_module())).await,
        401,
    );
    assert_eq!(
        message,
        "publishing needs a token: send `Authorization: Bearer <token>`"
    );

    let message = app
        .publish_refused(path, "qry_0123456789abcdef_nope", small_module(), 401)
        .await;
    assert_eq!(message, "the token is not valid");

    for (token, name) in [(&other, "other-team"), (&reader, "reader")] {
        let message = app.publish_refused(path, token, small_module(), 403).await;
        assert_eq!(
            message,
            format!(
                "token `{name}` may not publish in namespace `acme`; it needs the scope `publish:acme`, `publish:*` or `admin`"
            )
        );
    }

    app.revoke("other-team").await;
    let message = app
        .publish_refused("/v1/modules/other/x/aws/1.0.0", &other, small_module(), 401)
        .await;
    assert_eq!(message, "the token `other-team` has been revoked");
}

#[actix_web::test]
async fn publish_rejects_wrong_content_type_and_empty_body() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    let request = test::TestRequest::post()
        .uri("/v1/modules/acme/small/aws/1.0.0")
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("content-type", "application/json"))
        .set_payload("{}");
    let message = refused(app.call(request).await, 415);
    assert!(
        message.starts_with("content type `application/json` is not accepted"),
        "{message}"
    );

    let message = app
        .publish_refused("/v1/modules/acme/small/aws/1.0.0", &token, Vec::new(), 400)
        .await;
    assert!(message.starts_with("the body is empty"), "{message}");
}

#[actix_web::test]
async fn publish_accepts_links_that_stay_inside_the_module() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    let archive = gzip(&raw_tar(&[
        ("main.tf", Regular, MAIN_TF, None),
        ("modules/a/main.tf", Regular, b"", None),
        ("modules/b", Symlink, b"", Some("a")),
        ("copy.tf", Link, b"", Some("main.tf")),
    ]));
    app.published("/v1/modules/acme/links/aws/1.0.0", &token, archive)
        .await;
}
