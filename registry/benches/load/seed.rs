//! Seeding the benchmark's registry in-process, before the `quarry` binary starts on it: the
//! listings the read endpoints are measured on, one module whose archive is hundreds of MiB, and
//! the repository's example modules and golden-path blueprints.

use crate::Scale;
use anyhow::Context;
use quarry_core::version::Version;
use quarry_registry::db::entities::{artifact, artifact_version};
use quarry_registry::service::Registry;
use quarry_registry::service::audit::Actor;
use quarry_registry::service::publish::PublishRequest;
use rand::{RngCore, SeedableRng};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, Set, TransactionTrait};
use std::io::Read;
use std::path::Path;

/// The module whose archive the throughput measurement downloads.
pub const BIG_MODULE: &str = "bench/archive/aws";

/// Seeds the database directly (publishing 200,000 versions through HTTP would measure the
/// seeding, not the reads); every version points at one real, stored archive. Returns that
/// archive's digest.
pub async fn listings(registry: &Registry, scale: &Scale) -> anyhow::Result<String> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/modules/greeting");
    let archive = quarry_core::archive::pack_dir(&fixture)
        .with_context(|| format!("packing {}", fixture.display()))?;
    let inspected =
        quarry_core::archive::inspect_module(&archive, &quarry_core::archive::Limits::default())?;
    let analysis = serde_json::to_value(quarry_core::module::analyze(&inspected.files)?)?;
    let digest = quarry_core::digest::Sha256::of(&archive);
    registry
        .storage
        .put_archive(&digest, archive.clone().into())
        .await?;
    let now = chrono::Utc::now();
    // One transaction: a commit per chunk would make seeding 100,000 modules wait on the disk.
    let db = registry.db.begin().await?;
    let descriptions = [
        "networking for teams",
        "object storage",
        "a managed database",
        "queues and topics",
        "container services",
    ];
    for chunk in (0..scale.modules).collect::<Vec<_>>().chunks(1000) {
        artifact::Entity::insert_many(chunk.iter().map(|i| artifact::ActiveModel {
            id: Set(*i as i32 + 1),
            kind: Set("module".into()),
            namespace: Set(format!("team{:02}", i % 50)),
            name: Set(format!("mod{i:05}")),
            system: Set("aws".into()),
            description: Set(format!(
                "Module {i}: {}",
                descriptions[i % descriptions.len()]
            )),
            created_at: Set(now),
        }))
        .exec_without_returning(&db)
        .await?;
    }
    let version = |artifact_id: i32, text: String, document: serde_json::Value| {
        artifact_version::ActiveModel {
            artifact_id: Set(artifact_id),
            version: Set(text.clone()),
            precedence: Set(text),
            archive_sha256: Set(digest.to_hex()),
            archive_size: Set(archive.len() as i64),
            document: Set(document),
            published_by: Set("bench".into()),
            published_at: Set(now),
            deprecated: Set(false),
            deprecation_reason: Set(None),
            replacement: Set(None),
            yanked: Set(false),
            yank_reason: Set(None),
            downloads: Set(0),
            ..Default::default()
        }
    };
    let rows: Vec<(usize, usize)> = (0..scale.modules)
        .flat_map(|m| (0..scale.versions).map(move |v| (m, v)))
        .collect();
    for chunk in rows.chunks(1000) {
        artifact_version::Entity::insert_many(
            chunk
                .iter()
                .map(|(m, v)| version(*m as i32 + 1, format!("1.{v}.0"), analysis.clone())),
        )
        .exec_without_returning(&db)
        .await?;
    }
    // Every seeded blueprint is the repository's web-service golden path (manifest, README and
    // archive), so its page shows what a real one does.
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../blueprints/web-service");
    let golden_archive = quarry_core::archive::pack_dir(&golden)?;
    let golden_digest = quarry_core::digest::Sha256::of(&golden_archive);
    registry
        .storage
        .put_archive(&golden_digest, golden_archive.clone().into())
        .await?;
    let loaded = quarry_core::blueprint::load(quarry_core::blueprint::load_dir(&golden)?)
        .map_err(|problem| anyhow::anyhow!("{problem}"))?;
    let readme = std::fs::read_to_string(golden.join("README.md"))?;
    let golden_document = serde_json::json!({ "manifest": loaded.manifest, "readme": readme });
    let first_blueprint = scale.modules as i32 + 1;
    for chunk in (0..scale.blueprints).collect::<Vec<_>>().chunks(500) {
        artifact::Entity::insert_many(chunk.iter().map(|i| artifact::ActiveModel {
            id: Set(first_blueprint + *i as i32),
            kind: Set("blueprint".into()),
            namespace: Set("platform".into()),
            name: Set(format!("golden{i:04}")),
            system: Set(String::new()),
            description: Set(format!("Golden path {i}")),
            created_at: Set(now),
        }))
        .exec_without_returning(&db)
        .await?;
        artifact_version::Entity::insert_many(chunk.iter().map(|i| {
            let mut row = version(
                first_blueprint + *i as i32,
                "1.0.0".into(),
                golden_document.clone(),
            );
            row.archive_sha256 = Set(golden_digest.to_hex());
            row.archive_size = Set(golden_archive.len() as i64);
            row
        }))
        .exec_without_returning(&db)
        .await?;
    }
    // The rows were given their ids: PostgreSQL's sequences must move past them, or the next
    // publish would be given an id taken already (SQLite takes the largest id + 1 by itself).
    if db.get_database_backend() == DatabaseBackend::Postgres {
        for table in ["artifacts", "artifact_versions"] {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .await?;
        }
    }
    db.commit().await?;
    // What autovacuum would do over the next minutes, done now, so it does not share the cores
    // with the measurements (a running PostgreSQL has long since analysed its tables).
    if registry.db.get_database_backend() == DatabaseBackend::Postgres {
        registry
            .db
            .execute_unprepared("VACUUM ANALYZE artifacts, artifact_versions")
            .await?;
    }
    Ok(digest.to_hex())
}

/// Random bytes as a reader, so a large file goes into an archive without being held twice.
pub struct RandomBytes {
    rng: rand::rngs::SmallRng,
    remaining: u64,
}

impl RandomBytes {
    pub fn new(seed: u64, length: u64) -> Self {
        Self {
            rng: rand::rngs::SmallRng::seed_from_u64(seed),
            remaining: length,
        }
    }
}

impl Read for RandomBytes {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let length = (buffer.len() as u64).min(self.remaining) as usize;
        self.rng.fill_bytes(&mut buffer[..length]);
        self.remaining -= length as u64;
        Ok(length)
    }
}

/// A module archive of `data_bytes` random bytes in `data.bin` beside a `main.tf`. Random bytes
/// do not compress, so the gzip layer stores them (level 0): the archive is as large as any
/// compressor would make it, without spending seconds of seeding on trying.
fn big_module_archive(data_bytes: u64) -> std::io::Result<Vec<u8>> {
    let encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data_bytes as usize + (1 << 20)),
        flate2::Compression::none(),
    );
    let mut builder = tar::Builder::new(encoder);
    let mut append = |path: &str, size: u64, data: &mut dyn Read| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_size(size);
        builder.append_data(&mut header, path, data)
    };
    let main_tf: &[u8] = b"variable \"name\" {\n  type = string\n}\n\noutput \"data_file\" {\n  value = \"${path.module}/data.bin\"\n}\n";
    append("main.tf", main_tf.len() as u64, &mut &main_tf[..])?;
    append(
        "data.bin",
        data_bytes,
        &mut RandomBytes::new(200, data_bytes),
    )?;
    builder.into_inner()?.finish()
}

/// Publishes [`BIG_MODULE`] 1.0.0 with a `data_mib` MiB archive through the registry's own
/// publish service (the same checks, analysis and storage as an upload; `registry` is opened
/// with a raised archive limit). Returns the archive's digest and size.
pub async fn big_module(registry: &Registry, data_mib: u64) -> anyhow::Result<(String, u64)> {
    let archive = tokio::task::spawn_blocking(move || big_module_archive(data_mib << 20))
        .await
        .context("archive task")?
        .context("building the big archive")?;
    let published = registry
        .publish(PublishRequest {
            address: quarry_core::address::ArtifactAddress::Module(BIG_MODULE.parse()?),
            version: Version::parse("1.0.0")?,
            archive: archive.into(),
            description: Some(format!("{data_mib} MiB of random bytes")),
            actor: Actor::console(),
        })
        .await
        .with_context(|| format!("publishing {BIG_MODULE} 1.0.0"))?;
    Ok((published.archive.to_hex(), published.archive_size))
}

/// Imports the repository's example modules and golden-path blueprints, as
/// `quarry serve --import blueprints` does.
pub async fn examples(registry: &Registry) -> anyhow::Result<usize> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../blueprints");
    let report = registry
        .import_dir(&dir)
        .await
        .with_context(|| format!("importing {}", dir.display()))?;
    Ok(report.published.len())
}
