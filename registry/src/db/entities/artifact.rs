//! `artifacts`: one row per published thing, whatever its kind: a module
//! (`namespace/name/system`), a blueprint (`namespace/name`, system empty).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "artifacts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub system: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
