//! OPA/Rego policies: checking that a policy parses, within bounds a publisher cannot push the
//! parser past. regorus' parser backtracks on nested brackets, so its cost doubles with every
//! level (measured: 20 nested `[{` pairs took over a second, 24 took 21 s); a policy is refused
//! before it is parsed when its brackets nest deeper than [`MAX_NESTING`] or it is larger than
//! [`MAX_POLICY_BYTES`], which keeps any one construct to a few milliseconds.

/// The deepest nesting of `(`, `[` and `{` (counted together) a policy may have; real policies
/// stay below 8.
pub const MAX_NESTING: usize = 12;

/// The largest policy file accepted.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// Why a policy was refused; the message names the line where that is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is {size} bytes, larger than the limit of {MAX_POLICY_BYTES} bytes")]
    TooLarge { size: usize },
    #[error(
        "line {line}: brackets nest more than {MAX_NESTING} levels deep (parsing such nesting costs time that doubles with every level)"
    )]
    TooDeep { line: usize },
    #[error("invalid Rego: {0}")]
    Invalid(String),
}

/// The deepest bracket nesting of Rego source, outside strings and comments, with the line where
/// it first goes past `limit` (if it does).
fn nesting(source: &str, limit: usize) -> Result<(), usize> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut chars = source.chars();
    while let Some(character) = chars.next() {
        match character {
            '\n' => line += 1,
            '#' => {
                // A comment runs to the end of the line.
                for next in chars.by_ref() {
                    if next == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for next in chars.by_ref() {
                    match next {
                        '\n' => line += 1,
                        '\\' if !escaped => {
                            escaped = true;
                            continue;
                        }
                        '"' if !escaped => break,
                        _ => {}
                    }
                    escaped = false;
                }
            }
            '`' => {
                for next in chars.by_ref() {
                    match next {
                        '\n' => line += 1,
                        '`' => break,
                        _ => {}
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                if depth > limit {
                    return Err(line);
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Checks that `source` is a Rego policy regorus can parse, within the bounds above. `file` names
/// the policy in the parser's messages.
pub fn check(file: &str, source: &str) -> Result<(), PolicyError> {
    if source.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge { size: source.len() });
    }
    nesting(source, MAX_NESTING).map_err(|line| PolicyError::TooDeep { line })?;
    let mut engine = regorus::Engine::new();
    engine
        .add_policy(file.to_owned(), source.to_owned())
        .map(|_| ())
        .map_err(|error| PolicyError::Invalid(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_every_bracket_kind_outside_strings_and_comments() {
        assert_eq!(nesting("x := [{\"a\": (1)}]", 3), Ok(()));
        assert_eq!(nesting("x := [{\"a\": (1)}]", 2), Err(1));
        assert_eq!(
            nesting("# [[[[[[\nx := \"[[[[[[\"\ny := `{{{{{{`", 1),
            Ok(())
        );
        assert_eq!(nesting("x := \"\\\"[[[\"\ny := [[[\n", 2), Err(2));
        assert_eq!(nesting("a := [[1]]\nb := [[2]]\nc := [[[3]]]", 2), Err(3));
    }

    #[test]
    fn deep_policies_are_refused_before_they_are_parsed() {
        for (open, close) in [
            ("[", "]"),
            ("{", "}"),
            ("(", ")"),
            ("[{\"a\":", "}]"),
            ("{[", "]}"),
        ] {
            let source = format!(
                "package p\n\nx := {}1{}\n",
                open.repeat(40),
                close.repeat(40)
            );
            let error = check("p.rego", &source).expect_err("refused");
            assert_eq!(error, PolicyError::TooDeep { line: 3 }, "{source}");
        }
    }

    #[test]
    fn policies_at_the_limit_parse() {
        let source = format!(
            "package p\n\nx := {}1{}\n",
            "[{\"a\":".repeat(MAX_NESTING / 2),
            "}]".repeat(MAX_NESTING / 2)
        );
        check("p.rego", &source).expect("parses");
    }

    #[test]
    fn large_and_invalid_policies_are_named() {
        let large = format!("package p\n{}", "# padding\n".repeat(30_000));
        assert!(matches!(
            check("p.rego", &large),
            Err(PolicyError::TooLarge { .. })
        ));
        assert!(matches!(
            check("p.rego", "package p\nallow {"),
            Err(PolicyError::Invalid(_))
        ));
    }
}
