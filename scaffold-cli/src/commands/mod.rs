//! One file per subcommand.

pub mod check;
pub mod completions;
pub mod diff;
pub mod login;
pub mod new;
pub mod outdated;
pub mod publish;
pub mod run;
pub mod search;
pub mod show;
pub mod update;
pub mod validate;

use crate::error::{CliError, Result};

/// Prints JSON for `--output json`.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| CliError::failure(error.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Splits `ADDRESS[@VERSION_OR_CONSTRAINT]`.
pub fn split_at_version(text: &str) -> (&str, Option<&str>) {
    match text.split_once('@') {
        Some((address, version)) => (address, Some(version.trim())),
        None => (text, None),
    }
}

/// Prints rows as aligned columns.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            let width = widths.get(index).copied().unwrap_or(0);
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        println!("{}", text.trim_end());
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}
