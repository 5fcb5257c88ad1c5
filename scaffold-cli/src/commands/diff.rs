//! `scaffold diff [DIR]`: drift from the golden path — how the stack's files differ from what its
//! recorded blueprint version renders with its recorded answers and module versions. Exit 0 when
//! they are the same, [`Kind::Drift`]'s code when not.

use crate::client::Client;
use crate::error::{CliError, Kind, Result};
use crate::pipeline;
use crate::update;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The stack's directory
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

pub async fn run(client: &Client, args: &DiffArgs) -> Result<()> {
    let answers = pipeline::recorded(&args.dir)?;
    let (_, golden) = pipeline::render_recorded(client, &answers).await?;
    let mut drifted = Vec::new();
    for (path, content) in &golden.files {
        let ours = update::read_ours(&args.dir, path);
        if ours.as_ref() != Some(content) {
            print!("{}", update::unified(path, Some(content), ours.as_deref()));
            drifted.push(path.clone());
        }
    }
    let what = format!(
        "{} {}",
        answers.blueprint.address, answers.blueprint.version
    );
    if drifted.is_empty() {
        eprintln!("{} is as {what} renders it", args.dir.display());
        return Ok(());
    }
    Err(CliError::new(
        Kind::Drift,
        format!(
            "{} from what {what} renders: {}",
            quarry_core::counted(drifted.len(), "file differs", "files differ"),
            drifted.join(", ")
        ),
    ))
}
