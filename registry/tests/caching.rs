//! What the read caches must never get wrong: download counts stay exact while they move from
//! memory to the database, each version's detail shows its own contents, and a replica that did
//! not make a change sees it once it follows the change feed.

mod common;

use actix_web::test;
use common::*;
use serde_json::Value;

/// A module archive with one variable of the given name.
fn module_with_variable(variable: &str) -> Vec<u8> {
    let main = format!("variable \"{variable}\" {{\n  type = string\n}}\n");
    quarry_core::test_support::files_tar_gz(&[("main.tf", main.as_bytes())])
}

/// The `field` of every item of the array at `pointer` in `answer`.
fn strings(answer: &Value, pointer: &str, field: &str) -> Vec<String> {
    answer
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|item| item[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn input_names(detail: &Value) -> Vec<String> {
    strings(detail, "/root/inputs", "name")
}

fn versions_of(answer: &Value) -> Vec<String> {
    strings(answer, "/modules/0/versions", "version")
}

fn listed_names(listing: &Value) -> Vec<String> {
    strings(listing, "/modules", "id")
}

#[actix_web::test]
async fn download_counts_stay_exact_while_they_are_written() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    for version in ["1.0.0", "1.1.0"] {
        let path = format!("/v1/modules/acme/net/aws/{version}");
        app.published(&path, &token, small_module()).await;
    }
    let counts = || async {
        let (_, detail) = app.get("/v1/modules/acme/net/aws").await;
        let (_, listing) = app.get("/v1/modules/acme").await;
        (
            detail["downloads"].clone(),
            listing["modules"][0]["downloads"].clone(),
        )
    };
    // Read once so that the detail and the listing are cached before anything is counted.
    assert_eq!(counts().await, (0.into(), 0.into()));
    for (version, times) in [("1.0.0", 3), ("1.1.0", 2)] {
        for _ in 0..times {
            let response = app
                .answer(get(
                    &format!("/v1/modules/acme/net/aws/{version}/download"),
                    None,
                ))
                .await;
            assert_eq!(response.status, 204);
        }
    }
    assert_eq!(counts().await, (5.into(), 5.into()), "counted in memory");
    app.quarry.registry.flush_downloads().await;
    assert_eq!(counts().await, (5.into(), 5.into()), "written");
    let response = app
        .answer(get("/v1/modules/acme/net/aws/1.0.0/download", None))
        .await;
    assert_eq!(response.status, 204);
    assert_eq!(counts().await, (6.into(), 6.into()), "one more");
    app.quarry.registry.flush_downloads().await;
    assert_eq!(counts().await, (6.into(), 6.into()), "written again");
}

#[actix_web::test]
async fn a_replica_sees_another_replicas_changes_once_it_follows_the_change_feed() {
    let (quarry, token) = start_with_token(&["publish:acme"]).await;
    let writer = quarry.service().await;
    let reader_registry = quarry.replica().await;
    let mut cursor = reader_registry.change_cursor().await.expect("cursor");
    let reader = test::init_service(quarry_registry::app(reader_registry.clone())).await;

    let publish = |path: &'static str, body: Vec<u8>| {
        let request = publish_request(path, Some(&token), body);
        let writer = &writer;
        async move {
            let (status, answer) = call_json(writer, request).await;
            assert_eq!(status, 201, "{path}: {answer}");
        }
    };
    publish(
        "/v1/modules/acme/net/aws/1.0.0",
        module_with_variable("cidr"),
    )
    .await;
    assert_eq!(
        reader_registry
            .follow_changes(&mut cursor)
            .await
            .expect("follows"),
        1
    );

    // The reader caches what it reads now.
    let (_, versions) = call_json(&reader, get("/v1/modules/acme/net/aws/versions", None)).await;
    assert_eq!(versions_of(&versions), ["1.0.0"]);
    let (_, detail) = call_json(&reader, get("/v1/modules/acme/net/aws", None)).await;
    assert_eq!(detail["version"], "1.0.0");
    let (_, found) = call_json(&reader, get("/v1/modules/search?q=brand", None)).await;
    assert_eq!(listed_names(&found), Vec::<String>::new());

    // The writer changes things behind the reader's back.
    publish(
        "/v1/modules/acme/net/aws/1.1.0",
        module_with_variable("region"),
    )
    .await;
    let (status, _) = call_json(
        &writer,
        test::TestRequest::post()
            .uri("/v1/modules/acme/net/aws/1.0.0/yank")
            .insert_header(("authorization", format!("Bearer {token}"))),
    )
    .await;
    assert_eq!(status, 200);
    let path = "/v1/modules/acme/other/aws/0.1.0?description=brand+new";
    publish(path, small_module()).await;

    // Until it follows the feed, the reader still answers from its cache (this is what the
    // feed is for; without it the cache would only lapse after some seconds).
    let (_, versions) = call_json(&reader, get("/v1/modules/acme/net/aws/versions", None)).await;
    assert_eq!(versions_of(&versions), ["1.0.0"]);
    // But a version its kept state does not know is read again, not refused: another replica
    // may list it already.
    let (status, new) = call_json(&reader, get("/v1/modules/acme/net/aws/1.1.0", None)).await;
    assert_eq!(status, 200, "{new}");
    assert_eq!(input_names(&new), ["region"]);
    let (status, _) = call_json(&reader, get("/v1/modules/acme/net/aws/9.9.9", None)).await;
    assert_eq!(status, 404, "an unknown version is still unknown");

    assert_eq!(
        reader_registry
            .follow_changes(&mut cursor)
            .await
            .expect("follows"),
        2,
        "two modules changed"
    );
    let (_, versions) = call_json(&reader, get("/v1/modules/acme/net/aws/versions", None)).await;
    assert_eq!(versions_of(&versions), ["1.1.0"], "1.0.0 is yanked");
    let (_, detail) = call_json(&reader, get("/v1/modules/acme/net/aws", None)).await;
    assert_eq!(detail["version"], "1.1.0");
    assert_eq!(detail["versions"], serde_json::json!(["1.1.0"]));
    assert_eq!(input_names(&detail), ["region"]);
    let (_, old) = call_json(&reader, get("/v1/modules/acme/net/aws/1.0.0", None)).await;
    assert_eq!(old["yanked"], true);
    assert_eq!(
        input_names(&old),
        ["cidr"],
        "each version shows its own contents"
    );
    let (_, found) = call_json(&reader, get("/v1/modules/search?q=BRAND", None)).await;
    assert_eq!(listed_names(&found), ["acme/other/aws/0.1.0"]);
    let (_, listing) = call_json(&reader, get("/v1/modules/acme", None)).await;
    assert_eq!(
        listed_names(&listing),
        ["acme/net/aws/1.1.0", "acme/other/aws/0.1.0"]
    );
    assert_eq!(
        reader_registry
            .follow_changes(&mut cursor)
            .await
            .expect("follows"),
        0,
        "nothing new"
    );
}

#[actix_web::test]
async fn a_module_whose_every_version_is_yanked_leaves_the_listing() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    for path in [
        "/v1/modules/acme/gone/aws/1.0.0",
        "/v1/modules/acme/kept/aws/1.0.0",
    ] {
        app.published(path, &token, small_module()).await;
    }
    let (_, listing) = app.get("/v1/modules?limit=1").await;
    assert_eq!(listed_names(&listing), ["acme/gone/aws/1.0.0"]);
    let (status, _) = app
        .call(
            test::TestRequest::post()
                .uri("/v1/modules/acme/gone/aws/1.0.0/yank")
                .insert_header(("authorization", format!("Bearer {token}"))),
        )
        .await;
    assert_eq!(status, 200);
    let (_, listing) = app.get("/v1/modules?limit=1").await;
    assert_eq!(listed_names(&listing), ["acme/kept/aws/1.0.0"]);
    assert_eq!(
        listing["meta"]["next_offset"],
        Value::Null,
        "and no page follows"
    );
}

#[actix_web::test]
async fn the_first_listing_waits_for_the_load_under_way_instead_of_loading_again() {
    let (quarry, token) = start_with_token(&["publish:acme"]).await;
    let writer = quarry.service().await;
    let request = publish_request(
        "/v1/modules/acme/net/aws/1.0.0",
        Some(&token),
        module_with_variable("cidr"),
    );
    let (status, answer) = call_json(&writer, request).await;
    assert_eq!(status, 201, "{answer}");

    // A replica that has not read its listing yet: the start's load begins, then a listing
    // comes before it ends.
    let replica = quarry.replica().await;
    let everything = quarry_registry::service::search::Filter::default();
    let (loaded, page) = tokio::join!(
        replica.search.reload_all(&replica.db),
        replica.list_artifacts(&everything, 0, 10, false),
    );
    loaded.expect("loads");
    let page = page.expect("lists");
    let names: Vec<&str> = page
        .items
        .iter()
        .map(|summary| summary.listed.name())
        .collect();
    assert_eq!(names, ["net"]);
    assert_eq!(replica.search.full_loads(), 1, "one load, not two");
}
