//! The registry's HTTP API as the CLI uses it (reqwest with rustls), read into the typed contract
//! of [`quarry_core::api`]: a field the CLI needs that an answer lacks is an error, never an
//! empty default. Every failure becomes an error that says what to do: the registry unreachable,
//! a refused token, an unknown address.

use crate::config::Settings;
use crate::error::{CliError, Kind, Result};
use bytes_stream::progress_body;
use quarry_core::api;
use quarry_core::blueprint::ModuleSource;
use quarry_core::constraint::Constraint;
use quarry_core::render::{ModuleResolver, ResolvedModule};
use quarry_core::version::Version;
use serde::de::DeserializeOwned;

pub struct Client {
    http: reqwest::Client,
    settings: Settings,
    /// Show progress bars (on a terminal, never in CI).
    progress: bool,
}

/// The message of a registry error body (`{"errors": […]}`), or the raw text.
fn registry_message(body: &str) -> String {
    match serde_json::from_str::<api::Errors>(body) {
        Ok(errors) => quarry_core::lines(errors.errors.iter()),
        Err(_) => body.chars().take(500).collect(),
    }
}

/// Percent-encodes a query value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl Client {
    pub fn new(settings: Settings, progress: bool) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("scaffold/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|error| CliError::failure(format!("HTTP client: {error}")))?;
        Ok(Self {
            http,
            settings,
            progress,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.settings.registry)
        }
    }

    fn with_token(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.settings.token {
            Some(token) => request.bearer_auth(&token.0),
            None => request,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let response = self.with_token(request).send().await.map_err(|error| {
            CliError::new(
                Kind::Unreachable,
                format!(
                    "cannot reach the registry at {}: {}\n  check --registry / SCAFFOLD_REGISTRY and that the registry is running",
                    self.settings.registry,
                    root_cause(&error)
                ),
            )
        })?;
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let message = registry_message(&body);
        let host = &self.settings.source_host;
        let login_hint = match crate::credentials::env_var_name(host) {
            Some(name) => format!("run `scaffold login {host}` or set {name}"),
            None => format!("run `scaffold login {host}`"),
        };
        Err(match status.as_u16() {
            401 => CliError::new(
                Kind::Denied,
                format!("the registry refused the request (401): {message}\n  {login_hint}"),
            ),
            403 => CliError::new(
                Kind::Denied,
                format!("the registry refused the request (403): {message}"),
            ),
            404 => CliError::new(Kind::NotFound, message),
            409 => CliError::new(Kind::Conflict, message),
            400 | 413 | 415 | 422 => CliError::new(Kind::Invalid, message),
            other => CliError::failure(format!("the registry answered {other}: {message}")),
        })
    }

    /// Reads a JSON answer as `T`.
    async fn read<T: DeserializeOwned>(response: reqwest::Response, path: &str) -> Result<T> {
        let bytes = response.bytes().await.map_err(|error| {
            CliError::failure(format!("unreadable answer from {path}: {error}"))
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|error| CliError::failure(format!("unreadable answer from {path}: {error}")))
    }

    /// `GET path`, its answer read as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let response = self.send(self.http.get(self.url(path))).await?;
        Self::read(response, path).await
    }

    /// Versions of a module, oldest first; `NotFound` names the module.
    pub async fn module_versions(&self, address: &str) -> Result<Vec<Version>> {
        let answer: api::ModuleVersions =
            self.get(&format!("/v1/modules/{address}/versions")).await?;
        Ok(parse_versions(answer.modules.first()))
    }

    /// Versions of a blueprint, oldest first.
    pub async fn blueprint_versions(&self, address: &str) -> Result<Vec<Version>> {
        let answer: api::BlueprintVersions = self
            .get(&format!("/v1/blueprints/{address}/versions"))
            .await?;
        Ok(parse_versions(answer.blueprints.first()))
    }

    /// A module version's detail (the latest with `None`).
    pub async fn module_detail(
        &self,
        address: &str,
        version: Option<&str>,
    ) -> Result<api::ModuleDetail> {
        match version {
            Some(version) => self.get(&format!("/v1/modules/{address}/{version}")).await,
            None => self.get(&format!("/v1/modules/{address}")).await,
        }
    }

    /// A blueprint version's detail (the latest with `None`).
    pub async fn blueprint_detail(
        &self,
        address: &str,
        version: Option<&str>,
    ) -> Result<api::BlueprintDetail> {
        match version {
            Some(version) => {
                self.get(&format!("/v1/blueprints/{address}/{version}"))
                    .await
            }
            None => self.get(&format!("/v1/blueprints/{address}")).await,
        }
    }

    /// A page of the modules and blueprints whose text holds `query`, or of all of them when it
    /// is empty.
    pub async fn search(
        &self,
        query: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(api::ModuleList, api::BlueprintList)> {
        let page = format!("offset={offset}&limit={limit}");
        let (modules, blueprints) = if query.is_empty() {
            (
                format!("/v1/modules?{page}"),
                format!("/v1/blueprints?{page}"),
            )
        } else {
            let q = encode(query);
            (
                format!("/v1/modules/search?q={q}&{page}"),
                format!("/v1/blueprints/search?q={q}&{page}"),
            )
        };
        Ok((self.get(&modules).await?, self.get(&blueprints).await?))
    }

    /// Downloads an archive through a download endpoint (`204` + `X-Terraform-Get`), checking its
    /// digest against `expected_sha256`.
    pub async fn download(&self, download_path: &str, expected_sha256: &str) -> Result<Vec<u8>> {
        let answer = self.send(self.http.get(self.url(download_path))).await?;
        let location = answer
            .headers()
            .get("x-terraform-get")
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| CliError::failure(format!("{download_path} named no archive")))?
            .to_owned();
        let response = self.send(self.http.get(self.url(&location))).await?;
        let total = response.content_length().unwrap_or(0);
        let bar = crate::progress::bar(self.progress, total, "downloading");
        let mut bytes = Vec::with_capacity(total as usize);
        let mut stream = response.bytes_stream();
        use futures_util::StreamExt;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| {
                CliError::new(Kind::Unreachable, format!("download interrupted: {error}"))
            })?;
            bar.inc(chunk.len() as u64);
            bytes.extend_from_slice(&chunk);
        }
        bar.finish_and_clear();
        let actual = quarry_core::digest::Sha256::of(&bytes).to_hex();
        if actual != expected_sha256 {
            return Err(CliError::failure(format!(
                "the archive from {location} has sha256 {actual}, but the registry lists {expected_sha256}; refusing to use it"
            )));
        }
        Ok(bytes)
    }

    /// `PUT path` with a JSON body, the answer read as `T`.
    pub async fn put<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = self.send(self.http.put(self.url(path)).json(body)).await?;
        Self::read(response, path).await
    }

    /// Publishes an archive to `path`, with a progress bar on a terminal.
    pub async fn publish(&self, path: &str, archive: Vec<u8>) -> Result<api::Published> {
        let total = archive.len() as u64;
        let bar = crate::progress::bar(self.progress, total, "uploading");
        let body = progress_body(archive, bar.clone());
        let response = self
            .send(
                self.http
                    .post(self.url(path))
                    .header("content-type", "application/gzip")
                    .header("content-length", total)
                    .body(body),
            )
            .await;
        bar.finish_and_clear();
        Self::read(response?, path).await
    }
}

/// The innermost cause of a reqwest error (e.g. "Connection refused").
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

fn parse_versions(list: Option<&api::VersionList>) -> Vec<Version> {
    let mut versions: Vec<Version> = list
        .map(|list| {
            list.versions
                .iter()
                .filter_map(|entry| Version::parse(&entry.version).ok())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
}

/// Chooses a version for a constraint, or explains what exists.
pub fn choose(what: &str, versions: &[Version], constraint: &Constraint) -> Result<Version> {
    constraint.select(versions).cloned().ok_or_else(|| {
        let available: Vec<String> = versions.iter().map(ToString::to_string).collect();
        CliError::new(
            Kind::NotFound,
            format!(
                "no version of {what} matches `{constraint}`; available: {}",
                if available.is_empty() {
                    "none".to_owned()
                } else {
                    available.join(", ")
                }
            ),
        )
    })
}

impl ModuleResolver for Client {
    async fn resolve(
        &self,
        source: &ModuleSource,
        constraint: &Constraint,
    ) -> std::result::Result<ResolvedModule, String> {
        let address = source.address.to_string();
        let versions = self
            .module_versions(&address)
            .await
            .map_err(|error| match error.kind {
                Kind::NotFound => format!("module {address} is not in the registry"),
                _ => error.message,
            })?;
        let version = choose(&address, &versions, constraint).map_err(|error| error.message)?;
        let detail = self
            .module_detail(&address, Some(&version.to_string()))
            .await
            .map_err(|error| error.message)?;
        let inputs_schema = match &source.subdir {
            None => detail.root.inputs_schema,
            Some(subdir) => detail
                .submodules
                .into_iter()
                .find(|sub| sub.path == *subdir)
                .map(|sub| sub.inputs_schema)
                .ok_or_else(|| format!("{address} {version} has no submodule `{subdir}`"))?,
        };
        Ok(ResolvedModule {
            version,
            archive_sha256: detail.archive.sha256,
            inputs_schema,
        })
    }
}

mod bytes_stream {
    //! An upload body that advances a progress bar as reqwest sends it.

    use indicatif::ProgressBar;

    pub fn progress_body(archive: Vec<u8>, bar: ProgressBar) -> reqwest::Body {
        const CHUNK: usize = 64 * 1024;
        let chunks: Vec<Vec<u8>> = archive.chunks(CHUNK).map(<[u8]>::to_vec).collect();
        let stream = futures_util::stream::iter(chunks.into_iter().map(move |chunk| {
            bar.inc(chunk.len() as u64);
            Ok::<_, std::io::Error>(chunk)
        }));
        reqwest::Body::wrap_stream(stream)
    }
}
