//! The CLI's errors: each says what went wrong and what to do, and maps to a documented exit code.

use std::fmt;

/// What kind of failure, which decides the exit code (documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: anything unexpected (I/O, a broken response).
    Failure,
    /// 3: inputs, a blueprint or a module that do not pass their checks.
    Invalid,
    /// 4: an unknown module, blueprint or version, or no version matching a constraint.
    NotFound,
    /// 5: the registry cannot be reached.
    Unreachable,
    /// 6: the registry refused the token (401) or its scope (403).
    Denied,
    /// 7: the version exists already (versions are immutable), or the target directory is not empty.
    Conflict,
    /// 8: a stack is behind its blueprint or modules (`outdated`), or differs from what its
    /// blueprint version renders (`diff`).
    Drift,
    /// 9: a plan policy denies the plan (`check`).
    PolicyDenied,
    /// 10: an approval policy has not approved the run, or rejected it (`check`).
    Unapproved,
    /// The command `scaffold run` ran exited with this code.
    Exited(i32),
    /// 2: the command line is wrong.
    Usage,
    /// 130: the user cancelled a prompt.
    Cancelled,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Failure => 1,
            Self::Invalid => 3,
            Self::NotFound => 4,
            Self::Unreachable => 5,
            Self::Denied => 6,
            Self::Conflict => 7,
            Self::Drift => 8,
            Self::PolicyDenied => 9,
            Self::Unapproved => 10,
            Self::Exited(code) => code,
            Self::Usage => 2,
            Self::Cancelled => 130,
        }
    }
}

#[derive(Debug)]
pub struct CliError {
    pub kind: Kind,
    pub message: String,
}

impl CliError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(Kind::Failure, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        Self::failure(error.to_string())
    }
}

impl From<crate::prompt::PromptError> for CliError {
    fn from(error: crate::prompt::PromptError) -> Self {
        match error {
            crate::prompt::PromptError::Cancelled => Self::new(Kind::Cancelled, "cancelled"),
            other => Self::failure(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, CliError>;
