//! A 3-way update of a stack's files: `base` is what the recorded blueprint version renders with
//! the recorded answers and module versions, `theirs` what the target version renders, `ours`
//! the files on disk. Only paths a render wrote are ever looked at; everything else in the
//! directory (`.terraform/`, the lock file, the user's own `.tf`) is never touched.
//!
//! [`plan`] decides, per path, what to write, delete or report, without touching the disk;
//! [`apply`] carries a plan out all or nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A stack's files by relative path.
pub type Files = BTreeMap<String, Vec<u8>>;

/// How a conflict is left for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConflictStyle {
    /// Git-style markers in the file itself.
    Inline,
    /// The file keeps the user's side of every conflicting hunk (the blueprint's other changes
    /// applied); the blueprint's side is written to `<file>.rej`, in markers.
    Rej,
}

/// One thing an update does to the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Write { path: String, content: Vec<u8> },
    Delete { path: String },
}

impl Change {
    pub fn path(&self) -> &str {
        match self {
            Self::Write { path, .. } | Self::Delete { path } => path,
        }
    }
}

/// What an update would do.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Paths left with conflicts, each with why.
    pub conflicts: Vec<(String, String)>,
    /// What the user should know that is not a conflict (a file they deleted stays deleted).
    pub notices: Vec<String>,
}

/// Reads a stack's file, `None` when it is not there (or not a file).
pub fn read_ours(dir: &Path, path: &str) -> Option<Vec<u8>> {
    let file = dir.join(path);
    if !file.is_file() {
        return None;
    }
    std::fs::read(file).ok()
}

/// The generated files the blueprint owns outright: always taken from the new render.
const GENERATED: [&str; 1] = [quarry_core::answers::PATH];

/// Files whose content is this alike count as renamed (exact copies always do).
const RENAME_SIMILARITY: f32 = 0.6;

/// Decides what an update does to each path a render wrote.
pub fn plan(
    base: &Files,
    theirs: &Files,
    ours: impl Fn(&str) -> Option<Vec<u8>>,
    style: ConflictStyle,
) -> Plan {
    let mut plan = Plan::default();
    let renames = renames(base, theirs);
    let renamed_to: BTreeSet<&str> = renames.values().map(String::as_str).collect();
    let paths: BTreeSet<&String> = base.keys().chain(theirs.keys()).collect();
    for path in paths {
        let path = path.as_str();
        if renamed_to.contains(path) {
            continue;
        }
        let ours_now = ours(path);
        if let Some(to) = renames.get(path) {
            rename(&mut plan, path, to, base, theirs, ours_now, style);
            continue;
        }
        let (base_side, theirs_side) = (base.get(path), theirs.get(path));
        if GENERATED.contains(&path) {
            if let Some(content) = theirs_side
                && ours_now.as_ref() != Some(content)
            {
                plan.changes.push(Change::Write {
                    path: path.to_owned(),
                    content: content.clone(),
                });
            }
            continue;
        }
        one_path(
            &mut plan,
            path,
            base_side,
            theirs_side,
            ours_now.as_ref(),
            style,
        );
    }
    plan
}

/// Renames: a path the blueprint no longer renders whose content reappears (exactly, or nearly)
/// at a path it renders for the first time.
fn renames(base: &Files, theirs: &Files) -> BTreeMap<String, String> {
    let removed: Vec<&String> = base.keys().filter(|p| !theirs.contains_key(*p)).collect();
    let mut added: Vec<&String> = theirs.keys().filter(|p| !base.contains_key(*p)).collect();
    let mut found = BTreeMap::new();
    for from in removed {
        let old = &base[from];
        let best = added
            .iter()
            .enumerate()
            .map(|(index, to)| (index, similarity(old, &theirs[*to])))
            .filter(|(_, score)| *score >= RENAME_SIMILARITY)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((index, _)) = best {
            found.insert(from.clone(), added.remove(index).clone());
        }
    }
    found
}

fn similarity(a: &[u8], b: &[u8]) -> f32 {
    if a == b {
        return 1.0;
    }
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(a), Ok(b)) => similar::TextDiff::from_lines(a, b).ratio(),
        _ => 0.0,
    }
}

fn rename(
    plan: &mut Plan,
    from: &str,
    to: &str,
    base: &Files,
    theirs: &Files,
    ours_now: Option<Vec<u8>>,
    style: ConflictStyle,
) {
    let Some(ours_now) = ours_now else {
        plan.notices.push(format!(
            "{from} was renamed to {to} by the blueprint; you had deleted it, so it stays deleted"
        ));
        return;
    };
    plan.changes.push(Change::Delete {
        path: from.to_owned(),
    });
    plan.notices
        .push(format!("{from} was renamed to {to} by the blueprint"));
    // The user's version moves with the file, merged with the blueprint's changes to it.
    let (base, theirs) = (&base[from], &theirs[to]);
    if base == theirs {
        write(plan, to, ours_now);
    } else if &ours_now == base {
        write(plan, to, theirs.clone());
    } else {
        merge_into(plan, to, base, &ours_now, theirs, style);
    }
}

fn write(plan: &mut Plan, path: &str, content: Vec<u8>) {
    plan.changes.push(Change::Write {
        path: path.to_owned(),
        content,
    });
}

fn one_path(
    plan: &mut Plan,
    path: &str,
    base: Option<&Vec<u8>>,
    theirs: Option<&Vec<u8>>,
    ours: Option<&Vec<u8>>,
    style: ConflictStyle,
) {
    match (base, theirs, ours) {
        // The blueprint did not change it: the user's file stands, whatever they did to it.
        (base, theirs, _) if base == theirs => {}
        // New in the blueprint.
        (None, Some(theirs), None) => write(plan, path, theirs.clone()),
        (None, Some(theirs), Some(ours)) if ours == theirs => {}
        (None, Some(theirs), Some(ours)) => {
            merge_into(plan, path, &[], ours, theirs, style);
        }
        // Gone from the blueprint.
        (Some(_), None, None) => {}
        (Some(base), None, Some(ours)) if ours == base => plan.changes.push(Change::Delete {
            path: path.to_owned(),
        }),
        (Some(_), None, Some(_)) => plan.conflicts.push((
            path.to_owned(),
            "the blueprint no longer renders this file, but you changed it: kept as it is".into(),
        )),
        // Changed by the blueprint.
        (Some(_), Some(_), None) => plan.notices.push(format!(
            "{path} changed in the blueprint, but you had deleted it: it stays deleted"
        )),
        (Some(base), Some(theirs), Some(ours)) if ours == base => {
            write(plan, path, theirs.clone());
        }
        (Some(_), Some(theirs), Some(ours)) if ours == theirs => {}
        (Some(base), Some(theirs), Some(ours)) => {
            merge_into(plan, path, base, ours, theirs, style);
        }
        (None, None, _) => {}
    }
}

/// Conflict markers long enough that no line of a stack is mistaken for one when a `rej` split
/// reads them back.
const SPLIT_MARKER: usize = 23;

fn merge_into(
    plan: &mut Plan,
    path: &str,
    base: &[u8],
    ours: &[u8],
    theirs: &[u8],
    style: ConflictStyle,
) {
    let (Ok(base), Ok(ours), Ok(theirs)) = (
        std::str::from_utf8(base),
        std::str::from_utf8(ours),
        std::str::from_utf8(theirs),
    ) else {
        plan.conflicts.push((
            path.to_owned(),
            "not text, changed by you and by the blueprint: kept as it is".into(),
        ));
        return;
    };
    let mut options = diffy::MergeOptions::new();
    options.set_conflict_style(diffy::ConflictStyle::Merge);
    match style {
        ConflictStyle::Inline => match options.merge(base, ours, theirs) {
            Ok(merged) => write(plan, path, merged.into_bytes()),
            Err(marked) => {
                write(plan, path, marked.into_bytes());
                plan.conflicts.push((
                    path.to_owned(),
                    "changed by you and by the blueprint in the same place: see the markers".into(),
                ));
            }
        },
        ConflictStyle::Rej => {
            options.set_conflict_marker_length(SPLIT_MARKER);
            match options.merge(base, ours, theirs) {
                Ok(merged) => write(plan, path, merged.into_bytes()),
                Err(marked) => {
                    let (kept, rejected) = split_conflicts(&marked);
                    write(plan, path, kept.into_bytes());
                    write(plan, &format!("{path}.rej"), rejected.into_bytes());
                    plan.conflicts.push((
                        path.to_owned(),
                        format!(
                            "changed by you and by the blueprint in the same place: your side kept, the blueprint's in {path}.rej"
                        ),
                    ));
                }
            }
        }
    }
}

/// Splits a merge with markers into the user's side of each conflict and the conflicts
/// themselves (in git-style markers), for `--conflict rej`.
fn split_conflicts(marked: &str) -> (String, String) {
    let start = format!("{} ours", "<".repeat(SPLIT_MARKER));
    let middle = "=".repeat(SPLIT_MARKER);
    let end = format!("{} theirs", ">".repeat(SPLIT_MARKER));
    let (mut kept, mut rejected) = (String::new(), String::new());
    #[derive(PartialEq)]
    enum Side {
        Both,
        Ours,
        Theirs,
    }
    let mut side = Side::Both;
    for line in marked.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == start {
            side = Side::Ours;
            rejected.push_str("<<<<<<< yours\n");
        } else if bare == middle && side == Side::Ours {
            side = Side::Theirs;
            rejected.push_str("=======\n");
        } else if bare == end && side == Side::Theirs {
            side = Side::Both;
            rejected.push_str(">>>>>>> blueprint\n");
        } else {
            match side {
                Side::Both => kept.push_str(line),
                Side::Ours => {
                    kept.push_str(line);
                    rejected.push_str(line);
                }
                Side::Theirs => rejected.push_str(line),
            }
        }
    }
    (kept, rejected)
}

/// Carries out `changes` in `dir`, all or nothing: every new content is written to a staging
/// directory first, every file replaced or deleted is set aside, and if any step fails
/// everything set aside is put back and nothing new stays.
pub fn apply(dir: &Path, changes: &[Change]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".scaffold-update-")
        .tempdir_in(dir)?;
    let staged_dir = staging.path().join("new");
    let aside_dir = staging.path().join("old");
    std::fs::create_dir_all(&staged_dir)?;
    std::fs::create_dir_all(&aside_dir)?;
    for (index, change) in changes.iter().enumerate() {
        if let Change::Write { content, .. } = change {
            std::fs::write(staged_dir.join(index.to_string()), content)?;
        }
    }
    let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    let result = (|| {
        for (index, change) in changes.iter().enumerate() {
            let target = dir.join(change.path());
            let aside = if target.is_file() {
                let aside = aside_dir.join(index.to_string());
                std::fs::rename(&target, &aside)?;
                Some(aside)
            } else {
                None
            };
            done.push((target.clone(), aside));
            if let Change::Write { .. } = change {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::rename(staged_dir.join(index.to_string()), &target)?;
            }
        }
        Ok(())
    })();
    if result.is_err() {
        for (target, aside) in done.into_iter().rev() {
            if let Some(aside) = aside {
                let _ = std::fs::rename(aside, &target);
            } else if target.is_file() {
                let _ = std::fs::remove_file(&target);
            }
        }
    }
    result
}

/// A unified diff of one file, for `--dry-run` and `diff` (`None` side: the file is absent).
pub fn unified(path: &str, old: Option<&[u8]>, new: Option<&[u8]>) -> String {
    fn text(bytes: Option<&[u8]>) -> std::borrow::Cow<'_, str> {
        bytes.map(String::from_utf8_lossy).unwrap_or_default()
    }
    let (old_text, new_text) = (text(old), text(new));
    let diff = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref());
    let header = |side: &str, present: bool| {
        if present {
            format!("{side}/{path}")
        } else {
            "/dev/null".to_owned()
        }
    };
    diff.unified_diff()
        .header(&header("a", old.is_some()), &header("b", new.is_some()))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> Files {
        entries
            .iter()
            .map(|(path, text)| ((*path).to_owned(), text.as_bytes().to_vec()))
            .collect()
    }

    fn written(plan: &Plan, path: &str) -> Option<String> {
        plan.changes.iter().find_map(|change| match change {
            Change::Write { path: p, content } if p == path => {
                Some(String::from_utf8(content.clone()).unwrap())
            }
            _ => None,
        })
    }

    #[test]
    fn a_rej_split_keeps_the_users_side_and_rejects_the_blueprints() {
        let base = "a\nb\nc\n";
        let ours = "a\nmine\nc\n";
        let theirs = "a\ntheirs\nc\n";
        let plan = plan(
            &files(&[("x.tf", base)]),
            &files(&[("x.tf", theirs)]),
            |_| Some(ours.as_bytes().to_vec()),
            ConflictStyle::Rej,
        );
        assert_eq!(written(&plan, "x.tf").as_deref(), Some(ours));
        let rejected = written(&plan, "x.tf.rej").unwrap();
        assert_eq!(
            rejected,
            "<<<<<<< yours\nmine\n=======\ntheirs\n>>>>>>> blueprint\n"
        );
        assert_eq!(plan.conflicts.len(), 1);
    }

    #[test]
    fn a_renamed_file_carries_the_users_edit_to_its_new_path() {
        let base = files(&[("old.tf", "one\ntwo\nthree\nfour\n")]);
        let theirs = files(&[("new.tf", "one\ntwo\nthree\nfour\n")]);
        let plan = plan(
            &base,
            &theirs,
            |path| (path == "old.tf").then(|| b"one\ntwo\nthree\nfour\nmine\n".to_vec()),
            ConflictStyle::Inline,
        );
        assert!(plan.changes.contains(&Change::Delete {
            path: "old.tf".into()
        }));
        assert_eq!(
            written(&plan, "new.tf").as_deref(),
            Some("one\ntwo\nthree\nfour\nmine\n")
        );
        assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
    }
}
