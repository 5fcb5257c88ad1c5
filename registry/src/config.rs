//! The registry's configuration: flags, `QUARRY_*` environment variables and `quarry.toml`, in that
//! order of precedence, resolved once at start into one `Config` that is passed down.

use clap::{Args, ValueEnum};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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

/// Options shared by every `quarry` command: where the data lives.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// Configuration file [default: ./quarry.toml when it exists]
    #[arg(long, env = "QUARRY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database and archives [default: ./data]
    #[arg(long, env = "QUARRY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… [default: sqlite in the data directory]
    #[arg(
        long,
        env = "QUARRY_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Archive storage URL: file:///PATH [default: the data directory's `objects/`]
    #[arg(long, env = "QUARRY_STORAGE", global = true)]
    pub storage: Option<String>,
    /// Log format
    #[arg(long, env = "QUARRY_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
}

/// Options of `quarry serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "QUARRY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The registry's URL as clients reach it (e.g. https://registry.example.com); absolute URLs
    /// handed out (archive downloads) start with it. Relative URLs are used when unset.
    #[arg(long, env = "QUARRY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Who may read modules [default: public]
    #[arg(long, env = "QUARRY_READ_ACCESS", value_enum)]
    pub read_access: Option<ReadAccess>,
    /// Key for signing archive URLs (at least 32 characters). Replicas must share it. When unset a
    /// random key is kept in the data directory.
    #[arg(long, env = "QUARRY_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
    /// How long a signed archive URL stays valid, in seconds [default: 300]
    #[arg(long, env = "QUARRY_SIGNED_URL_TTL")]
    pub signed_url_ttl: Option<u64>,
    /// Largest accepted upload, compressed, in bytes [default: 104857600]
    #[arg(long, env = "QUARRY_MAX_ARCHIVE_BYTES")]
    pub max_archive_bytes: Option<u64>,
    /// Largest accepted archive once unpacked, in bytes [default: 1073741824]
    #[arg(long, env = "QUARRY_MAX_UNPACKED_BYTES")]
    pub max_unpacked_bytes: Option<u64>,
    /// Writes (publish, deprecate, yank) one token may make per minute; 0 for no limit [default: 60]
    #[arg(long, env = "QUARRY_WRITES_PER_MINUTE_PER_TOKEN")]
    pub writes_per_minute_per_token: Option<u32>,
    /// Writes one client address may make per minute; 0 for no limit [default: 120]
    #[arg(long, env = "QUARRY_WRITES_PER_MINUTE_PER_ADDRESS")]
    pub writes_per_minute_per_address: Option<u32>,
    /// Seconds a client has to send a request's headers [default: 10]
    #[arg(long, env = "QUARRY_REQUEST_TIMEOUT")]
    pub request_timeout: Option<u64>,
    /// Seconds an upload may stall between two chunks of its body [default: 30]
    #[arg(long, env = "QUARRY_BODY_TIMEOUT")]
    pub body_timeout: Option<u64>,
    /// Largest request head (target and headers) in bytes; larger ones get 431 [default: 32768]
    #[arg(long, env = "QUARRY_MAX_HEADER_BYTES")]
    pub max_header_bytes: Option<usize>,
    /// Seconds a render or validation may take before it is stopped [default: 5]
    #[arg(long, env = "QUARRY_RENDER_TIMEOUT")]
    pub render_timeout: Option<u64>,
    /// MiB of memory a render or validation may use [default: 256]
    #[arg(long, env = "QUARRY_RENDER_MEMORY")]
    pub render_memory: Option<u64>,
    /// Bytes a rendered stack may hold, every file together [default: 16777216]
    #[arg(long, env = "QUARRY_RENDER_OUTPUT_BYTES")]
    pub render_output_bytes: Option<usize>,
    /// Seconds the checks of one upload (archive, Terraform, templates, policies) may take [default: 60]
    #[arg(long, env = "QUARRY_CHECK_TIMEOUT")]
    pub check_timeout: Option<u64>,
    /// MiB of memory the checks of one upload may use [default: 1024]
    #[arg(long, env = "QUARRY_CHECK_MEMORY")]
    pub check_memory: Option<u64>,
    /// Checks and renders run at once, each in a worker process; more wait briefly, then get 503
    /// [default: the number of CPUs, at least 2]
    #[arg(long, env = "QUARRY_SANDBOX_WORKERS")]
    pub sandbox_workers: Option<usize>,
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT [default: 3]
    #[arg(long, env = "QUARRY_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<u64>,
    /// Publish every module found under this directory that is not published yet (repeatable)
    #[arg(long, env = "QUARRY_IMPORT", value_delimiter = ',')]
    pub import: Vec<PathBuf>,
}

/// `quarry.toml`: the same settings as the flags, by the flags' names with `_` for `-`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    storage: Option<String>,
    log_format: Option<LogFormat>,
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    read_access: Option<ReadAccess>,
    signing_key: Option<String>,
    signed_url_ttl: Option<u64>,
    max_archive_bytes: Option<u64>,
    max_unpacked_bytes: Option<u64>,
    writes_per_minute_per_token: Option<u32>,
    writes_per_minute_per_address: Option<u32>,
    request_timeout: Option<u64>,
    body_timeout: Option<u64>,
    max_header_bytes: Option<usize>,
    render_timeout: Option<u64>,
    render_memory: Option<u64>,
    render_output_bytes: Option<usize>,
    check_timeout: Option<u64>,
    check_memory: Option<u64>,
    sandbox_workers: Option<usize>,
    shutdown_timeout: Option<u64>,
    #[serde(default)]
    import: Vec<PathBuf>,
}

/// Everything a command needs, resolved.
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub storage_url: Option<String>,
    pub log_format: LogFormat,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub read_access: ReadAccess,
    pub signing_key: Option<String>,
    pub signed_url_ttl: u64,
    pub max_archive_bytes: u64,
    pub max_unpacked_bytes: u64,
    pub writes_per_minute_per_token: u32,
    pub writes_per_minute_per_address: u32,
    pub request_timeout: u64,
    pub body_timeout: u64,
    pub max_header_bytes: usize,
    /// What one render or validation may spend.
    pub render_budget: crate::sandbox::Budget,
    /// The most a rendered stack may hold, in bytes.
    pub render_output_bytes: usize,
    /// What the checks of one upload may spend.
    pub check_budget: crate::sandbox::Budget,
    pub sandbox_workers: usize,
    /// The program the sandbox's workers run (this binary, as `quarry sandbox-worker`).
    pub sandbox_program: PathBuf,
    pub shutdown_timeout: u64,
    pub import: Vec<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("storage_url", &self.storage_url)
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("read_access", &self.read_access)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
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

/// A whole number of seconds, at least one.
fn seconds(name: &str, value: u64) -> Result<std::time::Duration, ConfigError> {
    if value == 0 {
        return Err(ConfigError::Invalid(format!(
            "the {name} must be at least 1 second"
        )));
    }
    Ok(std::time::Duration::from_secs(value))
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

fn read_file_config(explicit: Option<&Path>) -> Result<FileConfig, ConfigError> {
    let path = match explicit {
        Some(path) => path.to_owned(),
        None => {
            let default = PathBuf::from("quarry.toml");
            if !default.exists() {
                return Ok(FileConfig::default());
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path,
        message: error.to_string(),
    })
}

impl Config {
    /// Resolves the configuration: each value from the flag or env var when given, else from the
    /// file, else the default.
    pub fn resolve(store: &StoreArgs, serve: &ServeArgs) -> Result<Self, ConfigError> {
        let file = read_file_config(store.config.as_deref())?;
        let data_dir = store
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = store
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("quarry.db").display()));
        let public_url = serve
            .public_url
            .clone()
            .or(file.public_url)
            .map(|url| url.trim_end_matches('/').to_owned());
        if let Some(url) = &public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "public URL `{url}` must start with http:// or https://"
            )));
        }
        let signing_key = serve.signing_key.clone().or(file.signing_key);
        if let Some(key) = &signing_key
            && key.len() < 32
        {
            return Err(ConfigError::Invalid(
                "the signing key must be at least 32 characters long".into(),
            ));
        }
        let import = if serve.import.is_empty() {
            file.import
        } else {
            serve.import.clone()
        };
        Ok(Self {
            data_dir,
            database_url,
            storage_url: store.storage.clone().or(file.storage),
            log_format: store
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            listen: serve
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            public_url,
            read_access: serve
                .read_access
                .or(file.read_access)
                .unwrap_or(ReadAccess::Public),
            signing_key,
            signed_url_ttl: serve.signed_url_ttl.or(file.signed_url_ttl).unwrap_or(300),
            max_archive_bytes: serve
                .max_archive_bytes
                .or(file.max_archive_bytes)
                .unwrap_or(100 << 20),
            max_unpacked_bytes: serve
                .max_unpacked_bytes
                .or(file.max_unpacked_bytes)
                .unwrap_or(1 << 30),
            writes_per_minute_per_token: serve
                .writes_per_minute_per_token
                .or(file.writes_per_minute_per_token)
                .unwrap_or(60),
            writes_per_minute_per_address: serve
                .writes_per_minute_per_address
                .or(file.writes_per_minute_per_address)
                .unwrap_or(120),
            request_timeout: serve.request_timeout.or(file.request_timeout).unwrap_or(10),
            body_timeout: serve.body_timeout.or(file.body_timeout).unwrap_or(30),
            max_header_bytes: serve
                .max_header_bytes
                .or(file.max_header_bytes)
                .unwrap_or(32 * 1024),
            render_budget: crate::sandbox::Budget {
                time: seconds(
                    "render timeout",
                    serve.render_timeout.or(file.render_timeout).unwrap_or(5),
                )?,
                memory: mebibytes(
                    "render memory",
                    serve.render_memory.or(file.render_memory).unwrap_or(256),
                )?,
                // Renders are anyone's to ask for: they get a worker soon or a 503.
                wait: std::time::Duration::from_millis(250),
            },
            render_output_bytes: serve
                .render_output_bytes
                .or(file.render_output_bytes)
                .unwrap_or(quarry_core::render::MAX_RENDERED_BYTES),
            check_budget: crate::sandbox::Budget {
                time: seconds(
                    "check timeout",
                    serve.check_timeout.or(file.check_timeout).unwrap_or(60),
                )?,
                memory: mebibytes(
                    "check memory",
                    serve.check_memory.or(file.check_memory).unwrap_or(1024),
                )?,
                // Uploads come from publishers, whose writes are rate-limited: they may queue.
                wait: std::time::Duration::from_secs(30),
            },
            sandbox_workers: serve
                .sandbox_workers
                .or(file.sandbox_workers)
                .unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(2, |cpus| cpus.get().max(2))
                }),
            sandbox_program: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("quarry")),
            shutdown_timeout: serve
                .shutdown_timeout
                .or(file.shutdown_timeout)
                .unwrap_or(3),
            import,
        })
    }

    /// A configuration for tests and tools: everything under `data_dir`, defaults elsewhere.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        let store = StoreArgs {
            config: Some(PathBuf::from("/dev/null")),
            data_dir: Some(data_dir.to_owned()),
            ..StoreArgs::default()
        };
        Self::resolve(&store, &ServeArgs::default())
            .expect("defaults and an empty file are a valid configuration")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_file_and_file_beats_default() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("quarry.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\nread_access = \"token\"\nsigned_url_ttl = 60\n",
        )
        .expect("write");
        let store = StoreArgs {
            config: Some(path),
            ..StoreArgs::default()
        };
        let serve = ServeArgs {
            signed_url_ttl: Some(30),
            ..ServeArgs::default()
        };
        let config = Config::resolve(&store, &serve).expect("valid");
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.read_access, ReadAccess::Token);
        assert_eq!(config.signed_url_ttl, 30);
        assert_eq!(config.max_archive_bytes, 100 << 20);
        assert_eq!(config.database_url, "sqlite://data/quarry.db");
    }

    #[test]
    fn unknown_file_keys_are_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("quarry.toml");
        std::fs::write(&path, "lisen = \"x\"\n").expect("write");
        let store = StoreArgs {
            config: Some(path),
            ..StoreArgs::default()
        };
        let error = Config::resolve(&store, &ServeArgs::default())
            .expect_err("invalid")
            .to_string();
        assert!(error.contains("unknown field `lisen`"), "{error}");
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
