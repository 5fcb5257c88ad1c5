//! The registry's JSON API as types: every body the registry sends or accepts, serialised by the
//! registry and read by `scaffold` (and the tests). Wire types stand apart from the database's
//! rows and the services' domain types. A field a client needs is never optional here unless the
//! API leaves it out at times, so a missing field is a deserialisation error, not a silent
//! default. Field names and shapes follow the Terraform registry protocol and the public
//! registry's read API where those define them (see PROTOCOL.md).

use crate::blueprint::{ContextUse, ModuleUse, PolicyUse, StackTemplate};
use crate::inputs::InputError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{"errors": […]}`: every error answer, 4xx or 5xx.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Errors {
    pub errors: Vec<ErrorItem>,
}

/// One error: a message, or a problem at a path of a document (input validation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ErrorItem {
    Message(String),
    AtPath(InputError),
}

impl std::fmt::Display for ErrorItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Message(message) => f.write_str(message),
            Self::AtPath(error) if error.path.is_empty() => f.write_str(&error.message),
            Self::AtPath(error) => write!(f, "{}: {}", error.path, error.message),
        }
    }
}

/// `GET /.well-known/terraform.json`. Terraform reads `modules.v1`; `scaffold` also reads
/// `stacks.v1`, present when the registry keeps a stack inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Discovery {
    #[serde(rename = "modules.v1")]
    pub modules_v1: String,
    #[serde(
        rename = "providers.v1",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub providers_v1: Option<String>,
    #[serde(rename = "stacks.v1", default, skip_serializing_if = "Option::is_none")]
    pub stacks_v1: Option<String>,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}

/// A listing's page: `limit`, `current_offset`, and the offsets of the pages around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PageMeta {
    pub limit: u64,
    pub current_offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_offset: Option<u64>,
}

impl PageMeta {
    pub fn new(offset: u64, limit: u64, has_more: bool) -> Self {
        Self {
            limit,
            current_offset: offset,
            next_offset: has_more.then(|| offset + limit),
            prev_offset: (offset > 0).then(|| offset.saturating_sub(limit)),
        }
    }
}

/// One version in a `versions` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionEntry {
    pub version: String,
}

/// The versions of one module or blueprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionList {
    pub source: String,
    pub versions: Vec<VersionEntry>,
}

/// `GET /v1/modules/{ns}/{name}/{system}/versions`: the protocol's answer (only the first
/// element of `modules` is read by terraform).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModuleVersions {
    pub modules: Vec<VersionList>,
}

/// `GET /v1/blueprints/{ns}/{name}/versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlueprintVersions {
    pub blueprints: Vec<VersionList>,
}

/// A module in a listing, in the public registry's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModuleSummary {
    pub id: String,
    pub owner: String,
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub provider: String,
    pub description: String,
    pub source: String,
    pub published_at: String,
    pub downloads: i64,
    pub verified: bool,
}

/// `GET /v1/modules[/{ns}[/{name}]]` and `…/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModuleList {
    pub meta: PageMeta,
    pub modules: Vec<ModuleSummary>,
}

/// Why a version is deprecated, and what to use instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deprecation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

/// An archive: its sha256 (hex) and size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArchiveInfo {
    pub sha256: String,
    pub size: i64,
}

/// One input variable, as the public registry shows it (`default` as JSON text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InputInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub type_expr: String,
    pub description: String,
    pub default: String,
    pub required: bool,
    pub sensitive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutputInfo {
    pub name: String,
    pub description: String,
    pub sensitive: bool,
}

/// A module call of the module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dependency {
    pub name: String,
    pub source: String,
    pub version: String,
}

/// A required provider of the module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProviderDependency {
    pub name: String,
    pub namespace: String,
    pub source: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResourceInfo {
    #[serde(rename = "type")]
    pub resource_type: String,
}

/// The root module or a submodule of a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModuleContents {
    pub path: String,
    pub name: String,
    pub readme: String,
    pub empty: bool,
    pub inputs: Vec<InputInfo>,
    pub outputs: Vec<OutputInfo>,
    pub dependencies: Vec<Dependency>,
    pub provider_dependencies: Vec<ProviderDependency>,
    pub resources: Vec<ResourceInfo>,
    pub data_sources: Vec<String>,
    pub terraform_version: Option<String>,
    /// The JSON Schema of the module's inputs, derived from its variables.
    pub inputs_schema: Value,
}

/// `GET /v1/modules/{ns}/{name}/{system}[/{version}]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModuleDetail {
    #[serde(flatten)]
    pub summary: ModuleSummary,
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation: Option<Deprecation>,
    pub yanked: bool,
    pub examples: Vec<Value>,
    /// The systems published under the module's namespace and name.
    pub providers: Vec<String>,
    /// The versions clients may choose from, oldest first.
    pub versions: Vec<String>,
    pub archive: ArchiveInfo,
    pub root: ModuleContents,
    pub submodules: Vec<ModuleContents>,
}

/// The answer to a publish (201).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Published {
    pub id: String,
    pub version: String,
    pub archive_sha256: String,
    pub archive_size: u64,
}

/// The body of a deprecate or yank (optional, every field optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What to use instead (a deprecation only), e.g. `platform/vpc/aws 2.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

/// The answer to deprecate, undeprecate, yank and unyank: the version, and the flag the verb set
/// (`deprecated` for deprecate and undeprecate, `yanked` for yank and unyank).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Marked {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<bool>,
}

/// A blueprint in a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlueprintSummary {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub published_at: String,
}

/// `GET /v1/blueprints[/{ns}]` and `…/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlueprintList {
    pub meta: PageMeta,
    pub blueprints: Vec<BlueprintSummary>,
}

/// `GET /v1/blueprints/{ns}/{name}[/{version}]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlueprintDetail {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub owners: Vec<String>,
    pub tags: Vec<String>,
    pub published_at: String,
    pub published_by: String,
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation: Option<Deprecation>,
    pub yanked: bool,
    pub archive: ArchiveInfo,
    /// The JSON Schema of the blueprint's inputs.
    pub inputs: Value,
    pub modules: Vec<ModuleUse>,
    pub policies: Vec<PolicyUse>,
    pub contexts: Vec<ContextUse>,
    pub stack: StackTemplate,
    pub readme: String,
    /// The versions clients may choose from, oldest first.
    pub versions: Vec<String>,
}

/// The answer to a successful validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Valid {
    pub valid: bool,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: i32,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub source: String,
    pub details: Value,
}

/// `GET /v1/audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub meta: PageMeta,
    pub events: Vec<AuditEvent>,
}

/// `PUT /v1/stacks/{id}`: what `scaffold new` and `update` report about a stack. `id` is in the
/// path: the stack's own, from its `answers.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackReport {
    /// What people call the stack (by default its directory's name).
    pub name: String,
    pub blueprint: StackBlueprint,
    /// The module versions it was rendered with.
    pub modules: Vec<StackModule>,
    /// Where it lives, when its directory is a git checkout with a remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<StackLocation>,
}

/// The blueprint version a stack was last rendered from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackBlueprint {
    /// `namespace/name`.
    pub address: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackModule {
    /// The module's name in the blueprint.
    pub name: String,
    /// `namespace/name/system[//subdir]`.
    pub source: String,
    pub version: String,
}

/// A git remote (credentials removed) and the stack's directory within the checkout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackLocation {
    pub repository: String,
    /// Relative to the checkout's top; empty when the stack is the checkout.
    pub path: String,
}

/// One stack of the inventory, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StackEntry {
    pub id: String,
    pub name: String,
    pub blueprint: StackBlueprint,
    pub modules: Vec<StackModule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<StackLocation>,
    /// The blueprint's latest version, when it has one clients may choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
    /// On a version older than `latest`.
    pub outdated: bool,
    /// On a version since yanked.
    pub yanked: bool,
    /// The token that reported it last.
    pub reported_by: String,
    pub first_reported_at: String,
    pub reported_at: String,
}

/// How many stacks are on one blueprint version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StackCount {
    pub blueprint: String,
    pub version: String,
    pub stacks: u64,
    pub outdated: bool,
    pub yanked: bool,
}

/// `GET /v1/stacks`: a page of stacks, and the stacks counted by blueprint version (all of them,
/// not only this page's; newest version first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StackPage {
    pub meta: PageMeta,
    pub counts: Vec<StackCount>,
    pub stacks: Vec<StackEntry>,
}

/// The answer to a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StackReported {
    pub id: String,
    /// The stack was not in the inventory before.
    pub created: bool,
    pub outdated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_read_both_shapes() {
        let errors: Errors = serde_json::from_value(json!({
            "errors": ["plain", { "path": "/name", "message": "too short" }]
        }))
        .expect("reads");
        let shown: Vec<String> = errors.errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["plain", "/name: too short"]);
    }

    #[test]
    fn a_missing_field_is_an_error_not_a_default() {
        let missing_digest = json!({ "size": 10 });
        assert!(serde_json::from_value::<ArchiveInfo>(missing_digest).is_err());
    }

    #[test]
    fn page_meta_names_the_pages_around() {
        assert_eq!(
            serde_json::to_value(PageMeta::new(15, 15, true)).expect("serialises"),
            json!({ "limit": 15, "current_offset": 15, "next_offset": 30, "prev_offset": 0 })
        );
        assert_eq!(
            serde_json::to_value(PageMeta::new(0, 15, false)).expect("serialises"),
            json!({ "limit": 15, "current_offset": 0 })
        );
    }
}

/// `GET /v1/providers/{ns}/{type}/versions`: the provider protocol's answer. `warnings` are
/// shown by `terraform init` (deprecations travel there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProviderVersions {
    pub id: String,
    pub versions: Vec<ProviderVersion>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProviderVersion {
    pub version: String,
    pub protocols: Vec<String>,
    pub platforms: Vec<ProviderPlatform>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProviderPlatform {
    pub os: String,
    pub arch: String,
}

/// `GET /v1/providers/{ns}/{type}/{version}/download/{os}/{arch}`: what terraform fetches and
/// checks. The URLs are signed when reads need a token (terraform sends none there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProviderDownload {
    pub protocols: Vec<String>,
    pub os: String,
    pub arch: String,
    pub filename: String,
    pub download_url: String,
    pub shasums_url: String,
    pub shasums_signature_url: String,
    /// The zip's sha256, hex.
    pub shasum: String,
    pub signing_keys: SigningKeys,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SigningKeys {
    pub gpg_public_keys: Vec<GpgPublicKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GpgPublicKey {
    pub key_id: String,
    pub ascii_armor: String,
    /// Always empty: a non-empty one is checked against HashiCorp's partner key.
    pub trust_signature: String,
    /// `Quarry` for the registry's keys, the namespace for a publisher's.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
}

/// `GET /v1/providers/signing-keys`: the registry's provider signing keys, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SigningKeyList {
    pub keys: Vec<ListedSigningKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListedSigningKey {
    pub namespace: String,
    pub key_id: String,
    pub fingerprint: String,
    pub ascii_armor: String,
    pub created_at: String,
    /// When a newer key replaced it; versions it signed stay verifiable with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
}

/// A network mirror's `GET /v1/mirror/{host}/{ns}/{type}/index.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MirrorIndex {
    /// Each version, with an empty object (the protocol reserves it).
    pub versions: std::collections::BTreeMap<String, MirrorEmpty>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MirrorEmpty {}

/// A network mirror's `GET /v1/mirror/{host}/{ns}/{type}/{version}.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MirrorVersion {
    /// By `os_arch`.
    pub archives: std::collections::BTreeMap<String, MirrorArchive>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MirrorArchive {
    pub url: String,
    /// `h1:` (terraform's hash of the contents) and `zh:` (the zip's sha256).
    pub hashes: Vec<String>,
}
