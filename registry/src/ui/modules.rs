//! A module's page: its README, inputs, outputs, providers, resources, submodules and examples, a
//! usage snippet to copy, its versions with their marks, and the blueprints that use it.

use super::search::href;
use super::session::Viewer;
use super::{Layout, UiError, grouped, page, when};
use crate::http::blueprints::registry_host;
use crate::service::Registry;
use crate::service::artifacts::VersionInfo;
use crate::service::modules::ModuleDetail;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use quarry_core::address::{ArtifactAddress, ModuleAddress};
use quarry_core::module::{ModuleInfo, Variable};
use quarry_core::version::Version;
use std::sync::Arc;

/// A version in the version list.
pub struct VersionLink {
    pub version: String,
    pub href: String,
    pub current: bool,
    pub deprecated: bool,
    pub yanked: bool,
    pub published: String,
}

/// The versions of an artifact, newest first, each linking to its page under `base`.
pub fn version_links(versions: &[VersionInfo], base: &str, current: &Version) -> Vec<VersionLink> {
    let mut sorted: Vec<&VersionInfo> = versions.iter().collect();
    sorted.sort_by(|a, b| b.version.cmp_choice(&a.version));
    sorted
        .into_iter()
        .map(|info| VersionLink {
            version: info.version.to_string(),
            href: format!("{base}/{}", info.version),
            current: info.version == *current,
            deprecated: info.deprecation.is_some(),
            yanked: info.yanked(),
            published: when(&info.published_at),
        })
        .collect()
}

/// What a page says of a version's marks.
pub struct Marks {
    pub deprecated: bool,
    pub deprecation_reason: Option<String>,
    pub replacement: Option<String>,
    pub yanked: bool,
    pub yank_reason: Option<String>,
}

impl Marks {
    pub fn of(version: &VersionInfo) -> Self {
        Self {
            deprecated: version.deprecation.is_some(),
            deprecation_reason: version
                .deprecation
                .as_ref()
                .and_then(|mark| mark.reason.clone()),
            replacement: version
                .deprecation
                .as_ref()
                .and_then(|mark| mark.replacement.clone()),
            yanked: version.yanked(),
            yank_reason: version.yank.as_ref().and_then(|mark| mark.reason.clone()),
        }
    }
}

pub struct Input {
    pub name: String,
    pub type_expr: String,
    pub default: Option<String>,
    pub required: bool,
    pub sensitive: bool,
    pub description: String,
}

pub struct Part {
    /// `""` for the root module.
    pub path: String,
    pub anchor: String,
    pub readme: Arc<str>,
    pub inputs: Vec<Input>,
    pub outputs: Vec<(String, String, bool)>,
    pub providers: Vec<(String, String, String)>,
    pub resources: Vec<String>,
    pub data_sources: Vec<String>,
    pub calls: Vec<(String, String, String)>,
    pub usage: String,
}

pub struct ExampleView {
    pub name: String,
    pub anchor: String,
    pub readme: Arc<str>,
    pub files: Vec<(String, String)>,
}

pub struct UsedByView {
    pub href: String,
    pub blueprint: String,
    pub version: String,
    pub module: String,
    pub constraint: String,
}

#[derive(Template)]
#[template(path = "module.html")]
struct ModulePage {
    layout: Layout,
    address: String,
    namespace: String,
    name: String,
    system: String,
    namespace_href: String,
    description: String,
    version: String,
    is_latest: bool,
    marks: Marks,
    published: String,
    published_by: String,
    downloads: String,
    archive: String,
    archive_short: String,
    archive_size: String,
    terraform_version: Option<String>,
    systems: Vec<(String, String, bool)>,
    versions: Vec<VersionLink>,
    root: Part,
    submodules: Vec<Part>,
    examples: Vec<ExampleView>,
    used_by: Vec<UsedByView>,
}

/// A placeholder of the input's type for the snippet: enough for `terraform init`, obviously to
/// be replaced.
fn placeholder(variable: &Variable) -> &'static str {
    let kind = variable.type_expr.trim_start();
    if kind.starts_with("number") {
        "0"
    } else if kind.starts_with("bool") {
        "false"
    } else if ["list", "set", "tuple"].iter().any(|k| kind.starts_with(k)) {
        "[]"
    } else if ["map", "object"].iter().any(|k| kind.starts_with(k)) {
        "{}"
    } else {
        "\"\""
    }
}

/// The `module` block that uses a version: the registry's host, the version itself as the
/// constraint (without build metadata, which terraform ignores) and every required input.
pub fn usage(
    host: &str,
    address: &ModuleAddress,
    subdir: &str,
    version: &Version,
    info: &ModuleInfo,
) -> String {
    let label = if subdir.is_empty() {
        address.name.as_str().to_owned()
    } else {
        subdir.rsplit('/').next().unwrap_or(subdir).to_owned()
    }
    .replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_");
    let source = if subdir.is_empty() {
        format!("{host}/{address}")
    } else {
        format!("{host}/{address}//{subdir}")
    };
    let mut text = format!(
        "module \"{label}\" {{\n  source  = \"{source}\"\n  version = \"{}\"\n",
        version.precedence()
    );
    let required: Vec<&Variable> = info.variables.iter().filter(|v| v.required).collect();
    if !required.is_empty() {
        text.push('\n');
        let width = required.iter().map(|v| v.name.len()).max().unwrap_or(0);
        for variable in required {
            let kind = if variable.type_expr.is_empty() {
                "any"
            } else {
                variable.type_expr.as_str()
            };
            let kind: String = kind.split_whitespace().collect::<Vec<_>>().join(" ");
            text.push_str(&format!(
                "  {:width$} = {} # {kind}\n",
                variable.name,
                placeholder(variable)
            ));
        }
    }
    text.push_str("}\n");
    text
}

fn part(state: &super::State, version_id: i32, info: &ModuleInfo, usage: String) -> Part {
    Part {
        anchor: if info.path.is_empty() {
            "root".to_owned()
        } else {
            info.path.replace('/', "-")
        },
        path: info.path.clone(),
        readme: state.readme_html(version_id, &info.path, &info.readme),
        inputs: info
            .variables
            .iter()
            .map(|variable| Input {
                name: variable.name.clone(),
                type_expr: if variable.type_expr.is_empty() {
                    "any".to_owned()
                } else {
                    variable.type_expr.clone()
                },
                default: variable
                    .default
                    .as_ref()
                    .map(|default| serde_json::to_string(default).unwrap_or_default()),
                required: variable.required,
                sensitive: variable.sensitive,
                description: variable.description.clone(),
            })
            .collect(),
        outputs: info
            .outputs
            .iter()
            .map(|output| {
                (
                    output.name.clone(),
                    output.description.clone(),
                    output.sensitive,
                )
            })
            .collect(),
        providers: info
            .providers
            .iter()
            .map(|provider| {
                (
                    provider.name.clone(),
                    provider.source.clone().unwrap_or_default(),
                    provider.version.clone().unwrap_or_default(),
                )
            })
            .collect(),
        resources: info.resources.clone(),
        data_sources: info.data_sources.clone(),
        calls: info
            .module_calls
            .iter()
            .map(|call| {
                (
                    call.name.clone(),
                    call.source.clone(),
                    call.version.clone().unwrap_or_default(),
                )
            })
            .collect(),
        usage,
    }
}

async fn show(
    viewer: Viewer,
    request: HttpRequest,
    registry: &Registry,
    path: &(String, String, String),
    version: Option<&str>,
) -> Result<HttpResponse, UiError> {
    let address = ModuleAddress::new(&path.0, &path.1, &path.2)?;
    let version = version.map(Version::parse).transpose()?;
    let detail: ModuleDetail = registry
        .module_detail(&address, version.as_ref())
        .await?
        .ok_or_else(|| {
            UiError::not_found(match &version {
                Some(version) => format!("The module {address} has no version {version}."),
                None => format!("There is no module {address} here."),
            })
        })?;
    let host = registry_host(&request, registry);
    let info = &detail.version;
    let analysis = &detail.analysis;
    let state = &registry.ui;
    let root = part(
        state,
        info.id,
        &analysis.root,
        usage(&host, &address, "", &info.version, &analysis.root),
    );
    let submodules = analysis
        .submodules
        .iter()
        .map(|sub| {
            part(
                state,
                info.id,
                sub,
                usage(&host, &address, &sub.path, &info.version, sub),
            )
        })
        .collect();
    let examples = analysis
        .examples
        .iter()
        .map(|example| ExampleView {
            name: example.name().to_owned(),
            anchor: example.path.replace('/', "-"),
            readme: state.readme_html(info.id, &example.path, &example.readme),
            files: example
                .files
                .iter()
                .map(|file| (file.name.clone(), file.text.clone()))
                .collect(),
        })
        .collect();
    let used_by = registry
        .used_by(&detail, &address)
        .await?
        .into_iter()
        .map(|used| {
            let blueprint = used.blueprint.artifact.address.clone();
            UsedByView {
                href: format!("{}/{}", href(&blueprint), used.version),
                blueprint: blueprint.to_string(),
                version: used.version.to_string(),
                module: used.name,
                constraint: used.constraint.to_string(),
            }
        })
        .collect();
    let history = &detail.state.history;
    let is_latest = history.latest().is_some_and(|latest| latest.id == info.id);
    let base = format!("/modules/{address}");
    let template = ModulePage {
        layout: viewer.layout(format!("{address} {}", info.version), ""),
        namespace_href: format!("/namespaces/{}", address.namespace),
        address: address.to_string(),
        namespace: address.namespace.to_string(),
        name: address.name.to_string(),
        system: address.system.to_string(),
        description: history.artifact.description.clone(),
        version: info.version.to_string(),
        is_latest,
        marks: Marks::of(info),
        published: when(&info.published_at),
        published_by: info.published_by.clone(),
        downloads: grouped(detail.downloads),
        archive: info.archive.to_hex(),
        archive_short: info.archive.to_hex()[..12].to_owned(),
        archive_size: grouped(info.archive_size),
        terraform_version: analysis.root.terraform_version.clone(),
        systems: detail
            .state
            .systems
            .iter()
            .map(|system| {
                (
                    system.clone(),
                    format!("/modules/{}/{}/{system}", address.namespace, address.name),
                    *system == address.system.as_str(),
                )
            })
            .collect(),
        versions: version_links(&history.versions, &base, &info.version),
        root,
        submodules,
        examples,
        used_by,
    };
    page(&viewer, StatusCode::OK, &template)
}

/// `GET /modules/{namespace}/{name}/{system}`: the latest version.
pub async fn latest(
    viewer: Viewer,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, UiError> {
    show(viewer, request, &registry, &path, None).await
}

/// `GET /modules/{namespace}/{name}/{system}/{version}`.
pub async fn version(
    viewer: Viewer,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, UiError> {
    let (namespace, name, system, version) = path.into_inner();
    show(
        viewer,
        request,
        &registry,
        &(namespace, name, system),
        Some(&version),
    )
    .await
}

/// A module's page, for links from elsewhere.
pub fn module_href(address: &ArtifactAddress, version: &Version) -> String {
    format!("{}/{version}", href(address))
}
