//! `quarry gc`: archives no module or blueprint version points at (left by a publish that was
//! interrupted between storing its archive and recording its version). Only archives older than
//! a grace period count, so a publish in flight never loses its archive. The staging files an
//! interrupted write leaves (`<digest>.tar.gz#1`) are found the same way.

use super::Registry;
use crate::storage::StorageError;
use quarry_core::digest::Sha256;
use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored data does not read back: {0}")]
    Corrupt(String),
}

/// What a collection found (and, unless a dry run, removed).
#[derive(Debug, Default)]
pub struct GcReport {
    pub unreferenced: Vec<(Sha256, u64)>,
    /// Staging files of interrupted writes, older than the grace period.
    pub leftovers: Vec<crate::storage::Leftover>,
    pub kept_in_grace: usize,
    pub referenced: usize,
    pub deleted: bool,
}

impl Registry {
    /// Every stored file a version points at: archives, and a provider version's zips, sums
    /// and signature (named in its document). A provider document that does not read back is
    /// an error, not "references nothing": its files must never be collected.
    async fn referenced_files(&self) -> Result<std::collections::HashSet<String>, GcError> {
        let mut referenced = crate::db::artifacts::referenced_archives(&self.db).await?;
        let ids = crate::db::artifacts::version_ids_of_kind(
            &self.db,
            quarry_core::address::Kind::Provider.as_str(),
        )
        .await?;
        for (id, text) in crate::db::artifacts::document_texts(&self.db, &ids).await? {
            let release: super::providers::ProviderRelease = serde_json::from_str(&text)
                .map_err(|error| GcError::Corrupt(format!("provider version {id}: {error}")))?;
            referenced.extend(release.digests().map(str::to_owned));
        }
        Ok(referenced)
    }

    /// Finds archives no version points at and older than `grace`; deletes them when `delete`.
    pub async fn collect_garbage(
        &self,
        grace: chrono::Duration,
        delete: bool,
    ) -> Result<GcReport, GcError> {
        let stored = self.storage.list_archives().await?;
        let referenced = self.referenced_files().await?;
        let cutoff = chrono::Utc::now() - grace;
        let mut report = GcReport {
            deleted: delete,
            ..GcReport::default()
        };
        for (digest, size, written) in stored {
            if referenced.contains(&digest.to_hex()) {
                report.referenced += 1;
            } else if written > cutoff {
                report.kept_in_grace += 1;
            } else {
                report.unreferenced.push((digest, size));
            }
        }
        for leftover in self.storage.staging_leftovers()? {
            if leftover.written > cutoff {
                report.kept_in_grace += 1;
            } else {
                report.leftovers.push(leftover);
            }
        }
        if delete {
            for leftover in &report.leftovers {
                self.storage.delete_leftover(leftover)?;
            }
            for (digest, _) in &report.unreferenced {
                // Checked again right before deleting: a version may have been recorded since.
                if !self.referenced_files().await?.contains(&digest.to_hex()) {
                    self.storage.delete_archive(digest).await?;
                }
            }
        }
        Ok(report)
    }
}
