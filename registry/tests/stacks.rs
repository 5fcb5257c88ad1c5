//! The stack inventory: reports from `scaffold`, the listing with its filters and counts by
//! version, forgetting a stack, the refusals (off by default, tokens, malformed reports that store
//! nothing), and the blueprint page's Stacks section. Runs on SQLite, and on PostgreSQL with
//! `QUARRY_TEST_DATABASE_URL`.

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};

const BLUEPRINT: &str = "fixtures/minimal";

/// A registry keeping an inventory, with the minimal blueprint at 0.1.0 and 0.2.0, and tokens:
/// `publisher` (publish:*), `reader` (read) and `admin`.
struct Inventory {
    quarry: TestRegistry,
    publisher: String,
    reader: String,
    admin: String,
}

impl Inventory {
    async fn start() -> Self {
        let quarry = start_with(|config| config.serve.stack_inventory = true).await;
        let publisher = quarry.token("publisher", &["publish:*"]).await;
        let reader = quarry.token("reader", &["read"]).await;
        let admin = quarry.token("admin", &["admin"]).await;
        let app = quarry.app().await;
        for version in ["0.1.0", "0.2.0"] {
            app.publish_fixture_blueprint(&publisher, "minimal", version)
                .await;
        }
        drop(app);
        Self {
            quarry,
            publisher,
            reader,
            admin,
        }
    }
}

fn report(name: &str, version: &str) -> Value {
    json!({
        "name": name,
        "blueprint": { "address": BLUEPRINT, "version": version },
        "modules": [{ "name": "hello", "source": "fixtures/greeting/generic", "version": "1.2.0" }],
    })
}

fn id(n: u32) -> String {
    format!("{n:032x}")
}

fn put(path: &str, token: Option<&str>, body: impl Into<Vec<u8>>) -> TestRequest {
    let mut request = TestRequest::put()
        .uri(path)
        .insert_header(("content-type", "application/json"))
        .set_payload(body.into());
    if let Some(token) = token {
        request = request.insert_header(("authorization", format!("Bearer {token}")));
    }
    request
}

async fn reported(app: &TestApp, token: &str, stack: &str, body: &Value) -> (u16, Value) {
    app.call(put(
        &format!("/v1/stacks/{stack}"),
        Some(token),
        body.to_string(),
    ))
    .await
}

/// `(version, stacks, outdated, yanked)` of every count.
fn counts(page: &Value) -> Vec<(String, u64, bool, bool)> {
    page["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|count| {
            assert_eq!(count["blueprint"], BLUEPRINT);
            (
                count["version"].as_str().unwrap_or_default().to_owned(),
                count["stacks"].as_u64().unwrap_or_default(),
                count["outdated"] == true,
                count["yanked"] == true,
            )
        })
        .collect()
}

fn names(page: &Value) -> Vec<String> {
    page["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .map(|stack| stack["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[actix_web::test]
async fn stacks_are_reported_listed_by_version_and_forgotten() {
    let inventory = Inventory::start().await;
    let app = inventory.quarry.app().await;
    let (reader, admin) = (&inventory.reader, &inventory.admin);

    let (status, discovery) = app.get("/.well-known/terraform.json").await;
    assert_eq!(
        (status, discovery["stacks.v1"].clone()),
        (200, json!("/v1/stacks/"))
    );

    // Two stacks on 0.1.0 (one in a git checkout), one on 0.2.0; the first is reported twice.
    let mut web = report("web", "0.1.0");
    web["location"] =
        json!({ "repository": "git@git.example.com:acme/infra.git", "path": "stacks/web" });
    let (status, body) = reported(&app, reader, &id(1), &web).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!({ "id": id(1), "created": true, "outdated": true })
    );
    let (status, _) = reported(&app, reader, &id(2), &report("api", "0.1.0")).await;
    assert_eq!(status, 201);
    let (status, body) = reported(&app, reader, &id(3), &report("jobs", "0.2.0")).await;
    assert_eq!((status, body["outdated"].clone()), (201, json!(false)));
    let (_, first) = app
        .get_as(&format!("/v1/stacks?blueprint={BLUEPRINT}"), reader)
        .await;
    let (status, body) = reported(&app, &inventory.publisher, &id(1), &web).await;
    assert_eq!((status, body["created"].clone()), (200, json!(false)));

    let (status, page) = app
        .get_as(&format!("/v1/stacks?blueprint={BLUEPRINT}"), reader)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        names(&page),
        ["web", "jobs", "api"],
        "most recently reported first"
    );
    assert_eq!(
        counts(&page),
        [
            ("0.2.0".into(), 1, false, false),
            ("0.1.0".into(), 2, true, false)
        ]
    );
    let web_now = &page["stacks"][0];
    assert_eq!(web_now["id"], json!(id(1)));
    assert_eq!(web_now["latest"], "0.2.0");
    assert_eq!(web_now["outdated"], true);
    assert_eq!(web_now["reported_by"], "publisher", "the last reporter");
    assert_eq!(
        web_now["location"],
        json!({ "repository": "git@git.example.com:acme/infra.git", "path": "stacks/web" })
    );
    assert_eq!(
        web_now["modules"],
        json!([{ "name": "hello", "source": "fixtures/greeting/generic", "version": "1.2.0" }])
    );
    let first_web = first["stacks"]
        .as_array()
        .and_then(|stacks| stacks.iter().find(|stack| stack["id"] == json!(id(1))))
        .expect("listed before");
    assert_eq!(
        web_now["first_reported_at"], first_web["first_reported_at"],
        "a report again keeps when the stack was first seen"
    );

    // Only those behind, a page at a time; every blueprint when none is named.
    let (_, behind) = app
        .get_as(
            &format!("/v1/stacks?blueprint={BLUEPRINT}&outdated=true&limit=1"),
            reader,
        )
        .await;
    assert_eq!(names(&behind), ["web"]);
    assert_eq!(behind["meta"]["next_offset"], 1);
    assert_eq!(counts(&behind), [("0.1.0".into(), 2, true, false)]);
    let (_, rest) = app
        .get_as("/v1/stacks?outdated=true&offset=1&limit=1", reader)
        .await;
    assert_eq!(names(&rest), ["api"]);
    assert!(rest["meta"].get("next_offset").is_none(), "{rest}");

    // An update moves a stack between versions; a yank marks the stacks left on it.
    let (status, _) = reported(&app, reader, &id(2), &report("api", "0.2.0")).await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            &format!("/v1/blueprints/{BLUEPRINT}/0.1.0/yank"),
            Some(&inventory.publisher),
            json!({ "reason": "broken" }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, page) = app.get_as("/v1/stacks", reader).await;
    assert_eq!(
        counts(&page),
        [
            ("0.2.0".into(), 2, false, false),
            ("0.1.0".into(), 1, true, true)
        ]
    );

    // Forgetting is an admin's, and recorded.
    let forget = |token: &str| {
        TestRequest::delete()
            .uri(&format!("/v1/stacks/{}", id(3)))
            .insert_header(("authorization", format!("Bearer {token}")))
    };
    let (status, body) = app.call(forget(reader)).await;
    assert_eq!(status, 403, "{body}");
    assert!(error_message(&body).contains("`admin`"), "{body}");
    let (status, _) = app.call(forget(admin)).await;
    assert_eq!(status, 204);
    let (status, body) = app.call(forget(admin)).await;
    assert_eq!(status, 404);
    assert!(error_message(&body).contains(&id(3)), "{body}");
    let (_, page) = app.get_as("/v1/stacks", reader).await;
    assert_eq!(names(&page), ["api", "web"]);
    let (_, audit) = app.get_as("/v1/audit?action=stack.forget", admin).await;
    assert_eq!(audit["events"][0]["target"], json!(id(3)), "{audit}");
    assert_eq!(audit["events"][0]["actor"], "admin");
}

#[actix_web::test]
async fn the_inventory_needs_a_token_even_on_a_public_registry_and_is_off_by_default() {
    let inventory = Inventory::start().await;
    let app = inventory.quarry.app().await;
    let body = report("web", "0.1.0").to_string();
    for request in [
        put(&format!("/v1/stacks/{}", id(1)), None, body.clone()),
        get("/v1/stacks", None),
    ] {
        let (status, answer) = app.call(request).await;
        assert_eq!(status, 401, "{answer}");
        assert!(
            error_message(&answer).contains("the stack inventory needs a token"),
            "{answer}"
        );
    }
    let (status, _) = reported(&app, "not-a-token", &id(1), &report("web", "0.1.0")).await;
    assert_eq!(status, 401);

    let off = start().await;
    let app = off.app().await;
    let (_, discovery) = app.get("/.well-known/terraform.json").await;
    assert_eq!(
        discovery,
        json!({ "modules.v1": "/v1/modules/", "providers.v1": "/v1/providers/" })
    );
    let token = off.token("reader", &["read"]).await;
    for request in [
        put(&format!("/v1/stacks/{}", id(1)), Some(&token), body.clone()),
        get("/v1/stacks", Some(&token)),
    ] {
        let message = refused(app.call(request).await, 404);
        assert!(message.contains("--stack-inventory"), "{message}");
    }
}

#[actix_web::test]
async fn a_bad_report_names_its_problem_and_stores_nothing() {
    let inventory = Inventory::start().await;
    let app = inventory.quarry.app().await;
    let token = &inventory.reader;
    // Each case: the stack id, the report with the value at a JSON pointer replaced (`""`: the
    // body as given), the status and what the message says.
    let many: Vec<Value> = (0..201)
        .map(|n| json!({ "name": format!("m{n}"), "source": "a/b/c", "version": "1.0.0" }))
        .collect();
    let credentials =
        json!({ "repository": "https://bob:hunter2@git.example.com/infra.git", "path": "" });
    let ok = id(1);
    let cases: Vec<(&str, &str, &str, Value, u16, &str)> = vec![
        ("a short id", "abc", "", Value::Null, 422, "stack id `abc`"),
        (
            "an id with dots",
            "....................",
            "",
            Value::Null,
            422,
            "must be 16 to 64",
        ),
        (
            "an unknown field",
            &ok,
            "/owner",
            json!("me"),
            400,
            "unknown field `owner`",
        ),
        (
            "an empty name",
            &ok,
            "/name",
            json!("  "),
            422,
            "`name` must not be empty",
        ),
        (
            "a control character",
            &ok,
            "/name",
            json!("web\u{1b}[31m"),
            422,
            "control characters",
        ),
        (
            "a long name",
            &ok,
            "/name",
            json!("n".repeat(129)),
            422,
            "longer than 128",
        ),
        (
            "a bad address",
            &ok,
            "/blueprint/address",
            json!("fixtures"),
            422,
            "`blueprint.address`",
        ),
        (
            "a bad version",
            &ok,
            "/blueprint/version",
            json!("one"),
            422,
            "`blueprint.version`",
        ),
        (
            "an unknown blueprint",
            &ok,
            "/blueprint/address",
            json!("fixtures/absent"),
            404,
            "no blueprint",
        ),
        (
            "an unknown version",
            &ok,
            "/blueprint/version",
            json!("9.9.9"),
            404,
            "has no version 9.9.9",
        ),
        (
            "a module version",
            &ok,
            "/modules/0/version",
            json!("latest"),
            422,
            "`modules[0].version` `latest`",
        ),
        (
            "too many modules",
            &ok,
            "/modules",
            json!(many),
            422,
            "at most 200",
        ),
        (
            "credentials in the remote",
            &ok,
            "/location",
            credentials,
            422,
            "holds credentials",
        ),
        (
            "a huge body",
            &ok,
            "/name",
            json!("n".repeat(300_000)),
            413,
            "larger than the limit",
        ),
    ];
    for (case, stack, pointer, value, status, expected) in cases {
        let mut body = report("web", "0.1.0");
        if let Some((parent, key)) = pointer.rsplit_once('/') {
            let target = body
                .pointer_mut(parent)
                .expect("the pointer's parent exists");
            match target {
                Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value,
                other => other[key] = value,
            }
        }
        let (actual, answer) = app
            .call(put(
                &format!("/v1/stacks/{stack}"),
                Some(token),
                body.to_string(),
            ))
            .await;
        assert_eq!(actual, status, "{case}: {answer}");
        let message = answer["errors"].to_string();
        assert!(message.contains(expected), "{case}: {message}");
    }
    let (status, answer) = app
        .call(put(
            &format!("/v1/stacks/{}", id(1)),
            Some(token),
            "{\"name\":",
        ))
        .await;
    assert_eq!(status, 400, "not JSON: {answer}");
    assert!(
        answer["errors"].to_string().contains("not valid JSON"),
        "{answer}"
    );
    let (_, page) = app.get_as("/v1/stacks", token).await;
    assert_eq!(page["stacks"], json!([]), "nothing was stored");
    assert_eq!(page["counts"], json!([]));
    let (status, _) = app
        .get_as("/v1/stacks?blueprint=fixtures/absent", token)
        .await;
    assert_eq!(status, 404);
    let (status, answer) = app.get_as("/v1/stacks?outdated=yes", token).await;
    assert_eq!(status, 400, "{answer}");
}

#[actix_web::test]
async fn the_blueprint_page_counts_stacks_and_lists_them_to_a_token() {
    let inventory = Inventory::start().await;
    let app = inventory.quarry.app().await;
    let mut web = report("web-frontend", "0.1.0");
    web["location"] =
        json!({ "repository": "https://git.example.com/acme/infra.git", "path": "web" });
    reported(&app, &inventory.reader, &id(1), &web).await;
    reported(&app, &inventory.reader, &id(2), &report("api", "0.2.0")).await;

    let page = |token: Option<&str>| {
        let mut request =
            get(&format!("/blueprints/{BLUEPRINT}"), token).insert_header(("accept", "text/html"));
        if token.is_none() {
            request = request.insert_header(("host", "registry.test"));
        }
        request
    };
    let anyone = app.answer(page(None)).await;
    assert_eq!(anyone.status, 200);
    let text = String::from_utf8_lossy(&anyone.body).into_owned();
    assert!(
        text.contains("<strong>2</strong> stacks reported, <strong>1</strong> behind"),
        "{text}"
    );
    assert!(text.contains("Sign in with a token to see which stacks"));
    assert!(
        !text.contains("web-frontend"),
        "names are for token holders"
    );

    let signed = app.answer(page(Some(&inventory.reader))).await;
    let text = String::from_utf8_lossy(&signed.body).into_owned();
    assert!(text.contains("web-frontend"), "{text}");
    assert!(text.contains("https://git.example.com/acme/infra.git"));
    assert!(text.contains("Stacks (2)"));

    let off = start().await;
    let (publisher, app) = (off.token("p", &["publish:*"]).await, off.app().await);
    app.publish_fixture_blueprint(&publisher, "minimal", "0.1.0")
        .await;
    let answer = app.answer(page(None)).await;
    assert!(!String::from_utf8_lossy(&answer.body).contains("id=\"stacks\""));
}
