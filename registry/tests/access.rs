//! Access control and its record: scopes on publish/deprecate/yank, revoked and expired tokens,
//! the audit log, the write rate limit, and garbage collection of orphaned archives.

mod common;

use actix_web::test;
use common::*;
use quarry_registry::service::audit::Actor;
use quarry_registry::service::tokens;
use serde_json::{Value, json};

fn post(path: &str, token: &str, body: Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri(path)
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_string())
}

/// Posts to `acme/net/aws`'s `version_verb` (`1.0.0/yank`) with `token`, giving `reason`
/// unless it is empty: the answer.
async fn mark(app: &TestApp, token: &str, version_verb: &str, reason: &str) -> (u16, Value) {
    let path = format!("/v1/modules/acme/net/aws/{version_verb}");
    let body = if reason.is_empty() {
        json!({})
    } else {
        json!({ "reason": reason })
    };
    app.call(post(&path, token, body)).await
}

#[actix_web::test]
async fn a_namespace_scope_cannot_publish_deprecate_or_yank_elsewhere() {
    let (app, [team_b, team_a]) = tokens(["team-b publish:b", "team-a publish:a"]).await;
    app.published("/v1/modules/b/net/aws/1.0.0", &team_b, small_module())
        .await;

    let message = app
        .publish_refused("/v1/modules/b/net/aws/1.1.0", &team_a, small_module(), 403)
        .await;
    assert!(
        message.contains("may not publish in namespace `b`"),
        "{message}"
    );
    for action in ["deprecate", "yank"] {
        let (status, body) = app
            .call(post(
                &format!("/v1/modules/b/net/aws/1.0.0/{action}"),
                &team_a,
                json!({}),
            ))
            .await;
        assert_eq!(status, 403, "{action}: {body}");
        assert!(error_message(&body).contains("`publish:b`"), "{body}");
    }
    let (_, detail) = app.get("/v1/modules/b/net/aws/1.0.0").await;
    assert_eq!(
        (detail["deprecated"].clone(), detail["yanked"].clone()),
        (json!(false), json!(false)),
        "nothing changed"
    );
}

#[actix_web::test]
async fn deprecate_flags_and_yank_hides_but_keeps_the_archive() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    app.publish_versions(&token, "net", &["1.0.0", "1.1.0"])
        .await;
    let (status, body) = mark(&app, &token, "1.0.0/deprecate", "use 1.1").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({ "id": "acme/net/aws/1.0.0", "deprecated": true })
        )
    );
    let (_, detail) = app.get("/v1/modules/acme/net/aws/1.0.0").await;
    assert_eq!(detail["deprecated"], true);

    let (status, _) = mark(&app, &token, "1.1.0/yank", "").await;
    assert_eq!(status, 200);
    let (_, versions) = app.get("/v1/modules/acme/net/aws/versions").await;
    assert_eq!(
        versions["modules"][0]["versions"],
        json!([{ "version": "1.0.0" }]),
        "yanked is gone from versions"
    );
    let response = app
        .answer(get("/v1/modules/acme/net/aws/1.1.0/download", None))
        .await;
    assert_eq!(
        response.status, 204,
        "a yanked version stays downloadable by its exact number"
    );

    let message = refused(mark(&app, &token, "9.0.0/yank", "").await, 404);
    assert_eq!(message, "acme/net/aws has no version 9.0.0");
    let request = test::TestRequest::post()
        .uri("/v1/modules/acme/net/aws/1.0.0/yank")
        .insert_header(("authorization", format!("Bearer {token}")))
        .set_payload("not json");
    let (status, _) = app.call(request).await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn revoked_and_expired_tokens_are_refused_at_once() {
    let (app, [token]) = tokens(["soon-revoked publish:acme"]).await;
    app.published("/v1/modules/acme/net/aws/1.0.0", &token, small_module())
        .await;
    app.revoke("soon-revoked").await;
    let message = app
        .publish_refused(
            "/v1/modules/acme/net/aws/1.0.1",
            &token,
            small_module(),
            401,
        )
        .await;
    assert_eq!(message, "the token `soon-revoked` has been revoked");

    let expired = tokens::create(
        &app.quarry.registry.db,
        "expired",
        &["publish:acme".to_owned()],
        Some(chrono::Duration::seconds(-1)),
        &Actor::console(),
    )
    .await
    .expect("created")
    .secret;
    let message = app
        .publish_refused(
            "/v1/modules/acme/net/aws/1.0.2",
            &expired,
            small_module(),
            401,
        )
        .await;
    assert!(
        message.starts_with("the token `expired` expired at "),
        "{message}"
    );
    let fresh = tokens::create(
        &app.quarry.registry.db,
        "fresh",
        &["publish:acme".to_owned()],
        Some(chrono::Duration::hours(1)),
        &Actor::console(),
    )
    .await
    .expect("created")
    .secret;
    app.published("/v1/modules/acme/net/aws/1.0.3", &fresh, small_module())
        .await;
}

/// A token checked once is not read from the database again until its entry lapses, so a
/// revocation reaches a serving process through the change feed: every replica that follows it
/// refuses the token from then on, and an expiry is checked on every use.
#[actix_web::test]
async fn a_verified_token_is_refused_on_every_replica_once_its_revocation_is_followed() {
    let (app, [publisher, reader]) = token_reads(["ci publish:acme", "reader read"]).await;
    app.published("/v1/modules/acme/net/aws/1.0.0", &publisher, small_module())
        .await;
    let versions = "/v1/modules/acme/net/aws/versions";
    let replica = TestApp::of(TestRegistry {
        registry: app.quarry.replica().await,
        ..app.quarry.clone()
    })
    .await;
    for registry in [&app, &replica] {
        assert_eq!(registry.get_as(versions, &reader).await.0, 200);
    }

    // Revoked in the database (as `quarry token revoke` does from its own process): each
    // replica still trusts what it verified, until it reads the change feed.
    let feed = |app: &TestApp| {
        let registry = app.quarry.registry.clone();
        async move {
            let cursor = registry.change_cursor().await.expect("cursor");
            (registry, cursor)
        }
    };
    let (mut first, mut second) = (feed(&app).await, feed(&replica).await);
    tokens::revoke(&app.quarry.registry.db, "reader", &Actor::console())
        .await
        .expect("revoked");
    for registry in [&app, &replica] {
        assert_eq!(
            registry.get_as(versions, &reader).await.0,
            200,
            "verified a moment ago: no database read"
        );
    }
    for (registry, cursor) in [&mut first, &mut second] {
        registry.follow_changes(cursor).await.expect("follows");
    }
    for registry in [&app, &replica] {
        let message = refused(registry.get_as(versions, &reader).await, 401);
        assert_eq!(message, "the token `reader` has been revoked");
    }

    let lifetime = chrono::Duration::milliseconds(1500);
    let brief = tokens::create(
        &app.quarry.registry.db,
        "brief",
        &["read".to_owned()],
        Some(lifetime),
        &Actor::console(),
    )
    .await
    .expect("created")
    .secret;
    assert_eq!(app.get_as(versions, &brief).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let message = refused(app.get_as(versions, &brief).await, 401);
    assert!(
        message.starts_with("the token `brief` expired at "),
        "{message}"
    );
}

#[actix_web::test]
async fn every_change_is_in_the_audit_log_for_admins() {
    let (app, [admin, publisher, reader]) =
        tokens(["root admin", "ci publish:acme", "reader read"]).await;
    app.published("/v1/modules/acme/net/aws/1.0.0", &publisher, small_module())
        .await;
    let (status, _) = mark(&app, &publisher, "1.0.0/deprecate", "old").await;
    assert_eq!(status, 200);
    let (status, _) = mark(&app, &publisher, "1.0.0/yank", "").await;
    assert_eq!(status, 200);
    let message = refused(app.get_as("/v1/audit", &reader).await, 403);
    assert!(message.contains("needs the `admin` scope"), "{message}");
    app.revoke("reader").await;

    let (status, body) = app.get_as("/v1/audit?limit=100", &admin).await;
    assert_eq!(status, 200, "{body}");
    let events = body["events"].as_array().expect("events").clone();
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "token.revoke",
            "module.yank",
            "module.deprecate",
            "module.publish",
            "token.create",
            "token.create",
            "token.create"
        ],
        "newest first"
    );
    let publish = &events[3];
    assert_eq!(publish["actor"], "ci");
    assert_eq!(publish["target"], "acme/net/aws/1.0.0");
    assert!(
        publish["details"]["sha256"]
            .as_str()
            .is_some_and(|s| s.len() == 64)
    );
    assert!(
        publish["source"].as_str().is_some_and(|s| !s.is_empty()),
        "where from: {publish}"
    );
    assert!(publish["at"].as_str().is_some(), "when");
    assert_eq!(events[2]["details"]["reason"], "old");
    assert_eq!(events[0]["actor"], "cli");

    for (query, expected) in [
        ("action=module.publish", 1),
        ("actor=ci", 3),
        ("target=acme/", 3),
        ("since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z", 0),
    ] {
        let (status, body) = app.get_as(&format!("/v1/audit?{query}"), &admin).await;
        assert_eq!(status, 200);
        assert_eq!(
            body["events"].as_array().map(Vec::len),
            Some(expected),
            "{query}"
        );
    }
    let message = refused(app.get_as("/v1/audit?since=yesterday", &admin).await, 400);
    assert!(
        message.contains("`since` must be an RFC 3339 time"),
        "{message}"
    );
    let (status, _) = app.get_as("/v1/audit", &publisher).await;
    assert_eq!(status, 403);
    let (status, _) = app.get("/v1/audit").await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn writes_beyond_the_rate_limit_get_429_with_retry_after() {
    let (app, [token]) = tokens_on(
        start_with(|config| config.serve.writes_per_minute_per_token = 2).await,
        ["ci publish:acme"],
    )
    .await;
    app.publish_versions(&token, "net", &["1.0.0", "1.0.1"])
        .await;
    let response = app
        .answer(publish_request(
            "/v1/modules/acme/net/aws/1.0.2",
            Some(&token),
            small_module(),
        ))
        .await;
    assert_eq!(response.status, 429);
    let retry_after: u64 = response.header("retry-after").parse().expect("seconds");
    assert!((1..=60).contains(&retry_after));
    let body: Value = response.json.clone();
    assert!(
        error_message(&body).starts_with("too many writes; retry in"),
        "{body}"
    );
    // Reads are not limited.
    let _ = app.get_ok("/v1/modules/acme/net/aws/versions").await;
}

#[actix_web::test]
async fn gc_finds_only_unreferenced_archives_and_deletes_them_on_request() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    let published = app
        .published("/v1/modules/acme/net/aws/1.0.0", &token, small_module())
        .await;
    // An archive left behind by a publish interrupted before its version was recorded.
    let orphan = quarry_core::test_support::gzip(b"orphaned archive");
    let orphan_digest = quarry_core::digest::Sha256::of(&orphan);
    app.quarry
        .registry
        .storage
        .put_archive(&orphan_digest, orphan.into())
        .await
        .expect("stored");

    let young = app
        .quarry
        .registry
        .collect_garbage(chrono::Duration::hours(1), true)
        .await
        .expect("gc");
    assert!(
        young.unreferenced.is_empty(),
        "inside the grace period nothing is touched"
    );
    assert_eq!(young.kept_in_grace, 1);

    let dry = app
        .quarry
        .registry
        .collect_garbage(chrono::Duration::zero(), false)
        .await
        .expect("gc");
    assert_eq!(
        dry.unreferenced.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        [orphan_digest]
    );
    assert_eq!(dry.referenced, 1);
    let stored = |digest| app.quarry.registry.storage.archive_size(digest);
    let kept_after_dry_run = stored(&orphan_digest).await.expect("head");
    assert!(kept_after_dry_run.is_some(), "a dry run deletes nothing");

    let done = app
        .quarry
        .registry
        .collect_garbage(chrono::Duration::zero(), true)
        .await
        .expect("gc");
    assert_eq!(done.unreferenced.len(), 1);
    assert!(stored(&orphan_digest).await.expect("head").is_none());
    let kept = quarry_core::digest::Sha256::from_hex(
        published["archive_sha256"].as_str().expect("digest"),
    )
    .expect("hex");
    assert!(
        app.quarry
            .registry
            .storage
            .archive_size(&kept)
            .await
            .expect("head")
            .is_some(),
        "referenced archives stay"
    );
}
