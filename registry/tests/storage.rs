//! The archive store, on whichever backend the run names (local files by default; S3 or Azure
//! when `QUARRY_TEST_STORAGE_URL` is set, as `scripts/test` does with Garage and Azurite): what is
//! already stored under a digest is trusted only when it is that digest's bytes, ranged reads
//! work, and a store that cannot be used stops the registry before anything is created.

mod common;

use common::*;
use object_store::{ObjectStoreExt, PutPayload};
use quarry_core::digest::Sha256;
use quarry_registry::config::Config;
use quarry_registry::service::Registry;
use quarry_registry::storage::Storage;

/// Puts `bytes` under `digest`'s key directly in the store, beneath the registry.
async fn put_beneath(quarry: &TestRegistry, digest: &Sha256, bytes: &'static [u8]) {
    quarry
        .registry
        .storage
        .object_store()
        .put(
            &Storage::archive_key(digest),
            PutPayload::from_static(bytes),
        )
        .await
        .expect("write beneath the registry");
}

/// Downloads a stored archive through the API.
async fn download(app: &TestApp, digest: &str) -> (u16, Vec<u8>) {
    let response = actix_web::test::call_service(
        &app.service,
        get(&format!("/v1/archives/{digest}.tar.gz"), None).to_request(),
    )
    .await;
    let status = response.status().as_u16();
    (status, actix_web::test::read_body(response).await.to_vec())
}

#[actix_web::test]
async fn a_damaged_object_under_a_digest_is_replaced_not_trusted() {
    let archive = small_module();
    let digest = Sha256::of(&archive);
    // A torn write (shorter) and bit rot (same size, other bytes) are each found and replaced.
    let shorter: &'static [u8] = archive[..archive.len() / 2].to_vec().leak();
    let mut flipped = archive.clone();
    flipped[archive.len() / 2] ^= 0xff;
    let flipped: &'static [u8] = flipped.leak();
    for (damage, bytes) in [("torn", shorter), ("same size, other bytes", flipped)] {
        let (app, token) = app_with_token(&["publish:acme"]).await;
        put_beneath(&app.quarry, &digest, bytes).await;
        let body = app
            .published("/v1/modules/acme/net/aws/1.0.0", &token, archive.clone())
            .await;
        assert_eq!(body["archive_sha256"], digest.to_hex(), "{damage}");
        let (status, served) = download(&app, &digest.to_hex()).await;
        assert_eq!(status, 200, "{damage}");
        assert_eq!(
            Sha256::of(&served),
            digest,
            "{damage}: the archive served is the one published"
        );
    }
}

#[actix_web::test]
async fn an_intact_object_under_a_digest_is_kept() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    let archive = small_module();
    let first = app
        .published("/v1/modules/acme/net/aws/1.0.0", &token, archive.clone())
        .await;
    // The same bytes under another version share the object.
    let second = app
        .published("/v1/modules/acme/net/aws/1.0.1", &token, archive.clone())
        .await;
    assert_eq!(first["archive_sha256"], second["archive_sha256"]);
    let listed = app
        .quarry
        .registry
        .storage
        .list_archives()
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let digest = first["archive_sha256"].as_str().expect("digest");
    let (status, served) = download(&app, digest).await;
    assert_eq!((status, served), (200, archive));
}

#[actix_web::test]
async fn ranged_reads_come_from_the_store() {
    let (app, token) = app_with_token(&["publish:acme"]).await;
    let archive = small_module();
    let body = app
        .published("/v1/modules/acme/net/aws/1.0.0", &token, archive.clone())
        .await;
    let digest = body["archive_sha256"].as_str().expect("digest");
    let response = actix_web::test::call_service(
        &app.service,
        get(&format!("/v1/archives/{digest}.tar.gz"), None)
            .insert_header(("range", "bytes=10-19"))
            .to_request(),
    )
    .await;
    assert_eq!(response.status().as_u16(), 206);
    let part = actix_web::test::read_body(response).await;
    assert_eq!(&part[..], &archive[10..20]);
}

/// A configuration like the test's, with the storage URL replaced.
async fn start_on(storage: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_data_dir(dir.path());
    config.storage_url = Some(storage.to_owned());
    let error = Registry::start(&config)
        .await
        .err()
        .unwrap_or_else(|| panic!("{storage} must be refused"))
        .to_string();
    (dir, error)
}

#[actix_web::test]
async fn an_unusable_store_stops_the_start_before_the_database_is_created() {
    let mut cases = vec![
        (
            "ftp://bucket/quarry".to_owned(),
            "unsupported storage URL `ftp://bucket/quarry`",
        ),
        (
            "file://relative/path".to_owned(),
            "unsupported storage URL `file://relative/path`",
        ),
        (
            "s3:///no-bucket".to_owned(),
            "unsupported storage URL `s3:///no-bucket`",
        ),
        (
            "s3://bucket/../escape".to_owned(),
            "unsupported storage URL `s3://bucket/../escape`",
        ),
    ];
    if let Ok(base) = std::env::var("QUARRY_TEST_STORAGE_URL") {
        // The configured store's server, with a bucket (or container) that does not exist.
        let (scheme, _) = base.split_once("://").expect("a storage URL");
        cases.push((
            format!("{scheme}://no-such-bucket-{}/quarry", std::process::id()),
            "cannot be used",
        ));
    }
    for (url, expected) in cases {
        let (dir, error) = start_on(&url).await;
        assert!(error.contains(expected), "{url}: {error}");
        assert!(
            !dir.path().join("quarry.db").exists(),
            "{url}: a database was created before the storage was checked"
        );
    }
}
