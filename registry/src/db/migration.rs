//! Schema migrations, as code, the same on SQLite and PostgreSQL. One alteration per statement and
//! foreign keys only at table creation (sea-query's SQLite backend cannot do more).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateModulesAndTokens),
            Box::new(CreateBlueprints),
            Box::new(AddTokenExpiryAndAudit),
            Box::new(AddVersionPrecedence),
        ]
    }
}

/// Migration names are explicit and ordered: they are recorded in every database.
struct CreateModulesAndTokens;

impl MigrationName for CreateModulesAndTokens {
    fn name(&self) -> &str {
        "m20261121_000001_create_modules_and_tokens"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateModulesAndTokens {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("modules")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len("namespace", 64))
                    .col(string_len("name", 64))
                    .col(string_len("system", 64))
                    .col(text("description"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("modules_address")
                    .table("modules")
                    .col("namespace")
                    .col("name")
                    .col("system")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("module_versions")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("module_id"))
                    .col(string_len("version", 128))
                    .col(string_len("archive_sha256", 64))
                    .col(big_integer("archive_size"))
                    .col(json("analysis"))
                    .col(string_len("published_by", 128))
                    .col(timestamp_with_time_zone("published_at"))
                    .col(boolean("deprecated").default(false))
                    .col(boolean("yanked").default(false))
                    .col(big_integer("downloads").default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .name("module_versions_module")
                            .from("module_versions", "module_id")
                            .to("modules", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("module_versions_version")
                    .table("module_versions")
                    .col("module_id")
                    .col("version")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("tokens")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len_uniq("name", 128))
                    .col(string_len_uniq("key_id", 32))
                    .col(string_len("secret_sha256", 64))
                    .col(text("scopes"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["module_versions", "modules", "tokens"] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

struct CreateBlueprints;

impl MigrationName for CreateBlueprints {
    fn name(&self) -> &str {
        "m20261121_000002_create_blueprints"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateBlueprints {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("blueprints")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len("namespace", 64))
                    .col(string_len("name", 64))
                    .col(text("description"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("blueprints_address")
                    .table("blueprints")
                    .col("namespace")
                    .col("name")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("blueprint_versions")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("blueprint_id"))
                    .col(string_len("version", 128))
                    .col(string_len("archive_sha256", 64))
                    .col(big_integer("archive_size"))
                    .col(json("manifest"))
                    .col(string_len("published_by", 128))
                    .col(timestamp_with_time_zone("published_at"))
                    .col(boolean("yanked").default(false))
                    .col(big_integer("downloads").default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .name("blueprint_versions_blueprint")
                            .from("blueprint_versions", "blueprint_id")
                            .to("blueprints", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("blueprint_versions_version")
                    .table("blueprint_versions")
                    .col("blueprint_id")
                    .col("version")
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["blueprint_versions", "blueprints"] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

struct AddTokenExpiryAndAudit;

impl MigrationName for AddTokenExpiryAndAudit {
    fn name(&self) -> &str {
        "m20261121_000003_add_token_expiry_and_audit"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddTokenExpiryAndAudit {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("tokens")
                    .add_column(timestamp_with_time_zone_null("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_events")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(string_len("actor", 128))
                    .col(string_len("action", 64))
                    .col(string_len("target", 512))
                    .col(string_len("source", 128))
                    .col(json("details"))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [("audit_events_at", "at"), ("audit_events_actor", "actor")] {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table("audit_events")
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("audit_events").if_exists().to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("tokens")
                    .drop_column("expires_at")
                    .to_owned(),
            )
            .await
    }
}

/// Terraform ignores build metadata, so `1.0.0+a` and `1.0.0` are one version to it: each version
/// row gets its precedence (the version without build metadata), unique per module or blueprint,
/// so no second row of the same precedence can be inserted, however publishes race. Rows stored
/// before this migration that share a precedence keep their full version text as precedence (the
/// oldest keeps the bare one), so the index can be built without touching what they are.
struct AddVersionPrecedence;

impl MigrationName for AddVersionPrecedence {
    fn name(&self) -> &str {
        "m20261201_000004_add_version_precedence"
    }
}

/// The tables with versions, and the column naming what each version belongs to.
const VERSION_TABLES: [(&str, &str); 2] = [
    ("module_versions", "module_id"),
    ("blueprint_versions", "blueprint_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for AddVersionPrecedence {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        for (table, owner) in VERSION_TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(string_len("precedence", 128).default(""))
                        .to_owned(),
                )
                .await?;
            let rows = db
                .query_all_raw(Statement::from_string(
                    backend,
                    format!("SELECT id, {owner}, version FROM {table} ORDER BY id"),
                ))
                .await?;
            let mut taken = std::collections::HashSet::new();
            for row in rows {
                let id: i32 = row.try_get_by_index(0)?;
                let parent: i32 = row.try_get_by_index(1)?;
                let version: String = row.try_get_by_index(2)?;
                let bare = quarry_core::version::Version::parse(&version)
                    .map(|parsed| parsed.precedence())
                    .unwrap_or_else(|_| version.clone());
                let precedence = if taken.insert((parent, bare.clone())) {
                    bare
                } else {
                    version
                };
                db.execute_raw(Statement::from_sql_and_values(
                    backend,
                    match backend {
                        sea_orm_migration::sea_orm::DatabaseBackend::Postgres => {
                            format!("UPDATE {table} SET precedence = $1 WHERE id = $2")
                        }
                        _ => format!("UPDATE {table} SET precedence = ? WHERE id = ?"),
                    },
                    [precedence.into(), id.into()],
                ))
                .await?;
            }
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(format!("{table}_precedence"))
                        .table(table)
                        .col(owner)
                        .col("precedence")
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, _) in VERSION_TABLES {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("{table}_precedence"))
                        .table(table)
                        .to_owned(),
                )
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column("precedence")
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
