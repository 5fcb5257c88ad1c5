//! Where tokens live: the same places terraform reads them, so one login serves both tools.
//! `TF_TOKEN_<host>` first, then `~/.terraform.d/credentials.tfrc.json` (what `terraform login`
//! and `scaffold login` write).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `credentials.tfrc.json`: a token per host, and whatever else terraform keeps there (kept as
/// it is when a token is stored).
#[derive(Debug, Default, Serialize, Deserialize)]
struct CredentialsFile {
    #[serde(default)]
    credentials: BTreeMap<String, HostCredentials>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct HostCredentials {
    token: String,
    #[serde(flatten)]
    other: Map<String, Value>,
}

fn read_credentials(path: &std::path::Path) -> Option<CredentialsFile> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The environment variable terraform reads a host's token from: dots become `_`, dashes `__`.
/// Hosts with a port have none (terraform only reads those from credentials files).
pub fn env_var_name(host: &str) -> Option<String> {
    if host.contains(':') || host.is_empty() {
        return None;
    }
    let encoded: String = host
        .chars()
        .map(|c| match c {
            '.' => "_".to_owned(),
            '-' => "__".to_owned(),
            other => other.to_string(),
        })
        .collect();
    Some(format!("TF_TOKEN_{encoded}"))
}

/// `~/.terraform.d/credentials.tfrc.json`.
pub fn credentials_file() -> Option<PathBuf> {
    dirs::home_dir().map(|home| home.join(".terraform.d").join("credentials.tfrc.json"))
}

/// The token for `host`, from the environment or the credentials file.
pub fn token_for(host: &str) -> Option<String> {
    if let Some(name) = env_var_name(host)
        && let Ok(token) = std::env::var(&name)
        && !token.trim().is_empty()
    {
        return Some(token.trim().to_owned());
    }
    let mut document = read_credentials(&credentials_file()?)?;
    document.credentials.remove(host).map(|entry| entry.token)
}

/// Stores `token` for `host` in the credentials file, keeping every other host's entry, readable
/// only by the user.
pub fn store_token(host: &str, token: &str) -> std::io::Result<PathBuf> {
    let path = credentials_file().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no home directory to keep credentials in",
        )
    })?;
    let mut document = read_credentials(&path).unwrap_or_default();
    document.credentials.insert(
        host.to_owned(),
        HostCredentials {
            token: token.to_owned(),
            other: Map::new(),
        },
    );
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
    quarry_core::private_file::write(&path, text.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names_follow_terraform() {
        for (host, expected) in [
            (
                "registry.example.com",
                Some("TF_TOKEN_registry_example_com"),
            ),
            (
                "my-registry.example.com",
                Some("TF_TOKEN_my__registry_example_com"),
            ),
            ("registry.test", Some("TF_TOKEN_registry_test")),
            ("127.0.0.1:8080", None),
        ] {
            assert_eq!(env_var_name(host).as_deref(), expected, "{host}");
        }
    }
}
