//! What the CLI's integration tests share.

use assert_cmd::Command;
use quarry_e2e::{Quarry, REGISTRY_HOST};
use std::path::Path;

/// A `scaffold` command isolated from the user's home, config and cache, talking to `quarry`.
pub fn scaffold(quarry: &Quarry, home: &Path) -> Command {
    let mut command = Command::cargo_bin("scaffold").expect("scaffold is built");
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("SCAFFOLD_CACHE_DIR", home.join("cache"))
        .env("SCAFFOLD_REGISTRY", &quarry.url)
        .env("SCAFFOLD_SOURCE_HOST", REGISTRY_HOST)
        .env_remove("SCAFFOLD_CONFIG")
        .env_remove("TF_TOKEN_registry_test");
    command
}
