//! Upgrading a database keeps every row: a registry written before modules and blueprints shared
//! their tables comes up with the same modules, blueprints, versions, flags and download counts.
//! Runs on SQLite, and on PostgreSQL with `QUARRY_TEST_DATABASE_URL`.

mod common;

use common::*;
use quarry_registry::config::Config;
use quarry_registry::db::migration::Migrator;
use quarry_registry::service::Registry;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use sea_orm_migration::MigratorTrait;
use serde_json::json;

/// The migrations before artifacts were unified.
const BEFORE_UNIFYING: u32 = 4;

/// Runs `text` with `values`, its `?` placeholders written as the backend wants them.
async fn execute(db: &impl ConnectionTrait, text: &str, values: Vec<sea_orm::Value>) {
    let backend = db.get_database_backend();
    let mut sql = String::new();
    let mut index = 0;
    for character in text.chars() {
        if character == '?' && backend == DatabaseBackend::Postgres {
            index += 1;
            sql.push_str(&format!("${index}"));
        } else {
            sql.push(character);
        }
    }
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap_or_else(|error| panic!("{text}: {error}"));
}

#[actix_web::test]
async fn rows_written_before_the_artifact_tables_survive_the_upgrade() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path()).await;
    let db = quarry_registry::db::connect(&url).await.expect("connects");
    Migrator::up(&db, Some(BEFORE_UNIFYING))
        .await
        .expect("the older migrations apply");

    let files = quarry_core::archive::inspect_module(
        &packed_fixture("greeting"),
        &quarry_core::archive::Limits::default(),
    )
    .expect("fixture reads")
    .files;
    let analysis = serde_json::to_value(quarry_core::module::analyze(&files).expect("analyses"))
        .expect("serialises");
    let blueprint_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/blueprints/minimal");
    let blueprint = quarry_core::blueprint::check(
        quarry_core::blueprint::load_dir(&blueprint_dir).expect("reads"),
    )
    .expect("checks");
    let manifest = json!({ "manifest": blueprint.manifest, "readme": "# Minimal\n" });
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .expect("a time")
        .with_timezone(&chrono::Utc);
    let digest = "ab".repeat(32);

    execute(
        &db,
        "INSERT INTO modules (namespace, name, system, description, created_at) VALUES (?, ?, ?, ?, ?)",
        vec!["old".into(), "net".into(), "aws".into(), "An old network.".into(), at.into()],
    )
    .await;
    for (version, deprecated, yanked, downloads) in [
        ("1.0.0", false, false, 7_i64),
        ("1.1.0", true, false, 5),
        ("1.2.0", false, true, 3),
    ] {
        execute(
            &db,
            "INSERT INTO module_versions (module_id, version, precedence, archive_sha256, archive_size, analysis, published_by, published_at, deprecated, yanked, downloads) VALUES (1, ?, ?, ?, 100, ?, 'ci', ?, ?, ?, ?)",
            vec![
                version.into(),
                version.into(),
                digest.clone().into(),
                analysis.clone().into(),
                at.into(),
                deprecated.into(),
                yanked.into(),
                downloads.into(),
            ],
        )
        .await;
    }
    execute(
        &db,
        "INSERT INTO blueprints (namespace, name, description, created_at) VALUES ('fixtures', 'minimal', 'An old blueprint.', ?)",
        vec![at.into()],
    )
    .await;
    execute(
        &db,
        "INSERT INTO blueprint_versions (blueprint_id, version, precedence, archive_sha256, archive_size, manifest, published_by, published_at, yanked, downloads) VALUES (1, '0.1.0', '0.1.0', ?, 200, ?, 'ci', ?, false, 2)",
        vec![digest.clone().into(), manifest.into(), at.into()],
    )
    .await;
    drop(db);

    let mut config = Config::for_data_dir(dir.path());
    config.database_url = url;
    config.storage_url = storage_url();
    config.sandbox_program = std::path::PathBuf::from(env!("CARGO_BIN_EXE_quarry"));
    let registry = Registry::start(&config).await.expect("upgrades and starts");
    let quarry = TestRegistry {
        registry,
        config,
        dir: std::sync::Arc::new(dir),
    };
    let app = quarry.app().await;

    let listing = app.get_ok("/v1/modules").await;
    let module = &listing["modules"][0];
    assert_eq!(
        module["id"], "old/net/aws/1.1.0",
        "the yanked 1.2.0 stands for nothing"
    );
    assert_eq!(module["description"], "An old network.");
    assert_eq!(module["downloads"], 12, "downloads of the versions listed");
    let (_, versions) = app.get("/v1/modules/old/net/aws/versions").await;
    assert_eq!(
        versions["modules"][0]["versions"],
        json!([{ "version": "1.0.0" }, { "version": "1.1.0" }])
    );
    let detail = app.get_ok("/v1/modules/old/net/aws/1.1.0").await;
    assert_eq!(detail["deprecated"], true);
    assert_eq!(detail["root"]["inputs"][0]["name"], "name");
    let (_, detail) = app.get("/v1/modules/old/net/aws/1.2.0").await;
    assert_eq!(detail["yanked"], true);

    let blueprint = app.get_ok("/v1/blueprints/fixtures/minimal/0.1.0").await;
    assert_eq!(blueprint["readme"], "# Minimal\n");
    assert_eq!(blueprint["archive"]["sha256"], digest);
    assert_eq!(
        blueprint["inputs"]["required"],
        json!(["name", "environment"])
    );
    // The precedence survived: the same version with build metadata is still refused.
    let quarry_token = quarry_registry::service::tokens::create(
        &sea_orm::Database::connect(&quarry.config.database_url)
            .await
            .expect("connects"),
        "ci",
        &["publish:old".into()],
        None,
        &quarry_registry::service::audit::Actor::console(),
    )
    .await
    .expect("a token")
    .secret;
    let (status, body) = app
        .publish(
            "/v1/modules/old/net/aws/1.0.0%2Bagain",
            &quarry_token,
            small_module(),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}

#[actix_web::test]
async fn a_schema_newer_than_the_binary_is_refused_and_left_alone() {
    let quarry = start().await;
    let db = &quarry.registry.db;
    execute(
        db,
        "INSERT INTO seaql_migrations (version, applied_at) VALUES (?, ?)",
        vec!["m9999_from_a_newer_quarry".into(), 0i64.into()],
    )
    .await;
    let error = Registry::start(&quarry.config)
        .await
        .expect_err("a newer schema is refused")
        .to_string();
    assert!(
        error.contains("the database's schema is newer than this quarry")
            && error.contains("m9999_from_a_newer_quarry"),
        "{error}"
    );
    // Nothing was migrated or dropped: the registry on it still answers.
    let app = quarry.app().await;
    let _ = app.get_ok("/v1/modules").await;
}
