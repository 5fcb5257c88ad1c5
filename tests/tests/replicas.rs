//! Two `quarry serve` replicas on one PostgreSQL and one S3 bucket, as a scaled-out registry
//! runs: a publish on one is seen on the other within 2 s; a signed archive URL from one works on
//! the other; fifty publishes of one version split across both have exactly one winner; and a
//! SIGKILL of one replica mid-publish loses nothing the other lists.
//!
//! Needs `QUARRY_TEST_DATABASE_URL` (a PostgreSQL server) and `QUARRY_TEST_STORAGE_URL` (an
//! object store, with its `AWS_*` settings), which `scripts/test` sets for its PostgreSQL and
//! Garage run; without them it says so and passes.

use quarry_e2e::*;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

fn get_json(url: &str, token: &str) -> (u16, serde_json::Value) {
    let response = client().get(url).bearer_auth(token).send().expect("GET");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(serde_json::Value::Null))
}

fn publish(
    url: &str,
    token: &str,
    module: &str,
    version: &str,
    body: reqwest::blocking::Body,
) -> reqwest::Result<u16> {
    let response = client()
        .post(format!("{url}/v1/modules/{module}/{version}"))
        .bearer_auth(token)
        .header("content-type", "application/gzip")
        .body(body)
        .send()?;
    Ok(response.status().as_u16())
}

fn versions(url: &str, token: &str, module: &str) -> Vec<String> {
    let (_, body) = get_json(&format!("{url}/v1/modules/{module}/versions"), token);
    body["modules"][0]["versions"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v["version"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The archive a replica hands out for a version (following its signed URL without a token,
/// as terraform does), with the digest it lists.
fn fetched_and_listed(url: &str, token: &str, module: &str, version: &str) -> (String, String) {
    let (status, detail) = get_json(&format!("{url}/v1/modules/{module}/{version}"), token);
    assert_eq!(status, 200, "{url} {module} {version}: {detail}");
    let location = signed_location(url, token, module, version);
    let bytes = client()
        .get(format!("{url}{location}"))
        .send()
        .and_then(|response| response.error_for_status())
        .and_then(|response| response.bytes())
        .expect("archive");
    (
        quarry_core::digest::Sha256::of(&bytes).to_hex(),
        detail["archive"]["sha256"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn signed_location(url: &str, token: &str, module: &str, version: &str) -> String {
    let download = client()
        .get(format!("{url}/v1/modules/{module}/{version}/download"))
        .bearer_auth(token)
        .send()
        .expect("download");
    assert_eq!(download.status().as_u16(), 204, "download of {version}");
    download.headers()["x-terraform-get"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

#[test]
fn replicas_on_one_database_and_one_bucket_share_publishes_urls_races_and_crashes() {
    let (Ok(database), Ok(storage)) = (
        std::env::var("QUARRY_TEST_DATABASE_URL"),
        std::env::var("QUARRY_TEST_STORAGE_URL"),
    ) else {
        eprintln!(
            "not run: needs QUARRY_TEST_DATABASE_URL and QUARRY_TEST_STORAGE_URL (scripts/test sets both)"
        );
        return;
    };
    // The server's database is shared by earlier runs: a module of this run's own.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos()
        % 1_000_000_000;
    let module = format!("replicas/race{run}/aws");
    let storage = format!("{}/replicas-{run}", storage.trim_end_matches('/'));
    let signing_key = "a key both replicas share, 32 characters or more";
    let args = [
        "--database-url",
        &database,
        "--storage",
        &storage,
        "--signing-key",
        signing_key,
        "--read-access",
        "token",
        "--writes-per-minute-per-token",
        "0",
        "--writes-per-minute-per-address",
        "0",
    ];
    let mut a = Quarry::start(&args).expect("replica A starts");
    let b = Quarry::start(&args).expect("replica B starts");
    let token = |name: &str, scope: &str| {
        let output = a
            .command(&[
                "--database-url",
                &database,
                "--storage",
                &storage,
                "token",
                "create",
                "--name",
                &format!("{name}-{run}"),
                "--scope",
                scope,
            ])
            .expect("token create");
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    };
    let publisher = token("publisher", "publish:replicas");
    let reader = token("reader", "read");

    // B reads first (and caches that there is nothing), then A publishes.
    assert!(versions(&b.url, &reader, &module).is_empty());
    let status = publish(
        &a.url,
        &publisher,
        &module,
        "1.0.0",
        seeded_module(1, 500).into(),
    )
    .expect("publish on A");
    assert_eq!(status, 201);
    let published = Instant::now();
    while versions(&b.url, &reader, &module) != ["1.0.0"] {
        assert!(
            published.elapsed() < Duration::from_secs(2),
            "B did not list A's publish within 2 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let seen_after = published.elapsed();

    // A signed archive URL from A works on B (and a tampered one does not).
    let location = signed_location(&a.url, &reader, &module, "1.0.0");
    let from_b = client()
        .get(format!("{}{location}", b.url))
        .send()
        .expect("GET on B");
    assert_eq!(from_b.status().as_u16(), 200, "A's signed URL on B");
    let tampered = location.replacen("sig=", "sig=0", 1);
    let refused = client()
        .get(format!("{}{tampered}", b.url))
        .send()
        .expect("GET on B");
    assert_eq!(refused.status().as_u16(), 403, "a tampered signature on B");

    // Fifty publishes of one version, alternating between the replicas, at one instant.
    let barrier = Arc::new(Barrier::new(50));
    let racers: Vec<_> = (0..50)
        .map(|seed| {
            let url = if seed % 2 == 0 { &a.url } else { &b.url }.clone();
            let (token, module, barrier) = (publisher.clone(), module.clone(), barrier.clone());
            std::thread::spawn(move || {
                let body = seeded_module(100 + seed, 2_000);
                let digest = quarry_core::digest::Sha256::of(&body).to_hex();
                barrier.wait();
                let status = publish(&url, &token, &module, "2.0.0", body.into()).expect("race");
                (status, digest)
            })
        })
        .collect();
    let results: Vec<(u16, String)> = racers
        .into_iter()
        .map(|racer| racer.join().expect("thread"))
        .collect();
    let winners: Vec<&String> = results
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, digest)| digest)
        .collect();
    let conflicts = results.iter().filter(|(status, _)| *status == 409).count();
    assert_eq!(
        (winners.len(), conflicts),
        (1, 49),
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    for replica in [&a, &b] {
        let (fetched, listed) = fetched_and_listed(&replica.url, &reader, &module, "2.0.0");
        assert_eq!(fetched, listed);
        assert_eq!(&fetched, winners[0], "the stored archive is the winner's");
    }

    // SIGKILL A while uploads stream into it: B lists nothing without its archive, every 201
    // is listed, and every other publish can be retried on B.
    let uploads: Vec<Vec<u8>> = (0..8)
        .map(|i| seeded_module(200 + i, 20_000 + i * 15_000))
        .collect();
    let streams: Vec<_> = uploads
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let (url, token, module) = (a.url.clone(), publisher.clone(), module.clone());
            let body = reqwest::blocking::Body::new(SlowBody::new(bytes.clone()));
            std::thread::spawn(move || {
                publish(&url, &token, &module, &format!("3.{i}.0"), body).ok()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    a = a.crash_and_restart(&args).expect("A restarts");
    let outcomes: Vec<Option<u16>> = streams
        .into_iter()
        .map(|stream| stream.join().expect("thread"))
        .collect();
    assert!(
        outcomes.iter().any(|outcome| *outcome != Some(201)),
        "the kill must interrupt an upload for this to mean anything: {outcomes:?}"
    );
    std::thread::sleep(Duration::from_millis(1_500));
    let listed = versions(&b.url, &reader, &module);
    for version in &listed {
        let (fetched, recorded) = fetched_and_listed(&b.url, &reader, &module, version);
        assert_eq!(fetched, recorded, "{version} on B");
    }
    for (i, bytes) in uploads.iter().enumerate() {
        let version = format!("3.{i}.0");
        if outcomes[i] == Some(201) {
            assert!(listed.contains(&version), "{version} was acknowledged");
        }
        let status = publish(&b.url, &publisher, &module, &version, bytes.clone().into())
            .expect("retry on B");
        assert!(
            status == 201 || status == 409,
            "{version}: retry answered {status}"
        );
        // A publish on B reaches A's caches through the change feed, within 2 s.
        let retried = Instant::now();
        while !versions(&a.url, &reader, &module).contains(&version) {
            assert!(
                retried.elapsed() < Duration::from_secs(2),
                "A did not list {version} within 2 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (fetched, recorded) = fetched_and_listed(&a.url, &reader, &module, &version);
        assert_eq!(fetched, recorded);
        assert_eq!(fetched, quarry_core::digest::Sha256::of(bytes).to_hex());
    }
    eprintln!("B listed A's publish {seen_after:?} after its 201");
}
