//! Property-based tests of the parsers and checks that see untrusted input: module and blueprint
//! archives, version constraints, versions, module addresses, Terraform sources and rendered
//! template paths. Every input gives a result or an error, never a panic, and what is accepted
//! keeps the invariants the rest of Quarry relies on (paths stay inside their root, accepted
//! values round-trip through their text form).
//!
//! Archives are built here byte for byte with the `tar` crate (the crate's `test_support` module
//! is compiled only with the `test-support` feature), so names may hold `..`, empty segments, a
//! leading `/`, NUL or bytes that are not UTF-8, and entries may be of any type.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};
use quarry_core::address::{ModuleAddress, ModuleName, Namespace, System};
use quarry_core::archive::{self, Limits};
use quarry_core::blueprint::{self, Blueprint, BlueprintFiles, ModuleSource};
use quarry_core::constraint::Constraint;
use quarry_core::module::{self, ModuleFiles};
use quarry_core::render::{self, ModuleResolver, RenderRequest, ResolvedModule};
use quarry_core::version::Version;
use serde_json::json;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::LazyLock;

/// Cases per property, no regression files written into the repository.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Archives
// ---------------------------------------------------------------------------------------------

/// Limits small enough that a hostile header cannot make a case slow or large.
const SMALL_LIMITS: Limits = Limits {
    max_unpacked_bytes: 1 << 20,
    max_entries: 64,
    max_analysed_file_bytes: 64 << 10,
};

/// The entry types a generated archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    Directory,
    Symlink,
    Link,
    Char,
    Block,
    Fifo,
}

impl Kind {
    fn entry_type(self) -> tar::EntryType {
        match self {
            Kind::Regular => tar::EntryType::Regular,
            Kind::Directory => tar::EntryType::Directory,
            Kind::Symlink => tar::EntryType::Symlink,
            Kind::Link => tar::EntryType::Link,
            Kind::Char => tar::EntryType::Char,
            Kind::Block => tar::EntryType::Block,
            Kind::Fifo => tar::EntryType::Fifo,
        }
    }

    fn is_special(self) -> bool {
        matches!(self, Kind::Char | Kind::Block | Kind::Fifo)
    }
}

/// One generated tar entry. A `long` name or link target is written as a GNU long-name entry
/// (`L` or `K`) before the header, as GNU tar does for names over 100 bytes; otherwise it is
/// written into the 100-byte header field, truncated.
#[derive(Clone)]
struct RawEntry {
    name: Vec<u8>,
    long_name: bool,
    kind: Kind,
    data: Vec<u8>,
    link: Option<Vec<u8>>,
    long_link: bool,
}

/// Shows names and targets as text, so that a failing case reads like a `tar tv` listing.
impl std::fmt::Debug for RawEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} {:?}",
            self.kind,
            String::from_utf8_lossy(&self.name)
        )?;
        if self.long_name {
            f.write_str(" (long name)")?;
        }
        if let Some(link) = &self.link {
            write!(f, " -> {:?}", String::from_utf8_lossy(link))?;
            if self.long_link {
                f.write_str(" (long link)")?;
            }
        }
        if !self.data.is_empty() {
            write!(f, " ({} bytes)", self.data.len())?;
        }
        Ok(())
    }
}

impl RawEntry {
    /// The name as a tar reader sees it.
    fn name_as_read(&self) -> Vec<u8> {
        if self.long_name {
            as_read_long(&self.name)
        } else {
            as_read_field(&self.name)
        }
    }

    /// The link target as a tar reader sees it (empty when there is none).
    fn link_as_read(&self) -> Vec<u8> {
        match &self.link {
            None => Vec::new(),
            Some(link) if self.long_link => as_read_long(link),
            Some(link) => as_read_field(link),
        }
    }
}

/// What a reader gets from a 100-byte header field: the bytes up to the first NUL.
fn as_read_field(bytes: &[u8]) -> Vec<u8> {
    let field = &bytes[..bytes.len().min(100)];
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

/// What a reader gets from a GNU long-name entry: its data without the trailing NUL, which
/// [`append_long`] adds.
fn as_read_long(bytes: &[u8]) -> Vec<u8> {
    bytes.to_vec()
}

fn copy_field(field: &mut [u8], bytes: &[u8]) {
    let length = bytes.len().min(field.len());
    field[..length].copy_from_slice(&bytes[..length]);
}

fn append_long(builder: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, bytes: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(0o644);
    copy_field(&mut header.as_old_mut().name, b"././@LongLink");
    let mut data = bytes.to_vec();
    data.push(0);
    header.set_size(data.len() as u64);
    header.set_cksum();
    builder
        .append(&header, data.as_slice())
        .expect("in-memory append");
}

/// An uncompressed tar holding `entries` exactly as generated, unchecked.
fn raw_tar(entries: &[RawEntry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        if entry.long_name {
            append_long(&mut builder, tar::EntryType::GNULongName, &entry.name);
        }
        if let Some(link) = entry.link.as_deref().filter(|_| entry.long_link) {
            append_long(&mut builder, tar::EntryType::GNULongLink, link);
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(entry.kind.entry_type());
        header.set_mode(0o644);
        header.set_size(entry.data.len() as u64);
        let name: &[u8] = if entry.long_name {
            b"long-name-placeholder"
        } else {
            &entry.name
        };
        copy_field(&mut header.as_old_mut().name, name);
        if let Some(link) = &entry.link {
            let link: &[u8] = if entry.long_link {
                b"long-link-placeholder"
            } else {
                link
            };
            copy_field(&mut header.as_old_mut().linkname, link);
        }
        header.set_cksum();
        builder
            .append(&header, entry.data.as_slice())
            .expect("in-memory append");
    }
    builder.into_inner().expect("in-memory tar")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("in-memory gzip");
    encoder.finish().expect("in-memory gzip")
}

/// A path segment: mostly ordinary names, often the hostile ones.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "modules", "sub", "main.tf", "README.md", "x.tf"])
            .prop_map(str::to_owned),
        3 => prop::sample::select(vec!["..", ".", ""]).prop_map(str::to_owned),
        2 => "[a-z]{1,6}(\\.tf)?",
        1 => prop::sample::select(vec!["\\", "..\\..", "C:", "a\\..\\..\\b.tf", "\u{0}", "...", " "])
            .prop_map(str::to_owned),
        1 => "x{90,130}",
        1 => "\\PC{1,4}",
        1 => prop::sample::select(vec!["ü.tf", "日本", "\u{202e}fd.tf", "e\u{301}"])
            .prop_map(str::to_owned),
    ]
}

/// A relative or absolute path from segments, optionally with a leading `/` or `./` and a
/// trailing `/`; sometimes a name of the root itself (``, `.`, `./`).
fn path() -> impl Strategy<Value = String> {
    let built = (
        prop::sample::select(vec!["", "", "", "", "/", "./", "//"]),
        prop::collection::vec(segment(), 1..5),
        any::<bool>(),
    )
        .prop_map(|(lead, segments, trailing)| {
            let mut path = format!("{lead}{}", segments.join("/"));
            if trailing {
                path.push('/');
            }
            path
        });
    prop_oneof![
        12 => built,
        1 => prop::sample::select(vec!["", ".", "./", ".//", "././"]).prop_map(str::to_owned),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => Just(Kind::Regular),
        2 => Just(Kind::Directory),
        3 => Just(Kind::Symlink),
        2 => Just(Kind::Link),
        1 => Just(Kind::Char),
        1 => Just(Kind::Block),
        1 => Just(Kind::Fifo),
    ]
}

fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        2 => "[ -~\n]{0,64}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Builds an entry: data only for regular files, a target only for links.
fn entry_from(
    name: String,
    kind: Kind,
    data: Vec<u8>,
    target: Option<String>,
    long_name: bool,
    long_link: bool,
) -> RawEntry {
    let is_link = matches!(kind, Kind::Symlink | Kind::Link);
    RawEntry {
        long_name: long_name || name.len() > 100,
        name: name.into_bytes(),
        kind,
        data: if kind == Kind::Regular {
            data
        } else {
            Vec::new()
        },
        link: target.filter(|_| is_link).map(String::into_bytes),
        long_link,
    }
}

fn general_entry() -> impl Strategy<Value = RawEntry> {
    (
        path(),
        kind(),
        content(),
        prop::option::weighted(0.9, path()),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(name, kind, data, target, long_name, long_link)| {
            entry_from(name, kind, data, target, long_name, long_link)
        })
}

/// Entries over a tiny alphabet, mostly links, so that links to links, links through links and
/// files under links come up often. With `root_names`, some entries are named after the root
/// itself (`.`, `./`, ``); with `hard_links`, some links are hard links.
fn link_entry(root_names: bool, hard_links: bool) -> impl Strategy<Value = RawEntry> {
    let mut names = vec!["a", "b", "main.tf", "a/a", "a/b", "b/a", "b/b", "a/main.tf"];
    if root_names {
        names.extend([".", "./", ""]);
    }
    let name = prop::sample::select(names).prop_map(str::to_owned);
    let part = prop_oneof![
        3 => Just("a"),
        2 => Just("b"),
        4 => Just(".."),
        1 => Just("."),
    ];
    let target = prop::collection::vec(part, 1..4).prop_map(|parts| parts.join("/"));
    let mut kinds = vec![Kind::Regular, Kind::Directory];
    kinds.extend([Kind::Symlink; 4]);
    if hard_links {
        kinds.extend([Kind::Link; 3]);
    }
    (name, prop::sample::select(kinds), target).prop_map(|(name, kind, target)| {
        entry_from(name, kind, Vec::new(), Some(target), false, false)
    })
}

/// Entry lists, usually starting with a root `main.tf` so that modules can be accepted.
fn entries() -> impl Strategy<Value = Vec<RawEntry>> {
    with_main(prop_oneof![
        prop::collection::vec(general_entry(), 0..7),
        prop::collection::vec(link_entry(true, true), 2..7),
        prop::collection::vec(prop_oneof![general_entry(), link_entry(true, true)], 1..7),
    ])
}

/// Entry lists of links with ordinary names, usually starting with a root `main.tf`; symbolic
/// links only unless `hard_links`.
fn linked_entries(hard_links: bool) -> impl Strategy<Value = Vec<RawEntry>> {
    with_main(prop::collection::vec(link_entry(false, hard_links), 2..7))
}

/// A symbolic link one folder down, a hard link at the root to it (or to its target), and a
/// file under the hard link.
fn files_under_hard_links() -> impl Strategy<Value = Vec<RawEntry>> {
    let part = prop::sample::select(vec!["..", "..", ".", "a"]);
    let target = prop::collection::vec(part, 1..4).prop_map(|parts| parts.join("/"));
    (
        prop::sample::select(vec!["a/b", "b/a", "a/a"]),
        target,
        prop::sample::select(vec!["a", "b", "c"]),
        prop::bool::weighted(0.8),
        prop::sample::select(vec!["main.tf", "x"]),
    )
        .prop_map(|(symlink, target, hard, to_symlink, file)| {
            let linked = if to_symlink {
                symlink.to_owned()
            } else {
                target.clone()
            };
            with_main_entry(vec![
                entry_from(
                    symlink.into(),
                    Kind::Symlink,
                    Vec::new(),
                    Some(target),
                    false,
                    false,
                ),
                entry_from(
                    hard.into(),
                    Kind::Link,
                    Vec::new(),
                    Some(linked),
                    false,
                    false,
                ),
                entry_from(
                    format!("{hard}/{file}"),
                    Kind::Regular,
                    Vec::new(),
                    None,
                    false,
                    false,
                ),
            ])
        })
}

fn with_main_entry(mut entries: Vec<RawEntry>) -> Vec<RawEntry> {
    entries.insert(
        0,
        entry_from(
            "main.tf".into(),
            Kind::Regular,
            b"variable \"x\" {}\n".to_vec(),
            None,
            false,
            false,
        ),
    );
    entries
}

fn with_main(lists: impl Strategy<Value = Vec<RawEntry>>) -> impl Strategy<Value = Vec<RawEntry>> {
    (prop::bool::weighted(0.75), lists).prop_map(|(with_main, entries)| {
        if with_main {
            with_main_entry(entries)
        } else {
            entries
        }
    })
}

/// Where a path leads when written or resolved inside an extraction root, following the archive's
/// symbolic links the way a filesystem would.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    /// Above the root at some step.
    Escapes,
    /// A symbolic-link loop: nothing is reached.
    Loops,
    /// The physical path inside the root, as segments.
    Inside(Vec<String>),
}

/// A model of the extracted tree: symbolic links by physical path (segments joined with `/`).
type LinkTable = BTreeMap<String, String>;

/// Resolves `target` from the directory `base` (segments), following links in `links` for every
/// component but the last, and the last too when `follow_last`.
fn resolve(
    links: &LinkTable,
    base: &[String],
    target: &str,
    follow_last: bool,
    hops: &mut u32,
) -> Resolved {
    if target.starts_with('/') {
        return Resolved::Escapes;
    }
    let components: Vec<&str> = target
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut here: Vec<String> = base.to_vec();
    for (index, component) in components.iter().enumerate() {
        if *component == ".." {
            if here.pop().is_none() {
                return Resolved::Escapes;
            }
            continue;
        }
        here.push((*component).to_owned());
        let last = index + 1 == components.len();
        if last && !follow_last {
            continue;
        }
        if let Some(link_target) = links.get(&here.join("/")) {
            *hops += 1;
            if *hops > 40 {
                return Resolved::Loops;
            }
            let parent = here[..here.len() - 1].to_vec();
            match resolve(links, &parent, link_target, true, hops) {
                Resolved::Inside(resolved) => here = resolved,
                other => return other,
            }
        }
    }
    Resolved::Inside(here)
}

/// Checks, for an archive the reader accepted, what extracting it in order would do: no entry
/// is a device or FIFO (`specials`), no entry is written outside the root and no link resolves
/// outside it (`escapes`). Names are taken as a tar reader sees them; `\\` is an ordinary
/// character. An entry that would replace an existing folder (or the root) is not created, as in
/// a real extraction, so it leads nowhere.
fn extraction_problems(entries: &[RawEntry]) -> (Vec<String>, Vec<String>) {
    let mut specials = Vec::new();
    let mut escapes = Vec::new();
    let mut links = LinkTable::new();
    // Folders that exist, by physical path; the root (``) always does.
    let mut directories: BTreeSet<String> = BTreeSet::from([String::new()]);
    // Links whose target must still resolve inside the root once every entry is in place:
    // (where the link is, its target, whether the last component is followed).
    let mut pending: Vec<(Vec<String>, String, bool, String)> = Vec::new();
    for entry in entries {
        let name = String::from_utf8_lossy(&entry.name_as_read()).into_owned();
        let target = String::from_utf8_lossy(&entry.link_as_read()).into_owned();
        if entry.kind.is_special() {
            specials.push(format!("{:?} `{name}`", entry.kind));
        }
        let location = match resolve(&links, &[], &name, false, &mut 0) {
            Resolved::Escapes => {
                escapes.push(format!(
                    "{:?} `{name}` is written outside the root",
                    entry.kind
                ));
                continue;
            }
            Resolved::Loops => continue,
            Resolved::Inside(location) => location,
        };
        let parent = location[..location.len().saturating_sub(1)].to_vec();
        for depth in 0..location.len() {
            directories.insert(location[..depth].join("/"));
        }
        if entry.kind == Kind::Directory {
            // A folder over a link replaces it (some extractors keep the link; this model
            // takes the reading that finds fewer escapes).
            links.remove(&location.join("/"));
            directories.insert(location.join("/"));
            continue;
        }
        if directories.contains(&location.join("/")) {
            // Nothing replaces an existing folder (or the root itself): extraction fails here.
            continue;
        }
        match entry.kind {
            Kind::Symlink => {
                pending.push((parent, target.clone(), true, name.clone()));
                links.insert(location.join("/"), target);
            }
            Kind::Link => {
                // A hard link is resolved from the root; to a symbolic link it makes another
                // symbolic link with the same target text, read from the new link's folder.
                pending.push((Vec::new(), target.clone(), false, name.clone()));
                if let Resolved::Inside(linked) = resolve(&links, &[], &target, false, &mut 0)
                    && let Some(link_target) = links.get(&linked.join("/")).cloned()
                {
                    pending.push((parent, link_target.clone(), true, name.clone()));
                    links.insert(location.join("/"), link_target);
                }
            }
            _ => {}
        }
    }
    for (base, target, follow_last, name) in pending {
        if resolve(&links, &base, &target, follow_last, &mut 0) == Resolved::Escapes {
            escapes.push(format!(
                "link `{name}` -> `{target}` resolves outside the root"
            ));
        }
    }
    (specials, escapes)
}

/// A path of an accepted archive's file map: relative, no `.`, `..` or empty component.
fn check_returned_path(path: &str) -> Result<(), TestCaseError> {
    prop_assert!(!path.is_empty(), "empty path");
    prop_assert!(!path.starts_with('/'), "absolute path `{}`", path);
    for component in path.split('/') {
        prop_assert!(
            !component.is_empty() && component != "." && component != "..",
            "path `{}` has the component `{}`",
            path,
            component
        );
    }
    Ok(())
}

/// What both readers returned for one archive: the paths of the files, or `None` if refused.
fn read_both(bytes: &[u8], limits: &Limits) -> [Option<Vec<String>>; 2] {
    let module = archive::inspect_module(bytes, limits)
        .ok()
        .map(|inspected| inspected.files.into_keys().collect());
    let files = archive::read_files(bytes, limits)
        .ok()
        .map(|files| files.into_keys().collect());
    [module, files]
}

fn check_returned_paths(bytes: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    for paths in read_both(bytes, limits).into_iter().flatten() {
        for path in &paths {
            check_returned_path(path)?;
        }
    }
    Ok(())
}

/// Whether any reader accepted the archive.
fn accepted(bytes: &[u8], limits: &Limits) -> bool {
    read_both(bytes, limits).iter().any(Option::is_some)
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_are_refused_or_read_without_panicking(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        check_returned_paths(&bytes, &Limits::default())?;
        check_returned_paths(&bytes, &SMALL_LIMITS)?;
    }

    #[test]
    fn arbitrary_bytes_after_the_gzip_magic_are_refused_or_read_without_panicking(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut prefixed = vec![0x1f, 0x8b];
        prefixed.extend_from_slice(&bytes);
        check_returned_paths(&prefixed, &Limits::default())?;
        // A valid gzip header (deflate, no flags) followed by garbage.
        let mut headed = vec![0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff];
        headed.extend_from_slice(&bytes);
        check_returned_paths(&headed, &SMALL_LIMITS)?;
    }

    #[test]
    fn gzipped_arbitrary_bytes_are_refused_or_read_without_panicking(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        check_returned_paths(&gzip(&bytes), &SMALL_LIMITS)?;
    }

    #[test]
    fn corrupted_tar_streams_are_refused_or_read_without_panicking(
        entries in entries(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in prop::option::weighted(0.2, any::<prop::sample::Index>()),
    ) {
        let mut tar = raw_tar(&entries);
        for (index, byte) in flips {
            let at = index.index(tar.len());
            tar[at] = byte;
        }
        if let Some(cut) = cut {
            tar.truncate(cut.index(tar.len()));
        }
        check_returned_paths(&gzip(&tar), &SMALL_LIMITS)?;
    }

    #[test]
    fn accepted_archives_return_only_relative_normalised_paths(entries in entries()) {
        let bytes = gzip(&raw_tar(&entries));
        check_returned_paths(&bytes, &Limits::default())?;
        check_returned_paths(&bytes, &SMALL_LIMITS)?;
    }

    #[test]
    fn accepted_archives_never_write_outside_their_root(
        entries in prop_oneof![entries(), linked_entries(true), files_under_hard_links()],
    ) {
        let bytes = gzip(&raw_tar(&entries));
        if accepted(&bytes, &Limits::default()) {
            for entry in &entries {
                prop_assert!(
                    std::str::from_utf8(&entry.name_as_read()).is_ok(),
                    "accepted a name that is not UTF-8: {:?}",
                    entry.name_as_read()
                );
            }
            let (_, escapes) = extraction_problems(&entries);
            let writes: Vec<&String> =
                escapes.iter().filter(|e| e.ends_with("is written outside the root")).collect();
            prop_assert!(writes.is_empty(), "accepted, yet {:?}", writes);
        }
    }

    #[test]
    fn accepted_archives_hold_no_link_that_resolves_outside_their_root(
        entries in prop_oneof![entries(), linked_entries(true), files_under_hard_links()],
    ) {
        let bytes = gzip(&raw_tar(&entries));
        if accepted(&bytes, &Limits::default()) {
            let (_, escapes) = extraction_problems(&entries);
            prop_assert!(escapes.is_empty(), "accepted, yet {:?}", escapes);
        }
    }

    #[test]
    fn blueprint_archives_never_hold_links(entries in entries()) {
        let bytes = gzip(&raw_tar(&entries));
        if archive::read_files(&bytes, &Limits::default()).is_ok() {
            let links: Vec<String> = entries
                .iter()
                .filter(|e| matches!(e.kind, Kind::Symlink | Kind::Link))
                .map(|e| String::from_utf8_lossy(&e.name_as_read()).into_owned())
                .collect();
            prop_assert!(links.is_empty(), "read_files accepted the links {:?}", links);
        }
    }
}

proptest! {
    // Cheap cases, and the hostile entry must come with nothing else the reader refuses.
    #![proptest_config(config(1024))]

    #[test]
    fn accepted_archives_hold_no_device_or_fifo(entries in entries()) {
        let bytes = gzip(&raw_tar(&entries));
        if accepted(&bytes, &Limits::default()) {
            let (specials, _) = extraction_problems(&entries);
            prop_assert!(specials.is_empty(), "accepted, yet it holds {:?}", specials);
        }
    }
}

proptest! {
    // A symbolic link through another one needs a few entries to line up (about one case in
    // 500 found it before links were refused from chaining); the cases are cheap.
    #![proptest_config(config(2048))]

    #[test]
    fn accepted_symlinks_through_other_symlinks_stay_inside_the_root(
        entries in linked_entries(false),
    ) {
        let bytes = gzip(&raw_tar(&entries));
        if accepted(&bytes, &Limits::default()) {
            let (_, escapes) = extraction_problems(&entries);
            prop_assert!(escapes.is_empty(), "accepted, yet {:?}", escapes);
        }
    }
}

/// The generator is not vacuous: it makes archives both readers accept, some with links.
#[test]
fn the_archive_generator_makes_accepted_archives_with_and_without_links() {
    let mut runner = TestRunner::deterministic();
    let strategy = entries();
    let (mut modules, mut blueprints, mut with_links) = (0, 0, 0);
    for _ in 0..400 {
        let entries = strategy.new_tree(&mut runner).expect("generates").current();
        let bytes = gzip(&raw_tar(&entries));
        let module = archive::inspect_module(&bytes, &Limits::default()).is_ok();
        modules += usize::from(module);
        blueprints += usize::from(archive::read_files(&bytes, &Limits::default()).is_ok());
        with_links += usize::from(
            module
                && entries
                    .iter()
                    .any(|e| matches!(e.kind, Kind::Symlink | Kind::Link)),
        );
    }
    assert!(modules >= 20, "{modules} modules accepted of 400");
    assert!(blueprints >= 20, "{blueprints} blueprints accepted of 400");
    assert!(with_links >= 5, "{with_links} modules with links accepted");
}

// ---------------------------------------------------------------------------------------------
// Version constraints and versions
// ---------------------------------------------------------------------------------------------

const OPERATORS: [&str; 8] = ["", "=", "!=", ">", ">=", "<", "<=", "~>"];

/// One condition as generated: its parts, and how it is spaced when written.
#[derive(Debug, Clone)]
struct Condition {
    before: &'static str,
    operator: &'static str,
    between: &'static str,
    numbers: Vec<u64>,
    pre: Option<String>,
    build: Option<String>,
    after: &'static str,
}

impl Condition {
    fn text(&self) -> String {
        let mut version = self
            .numbers
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        if let Some(pre) = &self.pre {
            version = format!("{version}-{pre}");
        }
        if let Some(build) = &self.build {
            version = format!("{version}+{build}");
        }
        format!(
            "{}{}{}{version}{}",
            self.before, self.operator, self.between, self.after
        )
    }

    /// The version with missing numbers zeroed and no build metadata.
    fn version(&self) -> semver::Version {
        let number = |index: usize| self.numbers.get(index).copied().unwrap_or(0);
        let mut version = semver::Version::new(number(0), number(1), number(2));
        if let Some(pre) = &self.pre {
            version.pre = semver::Prerelease::new(pre).expect("generated prerelease");
        }
        version
    }

    /// Terraform's meaning of the condition, written out independently of the parser.
    fn holds(&self, candidate: &semver::Version) -> bool {
        let order = precedence(candidate, &self.version());
        match self.operator {
            "" | "=" => order == Ordering::Equal,
            "!=" => order != Ordering::Equal,
            ">" => order == Ordering::Greater,
            ">=" => order != Ordering::Less,
            "<" => order == Ordering::Less,
            "<=" => order != Ordering::Greater,
            "~>" => {
                let v = self.version();
                let upper = match self.numbers.len() {
                    1 => None,
                    2 => v
                        .major
                        .checked_add(1)
                        .map(|m| semver::Version::new(m, 0, 0)),
                    _ => v
                        .minor
                        .checked_add(1)
                        .map(|m| semver::Version::new(v.major, m, 0)),
                };
                order != Ordering::Less
                    && upper.is_none_or(|upper| precedence(candidate, &upper) == Ordering::Less)
            }
            other => unreachable!("operator {other}"),
        }
    }
}

fn precedence(a: &semver::Version, b: &semver::Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| a.pre.cmp(&b.pre))
}

fn spacing() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", " ", "  ", "\t"])
}

fn number() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0u64..4, 1 => any::<u64>()]
}

fn prerelease() -> impl Strategy<Value = String> {
    let identifier = prop_oneof![
        "[a-z][0-9a-z-]{0,4}",
        "-[0-9A-Za-z]{0,3}",
        (0u64..20).prop_map(|n| n.to_string()),
    ];
    prop_oneof![
        3 => prop::sample::select(vec!["alpha", "beta.1", "rc.1", "1"]).prop_map(str::to_owned),
        1 => prop::collection::vec(identifier, 1..4).prop_map(|ids| ids.join(".")),
    ]
}

fn build() -> impl Strategy<Value = String> {
    prop::collection::vec("[0-9A-Za-z-]{1,4}", 1..3).prop_map(|ids| ids.join("."))
}

fn condition() -> impl Strategy<Value = Condition> {
    (
        spacing(),
        prop::sample::select(OPERATORS.to_vec()),
        spacing(),
        prop::collection::vec(number(), 1..=3),
        prop::option::weighted(0.3, prerelease()),
        prop::option::weighted(0.15, build()),
        spacing(),
    )
        .prop_map(
            |(before, operator, between, numbers, pre, build, after)| Condition {
                before,
                operator,
                between,
                // A prerelease needs all three numbers.
                pre: pre.filter(|_| numbers.len() == 3),
                numbers,
                build,
                after,
            },
        )
}

fn conditions() -> impl Strategy<Value = Vec<Condition>> {
    prop::collection::vec(condition(), 1..=3)
}

fn constraint_text(conditions: &[Condition]) -> String {
    conditions
        .iter()
        .map(Condition::text)
        .collect::<Vec<_>>()
        .join(",")
}

/// Terraform's choice rules, written out from the generated conditions: every condition holds,
/// and a prerelease only for a single bare version equal to it.
fn model_matches(conditions: &[Condition], version: &Version) -> bool {
    let candidate = version.semver();
    conditions.iter().all(|c| c.holds(candidate))
        && (!version.is_prerelease()
            || matches!(conditions, [only] if only.operator.is_empty()
                && precedence(candidate, &only.version()) == Ordering::Equal))
}

fn version() -> impl Strategy<Value = Version> {
    (
        0u64..4,
        0u64..4,
        0u64..4,
        prop::option::weighted(0.3, prerelease()),
        prop::option::weighted(0.1, build()),
    )
        .prop_map(|(major, minor, patch, pre, build)| {
            let mut text = format!("{major}.{minor}.{patch}");
            if let Some(pre) = pre {
                text = format!("{text}-{pre}");
            }
            if let Some(build) = build {
                text = format!("{text}+{build}");
            }
            Version::parse(&text).unwrap_or_else(|error| panic!("{text}: {error}"))
        })
}

/// Strings near the grammar: operators, digits, dots, commas, prerelease and build characters.
fn constraint_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t=!<>~^*,.0-9+a-zA-Z-]{0,40}",
        prop::collection::vec(
            prop::sample::select(vec![
                "=",
                "!=",
                ">",
                ">=",
                "<",
                "<=",
                "~>",
                "=>",
                "^",
                "~",
                " ",
                ",",
                ".",
                "-",
                "+",
                "0",
                "1",
                "01",
                "18446744073709551616",
                "v",
                "beta",
                "\u{1b}",
                "\u{0}",
                "é",
            ]),
            0..20,
        )
        .prop_map(|parts| parts.concat()),
        "[0-9., ]{1000,1100}",
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_constraint_text_parses_or_errors_without_panicking(text in constraint_like()) {
        if let Ok(constraint) = Constraint::parse(&text) {
            prop_assert_eq!(constraint.as_str(), text.trim());
            prop_assert_eq!(Constraint::parse(&constraint.to_string()), Ok(constraint.clone()));
            let _ = constraint.select(&[Version::parse("1.0.0").expect("valid")]);
        } else {
            let error = Constraint::parse(&text).unwrap_err().to_string();
            prop_assert!(error.starts_with("invalid version constraint `"), "{}", error);
        }
    }

    #[test]
    fn grammatical_constraints_parse_and_round_trip(conditions in conditions()) {
        let text = constraint_text(&conditions);
        let parsed = Constraint::parse(&text);
        prop_assert!(parsed.is_ok(), "{:?}: {:?}", text, parsed);
        let constraint = parsed.expect("checked");
        prop_assert_eq!(constraint.as_str(), text.trim());
        prop_assert_eq!(Constraint::parse(&constraint.to_string()), Ok(constraint.clone()));
        prop_assert_eq!(Constraint::parse(constraint.as_str()), Ok(constraint.clone()));
        prop_assert_eq!(constraint.to_string().parse::<Constraint>(), Ok(constraint));
    }

    #[test]
    fn matching_follows_terraform_rules(
        conditions in conditions(),
        versions in prop::collection::vec(version(), 0..12),
    ) {
        let text = constraint_text(&conditions);
        let constraint = Constraint::parse(&text).expect("grammatical");
        for version in &versions {
            prop_assert_eq!(
                constraint.matches(version),
                model_matches(&conditions, version),
                "{:?} vs {}",
                text,
                version
            );
        }
    }

    #[test]
    fn select_picks_the_newest_matching_version(
        conditions in conditions(),
        versions in prop::collection::vec(version(), 0..12),
    ) {
        let constraint = Constraint::parse(&constraint_text(&conditions)).expect("grammatical");
        let selected = constraint.select(&versions);
        match selected {
            Some(selected) => {
                prop_assert!(constraint.matches(selected));
                for version in &versions {
                    // Newer as terraform compares: build metadata is ignored, and of versions
                    // equal but for it, the one listed first (without metadata) is chosen.
                    prop_assert!(
                        version.cmp_choice(selected).is_le() || !constraint.matches(version),
                        "{} matches `{}` and is newer than the selected {}",
                        version,
                        constraint,
                        selected
                    );
                    prop_assert!(
                        version.semver().cmp_precedence(selected.semver()).is_le()
                            || !constraint.matches(version)
                    );
                }
            }
            None => {
                for version in &versions {
                    prop_assert!(!constraint.matches(version), "{} matches `{}`", version, constraint);
                }
            }
        }
        // The order of the list does not matter.
        let reversed: Vec<&Version> = versions.iter().rev().collect();
        prop_assert_eq!(constraint.select(reversed), selected);
    }

    #[test]
    fn a_prerelease_is_chosen_only_by_its_bare_version(
        conditions in conditions(),
        versions in prop::collection::vec(version(), 0..12),
        pick in any::<prop::sample::Index>(),
    ) {
        // Half the time, the constraint is one of the versions written bare.
        let text = if versions.is_empty() || pick.index(2) == 0 {
            constraint_text(&conditions)
        } else {
            versions[pick.index(versions.len())].to_string()
        };
        let constraint = Constraint::parse(&text).expect("grammatical");
        let without_build = |text: &str| text.split('+').next().unwrap_or_default().to_owned();
        for version in versions.iter().filter(|v| v.is_prerelease() && constraint.matches(v)) {
            prop_assert_eq!(
                without_build(constraint.as_str()),
                without_build(&version.to_string()),
                "the prerelease {} matches `{}`",
                version,
                constraint
            );
        }
        if let Some(selected) = constraint.select(&versions).filter(|v| v.is_prerelease()) {
            prop_assert_eq!(without_build(constraint.as_str()), without_build(&selected.to_string()));
        }
    }

    #[test]
    fn any_version_text_parses_or_errors_without_panicking(
        text in prop_oneof![
            any::<String>(),
            "[0-9.+a-zA-Z-]{0,24}",
            "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(-[0-9a-z.-]{1,8})?(\\+[0-9a-z.-]{1,8})?",
            "1\\.2\\.3-[a-z]{120,130}",
        ],
    ) {
        if let Ok(version) = Version::parse(&text) {
            prop_assert_eq!(version.to_string(), text.clone());
            prop_assert_eq!(Version::parse(&version.to_string()), Ok(version.clone()));
            prop_assert_eq!(text.parse::<Version>(), Ok(version));
        }
    }

    #[test]
    fn generated_versions_round_trip(version in version()) {
        prop_assert_eq!(Version::parse(&version.to_string()), Ok(version));
    }
}

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

/// `^[0-9A-Za-z](?:[0-9A-Za-z_-]{0,62}[0-9A-Za-z])?$`, the rule for namespaces and names.
fn is_registry_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    let edge = |b: &u8| b.is_ascii_alphanumeric();
    let inner = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-';
    match bytes {
        [] => false,
        [only] => edge(only),
        [first, middle @ .., last] => {
            bytes.len() <= 64 && edge(first) && edge(last) && middle.iter().all(inner)
        }
    }
}

/// `^[0-9a-z]{1,64}$`, the rule for systems.
fn is_system(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9A-Za-z_-]{0,66}",
        "[0-9a-z]{0,66}",
        "[0-9A-Za-z][0-9A-Za-z_-]{0,62}[0-9A-Za-z]",
        "[0-9A-Za-zü._/ -]{0,8}",
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn names_are_accepted_exactly_when_they_follow_the_registry_rule(value in name_like()) {
        let valid = is_registry_name(&value);
        for accepted in [
            Namespace::new(&value).map(|n| n.to_string()),
            ModuleName::new(&value).map(|n| n.to_string()),
        ] {
            prop_assert_eq!(accepted.is_ok(), valid, "{:?}", value);
            if let Ok(shown) = accepted {
                prop_assert_eq!(&shown, &value);
            }
        }
        if let Ok(namespace) = Namespace::new(&value) {
            prop_assert_eq!(namespace.as_str(), value.as_str());
            prop_assert_eq!(Namespace::new(namespace.as_str()), Ok(namespace.clone()));
        }
        if let Ok(name) = ModuleName::new(&value) {
            prop_assert_eq!(ModuleName::new(name.as_str()), Ok(name.clone()));
        }
    }

    #[test]
    fn systems_are_accepted_exactly_when_lowercase_alphanumeric(value in name_like()) {
        let accepted = System::new(&value);
        prop_assert_eq!(accepted.is_ok(), is_system(&value), "{:?}", value);
        if let Ok(system) = accepted {
            prop_assert_eq!(system.to_string(), value.clone());
            prop_assert_eq!(System::new(system.as_str()), Ok(system.clone()));
        }
    }

    #[test]
    fn module_addresses_round_trip_and_follow_the_rules(
        parts in prop::collection::vec(name_like(), 0..5),
        whole in any::<String>(),
    ) {
        for text in [parts.join("/"), whole] {
            let parsed = text.parse::<ModuleAddress>();
            let shape_ok = matches!(
                text.split('/').collect::<Vec<_>>().as_slice(),
                [namespace, name, system]
                    if is_registry_name(namespace) && is_registry_name(name) && is_system(system)
            );
            prop_assert_eq!(parsed.is_ok(), shape_ok, "{:?}: {:?}", text, parsed);
            if let Ok(address) = parsed {
                prop_assert_eq!(address.to_string(), text.clone());
                prop_assert_eq!(address.to_string().parse::<ModuleAddress>(), Ok(address.clone()));
                prop_assert_eq!(
                    ModuleAddress::new(
                        address.namespace.as_str(),
                        address.name.as_str(),
                        address.system.as_str(),
                    ),
                    Ok(address.clone())
                );
            }
        }
    }

    #[test]
    fn module_sources_round_trip_and_keep_subdirectories_relative(
        address in prop::collection::vec(name_like(), 3..=3).prop_map(|p| p.join("/")),
        subdir in prop::option::of(
            prop::collection::vec(prop_oneof![segment(), Just("modules".to_owned())], 0..4)
                .prop_map(|p| p.join("/")),
        ),
    ) {
        let text = match &subdir {
            Some(subdir) => format!("{address}//{subdir}"),
            None => address,
        };
        if let Ok(source) = text.parse::<ModuleSource>() {
            prop_assert_eq!(source.to_string(), text.clone());
            prop_assert_eq!(source.to_string().parse::<ModuleSource>(), Ok(source.clone()));
            if let Some(subdir) = &source.subdir {
                check_returned_path(subdir)?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Module analysis
// ---------------------------------------------------------------------------------------------

/// HCL-ish text from tokens that open, close and nest blocks, types, strings and templates.
fn hcl_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => prop::sample::select(vec![
            "variable \"x\" {", "variable \"y\" {", "variable {", "output \"o\" {",
            "module \"m\" {", "resource \"aws_vpc\" \"main\" {", "data \"a\" \"b\" {",
            "terraform {", "required_providers {", "required_version = ", "source = ",
            "version = ", "value = ", "default = ", "description = ", "sensitive = ",
            "nullable = ", "type = ", "validation {", "condition = ", "aws = {",
            "type = list(", "type = map(", "type = set(", "type = object({", "type = tuple([",
            "list(", "map(", "set(", "object({", "tuple([", "optional(", "string", "number",
            "bool", "any", "null", "true", "false", "}", "{", ")", "(", "]", "[", "})", "])",
            "\"", "\"string\"", "\"list\"", "\"x\"", "=", ",", ":", ".", "...", "?", "!",
            "-", "+", "*", "/", "%", "==", "&&", "||", "=>", "${", "%{", "~}", "<<EOT\n",
            "<<-EOT\n", "EOT\n", "#", "//", "/*", "*/", "\n", " ", "\t", "\\", "\u{0}", "é",
            "var.x", "for x in y :", "if", "else", "endif", "endfor",
        ])
        .prop_map(str::to_owned),
        1 => prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            Just("1e99999".to_owned()),
            Just("0x1F".to_owned()),
            Just("-0.0".to_owned()),
            Just("18446744073709551616".to_owned()),
        ],
        1 => "[A-Za-z_][A-Za-z0-9_-]{0,8}",
    ];
    prop::collection::vec(token, 0..80).prop_map(|tokens| tokens.join(" "))
}

/// Text that is valid as one variable block more often than random tokens are.
fn variable_like() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "string",
        "number",
        "bool",
        "any",
        "list",
        "map",
        "set",
        "\"string\"",
        "\"list\"",
        "\"map\"",
        "\"number\"",
        "strin",
        "null",
        "1",
        "var.x",
        "list()",
        "object({})",
        "tuple([])",
    ])
    .prop_map(str::to_owned);
    let type_expr = leaf.prop_recursive(6, 48, 3, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec!["list", "set", "map", "optional"]),
                inner.clone()
            )
                .prop_map(|(f, t)| format!("{f}({t})")),
            prop::collection::vec(inner.clone(), 0..3)
                .prop_map(|ts| format!("tuple([{}])", ts.join(", "))),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!(
                "object({{ a = {a}, b = optional({b}), c = optional({c}, null) }}) "
            )),
            (inner.clone(), inner).prop_map(|(a, b)| format!("list({a}, {b})")),
        ]
    });
    let default = prop::option::of(prop::sample::select(vec![
        "null",
        "1",
        "\"x\"",
        "[]",
        "{}",
        "[1, \"a\", true]",
        "{ a = 1 }",
        "var.y",
        "1 + 2",
        "\"${var.x}\"",
        "1e400",
        "-9223372036854775809",
    ]));
    (
        "[a-z_][a-z0-9_]{0,6}",
        prop::option::of(type_expr),
        default,
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(name, type_expr, default, nullable)| {
            let mut block = format!("variable \"{name}\" {{\n");
            if let Some(type_expr) = type_expr {
                block.push_str(&format!("  type = {type_expr}\n"));
            }
            if let Some(default) = default {
                block.push_str(&format!("  default = {default}\n"));
            }
            if let Some(nullable) = nullable {
                block.push_str(&format!("  nullable = {nullable}\n"));
            }
            block.push_str("}\n");
            block
        })
}

fn analyze_main(text: &str, submodule: Option<&str>) {
    let mut files = ModuleFiles::new();
    files.insert("main.tf".into(), text.to_owned());
    if let Some(submodule) = submodule {
        files.insert("modules/sub/main.tf".into(), submodule.to_owned());
        files.insert("README.md".into(), text.to_owned());
    }
    if let Ok(analysis) = module::analyze(&files) {
        // What an analysis returns must be serialisable (it is stored as JSON).
        let _ = serde_json::to_string(&analysis).expect("serialisable");
    }
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn analysing_arbitrary_text_never_panics(text in any::<String>()) {
        analyze_main(&text, None);
    }

    #[test]
    fn analysing_hcl_like_text_never_panics(
        text in hcl_like(),
        submodule in prop::option::of(hcl_like()),
    ) {
        analyze_main(&text, submodule.as_deref());
    }

    #[test]
    fn analysing_variable_blocks_never_panics(
        blocks in prop::collection::vec(variable_like(), 1..5),
        noise in prop::option::of(hcl_like()),
    ) {
        let mut text = blocks.concat();
        if let Some(noise) = noise {
            text.push_str(&noise);
        }
        analyze_main(&text, None);
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/// A resolver for a blueprint without modules: it is never asked, and refuses if it were.
struct NoModules;

impl ModuleResolver for NoModules {
    async fn resolve(
        &self,
        source: &ModuleSource,
        _: &Constraint,
    ) -> Result<ResolvedModule, String> {
        Err(format!("module {source} is not in this registry"))
    }
}

const TEMPLATE: &str = "template/{{ inputs.name }}/f.txt";

/// A blueprint whose one template file has a folder named by the `name` input.
static TINY_BLUEPRINT: LazyLock<Blueprint> = LazyLock::new(|| {
    let manifest = "\
apiVersion: quarry.dev/v1
kind: Blueprint
metadata:
  namespace: props
  name: tiny
  description: One templated path, for property tests.
inputs:
  type: object
  properties:
    name:
      type: string
stack:
  name: x
  terraform_version: \"~> 1.9\"
";
    let mut files = BlueprintFiles::new();
    files.insert(blueprint::MANIFEST.into(), manifest.as_bytes().to_vec());
    files.insert(TEMPLATE.into(), b"hello".to_vec());
    blueprint::check(files).unwrap_or_else(|problems| panic!("{problems:#?}"))
});

fn render_name(name: &str) -> Result<render::Stack, render::RenderError> {
    let version = Version::parse("1.0.0").expect("valid");
    quarry_core::test_support::block_on(render::render(
        RenderRequest {
            blueprint: &TINY_BLUEPRINT,
            version: &version,
            archive_sha256: &"0".repeat(64),
            constraint: None,
            registry_host: "registry.test",
            inputs: json!({ "name": name }),
            output_limit: quarry_core::render::MAX_RENDERED_BYTES,
        },
        &NoModules,
    ))
}

/// A folder name the renderer must accept as is.
fn is_plain_segment(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name != ".scaffold"
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

fn hostile_name() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9._-]{1,12}",
        prop::collection::vec(
            prop::sample::select(vec![
                "..",
                ".",
                "",
                "/",
                "\\",
                "\u{0}",
                "\n",
                "a",
                "b",
                "ü",
                "日本",
                "{{",
                "}}",
                "${",
                ".scaffold",
                "stack.yaml",
                " ",
                "C:",
                "\u{202e}",
                "\u{85}",
            ]),
            0..6,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn rendered_paths_stay_inside_the_stack(name in hostile_name()) {
        let rendered = render_name(&name);
        if let Ok(stack) = &rendered {
            let mut paths: BTreeSet<&str> = BTreeSet::new();
            for path in stack.files.keys() {
                check_returned_path(path)?;
                prop_assert!(
                    !path.contains('\\') && !path.chars().any(char::is_control),
                    "rendered path {:?}",
                    path
                );
                paths.insert(path);
            }
            prop_assert!(paths.contains("stack.yaml"));
        }
        // A plain folder name renders to exactly that folder; anything else is skipped (empty)
        // or refused.
        let expected = format!("{name}/f.txt");
        match rendered {
            Ok(stack) if is_plain_segment(&name) => {
                prop_assert!(stack.files.contains_key(&expected), "{:?}", stack.files.keys());
            }
            Ok(stack) => {
                prop_assert!(name.is_empty(), "{:?} rendered to {:?}", name, stack.files.keys());
            }
            Err(error) => {
                prop_assert!(!is_plain_segment(&name), "{:?} refused: {}", name, error);
            }
        }
    }
}
