//! `scaffold search QUERY`: modules and blueprints matching the text.

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

pub async fn run(client: &Client, query: &str, output: Output) -> Result<()> {
    let (modules, blueprints) = client.search(query).await?;
    let (modules, blueprints) = (modules.modules, blueprints.blueprints);
    if output == Output::Json {
        return super::print_json(&Found {
            modules: &modules,
            blueprints: &blueprints,
        });
    }
    if modules.is_empty() && blueprints.is_empty() {
        println!("nothing matches `{query}`");
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
    Ok(())
}
