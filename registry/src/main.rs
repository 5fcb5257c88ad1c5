//! `quarry`: the registry's binary. Parses the command line, sets up logging, and hands over to
//! the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use quarry_registry::config::{Config, LogFormat, ServeArgs, StoreArgs};
use quarry_registry::service::audit::Actor;
use quarry_registry::service::{Registry, tokens};
use std::io::Write;

#[derive(Parser)]
#[command(
    name = "quarry",
    version,
    about = "A private Terraform module registry"
)]
struct Cli {
    /// Configuration file [default: ./quarry.toml when it exists]
    #[arg(long, env = "QUARRY_CONFIG", global = true)]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit (run once before starting several replicas)
    Migrate,
    /// Find archives no version points at (left by interrupted publishes); --delete removes them
    Gc {
        /// Remove them (without it, only list them)
        #[arg(long)]
        delete: bool,
        /// Leave archives younger than this alone, so publishes in flight keep theirs: 90m, 1h, 2d
        #[arg(long, default_value = "1h")]
        min_age: String,
    },
    /// Copy the embedded default (SQLite database and archives) into DIR while it serves; start
    /// `quarry --data-dir DIR serve` to restore it
    Backup {
        /// A new or empty directory
        dir: std::path::PathBuf,
    },
    /// Manage API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// The provider network mirror
    #[command(subcommand)]
    Mirror(MirrorCommand),
    /// Provider signing keys
    #[command(subcommand)]
    SigningKey(SigningKeyCommand),
    /// A worker process of the sandbox (started by `quarry serve`, not by hand)
    #[command(hide = true)]
    SandboxWorker,
}

#[derive(Subcommand)]
enum MirrorCommand {
    /// Import the providers of a `terraform providers mirror DIR` directory (hashes verified)
    Import { dir: std::path::PathBuf },
}

#[derive(Subcommand)]
enum SigningKeyCommand {
    /// List the registry's provider signing keys (public halves), newest first
    List,
    /// Generate a new key for NAMESPACE's providers; the old one stays valid for the versions
    /// it signed
    Rotate { namespace: String },
    /// Make an ASCII-armored OpenPGP secret key (without a passphrase) NAMESPACE's signing key
    Import {
        namespace: String,
        /// The armored secret key, e.g. from `gpg --export-secret-keys --armor KEYID`
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print its secret (once) on standard output
    Create {
        /// A unique name for the token, e.g. `ci-platform`
        #[arg(long)]
        name: String,
        /// What the token may do: read, publish:<namespace>, publish:*, admin (repeatable)
        #[arg(long = "scope", required = true, num_args = 1..)]
        scopes: Vec<String>,
        /// Expire the token after this long: 90m, 12h, 30d (at most 10 years)
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List tokens (never their secrets)
    List {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by name; it is refused from the next request on
    Revoke { name: String },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUARRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::SandboxWorker = cli.command {
        // A worker needs no configuration, logging or runtime: it reads jobs on stdin.
        std::process::exit(quarry_registry::sandbox::worker::run());
    }
    let served = matches!(cli.command, Command::Serve(_));
    let result = actix_web::rt::System::new().block_on(run(cli));
    if served && result.is_ok() {
        // Work left on the runtime's blocking threads must not hold the exit after a shutdown.
        std::process::exit(0);
    }
    result
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let serve_args = match &cli.command {
        Command::Serve(args) => (**args).clone(),
        _ => ServeArgs::default(),
    };
    let config = Config::resolve(&cli.store, &serve_args, cli.config.as_deref())?;
    init_logging(config.log_format);
    let registry = Registry::start(&config).await?;
    match cli.command {
        Command::Serve(_) => serve(registry, &config).await,
        Command::Migrate => {
            eprintln!(
                "migrations applied to {}",
                quarry_registry::config::redact_url(&config.database_url)
            );
            Ok(())
        }
        Command::Token(command) => token(&registry, command).await,
        Command::Mirror(MirrorCommand::Import { dir }) => {
            let report = registry.import_mirror(&dir).await?;
            for id in &report.imported {
                eprintln!("imported {id}");
            }
            eprintln!(
                "{} imported, {} already there",
                quarry_core::counted(
                    report.imported.len(),
                    "provider version",
                    "provider versions"
                ),
                report.already_imported.len()
            );
            Ok(())
        }
        Command::SigningKey(SigningKeyCommand::List) => {
            for listed in registry.signing_keys(None).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    listed.namespace,
                    listed.key.key_id,
                    listed.created_at.to_rfc3339(),
                    listed.retired_at.map_or("current".to_owned(), |at| format!(
                        "retired {}",
                        at.to_rfc3339()
                    ))
                );
            }
            Ok(())
        }
        Command::SigningKey(SigningKeyCommand::Import { namespace, file }) => {
            quarry_core::address::Namespace::new(&namespace)?;
            let armor = std::fs::read_to_string(&file)
                .map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
            let key = registry
                .import_signing_key(&namespace, &armor)
                .await
                .map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
            eprintln!("{namespace} now signs with key {}", key.key_id);
            Ok(())
        }
        Command::SigningKey(SigningKeyCommand::Rotate { namespace }) => {
            quarry_core::address::Namespace::new(&namespace)?;
            let key = registry.rotate_signing_key(&namespace).await?;
            eprintln!("{namespace} now signs with key {}", key.key_id);
            println!("{}", key.ascii_armor);
            Ok(())
        }
        Command::Backup { dir } => {
            let report = registry.backup(&dir, &config.data_dir).await?;
            eprintln!(
                "backed up the database ({} bytes) and {} ({} bytes) into {}; restore with `quarry --data-dir {} serve`",
                report.database_bytes,
                quarry_core::counted(report.archives, "archive", "archives"),
                report.archive_bytes,
                dir.display(),
                dir.display()
            );
            Ok(())
        }
        Command::SandboxWorker => Ok(()),
        Command::Gc { delete, min_age } => {
            let grace = tokens::parse_lifetime(&min_age)?;
            let report = registry.collect_garbage(grace, delete).await?;
            let bytes: u64 = report
                .unreferenced
                .iter()
                .map(|(_, size)| size)
                .sum::<u64>()
                + report
                    .leftovers
                    .iter()
                    .map(|leftover| leftover.size)
                    .sum::<u64>();
            for (digest, size) in &report.unreferenced {
                println!("{digest}.tar.gz\t{size}");
            }
            for leftover in &report.leftovers {
                println!("{}\t{}", leftover.name, leftover.size);
            }
            eprintln!(
                "{} and {} of interrupted writes, {bytes} bytes{}; {} referenced; {} younger than {min_age} left alone",
                quarry_core::counted(
                    report.unreferenced.len(),
                    "unreferenced archive",
                    "unreferenced archives"
                ),
                quarry_core::counted(report.leftovers.len(), "staging file", "staging files"),
                if report.deleted {
                    ", deleted"
                } else {
                    " (dry run: pass --delete to remove them)"
                },
                report.referenced,
                report.kept_in_grace,
            );
            Ok(())
        }
    }
}

async fn serve(registry: Registry, config: &Config) -> anyhow::Result<()> {
    registry
        .sandbox
        .check_starts()
        .await
        .context("the sandbox's worker processes cannot start")?;
    for dir in &config.serve.import {
        let report = registry
            .import_dir(dir)
            .await
            .with_context(|| format!("importing {}", dir.display()))?;
        tracing::info!(
            dir = %dir.display(),
            published = report.published.len(),
            already_published = report.already_published.len(),
            changed_but_not_published = report.changed_but_not_published.len(),
            "import finished"
        );
        if !report.changed_but_not_published.is_empty() {
            // Said on stderr whatever the log level or format: an operator must not miss it.
            eprintln!(
                "\nWARNING: {} under {} changed since it was published, but its version did not; the published version is still served (versions are immutable):\n  {}\nChange the version in its module.yaml or blueprint.yaml to publish the change.\n",
                quarry_core::counted(
                    report.changed_but_not_published.len(),
                    "module or blueprint",
                    "modules or blueprints"
                ),
                dir.display(),
                quarry_core::lines(&report.changed_but_not_published)
            );
        }
    }
    let tls = match (&config.serve.tls_cert, &config.serve.tls_key) {
        (Some(cert), Some(key)) => Some(quarry_registry::tls::Certificates::load(cert, key)?),
        _ => None,
    };
    let listener = std::net::TcpListener::bind(config.serve.listen)
        .with_context(|| format!("cannot listen on {}", config.serve.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{address}");
    if tls.is_none()
        && let Some(cli_config) = write_terraform_config(config, address)
    {
        eprintln!(
            "\nQuarry is at {url}. terraform and tofu reach it (as host {host}) with the CLI configuration written to {path}:\n  export TF_CLI_CONFIG_FILE={path}\n",
            host = cli_config.host,
            path = cli_config.path.display(),
        );
    }
    tracing::info!(
        %address,
        url,
        read_access = ?config.serve.read_access,
        data_dir = %config.data_dir.display(),
        "quarry is ready"
    );
    quarry_registry::serve(
        registry,
        listener,
        quarry_registry::ServeSettings {
            request_timeout: std::time::Duration::from_secs(config.serve.request_timeout),
            shutdown_timeout: std::time::Duration::from_secs(config.serve.shutdown_timeout),
            tls,
        },
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// A terraform CLI configuration file Quarry wrote for itself.
struct CliConfig {
    host: String,
    path: std::path::PathBuf,
}

/// Writes `<data dir>/terraform.rc`, which maps this registry's loopback address to its plain-HTTP
/// API, so a local registry works with terraform at once: terraform only discovers registries over
/// HTTPS. Written when no public URL is set (or it is plain HTTP): behind HTTPS terraform needs
/// nothing. Not written (and not fatal) when the data directory cannot take it.
fn write_terraform_config(config: &Config, address: std::net::SocketAddr) -> Option<CliConfig> {
    if config
        .serve
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"))
    {
        return None;
    }
    let reachable = if address.ip().is_unspecified() {
        std::net::SocketAddr::from(([127, 0, 0, 1], address.port()))
    } else {
        address
    };
    let host = reachable.to_string();
    let base = config
        .serve
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{host}"));
    let path = std::path::absolute(config.data_dir.join("terraform.rc")).ok()?;
    let text = format!(
        "# Written by `quarry serve`: maps the registry at {base} for terraform and tofu.\n# Use it with: export TF_CLI_CONFIG_FILE={path}\nhost \"{host}\" {{\n  services = {{\n    \"modules.v1\" = \"{base}/v1/modules/\"\n  }}\n}}\n",
        path = path.display(),
    );
    match std::fs::write(&path, text) {
        Ok(()) => Some(CliConfig { host, path }),
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "could not write the terraform CLI configuration");
            None
        }
    }
}

async fn token(registry: &Registry, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            name,
            scopes,
            expires_in,
        } => {
            let lifetime = expires_in
                .as_deref()
                .map(tokens::parse_lifetime)
                .transpose()?;
            let created =
                tokens::create(&registry.db, &name, &scopes, lifetime, &Actor::console()).await?;
            eprintln!(
                "created token `{}` with scopes {}; it is shown only once:",
                created.name,
                scopes.join(", ")
            );
            println!("{}", created.secret);
        }
        TokenCommand::List { json } => {
            let tokens = tokens::list(&registry.db).await?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &tokens)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{:<24} {:<10} {:<26} SCOPES",
                    "NAME", "STATUS", "CREATED"
                )?;
                for token in tokens {
                    let status = if token.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    writeln!(
                        out,
                        "{:<24} {:<10} {:<26} {}",
                        token.name,
                        status,
                        token.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                        token.scopes.join(" ")
                    )?;
                }
            }
        }
        TokenCommand::Revoke { name } => {
            tokens::revoke(&registry.db, &name, &Actor::console()).await?;
            eprintln!("revoked token `{name}`");
        }
    }
    Ok(())
}
