//! Module addresses (`namespace/name/system`) and their parts, validated once here so that code past
//! the edge never re-checks a string. The rules are the Terraform registry's (PROTOCOL.md §3).

use std::fmt;

/// Why an address part was refused; the message names the part and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error(
        "invalid {part} `{value}`: must be 1-64 letters, digits, `-` or `_`, starting and ending with a letter or digit"
    )]
    Name { part: &'static str, value: String },
    #[error("invalid system `{0}`: must be 1-64 lowercase letters or digits (e.g. `aws`)")]
    System(String),
    #[error(
        "invalid address `{0}`: expected `namespace/name/system` (a module) or `namespace/name` (a blueprint)"
    )]
    Shape(String),
    #[error(
        "invalid provider type `{0}`: must be 1-64 lowercase letters, digits or `-`, starting and ending with a letter or digit (e.g. `aws`)"
    )]
    ProviderType(String),
    #[error(
        "invalid provider host `{0}`: must be a lowercase host name with an optional port (e.g. `registry.terraform.io`)"
    )]
    Host(String),
}

/// Shows a value in an error without letting a hostile one flood a log line or a response.
fn shown(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head}…")
    }
}

fn is_valid_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    let inner_ok = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(inner_ok)
}

macro_rules! name_type {
    ($(#[$doc:meta])* $type:ident, $part:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $type(String);

        impl $type {
            pub fn new(value: &str) -> Result<Self, AddressError> {
                if is_valid_name(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(AddressError::Name { part: $part, value: shown(value) })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// A registry namespace: the owner of modules, and the unit publish scopes are granted on.
    Namespace,
    "namespace"
);
name_type!(
    /// A module's name within its namespace.
    ModuleName,
    "name"
);

/// A module's target system (the registry protocol's "provider" part), e.g. `aws`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct System(String);

impl System {
    pub fn new(value: &str) -> Result<Self, AddressError> {
        let valid = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(AddressError::System(shown(value)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `namespace/name/system`: one module, all its versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleAddress {
    pub namespace: Namespace,
    pub name: ModuleName,
    pub system: System,
}

impl ModuleAddress {
    /// Builds an address from its three parts, reporting the first part that breaks its rule.
    pub fn new(namespace: &str, name: &str, system: &str) -> Result<Self, AddressError> {
        Ok(Self {
            namespace: Namespace::new(namespace)?,
            name: ModuleName::new(name)?,
            system: System::new(system)?,
        })
    }
}

impl std::str::FromStr for ModuleAddress {
    type Err = AddressError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = value.split('/').collect();
        match parts.as_slice() {
            [namespace, name, system] => Self::new(namespace, name, system),
            _ => Err(AddressError::Shape(shown(value))),
        }
    }
}

impl fmt::Display for ModuleAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.name, self.system)
    }
}

/// `namespace/name`: one blueprint, all its versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlueprintAddress {
    pub namespace: Namespace,
    pub name: ModuleName,
}

impl BlueprintAddress {
    pub fn new(namespace: &str, name: &str) -> Result<Self, AddressError> {
        Ok(Self {
            namespace: Namespace::new(namespace)?,
            name: ModuleName::new(name)?,
        })
    }
}

impl std::str::FromStr for BlueprintAddress {
    type Err = AddressError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.split_once('/') {
            Some((namespace, name)) if !name.contains('/') => Self::new(namespace, name),
            _ => Err(AddressError::Shape(shown(value))),
        }
    }
}

impl fmt::Display for BlueprintAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A provider's address: its type (`name`) in a namespace, and the host it comes from when it
/// is mirrored from another registry (`None`: this registry's own). Provider types are stricter
/// than module names: lowercase, no `_` (terraform splits file names at `_`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderAddress {
    pub host: Option<String>,
    pub namespace: Namespace,
    pub name: ModuleName,
}

fn is_valid_provider_type(value: &str) -> bool {
    let bytes = value.as_bytes();
    let inner_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    (1..=64).contains(&bytes.len())
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
        && bytes.iter().all(inner_ok)
}

fn is_valid_host(value: &str) -> bool {
    let (name, port) = match value.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (value, None),
    };
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    (1..=253).contains(&name.len())
        && name.split('.').all(label_ok)
        && port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0))
}

impl ProviderAddress {
    /// This registry's own provider `namespace/type`.
    pub fn new(namespace: &str, name: &str) -> Result<Self, AddressError> {
        Self::on_host(None, namespace, name)
    }

    /// A provider of `host` (`None`: this registry's own).
    pub fn on_host(host: Option<&str>, namespace: &str, name: &str) -> Result<Self, AddressError> {
        if !is_valid_provider_type(name) {
            return Err(AddressError::ProviderType(shown(name)));
        }
        let host = match host {
            Some(host) if is_valid_host(host) => Some(host.to_owned()),
            Some(host) => return Err(AddressError::Host(shown(host))),
            None => None,
        };
        Ok(Self {
            host,
            namespace: Namespace::new(namespace)?,
            name: ModuleName::new(name)?,
        })
    }
}

impl std::str::FromStr for ProviderAddress {
    type Err = AddressError;

    /// `namespace/type`, or `host/namespace/type` for a provider of another registry.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.split('/').collect::<Vec<_>>().as_slice() {
            [namespace, name] => Self::new(namespace, name),
            [host, namespace, name] => Self::on_host(Some(host), namespace, name),
            _ => Err(AddressError::Shape(shown(value))),
        }
    }
}

impl fmt::Display for ProviderAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(host) = &self.host {
            write!(f, "{host}/")?;
        }
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What kind of thing the registry holds at an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Module,
    Blueprint,
    Provider,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Module, Self::Blueprint, Self::Provider];

    /// The kind's name in storage, audit actions (`module.publish`) and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Module => "module",
            Self::Blueprint => "blueprint",
            Self::Provider => "provider",
        }
    }

    /// The kind of a name [`Kind::as_str`] gives.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The address of anything the registry holds, of whatever kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArtifactAddress {
    Module(ModuleAddress),
    Blueprint(BlueprintAddress),
    Provider(ProviderAddress),
}

impl ArtifactAddress {
    pub fn kind(&self) -> Kind {
        match self {
            Self::Module(_) => Kind::Module,
            Self::Blueprint(_) => Kind::Blueprint,
            Self::Provider(_) => Kind::Provider,
        }
    }

    pub fn namespace(&self) -> &Namespace {
        match self {
            Self::Module(address) => &address.namespace,
            Self::Blueprint(address) => &address.namespace,
            Self::Provider(address) => &address.namespace,
        }
    }

    pub fn name(&self) -> &ModuleName {
        match self {
            Self::Module(address) => &address.name,
            Self::Blueprint(address) => &address.name,
            Self::Provider(address) => &address.name,
        }
    }

    /// The third part of the key it is stored under: a module's system, a mirrored provider's
    /// host; `""` for the rest.
    pub fn system(&self) -> &str {
        match self {
            Self::Module(address) => address.system.as_str(),
            Self::Blueprint(_) => "",
            Self::Provider(address) => address.host.as_deref().unwrap_or(""),
        }
    }

    /// How messages name it: `platform/vpc/aws` for a module (as the registry protocol writes
    /// modules), `blueprint platform/web-service` for the other kinds.
    pub fn subject(&self) -> String {
        match self {
            Self::Module(address) => address.to_string(),
            Self::Blueprint(address) => format!("blueprint {address}"),
            Self::Provider(address) => format!("provider {address}"),
        }
    }

    /// How a "not found" names it: `module platform/vpc/aws`, `blueprint platform/web-service`.
    pub fn subject_of_kind(&self) -> String {
        format!("{} {self}", self.kind())
    }

    /// Builds the address of `kind` from its parts (`system` only for modules).
    pub fn from_parts(
        kind: Kind,
        namespace: &str,
        name: &str,
        system: &str,
    ) -> Result<Self, AddressError> {
        Ok(match kind {
            Kind::Module => Self::Module(ModuleAddress::new(namespace, name, system)?),
            Kind::Blueprint => Self::Blueprint(BlueprintAddress::new(namespace, name)?),
            Kind::Provider => Self::Provider(ProviderAddress::on_host(
                Some(system).filter(|host| !host.is_empty()),
                namespace,
                name,
            )?),
        })
    }
}

impl fmt::Display for ArtifactAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Module(address) => address.fmt(f),
            Self::Blueprint(address) => address.fmt(f),
            Self::Provider(address) => address.fmt(f),
        }
    }
}

impl From<ModuleAddress> for ArtifactAddress {
    fn from(address: ModuleAddress) -> Self {
        Self::Module(address)
    }
}

impl From<ProviderAddress> for ArtifactAddress {
    fn from(address: ProviderAddress) -> Self {
        Self::Provider(address)
    }
}

impl From<BlueprintAddress> for ArtifactAddress {
    fn from(address: BlueprintAddress) -> Self {
        Self::Blueprint(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_registry_rule() {
        let long_ok = "a".repeat(64);
        let too_long = "a".repeat(65);
        let cases: &[(&str, bool)] = &[
            ("a", true),
            ("vpc", true),
            ("my-module_2", true),
            ("A9", true),
            (&long_ok, true),
            ("", false),
            (&too_long, false),
            ("-lead", false),
            ("trail_", false),
            ("has space", false),
            ("dot.ted", false),
            ("slash/ed", false),
            ("ünï", false),
        ];
        for (value, ok) in cases {
            assert_eq!(Namespace::new(value).is_ok(), *ok, "namespace {value:?}");
            assert_eq!(ModuleName::new(value).is_ok(), *ok, "name {value:?}");
        }
    }

    #[test]
    fn system_is_lowercase_alphanumeric() {
        for (value, ok) in [
            ("aws", true),
            ("k8s", true),
            ("AWS", false),
            ("my-cloud", false),
            ("", false),
        ] {
            assert_eq!(System::new(value).is_ok(), ok, "{value:?}");
        }
        assert!(System::new(&"a".repeat(65)).is_err());
    }

    #[test]
    fn address_parses_and_displays() {
        let address: ModuleAddress = "platform/vpc/aws".parse().expect("valid");
        assert_eq!(address.to_string(), "platform/vpc/aws");
        assert_eq!(
            "platform/vpc".parse::<ModuleAddress>(),
            Err(AddressError::Shape("platform/vpc".into()))
        );
    }

    #[test]
    fn error_names_the_part_and_truncates_hostile_values() {
        let error = ModuleAddress::new("ok", "bad name", "aws").unwrap_err();
        assert!(
            error.to_string().starts_with("invalid name `bad name`"),
            "{error}"
        );
        let error = Namespace::new(&"x".repeat(10_000)).unwrap_err();
        assert!(error.to_string().len() < 300);
    }
}
