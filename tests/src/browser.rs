//! A real headless Chromium for the web UI's tests, driven over the W3C WebDriver protocol by
//! Debian's `chromedriver`, and a recording proxy to put between the browser and the registry so
//! a test can read every request and answer the browser exchanged.
//!
//! The browser resolves `registry.test` to the loopback address (`--host-resolver-rules`), so
//! pages are served under the same host name terraform's CLI configuration maps.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The flags Chromium needs to run headless as root on these machines.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
];

/// The key WebDriver names an element reference with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A headless Chromium session, closed (with its driver) when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    http: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts `chromedriver` and a Chromium session with a fresh profile.
    pub fn start() -> Result<Self> {
        let chromium = on_path("chromium").context(
            "Debian's `chromium` is not on PATH: `apt-get install chromium chromium-driver` \
             (.ci/run installs them)",
        )?;
        let chromedriver = on_path("chromedriver")
            .context("Debian's `chromedriver` is not on PATH: `apt-get install chromium-driver`")?;
        let port = free_port()?;
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let profile = tempfile::tempdir()?;
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let mut browser = Self {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            http,
            _profile: profile,
        };
        let ready = Instant::now() + Duration::from_secs(20);
        while browser
            .http
            .get(format!("{}/status", browser.base))
            .send()
            .is_err()
        {
            if Instant::now() > ready {
                bail!("chromedriver did not answer within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            browser._profile.path().display()
        ));
        args.push("--host-resolver-rules=MAP registry.test 127.0.0.1".into());
        args.push("--window-size=1280,1600".into());
        let session = browser.post_raw(
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args},
                "goog:loggingPrefs": {"browser": "ALL"},
            }}}),
        )?;
        let id = session["sessionId"]
            .as_str()
            .context("a new session has an id")?;
        browser.base = format!("{}/session/{id}", browser.base);
        Ok(browser)
    }

    fn post_raw(&self, path: &str, body: Value) -> Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()?;
        Self::value(response)
    }

    fn value(response: reqwest::blocking::Response) -> Result<Value> {
        let status = response.status();
        let body: Value = response.json()?;
        if !status.is_success() {
            bail!(
                "webdriver: {} {}",
                body["value"]["error"],
                body["value"]["message"]
            );
        }
        Ok(body["value"].clone())
    }

    fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.post_raw(path, body)
    }

    fn get(&self, path: &str) -> Result<Value> {
        Self::value(self.http.get(format!("{}{path}", self.base)).send()?)
    }

    /// Opens `url` and waits for the page to load.
    pub fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url }))?;
        Ok(())
    }

    pub fn url(&self) -> Result<String> {
        Ok(self.get("/url")?.as_str().unwrap_or_default().to_owned())
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> Result<Element> {
        let found = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .with_context(|| format!("finding `{css}`"))?;
        Ok(Element(
            found[ELEMENT]
                .as_str()
                .context("an element reference")?
                .to_owned(),
        ))
    }

    /// Every element matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let found = self.post("/elements", json!({"using": "css selector", "value": css}))?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|element| element[ELEMENT].as_str())
            .map(|id| Element(id.to_owned()))
            .collect())
    }

    /// Waits up to 10 s for an element matching `css`.
    pub fn wait_for(&self, css: &str) -> Result<Element> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.find(css) {
                Ok(element) => return Ok(element),
                Err(error) if Instant::now() > deadline => {
                    return Err(error.context(format!("waiting 10 s for `{css}`")));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Waits up to 10 s for `condition` (a JavaScript expression) to be true.
    pub fn wait_until(&self, condition: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.execute(&format!("return Boolean({condition});"), json!([]))? != json!(true) {
            if Instant::now() > deadline {
                bail!("waited 10 s for `{condition}`");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    pub fn click(&self, element: &Element) -> Result<()> {
        self.post(&format!("/element/{}/click", element.0), json!({}))?;
        Ok(())
    }

    /// Clicks a link or submit button and waits until the page it leads to has replaced this one
    /// and finished loading. Without it, an element looked up next may still be found in the old
    /// page (a result link also listed on the home page, say) and be stale a moment later.
    pub fn follow(&self, element: &Element) -> Result<()> {
        self.execute("window.__quarry_left = false; return null;", json!([]))?;
        self.click(element)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // While the old document is still there the marker reads `false`; a script that
            // runs between the two documents fails, and is simply tried again.
            let replaced = self.execute(
                "return window.__quarry_left === undefined && document.readyState === 'complete';",
                json!([]),
            );
            if matches!(replaced, Ok(Value::Bool(true))) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("waited 10 s for the click to lead to a new page");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Types `text` into an element (after clearing it).
    pub fn type_into(&self, element: &Element, text: &str) -> Result<()> {
        self.post(&format!("/element/{}/clear", element.0), json!({}))?;
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )?;
        Ok(())
    }

    /// An element's attribute, as written in the page.
    pub fn attribute(&self, element: &Element, name: &str) -> Result<Option<String>> {
        let value = self.execute(
            "return arguments[0].getAttribute(arguments[1]);",
            json!([{ ELEMENT: element.0 }, name]),
        )?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// An element's rendered text.
    pub fn text(&self, element: &Element) -> Result<String> {
        Ok(self
            .get(&format!("/element/{}/text", element.0))?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The rendered text of the first element matching `css`.
    pub fn text_of(&self, css: &str) -> Result<String> {
        self.text(&self.find(css)?)
    }

    /// Whether the page's URL ends with `suffix`.
    pub fn is_at(&self, suffix: &str) -> Result<bool> {
        Ok(self.url()?.ends_with(suffix))
    }

    /// Runs a script in the page; its return value.
    pub fn execute(&self, script: &str, args: Value) -> Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
    }

    /// Chooses the option of a `<select>` (by CSS) whose value is `value`, as a user would.
    pub fn choose(&self, select: &str, value: &str) -> Result<()> {
        let option = self.find(&format!("{select} option[value=\"{value}\"]"))?;
        self.click(&option)
    }

    /// The text of an open alert, confirm or prompt dialog, if one is open.
    pub fn open_dialog(&self) -> Option<String> {
        self.get("/alert/text")
            .ok()
            .map(|text| text.as_str().unwrap_or_default().to_owned())
    }

    /// The browser console's messages since the last call.
    pub fn console(&self) -> Result<Vec<String>> {
        let entries = self.post("/se/log", json!({ "type": "browser" }))?;
        Ok(entries
            .as_array()
            .into_iter()
            .flatten()
            .map(|entry| format!("{} {}", entry["level"], entry["message"]))
            .collect())
    }

    /// A PNG of the page as the window shows it.
    pub fn screenshot(&self) -> Result<Vec<u8>> {
        let data = self.get("/screenshot")?;
        Ok(base64::engine::general_purpose::STANDARD
            .decode(data.as_str().context("base64 PNG")?)?)
    }

    /// The cookies of the current page as a `Cookie` header.
    pub fn cookie_header(&self) -> Result<String> {
        let cookies = self.get("/cookie")?;
        Ok(cookies
            .as_array()
            .into_iter()
            .flatten()
            .map(|cookie| {
                format!(
                    "{}={}",
                    cookie["name"].as_str().unwrap_or_default(),
                    cookie["value"].as_str().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; "))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.base).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One request the browser made and the answer it got.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    pub target: String,
    pub request_body: Vec<u8>,
    pub status: u16,
    pub response_body: Vec<u8>,
}

/// An HTTP/1.1 proxy in front of a registry that keeps every exchange, so a test can read what
/// the browser sent and got. Answers are passed on uncompressed (the proxy asks for no
/// encoding).
pub struct RecordingProxy {
    pub port: u16,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

impl RecordingProxy {
    pub fn start(upstream: &str) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let kept = exchanges.clone();
        let upstream = upstream.trim_end_matches('/').to_owned();
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()?;
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (kept, upstream, client) = (kept.clone(), upstream.clone(), client.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &upstream, &client, &kept);
                });
            }
        });
        Ok(Self { port, exchanges })
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges
            .lock()
            .map(|exchanges| exchanges.clone())
            .unwrap_or_default()
    }
}

/// Answers the requests of one connection (kept alive) by passing them on.
fn serve(
    stream: TcpStream,
    upstream: &str,
    client: &reqwest::blocking::Client,
    kept: &Mutex<Vec<Exchange>>,
) -> Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return Ok(());
        };
        let (method, target) = (method.to_owned(), target.to_owned());
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                }
                headers.push((name, value));
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let mut request = client.request(
            reqwest::Method::from_bytes(method.as_bytes())?,
            format!("{upstream}{target}"),
        );
        for (name, value) in &headers {
            let skipped = [
                "accept-encoding",
                "connection",
                "content-length",
                "keep-alive",
            ];
            if !skipped.iter().any(|skip| name.eq_ignore_ascii_case(skip)) {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        let response = request.body(body.clone()).send()?;
        let status = response.status();
        let answer_headers = response.headers().clone();
        let answer = response.bytes()?.to_vec();
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        for (name, value) in &answer_headers {
            let skipped = ["content-length", "transfer-encoding", "connection"];
            if !skipped.contains(&name.as_str()) {
                head.push_str(&format!(
                    "{name}: {}\r\n",
                    value.to_str().unwrap_or_default()
                ));
            }
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", answer.len()));
        writer.write_all(head.as_bytes())?;
        writer.write_all(&answer)?;
        writer.flush()?;
        if let Ok(mut exchanges) = kept.lock() {
            exchanges.push(Exchange {
                method,
                target,
                request_body: body,
                status: status.as_u16(),
                response_body: answer,
            });
        }
    }
}

/// Where the tests leave their screenshots: `target/ui-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::repo_root().join("target"));
    target.join("ui-screenshots")
}
