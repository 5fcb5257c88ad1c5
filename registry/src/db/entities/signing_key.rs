//! `signing_keys`: the OpenPGP keys the registry signs providers with, one current per
//! namespace (the newest not retired). The secret key is stored armored, unencrypted: whoever
//! reads the database can sign as the registry (docs/SECURITY.md).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub namespace: String,
    /// The key's 64-bit id, 16 uppercase hex digits (as terraform prints it).
    pub key_id: String,
    pub fingerprint: String,
    #[sea_orm(column_type = "Text")]
    pub public_key: String,
    #[sea_orm(column_type = "Text")]
    pub secret_key: String,
    pub created_at: ChronoDateTimeUtc,
    pub retired_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
