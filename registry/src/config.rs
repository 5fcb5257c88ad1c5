//! The registry's configuration: flags, `QUARRY_*` environment variables and `quarry.toml`, in that
//! order of precedence, resolved once at start into one `Config` that is passed down.
//!
//! Every setting is declared once, in [`settings!`] below: its flag (the field's name with `-`),
//! its environment variable, its `quarry.toml` key (the field's name), its default and its help.
//! The macro makes the flags (clap), the file's keys (serde) and the resolved values from that one
//! declaration.

use clap::{Args, ValueEnum};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Who may read modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadAccess {
    /// Anyone may read; publishing still needs a token.
    Public,
    /// Every JSON read needs a token with the `read` scope; archive URLs are signed.
    Token,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Declares settings: `name: Type = default, "shown default", "ENV_VAR", "help" [clap attributes];`
/// for settings with a default, and `name: Type, "ENV_VAR", "help" [clap attributes];` in the
/// `optional` block for those that may stay unset. Makes `$args` (the flags, each an `Option`),
/// a file section (the same keys, for `quarry.toml`) and `$resolved` (the values).
macro_rules! settings {
    (
        $(#[$doc:meta])*
        $args:ident, $file:ident, $resolved:ident {
            $($field:ident: $ty:ty = $default:expr, $shown:literal, $env:literal, $help:literal [$($attr:tt)*];)*
        }
        optional {
            $($opt_field:ident: $opt_ty:ty, $opt_env:literal, $opt_help:literal [$($opt_attr:tt)*];)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Args)]
        pub struct $args {
            $(
                #[arg(long, env = $env, help = concat!($help, " [default: ", $shown, "]") $($attr)*)]
                pub $field: Option<$ty>,
            )*
            $(
                #[arg(long, env = $opt_env, help = $opt_help $($opt_attr)*)]
                pub $opt_field: Option<$opt_ty>,
            )*
        }

        /// The same settings in `quarry.toml`, by the flags' names with `_` for `-`.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $file {
            $($field: Option<$ty>,)*
            $($opt_field: Option<$opt_ty>,)*
        }

        /// Every setting resolved: the flag or environment variable, else the file, else the default.
        #[derive(Clone)]
        pub struct $resolved {
            $(pub $field: $ty,)*
            $(pub $opt_field: Option<$opt_ty>,)*
        }

        impl $resolved {
            fn resolve(args: &$args, file: $file) -> Self {
                Self {
                    $($field: args.$field.clone().or(file.$field).unwrap_or_else(|| $default),)*
                    $($opt_field: args.$opt_field.clone().or(file.$opt_field),)*
                }
            }

            /// Every setting's flag and environment variable, for documentation checks.
            pub fn names() -> Vec<(&'static str, &'static str)> {
                vec![
                    $((stringify!($field), $env),)*
                    $((stringify!($opt_field), $opt_env),)*
                ]
            }
        }
    };
}

settings! {
    /// Options shared by every `quarry` command: where the data lives.
    StoreArgs, StoreFile, StoreSettings {
        data_dir: PathBuf = PathBuf::from("data"), "./data", "QUARRY_DATA_DIR",
            "Directory for the embedded database and archives" [, global = true];
        log_format: LogFormat = LogFormat::Text, "text", "QUARRY_LOG_FORMAT",
            "Log format" [, global = true, value_enum];
    }
    optional {
        database_url: String, "QUARRY_DATABASE_URL",
            "Database URL: sqlite://PATH or postgres://… [default: sqlite in the data directory]"
            [, global = true, hide_env_values = true];
        storage: String, "QUARRY_STORAGE",
            "Archive storage URL: file:///PATH [default: the data directory's `objects/`]"
            [, global = true];
    }
}

settings! {
    /// Options of `quarry serve`.
    ServeArgs, ServeFile, ServeSettings {
        listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080)), "127.0.0.1:8080",
            "QUARRY_LISTEN", "Address to listen on" [];
        read_access: ReadAccess = ReadAccess::Public, "public", "QUARRY_READ_ACCESS",
            "Who may read modules" [, value_enum];
        signed_url_ttl: u64 = 300, "300", "QUARRY_SIGNED_URL_TTL",
            "How long a signed archive URL stays valid, in seconds" [];
        max_archive_bytes: u64 = 100 << 20, "104857600", "QUARRY_MAX_ARCHIVE_BYTES",
            "Largest accepted upload, compressed, in bytes" [];
        max_unpacked_bytes: u64 = 1 << 30, "1073741824", "QUARRY_MAX_UNPACKED_BYTES",
            "Largest accepted archive once unpacked, in bytes" [];
        writes_per_minute_per_token: u32 = 60, "60", "QUARRY_WRITES_PER_MINUTE_PER_TOKEN",
            "Writes (publish, deprecate, yank and their undoing) one token may make per minute; 0 for no limit" [];
        writes_per_minute_per_address: u32 = 120, "120", "QUARRY_WRITES_PER_MINUTE_PER_ADDRESS",
            "Writes one client address may make per minute; 0 for no limit" [];
        request_timeout: u64 = 10, "10", "QUARRY_REQUEST_TIMEOUT",
            "Seconds a client has to send a request's headers" [];
        body_timeout: u64 = 30, "30", "QUARRY_BODY_TIMEOUT",
            "Seconds an upload may stall between two chunks of its body" [];
        max_header_bytes: usize = 32 * 1024, "32768", "QUARRY_MAX_HEADER_BYTES",
            "Largest request head (target and headers) in bytes; larger ones get 431" [];
        render_timeout: u64 = 5, "5", "QUARRY_RENDER_TIMEOUT",
            "Seconds a render or validation may take before it is stopped" [];
        render_memory: u64 = 256, "256", "QUARRY_RENDER_MEMORY",
            "MiB of memory a render or validation may use" [];
        render_output_bytes: usize = quarry_core::render::MAX_RENDERED_BYTES, "16777216",
            "QUARRY_RENDER_OUTPUT_BYTES", "Bytes a rendered stack may hold, every file together" [];
        check_timeout: u64 = 60, "60", "QUARRY_CHECK_TIMEOUT",
            "Seconds the checks of one upload (archive, Terraform, templates, policies) may take" [];
        check_memory: u64 = 1024, "1024", "QUARRY_CHECK_MEMORY",
            "MiB of memory the checks of one upload may use" [];
        sandbox_workers: usize = std::thread::available_parallelism()
            .map_or(2, |cpus| cpus.get().max(2)), "the number of CPUs, at least 2",
            "QUARRY_SANDBOX_WORKERS",
            "Checks and renders run at once, each in a worker process; more wait briefly, then get 503" [];
        shutdown_timeout: u64 = 3, "3", "QUARRY_SHUTDOWN_TIMEOUT",
            "Seconds in-flight requests get to finish after SIGTERM or SIGINT" [];
        stack_inventory: bool = false, "false", "QUARRY_STACK_INVENTORY",
            "Keep an inventory of the stacks scaffold renders and updates (reported with a token that may read), listed at /v1/stacks and on blueprint pages"
            [, num_args = 0..=1, default_missing_value = "true"];
        archive_redirect: bool = false, "false", "QUARRY_ARCHIVE_REDIRECT",
            "Answer archive downloads with a redirect (307) to a presigned URL of the object store, valid for --signed-url-ttl seconds, instead of streaming them through Quarry (s3://, gs:// and az:// storage only)"
            [, num_args = 0..=1, default_missing_value = "true"];
        access_log: bool = false, "false", "QUARRY_ACCESS_LOG",
            "Log every request (at INFO). Without it only server errors, refused writes and requests slower than a second are logged; /metrics counts the rest"
            [, num_args = 0..=1, default_missing_value = "true"];
        mirror_platforms: Vec<String> = ["linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64"]
            .map(String::from).to_vec(), "linux_amd64,linux_arm64,darwin_amd64,darwin_arm64,windows_amd64",
            "QUARRY_MIRROR_PLATFORMS",
            "The platforms (os_arch, comma-separated) --mirror-upstream fetches of a provider version"
            [, value_delimiter = ','];
        import: Vec<PathBuf> = Vec::new(), "none", "QUARRY_IMPORT",
            "Publish every module and blueprint found under these directories that is not published yet (comma-separated)"
            [, value_delimiter = ','];
    }
    optional {
        public_url: String, "QUARRY_PUBLIC_URL",
            "The registry's URL as clients reach it (e.g. https://registry.example.com); absolute URLs handed out (archive downloads) start with it. Relative URLs are used when unset"
            [];
        tls_cert: PathBuf, "QUARRY_TLS_CERT",
            "Serve HTTPS (HTTP/2 and HTTP/1.1) with this PEM certificate chain; with --tls-key. Both are read again on SIGHUP"
            [];
        tls_key: PathBuf, "QUARRY_TLS_KEY",
            "The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1)"
            [];
        mirror_upstream: String, "QUARRY_MIRROR_UPSTREAM",
            "Pull provider versions the network mirror does not hold from this registry ([HOST=]URL, e.g. https://registry.terraform.io; HOST is the providers' origin host, by default the URL's), verified against its signed SHA256SUMS, stored, then served"
            [];
        mirror_upstream_token: String, "QUARRY_MIRROR_UPSTREAM_TOKEN",
            "A token sent to --mirror-upstream's JSON endpoints"
            [, hide_env_values = true];
        signing_key: String, "QUARRY_SIGNING_KEY",
            "Key for signing archive URLs (at least 32 characters). Replicas must share it. When unset a random key is kept in the data directory"
            [, hide_env_values = true];
    }
}

/// Everything a command needs, resolved.
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub storage_url: Option<String>,
    pub log_format: LogFormat,
    pub serve: ServeSettings,
    /// The program the sandbox's workers run (this binary, as `quarry sandbox-worker`).
    pub sandbox_program: PathBuf,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("storage_url", &self.storage_url)
            .field("listen", &self.serve.listen)
            .field("public_url", &self.serve.public_url)
            .field("read_access", &self.serve.read_access)
            .field(
                "signing_key",
                &self.serve.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Hides a password in a database URL so the configuration can be logged.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The configuration file's store and serve sections (its keys are split between them).
fn read_file_config(explicit: Option<&Path>) -> Result<(StoreFile, ServeFile), ConfigError> {
    let path = match explicit {
        Some(path) => path.to_owned(),
        None => {
            let default = PathBuf::from("quarry.toml");
            if !default.exists() {
                return Ok((StoreFile::default(), ServeFile::default()));
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let parse_error = |message: String| ConfigError::Parse {
        path: path.clone(),
        message,
    };
    let table: toml::Table =
        toml::from_str(&text).map_err(|error| parse_error(error.to_string()))?;
    let store_keys: Vec<&str> = StoreSettings::names().iter().map(|(key, _)| *key).collect();
    let (store, serve): (toml::Table, toml::Table) = table
        .into_iter()
        .partition(|(key, _)| store_keys.contains(&key.as_str()));
    let store: StoreFile = store
        .try_into()
        .map_err(|error: toml::de::Error| parse_error(error.to_string()))?;
    let serve: ServeFile = serve
        .try_into()
        .map_err(|error: toml::de::Error| parse_error(error.to_string()))?;
    Ok((store, serve))
}

/// A whole number of seconds, at least one.
fn seconds(name: &str, value: u64) -> Result<Duration, ConfigError> {
    if value == 0 {
        return Err(ConfigError::Invalid(format!(
            "the {name} must be at least 1 second"
        )));
    }
    Ok(Duration::from_secs(value))
}

/// A number of MiB, at least 16, as bytes.
fn mebibytes(name: &str, value: u64) -> Result<u64, ConfigError> {
    if !(16..=1 << 20).contains(&value) {
        return Err(ConfigError::Invalid(format!(
            "the {name} must be from 16 to 1048576 MiB, not {value}"
        )));
    }
    Ok(value << 20)
}

impl Config {
    /// Resolves the configuration: each value from the flag or env var when given, else from the
    /// file, else the default; then checks the values that have rules.
    pub fn resolve(
        store: &StoreArgs,
        serve: &ServeArgs,
        file: Option<&Path>,
    ) -> Result<Self, ConfigError> {
        let (store_file, serve_file) = read_file_config(file)?;
        let stored = StoreSettings::resolve(store, store_file);
        let mut serve = ServeSettings::resolve(serve, serve_file);
        let database_url = stored
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", stored.data_dir.join("quarry.db").display()));
        serve.public_url = serve
            .public_url
            .map(|url| url.trim_end_matches('/').to_owned());
        if let Some(url) = &serve.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "public URL `{url}` must start with http:// or https://"
            )));
        }
        if serve.tls_cert.is_some() != serve.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "--tls-cert and --tls-key go together: give both to serve HTTPS, or neither".into(),
            ));
        }
        if let Some(key) = &serve.signing_key
            && key.len() < 32
        {
            return Err(ConfigError::Invalid(
                "the signing key must be at least 32 characters long".into(),
            ));
        }
        let config = Self {
            data_dir: stored.data_dir,
            database_url,
            storage_url: stored.storage,
            log_format: stored.log_format,
            serve,
            sandbox_program: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("quarry")),
        };
        config.render_budget()?;
        config.check_budget()?;
        Ok(config)
    }

    /// What one render or validation may spend. Renders are anyone's to ask for: they get a
    /// worker soon or a 503.
    pub fn render_budget(&self) -> Result<crate::sandbox::Budget, ConfigError> {
        Ok(crate::sandbox::Budget {
            time: seconds("render timeout", self.serve.render_timeout)?,
            memory: mebibytes("render memory", self.serve.render_memory)?,
            wait: Duration::from_millis(250),
        })
    }

    /// What the checks of one upload may spend. Uploads come from publishers, whose writes are
    /// rate-limited: they may wait for a worker.
    pub fn check_budget(&self) -> Result<crate::sandbox::Budget, ConfigError> {
        Ok(crate::sandbox::Budget {
            time: seconds("check timeout", self.serve.check_timeout)?,
            memory: mebibytes("check memory", self.serve.check_memory)?,
            wait: Duration::from_secs(30),
        })
    }

    /// A configuration for tests and tools: everything under `data_dir`, defaults elsewhere.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        let store = StoreArgs {
            data_dir: Some(data_dir.to_owned()),
            ..StoreArgs::default()
        };
        Self::resolve(&store, &ServeArgs::default(), Some(Path::new("/dev/null")))
            .expect("defaults and an empty file are a valid configuration")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("quarry.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn flag_beats_file_and_file_beats_default() {
        let (_dir, path) = file(
            "listen = \"0.0.0.0:9000\"\nread_access = \"token\"\nsigned_url_ttl = 60\ndata_dir = \"/srv/q\"\n",
        );
        let serve = ServeArgs {
            signed_url_ttl: Some(30),
            ..ServeArgs::default()
        };
        let config = Config::resolve(&StoreArgs::default(), &serve, Some(&path)).expect("valid");
        assert_eq!(config.serve.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.serve.read_access, ReadAccess::Token);
        assert_eq!(config.serve.signed_url_ttl, 30);
        assert_eq!(config.serve.max_archive_bytes, 100 << 20);
        assert_eq!(config.database_url, "sqlite:///srv/q/quarry.db");
    }

    #[test]
    fn unknown_file_keys_are_named() {
        let (_dir, path) = file("lisen = \"x\"\n");
        let error = Config::resolve(&StoreArgs::default(), &ServeArgs::default(), Some(&path))
            .expect_err("invalid")
            .to_string();
        assert!(error.contains("unknown field `lisen`"), "{error}");
    }

    #[test]
    fn budgets_are_checked() {
        let serve = ServeArgs {
            render_memory: Some(1),
            ..ServeArgs::default()
        };
        let error = Config::resolve(&StoreArgs::default(), &serve, Some(Path::new("/dev/null")))
            .err()
            .map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some("the render memory must be from 16 to 1048576 MiB, not 1")
        );
    }

    #[test]
    fn every_setting_is_in_the_readme() {
        let readme = include_str!("../../README.md");
        for (key, env) in StoreSettings::names()
            .into_iter()
            .chain(ServeSettings::names())
        {
            let flag = format!("`--{}`", key.replace('_', "-"));
            assert!(readme.contains(&flag), "the README's settings lack {flag}");
            assert!(readme.contains(env), "the README's settings lack {env}");
        }
    }

    #[test]
    fn database_password_is_redacted() {
        assert_eq!(
            redact_url("postgres://quarry:secret@db:5432/quarry"),
            "postgres://quarry:***@db:5432/quarry"
        );
        assert_eq!(
            redact_url("sqlite://data/quarry.db"),
            "sqlite://data/quarry.db"
        );
    }
}
