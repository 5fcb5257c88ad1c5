//! `blueprint_versions`: one immutable row per published blueprint version, with its checked
//! manifest.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "blueprint_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub blueprint_id: i32,
    pub version: String,
    /// The version without build metadata: unique per module (see the migration that adds it).
    pub precedence: String,
    pub archive_sha256: String,
    pub archive_size: i64,
    pub manifest: Json,
    pub published_by: String,
    pub published_at: ChronoDateTimeUtc,
    pub yanked: bool,
    pub downloads: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
