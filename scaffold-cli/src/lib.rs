//! `scaffold`: renders ready-to-apply stacks from Quarry blueprints, and publishes modules and
//! blueprints. The library holds every command (one file each under `commands/`), the registry
//! client and the stack pipeline; the binary parses the command line and calls [`main`].

pub mod client;
pub mod commands;
pub mod config;
pub mod credentials;
pub mod error;
pub mod git;
pub mod inventory;
pub mod pipeline;
pub mod progress;
pub mod prompt;
pub mod runner;
pub mod update;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "scaffold",
    version,
    about = "Render ready-to-apply stacks from Quarry blueprints; publish modules and blueprints",
    after_help = "Exit codes: 0 ok, 1 unexpected failure, 2 usage, 3 invalid inputs/blueprint/module, \
                  4 not found or no matching version, 5 registry unreachable, 6 token refused, \
                  7 conflict (version exists, directory not empty, update conflicts), \
                  8 behind or drifted (outdated, diff), 9 denied by a plan policy (check), \
                  10 not approved or rejected by an approval policy (check), 130 cancelled"
)]
pub struct Cli {
    /// Registry URL, e.g. https://registry.example.com
    #[arg(long, env = "SCAFFOLD_REGISTRY", global = true)]
    registry: Option<String>,
    /// Host written into module sources of rendered stacks [default: the registry URL's host]
    #[arg(long, env = "SCAFFOLD_SOURCE_HOST", global = true)]
    source_host: Option<String>,
    /// Token for the registry [default: TF_TOKEN_<host>, then terraform's credentials file]
    #[arg(long, env = "SCAFFOLD_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Output of read commands
    #[arg(long, value_enum, global = true, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Search modules and blueprints (without a query: list them all, a page at a time)
    Search {
        /// Text matched against namespace, name, system, description and tags
        query: Option<String>,
        /// Where the page starts
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// How many of each kind a page holds (at most 100)
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Show a module (namespace/name/system) or a blueprint (namespace/name), optionally @VERSION
    Show { address: String },
    /// Render a new stack from a blueprint: BLUEPRINT[@CONSTRAINT], e.g. platform/web-service@~>1.0
    New(commands::new::NewArgs),
    /// Update a stack to a newer version of its blueprint (3-way: your edits are kept)
    Update(commands::update::UpdateArgs),
    /// Report stacks whose blueprint or modules are behind (exit 8), deprecated or yanked
    Outdated(commands::outdated::OutdatedArgs),
    /// Show how a stack differs from what its recorded blueprint version renders
    Diff(commands::diff::DiffArgs),
    /// Check a plan against the stack's policies: exit 9 when denied, 10 when not approved
    Check(commands::check::CheckArgs),
    /// Run terraform in the stack with its contexts applied: `scaffold run -- terraform plan`
    Run(commands::run::RunArgs),
    /// Check a blueprint or module directory as the registry will, before publishing
    Validate {
        dir: PathBuf,
        /// Also check these inputs (YAML or JSON) against a blueprint's inputs schema
        #[arg(long)]
        values: Option<PathBuf>,
    },
    /// Publish a module or a blueprint
    #[command(subcommand)]
    Publish(commands::publish::PublishCommand),
    /// Store a token for a registry host where terraform keeps it (credentials.tfrc.json)
    Login(commands::login::LoginArgs),
    /// Print shell completions
    Completions { shell: clap_complete::Shell },
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> error::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let settings = || {
        config::resolve(
            cli.registry.as_deref(),
            cli.source_host.as_deref(),
            cli.token.as_deref(),
        )
    };
    let client = || client::Client::new(settings()?, progress::interactive_terminal());
    match cli.command {
        Command::Search {
            ref query,
            offset,
            limit,
        } => runtime.block_on(commands::search::run(
            &client()?,
            query.as_deref().unwrap_or_default(),
            commands::search::Page { offset, limit },
            cli.output,
        )),
        Command::Show { ref address } => {
            runtime.block_on(commands::show::run(&client()?, address, cli.output))
        }
        Command::New(ref args) => runtime.block_on(commands::new::run(&client()?, args)),
        Command::Update(ref args) => runtime.block_on(commands::update::run(&client()?, args)),
        Command::Outdated(ref args) => {
            runtime.block_on(commands::outdated::run(&client()?, args, cli.output))
        }
        Command::Diff(ref args) => runtime.block_on(commands::diff::run(&client()?, args)),
        Command::Validate {
            ref dir,
            ref values,
        } => commands::validate::run(dir, values.as_deref(), cli.output),
        Command::Check(ref args) => commands::check::run(args, cli.output),
        Command::Run(ref args) => commands::run::run(args),
        Command::Publish(ref command) => {
            runtime.block_on(commands::publish::run(&client()?, command))
        }
        Command::Login(ref args) => {
            runtime.block_on(commands::login::run(args, cli.registry.as_deref()))
        }
        Command::Completions { shell } => {
            commands::completions::run(shell);
            Ok(())
        }
    }
}

/// Parses the command line, runs the command, and exits with its documented code.
pub fn main() {
    // `scaffold show … | head`: when the reader goes away, stop quietly (printing panics on a
    // closed pipe, and without unsafe code SIGPIPE cannot be restored to its default).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if payload.contains("failed printing to stdout") && payload.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    let cli = Cli::parse();
    if let Err(error) = run(cli) {
        eprintln!("error: {error}");
        std::process::exit(error.kind.exit_code());
    }
}
