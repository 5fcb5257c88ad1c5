//! `scaffold login HOST`: stores a registry token in `~/.terraform.d/credentials.tfrc.json`,
//! where terraform reads it too. The token is read from a hidden prompt on a terminal, or from
//! standard input otherwise, and checked against the registry before it is stored.

use crate::error::{CliError, Kind, Result};
use std::io::{BufRead, IsTerminal};

#[derive(clap::Args)]
pub struct LoginArgs {
    /// The registry host, as in module sources (e.g. registry.example.com)
    pub host: String,
    /// Store the token without checking it against the registry
    #[arg(long)]
    pub no_verify: bool,
}

pub async fn run(args: &LoginArgs, registry: Option<&str>) -> Result<()> {
    let token = if std::io::stdin().is_terminal() {
        inquire::Password::new(&format!("Token for {}:", args.host))
            .without_confirmation()
            .with_display_mode(inquire::PasswordDisplayMode::Hidden)
            .with_help_message("create one with `quarry token create --name NAME --scope read`")
            .prompt()
            .map_err(|error| match error {
                inquire::InquireError::OperationCanceled
                | inquire::InquireError::OperationInterrupted => {
                    CliError::new(Kind::Cancelled, "cancelled")
                }
                other => CliError::failure(other.to_string()),
            })?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(CliError::invalid(
            "no token given: type it at the prompt or pipe it on standard input",
        ));
    }
    if !args.no_verify {
        let base = registry.map_or_else(
            || format!("https://{}", args.host),
            |url| url.trim_end_matches('/').to_owned(),
        );
        let response = reqwest::Client::new()
            .get(format!("{base}/v1/modules?limit=1"))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|error| CliError::new(Kind::Unreachable, format!("cannot reach {base} to check the token: {error}\n  pass --no-verify to store it anyway")))?;
        if matches!(response.status().as_u16(), 401 | 403) {
            return Err(CliError::new(
                Kind::Denied,
                format!("{base} refused the token ({})", response.status()),
            ));
        }
    }
    let path = crate::credentials::store_token(&args.host, &token)?;
    eprintln!("stored the token for {} in {}", args.host, path.display());
    Ok(())
}
