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
            Box::new(UnifyArtifacts),
            Box::new(AddSessions),
            Box::new(AddStacks),
            Box::new(AddSigningKeys),
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

/// Modules and blueprints become one pair of tables, `artifacts` and `artifact_versions`, so
/// that publishing, versions, deprecation, yanking, downloads and gc are written once for every
/// kind (providers come next). Every row is copied, then the old tables are dropped. Version rows
/// gain the reasons of a deprecation or yank and the replacement a deprecation names.
struct UnifyArtifacts;

impl MigrationName for UnifyArtifacts {
    fn name(&self) -> &str {
        "m20261201_000005_unify_artifacts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for UnifyArtifacts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use sea_orm_migration::sea_orm::ConnectionTrait;
        manager
            .create_table(
                Table::create()
                    .table("artifacts")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len("kind", 16))
                    .col(string_len("namespace", 64))
                    .col(string_len("name", 64))
                    .col(string_len("system", 64).default(""))
                    .col(text("description"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("artifacts_address")
                    .table("artifacts")
                    .col("kind")
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
                    .table("artifact_versions")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("artifact_id"))
                    .col(string_len("version", 128))
                    .col(string_len("precedence", 128))
                    .col(string_len("archive_sha256", 64))
                    .col(big_integer("archive_size"))
                    .col(json("document"))
                    .col(string_len("published_by", 128))
                    .col(timestamp_with_time_zone("published_at"))
                    .col(boolean("deprecated").default(false))
                    .col(text_null("deprecation_reason"))
                    .col(string_len_null("replacement", 256))
                    .col(boolean("yanked").default(false))
                    .col(text_null("yank_reason"))
                    .col(big_integer("downloads").default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .name("artifact_versions_artifact")
                            .from("artifact_versions", "artifact_id")
                            .to("artifacts", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("artifact_versions_version", "version"),
            ("artifact_versions_precedence", "precedence"),
        ] {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table("artifact_versions")
                        .col("artifact_id")
                        .col(column)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        // Plain SQL that SQLite and PostgreSQL read alike: copy the parents, then the versions,
        // matched to their new parents by address.
        let copies = [
            "INSERT INTO artifacts (kind, namespace, name, system, description, created_at) \
             SELECT 'module', namespace, name, system, description, created_at FROM modules ORDER BY id",
            "INSERT INTO artifacts (kind, namespace, name, system, description, created_at) \
             SELECT 'blueprint', namespace, name, '', description, created_at FROM blueprints ORDER BY id",
            "INSERT INTO artifact_versions (artifact_id, version, precedence, archive_sha256, \
             archive_size, document, published_by, published_at, deprecated, yanked, downloads) \
             SELECT a.id, v.version, v.precedence, v.archive_sha256, v.archive_size, v.analysis, \
             v.published_by, v.published_at, v.deprecated, v.yanked, v.downloads \
             FROM module_versions v JOIN modules m ON m.id = v.module_id \
             JOIN artifacts a ON a.kind = 'module' AND a.namespace = m.namespace \
             AND a.name = m.name AND a.system = m.system ORDER BY v.id",
            "INSERT INTO artifact_versions (artifact_id, version, precedence, archive_sha256, \
             archive_size, document, published_by, published_at, deprecated, yanked, downloads) \
             SELECT a.id, v.version, v.precedence, v.archive_sha256, v.archive_size, v.manifest, \
             v.published_by, v.published_at, false, v.yanked, v.downloads \
             FROM blueprint_versions v JOIN blueprints b ON b.id = v.blueprint_id \
             JOIN artifacts a ON a.kind = 'blueprint' AND a.namespace = b.namespace \
             AND a.name = b.name AND a.system = '' ORDER BY v.id",
        ];
        for copy in copies {
            db.execute_unprepared(copy).await?;
        }
        for table in [
            "module_versions",
            "modules",
            "blueprint_versions",
            "blueprints",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "the artifact tables cannot be split back into module and blueprint tables; restore a backup taken before the upgrade".into(),
        ))
    }
}

/// The web UI's sessions: a browser that signed in with a token holds a random session secret in
/// a cookie; the database keeps its SHA-256, the token it stands for and when it ends.
struct AddSessions;

impl MigrationName for AddSessions {
    fn name(&self) -> &str {
        "m20261201_000006_add_sessions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddSessions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("sessions")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len_uniq("secret_sha256", 64))
                    .col(integer("token_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("sessions_token")
                            .from("sessions", "token_id")
                            .to("tokens", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("sessions_expires_at")
                    .table("sessions")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("sessions").if_exists().to_owned())
            .await
    }
}

/// The stack inventory: one row per stack `scaffold` reported, with the blueprint version it was
/// last rendered from. Rows point at the blueprint's artifact and version rows, so counting the
/// stacks behind a version is a query on ids.
struct AddStacks;

impl MigrationName for AddStacks {
    fn name(&self) -> &str {
        "m20261201_000007_add_stacks"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddStacks {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("stacks")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len_uniq("stack_id", 64))
                    .col(string_len("name", 128))
                    .col(integer("artifact_id"))
                    .col(integer("version_id"))
                    .col(text("modules"))
                    .col(text_null("repository"))
                    .col(text_null("path"))
                    .col(string_len("reported_by", 128))
                    .col(timestamp_with_time_zone("first_reported_at"))
                    .col(timestamp_with_time_zone("reported_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("stacks_artifact")
                            .from("stacks", "artifact_id")
                            .to("artifacts", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("stacks_version")
                            .from("stacks", "version_id")
                            .to("artifact_versions", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("stacks_blueprint_version")
                    .table("stacks")
                    .col("artifact_id")
                    .col("version_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("stacks").if_exists().to_owned())
            .await
    }
}

/// The OpenPGP keys the registry signs providers' `SHA256SUMS` with, per namespace. A key is
/// retired by a newer one; versions keep naming the key that signed them.
struct AddSigningKeys;

impl MigrationName for AddSigningKeys {
    fn name(&self) -> &str {
        "m20261202_000008_add_signing_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddSigningKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signing_keys")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len("namespace", 64))
                    .col(string_len_uniq("key_id", 16))
                    .col(string_len("fingerprint", 64))
                    .col(text("public_key"))
                    .col(text("secret_key"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("retired_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("signing_keys_namespace")
                    .table("signing_keys")
                    .col("namespace")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("signing_keys").if_exists().to_owned())
            .await
    }
}
