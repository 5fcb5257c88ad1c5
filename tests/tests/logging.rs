//! What the real binary logs by default: not a line per request (a busy registry would fill a
//! disk), but every refused write, with the request id its answer carries; a client flooding
//! past its rate limit adds no lines. `--access-log` logs every request.

use quarry_e2e::*;

/// The JSON log events quarry wrote with this message.
fn events(quarry: &Quarry, message: &str) -> Vec<serde_json::Value> {
    quarry
        .drain_logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["fields"]["message"] == message)
        .collect()
}

/// A publish of 16 zero bytes (not an archive) with `token`: the status and the request id.
fn refused_publish(client: &reqwest::blocking::Client, url: &str, token: &str) -> (u16, String) {
    let answer = client
        .post(format!("{url}/v1/modules/acme/net/aws/1.0.0"))
        .bearer_auth(token)
        .header("content-type", "application/gzip")
        .body(vec![0u8; 16])
        .send()
        .expect("POST");
    let id = answer.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    (answer.status().as_u16(), id)
}

#[test]
fn by_default_only_refused_writes_are_logged_each_with_its_request_id() {
    let quarry = Quarry::start(&["--writes-per-minute-per-address", "3"]).expect("quarry starts");
    let client = reqwest::blocking::Client::new();
    for _ in 0..5 {
        let answer = client
            .get(format!("{}/v1/modules", quarry.url))
            .send()
            .expect("GET");
        assert_eq!(answer.status().as_u16(), 200);
    }
    let (status, id) = refused_publish(&client, &quarry.url, "not-a-token");
    assert_eq!(status, 401);
    // Refused bodies, then past the per-address limit: 429, which is not logged.
    let token = quarry.token("ci", &["publish:acme"]).expect("token");
    let statuses: Vec<u16> = (0..6)
        .map(|_| refused_publish(&client, &quarry.url, &token).0)
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let logs = quarry.drain_logs();
    let parsed: Vec<serde_json::Value> = logs
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let with = |message: &str| {
        parsed
            .iter()
            .filter(|event| event["fields"]["message"] == message)
            .collect::<Vec<_>>()
    };
    assert!(with("request").is_empty(), "reads were logged: {logs:?}");
    let refused = with("write refused");
    let logged_statuses: Vec<u64> = refused
        .iter()
        .filter_map(|event| event["fields"]["status"].as_u64())
        .collect();
    assert!(!logged_statuses.contains(&429), "{logged_statuses:?}");
    assert_eq!(
        logged_statuses.len(),
        statuses.iter().filter(|status| **status != 429).count() + 1,
        "one line per refused write that was not rate-limited: {logs:?}"
    );
    assert_eq!(refused[0]["fields"]["id"], id.as_str());
    assert_eq!(
        refused[0]["fields"]["path"],
        "/v1/modules/acme/net/aws/1.0.0"
    );
}

#[test]
fn the_access_log_logs_every_request() {
    let quarry = Quarry::start(&["--access-log"]).expect("quarry starts");
    for path in ["/healthz", "/v1/modules", "/v1/blueprints"] {
        let answer = reqwest::blocking::get(format!("{}{path}", quarry.url)).expect("GET");
        assert_eq!(answer.status().as_u16(), 200);
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let logged: Vec<String> = events(&quarry, "request")
        .iter()
        .filter_map(|event| event["fields"]["path"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(logged, ["/healthz", "/v1/modules", "/v1/blueprints"]);
}
