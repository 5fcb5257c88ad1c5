//! `scaffold completions SHELL`: completion scripts for bash, zsh, fish, PowerShell and elvish.

use clap::CommandFactory;

pub fn run(shell: clap_complete::Shell) {
    let mut command = crate::Cli::command();
    clap_complete::generate(shell, &mut command, "scaffold", &mut std::io::stdout());
}
