//! `scaffold`: renders stacks from Quarry blueprints and publishes modules and blueprints.
//! Its commands (new, search, show, validate, publish, login) arrive with the scaffold issue; for
//! now the binary only answers `--help` and `--version`.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "scaffold",
    version,
    about = "Render ready-to-apply stacks from Quarry blueprints",
    long_about = "Render ready-to-apply stacks from Quarry blueprints.\n\nNo commands yet: they arrive with the scaffold issue. Publish modules over HTTP (see the README)."
)]
struct Cli {}

fn main() {
    Cli::parse();
}
