//! The web UI as a browser sees it, through the app in process: HTML for browsers and JSON for
//! API clients, the security headers, search over both kinds with its filters, counts and pages,
//! module and blueprint pages, the form's check and preview, CSRF, sessions and the audit view.
//! (The same pages in a real Chromium are in `tests/tests/web_ui.rs`.)

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::json;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A browser's side of the app: it accepts HTML and keeps the cookies it is given.
struct Visitor<'a> {
    app: &'a TestApp,
    cookies: RefCell<BTreeMap<String, String>>,
}

impl<'a> Visitor<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: RefCell::default(),
        }
    }

    fn with_cookies(&self, mut request: TestRequest) -> TestRequest {
        let cookies = self.cookies.borrow();
        if !cookies.is_empty() {
            let header: Vec<String> = cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request = request.insert_header(("cookie", header.join("; ")));
        }
        request
            .insert_header(("accept", "text/html,application/xhtml+xml"))
            .insert_header(("host", "registry.test"))
    }

    async fn send(&self, request: TestRequest) -> Answer {
        let answer = self.app.answer(self.with_cookies(request)).await;
        for value in answer.headers.get_all("set-cookie") {
            let text = value.to_str().unwrap_or_default();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.borrow_mut().remove(name);
            } else {
                self.cookies
                    .borrow_mut()
                    .insert(name.to_owned(), value.to_owned());
            }
        }
        answer
    }

    async fn page(&self, path: &str) -> Answer {
        self.send(TestRequest::get().uri(path)).await
    }

    async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        let body: Vec<String> = pairs
            .iter()
            .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
            .collect();
        self.send(
            TestRequest::post()
                .uri(path)
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(body.join("&")),
        )
        .await
    }
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn html(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

/// A page with the character references askama escapes with decoded, for reading its text.
fn decoded(answer: &Answer) -> String {
    html(answer)
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// The CSRF token of the first form of a page.
fn csrf(answer: &Answer) -> String {
    let page = html(answer);
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("the page has a form") + marker.len();
    page[start..start + 64].to_owned()
}

/// A registry with the greeting fixture (1.1.0, 1.2.0) and the greeter blueprint, which uses it.
async fn with_fixtures() -> (TestApp, String) {
    let (app, token) = app_with_token(&["publish:*", "admin"]).await;
    for version in ["1.1.0", "1.2.0"] {
        app.publish_fixture(&token, "greeting", version).await;
    }
    app.publish_fixture_blueprint(&token, "greeter", "1.0.0")
        .await;
    (app, token)
}

#[actix_web::test]
async fn browsers_get_html_pages_and_api_clients_json() {
    let app = start().await.app().await;
    let visitor = Visitor::new(&app);

    let page = visitor.page("/no/such/page").await;
    assert_eq!(page.status, 404);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(html(&page).contains("Not found"), "{}", html(&page));
    let page = visitor.page("/modules/acme/none/aws").await;
    assert_eq!(page.status, 404);
    assert!(html(&page).contains("There is no module acme/none/aws here."));
    let page = visitor.page("/modules/bad%20namespace/x/aws").await;
    assert_eq!(page.status, 400);
    assert!(page.header("content-type").starts_with("text/html"));

    // API clients, and anything under /v1/, get the API's JSON.
    let (status, body) = app.get("/no/such/page").await;
    assert_eq!(
        (status, error_message(&body).as_str()),
        (404, "no such endpoint")
    );
    let answer = visitor.page("/v1/no/such").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json["errors"][0], "no such endpoint");

    // Every answer carries the security headers; the policy allows no inline script.
    for answer in [
        visitor.page("/").await,
        app.answer(get("/v1/modules", None)).await,
    ] {
        let policy = answer.header("content-security-policy");
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(answer.header("x-content-type-options"), "nosniff");
        assert_eq!(answer.header("x-frame-options"), "DENY");
        assert_eq!(answer.header("referrer-policy"), "same-origin");
    }
    // The assets are embedded and cached for good.
    let css = visitor.page("/assets/quarry.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("cache-control").contains("immutable"));
    assert_eq!(visitor.page("/assets/other.js").await.status, 404);
}

#[actix_web::test]
async fn search_covers_both_kinds_with_filters_counts_and_pages() {
    let (app, token) = with_fixtures().await;
    for i in 0..25 {
        app.published(
            &format!("/v1/modules/many/mod{i:02}/aws/1.0.0"),
            &token,
            small_module(),
        )
        .await;
    }
    // The API's blueprint search matches tags: greeter is tagged `greeting`, nothing else of it
    // says so.
    let body = app.get_ok("/v1/blueprints/search?q=greeting").await;
    assert_eq!(body["blueprints"][0]["name"], "greeter", "{body}");
    let (_, body) = app.get("/v1/blueprints/search?q=nothing-like-it").await;
    assert_eq!(body["blueprints"], json!([]));

    let visitor = Visitor::new(&app);
    let results = html(&visitor.page("/search?q=greeting").await);
    assert!(results.contains("2 results"), "{results}");
    assert!(results.contains("href=\"/blueprints/fixtures/greeter\""));
    assert!(results.contains("href=\"/modules/fixtures/greeting/generic\""));
    let tagged = html(&visitor.page("/search?kind=blueprint&tag=greeting").await);
    assert!(
        tagged.contains("1 results") || tagged.contains(">1 result"),
        "{tagged}"
    );
    let modules = html(&visitor.page("/search?kind=module&namespace=fixtures").await);
    assert!(
        modules.contains("1 results") || modules.contains(">1 result"),
        "{modules}"
    );
    assert!(!modules.contains("/blueprints/fixtures/greeter\""));

    let first = html(&visitor.page("/search?namespace=many").await);
    assert!(first.contains("25 results"), "{first}");
    assert_eq!(first.matches("class=\"item\"").count(), 20);
    assert!(
        first.contains("href=\"/search?namespace=many&#38;page=2\""),
        "{first}"
    );
    let second = html(&visitor.page("/search?namespace=many&page=2").await);
    assert_eq!(second.matches("class=\"item\"").count(), 5);
    assert!(second.contains("many/mod24/aws"));
    let namespace = html(&visitor.page("/namespaces/many?page=2").await);
    assert!(namespace.contains("Namespace many"), "{namespace}");
    assert_eq!(namespace.matches("class=\"item\"").count(), 5);
    assert_eq!(visitor.page("/namespaces/nobody").await.status, 404);

    for (path, message) in [
        ("/search?page=0", "is not a number from 1 to"),
        ("/search?page=x", "is not a number from 1 to"),
        ("/search?kind=provider", "There is no kind `provider`"),
    ] {
        let answer = visitor.page(path).await;
        assert_eq!(answer.status, 400, "{path}");
        assert!(html(&answer).contains(message), "{path}: {}", html(&answer));
    }

    let home = html(&visitor.page("/").await);
    assert!(home.contains("1 blueprints and 26 modules"), "{home}");
    assert!(home.contains("href=\"/namespaces/many\""));
}

#[actix_web::test]
async fn a_module_page_shows_its_parts_its_marks_and_the_blueprints_that_use_it() {
    let (app, token) = with_fixtures().await;
    let (status, body) = app
        .post(
            "/v1/modules/fixtures/greeting/generic/1.1.0/deprecate",
            Some(&token),
            json!({ "reason": "greets too quietly", "replacement": "1.2.0" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let visitor = Visitor::new(&app);

    let latest = decoded(&visitor.page("/modules/fixtures/greeting/generic").await);
    for expected in [
        "source  = \"registry.test/fixtures/greeting/generic\"",
        "version = \"1.2.0\"",
        "name = \"\" # string",
        "<code>punctuation</code>",
        "<code class=\"type\">map(string)</code>",
        "modules/shout",
        "source  = \"registry.test/fixtures/greeting/generic//modules/shout\"",
        "href=\"/blueprints/fixtures/greeter/1.0.0\"",
        "<code>~> 1.1</code>",
        "badge deprecated",
    ] {
        assert!(latest.contains(expected), "{expected:?} in\n{latest}");
    }
    // 1.1.0 is deprecated, and no blueprint selects it (`~> 1.1` picks 1.2.0).
    let old = html(
        &visitor
            .page("/modules/fixtures/greeting/generic/1.1.0")
            .await,
    );
    assert!(old.contains("greets too quietly"), "{old}");
    assert!(old.contains("Use <code>1.2.0</code> instead."), "{old}");
    assert!(old.contains("No blueprint selects this version."), "{old}");
    assert_eq!(
        visitor
            .page("/modules/fixtures/greeting/generic/9.9.9")
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn examples_are_kept_and_shown_as_they_are() {
    let (app, token) = app_with_token(&["publish:*"]).await;
    let archive = quarry_core::test_support::files_tar_gz(&[
        ("main.tf", b"variable \"name\" {\n  type = string\n}\n"),
        (
            "examples/basic/main.tf",
            b"module \"x\" {\n  source = \"../..\"\n  name   = \"<demo>\"\n}\n",
        ),
        (
            "examples/basic/README.md",
            b"# Basic\n\nThe least it takes.\n",
        ),
    ]);
    app.published("/v1/modules/acme/ex/aws/1.0.0", &token, archive)
        .await;
    let (_, detail) = app.get("/v1/modules/acme/ex/aws/1.0.0").await;
    assert_eq!(detail["examples"][0]["name"], "basic", "{detail}");
    assert_eq!(detail["examples"][0]["path"], "examples/basic");
    let visitor = Visitor::new(&app);
    let page = html(&visitor.page("/modules/acme/ex/aws").await);
    assert!(page.contains("<h3>basic</h3>"), "{page}");
    assert!(page.contains("The least it takes."), "{page}");
    // Shown escaped, as text.
    assert!(page.contains("name   = &#34;&#60;demo&#62;&#34;"), "{page}");
    assert!(!page.contains("<demo>"), "{page}");
}

#[actix_web::test]
async fn the_form_checks_previews_and_downloads_the_api_s_render_for_its_viewer_only() {
    let (app, _) = with_fixtures().await;
    let visitor = Visitor::new(&app);
    let base = "/blueprints/fixtures/greeter/1.0.0";
    let page = visitor.page(base).await;
    assert_eq!(page.status, 200);
    let text = decoded(&page);
    for expected in [
        "no-deletes",
        "policies/no-deletes.rego",
        "package ",
        "greeter-{{ inputs.environment }}",
        "href=\"/modules/fixtures/greeting/generic/1.2.0\"",
        "name=\"input.who\"",
        "type=\"password\"",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    assert!(
        !text.contains("name=\"input.approvers\""),
        "approvers only in prod"
    );
    // The schema and the Rego are kept escaped per version: escaped once, never twice.
    let raw = html(&page);
    for expected in [
        "&#34;type&#34;: &#34;object&#34;",
        "&#34;delete&#34; in resource.change.actions",
    ] {
        assert!(raw.contains(expected), "{expected:?} in\n{raw}");
    }
    assert!(!raw.contains("&#38;#34;"), "escaped twice:\n{raw}");
    let token = csrf(&page);

    // The live check: `core::form`'s message for a bad value, and the fields prod brings.
    let answer = visitor
        .post(
            &format!("{base}/check"),
            &[
                ("csrf", &token),
                ("input.who", "ada"),
                ("input.environment", "prod"),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", html(&answer));
    let check = &answer.json;
    assert_eq!(check["valid"], false);
    assert_eq!(
        check["errors"]["who"],
        "expected a string matching the pattern `^[A-Z][a-z]+$`, got `ada`"
    );
    assert_eq!(check["errors"]["approvers"], "an answer is required");
    let fields = quarry_core::test_support::texts(&check["fields"], "name");
    assert!(fields.contains(&"approvers"), "{fields:?}");

    // A preview renders what the API renders, and its download is for this visitor only.
    let inputs = [
        ("input.who", "Ada"),
        ("input.environment", "dev"),
        ("input.api_key", "secret-value-123"),
    ];
    let mut pairs = vec![("csrf", token.as_str())];
    pairs.extend(inputs);
    let preview = visitor.post(&format!("{base}/preview"), &pairs).await;
    assert_eq!(preview.status, 200, "{}", html(&preview));
    let text = html(&preview);
    assert!(!text.contains("secret-value-123"));
    assert!(text.contains("SCAFFOLD_INPUT_API_KEY"), "{text}");
    let marker = "href=\"/stacks/";
    let start = text.find(marker).expect("a download link") + "href=\"".len();
    let end = start + text[start..].find('"').expect("end of link");
    let link = &text[start..end];
    let download = visitor.page(link).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.header("content-type"), "application/gzip");
    let (status, _) = app
        .call(post_json(
            &format!("/v1{base}/render"),
            json!({ "who": "Ada", "environment": "dev", "api_key": "secret-value-123" }),
        ))
        .await;
    assert_eq!(status, 200);
    let rendered = app
        .answer(post_json(
            &format!("/v1{base}/render"),
            json!({ "who": "Ada", "environment": "dev", "api_key": "secret-value-123" }),
        ))
        .await;
    assert_eq!(
        download.body, rendered.body,
        "the download is the API's render"
    );
    let stranger = Visitor::new(&app);
    stranger.page(base).await;
    assert_eq!(stranger.page(link).await.status, 404);

    // Invalid answers come back as the form, with every message and without the secret.
    let mut pairs = vec![("csrf", token.as_str())];
    pairs.extend([
        ("input.who", "ada"),
        ("input.environment", "dev"),
        ("input.api_key", "short"),
    ]);
    let refused = visitor.post(&format!("{base}/preview"), &pairs).await;
    assert_eq!(refused.status, 422);
    let text = decoded(&refused);
    assert!(text.contains("got `ada`"), "{text}");
    assert!(text.contains("type them again"), "{text}");
    assert!(!text.contains("value=\"short\""), "{text}");
}

#[actix_web::test]
async fn posts_without_the_viewer_s_csrf_token_or_from_another_site_are_refused() {
    let (app, _) = with_fixtures().await;
    let visitor = Visitor::new(&app);
    let other = Visitor::new(&app);
    let base = "/blueprints/fixtures/greeter/1.0.0";
    let mine = csrf(&visitor.page(base).await);
    let theirs = csrf(&other.page(base).await);
    assert_ne!(mine, theirs);
    let path = format!("{base}/check");
    for (token, status) in [(None, 403), (Some(theirs.as_str()), 403), (Some("0"), 403)] {
        let mut pairs = vec![("input.who", "Ada")];
        if let Some(token) = token {
            pairs.push(("csrf", token));
        }
        let answer = visitor.post(&path, &pairs).await;
        assert_eq!(answer.status, status, "{token:?}");
        assert!(html(&answer).contains("CSRF token"), "{}", html(&answer));
    }
    assert_eq!(
        visitor
            .post(&path, &[("csrf", &mine), ("input.who", "Ada")])
            .await
            .status,
        200
    );
    let from_elsewhere = visitor
        .send(
            TestRequest::post()
                .uri(&path)
                .insert_header(("origin", "https://evil.example"))
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(format!("csrf={mine}&input.who=Ada")),
        )
        .await;
    assert_eq!(from_elsewhere.status, 403);
    assert!(html(&from_elsewhere).contains("another site"));
}

#[actix_web::test]
async fn with_token_reads_pages_need_a_session_that_ends_with_its_token() {
    let (app, [token]) = token_reads(["reader read"]).await;
    let visitor = Visitor::new(&app);

    let home = visitor.page("/search?q=x").await;
    assert_eq!(home.status, 303);
    assert_eq!(home.header("location"), "/login?next=%2Fsearch%3Fq%3Dx");
    // The API still answers with its JSON 401.
    assert_eq!(app.get("/v1/modules").await.0, 401);

    let login = visitor.page("/login?next=/search").await;
    assert_eq!(login.status, 200);
    let form_token = csrf(&login);
    let refused = visitor
        .post("/login", &[("token", &token), ("next", "/search")])
        .await;
    assert_eq!(refused.status, 403, "no CSRF token");
    let wrong = visitor
        .post(
            "/login",
            &[
                ("csrf", &form_token),
                ("token", "qry_0000000000000000_nope"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(
        html(&wrong).contains("the token is not valid."),
        "{}",
        html(&wrong)
    );
    let signed_in = visitor
        .post(
            "/login",
            &[
                ("csrf", &form_token),
                ("token", &token),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.header("location"), "/", "never another site");
    let cookie = signed_in.header("set-cookie");
    for attribute in ["quarry_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains(&token));
    let page = visitor.page("/").await;
    assert_eq!(page.status, 200);
    assert!(html(&page).contains("reader"));
    assert!(!html(&page).contains(&token));

    // Revoking the token ends the session.
    app.revoke("reader").await;
    assert_eq!(visitor.page("/").await.status, 303);

    // Signing out ends it too.
    let token = app.quarry.token("second", &["read"]).await;
    let login = visitor.page("/login").await;
    let signed_in = visitor
        .post("/login", &[("csrf", &csrf(&login)), ("token", &token)])
        .await;
    assert_eq!(signed_in.status, 303);
    let page = visitor.page("/").await;
    assert_eq!(page.status, 200);
    let out = visitor.post("/logout", &[("csrf", &csrf(&page))]).await;
    assert_eq!(out.status, 303);
    assert_eq!(visitor.page("/").await.status, 303);
}

#[actix_web::test]
async fn a_session_cookie_is_secure_behind_https() {
    let quarry = start_with(|config| {
        config.serve.read_access = quarry_registry::config::ReadAccess::Token;
        config.serve.public_url = Some("https://registry.example".into());
    })
    .await;
    let token = quarry.token("reader", &["read"]).await;
    let app = quarry.app().await;
    let visitor = Visitor::new(&app);
    let login = visitor.page("/login").await;
    assert!(login.header("set-cookie").contains("Secure"));
    let signed_in = visitor
        .post("/login", &[("csrf", &csrf(&login)), ("token", &token)])
        .await;
    assert!(signed_in.header("set-cookie").contains("Secure"));
}

#[actix_web::test]
async fn the_audit_view_is_for_admins() {
    let (app, admin) = with_fixtures().await;
    let reader = app.token("reader", &["read"]).await;
    let visitor = Visitor::new(&app);
    let anonymous = visitor.page("/audit").await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), "/login?next=%2Faudit");
    let forbidden = app
        .answer(get("/audit", Some(&reader)).insert_header(("accept", "text/html")))
        .await;
    assert_eq!(forbidden.status, 403);
    assert!(html(&forbidden).contains("The audit log is for admins"));
    let page = app
        .answer(
            get("/audit?action=blueprint.publish", Some(&admin))
                .insert_header(("accept", "text/html")),
        )
        .await;
    assert_eq!(page.status, 200);
    let text = html(&page);
    assert!(text.contains("blueprint.publish"), "{text}");
    assert!(
        !text.contains("<code>module.publish</code>"),
        "filtered: {text}"
    );
}

#[actix_web::test]
async fn providers_are_listed_and_each_has_a_page_with_platforms_key_and_usage() {
    let (app, token) = app_with_token(&["publish:*"]).await;
    for version in ["1.0.0", "1.1.0"] {
        let published = app
            .answer(publish_request(
                &format!("/v1/providers/acme/echo/{version}"),
                Some(&token),
                provider_release("echo", version),
            ))
            .await;
        assert_eq!(published.status, 201, "{version}");
    }
    let (_, download) = app
        .get("/v1/providers/acme/echo/1.1.0/download/linux/amd64")
        .await;
    let key_id = download["signing_keys"]["gpg_public_keys"][0]["key_id"]
        .as_str()
        .expect("key id")
        .to_owned();
    let visitor = Visitor::new(&app);

    let list = html(&visitor.page("/providers").await);
    assert!(list.contains("href=\"/providers/acme/echo\""), "{list}");
    assert!(list.contains("1.1.0"), "the latest version: {list}");

    let page = visitor.page("/providers/acme/echo").await;
    assert_eq!(page.status, 200);
    let text = decoded(&page);
    assert!(
        text.contains("version <strong>1.1.0</strong> (latest)"),
        "{text}"
    );
    assert!(
        text.contains("linux_amd64")
            && text.contains("terraform-provider-echo_1.1.0_linux_amd64.zip")
    );
    assert!(
        text.contains(&format!("<code id=\"key-id\">{key_id}</code>")),
        "{text}"
    );
    assert!(text.contains("signed by this registry"));
    assert!(
        text.contains("/acme/echo\"\n      version = \"1.1.0\""),
        "{text}"
    );
    assert!(text.contains("h1:") && text.contains("zh:"), "{text}");

    let older = decoded(&visitor.page("/providers/acme/echo/1.0.0").await);
    assert!(older.contains("version <strong>1.0.0</strong>") && !older.contains("(latest)"));
    assert_eq!(visitor.page("/providers/acme/echo/9.9.9").await.status, 404);
    assert_eq!(visitor.page("/providers/acme/nothing").await.status, 404);
    assert_eq!(visitor.page("/providers/acme/Bad_Type").await.status, 400);
}
