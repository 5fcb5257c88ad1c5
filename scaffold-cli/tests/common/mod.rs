//! What the CLI's integration tests share.

#![allow(dead_code)]

use assert_cmd::Command;
use quarry_e2e::{Quarry, REGISTRY_HOST, fixture_module};
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

/// `command` with the arguments that publish the greeting fixture as
/// `fixtures/greeting/generic` VERSION.
pub fn greeting_publish<'a>(command: &'a mut Command, version: &str) -> &'a mut Command {
    command
        .args(["publish", "module"])
        .arg(fixture_module("greeting"))
        .args([
            "--address",
            "fixtures/greeting/generic",
            "--version",
            version,
        ])
}

/// `scaffold publish module` of the greeting fixture as `fixtures/greeting/generic` VERSION.
pub fn publish_greeting(quarry: &Quarry, home: &Path, token: &str, version: &str) {
    let mut command = scaffold(quarry, home);
    command.env("TF_TOKEN_registry_test", token);
    greeting_publish(&mut command, version)
        .assert()
        .success()
        .stderr(predicates::str::contains(format!(
            "published module fixtures/greeting/generic {version}"
        )));
}
