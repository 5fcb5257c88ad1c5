//! The harness for the registry's integration tests: a real registry on a temporary data
//! directory with SQLite, or on a fresh PostgreSQL database when `QUARRY_TEST_DATABASE_URL` is set.

#![allow(dead_code)]

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use quarry_registry::config::{Config, ReadAccess};
use quarry_registry::service::{Registry, tokens};
use sea_orm::{ConnectionTrait, Database};
use std::path::{Path, PathBuf};

pub struct TestRegistry {
    pub registry: Registry,
    pub config: Config,
    pub dir: tempfile::TempDir,
}

/// A database URL for one test: SQLite in `dir`, or a new database on the PostgreSQL server named
/// by `QUARRY_TEST_DATABASE_URL`.
pub async fn database_url(dir: &Path) -> String {
    let Ok(server) = std::env::var("QUARRY_TEST_DATABASE_URL") else {
        return format!("sqlite://{}", dir.join("quarry.db").display());
    };
    let name = format!("quarry_test_{}", rand_suffix());
    let admin = Database::connect(&server)
        .await
        .expect("QUARRY_TEST_DATABASE_URL must point at a reachable PostgreSQL server");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    let (base, query) = server.split_once('?').unwrap_or((&server, ""));
    let (prefix, _) = base.rsplit_once('/').expect("a postgres URL has a path");
    if query.is_empty() {
        format!("{prefix}/{name}")
    } else {
        format!("{prefix}/{name}?{query}")
    }
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    format!("{}_{nanos}", std::process::id())
}

pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestRegistry {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_data_dir(dir.path());
    config.database_url = database_url(dir.path()).await;
    // Checks and renders run in worker processes of the real binary.
    config.sandbox_program = PathBuf::from(env!("CARGO_BIN_EXE_quarry"));
    adjust(&mut config);
    let registry = Registry::start(&config).await.expect("registry starts");
    TestRegistry {
        registry,
        config,
        dir,
    }
}

pub async fn start() -> TestRegistry {
    start_with(|_| {}).await
}

pub async fn start_token_reads() -> TestRegistry {
    start_with(|config| config.serve.read_access = ReadAccess::Token).await
}

impl TestRegistry {
    pub async fn token(&self, name: &str, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|scope| (*scope).to_owned()).collect();
        tokens::create(
            &self.registry.db,
            name,
            &scopes,
            None,
            &quarry_registry::service::audit::Actor::console(),
        )
        .await
        .expect("token created")
        .secret
    }

    /// Another replica on the same database and storage, with caches of its own.
    pub async fn replica(&self) -> Registry {
        Registry::start(&self.config).await.expect("replica starts")
    }

    pub async fn service(
        &self,
    ) -> impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    > {
        test::init_service(quarry_registry::app(self.registry.clone())).await
    }
}

/// The repository's `tests/fixtures/modules/<name>` directory.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/modules")
        .join(name)
}

pub fn packed_fixture(name: &str) -> Vec<u8> {
    quarry_core::archive::pack_dir(&fixture(name)).expect("fixture packs")
}

/// A minimal valid module archive.
pub fn small_module() -> Vec<u8> {
    quarry_core::test_support::tar_gz(&[
        (
            "main.tf",
            tar::EntryType::Regular,
            b"variable \"name\" {\n  type = string\n}\n\noutput \"name\" {\n  value = var.name\n}\n",
            None,
        ),
        ("README.md", tar::EntryType::Regular, b"# small\n\nA small module.\n", None),
    ])
}

pub fn publish_request(path: &str, token: Option<&str>, body: Vec<u8>) -> test::TestRequest {
    let mut request = test::TestRequest::post()
        .uri(path)
        .insert_header(("content-type", "application/gzip"))
        .set_payload(body);
    if let Some(token) = token {
        request = request.insert_header(("authorization", format!("Bearer {token}")));
    }
    request
}

pub fn get(path: &str, token: Option<&str>) -> test::TestRequest {
    let mut request = test::TestRequest::get().uri(path);
    if let Some(token) = token {
        request = request.insert_header(("authorization", format!("Bearer {token}")));
    }
    request
}

/// Calls the service and returns the status with the body as JSON (`Null` when it is not JSON).
pub async fn call_json<S, B>(service: &S, request: test::TestRequest) -> (u16, serde_json::Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(service, request.to_request()).await;
    let status = response.status().as_u16();
    let body = test::read_body(response).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// The single error message of an error response.
pub fn error_message(body: &serde_json::Value) -> String {
    body["errors"][0].as_str().unwrap_or_default().to_owned()
}

/// A response header as text, or "" when absent.
pub fn header(headers: &actix_web::http::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[allow(unused_imports)]
pub use quarry_core::test_support::pack_blueprint;

/// What is stored, as clients and the disk see it: every listing, and every file under the data
/// directory's `objects/` with its digest. Equal snapshots mean nothing stored changed.
pub async fn stored<S, B>(quarry: &TestRegistry, service: &S) -> serde_json::Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut snapshot = serde_json::Map::new();
    for path in ["/v1/modules?limit=100", "/v1/blueprints?limit=100"] {
        let (status, body) = call_json(service, get(path, None)).await;
        assert_eq!(status, 200, "{path}: {body}");
        snapshot.insert(path.to_owned(), body);
    }
    let mut files = std::collections::BTreeMap::new();
    let objects = quarry.dir.path().join("objects");
    let mut stack = vec![objects.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("stored file reads");
                let name = path
                    .strip_prefix(&objects)
                    .expect("under objects")
                    .display()
                    .to_string();
                files.insert(name, quarry_core::digest::Sha256::of(&bytes).to_hex());
            }
        }
    }
    snapshot.insert("objects".into(), serde_json::json!(files));
    serde_json::Value::Object(snapshot)
}

/// A JSON POST with the registry host set.
pub fn post_json(path: &str, body: serde_json::Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri(path)
        .insert_header(("content-type", "application/json"))
        .insert_header(("host", "registry.test"))
        .set_payload(body.to_string())
}
