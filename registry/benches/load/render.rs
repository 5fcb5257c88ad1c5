//! Rendering a blueprint with hundreds of template files in-process, through `quarry_core::render`
//! as the registry and `scaffold` call it. The one module it uses resolves to a fixed version, so
//! the figure is the renderer's alone.

use anyhow::Context;
use quarry_core::blueprint::{self, ModuleSource};
use quarry_core::constraint::Constraint;
use quarry_core::render::{self, ModuleResolver, RenderRequest, ResolvedModule};
use quarry_core::version::Version;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

const MANIFEST: &str = r#"apiVersion: quarry.dev/v1
kind: Blueprint
metadata:
  namespace: bench
  name: many-templates
  description: A stack of many components, one template each, for the render benchmark.
inputs:
  type: object
  additionalProperties: false
  required: [name, environment]
  properties:
    name: { type: string, pattern: "^[a-z][a-z0-9-]{2,20}$" }
    environment: { enum: [dev, staging, prod] }
    replicas: { type: integer, minimum: 1, maximum: 20, default: 2 }
    regions:
      type: array
      items: { type: string }
      minItems: 1
      default: [eu-west-1]
    tags:
      type: object
      additionalProperties: { type: string }
      default: {}
modules:
  - name: component
    source: bench/payload/aws
    version: "~> 1.0"
    inputs:
      name: "{{ inputs.name }}-{{ inputs.environment }}"
stack:
  name: "{{ inputs.name }}-{{ inputs.environment }}"
  labels: ["env:{{ inputs.environment }}"]
  terraform_version: "~> 1.10"
"#;

/// One component: a module block per region, with the tags and a replica count that depends on
/// the environment.
fn component_template(index: usize) -> String {
    format!(
        r#"# Component {index} of {{{{ inputs.name }}}} ({{{{ blueprint.namespace }}}}/{{{{ blueprint.name }}}} {{{{ blueprint.version }}}})
{{% for region in inputs.regions %}}
module "component_{index:03}_{{{{ loop.index }}}}" {{
  source   = "{{{{ modules.component.source }}}}"
  version  = "{{{{ modules.component.version }}}}"
  name     = "{{{{ inputs.name }}}}-{index:03}-{{{{ region }}}}"
  region   = "{{{{ region }}}}"
  replicas = {{% if inputs.environment == "prod" %}}{{{{ inputs.replicas * 2 }}}}{{% else %}}{{{{ inputs.replicas }}}}{{% endif %}}
  tags = {{
{{% for key, value in inputs.tags %}}    {{{{ key }}}} = {{{{ value | json }}}}
{{% endfor %}}    component = "{index:03}"
  }}
}}
{{% endfor %}}
"#
    )
}

/// Writes a blueprint with `templates` template files, in folders of 30, into `dir`.
pub fn write_blueprint(dir: &Path, templates: usize) -> anyhow::Result<()> {
    std::fs::write(dir.join(blueprint::MANIFEST), MANIFEST)?;
    for index in 0..templates {
        let folder = dir.join(format!("template/group-{:02}", index / 30));
        std::fs::create_dir_all(&folder)?;
        std::fs::write(
            folder.join(format!("component-{index:03}.tf.tera")),
            component_template(index),
        )?;
    }
    Ok(())
}

/// Resolves every module to 1.0.0 with a two-variable inputs schema.
struct FixedResolver;

impl ModuleResolver for FixedResolver {
    async fn resolve(
        &self,
        _source: &ModuleSource,
        _constraint: &Constraint,
    ) -> Result<ResolvedModule, String> {
        Ok(ResolvedModule {
            version: Version::parse("1.0.0").map_err(|error| error.to_string())?,
            archive_sha256: "0".repeat(64),
            inputs_schema: json!({
                "type": "object",
                "properties": { "name": { "type": "string" }, "region": { "type": "string" } },
            }),
        })
    }
}

/// Loads and checks the blueprint in `dir` once, then renders it `runs` times; returns the median
/// render time and the number of files the stack has.
pub async fn median_render(dir: &Path, runs: usize) -> anyhow::Result<(Duration, usize)> {
    let files = blueprint::load_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let blueprint = blueprint::check(files).map_err(|problems| {
        anyhow::anyhow!(
            "the generated blueprint does not pass its checks:\n  {}",
            quarry_core::lines(problems.iter())
        )
    })?;
    let version = Version::parse("1.0.0")?;
    let inputs = json!({
        "name": "checkout",
        "environment": "prod",
        "replicas": 3,
        "regions": ["eu-west-1", "eu-central-1", "us-east-1"],
        "tags": { "owner": "payments", "cost_center": "cc-1234", "data": "confidential" },
    });
    let mut times = Vec::with_capacity(runs);
    let mut files = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let stack = render::render(
            RenderRequest {
                blueprint: &blueprint,
                version: &version,
                archive_sha256: &"1".repeat(64),
                constraint: None,
                registry_host: "registry.test",
                inputs: inputs.clone(),
                output_limit: quarry_core::render::MAX_RENDERED_BYTES,
            },
            &FixedResolver,
        )
        .await
        .context("rendering the generated blueprint")?;
        times.push(started.elapsed());
        files = stack.files.len();
    }
    Ok((crate::median(times)?, files))
}
