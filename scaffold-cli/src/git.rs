//! Running git on a stack's directory (whether it is a clean work tree, where it lives).

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `git -C dir args…`, its stderr dropped; an error when git cannot be run.
pub fn run(dir: &Path, args: &[&str]) -> std::io::Result<Output> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(Stdio::null())
        .output()
}

/// What a git command printed, trimmed, when it ran and succeeded.
pub fn text(dir: &Path, args: &[&str]) -> Option<String> {
    let output = run(dir, args).ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
