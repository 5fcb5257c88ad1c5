//! sea-orm entities, one per table.

pub mod module;
pub mod module_version;
pub mod token;
