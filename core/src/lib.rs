//! Quarry's domain: what the registry and the `scaffold` CLI both need.
//! Pure logic over values; no HTTP server, no terminal, no global state.

pub mod address;
pub mod answers;
pub mod api;
pub mod archive;
pub mod blueprint;
pub mod constraint;
pub mod digest;
pub mod form;
pub mod inputs;
pub mod inventory;
pub mod manifest;
pub mod module;
pub mod policy;
pub mod private_file;
pub mod provider;
pub mod render;
pub mod schemas;
pub mod secrets;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod version;

/// `count` and the noun it counts, singular or plural: `counted(1, "policy", "policies")` is
/// "1 policy", `counted(2, …)` "2 policies".
pub fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Problems (or anything displayable) one per line, each indented under the message they follow:
/// `format!("… has problems:\n  {}", quarry_core::lines(&problems))`.
pub fn lines<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join("\n  ")
}
