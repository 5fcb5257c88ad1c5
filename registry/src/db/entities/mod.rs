//! sea-orm entities, one per table.

pub mod audit_event;
pub mod blueprint;
pub mod blueprint_version;
pub mod module;
pub mod module_version;
pub mod token;
