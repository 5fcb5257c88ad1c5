//! sea-orm entities, one per table.

pub mod artifact;
pub mod artifact_version;
pub mod audit_event;
pub mod session;
pub mod signing_key;
pub mod stack;
pub mod token;
