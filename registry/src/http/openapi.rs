//! `GET /openapi.json`: every endpoint as an OpenAPI 3.1 document, its bodies' schemas derived
//! from the typed API structs (`quarry_core::api`, through utoipa). The routes are listed once,
//! in [`OPERATIONS`]; `registry/tests/wire_format.rs` checks that every answer it records is an
//! answer this document allows (path, method, status and body), and that it records an answer
//! for every operation listed here.

use quarry_core::api;
use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required,
};

/// What a request carries.
#[derive(Clone, Copy)]
enum Body {
    None,
    /// A JSON body of this schema (`Object` for any object).
    Json(&'static str),
    /// A `.tar.gz` upload.
    Gzip,
}

/// A success answer's body.
#[derive(Clone, Copy)]
enum Answer {
    Json(&'static str),
    /// No body (`204`, `302`, `304`), the point is in the headers.
    Empty,
    Gzip,
    Text,
}

/// Which error answers an operation documents besides its successes.
#[derive(Clone, Copy)]
enum Errors {
    /// Reads: a bad path or query, a missing or refused token, nothing there.
    Read,
    /// Writes: those of reads, and every refusal of an upload or a change.
    Write,
    /// The health checks and documents that always answer.
    None,
}

struct Operation {
    method: HttpMethod,
    path: &'static str,
    summary: &'static str,
    query: &'static [&'static str],
    body: Body,
    answers: &'static [(u16, Answer)],
    errors: Errors,
}

const LISTING: &[&str] = &["offset", "limit", "provider", "namespace"];
const MARK: Body = Body::Json("MarkRequest");

macro_rules! operations {
    ($($method:ident $path:literal $summary:literal, query $query:expr, body $body:expr, $errors:ident => [$($status:literal: $answer:expr),*];)*) => {
        &[$(Operation {
            method: HttpMethod::$method,
            path: $path,
            summary: $summary,
            query: $query,
            body: $body,
            answers: &[$(($status, $answer)),*],
            errors: Errors::$errors,
        }),*]
    };
}

/// Every route of the JSON API, the protocol and the archives.
const OPERATIONS: &[Operation] = operations! {
    Get "/.well-known/terraform.json" "Service discovery", query &[], body Body::None, None => [200: Answer::Json("Discovery")];
    Get "/healthz" "Liveness: the process serves", query &[], body Body::None, None => [200: Answer::Json("Health")];
    Get "/readyz" "Readiness: the database and the object store answer", query &[], body Body::None, None => [200: Answer::Json("Health"), 503: Answer::Json("Errors")];
    Get "/metrics" "Metrics in Prometheus (OpenMetrics) text", query &[], body Body::None, None => [200: Answer::Text];
    Get "/openapi.json" "This document", query &[], body Body::None, None => [200: Answer::Json("Object")];

    Get "/v1/modules" "List modules", query LISTING, body Body::None, Read => [200: Answer::Json("ModuleList")];
    Get "/v1/modules/search" "Search modules", query &["q", "offset", "limit", "provider", "namespace"], body Body::None, Read => [200: Answer::Json("ModuleList")];
    Get "/v1/modules/{namespace}" "List a namespace's modules", query LISTING, body Body::None, Read => [200: Answer::Json("ModuleList")];
    Get "/v1/modules/{namespace}/{name}" "List a module's systems", query LISTING, body Body::None, Read => [200: Answer::Json("ModuleList")];
    Get "/v1/modules/{namespace}/{name}/{system}" "The latest version of a module", query &[], body Body::None, Read => [200: Answer::Json("ModuleDetail")];
    Get "/v1/modules/{namespace}/{name}/{system}/versions" "The versions terraform chooses from", query &[], body Body::None, Read => [200: Answer::Json("ModuleVersions")];
    Get "/v1/modules/{namespace}/{name}/{system}/download" "Redirect to the latest version's download", query &[], body Body::None, Read => [302: Answer::Empty];
    Get "/v1/modules/{namespace}/{name}/{system}/{version}" "A version of a module", query &[], body Body::None, Read => [200: Answer::Json("ModuleDetail")];
    Post "/v1/modules/{namespace}/{name}/{system}/{version}" "Publish a module version", query &["description"], body Body::Gzip, Write => [201: Answer::Json("Published")];
    Get "/v1/modules/{namespace}/{name}/{system}/{version}/download" "Where the archive is (X-Terraform-Get)", query &[], body Body::None, Read => [204: Answer::Empty];
    Post "/v1/modules/{namespace}/{name}/{system}/{version}/deprecate" "Deprecate a module version", query &[], body MARK, Write => [200: Answer::Json("Marked")];
    Post "/v1/modules/{namespace}/{name}/{system}/{version}/undeprecate" "Undo a deprecation", query &[], body MARK, Write => [200: Answer::Json("Marked")];
    Post "/v1/modules/{namespace}/{name}/{system}/{version}/yank" "Yank a module version", query &[], body MARK, Write => [200: Answer::Json("Marked")];
    Post "/v1/modules/{namespace}/{name}/{system}/{version}/unyank" "Undo a yank", query &[], body MARK, Write => [200: Answer::Json("Marked")];

    Get "/v1/blueprints" "List blueprints", query &["offset", "limit"], body Body::None, Read => [200: Answer::Json("BlueprintList")];
    Get "/v1/blueprints/search" "Search blueprints", query &["q", "offset", "limit"], body Body::None, Read => [200: Answer::Json("BlueprintList")];
    Get "/v1/blueprints/{namespace}" "List a namespace's blueprints", query &["offset", "limit"], body Body::None, Read => [200: Answer::Json("BlueprintList")];
    Get "/v1/blueprints/{namespace}/{name}" "The latest version of a blueprint", query &[], body Body::None, Read => [200: Answer::Json("BlueprintDetail")];
    Get "/v1/blueprints/{namespace}/{name}/versions" "A blueprint's versions", query &[], body Body::None, Read => [200: Answer::Json("BlueprintVersions")];
    Get "/v1/blueprints/{namespace}/{name}/{version}" "A version of a blueprint", query &[], body Body::None, Read => [200: Answer::Json("BlueprintDetail")];
    Post "/v1/blueprints/{namespace}/{name}/{version}" "Publish a blueprint version", query &[], body Body::Gzip, Write => [201: Answer::Json("Published")];
    Get "/v1/blueprints/{namespace}/{name}/{version}/download" "Where the archive is (X-Terraform-Get)", query &[], body Body::None, Read => [204: Answer::Empty];
    Post "/v1/blueprints/{namespace}/{name}/{version}/validate" "Check inputs against the blueprint's schema", query &[], body Body::Json("Object"), Write => [200: Answer::Json("Valid")];
    Post "/v1/blueprints/{namespace}/{name}/{version}/render" "Render a stack from inputs, as .tar.gz", query &[], body Body::Json("Object"), Write => [200: Answer::Gzip];
    Post "/v1/blueprints/{namespace}/{name}/{version}/deprecate" "Deprecate a blueprint version", query &[], body MARK, Write => [200: Answer::Json("Marked")];
    Post "/v1/blueprints/{namespace}/{name}/{version}/undeprecate" "Undo a deprecation", query &[], body MARK, Write => [200: Answer::Json("Marked")];
    Post "/v1/blueprints/{namespace}/{name}/{version}/yank" "Yank a blueprint version", query &[], body MARK, Write => [200: Answer::Json("Marked")];
    Post "/v1/blueprints/{namespace}/{name}/{version}/unyank" "Undo a yank", query &[], body MARK, Write => [200: Answer::Json("Marked")];

    Get "/v1/providers/signing-keys" "The registry's provider signing keys, newest first", query &[], body Body::None, Read => [200: Answer::Json("SigningKeyList")];
    Get "/v1/providers/{namespace}/{type}/versions" "The versions terraform chooses from, with protocols and platforms", query &[], body Body::None, Read => [200: Answer::Json("ProviderVersions")];
    Get "/v1/providers/{namespace}/{type}/{version}/download/{os}/{arch}" "What terraform fetches and checks for a platform", query &[], body Body::None, Read => [200: Answer::Json("ProviderDownload")];
    Post "/v1/providers/{namespace}/{type}/{version}" "Publish a provider release (a .tar.gz of its zips, optionally signed sums)", query &[], body Body::Gzip, Write => [201: Answer::Json("Published")];
    Post "/v1/providers/{namespace}/{type}/{version}/deprecate" "Deprecate a provider version", query &[], body MARK, Write => [200: Answer::Json("Marked")];
    Post "/v1/providers/{namespace}/{type}/{version}/undeprecate" "Undo a deprecation", query &[], body MARK, Write => [200: Answer::Json("Marked")];
    Post "/v1/providers/{namespace}/{type}/{version}/yank" "Yank a provider version", query &[], body MARK, Write => [200: Answer::Json("Marked")];
    Post "/v1/providers/{namespace}/{type}/{version}/unyank" "Undo a yank", query &[], body MARK, Write => [200: Answer::Json("Marked")];
    Get "/v1/mirror/{host}/{namespace}/{type}/index.json" "A network mirror's versions of a provider", query &[], body Body::None, Read => [200: Answer::Json("MirrorIndex")];
    Get "/v1/mirror/{host}/{namespace}/{type}/{file}" "A network mirror's platforms of a version (`<version>.json`), with h1: and zh: hashes", query &[], body Body::None, Read => [200: Answer::Json("MirrorVersion")];

    Get "/v1/archives/{file}" "An archive (`<sha256>.tar.gz`), signed when reads need a token", query &["exp", "sig"], body Body::None, Read => [200: Answer::Gzip, 206: Answer::Gzip, 304: Answer::Empty, 307: Answer::Empty, 416: Answer::Json("Errors")];
    Head "/v1/archives/{file}" "An archive's headers", query &["exp", "sig"], body Body::None, Read => [200: Answer::Empty, 206: Answer::Empty, 304: Answer::Empty, 307: Answer::Empty, 416: Answer::Empty];

    Get "/v1/stacks" "The stack inventory", query &["blueprint", "outdated", "offset", "limit"], body Body::None, Read => [200: Answer::Json("StackPage")];
    Put "/v1/stacks/{id}" "Report a stack", query &[], body Body::Json("StackReport"), Write => [200: Answer::Json("StackReported"), 201: Answer::Json("StackReported")];
    Delete "/v1/stacks/{id}" "Forget a stack", query &[], body Body::None, Write => [204: Answer::Empty];

    Get "/v1/audit" "The audit log (admin)", query &["actor", "action", "target", "since", "until", "offset", "limit"], body Body::None, Read => [200: Answer::Json("AuditPage")];
};

const READ_ERRORS: &[u16] = &[400, 401, 403, 404, 500, 502, 503];
const WRITE_ERRORS: &[u16] = &[
    400, 401, 403, 404, 408, 409, 411, 413, 415, 422, 429, 500, 503,
];

fn schema_ref(name: &str) -> RefOr<Schema> {
    if name == "Object" {
        return RefOr::T(Schema::Object(
            ObjectBuilder::new().schema_type(Type::Object).build(),
        ));
    }
    RefOr::Ref(Ref::from_schema_name(name))
}

fn binary() -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/gzip")
            .build(),
    ))
}

fn text() -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new().schema_type(Type::String).build(),
    ))
}

fn response(status: u16, answer: Answer) -> utoipa::openapi::Response {
    let description = actix_web::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("answer");
    let builder = ResponseBuilder::new().description(description);
    match answer {
        Answer::Json(name) => builder.content(
            "application/json",
            ContentBuilder::new().schema(Some(schema_ref(name))).build(),
        ),
        Answer::Empty => builder,
        Answer::Gzip => builder.content(
            "application/gzip",
            ContentBuilder::new().schema(Some(binary())).build(),
        ),
        Answer::Text => builder.content(
            "application/openmetrics-text",
            ContentBuilder::new().schema(Some(text())).build(),
        ),
    }
    .build()
}

/// Collects `T`'s schema and those it refers to.
fn schemas<T: ToSchema>(into: &mut Vec<(String, RefOr<Schema>)>) {
    T::schemas(into);
    into.push((T::name().into_owned(), T::schema()));
}

/// The document.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new().build();
    for operation in OPERATIONS {
        let mut builder = OperationBuilder::new().summary(Some(operation.summary));
        for segment in operation.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                builder = builder.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(text())),
                );
            }
        }
        for name in operation.query {
            builder = builder.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Query)
                    .required(if *name == "q" {
                        Required::True
                    } else {
                        Required::False
                    })
                    .schema(Some(text())),
            );
        }
        builder = match operation.body {
            Body::None => builder,
            Body::Json(name) => builder.request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(schema_ref(name))).build(),
                    )
                    .build(),
            )),
            // Uploads are accepted as either media type.
            Body::Gzip => builder.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/gzip",
                        ContentBuilder::new().schema(Some(binary())).build(),
                    )
                    .content(
                        "application/octet-stream",
                        ContentBuilder::new().schema(Some(binary())).build(),
                    )
                    .build(),
            )),
        };
        for (status, answer) in operation.answers {
            builder = builder.response(status.to_string(), response(*status, *answer));
        }
        let errors = match operation.errors {
            Errors::Read => READ_ERRORS,
            Errors::Write => WRITE_ERRORS,
            Errors::None => &[],
        };
        for status in errors {
            if !operation
                .answers
                .iter()
                .any(|(answered, _)| answered == status)
            {
                builder = builder.response(
                    status.to_string(),
                    response(*status, Answer::Json("Errors")),
                );
            }
        }
        if !matches!(operation.errors, Errors::None) {
            builder = builder
                .security(SecurityRequirement::default())
                .security(SecurityRequirement::new("token", Vec::<String>::new()));
        }
        paths.add_path_operation(
            operation.path,
            vec![operation.method.clone()],
            builder.build(),
        );
    }
    let mut collected = Vec::new();
    schemas::<api::Errors>(&mut collected);
    schemas::<api::Discovery>(&mut collected);
    schemas::<api::Health>(&mut collected);
    schemas::<api::ModuleList>(&mut collected);
    schemas::<api::ModuleDetail>(&mut collected);
    schemas::<api::ModuleVersions>(&mut collected);
    schemas::<api::Published>(&mut collected);
    schemas::<api::MarkRequest>(&mut collected);
    schemas::<api::Marked>(&mut collected);
    schemas::<api::BlueprintList>(&mut collected);
    schemas::<api::BlueprintDetail>(&mut collected);
    schemas::<api::BlueprintVersions>(&mut collected);
    schemas::<api::Valid>(&mut collected);
    schemas::<api::StackPage>(&mut collected);
    schemas::<api::StackReport>(&mut collected);
    schemas::<api::StackReported>(&mut collected);
    schemas::<api::AuditPage>(&mut collected);
    schemas::<api::SigningKeyList>(&mut collected);
    schemas::<api::ProviderVersions>(&mut collected);
    schemas::<api::ProviderDownload>(&mut collected);
    schemas::<api::MirrorIndex>(&mut collected);
    schemas::<api::MirrorVersion>(&mut collected);
    let mut components = ComponentsBuilder::new().security_scheme(
        "token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A registry token (`quarry token create`), as terraform sends it from TF_TOKEN_<host>",
                ))
                .build(),
        ),
    );
    for (name, schema) in collected {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Quarry")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A private Terraform module and blueprint registry. The module endpoints are the Terraform registry protocol; errors are `{\"errors\": [...]}`.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// `GET /openapi.json`: the document, serialised once.
#[actix_web::get("/openapi.json")]
pub async fn serve() -> actix_web::HttpResponse {
    static JSON: std::sync::OnceLock<bytes::Bytes> = std::sync::OnceLock::new();
    let json = JSON.get_or_init(|| {
        bytes::Bytes::from(
            document()
                .to_json()
                .expect("the OpenAPI document serialises"),
        )
    });
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(json.clone())
}
