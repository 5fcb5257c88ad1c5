//! `module_versions`: one immutable row per published version; `analysis` holds the module's
//! variables, outputs, providers and inputs schema as computed at publish.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "module_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub module_id: i32,
    pub version: String,
    /// The version without build metadata: unique per module (see the migration that adds it).
    pub precedence: String,
    pub archive_sha256: String,
    pub archive_size: i64,
    pub analysis: Json,
    pub published_by: String,
    pub published_at: ChronoDateTimeUtc,
    pub deprecated: bool,
    pub yanked: bool,
    pub downloads: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::module::Entity",
        from = "Column::ModuleId",
        to = "super::module::Column::Id"
    )]
    Module,
}

impl Related<super::module::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Module.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
