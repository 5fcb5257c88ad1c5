//! Which registry to talk to and as whom: `--registry` / `SCAFFOLD_REGISTRY`, else the config
//! file (`~/.config/scaffold/config.toml`, or `SCAFFOLD_CONFIG`); the host written into module
//! sources; and the token from where terraform keeps it.

use crate::error::{CliError, Result};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    registry: Option<String>,
    source_host: Option<String>,
}

/// The resolved connection settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Base URL, without a trailing slash, e.g. `https://registry.example.com`.
    pub registry: String,
    /// Host written into rendered module sources (what terraform knows the registry by).
    pub source_host: String,
    pub token: Option<Token>,
}

/// A registry token: shown as `<redacted>` whenever it is printed for debugging.
#[derive(Clone)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

fn config_file() -> Option<PathBuf> {
    match std::env::var_os("SCAFFOLD_CONFIG") {
        Some(path) => Some(PathBuf::from(path)),
        None => dirs::config_dir().map(|dir| dir.join("scaffold").join("config.toml")),
    }
}

fn read_file_config() -> Result<FileConfig> {
    let Some(path) = config_file() else {
        return Ok(FileConfig::default());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|error| CliError::invalid(format!("{}: {error}", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(error) => Err(CliError::failure(format!("{}: {error}", path.display()))),
    }
}

/// `https://host:port/path` → `host:port`.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

pub fn resolve(
    registry: Option<&str>,
    source_host: Option<&str>,
    token: Option<&str>,
) -> Result<Settings> {
    let file = read_file_config()?;
    let registry = registry
        .map(str::to_owned)
        .or(file.registry)
        .ok_or_else(|| {
            CliError::new(
                crate::error::Kind::Usage,
                "no registry configured: pass --registry https://registry.example.com, set \
                 SCAFFOLD_REGISTRY, or put `registry = \"…\"` in ~/.config/scaffold/config.toml",
            )
        })?;
    let registry = registry.trim_end_matches('/').to_owned();
    let host = host_of(&registry)
        .filter(|_| registry.starts_with("http://") || registry.starts_with("https://"))
        .ok_or_else(|| {
            CliError::invalid(format!(
                "registry `{registry}` is not an http(s) URL, e.g. https://registry.example.com"
            ))
        })?;
    let source_host = source_host
        .map(str::to_owned)
        .or(file.source_host)
        .unwrap_or_else(|| host.clone());
    // An explicit token (`--token`, `SCAFFOLD_TOKEN`) first: `TF_TOKEN_*` cannot name a host
    // with a port.
    let token = token
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .or_else(|| crate::credentials::token_for(&source_host))
        .or_else(|| crate::credentials::token_for(&host));
    Ok(Settings {
        registry,
        source_host,
        token: token.map(Token),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_taken_from_the_url() {
        for (url, host) in [
            ("https://registry.example.com", Some("registry.example.com")),
            ("http://127.0.0.1:8080/", Some("127.0.0.1:8080")),
            (
                "https://Registry.Example.com/base?x",
                Some("registry.example.com"),
            ),
            ("registry.example.com", None),
        ] {
            assert_eq!(host_of(url).as_deref(), host, "{url}");
        }
    }
}
