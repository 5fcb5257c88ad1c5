//! The harness for the registry's integration tests: a real registry on a temporary data
//! directory with SQLite and local files, or on a fresh PostgreSQL database when
//! `QUARRY_TEST_DATABASE_URL` is set, and under a fresh prefix of an object store when
//! `QUARRY_TEST_STORAGE_URL` is (e.g. `s3://quarry-test`, with the store's own `AWS_*` or
//! `AZURE_*` settings in the environment).

#![allow(dead_code)]

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use quarry_registry::config::{Config, ReadAccess};
use quarry_registry::service::{Registry, tokens};
use sea_orm::{ConnectionTrait, Database};
use std::path::{Path, PathBuf};

/// Cheap to clone: an app holds its own clone (the data directory goes when the last one does).
#[derive(Clone)]
pub struct TestRegistry {
    pub registry: Registry,
    pub config: Config,
    pub dir: std::sync::Arc<tempfile::TempDir>,
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

/// A storage URL for one test: none (local files in the data directory), or a new prefix under
/// the object store named by `QUARRY_TEST_STORAGE_URL`.
pub fn storage_url() -> Option<String> {
    let base = std::env::var("QUARRY_TEST_STORAGE_URL").ok()?;
    Some(format!(
        "{}/test-{}",
        base.trim_end_matches('/'),
        rand_suffix()
    ))
}

/// Whether archives are local files under the data directory (tests of files on disk).
pub fn local_storage(quarry: &TestRegistry) -> bool {
    quarry.config.storage_url.is_none()
}

pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestRegistry {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_data_dir(dir.path());
    config.database_url = database_url(dir.path()).await;
    config.storage_url = storage_url();
    // Checks and renders run in worker processes of the real binary.
    config.sandbox_program = PathBuf::from(env!("CARGO_BIN_EXE_quarry"));
    adjust(&mut config);
    let registry = Registry::start(&config).await.expect("registry starts");
    TestRegistry {
        registry,
        config,
        dir: std::sync::Arc::new(dir),
    }
}

pub async fn start() -> TestRegistry {
    start_with(|_| {}).await
}

/// A registry and a token named `ci` with `scopes`.
pub async fn start_with_token(scopes: &[&str]) -> (TestRegistry, String) {
    let quarry = start().await;
    let token = quarry.token("ci", scopes).await;
    (quarry, token)
}

pub async fn start_token_reads() -> TestRegistry {
    start_with(|config| config.serve.read_access = ReadAccess::Token).await
}

/// A registry's app and a token named `ci` with `scopes` (the registry is `app.quarry`).
pub async fn app_with_token(scopes: &[&str]) -> (TestApp, String) {
    let (quarry, token) = start_with_token(scopes).await;
    (quarry.app().await, token)
}

/// A registry's app with the fixture module `name` published at `version`.
pub async fn app_with_fixture(name: &str, version: &str) -> TestApp {
    let (app, token) = app_with_token(&["publish:fixtures"]).await;
    app.publish_fixture(&token, name, version).await;
    app
}

/// A registry's app and a token for each spec, `"name scope scope…"`.
pub async fn tokens<const N: usize>(specs: [&str; N]) -> (TestApp, [String; N]) {
    tokens_on(start().await, specs).await
}

/// [`tokens`] on a registry that needs a token to read.
pub async fn token_reads<const N: usize>(specs: [&str; N]) -> (TestApp, [String; N]) {
    tokens_on(start_token_reads().await, specs).await
}

/// [`tokens`] on `quarry`.
pub async fn tokens_on<const N: usize>(
    quarry: TestRegistry,
    specs: [&str; N],
) -> (TestApp, [String; N]) {
    let mut secrets = Vec::with_capacity(N);
    for spec in specs {
        let mut words = spec.split_whitespace();
        let name = words.next().expect("a token spec names the token");
        let scopes: Vec<&str> = words.collect();
        secrets.push(quarry.token(name, &scopes).await);
    }
    let secrets: [String; N] = secrets.try_into().expect("one secret per token");
    (quarry.app().await, secrets)
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

/// The registry's app as a test calls it: boxed, so a [`TestApp`] can hold it.
pub type TestService = actix_service::boxed::BoxService<
    actix_http::Request,
    ServiceResponse<actix_web::body::BoxBody>,
    actix_web::Error,
>;

/// A registry and its app, and the calls tests make of it: every request answered as status and
/// JSON (`Null` when the body is not JSON), publishing with a token, reading as anyone.
pub struct TestApp {
    pub quarry: TestRegistry,
    pub service: TestService,
}

/// An answer: status, headers and body, and the body as JSON (`Null` when it is not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: bytes::Bytes,
    pub json: serde_json::Value,
}

impl Answer {
    /// A header as text, or "" when absent.
    pub fn header(&self, name: &str) -> String {
        header(&self.headers, name)
    }
}

impl TestRegistry {
    /// The registry's app, ready to call.
    pub async fn app(&self) -> TestApp {
        TestApp::of(self.clone()).await
    }
}

impl TestApp {
    pub async fn of(quarry: TestRegistry) -> Self {
        let service = test::init_service(quarry_registry::app(quarry.registry.clone())).await;
        use actix_service::ServiceExt;
        let service =
            actix_service::boxed::service(service.map(ServiceResponse::map_into_boxed_body));
        Self { quarry, service }
    }

    pub async fn token(&self, name: &str, scopes: &[&str]) -> String {
        self.quarry.token(name, scopes).await
    }

    /// Revokes the token named `name`, as `quarry token revoke` does (in the database), and
    /// follows the change feed, as the serving process does about once a second.
    pub async fn revoke(&self, name: &str) {
        let registry = &self.quarry.registry;
        let mut cursor = registry.change_cursor().await.expect("cursor");
        tokens::revoke(
            &registry.db,
            name,
            &quarry_registry::service::audit::Actor::console(),
        )
        .await
        .expect("the token is revoked");
        registry
            .follow_changes(&mut cursor)
            .await
            .expect("the change feed is read");
    }

    /// Calls the app; the whole answer.
    pub async fn answer(&self, request: test::TestRequest) -> Answer {
        let response = test::call_service(&self.service, request.to_request()).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = test::read_body(response).await;
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        Answer {
            status,
            headers,
            body,
            json,
        }
    }

    /// Calls the app; status and JSON body.
    pub async fn call(&self, request: test::TestRequest) -> (u16, serde_json::Value) {
        let answer = self.answer(request).await;
        (answer.status, answer.json)
    }

    /// `GET path` as anyone.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(get(path, None)).await
    }

    /// `GET` each of `paths` as anyone, each answering `status`: the bodies, in order.
    pub async fn get_each(&self, paths: &[&str], status: u16) -> Vec<serde_json::Value> {
        let mut bodies = Vec::new();
        for path in paths {
            let (actual, body) = self.get(path).await;
            assert_eq!(actual, status, "{path}: {body}");
            bodies.push(body);
        }
        bodies
    }

    /// `GET path` as anyone, which must answer 200: the body.
    pub async fn get_ok(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// `GET path` with `token`.
    pub async fn get_as(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        self.call(get(path, Some(token))).await
    }

    /// Publishes `archive` at `path` with `token`.
    pub async fn publish(
        &self,
        path: &str,
        token: &str,
        archive: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        self.call(publish_request(path, Some(token), archive)).await
    }

    /// Publishes `small_module()` at each version of `acme/<name>/aws`.
    pub async fn publish_versions(&self, token: &str, name: &str, versions: &[&str]) {
        for version in versions {
            let path = format!("/v1/modules/acme/{name}/aws/{version}");
            self.published(&path, token, small_module()).await;
        }
    }

    /// Publishes `archive` at `path`, expecting 201.
    pub async fn published(&self, path: &str, token: &str, archive: Vec<u8>) -> serde_json::Value {
        let (status, body) = self.publish(path, token, archive).await;
        assert_eq!(status, 201, "publishing {path}: {body}");
        body
    }

    /// Publishes `archive` at `path`, expecting it refused with `status`: the error message.
    pub async fn publish_refused(
        &self,
        path: &str,
        token: &str,
        archive: Vec<u8>,
        status: u16,
    ) -> String {
        refused(self.publish(path, token, archive).await, status)
    }

    /// Publishes the fixture module `tests/fixtures/modules/<name>` as
    /// `fixtures/<name>/generic` `version`.
    pub async fn publish_fixture(&self, token: &str, name: &str, version: &str) {
        let path = format!("/v1/modules/fixtures/{name}/generic/{version}");
        self.published(&path, token, packed_fixture(name)).await;
    }

    /// Publishes the fixture blueprint `tests/fixtures/blueprints/<name>` as `fixtures/<name>`
    /// `version`.
    pub async fn publish_fixture_blueprint(&self, token: &str, name: &str, version: &str) {
        let path = format!("/v1/blueprints/fixtures/{name}/{version}");
        self.published(&path, token, packed_fixture_blueprint(name))
            .await;
    }

    /// `POST path` with a JSON body, and `token` when given.
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let mut request = post_json(path, body);
        if let Some(token) = token {
            request = request.insert_header(("authorization", format!("Bearer {token}")));
        }
        self.call(request).await
    }
}

/// The repository's `tests/fixtures/modules/<name>` directory.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/modules")
        .join(name)
}

/// The fixture blueprint `tests/fixtures/blueprints/<name>`, packed.
pub fn packed_fixture_blueprint(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/blueprints")
        .join(name);
    quarry_core::archive::pack_dir(&dir).expect("fixture packs")
}

pub fn packed_fixture(name: &str) -> Vec<u8> {
    quarry_core::archive::pack_dir(&fixture(name)).expect("fixture packs")
}

/// A minimal valid module archive.
pub fn small_module() -> Vec<u8> {
    quarry_core::test_support::files_tar_gz(&[
        (
            "main.tf",
            b"variable \"name\" {\n  type = string\n}\n\noutput \"name\" {\n  value = var.name\n}\n",
        ),
        ("README.md", b"# small\n\nA small module.\n"),
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
pub async fn stored(app: &TestApp) -> serde_json::Value {
    let mut snapshot = serde_json::Map::new();
    for path in ["/v1/modules?limit=100", "/v1/blueprints?limit=100"] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        snapshot.insert(path.to_owned(), body);
    }
    let files = quarry_core::test_support::files_under(&app.quarry.dir.path().join("objects"));
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

/// The error message of an answer that must have `status` (the body is shown when it has not).
pub fn refused((actual, body): (u16, serde_json::Value), status: u16) -> String {
    assert_eq!(actual, status, "{body}");
    error_message(&body)
}

/// A provider release of `name` `version` for linux/amd64 (one zip holding a script), as a
/// publish's body.
pub fn provider_release(name: &str, version: &str) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file(
            format!("terraform-provider-{name}_v{version}"),
            zip::write::SimpleFileOptions::default(),
        )
        .expect("zip entry");
    writer.write_all(b"#!/bin/sh\n").expect("zip write");
    let zip = writer.finish().expect("zip").into_inner();
    let files = std::collections::BTreeMap::from([(
        quarry_core::provider::zip_name(name, version, "linux", "amd64"),
        zip,
    )]);
    quarry_core::archive::pack_files(&files).expect("pack")
}
