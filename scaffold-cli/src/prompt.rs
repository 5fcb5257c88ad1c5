//! The terminal side of [`quarry_core::form`]: asking, on a terminal, every input a blueprint's
//! schema still needs (a select for an `enum`, a confirm for a boolean, the pattern checked as
//! you type, secrets hidden, `if`/`then` conditions deciding further questions). This module is
//! the only place that talks to the terminal for inputs; what to ask and how answers are parsed
//! and checked are `core::form`'s.

use std::collections::BTreeSet;

use inquire::validator::Validation;
use inquire::{
    Confirm, CustomUserError, InquireError, Password, PasswordDisplayMode, Select, Text,
};
use quarry_core::form::{
    Check, Field, Kind, display, help_text, interpret, next_field, property_check, typed_form,
};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Why [`ask`] stopped before every question was answered.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The user pressed Esc or Ctrl-C.
    #[error("input cancelled")]
    Cancelled,
    /// The terminal could not be used (not a TTY, I/O error).
    #[error("terminal: {0}")]
    Terminal(String),
}

/// Asks, on the terminal, every question [`next_field`] yields until it yields None, storing
/// each answer in `answers`. Optional questions can be skipped with an empty answer (recorded in
/// the skipped set, not in answers); a default is offered as the initial/default value.
pub fn ask(
    schema: &Value,
    answers: &mut Map<String, Value>,
    ask_optional: bool,
) -> Result<(), PromptError> {
    let mut skipped = BTreeSet::new();
    while let Some(question) = next_field(schema, answers, &skipped, ask_optional) {
        match ask_one(schema, &question)? {
            Some(value) => {
                answers.insert(question.name, value);
            }
            // A required question cannot be skipped; it is simply asked again.
            None if question.required => {}
            None => {
                skipped.insert(question.name);
            }
        }
    }
    Ok(())
}

fn entry_validator(
    question: &Field,
    check: &Check,
) -> impl Fn(&str) -> Result<Validation, CustomUserError> + Clone + 'static {
    let question = question.clone();
    let check = Arc::clone(check);
    move |input: &str| {
        Ok(match interpret(&question, input, &check) {
            Ok(_) => Validation::Valid,
            Err(message) => Validation::Invalid(message.into()),
        })
    }
}

fn terminal_error(error: InquireError) -> PromptError {
    match error {
        InquireError::OperationCanceled | InquireError::OperationInterrupted => {
            PromptError::Cancelled
        }
        other => PromptError::Terminal(other.to_string()),
    }
}

/// Asks one question: None when an optional one is skipped.
fn ask_one(root: &Value, question: &Field) -> Result<Option<Value>, PromptError> {
    let check = property_check(root, question);
    let title = question.title.as_str();
    if question.secret {
        let help = help_text(question, true);
        let mut prompt = Password::new(title)
            .without_confirmation()
            .with_display_mode(PasswordDisplayMode::Hidden)
            .with_validator(entry_validator(question, &check));
        if let Some(help) = help.as_deref() {
            prompt = prompt.with_help_message(help);
        }
        let input = prompt.prompt().map_err(terminal_error)?;
        return interpret(question, &input, &check).map_err(PromptError::Terminal);
    }
    match &question.kind {
        Kind::Choice { options } if !options.is_empty() => {
            let mut labels: Vec<String> = options.iter().map(display).collect();
            if !question.required {
                labels.push("(skip)".to_owned());
            }
            let cursor = question
                .default
                .as_ref()
                .and_then(|default| options.iter().position(|option| option == default))
                .unwrap_or(0);
            let help = help_text(question, false);
            let mut prompt = Select::new(title, labels).with_starting_cursor(cursor);
            if let Some(help) = help.as_deref() {
                prompt = prompt.with_help_message(help);
            }
            let choice = prompt.raw_prompt().map_err(terminal_error)?;
            Ok(options.get(choice.index).cloned())
        }
        Kind::Boolean if question.required || question.default.is_some() => {
            let help = help_text(question, false);
            let mut prompt = Confirm::new(title);
            if let Some(default) = question.default.as_ref().and_then(Value::as_bool) {
                prompt = prompt.with_default(default);
            }
            if let Some(help) = help.as_deref() {
                prompt = prompt.with_help_message(help);
            }
            let answer = prompt.prompt().map_err(terminal_error)?;
            Ok(Some(Value::Bool(answer)))
        }
        _ => {
            let help = help_text(question, true);
            let default = question
                .default
                .as_ref()
                .map(|default| typed_form(&question.kind, default));
            let mut prompt = Text::new(title).with_validator(entry_validator(question, &check));
            if let Some(help) = help.as_deref() {
                prompt = prompt.with_help_message(help);
            }
            if let Some(default) = default.as_deref() {
                prompt = prompt.with_default(default);
            }
            let input = prompt.prompt().map_err(terminal_error)?;
            interpret(question, &input, &check).map_err(PromptError::Terminal)
        }
    }
}
