//! `scaffold search [QUERY]`: modules and blueprints matching the text, or (without a query)
//! all of them, a page at a time.

use crate::Output;
use crate::client::Client;
use crate::error::Result;
use quarry_core::api;

/// What `--output json` prints: both lists.
#[derive(serde::Serialize)]
struct Found<'a> {
    modules: &'a [api::ModuleSummary],
    blueprints: &'a [api::BlueprintSummary],
}

/// Which page of the results.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub offset: u64,
    pub limit: u64,
}

pub async fn run(client: &Client, query: &str, page: Page, output: Output) -> Result<()> {
    let limit = page.limit.clamp(1, 100);
    let (modules, blueprints) = client.search(query.trim(), page.offset, limit).await?;
    let more = modules.meta.next_offset.or(blueprints.meta.next_offset);
    let (modules, blueprints) = (modules.modules, blueprints.blueprints);
    if output == Output::Json {
        return super::print_json(&Found {
            modules: &modules,
            blueprints: &blueprints,
        });
    }
    if modules.is_empty() && blueprints.is_empty() {
        if query.trim().is_empty() {
            println!(
                "the registry holds no modules or blueprints (from offset {})",
                page.offset
            );
        } else {
            println!("nothing matches `{query}`");
        }
        return Ok(());
    }
    let mut rows = Vec::new();
    for blueprint in &blueprints {
        rows.push(vec![
            "blueprint".into(),
            format!("{}/{}", blueprint.namespace, blueprint.name),
            blueprint.version.clone(),
            blueprint.description.clone(),
        ]);
    }
    for module in &modules {
        rows.push(vec![
            "module".into(),
            format!("{}/{}/{}", module.namespace, module.name, module.provider),
            module.version.clone(),
            module.description.clone(),
        ]);
    }
    super::print_table(&["KIND", "ADDRESS", "LATEST", "DESCRIPTION"], &rows);
    if let Some(next) = more {
        eprintln!("more: scaffold search {query} --offset {next} --limit {limit}");
    }
    Ok(())
}
