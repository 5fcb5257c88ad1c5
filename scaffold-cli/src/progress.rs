//! Progress bars: on a terminal only, so CI logs stay quiet.

use indicatif::{ProgressBar, ProgressStyle};

/// A byte progress bar, hidden unless `enabled`.
pub fn bar(enabled: bool, total: u64, verb: &'static str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(verb);
    bar
}

/// Whether progress and prompts may use the terminal: stderr is one, and we are not in CI.
pub fn interactive_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}
