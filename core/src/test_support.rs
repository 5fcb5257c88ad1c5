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
