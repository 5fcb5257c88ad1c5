//! Builders for archives no honest packer would make (`..` names, absolute paths, links,
//! devices), for the tests of this crate and of the registry. Compiled only for tests or with the
//! `test-support` feature.

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;

/// One raw tar entry: path, type, content, link target.
pub type RawEntry<'a> = (&'a str, tar::EntryType, &'a [u8], Option<&'a str>);

/// Builds an uncompressed tar with names written byte for byte, unchecked.
pub fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, kind, data, link) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        let name = header.as_old_mut().name.as_mut();
        let length = path.len().min(name.len());
        name[..length].copy_from_slice(&path.as_bytes()[..length]);
        if let Some(link) = link {
            let link_name = header.as_old_mut().linkname.as_mut();
            let length = link.len().min(link_name.len());
            link_name[..length].copy_from_slice(&link.as_bytes()[..length]);
        }
        header.set_cksum();
        builder.append(&header, *data).expect("in-memory append");
    }
    builder.into_inner().expect("in-memory tar")
}

/// [`raw_tar`], gzip-compressed.
pub fn tar_gz(entries: &[RawEntry<'_>]) -> Vec<u8> {
    gzip(&raw_tar(entries))
}

/// A `.tar.gz` of regular files, `(path, content)`.
pub fn files_tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let entries: Vec<RawEntry<'_>> = files
        .iter()
        .map(|(path, content)| (*path, tar::EntryType::Regular, *content, None))
        .collect();
    tar_gz(&entries)
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).expect("in-memory gzip");
    encoder.finish().expect("in-memory gzip")
}

/// A blueprint archive (namespace `hostile`) built from a manifest of `inputs` (a JSON Schema) and
/// `manifest_extra` (more top-level manifest YAML, e.g. `policies: […]`) plus `files`.
pub fn pack_blueprint(
    name: &str,
    inputs: &serde_json::Value,
    manifest_extra: &str,
    files: &[(&str, &[u8])],
) -> Vec<u8> {
    let manifest = format!(
        "apiVersion: quarry.dev/v1\nkind: Blueprint\nmetadata:\n  namespace: hostile\n  name: {name}\n  description: A blueprint a test built.\ninputs: {inputs}\nstack:\n  name: stack\n  terraform_version: \"~> 1.9\"\n{manifest_extra}"
    );
    let mut all = std::collections::BTreeMap::new();
    all.insert("blueprint.yaml".to_owned(), manifest.into_bytes());
    for (path, content) in files {
        all.insert((*path).to_owned(), content.to_vec());
    }
    crate::archive::pack_files(&all).expect("packs")
}

/// `length` incompressible bytes from `seed` (xorshift): an archive of them is as large
/// compressed as it is unpacked.
pub fn noise(seed: u64, length: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed.wrapping_add(1);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Runs a future that never waits for anything (the renderer with an in-memory resolver).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// Every file under `root`, as its path relative to `root` and the sha256 of its content, in
/// path order: equal lists mean nothing under `root` changed.
pub fn files_under(root: &std::path::Path) -> Vec<(String, String)> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                out.push((
                    relative.display().to_string(),
                    crate::digest::Sha256::of(&bytes).to_hex(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// The versions constraint tests choose from: every stage of a release line, prereleases
/// included (shared by the unit tests and the comparison with the real terraform).
pub const VERSIONS: [&str; 8] = [
    "0.9.0",
    "1.0.0",
    "1.1.0",
    "1.2.0",
    "1.2.5",
    "1.3.0-beta.1",
    "2.0.0",
    "2.1.0-rc.1",
];

/// Whether an inputs error list (`{"errors": [{path, message}, …]}`'s items) holds one at `path`
/// whose message contains `text`.
pub fn has_error(errors: &[serde_json::Value], path: &str, text: &str) -> bool {
    errors.iter().any(|error| {
        error["path"] == path && error["message"].as_str().is_some_and(|m| m.contains(text))
    })
}

/// Whether any of `items` starts with `prefix`.
pub fn any_starts_with<T: AsRef<str>>(items: &[T], prefix: &str) -> bool {
    items.iter().any(|item| item.as_ref().starts_with(prefix))
}

/// The `key` field, as text, of every object in the array `items` (missing ones left out).
pub fn texts<'a>(items: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item[key].as_str())
        .collect()
}
