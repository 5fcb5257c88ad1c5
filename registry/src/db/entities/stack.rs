//! `stacks`: the stack inventory, one row per stack `scaffold` reported. `stack_id` is the
//! stack's own id (from its `answers.json`); `modules` is the JSON list of the module versions
//! it was rendered with.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stacks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub stack_id: String,
    pub name: String,
    pub artifact_id: i32,
    pub version_id: i32,
    #[sea_orm(column_type = "Text")]
    pub modules: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub repository: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub path: Option<String>,
    pub reported_by: String,
    pub first_reported_at: ChronoDateTimeUtc,
    pub reported_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
