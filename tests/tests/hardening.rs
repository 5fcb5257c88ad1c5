//! The real `quarry` binary over real sockets, attacked as a publisher and then anonymously: while
//! two hostile requests of each class run at once, `/healthz` answers within a second, the
//! server's own memory stays under its bound, each request ends with a 4xx or 503 naming the
//! limit it hit, and nothing stored changes. SIGTERM stops the server within 5 s even while a
//! hostile render runs.

use anyhow::Result;
use quarry_core::test_support::pack_blueprint;
use quarry_e2e::Quarry;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The most the server process itself may hold at its peak during these attacks. Hostile work
/// runs in worker processes, each limited to the render budget below.
const SERVER_RSS_BOUND: u64 = 128 << 20;

const FLAGS: [&str; 8] = [
    "--render-timeout",
    "3",
    "--render-memory",
    "64",
    "--sandbox-workers",
    "2",
    "--check-timeout",
    "5",
];

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client")
}

/// What clients and the disk see of the stored data.
fn stored(quarry: &Quarry) -> Result<Value> {
    let mut snapshot = serde_json::Map::new();
    for path in ["/v1/modules?limit=100", "/v1/blueprints?limit=100"] {
        let body: Value = client()
            .get(format!("{}{path}", quarry.url))
            .send()?
            .json()?;
        snapshot.insert(path.to_owned(), body);
    }
    let files = quarry_core::test_support::files_under(&quarry.data_dir.path().join("objects"));
    snapshot.insert("objects".into(), json!(files));
    Ok(Value::Object(snapshot))
}

/// Runs `request` twice at once while asking `/healthz` every 100 ms; fails when a health check
/// takes a second or more. Returns both answers.
fn two_at_once(
    url: &str,
    request: impl Fn() -> Result<(u16, String)> + Send + Sync,
) -> Result<Vec<(u16, String)>> {
    std::thread::scope(|scope| {
        let first = scope.spawn(&request);
        let second = scope.spawn(&request);
        let mut slowest = Duration::ZERO;
        let health = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()?;
        while !(first.is_finished() && second.is_finished()) {
            let started = Instant::now();
            let answer = health.get(format!("{url}/healthz")).send()?;
            assert_eq!(answer.status().as_u16(), 200);
            slowest = slowest.max(started.elapsed());
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(slowest < Duration::from_secs(1), "healthz took {slowest:?}");
        let answers = [first, second]
            .into_iter()
            .map(|handle| handle.join().expect("request thread"))
            .collect::<Result<Vec<_>>>()?;
        Ok(answers)
    })
}

fn post_inputs(url: &str, path: &str, inputs: &Value) -> Result<(u16, String)> {
    let response = client()
        .post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .body(inputs.to_string())
        .send()?;
    Ok((response.status().as_u16(), response.text()?))
}

/// Both answers are a 4xx or 503, and at least one names `limit` (the other may have been
/// refused as busy while the first held a worker).
fn refused_naming(answers: &[(u16, String)], limit: &str) {
    for (status, body) in answers {
        assert!(
            (400..500).contains(status) || *status == 503,
            "{status}: {body}"
        );
        assert!(
            body.contains(limit) || body.contains("the registry is busy"),
            "{status}: {body}"
        );
    }
    assert!(
        answers.iter().any(|(_, body)| body.contains(limit)),
        "{answers:?}"
    );
}

#[test]
fn hostile_requests_are_bounded_and_the_server_stays_responsive() -> Result<()> {
    let quarry = Quarry::start(&FLAGS)?;
    let token = quarry.token("ci", &["publish:hostile"])?;
    let url = quarry.url.as_str();
    let inputs = json!({ "type": "object", "properties": { "xs": { "type": "array" } } });
    let hostile = [
        (
            "cpu",
            "{% for a in range(end=100000) %}{% for b in range(end=100000) %}{% for c in range(end=100000) %}{% endfor %}{% endfor %}{% endfor %}".to_owned(),
        ),
        (
            "memory",
            "{% set_global s = \"0123456789abcdef\" %}{% for i in range(end=40) %}{% set_global s = s ~ s %}{% endfor %}{{ s | length }}".to_owned(),
        ),
        (
            "output",
            "{% for a in range(end=100000) %}{% for b in range(end=100000) %}0123456789abcdef{% endfor %}{% endfor %}".to_owned(),
        ),
    ];
    for (name, template) in &hostile {
        let archive = pack_blueprint(
            name,
            &inputs,
            "",
            &[("template/main.tf.tera", template.as_bytes())],
        );
        quarry.published(
            &token,
            &format!("/v1/blueprints/hostile/{name}/1.0.0"),
            archive,
        )?;
    }
    let before = stored(&quarry)?;

    // Finding 1, 3: renders and validations that would run for ever, grow without output, or
    // write without end; anonymous callers, two at a time.
    for (name, limit) in [
        ("cpu", "took longer than the limit of 3 s"),
        ("memory", "needed more memory than the limit of 64 MiB"),
        ("output", "bytes in all, the render's output limit"),
    ] {
        for action in ["render", "validate"] {
            let path = format!("/v1/blueprints/hostile/{name}/1.0.0/{action}");
            let answers = two_at_once(url, || post_inputs(url, &path, &json!({})))?;
            refused_naming(&answers, limit);
        }
    }

    // Finding 2: policies whose parse cost explodes with nesting, published twice at once.
    let answers = two_at_once(url, || {
        let policy = format!(
            "package p\n\nx := {}1{}\n",
            "[{\"a\":".repeat(30),
            "}]".repeat(30)
        );
        let archive = pack_blueprint(
            "rego",
            &inputs,
            "policies:\n  - id: p\n    type: plan\n    file: policies/p.rego\n",
            &[("policies/p.rego", policy.as_bytes())],
        );
        let (status, body) =
            quarry.publish(&token, "/v1/blueprints/hostile/rego/1.0.0", archive)?;
        Ok((status, body))
    })?;
    refused_naming(&answers, "brackets nest more than 12 levels deep");

    // Finding 4: a manifest nested just inside what the YAML reader takes.
    let answers = two_at_once(url, || {
        let deep = format!("{}1{}", "[".repeat(120), "]".repeat(120));
        let archive = pack_blueprint(
            "deep",
            &json!({ "type": "object", "default": "PLACEHOLDER" }),
            "",
            &[],
        );
        let files = quarry_core::archive::read_files(&archive, &Default::default())?;
        let manifest =
            String::from_utf8_lossy(&files["blueprint.yaml"]).replace("\"PLACEHOLDER\"", &deep);
        let mut files = files;
        files.insert("blueprint.yaml".into(), manifest.into_bytes());
        let archive = quarry_core::archive::pack_files(&files)?;
        let (status, body) =
            quarry.publish(&token, "/v1/blueprints/hostile/deep/1.0.0", archive)?;
        Ok((status, body))
    })?;
    refused_naming(&answers, "more than the limit of 64");

    assert_eq!(
        stored(&quarry)?,
        before,
        "the attacks changed nothing stored"
    );

    // Finding 7: listings read no READMEs: a blueprint with a README at the 1 MiB limit in five
    // versions, listed four times at once.
    let readme = "#".repeat(1 << 20);
    for version in ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"] {
        let archive = pack_blueprint("wordy", &inputs, "", &[("README.md", readme.as_bytes())]);
        quarry.published(
            &token,
            &format!("/v1/blueprints/hostile/wordy/{version}"),
            archive,
        )?;
    }
    let answers = two_at_once(url, || {
        let mut last = (0, String::new());
        for _ in 0..2 {
            let response = client()
                .get(format!("{url}/v1/blueprints?limit=100"))
                .send()?;
            last = (response.status().as_u16(), response.text()?);
            assert_eq!(last.0, 200, "{}", last.1);
            assert!(last.1.len() < 64 * 1024, "the listing holds no README");
        }
        Ok(last)
    })?;
    assert!(answers.iter().all(|(status, _)| *status == 200));
    let over = "#".repeat((1 << 20) + 1);
    let archive = pack_blueprint("wordier", &inputs, "", &[("README.md", over.as_bytes())]);
    let (status, body) = quarry.publish(&token, "/v1/blueprints/hostile/wordier/1.0.0", archive)?;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().contains("limit of 1048576 bytes"),
        "{body}"
    );
    let before = stored(&quarry)?;

    // Finding 8: ranges at the edge of u64, on GET and HEAD.
    let listing: Value = client()
        .get(format!("{}/v1/blueprints/hostile/cpu/1.0.0", quarry.url))
        .send()?
        .json()?;
    let digest = listing["archive"]["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let size = listing["archive"]["size"].as_u64().unwrap_or_default();
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let response = client()
            .request(
                method.clone(),
                format!("{}/v1/archives/{digest}.tar.gz", quarry.url),
            )
            .header("range", "bytes=0-18446744073709551615")
            .send()?;
        assert_eq!(response.status().as_u16(), 206, "{method}");
        assert_eq!(
            response.headers()["content-length"].to_str()?,
            size.to_string(),
            "{method}"
        );
    }

    let peak = quarry.peak_rss()?;
    assert!(
        peak < SERVER_RSS_BOUND,
        "the server's peak RSS was {} MiB",
        peak >> 20
    );
    assert_eq!(stored(&quarry)?, before);
    Ok(())
}

#[test]
fn sigterm_stops_the_server_within_five_seconds_while_a_hostile_render_runs() -> Result<()> {
    let mut quarry = Quarry::start(&["--render-timeout", "60", "--sandbox-workers", "2"])?;
    let token = quarry.token("ci", &["publish:hostile"])?;
    let template = "{% for a in range(end=100000) %}{% for b in range(end=100000) %}{% for c in range(end=100000) %}{% endfor %}{% endfor %}{% endfor %}";
    let archive = pack_blueprint(
        "forever",
        &json!({ "type": "object" }),
        "",
        &[("template/main.tf.tera", template.as_bytes())],
    );
    let (status, body) = quarry.publish(&token, "/v1/blueprints/hostile/forever/1.0.0", archive)?;
    assert_eq!(status, 201, "{body}");
    let url = format!("{}/v1/blueprints/hostile/forever/1.0.0/render", quarry.url);
    let render = std::thread::spawn(move || {
        client()
            .post(url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .map(|response| response.status().as_u16())
    });
    std::thread::sleep(Duration::from_millis(800));
    let workers = quarry.children();
    assert!(!workers.is_empty(), "the render runs in a worker");
    let took = quarry.terminate(Duration::from_secs(5))?;
    assert!(took < Duration::from_secs(5), "{took:?}");
    // The render was stopped with the server: 503, or the connection closed.
    match render.join().expect("render thread") {
        Ok(status) => assert_eq!(status, 503),
        Err(error) => assert!(error.is_connect() || error.is_request(), "{error}"),
    }
    // No worker outlives the server.
    std::thread::sleep(Duration::from_millis(300));
    for pid in workers {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let running = state
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z");
        assert!(!running, "worker {pid} is still running: {state}");
    }
    Ok(())
}
