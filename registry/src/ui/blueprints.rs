//! A blueprint's page — README, modules with their constraints and what they resolve to now,
//! policies (with their Rego) and contexts, versions — and its form: generated from the inputs
//! schema through `core::form`, checked live (`…/check`, the same validation as the API's
//! `validate`) and again on submit (`…/preview`), which renders the stack in the sandbox exactly as
//! the API's `render` does and shows its files, the module versions resolved, the policies and
//! contexts attached, a download of the `.tar.gz` and the `scaffold new` command line that renders
//! the same stack.

use super::form::{self, FormField};
use super::modules::{Marks, VersionLink, module_href, version_links};
use super::session::Viewer;
use super::state::VersionTexts;
use super::{Layout, UiError, escaped, page, when};
use crate::http::blueprints::registry_host;
use crate::service::Registry;
use crate::service::blueprints::{BlueprintDocument, BlueprintRecord, RenderMode, StackError};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use quarry_core::address::{ArtifactAddress, BlueprintAddress};
use quarry_core::render::Resolutions;
use quarry_core::version::Version;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The largest file a preview shows the text of.
const SHOWN_FILE_BYTES: usize = 256 << 10;

pub struct ModuleRow {
    pub name: String,
    pub source: String,
    pub constraint: String,
    /// The version it resolves to now, and its page.
    pub resolved: Option<(String, String)>,
    pub problem: Option<String>,
}

pub struct PolicyRow {
    pub id: String,
    pub kind: String,
    pub description: String,
    pub when: String,
    pub file: String,
}

pub struct ContextRow {
    pub id: String,
    pub file: String,
    pub priority: String,
    pub when: String,
}

#[derive(Template)]
#[template(path = "blueprint.html")]
struct BlueprintPage {
    layout: Layout,
    address: String,
    namespace: String,
    namespace_href: String,
    name: String,
    description: String,
    version: String,
    is_latest: bool,
    marks: Marks,
    owners: Vec<String>,
    tags: Vec<(String, String)>,
    published: String,
    published_by: String,
    readme: Arc<str>,
    modules: Vec<ModuleRow>,
    policies: Vec<PolicyRow>,
    contexts: Vec<ContextRow>,
    versions: Vec<VersionLink>,
    /// The schema and the policies' and contexts' files, escaped.
    texts: Arc<VersionTexts>,
    form_title: String,
    action: String,
    check: String,
    /// The fields, as HTML.
    fields: Arc<str>,
    general: Vec<String>,
    /// A secret was typed but the page came back: it must be typed again.
    secrets_cleared: bool,
    /// The stack inventory's view of this blueprint, when the registry keeps one.
    stacks: Option<StacksView>,
}

/// How many stacks are on each version of a blueprint, and (for a viewer with a token) the
/// stacks most recently reported.
pub struct StacksView {
    pub total: u64,
    pub behind: u64,
    pub counts: Vec<StackCountRow>,
    /// Shown only to a viewer with a token: stacks name repositories.
    pub may_list: bool,
    pub listed: Vec<StackListRow>,
}

pub struct StackCountRow {
    pub version: String,
    pub href: String,
    pub stacks: u64,
    pub outdated: bool,
    pub yanked: bool,
}

pub struct StackListRow {
    pub name: String,
    pub version: String,
    pub outdated: bool,
    pub yanked: bool,
    pub repository: String,
    pub path: String,
    pub reported: String,
}

/// The stacks listed on a blueprint page.
const LISTED_STACKS: u64 = 20;

async fn stacks_view(
    viewer: &Viewer,
    registry: &Registry,
    address: &quarry_core::address::ArtifactAddress,
) -> Result<Option<StacksView>, UiError> {
    let quarry_core::address::ArtifactAddress::Blueprint(blueprint) = address else {
        return Ok(None);
    };
    if !registry.stack_inventory {
        return Ok(None);
    }
    let may_list = viewer
        .principal
        .as_ref()
        .is_some_and(crate::service::tokens::Principal::can_read);
    let filter = crate::service::stacks::StackFilter {
        blueprint: Some(blueprint.clone()),
        outdated: false,
    };
    let limit = if may_list { LISTED_STACKS } else { 0 };
    let listing = registry.stacks(&filter, 0, limit).await?;
    let base = format!("/blueprints/{blueprint}");
    Ok(Some(StacksView {
        total: listing.counts.iter().map(|count| count.stacks).sum(),
        behind: listing
            .counts
            .iter()
            .filter(|count| count.standing.outdated)
            .map(|count| count.stacks)
            .sum(),
        counts: listing
            .counts
            .iter()
            .map(|count| StackCountRow {
                version: count.version.to_string(),
                href: format!("{base}/{}", count.version),
                stacks: count.stacks,
                outdated: count.standing.outdated,
                yanked: count.standing.yanked,
            })
            .collect(),
        may_list,
        listed: listing
            .stacks
            .iter()
            .map(|stack| StackListRow {
                name: stack.name.clone(),
                version: stack.version.to_string(),
                outdated: stack.standing.outdated,
                yanked: stack.standing.yanked,
                repository: stack
                    .location
                    .as_ref()
                    .map(|location| location.repository.clone())
                    .unwrap_or_default(),
                path: stack
                    .location
                    .as_ref()
                    .map(|location| location.path.clone())
                    .unwrap_or_default(),
                reported: when(&stack.reported_at),
            })
            .collect(),
    }))
}

/// One field, for the live check's answer.
#[derive(Template)]
#[template(path = "field.html")]
struct FieldFragment<'a> {
    field: &'a FormField,
}

pub struct FileView {
    pub path: String,
    pub size: String,
    pub text: Option<String>,
    pub anchor: String,
}

#[derive(Template)]
#[template(path = "preview.html")]
struct PreviewPage {
    layout: Layout,
    address: String,
    blueprint_href: String,
    version: String,
    stack_name: String,
    download: String,
    file_name: String,
    command: String,
    secrets: Vec<String>,
    modules: Vec<ModuleRow>,
    policies: Vec<(String, String, String)>,
    contexts: Vec<(String, String, String)>,
    files: Vec<FileView>,
}

async fn record(
    registry: &Registry,
    namespace: &str,
    name: &str,
    version: Option<&str>,
) -> Result<BlueprintRecord, UiError> {
    let address = BlueprintAddress::new(namespace, name)?;
    let version = version.map(Version::parse).transpose()?;
    registry
        .find_blueprint(&address, version.as_ref())
        .await?
        .ok_or_else(|| {
            UiError::not_found(match &version {
                Some(version) => format!("The blueprint {address} has no version {version}."),
                None => format!("There is no blueprint {address} here."),
            })
        })
}

/// The inputs schema and the policies' and contexts' files of a version, as escaped text.
async fn version_texts(
    registry: &Registry,
    record: &BlueprintRecord,
    document: &BlueprintDocument,
) -> Result<Arc<VersionTexts>, UiError> {
    if let Some(texts) = registry.ui.version_texts(record.version.id) {
        return Ok(texts);
    }
    let files = registry.blueprint_files(record).await?;
    let manifest = &document.manifest;
    let wanted = manifest
        .policies
        .iter()
        .map(|policy| policy.file.as_str())
        .chain(
            manifest
                .contexts
                .iter()
                .map(|context| context.file.as_str()),
        );
    let texts = Arc::new(VersionTexts {
        schema: escaped(&serde_json::to_string_pretty(&manifest.inputs).unwrap_or_default()),
        files: wanted
            .filter_map(|file| {
                let bytes = files.get(file)?;
                Some((file.to_owned(), escaped(&String::from_utf8_lossy(bytes))))
            })
            .collect(),
    });
    registry
        .ui
        .store_version_texts(record.version.id, texts.clone());
    Ok(texts)
}

fn module_rows(document: &BlueprintDocument, resolutions: &Resolutions) -> Vec<ModuleRow> {
    document
        .manifest
        .modules
        .iter()
        .map(|module| {
            let resolved = resolutions.0.get(&module.name);
            let address = module
                .source
                .parse::<quarry_core::blueprint::ModuleSource>()
                .ok()
                .map(|source| ArtifactAddress::Module(source.address));
            ModuleRow {
                name: module.name.clone(),
                source: module.source.clone(),
                constraint: module.version.clone(),
                resolved: match (resolved, &address) {
                    (Some(Ok(found)), Some(address)) => Some((
                        found.version.to_string(),
                        module_href(address, &found.version),
                    )),
                    _ => None,
                },
                problem: match resolved {
                    Some(Err(problem)) => Some(problem.clone()),
                    _ => None,
                },
            }
        })
        .collect()
}

/// What the form shows: the fields, the messages that belong to no field.
struct FormState {
    /// The fields as HTML (shared with the kept fresh form when there are no answers yet).
    fields: Arc<str>,
    general: Vec<String>,
    secrets_cleared: bool,
}

/// Fields as the form shows them.
fn fields_html(fields: &[FormField]) -> Result<String, UiError> {
    let mut html = String::new();
    for field in fields {
        FieldFragment { field }
            .render_into(&mut html)
            .map_err(|error| UiError::internal(&error))?;
        html.push('\n');
    }
    Ok(html)
}

impl FormState {
    /// The form with no answers yet (made once per version).
    fn fresh(
        registry: &Registry,
        record: &BlueprintRecord,
        schema: &Value,
    ) -> Result<Self, UiError> {
        let fields = registry.ui.fresh_form(record.version.id, || {
            fields_html(&form::fields(
                schema,
                &Map::new(),
                &BTreeMap::new(),
                &BTreeMap::new(),
            ))
        })?;
        Ok(Self {
            fields,
            general: Vec::new(),
            secrets_cleared: false,
        })
    }
}

async fn blueprint_page(
    viewer: &Viewer,
    registry: &Registry,
    record: &BlueprintRecord,
    status: StatusCode,
    state: FormState,
) -> Result<HttpResponse, UiError> {
    let document = registry.blueprint_document(record).await?;
    let resolutions = registry.resolve_module_versions(&document.manifest).await;
    let texts = version_texts(registry, record, &document).await?;
    let address = &record.artifact().address;
    let info = &record.version;
    let manifest = &document.manifest;
    let base = format!("/blueprints/{address}");
    let own = format!("{base}/{}", info.version);
    let template = BlueprintPage {
        layout: viewer.layout(format!("{address} {}", info.version), ""),
        address: address.to_string(),
        namespace: address.namespace().to_string(),
        namespace_href: format!("/namespaces/{}", address.namespace()),
        name: address.name().to_string(),
        description: record.artifact().description.clone(),
        version: info.version.to_string(),
        is_latest: record
            .history
            .latest()
            .is_some_and(|latest| latest.id == info.id),
        marks: Marks::of(info),
        owners: manifest.metadata.owners.clone(),
        tags: manifest
            .metadata
            .tags
            .iter()
            .map(|tag| (tag.clone(), super::search::tag_href(tag)))
            .collect(),
        published: when(&info.published_at),
        published_by: info.published_by.clone(),
        readme: registry.ui.readme_html(info.id, "", &document.readme),
        modules: module_rows(&document, &resolutions),
        policies: manifest
            .policies
            .iter()
            .map(|policy| PolicyRow {
                id: policy.id.clone(),
                kind: policy.kind.to_string(),
                description: policy.description.clone().unwrap_or_default(),
                when: policy.when.clone().unwrap_or_default(),
                file: policy.file.clone(),
            })
            .collect(),
        contexts: manifest
            .contexts
            .iter()
            .map(|context| ContextRow {
                id: context.id.clone(),
                file: context.file.clone(),
                priority: context.priority.to_string(),
                when: context.when.clone().unwrap_or_default(),
            })
            .collect(),
        versions: version_links(&record.history.versions, &base, &info.version),
        texts,
        form_title: manifest
            .inputs
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("Inputs")
            .to_owned(),
        action: format!("{own}/preview"),
        check: format!("{own}/check"),
        fields: state.fields,
        general: state.general,
        secrets_cleared: state.secrets_cleared,
        stacks: stacks_view(viewer, registry, address).await?,
    };
    page(viewer, status, &template)
}

/// `GET /blueprints/{namespace}/{name}`: the latest version.
pub async fn latest(
    viewer: Viewer,
    registry: web::Data<Registry>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let record = record(&registry, &path.0, &path.1, None).await?;
    let document = registry.blueprint_document(&record).await?;
    let state = FormState::fresh(&registry, &record, &document.manifest.inputs)?;
    blueprint_page(&viewer, &registry, &record, StatusCode::OK, state).await
}

/// `GET /blueprints/{namespace}/{name}/{version}`.
pub async fn version(
    viewer: Viewer,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, UiError> {
    let record = record(&registry, &path.0, &path.1, Some(&path.2)).await?;
    let document = registry.blueprint_document(&record).await?;
    let state = FormState::fresh(&registry, &record, &document.manifest.inputs)?;
    blueprint_page(&viewer, &registry, &record, StatusCode::OK, state).await
}

/// A submitted form: its fields and its CSRF token.
struct Submitted {
    texts: BTreeMap<String, String>,
    csrf: Option<String>,
}

fn submitted(pairs: &[(String, String)]) -> Submitted {
    Submitted {
        texts: form::texts(pairs),
        csrf: pairs
            .iter()
            .find(|(key, _)| key == "csrf")
            .map(|(_, value)| value.clone()),
    }
}

/// What checking a form found: the answers, the messages by field and the rest.
struct Checked {
    answers: Map<String, Value>,
    errors: BTreeMap<String, String>,
    general: Vec<String>,
}

/// Reads the form and, when every field reads, checks the answers as the API's `validate` or
/// `render` does (with `mode`); returns the render when it succeeded.
async fn check_form(
    request: &HttpRequest,
    registry: &Registry,
    record: &BlueprintRecord,
    schema: &Value,
    texts: &BTreeMap<String, String>,
    mode: RenderMode,
) -> Result<(Checked, Option<crate::service::blueprints::Rendered>), UiError> {
    let read = form::read(schema, texts);
    let mut checked = Checked {
        answers: read.answers,
        errors: read.errors,
        general: Vec::new(),
    };
    if !checked.errors.is_empty() {
        return Ok((checked, None));
    }
    let host = registry_host(request, registry);
    let inputs = Value::Object(checked.answers.clone());
    match registry.render_blueprint(record, inputs, &host, mode).await {
        Ok(rendered) => Ok((checked, Some(rendered))),
        Err(StackError::Render(failure)) => {
            checked.general = form::assign(&failure.0, &mut checked.errors, schema);
            Ok((checked, None))
        }
        Err(error) => Err(error.into()),
    }
}

/// A posted form, checked (and with [`RenderMode::Pack`] rendered) against its version.
struct Submission {
    submitted: Submitted,
    record: BlueprintRecord,
    schema: Value,
    checked: Checked,
    rendered: Option<crate::service::blueprints::Rendered>,
}

/// Reads a posted form after its CSRF token, and checks it as `mode` says.
async fn submission(
    viewer: &Viewer,
    request: &HttpRequest,
    registry: &Registry,
    path: &(String, String, String),
    body: &[(String, String)],
    mode: RenderMode,
) -> Result<Submission, UiError> {
    let submitted = submitted(body);
    viewer.check_post(request, submitted.csrf.as_deref())?;
    let record = record(registry, &path.0, &path.1, Some(&path.2)).await?;
    let schema = registry
        .blueprint_document(&record)
        .await?
        .manifest
        .inputs
        .clone();
    let (checked, rendered) =
        check_form(request, registry, &record, &schema, &submitted.texts, mode).await?;
    Ok(Submission {
        submitted,
        record,
        schema,
        checked,
        rendered,
    })
}

/// `POST …/{version}/check`: the live check. Answers JSON: the fields that apply now (as HTML,
/// so the page can add the ones that appeared), the message of each field and the others.
pub async fn check(
    viewer: Viewer,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
    body: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let Submission {
        submitted,
        schema,
        checked,
        ..
    } = submission(
        &viewer,
        &request,
        &registry,
        &path,
        &body,
        RenderMode::Validate,
    )
    .await?;
    let shown = form::fields(&schema, &checked.answers, &submitted.texts, &checked.errors);
    let mut fields = Vec::new();
    for field in &shown {
        let html = FieldFragment { field }
            .render()
            .map_err(|error| UiError::internal(&error))?;
        fields.push(json!({ "name": field.name, "html": html }));
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "valid": checked.errors.is_empty() && checked.general.is_empty(),
            "fields": fields,
            "errors": checked.errors,
            "general": checked.general,
        })))
}

/// The stack's name, as its `stack.yaml` gives it, and its policies and contexts.
fn stack_manifest(files: &BTreeMap<String, Vec<u8>>) -> Value {
    files
        .get("stack.yaml")
        .and_then(|bytes| quarry_core::blueprint::parse_yaml("stack.yaml", bytes).ok())
        .unwrap_or(Value::Null)
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `POST …/{version}/preview`: renders the stack, or shows the form again with every problem.
pub async fn preview(
    viewer: Viewer,
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<(String, String, String)>,
    body: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let Submission {
        submitted,
        record,
        schema,
        checked,
        rendered,
    } = submission(&viewer, &request, &registry, &path, &body, RenderMode::Pack).await?;
    let Some(rendered) = rendered else {
        let secrets_cleared = form::fields(
            &schema,
            &checked.answers,
            &BTreeMap::new(),
            &BTreeMap::new(),
        )
        .iter()
        .any(|field| {
            field.is_secret()
                && submitted
                    .texts
                    .get(&field.name)
                    .is_some_and(|t| !t.is_empty())
        });
        let state = FormState {
            fields: fields_html(&form::fields(
                &schema,
                &checked.answers,
                &submitted.texts,
                &checked.errors,
            ))?
            .into(),
            general: checked.general,
            secrets_cleared,
        };
        return blueprint_page(
            &viewer,
            &registry,
            &record,
            StatusCode::UNPROCESSABLE_ENTITY,
            state,
        )
        .await;
    };
    let packed = rendered.packed;
    let limits = registry.limits;
    let (packed, files) = web::block(move || {
        let files = quarry_core::archive::read_files(&packed, &limits);
        (packed, files)
    })
    .await
    .map_err(|error| UiError::internal(&error))?;
    let files = files.map_err(|error| UiError::internal(&error))?;
    let address = record.artifact().address.clone();
    let version = record.version.version.to_string();
    let file_name = format!("{}-{version}.tar.gz", address.name());
    let id = registry
        .ui
        .keep_preview(packed, file_name.clone(), viewer.identity());
    let stack = stack_manifest(&files);
    let list = |key: &str, fields: [&str; 3]| -> Vec<(String, String, String)> {
        stack[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|entry| {
                (
                    text_of(&entry[fields[0]]),
                    text_of(&entry[fields[1]]),
                    text_of(&entry[fields[2]]),
                )
            })
            .collect()
    };
    let origin = registry.public_url.clone().unwrap_or_else(|| {
        let info = request.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    });
    let (command, secrets) = form::command_line(
        origin.trim_end_matches('/'),
        &address.to_string(),
        &version,
        &schema,
        &checked.answers,
    );
    let template = PreviewPage {
        layout: viewer.layout(format!("Preview: {address}"), ""),
        blueprint_href: format!("/blueprints/{address}/{version}"),
        address: address.to_string(),
        stack_name: text_of(&stack["name"]),
        download: format!("/stacks/{id}.tar.gz"),
        file_name,
        command,
        secrets,
        modules: module_rows(&rendered.document, &rendered.resolutions),
        policies: list("policies", ["id", "type", "description"]),
        contexts: list("contexts", ["id", "file", "priority"]),
        files: files
            .iter()
            .map(|(path, bytes)| FileView {
                anchor: format!("file-{}", path.replace(['/', '.'], "-")),
                path: path.clone(),
                size: super::grouped(bytes.len() as i64),
                text: (bytes.len() <= SHOWN_FILE_BYTES)
                    .then(|| String::from_utf8(bytes.clone()).ok())
                    .flatten(),
            })
            .collect(),
        version,
    };
    page(&viewer, StatusCode::OK, &template)
}

/// `GET /stacks/{id}.tar.gz`: a stack the form rendered, for the viewer who rendered it.
pub async fn download(
    viewer: Viewer,
    path: web::Path<String>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, UiError> {
    let gone = || {
        UiError::not_found(
            "This rendered stack is no longer kept (they are kept for 30 minutes): submit the \
             form again.",
        )
    };
    let id = path.strip_suffix(".tar.gz").ok_or_else(gone)?;
    let preview = registry.ui.preview(id).ok_or_else(gone)?;
    if preview.owner != viewer.identity() {
        return Err(gone());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/gzip")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", preview.file_name),
        ))
        .body(preview.archive.as_ref().clone()))
}
