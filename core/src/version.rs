//! Module and blueprint versions: semantic versioning 2.0 (`MAJOR.MINOR.PATCH[-pre][+build]`),
//! nothing looser (no `v` prefix, no missing parts, no leading zeros).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid version `{value}`: {reason} (expected semantic version MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1)"
)]
pub struct VersionError {
    value: String,
    reason: String,
}

/// A validated semantic version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(semver::Version);

impl Version {
    pub fn parse(value: &str) -> Result<Self, VersionError> {
        let shown: String = value.chars().take(80).collect();
        if value.len() > 128 {
            return Err(VersionError {
                value: shown,
                reason: "longer than 128 characters".into(),
            });
        }
        semver::Version::parse(value)
            .map(Self)
            .map_err(|error| VersionError {
                value: shown,
                reason: error.to_string(),
            })
    }

    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }

    pub fn semver(&self) -> &semver::Version {
        &self.0
    }

    /// Whether the version carries build metadata (`+…`), which terraform ignores.
    pub fn has_build_metadata(&self) -> bool {
        !self.0.build.is_empty()
    }

    /// The version without its build metadata: what terraform compares. `1.0.0+a` and `1.0.0+b`
    /// have the same precedence, `1.0.0`, and are the same version to terraform.
    pub fn precedence(&self) -> String {
        let mut bare = self.0.clone();
        bare.build = semver::BuildMetadata::EMPTY;
        bare.to_string()
    }

    /// Orders by precedence (build metadata ignored), and among equals puts the version that
    /// sorts first (the one without build metadata) last, so the maximum is what terraform, which
    /// keeps the first of equal versions it is offered in listing order, would choose.
    pub fn cmp_choice(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .cmp_precedence(&other.0)
            .then_with(|| other.0.cmp(&self.0))
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Version {
    type Err = VersionError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

/// The version a registry calls "latest": the newest stable one, or the newest prerelease when
/// nothing stable exists.
pub fn latest<'a>(versions: impl IntoIterator<Item = &'a Version>) -> Option<&'a Version> {
    versions.into_iter().max_by(|a, b| compare_standing(a, b))
}

/// How strongly a version stands for its module against another: any stable version above every
/// prerelease, then by [`Version::cmp_choice`]. [`latest`] is the version with the highest standing.
pub fn compare_standing(a: &Version, b: &Version) -> std::cmp::Ordering {
    (!a.is_prerelease())
        .cmp(&!b.is_prerelease())
        .then_with(|| a.cmp_choice(b))
}

/// Pairs stored items with their parsed versions, oldest first. Items whose version text is not
/// semver (none should be, as every version is parsed before it is stored) are left out.
pub fn sort_by_version<T>(items: Vec<T>, text: impl Fn(&T) -> &str) -> Vec<(Version, T)> {
    let mut parsed: Vec<(Version, T)> = items
        .into_iter()
        .filter_map(|item| {
            Version::parse(text(&item))
                .ok()
                .map(|version| (version, item))
        })
        .collect();
    parsed.sort_by(|a, b| a.0.cmp(&b.0));
    parsed
}

/// The item whose version is the [`latest`] one.
pub fn latest_item<T>(items: Vec<T>, text: impl Fn(&T) -> &str) -> Option<(Version, T)> {
    let parsed = sort_by_version(items, text);
    let versions: Vec<Version> = parsed.iter().map(|(version, _)| version.clone()).collect();
    let newest = latest(&versions)?.clone();
    parsed.into_iter().find(|(version, _)| *version == newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_full_semantic_versions() {
        for (value, ok) in [
            ("1.0.0", true),
            ("0.0.1", true),
            ("1.2.3-beta.1", true),
            ("1.2.3+build.5", true),
            ("1.2.3-rc.1+sha.abc", true),
            ("v1.0.0", false),
            ("1.0", false),
            ("1", false),
            ("01.0.0", false),
            ("1.0.0-", false),
            ("latest", false),
            ("", false),
        ] {
            assert_eq!(Version::parse(value).is_ok(), ok, "{value:?}");
        }
    }

    #[test]
    fn error_says_what_was_expected() {
        let error = Version::parse("v1.0.0").unwrap_err().to_string();
        assert!(error.contains("invalid version `v1.0.0`"), "{error}");
        assert!(error.contains("MAJOR.MINOR.PATCH"), "{error}");
    }

    #[test]
    fn items_sort_by_version_and_the_latest_item_is_found() {
        let rows = vec![
            ("b", "1.10.0"),
            ("a", "1.2.0"),
            ("c", "2.0.0-rc.1"),
            ("x", "not semver"),
        ];
        let sorted: Vec<&str> = sort_by_version(rows.clone(), |row| row.1)
            .into_iter()
            .map(|(_, row)| row.0)
            .collect();
        assert_eq!(sorted, ["a", "b", "c"]);
        assert_eq!(
            latest_item(rows, |row| row.1).map(|(_, row)| row.0),
            Some("b")
        );
    }

    #[test]
    fn latest_prefers_stable_over_newer_prerelease() {
        let versions: Vec<Version> = ["1.0.0", "1.2.0", "2.0.0-beta.1", "1.1.9"]
            .iter()
            .map(|v| Version::parse(v).expect("valid"))
            .collect();
        assert_eq!(
            latest(&versions).map(ToString::to_string).as_deref(),
            Some("1.2.0")
        );
        let only_pre = [Version::parse("0.1.0-alpha").expect("valid")];
        assert_eq!(
            latest(&only_pre).map(ToString::to_string).as_deref(),
            Some("0.1.0-alpha")
        );
        assert_eq!(latest(&[]), None);
    }

    #[test]
    fn build_metadata_does_not_make_another_version() {
        let parse = |text: &str| Version::parse(text).expect("valid");
        assert_eq!(parse("1.0.0+zzz").precedence(), "1.0.0");
        assert_eq!(parse("1.0.0-rc.1+b").precedence(), "1.0.0-rc.1");
        assert!(parse("1.0.0+b").has_build_metadata());
        // Of versions terraform cannot tell apart, the one listed first (without metadata) wins.
        let versions = [parse("1.0.0"), parse("1.0.0+evil"), parse("1.0.0+zzz")];
        assert_eq!(
            latest(&versions).map(ToString::to_string).as_deref(),
            Some("1.0.0")
        );
        let serialized = serde_json::to_string(&parse("1.2.3-rc.1")).expect("serialises");
        assert_eq!(serialized, "\"1.2.3-rc.1\"");
        assert!(serde_json::from_str::<Version>("\"v1\"").is_err());
    }
}
