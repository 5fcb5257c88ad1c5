//! HTTPS served by the binary itself, as in production: the real `terraform init` finds the
//! registry through service discovery over HTTPS (no CLI configuration `host` block), trusting a
//! test CA through `SSL_CERT_FILE`; HTTP/2 and HTTP/1.1 are both spoken; and a renewed
//! certificate is served after SIGHUP without a restart, while a broken one is refused and the
//! old one kept.
//!
//! The host is `127.0.0.1:PORT`, in the certificate as an IP address: a name such as
//! `registry.test` would need an `/etc/hosts` entry, which tests do not write.

use quarry_e2e::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `curl` against `url` trusting only `ca`: the HTTP version spoken, or `None` when the
/// connection was refused (an untrusted certificate).
fn curl(url: &str, ca: &Path, version_flag: &str) -> Option<String> {
    let output = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
        ])
        .arg(version_flag)
        .arg("--cacert")
        .arg(ca)
        .arg(format!("{url}/healthz"))
        .output()
        .expect("curl runs");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn terraform_finds_an_https_registry_by_discovery_and_renewed_certificates_are_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, cert, key) = certificates(dir.path(), "first");
    let mut quarry = Quarry::start(&[
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ])
    .expect("quarry starts with TLS");
    assert!(
        quarry.url.starts_with("https://127.0.0.1:"),
        "{}",
        quarry.url
    );

    assert_eq!(curl(&quarry.url, &ca, "--http2").as_deref(), Some("2 200"));
    assert_eq!(
        curl(&quarry.url, &ca, "--http1.1").as_deref(),
        Some("1.1 200")
    );

    let token = quarry.token("ci", &["publish:acme"]).expect("token");
    let trusting = reqwest::blocking::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&ca).expect("CA")).expect("PEM"),
        )
        .build()
        .expect("client");
    let archive = quarry_core::archive::pack_dir(&fixture_module("greeting")).expect("pack");
    let published = trusting
        .post(format!(
            "{}/v1/modules/acme/greeting/generic/1.2.0",
            quarry.url
        ))
        .bearer_auth(&token)
        .header("content-type", "application/gzip")
        .body(archive)
        .send()
        .expect("publish over HTTPS");
    assert_eq!(published.status().as_u16(), 201);

    // terraform: no host block, only the CA.
    let host = quarry.url.trim_start_matches("https://").to_owned();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    std::fs::write(
        work.join("main.tf"),
        format!(
            "module \"greeting\" {{\n  source  = \"{host}/acme/greeting/generic\"\n  version = \"~> 1.2\"\n  name    = \"TLS\"\n}}\n"
        ),
    )
    .expect("main.tf");
    let empty_cli_config = dir.path().join("empty.tfrc");
    std::fs::write(&empty_cli_config, "").expect("write");
    let init = Command::new("terraform")
        .args(["init", "-input=false", "-no-color"])
        .current_dir(&work)
        .env("SSL_CERT_FILE", &ca)
        .env("TF_CLI_CONFIG_FILE", &empty_cli_config)
        .env_remove("SSL_CERT_DIR")
        .output()
        .expect("terraform runs");
    assert!(init.status.success(), "{}", text(&init));
    assert!(
        text(&init).contains("Downloading") && text(&init).contains("1.2.0"),
        "{}",
        text(&init)
    );

    // A renewed certificate (from another CA here, to tell them apart) after SIGHUP.
    let (second_ca, second_cert, second_key) = certificates(dir.path(), "second");
    assert_eq!(curl(&quarry.url, &second_ca, "--http2"), None);
    std::fs::copy(&second_cert, &cert).expect("renew");
    std::fs::copy(&second_key, &key).expect("renew");
    hang_up(&quarry);
    wait_until("the renewed certificate is served", || {
        curl(&quarry.url, &second_ca, "--http2").is_some()
    });
    assert_eq!(
        curl(&quarry.url, &ca, "--http2"),
        None,
        "the old one is gone"
    );

    // A broken renewal is refused and logged; the pair being served stays.
    std::fs::write(&cert, "not a certificate").expect("break");
    hang_up(&quarry);
    wait_until("the failed reload is logged", || {
        quarry
            .drain_logs()
            .iter()
            .any(|line| line.contains("TLS certificate not reloaded"))
    });
    assert_eq!(
        curl(&quarry.url, &second_ca, "--http2").as_deref(),
        Some("2 200")
    );
    quarry.terminate(Duration::from_secs(10)).expect("stops");
}

fn hang_up(quarry: &Quarry) {
    let status = Command::new("kill")
        .args(["-HUP", &quarry.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: not within 5 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
