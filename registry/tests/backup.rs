//! `quarry backup`: a snapshot of the embedded default taken while it serves, restored by
//! starting a registry on it. On PostgreSQL it is refused, naming pg_dump.

mod common;

use common::*;
use quarry_registry::config::Config;
use quarry_registry::service::Registry;

/// Publishes `acme/net/aws` at `version` with an archive of its own.
async fn publish_distinct(app: &TestApp, token: &str, version: &str) {
    let main = format!("output \"version\" {{\n  value = \"{version}\"\n}}\n");
    let archive = quarry_core::test_support::files_tar_gz(&[("main.tf", main.as_bytes())]);
    app.published(
        &format!("/v1/modules/acme/net/aws/{version}"),
        token,
        archive,
    )
    .await;
}

#[actix_web::test]
async fn a_backup_restores_what_was_published_before_it_and_nothing_after() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    for version in ["1.0.0", "1.1.0"] {
        publish_distinct(&app, &token, version).await;
    }
    let target = tempfile::tempdir().expect("temp dir");
    let backup_dir = target.path().join("backup");
    let quarry = &app.quarry;
    let result = quarry.registry.backup(&backup_dir, quarry.dir.path()).await;
    if std::env::var("QUARRY_TEST_DATABASE_URL").is_ok() {
        let error = result
            .expect_err("PostgreSQL is not backed up here")
            .to_string();
        assert!(error.contains("pg_dump"), "{error}");
        return;
    }
    let report = result.expect("backup");
    assert_eq!(report.archives, 2);
    // Published after the snapshot: not in it.
    publish_distinct(&app, &token, "1.2.0").await;
    // And the backup directory takes no second backup.
    let again = quarry.registry.backup(&backup_dir, quarry.dir.path()).await;
    assert!(
        again.is_err_and(|error| error.to_string().contains("is not empty")),
        "a second backup into the same directory"
    );

    let mut config = Config::for_data_dir(&backup_dir);
    config.sandbox_program = std::path::PathBuf::from(env!("CARGO_BIN_EXE_quarry"));
    let restored = TestRegistry {
        registry: Registry::start(&config)
            .await
            .expect("starts on the backup"),
        config,
        dir: std::sync::Arc::new(target),
    };
    let restored = restored.app().await;
    let versions = restored.get_ok("/v1/modules/acme/net/aws/versions").await;
    assert_eq!(
        quarry_core::test_support::texts(&versions["modules"][0]["versions"], "version"),
        ["1.0.0", "1.1.0"]
    );
    for version in ["1.0.0", "1.1.0"] {
        let original = app
            .get_ok(&format!("/v1/modules/acme/net/aws/{version}"))
            .await;
        let digest = original["archive"]["sha256"].as_str().expect("digest");
        let archive = restored
            .answer(get(&format!("/v1/archives/{digest}.tar.gz"), None))
            .await;
        assert_eq!(archive.status, 200, "{version}");
        assert_eq!(
            quarry_core::digest::Sha256::of(&archive.body).to_hex(),
            digest,
            "{version}'s archive is restored whole"
        );
    }
}
