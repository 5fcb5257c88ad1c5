//! Quarry's domain: what the registry and the `scaffold` CLI both need.
//! Pure logic over values; no HTTP server, no terminal, no global state.

pub mod address;
pub mod archive;
pub mod blueprint;
pub mod constraint;
pub mod digest;
pub mod inputs;
pub mod manifest;
pub mod module;
pub mod render;
pub mod schemas;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod version;
