//! `artifact_versions`: one immutable row per published version of an artifact. `document` holds
//! what its kind's checks made of it (a module's analysis, a blueprint's manifest and README);
//! only the detail reads it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "artifact_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub artifact_id: i32,
    pub version: String,
    /// The version without build metadata: unique per artifact.
    pub precedence: String,
    pub archive_sha256: String,
    pub archive_size: i64,
    pub document: Json,
    pub published_by: String,
    pub published_at: ChronoDateTimeUtc,
    pub deprecated: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub deprecation_reason: Option<String>,
    pub replacement: Option<String>,
    pub yanked: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub yank_reason: Option<String>,
    pub downloads: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::artifact::Entity",
        from = "Column::ArtifactId",
        to = "super::artifact::Column::Id"
    )]
    Artifact,
}

impl Related<super::artifact::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Artifact.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
