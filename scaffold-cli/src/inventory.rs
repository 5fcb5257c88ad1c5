//! Reporting a stack to the registry's stack inventory, when the registry keeps one (its
//! discovery document lists `stacks.v1`). `scaffold new` and `update` give the stack an id (kept
//! in `answers.json`), write it, then report its name, blueprint version, module versions and —
//! when the directory is a git checkout with a remote — where it lives. A report never fails the
//! command: the stack is written already, and a warning says what went wrong.

use crate::client::Client;
use quarry_core::answers::{self, Answers};
use quarry_core::api;
use std::collections::BTreeMap;
use std::path::Path;

/// Whether the registry keeps a stack inventory; `None` when it could not be asked.
async fn kept(client: &Client) -> Option<bool> {
    match client
        .get::<api::Discovery>("/.well-known/terraform.json")
        .await
    {
        Ok(discovery) => Some(discovery.stacks_v1.is_some()),
        Err(error) => {
            eprintln!(
                "warning: could not ask the registry whether it keeps a stack inventory: {error}"
            );
            None
        }
    }
}

/// Whether the stack about to be written in `dir` is to be reported (`wanted`, and the registry
/// keeps an inventory); sets its id in the rendered `files` — the one it has, else, when it is to
/// be reported, a new one.
pub async fn prepare(
    client: &Client,
    wanted: bool,
    dir: &Path,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> bool {
    let report = wanted && kept(client).await == Some(true);
    if let Some(id) = existing_id(dir).or_else(|| report.then(new_id)) {
        identify(files, &id);
    }
    report
}

/// A new random stack id: 32 lowercase hex digits.
fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Sets the stack's id in the rendered `answers.json` of `files`.
fn identify(files: &mut BTreeMap<String, Vec<u8>>, id: &str) {
    if let Some(text) = files.get_mut(answers::PATH)
        && let Some(identified) = Answers::with_identity(text, id)
    {
        *text = identified;
    }
}

/// The id a stack in `dir` already has, if it has answers with one.
fn existing_id(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(answers::PATH)).ok()?;
    Answers::parse(&text).ok()?.stack.map(|stack| stack.id)
}

/// Reports the stack written in `dir`, whose `answers.json` holds its id; `name` is what people
/// call it.
pub async fn report(client: &Client, dir: &Path, name: &str) {
    if client.settings().token.is_none() {
        eprintln!(
            "note: the registry keeps a stack inventory, but reporting needs a token: run `scaffold login {}` (this stack was not reported)",
            client.settings().source_host
        );
        return;
    }
    let Ok(recorded) = crate::pipeline::recorded(dir) else {
        return;
    };
    let Some(identity) = &recorded.stack else {
        return;
    };
    let report = api::StackReport {
        name: name.to_owned(),
        blueprint: api::StackBlueprint {
            address: recorded.blueprint.address.clone(),
            version: recorded.blueprint.version.clone(),
        },
        modules: recorded
            .modules
            .iter()
            .map(|module| api::StackModule {
                name: module.name.clone(),
                source: module.source.clone(),
                version: module.version.clone(),
            })
            .collect(),
        location: location(dir),
    };
    let path = format!("/v1/stacks/{}", identity.id);
    match client.put::<_, api::StackReported>(&path, &report).await {
        Ok(reported) => {
            let behind = if reported.outdated {
                " (a newer blueprint version exists: `scaffold update`)"
            } else {
                ""
            };
            eprintln!(
                "reported stack `{name}` ({}) to the registry's stack inventory{behind}",
                identity.id
            );
        }
        Err(error) => eprintln!(
            "warning: the stack was written, but reporting it to the registry's stack inventory failed: {error}"
        ),
    }
}

/// The stack's git remote (credentials removed) and its directory within the checkout.
fn location(dir: &Path) -> Option<api::StackLocation> {
    let git = |args: &[&str]| crate::git::text(dir, args);
    let remotes = git(&["remote"])?;
    let remote = remotes
        .lines()
        .find(|name| *name == "origin")
        .or_else(|| remotes.lines().next())?
        .to_owned();
    let url = git(&["remote", "get-url", &remote]).filter(|url| !url.is_empty())?;
    let path = git(&["rev-parse", "--show-prefix"]).unwrap_or_default();
    Some(api::StackLocation {
        repository: quarry_core::inventory::strip_credentials(&url),
        path: path.trim_end_matches('/').to_owned(),
    })
}
