//! The web UI in a real headless Chromium (Debian's `chromium` and `chromedriver`) against the
//! built `quarry serve --import blueprints`, with a recording proxy between the browser and the
//! registry so the tests read every answer the browser got:
//!
//! - search → module page → the usage snippet copied from the page passes `terraform init`;
//! - the blueprint form: an invalid value shows the CLI's own message, `prod` reveals the
//!   approvers field, submitting renders, and the download is byte-identical to what
//!   `scaffold new` writes with the same inputs;
//! - a secret typed into the form is in no answer, no log line and no file of the registry;
//! - a hostile README runs nothing;
//! - with `--read-access token`, pages need a session and POSTs a valid CSRF token.
//!
//! Screenshots of the home, module and blueprint pages go to `target/ui-screenshots/`.

use quarry_e2e::browser::{Browser, RecordingProxy, screenshot_dir};
use quarry_e2e::*;
use std::process::Command;

const SECRET: &str = "Browser-Typed-Secret-4711";

/// A registry with the examples imported and the provider-free fixtures published, behind a
/// recording proxy the browser reaches as `registry.test:<port>`.
struct Site {
    quarry: Quarry,
    proxy: RecordingProxy,
    token: String,
}

impl Site {
    fn start(extra: &[&str]) -> Self {
        let examples = repo_root().join("blueprints");
        let mut args = vec![
            "--access-log",
            "--import",
            examples.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        let quarry = Quarry::start(&args).expect("quarry starts");
        let token = quarry
            .token("ui-tests", &["publish:*", "admin"])
            .expect("token");
        quarry
            .publish_greeter(&token, &["1.1.0", "1.2.0"])
            .expect("the greeter fixtures publish");
        let proxy = RecordingProxy::start(&quarry.url).expect("proxy starts");
        Self {
            quarry,
            proxy,
            token,
        }
    }

    /// The host the browser (and so the pages' snippets) name the registry by.
    fn host(&self) -> String {
        format!("{REGISTRY_HOST}:{}", self.proxy.port)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host())
    }

    /// A request the way the browser would send it, through the proxy, with its cookies.
    fn as_browser(
        &self,
        browser: &Browser,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::blocking::RequestBuilder {
        reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .request(
                method,
                format!("http://127.0.0.1:{}{path}", self.proxy.port),
            )
            .header("host", self.host())
            .header("cookie", browser.cookie_header().expect("cookies"))
    }
}

fn save_screenshot(browser: &Browser, name: &str) {
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = browser.screenshot().expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

/// `scaffold`, with no configuration but its flags.
fn scaffold(home: &std::path::Path) -> Command {
    let mut command = Command::new(binary("scaffold"));
    command
        .env_remove("SCAFFOLD_REGISTRY")
        .env_remove("SCAFFOLD_SOURCE_HOST")
        .env("SCAFFOLD_CONFIG", home.join("config.toml"))
        .env("HOME", home);
    command
}

#[test]
fn a_snippet_copied_from_a_module_page_passes_terraform_init() {
    let site = Site::start(&[]);
    let browser = Browser::start().expect("chromium starts");

    browser.goto(&site.url("/")).expect("home");
    save_screenshot(&browser, "home");
    let search = browser.find("main input[name=q]").expect("search box");
    browser.type_into(&search, "greeting").expect("type");
    browser
        .follow(&browser.find(".big-search button").expect("button"))
        .expect("search");
    let result = browser
        .wait_for("a.address[href='/modules/fixtures/greeting/generic']")
        .expect("the module is found");
    let count = browser.text_of("#result-count").expect("text");
    assert!(
        count.starts_with("1 result") || count.starts_with("2 results"),
        "{count}"
    );
    browser.follow(&result).expect("open the module");
    browser.wait_for("#usage-root").expect("module page");
    assert!(
        browser
            .is_at("/modules/fixtures/greeting/generic")
            .expect("url")
    );

    let snippet = browser.text_of("#usage-root").expect("snippet text");
    assert!(
        snippet.contains(&format!(
            "source  = \"{}/fixtures/greeting/generic\"",
            site.host()
        )),
        "{snippet}"
    );
    assert!(snippet.contains("version = \"1.2.0\""), "{snippet}");
    assert!(snippet.contains("name = \"\""), "required input: {snippet}");
    let terraform = Terraform::for_host(&site.host(), &site.quarry.url, &snippet).expect("dir");
    let init = terraform
        .init()
        .expect("terraform init passes with the copied snippet");
    assert!(
        init.contains("Terraform has been successfully initialized"),
        "{init}"
    );
    let installed = terraform.installed_modules().expect("modules.json");
    assert!(
        installed
            .iter()
            .any(|(key, version, _)| key == "greeting" && version == "1.2.0"),
        "{installed:?}"
    );

    // The page lists the blueprint versions that select this version.
    let used_by = browser.text_of("#used-by").expect("text");
    assert!(used_by.contains("fixtures/greeter"), "{used_by}");

    // Screenshots of a real module and blueprint for the README.
    browser
        .goto(&site.url("/modules/platform/network/aws"))
        .expect("network");
    browser.wait_for("#usage-root").expect("module page");
    save_screenshot(&browser, "module");
    browser
        .goto(&site.url("/blueprints/platform/web-service"))
        .expect("web-service");
    browser.wait_for("#stack-form").expect("blueprint page");
    save_screenshot(&browser, "blueprint");
}

#[test]
fn the_blueprint_form_checks_like_the_cli_reveals_fields_and_renders_what_scaffold_renders() {
    let site = Site::start(&[]);
    let browser = Browser::start().expect("chromium starts");
    browser
        .goto(&site.url("/blueprints/fixtures/greeter/1.0.0"))
        .expect("blueprint page");
    browser.wait_for("#stack-form").expect("form");

    // An invalid value: the live check shows the message the CLI prints for it.
    let who = browser.find("#input-who").expect("who");
    browser.type_into(&who, "ada").expect("type");
    browser
        .wait_until("document.querySelector('[data-error-for=who]').textContent.length > 0")
        .expect("the live check answers");
    let shown = browser.text_of("[data-error-for=who]").expect("text");
    let home = tempfile::tempdir().expect("home");
    let cli = scaffold(home.path())
        .args([
            "--registry",
            &site.quarry.url,
            "new",
            "fixtures/greeter@1.0.0",
            "--non-interactive",
            "--set",
            "who=ada",
        ])
        .output()
        .expect("scaffold runs");
    let cli_error = String::from_utf8_lossy(&cli.stderr);
    assert!(!cli.status.success());
    assert!(!shown.is_empty());
    assert!(
        cli_error.contains(&shown),
        "the page says {shown:?}; scaffold says {cli_error:?}"
    );

    // Choosing prod reveals the approvers field; dev hides it again.
    assert!(browser.find("[data-field=approvers]").is_err());
    browser
        .choose("#input-environment", "prod")
        .expect("choose prod");
    browser
        .wait_for("[data-field=approvers]")
        .expect("approvers appear");
    browser.choose("#input-environment", "dev").expect("dev");
    browser
        .wait_until("!document.querySelector('[data-field=approvers]')")
        .expect("approvers disappear");
    browser.choose("#input-environment", "prod").expect("prod");
    let approvers = browser
        .wait_for("#input-approvers")
        .expect("approvers again");

    browser.type_into(&who, "Ada").expect("type");
    browser.type_into(&approvers, "alice, bob").expect("type");
    let secret = browser.find("#input-api_key").expect("secret field");
    browser.type_into(&secret, SECRET).expect("type the secret");
    browser
        .wait_until(
            "document.getElementById('check-status').textContent === 'All answers are valid.'",
        )
        .expect("the answers check out");
    browser
        .follow(&browser.find("#render").expect("submit"))
        .expect("submit");
    let download = browser.wait_for("#download").expect("preview page");

    // The preview: files, modules resolved, policies and contexts attached, the command line.
    let page = browser.text_of("main").expect("text");
    for expected in [
        "stack.yaml",
        ".scaffold/answers.json",
        "no-deletes",
        "greeter-prod",
        "fixtures/greeting/generic",
        "1.2.0",
    ] {
        assert!(
            page.contains(expected),
            "{expected:?} in the preview:\n{page}"
        );
    }
    let command = browser.text_of("#command-line").expect("text");
    assert_eq!(
        command,
        format!(
            "scaffold --registry {} new fixtures/greeter@1.0.0 --set who=Ada --set environment=prod --set 'approvers=alice, bob'",
            site.url("")
        )
    );

    // The download is the archive `scaffold new` writes for the same inputs.
    let href = browser
        .attribute(&download, "href")
        .expect("href")
        .expect("a link");
    let downloaded = site
        .as_browser(&browser, reqwest::Method::GET, &href)
        .send()
        .expect("download");
    assert_eq!(downloaded.status(), 200);
    let downloaded = downloaded.bytes().expect("bytes").to_vec();
    let out = tempfile::tempdir().expect("dir");
    let archive = out.path().join("stack.tar.gz");
    let written = scaffold(home.path())
        .args([
            "--registry",
            &site.quarry.url,
            "--source-host",
            &site.host(),
            "new",
            "fixtures/greeter@1.0.0",
            "--non-interactive",
            "--set",
            "who=Ada",
            "--set",
            "environment=prod",
            "--set",
            "approvers=alice, bob",
            "--archive",
        ])
        .arg(&archive)
        .env("SCAFFOLD_INPUT_API_KEY", SECRET)
        .output()
        .expect("scaffold runs");
    assert!(written.status.success(), "{}", text(&written));
    let from_cli = std::fs::read(&archive).expect("archive");
    assert!(
        downloaded == from_cli,
        "the web UI's download ({} bytes) differs from scaffold's archive ({} bytes)",
        downloaded.len(),
        from_cli.len()
    );

    // The secret went to the registry (so the checks below could have failed) …
    let exchanges = site.proxy.exchanges();
    let contains = |bytes: &[u8]| {
        bytes
            .windows(SECRET.len())
            .any(|window| window == SECRET.as_bytes())
    };
    assert!(
        exchanges
            .iter()
            .any(|exchange| exchange.target.ends_with("/preview")
                && contains(&exchange.request_body)),
        "the secret was submitted"
    );
    // … and came back in no answer, …
    for exchange in &exchanges {
        assert!(
            !contains(&exchange.response_body),
            "{} {} answered with the secret",
            exchange.method,
            exchange.target
        );
    }
    assert!(!contains(&downloaded));
    // … no log line …
    let logs = site.quarry.drain_logs();
    assert!(!logs.is_empty(), "the registry logs requests");
    for line in &logs {
        assert!(!line.contains(SECRET), "logged: {line}");
    }
    // … and no file of the registry.
    let data_dir = site.quarry.data_dir.path();
    let files = quarry_core::test_support::files_under(data_dir);
    assert!(
        files.iter().any(|(path, _)| path == "quarry.db"),
        "{files:?}"
    );
    for (path, _) in files {
        let bytes = std::fs::read(data_dir.join(&path)).unwrap_or_default();
        assert!(!contains(&bytes), "{path} holds the secret");
    }
    // And the form never showed it back.
    let value = browser.execute(
        "return document.querySelectorAll('input[type=password][value]:not([value=\"\"])').length;",
        serde_json::json!([]),
    );
    if let Ok(value) = value {
        assert_eq!(value, serde_json::json!(0));
    }
}

#[test]
fn a_hostile_readme_runs_nothing() {
    let site = Site::start(&[]);
    let readme = "# Hostile\n\n\
        <script>window.__pwned = 'script'; alert('script');</script>\n\n\
        <img src=\"x\" onerror=\"window.__pwned = 'onerror'; alert('onerror'); console.log('pwned')\">\n\n\
        <svg onload=\"window.__pwned = 'svg'\"><circle r=\"1\"/></svg>\n\n\
        [a javascript link](javascript:window.__pwned='link';alert('link'))\n\n\
        <a id=\"raw\" href=\"javascript:window.__pwned='raw';alert('raw')\">a raw link</a>\n\n\
        <iframe src=\"javascript:alert('frame')\"></iframe>\n\n\
        <details open ontoggle=\"window.__pwned='toggle'\"><summary>x</summary></details>\n\n\
        [a safe link](https://example.com/docs)\n";
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("main.tf"),
        "variable \"name\" {\n  type = string\n}\n",
    )
    .expect("main.tf");
    std::fs::write(dir.path().join("README.md"), readme).expect("readme");
    let status = site
        .quarry
        .publish_dir(&site.token, "hostile/readme/generic", "1.0.0", dir.path())
        .expect("publish");
    assert_eq!(status, 201);

    let browser = Browser::start().expect("chromium starts");
    browser
        .goto(&site.url("/modules/hostile/readme/generic"))
        .expect("page");
    browser.wait_for("#readme").expect("readme");
    // Links that survive are clicked too: none may run anything.
    for link in browser.find_all("#readme a").expect("links") {
        let href = browser.attribute(&link, "href").expect("href");
        if href
            .as_deref()
            .is_some_and(|href| href.starts_with("https://"))
        {
            continue; // leaving the page is not running script
        }
        let _ = browser.click(&link);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(browser.open_dialog(), None, "a dialog opened");
    let pwned = browser
        .execute(
            "return window.__pwned === undefined ? null : String(window.__pwned);",
            serde_json::json!([]),
        )
        .expect("script");
    assert_eq!(pwned, serde_json::Value::Null, "README script ran");
    let dangerous = browser
        .execute(
            "return Array.from(document.querySelectorAll('#readme *')).filter(e => \
               ['SCRIPT','IFRAME','SVG','OBJECT','EMBED'].includes(e.tagName.toUpperCase()) || \
               Array.from(e.attributes).some(a => a.name.startsWith('on') || \
                 /^\\s*javascript:/i.test(a.value))).map(e => e.outerHTML);",
            serde_json::json!([]),
        )
        .expect("script");
    assert_eq!(dangerous, serde_json::json!([]), "left in the DOM");
    let scripts = browser
        .execute(
            "return Array.from(document.scripts).map(s => s.getAttribute('src'));",
            serde_json::json!([]),
        )
        .expect("script");
    let scripts: Vec<String> = scripts
        .as_array()
        .expect("a list")
        .iter()
        .map(|src| src.as_str().unwrap_or("inline").to_owned())
        .collect();
    assert_eq!(scripts.len(), 1, "{scripts:?}");
    assert!(scripts[0].starts_with("/assets/quarry.js"), "{scripts:?}");
    let safe = browser
        .execute(
            "return document.querySelector('#readme a[href=\"https://example.com/docs\"]') !== null;",
            serde_json::json!([]),
        )
        .expect("script");
    assert_eq!(safe, serde_json::json!(true), "the safe link keeps working");
    let console = browser.console().expect("console");
    assert!(
        console.iter().all(|line| !line.contains("pwned")),
        "{console:?}"
    );
}

#[test]
fn with_token_reads_pages_need_a_session_and_posts_a_valid_csrf_token() {
    let site = Site::start(&["--read-access", "token"]);
    let browser = Browser::start().expect("chromium starts");
    browser
        .goto(&site.url("/blueprints/fixtures/greeter/1.0.0"))
        .expect("page");
    browser.wait_for("#token").expect("the login form");
    let url = browser.url().expect("url");
    assert!(
        url.contains("/login?next=%2Fblueprints%2Ffixtures%2Fgreeter%2F1%2E0%2E0"),
        "{url}"
    );
    let field = browser.find("#token").expect("token field");
    browser.type_into(&field, &site.token).expect("type");
    browser
        .follow(&browser.find(".login button").expect("sign in"))
        .expect("submit");
    browser
        .wait_for("#stack-form")
        .expect("back at the blueprint");
    assert!(
        browser
            .is_at("/blueprints/fixtures/greeter/1.0.0")
            .expect("url")
    );
    let who = browser.text_of(".who").expect("text");
    assert_eq!(who, "ui-tests");
    // The token is in no page, no URL and no cookie.
    let source = browser
        .execute(
            "return document.documentElement.outerHTML;",
            serde_json::json!([]),
        )
        .expect("source");
    assert!(!source.as_str().unwrap_or_default().contains(&site.token));
    assert!(
        !browser
            .cookie_header()
            .expect("cookies")
            .contains(&site.token)
    );

    let csrf = browser
        .execute(
            "return document.querySelector('#stack-form input[name=csrf]').value;",
            serde_json::json!([]),
        )
        .expect("csrf");
    let csrf = csrf.as_str().expect("a token").to_owned();
    fn form(csrf: Option<&str>) -> Vec<(&str, &str)> {
        let mut pairs = vec![
            ("input.who", "Ada"),
            ("input.environment", "dev"),
            ("input.api_key", "long-enough-key"),
        ];
        if let Some(csrf) = csrf {
            pairs.push(("csrf", csrf));
        }
        pairs
    }
    let path = "/blueprints/fixtures/greeter/1.0.0/preview";
    for (csrf, expected) in [
        (None, 403),
        (Some("0".repeat(64)), 403),
        (Some(csrf.clone()), 200),
    ] {
        let response = site
            .as_browser(&browser, reqwest::Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&form(csrf.as_deref())))
            .send()
            .expect("post");
        assert_eq!(response.status().as_u16(), expected, "csrf {csrf:?}");
    }
    // Another site's form is refused even with the token.
    let response = site
        .as_browser(&browser, reqwest::Method::POST, path)
        .header("origin", "http://evil.test")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&form(Some(&csrf))))
        .send()
        .expect("post");
    assert_eq!(response.status().as_u16(), 403);

    // Signing out ends the session: pages redirect to the login form again.
    browser
        .follow(
            &browser
                .find("form[action='/logout'] button")
                .expect("sign out"),
        )
        .expect("sign out");
    browser.goto(&site.url("/")).expect("home");
    browser.wait_for("#token").expect("the login form again");
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form_body(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (byte as char).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}
