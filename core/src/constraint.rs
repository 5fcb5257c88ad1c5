//! Terraform module version constraints (`">= 1.2.0, < 2.0.0"`, `"~> 1.2"`, `"1.4.0"`) and
//! choosing the version a constraint selects.
//!
//! This is Terraform's constraint syntax, not Cargo's: `1.2.3` means exactly `= 1.2.3` (not
//! `^1.2.3`), `~>` is the pessimistic operator, and there is no `^`, `~` or `*`. The parser and
//! matcher are written here; `semver` supplies only the numbers and their ordering, because
//! `semver::VersionReq` would silently give Cargo meanings to Terraform text.
//!
//! Rules implemented:
//! - conditions are separated by `,` and all must hold;
//! - operators: `=` (or none), `!=`, `>`, `>=`, `<`, `<=`, `~>`;
//! - versions may be partial (`1`, `1.2`); missing numbers are zero, so `= 1.2` is exactly
//!   `1.2.0` and `>= 1.2` is `>= 1.2.0`;
//! - `~> 1.2` is `>= 1.2.0, < 2.0.0`, `~> 1.2.3` is `>= 1.2.3, < 1.3.0`,  and `~> 1` is `>= 1.0.0`
//!   with no upper bound (what `terraform init` does, checked by an end-to-end test);
//! - build metadata (`+build`) is ignored when matching;
//! - a prerelease version is acceptable only when the whole constraint is that very version
//!   written bare (`1.3.0-beta.1`): real `terraform init` refuses it for `= 1.3.0-beta.1`, for
//!   ranges (including `~>` and `!=`) and for lists of conditions.
//!
//! Pure logic: no I/O.

use std::cmp::Ordering;
use std::fmt;

use crate::version::Version;

/// Longest constraint text accepted; real constraints are a few dozen characters.
const MAX_LEN: usize = 1024;

/// How many characters of hostile input an error message repeats.
const SHOWN_CHARS: usize = 80;

/// What a version inside a condition looks like, for error messages.
const EXPECTED_VERSION: &str =
    "expected MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD], e.g. 1, 1.2, 1.2.3 or 1.2.3-beta.1";

/// The operators, for error messages.
const OPERATORS: &str = "use =, !=, >, >=, <, <=, ~>";

/// A parsed Terraform version constraint: one or more conditions that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    conditions: Vec<Condition>,
    text: String,
}

/// Why a constraint string was rejected. Displays as
/// ``invalid version constraint `TEXT`: REASON``, with `TEXT` shortened for long input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version constraint `{text}`: {reason}")]
pub struct ConstraintError {
    text: String,
    reason: String,
}

impl ConstraintError {
    fn new(text: &str, reason: String) -> Self {
        Self {
            text: shown(text),
            reason,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Pessimistic,
}

impl Operator {
    fn from_symbol(symbol: &str) -> Option<Self> {
        Some(match symbol {
            "" | "=" => Self::Eq,
            "!=" => Self::Ne,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "<" => Self::Lt,
            "<=" => Self::Le,
            "~>" => Self::Pessimistic,
            _ => return None,
        })
    }
}

/// One condition, e.g. `~> 1.2`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    operator: Operator,
    /// The version with missing numbers zeroed and build metadata dropped.
    version: semver::Version,
    /// How many numbers were written (1 to 3); only `~>` cares.
    segments: u8,
}

impl Condition {
    fn holds(&self, candidate: &semver::Version) -> bool {
        let order = precedence(candidate, &self.version);
        match self.operator {
            Operator::Eq => order == Ordering::Equal,
            Operator::Ne => order != Ordering::Equal,
            Operator::Gt => order == Ordering::Greater,
            Operator::Ge => order != Ordering::Less,
            Operator::Lt => order == Ordering::Less,
            Operator::Le => order != Ordering::Greater,
            Operator::Pessimistic => {
                order != Ordering::Less
                    && self
                        .pessimistic_upper_bound()
                        .is_none_or(|upper| precedence(candidate, &upper) == Ordering::Less)
            }
        }
    }

    /// The exclusive upper bound of `~>`: bump the second-to-last written number. `~> 1` has no
    /// second-to-last number and so no upper bound: real `terraform init` picks 2.0.0 for it.
    /// `None` means no upper bound.
    fn pessimistic_upper_bound(&self) -> Option<semver::Version> {
        let v = &self.version;
        match self.segments {
            1 => None,
            2 => v
                .major
                .checked_add(1)
                .map(|major| semver::Version::new(major, 0, 0)),
            _ => v
                .minor
                .checked_add(1)
                .map(|minor| semver::Version::new(v.major, minor, 0)),
        }
    }

    /// Whether this condition names exactly `candidate` with `=` (the prerelease rule).
    fn is_exactly(&self, candidate: &semver::Version) -> bool {
        self.operator == Operator::Eq && precedence(candidate, &self.version) == Ordering::Equal
    }
}

/// Semantic-version precedence: numbers, then prerelease; build metadata ignored.
/// (`semver::Version`'s own `Ord` also compares build metadata.)
fn precedence(a: &semver::Version, b: &semver::Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| a.pre.cmp(&b.pre))
}

impl Constraint {
    /// Parses a Terraform version constraint such as `">= 1.2.0, < 2.0.0"` or `"~> 1.2"`.
    ///
    /// Rejects empty text, unknown operators (`^`, `~`, `=>`), a leading `v`, non-numeric or
    /// more than three numbers, a prerelease on a partial version, empty conditions (e.g. a
    /// trailing comma) and text longer than 1024 characters.
    pub fn parse(text: &str) -> Result<Self, ConstraintError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ConstraintError::new(
                trimmed,
                "empty version constraint (expected conditions like `>= 1.2.0, < 2.0.0` or `~> 1.2`)"
                    .into(),
            ));
        }
        if trimmed.chars().count() > MAX_LEN {
            return Err(ConstraintError::new(
                trimmed,
                format!("longer than {MAX_LEN} characters"),
            ));
        }
        let parts: Vec<&str> = trimmed.split(',').map(str::trim).collect();
        let several = parts.len() > 1;
        let mut conditions = Vec::with_capacity(parts.len());
        for part in parts {
            let condition = parse_condition(part).map_err(|reason| {
                let reason = if several && !part.is_empty() {
                    format!("condition `{}`: {reason}", shown(part))
                } else {
                    reason
                };
                ConstraintError::new(trimmed, reason)
            })?;
            conditions.push(condition);
        }
        Ok(Self {
            conditions,
            text: trimmed.to_owned(),
        })
    }

    /// Whether `version` satisfies every condition and the prerelease rule: a prerelease is
    /// accepted only when the constraint is that bare version.
    /// Build metadata is ignored on both sides.
    pub fn matches(&self, version: &Version) -> bool {
        let candidate = version.semver();
        self.conditions.iter().all(|c| c.holds(candidate))
            && (!version.is_prerelease() || self.is_bare_version_of(candidate))
    }

    /// Whether the whole constraint is just `candidate`'s version, written without an operator:
    /// the only way real `terraform init` (1.11) selects a prerelease; it refuses one for
    /// `= 1.3.0-beta.1` and for ranges.
    fn is_bare_version_of(&self, candidate: &semver::Version) -> bool {
        matches!(self.conditions.as_slice(), [only] if only.is_exactly(candidate))
            && self.text.starts_with(|c: char| c.is_ascii_digit())
    }

    /// The newest version that matches, Terraform's choice. Input order does not matter; `None`
    /// when nothing matches.
    pub fn select<'a>(
        &self,
        versions: impl IntoIterator<Item = &'a Version>,
    ) -> Option<&'a Version> {
        versions
            .into_iter()
            .filter(|version| self.matches(version))
            .max_by(|a, b| a.cmp_choice(b))
    }

    /// The constraint as written, with surrounding whitespace trimmed.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Parses one condition; the error is the reason only (the caller adds the text).
fn parse_condition(condition: &str) -> Result<Condition, String> {
    if condition.is_empty() {
        return Err(
            "empty condition (each `,` must separate two conditions, e.g. `>= 1.2, < 2.0`)".into(),
        );
    }
    let split = condition
        .find(|c: char| c.is_alphanumeric() || c.is_whitespace())
        .unwrap_or(condition.len());
    let (symbol, rest) = condition.split_at(split);
    let operator = Operator::from_symbol(symbol)
        .ok_or_else(|| format!("unknown operator `{}` ({OPERATORS})", shown(symbol)))?;
    let written = rest.trim();
    if written.is_empty() {
        return Err(format!(
            "missing version after `{symbol}` ({EXPECTED_VERSION})"
        ));
    }
    let (version, segments) = parse_version(written)?;
    Ok(Condition {
        operator,
        version,
        segments,
    })
}

/// Parses a possibly partial version; returns it zero-padded without build metadata, and how
/// many numbers were written.
fn parse_version(written: &str) -> Result<(semver::Version, u8), String> {
    let expected = |detail: String| format!("{detail} ({EXPECTED_VERSION})");
    if written.contains(char::is_whitespace) {
        return Err(format!(
            "unexpected space inside `{}` (separate conditions with `,`)",
            shown(written)
        ));
    }
    if let Some(unprefixed) = written.strip_prefix(['v', 'V'])
        && unprefixed.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "a version must not start with `v` (write `{}`)",
            shown(unprefixed)
        ));
    }
    let (without_build, build) = match written.split_once('+') {
        Some((head, build)) => (head, Some(build)),
        None => (written, None),
    };
    if let Some(build) = build
        && !valid_identifiers(build, false)
    {
        return Err(expected(format!(
            "invalid build metadata `{}`: dot-separated identifiers of [0-9A-Za-z-] required",
            shown(build)
        )));
    }
    let (numbers, pre) = match without_build.split_once('-') {
        Some((numbers, pre)) => (numbers, Some(pre)),
        None => (without_build, None),
    };
    let mut parsed = [0_u64; 3];
    let mut segments: u8 = 0;
    for number in numbers.split('.') {
        let Some(slot) = parsed.get_mut(usize::from(segments)) else {
            return Err(expected(format!(
                "too many numbers in `{}` (at most three)",
                shown(written)
            )));
        };
        *slot = parse_number(number).map_err(expected)?;
        segments += 1;
    }
    let mut version = semver::Version::new(parsed[0], parsed[1], parsed[2]);
    if let Some(pre) = pre {
        if segments < 3 {
            let padding = ".0".repeat(usize::from(3 - segments));
            return Err(expected(format!(
                "a prerelease needs all three numbers, as in `{}{padding}-{}`",
                shown(numbers),
                shown(pre)
            )));
        }
        if !valid_identifiers(pre, true) {
            return Err(expected(format!(
                "invalid prerelease `{}`: dot-separated identifiers of [0-9A-Za-z-] required, \
                 numeric ones without leading zeros",
                shown(pre)
            )));
        }
        version.pre = semver::Prerelease::new(pre)
            .map_err(|error| expected(format!("invalid prerelease `{}`: {error}", shown(pre))))?;
    }
    Ok((version, segments))
}

fn parse_number(number: &str) -> Result<u64, String> {
    if number.is_empty() {
        return Err("empty number (check for a doubled or trailing `.`)".into());
    }
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{}` is not a number", shown(number)));
    }
    if number.len() > 1 && number.starts_with('0') {
        return Err(format!("leading zero in `{}`", shown(number)));
    }
    number
        .parse()
        .map_err(|_| format!("`{}` is too large", shown(number)))
}

/// Semver identifier rules for a prerelease (`numeric_rules`) or build metadata.
fn valid_identifiers(identifiers: &str, numeric_rules: bool) -> bool {
    identifiers.split('.').all(|identifier| {
        !identifier.is_empty()
            && identifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(numeric_rules
                && identifier.len() > 1
                && identifier.starts_with('0')
                && identifier.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Input as repeated in an error message: at most 80 characters, control characters escaped.
fn shown(text: &str) -> String {
    let mut out = String::new();
    for (index, c) in text.chars().enumerate() {
        if index == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

impl std::str::FromStr for Constraint {
    type Err = ConstraintError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Constraint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Constraint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).expect("valid test version")
    }

    fn c(text: &str) -> Constraint {
        Constraint::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn matches_table() {
        for (constraint, version, expected) in [
            // = and bare
            ("= 1.2.3", "1.2.3", true),
            ("= 1.2.3", "1.2.4", false),
            ("1.2.3", "1.2.3", true),
            ("1.2.3", "1.2.4", false),
            ("=1.2.3", "1.2.3", true),
            // partial = is exact after zero padding
            ("= 1.2", "1.2.0", true),
            ("= 1.2", "1.2.1", false),
            ("1", "1.0.0", true),
            ("1", "1.1.0", false),
            // !=
            ("!= 1.2.3", "1.2.3", false),
            ("!= 1.2.3", "1.2.4", true),
            ("!= 1.2", "1.2.0", false),
            ("!= 1.2", "1.2.1", true),
            // > >= < <=
            ("> 1.2.3", "1.2.3", false),
            ("> 1.2.3", "1.2.4", true),
            (">= 1.2.3", "1.2.3", true),
            (">= 1.2.3", "1.2.2", false),
            ("< 1.2.3", "1.2.3", false),
            ("< 1.2.3", "1.2.2", true),
            ("<= 1.2.3", "1.2.3", true),
            ("<= 1.2.3", "1.2.4", false),
            // partial ranges are zero padded
            (">= 1.2", "1.2.0", true),
            (">= 1.2", "1.1.9", false),
            ("> 1", "1.0.1", true),
            ("< 2", "1.99.99", true),
            ("< 2", "2.0.0", false),
            // ~> with two segments
            ("~> 1.2", "1.2.0", true),
            ("~> 1.2", "1.9.7", true),
            ("~> 1.2", "1.1.9", false),
            ("~> 1.2", "2.0.0", false),
            // ~> with three segments
            ("~> 1.2.3", "1.2.3", true),
            ("~> 1.2.3", "1.2.9", true),
            ("~> 1.2.3", "1.2.2", false),
            ("~> 1.2.3", "1.3.0", false),
            ("~> 0.1.0", "0.1.5", true),
            ("~> 0.1.0", "0.2.0", false),
            // ~> with one segment has no upper bound, as in terraform
            ("~> 1", "1.0.0", true),
            ("~> 1", "1.5.2", true),
            ("~> 1", "0.9.0", false),
            ("~> 1", "2.0.0", true),
            // multiple conditions
            (">= 1.2.0, < 2.0.0", "1.5.0", true),
            (">= 1.2.0, < 2.0.0", "2.0.0", false),
            (">= 1.2.0, < 2.0.0", "1.1.0", false),
            ("~> 1.2, != 1.4.0", "1.4.0", false),
            ("~> 1.2, != 1.4.0", "1.4.1", true),
            // whitespace variants
            (">=1.2", "1.2.0", true),
            (" ~>  1.2 ", "1.3.0", true),
            ("\t>= 1.0 ,<2 ", "1.9.0", true),
            (">=1.0,<2", "2.0.0", false),
            // prereleases: only the bare version selects one, as in terraform
            (">= 1.0.0", "1.1.0-beta.1", false),
            ("< 2.0.0", "2.0.0-rc.1", false),
            ("~> 1.1", "1.1.0-beta.1", false),
            ("~> 1.1.0-beta.1", "1.1.0-beta.1", false),
            ("~> 1.1.0-beta.1", "1.1.0-beta.2", false),
            ("~> 1.1.0-beta.1", "1.1.0", true),
            (">= 1.1.0-beta.1", "1.1.0", true),
            ("> 1.1.0-beta.1", "1.1.0-beta.2", false),
            ("= 1.1.0-beta.1", "1.1.0-beta.1", false),
            ("1.1.0-beta.1", "1.1.0-beta.1", true),
            ("= 1.1.0-beta.1", "1.1.0-beta.2", false),
            ("= 1.1.0-beta.1", "1.1.0", false),
            ("= 1.1.0", "1.1.0-beta.1", false),
            (">= 1.0, 1.1.0-beta.1", "1.1.0-beta.1", false),
            ("< 1.0, 1.1.0-beta.1", "1.1.0-beta.1", false),
            ("!= 1.1.0-beta.1", "1.1.0-beta.1", false),
            ("!= 1.1.0-beta.1", "1.1.0-beta.2", false),
            ("!= 1.1.0-beta.1", "1.1.0", true),
            ("= 1.1.0-beta.1, != 1.1.0-beta.1", "1.1.0-beta.1", false),
            // prerelease ordering: a prerelease sorts before its release
            ("> 1.1.0-beta.1", "1.1.0", true),
            ("< 1.1.0-beta.1", "1.0.9", true),
            // build metadata ignored on both sides
            ("= 1.2.3", "1.2.3+build.7", true),
            ("= 1.2.3+other", "1.2.3", true),
            ("= 1.2.3+other", "1.2.3+build.7", true),
            ("!= 1.2.3+x", "1.2.3+y", false),
            ("> 1.2.3", "1.2.3+build.7", false),
            ("1.2.3-rc.1+a", "1.2.3-rc.1+b", true),
        ] {
            assert_eq!(
                c(constraint).matches(&v(version)),
                expected,
                "{constraint:?} vs {version}"
            );
        }
    }

    #[test]
    fn select_table() {
        let versions: Vec<Version> = crate::test_support::VERSIONS
            .iter()
            .map(|text| v(text))
            .collect();
        for (constraint, expected) in [
            ("~> 1.1", Some("1.2.5")),
            ("~> 1.2.0", Some("1.2.5")),
            ("~> 1", Some("2.0.0")),
            ("~> 0.9", Some("0.9.0")),
            (">= 1.0, < 1.2", Some("1.1.0")),
            (">= 1.0.0", Some("2.0.0")),
            ("= 1.3.0-beta.1", None),
            ("1.3.0-beta.1", Some("1.3.0-beta.1")),
            ("> 2.0.0", None),
            ("!= 2.0.0", Some("1.2.5")),
            ("~> 2.1.0-rc.1", None),
            (">= 2.1.0-rc.1", None),
            ("= 2.1.0-rc.1", None),
            ("2.1.0-rc.1", Some("2.1.0-rc.1")),
            ("= 1.2", Some("1.2.0")),
            ("1.2.4", None),
            ("< 1", Some("0.9.0")),
            ("~> 3.0", None),
        ] {
            assert_eq!(
                c(constraint).select(&versions).map(ToString::to_string),
                expected.map(str::to_owned),
                "{constraint:?}"
            );
        }
        // Order of the input does not matter.
        let reversed: Vec<&Version> = versions.iter().rev().collect();
        assert_eq!(
            c("~> 1.1").select(reversed).map(ToString::to_string),
            Some("1.2.5".to_owned())
        );
        assert_eq!(c(">= 0").select(&[]), None);
    }

    #[test]
    fn invalid_table() {
        let expected_version = "(expected MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD], e.g. 1, 1.2, 1.2.3 or 1.2.3-beta.1)";
        for (text, message) in [
            (
                "",
                "invalid version constraint ``: empty version constraint (expected conditions like `>= 1.2.0, < 2.0.0` or `~> 1.2`)".to_owned(),
            ),
            (
                "   \t ",
                "invalid version constraint ``: empty version constraint (expected conditions like `>= 1.2.0, < 2.0.0` or `~> 1.2`)".to_owned(),
            ),
            (
                "^1.2",
                "invalid version constraint `^1.2`: unknown operator `^` (use =, !=, >, >=, <, <=, ~>)".to_owned(),
            ),
            (
                "=> 1",
                "invalid version constraint `=> 1`: unknown operator `=>` (use =, !=, >, >=, <, <=, ~>)".to_owned(),
            ),
            (
                "~ 1",
                "invalid version constraint `~ 1`: unknown operator `~` (use =, !=, >, >=, <, <=, ~>)".to_owned(),
            ),
            (
                "== 1.0.0",
                "invalid version constraint `== 1.0.0`: unknown operator `==` (use =, !=, >, >=, <, <=, ~>)".to_owned(),
            ),
            (
                "*",
                "invalid version constraint `*`: unknown operator `*` (use =, !=, >, >=, <, <=, ~>)".to_owned(),
            ),
            (
                ">= 1.0, ^2",
                "invalid version constraint `>= 1.0, ^2`: condition `^2`: unknown operator `^` (use =, !=, >, >=, <, <=, ~>)".to_owned(),
            ),
            (
                "v1.2.0",
                "invalid version constraint `v1.2.0`: a version must not start with `v` (write `1.2.0`)".to_owned(),
            ),
            (
                ">= v1",
                "invalid version constraint `>= v1`: a version must not start with `v` (write `1`)".to_owned(),
            ),
            (
                ">=",
                format!("invalid version constraint `>=`: missing version after `>=` {expected_version}"),
            ),
            (
                "1.x",
                format!("invalid version constraint `1.x`: `x` is not a number {expected_version}"),
            ),
            (
                "latest",
                format!("invalid version constraint `latest`: `latest` is not a number {expected_version}"),
            ),
            (
                "1.2.3.4",
                format!("invalid version constraint `1.2.3.4`: too many numbers in `1.2.3.4` (at most three) {expected_version}"),
            ),
            (
                "1..2",
                format!("invalid version constraint `1..2`: empty number (check for a doubled or trailing `.`) {expected_version}"),
            ),
            (
                "1.2.",
                format!("invalid version constraint `1.2.`: empty number (check for a doubled or trailing `.`) {expected_version}"),
            ),
            (
                "01.2",
                format!("invalid version constraint `01.2`: leading zero in `01` {expected_version}"),
            ),
            (
                "99999999999999999999",
                format!("invalid version constraint `99999999999999999999`: `99999999999999999999` is too large {expected_version}"),
            ),
            (
                "1.2-beta",
                format!("invalid version constraint `1.2-beta`: a prerelease needs all three numbers, as in `1.2.0-beta` {expected_version}"),
            ),
            (
                "1-rc.1",
                format!("invalid version constraint `1-rc.1`: a prerelease needs all three numbers, as in `1.0.0-rc.1` {expected_version}"),
            ),
            (
                "1.2.3-",
                format!("invalid version constraint `1.2.3-`: invalid prerelease ``: dot-separated identifiers of [0-9A-Za-z-] required, numeric ones without leading zeros {expected_version}"),
            ),
            (
                "1.2.3-beta.01",
                format!("invalid version constraint `1.2.3-beta.01`: invalid prerelease `beta.01`: dot-separated identifiers of [0-9A-Za-z-] required, numeric ones without leading zeros {expected_version}"),
            ),
            (
                "1.2.3+",
                format!("invalid version constraint `1.2.3+`: invalid build metadata ``: dot-separated identifiers of [0-9A-Za-z-] required {expected_version}"),
            ),
            (
                ">= 1.0,",
                "invalid version constraint `>= 1.0,`: empty condition (each `,` must separate two conditions, e.g. `>= 1.2, < 2.0`)".to_owned(),
            ),
            (
                ", >= 1.0",
                "invalid version constraint `, >= 1.0`: empty condition (each `,` must separate two conditions, e.g. `>= 1.2, < 2.0`)".to_owned(),
            ),
            (
                ">= 1.0,, < 2",
                "invalid version constraint `>= 1.0,, < 2`: empty condition (each `,` must separate two conditions, e.g. `>= 1.2, < 2.0`)".to_owned(),
            ),
            (
                ">= 1.0 < 2.0",
                "invalid version constraint `>= 1.0 < 2.0`: unexpected space inside `1.0 < 2.0` (separate conditions with `,`)".to_owned(),
            ),
            (
                "~> 1.2, 1.x",
                format!("invalid version constraint `~> 1.2, 1.x`: condition `1.x`: `x` is not a number {expected_version}"),
            ),
        ] {
            assert_eq!(
                Constraint::parse(text).map_err(|e| e.to_string()),
                Err(message),
                "{text:?}"
            );
        }
    }

    #[test]
    fn hostile_input_is_shortened_in_errors() {
        let long = format!("^{}", "1".repeat(200));
        let error = Constraint::parse(&long).unwrap_err().to_string();
        let shown = format!("^{}…", "1".repeat(79));
        assert_eq!(
            error,
            format!(
                "invalid version constraint `{shown}`: unknown operator `^` (use =, !=, >, >=, <, <=, ~>)"
            )
        );
        let huge = ">= 1.0, ".repeat(200);
        let error = Constraint::parse(&huge).unwrap_err().to_string();
        assert!(error.ends_with(": longer than 1024 characters"), "{error}");
        let control = Constraint::parse("1.0\u{1b}[31m").unwrap_err().to_string();
        assert!(control.contains("`1.0\\u{1b}[31m`"), "{control}");
        assert!(!control.contains('\u{1b}'), "{control}");
    }

    #[test]
    fn text_is_trimmed_original() {
        let constraint = c("  >=1.2 ,  < 2  ");
        assert_eq!(constraint.as_str(), ">=1.2 ,  < 2");
        assert_eq!(constraint.to_string(), ">=1.2 ,  < 2");
        let parsed: Constraint = "~> 1.2".parse().expect("valid");
        assert_eq!(parsed, c("~> 1.2"));
    }

    #[test]
    fn serde_round_trip() {
        let constraint = c(">= 1.2.0, < 2.0.0");
        let json = serde_json::to_string(&constraint).expect("serialize");
        assert_eq!(json, r#"">= 1.2.0, < 2.0.0""#);
        let back: Constraint = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, constraint);
        assert!(back.matches(&v("1.5.0")));

        let error = serde_json::from_str::<Constraint>(r#""^1.2""#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("invalid version constraint `^1.2`: unknown operator `^`"),
            "{error}"
        );
        assert!(serde_json::from_str::<Constraint>("12").is_err());
    }
}
