//! Every blueprint in the repository (the examples in `blueprints/` and the test fixtures) passes
//! the full check: its manifest and contexts validate against `schemas/`, its templates, policies
//! and module references are sound.

use quarry_core::blueprint;
use std::path::{Path, PathBuf};

fn blueprint_dirs(parent: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(parent)
        .expect("directory exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join(blueprint::MANIFEST).is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_blueprint_in_the_repository_passes_the_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let examples = blueprint_dirs(&root.join("blueprints"));
    assert!(examples.len() >= 3, "the three golden paths: {examples:?}");
    let fixtures = blueprint_dirs(&root.join("tests/fixtures/blueprints"));
    for dir in examples.iter().chain(&fixtures) {
        let files = blueprint::load_dir(dir).expect("readable");
        let checked = blueprint::check(files)
            .unwrap_or_else(|problems| panic!("{}: {problems:#?}", dir.display()));
        if dir.starts_with(root.join("blueprints")) {
            assert!(
                checked.manifest.metadata.version.is_some(),
                "{}: examples declare metadata.version so --import can publish them",
                dir.display()
            );
            assert!(
                checked.files.contains_key("README.md"),
                "{}: README.md",
                dir.display()
            );
        }
    }
}
