//! Module archives (`.tar.gz`): a safe reader that checks every entry before anything trusts the
//! upload, and a deterministic packer. The reader never writes to disk and never follows a link; it
//! stops as soon as a limit is crossed, so a gzip or tar bomb costs at most the limit.

use crate::module::ModuleFiles;
use flate2::Compression;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use std::collections::BTreeSet;
use std::io::{self, Read};
use std::path::{Component, Path};

/// How much an archive may hold.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Bytes after decompression, tar headers included.
    pub max_unpacked_bytes: u64,
    /// Entries of every kind (files, directories, links).
    pub max_entries: usize,
    /// Size of one `.tf` or README file read for analysis.
    pub max_analysed_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_unpacked_bytes: 1 << 30,
            max_entries: 10_000,
            max_analysed_file_bytes: 4 << 20,
        }
    }
}

/// Why an archive was refused. `Undecodable` errors mean the bytes are not a `.tar.gz` at all; the
/// others mean a readable archive that holds something a registry must not accept.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ArchiveError {
    #[error("the body is not gzip-compressed (expected a .tar.gz archive)")]
    NotGzip,
    #[error("the archive could not be read: {0}")]
    Undecodable(String),
    #[error("the archive has data after its end")]
    TrailingData,
    #[error("the archive unpacks to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the archive has more than {limit} entries")]
    TooManyEntries { limit: usize },
    #[error("archive entry name is not valid UTF-8: `{0}`")]
    NonUtf8Name(String),
    #[error("archive entry `{path}` has a name longer than {limit} bytes")]
    NameTooLong { path: String, limit: usize },
    #[error("archive entry `{0}` has an absolute path")]
    AbsolutePath(String),
    #[error("archive entry `{0}` contains a backslash, a path separator on Windows")]
    Backslash(String),
    #[error("archive entry `{0}` leaves the module root through `..`")]
    ParentTraversal(String),
    #[error("archive entry `{path}` is a {kind} and links to `{target}`, outside the module root")]
    LinkEscapes {
        path: String,
        kind: std::borrow::Cow<'static, str>,
        target: String,
    },
    #[error("archive entry `{path}` is written through the symbolic link `{link}`")]
    ThroughLink { path: String, link: String },
    #[error("archive entry `{path}` links through the symbolic link `{link}`; links may not chain")]
    LinkThroughLink { path: String, link: String },
    #[error(
        "archive entry `{path}` is a hard link to `{target}`, which is not a file earlier in the archive"
    )]
    HardLinkTarget { path: String, target: String },
    #[error("archive entry `{0}` names the archive root but is not a directory")]
    RootNotDirectory(String),
    #[error("archive entry `{path}` is a {kind}, which a module may not contain")]
    ForbiddenType {
        path: String,
        kind: std::borrow::Cow<'static, str>,
    },
    #[error("archive entry `{0}` appears more than once")]
    Duplicate(String),
    #[error("`{path}` is larger than {limit} bytes, too large to analyse")]
    FileTooLarge { path: String, limit: u64 },
    #[error("`{0}` is not valid UTF-8 text")]
    NonUtf8File(String),
    #[error(
        "the archive has no .tf file at its root (a module's .tf files must not be inside a folder)"
    )]
    NoRootTerraform,
}

/// What a checked archive holds: the files analysis needs, and its size.
#[derive(Debug)]
pub struct Inspected {
    pub files: ModuleFiles,
    pub entries: usize,
    pub unpacked_bytes: u64,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The longest entry name accepted: far more than any module needs, far less than tar allows.
const MAX_NAME_BYTES: usize = 1024;

/// Counts decompressed bytes and fails the read once the limit is crossed.
struct Limited<R> {
    inner: R,
    read: u64,
    limit: u64,
}

#[derive(Debug)]
struct LimitExceeded;

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unpacked size limit exceeded")
    }
}

impl std::error::Error for LimitExceeded {}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.read += count as u64;
        if self.read > self.limit {
            return Err(io::Error::other(LimitExceeded));
        }
        Ok(count)
    }
}

fn read_error(error: io::Error, limits: &Limits) -> ArchiveError {
    let over_limit = error
        .get_ref()
        .is_some_and(|inner| inner.is::<LimitExceeded>());
    if over_limit {
        ArchiveError::TooLarge {
            limit: limits.max_unpacked_bytes,
        }
    } else {
        ArchiveError::Undecodable(error.to_string())
    }
}

/// Shows an entry name in an error without letting a hostile one flood a response.
fn shown(name: &str) -> String {
    if name.chars().count() <= 200 {
        name.to_owned()
    } else {
        format!("{}…", name.chars().take(200).collect::<String>())
    }
}

/// Normalises an entry path relative to the archive root: `./a//b/` → `a/b`. Refuses absolute
/// paths and `..`.
fn normalise(raw: &str) -> Result<String, ArchiveError> {
    if raw.starts_with('/') || raw.starts_with('\\') || raw.as_bytes().get(1) == Some(&b':') {
        return Err(ArchiveError::AbsolutePath(shown(raw)));
    }
    // A separator on Windows: `..\\evil.tf` would leave the root when extracted there.
    if raw.contains('\\') {
        return Err(ArchiveError::Backslash(shown(raw)));
    }
    let mut parts = Vec::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().unwrap_or_default()),
            Component::CurDir => {}
            Component::ParentDir => return Err(ArchiveError::ParentTraversal(shown(raw))),
            Component::RootDir | Component::Prefix(_) => {
                return Err(ArchiveError::AbsolutePath(shown(raw)));
            }
        }
    }
    Ok(parts.join("/"))
}

/// Where a symbolic link's target leads.
enum Resolved {
    /// Inside the root, through these intermediate paths.
    Inside(Vec<String>),
    Outside,
    /// The target passes through this earlier link, so where it leads depends on that link.
    ThroughLink(String),
}

/// Resolves `target`, read relative to `base_dir` (a normalised directory inside the root, with
/// no link on its way), against the root, refusing to follow any earlier link.
fn resolve_link(base_dir: &str, target: &str, links: &[String]) -> Resolved {
    if target.starts_with('/') || target.contains('\\') {
        return Resolved::Outside;
    }
    let mut depth: Vec<&str> = base_dir.split('/').filter(|p| !p.is_empty()).collect();
    let mut walked = Vec::new();
    for component in Path::new(target).components() {
        match component {
            Component::Normal(part) => {
                depth.push(part.to_str().unwrap_or_default());
                let so_far = depth.join("/");
                if links.contains(&so_far) {
                    return Resolved::ThroughLink(so_far);
                }
                walked.push(so_far);
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return Resolved::Outside;
                }
            }
            Component::RootDir | Component::Prefix(_) => return Resolved::Outside,
        }
    }
    Resolved::Inside(walked)
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// Whether a normalised path is one analysis reads: `.tf` files and the README at the root and
/// directly inside `modules/<name>/` or `examples/<name>/`.
fn is_analysed(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let file = match parts.as_slice() {
        [file] => file,
        ["modules" | "examples", _, file] => file,
        _ => return false,
    };
    file.ends_with(".tf") || file.eq_ignore_ascii_case("readme.md")
}

/// How the walker treats links: modules may hold links that stay inside the root; blueprints,
/// which the renderer reads file by file, may hold none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Links {
    InsideRoot,
    Refused,
}

type ArchiveEntry<'a, 'b> = tar::Entry<'a, Limited<GzDecoder<&'b [u8]>>>;

/// What a walk saw, beyond what its visitor kept.
struct Walked {
    entries: usize,
    unpacked_bytes: u64,
}

/// Walks every entry of a `.tar.gz`, checking names, types, links, counts and sizes, and hands
/// each regular file (with its normalised path) to `visit`. Nothing is written anywhere.
fn walk(
    compressed: &[u8],
    limits: &Limits,
    links: Links,
    mut visit: impl FnMut(&str, &mut ArchiveEntry<'_, '_>) -> Result<(), ArchiveError>,
) -> Result<Walked, ArchiveError> {
    if !compressed.starts_with(&GZIP_MAGIC) {
        return Err(ArchiveError::NotGzip);
    }
    let decoder = GzDecoder::new(compressed);
    let limited = Limited {
        inner: decoder,
        read: 0,
        limit: limits.max_unpacked_bytes,
    };
    let mut archive = tar::Archive::new(limited);
    let mut seen = BTreeSet::new();
    let mut symlinks: Vec<String> = Vec::new();
    let mut regular_files: BTreeSet<String> = BTreeSet::new();
    let mut link_walks: Vec<(String, Vec<String>)> = Vec::new();
    let mut entries = 0usize;

    let iter = archive
        .entries()
        .map_err(|error| read_error(error, limits))?;
    for entry in iter {
        let mut entry = entry.map_err(|error| read_error(error, limits))?;
        entries += 1;
        if entries > limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let raw_path = entry.path_bytes();
        if raw_path.len() > MAX_NAME_BYTES {
            return Err(ArchiveError::NameTooLong {
                path: shown(&String::from_utf8_lossy(&raw_path)),
                limit: MAX_NAME_BYTES,
            });
        }
        let raw = std::str::from_utf8(&raw_path)
            .map_err(|_| ArchiveError::NonUtf8Name(shown(&String::from_utf8_lossy(&raw_path))))?
            .to_owned();
        let path = normalise(&raw)?;
        if path.is_empty() {
            // The archive root itself (`./`): only ever a directory.
            if entry.header().entry_type().is_dir() {
                continue;
            }
            return Err(ArchiveError::RootNotDirectory(shown(&raw)));
        }
        if let Some(link) = symlinks
            .iter()
            .find(|link| path.starts_with(link.as_str()) && path[link.len()..].starts_with('/'))
        {
            return Err(ArchiveError::ThroughLink {
                path: shown(&path),
                link: shown(link),
            });
        }
        let entry_type = entry.header().entry_type();
        if !seen.insert(path.clone()) && !entry_type.is_dir() {
            return Err(ArchiveError::Duplicate(shown(&path)));
        }
        match entry_type {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                visit(&path, &mut entry)?;
                regular_files.insert(path);
            }
            tar::EntryType::Directory => {}
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let kind = if entry_type.is_symlink() {
                    "symbolic link"
                } else {
                    "hard link"
                };
                if links == Links::Refused {
                    return Err(ArchiveError::ForbiddenType {
                        path: shown(&path),
                        kind: kind.into(),
                    });
                }
                let target_bytes = entry.link_name_bytes().unwrap_or_default();
                let target = String::from_utf8_lossy(&target_bytes).into_owned();
                let escapes = || ArchiveError::LinkEscapes {
                    path: shown(&path),
                    kind: kind.into(),
                    target: shown(&target),
                };
                if target.is_empty() {
                    return Err(escapes());
                }
                if entry_type.is_symlink() {
                    // A link over a folder that already has entries would redirect them.
                    let folder = format!("{path}/");
                    if let Some(inside) = seen.iter().find(|seen| seen.starts_with(&folder)) {
                        return Err(ArchiveError::ThroughLink {
                            path: shown(inside),
                            link: shown(&path),
                        });
                    }
                    // Nor may it lie on the way of an earlier link, whose meaning it would change.
                    if let Some((earlier, _)) =
                        link_walks.iter().find(|(_, walked)| walked.contains(&path))
                    {
                        return Err(ArchiveError::LinkThroughLink {
                            path: shown(earlier),
                            link: shown(&path),
                        });
                    }
                    // Relative to the link's own folder, and never through another link.
                    match resolve_link(parent_of(&path), &target, &symlinks) {
                        Resolved::Inside(walked) => link_walks.push((path.clone(), walked)),
                        Resolved::Outside => return Err(escapes()),
                        Resolved::ThroughLink(link) => {
                            return Err(ArchiveError::LinkThroughLink {
                                path: shown(&path),
                                link: shown(&link),
                            });
                        }
                    }
                    symlinks.push(path);
                } else {
                    // A hard link names a regular file stored earlier, relative to the root.
                    let linked = normalise(&target).map_err(|_| escapes())?;
                    if !regular_files.contains(&linked) {
                        return Err(ArchiveError::HardLinkTarget {
                            path: shown(&path),
                            target: shown(&target),
                        });
                    }
                    regular_files.insert(path);
                }
            }
            other => {
                let kind = match other {
                    tar::EntryType::Char => "character device",
                    tar::EntryType::Block => "block device",
                    tar::EntryType::Fifo => "named pipe (FIFO)",
                    _ => "special entry",
                };
                return Err(ArchiveError::ForbiddenType {
                    path: shown(&path),
                    kind: kind.into(),
                });
            }
        }
    }

    // After the end-of-archive marker only zero padding may follow, and after the gzip stream nothing.
    let mut limited = archive.into_inner();
    let mut rest = [0u8; 8192];
    loop {
        let count = limited
            .read(&mut rest)
            .map_err(|error| read_error(error, limits))?;
        if count == 0 {
            break;
        }
        if rest[..count].iter().any(|b| *b != 0) {
            return Err(ArchiveError::TrailingData);
        }
    }
    let unpacked_bytes = limited.read;
    if !limited.inner.into_inner().is_empty() {
        return Err(ArchiveError::TrailingData);
    }
    Ok(Walked {
        entries,
        unpacked_bytes,
    })
}

/// Reads one entry whole, refusing one larger than `limit`.
fn read_limited(
    path: &str,
    entry: &mut ArchiveEntry<'_, '_>,
    limit: u64,
    limits: &Limits,
) -> Result<Vec<u8>, ArchiveError> {
    let size = entry.header().size().unwrap_or(u64::MAX);
    if size > limit {
        return Err(ArchiveError::FileTooLarge {
            path: shown(path),
            limit,
        });
    }
    // Reserve at most 1 MiB up front: the declared size is the uploader's word, not yet data.
    let mut bytes = Vec::with_capacity(size.min(1 << 20) as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|error| read_error(error, limits))?;
    Ok(bytes)
}

/// Reads a `.tar.gz` module archive and checks every entry: names, types, links, counts and sizes.
/// Returns the `.tf` and README files of the root and of `modules/*`, as text.
pub fn inspect_module(compressed: &[u8], limits: &Limits) -> Result<Inspected, ArchiveError> {
    let mut files = ModuleFiles::new();
    let mut has_root_terraform = false;
    let walked = walk(compressed, limits, Links::InsideRoot, |path, entry| {
        if !path.contains('/') && path.ends_with(".tf") {
            has_root_terraform = true;
        }
        if is_analysed(path) {
            let bytes = read_limited(path, entry, limits.max_analysed_file_bytes, limits)?;
            match String::from_utf8(bytes) {
                Ok(text) => {
                    files.insert(path.to_owned(), text);
                }
                // Examples are only shown, never analysed: one that is not text is left out.
                Err(_) if path.starts_with("examples/") => {}
                Err(_) => return Err(ArchiveError::NonUtf8File(path.to_owned())),
            }
        }
        Ok(())
    })?;
    if !has_root_terraform {
        return Err(ArchiveError::NoRootTerraform);
    }
    Ok(Inspected {
        files,
        entries: walked.entries,
        unpacked_bytes: walked.unpacked_bytes,
    })
}

/// The sha256 of a `.tar.gz`'s uncompressed stream, read up to `limit` bytes (`None` past it
/// or when it does not decompress): what two archives packed from the same files share,
/// whatever compressor (or compressor version) made them.
pub fn content_digest(compressed: &[u8], limit: u64) -> Option<crate::digest::Sha256> {
    let decoder = flate2::read::GzDecoder::new(compressed);
    let (digest, read) = crate::digest::Sha256::of_reader(decoder.take(limit + 1)).ok()?;
    (read <= limit).then_some(digest)
}

/// Reads every regular file of a `.tar.gz` (a blueprint), with the same checks as for modules
/// except that links are refused outright. The total is bounded by `max_unpacked_bytes`.
pub fn read_files(
    compressed: &[u8],
    limits: &Limits,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, ArchiveError> {
    let mut files = std::collections::BTreeMap::new();
    walk(compressed, limits, Links::Refused, |path, entry| {
        let bytes = read_limited(path, entry, limits.max_unpacked_bytes, limits)?;
        files.insert(path.to_owned(), bytes);
        Ok(())
    })?;
    Ok(files)
}

/// Names never packed: version control, Terraform's working files, state, the importer's manifest.
fn is_packing_excluded(name: &str) -> bool {
    matches!(
        name,
        ".git"
            | ".terraform"
            | ".terraform.lock.hcl"
            | IGNORE_FILE
            | crate::manifest::MODULE_MANIFEST
    ) || name.ends_with(".tfstate")
        || name.ends_with(".tfstate.backup")
}

/// The file listing what a directory leaves out of its archive.
pub const IGNORE_FILE: &str = ".scaffoldignore";

/// Patterns from a `.scaffoldignore`: one per line, `#` comments, gitignore's common forms. A
/// pattern without `/` matches a file or folder name anywhere (`*.zip`, `node_modules`); one with
/// `/` matches a path from the root (`/docs/drafts`, `examples/*/secret.tfvars`); a trailing `/`
/// is allowed; `*` and `?` do not cross `/`. Negation (`!`) is not supported.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<(bool, String)>,
}

impl Ignore {
    pub fn parse(text: &str) -> Self {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('!'))
            .map(|line| {
                let line = line.trim_end_matches('/');
                let anchored = line.contains('/');
                (anchored, line.trim_start_matches('/').to_owned())
            })
            .filter(|(_, pattern)| !pattern.is_empty())
            .collect();
        Self { patterns }
    }

    /// Reads `<dir>/.scaffoldignore`, or nothing is ignored.
    pub fn from_dir(dir: &Path) -> io::Result<Self> {
        match std::fs::read_to_string(dir.join(IGNORE_FILE)) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(error),
        }
    }

    /// Whether a relative path (`/`-separated) is left out.
    pub fn matches(&self, path: &str) -> bool {
        self.patterns.iter().any(|(anchored, pattern)| {
            if *anchored {
                glob(pattern, path)
            } else {
                path.rsplit('/')
                    .next()
                    .is_some_and(|name| glob(pattern, name))
            }
        })
    }
}

/// `*` and `?` wildcards that never cross `/`.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' && text[t] != '/' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star
            && text[star_t] != '/'
        {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Packs a directory into a `.tar.gz` that depends only on the files' paths, contents and
/// executable bit: sorted entries, zero timestamps and owners. Leaves out what `.scaffoldignore`
/// lists, version control and Terraform's working files. Symbolic links are refused, so the
/// archive holds exactly what the reader will accept.
pub fn pack_dir(dir: &Path) -> io::Result<Vec<u8>> {
    let ignore = Ignore::from_dir(dir)?;
    let mut paths = Vec::new();
    collect(dir, Path::new(""), &ignore, &mut paths)?;
    paths.sort();
    let encoder = GzEncoder::new(Vec::new(), Compression::default());
    let mut builder = tar::Builder::new(encoder);
    builder.mode(tar::HeaderMode::Deterministic);
    for relative in paths {
        let full = dir.join(&relative);
        let metadata = std::fs::metadata(&full)?;
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        if metadata.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder.append_data(&mut header, format!("{}/", relative.display()), io::empty())?;
        } else {
            let executable = is_executable(&metadata);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if executable { 0o755 } else { 0o644 });
            header.set_size(metadata.len());
            builder.append_data(&mut header, &relative, std::fs::File::open(&full)?)?;
        }
    }
    builder.into_inner()?.finish()
}

/// Packs files held in memory (a rendered stack) into a `.tar.gz` that depends only on the paths
/// and contents: sorted, zero timestamps and owners, mode 0644.
pub fn pack_files(files: &std::collections::BTreeMap<String, Vec<u8>>) -> io::Result<Vec<u8>> {
    let encoder = GzEncoder::new(Vec::new(), Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mode(0o644);
        header.set_size(content.len() as u64);
        builder.append_data(&mut header, path, content.as_slice())?;
    }
    builder.into_inner()?.finish()
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

fn collect(
    root: &Path,
    relative: &Path,
    ignore: &Ignore,
    out: &mut Vec<std::path::PathBuf>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name_text) = name.to_str() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file name {name:?} is not valid UTF-8"),
            ));
        };
        if is_packing_excluded(name_text) {
            continue;
        }
        let path = relative.join(&name);
        if ignore.matches(&path.to_string_lossy().replace('\\', "/")) {
            continue;
        }
        let file_type = entry.file_type()?;
        if file_type.is_symlink() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link; modules are packed without links",
                    path.display()
                ),
            ));
        }
        out.push(path.clone());
        if file_type.is_dir() {
            collect(root, &path, ignore, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_content_digest_is_the_same_whatever_compressed_it() {
        use std::io::Write as _;
        let files = std::collections::BTreeMap::from([("main.tf".to_owned(), vec![b'x'; 4096])]);
        let packed = super::pack_files(&files).unwrap();
        let tar = {
            let mut decoder = flate2::read::GzDecoder::new(&packed[..]);
            let mut tar = Vec::new();
            std::io::Read::read_to_end(&mut decoder, &mut tar).unwrap();
            tar
        };
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&tar).unwrap();
        let recompressed = encoder.finish().unwrap();
        assert_ne!(packed, recompressed, "different bytes");
        assert_eq!(
            super::content_digest(&packed, 1 << 20),
            super::content_digest(&recompressed, 1 << 20)
        );
        assert!(
            super::content_digest(&packed, 100).is_none(),
            "past the limit"
        );
        assert!(super::content_digest(b"not gzip", 1 << 20).is_none());
    }

    use super::*;
    use crate::test_support::{gzip, tar_gz};

    const FILE: tar::EntryType = tar::EntryType::Regular;

    fn inspect(bytes: &[u8]) -> Result<Inspected, ArchiveError> {
        inspect_module(bytes, &Limits::default())
    }

    #[test]
    fn accepts_a_plain_module_and_collects_analysed_files() {
        let archive = tar_gz(&[
            ("./", tar::EntryType::Directory, b"", None),
            ("./main.tf", FILE, b"variable \"x\" {}", None),
            ("README.md", FILE, b"# hi", None),
            ("modules/sub/main.tf", FILE, b"", None),
            ("modules/sub/deep/ignored.tf", FILE, b"", None),
            ("examples/basic/main.tf", FILE, b"", None),
            ("examples/basic/logo.tf", FILE, b"\xff\xfe", None),
            ("examples/basic/deep/main.tf", FILE, b"", None),
            ("files/script.sh", FILE, b"#!/bin/sh", None),
        ]);
        let inspected = inspect(&archive).expect("valid module");
        let names: Vec<&str> = inspected.files.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "README.md",
                "examples/basic/main.tf",
                "main.tf",
                "modules/sub/main.tf"
            ]
        );
        assert_eq!(inspected.entries, 9);
    }

    #[test]
    fn rejects_each_unsafe_entry() {
        let dir = tar::EntryType::Directory;
        let cases: Vec<(Vec<u8>, ArchiveError)> = vec![
            (
                tar_gz(&[
                    ("main.tf", FILE, b"", None),
                    ("../evil.tf", FILE, b"", None),
                ]),
                ArchiveError::ParentTraversal("../evil.tf".into()),
            ),
            (
                tar_gz(&[("main.tf", FILE, b"", None), ("a/../../x", FILE, b"", None)]),
                ArchiveError::ParentTraversal("a/../../x".into()),
            ),
            (
                tar_gz(&[("/etc/cron.d/x", FILE, b"", None)]),
                ArchiveError::AbsolutePath("/etc/cron.d/x".into()),
            ),
            (
                tar_gz(&[
                    ("main.tf", FILE, b"", None),
                    ("..\\..\\evil.tf", FILE, b"", None),
                ]),
                ArchiveError::Backslash("..\\..\\evil.tf".into()),
            ),
            (
                tar_gz(&[("link", tar::EntryType::Symlink, b"", Some("/etc/passwd"))]),
                ArchiveError::LinkEscapes {
                    path: "link".into(),
                    kind: "symbolic link".into(),
                    target: "/etc/passwd".into(),
                },
            ),
            (
                tar_gz(&[("a/link", tar::EntryType::Symlink, b"", Some("../../x"))]),
                ArchiveError::LinkEscapes {
                    path: "a/link".into(),
                    kind: "symbolic link".into(),
                    target: "../../x".into(),
                },
            ),
            (
                tar_gz(&[("hard", tar::EntryType::Link, b"", Some("../outside"))]),
                ArchiveError::LinkEscapes {
                    path: "hard".into(),
                    kind: "hard link".into(),
                    target: "../outside".into(),
                },
            ),
            (
                tar_gz(&[
                    ("d", dir, b"", None),
                    ("d/link", tar::EntryType::Symlink, b"", Some("..")),
                    ("d/link/main.tf", FILE, b"", None),
                ]),
                ArchiveError::ThroughLink {
                    path: "d/link/main.tf".into(),
                    link: "d/link".into(),
                },
            ),
            (
                tar_gz(&[("tty", tar::EntryType::Char, b"", None)]),
                ArchiveError::ForbiddenType {
                    path: "tty".into(),
                    kind: "character device".into(),
                },
            ),
            (
                tar_gz(&[("disk", tar::EntryType::Block, b"", None)]),
                ArchiveError::ForbiddenType {
                    path: "disk".into(),
                    kind: "block device".into(),
                },
            ),
            (
                tar_gz(&[("pipe", tar::EntryType::Fifo, b"", None)]),
                ArchiveError::ForbiddenType {
                    path: "pipe".into(),
                    kind: "named pipe (FIFO)".into(),
                },
            ),
            (
                tar_gz(&[("main.tf", FILE, b"", None), ("./main.tf", FILE, b"", None)]),
                ArchiveError::Duplicate("main.tf".into()),
            ),
            (
                tar_gz(&[("sub/main.tf", FILE, b"", None)]),
                ArchiveError::NoRootTerraform,
            ),
            (
                tar_gz(&[
                    ("main.tf", FILE, b"", None),
                    ("a/b", tar::EntryType::Symlink, b"", Some("..")),
                    ("b", tar::EntryType::Link, b"", Some("a/b")),
                ]),
                ArchiveError::HardLinkTarget {
                    path: "b".into(),
                    target: "a/b".into(),
                },
            ),
            (
                tar_gz(&[
                    ("main.tf", FILE, b"", None),
                    ("a/a", tar::EntryType::Symlink, b"", Some("..")),
                    ("a/x", tar::EntryType::Symlink, b"", Some("a/..")),
                ]),
                ArchiveError::LinkThroughLink {
                    path: "a/x".into(),
                    link: "a/a".into(),
                },
            ),
            (
                tar_gz(&[
                    ("main.tf", FILE, b"", None),
                    ("b/a", tar::EntryType::Symlink, b"", Some("b/..")),
                    ("b/b", tar::EntryType::Symlink, b"", Some("..")),
                ]),
                ArchiveError::LinkThroughLink {
                    path: "b/a".into(),
                    link: "b/b".into(),
                },
            ),
            (
                tar_gz(&[
                    ("main.tf", FILE, b"", None),
                    (".", tar::EntryType::Char, b"", None),
                ]),
                ArchiveError::RootNotDirectory(".".into()),
            ),
        ];
        for (archive, expected) in cases {
            assert_eq!(inspect(&archive).unwrap_err(), expected);
        }
    }

    #[test]
    fn read_files_returns_every_file_and_refuses_links() {
        let archive = tar_gz(&[
            ("blueprint.yaml", FILE, b"kind: Blueprint", None),
            ("template/main.tf.tera", FILE, b"{{ inputs.x }}", None),
        ]);
        let files = read_files(&archive, &Limits::default()).expect("valid");
        assert_eq!(files["template/main.tf.tera"], b"{{ inputs.x }}");
        let linked = tar_gz(&[
            ("blueprint.yaml", FILE, b"", None),
            (
                "template/x",
                tar::EntryType::Symlink,
                b"",
                Some("../blueprint.yaml"),
            ),
        ]);
        assert_eq!(
            read_files(&linked, &Limits::default()).unwrap_err(),
            ArchiveError::ForbiddenType {
                path: "template/x".into(),
                kind: "symbolic link".into()
            }
        );
    }

    #[test]
    fn symlink_inside_the_root_is_accepted() {
        let archive = tar_gz(&[
            ("main.tf", FILE, b"", None),
            ("modules/a/main.tf", FILE, b"", None),
            ("modules/b", tar::EntryType::Symlink, b"", Some("a")),
        ]);
        inspect(&archive).expect("a link within the module is fine");
    }

    #[test]
    fn rejects_bytes_that_are_not_a_tar_gz() {
        assert_eq!(inspect(b"hello").unwrap_err(), ArchiveError::NotGzip);
        assert!(matches!(
            inspect(&gzip(&[7u8; 1024])).unwrap_err(),
            ArchiveError::Undecodable(_)
        ));
        let archive = tar_gz(&[("main.tf", FILE, b"x", None)]);
        assert!(matches!(
            inspect(&archive[..archive.len() / 2]).unwrap_err(),
            ArchiveError::Undecodable(_)
        ));
        let mut trailing = archive.clone();
        trailing.extend_from_slice(b"garbage");
        assert_eq!(inspect(&trailing).unwrap_err(), ArchiveError::TrailingData);
    }

    #[test]
    fn stops_at_the_unpacked_limit_and_the_entry_limit() {
        let zeros = vec![0u8; 4 << 20];
        let bomb = tar_gz(&[
            ("main.tf", FILE, b"", None),
            ("big.bin", FILE, &zeros, None),
        ]);
        let limits = Limits {
            max_unpacked_bytes: 1 << 20,
            ..Limits::default()
        };
        assert_eq!(
            inspect_module(&bomb, &limits).unwrap_err(),
            ArchiveError::TooLarge { limit: 1 << 20 }
        );
        let names: Vec<String> = (0..20).map(|i| format!("f{i}.tf")).collect();
        let entries: Vec<(&str, tar::EntryType, &[u8], Option<&str>)> = names
            .iter()
            .map(|n| (n.as_str(), FILE, &b""[..], None))
            .collect();
        let limits = Limits {
            max_entries: 10,
            ..Limits::default()
        };
        assert_eq!(
            inspect_module(&tar_gz(&entries), &limits).unwrap_err(),
            ArchiveError::TooManyEntries { limit: 10 }
        );
    }

    #[test]
    fn rejects_non_utf8_names_and_texts() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.as_old_mut().name[..3].copy_from_slice(b"\xff.t");
        header.set_cksum();
        builder.append(&header, &b""[..]).expect("in-memory");
        let archive = gzip(&builder.into_inner().expect("in-memory"));
        assert!(matches!(
            inspect(&archive).unwrap_err(),
            ArchiveError::NonUtf8Name(_)
        ));
        let archive = tar_gz(&[("main.tf", FILE, b"\xff\xfe", None)]);
        assert_eq!(
            inspect(&archive).unwrap_err(),
            ArchiveError::NonUtf8File("main.tf".into())
        );
    }

    #[test]
    fn ignore_patterns_match_like_gitignore() {
        let ignore = Ignore::parse(
            "# comment\n*.zip\nnode_modules/\n/docs/drafts\nexamples/*/secret.tfvars\n!keep.zip\n",
        );
        for (path, ignored) in [
            ("build.zip", true),
            ("sub/dir/build.zip", true),
            ("node_modules", true),
            ("web/node_modules", true),
            ("docs/drafts", true),
            ("x/docs/drafts", false),
            ("examples/basic/secret.tfvars", true),
            ("examples/basic/deep/secret.tfvars", false),
            ("main.tf", false),
            ("zip", false),
        ] {
            assert_eq!(ignore.matches(path), ignored, "{path}");
        }
    }

    #[test]
    fn packing_leaves_out_what_scaffoldignore_lists() {
        let dir = tempdir();
        std::fs::write(dir.join("main.tf"), "").expect("write");
        std::fs::write(dir.join("notes.tmp"), "").expect("write");
        std::fs::write(dir.join(IGNORE_FILE), "*.tmp\n").expect("write");
        let inspected = inspect(&pack_dir(&dir).expect("pack")).expect("readable");
        assert_eq!(
            inspected.entries, 1,
            "only main.tf: the ignore file and *.tmp stay out"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn packing_is_deterministic_and_readable() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("modules/sub")).expect("mkdir");
        std::fs::write(dir.join("main.tf"), "output \"x\" { value = 1 }").expect("write");
        std::fs::write(dir.join("modules/sub/main.tf"), "").expect("write");
        std::fs::write(dir.join(crate::manifest::MODULE_MANIFEST), "namespace: x").expect("write");
        std::fs::create_dir_all(dir.join(".terraform")).expect("mkdir");
        let first = pack_dir(&dir).expect("pack");
        let second = pack_dir(&dir).expect("pack");
        assert_eq!(first, second);
        let inspected = inspect(&first).expect("packed archives pass the reader");
        assert!(inspected.files.contains_key("modules/sub/main.tf"));
        assert_eq!(
            inspected.entries, 4,
            "main.tf, modules/, modules/sub/, modules/sub/main.tf"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    fn tempdir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "quarry-core-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }
}
