//! Races and crashes against the real binary over real sockets: concurrent publishes of one
//! version produce exactly one winner whose archive is the one stored; publishes of different
//! versions all land; a SIGKILL while uploads stream in loses nothing listed, and every
//! interrupted publish can simply be retried.

use quarry_e2e::*;
use std::sync::{Arc, Barrier};
use std::time::Duration;

const UNLIMITED: [&str; 4] = [
    "--writes-per-minute-per-token",
    "0",
    "--writes-per-minute-per-address",
    "0",
];

fn publish(
    url: &str,
    token: &str,
    version: &str,
    body: reqwest::blocking::Body,
) -> reqwest::Result<(u16, serde_json::Value)> {
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?
        .post(format!("{url}/v1/modules/acme/race/aws/{version}"))
        .bearer_auth(token)
        .header("content-type", "application/gzip")
        .body(body)
        .send()?;
    let status = response.status().as_u16();
    Ok((status, response.json().unwrap_or(serde_json::Value::Null)))
}

fn versions(url: &str) -> Vec<String> {
    let body: serde_json::Value =
        reqwest::blocking::get(format!("{url}/v1/modules/acme/race/aws/versions"))
            .and_then(reqwest::blocking::Response::json)
            .unwrap_or(serde_json::Value::Null);
    body["modules"][0]["versions"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v["version"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Downloads a version through the protocol and returns the archive's sha256 and the digest the
/// registry lists for it.
fn fetched_and_listed_digest(url: &str, version: &str) -> (String, String) {
    let client = reqwest::blocking::Client::new();
    let detail: serde_json::Value = client
        .get(format!("{url}/v1/modules/acme/race/aws/{version}"))
        .send()
        .and_then(reqwest::blocking::Response::json)
        .expect("detail");
    let download = client
        .get(format!("{url}/v1/modules/acme/race/aws/{version}/download"))
        .send()
        .expect("download");
    let location = download.headers()["x-terraform-get"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let bytes = client
        .get(format!("{url}{location}"))
        .send()
        .and_then(|r| r.bytes())
        .expect("archive");
    quarry_core::archive::inspect_module(&bytes, &quarry_core::archive::Limits::default())
        .expect("a readable archive");
    (
        quarry_core::digest::Sha256::of(&bytes).to_hex(),
        detail["archive"]["sha256"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Fifty publishes of `version(seed)` started at the same instant, each with its own archive:
/// their answers, by seed.
fn fifty_at_once(quarry: &Quarry, version: fn(usize) -> String) -> Vec<(u16, serde_json::Value)> {
    let token = quarry.token("ci", &["publish:acme"]).expect("token");
    let barrier = Arc::new(Barrier::new(50));
    let handles: Vec<_> = (0..50)
        .map(|seed| {
            let (url, token, barrier) = (quarry.url.clone(), token.clone(), barrier.clone());
            std::thread::spawn(move || {
                let body = seeded_module(seed, 2_000);
                barrier.wait();
                publish(&url, &token, &version(seed), body.into()).expect("request")
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect()
}

#[test]
fn fifty_simultaneous_publishes_of_one_version_have_exactly_one_winner() {
    let quarry = Quarry::start(&UNLIMITED).expect("quarry starts");
    let results = fifty_at_once(&quarry, |_| "1.0.0".to_owned());
    let winners: Vec<&serde_json::Value> = results
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, body)| body)
        .collect();
    let conflicts = results.iter().filter(|(status, _)| *status == 409).count();
    assert_eq!(
        (winners.len(), conflicts),
        (1, 49),
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert_eq!(versions(&quarry.url), ["1.0.0"]);
    let (fetched, listed) = fetched_and_listed_digest(&quarry.url, "1.0.0");
    assert_eq!(fetched, listed);
    assert_eq!(
        winners[0]["archive_sha256"].as_str(),
        Some(fetched.as_str()),
        "the stored archive is the winner's"
    );
}

#[test]
fn concurrent_publishes_of_different_versions_all_land() {
    let quarry = Quarry::start(&UNLIMITED).expect("quarry starts");
    let statuses: Vec<u16> = fifty_at_once(&quarry, |seed| format!("1.{seed}.0"))
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let mut listed = versions(&quarry.url);
    listed.sort();
    let mut expected: Vec<String> = (0..50).map(|seed| format!("1.{seed}.0")).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[test]
fn sigkill_during_uploads_loses_nothing_and_interrupted_publishes_can_be_retried() {
    const ROUNDS: usize = 3;
    const UPLOADS: usize = 12;
    let mut quarry = Quarry::start(&UNLIMITED).expect("quarry starts");
    let token = quarry.token("ci", &["publish:acme"]).expect("token");
    let mut interrupted_total = 0;
    let mut acknowledged_total = 0;
    for round in 0..ROUNDS {
        let archives: Vec<Vec<u8>> = (0..UPLOADS)
            .map(|i| seeded_module(round * 100 + i, 2_000 + i * 12_000))
            .collect();
        let handles: Vec<_> = archives
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let (url, token) = (quarry.url.clone(), token.clone());
                let body = reqwest::blocking::Body::new(SlowBody::new(bytes.clone()));
                std::thread::spawn(move || {
                    publish(&url, &token, &format!("{round}.{i}.0"), body)
                        .map(|r| r.0)
                        .ok()
                })
            })
            .collect();
        // Some uploads complete, the rest are mid-stream when the server dies.
        std::thread::sleep(Duration::from_millis(250 + 60 * round as u64));
        quarry = quarry
            .crash_and_restart(&UNLIMITED)
            .expect("restarts on the same data");
        let outcomes: Vec<Option<u16>> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();

        // Every version listed has its archive, with the digest the registry lists.
        let listed = versions(&quarry.url);
        for version in &listed {
            let (fetched, recorded) = fetched_and_listed_digest(&quarry.url, version);
            assert_eq!(fetched, recorded, "{version}");
        }
        // Every publish that did not answer 201 can simply be retried; those that did are 409.
        for (i, bytes) in archives.iter().enumerate() {
            let version = format!("{round}.{i}.0");
            let (status, _) =
                publish(&quarry.url, &token, &version, bytes.clone().into()).expect("retry");
            if outcomes[i] == Some(201) {
                acknowledged_total += 1;
                assert_eq!(status, 409, "{version} was acknowledged, so it must exist");
            } else {
                interrupted_total += 1;
                assert!(
                    status == 201 || status == 409,
                    "{version}: retry answered {status}"
                );
            }
            let (fetched, recorded) = fetched_and_listed_digest(&quarry.url, &version);
            assert_eq!(fetched, recorded);
            assert_eq!(
                fetched,
                quarry_core::digest::Sha256::of(bytes).to_hex(),
                "{version} holds what was sent"
            );
        }
    }
    assert!(
        interrupted_total > 0,
        "the kill must interrupt some uploads for this test to mean anything"
    );
    // `quarry gc` looks for what the crashes left behind, deleting nothing by default.
    let gc = quarry.command(&["gc", "--min-age", "1s"]).expect("gc runs");
    let summary = String::from_utf8_lossy(&gc.stderr).into_owned();
    assert!(summary.contains("unreferenced archive"), "{summary}");
    assert!(
        summary.contains("dry run: pass --delete to remove them"),
        "{summary}"
    );
    let listed_before = versions(&quarry.url);
    quarry
        .command(&["gc", "--delete", "--min-age", "1s"])
        .expect("gc --delete runs");
    assert_eq!(versions(&quarry.url), listed_before);
    for version in &listed_before {
        let (fetched, recorded) = fetched_and_listed_digest(&quarry.url, version);
        assert_eq!(fetched, recorded, "gc kept {version}'s archive");
    }
    eprintln!(
        "crash test: {ROUNDS} SIGKILLs survived, {} uploads: {acknowledged_total} acknowledged before the kill \
         (all still there), {interrupted_total} interrupted and retried; nothing lost",
        ROUNDS * UPLOADS
    );
}
