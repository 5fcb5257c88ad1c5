//! The stack inventory's rules, shared by `scaffold` (which reports stacks) and the registry
//! (which checks and keeps the reports): what a stack id looks like, how long each field may be,
//! and how a git remote is stripped of credentials before it leaves the machine.

use crate::api::StackReport;

/// A stack id: 16 to 64 of `0-9 a-z A-Z _ -`. `scaffold` makes 32 lowercase hex digits.
pub fn check_id(id: &str) -> Result<(), String> {
    let fits = (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if fits {
        Ok(())
    } else {
        Err(format!(
            "the stack id `{}` must be 16 to 64 letters, digits, `-` or `_`",
            shown(id)
        ))
    }
}

/// The most modules a report may list, and the longest of each text field.
pub const MAX_MODULES: usize = 200;
const MAX_NAME: usize = 128;
const MAX_SOURCE: usize = 512;
const MAX_LOCATION: usize = 1024;

/// Every problem of a report, each naming its field.
pub fn check_report(report: &StackReport) -> Vec<String> {
    let mut problems = Vec::new();
    let mut text = |field: &str, value: &str, max: usize, required: bool| {
        let problem = if required && value.trim().is_empty() {
            format!("`{field}` must not be empty")
        } else if value.chars().count() > max {
            format!("`{field}` is longer than {max} characters")
        } else if value.chars().any(char::is_control) {
            format!("`{field}` must not hold control characters")
        } else {
            return;
        };
        problems.push(problem);
    };
    text("name", &report.name, MAX_NAME, true);
    text(
        "blueprint.address",
        &report.blueprint.address,
        MAX_NAME,
        true,
    );
    text(
        "blueprint.version",
        &report.blueprint.version,
        MAX_NAME,
        true,
    );
    let mut late = Vec::new();
    if report.modules.len() > MAX_MODULES {
        late.push(format!(
            "`modules` lists {} modules; at most {MAX_MODULES} are kept",
            report.modules.len()
        ));
    } else {
        for (index, module) in report.modules.iter().enumerate() {
            text(
                &format!("modules[{index}].name"),
                &module.name,
                MAX_NAME,
                true,
            );
            text(
                &format!("modules[{index}].source"),
                &module.source,
                MAX_SOURCE,
                true,
            );
            text(
                &format!("modules[{index}].version"),
                &module.version,
                MAX_NAME,
                true,
            );
            if crate::version::Version::parse(&module.version).is_err() {
                late.push(format!(
                    "`modules[{index}].version` `{}` is not a semantic version",
                    shown(&module.version)
                ));
            }
        }
    }
    if let Some(location) = &report.location {
        text(
            "location.repository",
            &location.repository,
            MAX_LOCATION,
            true,
        );
        text("location.path", &location.path, MAX_LOCATION, false);
        if strip_credentials(&location.repository) != location.repository {
            late.push(
                "`location.repository` holds credentials: send the remote without them".into(),
            );
        }
    }
    problems.extend(late);
    problems
}

/// A git remote without the credentials a URL may carry: any user part of an HTTP(S) remote
/// (`https://user:token@host/…` and `https://token@host/…` become `https://host/…`) and a
/// password anywhere. An SSH user (`ssh://git@host/…`, `git@host:org/repo.git`) names an
/// account, not a secret, and is kept.
pub fn strip_credentials(remote: &str) -> String {
    let Some(scheme_end) = remote.find("://") else {
        return remote.to_owned();
    };
    let scheme = remote[..scheme_end].to_ascii_lowercase();
    let rest = &remote[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return remote.to_owned();
    };
    let secret = rest[..at].contains(':') || scheme == "http" || scheme == "https";
    if secret {
        format!("{}{}", &remote[..scheme_end + 3], &rest[at + 1..])
    } else {
        remote.to_owned()
    }
}

/// At most 64 characters of `text`, for messages.
fn shown(text: &str) -> String {
    let mut shown: String = text.chars().take(64).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_removed_from_url_remotes_only() {
        for (remote, stripped) in [
            (
                "https://alice:ghp_secret@github.com/acme/infra.git",
                "https://github.com/acme/infra.git",
            ),
            (
                "https://oauth2:tok@gitlab.example.com:8443/a/b",
                "https://gitlab.example.com:8443/a/b",
            ),
            (
                "https://ghp_token@github.com/acme/infra",
                "https://github.com/acme/infra",
            ),
            ("ssh://git@host/org/repo.git", "ssh://git@host/org/repo.git"),
            ("ssh://git:pw@host/org/repo.git", "ssh://host/org/repo.git"),
            (
                "git@github.com:acme/infra.git",
                "git@github.com:acme/infra.git",
            ),
            (
                "https://github.com/acme/infra.git?ref=a@b",
                "https://github.com/acme/infra.git?ref=a@b",
            ),
            ("/srv/git/infra.git", "/srv/git/infra.git"),
        ] {
            assert_eq!(strip_credentials(remote), stripped, "{remote}");
        }
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "short",
            "has space in it 123",
            "../../../../etc/passwd",
            &"x".repeat(65),
        ] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
