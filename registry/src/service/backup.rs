//! `quarry backup DIR`: a consistent snapshot of the embedded default taken while it serves. The
//! database is copied with SQLite's `VACUUM INTO` (one read transaction: every row as of one
//! instant), then every archive that copy lists is copied from the store. Archives are written
//! before the rows that list them and never change, so the copy is whole whatever is published
//! meanwhile. `DIR` is laid out as a data directory: `quarry --data-dir DIR serve` restores it.

use super::Registry;
use crate::storage::{Storage, StorageError};
use quarry_core::digest::Sha256;
use sea_orm::{ConnectionTrait, DbErr};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "quarry backup copies the embedded SQLite database; for PostgreSQL use pg_dump (and the object store's own versioning or replication for the archives)"
    )]
    NotSqlite,
    #[error("{path} is not empty: back up into a new or empty directory")]
    NotEmpty { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the archive {0} that the database lists is not in the store")]
    MissingArchive(String),
}

/// What a backup copied.
#[derive(Debug)]
pub struct BackupReport {
    pub archives: usize,
    pub archive_bytes: u64,
    pub database_bytes: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Registry {
    /// Copies the database and every archive it lists into `dir` (new or empty).
    pub async fn backup(&self, dir: &Path, data_dir: &Path) -> Result<BackupReport, BackupError> {
        if self.db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
            return Err(BackupError::NotSqlite);
        }
        match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(BackupError::NotEmpty {
                        path: dir.to_owned(),
                    });
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            Err(error) => return Err(io(dir)(error)),
        }
        let database = std::path::absolute(dir.join("quarry.db")).map_err(io(dir))?;
        let target = database.to_string_lossy().replace('\'', "''");
        self.db
            .execute_unprepared(&format!("VACUUM INTO '{target}'"))
            .await?;
        let database_bytes = std::fs::metadata(&database).map_err(io(&database))?.len();

        // The archives the copy lists, not the live database: the two agree by construction.
        let copy = crate::db::connect(&format!("sqlite://{}", database.display())).await?;
        let mut listed: Vec<String> = crate::db::artifacts::referenced_archives(&copy)
            .await?
            .into_iter()
            .collect();
        copy.close().await?;
        listed.sort();
        let target_store = Storage::open(None, dir)?;
        let mut archive_bytes = 0;
        for hex in &listed {
            let digest =
                Sha256::from_hex(hex).map_err(|_| BackupError::MissingArchive(hex.clone()))?;
            let bytes = self
                .storage
                .archive_bytes(&digest)
                .await?
                .ok_or_else(|| BackupError::MissingArchive(hex.clone()))?;
            archive_bytes += bytes.len() as u64;
            // Verified against its digest on the way: a damaged source is not backed up as good.
            if Sha256::of(&bytes) != digest {
                return Err(BackupError::MissingArchive(format!(
                    "{hex} (the stored bytes do not match it)"
                )));
            }
            target_store.put_archive(&digest, bytes).await?;
        }
        let key = data_dir.join("signing.key");
        if key.exists() {
            let copied = dir.join("signing.key");
            let bytes = std::fs::read(&key).map_err(io(&key))?;
            quarry_core::private_file::write(&copied, &bytes).map_err(io(&copied))?;
        }
        Ok(BackupReport {
            archives: listed.len(),
            archive_bytes,
            database_bytes,
        })
    }
}
