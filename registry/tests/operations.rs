//! What an operator watches: `/metrics` counts requests by route and status, publishes and
//! refusals by reason, cache hits and the pool; `/healthz` says the process is alive and
//! `/readyz` whether its stores answer; every answer carries a request id.

mod common;

use common::*;

/// The value of the sample `name{labels}` in a metrics page, or `None`.
fn sample(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
}

async fn metrics_page(app: &TestApp) -> String {
    let answer = app.answer(get("/metrics", None)).await;
    assert_eq!(answer.status, 200);
    assert!(
        header(&answer.headers, "content-type").starts_with("application/openmetrics-text"),
        "{:?}",
        answer.headers
    );
    String::from_utf8(answer.body.to_vec()).expect("utf-8")
}

#[actix_web::test]
async fn metrics_count_requests_publishes_refusals_and_cache_use() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    app.published("/v1/modules/acme/net/aws/1.0.0", &token, small_module())
        .await;
    let refused = app
        .publish_refused(
            "/v1/modules/acme/net/aws/1.0.0",
            &token,
            small_module(),
            409,
        )
        .await;
    assert!(refused.contains("already published"), "{refused}");
    for _ in 0..3 {
        let _ = app.get_ok("/v1/modules/acme/net/aws/versions").await;
    }
    let _ = app
        .answer(get("/v1/modules/acme/nothing/aws/versions", None))
        .await;
    let page = metrics_page(&app).await;

    let versions = r#"route="/v1/modules/{namespace}/{name}/{system}/versions""#;
    assert_eq!(
        sample(
            &page,
            &format!("quarry_http_requests_total{{{versions},method=\"GET\",status=\"200\"}}")
        ),
        Some(3.0),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            &format!("quarry_http_requests_total{{{versions},method=\"GET\",status=\"404\"}}")
        ),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            &format!("quarry_http_request_duration_seconds_count{{{versions}}}")
        ),
        Some(4.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, r#"quarry_publishes_total{kind="module"}"#),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            r#"quarry_publish_rejections_total{kind="module",reason="version_exists"}"#
        ),
        Some(1.0),
        "{page}"
    );
    // The first `versions` read missed the cache, the next two were answered from it.
    let hits = sample(&page, r#"quarry_cache_hits_total{cache="versions"}"#).unwrap_or(0.0);
    let misses = sample(&page, r#"quarry_cache_misses_total{cache="versions"}"#).unwrap_or(0.0);
    assert!(
        hits >= 2.0 && misses >= 1.0,
        "hits {hits}, misses {misses}:\n{page}"
    );
    assert!(
        page.contains(&format!(
            "quarry_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{page}"
    );
    assert!(
        sample(&page, r#"quarry_database_connections{state="idle"}"#).is_some(),
        "{page}"
    );
    assert_eq!(sample(&page, "quarry_storage_errors_total"), Some(0.0));
    // The path's own values never become labels: only route patterns do.
    assert!(!page.contains("acme/nothing"), "{page}");
}

#[actix_web::test]
async fn liveness_ignores_the_stores_and_readiness_names_the_one_that_fails() {
    let app = start().await.app().await;
    assert_eq!(app.get_ok("/readyz").await["status"], "ok");
    app.quarry
        .registry
        .db
        .close_by_ref()
        .await
        .expect("close the pool");
    let ready = app.answer(get("/readyz", None)).await;
    assert_eq!(ready.status, 503);
    assert_eq!(error_message(&ready.json), "database unavailable");
    let alive = app.answer(get("/healthz", None)).await;
    assert_eq!(alive.status, 200, "the process still serves");
}

#[actix_web::test]
async fn every_answer_carries_a_request_id() {
    let app = start().await.app().await;
    let mut ids = Vec::new();
    for path in ["/healthz", "/v1/modules", "/no/such/endpoint"] {
        let answer = app.answer(get(path, None)).await;
        let id = header(&answer.headers, "x-request-id");
        assert!(
            id.len() == 16 && id.bytes().all(|byte| byte.is_ascii_hexdigit()),
            "{path}: {id:?}"
        );
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "ids are distinct: {ids:?}");
}

/// Starts a registry on `database_url` (a temporary data directory otherwise): the error.
async fn start_error(database_url: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = quarry_registry::config::Config::for_data_dir(dir.path());
    config.database_url = database_url.to_owned();
    quarry_registry::service::Registry::start(&config)
        .await
        .expect_err("must not start")
        .to_string()
}

#[actix_web::test]
async fn a_database_that_refuses_or_rejects_us_fails_fast_and_says_why() {
    let started = std::time::Instant::now();
    let refused = start_error("postgres://quarry:s3cret-pw@127.0.0.1:1/quarry").await;
    assert!(
        refused.contains("Connection refused") && !refused.contains("s3cret-pw"),
        "{refused}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    if let Ok(server) = std::env::var("QUARRY_TEST_DATABASE_URL") {
        // The real server, as a role it does not have.
        let (_, rest) = server.split_once("://").expect("a URL");
        let (_, host) = rest.split_once('@').expect("a user");
        let rejected = start_error(&format!("postgres://no_such_role:pw@{host}")).await;
        assert!(
            rejected.contains("no_such_role") && !rejected.contains(":pw@"),
            "{rejected}"
        );
    }
}
