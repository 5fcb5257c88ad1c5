//! Provider releases: the files a provider version is published as (PROTOCOL.md §4), checked
//! the way terraform will read them, and the hashes terraform records for them.
//!
//! A release is a `.tar.gz` of one flat directory, as GoReleaser lays a provider release out:
//! - `terraform-provider-NAME_VERSION_OS_ARCH.zip`, one per platform, each holding exactly one
//!   executable named as terraform runs it (`terraform-provider-NAME`, optionally followed by
//!   `_…` or `.…`) at its root;
//! - optionally `terraform-provider-NAME_VERSION_SHA256SUMS` with its binary detached signature
//!   `…_SHA256SUMS.sig` and the signer's public key [`PUBLIC_KEY_FILE`] (without them the
//!   registry writes and signs the sums itself);
//! - optionally `terraform-provider-NAME_VERSION_manifest.json`, whose
//!   `metadata.protocol_versions` name the plugin protocols (default `5.0`).

use crate::archive::{ArchiveError, Limits};
use crate::digest::Sha256;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// The file a publisher's armored public key travels in, beside the signature.
pub const PUBLIC_KEY_FILE: &str = "signing-key.asc";

/// The plugin protocols terraform accepts (`>= 5, < 7`).
const SUPPORTED_PROTOCOLS: [&str; 2] = ["5", "6"];

/// Why a release was refused; each names the file (and the entry) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ReleaseError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(
        "the release holds no platform zip; expected files named `{expected}` (e.g. `{example}`)"
    )]
    NoZips { expected: String, example: String },
    #[error("`{file}` is not part of a release of this provider version; expected {expected}")]
    UnexpectedFile { file: String, expected: String },
    #[error("`{file}`: the platform `{part}` must be 1-32 lowercase letters or digits")]
    Platform { file: String, part: String },
    #[error("`{file}` is not a zip archive: {reason}")]
    NotZip { file: String, reason: String },
    #[error("`{file}` entry `{entry}`: {problem}")]
    Entry {
        file: String,
        entry: String,
        problem: String,
    },
    #[error("`{file}` has more than {limit} entries")]
    TooManyEntries { file: String, limit: usize },
    #[error("`{file}`: the release's zips unpack to more than {limit} bytes")]
    TooLarge { file: String, limit: u64 },
    #[error(
        "`{file}` holds no executable named `{expected}` at its root (terraform runs the file named `{expected}`, optionally followed by `_…` or `.…`)"
    )]
    NoExecutable { file: String, expected: String },
    #[error(
        "`{file}` holds two executables terraform could run, `{first}` and `{second}`; a provider zip holds exactly one"
    )]
    TwoExecutables {
        file: String,
        first: String,
        second: String,
    },
    #[error("`{file}` line {line}: {problem}")]
    Sums {
        file: String,
        line: usize,
        problem: String,
    },
    #[error("`{sums}` does not list `{file}`")]
    NotListed { sums: String, file: String },
    #[error("`{sums}` gives `{file}` the sha256 {listed}, but its sha256 is {actual}")]
    WrongSum {
        sums: String,
        file: String,
        listed: String,
        actual: String,
    },
    #[error("`{file}` is missing: {why}")]
    Missing { file: String, why: String },
    #[error("`{file}`: {problem}")]
    Manifest { file: String, problem: String },
}

/// One platform's zip as checked: what the download answer and the mirror say of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformZip {
    pub os: String,
    pub arch: String,
    pub filename: String,
    /// The zip's sha256, lowercase hex (the `SHA256SUMS` value and terraform's `zh:` hash).
    pub shasum: String,
    pub size: u64,
    /// terraform's `h1:` hash of the zip's contents.
    pub h1: String,
    /// The executable terraform will run.
    pub executable: String,
}

/// A release that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedRelease {
    pub protocols: Vec<String>,
    /// Sorted by os, then arch.
    pub platforms: Vec<PlatformZip>,
    /// The publisher's own sums, signature and key, when it signed the release.
    pub signed: Option<PublisherSignature>,
}

/// The names of the publisher's signing files within the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherSignature {
    pub sums_file: String,
    pub signature_file: String,
    pub public_key: String,
}

/// The zip's name for a platform: `terraform-provider-NAME_VERSION_OS_ARCH.zip`.
pub fn zip_name(name: &str, version: &str, os: &str, arch: &str) -> String {
    format!("terraform-provider-{name}_{version}_{os}_{arch}.zip")
}

/// The release's sums file: `terraform-provider-NAME_VERSION_SHA256SUMS`.
pub fn sums_name(name: &str, version: &str) -> String {
    format!("terraform-provider-{name}_{version}_SHA256SUMS")
}

fn is_platform_part(part: &str) -> bool {
    (1..=32).contains(&part.len())
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The `SHA256SUMS` text terraform checks: `<sha256>  <file>` lines sorted by file name.
pub fn sums_text(entries: &BTreeMap<String, String>) -> String {
    entries
        .iter()
        .map(|(file, sum)| format!("{sum}  {file}\n"))
        .collect()
}

/// Reads `SHA256SUMS`: file name → lowercase hex sha256. Each line is `<64 hex>  <name>` (a `*`
/// before the name, binary mode, is allowed).
pub fn parse_sums(file: &str, text: &[u8]) -> Result<BTreeMap<String, String>, ReleaseError> {
    let problem = |line: usize, problem: &str| ReleaseError::Sums {
        file: file.to_owned(),
        line,
        problem: problem.to_owned(),
    };
    let text = std::str::from_utf8(text).map_err(|_| problem(1, "not UTF-8 text"))?;
    let mut sums = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Some((sum, name)) = line.split_once(char::is_whitespace) else {
            return Err(problem(number, "expected `<sha256>  <file name>`"));
        };
        let name = name.trim_start().trim_start_matches('*');
        if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(problem(number, "the sha256 must be 64 hex digits"));
        }
        if name.is_empty() {
            return Err(problem(number, "no file name after the sha256"));
        }
        if sums
            .insert(name.to_owned(), sum.to_ascii_lowercase())
            .is_some()
        {
            return Err(problem(number, &format!("`{name}` is listed twice")));
        }
    }
    Ok(sums)
}

/// terraform's `h1:` hash of a set of files (Go's `dirhash.Hash1`): the sha256 of the lines
/// `<hex sha256 of content>  <name>\n` in name order, base64.
pub fn h1<'a>(files: impl IntoIterator<Item = (&'a str, Sha256)>) -> String {
    use base64::Engine as _;
    let mut sorted: Vec<(&str, Sha256)> = files.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let summary: String = sorted
        .iter()
        .map(|(name, digest)| format!("{}  {name}\n", digest.to_hex()))
        .collect();
    let digest = Sha256::of(summary.as_bytes());
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest.as_bytes())
    )
}

/// Whether terraform would run `entry` as provider `name`'s executable.
fn runs_as_provider(entry: &str, name: &str) -> bool {
    let stem = format!("terraform-provider-{name}");
    entry
        .strip_prefix(&stem)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('_') || rest.starts_with('.'))
}

/// Checks one platform zip: safe names, no links, within `budget` bytes unpacked (read, not
/// trusted from headers), exactly one executable; returns its `h1:` hash and executable.
/// `budget` is what remains of the release's limit; what this zip used is taken from it.
pub fn check_zip(
    file: &str,
    bytes: &[u8],
    name: &str,
    limits: &Limits,
    budget: &mut u64,
) -> Result<(String, String), ReleaseError> {
    let entry_error = |entry: &str, problem: &str| ReleaseError::Entry {
        file: file.to_owned(),
        entry: entry.chars().take(200).collect(),
        problem: problem.to_owned(),
    };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|error| {
        ReleaseError::NotZip {
            file: file.to_owned(),
            reason: error.to_string(),
        }
    })?;
    if zip.len() > limits.max_entries {
        return Err(ReleaseError::TooManyEntries {
            file: file.to_owned(),
            limit: limits.max_entries,
        });
    }
    let mut seen = BTreeSet::new();
    let mut hashed = Vec::with_capacity(zip.len());
    let mut executable: Option<String> = None;
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|error| ReleaseError::NotZip {
            file: file.to_owned(),
            reason: error.to_string(),
        })?;
        let entry_name = std::str::from_utf8(entry.name_raw())
            .map_err(|_| {
                entry_error(
                    &String::from_utf8_lossy(entry.name_raw()),
                    "the name is not UTF-8",
                )
            })?
            .to_owned();
        if entry_name.starts_with('/') || entry_name.contains(':') {
            return Err(entry_error(&entry_name, "has an absolute path"));
        }
        if entry_name.contains('\\') {
            return Err(entry_error(
                &entry_name,
                "contains a backslash, a path separator on Windows",
            ));
        }
        if entry_name.contains('\n') {
            return Err(entry_error(&entry_name, "contains a line break"));
        }
        if entry_name
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
        {
            return Err(entry_error(
                &entry_name,
                "leaves the zip's root through `..`",
            ));
        }
        if entry.is_symlink() {
            return Err(entry_error(
                &entry_name,
                "is a symbolic link, which a provider zip may not contain",
            ));
        }
        if !seen.insert(entry_name.clone()) {
            return Err(entry_error(&entry_name, "appears more than once"));
        }
        let (digest, read) = Sha256::of_reader((&mut entry).take(*budget + 1))
            .map_err(|error| entry_error(&entry_name, &format!("cannot be read: {error}")))?;
        if read > *budget {
            return Err(ReleaseError::TooLarge {
                file: file.to_owned(),
                limit: limits.max_unpacked_bytes,
            });
        }
        *budget -= read;
        if entry.is_file()
            && !entry_name.contains('/')
            && runs_as_provider(&entry_name, name)
            && let Some(first) = executable.replace(entry_name.clone())
        {
            return Err(ReleaseError::TwoExecutables {
                file: file.to_owned(),
                first,
                second: entry_name,
            });
        }
        hashed.push((entry_name, digest));
    }
    let executable = executable.ok_or_else(|| ReleaseError::NoExecutable {
        file: file.to_owned(),
        expected: format!("terraform-provider-{name}"),
    })?;
    let h1 = h1(hashed.iter().map(|(name, digest)| (name.as_str(), *digest)));
    Ok((h1, executable))
}

/// The protocols a release's manifest names (`{"version": 1, "metadata": {"protocol_versions":
/// ["6.0"]}}`), checked against what terraform accepts.
fn read_protocols(file: &str, bytes: &[u8]) -> Result<Vec<String>, ReleaseError> {
    #[derive(Deserialize)]
    struct Manifest {
        metadata: Metadata,
    }
    #[derive(Deserialize)]
    struct Metadata {
        protocol_versions: Vec<String>,
    }
    let problem = |problem: String| ReleaseError::Manifest {
        file: file.to_owned(),
        problem,
    };
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|error| {
        problem(format!(
            "expected {{\"version\": 1, \"metadata\": {{\"protocol_versions\": [\"5.0\"]}}}}: {error}"
        ))
    })?;
    let protocols = manifest.metadata.protocol_versions;
    if protocols.is_empty() {
        return Err(problem("`protocol_versions` is empty".into()));
    }
    for protocol in &protocols {
        let major = protocol.split('.').next().unwrap_or_default();
        if !SUPPORTED_PROTOCOLS.contains(&major) {
            return Err(problem(format!(
                "protocol `{protocol}` is not one terraform runs (5.x or 6.x)"
            )));
        }
    }
    Ok(protocols)
}

/// The file a mirrored version's `{version}.json` (as `terraform providers mirror` writes it)
/// travels in, beside its zips.
pub const MIRROR_FILE: &str = "mirror.json";

/// A network mirror's `{version}.json`: each platform's zip (`url`, a bare file name in a
/// mirror directory) and the hashes it must have.
#[derive(Debug, Deserialize)]
struct MirrorVersion {
    archives: BTreeMap<String, MirrorArchive>,
}

#[derive(Debug, Deserialize)]
struct MirrorArchive {
    url: String,
    #[serde(default)]
    hashes: Vec<String>,
}

/// Checks a mirrored version (its zips and [`MIRROR_FILE`]): the zips as a release's, unsigned
/// (a mirror has no sums), and every hash the mirror file gives must be the zip's.
pub fn check_mirrored(
    files: &BTreeMap<String, Vec<u8>>,
    name: &str,
    version: &str,
    limits: &Limits,
) -> Result<CheckedRelease, ReleaseError> {
    let problem = |problem: String| ReleaseError::Manifest {
        file: MIRROR_FILE.to_owned(),
        problem,
    };
    let listing = files
        .get(MIRROR_FILE)
        .ok_or_else(|| ReleaseError::Missing {
            file: MIRROR_FILE.to_owned(),
            why: "a mirrored version comes with the hashes of its zips".into(),
        })?;
    let listing: MirrorVersion = serde_json::from_slice(listing).map_err(|error| {
        problem(format!(
            "expected {{\"archives\": {{\"OS_ARCH\": {{\"url\": …, \"hashes\": […]}}}}}}: {error}"
        ))
    })?;
    let mut zips = files.clone();
    zips.remove(MIRROR_FILE);
    let checked = check_release(&zips, name, version, limits)?;
    if checked.signed.is_some() {
        return Err(problem(
            "a mirrored version carries no sums or signature".into(),
        ));
    }
    for platform in &checked.platforms {
        let key = format!("{}_{}", platform.os, platform.arch);
        let Some(archive) = listing.archives.get(&key) else {
            return Err(problem(format!(
                "lists no `{key}`, for `{}`",
                platform.filename
            )));
        };
        if archive.url != platform.filename {
            return Err(problem(format!(
                "`{key}` is `{}`, but its zip is `{}`",
                archive.url, platform.filename
            )));
        }
        let zh = format!("zh:{}", platform.shasum);
        let mut verified = false;
        for hash in &archive.hashes {
            let expected = if hash.starts_with("h1:") {
                &platform.h1
            } else if hash.starts_with("zh:") {
                &zh
            } else {
                continue;
            };
            if hash != expected {
                return Err(problem(format!(
                    "gives `{}` the hash {hash}, but it hashes to {expected}",
                    platform.filename
                )));
            }
            verified = true;
        }
        if !verified {
            return Err(problem(format!(
                "gives `{}` no h1: or zh: hash to verify it with",
                platform.filename
            )));
        }
    }
    if let Some(unknown) = listing.archives.keys().find(|key| {
        !checked
            .platforms
            .iter()
            .any(|p| format!("{}_{}", p.os, p.arch) == **key)
    }) {
        return Err(problem(format!("lists `{unknown}`, whose zip is missing")));
    }
    Ok(checked)
}

/// Checks a release's files (from the unpacked `.tar.gz`) for provider `name` at `version`.
pub fn check_release(
    files: &BTreeMap<String, Vec<u8>>,
    name: &str,
    version: &str,
    limits: &Limits,
) -> Result<CheckedRelease, ReleaseError> {
    let prefix = format!("terraform-provider-{name}_{version}_");
    let sums_file = sums_name(name, version);
    let signature_file = format!("{sums_file}.sig");
    let manifest_file = format!("{prefix}manifest.json");
    let expected = format!(
        "`{prefix}OS_ARCH.zip` files, optionally `{sums_file}` with `{signature_file}` and `{PUBLIC_KEY_FILE}`, and `{manifest_file}`"
    );
    let mut budget = limits.max_unpacked_bytes;
    let mut platforms = Vec::new();
    for (file, bytes) in files {
        if [&sums_file, &signature_file, &manifest_file].contains(&file) || file == PUBLIC_KEY_FILE
        {
            continue;
        }
        let platform = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".zip"))
            .and_then(|rest| rest.split_once('_'))
            .filter(|_| !file.contains('/'));
        let Some((os, arch)) = platform else {
            return Err(ReleaseError::UnexpectedFile {
                file: file.clone(),
                expected: expected.clone(),
            });
        };
        for part in [os, arch] {
            if !is_platform_part(part) {
                return Err(ReleaseError::Platform {
                    file: file.clone(),
                    part: part.chars().take(40).collect(),
                });
            }
        }
        let (h1, executable) = check_zip(file, bytes, name, limits, &mut budget)?;
        platforms.push(PlatformZip {
            os: os.to_owned(),
            arch: arch.to_owned(),
            filename: file.clone(),
            shasum: Sha256::of(bytes).to_hex(),
            size: bytes.len() as u64,
            h1,
            executable,
        });
    }
    if platforms.is_empty() {
        return Err(ReleaseError::NoZips {
            expected,
            example: zip_name(name, version, "linux", "amd64"),
        });
    }
    platforms.sort_by(|a, b| (&a.os, &a.arch).cmp(&(&b.os, &b.arch)));
    let protocols = match files.get(&manifest_file) {
        Some(bytes) => read_protocols(&manifest_file, bytes)?,
        None => vec!["5.0".to_owned()],
    };
    let signed = match (
        files.get(&sums_file),
        files.get(&signature_file),
        files.get(PUBLIC_KEY_FILE),
    ) {
        (None, None, None) => None,
        (Some(sums), Some(_), Some(key)) => {
            check_listed(&sums_file, sums, files, &platforms)?;
            let public_key =
                String::from_utf8(key.clone()).map_err(|_| ReleaseError::Manifest {
                    file: PUBLIC_KEY_FILE.to_owned(),
                    problem: "not an ASCII-armored public key".into(),
                })?;
            Some(PublisherSignature {
                sums_file,
                signature_file,
                public_key,
            })
        }
        (sums, signature, _) => {
            let (file, why) = if sums.is_none() {
                (
                    sums_file,
                    "a signature or key came without the sums it signs",
                )
            } else if signature.is_none() {
                (
                    signature_file,
                    "the sums come unsigned; leave all three out to have the registry sign",
                )
            } else {
                (
                    PUBLIC_KEY_FILE.to_owned(),
                    "the signature comes without the public key that verifies it",
                )
            };
            return Err(ReleaseError::Missing {
                file,
                why: why.to_owned(),
            });
        }
    };
    Ok(CheckedRelease {
        protocols,
        platforms,
        signed,
    })
}

/// A publisher's sums must list every zip with its true sha256, and list nothing the release
/// does not hold (each line becomes a hash in users' lock files).
fn check_listed(
    sums_file: &str,
    sums: &[u8],
    files: &BTreeMap<String, Vec<u8>>,
    platforms: &[PlatformZip],
) -> Result<(), ReleaseError> {
    let listed = parse_sums(sums_file, sums)?;
    for platform in platforms {
        if !listed.contains_key(&platform.filename) {
            return Err(ReleaseError::NotListed {
                sums: sums_file.to_owned(),
                file: platform.filename.clone(),
            });
        }
    }
    for (file, sum) in &listed {
        let Some(bytes) = files.get(file) else {
            return Err(ReleaseError::Missing {
                file: file.clone(),
                why: format!("`{sums_file}` lists it, but the release does not hold it"),
            });
        };
        let actual = Sha256::of(bytes).to_hex();
        if *sum != actual {
            return Err(ReleaseError::WrongSum {
                sums: sums_file.to_owned(),
                file: file.clone(),
                listed: sum.clone(),
                actual,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// A zip of `entries` (name, content); a name ending in `/` is a directory.
    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in entries {
            if name.ends_with('/') {
                writer.add_directory(*name, options).unwrap();
            } else {
                writer.start_file(*name, options).unwrap();
                writer.write_all(content).unwrap();
            }
        }
        writer.finish().unwrap().into_inner()
    }

    fn release(extra: &[(&str, Vec<u8>)]) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        files.insert(
            zip_name("echo", "1.0.0", "linux", "amd64"),
            zip(&[("terraform-provider-echo_v1.0.0", b"#!/bin/sh\n")]),
        );
        for (name, bytes) in extra {
            files.insert((*name).to_owned(), bytes.clone());
        }
        files
    }

    fn refusal(files: &BTreeMap<String, Vec<u8>>) -> String {
        check_release(files, "echo", "1.0.0", &Limits::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn h1_is_go_dirhash_hash1() {
        // Go: dirhash.Hash1([]string{"a", "b/c"}, open) with contents "hello\n" and "" gives
        // the sha256 of "5891b5b5…be03  a\ne3b0c442…b855  b/c\n", base64-encoded.
        let summary = format!(
            "{}  a\n{}  b/c\n",
            Sha256::of(b"hello\n").to_hex(),
            Sha256::of(b"").to_hex()
        );
        use base64::Engine as _;
        let expected = format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD
                .encode(Sha256::of(summary.as_bytes()).as_bytes())
        );
        let files = [("b/c", Sha256::of(b"")), ("a", Sha256::of(b"hello\n"))];
        assert_eq!(
            h1(files),
            expected,
            "sorted by name, whatever the order given"
        );
    }

    #[test]
    fn a_release_is_checked_and_hashed() {
        let checked = check_release(&release(&[]), "echo", "1.0.0", &Limits::default()).unwrap();
        assert_eq!(checked.protocols, ["5.0"]);
        let platform = &checked.platforms[0];
        assert_eq!(
            (platform.os.as_str(), platform.arch.as_str()),
            ("linux", "amd64")
        );
        assert_eq!(platform.executable, "terraform-provider-echo_v1.0.0");
        assert!(platform.h1.starts_with("h1:") && platform.h1.len() == 47);
        assert_eq!(checked.signed, None);

        let manifest = br#"{"version":1,"metadata":{"protocol_versions":["6.0"]}}"#.to_vec();
        let files = release(&[("terraform-provider-echo_1.0.0_manifest.json", manifest)]);
        let checked = check_release(&files, "echo", "1.0.0", &Limits::default()).unwrap();
        assert_eq!(checked.protocols, ["6.0"]);
    }

    #[test]
    fn hostile_zips_are_refused_naming_the_file_and_entry() {
        let cases: [(&str, Vec<u8>, &str); 8] = [
            (
                "slip",
                zip(&[("terraform-provider-echo", b"x"), ("../evil", b"x")]),
                "entry `../evil`: leaves the zip's root",
            ),
            (
                "absolute",
                zip(&[("terraform-provider-echo", b"x"), ("/etc/passwd", b"x")]),
                "entry `/etc/passwd`: has an absolute path",
            ),
            (
                "two",
                zip(&[
                    ("terraform-provider-echo", b"x"),
                    ("terraform-provider-echo_v1", b"x"),
                ]),
                "two executables terraform could run",
            ),
            (
                "wrong name",
                zip(&[("terraform-provider-other", b"x")]),
                "holds no executable named `terraform-provider-echo`",
            ),
            (
                "nested executable",
                zip(&[("bin/terraform-provider-echo", b"x")]),
                "holds no executable named",
            ),
            (
                "not a zip",
                b"PK\x03\x04 truncated".to_vec(),
                "is not a zip archive",
            ),
            (
                "bomb",
                zip(&[
                    ("terraform-provider-echo", b"x"),
                    ("zeros", &vec![0u8; 2 << 20]),
                ]),
                "unpack to more than 1048576 bytes",
            ),
            (
                "backslash",
                zip(&[("terraform-provider-echo", b"x"), ("a\\b", b"x")]),
                "contains a backslash",
            ),
        ];
        let limits = Limits {
            max_unpacked_bytes: 1 << 20,
            ..Limits::default()
        };
        for (case, bytes, expected) in cases {
            let mut files = BTreeMap::new();
            let file = zip_name("echo", "1.0.0", "linux", "amd64");
            files.insert(file.clone(), bytes);
            let error = check_release(&files, "echo", "1.0.0", &limits)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{case}: {error}");
            assert!(error.contains(&file), "{case} names the zip: {error}");
        }
    }

    #[test]
    fn a_symbolic_link_in_a_zip_is_refused() {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        writer
            .start_file("terraform-provider-echo", options)
            .unwrap();
        writer.write_all(b"x").unwrap();
        writer.add_symlink("link", "/etc/passwd", options).unwrap();
        let bytes = writer.finish().unwrap().into_inner();
        let mut budget = 1 << 20;
        let error = check_zip("p.zip", &bytes, "echo", &Limits::default(), &mut budget)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("entry `link`: is a symbolic link"),
            "{error}"
        );
    }

    #[test]
    fn release_files_must_be_named_for_the_provider_and_version() {
        let stray = release(&[("notes.txt", b"hi".to_vec())]);
        assert!(refusal(&stray).contains("`notes.txt` is not part of a release"));
        let other_version = release(&[(
            "terraform-provider-echo_2.0.0_linux_arm64.zip",
            zip(&[("terraform-provider-echo", b"x")]),
        )]);
        assert!(refusal(&other_version).contains("terraform-provider-echo_2.0.0_linux_arm64.zip"));
        let bad_platform = release(&[(
            "terraform-provider-echo_1.0.0_Linux_amd64.zip",
            zip(&[("terraform-provider-echo", b"x")]),
        )]);
        assert!(refusal(&bad_platform).contains("the platform `Linux`"));
        assert!(refusal(&BTreeMap::new()).contains("holds no platform zip"));
        let protocol = release(&[(
            "terraform-provider-echo_1.0.0_manifest.json",
            br#"{"version":1,"metadata":{"protocol_versions":["4.0"]}}"#.to_vec(),
        )]);
        assert!(refusal(&protocol).contains("protocol `4.0` is not one terraform runs"));
    }

    #[test]
    fn a_publishers_sums_must_match_and_come_signed() {
        let files = release(&[]);
        let file = zip_name("echo", "1.0.0", "linux", "amd64");
        let sums_file = sums_name("echo", "1.0.0");
        let right: BTreeMap<String, String> =
            [(file.clone(), Sha256::of(&files[&file]).to_hex())].into();
        let signed = |sums: String| {
            release(&[
                (sums_file.as_str(), sums.into_bytes()),
                (
                    "terraform-provider-echo_1.0.0_SHA256SUMS.sig",
                    b"sig".to_vec(),
                ),
                (PUBLIC_KEY_FILE, b"key".to_vec()),
            ])
        };
        let checked = check_release(
            &signed(sums_text(&right)),
            "echo",
            "1.0.0",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(checked.signed.unwrap().sums_file, sums_file);

        let wrong: BTreeMap<String, String> = [(file.clone(), "0".repeat(64))].into();
        assert!(
            refusal(&signed(sums_text(&wrong)))
                .contains("gives `terraform-provider-echo_1.0.0_linux_amd64.zip` the sha256 0000")
        );
        let extra = format!("{}{}  other.zip\n", sums_text(&right), "1".repeat(64));
        assert!(refusal(&signed(extra)).contains("`other.zip` is missing"));
        assert!(
            refusal(&signed("nonsense\n".into()))
                .contains("line 1: expected `<sha256>  <file name>`")
        );
        let unsigned = release(&[(sums_file.as_str(), sums_text(&right).into_bytes())]);
        assert!(refusal(&unsigned).contains("the sums come unsigned"));
    }

    #[test]
    fn a_mirrored_version_must_hash_as_its_mirror_file_says() {
        let files = release(&[]);
        let file = zip_name("echo", "1.0.0", "linux", "amd64");
        let checked = check_release(&files, "echo", "1.0.0", &Limits::default()).unwrap();
        let h1 = checked.platforms[0].h1.clone();
        let mirrored = |hashes: &str| {
            let mut files = files.clone();
            let listing = format!(
                r#"{{"archives":{{"linux_amd64":{{"url":"{file}","hashes":[{hashes}]}}}}}}"#
            );
            files.insert(MIRROR_FILE.into(), listing.into_bytes());
            check_mirrored(&files, "echo", "1.0.0", &Limits::default())
        };
        assert!(mirrored(&format!("\"{h1}\"")).is_ok());
        let wrong = mirrored("\"h1:AAAA\"").unwrap_err().to_string();
        assert!(
            wrong
                .contains("gives `terraform-provider-echo_1.0.0_linux_amd64.zip` the hash h1:AAAA"),
            "{wrong}"
        );
        let none = mirrored("").unwrap_err().to_string();
        assert!(none.contains("no h1: or zh: hash"), "{none}");
        let missing = check_mirrored(&files, "echo", "1.0.0", &Limits::default())
            .unwrap_err()
            .to_string();
        assert!(missing.contains("`mirror.json` is missing"), "{missing}");
    }
}
