//! Private providers end to end: releases published to the built `quarry`, installed by the real
//! `terraform init` through `required_providers`, which checks the zip's sha256, the
//! `SHA256SUMS` line and the OpenPGP signature itself, and writes the lock file. The zips wrap a
//! small script: init installs a provider, it never runs it.

use pgp::composed::{
    ArmorOptions, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize as _;
use pgp::types::Password;
use quarry_e2e::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write as _;

/// The platform terraform installs for on this machine.
fn this_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no provider platform for {other}"),
    };
    ("linux", arch)
}

/// A provider zip holding `entries` (the executable first, as GoReleaser packs it).
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    for (name, content) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(content).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A provider zip whose second entry is a symbolic link out of it.
fn zip_with_link() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    writer
        .start_file("terraform-provider-echo", options)
        .unwrap();
    writer.write_all(b"x").unwrap();
    writer.add_symlink("link", "/etc/passwd", options).unwrap();
    writer.finish().unwrap().into_inner()
}

/// The release of `echo` `version` for this platform and darwin/arm64: file name → bytes.
fn release(version: &str) -> BTreeMap<String, Vec<u8>> {
    let (os, arch) = this_platform();
    let mut files = BTreeMap::new();
    for (os, arch) in [(os, arch), ("darwin", "arm64")] {
        let script = format!("#!/bin/sh\necho echo {version} {os}_{arch}\n");
        files.insert(
            quarry_core::provider::zip_name("echo", version, os, arch),
            zip_of(&[
                (
                    &format!("terraform-provider-echo_v{version}"),
                    script.as_bytes(),
                ),
                ("LICENSE", b"Apache-2.0\n"),
            ]),
        );
    }
    files
}

fn packed(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    quarry_core::archive::pack_files(files).unwrap()
}

fn get_json(quarry: &Quarry, path: &str) -> Value {
    let response = reqwest::blocking::get(format!("{}{path}", quarry.url)).unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().unwrap()
}

/// Publishes `release(version)` as `acme/echo`.
fn publish_echo(quarry: &Quarry, token: &str, version: &str) {
    quarry
        .published(
            token,
            &format!("/v1/providers/acme/echo/{version}"),
            packed(&release(version)),
        )
        .unwrap();
}

/// The download answer of `acme/echo` `version` for this platform.
fn download_of(quarry: &Quarry, version: &str) -> Value {
    let (os, arch) = this_platform();
    get_json(
        quarry,
        &format!("/v1/providers/acme/echo/{version}/download/{os}/{arch}"),
    )
}

fn main_tf(version: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    echo = {{
      source  = "registry.test/acme/echo"
      version = "{version}"
    }}
  }}
}}
"#
    )
}

/// The `h1:` hash of a zip's entries, as terraform computes it (checked against terraform's
/// own computation through the lock file).
fn h1_of(zip: &[u8]) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut entries = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        entries.push((
            String::from_utf8(entry.name_raw().to_vec()).unwrap(),
            quarry_core::digest::Sha256::of(&content),
        ));
    }
    quarry_core::provider::h1(
        entries
            .iter()
            .map(|(name, digest)| (name.as_str(), *digest)),
    )
}

/// The hashes the lock file records for `registry.test/acme/echo`.
fn locked_hashes(terraform: &Terraform) -> Vec<String> {
    let lock = std::fs::read_to_string(terraform.work_dir().join(".terraform.lock.hcl"))
        .expect("init writes the lock file");
    lock.lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix('"'))
        .filter_map(|line| line.strip_suffix("\","))
        .map(str::to_owned)
        .collect()
}

/// Finds the stored object of a digest under the data directory (file storage).
fn stored_object(quarry: &Quarry, hex: &str) -> std::path::PathBuf {
    let name = format!("{hex}.tar.gz");
    let mut stack = vec![quarry.data_dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|file| file == name.as_str()) {
                return path;
            }
        }
    }
    panic!("no stored object {hex}");
}

#[test]
fn terraform_installs_a_server_signed_provider_and_locks_the_hashes_quarry_reported() {
    let quarry = Quarry::start(&[]).unwrap();
    let token = quarry.token("ci", &["publish:acme"]).unwrap();
    let files = release("1.0.0");
    quarry
        .published(&token, "/v1/providers/acme/echo/1.0.0", packed(&files))
        .unwrap();

    let discovery = get_json(&quarry, "/.well-known/terraform.json");
    assert_eq!(discovery["providers.v1"], "/v1/providers/");
    let versions = get_json(&quarry, "/v1/providers/acme/echo/versions");
    assert_eq!(versions["versions"][0]["version"], "1.0.0");
    assert_eq!(versions["versions"][0]["protocols"][0], "5.0");
    assert_eq!(
        versions["versions"][0]["platforms"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let download = download_of(&quarry, "1.0.0");
    let (os, arch) = this_platform();
    let zip_name = quarry_core::provider::zip_name("echo", "1.0.0", os, arch);
    assert_eq!(download["filename"], zip_name.as_str());
    let shasum = download["shasum"].as_str().unwrap().to_owned();
    assert_eq!(
        shasum,
        quarry_core::digest::Sha256::of(&files[&zip_name]).to_hex()
    );
    let key_id = download["signing_keys"]["gpg_public_keys"][0]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(key_id.len(), 16);
    let keys = get_json(&quarry, "/v1/providers/signing-keys");
    assert_eq!(keys["keys"][0]["key_id"], key_id.as_str());
    assert_eq!(keys["keys"][0]["namespace"], "acme");

    let terraform = Terraform::new(&quarry.url, &main_tf("1.0.0")).unwrap();
    let init = terraform.init().unwrap();
    assert!(
        init.contains("Installed registry.test/acme/echo v1.0.0") && init.contains(&key_id),
        "init installs it, verified with the registry's key {key_id}:\n{init}"
    );
    let locked = locked_hashes(&terraform);
    let darwin = quarry_core::provider::zip_name("echo", "1.0.0", "darwin", "arm64");
    for file in [&zip_name, &darwin] {
        let zh = format!(
            "zh:{}",
            quarry_core::digest::Sha256::of(&files[file]).to_hex()
        );
        assert!(
            locked.contains(&zh),
            "every SHA256SUMS line is locked: {zh} in {locked:?}"
        );
    }
    assert!(
        locked.contains(&h1_of(&files[&zip_name])),
        "terraform's own h1 of the installed zip is the one Quarry computes: {locked:?}"
    );

    // A deprecation reaches `terraform init` as a registry warning.
    let response = reqwest::blocking::Client::new()
        .post(format!(
            "{}/v1/providers/acme/echo/1.0.0/deprecate",
            quarry.url
        ))
        .bearer_auth(&token)
        .json(&serde_json::json!({"reason": "use 2.x", "replacement": "acme/echo 2.0.0"}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let again = Terraform::new(&quarry.url, &main_tf("1.0.0")).unwrap();
    let init = again.init().unwrap();
    assert!(
        init.contains("acme/echo 1.0.0 is deprecated: use 2.x"),
        "terraform shows the deprecation:\n{init}"
    );
}

#[test]
fn a_tampered_zip_or_signature_makes_init_fail() {
    let quarry = Quarry::start(&[]).unwrap();
    let token = quarry.token("ci", &["publish:acme"]).unwrap();
    publish_echo(&quarry, &token, "1.0.0");
    let download = download_of(&quarry, "1.0.0");
    let signature_hex = download["shasums_signature_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("/v1/archives/")
        .trim_end_matches(".sig")
        .to_owned();
    let zip_hex = download["shasum"].as_str().unwrap().to_owned();

    for (what, hex, expected) in [
        ("zip", &zip_hex, "checksum"),
        ("signature", &signature_hex, "signature"),
    ] {
        let object = stored_object(&quarry, hex);
        let original = std::fs::read(&object).unwrap();
        let mut tampered = original.clone();
        let middle = tampered.len() / 2;
        tampered[middle] ^= 0x55;
        std::fs::write(&object, &tampered).unwrap();

        let terraform = Terraform::new(&quarry.url, &main_tf("1.0.0")).unwrap();
        let output = terraform
            .run(&["init", "-input=false", "-no-color"])
            .unwrap();
        let printed = text(&output).to_lowercase();
        assert!(
            !output.status.success() && printed.contains(expected),
            "a tampered {what} fails init, saying `{expected}`:\n{printed}"
        );
        std::fs::write(&object, &original).unwrap();
    }
}

/// A publisher's own key: a v4 RSA signing key, and its armored public half.
fn publisher_key() -> (SignedSecretKey, String) {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Rsa(2048))
        .can_certify(true)
        .can_sign(true)
        .primary_user_id("Acme Releases <releases@acme.test>".into());
    let secret = params
        .build()
        .unwrap()
        .generate(rand_pgp::thread_rng())
        .unwrap();
    let public = secret
        .to_public_key()
        .to_armored_string(ArmorOptions::default())
        .unwrap();
    (secret, public)
}

fn signature_of(key: &SignedSecretKey, data: &[u8]) -> Vec<u8> {
    DetachedSignature::sign_binary_data(
        rand_pgp::thread_rng(),
        &key.primary_key,
        &Password::empty(),
        HashAlgorithm::Sha256,
        data,
    )
    .unwrap()
    .to_bytes()
    .unwrap()
}

#[test]
fn a_publisher_signed_release_installs_with_the_publishers_key_and_a_bad_signature_is_refused() {
    let quarry = Quarry::start(&["--read-access", "token"]).unwrap();
    let token = quarry.token("ci", &["publish:acme"]).unwrap();
    let reader = quarry.token("reader", &["read"]).unwrap();
    let (key, public) = publisher_key();
    let mut files = release("2.0.0");
    let sums: BTreeMap<String, String> = files
        .iter()
        .map(|(name, bytes)| {
            (
                name.clone(),
                quarry_core::digest::Sha256::of(bytes).to_hex(),
            )
        })
        .collect();
    let sums = quarry_core::provider::sums_text(&sums).into_bytes();
    let sums_file = quarry_core::provider::sums_name("echo", "2.0.0");
    files.insert(
        format!("{sums_file}.sig"),
        signature_of(&key, b"other bytes"),
    );
    files.insert(sums_file.clone(), sums.clone());
    files.insert(
        quarry_core::provider::PUBLIC_KEY_FILE.into(),
        public.clone().into_bytes(),
    );

    let (status, body) = quarry
        .publish(&token, "/v1/providers/acme/echo/2.0.0", packed(&files))
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains(&format!(
            "`{sums_file}.sig` does not verify `{sums_file}` with the key in `signing-key.asc`"
        )),
        "{body}"
    );

    files.insert(format!("{sums_file}.sig"), signature_of(&key, &sums));
    quarry
        .published(&token, "/v1/providers/acme/echo/2.0.0", packed(&files))
        .unwrap();
    let key_id = hex_key_id(&key);

    // Token reads: terraform sends its token to the JSON endpoints only; the zip, sums and
    // signature URLs carry their own signature.
    let anonymous = Terraform::new(&quarry.url, &main_tf("2.0.0")).unwrap();
    let output = anonymous
        .run(&["init", "-input=false", "-no-color"])
        .unwrap();
    assert!(!output.status.success(), "no token, no provider");
    let terraform = Terraform::new(&quarry.url, &main_tf("2.0.0"))
        .unwrap()
        .with_token(&reader);
    let init = terraform.init().unwrap();
    assert!(
        init.contains("Installed registry.test/acme/echo v2.0.0") && init.contains(&key_id),
        "verified with the publisher's key {key_id}:\n{init}"
    );
    let locked = locked_hashes(&terraform);
    for line in String::from_utf8(sums).unwrap().lines() {
        let sum = line.split_whitespace().next().unwrap();
        assert!(
            locked.contains(&format!("zh:{sum}")),
            "{sum} locked: {locked:?}"
        );
    }
}

fn hex_key_id(key: &SignedSecretKey) -> String {
    use pgp::types::KeyDetails as _;
    let id = key.legacy_key_id();
    let bytes: &[u8] = id.as_ref();
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

#[test]
fn hostile_provider_zips_are_refused_naming_the_file() {
    let quarry = Quarry::start(&["--max-unpacked-bytes", "16777216"]).unwrap();
    let token = quarry.token("ci", &["publish:acme"]).unwrap();
    let (os, arch) = this_platform();
    let name = quarry_core::provider::zip_name("echo", "1.0.0", os, arch);
    let cases: [(&str, Vec<u8>, u16, &str); 7] = [
        (
            "absolute",
            zip_of(&[("terraform-provider-echo", b"x"), ("/etc/passwd", b"x")]),
            422,
            "entry `/etc/passwd`: has an absolute path",
        ),
        (
            "symbolic link",
            zip_with_link(),
            422,
            "entry `link`: is a symbolic link",
        ),
        (
            "slip",
            zip_of(&[("terraform-provider-echo", b"x"), ("../../evil", b"x")]),
            422,
            "entry `../../evil`: leaves the zip's root",
        ),
        (
            "two executables",
            zip_of(&[
                ("terraform-provider-echo", b"x"),
                ("terraform-provider-echo.exe", b"x"),
            ]),
            422,
            "two executables",
        ),
        (
            "wrong name",
            zip_of(&[("terraform-provider-other", b"x")]),
            422,
            "no executable named `terraform-provider-echo`",
        ),
        (
            "not a zip",
            b"not a zip".to_vec(),
            422,
            "is not a zip archive",
        ),
        (
            "bomb",
            zip_of(&[
                ("terraform-provider-echo", b"x"),
                ("zeros", &vec![0u8; 64 << 20]),
            ]),
            413,
            "unpack to more than",
        ),
    ];
    for (case, zip, status, expected) in cases {
        let files = BTreeMap::from([(name.clone(), zip)]);
        let (answered, body) = quarry
            .publish(&token, "/v1/providers/acme/echo/1.0.0", packed(&files))
            .unwrap();
        assert_eq!(answered, status, "{case}: {body}");
        assert!(
            body.contains(expected) && body.contains(&name),
            "{case}: {body}"
        );
    }
    let response =
        reqwest::blocking::get(format!("{}/v1/providers/acme/echo/versions", quarry.url)).unwrap();
    assert_eq!(response.status(), 404, "nothing was published");
}

/// `terraform providers mirror` of `registry.test/acme/echo` 1.0.0, as published on a first
/// registry: the directory terraform writes (index.json, 1.0.0.json, the zip).
fn terraform_mirror_directory(into: &std::path::Path) {
    let origin = Quarry::start(&[]).unwrap();
    let token = origin.token("ci", &["publish:acme"]).unwrap();
    publish_echo(&origin, &token, "1.0.0");
    let terraform = Terraform::new(&origin.url, &main_tf("1.0.0")).unwrap();
    terraform
        .succeeds(&["providers", "mirror", into.to_str().unwrap()])
        .unwrap();
    assert!(into.join("registry.test/acme/echo/1.0.0.json").is_file());
}

#[test]
fn terraform_installs_through_quarrys_network_mirror_what_was_imported_from_a_mirror_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mirror_dir = dir.path().join("mirror");
    terraform_mirror_directory(&mirror_dir);

    let certificates = certificates(dir.path(), "mirror");
    let quarry = Quarry::start(&[
        "--tls-cert",
        certificates.1.to_str().unwrap(),
        "--tls-key",
        certificates.2.to_str().unwrap(),
    ])
    .unwrap();
    let imported = quarry
        .command(&["mirror", "import", mirror_dir.to_str().unwrap()])
        .unwrap();
    assert!(
        text(&imported).contains("imported registry.test/acme/echo 1.0.0"),
        "{}",
        text(&imported)
    );
    let again = quarry
        .command(&["mirror", "import", mirror_dir.to_str().unwrap()])
        .unwrap();
    assert!(text(&again).contains("0 provider versions imported, 1 already there"));

    // A zip that does not hash as the mirror file says is refused on import.
    let tampered_dir = dir.path().join("tampered");
    std::fs::create_dir_all(tampered_dir.join("registry.test/acme/other")).unwrap();
    let (os, arch) = this_platform();
    let zip = quarry_core::provider::zip_name("other", "1.0.0", os, arch);
    std::fs::write(
        tampered_dir.join("registry.test/acme/other").join(&zip),
        zip_of(&[("terraform-provider-other", b"x")]),
    )
    .unwrap();
    std::fs::write(
        tampered_dir.join("registry.test/acme/other/1.0.0.json"),
        format!(
            r#"{{"archives":{{"{os}_{arch}":{{"url":"{zip}","hashes":["h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]}}}}}}"#
        ),
    )
    .unwrap();
    let refused = quarry
        .run_command(&["mirror", "import", tampered_dir.to_str().unwrap()])
        .unwrap();
    assert!(
        !refused.status.success() && text(&refused).contains("the hash h1:AAAA"),
        "{}",
        text(&refused)
    );

    let init = init_through_mirror(dir.path(), "work", &quarry.url, &certificates.0);
    let work = dir.path().join("work");
    assert!(init.status.success(), "{}", text(&init));
    assert!(
        text(&init).contains("Installed registry.test/acme/echo v1.0.0"),
        "{}",
        text(&init)
    );
    let lock = std::fs::read_to_string(work.join(".terraform.lock.hcl")).unwrap();
    let index: Value = reqwest::blocking::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&certificates.0).unwrap()).unwrap(),
        )
        .build()
        .unwrap()
        .get(format!(
            "{}/v1/mirror/registry.test/acme/echo/1.0.0.json",
            quarry.url
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    // terraform verifies the zip against the h1: Quarry reported and locks that hash.
    let reported = index["archives"][format!("{os}_{arch}")]["hashes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reported.starts_with("h1:"));
    assert!(
        lock.contains(&format!("\"{reported}\"")),
        "the lock file holds the h1: Quarry reported, {reported}:\n{lock}"
    );
}

/// `terraform init` of `main_tf("1.0.0")` in a new directory `name` under `dir`, installing
/// through the network mirror of the registry at `url` (HTTPS), trusting `ca`.
fn init_through_mirror(
    dir: &std::path::Path,
    name: &str,
    url: &str,
    ca: &std::path::Path,
) -> std::process::Output {
    let work = dir.join(name);
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("main.tf"), main_tf("1.0.0")).unwrap();
    let cli_config = work.join("mirror.tfrc");
    std::fs::write(
        &cli_config,
        format!(
            "provider_installation {{\n  network_mirror {{\n    url = \"{url}/v1/mirror/\"\n  }}\n}}\n"
        ),
    )
    .unwrap();
    std::process::Command::new("terraform")
        .args(["init", "-input=false", "-no-color"])
        .current_dir(&work)
        .env("SSL_CERT_FILE", ca)
        .env("TF_CLI_CONFIG_FILE", &cli_config)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap()
}

/// How many times `quarry` answered `route` with 200, from its `/metrics`.
fn answered(quarry: &Quarry, route: &str) -> u64 {
    let metrics = reqwest::blocking::get(format!("{}/metrics", quarry.url))
        .unwrap()
        .text()
        .unwrap();
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("quarry_http_requests_total{")
                && line.contains(&format!("route=\"{route}\""))
                && line.contains("status=\"200\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn the_mirror_pulls_a_version_through_from_an_upstream_quarry_once_for_many_inits() {
    let dir = tempfile::tempdir().unwrap();
    let mut upstream = Quarry::start(&[]).unwrap();
    let token = upstream.token("ci", &["publish:acme"]).unwrap();
    publish_echo(&upstream, &token, "1.0.0");

    let (ca, cert, key) = certificates(dir.path(), "pull");
    let mirror = Quarry::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--mirror-upstream",
        &format!("registry.test={}", upstream.url),
    ])
    .unwrap();
    let init = |name: &str| init_through_mirror(dir.path(), name, &mirror.url, &ca);
    let download_route = "/v1/providers/{namespace}/{type}/{version}/download/{os}/{arch}";
    for round in 0..3 {
        let output = init(&format!("work-{round}"));
        assert!(
            output.status.success()
                && text(&output).contains("Installed registry.test/acme/echo v1.0.0"),
            "init {round} through the pulling mirror:\n{}",
            text(&output)
        );
    }
    assert_eq!(
        answered(&upstream, download_route),
        2,
        "the upstream was asked once per platform (linux and darwin), for three inits"
    );

    // A zip the upstream serves that is not the one its signed sums name is never stored.
    publish_echo(&upstream, &token, "2.0.0");
    let download = download_of(&upstream, "2.0.0");
    let object = stored_object(&upstream, download["shasum"].as_str().unwrap());
    let mut tampered = std::fs::read(&object).unwrap();
    tampered[10] ^= 0x55;
    std::fs::write(&object, tampered).unwrap();
    let trusting = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap())
        .build()
        .unwrap();
    let refused = trusting
        .get(format!(
            "{}/v1/mirror/registry.test/acme/echo/2.0.0.json",
            mirror.url
        ))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 502);
    let message = refused.text().unwrap();
    assert!(
        message.contains("does not verify") && message.contains("its sha256 is"),
        "{message}"
    );

    // Pulled, stored, served: the upstream may go away.
    upstream
        .terminate(std::time::Duration::from_secs(5))
        .unwrap();
    let output = init("work-after");
    assert!(
        output.status.success(),
        "served from storage with the upstream gone:\n{}",
        text(&output)
    );
}

#[test]
fn a_rotated_key_signs_new_versions_and_older_ones_keep_verifying_with_theirs() {
    let quarry = Quarry::start(&[]).unwrap();
    let token = quarry.token("ci", &["publish:acme"]).unwrap();
    let (os, arch) = this_platform();
    let key_of = |version: &str| {
        get_json(
            &quarry,
            &format!("/v1/providers/acme/echo/{version}/download/{os}/{arch}"),
        )["signing_keys"]["gpg_public_keys"][0]["key_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    publish_echo(&quarry, &token, "1.0.0");
    let first = key_of("1.0.0");
    let rotated = quarry.command(&["signing-key", "rotate", "acme"]).unwrap();
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("BEGIN PGP PUBLIC KEY BLOCK"));
    publish_echo(&quarry, &token, "1.1.0");
    let second = key_of("1.1.0");
    assert_ne!(first, second, "the new version is signed with the new key");
    assert_eq!(
        key_of("1.0.0"),
        first,
        "the old version still names its key"
    );
    let keys = get_json(&quarry, "/v1/providers/signing-keys");
    assert_eq!(keys["keys"][0]["key_id"], second.as_str());
    assert!(keys["keys"][0]["retired_at"].is_null());
    assert_eq!(keys["keys"][1]["key_id"], first.as_str());
    assert!(keys["keys"][1]["retired_at"].is_string());
    let listed = quarry.command(&["signing-key", "list"]).unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&format!("acme\t{first}")));

    for (version, key) in [("1.0.0", &first), ("1.1.0", &second)] {
        let terraform = Terraform::new(&quarry.url, &main_tf(version)).unwrap();
        let init = terraform.init().unwrap();
        assert!(
            init.contains(key.as_str()),
            "{version} verifies with {key}:\n{init}"
        );
    }
}

#[test]
fn a_namespace_can_sign_with_an_imported_key_of_another_type() {
    let quarry = Quarry::start(&[]).unwrap();
    let token = quarry.token("ci", &["publish:acme"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id("Acme <keys@acme.test>".into());
    let secret = params
        .build()
        .unwrap()
        .generate(rand_pgp::thread_rng())
        .unwrap();
    let file = dir.path().join("acme.asc");
    std::fs::write(
        &file,
        secret.to_armored_string(ArmorOptions::default()).unwrap(),
    )
    .unwrap();
    let junk = dir.path().join("junk.asc");
    std::fs::write(&junk, "not a key").unwrap();
    let refused = quarry
        .run_command(&["signing-key", "import", "acme", junk.to_str().unwrap()])
        .unwrap();
    assert!(
        !refused.status.success()
            && text(&refused)
                .contains("junk.asc: OpenPGP: not an ASCII-armored OpenPGP secret key"),
        "{}",
        text(&refused)
    );
    quarry
        .command(&["signing-key", "import", "acme", file.to_str().unwrap()])
        .unwrap();

    publish_echo(&quarry, &token, "1.0.0");
    let key_id = download_of(&quarry, "1.0.0")["signing_keys"]["gpg_public_keys"][0]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(key_id, hex_key_id(&secret), "signed with the imported key");
    let terraform = Terraform::new(&quarry.url, &main_tf("1.0.0")).unwrap();
    let init = terraform.init().unwrap();
    assert!(
        init.contains(&key_id),
        "terraform 1.11 verifies an EdDSA signature:\n{init}"
    );
}
