//! Deprecate, yank and their undoing, the same for every kind: each needs the publish scope,
//! each is audited, an undo restores what its mark changed. And the places modules and blueprints
//! used to differ: a yank's body is read under the size limit, a publish's `Location` carries the
//! public URL, the signing key file is private even when it existed before.

mod common;

use common::*;
use serde_json::{Value, json};

const MODULE: &str = "/v1/modules/acme/net/aws";
const BLUEPRINT: &str = "/v1/blueprints/fixtures/minimal";

/// Posts a mark (`deprecate`, `yank`, …) at `path`, expecting 200 with `flag` now `expected`.
async fn marked(app: &TestApp, path: &str, token: &str, body: Value, flag: &str, expected: bool) {
    let (status, answer) = app.post(path, Some(token), body).await;
    assert_eq!(
        (status, answer[flag].clone()),
        (200, json!(expected)),
        "{path}: {answer}"
    );
}

async fn visible(app: &TestApp, base: &str) -> Vec<String> {
    let (_, body) = app.get(&format!("{base}/versions")).await;
    let list = body["modules"][0]["versions"]
        .as_array()
        .or_else(|| body["blueprints"][0]["versions"].as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .map(|entry| entry["version"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[actix_web::test]
async fn unyank_and_undeprecate_undo_their_marks_for_every_kind() {
    let (quarry, token) = start_with_token(&["publish:*"]).await;
    let admin = quarry.token("root", &["admin"]).await;
    let reader = quarry.token("reader", &["read"]).await;
    let app = quarry.app().await;
    app.published(&format!("{MODULE}/1.0.0"), &token, small_module())
        .await;
    app.published(&format!("{MODULE}/1.1.0"), &token, small_module())
        .await;
    app.publish_fixture(&token, "greeting", "1.0.0").await;
    app.publish_fixture_blueprint(&token, "minimal", "0.1.0")
        .await;
    app.publish_fixture_blueprint(&token, "minimal", "0.2.0")
        .await;

    for (base, old, new) in [(MODULE, "1.0.0", "1.1.0"), (BLUEPRINT, "0.1.0", "0.2.0")] {
        let path = |verb: &str| format!("{base}/{old}/{verb}");
        // Only a token that may publish in the namespace may mark.
        let message = refused(
            app.post(&path("unyank"), Some(&reader), json!({})).await,
            403,
        );
        assert!(message.contains("may not publish"), "{message}");

        marked(
            &app,
            &path("yank"),
            &token,
            json!({ "reason": "broken" }),
            "yanked",
            true,
        )
        .await;
        assert_eq!(visible(&app, base).await, [new]);
        marked(&app, &path("unyank"), &token, json!({}), "yanked", false).await;
        assert_eq!(visible(&app, base).await, [old, new]);

        let (status, body) = app
            .post(
                &path("deprecate"),
                Some(&token),
                json!({ "reason": "old", "replacement": new }),
            )
            .await;
        assert_eq!(
            (status, body["deprecated"].clone()),
            (200, json!(true)),
            "{body}"
        );
        let (_, detail) = app.get(&format!("{base}/{old}")).await;
        assert_eq!(
            detail["deprecation"],
            json!({ "reason": "old", "replacement": new })
        );
        marked(
            &app,
            &path("undeprecate"),
            &token,
            json!({}),
            "deprecated",
            false,
        )
        .await;
        let (_, detail) = app.get(&format!("{base}/{old}")).await;
        assert_eq!(detail["deprecated"], false);
        assert!(detail.get("deprecation").is_none(), "{detail}");

        // A version that does not exist.
        let message = refused(
            app.post(&format!("{base}/9.9.9/unyank"), Some(&token), json!({}))
                .await,
            404,
        );
        assert!(message.ends_with("has no version 9.9.9"), "{message}");
    }

    let (_, audit) = app.get_as("/v1/audit?limit=100", &admin).await;
    let actions: Vec<&str> = audit["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|event| event["action"].as_str())
        .collect();
    for kind in ["module", "blueprint"] {
        for verb in ["yank", "unyank", "deprecate", "undeprecate"] {
            let action = format!("{kind}.{verb}");
            assert!(
                actions.contains(&action.as_str()),
                "{action} in {actions:?}"
            );
        }
    }
}

#[actix_web::test]
async fn a_blueprint_yank_body_is_read_under_the_size_limit() {
    let (app, token) = app_with_token(&["publish:fixtures"]).await;
    app.publish_fixture_blueprint(&token, "minimal", "0.1.0")
        .await;
    let reason = "x".repeat(100 * 1024);
    let message = refused(
        app.post(
            &format!("{BLUEPRINT}/0.1.0/yank"),
            Some(&token),
            json!({ "reason": reason }),
        )
        .await,
        413,
    );
    assert_eq!(message, "the body is larger than the limit of 65536 bytes");
    assert_eq!(
        visible(&app, BLUEPRINT).await,
        ["0.1.0"],
        "nothing was yanked"
    );
}

#[actix_web::test]
async fn a_publish_location_carries_the_public_url_for_every_kind() {
    let quarry = start_with(|config| {
        config.serve.public_url = Some("https://registry.example.com".into());
    })
    .await;
    let token = quarry.token("ci", &["publish:*"]).await;
    let app = quarry.app().await;
    for (path, archive) in [
        (format!("{MODULE}/1.0.0"), small_module()),
        (
            format!("{BLUEPRINT}/0.1.0"),
            quarry_core::archive::pack_dir(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../tests/fixtures/blueprints/minimal"),
            )
            .expect("packs"),
        ),
    ] {
        let answer = app
            .answer(publish_request(&path, Some(&token), archive))
            .await;
        assert_eq!(answer.status, 201, "{}", answer.json);
        assert_eq!(
            answer.header("location"),
            format!("https://registry.example.com{path}")
        );
    }
}

#[cfg(unix)]
#[actix_web::test]
async fn a_signing_key_left_readable_is_made_private_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let quarry = start().await;
    let key = quarry.dir.path().join("signing.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let before = std::fs::read(&key).expect("reads");
    quarry.replica().await;
    let mode = std::fs::metadata(&key).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        std::fs::read(&key).expect("reads"),
        before,
        "the key is kept"
    );
}

#[actix_web::test]
async fn a_module_is_described_by_its_module_yaml_else_its_readmes_first_paragraph() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    let readme = b"# net\n\nA network for one\nteam, wrapped at twenty.\n\nMore prose.\n";
    let archive = quarry_core::test_support::files_tar_gz(&[
        ("main.tf", b"variable \"x\" {}\n"),
        ("README.md", readme),
    ]);
    app.published(&format!("{MODULE}/1.0.0"), &token, archive.clone())
        .await;
    let (_, detail) = app.get(&format!("{MODULE}/1.0.0")).await;
    assert_eq!(
        detail["description"],
        "A network for one team, wrapped at twenty."
    );
    app.published(
        &format!("{MODULE}/1.1.0?description=From%20module.yaml"),
        &token,
        archive,
    )
    .await;
    let (_, detail) = app.get(MODULE).await;
    assert_eq!(detail["description"], "From module.yaml");

    // The importer passes module.yaml's description.
    let dir = tempfile::tempdir().expect("temp dir");
    let module = dir.path().join("vpc");
    std::fs::create_dir(&module).expect("mkdir");
    std::fs::write(module.join("main.tf"), "variable \"x\" {}\n").expect("write");
    std::fs::write(module.join("README.md"), "# vpc\n\nThe README's words.\n").expect("write");
    std::fs::write(
        module.join("module.yaml"),
        "namespace: acme\nname: vpc\nsystem: aws\nversion: 1.0.0\ndescription: The manifest's words.\n",
    )
    .expect("write");
    app.quarry
        .registry
        .import_dir(dir.path())
        .await
        .expect("imports");
    let (_, detail) = app.get("/v1/modules/acme/vpc/aws").await;
    assert_eq!(detail["description"], "The manifest's words.");
}
