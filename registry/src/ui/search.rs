//! The home page (search box, newest and most-downloaded lists, namespaces), search results with
//! their filters, counts and pages, and namespace pages — all from the in-memory listing.

use super::session::Viewer;
use super::{Layout, UiError, grouped, page};
use crate::service::Registry;
use crate::service::modules::Summary;
use crate::service::search::Filter;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use quarry_core::address::{ArtifactAddress, Kind, Namespace};
use serde::Deserialize;

/// Results per page.
const PAGE_SIZE: u64 = 20;
/// The most a search may page through (the listing is searched in memory, but a page number in a
/// URL is anyone's to choose).
const MAX_PAGE: u64 = 500;
/// How many items the home page's lists show.
const HOME_LIST: usize = 8;

/// An artifact as a list shows it.
pub struct Item {
    pub kind: &'static str,
    pub href: String,
    pub address: String,
    pub description: String,
    pub version: String,
    pub downloads: String,
    pub published: String,
    /// Each tag with the search for it.
    pub tags: Vec<(String, String)>,
    pub deprecated: bool,
}

/// The search for blueprints with a tag.
pub fn tag_href(tag: &str) -> String {
    format!(
        "/search?kind=blueprint&tag={}",
        percent_encoding::utf8_percent_encode(tag, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// The page of an artifact (its latest version).
pub fn href(address: &ArtifactAddress) -> String {
    href_of(address, &address.to_string())
}

/// [`href`] from the address already written out.
fn href_of(address: &ArtifactAddress, written: &str) -> String {
    let section = match address {
        ArtifactAddress::Module(_) => "/modules/",
        ArtifactAddress::Blueprint(_) => "/blueprints/",
        ArtifactAddress::Provider(_) => "/providers/",
    };
    [section, written].concat()
}

fn item(summary: &Summary) -> Item {
    let listed = &summary.listed;
    let address = listed.artifact.address.to_string();
    Item {
        kind: listed.kind().as_str(),
        href: href_of(&listed.artifact.address, &address),
        address,
        description: listed.artifact.description.clone(),
        version: listed.latest.version.to_string(),
        downloads: grouped(summary.downloads),
        published: super::when(&listed.latest.published_at),
        tags: listed
            .tags
            .iter()
            .map(|tag| (tag.clone(), tag_href(tag)))
            .collect(),
        deprecated: listed.latest.deprecated,
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
    modules: String,
    blueprints: String,
    newest_blueprints: Vec<Item>,
    newest_modules: Vec<Item>,
    popular_modules: Vec<Item>,
    namespaces: Vec<(String, String)>,
}

/// `GET /`.
pub async fn home(viewer: Viewer, registry: web::Data<Registry>) -> Result<HttpResponse, UiError> {
    let db = &registry.db;
    let facets = registry.search.facets(db).await?;
    let list = |listed: Vec<std::sync::Arc<crate::service::search::Listed>>| -> Vec<Item> {
        listed
            .into_iter()
            .map(|listed| item(&registry.summary(listed)))
            .collect()
    };
    let newest_blueprints = list(
        registry
            .search
            .newest(db, Kind::Blueprint, HOME_LIST)
            .await?,
    );
    let newest_modules = list(registry.search.newest(db, Kind::Module, HOME_LIST).await?);
    let popular_modules = list(
        registry
            .search
            .most_downloaded(db, Kind::Module, HOME_LIST)
            .await?,
    );
    let mut namespaces = facets.namespaces.clone();
    namespaces.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    namespaces.truncate(24);
    page(
        &viewer,
        StatusCode::OK,
        &Home {
            layout: viewer.layout("Modules and blueprints", ""),
            modules: grouped(facets.modules as i64),
            blueprints: grouped(facets.blueprints as i64),
            newest_blueprints,
            newest_modules,
            popular_modules,
            namespaces: namespaces
                .into_iter()
                .map(|(namespace, count)| (namespace, grouped(count as i64)))
                .collect(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    kind: Option<String>,
    namespace: Option<String>,
    system: Option<String>,
    tag: Option<String>,
    page: Option<String>,
}

/// A filter's options, with the one chosen.
pub struct Options {
    pub name: &'static str,
    pub label: &'static str,
    pub options: Vec<(String, String, bool)>,
}

fn options(
    name: &'static str,
    label: &'static str,
    counts: &[(String, usize)],
    chosen: Option<&str>,
) -> Options {
    Options {
        name,
        label,
        options: counts
            .iter()
            .map(|(value, count)| {
                (
                    value.clone(),
                    [value, " (", &grouped(*count as i64), ")"].concat(),
                    chosen == Some(value.as_str()),
                )
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "search.html")]
struct Results {
    layout: Layout,
    heading: String,
    /// The namespace a namespace page is about (its filter is fixed).
    fixed_namespace: Option<String>,
    query: String,
    kind: String,
    filters: Vec<Options>,
    total: String,
    items: Vec<Item>,
    page: u64,
    previous: Option<String>,
    next: Option<String>,
    pages: String,
}

/// A filter's value from the query string: blank means none.
fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

fn link(query: &SearchQuery, fixed_namespace: Option<&str>, page: u64) -> String {
    let mut pairs = Vec::new();
    for (key, value) in [
        ("q", &query.q),
        ("kind", &query.kind),
        ("namespace", &query.namespace),
        ("system", &query.system),
        ("tag", &query.tag),
    ] {
        if key == "namespace" && fixed_namespace.is_some() {
            continue;
        }
        if let Some(value) = given(value) {
            pairs.push(format!(
                "{key}={}",
                percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC)
            ));
        }
    }
    if page > 1 {
        pairs.push(format!("page={page}"));
    }
    let base = match fixed_namespace {
        Some(namespace) => format!("/namespaces/{namespace}"),
        None => "/search".to_owned(),
    };
    if pairs.is_empty() {
        base
    } else {
        format!("{base}?{}", pairs.join("&"))
    }
}

async fn results_page(
    viewer: &Viewer,
    registry: &Registry,
    query: &SearchQuery,
    fixed_namespace: Option<&Namespace>,
) -> Result<HttpResponse, UiError> {
    let text = given(&query.q).unwrap_or_default();
    if text.len() > 256 {
        return Err(UiError::bad_request(
            "The search text is longer than 256 characters.",
        ));
    }
    let kind = match given(&query.kind).as_deref() {
        None => None,
        Some(name) => Some(
            Kind::from_name(name)
                .filter(|kind| *kind != Kind::Provider)
                .ok_or_else(|| {
                    UiError::bad_request(format!(
                        "There is no kind `{name}`: choose module or blueprint."
                    ))
                })?,
        ),
    };
    let page_number = match given(&query.page) {
        None => 1,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|page| (1..=MAX_PAGE).contains(page))
            .ok_or_else(|| {
                UiError::bad_request(format!(
                    "The page `{text}` is not a number from 1 to {MAX_PAGE}."
                ))
            })?,
    };
    let namespace = fixed_namespace
        .map(ToString::to_string)
        .or_else(|| given(&query.namespace));
    let filter = Filter {
        kind,
        namespace,
        system: given(&query.system),
        tag: given(&query.tag),
        query: (!text.is_empty()).then(|| text.clone()),
        ..Filter::default()
    };
    let listing = registry
        .list_artifacts(&filter, (page_number - 1) * PAGE_SIZE, PAGE_SIZE, true)
        .await?;
    let total = listing.total.unwrap_or_default();
    let facets = registry.search.facets(&registry.db).await?;
    if let Some(fixed) = fixed_namespace
        && !facets
            .namespaces
            .iter()
            .any(|(known, _)| known == fixed.as_str())
    {
        return Err(UiError::not_found(format!(
            "The namespace `{fixed}` holds no modules or blueprints."
        )));
    }
    let mut filters = vec![options(
        "system",
        "Provider",
        &facets.systems,
        filter.system.as_deref(),
    )];
    filters.push(options("tag", "Tag", &facets.tags, filter.tag.as_deref()));
    if fixed_namespace.is_none() {
        filters.insert(
            0,
            options(
                "namespace",
                "Namespace",
                &facets.namespaces,
                filter.namespace.as_deref(),
            ),
        );
    }
    let fixed = fixed_namespace.map(Namespace::as_str);
    let heading = match (fixed, text.is_empty()) {
        (Some(namespace), _) => format!("Namespace {namespace}"),
        (None, false) => format!("Results for “{text}”"),
        (None, true) => "Everything".to_owned(),
    };
    let pages = (total as u64).div_ceil(PAGE_SIZE).max(1);
    page(
        viewer,
        StatusCode::OK,
        &Results {
            layout: viewer.layout(heading.clone(), &text),
            heading,
            fixed_namespace: fixed.map(str::to_owned),
            query: text,
            kind: kind.map(Kind::as_str).unwrap_or_default().to_owned(),
            filters,
            total: grouped(total as i64),
            items: listing.items.iter().map(item).collect(),
            page: page_number,
            previous: (page_number > 1).then(|| link(query, fixed, page_number - 1)),
            next: listing
                .has_more
                .then(|| link(query, fixed, page_number + 1)),
            pages: grouped(pages as i64),
        },
    )
}

/// `GET /search`.
pub async fn results(
    viewer: Viewer,
    registry: web::Data<Registry>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, UiError> {
    results_page(&viewer, &registry, &query, None).await
}

/// `GET /namespaces/{namespace}`.
pub async fn namespace(
    viewer: Viewer,
    registry: web::Data<Registry>,
    path: web::Path<String>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, UiError> {
    let namespace = Namespace::new(&path)?;
    results_page(&viewer, &registry, &query, Some(&namespace)).await
}
