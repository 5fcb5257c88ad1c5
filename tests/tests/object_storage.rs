//! `--archive-redirect` against a real S3 server: the archive URL terraform is given answers
//! with a redirect to a presigned URL of the bucket; the real `terraform init` follows it and
//! installs the module; and when the object in the bucket is replaced beneath the registry,
//! terraform refuses it (the `checksum=sha256:` the download answer carries).
//!
//! Needs `QUARRY_TEST_STORAGE_URL=s3://…` with the server's `AWS_*` settings, which
//! `scripts/test` sets for its Garage run; without them it says so and passes.

use quarry_e2e::*;
use std::process::Command;

const MAIN_TF: &str = r#"
module "greeting" {
  source  = "registry.test/acme/greeting/generic"
  version = "1.2.0"
  name    = "S3"
}
"#;

#[test]
fn terraform_follows_archive_redirects_to_the_bucket_and_refuses_a_replaced_object() {
    let storage = std::env::var("QUARRY_TEST_STORAGE_URL").unwrap_or_default();
    let (Some(bucket_path), Ok(endpoint), Ok(key_id), Ok(secret)) = (
        storage.strip_prefix("s3://"),
        std::env::var("AWS_ENDPOINT"),
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) else {
        eprintln!(
            "not run: needs QUARRY_TEST_STORAGE_URL=s3://… and AWS_* (scripts/test sets them)"
        );
        return;
    };
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let prefix = format!("{}/redirect-{run}", bucket_path.trim_end_matches('/'));
    let quarry = Quarry::start(&["--storage", &format!("s3://{prefix}"), "--archive-redirect"])
        .expect("quarry starts on S3 with --archive-redirect");
    let token = quarry.token("ci", &["publish:acme"]).expect("token");
    let archive = quarry_core::archive::pack_dir(&fixture_module("greeting")).expect("pack");
    let digest = quarry_core::digest::Sha256::of(&archive).to_hex();
    quarry
        .published(
            &token,
            "/v1/modules/acme/greeting/generic/1.2.0",
            archive.clone(),
        )
        .expect("published");

    // The archive URL redirects to the bucket, and the bucket serves the archive.
    let no_redirects = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answer = no_redirects
        .get(format!("{}/v1/archives/{digest}.tar.gz", quarry.url))
        .send()
        .expect("archive GET");
    assert_eq!(answer.status().as_u16(), 307);
    let location = answer.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(location.starts_with(&endpoint), "{location}");
    let served = reqwest::blocking::get(&location)
        .and_then(|response| response.error_for_status())
        .and_then(|response| response.bytes())
        .expect("the presigned URL serves the archive");
    assert_eq!(&served[..], &archive[..]);

    let terraform = Terraform::new(&quarry.url, MAIN_TF).expect("terraform dir");
    let init = terraform
        .init()
        .expect("terraform init through the redirect");
    assert!(init.contains("Downloading"), "{init}");
    assert_eq!(
        terraform.installed_modules().expect("modules.json")[1].1,
        "1.2.0"
    );

    // Replace the object beneath the registry (signed with the same key, by curl): terraform
    // checks the archive against the checksum it was given, and refuses it.
    let tampered = dir_with("not the archive, but the same key");
    let key = format!("{prefix}/archives/sha256/{digest}.tar.gz");
    let put = Command::new("curl")
        .args(["-sS", "--fail", "-X", "PUT", "--aws-sigv4"])
        .arg(format!(
            "aws:amz:{}:s3",
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())
        ))
        .arg("--user")
        .arg(format!("{key_id}:{secret}"))
        // S3 servers want the payload's hash header (curl does not send one by itself).
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
        .arg("--data-binary")
        .arg(format!("@{}", tampered.1.display()))
        .arg(format!("{}/{key}", endpoint.trim_end_matches('/')))
        .output()
        .expect("curl runs");
    assert!(put.status.success(), "{}", text(&put));
    let again = Terraform::new(&quarry.url, MAIN_TF).expect("terraform dir");
    let refused = again
        .run(&["init", "-input=false", "-no-color"])
        .expect("terraform runs");
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).to_lowercase().contains("checksum"),
        "{}",
        text(&refused)
    );
}

/// A temporary file holding `content`.
fn dir_with(content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("object");
    std::fs::write(&path, content).expect("write");
    (dir, path)
}

#[test]
fn s3_credentials_can_come_from_a_shared_credentials_profile() {
    let storage = std::env::var("QUARRY_TEST_STORAGE_URL").unwrap_or_default();
    let (Some(bucket_path), Ok(key_id), Ok(secret)) = (
        storage.strip_prefix("s3://"),
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) else {
        eprintln!(
            "not run: needs QUARRY_TEST_STORAGE_URL=s3://… and AWS_* (scripts/test sets them)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        format!("[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[quarry-ci]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"),
    )
    .expect("write");
    let credentials = credentials.to_str().expect("utf-8");
    let url = format!(
        "s3://{}/profile-{}",
        bucket_path.trim_end_matches('/'),
        std::process::id()
    );
    let without_keys = |profile: &'static str| {
        [
            ("AWS_ACCESS_KEY_ID", None),
            ("AWS_SECRET_ACCESS_KEY", None),
            ("AWS_SHARED_CREDENTIALS_FILE", Some(credentials)),
            ("AWS_CONFIG_FILE", Some("/dev/null")),
            ("AWS_PROFILE", Some(profile)),
        ]
    };
    let quarry = Quarry::start_with_env(&["--storage", &url], &without_keys("quarry-ci"))
        .expect("quarry starts with the profile's keys");
    let token = quarry.token("ci", &["publish:acme"]).expect("token");
    let archive = quarry_core::archive::pack_dir(&fixture_module("greeting")).expect("pack");
    let (status, body) = quarry
        .publish(&token, "/v1/modules/acme/greeting/generic/1.0.0", archive)
        .expect("publish");
    assert_eq!(status, 201, "{body}");
    drop(quarry);
    // The store refuses the default profile's keys, and a profile that is not there is named.
    for (profile, expected) in [
        ("default", "cannot be used"),
        ("nobody", "AWS_PROFILE names `nobody`"),
    ] {
        let started = Quarry::start_with_env(&["--storage", &url], &without_keys(profile));
        let error = match started {
            Ok(_) => panic!("{profile}: quarry must not start"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(expected), "{profile}: {error}");
    }
}
