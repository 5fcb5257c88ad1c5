//! A serving registry keeps the tokens it verified (reads need no database round trip), yet a
//! token revoked with `quarry token revoke`, from another process, is refused within the change
//! feed's period: about a second, 2 s here.

use quarry_e2e::*;
use std::time::{Duration, Instant};

#[test]
fn a_token_revoked_from_the_console_is_refused_by_the_running_server_within_2_s() {
    let quarry = Quarry::start(&["--read-access", "token"]).expect("quarry starts");
    let publisher = quarry.token("ci", &["publish:acme"]).expect("token");
    let reader = quarry.token("reader", &["read"]).expect("token");
    quarry
        .published(
            &publisher,
            "/v1/modules/acme/net/aws/1.0.0",
            seeded_module(1, 0),
        )
        .expect("published");
    let client = reqwest::blocking::Client::new();
    let versions = format!("{}/v1/modules/acme/net/aws/versions", quarry.url);
    let status = || {
        client
            .get(&versions)
            .bearer_auth(&reader)
            .send()
            .expect("GET versions")
            .status()
            .as_u16()
    };
    for _ in 0..3 {
        assert_eq!(status(), 200, "the reader reads");
    }

    quarry
        .command(&["token", "revoke", "reader"])
        .expect("revoked");
    let revoked = Instant::now();
    while status() == 200 {
        assert!(
            revoked.elapsed() < Duration::from_secs(2),
            "the revoked token was still accepted 2 s later"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status(), 401);
    assert_eq!(
        client
            .get(&versions)
            .bearer_auth(&publisher)
            .send()
            .expect("GET versions")
            .status(),
        200,
        "other tokens are untouched"
    );
}
